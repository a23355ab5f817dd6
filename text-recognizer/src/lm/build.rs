//! Counting n-grams and smoothing them: interpolated modified Kneser-Ney (Chen & Goodman 1998:
//! three discounts per order, continuation counts below the top order) or interpolated
//! Witten-Bell.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::{BITS, BOS, CharLm, EOS, FIRST_CHAR, FastMap, MAX_ORDER, mask, pack};
use crate::error::{Error, Result};

/// How unseen n-grams get their share of the probability.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Smoothing {
    /// Interpolated modified Kneser-Ney.
    KneserNey,
    /// Interpolated Witten-Bell.
    WittenBell,
}

impl std::str::FromStr for Smoothing {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "kneser-ney" | "kn" => Ok(Smoothing::KneserNey),
            "witten-bell" | "wb" => Ok(Smoothing::WittenBell),
            other => Err(format!("smoothing {other:?}: kneser-ney or witten-bell")),
        }
    }
}

/// The three discounts of one order (counts 1, 2, 3 and more).
fn discounts(counts: &FastMap<f64>) -> [f64; 3] {
    let mut n = [0f64; 4];
    for &c in counts.values() {
        let c = c.round() as usize;
        if (1..=4).contains(&c) {
            n[c - 1] += 1.0;
        }
    }
    let y = if n[0] + 2.0 * n[1] > 0.0 {
        n[0] / (n[0] + 2.0 * n[1])
    } else {
        0.5
    };
    // Where a count of counts is zero (tiny corpora) the formula breaks; keep each discount
    // inside (0, its count].
    let d = |k: usize| {
        let value = if n[k - 1] > 0.0 {
            k as f64 - (k + 1) as f64 * y * n[k] / n[k - 1]
        } else {
            0.5
        };
        value.clamp(0.05, k as f64)
    };
    [d(1), d(2), d(3)]
}

