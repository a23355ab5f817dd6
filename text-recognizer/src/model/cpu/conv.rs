//! Convolution as blocked im2col + GEMM, forward and backward.
//!
//! burn-flex 0.22 converts the input to NHWC, builds im2col tiles and scatters each GEMM result
//! element by element; it differentiates the weight the generic way, as a convolution whose
//! "kernel" is the whole output gradient (GEMMs with 9 output columns). Here the output is cut
//! into blocks (see `blocks`), each with its im2col matrix `cols` (`[K, lc]`, `K = C·kh·kw`):
//!
//! * forward: `Y[:, block] = W · cols`, one `[O, K] × [K, lc]` product per block;
//! * weight gradient: `dWᵀ = Σ cols · dY[:, block]ᵀ`, `[K, lc] × [lc, O]` per block;
//! * input gradient: `col2im(Wᵀ · dY[:, block])` where blocks hold whole images; flex's
//!   transposed convolution (GEMM-shaped, fast on large maps) where blocks are rows of one
//!   image and would overlap in the input.
//!
//! Forward + backward of one layer takes 0.4–0.8 of burn's time at the line preset's shapes
//! (BENCHMARKS.md, "Encoder layers").

use burn::backend::ops::{ConvOptions, FloatTensorOps, ModuleOps};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Flex, TensorMetadata, backend_extension};
use burn::prelude::*;
use burn::tensor::DType;
use burn_autodiff::Autodiff;
use burn_autodiff::checkpoint::base::Checkpointer;
use burn_autodiff::checkpoint::strategy::CheckpointStrategy;
use burn_autodiff::grads::Gradients;
use burn_autodiff::ops::{Backward, Ops, OpsKind};
use burn_flex::FlexTensor;
use rayon::prelude::*;
use std::ops::Range;

use super::on_flex;

/// A symmetric-padded, ungrouped, undilated 2-D convolution without bias.
#[backend_extension(Flex, Autodiff)]
pub trait GemmConv: Backend {
    /// `x: [N, C, H, W]`, `weight: [O, C, kh, kw]` → `[N, O, Ho, Wo]`.
    fn gemm_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        stride: [usize; 2],
        padding: [usize; 2],
    ) -> FloatTensor<Self>;
}

/// The two gradients of [`GemmConv::gemm_conv2d`] on a concrete backend.
pub trait GemmConvGrad: Backend {
    /// `∂L/∂x` from the output gradient `grad: [N, O, Ho, Wo]`.
    fn gemm_conv2d_x_grad(
        x_shape: [usize; 4],
        weight: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        stride: [usize; 2],
        padding: [usize; 2],
    ) -> FloatTensor<Self>;

    /// `∂L/∂weight` from the output gradient.
    fn gemm_conv2d_weight_grad(
        x: FloatTensor<Self>,
        weight_shape: [usize; 4],
        grad: FloatTensor<Self>,
        stride: [usize; 2],
        padding: [usize; 2],
    ) -> FloatTensor<Self>;
}

/// `x.conv(weight)` (no bias) through [`GemmConv`] on the CPU backend in f32, and through
/// burn's `conv2d` anywhere else.
pub fn conv2d(
    x: Tensor<4>,
    weight: Tensor<4>,
    stride: [usize; 2],
    padding: [usize; 2],
) -> Tensor<4> {
    if !on_flex(&x) {
        return burn::tensor::module::conv2d(x, weight, None, options(stride, padding));
    }
    Tensor::from_dispatch(<burn::backend::Dispatch as GemmConv>::gemm_conv2d(
        x.into_dispatch(),
        weight.into_dispatch(),
        stride,
        padding,
    ))
}

fn options(stride: [usize; 2], padding: [usize; 2]) -> ConvOptions<2> {
    ConvOptions::new(stride, padding, [1, 1], 1)
}

/// Output size of one spatial axis.
fn out_len(input: usize, kernel: usize, stride: usize, padding: usize) -> usize {
    (input + 2 * padding - kernel) / stride + 1
}

/// Geometry of one convolution, for the im2col/col2im loops.
#[derive(Clone, Copy)]
struct Geometry {
    c: usize,
    h: usize,
    w: usize,
    kh: usize,
    kw: usize,
    ho: usize,
    wo: usize,
    stride: [usize; 2],
    padding: [usize; 2],
}

impl Geometry {
    fn new(x: [usize; 4], k: [usize; 2], stride: [usize; 2], padding: [usize; 2]) -> Self {
        Geometry {
            c: x[1],
            h: x[2],
            w: x[3],
            kh: k[0],
            kw: k[1],
            ho: out_len(x[2], k[0], stride[0], padding[0]),
            wo: out_len(x[3], k[1], stride[1], padding[1]),
            stride,
            padding,
        }
    }

