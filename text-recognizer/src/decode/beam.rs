//! Beam search with the KV cache: `width` hypotheses per image, ranked by their summed log
//! probability divided by `length^alpha` (length normalisation: without it, short outputs win).

use burn::tensor::activation::log_softmax;

use super::ctc_read::{CtcTable, read_ctc_fused};
use super::greedy::{column, greedy};
use super::{Bounds, DecodeConfig, Decoded, Hypothesis, Stop};
use crate::charset::{PAD, START};
use crate::lm::LmState;
use crate::model::{Memory, ResnetTransformer};

/// A live or finished hypothesis with its summed log probability.
#[derive(Clone, Debug)]
struct Scored {
    hyp: Hypothesis,
    log_prob: f32,
    /// The LM's fused score (0 without an LM) and its state after the hypothesis' tokens.
    lm: f32,
    state: LmState,
}

impl Scored {
    /// The ranking score: summed log probability (plus the LM's score) over `length^alpha`
    /// (`<E>` counted).
    fn normalised(&self, alpha: f32) -> f32 {
        (self.log_prob + self.lm) / (self.hyp.probs.len().max(1) as f32).powf(alpha)
    }
}

/// Repeats every image's memory `width` times: row `b·width + k` is beam `k` of image `b`.
fn repeat_memory(memory: Memory, width: usize) -> Memory {
    let [b, s, d] = memory.features.dims();
    let features = memory
        .features
        .unsqueeze_dim::<4>(1)
        .repeat_dim(1, width)
        .reshape([b * width, s, d]);
    let mask = memory
        .mask
        .map(|m| m.repeat_dim(1, width).reshape([b * width, 1, 1, s]));
    let columns = memory
        .columns
        .iter()
        .flat_map(|&c| std::iter::repeat_n(c, width))
        .collect();
    Memory {
        features,
        mask,
        columns,
        rows: memory.rows,
    }
}

