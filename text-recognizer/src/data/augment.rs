//! Train-time augmentation with FSDL 2022's parameters (fsdl-2022.md §1.6), plus ink-polarity
//! inversion. Runs on prepared (light-on-dark, resized) images inside the data loader, so with
//! `num_workers > 0` it runs on the worker threads, beside training. Every draw is seeded.

use image::imageops::{self, FilterType};
use image::{GrayImage, Luma};
use imageproc::filter::gaussian_blur_f32;
use imageproc::geometric_transformations::{Border, Interpolation, Projection, warp};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::image::variants;

/// Augmentation parameters. The defaults are FSDL's `ParagraphStem(augment=True)`; see
/// [`AugmentConfig::fsdl_line`] for `IAMLineStem`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AugmentConfig {
    /// Brightness factor drawn from `[1-b, 1+b]` (ColorJitter brightness).
    pub brightness: f32,
    /// Contrast factor drawn from `[1-c, 1+c]` (ColorJitter contrast).
    pub contrast: f32,
    /// Maximum rotation in degrees (RandomAffine degrees).
    pub rotation: f32,
    /// Shear range in degrees along x (RandomAffine shear).
    pub shear: (f32, f32),
    /// Scale range (RandomAffine scale).
    pub scale: (f32, f32),
    /// Horizontal stretch of lines, factor range (IAMLineStem's width × U(0.9, 1.1)).
    pub stretch: (f32, f32),
    /// Random crop/pad: shift the content by up to this fraction of each side.
    pub shift: f32,
    /// Perspective distortion scale and probability (RandomPerspective).
    pub perspective: (f32, f64),
    /// Gaussian blur sigma range (GaussianBlur kernel 3×3).
    pub blur_sigma: (f32, f32),
    /// Sharpness factor 2 with this probability (RandomAdjustSharpness).
    pub sharpen_p: f64,
    /// Probability of inverting the ink polarity, so models also see dark ink on light paper
    /// before preprocessing normalises it back (guards against polarity-detection mistakes).
    pub invert_p: f64,
    /// Margin above and below the text, each drawn from this range as a fraction of the text's
    /// height; the line is cropped to its ink, given these margins and scaled back to the
    /// model's height. 0 is a tight crop (text touches top and bottom), 1 leaves the text a
    /// third of the line. `None` keeps each crop's own margins.
    pub margin: Option<(f32, f32)>,
    /// Probability of re-framing a line with `margin` (the rest keep their crop: real crops
    /// often hold bits of the neighbouring lines, which the re-framing counts as text).
    pub margin_p: f64,
    /// Resolution loss: scaled down by a factor from this range, then back up (1: none).
    pub resolution: (f32, f32),
    /// Probability of an underline or a ruled line across the text.
    pub rule_p: f64,
    /// Probability of JPEG compression at a quality from 20 to 80.
    pub jpeg_p: f64,
}

impl Default for AugmentConfig {
    fn default() -> Self {
        AugmentConfig {
            brightness: 0.4,
            contrast: 0.4,
            rotation: 3.0,
            shear: (-6.0, 6.0),
            scale: (0.95, 1.0),
            stretch: (1.0, 1.0),
            shift: 0.02,
            perspective: (0.2, 0.5),
            blur_sigma: (0.1, 1.0),
            sharpen_p: 0.5,
            invert_p: 0.0,
            margin: None,
            margin_p: 1.0,
            resolution: (1.0, 1.0),
            rule_p: 0.0,
            jpeg_p: 0.0,
        }
    }
}

impl AugmentConfig {
    /// FSDL's `IAMLineStem(augment=True)`: brightness (0.8, 1.6), rotation 1°, shear (-30, 20)
    /// degrees, width stretch 0.9–1.1; no perspective or blur.
    pub fn fsdl_line() -> Self {
        AugmentConfig {
            brightness: 0.0,
            contrast: 0.0,
            rotation: 1.0,
            shear: (-30.0, 20.0),
            scale: (1.0, 1.0),
            stretch: (0.9, 1.1),
            shift: 0.0,
            perspective: (0.0, 0.0),
            blur_sigma: (0.0, 0.0),
            sharpen_p: 0.0,
            invert_p: 0.0,
            margin: None,
            margin_p: 1.0,
            resolution: (1.0, 1.0),
            rule_p: 0.0,
            jpeg_p: 0.0,
        }
    }

