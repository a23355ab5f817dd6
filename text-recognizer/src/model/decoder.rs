//! The Transformer decoder: self-attention, cross-attention to the image memory, feed-forward;
//! post-LayerNorm by default (PyTorch's `nn.TransformerDecoderLayer`, FSDL parity), pre-norm on
//! request. Carries its own KV cache for O(t) decoding steps.

use burn::nn::{Dropout, DropoutConfig, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::relu;

use super::attention::Attention;

/// One decoder layer.
#[derive(Module, Debug)]
pub struct DecoderLayer {
    self_attn: Attention,
    cross_attn: Attention,
    linear1: Linear,
    linear2: Linear,
    norm1: LayerNorm,
    norm2: LayerNorm,
    norm3: LayerNorm,
    dropout: Dropout,
    norm_first: bool,
}

/// Cached keys and values of one layer.
#[derive(Clone, Debug)]
pub struct LayerCache {
    self_kv: Option<(Tensor<4>, Tensor<4>)>,
    cross_kv: (Tensor<4>, Tensor<4>),
}

/// The whole decoder's cache: one [`LayerCache`] per layer.
#[derive(Clone, Debug)]
pub struct DecoderCache {
    pub(crate) layers: Vec<LayerCache>,
    /// Tokens already decoded (the next token's position).
    pub(crate) len: usize,
}

impl DecoderLayer {
    /// Builds a layer with PyTorch's defaults for everything but sizes.
    pub fn new(
        d_model: usize,
        n_heads: usize,
        d_ff: usize,
        dropout: f64,
        norm_first: bool,
        device: &Device,
    ) -> Self {
        DecoderLayer {
            self_attn: Attention::new(d_model, n_heads, dropout, device),
            cross_attn: Attention::new(d_model, n_heads, dropout, device),
            linear1: LinearConfig::new(d_model, d_ff).init(device),
            linear2: LinearConfig::new(d_ff, d_model).init(device),
            norm1: LayerNormConfig::new(d_model).init(device),
            norm2: LayerNormConfig::new(d_model).init(device),
            norm3: LayerNormConfig::new(d_model).init(device),
            dropout: DropoutConfig::new(dropout).init(),
            norm_first,
        }
    }

    fn feed_forward(&self, x: Tensor<3>) -> Tensor<3> {
        self.linear2
            .forward(self.dropout.forward(relu(self.linear1.forward(x))))
    }

    /// One sub-layer with residual, in either norm placement.
    fn residual(
        &self,
        x: Tensor<3>,
        norm: &LayerNorm,
        f: impl FnOnce(Tensor<3>) -> Tensor<3>,
    ) -> Tensor<3> {
        if self.norm_first {
            let y = f(norm.forward(x.clone()));
            x + self.dropout.forward(y)
        } else {
            let y = f(x.clone());
            norm.forward(x + self.dropout.forward(y))
        }
    }

    /// Teacher-forced forward over a whole sequence.
    ///
    /// # Shapes
    /// `x: [B, T, d]`, `memory: [B, S, d]`, `mask: [T, T]` → `[B, T, d]`.
    pub fn forward(&self, x: Tensor<3>, memory: Tensor<3>, mask: Tensor<2>) -> Tensor<3> {
        let x = self.residual(x, &self.norm1, |h| {
            let (k, v) = self.self_attn.project_kv(h.clone());
            self.self_attn.attend(h, k, v, Some(mask))
        });
        let (mk, mv) = self.cross_attn.project_kv(memory);
        let x = self.residual(x, &self.norm2, |h| self.cross_attn.attend(h, mk, mv, None));
        self.residual(x, &self.norm3, |h| self.feed_forward(h))
    }

    /// Cross-attention keys/values of `memory`, computed once per image.
    pub fn start_cache(&self, memory: Tensor<3>) -> LayerCache {
        LayerCache {
            self_kv: None,
            cross_kv: self.cross_attn.project_kv(memory),
        }
    }

    /// One decoding step for new tokens `x` (`[B, 1, d]`), appending their K/V to the cache.
    pub fn step(&self, x: Tensor<3>, cache: &mut LayerCache) -> Tensor<3> {
        let x = self.residual(x, &self.norm1, |h| {
            let (k_new, v_new) = self.self_attn.project_kv(h.clone());
            let (k, v) = match cache.self_kv.take() {
                Some((k, v)) => (
                    Tensor::cat(vec![k, k_new], 2),
                    Tensor::cat(vec![v, v_new], 2),
                ),
                None => (k_new, v_new),
            };
            // Only past and present keys are cached, so no causal mask is needed.
            let out = self.self_attn.attend(h, k.clone(), v.clone(), None);
            cache.self_kv = Some((k, v));
            out
        });
        let (mk, mv) = cache.cross_kv.clone();
        let x = self.residual(x, &self.norm2, |h| self.cross_attn.attend(h, mk, mv, None));
        self.residual(x, &self.norm3, |h| self.feed_forward(h))
    }
}
