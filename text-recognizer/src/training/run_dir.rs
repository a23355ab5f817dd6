//! The layout of a run directory and how to read it back.
//!
//! ```text
//! RUN/config.ron              the training config, as run
//! RUN/run.ron                 preset, charset, data counts, git commit (what `stage` needs)
//! RUN/checkpoint/{model,optim,scheduler}-N.bpk   epoch checkpoints: best valid CER + last
//! RUN/checkpoint/step/{model,optim,scheduler}-K.bpk   the newest mid-epoch checkpoint, K batches
//!                             into the run (`--checkpoint-every`, SIGTERM)
//! RUN/{train,valid}/epoch-N/{Loss,CER,WER,Learning_Rate}.log   burn's per-batch metric logs
//! RUN/samples/epoch-N.{txt,png}   a few validation predictions per epoch (the sheet with the
//!                             images, references and confidences)
//! RUN/metrics.csv             one row per epoch, rebuilt from the logs after each launch
//! RUN/steps.csv               every training step's loss and rate, and each epoch's means
//! RUN/environment.ron         versions, devices, CPU/GPU, host, commit, times, samples/s
//! RUN/mlflow.ron              the MLflow run it logs to (with a tracking URI)
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::checkpoint::complete_keys;
use crate::charset::Charset;
use crate::error::{Error, Result};
use crate::model::Preset;
use crate::ron_file::from_ron;

/// Facts about a run that staging needs and that must survive a resume unchanged.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// Architecture and preprocessing.
    pub preset: Preset,
    /// The alphabet the model was built for.
    pub charset: Charset,
    /// Training samples loaded (before epoch repetition).
    pub train_samples: usize,
    /// Validation samples loaded.
    pub valid_samples: usize,
    /// Human-readable list of the data sources.
    pub data: Vec<String>,
    /// Optimiser steps per epoch.
    pub steps_per_epoch: usize,
    /// `git rev-parse HEAD` of the working directory, when available.
    pub git_commit: Option<String>,
    /// Devices trained on together.
    #[serde(default = "one")]
    pub devices: usize,
    /// Samples per optimiser step: batch size × gradient accumulation × devices.
    #[serde(default)]
    pub effective_batch: usize,
    /// Peak learning rate after the device-count rule (`optim.lr_scaling`).
    #[serde(default)]
    pub peak_lr: f64,
    /// The model the run started from (`--init-from`), as given and as resolved.
    #[serde(default)]
    pub parent: Option<String>,
}

fn one() -> usize {
    1
}

/// A run directory.
#[derive(Clone, Debug)]
pub struct RunDir {
    root: PathBuf,
}

/// One row of `metrics.csv`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EpochMetrics {
    /// 1-based epoch.
    pub epoch: usize,
    /// Mean training loss.
    pub train_loss: Option<f64>,
    /// Mean validation loss.
    pub valid_loss: Option<f64>,
    /// Validation CER in percent.
    pub valid_cer: Option<f64>,
    /// Validation WER in percent.
    pub valid_wer: Option<f64>,
}

impl RunDir {
    /// The run at `root` (not created).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        RunDir { root: root.into() }
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `config.ron`.
    pub fn config_path(&self) -> PathBuf {
        self.root.join("config.ron")
    }

    /// `run.ron`.
    pub fn info_path(&self) -> PathBuf {
        self.root.join("run.ron")
    }

    /// `checkpoint/model-N.bpk`.
    pub fn model_checkpoint(&self, epoch: usize) -> PathBuf {
        self.root
            .join("checkpoint")
            .join(format!("model-{epoch}.bpk"))
    }

    /// `samples/`.
    pub fn samples_dir(&self) -> PathBuf {
        self.root.join("samples")
    }

    /// Writes `run.ron`.
    pub fn write_info(&self, info: &RunInfo) -> Result<()> {
        let text = ron::ser::to_string_pretty(info, ron::ser::PrettyConfig::default())
            .map_err(|e| Error::config("run.ron", e))?;
        std::fs::write(self.info_path(), text).map_err(|e| Error::io(self.info_path(), e))
    }

    /// `inputs.ron`: the training inputs' profile.
    pub fn input_profile_path(&self) -> PathBuf {
        self.root.join("inputs.ron")
    }

    /// Writes `inputs.ron`.
    pub fn write_input_profile(&self, profile: &crate::image::profile::InputProfile) -> Result<()> {
        let text = ron::ser::to_string(profile).map_err(|e| Error::config("inputs.ron", e))?;
        let path = self.input_profile_path();
        std::fs::write(&path, text).map_err(|e| Error::io(&path, e))
    }

    /// Reads `inputs.ron` (None when the run has none or it does not parse).
    pub fn read_input_profile(&self) -> Option<crate::image::profile::InputProfile> {
        let path = self.input_profile_path();
        let text = std::fs::read_to_string(&path).ok()?;
        from_ron(&text, &path.display().to_string()).ok()
    }

    /// Reads `run.ron`.
    pub fn read_info(&self) -> Result<RunInfo> {
        let path = self.info_path();
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        from_ron(&text, &path.display().to_string())
    }

    /// Epochs with a complete checkpoint (model, optimiser and scheduler), ascending.
    pub fn checkpoints(&self) -> Vec<usize> {
        complete_keys(&self.root.join("checkpoint"))
    }

    /// `checkpoint/step/`: mid-epoch checkpoints.
    pub fn step_dir(&self) -> PathBuf {
        self.root.join("checkpoint").join("step")
    }

    /// Keys (batches since the start of the run) of complete mid-epoch checkpoints, ascending.
    pub fn step_checkpoints(&self) -> Vec<usize> {
        complete_keys(&self.step_dir())
    }

