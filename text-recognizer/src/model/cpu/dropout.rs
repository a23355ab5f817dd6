//! Dropout with masks drawn by a small, fast generator on the host.
//!
//! burn-nn's dropout draws its mask through burn's generic sampler (ChaCha, one `f32` per element
//! through `Distribution`): a fifth of the line decoder's training forward went there. Here one
//! seed per call comes from the device's generator (so `device.seed` still makes training
//! reproducible), and the mask is drawn by Xoshiro (`rand`'s `SmallRng`) in parallel chunks.

use burn::nn::Dropout;
use burn::prelude::*;
use burn::tensor::{Distribution, TensorData};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;

use super::on_flex;

/// Elements per independently seeded chunk of the mask.
const CHUNK: usize = 1 << 14;

/// `dropout.forward(x)`: in training, zeroes each element with probability `prob` and scales
/// the others by `1 / (1 − prob)`; otherwise the identity. Off the CPU, burn's dropout.
pub fn dropout<const D: usize>(dropout: &Dropout, x: Tensor<D>) -> Tensor<D> {
    let device = x.device();
    if !dropout.training.is_enabled() || !device.is_autodiff() || dropout.prob == 0.0 {
        return x;
    }
    if !on_flex(&x) {
        return dropout.forward(x);
    }
    let seed = Tensor::<1, Int>::random([1], Distribution::Uniform(0.0, 2_147_483_647.0), &device)
        .into_scalar::<i64>() as u64;
    let shape = x.shape();
    let mask = mask(seed, shape.num_elements(), 1.0 - dropout.prob);
    x * Tensor::from_data(TensorData::new(mask, shape), &device)
}

/// `len` values, each `1 / keep` with probability `keep` and 0 otherwise; a function of `seed`.
fn mask(seed: u64, len: usize, keep: f64) -> Vec<f32> {
    let scale = (1.0 / keep) as f32;
    // Keep an element when a uniform u32 falls below keep·2³².
    let threshold = (keep * 4_294_967_296.0).min(u32::MAX as f64) as u32;
    let mut mask = vec![0f32; len];
    mask.par_chunks_mut(CHUNK)
        .enumerate()
        .for_each(|(chunk, values)| {
            let mut rng =
                SmallRng::seed_from_u64(seed ^ (chunk as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            for v in values {
                *v = if rng.next_u32() < threshold {
                    scale
                } else {
                    0.0
                };
            }
        });
    mask
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::DropoutConfig;

    #[test]
    fn drops_the_expected_share_and_rescales_the_rest() {
        let device = Device::flex().autodiff();
        let layer = DropoutConfig::new(0.25).init();
        let x = Tensor::<2>::ones([300, 400], &device).require_grad();
        let y = dropout(&layer, x.clone());
        let values = y
            .clone()
            .into_data()
            .try_to_vec::<f32>()
            .expect("f32 output");
        let kept = values.iter().filter(|&&v| v != 0.0).count() as f64 / values.len() as f64;
        assert!((kept - 0.75).abs() < 0.005, "kept {kept}");
        assert!(
            values
                .iter()
                .all(|&v| v == 0.0 || (v - 4.0 / 3.0).abs() < 1e-6)
        );
        // The gradient is the mask itself.
        let grad = x.grad(&y.sum().backward()).expect("x grad");
        assert_eq!(
            grad.into_data().try_to_vec::<f32>().expect("f32 grad"),
            values
        );
    }

    #[test]
    fn is_the_identity_outside_training() {
        let layer = DropoutConfig::new(0.5).init();
        let x = Tensor::<1>::ones([64], &Device::flex());
        assert_eq!(dropout(&layer, x.clone()).into_data(), x.into_data());
    }

    /// The mask depends on the seed alone (which comes from the device's seeded generator), and
    /// chunks are not copies of each other.
    #[test]
    fn masks_are_a_function_of_the_seed() {
        let len = 3 * CHUNK + 17;
        assert_eq!(mask(5, len, 0.5), mask(5, len, 0.5));
        assert_ne!(mask(5, len, 0.5), mask(6, len, 0.5));
        let m = mask(5, len, 0.5);
        assert_ne!(m[..CHUNK], m[CHUNK..2 * CHUNK]);
    }
}
