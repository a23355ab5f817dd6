//! Reading a CTC-only model: the best path (one argmax per frame) or CTC prefix beam search,
//! with the same length limits and loop cutting as the attention decoder, and a confidence per
//! character: the highest probability the character has on the frames aligned to it.

use std::collections::HashMap;

use burn::tensor::activation::log_softmax;

use super::ctc::{CtcFrames, log_add};
use super::fusion::Fusion;
use super::{Bounds, Decoded, Hypothesis, Stop};
use crate::charset::{BLANK, END};
use crate::lm::LmState;
use crate::model::{Memory, ResnetTransformer};

/// CTC log probabilities of every image of a batch, read to the host once.
pub(super) struct CtcTable {
    log_probs: Vec<f32>,
    frames: usize,
    vocab: usize,
    valid: Vec<usize>,
}

impl CtcTable {
    /// `None` for a model without a CTC head.
    pub(super) fn of(model: &ResnetTransformer, memory: &Memory) -> Option<Self> {
        let logits = model.ctc_logits(memory)?;
        let [_, frames, vocab] = logits.dims();
        let log_probs = log_softmax(logits, 2)
            .try_to_vec_as::<f32>()
            .expect("reading CTC log probabilities from the device");
        let valid = model.ctc_valid_frames(memory, frames);
        Some(CtcTable {
            log_probs,
            frames,
            vocab,
            valid,
        })
    }

    pub(super) fn image(&self, b: usize) -> CtcFrames<'_> {
        let size = self.frames * self.vocab;
        CtcFrames {
            log_probs: &self.log_probs[b * size..(b + 1) * size],
            vocab: self.vocab,
            frames: self.valid[b],
        }
    }

    fn len(&self) -> usize {
        self.valid.len()
    }
}

/// Reads every image of `memory` by its CTC head: the best path for `beam` ≤ 1, else prefix
/// beam search over `beam` prefixes. Tokens past a line's limit, and repetition loops, are
/// cut as the attention beams cut them.
///
/// # Panics
/// When the model has no CTC head (callers check [`ResnetTransformer::is_ctc_only`]).
pub fn read_ctc(
    model: &ResnetTransformer,
    memory: &Memory,
    bounds: &Bounds,
    beam: usize,
) -> Vec<Decoded> {
    read_ctc_fused(model, memory, bounds, beam, None)
}

/// [`read_ctc`], the prefix beams ranked with a character LM when `fusion` is given.
pub(super) fn read_ctc_fused(
    model: &ResnetTransformer,
    memory: &Memory,
    bounds: &Bounds,
    beam: usize,
    fusion: Option<&Fusion<'_>>,
) -> Vec<Decoded> {
    let table = CtcTable::of(model, memory).expect("a CTC-only model has a CTC head");
    (0..table.len())
        .map(|b| {
            let frames = table.image(b);
            let tokens = if beam <= 1 {
                frames.greedy()
            } else {
                prefix_search(&frames, beam, fusion)
            };
            let confidences = aligned_confidences(&frames, &tokens);
            let mut hyp = Hypothesis::default();
            for (&id, &p) in tokens.iter().zip(&confidences) {
                hyp.push(id, p, bounds, b);
                if hyp.is_done() {
                    break;
                }
            }
            if !hyp.is_done() {
                hyp.stop = Some(Stop::End);
            }
            let mut decoded = hyp.into_decoded();
            if decoded.tokens.is_empty() {
                // Nothing written: how sure the model is that every frame is blank.
                decoded.confidence = blank_confidence(&frames);
                decoded.min_confidence = decoded.confidence;
            }
            decoded
        })
        .collect()
}

/// Mean probability of blank over the frames.
fn blank_confidence(frames: &CtcFrames<'_>) -> f32 {
    if frames.frames == 0 {
        return 1.0;
    }
    (0..frames.frames)
        .map(|t| frames.log_probs[t * frames.vocab + BLANK].exp())
        .sum::<f32>()
        / frames.frames as f32
}

/// Characters tried per frame: the likeliest few, enough for any beam we run.
const CANDIDATES_PER_FRAME: usize = 8;

/// CTC prefix beam search (Hannun et al. 2014): each prefix carries the probability of
/// paths ending in blank and in its last character, so paths that collapse to the same text
/// add up. Returns the likeliest prefix.
pub fn prefix_beam(frames: &CtcFrames<'_>, width: usize) -> Vec<usize> {
    prefix_search(frames, width, None)
}

/// A prefix's acoustic probabilities, and what the LM says of it so far.
#[derive(Clone, Copy)]
struct Prefix {
    /// log P of the paths ending in blank.
    blank: f32,
    /// log P of the paths ending in the prefix's last character.
    last: f32,
    /// The LM's fused score of the prefix (0 without an LM).
    lm: f32,
    state: LmState,
}

