//! Batched greedy decoding with the KV cache, stopping each sequence at `<E>`, plus the
//! FSDL-style uncached loop kept as the reference the cached one is tested against.
//!
//! Confidence: the probability the model gave each emitted token (softmax of the chosen logit),
//! `<E>` included; [`Decoded::confidence`] is their mean, [`Decoded::min_confidence`] the
//! smallest. The mean ranks lines well; the minimum flags a single doubtful character.

use burn::prelude::*;
use burn::tensor::TensorData;
use burn::tensor::activation::softmax;

use crate::charset::{END, PAD, START};
use crate::model::ResnetTransformer;

/// One decoded sequence.
#[derive(Clone, Debug, PartialEq)]
pub struct Decoded {
    /// Token ids after `<S>`, up to and excluding `<E>`.
    pub tokens: Vec<usize>,
    /// Mean probability of the emitted tokens (`<E>` included).
    pub confidence: f32,
    /// Smallest probability among the emitted tokens.
    pub min_confidence: f32,
    /// False when the output hit the length limit before `<E>`.
    pub finished: bool,
}

struct Running {
    tokens: Vec<usize>,
    probs: Vec<f32>,
    finished: bool,
}

impl Running {
    fn push(&mut self, id: usize, p: f32) {
        if self.finished {
            return;
        }
        self.probs.push(p);
        if id == END {
            self.finished = true;
        } else {
            self.tokens.push(id);
        }
    }

    fn into_decoded(self) -> Decoded {
        let n = self.probs.len().max(1) as f32;
        Decoded {
            tokens: self.tokens,
            confidence: self.probs.iter().sum::<f32>() / n,
            min_confidence: self.probs.iter().copied().fold(1.0, f32::min),
            finished: self.finished,
        }
    }
}

/// Most likely token and its probability per row of `[B, V]` logits (one host read each).
fn pick(logits: Tensor<2>) -> (Vec<usize>, Vec<f32>) {
    let (probs, ids) = softmax(logits, 1).max_dim_with_indices(1);
    // A failed read means the device itself failed; nothing the caller could recover from.
    let ids = ids
        .try_to_vec_as::<i64>()
        .expect("reading decoded ids from the device");
    let probs = probs
        .try_to_vec_as::<f32>()
        .expect("reading token probabilities from the device");
    (ids.into_iter().map(|i| i.max(0) as usize).collect(), probs)
}

fn column(ids: &[i64], device: &Device) -> Tensor<2, Int> {
    Tensor::from_data(TensorData::new(ids.to_vec(), [ids.len(), 1]), device)
}

/// Greedy decoding with the per-layer KV cache: O(t) work per step.
/// `max_len` counts `<S>` and `<E>`, like [`ResnetTransformer::max_output_len`].
///
/// # Shapes
/// `memory: [B, S, d]`.
pub fn greedy(model: &ResnetTransformer, memory: Tensor<3>, max_len: usize) -> Vec<Decoded> {
    let device = memory.device();
    let batch = memory.dims()[0];
    let mut cache = model.start_cache_for(memory, max_len);
    let mut runs: Vec<Running> = (0..batch)
        .map(|_| Running {
            tokens: Vec::new(),
            probs: Vec::new(),
            finished: false,
        })
        .collect();
    let mut input = vec![START as i64; batch];
    for _ in 1..max_len {
        let logits = model.step(column(&input, &device), &mut cache);
        let (ids, probs) = pick(logits);
        for (b, run) in runs.iter_mut().enumerate() {
            run.push(ids[b], probs[b]);
            input[b] = if run.finished {
                PAD as i64
            } else {
                ids[b] as i64
            };
        }
        if runs.iter().all(|r| r.finished) {
            break;
        }
    }
    runs.into_iter().map(Running::into_decoded).collect()
}

/// FSDL's loop: re-decode the whole prefix every step, no cache. O(t²) per step; kept as the
/// reference for tests and as the baseline for benchmarks.
pub fn greedy_uncached(
    model: &ResnetTransformer,
    memory: Tensor<3>,
    max_len: usize,
) -> Vec<Decoded> {
    let device = memory.device();
    let batch = memory.dims()[0];
    let mut runs: Vec<Running> = (0..batch)
        .map(|_| Running {
            tokens: Vec::new(),
            probs: Vec::new(),
            finished: false,
        })
        .collect();
    let mut prefix: Vec<i64> = vec![START as i64; batch]; // row-major [B, t]
    for t in 1..max_len {
        let tokens =
            Tensor::<2, Int>::from_data(TensorData::new(prefix.clone(), [batch, t]), &device);
        let logits = model.decode(memory.clone(), tokens);
        let vocab = logits.dims()[2];
        let last = logits
            .slice([0..batch, t - 1..t, 0..vocab])
            .reshape([batch, vocab]);
        let (ids, probs) = pick(last);
        let mut next = Vec::with_capacity(batch * (t + 1));
        for (b, run) in runs.iter_mut().enumerate() {
            run.push(ids[b], probs[b]);
            next.extend_from_slice(&prefix[b * t..(b + 1) * t]);
            next.push(if run.finished {
                PAD as i64
            } else {
                ids[b] as i64
            });
        }
        prefix = next;
        if runs.iter().all(|r| r.finished) {
            break;
        }
    }
    runs.into_iter().map(Running::into_decoded).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ModelConfig;

    #[test]
    fn cached_and_uncached_decoding_agree() {
        let device = Device::flex();
        device.seed(7);
        let cfg = ModelConfig {
            max_output_len: 20,
            ..ModelConfig::tiny()
        };
        let model = cfg.init(12, &device);
        let images =
            Tensor::<4>::random([3, 1, 32, 64], burn::tensor::Distribution::Default, &device);
        let memory = model.encode(images);
        let a = greedy(&model, memory.clone(), 20);
        let b = greedy_uncached(&model, memory, 20);
        assert_eq!(a.len(), 3);
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x.tokens, y.tokens);
            assert!((x.confidence - y.confidence).abs() < 1e-4);
        }
    }
}
