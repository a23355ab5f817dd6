//! The `ResnetTransformer`: a ResNet encoder whose feature map, with a 2-D sinusoidal position
//! code, is the memory of a Transformer decoder that writes the text (FSDL 2022's production
//! architecture).
//!
//! ```text
//! image [B,1,H,W] ─ ResNet ─ [B,C,h,w] ─ flatten+Linear ─ + PE2d ─ memory [B,h·w,d]
//! tokens [B,T] ─ Embedding·√d + PE1d ─ N × DecoderLayer(memory) ─ Linear ─ logits [B,T,V]
//! ```

mod attention;
pub mod cpu;
mod decoder;
mod encoder;
mod positional;
mod preset;

use burn::nn::{
    Dropout, DropoutConfig, Embedding, EmbeddingConfig, Initializer, Linear, LinearConfig,
};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

pub use decoder::{DecoderCache, DecoderLayer};
pub use encoder::{ResnetConfig, ResnetEncoder};
pub use preset::{Preset, PresetName};

use attention::causal_mask;
use cpu::dropout::dropout;
use positional::{image_encoding, sequence_encoding};

/// Architecture hyper-parameters (the alphabet size comes from the charset at `init`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    /// The ResNet trunk.
    pub encoder: ResnetConfig,
    /// Width of the decoder and of the projected memory.
    pub d_model: usize,
    /// Attention heads.
    pub n_heads: usize,
    /// Decoder layers.
    pub n_layers: usize,
    /// Feed-forward width (FSDL's shipped model used 256, a CLI-default quirk kept for parity).
    pub d_ff: usize,
    /// Dropout in the decoder.
    pub dropout: f64,
    /// Longest output in tokens, `<S>` and `<E>` included (682 for FSDL paragraphs).
    pub max_output_len: usize,
    /// Pre-LayerNorm decoder layers (false: post-norm as in PyTorch's default and FSDL).
    #[serde(default)]
    pub norm_first: bool,
}

impl ModelConfig {
    /// A tiny architecture (two 8/16-channel stages, one 16-wide decoder layer) for tests and
    /// smoke runs: it builds and runs in milliseconds and learns nothing useful.
    pub fn tiny() -> Self {
        ModelConfig {
            encoder: ResnetConfig {
                in_channels: 1,
                stem_width: 8,
                widths: vec![8, 16],
                depths: vec![1, 1],
                strides: vec![[2, 2], [2, 1]],
            },
            d_model: 16,
            n_heads: 2,
            n_layers: 2,
            d_ff: 32,
            dropout: 0.0,
            max_output_len: 12,
            norm_first: false,
        }
    }

    /// Checks the sizes fit together, naming the bad field.
    pub fn validate(&self) -> Result<(), String> {
        self.encoder.validate()?;
        if self.n_heads == 0 || !self.d_model.is_multiple_of(self.n_heads) {
            return Err(format!(
                "d_model ({}) must be a multiple of n_heads ({})",
                self.d_model, self.n_heads
            ));
        }
        if !self.d_model.is_multiple_of(2) {
            return Err(format!(
                "d_model ({}) must be even for the 2-D position code",
                self.d_model
            ));
        }
        if self.max_output_len < 3 {
            return Err("max_output_len must be at least 3 (<S>, one character, <E>)".into());
        }
        Ok(())
    }

    /// Builds the model for a vocabulary of `vocab_size` tokens.
    pub fn init(&self, vocab_size: usize, device: &Device) -> ResnetTransformer {
        // FSDL: embedding and output head U(-0.1, 0.1), head bias 0 ("empirically important").
        let uniform = Initializer::Uniform {
            min: -0.1,
            max: 0.1,
        };
        ResnetTransformer {
            encoder: self.encoder.init(device),
            projection: LinearConfig::new(self.encoder.out_channels(), self.d_model).init(device),
            embedding: EmbeddingConfig::new(vocab_size, self.d_model)
                .with_initializer(uniform.clone())
                .init(device),
            embed_dropout: DropoutConfig::new(0.1).init(),
            layers: (0..self.n_layers)
                .map(|_| {
                    DecoderLayer::new(
                        self.d_model,
                        self.n_heads,
                        self.d_ff,
                        self.dropout,
                        self.norm_first,
                        device,
                    )
                })
                .collect(),
            head: LinearConfig::new(self.d_model, vocab_size)
                .with_initializer(uniform)
                .init(device),
            d_model: self.d_model,
            max_output_len: self.max_output_len,
        }
    }
}