    /// Applies the augmentations to a light-on-dark image; the output keeps the input's height
    /// (and width, except for `stretch`). Same `seed`, same result.
    pub fn apply(&self, img: &GrayImage, seed: u64) -> GrayImage {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut out = img.clone();
        if let Some(range) = self.margin
            && rng.random_bool(self.margin_p.clamp(0.0, 1.0))
        {
            out = remargin(&out, &mut rng, range);
        }
        if self.resolution.0 < 1.0 {
            let f = uniform(&mut rng, self.resolution).clamp(0.05, 1.0);
            let (w, h) = out.dimensions();
            out = imageops::resize(&variants::scale(&out, f), w, h, FilterType::Triangle);
        }
        if self.rule_p > 0.0 && rng.random_bool(self.rule_p) {
            rule(&mut out, &mut rng);
        }
        if self.stretch != (1.0, 1.0) {
            let f = uniform(&mut rng, self.stretch);
            let w = ((out.width() as f32 * f).round() as u32).max(1);
            out = imageops::resize(&out, w, out.height(), FilterType::Triangle);
        }
        jitter(&mut out, &mut rng, self.brightness, self.contrast);
        out = self.affine(&out, &mut rng);
        let (distortion, p) = self.perspective;
        if distortion > 0.0 && rng.random_bool(p) {
            out = perspective(&out, &mut rng, distortion);
        }
        if self.blur_sigma.1 > 0.0 {
            out = gaussian_blur_f32(&out, uniform(&mut rng, self.blur_sigma).max(0.01));
        }
        if self.sharpen_p > 0.0 && rng.random_bool(self.sharpen_p) {
            out = sharpen(&out, 2.0);
        }
        if self.jpeg_p > 0.0 && rng.random_bool(self.jpeg_p) {
            out = variants::jpeg(&out, rng.random_range(20..=80));
        }
        if self.invert_p > 0.0 && rng.random_bool(self.invert_p) {
            imageops::invert(&mut out);
        }
        out
    }

    /// Rotation, shear, scale and shift about the centre, filling with background (0).
    fn affine(&self, img: &GrayImage, rng: &mut StdRng) -> GrayImage {
        let (w, h) = (img.width() as f32, img.height() as f32);
        let angle = uniform(rng, (-self.rotation, self.rotation)).to_radians();
        let shear = uniform(rng, self.shear).to_radians().tan();
        let scale = uniform(rng, self.scale);
        let tx = uniform(rng, (-self.shift, self.shift)) * w;
        let ty = uniform(rng, (-self.shift, self.shift)) * h;
        if angle == 0.0 && shear == 0.0 && scale == 1.0 && tx == 0.0 && ty == 0.0 {
            return img.clone();
        }
        let shear_m = Projection::from_matrix([1.0, shear, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]);
        let Some(shear_m) = shear_m else {
            return img.clone();
        };
        let m = Projection::translate(w / 2.0 + tx, h / 2.0 + ty)
            * Projection::rotate(angle)
            * shear_m
            * Projection::scale(scale, scale)
            * Projection::translate(-w / 2.0, -h / 2.0);
        warp(img, m, Interpolation::Bilinear, Border::Constant(Luma([0])))
    }
}

/// Crops a light-on-dark line to its ink, adds margins of `range` × the text height above and
/// below (drawn separately) and a little left and right, and scales it back to its height.
fn remargin(img: &GrayImage, rng: &mut StdRng, range: (f32, f32)) -> GrayImage {
    let Some((top, bottom)) = variants::ink_rows(img) else {
        return img.clone();
    };
    // A band of ink under an eighth of the height is a rule or specks, not text: framed, it
    // would be scaled up to the line's height and widened as much (1 px of ink on a 48 px line
    // of 2,048 px became 98,000 px wide and stalled training).
    if (bottom + 1 - top) * 8 < img.height() {
        return img.clone();
    }
    let text = (bottom + 1 - top) as f32;
    let mut margin = || (uniform(rng, range).max(0.0) * text).round() as u32;
    let (above, below, left, right) = (margin(), margin(), margin() / 2, margin() / 2);
    let background = variants::background_level(img);
    let framed = variants::pad(
        &variants::crop_rows(img, top, bottom),
        above,
        below,
        left,
        right,
        background,
    );
    let h = img.height();
    let w = ((framed.width() as f32 * h as f32 / framed.height() as f32).round() as u32).max(1);
    // Tight framings widen the line; at most twice, so no sample costs more than two lines.
    let w = w.min(img.width().saturating_mul(2).max(1));
    imageops::resize(&framed, w, h, FilterType::Triangle)
}

