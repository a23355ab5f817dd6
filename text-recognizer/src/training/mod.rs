//! Training with burn's `SupervisedTraining`: configuration, the train/validation steps, string
//! CER/WER metrics and the run directory they all write to.

mod checkpoint;
mod config;
mod device_check;
mod metric;
mod run;
mod run_dir;
mod samples;
mod schedule;
mod stage;
mod step;
mod stop;
mod strategy;
pub mod tracking;

pub use checkpoint::AtomicFileCheckpointer;
pub use config::{
    CharsetSpec, Component, DecayOver, LrScaling, ModelSpec, OptimConfig, TrainingConfig,
};
pub use device_check::{DeviceCheck, check_device};
pub use metric::{ErrorKind, TextErrorMetric};
pub use run::{TrainOptions, TrainReport, read_mlflow_ids, run_config, train};
pub use run_dir::{EpochMetrics, RunDir, RunInfo, git_commit};
pub use step::{HtrOutput, TokenPairs, batch_loss, ctc_loss, hybrid_loss, sequence_loss};
pub use stop::{StopReason, StopRequest};
pub use strategy::{CheckpointEvery, Position, Stopped};
