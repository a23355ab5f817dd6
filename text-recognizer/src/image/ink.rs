//! "No ink, no text": a blank or near-blank image must read as nothing, not as a sentence the
//! decoder makes up. Decided on the prepared image (light ink on dark) before decoding.
//!
//! Ink is a pixel that its 3×3 neighbourhood lifts well above the local background (the mean
//! of a 33×33 window): paper texture and sensor noise average out in the 3×3 mean, uneven
//! lighting is in both means, and pen strokes stay.

use image::GrayImage;
use imageproc::filter::box_filter;

/// Grey levels (of 255) a smoothed pixel must stand above its local background to be ink.
pub const INK_CONTRAST: u8 = 30;

/// Ink pixels an image needs, at least, to be read: 0.1 % of its pixels and never fewer than 8.
fn ink_needed(pixels: usize) -> usize {
    (pixels / 1000).max(8)
}

/// Pixels of `prepared` (light ink on dark) that count as ink.
pub fn ink_pixels(prepared: &GrayImage) -> usize {
    if prepared.width() < 3 || prepared.height() < 3 {
        return 0;
    }
    let strokes = box_filter(prepared, 1, 1);
    let background = box_filter(prepared, 16, 16);
    strokes
        .as_raw()
        .iter()
        .zip(background.as_raw())
        .filter(|&(&s, &b)| s > b.saturating_add(INK_CONTRAST))
        .count()
}

/// True when `prepared` (light ink on dark) has too little ink to hold text.
pub fn is_blank(prepared: &GrayImage) -> bool {
    let pixels = prepared.width() as usize * prepared.height() as usize;
    ink_pixels(prepared) < ink_needed(pixels)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Luma;
    use rand::{RngExt, SeedableRng};

    fn noisy(w: u32, h: u32, level: f32, sigma: f32, seed: u64) -> GrayImage {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        GrayImage::from_fn(w, h, |_, _| {
            // Sum of uniforms: close enough to Gaussian noise of this sigma.
            let n: f32 = (0..12).map(|_| rng.random::<f32>()).sum::<f32>() - 6.0;
            Luma([(level + sigma * n).clamp(0.0, 255.0) as u8])
        })
    }

    #[test]
    fn blank_noisy_and_unevenly_lit_images_are_blank() {
        assert!(is_blank(&GrayImage::new(1, 1)));
        assert!(is_blank(&GrayImage::from_pixel(600, 64, Luma([0]))));
        assert!(is_blank(&GrayImage::from_pixel(600, 64, Luma([255]))));
        for sigma in [5.0, 10.0, 20.0] {
            assert!(
                is_blank(&noisy(600, 64, 40.0, sigma, 3)),
                "noise sigma {sigma}"
            );
        }
        let gradient = GrayImage::from_fn(800, 64, |x, _| Luma([(x * 200 / 800) as u8]));
        assert!(is_blank(&gradient));
    }

    #[test]
    fn a_few_strokes_are_ink() {
        let mut img = noisy(600, 64, 30.0, 10.0, 4);
        // One short word: three 2-px strokes 30 px high.
        for x in [100, 112, 124] {
            for y in 17..47 {
                for dx in 0..2 {
                    img.put_pixel(x + dx, y, Luma([200]));
                }
            }
        }
        assert!(!is_blank(&img), "{} ink pixels", ink_pixels(&img));
    }
}
