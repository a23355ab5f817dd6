//! FSDL's synthetic paragraphs (PR #50): 1–15 random line crops stacked top to bottom on a
//! black canvas, dropping the last line until the stack fits 576×640 and 680 characters.
//! Every sample is fresh: it is drawn from its own seed.

use image::{GrayImage, imageops};
use rand::rngs::StdRng;
use rand::seq::index::sample;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

/// Limits of a stacked paragraph.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StackConfig {
    /// Most lines per paragraph.
    pub max_lines: usize,
    /// Canvas height.
    pub height: u32,
    /// Canvas width.
    pub width: u32,
    /// Most characters (newlines included).
    pub max_chars: usize,
    /// Line height range each paragraph's lines are scaled to (crops at our 64 px line height
    /// would make paragraphs of two or three lines).
    pub line_height: (u32, u32),
}

impl Default for StackConfig {
    fn default() -> Self {
        StackConfig {
            max_lines: 15,
            height: 576,
            width: 640,
            max_chars: 680,
            line_height: (28, 44),
        }
    }
}

/// Stacks line crops (light ink on black) into paragraphs.
#[derive(Clone, Debug)]
pub struct ParagraphStacker {
    config: StackConfig,
}

impl ParagraphStacker {
    /// A stacker with these limits.
    pub fn new(config: StackConfig) -> Self {
        ParagraphStacker { config }
    }

    /// The paragraph for `seed`, from `lines` (image, text) light-on-dark crops.
    pub fn stack(&self, lines: &[(GrayImage, String)], seed: u64) -> (GrayImage, String) {
        let cfg = &self.config;
        let mut rng = StdRng::seed_from_u64(seed);
        let count = rng
            .random_range(1..=cfg.max_lines.max(1))
            .min(lines.len().max(1));
        let (lo, hi) = cfg.line_height;
        let line_h = if hi > lo {
            rng.random_range(lo..=hi)
        } else {
            lo
        };
        let picked: Vec<(GrayImage, &str)> = sample(&mut rng, lines.len(), count.min(lines.len()))
            .into_iter()
            .map(|i| {
                let (img, text) = &lines[i];
                let w = ((img.width() as f32 * line_h as f32 / img.height().max(1) as f32).round()
                    as u32)
                    .max(1);
                (
                    imageops::resize(img, w, line_h, imageops::FilterType::Triangle),
                    text.as_str(),
                )
            })
            .filter(|(img, _)| img.width() <= cfg.width)
            .collect();
        let mut n = picked.len();
        while n > 1 {
            let chars: usize = picked[..n]
                .iter()
                .map(|(_, t)| t.chars().count() + 1)
                .sum::<usize>()
                - 1;
            let height: u32 = picked[..n].iter().map(|(i, _)| i.height()).sum();
            if chars <= cfg.max_chars && height <= cfg.height {
                break;
            }
            n -= 1;
        }
        let used = &picked[..n];
        let width = used.iter().map(|(i, _)| i.width()).max().unwrap_or(1);
        let height = used.iter().map(|(i, _)| i.height()).sum::<u32>().max(1);
        let mut canvas = GrayImage::new(width, height);
        let mut y = 0i64;
        for (img, _) in used {
            imageops::replace(&mut canvas, img, 0, y);
            y += i64::from(img.height());
        }
        let text = used.iter().map(|(_, t)| *t).collect::<Vec<_>>().join("\n");
        (canvas, text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Luma;

    #[test]
    fn paragraphs_fit_the_canvas_and_join_lines_with_newlines() {
        let lines: Vec<(GrayImage, String)> = (0..30)
            .map(|i| {
                (
                    GrayImage::from_pixel(300 + 10 * i, 64, Luma([200])),
                    format!("line {i}"),
                )
            })
            .collect();
        let stacker = ParagraphStacker::new(StackConfig::default());
        for seed in 0..20 {
            let (img, text) = stacker.stack(&lines, seed);
            assert!(
                img.width() <= 640 && img.height() <= 576,
                "{:?}",
                img.dimensions()
            );
            let n = text.lines().count();
            assert!((1..=15).contains(&n));
            assert!(text.chars().count() <= 680);
            assert_eq!(stacker.stack(&lines, seed).1, text, "seeded");
        }
    }
}
