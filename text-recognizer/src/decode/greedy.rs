//! Batched greedy decoding with the KV cache, plus the FSDL-style uncached loop kept as the
//! reference the cached one is tested against.

use burn::prelude::*;
use burn::tensor::TensorData;
use burn::tensor::activation::softmax;

use super::{Bounds, Decoded, Hypothesis};
use crate::charset::{PAD, START};
use crate::model::{Memory, ResnetTransformer};

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

pub(super) fn column(ids: &[i64], device: &Device) -> Tensor<2, Int> {
    Tensor::from_data(TensorData::new(ids.to_vec(), [ids.len(), 1]), device)
}

/// Greedy decoding with the per-layer KV cache: O(t) work per step.
///
/// # Shapes
/// `memory: [B, S, d]`; `bounds` has one limit per sequence.
pub fn greedy(
    model: &ResnetTransformer,
    memory: impl Into<Memory>,
    bounds: &Bounds,
) -> Vec<Decoded> {
    let memory = memory.into();
    let device = memory.features.device();
    let batch = memory.features.dims()[0];
    let longest = bounds.longest();
    let mut cache = model.start_cache_for(memory, longest);
    let mut runs: Vec<Hypothesis> = (0..batch).map(|_| Hypothesis::default()).collect();
    let mut input = vec![START as i64; batch];
    for _ in 1..longest {
        let logits = model.step(column(&input, &device), &mut cache);
        let (ids, probs) = pick(logits);
        for (b, run) in runs.iter_mut().enumerate() {
            run.push(ids[b], probs[b], bounds, b);
            input[b] = if run.is_done() {
                PAD as i64
            } else {
                ids[b] as i64
            };
        }
        if runs.iter().all(Hypothesis::is_done) {
            break;
        }
    }
    runs.into_iter().map(Hypothesis::into_decoded).collect()
}

/// FSDL's loop: re-decode the whole prefix every step, no cache. O(t²) per step; kept as the
/// reference for tests and as the baseline for benchmarks.
pub fn greedy_uncached(
    model: &ResnetTransformer,
    memory: impl Into<Memory>,
    bounds: &Bounds,
) -> Vec<Decoded> {
    let memory = memory.into();
    let device = memory.features.device();
    let batch = memory.features.dims()[0];
    let mut runs: Vec<Hypothesis> = (0..batch).map(|_| Hypothesis::default()).collect();
    let mut prefix: Vec<i64> = vec![START as i64; batch]; // row-major [B, t]
    for t in 1..bounds.longest() {
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
            run.push(ids[b], probs[b], bounds, b);
            next.extend_from_slice(&prefix[b * t..(b + 1) * t]);
            next.push(if run.is_done() {
                PAD as i64
            } else {
                ids[b] as i64
            });
        }
        prefix = next;
        if runs.iter().all(Hypothesis::is_done) {
            break;
        }
    }
    runs.into_iter().map(Hypothesis::into_decoded).collect()
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
        let memory = model.encode_padded(images, &[64, 40, 17]);
        let bounds = Bounds::new(vec![20, 20, 9]);
        let a = greedy(&model, memory.clone(), &bounds);
        let b = greedy_uncached(&model, memory, &bounds);
        assert_eq!(a.len(), 3);
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x.tokens, y.tokens);
            assert!((x.confidence - y.confidence).abs() < 1e-4);
        }
        assert!(a[2].tokens.len() <= 7, "a per-line limit holds");
    }
}
