//! The `.lm` file: little-endian, entries sorted by key (the same text gives the same bytes),
//! and a checksum at the end, so a truncated or damaged file is refused, not half-read.
//!
//! ```text
//! b"HTRCHLM\0" | u32 version | u8 order | u8 smoothing (0 Kneser-Ney, 1 Witten-Bell) | u16 0
//! | u32 characters | characters (u32 code points) | f32 floor
//! | u64 n-grams | (u128 key, f32 ln P) … | u64 contexts | (u128 key, f32 ln γ) …
//! | u64 FNV-1a of everything before
//! ```

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::{CharLm, FIRST_CHAR, FastMap, MAX_ORDER, Smoothing};
use crate::error::{Error, Result};

const MAGIC: &[u8; 8] = b"HTRCHLM\0";
const VERSION: u32 = 1;

/// FNV-1a, 64 bits: enough to tell a damaged file from a good one.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn put_table(out: &mut Vec<u8>, table: &FastMap<f32>) {
    let mut entries: Vec<(u128, f32)> = table.iter().map(|(&k, &v)| (k, v)).collect();
    entries.sort_unstable_by_key(|e| e.0);
    out.extend_from_slice(&(entries.len() as u64).to_le_bytes());
    for (key, value) in entries {
        out.extend_from_slice(&key.to_le_bytes());
        out.extend_from_slice(&value.to_le_bytes());
    }
}

/// Reads the fields in order, each one checked against what is left.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
    origin: &'a Path,
}