    /// Rows of one image's column matrix (`C·kh·kw`).
    fn k(&self) -> usize {
        self.c * self.kh * self.kw
    }

    /// Columns of one image's column matrix (`Ho·Wo`).
    fn l(&self) -> usize {
        self.ho * self.wo
    }

    /// Output columns `ow` whose input column `ow·s + j − p` lies inside the image.
    fn valid_ow(&self, j: usize) -> std::ops::Range<usize> {
        let [_, s] = self.stride;
        let [_, p] = self.padding;
        // First ow with ow·s + j ≥ p, last with ow·s + j − p < w.
        let first = p.saturating_sub(j).div_ceil(s);
        let end = if self.w + p > j {
            ((self.w + p - j - 1) / s + 1).min(self.wo)
        } else {
            0
        };
        first.min(end)..end
    }

    /// Input row of output row `oh` at kernel row `i`, if inside the image.
    fn input_row(&self, oh: usize, i: usize) -> Option<usize> {
        (oh * self.stride[0] + i)
            .checked_sub(self.padding[0])
            .filter(|&ih| ih < self.h)
    }
}

/// Output rows `rows` of one image, a run of columns in a block's column matrix.
#[derive(Clone, Debug)]
struct Segment {
    image: usize,
    rows: Range<usize>,
}

/// Columns of a block of segments.
fn block_len(block: &[Segment], g: &Geometry) -> usize {
    block.iter().map(|s| s.rows.len() * g.wo).sum()
}

/// Blocks of output columns, each one GEMM. A block holds about 1 MiB of im2col columns (so
/// they stay in cache for the product that reads them) but at least `MIN_COLS` columns (so the
/// product is not too thin): rows of one image for large maps, several whole images for the
/// small maps of the last stages.
fn blocks(batch: usize, g: &Geometry) -> Vec<Vec<Segment>> {
    const BLOCK_FLOATS: usize = 1 << 18;
    const MIN_COLS: usize = 512;
    let target = (BLOCK_FLOATS / g.k().max(1)).max(MIN_COLS);
    if g.l() >= target {
        let step = (target / g.wo.max(1)).clamp(1, g.ho.max(1));
        (0..batch)
            .flat_map(|image| {
                (0..g.ho).step_by(step).map(move |r| {
                    vec![Segment {
                        image,
                        rows: r..(r + step).min(g.ho),
                    }]
                })
            })
            .collect()
    } else {
        // At least one block per thread while the batch allows: im2col and col2im run inside
        // a block.
        let per_thread = batch.div_ceil(rayon::current_num_threads()).max(1);
        let per_block = (target / g.l().max(1)).clamp(1, per_thread);
        (0..batch)
            .step_by(per_block)
            .map(|first| {
                (first..(first + per_block).min(batch))
                    .map(|image| Segment {
                        image,
                        rows: 0..g.ho,
                    })
                    .collect()
            })
            .collect()
    }
}

/// The `[K, lc]` im2col matrix of a block of `x` (`[N, C, H, W]`).
fn block_columns(x: &[f32], g: &Geometry, block: &[Segment]) -> FlexTensor {
    let lc = block_len(block, g);
    let (plane_len, sw, pw) = (g.h * g.w, g.stride[1], g.padding[1]);
    // Written in order, so nothing is zeroed twice (a zeroed buffer cost a memset per block).
    let mut cols = Vec::with_capacity(g.k() * lc);
    let zeros = |cols: &mut Vec<f32>, n: usize| cols.resize(cols.len() + n, 0.0);
    for row in 0..g.k() {
        let (c, i, j) = (row / (g.kh * g.kw), row / g.kw % g.kh, row % g.kw);
        let valid = g.valid_ow(j);
        let first = (valid.start * sw + j).saturating_sub(pw);
        for segment in block {
            if valid.is_empty() {
                // This kernel column falls in the padding for every output column.
                zeros(&mut cols, segment.rows.len() * g.wo);
                continue;
            }
            let plane = &x[(segment.image * g.c + c) * plane_len..][..plane_len];
            for oh in segment.rows.clone() {
                let Some(ih) = g.input_row(oh, i) else {
                    zeros(&mut cols, g.wo);
                    continue;
                };
                let src = &plane[ih * g.w..(ih + 1) * g.w];
                zeros(&mut cols, valid.start);
                if sw == 1 {
                    cols.extend_from_slice(&src[first..first + valid.len()]);
                } else {
                    cols.extend(src[first..].iter().step_by(sw).take(valid.len()));
                }
                zeros(&mut cols, g.wo - valid.end);
            }
        }
    }
    debug_assert_eq!(cols.len(), g.k() * lc);
    FlexTensor::from_data(TensorData::new(cols, [g.k(), lc]))
}

