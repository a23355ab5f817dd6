//! Training data: sources (line folders, ALTO/PAGE pages, IAM, synthetic lines and
//! paragraphs), the weighted mixture that feeds training with augmentation, the fixed
//! validation set, and the batcher that pads items into tensors.

pub mod augment;
mod batcher;
pub mod conventions;
mod dataset;
pub mod download;
pub mod iam;
mod line_folder;
mod mixture;
pub mod pages;
pub mod sheet;
mod source;
pub mod synthetic;

pub use augment::AugmentConfig;
pub use batcher::{HtrBatch, HtrBatcher};
pub use conventions::Conventions;
pub use dataset::{HtrDataset, HtrItem, LoadReport};
pub use line_folder::{LineFolder, SampleRef, Skipped};
pub use mixture::MixtureDataset;
pub use source::{DataSource, LoadOptions, Loaded, TextSource, default_cache_dir};
