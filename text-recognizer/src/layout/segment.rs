//! Line segmentation by horizontal projection profile.
//!
//! Why this method: it needs no trained model, runs in milliseconds on a CPU, and is what
//! classic OCR engines use for roughly horizontal text; pages of handwriting from scanners and
//! flatbed photos mostly are. It does not handle strong skew, multiple columns, or lines that
//! touch each other over their whole length (those stay one box, and the model reads a
//! two-line crop badly). A learned segmenter (kraken's baseline model) would be the next step.
//!
//! Steps: local-mean binarisation with the ink polarity detected from the median; long
//! horizontal runs (rulings) and columns inked over most of the height (scan borders) are
//! removed; count ink pixels per row, less the
//! level of the emptiest tenth of rows (speckle, show-through); rows above a fraction of the
//! typical inked-row count are line cores; cores closer than a fraction of their height merge
//! (broken strokes), tiny cores (dots, noise) are dropped; each boundary between two lines is cut
//! at the emptiest row between their cores, so ascenders and descenders stay with their line; the
//! box is then trimmed to the inked columns.

use image::{GrayImage, imageops};
use imageproc::contrast::adaptive_threshold;
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

/// An autocorrelation maximum within this fraction of the strongest is taken as the spacing.
const NEAR_BEST: f64 = 0.7;
/// Two maxima are separate lines only if the profile between them falls below this fraction
/// of the lower one.
const VALLEY: f32 = 0.6;
/// Smallest line spacing looked for, in pixels.
const MIN_LINE: usize = 8;
/// Profile peaks lower than this fraction of a strong line's are specks, stamps' edges or stray
/// strokes, not lines.
const MIN_PEAK: f32 = 0.15;
/// How much darker than its neighbourhood's mean a pixel must be to count as ink (grey levels).
const LOCAL_CONTRAST: i32 = 12;
/// Gaps in a horizontal run of ink up to this many pixels still make one run (dashed rules).
const RULE_GAP: usize = 3;
/// Columns kept on each side of the inked extent, in pixels.
const MARGIN: u32 = 4;

/// Splits a paragraph or page image into text lines, top to bottom. Returns no boxes for an
/// image without ink.
pub fn segment_lines(img: &GrayImage) -> Vec<LineBox> {
    segment_with_ink(img).into_iter().map(|(b, _)| b).collect()
}

/// [`segment_lines`] with the ink (pixels above the row floor) each line holds.
pub(crate) fn segment_with_ink(img: &GrayImage) -> Vec<(LineBox, u64)> {
    let (w, h) = img.dimensions();
    if w == 0 || h == 0 {
        return Vec::new();
    }
    let mask = ink_mask(img);
    let (wu, hu) = (w as usize, h as usize);
    let mut rows: Vec<u32> = mask
        .chunks_exact(wu)
        .map(|row| row.iter().filter(|&&ink| ink).count() as u32)
        .collect();
    // Paper texture, speckle and show-through put some ink in every row: measure from the
    // emptiest rows' level, not from zero.
    let mut sorted = rows.clone();
    sorted.sort_unstable();
    let floor = sorted[sorted.len() / 10];
    for r in &mut rows {
        *r = r.saturating_sub(floor);
    }
    // Lines repeat down the page: the profile's period is the line spacing, and it sets every
    // scale below (smoothing, peak separation, how far a line reaches).
    // A single line does not repeat: take twice its inked height instead.
    let inked = rows.iter().filter(|&&r| r > 0).count();
    let period = line_period(&smooth(&rows, 2))
        .unwrap_or(2 * inked)
        .clamp(MIN_LINE, hu.max(MIN_LINE));
    // A running median drops the thin spikes of ruled lines (a form's dotted rules would
    // otherwise be the strongest periodic signal, at the baselines); the mean then evens it.
    let smoothed = smooth(&running_median(&rows, period / 8), period / 16);
    let peaks = line_peaks(&smoothed, period);
    if peaks.is_empty() {
        return Vec::new();
    }
    let reach = period * 3 / 4;
    let mut boxes = Vec::with_capacity(peaks.len());
    for (i, &peak) in peaks.iter().enumerate() {
        // Neighbouring lines are cut at the emptiest row between their peaks.
        let valley = |a: usize, b: usize| {
            (a..b)
                .min_by_key(|&r| (smoothed[r], (2 * r).abs_diff(a + b)))
                .unwrap_or(a)
        };
        let mut top = match i {
            0 => peak.saturating_sub(reach),
            _ => valley(peaks[i - 1], peak).max(peak.saturating_sub(reach)),
        };
        let mut bottom = match peaks.get(i + 1) {
            Some(&next) => valley(peak, next).min(peak + reach),
            None => (peak + reach).min(hu),
        };
        // Trim blank rows at both ends.
        while top < peak && rows[top] == 0 {
            top += 1;
        }
        while bottom > peak + 1 && rows[bottom - 1] == 0 {
            bottom -= 1;
        }
        let Some((left, right)) = ink_columns(&mask, wu, top, bottom, (bottom - top) / 10) else {
            continue;
        };
        let x = left.saturating_sub(MARGIN);
        let right = (right + 1 + MARGIN).min(w);
        let ink = rows[top..bottom].iter().map(|&r| u64::from(r)).sum();
        boxes.push((
            LineBox {
                x,
                y: top as u32,
                width: right - x,
                height: (bottom - top) as u32,
            },
            ink,
        ));
    }
    boxes
}

