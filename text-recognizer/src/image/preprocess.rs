//! Resizing rules for lines and paragraphs, and conversion to the model's float pixels.
//!
//! One code path for training and inference: [`PreprocessConfig::prepare`] is all either side
//! calls before batching.

use burn::tensor::{Device, Tensor, TensorData};
use image::GrayImage;
use image::imageops::{self, FilterType};
use serde::{Deserialize, Serialize};

use super::frame::frame_tight;
use super::polarity::InkPolarity;

/// How an image is fitted to the model's input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Layout {
    /// A single text line: scaled to `height`, width follows the aspect ratio, squeezed to
    /// `max_width` when longer. Batches pad the width.
    Line {
        /// Input height in pixels.
        height: u32,
        /// Widest input accepted; wider lines are squeezed horizontally.
        max_width: u32,
    },
    /// A paragraph or page: scaled down (never up) to fit `height`×`width` without cropping,
    /// centred on a background canvas (FSDL's 576×640).
    Paragraph {
        /// Canvas height.
        height: u32,
        /// Canvas width.
        width: u32,
    },
}

/// Everything that turns a decoded image into model input. Saved in every staged model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PreprocessConfig {
    /// Line or paragraph sizing.
    pub layout: Layout,
    /// Ink polarity handling.
    #[serde(default)]
    pub polarity: InkPolarity,
    /// Batched widths are padded to a multiple of this (the encoder's horizontal stride), so
    /// every column of the feature map sees real or background pixels only.
    #[serde(default = "default_width_multiple")]
    pub width_multiple: u32,
}

fn default_width_multiple() -> u32 {
    32
}

/// A preprocessed image: light ink on black, at the model's height (lines) or canvas size
/// (paragraphs). Kept as 8-bit so data sets stay small in memory; batching converts to float.
pub type Prepared = GrayImage;

impl PreprocessConfig {
    /// Sizes a real model uses: a model file's manifest cannot ask for huge canvases.
    pub fn validate(&self) -> Result<(), String> {
        let (h, w) = match self.layout {
            Layout::Line { height, max_width } => (height, max_width),
            Layout::Paragraph { height, width } => (height, width),
        };
        if !(8..=4096).contains(&h) || !(8..=16384).contains(&w) {
            return Err(format!(
                "input size {h}×{w} is outside 8..=4096 × 8..=16384"
            ));
        }
        if !(1..=1024).contains(&self.width_multiple) {
            return Err(format!(
                "width_multiple {} is outside 1..=1024",
                self.width_multiple
            ));
        }
        Ok(())
    }

    /// Frames tight line crops ([`frame_tight`]), applies polarity and resizing.
    pub fn prepare(&self, img: &GrayImage) -> Prepared {
        let mut img = match self.layout {
            Layout::Line { height, max_width } => match frame_tight(img) {
                Some(framed) => resize_line(&framed, height, max_width),
                None => resize_line(img, height, max_width),
            },
            Layout::Paragraph { height, width } => fit_paragraph(img, height, width),
        };
        // Polarity is judged on the resized image: same answer, fewer pixels. Paragraph
        // canvases are judged before padding (inside fit_paragraph), so only lines here.
        if matches!(self.layout, Layout::Line { .. }) && self.polarity.needs_inversion(&img) {
            imageops::invert(&mut img);
        }
        img
    }

    /// Widest line this layout produces (the canvas width for paragraphs).
    pub fn max_width(&self) -> usize {
        match self.layout {
            Layout::Line { max_width, .. } => max_width as usize,
            Layout::Paragraph { width, .. } => width as usize,
        }
    }

    /// Fixed input height of this layout.
    pub fn height(&self) -> usize {
        match self.layout {
            Layout::Line { height, .. } | Layout::Paragraph { height, .. } => height as usize,
        }
    }

    /// Pads widths up to the batch maximum (rounded to `width_multiple`) and stacks them.
    ///
    /// # Shapes
    /// Returns `[B, 1, H, W]`.
    pub fn batch_tensor(&self, images: &[&Prepared], device: &Device) -> Tensor<4> {
        self.batch_tensor_at_least(images, 0, device)
    }