/// Beam search of `search.beam` beams per image; one beam is [`greedy`]. Hypotheses rank by
/// their log probability over `length^length_alpha` (0: raw sum, 1: mean per token); with a
/// CTC head and `ctc_weight` w > 0 the finished ones are rescored as
/// `(1 − w)·attention + w·CTC`, both length-normalised. A CTC-only model is read by its CTC
/// head ([`super::read_ctc`]: best path, or prefix beam search of `search.beam` prefixes).
/// With a character LM ([`DecodeConfig::lm`]) and more than one beam, every extension also
/// scores `lm_weight · ln P_LM + lm_bonus` (shallow fusion).
///
/// # Shapes
/// `memory: [B, S, d]`; `bounds` has one limit per image.
pub fn beam_search(
    model: &ResnetTransformer,
    memory: impl Into<Memory>,
    bounds: &Bounds,
    search: &DecodeConfig,
) -> Vec<Decoded> {
    let memory = memory.into();
    let (width, alpha) = (search.beam, search.length_alpha);
    let fusion = search.fusion();
    if model.is_ctc_only() {
        return read_ctc_fused(model, &memory, bounds, width, fusion.as_ref());
    }
    if width <= 1 {
        return greedy(model, memory, bounds);
    }
    let ctc = (search.ctc_weight > 0.0)
        .then(|| CtcTable::of(model, &memory))
        .flatten();
    let batch = memory.features.dims()[0];
    let device = memory.features.device();
    let longest = bounds.longest();
    let mut cache = model.start_cache_for(repeat_memory(memory, width), longest);
    // Live beams per image (at most `width`), each at a fixed row of the cache.
    let mut live: Vec<Vec<Scored>> = (0..batch)
        .map(|_| {
            vec![Scored {
                hyp: Hypothesis::default(),
                log_prob: 0.0,
                lm: 0.0,
                state: fusion.as_ref().map(|f| f.start()).unwrap_or_default(),
            }]
        })
        .collect();
    let mut done: Vec<Vec<Scored>> = vec![Vec::new(); batch];
    let mut input = vec![PAD as i64; batch * width];
    for b in 0..batch {
        input[b * width] = START as i64;
    }
    for _ in 1..longest {
        let logits = model.step(column(&input, &device), &mut cache);
        let vocab = logits.dims()[1];
        let log_probs = log_softmax(logits, 1)
            .try_to_vec_as::<f32>()
            .expect("reading token log probabilities from the device");
        let mut parents: Vec<usize> = (0..batch * width).collect();
        input.fill(PAD as i64);
        for b in 0..batch {
            if live[b].is_empty() {
                continue;
            }
            // Every continuation of every live beam, best first: (fused score, the model's
            // log probability of the token, the LM's part, beam, token).
            let mut candidates: Vec<(f32, f32, f32, usize, usize)> = Vec::new();
            for (k, beam) in live[b].iter().enumerate() {
                let row = &log_probs[(b * width + k) * vocab..(b * width + k + 1) * vocab];
                candidates.extend(row.iter().enumerate().map(|(v, &lp)| {
                    let lm = fusion.as_ref().map_or(0.0, |f| f.extend(beam.state, v).0);
                    (beam.log_prob + beam.lm + lp + lm, lp, lm, k, v)
                }));
            }
            candidates.sort_by(|x, y| y.0.total_cmp(&x.0));
            let mut next: Vec<Scored> = Vec::with_capacity(width);
            for (_, lp, lm, k, v) in candidates {
                if next.len() == width {
                    break;
                }
                let parent = &live[b][k];
                let mut child = Scored {
                    hyp: parent.hyp.clone(),
                    log_prob: parent.log_prob + lp,
                    lm: parent.lm + lm,
                    state: fusion
                        .as_ref()
                        .map_or(parent.state, |f| f.extend(parent.state, v).1),
                };
                child.hyp.push(v, lp.exp(), bounds, b);
                match child.hyp.stop {
                    None => {
                        parents[b * width + next.len()] = b * width + k;
                        input[b * width + next.len()] = v as i64;
                        next.push(child);
                    }
                    Some(Stop::End) => done[b].push(child),
                    // A cut loop or a length limit: its probabilities are the kept tokens'.
                    Some(_) => {
                        child.log_prob = child.hyp.probs.iter().map(|p| p.ln()).sum();
                        done[b].push(child);
                    }
                }
            }
            live[b] = if done[b].len() >= width {
                Vec::new()
            } else {
                next
            };
        }
        if live.iter().all(Vec::is_empty) {
            break;
        }
        cache.reorder(&parents);
    }
    live.into_iter()
        .zip(done)
        .enumerate()
        .map(|(b, (live, mut done))| {
            // Beams still open at the limit compete as length-limited hypotheses.
            done.extend(live.into_iter().map(|mut s| {
                s.hyp.stop.get_or_insert(Stop::Length);
                s
            }));
            let score = |s: &Scored| match &ctc {
                Some(table) => {
                    let w = search.ctc_weight;
                    let length = (s.hyp.probs.len().max(1) as f32).powf(alpha);
                    let ctc = table.image(b).log_likelihood(&s.hyp.tokens) / length;
                    (1.0 - w) * s.normalised(alpha) + w * ctc
                }
                None => s.normalised(alpha),
            };
            done.into_iter()
                .map(|s| (score(&s), s))
                .max_by(|x, y| x.0.total_cmp(&y.0))
                .map_or_else(
                    || Hypothesis::default().into_decoded(),
                    |(_, s)| s.hyp.into_decoded(),
                )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::charset::END;
    use crate::model::ModelConfig;
    use burn::prelude::*;
    use burn::tensor::TensorData;

    /// Teacher-forced log probability of `tokens` then `<E>` for a one-image memory.
    fn log_prob(model: &ResnetTransformer, memory: &Memory, row: usize, tokens: &[usize]) -> f32 {
        let device = memory.features.device();
        let [_, s, d] = memory.features.dims();
        let one = Memory {
            features: memory.features.clone().slice([row..row + 1, 0..s, 0..d]),
            mask: memory
                .mask
                .clone()
                .map(|m| m.slice([row..row + 1, 0..1, 0..1, 0..s])),
            columns: vec![memory.columns[row]],
            rows: memory.rows,
        };
        let input: Vec<i64> = std::iter::once(START)
            .chain(tokens.iter().copied())
            .map(|t| t as i64)
            .collect();
        let n = input.len();
        let ids = Tensor::<2, Int>::from_data(TensorData::new(input, [1, n]), &device);
        let lp = log_softmax(model.decode(one, ids), 2)
            .try_to_vec_as::<f32>()
            .expect("reads");
        let vocab = lp.len() / n;
        tokens
            .iter()
            .copied()
            .chain(std::iter::once(END))
            .enumerate()
            .map(|(t, id)| lp[t * vocab + id])
            .sum()
    }

    #[test]
    fn beams_find_likelier_text_than_greedy_and_ignore_the_batch() {
        let device = Device::flex();
        device.seed(11);
        let cfg = ModelConfig {
            max_output_len: 16,
            ..ModelConfig::tiny()
        };
        let model = cfg.init(9, &device);
        let images =
            Tensor::<4>::random([3, 1, 32, 64], burn::tensor::Distribution::Default, &device);
        let memory = model.encode_padded(images.clone(), &[64, 48, 30]);
        let bounds = Bounds::uniform(3, 16);
        let g = greedy(&model, memory.clone(), &bounds);
        let search = |beam, length_alpha| DecodeConfig {
            beam,
            length_alpha,
            ..DecodeConfig::default()
        };
        assert_eq!(
            beam_search(&model, memory.clone(), &bounds, &search(1, 1.0)),
            g
        );
        let wide = beam_search(&model, memory.clone(), &bounds, &search(4, 0.0));
        for (row, (w, g)) in wide.iter().zip(&g).enumerate() {
            if w.finished() && g.finished() {
                let (lw, lg) = (
                    log_prob(&model, &memory, row, &w.tokens),
                    log_prob(&model, &memory, row, &g.tokens),
                );
                assert!(lw >= lg - 1e-4, "row {row}: beam {lw} < greedy {lg}");
            }
        }
        // The last image alone reads as it does in the batch.
        let alone = model.encode_padded(images.slice([2..3, 0..1, 0..32, 0..64]), &[30]);
        let single = beam_search(&model, alone, &Bounds::uniform(1, 16), &search(4, 0.0));
        assert_eq!(single[0].tokens, wide[2].tokens);
    }
}
