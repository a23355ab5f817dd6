//! CPU kernels for the encoder's training hot spots, where burn-flex 0.22 falls well short of
//! PyTorch: convolution (forward and weight gradient), training-mode batch norm and dropout.
//!
//! Convolution and batch norm are burn backend extensions implemented for `Flex` and
//! `Autodiff<Flex>` (with their own backward passes); dropout only draws its mask differently.
//! The public functions take them on the CPU in f32 and fall back to burn's own operations on
//! every other device and dtype, so GPU backends keep their kernels.
//!
//! [`in_pool`] runs tensor work on a rayon worker, where flex's parallel operations are cheap
//! to start.

pub mod batch_norm;
pub mod conv;
pub mod dropout;

use burn::prelude::*;
use burn::tensor::DType;

/// Whether `x` lives on the flex device (with or without autodiff) in f32.
fn on_flex<const D: usize>(x: &Tensor<D>) -> bool {
    x.dtype() == DType::F32 && x.device().inner() == Device::flex()
}

/// Runs `f` on a worker of rayon's global pool; the caller blocks once, until `f` returns.
///
/// flex parallelises each tensor operation with rayon. Called from a thread outside the pool,
/// every operation is injected into the pool and the caller sleeps on a latch until it is done:
/// two context switches per operation, and three runnable threads on two cores. A training step
/// of the line preset made about 2,200 context switches that way; from a worker, operations
/// split with `join` on the spot (about 200), and the step took about 14 % less time
/// (BENCHMARKS.md). `f` must not wait for work that other threads queue to the pool (a worker
/// blocked there holds one of the pool's threads); tensor code does not.
pub fn in_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    if rayon::current_thread_index().is_some() {
        return f();
    }
    let mut out = None;
    rayon::scope(|_| out = Some(f()));
    out.unwrap_or_else(|| unreachable!("rayon::scope runs its body before returning"))
}

#[cfg(test)]
mod tests {
    use super::in_pool;

    #[test]
    fn in_pool_runs_on_a_worker_and_returns_the_value() {
        assert!(rayon::current_thread_index().is_none());
        let (outer, inner) = in_pool(|| {
            let outer = rayon::current_thread_index();
            // Already on a worker: runs in place, on the same thread.
            let inner = in_pool(rayon::current_thread_index);
            (outer, inner)
        });
        assert!(outer.is_some());
        assert_eq!(outer, inner);
    }
}
