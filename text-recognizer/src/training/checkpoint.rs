//! Checkpoint files that are whole or absent.
//!
//! burn's `FileCheckpointer` writes a record straight to `NAME-N.bpk`, so a run killed while
//! saving leaves a truncated file that `--resume` would then try to load. Here a record is
//! written to a temporary name and renamed into place, so every `.bpk` file a resume sees is
//! complete, and a checkpoint counts only when its model, optimiser and scheduler files all
//! exist (they are written by three threads, not together).

use std::path::{Path, PathBuf};

use burn::train::checkpoint::{Checkpoint, Checkpointer, CheckpointerError};

/// The three records burn keeps per checkpoint.
pub const RECORDS: [&str; 3] = ["model", "optim", "scheduler"];

/// Writes `DIR/NAME-N.bpk` via `DIR/.NAME-N.bpk.tmp` and a rename.
#[derive(Clone, Debug)]
pub struct AtomicFileCheckpointer {
    directory: PathBuf,
    name: String,
}

impl AtomicFileCheckpointer {
    /// Records called `name` in `directory` (created on first save).
    pub fn new(directory: impl Into<PathBuf>, name: &str) -> Self {
        AtomicFileCheckpointer {
            directory: directory.into(),
            name: name.to_string(),
        }
    }

    fn path(&self, key: usize) -> PathBuf {
        record_path(&self.directory, &self.name, key)
    }
}

/// `DIR/NAME-KEY.bpk`.
pub fn record_path(directory: &Path, name: &str, key: usize) -> PathBuf {
    directory.join(format!("{name}-{key}.bpk"))
}

/// Keys (epochs or steps) for which every record in [`RECORDS`] exists in `directory`,
/// ascending.
pub fn complete_keys(directory: &Path) -> Vec<usize> {
    let mut keys: Vec<usize> = std::fs::read_dir(directory)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            name.strip_prefix("model-")?
                .strip_suffix(".bpk")?
                .parse()
                .ok()
        })
        .filter(|&k| {
            RECORDS
                .iter()
                .all(|r| record_path(directory, r, k).is_file())
        })
        .collect();
    keys.sort_unstable();
    keys
}

impl<R: Checkpoint> Checkpointer<R> for AtomicFileCheckpointer {
    fn save(&self, key: usize, record: R) -> Result<(), CheckpointerError> {
        std::fs::create_dir_all(&self.directory).map_err(CheckpointerError::IOError)?;
        let path = self.path(key);
        let tmp = self.directory.join(format!(".{}-{key}.bpk.tmp", self.name));
        record.save(tmp.clone())?;
        // The data must be on disk before the name says the file is complete.
        std::fs::File::open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(CheckpointerError::IOError)?;
        std::fs::rename(&tmp, &path).map_err(CheckpointerError::IOError)
    }

    fn restore(&self, key: usize) -> Result<R, CheckpointerError> {
        R::load(self.path(key))
    }

    fn delete(&self, key: usize) -> Result<(), CheckpointerError> {
        match std::fs::remove_file(self.path(key)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(CheckpointerError::IOError(e))
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_counts_only_when_all_its_records_exist() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        for r in RECORDS {
            std::fs::write(record_path(d, r, 3), b"x").expect("write");
        }
        std::fs::write(record_path(d, "model", 5), b"x").expect("write");
        std::fs::write(record_path(d, "optim", 5), b"x").expect("write");
        std::fs::write(d.join(".scheduler-5.bpk.tmp"), b"half").expect("write");
        assert_eq!(complete_keys(d), vec![3], "5 lacks its scheduler");
        assert!(complete_keys(&d.join("missing")).is_empty());
    }
}
