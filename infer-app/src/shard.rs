//! `--shard K/N`: a deterministic split of the inputs that needs no coordination.
//!
//! A file belongs to shard `hash(path) mod N`. Hashing (not the file's position in the list)
//! keeps every file in its shard when files are added or a machine sees the folder in a
//! different order; machines must name the inputs the same way (same relative paths).

use std::path::Path;
use std::str::FromStr;

use sha2::{Digest, Sha256};

/// Shard `index` (1-based) of `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("--shard {s:?}: expected K/N with 1 <= K <= N, e.g. 2/4");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let index: u64 = k.trim().parse().map_err(|_| bad())?;
        let count: u64 = n.trim().parse().map_err(|_| bad())?;
        if index == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl Shard {
    /// Whether `path` is this shard's.
    pub fn contains(&self, path: &Path) -> bool {
        let digest = Sha256::digest(path.to_string_lossy().as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        u64::from_le_bytes(first) % self.count == self.index - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_the_files() {
        let files: Vec<String> = (0..300).map(|i| format!("scans/page-{i}.png")).collect();
        let shards: Vec<Shard> = (1..=3).map(|k| Shard { index: k, count: 3 }).collect();
        let mut sizes = [0; 3];
        for f in &files {
            let owners: Vec<usize> = (0..3)
                .filter(|&k| shards[k].contains(Path::new(f)))
                .collect();
            assert_eq!(owners.len(), 1, "{f} must be in exactly one shard");
            sizes[owners[0]] += 1;
        }
        assert!(sizes.iter().all(|&n| n > 70), "uneven split {sizes:?}");
        assert!("0/3".parse::<Shard>().is_err());
        assert!("4/3".parse::<Shard>().is_err());
        assert!("x".parse::<Shard>().is_err());
        assert_eq!("2/3".parse::<Shard>(), Ok(Shard { index: 2, count: 3 }));
    }
}
