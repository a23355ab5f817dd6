//! Tight crops get back the margin a line model learned.
//!
//! Line models learn the crop geometry of their training lines: the core of the writing (the
//! x-height band) fills about a fifth to two fifths of the height (Testaments val: median 0.27,
//! 90 % under 0.41; rendered lines 0.14–0.36). Users also send lines cropped to the ink, where
//! the core fills half the height or more, and the shipped model reads those as noise (held-out
//! printed lines cropped tight: 114 % CER). Such a line is padded with its background above and
//! below until its core is [`CORE_TARGET`] of the height again. Lines whose core is under
//! [`CORE_TRIGGER`] are left alone: real crops often hold bits of their neighbours, which a
//! test on ink touching the edges would take for a tight crop (padding every such Testaments
//! line cost 12 points of CER).

use image::GrayImage;

use super::variants::{background_level, ink_profile, pad};

/// A line whose core fills more than this share of its height is a tight crop.
pub const CORE_TRIGGER: f32 = 0.5;
/// Share of the height the core fills once padded.
pub const CORE_TARGET: f32 = 0.3;

/// Share of the rows that belong to the core of the writing: rows holding at least 40 % of the
/// busiest row's ink (profile smoothed over 3 rows), 0 for a blank image.
pub fn core_fraction(img: &GrayImage) -> f32 {
    let profile = ink_profile(img);
    let n = profile.len();
    let smoothed: Vec<f32> = (0..n)
        .map(|i| {
            let (a, b) = (i.saturating_sub(1), (i + 2).min(n));
            profile[a..b].iter().sum::<usize>() as f32 / (b - a) as f32
        })
        .collect();
    let busiest = smoothed.iter().copied().fold(0.0, f32::max);
    if busiest <= 0.0 {
        return 0.0;
    }
    smoothed.iter().filter(|&&v| v >= 0.4 * busiest).count() as f32 / n as f32
}

/// `img` padded above and below with its background when it is a tight crop (core over
/// [`CORE_TRIGGER`] of the height), so that its core is [`CORE_TARGET`] of the height; `None`
/// when it needs nothing.
pub fn frame_tight(img: &GrayImage) -> Option<GrayImage> {
    let core = core_fraction(img);
    if core <= CORE_TRIGGER {
        return None;
    }
    let h = img.height() as f32;
    let margin = ((h * core / CORE_TARGET - h) / 2.0).round() as u32;
    Some(pad(img, margin, margin, 0, 0, background_level(img)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Luma;

    /// A printed-looking line: a core band of strokes with a few ascenders, `margin` blank
    /// rows above and below, dark on light.
    fn line(margin: u32) -> GrayImage {
        let (core, asc) = (20, 8);
        let h = 2 * margin + asc + core;
        GrayImage::from_fn(300, h, |x, y| {
            let in_core = (margin + asc..margin + asc + core).contains(&y);
            let ascender = (margin..margin + asc).contains(&y) && x % 30 < 2;
            Luma([if (in_core && x % 6 < 2) || ascender {
                20
            } else {
                235
            }])
        })
    }

    #[test]
    fn tight_crops_are_padded_to_the_learned_geometry() {
        let tight = line(0);
        assert!(core_fraction(&tight) > CORE_TRIGGER);
        let framed = frame_tight(&tight).expect("a tight crop is framed");
        assert!((core_fraction(&framed) - CORE_TARGET).abs() < 0.03);
        // The margin is the paper's grey, not black.
        assert_eq!(framed.get_pixel(5, 0).0[0], 235);
        assert_eq!(framed.width(), tight.width());
    }

    #[test]
    fn lines_with_margins_and_blank_images_are_left_alone() {
        assert!(frame_tight(&line(20)).is_none());
        assert!(frame_tight(&GrayImage::from_pixel(300, 40, Luma([255]))).is_none());
        assert!(frame_tight(&GrayImage::new(0, 0)).is_none());
    }
}
