//! Turning the decoder's logits into token sequences: greedy or beam search, with per-line
//! length limits and repetition loops cut.
//!
//! Confidence: the probability the model gave each emitted token (softmax of the chosen logit),
//! `<E>` included; [`Decoded::confidence`] is their mean, [`Decoded::min_confidence`] the
//! smallest. The mean ranks lines well; the minimum flags a single doubtful character.
//!
//! A character language model ([`crate::lm::CharLm`], attached as [`DecodeConfig::lm`]) joins
//! beam search by shallow fusion ([`TokenLm`]); greedy reading ignores it.

mod beam;
pub mod ctc;
mod ctc_read;
mod fusion;
mod greedy;
mod repetition;

pub use beam::beam_search;
pub use ctc_read::{prefix_beam, read_ctc};
pub use fusion::TokenLm;
pub use greedy::{greedy, greedy_uncached};
pub use repetition::loop_cut;

use crate::model::{Memory, ResnetTransformer};

/// The cheapest reading of any model: the CTC best path for a CTC-only model, greedy
/// attention decoding otherwise.
pub fn greedy_any(
    model: &ResnetTransformer,
    memory: impl Into<Memory>,
    bounds: &Bounds,
) -> Vec<Decoded> {
    let memory = memory.into();
    if model.is_ctc_only() {
        read_ctc(model, &memory, bounds, 1)
    } else {
        greedy(model, memory, bounds)
    }
}

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::charset::END;
use fusion::Fusion;

/// How a model's output is searched and bounded. Saved in every staged model (in its preset).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DecodeConfig {
    /// Beams per image (1: greedy).
    pub beam: usize,
    /// Length normalisation exponent of beam search (score = log P / length^alpha).
    pub length_alpha: f32,
    /// Most characters a line may have per line-height of its width (`None`: only the model's
    /// `max_output_len`). Measured on the real training lines at 64 px: median 3–4.5, 99th
    /// percentile 6–19 (Testaments has crops far narrower than their text), so 20 trims only
    /// runaways.
    pub max_chars_per_height: Option<f32>,
    /// Cut repetition loops (see [`loop_cut`]).
    pub cut_loops: bool,
    /// Weight of the CTC head's score when beam search ranks its finished hypotheses (models
    /// with a CTC head only; see [`beam_search`]).
    pub ctc_weight: f32,
    /// Weight of the character LM's log probability in beam search (with an LM and a beam of
    /// 2 or more only).
    pub lm_weight: f32,
    /// Added to a hypothesis' score per character when reading with an LM: without it the
    /// LM's every factor below 1 pulls beam search towards short lines.
    pub lm_bonus: f32,
    /// The character LM (from the model file, or attached with
    /// [`crate::Recognizer::with_lm`]); model files carry it beside the manifest, not in it.
    #[serde(skip)]
    pub lm: Option<Arc<TokenLm>>,
}

impl Default for DecodeConfig {
    fn default() -> Self {
        DecodeConfig {
            beam: 1,
            length_alpha: 1.0,
            max_chars_per_height: Some(20.0),
            cut_loops: true,
            ctc_weight: 0.3,
            lm_weight: DEFAULT_LM_WEIGHT,
            lm_bonus: DEFAULT_LM_BONUS,
            lm: None,
        }
    }
}

/// The LM weight beam search uses unless told otherwise: chosen on the Testaments and
/// CREMMA-MSS-18 val sets with a CTC model and a pruned 6-gram (weights 0.3–0.8, bonuses 0–2;
/// the model report's LM table). Attention models gained nothing at any weight measured.
pub const DEFAULT_LM_WEIGHT: f32 = 0.6;
/// The per-character bonus that goes with [`DEFAULT_LM_WEIGHT`] (it offsets the LM's pull to
/// short lines; with α = 1 length normalisation it does not change attention beams).
pub const DEFAULT_LM_BONUS: f32 = 1.5;

impl DecodeConfig {
    /// The LM fusion beam search applies: an LM attached and more than one beam.
    fn fusion(&self) -> Option<Fusion<'_>> {
        match &self.lm {
            Some(lm) if self.beam > 1 => Some(Fusion::new(lm, self.lm_weight, self.lm_bonus)),
            _ => None,
        }
    }

    /// Longest output for a line image `width`×`height` (after preprocessing), `<S>` and `<E>`
    /// included, within the model's `max_output_len`.
    pub fn line_limit(&self, width: usize, height: usize, max_output_len: usize) -> usize {
        match self.max_chars_per_height {
            Some(density) if height > 0 => {
                let chars = (width as f32 / height as f32 * density).ceil() as usize;
                (chars + 2).clamp(3, max_output_len.max(3))
            }
            _ => max_output_len,
        }
    }
}

