//! Character n-gram language models for reading: built from transcriptions
//! ([`CharLm::build`]), saved in a small binary file ([`CharLm::save`]), and asked for
//! `ln P(next character | the characters before it)` during beam search
//! (shallow fusion through [`crate::decode::TokenLm`]).
//!
//! The model is stored in backoff form: every n-gram seen in the text holds its smoothed
//! (interpolated) probability and every context its backoff weight, so one lookup answers a seen
//! n-gram and each shorter context is one more hash probe. Lines are padded on the left with
//! `order − 1` start symbols and end with an end symbol, so the model also knows how lines begin
//! and end.

mod build;
mod corpus;
mod file;

use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use rustc_hash::FxHasher;

pub use build::Smoothing;
pub use corpus::{corpus_lines, normalise};

/// Hash maps keyed by packed n-grams: Fx is a multiply and a rotate per word, several times
/// cheaper than SipHash for the short integer keys probed at every beam extension.
type FastMap<V> = HashMap<u128, V, BuildHasherDefault<FxHasher>>;

/// Bits per symbol in a packed key; symbol 0 never occurs, so keys of different lengths differ.
const BITS: u32 = 16;
/// Longest n-gram a packed `u128` key holds.
pub const MAX_ORDER: usize = (128 / BITS) as usize;
/// The start-of-line symbol (left padding).
const BOS: u16 = 1;
/// The end-of-line symbol.
const EOS: u16 = 2;
/// The first character's symbol.
const FIRST_CHAR: u16 = 3;

/// A character n-gram model.
#[derive(Clone, PartialEq)]
pub struct CharLm {
    order: usize,
    smoothing: Smoothing,
    /// The characters it knows; character `i` is symbol `FIRST_CHAR + i`.
    chars: Vec<char>,
    index: HashMap<char, u16>,
    /// `ln P(w | h)` of every seen n-gram `h w` (all orders), keyed by [`pack`].
    probs: FastMap<f32>,
    /// `ln γ(h)` of every seen context `h` (lengths 1 to `order − 1`).
    backoff: FastMap<f32>,
    /// `ln` of the probability of a symbol the text never showed: the unigram's backoff mass
    /// spread evenly over the known symbols and one unknown.
    floor: f32,
}

// Its tables run to millions of entries: debug output (of a recognizer, say) says what it is.
impl std::fmt::Debug for CharLm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CharLm")
            .field("order", &self.order)
            .field("smoothing", &self.smoothing)
            .field("chars", &self.chars.len())
            .field("ngrams", &self.probs.len())
            .field("contexts", &self.backoff.len())
            .finish()
    }
}

/// The characters before the next one, packed (the last `order − 1` symbols). `Copy`, so a
/// beam carries its own without allocating.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct LmState(u128);

/// A symbol of the model: a known character, the end of the line, or something it never saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LmSymbol(u16);

impl LmSymbol {
    /// The end of a line.
    pub const END: LmSymbol = LmSymbol(EOS);
    /// A character the model does not know (it gets the floor probability).
    pub const UNKNOWN: LmSymbol = LmSymbol(0);
}

/// The low `n` symbols of a packed key.
fn mask(n: usize) -> u128 {
    if n >= MAX_ORDER {
        u128::MAX
    } else {
        (1u128 << (BITS as usize * n)) - 1
    }
}

/// `context` then `symbol`, as one key.
fn pack(context: u128, symbol: u16) -> u128 {
    (context << BITS) | u128::from(symbol)
}

/// `ln P(symbol | context)` for a `context` of `len` symbols, from the tables as they stand
/// (building uses it on the orders built so far).
fn lookup(
    probs: &FastMap<f32>,
    backoff: &FastMap<f32>,
    floor: f32,
    context: u128,
    len: usize,
    symbol: u16,
) -> f32 {
    let mut weight = 0.0;
    for k in (0..=len).rev() {
        let context = context & mask(k);
        if k > 0 && (context >> (BITS as usize * (k - 1))) & 0xFFFF == 0 {
            // The context reaches past an unknown character: only shorter ones can match.
            continue;
        }
        if symbol != 0
            && let Some(&p) = probs.get(&pack(context, symbol))
        {
            return weight + p;
        }
        if k > 0
            && let Some(&g) = backoff.get(&context)
        {
            weight += g;
        }
    }
    weight + floor
}

impl CharLm {
    /// The n-gram order (characters of context + 1).
    pub fn order(&self) -> usize {
        self.order
    }

    /// How it was smoothed.
    pub fn smoothing(&self) -> Smoothing {
        self.smoothing
    }

    /// The characters it knows.
    pub fn chars(&self) -> &[char] {
        &self.chars
    }

    /// Number of n-grams stored (all orders).
    pub fn ngrams(&self) -> usize {
        self.probs.len()
    }

    /// The state at the start of a line.
    pub fn start(&self) -> LmState {
        let mut state = 0u128;
        for _ in 1..self.order {
            state = pack(state, BOS);
        }
        LmState(state)
    }