/// Draws an underline or a ruled line (1–3 px, most of the width) in an ink-like grey.
fn rule(img: &mut GrayImage, rng: &mut StdRng) {
    let (w, h) = img.dimensions();
    if w < 4 || h < 4 {
        return;
    }
    let thickness = rng.random_range(1..=3u32);
    // Under the text most of the time, anywhere otherwise.
    let y = if rng.random_bool(0.7) {
        rng.random_range(h * 3 / 4..h)
    } else {
        rng.random_range(0..h)
    };
    let start = rng.random_range(0..w / 4);
    let end = rng.random_range(w * 3 / 4..=w);
    let level: u8 = rng.random_range(120..=255);
    for yy in y..(y + thickness).min(h) {
        for x in start..end {
            let p = img.get_pixel_mut(x, yy);
            p.0[0] = p.0[0].max(level);
        }
    }
}

fn uniform(rng: &mut StdRng, (lo, hi): (f32, f32)) -> f32 {
    if hi > lo {
        rng.random_range(lo..hi)
    } else {
        lo
    }
}

/// torchvision ColorJitter on a grey image: brightness scales, contrast blends with the mean.
fn jitter(img: &mut GrayImage, rng: &mut StdRng, brightness: f32, contrast: f32) {
    let b = uniform(rng, (1.0 - brightness, 1.0 + brightness)).max(0.0);
    let c = uniform(rng, (1.0 - contrast, 1.0 + contrast)).max(0.0);
    if b == 1.0 && c == 1.0 {
        return;
    }
    let n = (img.width() * img.height()).max(1) as f32;
    let mean = img.pixels().map(|p| f32::from(p.0[0])).sum::<f32>() * b / n;
    for p in img.pixels_mut() {
        let v = f32::from(p.0[0]) * b;
        p.0[0] = (mean + c * (v - mean)).clamp(0.0, 255.0) as u8;
    }
}

/// RandomPerspective: each corner moves inwards by up to `distortion/2` of the size.
fn perspective(img: &GrayImage, rng: &mut StdRng, distortion: f32) -> GrayImage {
    let (w, h) = (img.width() as f32 - 1.0, img.height() as f32 - 1.0);
    let dx = distortion * w / 2.0;
    let dy = distortion * h / 2.0;
    let mut r = |d: f32| {
        if d > 0.0 {
            rng.random_range(0.0..d)
        } else {
            0.0
        }
    };
    let from = [(0.0, 0.0), (w, 0.0), (w, h), (0.0, h)];
    let to = [
        (r(dx), r(dy)),
        (w - r(dx), r(dy)),
        (w - r(dx), h - r(dy)),
        (r(dx), h - r(dy)),
    ];
    match Projection::from_control_points(from, to) {
        Some(p) => warp(img, p, Interpolation::Bilinear, Border::Constant(Luma([0]))),
        None => img.clone(),
    }
}

