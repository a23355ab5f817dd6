//! An in-memory data set of preprocessed items (the validation set). Images are decoded and
//! resized once, up front, so a broken file is reported before training starts.

use std::path::PathBuf;
use std::sync::Arc;

use burn::data::dataset::{Dataset, DatasetError};

use super::line_folder::Skipped;
use super::source::Loaded;
use crate::charset::{Charset, UnknownCharPolicy};
use crate::error::{Error, Result};
use crate::image::{Prepared, PreprocessConfig};

/// One training example.
#[derive(Clone, Debug)]
pub struct HtrItem {
    /// Preprocessed image.
    pub image: Prepared,
    /// `<S>` text `<E>`.
    pub tokens: Vec<usize>,
    /// The transcription.
    pub text: String,
}

/// What loading a data set kept and left out.
#[derive(Clone, Debug, Default)]
pub struct LoadReport {
    /// Samples loaded.
    pub loaded: usize,
    /// Samples left out, with reasons.
    pub skipped: Vec<Skipped>,
    /// Characters dropped or replaced by the unknown-character policy.
    pub unknown_chars: usize,
}

/// Preprocessed samples held in memory.
#[derive(Clone, Debug)]
pub struct HtrDataset {
    items: Arc<Vec<HtrItem>>,
}

impl HtrDataset {
    /// Prepares every sample of loaded sources (synthetic ones: `samples` draws with seeds
    /// `0..samples`, so a validation set is the same every epoch). Texts the alphabet rejects
    /// are skipped and reported; with `strict` the first is an error.
    pub fn from_loaded(
        sources: &[Loaded],
        preprocess: &PreprocessConfig,
        charset: &Charset,
        policy: UnknownCharPolicy,
        max_tokens: usize,
        strict: bool,
    ) -> Result<(Self, LoadReport)> {
        let mut report = LoadReport::default();
        let mut items = Vec::new();
        for source in sources {
            for i in 0..source.len() {
                let (image, text) = source.sample(i, i as u64);
                let origin = source.origin(i);
                let encoded = charset.encode(&text, policy, &origin).and_then(|enc| {
                    if enc.ids.len() > max_tokens {
                        Err(Error::config(
                            origin.clone(),
                            format!(
                                "{} tokens exceed the model's max_output_len {max_tokens}",
                                enc.ids.len()
                            ),
                        ))
                    } else {
                        Ok(enc)
                    }
                });
                match encoded {
                    Ok(enc) => {
                        report.unknown_chars += enc.unknown;
                        items.push(HtrItem {
                            image: preprocess.prepare(&image),
                            tokens: enc.ids,
                            text,
                        });
                    }
                    Err(e) if strict => return Err(e),
                    Err(e) => report.skipped.push(Skipped {
                        path: PathBuf::from(origin),
                        reason: e.to_string(),
                    }),
                }
            }
        }
        report.loaded = items.len();
        Ok((HtrDataset::from_items(items), report))
    }

    /// Wraps already prepared items.
    pub fn from_items(items: Vec<HtrItem>) -> Self {
        HtrDataset {
            items: Arc::new(items),
        }
    }

    /// The distinct items.
    pub fn items(&self) -> &[HtrItem] {
        &self.items
    }
}

impl Dataset<HtrItem> for HtrDataset {
    /// Panics when `index >= len()`, as burn's `Dataset` contract says.
    fn get(&self, index: usize) -> Result<HtrItem, DatasetError> {
        Ok(self.items[index].clone())
    }

    fn len(&self) -> usize {
        self.items.len()
    }
}