impl CharLm {
    /// Builds an `order`-gram model (1 to [`MAX_ORDER`]) from `lines` of text, taken as they
    /// are (normalise them first, as the model's alphabet is).
    pub fn build<'a>(
        lines: impl IntoIterator<Item = &'a str>,
        order: usize,
        smoothing: Smoothing,
    ) -> Result<Self> {
        CharLm::build_pruned(lines, order, smoothing, 1)
    }

    /// [`CharLm::build`], leaving n-grams of two characters or more seen fewer than
    /// `min_count` times to the backoff (their contexts' backoff weights renormalised, so each
    /// next-character distribution still sums to one): a smaller file for a little accuracy.
    pub fn build_pruned<'a>(
        lines: impl IntoIterator<Item = &'a str>,
        order: usize,
        smoothing: Smoothing,
        min_count: usize,
    ) -> Result<Self> {
        if !(1..=MAX_ORDER).contains(&order) {
            return Err(Error::config(
                "lm order",
                format!("{order}: from 1 to {MAX_ORDER}"),
            ));
        }
        let mut index: HashMap<char, u16> = HashMap::new();
        let mut chars = Vec::new();
        // Top-order counts: each predicted symbol (characters and the end) with its context.
        let mut top: FastMap<f64> = FastMap::default();
        let mut symbols = Vec::new();
        let mut lines_seen = 0usize;
        for line in lines {
            symbols.clear();
            symbols.extend(std::iter::repeat_n(BOS, order - 1));
            for c in line.chars() {
                let next = FIRST_CHAR as usize + chars.len();
                let id = *index.entry(c).or_insert_with(|| {
                    chars.push(c);
                    next as u16
                });
                symbols.push(id);
            }
            if chars.len() + FIRST_CHAR as usize >= 1 << BITS {
                return Err(Error::config(
                    "lm text",
                    format!("over {} distinct characters", (1 << BITS) - 3),
                ));
            }
            symbols.push(EOS);
            for end in order - 1..symbols.len() {
                let key = symbols[end + 1 - order..=end]
                    .iter()
                    .fold(0u128, |k, &s| pack(k, s));
                *top.entry(key).or_insert(0.0) += 1.0;
            }
            lines_seen += 1;
        }
        if lines_seen == 0 {
            return Err(Error::EmptyDataset {
                what: "language model text".into(),
            });
        }
        // counts[k − 1]: the counts smoothing uses for k-grams.
        let mut counts: Vec<FastMap<f64>> = vec![FastMap::default(); order];
        counts[order - 1] = top;
        for k in (1..order).rev() {
            let (lower, higher) = counts.split_at_mut(k);
            let target = &mut lower[k - 1];
            for (&key, &c) in higher[0].iter() {
                let suffix = key & mask(k);
                *target.entry(suffix).or_insert(0.0) += match smoothing {
                    // Continuation count: how many different characters precede it.
                    Smoothing::KneserNey => 1.0,
                    // Plain count: each occurrence of the longer n-gram is one of the shorter.
                    Smoothing::WittenBell => c,
                };
            }
        }

        let known = (chars.len() + 1) as f64; // the characters and the end
        let mut probs: FastMap<f32> = FastMap::default();
        let mut backoff: FastMap<f32> = FastMap::default();
        let mut floor = 0f64;
        // Lower orders first: each order interpolates with the one below it.
        let mut lower_prob: FastMap<f64> = FastMap::default();
        let mut lower_floor = 1.0 / (known + 1.0);
        let mut pruned_probs: Vec<(u128, f32)> = Vec::new();
        for k in 1..=order {
            let table = &counts[k - 1];
            let d = discounts(table);
            // Per context: total count, and the mass its discounts (or its variety) leave.
            let mut context_total: FastMap<f64> = FastMap::default();
            let mut context_mass: FastMap<f64> = FastMap::default();
            for (&key, &c) in table {
                let context = key >> BITS;
                *context_total.entry(context).or_insert(0.0) += c;
                *context_mass.entry(context).or_insert(0.0) += match smoothing {
                    Smoothing::KneserNey => d[(c.round() as usize).clamp(1, 3) - 1],
                    Smoothing::WittenBell => 1.0,
                };
            }
            let gamma = |context: u128| {
                let (total, mass) = (context_total[&context], context_mass[&context]);
                match smoothing {
                    Smoothing::KneserNey => (mass / total).min(1.0),
                    Smoothing::WittenBell => mass / (total + mass),
                }
            };
            let mut this_prob: FastMap<f64> = FastMap::default();
            // Per context, with pruning: the kept n-grams' probabilities, and what the shorter
            // context (as looked up, pruned too) gives the same characters.
            let pruning = min_count > 1 && k > 1;
            let mut kept: FastMap<(f64, f64)> = FastMap::default();
            for (&key, &c) in table {
                let context = key >> BITS;
                let below = if k == 1 {
                    lower_floor
                } else {
                    let suffix = key & mask(k - 1);
                    lower_prob.get(&suffix).copied().unwrap_or(lower_floor)
                };
                let total = context_total[&context];
                let own = match smoothing {
                    Smoothing::KneserNey => {
                        (c - d[(c.round() as usize).clamp(1, 3) - 1]).max(0.0) / total
                    }
                    Smoothing::WittenBell => c / (total + context_mass[&context]),
                };
                let p = own + gamma(context) * below;
                this_prob.insert(key, p);
                if !pruning {
                    probs.insert(key, p.ln() as f32);
                } else if c >= min_count as f64 {
                    let symbol = (key & 0xFFFF) as u16;
                    let shorter = context & mask(k - 2);
                    let below = f64::from(super::lookup(
                        &probs,
                        &backoff,
                        floor.ln() as f32,
                        shorter,
                        k - 2,
                        symbol,
                    ))
                    .exp();
                    let e = kept.entry(context).or_insert((0.0, 0.0));
                    e.0 += p;
                    e.1 += below;
                    pruned_probs.push((key, p.ln() as f32));
                }
            }
            probs.extend(pruned_probs.drain(..));
            if k == 1 {
                // The unigram's leftover mass, spread over the known symbols and an unknown one.
                floor = gamma(0) * lower_floor;
                lower_floor = floor;
            } else if !pruning {
                for &context in context_total.keys() {
                    backoff.insert(context, gamma(context).ln() as f32);
                }
            } else {
                // Unseen (or pruned) characters after `context` share what the kept ones leave,
                // in the proportions the shorter context gives them.
                for (context, (mass, below)) in kept {
                    let left = 1.0 - below;
                    let g = if left > 1e-9 {
                        ((1.0 - mass) / left).max(1e-12)
                    } else {
                        1.0
                    };
                    backoff.insert(context, g.ln() as f32);
                }
            }
            lower_prob = this_prob;
        }
        Ok(CharLm {
            order,
            smoothing,
            chars,
            index,
            probs,
            backoff,
            floor: floor.ln() as f32,
        })
    }
}
