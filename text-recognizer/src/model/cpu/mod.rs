//! CPU kernels for the encoder's training hot spots, where burn-flex 0.22 falls well short of
//! PyTorch: convolution (forward and weight gradient), training-mode batch norm and dropout.
//!
//! Convolution and batch norm are burn backend extensions implemented for `Flex` and
//! `Autodiff<Flex>` (with their own backward passes); dropout only draws its mask differently.
//! The public functions take them on the CPU in f32 and fall back to burn's own operations on
//! every other device and dtype, so GPU backends keep their kernels.

pub mod batch_norm;
pub mod conv;
pub mod dropout;

use burn::prelude::*;
use burn::tensor::DType;

/// Whether `x` lives on the flex device (with or without autodiff) in f32.
fn on_flex<const D: usize>(x: &Tensor<D>) -> bool {
    x.dtype() == DType::F32 && x.device().inner() == Device::flex()
}
