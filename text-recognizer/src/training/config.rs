//! The training configuration, read from a RON file (`train-app train --config FILE.ron`).
//! Every field but the data, epochs and batch size has a default, so configs stay short.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::charset::{Charset, UnknownCharPolicy};
use crate::data::{AugmentConfig, DataSource};
use crate::error::{Error, Result};
use crate::model::{Preset, PresetName};
use crate::ron_file::from_ron;

/// Where the architecture comes from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
// One per config, read once: the size of the inline preset costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
pub enum ModelSpec {
    /// A shipped preset.
    Preset(PresetName),
    /// A preset file (same format as `text-recognizer/presets/*.ron`).
    File(PathBuf),
    /// Written out in the config.
    Inline(Preset),
}

impl ModelSpec {
    /// Resolves to a preset.
    pub fn resolve(&self) -> Result<Preset> {
        match self {
            ModelSpec::Preset(name) => Ok(Preset::named(*name)),
            ModelSpec::File(path) => Preset::load(path),
            ModelSpec::Inline(preset) => {
                preset
                    .model
                    .validate()
                    .map_err(|e| Error::config("model", e))?;
                Ok(preset.clone())
            }
        }
    }
}

/// A training source and its share of each epoch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Component {
    /// The source.
    pub source: DataSource,
    /// Relative weight (e.g. 0.7 synthetic, 0.3 real).
    #[serde(default = "one")]
    pub weight: f64,
}

fn one() -> f64 {
    1.0
}

/// Where the alphabet comes from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum CharsetSpec {
    /// Every character of the training and validation transcriptions.
    #[default]
    FromData,
    /// FSDL's 84-token paragraph mapping.
    Fsdl,
    /// Exactly these characters, in this order.
    Chars(String),
}

impl CharsetSpec {
    /// Builds the charset; `texts` are used by [`CharsetSpec::FromData`].
    pub fn build<'a>(&self, texts: impl IntoIterator<Item = &'a str>) -> Result<Charset> {
        match self {
            CharsetSpec::FromData => Ok(Charset::from_texts(texts)),
            CharsetSpec::Fsdl => Ok(Charset::fsdl_paragraph()),
            CharsetSpec::Chars(chars) => Charset::new(chars.chars()),
        }
    }
}

/// Optimiser and schedule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OptimConfig {
    /// Peak learning rate (AdamW).
    pub lr: f64,
    /// Learning rate at the end of the cosine decay.
    pub min_lr: f64,
    /// Optimiser steps of linear warm-up from `lr / 100` to `lr`.
    pub warmup_steps: usize,
    /// AdamW decoupled weight decay.
    pub weight_decay: f32,
    /// Clip each parameter's gradient to this L2 norm (burn clips per tensor, not globally).
    pub grad_clip_norm: Option<f32>,
    /// Batches whose gradients are summed before one optimiser step.
    pub grad_accumulation: usize,
    /// How `lr` grows with the number of devices (each adds a batch to every step).
    #[serde(default)]
    pub lr_scaling: LrScaling,
    /// What the cosine decay to `min_lr` spans.
    #[serde(default)]
    pub decay_over: DecayOver,
}

/// What the learning rate's cosine decay spans.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum DecayOver {
    /// The configured `epochs` (optimiser steps).
    #[default]
    Epochs,
    /// The launch's time limit (`--max-minutes`): the rate reaches `min_lr` when the run is
    /// stopped, however many epochs the machine gets through (CPU runs sized in minutes).
    TimeLimit,
}

/// The learning-rate rule for data-parallel training: `lr` is the rate for one device, and with
/// `n` devices the effective batch is `n × batch_size × grad_accumulation`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum LrScaling {
    /// The same `lr` whatever the device count (AdamW is nearly invariant to the gradient's
    /// scale, and summed gradients from `n` devices are `n` times larger).
    #[default]
    Constant,
    /// `lr × n` (Goyal et al., 2017; with warm-up).
    Linear,
    /// `lr × √n` (the usual rule for Adam-type optimisers).
    Sqrt,
}

impl LrScaling {
    /// The factor for `devices` devices.
    pub fn factor(self, devices: usize) -> f64 {
        let n = devices.max(1) as f64;
        match self {
            LrScaling::Constant => 1.0,
            LrScaling::Linear => n,
            LrScaling::Sqrt => n.sqrt(),
        }
    }
}

impl Default for OptimConfig {
    fn default() -> Self {
        OptimConfig {
            lr: 1e-3,
            min_lr: 1e-5,
            warmup_steps: 100,
            weight_decay: 1e-4,
            grad_clip_norm: Some(1.0),
            grad_accumulation: 1,
            lr_scaling: LrScaling::Constant,
            decay_over: DecayOver::Epochs,
        }
    }
}