/// `[O, lc]`: the block's columns of `y` (`[N, O, Ho, Wo]`, `o` channels).
fn block_gather(y: &[f32], g: &Geometry, o: usize, block: &[Segment]) -> FlexTensor {
    let (l, lc) = (g.l(), block_len(block, g));
    let mut out = Vec::with_capacity(o * lc);
    for channel in 0..o {
        for segment in block {
            let start = (segment.image * o + channel) * l + segment.rows.start * g.wo;
            out.extend_from_slice(&y[start..start + segment.rows.len() * g.wo]);
        }
    }
    FlexTensor::from_data(TensorData::new(out, [o, lc]))
}

/// Adds one image's columns (`[K, Ho·Wo]` at column `at` of a `[K, lc]` matrix) into `image`
/// (`[C, H, W]`): the adjoint of the im2col in [`block_columns`].
fn col2im(cols: &[f32], lc: usize, at: usize, g: &Geometry, image: &mut [f32]) {
    let (plane_len, sw, pw) = (g.h * g.w, g.stride[1], g.padding[1]);
    for (row, src) in cols.chunks_exact(lc).enumerate() {
        let (c, i, j) = (row / (g.kh * g.kw), row / g.kw % g.kh, row % g.kw);
        let valid = g.valid_ow(j);
        if valid.is_empty() {
            continue;
        }
        let first = (valid.start * sw + j).saturating_sub(pw);
        let plane = &mut image[c * plane_len..(c + 1) * plane_len];
        for (oh, from) in src[at..at + g.l()].chunks_exact(g.wo).enumerate() {
            let Some(ih) = g.input_row(oh, i) else {
                continue;
            };
            let dst = &mut plane[ih * g.w..(ih + 1) * g.w];
            for (d, s) in dst[first..]
                .iter_mut()
                .step_by(sw)
                .zip(&from[valid.clone()])
            {
                *d += *s;
            }
        }
    }
}

fn dims4(t: &FlexTensor) -> [usize; 4] {
    let s = t.layout().shape();
    [s[0], s[1], s[2], s[3]]
}

impl GemmConv for Flex {
    fn gemm_conv2d(
        x: FlexTensor,
        weight: FlexTensor,
        stride: [usize; 2],
        padding: [usize; 2],
    ) -> FlexTensor {
        let x = x.to_contiguous();
        let x_shape = dims4(&x);
        let [o, _, kh, kw] = dims4(&weight);
        let g = Geometry::new(x_shape, [kh, kw], stride, padding);
        let l = g.l();
        let weight = Flex::float_reshape(weight, [o, g.k()].into());
        let x_data: &[f32] = x.storage();
        // Y[:, block] = W · cols: [O, K] × [K, lc].
        let products: Vec<(Vec<Segment>, FlexTensor)> = blocks(x_shape[0], &g)
            .into_par_iter()
            .map(|block| {
                let y = Flex::float_matmul(weight.clone(), block_columns(x_data, &g, &block));
                (block, y)
            })
            .collect();
        let mut out = vec![0f32; x_shape[0] * o * l];
        out.par_chunks_mut(o * l)
            .enumerate()
            .for_each(|(n, image)| {
                for (block, y) in &products {
                    let (y, lc): (&[f32], usize) = (y.storage(), block_len(block, &g));
                    let mut at = 0;
                    for segment in block {
                        let len = segment.rows.len() * g.wo;
                        if segment.image == n {
                            for (dst, src) in image.chunks_exact_mut(l).zip(y.chunks_exact(lc)) {
                                dst[segment.rows.start * g.wo..][..len]
                                    .copy_from_slice(&src[at..at + len]);
                            }
                        }
                        at += len;
                    }
                }
            });
        FlexTensor::from_data(TensorData::new(out, [x_shape[0], o, g.ho, g.wo]))
    }
}

