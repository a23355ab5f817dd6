//! Turning the decoder's logits into token sequences.

mod greedy;

pub use greedy::{Decoded, greedy, greedy_uncached};