    /// Removes mid-epoch checkpoints at or before batch `key` (an epoch checkpoint covers them)
    /// and temporary files a killed run left.
    pub fn prune_step_checkpoints(&self, key: usize) -> Result<()> {
        let dir = self.step_dir();
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let stale = name.ends_with(".tmp")
                || name
                    .strip_suffix(".bpk")
                    .and_then(|n| n.rsplit_once('-'))
                    .and_then(|(_, k)| k.parse::<usize>().ok())
                    .is_some_and(|k| k <= key);
            if stale {
                std::fs::remove_file(entry.path()).map_err(|e| Error::io(entry.path(), e))?;
            }
        }
        Ok(())
    }

    /// The newest checkpoint (what `--resume` continues from).
    pub fn latest_checkpoint(&self) -> Option<usize> {
        self.checkpoints().last().copied()
    }

    /// The kept checkpoint with the lowest validation CER (ties: the later epoch).
    pub fn best_checkpoint(&self) -> Option<(usize, f64)> {
        self.checkpoints()
            .into_iter()
            .filter_map(|e| self.metric("valid", e, "CER").map(|cer| (e, cer)))
            .fold(None, |best, (e, cer)| match best {
                Some((_, b)) if b < cer => best,
                _ => Some((e, cer)),
            })
    }

    /// Epochs that have a log folder for `split`, ascending.
    pub fn logged_epochs(&self, split: &str) -> Vec<usize> {
        let mut epochs: Vec<usize> = std::fs::read_dir(self.root.join(split))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                e.file_name()
                    .into_string()
                    .ok()?
                    .strip_prefix("epoch-")?
                    .parse()
                    .ok()
            })
            .collect();
        epochs.sort_unstable();
        epochs
    }

    /// An epoch's value of a metric: burn's `final` entry, else the count-weighted mean of the
    /// batch entries.
    pub fn metric(&self, split: &str, epoch: usize, name: &str) -> Option<f64> {
        let path = self
            .root
            .join(split)
            .join(format!("epoch-{epoch}"))
            .join(format!("{name}.log"));
        let text = std::fs::read_to_string(path).ok()?;
        let mut sum = 0.0;
        let mut weight = 0.0;
        for line in text.lines() {
            let mut parts = line.split(',');
            let value: f64 = parts.next()?.trim().parse().ok()?;
            match parts.next().map(str::trim) {
                Some("final") => return Some(value),
                Some(count) => {
                    let n: f64 = count.parse().unwrap_or(1.0);
                    sum += value * n;
                    weight += n;
                }
                None => {
                    sum += value;
                    weight += 1.0;
                }
            }
        }
        (weight > 0.0).then(|| sum / weight)
    }

    /// Per-epoch metrics from the logs.
    pub fn epoch_metrics(&self) -> Vec<EpochMetrics> {
        self.logged_epochs("train")
            .into_iter()
            .map(|epoch| EpochMetrics {
                epoch,
                train_loss: self.metric("train", epoch, "Loss"),
                valid_loss: self.metric("valid", epoch, "Loss"),
                valid_cer: self.metric("valid", epoch, "CER"),
                valid_wer: self.metric("valid", epoch, "WER"),
            })
            .collect()
    }

    /// Rewrites `metrics.csv` from the logs.
    pub fn write_metrics_csv(&self) -> Result<Vec<EpochMetrics>> {
        let rows = self.epoch_metrics();
        let fmt = |v: Option<f64>| v.map(|v| format!("{v:.4}")).unwrap_or_default();
        let mut csv = String::from("epoch,train_loss,valid_loss,valid_cer,valid_wer\n");
        for r in &rows {
            csv.push_str(&format!(
                "{},{},{},{},{}\n",
                r.epoch,
                fmt(r.train_loss),
                fmt(r.valid_loss),
                fmt(r.valid_cer),
                fmt(r.valid_wer)
            ));
        }
        let path = self.root.join("metrics.csv");
        std::fs::write(&path, csv).map_err(|e| Error::io(&path, e))?;
        Ok(rows)
    }
}

/// The current git commit, if the working directory is a checkout.
pub fn git_commit() -> Option<String> {
    let out = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_final_entries_and_picks_the_best_checkpoint() {
        let dir = tempfile::tempdir().expect("tempdir");
        let run = RunDir::new(dir.path());
        for (epoch, cer) in [(1, "40.0"), (2, "12.5"), (3, "20.0")] {
            let d = dir.path().join("valid").join(format!("epoch-{epoch}"));
            std::fs::create_dir_all(&d).expect("mkdir");
            std::fs::write(d.join("CER.log"), format!("50,10\n{cer},final\n")).expect("write");
            let t = dir.path().join("train").join(format!("epoch-{epoch}"));
            std::fs::create_dir_all(&t).expect("mkdir");
            std::fs::write(t.join("Loss.log"), "2.0,4\n1.0,4\n").expect("write");
        }
        let ck = dir.path().join("checkpoint");
        std::fs::create_dir_all(&ck).expect("mkdir");
        for e in [2, 3] {
            for r in super::super::checkpoint::RECORDS {
                std::fs::write(ck.join(format!("{r}-{e}.bpk")), b"").expect("write");
            }
        }
        std::fs::write(ck.join("model-4.bpk"), b"").expect("write");
        assert_eq!(run.latest_checkpoint(), Some(3));
        assert_eq!(run.best_checkpoint(), Some((2, 12.5)));
        let rows = run.write_metrics_csv().expect("writes");
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].train_loss, Some(1.5));
        assert_eq!(rows[1].valid_cer, Some(12.5));
    }
}