impl<'a> Reader<'a> {
    fn bad(&self, reason: impl Into<String>) -> Error {
        Error::BadLm {
            path: PathBuf::from(self.origin),
            reason: reason.into(),
        }
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or_else(|| self.bad(format!("truncated in its {what}")))?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    /// A table of log values, each finite and at most `max` (0 for probabilities; backoff
    /// weights of a pruned model may exceed 1, as in ARPA files).
    fn table(&mut self, what: &str, max: f32) -> Result<FastMap<f32>> {
        let n = u64::from_le_bytes(self.array(what)?);
        let n = usize::try_from(n).map_err(|_| self.bad(format!("{what}: count overflows")))?;
        // Each entry is 20 bytes: a count past the end is a damaged file, not an allocation.
        if n.saturating_mul(20) > self.bytes.len() - self.at {
            return Err(self.bad(format!("truncated in its {what}")));
        }
        let mut table = FastMap::default();
        table.reserve(n);
        for _ in 0..n {
            let key = u128::from_le_bytes(self.array(what)?);
            let value = f32::from_le_bytes(self.array(what)?);
            if !(value.is_finite() && value <= max) {
                return Err(self.bad(format!("{what}: log probability {value}")));
            }
            table.insert(key, value);
        }
        Ok(table)
    }
}

impl CharLm {
    /// The file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + 20 * (self.probs.len() + self.backoff.len()));
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.push(self.order as u8);
        out.push(match self.smoothing {
            Smoothing::KneserNey => 0,
            Smoothing::WittenBell => 1,
        });
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&(self.chars.len() as u32).to_le_bytes());
        for &c in &self.chars {
            out.extend_from_slice(&u32::from(c).to_le_bytes());
        }
        out.extend_from_slice(&self.floor.to_le_bytes());
        put_table(&mut out, &self.probs);
        put_table(&mut out, &self.backoff);
        let sum = fnv1a(&out);
        out.extend_from_slice(&sum.to_le_bytes());
        out
    }

    /// Writes the file (atomically: a reader never sees half of it).
    pub fn save(&self, path: &Path) -> Result<()> {
        crate::atomic_file::write_atomic(path, &self.to_bytes())
    }

    /// Reads an `.lm` file.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        CharLm::from_bytes(&bytes, path)
    }

    /// Parses an `.lm` file's bytes; `origin` names it in errors.
    pub fn from_bytes(bytes: &[u8], origin: &Path) -> Result<Self> {
        let mut r = Reader {
            bytes,
            at: 0,
            origin,
        };
        if r.take(8, "header")? != MAGIC {
            return Err(r.bad("missing HTRCHLM header (not an .lm file)"));
        }
        let version = u32::from_le_bytes(r.array("header")?);
        if version != VERSION {
            return Err(r.bad(format!(
                "format version {version}, this build reads {VERSION}"
            )));
        }
        if bytes.len() < 8 + 8 {
            return Err(r.bad("truncated"));
        }
        let (body, sum) = bytes.split_at(bytes.len() - 8);
        let mut stored = [0u8; 8];
        stored.copy_from_slice(sum);
        if fnv1a(body) != u64::from_le_bytes(stored) {
            return Err(r.bad("checksum mismatch (truncated or damaged)"));
        }
        r.bytes = body;
        let [order, smoothing] = r.array::<2>("header")?;
        let order = usize::from(order);
        if !(1..=MAX_ORDER).contains(&order) {
            return Err(r.bad(format!("order {order}")));
        }
        let smoothing = match smoothing {
            0 => Smoothing::KneserNey,
            1 => Smoothing::WittenBell,
            other => return Err(r.bad(format!("smoothing {other}"))),
        };
        r.take(2, "header")?;
        let n_chars = u32::from_le_bytes(r.array("alphabet")?) as usize;
        if n_chars + FIRST_CHAR as usize > usize::from(u16::MAX) {
            return Err(r.bad(format!("{n_chars} characters")));
        }
        let mut chars = Vec::with_capacity(n_chars.min(bytes.len() / 4));
        let mut index = HashMap::new();
        for i in 0..n_chars {
            let code = u32::from_le_bytes(r.array("alphabet")?);
            let c = char::from_u32(code)
                .ok_or_else(|| r.bad(format!("U+{code:X} is not a character")))?;
            if index.insert(c, FIRST_CHAR + i as u16).is_some() {
                return Err(r.bad(format!("{c:?} twice in the alphabet")));
            }
            chars.push(c);
        }
        let floor = f32::from_le_bytes(r.array("floor")?);
        if !(floor.is_finite() && floor < 0.0) {
            return Err(r.bad(format!("floor {floor}")));
        }
        let probs = r.table("n-grams", 1e-4)?;
        let backoff = r.table("backoff weights", f32::MAX)?;
        if r.at != body.len() {
            return Err(r.bad("bytes after the tables"));
        }
        Ok(CharLm {
            order,
            smoothing,
            chars,
            index,
            probs,
            backoff,
            floor,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lm() -> CharLm {
        CharLm::build(
            ["fait et écrit de ma main", "je lègue à ma femme"],
            4,
            Smoothing::KneserNey,
        )
        .expect("builds")
    }

    #[test]
    fn a_saved_model_loads_as_it_was_and_saves_the_same_bytes() {
        let pruned = CharLm::build_pruned(
            [
                "fait et écrit de ma main",
                "je lègue à ma femme",
                "fait à Paris",
            ],
            5,
            Smoothing::KneserNey,
            2,
        )
        .expect("builds");
        // Pruning renormalises the backoff weights, and some then exceed 1: still a valid file.
        assert!(pruned.backoff.values().any(|&w| w > 0.0));
        for lm in [lm(), pruned] {
            let bytes = lm.to_bytes();
            let back = CharLm::from_bytes(&bytes, Path::new("x.lm")).expect("loads");
            assert_eq!(back, lm);
            assert_eq!(back.to_bytes(), bytes);
        }
    }

    #[test]
    fn truncated_damaged_and_foreign_files_are_refused_by_name() {
        let bytes = lm().to_bytes();
        for (what, damaged) in [
            ("truncated", bytes[..bytes.len() / 2].to_vec()),
            ("tail cut", bytes[..bytes.len() - 1].to_vec()),
            ("flipped", {
                let mut b = bytes.clone();
                let mid = b.len() / 2;
                b[mid] ^= 0x40;
                b
            }),
            ("foreign", b"HTRMODEL\x01\0\0\0 and then some".to_vec()),
            ("empty", Vec::new()),
        ] {
            let err = CharLm::from_bytes(&damaged, Path::new("corpus.lm"))
                .expect_err(what)
                .to_string();
            assert!(
                err.contains("corpus.lm") && err.contains("not a valid character language model"),
                "{what}: {err}"
            );
        }
    }
}