/// ResNet encoder + Transformer decoder.
#[derive(Module, Debug)]
pub struct ResnetTransformer {
    encoder: ResnetEncoder,
    projection: Linear,
    embedding: Embedding,
    embed_dropout: Dropout,
    layers: Vec<DecoderLayer>,
    head: Linear,
    d_model: usize,
    max_output_len: usize,
}

impl ResnetTransformer {
    /// Longest output in tokens, `<S>` and `<E>` included.
    pub fn max_output_len(&self) -> usize {
        self.max_output_len
    }

    /// Vocabulary size of the output head.
    pub fn vocab_size(&self) -> usize {
        self.head.weight.dims()[1]
    }

    /// Encodes images into the decoder's memory.
    ///
    /// # Shapes
    /// `[B, 1, H, W]` → `[B, h·w, d_model]`.
    pub fn encode(&self, images: Tensor<4>) -> Tensor<3> {
        let features = self.encoder.forward(images);
        let [b, c, h, w] = features.dims();
        let x = features.reshape([b, c, h * w]).swap_dims(1, 2); // [B, h·w, C]
        let x = self.projection.forward(x);
        let pe = image_encoding(h, w, self.d_model, &x.device());
        x + pe.unsqueeze::<3>().expand([b, h * w, self.d_model])
    }

    /// Token embeddings scaled by √d plus positions `start..start+T`.
    fn embed(&self, tokens: Tensor<2, Int>, start: usize) -> Tensor<3> {
        let [b, t] = tokens.dims();
        let x = self.embedding.forward(tokens) * (self.d_model as f64).sqrt();
        let pe = sequence_encoding(start, t, self.d_model, &x.device());
        dropout(
            &self.embed_dropout,
            x + pe.unsqueeze::<3>().expand([b, t, self.d_model]),
        )
    }

    /// Teacher-forced decoding of `tokens` (which start with `<S>`).
    ///
    /// # Shapes
    /// `memory: [B, S, d]`, `tokens: [B, T]` → logits `[B, T, V]`.
    pub fn decode(&self, memory: Tensor<3>, tokens: Tensor<2, Int>) -> Tensor<3> {
        let t = tokens.dims()[1];
        let mask = causal_mask(t, &memory.device());
        let mut x = self.embed(tokens, 0);
        for layer in &self.layers {
            x = layer.forward(x, memory.clone(), mask.clone());
        }
        self.head.forward(x)
    }

    /// Full teacher-forced forward pass (training).
    ///
    /// # Shapes
    /// `images: [B, 1, H, W]`, `tokens: [B, T]` → logits `[B, T, V]`.
    pub fn forward(&self, images: Tensor<4>, tokens: Tensor<2, Int>) -> Tensor<3> {
        let memory = self.encode(images);
        self.decode(memory, tokens)
    }

    /// Starts a KV cache for `memory` (cross-attention keys/values computed once) with room
    /// for the longest output; [`Self::start_cache_for`] sizes it for fewer tokens.
    pub fn start_cache(&self, memory: Tensor<3>) -> DecoderCache {
        self.start_cache_for(memory, self.max_output_len)
    }

    /// Starts a KV cache with room for `tokens` decoding steps (it grows if more come).
    pub fn start_cache_for(&self, memory: Tensor<3>, tokens: usize) -> DecoderCache {
        DecoderCache {
            layers: self
                .layers
                .iter()
                .map(|l| l.start_cache(memory.clone(), tokens))
                .collect(),
            len: 0,
        }
    }