impl Prefix {
    fn score(&self) -> f32 {
        log_add(self.blank, self.last) + self.lm
    }

    /// The same prefix at the next frame, before any path reaches it.
    fn unreached(&self) -> Prefix {
        Prefix {
            blank: f32::NEG_INFINITY,
            last: f32::NEG_INFINITY,
            ..*self
        }
    }

    /// The prefix extended by `id`, before any path reaches it.
    fn child(&self, id: usize, fusion: Option<&Fusion<'_>>) -> Prefix {
        let (lm, state) = match fusion {
            Some(f) => {
                let (add, state) = f.extend(self.state, id);
                (self.lm + add, state)
            }
            None => (self.lm, self.state),
        };
        Prefix {
            lm,
            state,
            ..self.unreached()
        }
    }
}

/// [`prefix_beam`], ranking prefixes by their CTC probability plus the LM's fused score when
/// `fusion` is given (and the LM's end-of-line probability at the end).
pub(super) fn prefix_search(
    frames: &CtcFrames<'_>,
    width: usize,
    fusion: Option<&Fusion<'_>>,
) -> Vec<usize> {
    let neg = f32::NEG_INFINITY;
    let root = Prefix {
        blank: 0.0,
        last: neg,
        lm: 0.0,
        state: fusion.map(Fusion::start).unwrap_or_default(),
    };
    let mut beams: Vec<(Vec<usize>, Prefix)> = vec![(Vec::new(), root)];
    let mut next: HashMap<Vec<usize>, Prefix> = HashMap::new();
    let mut order: Vec<(usize, f32)> = Vec::with_capacity(frames.vocab);
    for t in 0..frames.frames {
        let row = &frames.log_probs[t * frames.vocab..(t + 1) * frames.vocab];
        order.clear();
        order.extend(row.iter().copied().enumerate());
        let k = CANDIDATES_PER_FRAME.min(order.len());
        if k < order.len() {
            order.select_nth_unstable_by(k - 1, |a, b| b.1.total_cmp(&a.1));
            order.truncate(k);
        }
        if !order.iter().any(|&(id, _)| id == BLANK) {
            order.push((BLANK, row[BLANK]));
        }
        next.clear();
        for (prefix, p) in &beams {
            let total = log_add(p.blank, p.last);
            let last = prefix.last().copied();
            for &(id, lp) in &order {
                if id == BLANK {
                    let e = next.entry(prefix.clone()).or_insert_with(|| p.unreached());
                    e.blank = log_add(e.blank, total + lp);
                } else if Some(id) == last {
                    // The same character again: a repeat only after a blank, else the same run.
                    let same = next.entry(prefix.clone()).or_insert_with(|| p.unreached());
                    same.last = log_add(same.last, p.last + lp);
                    let mut longer = prefix.clone();
                    longer.push(id);
                    let e = next.entry(longer).or_insert_with(|| p.child(id, fusion));
                    e.last = log_add(e.last, p.blank + lp);
                } else {
                    let mut longer = prefix.clone();
                    longer.push(id);
                    let e = next.entry(longer).or_insert_with(|| p.child(id, fusion));
                    e.last = log_add(e.last, total + lp);
                }
            }
        }
        beams = next.drain().collect();
        beams.sort_by(|x, y| y.1.score().total_cmp(&x.1.score()).then(x.0.cmp(&y.0)));
        beams.truncate(width.max(1));
    }
    // The end of the line, as the LM sees it: the first of the best (the order above breaks ties).
    let end = |p: &Prefix| fusion.map_or(0.0, |f| f.extend(p.state, END).0);
    let mut best: Option<(f32, Vec<usize>)> = None;
    for (prefix, p) in beams {
        let score = p.score() + end(&p);
        if best.as_ref().is_none_or(|b| score > b.0) {
            best = Some((score, prefix));
        }
    }
    best.map(|b| b.1).unwrap_or_default()
}

