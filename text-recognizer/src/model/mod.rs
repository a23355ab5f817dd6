//! The `ResnetTransformer`: a ResNet encoder whose feature map, with a 2-D sinusoidal position
//! code, is the memory of a Transformer decoder that writes the text (FSDL 2022's production
//! architecture).
//!
//! ```text
//! image [B,1,H,W] ─ ResNet ─ [B,C,h,w] ─ flatten+Linear ─ + PE2d ─ memory [B,h·w,d]
//! tokens [B,T] ─ Embedding·√d + PE1d ─ N × DecoderLayer(memory) ─ Linear ─ logits [B,T,V]
//! ```

mod attention;
mod context;
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

pub use context::{ColumnContext, ContextConfig};
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
    /// Mask batch padding: padded columns are zeroed in every encoder layer and hidden from the
    /// decoder's cross-attention, so an image reads the same alone or in any batch. Off for
    /// models trained without it (FSDL, whose paragraphs are never padded, and our first line
    /// models), which learned to read with padding in view.
    #[serde(default)]
    pub padding_mask: bool,
    /// Weight of a CTC loss on the encoder's columns, trained jointly with the decoder's
    /// cross-entropy (hybrid CTC/attention: loss = (1 − w)·CE + w·CTC). 0: no CTC head (FSDL).
    /// The head reads each memory column (averaged over rows) and emits two frames per column,
    /// so a line has 2 frames per 16 px: enough for dense handwriting.
    #[serde(default)]
    pub ctc_weight: f64,
    /// CTC frames per memory column (2 for encoders that stride 16 columns; 1 for those that
    /// stride 8 or less).
    #[serde(default = "two_frames")]
    pub ctc_frames_per_column: usize,
    /// Bidirectional LSTM layers between the columns and the CTC head (`None`: the head reads
    /// the columns directly).
    #[serde(default)]
    pub context: Option<ContextConfig>,
}

