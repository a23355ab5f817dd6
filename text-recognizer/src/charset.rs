//! The character set: four special tokens plus an alphabet that travels inside every staged
//! model, so a model for French, English or any script decodes its own ids.
//!
//! Token ids follow FSDL 2022: `<B>` 0 (CTC blank, kept for parity), `<S>` 1, `<E>` 2, `<P>` 3,
//! then the alphabet in order.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// CTC blank token id (unused by the attention decoder, kept so ids match FSDL's).
pub const BLANK: usize = 0;
/// Start-of-sequence token id.
pub const START: usize = 1;
/// End-of-sequence token id.
pub const END: usize = 2;
/// Padding token id.
pub const PAD: usize = 3;
/// Number of special tokens before the alphabet.
pub const NUM_SPECIAL: usize = 4;

/// What to do with a character that is not in the alphabet when encoding training text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum UnknownCharPolicy {
    /// Reject the sample with an error naming the character.
    #[default]
    Fail,
    /// Drop the character and count it.
    Skip,
    /// Replace it by the given character (which must be in the alphabet).
    Replace(char),
}

/// An alphabet plus the special tokens.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<char>", into = "Vec<char>")]
pub struct Charset {
    chars: Vec<char>,
    index: BTreeMap<char, usize>,
}

impl TryFrom<Vec<char>> for Charset {
    type Error = Error;

    fn try_from(chars: Vec<char>) -> Result<Self> {
        Charset::new(chars)
    }
}

impl From<Charset> for Vec<char> {
    fn from(cs: Charset) -> Self {
        cs.chars
    }
}

/// The result of encoding a text: token ids and how many characters were dropped or replaced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Encoded {
    /// `<S>`, the characters, `<E>`.
    pub ids: Vec<usize>,
    /// Characters not in the alphabet that the policy skipped or replaced.
    pub unknown: usize,
}

impl Charset {
    /// Builds a charset from an ordered alphabet. Duplicates are an error.
    pub fn new(chars: impl IntoIterator<Item = char>) -> Result<Self> {
        let chars: Vec<char> = chars.into_iter().collect();
        let mut index = BTreeMap::new();
        for (i, &c) in chars.iter().enumerate() {
            if index.insert(c, i + NUM_SPECIAL).is_some() {
                return Err(Error::config(
                    "charset",
                    format!("duplicate character {c:?}"),
                ));
            }
        }
        Ok(Charset { chars, index })
    }

