//! Ink polarity. Our models see light ink on a dark background (FSDL's convention, from
//! inverted IAM forms). FSDL fails on ordinary dark-ink photos; we detect the polarity and
//! invert when needed, in training and in inference alike.

use image::GrayImage;
use serde::{Deserialize, Serialize};

/// How to treat the polarity of an input image.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum InkPolarity {
    /// Detect from the image: the background is the majority of pixels (see [`ink_is_dark`]).
    #[default]
    Auto,
    /// Dark ink on light paper (scans, photos): always invert.
    DarkOnLight,
    /// Light ink on dark background: never invert.
    LightOnDark,
}

impl InkPolarity {
    /// Whether `img` must be inverted to become light-on-dark.
    pub fn needs_inversion(self, img: &GrayImage) -> bool {
        match self {
            InkPolarity::Auto => ink_is_dark(img),
            InkPolarity::DarkOnLight => true,
            InkPolarity::LightOnDark => false,
        }
    }
}

/// True when the image looks like dark ink on a light background.
///
/// Ink covers well under half of a text image, so the median pixel is background: a median
/// above mid-grey means a light background, hence dark ink.
pub fn ink_is_dark(img: &GrayImage) -> bool {
    median_level(img) >= 128
}

/// The median grey level: the background's, since ink covers well under half of a text image
/// (0 for an empty image).
pub fn median_level(img: &GrayImage) -> u8 {
    let mut hist = [0u64; 256];
    for p in img.pixels() {
        hist[p.0[0] as usize] += 1;
    }
    let half = (img.width() as u64 * img.height() as u64).div_ceil(2);
    let mut seen = 0;
    for (value, count) in hist.iter().enumerate() {
        seen += count;
        if seen >= half {
            return value as u8;
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Luma;

    fn page(background: u8, ink: u8) -> GrayImage {
        let mut img = GrayImage::from_pixel(50, 20, Luma([background]));
        for x in 10..40 {
            img.put_pixel(x, 10, Luma([ink]));
        }
        img
    }

    #[test]
    fn detects_both_polarities() {
        assert!(ink_is_dark(&page(230, 20)));
        assert!(!ink_is_dark(&page(15, 240)));
        assert!(InkPolarity::DarkOnLight.needs_inversion(&page(15, 240)));
        assert!(!InkPolarity::LightOnDark.needs_inversion(&page(230, 20)));
    }
}
