//! Line segmentation by horizontal projection profile.
//!
//! Why this method: it needs no trained model, runs in milliseconds on a CPU, and is what
//! classic OCR engines use for roughly horizontal text; pages of handwriting from scanners and
//! flatbed photos mostly are. It does not handle strong skew, multiple columns, or lines that
//! touch each other over their whole length (those stay one box, and the model reads a
//! two-line crop badly). A learned segmenter (kraken's baseline model) would be the next step.
//!
//! Steps: ink by a morphological black-hat with the ink polarity detected from the median
//! (answers to strokes, not to edges between background greys); thin long horizontal runs
//! (rulings, underlines) and the scanner's margins are removed; count ink pixels per row, less
//! the level of the emptiest tenth of rows (speckle, show-through); the line spacing is the
//! period of that profile, clipped at its typical row so bold lines do not set it; line centres
//! are the profile's maxima far enough apart with a valley between, dropping faint ones that
//! share their rows with others (strokes hanging off a line) but keeping a faint line that
//! stands alone between blank rows; each boundary between two lines is cut at the emptiest row
//! between their centres, so ascenders and descenders stay with their line; the box is then
//! trimmed to the inked columns, and boxes narrower than a quarter of the spacing are specks.

use image::{GrayImage, imageops};
use serde::{Deserialize, Serialize};