    /// The smallest alphabet covering `texts`, sorted by code point.
    pub fn from_texts<'a>(texts: impl IntoIterator<Item = &'a str>) -> Self {
        let mut set: Vec<char> = texts.into_iter().flat_map(str::chars).collect();
        set.sort_unstable();
        set.dedup();
        let index = set
            .iter()
            .enumerate()
            .map(|(i, &c)| (c, i + NUM_SPECIAL))
            .collect();
        Charset { chars: set, index }
    }

    /// FSDL 2022's paragraph mapping: 84 tokens (EMNIST digits and letters, 17 IAM symbols,
    /// newline).
    pub fn fsdl_paragraph() -> Self {
        let mut chars: Vec<char> = ('0'..='9').chain('A'..='Z').chain('a'..='z').collect();
        chars.extend(" !\"#&'()*+,-./:;?".chars());
        chars.push('\n');
        Charset::new(chars).unwrap_or_else(|_| unreachable!("the FSDL alphabet has no duplicates"))
    }

    /// Vocabulary size including the special tokens.
    pub fn vocab_size(&self) -> usize {
        self.chars.len() + NUM_SPECIAL
    }

    /// The alphabet, in id order.
    pub fn chars(&self) -> &[char] {
        &self.chars
    }

    /// Whether `c` is in the alphabet.
    pub fn contains(&self, c: char) -> bool {
        self.index.contains_key(&c)
    }

    /// The token id of `c`, if it is in the alphabet.
    pub fn id(&self, c: char) -> Option<usize> {
        self.index.get(&c).copied()
    }

    /// Encodes `text` as `<S> chars… <E>`. `context` names the text's origin in errors.
    pub fn encode(&self, text: &str, policy: UnknownCharPolicy, context: &str) -> Result<Encoded> {
        let mut ids = Vec::with_capacity(text.chars().count() + 2);
        ids.push(START);
        let mut unknown = 0;
        for c in text.chars() {
            match self.index.get(&c) {
                Some(&id) => ids.push(id),
                None => {
                    unknown += 1;
                    match policy {
                        UnknownCharPolicy::Fail => {
                            return Err(Error::UnknownChar {
                                context: context.to_string(),
                                ch: c,
                                code: c as u32,
                            });
                        }
                        UnknownCharPolicy::Skip => {}
                        UnknownCharPolicy::Replace(r) => match self.index.get(&r) {
                            Some(&id) => ids.push(id),
                            None => {
                                return Err(Error::config(
                                    "unknown_chars",
                                    format!("replacement {r:?} is not in the alphabet"),
                                ));
                            }
                        },
                    }
                }
            }
        }
        ids.push(END);
        Ok(Encoded { ids, unknown })
    }

    /// Decodes ids to text: stops at `<E>`, drops `<S>`, `<P>` and `<B>`.
    pub fn decode(&self, ids: &[usize]) -> String {
        self.decode_scored(ids, &[]).0
    }

    /// [`Charset::decode`] keeping each character's score: `scores[i]` belongs to `ids[i]`
    /// (missing scores count as 1).
    pub fn decode_scored(&self, ids: &[usize], scores: &[f32]) -> (String, Vec<f32>) {
        let mut text = String::new();
        let mut kept = Vec::new();
        for (i, &id) in ids.iter().enumerate().take_while(|&(_, &id)| id != END) {
            if let Some(&c) = id.checked_sub(NUM_SPECIAL).and_then(|i| self.chars.get(i)) {
                text.push(c);
                kept.push(scores.get(i).copied().unwrap_or(1.0));
            }
        }
        (text, kept)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fsdl_mapping_has_84_tokens() {
        let cs = Charset::fsdl_paragraph();
        assert_eq!(cs.vocab_size(), 84);
        assert_eq!(
            cs.encode("0", UnknownCharPolicy::Fail, "t")
                .ok()
                .map(|e| e.ids),
            Some(vec![START, 4, END])
        );
        assert_eq!(
            cs.encode("\n", UnknownCharPolicy::Fail, "t")
                .ok()
                .map(|e| e.ids),
            Some(vec![START, 83, END])
        );
    }

    #[test]
    fn round_trips_accents() {
        let cs = Charset::from_texts(["légère œuvre", "ça"]);
        let enc = cs
            .encode("ça légère", UnknownCharPolicy::Fail, "t")
            .expect("encodes");
        assert_eq!(cs.decode(&enc.ids[1..]), "ça légère");
    }

    #[test]
    fn unknown_chars_follow_the_policy() {
        let cs = Charset::from_texts(["abc "]);
        let err = cs
            .encode("abz", UnknownCharPolicy::Fail, "x.gt.txt")
            .expect_err("must fail");
        assert!(err.to_string().contains("x.gt.txt") && err.to_string().contains("'z'"));
        let enc = cs
            .encode("abz", UnknownCharPolicy::Skip, "t")
            .expect("skips");
        assert_eq!((enc.ids.len(), enc.unknown), (4, 1));
        let enc = cs
            .encode("abz", UnknownCharPolicy::Replace(' '), "t")
            .expect("replaces");
        assert_eq!(cs.decode(&enc.ids[1..]), "ab ");
    }

    #[test]
    fn decode_stops_at_end_and_skips_specials() {
        let cs = Charset::from_texts(["ab"]);
        assert_eq!(cs.decode(&[START, 4, PAD, 5, END, 4]), "ab");
        let (text, scores) = cs.decode_scored(&[START, 4, PAD, 5, END, 4], &[1.0, 0.5, 0.1, 0.25]);
        assert_eq!((text.as_str(), scores), ("ab", vec![0.5, 0.25]));
    }

    #[test]
    fn duplicates_are_rejected() {
        assert!(Charset::new("aba".chars()).is_err());
    }
}
