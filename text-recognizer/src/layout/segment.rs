//! Line segmentation by horizontal projection profile.
//!
//! Why this method: it needs no trained model, runs in milliseconds on a CPU, and is what
//! classic OCR engines use for roughly horizontal text; pages of handwriting from scanners and
//! flatbed photos mostly are. It does not handle strong skew, multiple columns, or lines that
//! touch each other over their whole length (those stay one box, and the model reads a
//! two-line crop badly). A learned segmenter (kraken's baseline model) would be the next step.
//!
//! Steps: Otsu binarisation with the ink polarity detected from the median; columns inked over
//! most of the height (scan borders, rulings) are ignored; count ink pixels per row, less the
//! level of the emptiest tenth of rows (speckle, show-through); rows above a fraction of the typical inked-row count are line cores; cores closer than a
//! fraction of their height merge (broken strokes), tiny cores (dots, noise) are dropped; each
//! boundary between two lines is cut at the emptiest row between their cores, so ascenders and
//! descenders stay with their line; the box is then trimmed to the inked columns.

use image::GrayImage;
use imageproc::contrast::otsu_level;
use serde::{Deserialize, Serialize};

use crate::image::ink_is_dark;

/// A line's box in image pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineBox {
    /// Left edge.
    pub x: u32,
    /// Top edge.
    pub y: u32,
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
}

/// Rows whose ink count (above the emptiest rows' level) reaches this fraction of the median
/// inked-row count are line cores.
const CORE_FRACTION: f32 = 0.25;
/// Cores separated by less than this fraction of the smaller core's height are one line.
const MERGE_GAP: f32 = 0.2;
/// Cores shorter than this fraction of the median core height are noise (i dots, specks).
const MIN_CORE: f32 = 0.3;
/// Columns kept on each side of the inked extent, in pixels.
const MARGIN: u32 = 4;

/// Splits a paragraph or page image into text lines, top to bottom. Returns no boxes for an
/// image without ink.
pub fn segment_lines(img: &GrayImage) -> Vec<LineBox> {
    let (w, h) = img.dimensions();
    if w == 0 || h == 0 {
        return Vec::new();
    }
    let dark_ink = ink_is_dark(img);
    let level = otsu_level(img);
    // Otsu's level belongs to the darker class.
    let is_ink = |v: u8| if dark_ink { v <= level } else { v > level };
    // Columns inked over most of the height are scan borders or rulings, not text.
    let mut column_ink = vec![0u32; w as usize];
    for row in img.as_raw().chunks_exact(w as usize) {
        for (c, &v) in column_ink.iter_mut().zip(row) {
            *c += u32::from(is_ink(v));
        }
    }
    let text_column: Vec<bool> = column_ink.iter().map(|&c| c * 2 < h).collect();
    let is_text_ink = |c: usize, v: u8| text_column[c] && is_ink(v);
    let mut rows: Vec<u32> = img
        .as_raw()
        .chunks_exact(w as usize)
        .map(|row| {
            row.iter()
                .enumerate()
                .filter(|&(c, &v)| is_text_ink(c, v))
                .count() as u32
        })
        .collect();
    // Paper texture, speckle and show-through put some ink in every row: measure from the
    // emptiest rows' level, not from zero.
    let mut sorted = rows.clone();
    sorted.sort_unstable();
    let floor = sorted[sorted.len() / 10];
    for r in &mut rows {
        *r = r.saturating_sub(floor);
    }
    // Smooth over a few rows so the strokes of one line form one core.
    let rows = smooth(&rows, (h as usize / 300).max(1));
    let cores = line_cores(&rows);
    if cores.is_empty() {
        return Vec::new();
    }
    // Cut between neighbouring cores at the emptiest row; the first and last lines reach as
    // far as their ink continues, up to one core height.
    let mut cuts = Vec::with_capacity(cores.len() + 1);
    let (first_start, first_end) = cores[0];
    cuts.push(extend(
        &rows,
        first_start,
        first_start.saturating_sub(first_end - first_start),
        true,
    ));
    for pair in cores.windows(2) {
        let (gap_start, gap_end) = (pair[0].1, pair[1].0);
        let cut = (gap_start..gap_end)
            .min_by_key(|&r| (rows[r], (2 * r).abs_diff(gap_start + gap_end)))
            .unwrap_or(gap_start);
        cuts.push(cut);
    }
    let (last_start, last_end) = cores[cores.len() - 1];
    cuts.push(extend(
        &rows,
        last_end,
        (last_end + (last_end - last_start)).min(rows.len()),
        false,
    ));

    cuts.windows(2)
        .zip(&cores)
        .filter_map(|(c, &(start, end))| {
            // Wide spacing leaves blank paper between lines: keep at most one core height
            // beyond the core (ascenders, descenders), so the crop is the line, not the gap.
            let reach = end - start;
            let top = c[0].max(start.saturating_sub(reach));
            let bottom = c[1].min(end + reach).max(top + 1);
            let (left, right) = ink_columns(img, top, bottom, &is_text_ink)?;
            let x = left.saturating_sub(MARGIN);
            let right = (right + 1 + MARGIN).min(w);
            Some(LineBox {
                x,
                y: top as u32,
                width: right - x,
                height: (bottom - top) as u32,
            })
        })
        .collect()
}