fn two_frames() -> usize {
    2
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
            padding_mask: true,
            ctc_weight: 0.0,
            ctc_frames_per_column: 2,
            context: None,
        }
    }

    /// A tiny CTC-only architecture (no decoder; one small LSTM layer) for tests.
    pub fn tiny_ctc() -> Self {
        ModelConfig {
            n_layers: 0,
            ctc_weight: 1.0,
            ctc_frames_per_column: 1,
            context: Some(ContextConfig {
                hidden: 8,
                layers: 1,
                dropout: 0.0,
            }),
            ..ModelConfig::tiny()
        }
    }

    /// Whether the model reads by CTC alone (`ctc_weight` 1): no attention decoder is trained
    /// or run, as in kraken and PyLaia.
    pub fn is_ctc_only(&self) -> bool {
        self.ctc_weight >= 1.0
    }

    /// Whether weights trained for `other` fit this architecture: the same layers and sizes.
    /// Dropout, the padding mask, the output length and the CTC head may differ (see
    /// [`ResnetTransformer::with_settings_of`]).
    pub fn same_weights_as(&self, other: &ModelConfig) -> bool {
        let plain = |c: &ModelConfig| ModelConfig {
            dropout: 0.0,
            context: c
                .context
                .clone()
                .map(|x| ContextConfig { dropout: 0.0, ..x }),
            padding_mask: false,
            max_output_len: 0,
            ctc_weight: 0.0,
            ..c.clone()
        };
        plain(self) == plain(other)
    }

    /// Checks the sizes fit together, naming the bad field.
    pub fn validate(&self) -> Result<(), String> {
        self.encoder.validate()?;
        let bounded = [
            ("d_model", self.d_model, 4096),
            ("n_heads", self.n_heads, 64),
            ("n_layers", self.n_layers, 64),
            ("d_ff", self.d_ff, 16384),
            ("max_output_len", self.max_output_len, 4096),
        ];
        if let Some((name, v, max)) = bounded.iter().find(|(_, v, max)| v > max) {
            return Err(format!("{name} ({v}) is over {max}"));
        }
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
        if !(0.0..=1.0).contains(&self.ctc_weight) {
            return Err(format!(
                "ctc_weight ({}) must be within 0..=1",
                self.ctc_weight
            ));
        }
        if !(1..=8).contains(&self.ctc_frames_per_column) {
            return Err(format!(
                "ctc_frames_per_column ({}) must be within 1..=8",
                self.ctc_frames_per_column
            ));
        }
        if let Some(context) = &self.context {
            context.validate()?;
            if self.ctc_weight == 0.0 {
                return Err("context needs a CTC head (ctc_weight > 0)".into());
            }
        }
        if self.is_ctc_only() && self.n_layers > 0 {
            return Err(format!(
                "n_layers ({}) must be 0 when ctc_weight is 1 (a CTC-only model runs no decoder)",
                self.n_layers
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
            context: self
                .context
                .as_ref()
                .filter(|_| self.ctc_weight > 0.0)
                .map(|c| c.init(self.d_model, device)),
            ctc: (self.ctc_weight > 0.0).then(|| {
                LinearConfig::new(self.ctc_width(), self.ctc_frames_per_column * vocab_size)
                    .init(device)
            }),
            head: LinearConfig::new(self.d_model, vocab_size)
                .with_initializer(uniform)
                .init(device),
            d_model: self.d_model,
            max_output_len: self.max_output_len,
            padding_mask: self.padding_mask,
            ctc_weight: self.ctc_weight,
            ctc_frames: self.ctc_frames_per_column,
        }
    }

    /// Width of what the CTC head reads: the context's output, or the memory's.
    fn ctc_width(&self) -> usize {
        self.context
            .as_ref()
            .map_or(self.d_model, ContextConfig::out_width)
    }
}

/// Encoded images: the decoder's memory and, for a padded batch, which positions are padding.
#[derive(Clone, Debug)]
pub struct Memory {
    /// `[B, S, d_model]`.
    pub features: Tensor<3>,
    /// Additive `[B, 1, 1, S]` mask of padded positions; `None` when nothing is hidden.
    pub mask: Option<Tensor<4>>,
    /// Feature-map columns of each image that are real (all of them without a mask).
    pub columns: Vec<usize>,
    /// Rows of the feature map (the memory is `rows × width`, row by row).
    pub rows: usize,
}

impl From<Tensor<3>> for Memory {
    /// Memory with nothing masked, taken as one row (for decoding only: a CTC head needs
    /// [`ResnetTransformer::encode_padded`]'s memory, which knows the feature map's shape).
    fn from(features: Tensor<3>) -> Self {
        let [b, s, _] = features.dims();
        Memory {
            features,
            mask: None,
            columns: vec![s; b],
            rows: 1,
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
    /// LSTM context over the memory columns, before the CTC head.
    context: Option<ColumnContext>,
    /// CTC head on the memory columns (`ctc_weight > 0`).
    pub(crate) ctc: Option<Linear>,
    head: Linear,
    d_model: usize,
    max_output_len: usize,
    padding_mask: bool,
    ctc_weight: f64,
    ctc_frames: usize,
}

impl ResnetTransformer {
    /// Takes `config`'s settings that carry no weights (padding mask, output length, CTC
    /// weight) and gives the model a fresh CTC head when `config` has one and the model has
    /// not: how a model is fine-tuned under a new recipe. Dropout modules keep their rates.
    pub fn with_settings_of(mut self, config: &ModelConfig, vocab: usize, device: &Device) -> Self {
        self.padding_mask = config.padding_mask;
        self.max_output_len = config.max_output_len;
        self.ctc_weight = config.ctc_weight;
        if config.ctc_weight > 0.0 && self.ctc.is_none() {
            self.ctc_frames = config.ctc_frames_per_column;
            self.ctc = Some(LinearConfig::new(self.d_model, self.ctc_frames * vocab).init(device));
        } else if config.ctc_weight == 0.0 {
            self.ctc = None;
        }
        self
    }

    /// The CTC loss's share of the training loss (0 without a CTC head).
    pub fn ctc_weight(&self) -> f64 {
        if self.ctc.is_some() {
            self.ctc_weight
        } else {
            0.0
        }
    }

    /// Whether the model reads by CTC alone (no decoder; see [`ModelConfig::is_ctc_only`]).
    pub fn is_ctc_only(&self) -> bool {
        self.ctc.is_some() && self.ctc_weight >= 1.0 && self.layers.is_empty()
    }

    /// CTC frames per memory column.
    pub fn ctc_frames_per_column(&self) -> usize {
        self.ctc_frames
    }

    /// CTC frames that belong to each image of `memory` (the rest of the `frames` is padding).
    pub fn ctc_valid_frames(&self, memory: &Memory, frames: usize) -> Vec<usize> {
        memory
            .columns
            .iter()
            .map(|&c| (c * self.ctc_frames).min(frames))
            .collect()
    }

    /// CTC logits of the memory: [`Self::ctc_frames_per_column`] frames per column, rows
    /// averaged, through the LSTM context when there is one; the frames of image `b` past
    /// `frames_per_column · memory.columns[b]` are padding. `None` without a CTC head.
    ///
    /// # Shapes
    /// `[B, h·w, d]` memory → `[B, k·w, V]`.
    pub fn ctc_logits(&self, memory: &Memory) -> Option<Tensor<3>> {
        let head = self.ctc.as_ref()?;
        let [b, s, d] = memory.features.dims();
        let h = memory.rows.max(1);
        let w = s / h;
        let mut columns = memory
            .features
            .clone()
            .reshape([b, h, w, d])
            .mean_dim(1)
            .reshape([b, w, d]);
        if let Some(context) = &self.context {
            columns = context.forward(columns, &memory.columns);
        }
        let frames = head.forward(columns); // [B, w, kV]
        let v = frames.dims()[2] / self.ctc_frames;
        Some(frames.reshape([b, w * self.ctc_frames, v]))
    }

    /// Whether batch padding is masked (see [`ModelConfig::padding_mask`]).
    pub fn padding_mask(&self) -> bool {
        self.padding_mask
    }

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
        self.to_memory(features)
    }

    /// Encodes a batch padded on the right, image `b` being `widths[b]` pixels wide. With
    /// [`ModelConfig::padding_mask`] each image's memory is what it would be alone and the
    /// padding is masked; without it this is [`Self::encode`].
    ///
    /// # Shapes
    /// `[B, 1, H, W]` → `[B, h·w, d_model]` and a `[B, 1, 1, h·w]` mask.
    pub fn encode_padded(&self, images: Tensor<4>, widths: &[usize]) -> Memory {
        let [b, _, _, w] = images.dims();
        let masked = self.padding_mask && widths.len() == b && widths.iter().any(|&v| v < w);
        let (features, columns) = self
            .encoder
            .forward_padded(images, masked.then_some(widths));
        let [_, _, h, fw] = features.dims();
        let device = features.device();
        let mask = masked.then(|| {
            // Memory is flattened row by row: position `row·w + col` is padding when col ≥ valid.
            let mut mask = vec![0f32; b * h * fw];
            for (sample, &valid) in mask.chunks_exact_mut(h * fw).zip(&columns) {
                for row in sample.chunks_exact_mut(fw) {
                    row[valid.min(fw)..].fill(attention::MASKED);
                }
            }
            Tensor::from_data(
                burn::tensor::TensorData::new(mask, [b, 1, 1, h * fw]),
                &device,
            )
        });
        Memory {
            features: self.to_memory(features),
            mask,
            columns: if masked { columns } else { vec![fw; b] },
            rows: h,
        }
    }

    /// `[B, C, h, w]` feature map → projected memory with the 2-D position code.
    fn to_memory(&self, features: Tensor<4>) -> Tensor<3> {
        let [b, c, h, w] = features.dims();
        let x = features.reshape([b, c, h * w]).swap_dims(1, 2); // [B, h·w, C]
        let x = self.projection.forward(x);
        if self.layers.is_empty() {
            // No decoder to attend by position: CTC reads the columns in order.
            return x;
        }
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
    pub fn decode(&self, memory: impl Into<Memory>, tokens: Tensor<2, Int>) -> Tensor<3> {
        let memory = memory.into();
        let t = tokens.dims()[1];
        let mask = causal_mask(t, &memory.features.device());
        let mut x = self.embed(tokens, 0);
        for layer in &self.layers {
            x = layer.forward(
                x,
                memory.features.clone(),
                mask.clone(),
                memory.mask.clone(),
            );
        }
        self.head.forward(x)
    }

    /// Full teacher-forced forward pass (training) of a batch padded on the right, image `b`
    /// being `widths[b]` pixels wide.
    ///
    /// # Shapes
    /// `images: [B, 1, H, W]`, `tokens: [B, T]` → logits `[B, T, V]`.
    pub fn forward(
        &self,
        images: Tensor<4>,
        widths: &[usize],
        tokens: Tensor<2, Int>,
    ) -> Tensor<3> {
        let memory = self.encode_padded(images, widths);
        self.decode(memory, tokens)
    }

    /// Starts a KV cache for `memory` (cross-attention keys/values computed once) with room
    /// for the longest output; [`Self::start_cache_for`] sizes it for fewer tokens.
    pub fn start_cache(&self, memory: impl Into<Memory>) -> DecoderCache {
        self.start_cache_for(memory, self.max_output_len)
    }

    /// Starts a KV cache with room for `tokens` decoding steps (it grows if more come).
    pub fn start_cache_for(&self, memory: impl Into<Memory>, tokens: usize) -> DecoderCache {
        let memory = memory.into();
        DecoderCache {
            layers: self
                .layers
                .iter()
                .map(|l| l.start_cache(memory.features.clone(), memory.mask.clone(), tokens))
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
        assert_eq!(model.forward(images, &[64, 40], tokens).dims(), [2, 3, 10]);
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

    /// Logits of `tokens` for image `row` of a batch padded to a common width, and for the same
    /// image alone, with a model whose batch norm has running statistics (so padding is not 0
    /// after it).
    fn batched_and_alone(padding_mask: bool) -> f32 {
        let device = Device::flex();
        device.seed(5);
        let cfg = ModelConfig {
            padding_mask,
            ..tiny()
        };
        let trained = cfg.init(10, &device.clone().autodiff());
        for _ in 0..2 {
            let d = trained.devices()[0].clone();
            let x = Tensor::<4>::random([2, 1, 32, 64], burn::tensor::Distribution::Default, &d);
            let t = Tensor::<2, Int>::from_data(TensorData::new(vec![1i64, 4, 5, 6], [2, 2]), &d);
            let _ = trained.forward(x, &[64, 64], t);
        }
        let model = trained.valid();
        let narrow =
            Tensor::<4>::random([1, 1, 32, 40], burn::tensor::Distribution::Default, &device);
        let wide =
            Tensor::<4>::random([1, 1, 32, 64], burn::tensor::Distribution::Default, &device);
        let padded = Tensor::cat(
            vec![narrow.clone(), Tensor::zeros([1, 1, 32, 24], &device)],
            3,
        );
        let batch = Tensor::cat(vec![padded, wide], 0);
        let ids = [1i64, 5, 7, 4];
        let tokens = |b| {
            let data: Vec<i64> = (0..b).flat_map(|_| ids).collect();
            Tensor::<2, Int>::from_data(TensorData::new(data, [b, 4]), &device)
        };
        let together = model
            .decode(model.encode_padded(batch, &[40, 64]), tokens(2))
            .try_to_vec_as::<f32>()
            .expect("reads");
        let alone = model
            .decode(model.encode_padded(narrow, &[40]), tokens(1))
            .try_to_vec_as::<f32>()
            .expect("reads");
        alone
            .iter()
            .zip(&together[..alone.len()])
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max)
    }

    #[test]
    fn a_padded_image_reads_as_it_would_alone() {
        let masked = batched_and_alone(true);
        assert!(masked < 1e-4, "masked: max logit difference {masked}");
        // The control: without the mask, padding changes the logits.
        let unmasked = batched_and_alone(false);
        assert!(unmasked > 1e-3, "unmasked: max logit difference {unmasked}");
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
