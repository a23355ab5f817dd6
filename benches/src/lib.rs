//! Shared set-up for the benchmarks and the PyTorch twin's driver: randomly initialised models
//! of the shipped presets, inputs of their shapes, fixed-length decoding loops and a training
//! step. Weights do not change the cost of a forward pass.

pub mod flops;

use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use burn::tensor::{Distribution, TensorData};
use text_recognizer::charset::START;
use text_recognizer::model::cpu::in_pool;
use text_recognizer::model::{Preset, PresetName, ResnetTransformer};
use text_recognizer::training::sequence_loss;

/// FSDL's paragraph vocabulary size, used for every benchmark model.
pub const VOCAB: usize = 84;

/// A model of `preset` in eval mode with FSDL's 84-token vocabulary.
pub fn model(preset: PresetName, device: &Device) -> (Preset, ResnetTransformer) {
    let p = Preset::named(preset);
    let m = p.model.init(VOCAB, device);
    (p, m.valid())
}

/// Random images `[batch, 1, height, width]` in `[0, 1)`.
pub fn images(batch: usize, height: usize, width: usize, device: &Device) -> Tensor<4> {
    Tensor::random([batch, 1, height, width], Distribution::Default, device)
}

/// Random token ids `[batch, len]` starting with `<S>` (teacher-forcing input).
pub fn tokens(batch: usize, len: usize, device: &Device) -> Tensor<2, Int> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let ids = (0..batch * len)
        .map(|i| {
            if i % len == 0 {
                return START as i64;
            }
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            4 + (state % (VOCAB as u64 - 4)) as i64
        })
        .collect();
    Tensor::from_data(TensorData::new(ids, [batch, len]), device)
}

/// Argmax of `[B, V]` logits, read to the host: one sync per step, as FSDL's loop does.
fn argmax(logits: Tensor<2>) -> Vec<i64> {
    logits
        .argmax(1)
        .try_to_vec_as::<i64>()
        .expect("reading ids from the device")
}

/// Greedy decoding of exactly `steps` tokens with the KV cache (never stopping at `<E>`, so
/// the work does not depend on random weights).
pub fn forced_cached(model: &ResnetTransformer, memory: Tensor<3>, steps: usize) -> Vec<i64> {
    let device = memory.device();
    let batch = memory.dims()[0];
    let mut cache = model.start_cache_for(memory, steps);
    let mut input = vec![START as i64; batch];
    let mut out = Vec::with_capacity(steps * batch);
    for _ in 0..steps {
        let column = Tensor::from_data(TensorData::new(input.clone(), [batch, 1]), &device);
        input = argmax(model.step(column, &mut cache));
        out.extend_from_slice(&input);
    }
    out
}

/// FSDL's loop for exactly `steps` tokens: re-decode the whole prefix at every step.
pub fn forced_uncached(model: &ResnetTransformer, memory: Tensor<3>, steps: usize) -> Vec<i64> {
    let device = memory.device();
    let batch = memory.dims()[0];
    let mut prefix = vec![START as i64; batch];
    for t in 1..=steps {
        let tokens = Tensor::from_data(TensorData::new(prefix.clone(), [batch, t]), &device);
        let logits = model.decode(memory.clone(), tokens);
        let vocab = logits.dims()[2];
        let next = argmax(
            logits
                .slice([0..batch, t - 1..t, 0..vocab])
                .reshape([batch, vocab]),
        );
        let mut grown = Vec::with_capacity(batch * (t + 1));
        for (b, id) in next.iter().enumerate() {
            grown.extend_from_slice(&prefix[b * t..(b + 1) * t]);
            grown.push(*id);
        }
        prefix = grown;
    }
    prefix
}

/// Teacher-forced cross-entropy of `model` on `images` (targets are the inputs shifted by one).
pub fn loss(
    model: &ResnetTransformer,
    images: Tensor<4>,
    inputs: Tensor<2, Int>,
    targets: Tensor<2, Int>,
) -> Tensor<1> {
    let [b, _, _, w] = images.dims();
    sequence_loss(model.forward(images, &vec![w; b], inputs), targets)
}

/// A model, its Adam state and one fixed random batch, for timing training steps.
pub struct TrainBench {
    model: Option<ResnetTransformer>,
    optim: ModuleOptimizer,
    images: Tensor<4>,
    tokens: Tensor<2, Int>,
}

impl TrainBench {
    /// A fresh `preset` model on `device` (an autodiff device) with a batch of `batch` random
    /// `height × width` images and `len` target tokens.
    pub fn new(
        preset: PresetName,
        batch: usize,
        [h, w]: [usize; 2],
        len: usize,
        device: &Device,
    ) -> Self {
        TrainBench {
            model: Some(Preset::named(preset).model.init(VOCAB, device)),
            optim: AdamConfig::new().with_epsilon(1e-8).init(),
            images: images(batch, h, w, device),
            tokens: tokens(batch, len + 1, device),
        }
    }

    /// The model (between steps).
    pub fn model(&self) -> &ResnetTransformer {
        self.model
            .as_ref()
            .unwrap_or_else(|| unreachable!("step puts the model back"))
    }

    /// Teacher-forcing input and (shifted) target.
    pub fn inputs_and_targets(&self) -> (Tensor<2, Int>, Tensor<2, Int>) {
        let [b, t] = self.tokens.dims();
        (
            self.tokens.clone().slice([0..b, 0..t - 1]),
            self.tokens.clone().slice([0..b, 1..t]),
        )
    }

    /// Images of the batch.
    pub fn images(&self) -> Tensor<4> {
        self.images.clone()
    }

    /// One training step (teacher-forced forward, cross-entropy, backward, Adam with PyTorch's
    /// defaults: lr 1e-3, ε 1e-8, as the twin); returns the loss.
    pub fn step(&mut self) -> f32 {
        let (inputs, targets) = self.inputs_and_targets();
        let model = self
            .model
            .take()
            .unwrap_or_else(|| unreachable!("put back below"));
        let images = self.images.clone();
        // Forward and backward on a rayon worker, as `TrainStep` runs them in training.
        let (value, grads) = in_pool(|| {
            let loss = loss(&model, images, inputs, targets);
            let value = loss.clone().into_scalar::<f32>();
            (value, GradientsParams::from_grads(loss.backward(), &model))
        });
        self.model = Some(self.optim.step(1e-3, model, grads));
        value
    }
}
