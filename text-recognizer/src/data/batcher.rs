//! Padding items into a batch: images to the widest (rounded to the encoder stride), token
//! sequences to the longest with `<P>`.

use burn::data::dataloader::batcher::Batcher;
use burn::prelude::*;
use burn::tensor::TensorData;

use super::dataset::HtrItem;
use crate::charset::PAD;
use crate::image::PreprocessConfig;

/// A training batch, teacher-forcing style.
#[derive(Clone, Debug)]
pub struct HtrBatch {
    /// `[B, 1, H, W]`.
    pub images: Tensor<4>,
    /// Width in pixels of each image before padding.
    pub widths: Vec<usize>,
    /// Decoder input: `<S> text`, padded. `[B, T]`.
    pub inputs: Tensor<2, Int>,
    /// Expected output: `text <E>`, padded. `[B, T]`.
    pub targets: Tensor<2, Int>,
    /// Target ids on the host (for metrics that work on strings), without padding.
    pub target_ids: Vec<Vec<usize>>,
}

/// Builds [`HtrBatch`]es.
#[derive(Clone, Debug)]
pub struct HtrBatcher {
    preprocess: PreprocessConfig,
}

impl HtrBatcher {
    /// A batcher for images prepared with `preprocess`.
    pub fn new(preprocess: PreprocessConfig) -> Self {
        HtrBatcher { preprocess }
    }
}

impl Batcher<HtrItem, HtrBatch> for HtrBatcher {
    fn batch(&self, items: Vec<HtrItem>, device: &Device) -> HtrBatch {
        let images: Vec<_> = items.iter().map(|i| &i.image).collect();
        let widths = images.iter().map(|i| i.width() as usize).collect();
        let images = self.preprocess.batch_tensor(&images, device);
        let b = items.len();
        // Lengths rounded up to a multiple of 16: GPU backends compile and autotune kernels per
        // shape, so fewer distinct shapes means less time compiling. Padding costs little.
        let longest = items
            .iter()
            .map(|i| i.tokens.len().saturating_sub(1))
            .max()
            .unwrap_or(1);
        let t = longest.max(1).div_ceil(16) * 16;
        let mut inputs = vec![PAD as i64; b * t];
        let mut targets = vec![PAD as i64; b * t];
        for (row, item) in items.iter().enumerate() {
            let n = item.tokens.len().saturating_sub(1);
            for k in 0..n {
                inputs[row * t + k] = item.tokens[k] as i64;
                targets[row * t + k] = item.tokens[k + 1] as i64;
            }
        }
        HtrBatch {
            images,
            widths,
            inputs: Tensor::from_data(TensorData::new(inputs, [b, t]), device),
            targets: Tensor::from_data(TensorData::new(targets, [b, t]), device),
            target_ids: items
                .iter()
                .map(|i| i.tokens[1..i.tokens.len().saturating_sub(1).max(1)].to_vec())
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::charset::{END, START};
    use image::{GrayImage, Luma};

    #[test]
    fn pads_tokens_and_images() {
        let cfg = PreprocessConfig::line();
        let item = |w, tokens: Vec<usize>| HtrItem {
            image: GrayImage::from_pixel(w, 64, Luma([0])),
            tokens,
            text: String::new(),
        };
        let batch = HtrBatcher::new(cfg).batch(
            vec![
                item(40, vec![START, 5, 6, END]),
                item(100, vec![START, 7, END]),
            ],
            &Device::flex(),
        );
        assert_eq!(batch.images.dims(), [2, 1, 64, 112]);
        assert_eq!(batch.widths, vec![40, 100]);
        let inputs = batch.inputs.try_to_vec_as::<i64>().expect("reads");
        let targets = batch.targets.try_to_vec_as::<i64>().expect("reads");
        let pad = |v: &[i64]| {
            let mut v = v.to_vec();
            v.resize(16, 3);
            v
        };
        assert_eq!(inputs, [pad(&[1, 5, 6]), pad(&[1, 7])].concat());
        assert_eq!(targets, [pad(&[5, 6, 2]), pad(&[7, 2])].concat());
        assert_eq!(batch.target_ids, vec![vec![5, 6], vec![7]]);
    }
}
