//! Data: reading labelled lines (line folders, ALTO/PAGE pages) for evaluation, and, with the
//! `train` feature, the training sources (IAM, synthetic lines and paragraphs), the weighted
//! mixture that feeds training with augmentation, the fixed validation set, and the batcher
//! that pads items into tensors.

use std::path::PathBuf;

#[cfg(feature = "train")]
pub mod augment;
#[cfg(feature = "train")]
mod batcher;
pub mod conventions;
#[cfg(feature = "train")]
mod dataset;
#[cfg(feature = "download")]
pub mod download;
#[cfg(feature = "download")]
pub mod htr_united;
#[cfg(feature = "train")]
pub mod iam;
mod line_folder;
#[cfg(feature = "train")]
mod mixture;
pub mod pages;
#[cfg(feature = "train")]
pub mod sheet;
#[cfg(feature = "train")]
mod source;
#[cfg(feature = "train")]
pub mod synthetic;

#[cfg(feature = "train")]
pub use augment::AugmentConfig;
#[cfg(feature = "train")]
pub use batcher::{HtrBatch, HtrBatcher};
pub use conventions::Conventions;
#[cfg(feature = "train")]
pub use dataset::{HtrDataset, HtrItem, LoadReport};
pub use line_folder::{LineFolder, SampleRef, Skipped};
#[cfg(feature = "train")]
pub use mixture::MixtureDataset;
#[cfg(feature = "train")]
pub use source::{DataSource, LoadOptions, Loaded, TextSource};

/// Where downloads, processed data and fetched models live: `$HTR_CACHE`, else
/// `~/.cache/text-recognizer`.
pub fn default_cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("HTR_CACHE") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".cache").join("text-recognizer")
}
