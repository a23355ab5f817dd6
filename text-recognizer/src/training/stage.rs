//! Staging: a run's best checkpoint becomes a model file. Lives on the training side so that
//! loading a model (`artifact`) needs nothing from training.

use std::path::Path;

use super::RunDir;
use crate::artifact::{Manifest, Provenance, StagedModel};
use crate::error::{Error, Result};

impl StagedModel {
    /// Stages the best checkpoint (lowest validation CER) of a run.
    pub fn from_run(run_dir: &Path, name: &str) -> Result<Self> {
        let run = RunDir::new(run_dir);
        let info = run.read_info()?;
        let (epoch, cer) = run.best_checkpoint().ok_or_else(|| {
            Error::config(
                run_dir.display().to_string(),
                "no checkpoint with a validation CER to stage",
            )
        })?;
        let path = run.model_checkpoint(epoch);
        let weights = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        let staged_at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Ok(StagedModel::from_parts(
            Manifest {
                name: name.to_string(),
                preset: info.preset,
                charset: info.charset,
                provenance: Provenance {
                    run_dir: run_dir.display().to_string(),
                    epoch,
                    steps: epoch * info.steps_per_epoch,
                    valid_cer: Some(cer),
                    valid_wer: run.metric("valid", epoch, "WER"),
                    train_samples: info.train_samples,
                    valid_samples: info.valid_samples,
                    data: info.data,
                    git_commit: info.git_commit,
                    staged_at,
                    parent: info.parent,
                    inputs: run.read_input_profile(),
                },
            },
            weights,
        ))
    }
}