/// Moving average of `rows` over `2 * radius + 1` rows, rounded up so a lone stroke stays ink.
fn smooth(rows: &[u32], radius: usize) -> Vec<u32> {
    let mut prefix = vec![0u64; rows.len() + 1];
    for (i, &r) in rows.iter().enumerate() {
        prefix[i + 1] = prefix[i] + u64::from(r);
    }
    (0..rows.len())
        .map(|i| {
            let (a, b) = (i.saturating_sub(radius), (i + radius + 1).min(rows.len()));
            (prefix[b] - prefix[a]).div_ceil((b - a) as u64) as u32
        })
        .collect()
}

/// Row ranges `[start, end)` of line cores.
fn line_cores(rows: &[u32]) -> Vec<(usize, usize)> {
    let mut inked: Vec<u32> = rows.iter().copied().filter(|&c| c > 0).collect();
    if inked.is_empty() {
        return Vec::new();
    }
    inked.sort_unstable();
    let typical = inked[inked.len() / 2] as f32;
    let threshold = (typical * CORE_FRACTION).max(1.0);
    let mut cores: Vec<(usize, usize)> = Vec::new();
    let mut start = None;
    for (r, &count) in rows.iter().enumerate() {
        match (count as f32 >= threshold, start) {
            (true, None) => start = Some(r),
            (false, Some(s)) => {
                cores.push((s, r));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        cores.push((s, rows.len()));
    }
    // Merge cores split by a thin gap (a faint stroke row), then drop specks.
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(cores.len());
    for core in cores {
        if let Some(prev) = merged.last_mut() {
            let smaller = (prev.1 - prev.0).min(core.1 - core.0) as f32;
            if ((core.0 - prev.1) as f32) < MERGE_GAP * smaller {
                prev.1 = core.1;
                continue;
            }
        }
        merged.push(core);
    }
    let mut heights: Vec<usize> = merged.iter().map(|(s, e)| e - s).collect();
    heights.sort_unstable();
    let median = heights[heights.len() / 2] as f32;
    merged.retain(|(s, e)| (e - s) as f32 >= MIN_CORE * median);
    merged
}

/// Moves from `from` towards `limit` while rows hold ink; returns the first empty row (or the
/// limit). `up` walks towards row 0.
fn extend(rows: &[u32], from: usize, limit: usize, up: bool) -> usize {
    let mut r = from;
    if up {
        while r > limit && rows[r - 1] > 0 {
            r -= 1;
        }
    } else {
        while r < limit && rows[r] > 0 {
            r += 1;
        }
    }
    r
}

/// First and last inked column between rows `top..bottom`.
fn ink_columns(
    img: &GrayImage,
    top: usize,
    bottom: usize,
    is_ink: &impl Fn(usize, u8) -> bool,
) -> Option<(u32, u32)> {
    let w = img.width() as usize;
    let mut cols = vec![false; w];
    for row in img.as_raw().chunks_exact(w).skip(top).take(bottom - top) {
        for (i, (c, &v)) in cols.iter_mut().zip(row).enumerate() {
            *c |= is_ink(i, v);
        }
    }
    let left = cols.iter().position(|&c| c)?;
    let right = cols.iter().rposition(|&c| c)?;
    Some((left as u32, right as u32))
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Luma;

    /// Dark "words" (filled rectangles with gaps) on light paper at the given row ranges.
    fn page(lines: &[(u32, u32)], light_on_dark: bool) -> GrayImage {
        let (paper, ink) = if light_on_dark { (10, 240) } else { (245, 20) };
        let mut img = GrayImage::from_pixel(400, 300, Luma([paper]));
        for &(top, bottom) in lines {
            for x in 30..350 {
                if (x / 25) % 3 == 2 {
                    continue; // word gaps
                }
                for y in top..bottom {
                    img.put_pixel(x, y, Luma([ink]));
                }
            }
            // An ascender and a descender reaching outside the core.
            for y in top.saturating_sub(6)..bottom + 6 {
                img.put_pixel(100, y, Luma([ink]));
            }
        }
        img
    }

    #[test]
    fn three_lines_are_found_with_their_extents() {
        for light_on_dark in [false, true] {
            let boxes = segment_lines(&page(&[(40, 60), (110, 130), (180, 200)], light_on_dark));
            assert_eq!(boxes.len(), 3, "{boxes:?}");
            for (b, (top, bottom)) in boxes.iter().zip([(40, 60), (110, 130), (180, 200)]) {
                assert!(
                    b.y <= top - 6 && b.y + b.height >= bottom + 6,
                    "{b:?} misses ink"
                );
                assert!(b.x <= 30 && b.x + b.width >= 349, "{b:?}");
            }
            // Boxes do not overlap and stay in order.
            for pair in boxes.windows(2) {
                assert!(pair[0].y + pair[0].height <= pair[1].y, "{boxes:?}");
            }
        }
    }

    #[test]
    fn a_single_line_and_a_blank_page() {
        assert_eq!(segment_lines(&page(&[(100, 130)], false)).len(), 1);
        assert!(segment_lines(&GrayImage::from_pixel(50, 50, Luma([255]))).is_empty());
        assert!(segment_lines(&GrayImage::new(0, 0)).is_empty());
    }
}