/// Why a sequence ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// The model wrote `<E>`.
    End,
    /// It reached its length limit first.
    Length,
    /// It was repeating a pattern; the repeats were cut.
    Loop,
}

/// One decoded sequence.
#[derive(Clone, Debug, PartialEq)]
pub struct Decoded {
    /// Token ids after `<S>`, up to and excluding `<E>`.
    pub tokens: Vec<usize>,
    /// Mean probability of the emitted tokens (`<E>` included).
    pub confidence: f32,
    /// Smallest probability among the emitted tokens.
    pub min_confidence: f32,
    /// The probability of each token of `tokens`.
    pub token_confidences: Vec<f32>,
    /// Why decoding stopped.
    pub stop: Stop,
}

impl Decoded {
    /// True when the model itself ended the sequence.
    pub fn finished(&self) -> bool {
        self.stop == Stop::End
    }
}

/// How long each sequence of a batch may get, and which tokens may repeat without end.
#[derive(Clone, Debug)]
pub struct Bounds {
    /// Longest output per sequence in tokens, `<S>` and `<E>` included (at least 2).
    pub max_len: Vec<usize>,
    /// Tokens that may repeat alone for as long as they like (leaders, spaces); `None` turns
    /// loop cutting off.
    pub repeatable: Option<Vec<usize>>,
}

impl Bounds {
    /// One limit per sequence, loops not cut.
    pub fn new(max_len: Vec<usize>) -> Self {
        Bounds {
            max_len: max_len.into_iter().map(|m| m.max(2)).collect(),
            repeatable: None,
        }
    }

    /// The same limit for `batch` sequences, loops not cut.
    pub fn uniform(batch: usize, max_len: usize) -> Self {
        Bounds::new(vec![max_len; batch])
    }

    /// Cuts repetition loops, letting `repeatable` tokens repeat alone.
    pub fn cutting_loops(mut self, repeatable: Vec<usize>) -> Self {
        self.repeatable = Some(repeatable);
        self
    }

    /// The largest limit (the number of decoding steps a batch may need).
    pub fn longest(&self) -> usize {
        self.max_len.iter().copied().max().unwrap_or(2)
    }

    fn limit(&self, row: usize) -> usize {
        self.max_len.get(row).copied().unwrap_or(2)
    }
}

/// A sequence being decoded: its tokens, their probabilities and whether it has stopped.
#[derive(Clone, Debug, Default)]
struct Hypothesis {
    tokens: Vec<usize>,
    probs: Vec<f32>,
    stop: Option<Stop>,
}

impl Hypothesis {
    fn is_done(&self) -> bool {
        self.stop.is_some()
    }

    /// Appends a token of sequence `row` (a no-op once stopped) and decides whether to stop.
    fn push(&mut self, id: usize, p: f32, bounds: &Bounds, row: usize) {
        if self.is_done() {
            return;
        }
        self.probs.push(p);
        if id == END {
            self.stop = Some(Stop::End);
            return;
        }
        self.tokens.push(id);
        if let Some(repeatable) = &bounds.repeatable
            && let Some(keep) = loop_cut(&self.tokens, |t| repeatable.contains(&t))
        {
            self.tokens.truncate(keep);
            self.probs.truncate(keep);
            self.stop = Some(Stop::Loop);
        } else if self.tokens.len() + 2 >= bounds.limit(row) {
            // `<S>` + tokens + the `<E>` that would follow reach the limit.
            self.stop = Some(Stop::Length);
        }
    }

    fn into_decoded(self) -> Decoded {
        let n = self.probs.len().max(1) as f32;
        let token_confidences = self.probs[..self.tokens.len().min(self.probs.len())].to_vec();
        Decoded {
            tokens: self.tokens,
            confidence: self.probs.iter().sum::<f32>() / n,
            min_confidence: self.probs.iter().copied().fold(1.0, f32::min),
            token_confidences,
            stop: self.stop.unwrap_or(Stop::Length),
        }
    }
}
