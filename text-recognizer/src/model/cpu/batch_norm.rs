//! Training-mode batch norm in two passes over the activation.
//!
//! burn-flex 0.22 takes burn's generic `batch_norm_train`: each statistic swaps the batch and
//! channel axes into a contiguous copy, and the backward pass makes about ten full-size
//! temporaries. Here the forward pass reads `x` twice (mean, variance) and writes the output
//! once; the backward pass reads `x` and `dY` once for the per-channel sums and once for `dX`.

use burn::backend::tensor::FloatTensor;
use burn::backend::{AutodiffBackend, Backend, Flex, backend_extension};
use burn::nn::BatchNorm;
use burn::prelude::*;
use burn_autodiff::Autodiff;
use burn_autodiff::checkpoint::base::Checkpointer;
use burn_autodiff::checkpoint::strategy::CheckpointStrategy;
use burn_autodiff::grads::Gradients;
use burn_autodiff::ops::{Backward, Ops, OpsKind};
use burn_flex::FlexTensor;
use rayon::prelude::*;

use super::on_flex;

/// Batch norm with the batch's own statistics.
#[backend_extension(Flex, Autodiff)]
pub trait FusedBatchNorm: Backend {
    /// `x: [N, C, ...]`, `gamma`, `beta: [C]` → (output, batch mean, biased batch variance).
    /// Only the output is differentiable.
    fn fused_batch_norm_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);
}

/// The gradients of [`FusedBatchNorm::fused_batch_norm_train`] on a concrete backend.
pub trait FusedBatchNormGrad: Backend {
    /// (`∂L/∂x`, `∂L/∂gamma`, `∂L/∂beta`) from the output gradient.
    fn fused_batch_norm_train_grad(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        variance: FloatTensor<Self>,
        epsilon: f64,
        grad: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);
}

/// `bn.forward(x)`, with the training-mode pass through [`FusedBatchNorm`] on the CPU in f32.
/// Running statistics are updated exactly as burn's `BatchNorm` does.
pub fn batch_norm<const D: usize>(bn: &BatchNorm, x: Tensor<D>) -> Tensor<D> {
    if !(x.device().is_autodiff() && bn.training.is_enabled() && on_flex(&x)) {
        return bn.forward(x);
    }
    let (output, mean, variance) =
        <burn::backend::Dispatch as FusedBatchNorm>::fused_batch_norm_train(
            x.into_dispatch(),
            bn.gamma.val().into_dispatch(),
            bn.beta.val().into_dispatch(),
            bn.epsilon,
        );
    let (mean, variance) = (
        Tensor::<1>::from_dispatch(mean).detach(),
        Tensor::<1>::from_dispatch(variance).detach(),
    );
    let device = mean.device();
    let running_mean = bn.running_mean.value_sync().to_device(&device);
    let running_var = bn.running_var.value_sync().to_device(&device);
    bn.running_mean.update(
        running_mean
            .mul_scalar(1.0 - bn.momentum)
            .add(mean.mul_scalar(bn.momentum))
            .detach(),
    );
    bn.running_var.update(
        running_var
            .mul_scalar(1.0 - bn.momentum)
            .add(variance.mul_scalar(bn.momentum))
            .detach(),
    );
    Tensor::from_dispatch(output)
}

/// `[N, C, S]` sizes of a `[N, C, ...]` tensor.
fn ncs(x: &FlexTensor) -> (usize, usize, usize) {
    let shape = x.layout().shape();
    let (n, c) = (shape[0], shape[1]);
    (n, c, shape.num_elements() / (n * c).max(1))
}

/// A `[C]` f32 tensor of per-channel values computed in f64.
fn vector(values: Vec<f64>) -> FlexTensor {
    let len = values.len();
    let values: Vec<f32> = values.into_iter().map(|v| v as f32).collect();
    FlexTensor::from_data(TensorData::new(values, [len]))
}

/// Per-channel `f(channel, plane)` summed over the batch, in f64 (activations reach 10⁷ values).
fn per_channel(n: usize, c: usize, s: usize, f: impl Fn(usize, usize) -> f64 + Sync) -> Vec<f64> {
    (0..c)
        .into_par_iter()
        .map(|ch| (0..n).map(|b| f(ch, (b * c + ch) * s)).sum())
        .collect()
}