/// PIL ImageEnhance.Sharpness: blend with a smoothed copy by `factor` (2 = sharper).
fn sharpen(img: &GrayImage, factor: f32) -> GrayImage {
    // PIL's SMOOTH kernel: 1 around, 5 in the centre, over 13; borders stay as they are.
    let mut smooth = img.clone();
    let (w, h) = img.dimensions();
    for y in 1..h.saturating_sub(1) {
        for x in 1..w.saturating_sub(1) {
            let mut sum = 4.0 * f32::from(img.get_pixel(x, y).0[0]);
            for (dx, dy) in (0..3).flat_map(|i| (0..3).map(move |j| (i, j))) {
                sum += f32::from(img.get_pixel(x + dx - 1, y + dy - 1).0[0]);
            }
            smooth.put_pixel(x, y, Luma([(sum / 13.0).round() as u8]));
        }
    }
    let mut out = img.clone();
    for (o, s) in out.pixels_mut().zip(smooth.pixels()) {
        let v = f32::from(s.0[0]) + factor * (f32::from(o.0[0]) - f32::from(s.0[0]));
        o.0[0] = v.clamp(0.0, 255.0) as u8;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line() -> GrayImage {
        let mut img = GrayImage::new(200, 64);
        for x in 20..180 {
            for y in 28..36 {
                img.put_pixel(x, y, Luma([230]));
            }
        }
        img
    }

    #[test]
    fn same_seed_same_image_other_seed_other_image() {
        let cfg = AugmentConfig::default();
        let a = cfg.apply(&line(), 7);
        assert_eq!(a, cfg.apply(&line(), 7));
        assert_ne!(a, cfg.apply(&line(), 8));
    }

    #[test]
    fn sizes_are_kept_except_for_stretch() {
        let a = AugmentConfig::default().apply(&line(), 1);
        assert_eq!(a.dimensions(), (200, 64));
        for seed in 0..5 {
            let b = AugmentConfig::fsdl_line().apply(&line(), seed);
            assert_eq!(b.height(), 64);
            assert!((180..=220).contains(&b.width()), "{}", b.width());
        }
    }

    #[test]
    fn margins_range_from_tight_to_loose_at_the_same_height() {
        let tight = AugmentConfig {
            margin: Some((0.0, 0.0)),
            ..AugmentConfig::fsdl_line()
        };
        let loose = AugmentConfig {
            margin: Some((1.0, 1.0)),
            ..tight.clone()
        };
        for seed in 0..3 {
            let t = AugmentConfig {
                shear: (0.0, 0.0),
                rotation: 0.0,
                stretch: (1.0, 1.0),
                ..tight.clone()
            }
            .apply(&line(), seed);
            assert_eq!(t.height(), 64);
            assert_eq!(
                variants::ink_rows(&t),
                Some((0, 63)),
                "text fills the height"
            );
            let l = AugmentConfig {
                shear: (0.0, 0.0),
                rotation: 0.0,
                stretch: (1.0, 1.0),
                ..loose.clone()
            }
            .apply(&line(), seed);
            let (top, bottom) = variants::ink_rows(&l).expect("ink");
            assert!(
                (19..=24).contains(&(bottom + 1 - top)),
                "a third of 64: {top}..{bottom}"
            );
        }
    }

    #[test]
    fn framing_never_blows_a_line_up() {
        let tight = AugmentConfig {
            margin: Some((0.0, 0.0)),
            margin_p: 1.0,
            ..AugmentConfig::default()
        };
        // Text an eighth of the height, cropped tight: 8× wider, kept to 2×.
        let out = remargin(&line(), &mut StdRng::seed_from_u64(1), (0.0, 0.0));
        assert_eq!(out.dimensions(), (400, 64));
        // One row of specks on a wide line: no text band to frame, left as it is.
        let mut specks = GrayImage::new(2048, 48);
        for x in (10..2000).step_by(50) {
            specks.put_pixel(x, 20, Luma([230]));
        }
        let out = remargin(&specks, &mut StdRng::seed_from_u64(1), (0.0, 1.0));
        assert_eq!(out, specks);
        assert!(tight.apply(&specks, 3).width() <= 2 * 2048 + 64);
    }

    #[test]
    fn rules_and_jpeg_change_the_image_but_not_its_size() {
        let cfg = AugmentConfig {
            rule_p: 1.0,
            jpeg_p: 1.0,
            resolution: (0.5, 0.6),
            ..AugmentConfig::fsdl_line()
        };
        let plain = AugmentConfig::fsdl_line().apply(&line(), 5);
        let out = cfg.apply(&line(), 5);
        assert_eq!(out.height(), 64);
        assert_ne!(out, plain);
    }

    #[test]
    fn inversion_flips_polarity() {
        let cfg = AugmentConfig {
            invert_p: 1.0,
            ..AugmentConfig::fsdl_line()
        };
        let out = cfg.apply(&line(), 3);
        assert!(out.get_pixel(2, 2).0[0] > 200, "background became light");
    }
}
