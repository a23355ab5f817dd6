//! The ResNet encoder (torchvision's ResNet-18 trunk by default: BasicBlocks, no avgpool/fc),
//! with configurable widths, depths and per-stage strides so line models can keep horizontal
//! resolution.

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::TensorData;
use burn::tensor::activation::relu;
use serde::{Deserialize, Serialize};

use super::cpu::batch_norm::batch_norm;
use super::cpu::conv;

/// `conv` through [`conv::conv2d`] (a GEMM-shaped backward on the CPU); the module stays
/// burn's `Conv2d` so records stay burn's. The encoder's convolutions have no bias and symmetric
/// padding; anything else takes burn's path.
fn convolve(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let padding = match conv.padding {
        PaddingConfig2d::Valid => [0, 0],
        PaddingConfig2d::Explicit(top, left, bottom, right) if top == bottom && left == right => {
            [top, left]
        }
        _ => return conv.forward(x),
    };
    if conv.bias.is_some() || conv.groups != 1 || conv.dilation != [1, 1] {
        return conv.forward(x);
    }
    conv::conv2d(x, conv.weight.val(), conv.stride, padding)
}

/// ResNet trunk hyper-parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResnetConfig {
    /// Input channels. FSDL repeats grey to 3 channels; 1 gives the same function class for
    /// 4 % fewer stem FLOPs.
    pub in_channels: usize,
    /// Output channels of the 7×7 stem.
    pub stem_width: usize,
    /// Channels of each stage.
    pub widths: Vec<usize>,
    /// BasicBlocks per stage.
    pub depths: Vec<usize>,
    /// `[vertical, horizontal]` stride of each stage's first block.
    pub strides: Vec<[usize; 2]>,
}

impl ResnetConfig {
    /// torchvision ResNet-18: widths 64/128/256/512, two blocks per stage, output stride 32.
    pub fn resnet18() -> Self {
        ResnetConfig {
            in_channels: 1,
            stem_width: 64,
            widths: vec![64, 128, 256, 512],
            depths: vec![2, 2, 2, 2],
            strides: vec![[1, 1], [2, 2], [2, 2], [2, 2]],
        }
    }

    /// Channels of the last stage (what the projection sees).
    pub fn out_channels(&self) -> usize {
        self.widths.last().copied().unwrap_or(self.stem_width)
    }

    /// Total `[vertical, horizontal]` downsampling (stem ×2, max-pool ×2, stage strides).
    pub fn total_stride(&self) -> [usize; 2] {
        self.strides
            .iter()
            .fold([4, 4], |acc, s| [acc[0] * s[0], acc[1] * s[1]])
    }

    /// Checks that the lists agree in length.
    pub fn validate(&self) -> Result<(), String> {
        if self.widths.is_empty() {
            return Err("encoder.widths is empty".into());
        }
        // A model file's manifest decides what is allocated: refuse sizes no real model has
        // before they turn into a huge allocation or a division by zero.
        if !matches!(self.in_channels, 1 | 3) {
            return Err(format!(
                "encoder.in_channels is {}, not 1 or 3",
                self.in_channels
            ));
        }
        let channels = std::iter::once(self.stem_width).chain(self.widths.iter().copied());
        if let Some(c) = channels.clone().find(|&c| c == 0 || c > 4096) {
            return Err(format!("encoder width {c} is outside 1..=4096"));
        }
        if let Some(d) = self.depths.iter().find(|&&d| d > 64) {
            return Err(format!("encoder depth {d} is over 64"));
        }
        if let Some(s) = self
            .strides
            .iter()
            .find(|s| s.iter().any(|&v| v == 0 || v > 8))
        {
            return Err(format!("encoder stride {s:?} is outside 1..=8"));
        }
        if self.widths.len() != self.depths.len() || self.widths.len() != self.strides.len() {
            return Err(format!(
                "encoder.widths ({}), depths ({}) and strides ({}) must have the same length",
                self.widths.len(),
                self.depths.len(),
                self.strides.len()
            ));
        }
        Ok(())
    }