    /// [`Self::batch_tensor`] padded to at least `min_width` columns: a fixed width gives every
    /// image the same padding in any batch, which models trained without a padding mask need
    /// to read the same in any batch.
    pub fn batch_tensor_at_least(
        &self,
        images: &[&Prepared],
        min_width: usize,
        device: &Device,
    ) -> Tensor<4> {
        let height = self.height();
        let multiple = self.width_multiple.max(1) as usize;
        let max_w = images
            .iter()
            .map(|p| p.width() as usize)
            .max()
            .unwrap_or(1)
            .max(min_width);
        let width = max_w.div_ceil(multiple) * multiple;
        let mut data = vec![0f32; images.len() * height * width];
        for (b, img) in images.iter().enumerate() {
            let w = (img.width() as usize).min(width);
            for (y, row) in img
                .as_raw()
                .chunks_exact(img.width() as usize)
                .take(height)
                .enumerate()
            {
                let dst = b * height * width + y * width;
                for (d, &v) in data[dst..dst + w].iter_mut().zip(row) {
                    *d = f32::from(v) / 255.0;
                }
            }
        }
        Tensor::from_data(
            TensorData::new(data, [images.len(), 1, height, width]),
            device,
        )
    }
}

impl PreprocessConfig {
    /// FSDL's paragraph input: 576×640.
    pub fn paragraph() -> Self {
        PreprocessConfig {
            layout: Layout::Paragraph {
                height: 576,
                width: 640,
            },
            polarity: InkPolarity::Auto,
            width_multiple: 32,
        }
    }

    /// 64 px high lines up to 2048 px wide.
    pub fn line() -> Self {
        PreprocessConfig {
            layout: Layout::Line {
                height: 64,
                max_width: 2048,
            },
            polarity: InkPolarity::Auto,
            width_multiple: 16,
        }
    }
}

fn resize_line(img: &GrayImage, height: u32, max_width: u32) -> GrayImage {
    let (w, h) = img.dimensions();
    let scaled = (f64::from(w) * f64::from(height) / f64::from(h)).round() as u32;
    let width = scaled.clamp(1, max_width.max(1));
    if (w, h) == (width, height) {
        return img.clone();
    }
    imageops::resize(img, width, height, FilterType::Triangle)
}

fn fit_paragraph(img: &GrayImage, height: u32, width: u32) -> GrayImage {
    let (w, h) = img.dimensions();
    let scale = (f64::from(width) / f64::from(w))
        .min(f64::from(height) / f64::from(h))
        .min(1.0);
    let new_w = ((f64::from(w) * scale).round() as u32).clamp(1, width);
    let new_h = ((f64::from(h) * scale).round() as u32).clamp(1, height);
    let mut resized = if scale < 1.0 {
        imageops::resize(img, new_w, new_h, FilterType::Triangle)
    } else {
        img.clone()
    };
    if InkPolarity::Auto.needs_inversion(&resized) {
        imageops::invert(&mut resized);
    }
    let mut canvas = GrayImage::new(width, height);
    let x = i64::from((width - resized.width()) / 2);
    let y = i64::from((height - resized.height()) / 2);
    imageops::replace(&mut canvas, &resized, x, y);
    canvas
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Luma;

    #[test]
    fn lines_keep_aspect_and_respect_max_width() {
        let cfg = PreprocessConfig::line();
        let p = cfg.prepare(&GrayImage::from_pixel(300, 32, Luma([255])));
        assert_eq!(p.dimensions(), (600, 64));
        let p = cfg.prepare(&GrayImage::from_pixel(10_000, 32, Luma([255])));
        assert_eq!(p.dimensions(), (2048, 64));
    }

    #[test]
    fn dark_ink_is_inverted_to_light_on_black() {
        let cfg = PreprocessConfig::line();
        let mut img = GrayImage::from_pixel(128, 64, Luma([250]));
        img.put_pixel(5, 5, Luma([0]));
        let p = cfg.prepare(&img);
        assert!(p.get_pixel(0, 0).0[0] < 10, "background becomes dark");
        assert!(p.get_pixel(5, 5).0[0] > 245, "ink becomes bright");
        let t = cfg.batch_tensor(&[&p], &Device::flex());
        let v = t.try_to_vec_as::<f32>().expect("reads");
        assert!(v[5 * 128 + 5] > 0.95 && v[0] < 0.05);
    }

    #[test]
    fn paragraphs_fit_without_cropping() {
        let cfg = PreprocessConfig::paragraph();
        let p = cfg.prepare(&GrayImage::from_pixel(1280, 1000, Luma([0])));
        assert_eq!(p.dimensions(), (640, 576));
        let small = cfg.prepare(&GrayImage::from_pixel(100, 50, Luma([255])));
        assert_eq!(small.dimensions(), (640, 576));
    }

    #[test]
    fn batches_pad_to_the_width_multiple() {
        let cfg = PreprocessConfig::line();
        let a = cfg.prepare(&GrayImage::from_pixel(50, 64, Luma([0])));
        let b = cfg.prepare(&GrayImage::from_pixel(70, 64, Luma([0])));
        let t = cfg.batch_tensor(&[&a, &b], &Device::flex());
        assert_eq!(t.dims(), [2, 1, 64, 80]);
    }
}