    /// The symbol of `c` ([`LmSymbol::UNKNOWN`] when the text never had it).
    pub fn symbol(&self, c: char) -> LmSymbol {
        self.index
            .get(&c)
            .map_or(LmSymbol::UNKNOWN, |&i| LmSymbol(i))
    }

    /// The state after `symbol` follows `state`.
    pub fn advance(&self, state: LmState, symbol: LmSymbol) -> LmState {
        // An unknown character still takes a place in the context (as the unknown symbol 0 it
        // matches no stored n-gram, so the model backs off past it).
        LmState(pack(state.0, symbol.0) & mask(self.order - 1))
    }

    /// `ln P(symbol | state)`: the longest stored n-gram, after the backoff weights of the
    /// longer contexts that did not hold it. No allocation; at most `order` probes of each map.
    pub fn log_prob(&self, state: LmState, symbol: LmSymbol) -> f32 {
        lookup(
            &self.probs,
            &self.backoff,
            self.floor,
            state.0,
            self.order - 1,
            symbol.0,
        )
    }

    /// `ln P(text, then the end of the line)`: the sum over its characters.
    pub fn log_prob_line(&self, text: &str) -> f32 {
        let mut state = self.start();
        let mut total = 0.0;
        for c in text.chars() {
            let s = self.symbol(c);
            total += self.log_prob(state, s);
            state = self.advance(state, s);
        }
        total + self.log_prob(state, LmSymbol::END)
    }

    /// Bits per character of `lines` (the end of each line counted as one character): the
    /// measure by which orders and smoothings are compared on held-out text.
    pub fn bits_per_char<'a>(&self, lines: impl IntoIterator<Item = &'a str>) -> f64 {
        let (mut total, mut n) = (0f64, 0usize);
        for line in lines {
            total += f64::from(self.log_prob_line(line));
            n += line.chars().count() + 1;
        }
        -total / n.max(1) as f64 / std::f64::consts::LN_2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn corpus() -> Vec<String> {
        [
            "je lègue à ma femme tous mes biens",
            "je donne à mon fils ma maison",
            "fait et écrit de ma main",
            "je lègue à mon frère ma montre",
            "je soussigné déclare donner",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    #[test]
    fn in_corpus_strings_are_likelier_than_their_scrambles() {
        for smoothing in [Smoothing::KneserNey, Smoothing::WittenBell] {
            let lm =
                CharLm::build(corpus().iter().map(String::as_str), 5, smoothing).expect("builds");
            for line in ["je lègue à ma femme", "fait et écrit de ma main"] {
                let mut scrambled: Vec<char> = line.chars().collect();
                scrambled.reverse();
                let scrambled: String = scrambled.into_iter().collect();
                let (a, b) = (lm.log_prob_line(line), lm.log_prob_line(&scrambled));
                assert!(
                    a > b + 5.0,
                    "{smoothing:?}: {line:?} {a} vs {scrambled:?} {b}"
                );
            }
        }
    }

    #[test]
    fn next_character_probabilities_sum_to_one_pruned_or_not() {
        for (smoothing, min_count) in [
            (Smoothing::KneserNey, 1),
            (Smoothing::WittenBell, 1),
            (Smoothing::KneserNey, 2),
            (Smoothing::WittenBell, 3),
        ] {
            let lm =
                CharLm::build_pruned(corpus().iter().map(String::as_str), 4, smoothing, min_count)
                    .expect("builds");
            if min_count > 1 {
                let full = CharLm::build(corpus().iter().map(String::as_str), 4, smoothing)
                    .expect("builds");
                assert!(lm.ngrams() < full.ngrams(), "pruning keeps fewer n-grams");
            }
            for context in ["", "je l", "ma m", "zzz", "xq"] {
                let mut state = lm.start();
                for c in context.chars() {
                    state = lm.advance(state, lm.symbol(c));
                }
                // Every known character, the end, and the one unknown symbol.
                let total: f64 = lm
                    .chars()
                    .iter()
                    .map(|&c| lm.symbol(c))
                    .chain([LmSymbol::END, LmSymbol::UNKNOWN])
                    .map(|s| f64::from(lm.log_prob(state, s)).exp())
                    .sum();
                assert!(
                    (total - 1.0).abs() < 1e-3,
                    "{smoothing:?} (min count {min_count}) after {context:?}: {total}"
                );
            }
        }
    }

    #[test]
    fn unknown_characters_get_the_floor_and_do_not_break_the_context() {
        let lm = CharLm::build(corpus().iter().map(String::as_str), 3, Smoothing::KneserNey)
            .expect("builds");
        assert_eq!(lm.symbol('Ж'), LmSymbol::UNKNOWN);
        let p = lm.log_prob_line("je Ж lègue");
        assert!(p.is_finite() && p < lm.log_prob_line("je lègue"));
    }
}