    /// Decodes one new token per sequence with the cache.
    ///
    /// # Shapes
    /// `tokens: [B, 1]` → logits `[B, V]`.
    pub fn step(&self, tokens: Tensor<2, Int>, cache: &mut DecoderCache) -> Tensor<2> {
        let mut x = self.embed(tokens, cache.len);
        for (layer, c) in self.layers.iter().zip(cache.layers.iter_mut()) {
            x = layer.step(x, c, cache.len);
        }
        cache.len += 1;
        let [b, _, d] = x.dims();
        self.head.forward(x.reshape([b, d]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;

    fn tiny() -> ModelConfig {
        ModelConfig::tiny()
    }

    #[test]
    fn shapes_follow_the_strides() {
        let device = Device::flex();
        let cfg = tiny();
        assert_eq!(cfg.encoder.total_stride(), [16, 8]);
        let model = cfg.init(10, &device);
        let images = Tensor::<4>::zeros([2, 1, 32, 64], &device);
        let memory = model.encode(images.clone());
        assert_eq!(memory.dims(), [2, 2 * 8, 16]);
        let tokens = Tensor::<2, Int>::from_data(
            TensorData::new(vec![1i64, 4, 5, 1, 6, 7], [2, 3]),
            &device,
        );
        assert_eq!(model.forward(images, tokens).dims(), [2, 3, 10]);
    }

    #[test]
    fn cached_steps_match_teacher_forcing() {
        let device = Device::flex();
        let model = tiny().init(10, &device);
        let images =
            Tensor::<4>::random([1, 1, 32, 48], burn::tensor::Distribution::Default, &device);
        let memory = model.encode(images);
        let ids = [1i64, 5, 7, 4, 9];
        let tokens = Tensor::<2, Int>::from_data(TensorData::new(ids.to_vec(), [1, 5]), &device);
        let full = model
            .decode(memory.clone(), tokens)
            .try_to_vec_as::<f32>()
            .expect("reads");
        // Room for 2 tokens: the buffers must grow (twice) on the way to 5.
        let mut cache = model.start_cache_for(memory.clone(), 2);
        for (t, &id) in ids.iter().enumerate() {
            let tok = Tensor::<2, Int>::from_data(TensorData::new(vec![id], [1, 1]), &device);
            let step = model
                .step(tok, &mut cache)
                .try_to_vec_as::<f32>()
                .expect("reads");
            for (v, (a, b)) in step.iter().zip(&full[t * 10..(t + 1) * 10]).enumerate() {
                assert!((a - b).abs() < 1e-4, "step {t} logit {v}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn a_truncated_cache_decodes_a_different_continuation() {
        let device = Device::flex();
        let model = tiny().init(10, &device);
        let images =
            Tensor::<4>::random([1, 1, 32, 48], burn::tensor::Distribution::Default, &device);
        let memory = model.encode(images);
        let tok = |id: i64| Tensor::<2, Int>::from_data(TensorData::new(vec![id], [1, 1]), &device);
        let mut cache = model.start_cache(memory.clone());
        for id in [1, 5, 7] {
            let _ = model.step(tok(id), &mut cache);
        }
        cache.truncate(2);
        assert_eq!(cache.len(), 2);
        let step = model
            .step(tok(9), &mut cache)
            .try_to_vec_as::<f32>()
            .expect("reads");
        let ids = Tensor::<2, Int>::from_data(TensorData::new(vec![1i64, 5, 9], [1, 3]), &device);
        let full = model
            .decode(memory, ids)
            .try_to_vec_as::<f32>()
            .expect("reads");
        for (a, b) in step.iter().zip(&full[20..30]) {
            assert!((a - b).abs() < 1e-4, "{a} vs {b}");
        }
    }

    #[test]
    fn validation_names_the_field() {
        let mut cfg = tiny();
        cfg.n_heads = 3;
        assert!(cfg.validate().expect_err("must fail").contains("n_heads"));
        cfg = tiny();
        cfg.encoder.depths.pop();
        assert!(cfg.validate().expect_err("must fail").contains("depths"));
    }
}
