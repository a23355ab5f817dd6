//! Training data: sources that list (image, transcription) pairs, an in-memory data set of
//! preprocessed items, and the batcher that pads them into tensors.

mod batcher;
mod dataset;
mod line_folder;

pub use batcher::{HtrBatch, HtrBatcher};
pub use dataset::{HtrDataset, HtrItem, LoadReport};
pub use line_folder::{LineFolder, SampleRef, Skipped};
