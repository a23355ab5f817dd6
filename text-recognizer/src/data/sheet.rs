//! Contact sheets: samples with their transcriptions in one PNG, because people would rather
//! look than read.

use ab_glyph::{Font, FontVec, PxScale, ScaleFont, point};

use super::synthetic::draw_glyph;
use image::{GrayImage, Luma, imageops};

/// Lays `samples` out one per row: the image (scaled to at most `width` px wide) above its text.
pub fn contact_sheet(samples: &[(GrayImage, String)], font: &FontVec, width: u32) -> GrayImage {
    let text_px = 22.0;
    let line_h = (text_px * 1.3) as u32;
    let pad = 8;
    let rows: Vec<(GrayImage, &str)> = samples
        .iter()
        .map(|(img, text)| {
            let scale = (width as f32 / img.width().max(1) as f32).min(1.0);
            let w = ((img.width() as f32 * scale) as u32).max(1);
            let h = ((img.height() as f32 * scale) as u32).max(1);
            (
                imageops::resize(img, w, h, imageops::FilterType::Triangle),
                text.as_str(),
            )
        })
        .collect();
    let height: u32 = rows
        .iter()
        .map(|(img, text)| img.height() + line_h * text.lines().count().max(1) as u32 + 3 * pad)
        .sum();
    let mut sheet = GrayImage::from_pixel(width + 2 * pad, height.max(1), Luma([255]));
    let mut y = pad;
    for (img, text) in rows {
        imageops::replace(&mut sheet, &img, i64::from(pad), i64::from(y));
        y += img.height() + pad;
        for line in text.lines() {
            draw_text(&mut sheet, font, text_px, pad as f32, y as f32, line);
            y += line_h;
        }
        y += pad;
        for x in 0..sheet.width() {
            if y < sheet.height() {
                sheet.put_pixel(x, y.saturating_sub(pad / 2), Luma([200]));
            }
        }
    }
    sheet
}

fn draw_text(img: &mut GrayImage, font: &FontVec, px: f32, x0: f32, top: f32, text: &str) {
    let scale = PxScale::from(px);
    let scaled = font.as_scaled(scale);
    let mut x = x0;
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        let g = id.with_scale_and_position(scale, point(x, top + scaled.ascent()));
        x += scaled.h_advance(id);
        // Black text on white: darken by the coverage.
        draw_glyph(font, g, img, |old, c| old.min(255 - c));
    }
}
