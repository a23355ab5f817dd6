//! What a model's training inputs looked like: a sample of per-image summaries (size, mean
//! gray level, ink polarity), kept in the staged model so a server can tell when what users
//! send stops looking like it (`infer-app monitor report --model`).

use image::GrayImage;
use serde::{Deserialize, Serialize};

use super::ink_is_dark;

/// The figures the server's prediction log records for each input.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct InputSummary {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Mean gray level (0 black – 255 white).
    pub mean_intensity: f32,
    /// Dark ink on light paper.
    pub dark_ink: bool,
}

impl InputSummary {
    /// The summary of one image.
    pub fn of(image: &GrayImage) -> Self {
        let (width, height) = image.dimensions();
        let sum: u64 = image.as_raw().iter().map(|&p| u64::from(p)).sum();
        let area = (u64::from(width) * u64::from(height)).max(1);
        InputSummary {
            width,
            height,
            mean_intensity: (sum as f64 / area as f64) as f32,
            dark_ink: ink_is_dark(image),
        }
    }
}

/// A sample of the training inputs' summaries.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct InputProfile {
    /// Evenly spaced over the inputs, at most [`InputProfile::MAX_SAMPLES`].
    pub samples: Vec<InputSummary>,
}

impl InputProfile {
    /// Summaries kept at most (a few kilobytes in the manifest).
    pub const MAX_SAMPLES: usize = 400;

    /// Summarises up to [`InputProfile::MAX_SAMPLES`] of `images`, evenly spaced.
    pub fn of(images: &[&GrayImage]) -> Self {
        let step = images.len().div_ceil(Self::MAX_SAMPLES).max(1);
        InputProfile {
            samples: images
                .iter()
                .step_by(step)
                .map(|i| InputSummary::of(i))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Luma;

    #[test]
    fn summaries_and_sampling() {
        let page = GrayImage::from_fn(100, 40, |x, _| Luma([if x % 10 == 0 { 0 } else { 250 }]));
        let s = InputSummary::of(&page);
        assert_eq!((s.width, s.height, s.dark_ink), (100, 40, true));
        assert!((s.mean_intensity - 225.0).abs() < 0.01);
        let many: Vec<&GrayImage> = std::iter::repeat_n(&page, 1000).collect();
        let p = InputProfile::of(&many);
        assert!(p.samples.len() <= InputProfile::MAX_SAMPLES && p.samples.len() >= 300);
        assert!(InputProfile::of(&[]).samples.is_empty());
    }
}