/// A whole training run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainingConfig {
    /// Architecture and preprocessing.
    pub model: ModelSpec,
    /// Training data: weighted sources mixed into each epoch.
    pub train: Vec<Component>,
    /// Validation data (checkpoint selection and early stopping use its CER). Synthetic
    /// sources here are drawn once, with fixed seeds.
    pub valid: Vec<DataSource>,
    /// Train-time augmentation (none when absent).
    #[serde(default)]
    pub augment: Option<AugmentConfig>,
    /// Where downloads and processed data live (default: `$HTR_CACHE` or
    /// `~/.cache/text-recognizer`).
    #[serde(default)]
    pub cache_dir: Option<PathBuf>,
    /// Alphabet.
    #[serde(default)]
    pub charset: CharsetSpec,
    /// Characters outside the alphabet in training text.
    #[serde(default)]
    pub unknown_chars: UnknownCharPolicy,
    /// Fail on the first unreadable sample instead of skipping it.
    #[serde(default)]
    pub strict: bool,
    /// Epochs to train.
    pub epochs: usize,
    /// Samples per epoch, drawn from the sources by weight. Default: the sources' sizes
    /// summed (synthetic sources count their nominal `samples`).
    #[serde(default)]
    pub epoch_samples: Option<usize>,
    /// Batch size.
    pub batch_size: usize,
    /// Width buckets: each window of this many batches is drawn together and sorted by
    /// width, so a batch's lines have similar widths and little padding (0: off).
    #[serde(default)]
    pub bucket_batches: usize,
    /// Optimiser and learning-rate schedule.
    #[serde(default)]
    pub optim: OptimConfig,
    /// Stop after this many epochs without a better validation CER.
    #[serde(default)]
    pub early_stopping_patience: Option<usize>,
    /// Seed for initialisation and shuffling.
    #[serde(default)]
    pub seed: u64,
    /// Data-loading threads (0: load on the training thread).
    #[serde(default)]
    pub num_workers: usize,
    /// Sample predictions written per epoch.
    #[serde(default = "default_log_samples")]
    pub log_samples: usize,
}

fn default_log_samples() -> usize {
    8
}

impl TrainingConfig {
    /// Reads and checks a config file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let config: TrainingConfig = from_ron(&text, &path.display().to_string())?;
        config
            .validate()
            .map_err(|e| Error::config(path.display().to_string(), e))?;
        Ok(config)
    }

    /// Checks values that would otherwise fail deep inside burn.
    pub fn validate(&self) -> Result<(), String> {
        if self.train.is_empty() || self.valid.is_empty() {
            return Err("train and valid need at least one data source each".into());
        }
        if self.epochs == 0 || self.batch_size == 0 || self.optim.grad_accumulation == 0 {
            return Err("epochs, batch_size and optim.grad_accumulation must be at least 1".into());
        }
        if !(self.optim.lr > 0.0 && self.optim.lr <= 1.0) {
            return Err(format!("optim.lr must be in (0, 1], got {}", self.optim.lr));
        }
        if !(0.0..=self.optim.lr).contains(&self.optim.min_lr) {
            return Err(format!(
                "optim.min_lr must be in [0, lr], got {}",
                self.optim.min_lr
            ));
        }
        Ok(())
    }

    /// Writes the config as RON.
    pub fn to_ron(&self) -> String {
        ron::ser::to_string_pretty(self, ron::ser::PrettyConfig::default())
            .unwrap_or_else(|e| format!("// could not serialise config: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_configs_get_defaults_and_round_trip() {
        let text = r#"TrainingConfig(
            model: Preset(Line),
            train: [(source: LineFolder("a")), (source: SyntheticLines(samples: 5), weight: 2.0)],
            valid: [LineFolder("b")],
            augment: AugmentConfig(rotation: 2.0),
            epochs: 2,
            epoch_samples: 10,
            batch_size: 4,
        )"#;
        let cfg: TrainingConfig = from_ron(text, "t").expect("parses");
        assert_eq!(cfg.epoch_samples, Some(10));
        assert_eq!(cfg.train[1].weight, 2.0);
        assert_eq!(cfg.augment.as_ref().map(|a| a.rotation), Some(2.0));
        assert_eq!(cfg.optim, OptimConfig::default());
        assert_eq!(cfg.log_samples, 8);
        let again: TrainingConfig = ron::from_str(&cfg.to_ron()).expect("round trips");
        assert_eq!(cfg, again);
    }

    #[test]
    fn bad_values_are_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("bad.ron");
        std::fs::write(
            &path,
            r#"TrainingConfig(model: Preset(Line), train: [(source: LineFolder("a"))], valid: [LineFolder("b")],
               epochs: 0, batch_size: 4)"#,
        )
        .expect("write");
        let err = TrainingConfig::load(&path)
            .expect_err("must fail")
            .to_string();
        assert!(err.contains("bad.ron") && err.contains("epochs"), "{err}");
    }
}
