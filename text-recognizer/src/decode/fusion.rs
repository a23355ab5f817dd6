//! Shallow fusion: beam search ranks each extension by the model's log probability plus
//! `lm_weight · ln P_LM(character | the line so far) + lm_bonus` (the bonus per character
//! offsets the LM's pull towards short lines), and the end of the line by
//! `lm_weight · ln P_LM(end | line)`.

use std::sync::Arc;

use crate::charset::{Charset, END, NUM_SPECIAL};
use crate::lm::{CharLm, LmState, LmSymbol};

/// A character LM made to speak a model's token ids.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenLm {
    lm: Arc<CharLm>,
    /// The LM symbol of each token id (special tokens other than `<E>`: unknown).
    symbols: Vec<LmSymbol>,
}

impl TokenLm {
    /// `lm` for a model whose alphabet is `charset`.
    pub fn new(lm: Arc<CharLm>, charset: &Charset) -> Self {
        let symbols = (0..NUM_SPECIAL)
            .map(|id| {
                if id == END {
                    LmSymbol::END
                } else {
                    LmSymbol::UNKNOWN
                }
            })
            .chain(charset.chars().iter().map(|&c| lm.symbol(c)))
            .collect();
        TokenLm { lm, symbols }
    }

    /// The character model.
    pub fn lm(&self) -> &CharLm {
        &self.lm
    }

    /// The state at the start of a line.
    pub fn start(&self) -> LmState {
        self.lm.start()
    }

    fn symbol(&self, token: usize) -> LmSymbol {
        self.symbols
            .get(token)
            .copied()
            .unwrap_or(LmSymbol::UNKNOWN)
    }
}

/// An LM with the weight and bonus beam search fuses it with.
#[derive(Clone, Copy, Debug)]
pub(super) struct Fusion<'a> {
    lm: &'a TokenLm,
    weight: f32,
    bonus: f32,
}

impl<'a> Fusion<'a> {
    pub(super) fn new(lm: &'a TokenLm, weight: f32, bonus: f32) -> Self {
        Fusion { lm, weight, bonus }
    }

    pub(super) fn start(&self) -> LmState {
        self.lm.start()
    }

    /// What appending `token` after `state` adds to a hypothesis' score, and the state after
    /// it. `<E>` gets the LM's end-of-line probability and no bonus.
    pub(super) fn extend(&self, state: LmState, token: usize) -> (f32, LmState) {
        let symbol = self.lm.symbol(token);
        let lp = self.lm.lm.log_prob(state, symbol);
        if token == END {
            (self.weight * lp, state)
        } else {
            (
                self.weight * lp + self.bonus,
                self.lm.lm.advance(state, symbol),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::ctc::CtcFrames;
    use crate::decode::ctc_read::{prefix_beam, prefix_search};
    use crate::decode::{Bounds, DecodeConfig, beam_search};
    use crate::lm::Smoothing;
    use crate::model::ModelConfig;
    use burn::prelude::*;

    fn charset() -> Charset {
        Charset::new("abcdelmnorstu ".chars()).expect("alphabet")
    }

    fn token_lm(lines: &[&str]) -> TokenLm {
        let lm = CharLm::build(lines.iter().copied(), 4, Smoothing::KneserNey).expect("builds");
        TokenLm::new(Arc::new(lm), &charset())
    }

    /// Deterministic pseudo-random CTC frames (log-softmaxed rows).
    fn random_frames(seed: u64, frames: usize, vocab: usize) -> Vec<f32> {
        let mut x = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let mut out = Vec::with_capacity(frames * vocab);
        for _ in 0..frames {
            let row: Vec<f32> = (0..vocab)
                .map(|_| {
                    x = x
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    ((x >> 33) as f32 / (1u64 << 31) as f32) * 6.0
                })
                .collect();
            let norm = row.iter().map(|v| v.exp()).sum::<f32>().ln();
            out.extend(row.iter().map(|v| v - norm));
        }
        out
    }

    #[test]
    fn weight_zero_reads_exactly_as_plain_prefix_beams() {
        let lm = token_lm(&["la mort", "le notaire", "donne tout"]);
        let vocab = charset().vocab_size();
        for seed in 0..20 {
            let lp = random_frames(seed, 30, vocab);
            let frames = CtcFrames {
                log_probs: &lp,
                vocab,
                frames: 30,
            };
            let fused = Fusion::new(&lm, 0.0, 0.0);
            assert_eq!(
                prefix_search(&frames, 6, Some(&fused)),
                prefix_beam(&frames, 6),
                "seed {seed}"
            );
        }
    }

    #[test]
    fn the_lm_settles_what_the_frames_leave_open() {
        // Frames that say "l", then 'a' or 'e' equally, then "s".
        let cs = charset();
        let vocab = cs.vocab_size();
        let id = |c| cs.id(c).expect("in the alphabet");
        let mut lp = vec![(0.001f32).ln(); 5 * vocab];
        let mut set = |t: usize, v: usize, p: f32| lp[t * vocab + v] = p.ln();
        set(0, id('l'), 0.98);
        set(1, crate::charset::BLANK, 0.98);
        set(2, id('a'), 0.49);
        set(2, id('e'), 0.49);
        set(3, crate::charset::BLANK, 0.98);
        set(4, id('s'), 0.98);
        let frames = CtcFrames {
            log_probs: &lp,
            vocab,
            frames: 5,
        };
        for (corpus, want) in [
            (["les", "les et des", "mes"], "les"),
            (["las", "mas", "las et nas"], "las"),
        ] {
            let lm = token_lm(&corpus);
            let read = prefix_search(&frames, 4, Some(&Fusion::new(&lm, 1.0, 0.0)));
            assert_eq!(cs.decode(&read), want, "{corpus:?}");
        }
    }

    #[test]
    fn weight_zero_reads_exactly_as_plain_attention_beams() {
        let device = Device::flex();
        device.seed(5);
        let cs = charset();
        let model = ModelConfig {
            max_output_len: 12,
            ..ModelConfig::tiny()
        }
        .init(cs.vocab_size(), &device);
        let images =
            Tensor::<4>::random([3, 1, 32, 64], burn::tensor::Distribution::Default, &device);
        let memory = model.encode_padded(images, &[64, 40, 20]);
        let bounds = Bounds::uniform(3, 12);
        let plain = DecodeConfig {
            beam: 4,
            ..DecodeConfig::default()
        };
        let fused = DecodeConfig {
            lm: Some(Arc::new(token_lm(&["la mort", "le notaire"]))),
            lm_weight: 0.0,
            lm_bonus: 0.0,
            ..plain.clone()
        };
        let (a, b) = (
            beam_search(&model, memory.clone(), &bounds, &plain),
            beam_search(&model, memory.clone(), &bounds, &fused),
        );
        assert_eq!(a, b);
        // A heavy LM does change what the untrained model writes.
        let heavy = DecodeConfig {
            lm_weight: 5.0,
            ..fused
        };
        assert_ne!(beam_search(&model, memory, &bounds, &heavy), a);
    }
}
