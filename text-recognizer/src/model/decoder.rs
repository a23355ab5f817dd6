//! The Transformer decoder: self-attention, cross-attention to the image memory, feed-forward;
//! post-LayerNorm by default (PyTorch's `nn.TransformerDecoderLayer`, FSDL parity), pre-norm on
//! request. Carries its own KV cache for O(t) decoding steps.

use burn::nn::{Dropout, DropoutConfig, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::relu;

use super::attention::Attention;
use super::cpu::dropout::dropout;

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
///
/// The self-attention buffers are allocated for the whole output once and written in place
/// (`slice_assign` on a uniquely held tensor), instead of growing by `cat`: a `cat` copies the
/// whole cache at every step, O(t²) bytes over a paragraph.
#[derive(Clone, Debug)]
pub struct LayerCache {
    /// `[B, h, capacity, d_k]` keys and values; positions `..len` are filled.
    self_kv: Option<(Tensor<4>, Tensor<4>)>,
    cross_kv: (Tensor<4>, Tensor<4>),
    /// Additive `[B, 1, 1, S]` mask of the memory's padded positions.
    memory_mask: Option<Tensor<4>>,
}

/// The whole decoder's cache: one `LayerCache` per layer.
#[derive(Clone, Debug)]
pub struct DecoderCache {
    pub(crate) layers: Vec<LayerCache>,
    /// Tokens already decoded (the next token's position).
    pub(crate) len: usize,
}

impl DecoderCache {
    /// Tokens decoded so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True before the first step.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Forgets every token after the first `len` (the next step overwrites their slots).
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    /// Makes row `i` continue the sequence of row `parents[i]` (beam search). Only the
    /// self-attention keys and values move: beams of one image share its memory, and a beam's
    /// parent is always a beam of the same image.
    pub fn reorder(&mut self, parents: &[usize]) {
        let Some(first) = self.layers.first().and_then(|l| l.self_kv.as_ref()) else {
            return;
        };
        let device = first.0.device();
        let index = Tensor::<1, Int>::from_data(
            burn::tensor::TensorData::new(
                parents.iter().map(|&p| p as i64).collect::<Vec<_>>(),
                [parents.len()],
            ),
            &device,
        );
        for layer in &mut self.layers {
            if let Some((k, v)) = layer.self_kv.take() {
                layer.self_kv = Some((k.select(0, index.clone()), v.select(0, index.clone())));
            }
        }
    }
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
            .forward(dropout(&self.dropout, relu(self.linear1.forward(x))))
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
            x + dropout(&self.dropout, y)
        } else {
            let y = f(x.clone());
            norm.forward(x + dropout(&self.dropout, y))
        }
    }

    /// Teacher-forced forward over a whole sequence.
    ///
    /// # Shapes
    /// `x: [B, T, d]`, `memory: [B, S, d]`, `mask: [1, 1, T, T]`, `memory_mask: [B, 1, 1, S]`
    /// → `[B, T, d]`.
    pub fn forward(
        &self,
        x: Tensor<3>,
        memory: Tensor<3>,
        mask: Tensor<4>,
        memory_mask: Option<Tensor<4>>,
    ) -> Tensor<3> {
        let x = self.residual(x, &self.norm1, |h| {
            let (k, v) = self.self_attn.project_kv(h.clone());
            self.self_attn.attend(h, k, v, Some(mask))
        });
        let (mk, mv) = self.cross_attn.project_kv(memory);
        let x = self.residual(x, &self.norm2, |h| {
            self.cross_attn.attend(h, mk, mv, memory_mask)
        });
        self.residual(x, &self.norm3, |h| self.feed_forward(h))
    }

    /// Cross-attention keys/values of `memory`, computed once per image, and self-attention
    /// buffers for `capacity` tokens.
    pub fn start_cache(
        &self,
        memory: Tensor<3>,
        memory_mask: Option<Tensor<4>>,
        capacity: usize,
    ) -> LayerCache {
        let batch = memory.dims()[0];
        let device = memory.device();
        LayerCache {
            self_kv: Some(self.self_attn.empty_kv(batch, capacity.max(1), &device)),
            cross_kv: self.cross_attn.project_kv(memory),
            memory_mask,
        }
    }

    /// One decoding step for new tokens `x` (`[B, 1, d]`) at position `pos`, writing their K/V
    /// into the cache.
    pub fn step(&self, x: Tensor<3>, cache: &mut LayerCache, pos: usize) -> Tensor<3> {
        let x = self.residual(x, &self.norm1, |h| {
            let (k_new, v_new) = self.self_attn.project_kv(h.clone());
            let (mut k, mut v) = cache
                .self_kv
                .take()
                .unwrap_or_else(|| unreachable!("start_cache fills self_kv; step puts it back"));
            let [b, heads, capacity, d_k] = k.dims();
            if pos >= capacity {
                // Longer than planned: double the buffers (amortised O(1) per token).
                let (k_more, v_more) = self.self_attn.empty_kv(b, capacity, &k.device());
                k = Tensor::cat(vec![k, k_more], 2);
                v = Tensor::cat(vec![v, v_more], 2);
            }
            let at = [0..b, 0..heads, pos..pos + 1, 0..d_k];
            let k = k.slice_assign(at.clone(), k_new);
            let v = v.slice_assign(at, v_new);
            // Views of the filled prefix: past and present keys only, so no causal mask. They
            // are dropped before the next step, leaving the buffers uniquely held again.
            let filled = [0..b, 0..heads, 0..pos + 1, 0..d_k];
            let out = self.self_attn.attend(
                h,
                k.clone().slice(filled.clone()),
                v.clone().slice(filled),
                None,
            );
            cache.self_kv = Some((k, v));
            out
        });
        let (mk, mv) = cache.cross_kv.clone();
        let memory_mask = cache.memory_mask.clone();
        let x = self.residual(x, &self.norm2, |h| {
            self.cross_attn.attend(h, mk, mv, memory_mask)
        });
        self.residual(x, &self.norm3, |h| self.feed_forward(h))
    }
}