/// The probability of each of `tokens` on its frames under the best (Viterbi) alignment: the
/// highest over the frames the alignment gives it. Greedy output aligns to its own path.
fn aligned_confidences(frames: &CtcFrames<'_>, tokens: &[usize]) -> Vec<f32> {
    if tokens.is_empty() {
        return Vec::new();
    }
    let (t_max, vocab) = (frames.frames, frames.vocab);
    let s = 2 * tokens.len() + 1;
    let label = |i: usize| {
        if i.is_multiple_of(2) {
            BLANK
        } else {
            tokens[i / 2]
        }
    };
    let at = |t: usize, id: usize| frames.log_probs[t * vocab + id];
    if t_max == 0 {
        return vec![0.0; tokens.len()];
    }
    let neg = f32::NEG_INFINITY;
    let mut score = vec![neg; s];
    // back[t][i]: the state at t − 1 the best path to state i at t came from.
    let mut back = vec![0u32; t_max * s];
    score[0] = at(0, BLANK);
    if s > 1 {
        score[1] = at(0, label(1));
    }
    let mut next = vec![neg; s];
    for t in 1..t_max {
        for i in 0..s {
            let mut best = (score[i], i);
            if i >= 1 && score[i - 1] > best.0 {
                best = (score[i - 1], i - 1);
            }
            if i >= 2 && label(i) != BLANK && label(i) != label(i - 2) && score[i - 2] > best.0 {
                best = (score[i - 2], i - 2);
            }
            next[i] = best.0 + at(t, label(i));
            back[t * s + i] = best.1 as u32;
        }
        std::mem::swap(&mut score, &mut next);
    }
    let mut state = if s > 1 && score[s - 2] > score[s - 1] {
        s - 2
    } else {
        s - 1
    };
    if score[state] == neg {
        // The tokens do not fit the frames: fall back to each token's best frame anywhere.
        return tokens
            .iter()
            .map(|&id| (0..t_max).map(|t| at(t, id)).fold(neg, f32::max).exp())
            .collect();
    }
    let mut best = vec![0f32; tokens.len()];
    for t in (0..t_max).rev() {
        if state % 2 == 1 {
            let k = state / 2;
            best[k] = best[k].max(at(t, tokens[k]).exp());
        }
        if t > 0 {
            state = back[t * s + state] as usize;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ModelConfig;
    use burn::prelude::*;

    /// Frames spelling `path`, probability `p` on the path and the rest spread evenly.
    fn frames(path: &[usize], vocab: usize, p: f32) -> Vec<f32> {
        let other = ((1.0 - p) / (vocab - 1) as f32).ln();
        path.iter()
            .flat_map(|&id| (0..vocab).map(move |v| if v == id { p.ln() } else { other }))
            .collect()
    }

    #[test]
    fn prefix_beam_adds_up_the_paths_greedy_splits() {
        // Per frame: blank 0.4 / 'a' 0.35 / 'b' 0.25 on frames 0–1. The best path is blank,
        // blank (empty text, 0.16), but "a" has 0.35·0.35 + 2·0.4·0.35 = 0.4025 over its
        // paths: prefix search must find it.
        let row = |pb: f32, pa: f32, pc: f32| vec![pb.ln(), pa.ln(), pc.ln()];
        let lp: Vec<f32> = [row(0.4, 0.35, 0.25), row(0.4, 0.35, 0.25)].concat();
        let f = CtcFrames {
            log_probs: &lp,
            vocab: 3,
            frames: 2,
        };
        assert_eq!(f.greedy(), Vec::<usize>::new());
        assert_eq!(prefix_beam(&f, 4), vec![1]);
    }

    #[test]
    fn prefix_beam_agrees_with_greedy_on_clear_frames_and_keeps_doubles() {
        let lp = frames(&[0, 5, 5, 0, 5, 6, 6, 0], 8, 0.9);
        let f = CtcFrames {
            log_probs: &lp,
            vocab: 8,
            frames: 8,
        };
        assert_eq!(prefix_beam(&f, 4), f.greedy());
        assert_eq!(prefix_beam(&f, 4), vec![5, 5, 6]);
    }

    #[test]
    fn confidences_come_from_the_aligned_frames() {
        let mut lp = frames(&[0, 5, 5, 0, 6, 0], 8, 0.9);
        // Make the 6 doubtful: 0.5 on its frame.
        let other = (0.5f32 / 7.0).ln();
        for v in 0..8 {
            lp[4 * 8 + v] = if v == 6 { 0.5f32.ln() } else { other };
        }
        let f = CtcFrames {
            log_probs: &lp,
            vocab: 8,
            frames: 6,
        };
        let c = aligned_confidences(&f, &[5, 6]);
        assert!(
            (c[0] - 0.9).abs() < 1e-4 && (c[1] - 0.5).abs() < 1e-4,
            "{c:?}"
        );
    }

    #[test]
    fn a_ctc_only_model_reads_the_same_alone_and_in_a_batch() {
        let device = Device::flex();
        device.seed(21);
        let model = ModelConfig::tiny_ctc().init(9, &device);
        assert!(model.is_ctc_only());
        let images =
            Tensor::<4>::random([2, 1, 32, 96], burn::tensor::Distribution::Default, &device);
        let memory = model.encode_padded(images.clone(), &[96, 50]);
        let bounds = Bounds::uniform(2, 40);
        for beam in [1, 3] {
            let both = read_ctc(&model, &memory, &bounds, beam);
            let alone =
                model.encode_padded(images.clone().slice([1..2, 0..1, 0..32, 0..50]), &[50]);
            let one = read_ctc(&model, &alone, &Bounds::uniform(1, 40), beam);
            assert_eq!(both[1].tokens, one[0].tokens, "beam {beam}");
            assert!((both[1].confidence - one[0].confidence).abs() < 1e-4);
            assert!(both.iter().all(Decoded::finished));
        }
    }
}
