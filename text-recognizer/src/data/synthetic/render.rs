//! Rendering text lines with a font: per-glyph baseline jitter, slant, stroke width, ink and
//! paper tones and noise, so synthetic lines look less like print. Output is dark ink on light
//! paper, like a scan; preprocessing normalises the polarity as it does for real images.

use std::sync::Arc;

use ab_glyph::{Font, FontVec, PxScale, ScaleFont, point};
use image::{GrayImage, Luma};
use imageproc::distance_transform::Norm;
use imageproc::geometric_transformations::{Border, Interpolation, Projection, warp};
use imageproc::morphology::{dilate, erode};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

use super::fonts::Fonts;
use super::text::TextCorpus;

/// How synthetic lines vary.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RenderConfig {
    /// Characters per line, inclusive range.
    pub chars: (usize, usize),
    /// Font size in pixels.
    pub font_px: (f32, f32),
    /// Slant in degrees (positive leans right).
    pub slant_deg: (f32, f32),
    /// Stroke change in pixels: negative thins (erosion), positive thickens (dilation).
    pub stroke: (i32, i32),
    /// Largest vertical offset of a glyph from the baseline, as a fraction of the font size.
    pub baseline_jitter: f32,
    /// Ink grey level range (0 black).
    pub ink: (u8, u8),
    /// Paper grey level range.
    pub paper: (u8, u8),
    /// Amplitude of uniform pixel noise.
    pub noise: f32,
    /// Share of lines with no text at all (paper, noise, sometimes a ruled line; transcription
    /// empty), so a model learns that no ink means no text.
    pub blank_p: f64,
}

impl Default for RenderConfig {
    fn default() -> Self {
        RenderConfig {
            chars: (4, 60),
            font_px: (28.0, 48.0),
            slant_deg: (-12.0, 12.0),
            stroke: (-1, 1),
            baseline_jitter: 0.04,
            ink: (0, 90),
            paper: (170, 255),
            noise: 10.0,
            blank_p: 0.0,
        }
    }
}

/// An endless source of rendered lines.
#[derive(Clone, Debug)]
pub struct SyntheticLines {
    fonts: Arc<Fonts>,
    corpus: Arc<TextCorpus>,
    config: RenderConfig,
}

impl SyntheticLines {
    /// Lines of `corpus` text in `fonts`.
    pub fn new(fonts: Arc<Fonts>, corpus: Arc<TextCorpus>, config: RenderConfig) -> Self {
        SyntheticLines {
            fonts,
            corpus,
            config,
        }
    }

    /// The line for `seed`: same seed, same image and text.
    pub fn sample(&self, seed: u64) -> (GrayImage, String) {
        let mut rng = StdRng::seed_from_u64(seed);
        if self.config.blank_p > 0.0 && rng.random_bool(self.config.blank_p.min(1.0)) {
            return (blank(&self.config, &mut rng), String::new());
        }
        for _ in 0..8 {
            let text = self
                .corpus
                .sample(&mut rng, self.config.chars.0, self.config.chars.1);
            let start = rng.random_range(0..self.fonts.fonts.len());
            // The first font (from a random start) that has a glyph for every character.
            let font = (0..self.fonts.fonts.len())
                .map(|k| &self.fonts.fonts[(start + k) % self.fonts.fonts.len()].1)
                .find(|f| text.chars().all(|c| c == ' ' || f.glyph_id(c).0 != 0));
            if let Some(font) = font {
                return (render(font, &text, &self.config, &mut rng), text);
            }
        }
        // Every try hit characters no font has: a plain ASCII line is always renderable.
        let text = "the".to_string();
        let font = &self.fonts.fonts[0].1;
        (render(font, &text, &self.config, &mut rng), text)
    }
}

fn range(rng: &mut StdRng, (lo, hi): (f32, f32)) -> f32 {
    if hi > lo {
        rng.random_range(lo..hi)
    } else {
        lo
    }
}