impl FusedBatchNorm for Flex {
    fn fused_batch_norm_train(
        x: FlexTensor,
        gamma: FlexTensor,
        beta: FlexTensor,
        epsilon: f64,
    ) -> (FlexTensor, FlexTensor, FlexTensor) {
        let x = x.to_contiguous();
        let (gamma, beta) = (gamma.to_contiguous(), beta.to_contiguous());
        let (n, c, s) = ncs(&x);
        let count = (n * s) as f64;
        let data: &[f32] = x.storage();
        let plane = |at: usize| &data[at..at + s];
        let mean: Vec<f64> = per_channel(n, c, s, |_, at| {
            plane(at).iter().map(|&v| v as f64).sum::<f64>()
        })
        .into_iter()
        .map(|sum| sum / count)
        .collect();
        let variance: Vec<f64> = per_channel(n, c, s, |ch, at| {
            let m = mean[ch] as f32;
            plane(at)
                .iter()
                .map(|&v| ((v - m) * (v - m)) as f64)
                .sum::<f64>()
        })
        .into_iter()
        .map(|sum| sum / count)
        .collect();
        let (g, b): (&[f32], &[f32]) = (gamma.storage(), beta.storage());
        // y = x·scale + shift per channel.
        let scale: Vec<f32> = (0..c)
            .map(|ch| g[ch] / (variance[ch] + epsilon).sqrt() as f32)
            .collect();
        let shift: Vec<f32> = (0..c)
            .map(|ch| b[ch] - mean[ch] as f32 * scale[ch])
            .collect();
        let mut out = vec![0f32; data.len()];
        out.par_chunks_mut(s)
            .zip(data.par_chunks(s))
            .enumerate()
            .for_each(|(i, (y, x))| {
                let (a, z) = (scale[i % c], shift[i % c]);
                y.iter_mut().zip(x).for_each(|(y, &x)| *y = x * a + z);
            });
        (
            FlexTensor::from_data(TensorData::new(out, x.layout().shape().clone())),
            vector(mean),
            vector(variance),
        )
    }
}

impl FusedBatchNormGrad for Flex {
    fn fused_batch_norm_train_grad(
        x: FlexTensor,
        gamma: FlexTensor,
        mean: FlexTensor,
        variance: FlexTensor,
        epsilon: f64,
        grad: FlexTensor,
    ) -> (FlexTensor, FlexTensor, FlexTensor) {
        let (x, grad) = (x.to_contiguous(), grad.to_contiguous());
        let (gamma, mean, variance) = (
            gamma.to_contiguous(),
            mean.to_contiguous(),
            variance.to_contiguous(),
        );
        let (n, c, s) = ncs(&x);
        let count = (n * s) as f64;
        let (xs, dys): (&[f32], &[f32]) = (x.storage(), grad.storage());
        let (g, m, v): (&[f32], &[f32], &[f32]) =
            (gamma.storage(), mean.storage(), variance.storage());
        let inv_std: Vec<f32> = v
            .iter()
            .map(|&v| 1.0 / (v as f64 + epsilon).sqrt() as f32)
            .collect();
        // Σ dY and Σ dY·x̂ per channel: the gradients of beta and gamma.
        let sum_dy = per_channel(n, c, s, |_, at| {
            dys[at..at + s].iter().map(|&d| d as f64).sum::<f64>()
        });
        let sum_dy_xhat = per_channel(n, c, s, |ch, at| {
            let (mu, r) = (m[ch], inv_std[ch]);
            dys[at..at + s]
                .iter()
                .zip(&xs[at..at + s])
                .map(|(&d, &x)| (d * (x - mu) * r) as f64)
                .sum::<f64>()
        });
        // dX = γ/σ · (dY − mean(dY) − x̂ · mean(dY·x̂)).
        let mut dx = vec![0f32; xs.len()];
        dx.par_chunks_mut(s)
            .zip(xs.par_chunks(s).zip(dys.par_chunks(s)))
            .enumerate()
            .for_each(|(i, (out, (x, dy)))| {
                let ch = i % c;
                let (mu, r) = (m[ch], inv_std[ch]);
                let k = g[ch] * r;
                let mean_dy = (sum_dy[ch] / count) as f32;
                let mean_dy_xhat = (sum_dy_xhat[ch] / count) as f32;
                out.iter_mut()
                    .zip(x.iter().zip(dy))
                    .for_each(|(o, (&x, &d))| {
                        *o = k * (d - mean_dy - (x - mu) * r * mean_dy_xhat);
                    });
            });
        (
            FlexTensor::from_data(TensorData::new(dx, x.layout().shape().clone())),
            vector(sum_dy_xhat),
            vector(sum_dy),
        )
    }
}