impl GemmConvGrad for Flex {
    fn gemm_conv2d_x_grad(
        x_shape: [usize; 4],
        weight: FlexTensor,
        grad: FlexTensor,
        stride: [usize; 2],
        padding: [usize; 2],
    ) -> FlexTensor {
        let [o, _, kh, kw] = dims4(&weight);
        let g = Geometry::new(x_shape, [kh, kw], stride, padding);
        let blocks = blocks(x_shape[0], &g);
        if blocks.iter().flatten().any(|s| s.rows.len() < g.ho) {
            // Blocks of rows overlap in the input, so they could not be added in parallel;
            // flex's transposed convolution is GEMM-shaped and fast on those large maps. It
            // reads only the shape of `x`.
            let x = FlexTensor::empty(x_shape.into(), DType::F32);
            return Flex::conv2d_x_backward(x, weight, grad, options(stride, padding));
        }
        // Small maps, whole images per block: dX = col2im(Wᵀ · dY[:, block]), [K, O] × [O, lc].
        let grad = grad.to_contiguous();
        let grad_data: &[f32] = grad.storage();
        let weight_t = Flex::float_swap_dims(Flex::float_reshape(weight, [o, g.k()].into()), 0, 1);
        let image_len = g.c * g.h * g.w;
        let images: Vec<(usize, Vec<f32>)> = blocks
            .into_par_iter()
            .flat_map_iter(|block| {
                let dy = block_gather(grad_data, &g, o, &block);
                let dcols = Flex::float_matmul(weight_t.clone(), dy);
                let dcols: &[f32] = dcols.storage();
                let lc = block_len(&block, &g);
                block
                    .iter()
                    .enumerate()
                    .map(|(i, segment)| {
                        let mut image = vec![0f32; image_len];
                        col2im(dcols, lc, i * g.l(), &g, &mut image);
                        (segment.image, image)
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        let mut dx = vec![0f32; x_shape[0] * image_len];
        dx.par_chunks_mut(image_len)
            .zip(images.par_iter())
            .for_each(|(dst, (_, image))| dst.copy_from_slice(image));
        debug_assert!(images.iter().enumerate().all(|(n, (image, _))| n == *image));
        FlexTensor::from_data(TensorData::new(dx, x_shape))
    }

    fn gemm_conv2d_weight_grad(
        x: FlexTensor,
        weight_shape: [usize; 4],
        grad: FlexTensor,
        stride: [usize; 2],
        padding: [usize; 2],
    ) -> FlexTensor {
        let (x, grad) = (x.to_contiguous(), grad.to_contiguous());
        let x_shape = dims4(&x);
        let [o, _, kh, kw] = weight_shape;
        let g = Geometry::new(x_shape, [kh, kw], stride, padding);
        let (x_data, grad_data): (&[f32], &[f32]) = (x.storage(), grad.storage());
        // dWᵀ = Σ cols · dY[:, block]ᵀ: [K, lc] × [lc, O].
        let dw_t = blocks(x_shape[0], &g)
            .into_par_iter()
            .map(|block| {
                let dy = block_gather(grad_data, &g, o, &block);
                Flex::float_matmul(
                    block_columns(x_data, &g, &block),
                    Flex::float_swap_dims(dy, 0, 1),
                )
            })
            .reduce_with(Flex::float_add)
            .unwrap_or_else(|| FlexTensor::zeros([g.k(), o].into(), DType::F32));
        Flex::float_reshape(Flex::float_swap_dims(dw_t, 0, 1), weight_shape.into())
    }
}

impl<B: Backend + GemmConv + GemmConvGrad, C: CheckpointStrategy> GemmConv for Autodiff<B, C> {
    fn gemm_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        stride: [usize; 2],
        padding: [usize; 2],
    ) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct GemmConv2d;

        impl<B: Backend + GemmConvGrad> Backward<B, 2> for GemmConv2d {
            type State = (
                burn_autodiff::NodeId,
                burn_autodiff::NodeId,
                [usize; 2],
                [usize; 2],
            );

            fn backward(
                self,
                ops: Ops<Self::State, 2>,
                grads: &mut Gradients,
                checkpointer: &mut Checkpointer,
            ) {
                let [node_x, node_weight] = ops.parents;
                let grad = grads.consume::<B>(&ops.node);
                let (x_state, weight_state, stride, padding) = ops.state;
                let x: FloatTensor<B> = checkpointer.retrieve_node_output(x_state);
                let weight: FloatTensor<B> = checkpointer.retrieve_node_output(weight_state);
                let x_dims = x.shape();
                let x_shape = [x_dims[0], x_dims[1], x_dims[2], x_dims[3]];
                let w_dims = weight.shape();
                let weight_shape = [w_dims[0], w_dims[1], w_dims[2], w_dims[3]];
                if let Some(node) = node_x {
                    let dx = B::gemm_conv2d_x_grad(
                        x_shape,
                        weight.clone(),
                        grad.clone(),
                        stride,
                        padding,
                    );
                    grads.register::<B>(node.id, dx);
                }
                if let Some(node) = node_weight {
                    let dw = B::gemm_conv2d_weight_grad(x, weight_shape, grad, stride, padding);
                    grads.register::<B>(node.id, dw);
                }
            }
        }

        match GemmConv2d
            .prepare::<C>([x.node(), weight.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let x_state = prep.checkpoint(&x);
                let weight_state = prep.checkpoint(&weight);
                let out =
                    B::gemm_conv2d(x.into_primitive(), weight.into_primitive(), stride, padding);
                prep.finish((x_state, weight_state, stride, padding), out)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::gemm_conv2d(
                x.into_primitive(),
                weight.into_primitive(),
                stride,
                padding,
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;
    use burn::tensor::Tolerance;

    /// Values and both gradients against burn's own `conv2d`, over the shapes the encoders use
    /// (7×7/2 stem, strided and unstrided 3×3, 1×1/2 shortcut, asymmetric strides, odd sizes),
    /// with blocks of several images and blocks of rows.
    #[test]
    fn matches_burns_conv2d_and_its_gradients() {
        let device = Device::flex().autodiff();
        device.seed(7);
        for (n, c, o, [h, w], k, stride, padding) in [
            (2, 1, 4, [13, 20], 7, [2, 2], [3, 3]),
            (2, 3, 5, [9, 11], 3, [1, 1], [1, 1]),
            (1, 4, 6, [10, 9], 3, [2, 2], [1, 1]),
            (3, 4, 2, [8, 12], 3, [2, 1], [1, 1]),
            (2, 5, 3, [7, 10], 1, [2, 2], [0, 0]),
            (2, 2, 3, [4, 5], 3, [1, 2], [1, 1]),
            // Maps narrower than the kernel: some kernel columns only ever see padding.
            (2, 2, 3, [9, 2], 7, [2, 2], [3, 3]),
            (3, 2, 2, [3, 1], 3, [1, 1], [1, 1]),
            // K = 576: images split into blocks of output rows (16, and 20 + 12).
            (2, 64, 4, [32, 32], 3, [1, 1], [1, 1]),
            (2, 64, 3, [64, 50], 3, [2, 2], [1, 1]),
        ] {
            let x = Tensor::<4>::random([n, c, h, w], Distribution::Default, &device);
            let weight = Tensor::<4>::random([o, c, k, k], Distribution::Default, &device);
            // A non-uniform output gradient, so misplaced gradients show.
            let (ho, wo) = (
                out_len(h, k, stride[0], padding[0]),
                out_len(w, k, stride[1], padding[1]),
            );
            let probe = Tensor::<4>::random([n, o, ho, wo], Distribution::Default, &device);
            let run = |ours: bool| {
                let x = x.clone().detach().require_grad();
                let weight = weight.clone().detach().require_grad();
                let y = if ours {
                    conv2d(x.clone(), weight.clone(), stride, padding)
                } else {
                    burn::tensor::module::conv2d(
                        x.clone(),
                        weight.clone(),
                        None,
                        options(stride, padding),
                    )
                };
                let grads = (y.clone() * probe.clone()).sum().backward();
                let dx = x.grad(&grads).expect("x grad");
                let dw = weight.grad(&grads).expect("weight grad");
                (y.inner(), dx, dw)
            };
            let (y0, dx0, dw0) = run(false);
            let (y1, dx1, dw1) = run(true);
            // Sums of up to 576 products near 1: f32 rounding differs with summation order.
            let tol = Tolerance::<f32>::rel_abs(1e-5, 1e-4);
            let case = format!("{n}x{c}x{h}x{w} k{k} s{stride:?} p{padding:?}");
            assert_eq!(y0.dims(), y1.dims(), "{case}");
            y1.into_data().assert_approx_eq::<f32>(&y0.into_data(), tol);
            dx1.into_data()
                .assert_approx_eq::<f32>(&dx0.into_data(), tol);
            dw1.into_data()
                .assert_approx_eq::<f32>(&dw0.into_data(), tol);
        }
    }

    #[test]
    fn other_devices_and_inference_use_burns_conv() {
        let device = Device::flex();
        let x = Tensor::<4>::ones([1, 1, 4, 4], &device);
        let weight = Tensor::<4>::ones([1, 1, 3, 3], &device);
        let y = conv2d(x, weight, [1, 1], [1, 1]);
        let corner = y.slice([0..1, 0..1, 0..1, 0..1]).into_scalar::<f32>();
        assert_eq!(corner, 4.0);
    }
}