/// The line spacing: the shortest lag at which the profile's autocorrelation has a local
/// maximum close to its strongest, or `None` when the profile does not repeat (a single line).
fn line_period(rows: &[u32]) -> Option<usize> {
    let n = rows.len();
    let mean = rows.iter().map(|&r| f64::from(r)).sum::<f64>() / n.max(1) as f64;
    let x: Vec<f64> = rows.iter().map(|&r| f64::from(r) - mean).collect();
    let (lo, hi) = (MIN_LINE, n / 2);
    if hi <= lo + 1 {
        return None;
    }
    let ac: Vec<f64> = (0..=hi)
        .map(|lag| {
            let s: f64 = x[..n - lag].iter().zip(&x[lag..]).map(|(a, b)| a * b).sum();
            // Divided by n, not n - lag: the biased estimate damps long lags, whose few
            // terms are noisy and which are multiples of the spacing anyway.
            s / n as f64
        })
        .collect();
    // Multiples of the spacing correlate about as well as the spacing itself (better when line
    // heights vary): take the shortest lag that comes close to the best.
    let maxima: Vec<usize> = (lo..hi)
        .filter(|&l| ac[l] > 0.0 && ac[l] >= ac[l - 1] && ac[l] >= ac[l + 1])
        .collect();
    let best = maxima.iter().map(|&l| ac[l]).fold(0.0, f64::max);
    maxima.into_iter().find(|&l| ac[l] >= NEAR_BEST * best)
}

/// Rows of line centres: the highest maxima of the smoothed profile at least 0.3 periods
/// apart with a valley between, keeping those at least [`MIN_PEAK`] of a strong line's peak (the 80th percentile:
/// pages are often half blank or ruled, so the median peak can be noise), top to bottom.
fn line_peaks(smoothed: &[u32], period: usize) -> Vec<usize> {
    let n = smoothed.len();
    let mut candidates: Vec<usize> = (0..n)
        .filter(|&r| {
            smoothed[r] > 0
                && (r == 0 || smoothed[r] >= smoothed[r - 1])
                && (r + 1 == n || smoothed[r] > smoothed[r + 1])
        })
        .collect();
    candidates.sort_by_key(|&r| std::cmp::Reverse(smoothed[r]));
    // A lower maximum is a line of its own when it is not too close to a kept one and the
    // profile dips deeply between them (stacked lines of different sizes have no one period).
    let spacing = period * 3 / 10;
    let mut peaks: Vec<usize> = Vec::new();
    for r in candidates {
        let separate = |&p: &usize| {
            let (a, b) = (p.min(r), p.max(r));
            let dip = smoothed[a..=b].iter().copied().min().unwrap_or(0);
            b - a >= spacing && (dip as f32) < VALLEY * smoothed[p].min(smoothed[r]) as f32
        };
        if peaks.iter().all(separate) {
            peaks.push(r);
        }
    }
    let mut heights: Vec<u32> = peaks.iter().map(|&p| smoothed[p]).collect();
    heights.sort_unstable();
    let Some(&strong) = heights.get(heights.len() * 4 / 5) else {
        return Vec::new();
    };
    peaks.retain(|&p| smoothed[p] as f32 >= MIN_PEAK * strong as f32);
    peaks.sort_unstable();
    peaks
}