use super::strokes::black_hat;
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
/// How much darker than the paper around it a pixel must be to count as ink (grey levels).
const MIN_CONTRAST: i32 = 24;
/// Ink stands at least this many times the upper quartile of the black-hat above the paper
/// (three quarters of a page are paper, so the quartile measures its texture).
const TEXTURE_MARGIN: i32 = 3;
/// Strokes up to the image's longer side over this (and at least twice
/// [`MIN_STROKE_RADIUS`]) wide count as ink; wider dark shapes are background.
const STROKE_SCALE: usize = 150;
/// Half the widest stroke looked for on small images, in pixels.
const MIN_STROKE_RADIUS: usize = 5;
/// Gaps in a horizontal run of ink up to this many pixels (more on large images) still make one
/// run (dashed rules).
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
    // Every line counts the same towards the period, however much ink it holds: clipped at
    // the typical inked row, a few bold lines cannot make their own spacing the page's.
    let mut nonzero: Vec<u32> = rows.iter().copied().filter(|&r| r > 0).collect();
    let cap = if nonzero.is_empty() {
        0
    } else {
        let mid = nonzero.len() / 2;
        *nonzero.select_nth_unstable(mid).1
    };
    let clipped: Vec<u32> = rows.iter().map(|&r| r.min(cap)).collect();
    let period = line_period(&smooth(&clipped, 2))
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
        // Narrower than a quarter of the line spacing: a speck, a tick or a stray mark.
        if ((right - left + 1) as usize) < period / 4 {
            continue;
        }
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
/// apart with a valley between, keeping those at least [`MIN_PEAK`] of a strong line's peak (the
/// 80th percentile: pages are often half blank or ruled, so the median peak can be noise) or
/// alone between blank rows, top to bottom.
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
    // A faint line alone between blank rows is still a line (a short word, a light pen); a
    // faint maximum sharing its rows with other peaks is a stroke hanging off a line, or
    // speckle.
    let alone = |p: usize| {
        let top = (0..p)
            .rev()
            .find(|&r| smoothed[r] == 0)
            .map_or(0, |r| r + 1);
        let bottom = (p..n).find(|&r| smoothed[r] == 0).unwrap_or(n);
        let shared = peaks.iter().any(|&q| q != p && (top..bottom).contains(&q));
        // Bands against the image's edge are mostly scan borders and their debris.
        !shared && bottom - top >= period / 4 && top > 0 && bottom < n
    };
    let keep: Vec<bool> = peaks
        .iter()
        .map(|&p| smoothed[p] as f32 >= MIN_PEAK * strong as f32 || alone(p))
        .collect();
    let mut keep = keep.into_iter();
    peaks.retain(|_| keep.next().unwrap_or(false));
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
/// Ink is what the black-hat ([`black_hat`]) lifts clear of the paper's texture: strokes on
/// uneven paper, in shadows and on crops of different greys pieced together, where one global
/// level or a local mean does not do. Rulings and underlines, and the scanner's margins round
/// the sheet, are removed, since they put ink in rows between lines.
fn ink_mask(img: &GrayImage) -> Vec<bool> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let mut dark_on_light = img.clone();
    if !ink_is_dark(img) {
        imageops::invert(&mut dark_on_light);
    }
    let radius = (w.max(h) / STROKE_SCALE).max(MIN_STROKE_RADIUS);
    let hat = black_hat(&dark_on_light, radius);
    // Paper texture answers too, weakly and everywhere: ink must stand well clear of it.
    let threshold = MIN_CONTRAST.max(TEXTURE_MARGIN * i32::from(upper_quartile(&hat)));
    let mut mask: Vec<bool> = hat.into_iter().map(|v| i32::from(v) > threshold).collect();
    remove_rulings(
        &mut mask,
        w,
        (radius / 2).max(3),
        (radius / 3).max(RULE_GAP),
    );
    // Scan borders: the dark margins round the sheet, with the texture and debris along their
    // edges; bars along the top and bottom (thinner than the square, so the black-hat keeps
    // them); columns inked over most of the height down the sides.
    let (x0, x1, y0, y1) = sheet(&dark_on_light, radius);
    let edge = radius.min(h / 2);
    for (y, row) in mask.chunks_exact_mut(w).enumerate() {
        if y < y0 || y >= y1 {
            row.fill(false);
            continue;
        }
        row[..x0].fill(false);
        row[x1..].fill(false);
        if y < edge || y >= h - edge {
            clear_runs(row, w / 4, RULE_GAP);
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

/// The sheet within a scan, as columns `x0..x1` and rows `y0..y1`: the rows and columns at each
/// edge whose median is darker than half the paper's (the median pixel's) level are the
/// scanner's margin, and `debris` more rows or columns go with them when there is one.
fn sheet(dark_on_light: &GrayImage, debris: usize) -> (usize, usize, usize, usize) {
    let (w, h) = (
        dark_on_light.width() as usize,
        dark_on_light.height() as usize,
    );
    let px = dark_on_light.as_raw();
    let dark = crate::image::median_level(dark_on_light) / 2;
    let mut line = Vec::with_capacity(w.max(h));
    let mut is_margin = |values: &mut dyn Iterator<Item = u8>| {
        line.clear();
        line.extend(values);
        let mid = line.len() / 2;
        *line.select_nth_unstable(mid).1 < dark
    };
    // How many margin lines from one edge, plus the debris when there are any.
    let inset = |count: usize, total: usize| match count {
        0 => 0,
        c => (c + debris).min(total / 2),
    };
    let top = (0..h)
        .take_while(|&y| is_margin(&mut px[y * w..(y + 1) * w].iter().copied()))
        .count();
    let bottom = (0..h)
        .rev()
        .take_while(|&y| is_margin(&mut px[y * w..(y + 1) * w].iter().copied()))
        .count();
    let left = (0..w)
        .take_while(|&x| is_margin(&mut (0..h).map(|y| px[y * w + x])))
        .count();
    let right = (0..w)
        .rev()
        .take_while(|&x| is_margin(&mut (0..h).map(|y| px[y * w + x])))
        .count();
    (
        inset(left, w),
        w - inset(right, w),
        inset(top, h),
        h - inset(bottom, h),
    )
}

/// The value three quarters of `values` are at or below.
fn upper_quartile(values: &[u8]) -> u8 {
    let mut hist = [0usize; 256];
    for &v in values {
        hist[usize::from(v)] += 1;
    }
    let mut seen = 0;
    for (v, &count) in hist.iter().enumerate() {
        seen += count;
        if 4 * seen >= 3 * values.len() {
            return v as u8;
        }
    }
    u8::MAX
}

/// Clears form rulings and underlines from `mask`: runs of ink along a row longer than a
/// twelfth of the width (gaps up to `gap` pixels still make one run: rulings are often dotted
/// or broken into dashes by the threshold) that are mostly thin, at most `thin` pixels of ink
/// deep. Only the thin part goes: strokes crossing the ruling stay, and a row through the middle
/// of a line of writing, long but crossed by letters everywhere, is not a ruling.
fn remove_rulings(mask: &mut [bool], w: usize, thin: usize, gap: usize) {
    let depth = vertical_runs(mask, w);
    let longest = (w / 12).max(20);
    for (row, depth) in mask.chunks_exact_mut(w).zip(depth.chunks_exact(w)) {
        for run in ink_runs(row, gap) {
            let ink = row[run.clone()].iter().filter(|&&i| i).count();
            let flat = depth[run.clone()]
                .iter()
                .filter(|&&d| d > 0 && d <= thin)
                .count();
            if run.end - run.start > longest && flat * 3 >= ink * 2 {
                for (i, &d) in row[run.clone()].iter_mut().zip(&depth[run]) {
                    *i &= d > thin;
                }
            }
        }
    }
}

/// Clears the runs of ink in `row` longer than `longest` (gaps up to `gap` pixels still make
/// one run).
fn clear_runs(row: &mut [bool], longest: usize, gap: usize) {
    for run in ink_runs(row, gap) {
        if run.end - run.start > longest {
            row[run].fill(false);
        }
    }
}

/// The runs of ink along `row`, first ink pixel to last, where gaps up to `gap` pixels do not
/// end a run.
fn ink_runs(row: &[bool], gap: usize) -> Vec<std::ops::Range<usize>> {
    let mut runs = Vec::new();
    let mut x = 0;
    while x < row.len() {
        if !row[x] {
            x += 1;
            continue;
        }
        let (start, mut end) = (x, x);
        while x < row.len() && x - end <= gap {
            if row[x] {
                end = x;
            }
            x += 1;
        }
        runs.push(start..end + 1);
        x = end + 1;
    }
    runs
}

/// For every ink pixel of `mask`, the length of the vertical run of ink through it (0 off ink).
fn vertical_runs(mask: &[bool], w: usize) -> Vec<usize> {
    let h = mask.len() / w.max(1);
    let mut depth = vec![0usize; mask.len()];
    for x in 0..w {
        let mut y = 0;
        while y < h {
            if !mask[y * w + x] {
                y += 1;
                continue;
            }
            let start = y;
            while y < h && mask[y * w + x] {
                y += 1;
            }
            for r in start..y {
                depth[r * w + x] = y - start;
            }
        }
    }
    depth
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

    /// Writing at grey `level` across `x0..x1` in the rows `top..top + core`: 2 px strokes
    /// every 6 px, with a word gap every 80 px.
    fn write(img: &mut GrayImage, (x0, x1): (u32, u32), top: u32, core: u32, level: u8) {
        for x in x0..x1 {
            if (x / 20) % 4 == 3 || x % 6 > 1 {
                continue;
            }
            for y in top..top + core {
                img.put_pixel(x, y, Luma([level]));
            }
        }
    }

    #[test]
    fn lines_on_crops_of_different_greys_stacked_edge_to_edge() {
        // FSDL's synthetic paragraphs: light writing on line crops of different greys and
        // widths, stacked without gaps on a black canvas. The edges between the crops are not
        // ink; a faint short line (far less ink than the others) is still a line.
        let (pitch, lines) = (36u32, 8u32);
        let mut img = GrayImage::new(400, pitch * lines);
        for i in 0..lines {
            let (crop_w, paper) = (200 + 25 * i, [60u8, 110, 30, 90][i as usize % 4]);
            for y in i * pitch..(i + 1) * pitch {
                for x in 0..crop_w {
                    img.put_pixel(x, y, Luma([paper]));
                }
            }
            let (span, ink) = if i == 5 {
                (40, paper + 70)
            } else {
                (crop_w - 20, 230)
            };
            write(&mut img, (10, 10 + span), i * pitch + 12, 12, ink);
        }
        let boxes = segment_lines(&img);
        assert_eq!(boxes.len(), lines as usize, "{boxes:?}");
        for (i, b) in boxes.iter().enumerate() {
            let core = (i as u32 * pitch + 12, i as u32 * pitch + 24);
            assert!(b.y <= core.0 && b.y + b.height >= core.1, "line {i}: {b:?}");
            assert!(b.y + 6 > i as u32 * pitch && b.y + b.height < (i as u32 + 1) * pitch + 6);
        }
    }

    #[test]
    fn scanner_margins_and_rulings_are_not_lines() {
        // Dark writing on grey paper inside a black scanner margin, with a ruling under each
        // line and a dotted one between them.
        let mut img = GrayImage::from_pixel(600, 400, Luma([0]));
        for y in 30..370 {
            for x in 40..560 {
                img.put_pixel(x, y, Luma([200 + ((x * 7 + y * 13) % 11) as u8]));
            }
        }
        for (i, top) in [80u32, 160, 240].into_iter().enumerate() {
            write(&mut img, (80, 500), top, 20, 40);
            for x in 60..540 {
                img.put_pixel(x, top + 24, Luma([90]));
                if x % 5 == 0 && i < 2 {
                    img.put_pixel(x, top + 52, Luma([90]));
                }
            }
        }
        let boxes = segment_lines(&img);
        assert_eq!(boxes.len(), 3, "{boxes:?}");
        for (b, top) in boxes.iter().zip([80u32, 160, 240]) {
            assert!(b.y <= top && b.y + b.height >= top + 20, "{b:?}");
            assert!(
                b.x >= 40 && b.x + b.width <= 560,
                "{b:?} reaches the margin"
            );
        }
    }
}
