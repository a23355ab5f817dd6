//! The CTC side of hybrid CTC/attention decoding, on the host: greedy CTC reading, and the CTC
//! log-likelihood of a hypothesis, used to rescore the attention decoder's beams. CTC is
//! monotonic over the image's columns, so it penalises what attention decoders do wrong on
//! hard lines: skipped words, repeated words, text made up past the ink.

use crate::charset::BLANK;

/// `log(exp(a) + exp(b))` without overflow.
pub(super) fn log_add(a: f32, b: f32) -> f32 {
    if a == f32::NEG_INFINITY {
        return b;
    }
    if b == f32::NEG_INFINITY {
        return a;
    }
    let (hi, lo) = if a > b { (a, b) } else { (b, a) };
    hi + (lo - hi).exp().ln_1p()
}

/// Frame-wise log probabilities of one image: `frames × vocab`, row-major.
#[derive(Clone, Debug)]
pub struct CtcFrames<'a> {
    /// Log probabilities (log-softmax over the vocabulary).
    pub log_probs: &'a [f32],
    /// Vocabulary size (the row length).
    pub vocab: usize,
    /// Frames that belong to the image (the rest is batch padding).
    pub frames: usize,
}

impl CtcFrames<'_> {
    fn at(&self, t: usize, id: usize) -> f32 {
        self.log_probs[t * self.vocab + id]
    }

    /// Best path: the most likely token per frame, repeats merged, blanks dropped.
    pub fn greedy(&self) -> Vec<usize> {
        let mut out = Vec::new();
        let mut prev = BLANK;
        for t in 0..self.frames {
            let row = &self.log_probs[t * self.vocab..(t + 1) * self.vocab];
            let best = row
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map_or(BLANK, |(i, _)| i);
            if best != BLANK && best != prev {
                out.push(best);
            }
            prev = best;
        }
        out
    }

    /// `log P(tokens | image)` under CTC (the forward algorithm); −∞ when the tokens cannot
    /// fit in the frames.
    pub fn log_likelihood(&self, tokens: &[usize]) -> f32 {
        // Extended label sequence: blank, t1, blank, t2, …, blank.
        let s = 2 * tokens.len() + 1;
        let label = |i: usize| {
            if i.is_multiple_of(2) {
                BLANK
            } else {
                tokens[i / 2]
            }
        };
        if self.frames == 0 {
            return if tokens.is_empty() {
                0.0
            } else {
                f32::NEG_INFINITY
            };
        }
        let mut alpha = vec![f32::NEG_INFINITY; s];
        alpha[0] = self.at(0, BLANK);
        if s > 1 {
            alpha[1] = self.at(0, label(1));
        }
        let mut next = vec![f32::NEG_INFINITY; s];
        for t in 1..self.frames {
            for i in 0..s {
                let mut a = alpha[i];
                if i >= 1 {
                    a = log_add(a, alpha[i - 1]);
                }
                if i >= 2 && label(i) != BLANK && label(i) != label(i - 2) {
                    a = log_add(a, alpha[i - 2]);
                }
                next[i] = a + self.at(t, label(i));
            }
            std::mem::swap(&mut alpha, &mut next);
        }
        if s == 1 {
            alpha[0]
        } else {
            log_add(alpha[s - 1], alpha[s - 2])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Frames that spell `path` with probability 0.9 per frame (0.1 spread over the rest).
    fn frames(path: &[usize], vocab: usize) -> Vec<f32> {
        let other = (0.1 / (vocab - 1) as f32).ln();
        path.iter()
            .flat_map(|&id| (0..vocab).map(move |v| if v == id { 0.9f32.ln() } else { other }))
            .collect()
    }

    #[test]
    fn greedy_merges_repeats_and_drops_blanks() {
        let lp = frames(&[0, 5, 5, 0, 5, 6, 6, 0], 8);
        let f = CtcFrames {
            log_probs: &lp,
            vocab: 8,
            frames: 8,
        };
        assert_eq!(f.greedy(), vec![5, 5, 6]);
        let short = CtcFrames {
            frames: 3,
            ..f.clone()
        };
        assert_eq!(short.greedy(), vec![5]);
    }

    #[test]
    fn the_spelled_text_is_likelier_than_others_and_too_long_is_impossible() {
        let lp = frames(&[0, 5, 5, 0, 5, 6, 6, 0], 8);
        let f = CtcFrames {
            log_probs: &lp,
            vocab: 8,
            frames: 8,
        };
        let right = f.log_likelihood(&[5, 5, 6]);
        assert!(right > f.log_likelihood(&[5, 6]));
        assert!(right > f.log_likelihood(&[5, 5, 6, 6]));
        assert!(right > f.log_likelihood(&[7, 5, 6]));
        assert!(right < 0.0 && right > 8.0 * 0.9f32.ln() - 1.0);
        assert_eq!(
            f.log_likelihood(&[5; 5]),
            f32::NEG_INFINITY,
            "5 repeats need 9 frames"
        );
        // Probabilities over every 1-token text of 1 frame sum to one with the empty text.
        let one = CtcFrames { frames: 1, ..f };
        let total: f32 = (0..8)
            .map(|v| {
                if v == 0 {
                    one.log_likelihood(&[])
                } else {
                    one.log_likelihood(&[v])
                }
            })
            .map(f32::exp)
            .sum();
        assert!((total - 1.0).abs() < 1e-4, "{total}");
    }
}
