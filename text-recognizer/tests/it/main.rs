//! Integration tests of the library's data sources on fixtures (one test binary).

mod configs;
mod iam;
mod line_folders;
mod pages;
mod segmentation;

use std::path::{Path, PathBuf};

/// The repository root; `../shared` sits beside it.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}