/// Renders `text` (dark on light).
pub fn render(font: &FontVec, text: &str, cfg: &RenderConfig, rng: &mut StdRng) -> GrayImage {
    let px = range(rng, cfg.font_px);
    let scale = PxScale::from(px);
    let scaled = font.as_scaled(scale);
    let pad = (px * 0.3).ceil();
    let ascent = scaled.ascent();
    let height = (ascent - scaled.descent() + 2.0 * pad).ceil().max(1.0);
    let slant = range(rng, cfg.slant_deg).to_radians().tan();
    let slant_room = (height * slant.abs()).ceil();

    // Lay out glyphs with jittered baselines.
    let mut x = pad + slant_room;
    let mut glyphs = Vec::new();
    let mut prev = None;
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(p) = prev {
            x += scaled.kern(p, id);
        }
        let dy = range(rng, (-cfg.baseline_jitter, cfg.baseline_jitter)) * px;
        glyphs.push(id.with_scale_and_position(scale, point(x, pad + ascent + dy)));
        x += scaled.h_advance(id);
        prev = Some(id);
    }
    let width = (x + pad + slant_room).ceil().max(1.0) as u32;
    let mut coverage = GrayImage::new(width, height as u32);
    for g in glyphs {
        draw_glyph(font, g, &mut coverage, |old, c| old.max(c));
    }

    // Slant about the baseline row, then change the stroke width.
    if slant != 0.0 {
        let baseline = pad + ascent;
        if let Some(shear) =
            Projection::from_matrix([1.0, -slant, slant * baseline, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0])
        {
            coverage = warp(
                &coverage,
                shear,
                Interpolation::Bilinear,
                Border::Constant(Luma([0])),
            );
        }
    }
    let stroke = if cfg.stroke.1 > cfg.stroke.0 {
        rng.random_range(cfg.stroke.0..=cfg.stroke.1)
    } else {
        cfg.stroke.0
    };
    if stroke > 0 && px > 36.0 {
        // Thickening small text fills the counters of its letters.
        coverage = dilate(&coverage, Norm::LInf, stroke as u8);
    } else if stroke < 0 && px > 36.0 {
        // Thinning small text erases it too.
        coverage = erode(&coverage, Norm::LInf, (-stroke) as u8);
    }

    // Ink on paper, with noise.
    let ink = f32::from(rng.random_range(cfg.ink.0..=cfg.ink.1.max(cfg.ink.0)));
    let paper = f32::from(rng.random_range(cfg.paper.0..=cfg.paper.1.max(cfg.paper.0)));
    let mut out = GrayImage::new(coverage.width(), coverage.height());
    for (o, c) in out.pixels_mut().zip(coverage.pixels()) {
        let a = f32::from(c.0[0]) / 255.0;
        let noise = if cfg.noise > 0.0 {
            rng.random_range(-cfg.noise..cfg.noise)
        } else {
            0.0
        };
        o.0[0] = (paper + (ink - paper) * a + noise).clamp(0.0, 255.0) as u8;
    }
    out
}

/// A line of paper with no text: the size of a rendered line, its paper and noise, and now and
/// then a ruled line.
fn blank(cfg: &RenderConfig, rng: &mut StdRng) -> GrayImage {
    let px = range(rng, cfg.font_px);
    let height = (px * 1.6).ceil().max(8.0) as u32;
    let width = (px * 0.5 * rng.random_range(cfg.chars.0..=cfg.chars.1.max(cfg.chars.0)) as f32)
        .ceil()
        .max(8.0) as u32;
    let paper = f32::from(rng.random_range(cfg.paper.0..=cfg.paper.1.max(cfg.paper.0)));
    let ruled = rng.random_bool(0.3).then(|| rng.random_range(0..height));
    let ink = f32::from(rng.random_range(cfg.ink.0..=cfg.ink.1.max(cfg.ink.0)));
    GrayImage::from_fn(width, height, |_, y| {
        let noise = if cfg.noise > 0.0 {
            rng.random_range(-cfg.noise..cfg.noise)
        } else {
            0.0
        };
        let base = if ruled == Some(y) { ink } else { paper };
        Luma([(base + noise).clamp(0.0, 255.0) as u8])
    })
}

/// Rasterises one positioned glyph into `img`, combining each covered pixel's old value with
/// the coverage (0–255) through `blend`; pixels outside the image are dropped.
pub(crate) fn draw_glyph(
    font: &FontVec,
    glyph: ab_glyph::Glyph,
    img: &mut GrayImage,
    blend: impl Fn(u8, u8) -> u8,
) {
    let Some(outlined) = font.outline_glyph(glyph) else {
        return;
    };
    let b = outlined.px_bounds();
    let (w, h) = img.dimensions();
    outlined.draw(|gx, gy, c| {
        let (x, y) = (
            b.min.x as i64 + i64::from(gx),
            b.min.y as i64 + i64::from(gy),
        );
        if x >= 0 && y >= 0 && (x as u32) < w && (y as u32) < h {
            let p = img.get_pixel_mut(x as u32, y as u32);
            p.0[0] = blend(p.0[0], (c.clamp(0.0, 1.0) * 255.0) as u8);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::super::fonts::FontSet;
    use super::*;

    fn lines() -> Option<SyntheticLines> {
        // Fonts come from Debian packages that .ci/run installs; say so when they are absent.
        let fonts = match Fonts::load(FontSet::Handwriting) {
            Ok(f) => f,
            Err(e) => panic!("{e}"),
        };
        let corpus = TextCorpus::from_lines(
            ["And God said, Let there be light: and there was light."],
            "t",
        )
        .ok()?;
        Some(SyntheticLines::new(
            Arc::new(fonts),
            Arc::new(corpus),
            RenderConfig::default(),
        ))
    }

    #[test]
    fn renders_dark_ink_deterministically() {
        let Some(lines) = lines() else { return };
        let (a, text) = lines.sample(11);
        assert!(!text.is_empty());
        assert_eq!(lines.sample(11), (a.clone(), text));
        assert!(crate::image::ink_is_dark(&a), "paper is light");
        let darkest = a.pixels().map(|p| p.0[0]).min().unwrap_or(255);
        assert!(darkest < 120, "some ink was drawn");
    }
}