impl<B: Backend + FusedBatchNorm + FusedBatchNormGrad, C: CheckpointStrategy> FusedBatchNorm
    for Autodiff<B, C>
{
    fn fused_batch_norm_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        #[derive(Debug)]
        struct FusedBatchNormTrain;

        impl<B: Backend + FusedBatchNormGrad> Backward<B, 3> for FusedBatchNormTrain {
            type State = (
                burn_autodiff::NodeId,
                burn_autodiff::NodeId,
                FloatTensor<B>,
                FloatTensor<B>,
                f64,
            );

            fn backward(
                self,
                ops: Ops<Self::State, 3>,
                grads: &mut Gradients,
                checkpointer: &mut Checkpointer,
            ) {
                let [node_x, node_gamma, node_beta] = ops.parents;
                let grad = grads.consume::<B>(&ops.node);
                let (x_state, gamma_state, mean, variance, epsilon) = ops.state;
                let x: FloatTensor<B> = checkpointer.retrieve_node_output(x_state);
                let gamma: FloatTensor<B> = checkpointer.retrieve_node_output(gamma_state);
                let (dx, dgamma, dbeta) =
                    B::fused_batch_norm_train_grad(x, gamma, mean, variance, epsilon, grad);
                for (node, value) in [(node_x, dx), (node_gamma, dgamma), (node_beta, dbeta)] {
                    if let Some(node) = node {
                        grads.register::<B>(node.id, value);
                    }
                }
            }
        }

        let prep = FusedBatchNormTrain
            .prepare::<C>([x.node(), gamma.node(), beta.node()])
            .compute_bound()
            .stateful();
        match prep {
            OpsKind::Tracked(mut prep) => {
                let x_state = prep.checkpoint(&x);
                let gamma_state = prep.checkpoint(&gamma);
                let (output, mean, variance) = B::fused_batch_norm_train(
                    x.into_primitive(),
                    gamma.into_primitive(),
                    beta.into_primitive(),
                    epsilon,
                );
                let state = (
                    x_state,
                    gamma_state,
                    mean.clone(),
                    variance.clone(),
                    epsilon,
                );
                (
                    prep.finish(state, output),
                    <Self as AutodiffBackend>::from_inner(mean),
                    <Self as AutodiffBackend>::from_inner(variance),
                )
            }
            OpsKind::UnTracked(prep) => {
                let (output, mean, variance) = B::fused_batch_norm_train(
                    x.into_primitive(),
                    gamma.into_primitive(),
                    beta.into_primitive(),
                    epsilon,
                );
                (
                    prep.finish(output),
                    <Self as AutodiffBackend>::from_inner(mean),
                    <Self as AutodiffBackend>::from_inner(variance),
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::Param;
    use burn::nn::BatchNormConfig;
    use burn::tensor::{Distribution, Tolerance};

    /// Output, running statistics and the three gradients against burn's `BatchNorm`.
    #[test]
    fn matches_burns_batch_norm_in_training() {
        let device = Device::flex().autodiff();
        device.seed(3);
        for shape in [[2, 3, 5, 7], [4, 8, 2, 9], [1, 2, 1, 1]] {
            let x = Tensor::<4>::random(shape, Distribution::Normal(2.0, 3.0), &device);
            let probe = Tensor::<4>::random(shape, Distribution::Default, &device);
            let gamma = Tensor::<1>::random([shape[1]], Distribution::Default, &device);
            let run = |ours: bool| {
                // A fresh layer each time: clones share their running statistics.
                let mut bn = BatchNormConfig::new(shape[1]).init(&device);
                bn.gamma = Param::from_tensor(gamma.clone().add_scalar(0.5));
                bn.beta = Param::from_tensor(Tensor::<1>::full([shape[1]], -0.25, &device));
                let x = x.clone().detach().require_grad();
                let y = if ours {
                    batch_norm(&bn, x.clone())
                } else {
                    bn.forward(x.clone())
                };
                let grads = (y.clone() * probe.clone()).sum().backward();
                let take = |t: Option<Tensor<1>>| t.expect("grad").into_data();
                (
                    y.inner().into_data(),
                    x.grad(&grads).expect("x grad").into_data(),
                    take(bn.gamma.grad(&grads)),
                    take(bn.beta.grad(&grads)),
                    bn.running_mean.value_sync().into_data(),
                    bn.running_var.value_sync().into_data(),
                )
            };
            let theirs = run(false);
            let ours = run(true);
            let tol = Tolerance::<f32>::absolute(1e-4);
            ours.0.assert_approx_eq::<f32>(&theirs.0, tol);
            ours.1.assert_approx_eq::<f32>(&theirs.1, tol);
            ours.2.assert_approx_eq::<f32>(&theirs.2, tol);
            ours.3.assert_approx_eq::<f32>(&theirs.3, tol);
            ours.4.assert_approx_eq::<f32>(&theirs.4, tol);
            ours.5.assert_approx_eq::<f32>(&theirs.5, tol);
        }
    }
}
