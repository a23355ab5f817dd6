//! Pen strokes as a morphological black-hat: how much darker a pixel is than the image closed
//! with a square (dark details thinner than the square filled in).
//!
//! Why not a threshold against the local mean: pages and paragraphs are often pieced together
//! from crops of different greys, and photographs have shadows. A local mean puts "ink" along
//! every edge between two background levels (a band the window's width down each side of a
//! crop), which fills the rows between lines. The black-hat answers only to dark details
//! thinner than the square, whatever the background does around them, and its value is the
//! stroke's contrast, so one threshold serves faint and strong writing alike.

use image::GrayImage;

/// Black-hat of `dark_on_light` (dark ink on light paper) with a square of side `2 * radius + 1`:
/// `close(img) - img` per pixel, row-major.
pub(crate) fn black_hat(dark_on_light: &GrayImage, radius: usize) -> Vec<u8> {
    let (w, h) = (
        dark_on_light.width() as usize,
        dark_on_light.height() as usize,
    );
    let src = dark_on_light.as_raw();
    // Closing: the square's maximum, then its minimum; each separable into rows and columns.
    let dilated = filter_2d(src, w, h, radius, u8::max);
    let closed = filter_2d(&dilated, w, h, radius, u8::min);
    closed
        .iter()
        .zip(src)
        .map(|(&c, &p)| c.saturating_sub(p))
        .collect()
}

/// `pick` (max or min) over the square of side `2 * radius + 1` around each pixel, clipped at
/// the borders.
fn filter_2d(src: &[u8], w: usize, h: usize, radius: usize, pick: fn(u8, u8) -> u8) -> Vec<u8> {
    let mut rows = vec![0u8; w * h];
    let mut line = Vec::new();
    for (out, row) in rows.chunks_exact_mut(w).zip(src.chunks_exact(w)) {
        sliding(row, radius, pick, &mut line);
        out.copy_from_slice(&line);
    }
    let mut out = vec![0u8; w * h];
    let mut column = vec![0u8; h];
    for x in 0..w {
        for (y, v) in column.iter_mut().enumerate() {
            *v = rows[y * w + x];
        }
        sliding(&column, radius, pick, &mut line);
        for (y, &v) in line.iter().enumerate() {
            out[y * w + x] = v;
        }
    }
    out
}

/// `pick` over the window `i - radius ..= i + radius` of `xs` for every `i`, into `out`, in
/// three passes whatever the radius (van Herk / Gil–Werman: running values within blocks of the
/// window's length, forwards and backwards, then one `pick` of two per output).
fn sliding(xs: &[u8], radius: usize, pick: fn(u8, u8) -> u8, out: &mut Vec<u8>) {
    out.clear();
    if xs.is_empty() {
        return;
    }
    // Padding with the value `pick` never chooses makes every window whole (length k), which
    // the block trick needs, and clips the windows at the ends.
    let neutral = pick(0, 255) ^ 255;
    let k = 2 * radius + 1;
    let mut forward = Vec::with_capacity(xs.len() + 2 * radius);
    forward.resize(radius, neutral);
    forward.extend_from_slice(xs);
    forward.resize(xs.len() + 2 * radius, neutral);
    let mut backward = forward.clone();
    let n = forward.len();
    for i in 1..n {
        if i % k != 0 {
            forward[i] = pick(forward[i - 1], forward[i]);
        }
    }
    for i in (0..n - 1).rev() {
        if (i + 1) % k != 0 {
            backward[i] = pick(backward[i + 1], backward[i]);
        }
    }
    // The window [i, i + k - 1] (padded) holds one block start at most: the backward value at
    // its start runs to that block's end, the forward value at its end from that block's start.
    out.extend((0..xs.len()).map(|i| pick(backward[i], forward[i + k - 1])));
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Luma;

    fn naive(xs: &[u8], radius: usize, pick: fn(u8, u8) -> u8) -> Vec<u8> {
        (0..xs.len())
            .map(|i| {
                let (a, b) = (i.saturating_sub(radius), (i + radius).min(xs.len() - 1));
                xs[a..=b].iter().copied().reduce(pick).unwrap_or(0)
            })
            .collect()
    }

    #[test]
    fn sliding_window_matches_the_direct_computation() {
        let xs: Vec<u8> = (0..97u32).map(|i| ((i * 7919) % 251) as u8).collect();
        let mut out = Vec::new();
        for radius in [0, 1, 2, 5, 20, 60, 200] {
            for pick in [u8::max as fn(u8, u8) -> u8, u8::min] {
                sliding(&xs, radius, pick, &mut out);
                assert_eq!(out, naive(&xs, radius, pick), "radius {radius}");
            }
        }
    }

    #[test]
    fn strokes_answer_and_background_steps_do_not() {
        // Left half light paper (220), right half darker paper (120); a 3 px dark stroke (40)
        // on each half.
        let img = GrayImage::from_fn(60, 20, |x, _| {
            let paper = if x < 30 { 220 } else { 120 };
            Luma([if (10..13).contains(&x) || (45..48).contains(&x) {
                40
            } else {
                paper
            }])
        });
        let hat = black_hat(&img, 4);
        let at = |x: usize| hat[10 * 60 + x];
        assert_eq!(at(11), 180);
        assert_eq!(at(46), 80);
        // The step between the papers and the papers themselves: nothing.
        for x in [0, 5, 20, 28, 29, 30, 31, 35, 55] {
            assert_eq!(at(x), 0, "column {x}");
        }
    }
}
