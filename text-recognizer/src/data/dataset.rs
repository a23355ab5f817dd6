//! An in-memory data set of preprocessed items. Images are decoded and resized once, up front,
//! so a broken file is reported before training starts instead of failing mid-epoch.

use std::path::PathBuf;
use std::sync::Arc;

use burn::data::dataset::{Dataset, DatasetError};

use super::line_folder::{SampleRef, Skipped};
use super::source::Loaded;
use crate::charset::{Charset, UnknownCharPolicy};
use crate::error::{Error, Result};
use crate::image::{Prepared, PreprocessConfig, open_image};

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

/// Preprocessed samples held in memory, optionally repeated to a fixed epoch length.
#[derive(Clone, Debug)]
pub struct HtrDataset {
    items: Arc<Vec<HtrItem>>,
    len: usize,
}

impl HtrDataset {
    /// Decodes, preprocesses and encodes `samples`. Unreadable images and texts the policy
    /// rejects are skipped and reported; with `strict`, the first one is an error instead.
    pub fn load(
        samples: &[SampleRef],
        preprocess: &PreprocessConfig,
        charset: &Charset,
        policy: UnknownCharPolicy,
        max_tokens: usize,
        strict: bool,
    ) -> Result<(Self, LoadReport)> {
        let mut report = LoadReport::default();
        let mut items = Vec::with_capacity(samples.len());
        for s in samples {
            let context = s.image.display().to_string();
            let item = open_image(&s.image).and_then(|img| {
                let enc = charset.encode(&s.text, policy, &context)?;
                if enc.ids.len() > max_tokens {
                    return Err(Error::config(
                        context.clone(),
                        format!(
                            "{} tokens exceed the model's max_output_len {max_tokens}",
                            enc.ids.len()
                        ),
                    ));
                }
                report.unknown_chars += enc.unknown;
                Ok(HtrItem {
                    image: preprocess.prepare(&img),
                    tokens: enc.ids,
                    text: s.text.clone(),
                })
            });
            match item {
                Ok(item) => items.push(item),
                Err(e) if strict => return Err(e),
                Err(e) => {
                    tracing::warn!("skipping {}: {e}", s.image.display());
                    report.skipped.push(Skipped {
                        path: PathBuf::from(&s.image),
                        reason: e.to_string(),
                    });
                }
            }
        }
        report.loaded = items.len();
        Ok((HtrDataset::from_items(items), report))
    }

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
        let len = items.len();
        HtrDataset {
            items: Arc::new(items),
            len,
        }
    }

    /// The distinct items.
    pub fn items(&self) -> &[HtrItem] {
        &self.items
    }

    /// The same items cycled to `len` samples per epoch (the loader reshuffles them).
    pub fn with_epoch_len(mut self, len: usize) -> Self {
        if !self.items.is_empty() {
            self.len = len;
        }
        self
    }
}

impl Dataset<HtrItem> for HtrDataset {
    /// Panics when `index >= len()`, as burn's `Dataset` contract says.
    fn get(&self, index: usize) -> Result<HtrItem, DatasetError> {
        assert!(
            index < self.len,
            "index {index} out of bounds for {} samples",
            self.len
        );
        Ok(self.items[index % self.items.len()].clone())
    }

    fn len(&self) -> usize {
        self.len
    }
}