/// Running median of `rows` over `2 * radius + 1` rows.
fn running_median(rows: &[u32], radius: usize) -> Vec<u32> {
    let mut window = Vec::with_capacity(2 * radius + 1);
    (0..rows.len())
        .map(|i| {
            let (a, b) = (i.saturating_sub(radius), (i + radius + 1).min(rows.len()));
            window.clear();
            window.extend_from_slice(&rows[a..b]);
            let mid = window.len() / 2;
            *window.select_nth_unstable(mid).1
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

/// First and last column between rows `top..bottom` with more than `min_ink` ink pixels (a
/// ruled line crossing the box gives each column only a pixel or two).
fn ink_columns(
    mask: &[bool],
    width: usize,
    top: usize,
    bottom: usize,
    min_ink: usize,
) -> Option<(u32, u32)> {
    let mut cols = vec![0usize; width];
    for row in mask.chunks_exact(width).skip(top).take(bottom - top) {
        for (c, &ink) in cols.iter_mut().zip(row) {
            *c += usize::from(ink);
        }
    }
    let left = cols.iter().position(|&c| c > min_ink)?;
    let right = cols.iter().rposition(|&c| c > min_ink)?;
    Some((left as u32, right as u32))
}

/// Which pixels are handwriting ink, row-major.
///
/// A local threshold (each pixel against the mean of its neighbourhood) copes with uneven
/// paper, shadows and the grey tone of photographed pages, where one global level does not.
/// Long horizontal runs are form rulings and underlines, and columns inked over most of the
/// height are scan borders: both are removed, since they put ink in rows between lines.
fn ink_mask(img: &GrayImage) -> Vec<bool> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let mut dark_on_light = img.clone();
    if !ink_is_dark(img) {
        imageops::invert(&mut dark_on_light);
    }
    let radius = (w.max(h) as u32 / 40).max(8);
    let binary = adaptive_threshold(&dark_on_light, radius, LOCAL_CONTRAST);
    let mut mask: Vec<bool> = binary.as_raw().iter().map(|&v| v == 0).collect();
    // Rulings are often broken into dashes by the threshold: gaps up to RULE_GAP pixels still
    // count as one run, and every ink pixel of a run longer than `longest` goes.
    let longest = (w / 12).max(20);
    for row in mask.chunks_exact_mut(w) {
        let mut x = 0;
        while x < w {
            if !row[x] {
                x += 1;
                continue;
            }
            let (start, mut end) = (x, x);
            while x < w && x - end <= RULE_GAP {
                if row[x] {
                    end = x;
                }
                x += 1;
            }
            if end + 1 - start > longest {
                row[start..=end].fill(false);
            }
            x = end + 1;
        }
    }
    let mut column_ink = vec![0usize; w];
    for row in mask.chunks_exact(w) {
        for (c, &ink) in column_ink.iter_mut().zip(row) {
            *c += usize::from(ink);
        }
    }
    for row in mask.chunks_exact_mut(w) {
        for (ink, &count) in row.iter_mut().zip(&column_ink) {
            *ink &= count * 2 < h;
        }
    }
    mask
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Luma;

    /// Dark "words" (3 px strokes every 7 px, with word gaps) on light paper at the given rows.
    fn page(lines: &[(u32, u32)], light_on_dark: bool) -> GrayImage {
        let (paper, ink) = if light_on_dark { (10, 240) } else { (245, 20) };
        let mut img = GrayImage::from_pixel(400, 300, Luma([paper]));
        for &(top, bottom) in lines {
            for x in 30..350 {
                if (x / 25) % 3 == 2 || x % 7 > 2 {
                    continue; // word gaps, gaps between strokes
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