    /// Builds the encoder.
    pub fn init(&self, device: &Device) -> ResnetEncoder {
        let conv1 = Conv2dConfig::new([self.in_channels, self.stem_width], [7, 7])
            .with_stride([2, 2])
            .with_padding(PaddingConfig2d::Explicit(3, 3, 3, 3))
            .with_bias(false)
            .init(device);
        let mut blocks = Vec::new();
        let mut channels = self.stem_width;
        for ((&width, &depth), &stride) in self.widths.iter().zip(&self.depths).zip(&self.strides) {
            for i in 0..depth {
                let s = if i == 0 { stride } else { [1, 1] };
                blocks.push(BasicBlock::new(channels, width, s, device));
                channels = width;
            }
        }
        ResnetEncoder {
            conv1,
            bn1: BatchNormConfig::new(self.stem_width).init(device),
            maxpool: MaxPool2dConfig::new([3, 3])
                .with_strides([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(),
            blocks,
        }
    }
}

/// Two 3×3 convolutions with a residual connection (torchvision's `BasicBlock`).
#[derive(Module, Debug)]
pub struct BasicBlock {
    conv1: Conv2d,
    bn1: BatchNorm,
    conv2: Conv2d,
    bn2: BatchNorm,
    downsample: Option<Downsample>,
}

/// 1×1 strided projection of the shortcut when shape changes.
#[derive(Module, Debug)]
pub struct Downsample {
    conv: Conv2d,
    bn: BatchNorm,
}

impl BasicBlock {
    fn new(c_in: usize, c_out: usize, stride: [usize; 2], device: &Device) -> Self {
        let conv3 = |i, o, s| {
            Conv2dConfig::new([i, o], [3, 3])
                .with_stride(s)
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .with_bias(false)
                .init(device)
        };
        let downsample = (stride != [1, 1] || c_in != c_out).then(|| Downsample {
            conv: Conv2dConfig::new([c_in, c_out], [1, 1])
                .with_stride(stride)
                .with_bias(false)
                .init(device),
            bn: BatchNormConfig::new(c_out).init(device),
        });
        BasicBlock {
            conv1: conv3(c_in, c_out, stride),
            bn1: BatchNormConfig::new(c_out).init(device),
            conv2: conv3(c_out, c_out, [1, 1]),
            bn2: BatchNormConfig::new(c_out).init(device),
            downsample,
        }
    }

    fn forward(&self, x: Tensor<4>, mask: &mut ColumnMask) -> Tensor<4> {
        let identity = match &self.downsample {
            Some(d) => batch_norm(&d.bn, convolve(&d.conv, x.clone())),
            None => x.clone(),
        };
        let out = relu(batch_norm(&self.bn1, convolve(&self.conv1, x)));
        mask.through_conv(&self.conv1);
        let out = mask.apply(out);
        let out = batch_norm(&self.bn2, convolve(&self.conv2, out));
        mask.apply(relu(out + identity))
    }
}

/// Stem + stages; returns the last feature map.
#[derive(Module, Debug)]
pub struct ResnetEncoder {
    conv1: Conv2d,
    bn1: BatchNorm,
    maxpool: MaxPool2d,
    blocks: Vec<BasicBlock>,
}

impl ResnetEncoder {
    /// # Shapes
    /// `[B, C_in, H, W]` → `[B, C_out, H/sh, W/sw]`.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<4> {
        self.forward_padded(images, None).0
    }

    /// Like [`Self::forward`] for a batch whose images were padded on the right: image `b` is
    /// `widths[b]` columns wide. Every layer's padded columns are zeroed, which is what the
    /// convolutions' own zero padding gives a lone image, so each image's features are those it
    /// would have alone, in any batch. Returns the features and each image's feature-map width.
    pub fn forward_padded(
        &self,
        images: Tensor<4>,
        widths: Option<&[usize]>,
    ) -> (Tensor<4>, Vec<usize>) {
        let [b, c, _, w] = images.dims();
        let mut mask = ColumnMask::new(widths.map_or_else(|| vec![w; b], <[usize]>::to_vec), w);
        let expected = self.conv1.weight.dims()[1];
        // Grey input into an RGB-shaped stem (FSDL parity configs): repeat the channel.
        let images = if c == 1 && expected > 1 {
            images.repeat_dim(1, expected)
        } else {
            images
        };
        let x = relu(batch_norm(&self.bn1, convolve(&self.conv1, images)));
        mask.through_conv(&self.conv1);
        let x = mask.apply(x);
        let x = self.maxpool.forward(x);
        mask.through(
            self.maxpool.kernel_size[1],
            self.maxpool.stride[1],
            padding_left(&self.maxpool.padding),
        );
        let mut x = mask.apply(x);
        for block in &self.blocks {
            x = block.forward(x, &mut mask);
        }
        (x, mask.widths)
    }
}

fn padding_left(padding: &PaddingConfig2d) -> usize {
    match padding {
        PaddingConfig2d::Explicit(_, left, _, _) => *left,
        _ => 0,
    }
}

/// Which columns of each image in a batch are real, followed through the strides.
struct ColumnMask {
    /// Real columns per image at the current resolution.
    widths: Vec<usize>,
    /// Columns of the tensor at the current resolution.
    width: usize,
}

impl ColumnMask {
    fn new(widths: Vec<usize>, width: usize) -> Self {
        let widths = widths.into_iter().map(|w| w.clamp(1, width)).collect();
        ColumnMask { widths, width }
    }

    /// Moves to the output resolution of a layer with this kernel width, stride and padding.
    fn through(&mut self, kernel: usize, stride: usize, padding: usize) {
        let out = |w: usize| (w + 2 * padding).saturating_sub(kernel) / stride.max(1) + 1;
        self.width = out(self.width);
        for w in &mut self.widths {
            *w = out(*w).min(self.width);
        }
    }

    fn through_conv(&mut self, conv: &Conv2d) {
        self.through(
            conv.weight.dims()[3],
            conv.stride[1],
            padding_left(&conv.padding),
        );
    }

    /// Zeroes the padded columns of `x` (a no-op when nothing is padded).
    fn apply(&self, x: Tensor<4>) -> Tensor<4> {
        if self.widths.iter().all(|&w| w >= self.width) {
            return x;
        }
        let [b, c, h, w] = x.dims();
        debug_assert_eq!(w, self.width, "mask and feature map widths agree");
        let mut keep = vec![0f32; b * w];
        for (row, &valid) in keep.chunks_exact_mut(w).zip(&self.widths) {
            row[..valid.min(w)].fill(1.0);
        }
        let keep = Tensor::<4>::from_data(TensorData::new(keep, [b, 1, 1, w]), &x.device());
        x * keep.expand([b, c, h, w])
    }
}
