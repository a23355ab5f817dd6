//! The single-device training loop, with checkpoints inside an epoch.
//!
//! burn's own single-device loop saves only at the end of an epoch and, when interrupted, drops
//! the epoch in progress. A rented GPU can be taken back at any moment, so this loop (the same
//! steps, events and epoch checkpoints as burn's) also saves a *step checkpoint* (model,
//! optimiser and scheduler, written atomically under `checkpoint/step/`) every
//! `--checkpoint-every` minutes and when a stop is requested, and can start again from one in
//! the middle of an epoch. A step checkpoint is keyed by the number of batches trained since
//! the start of the run, so `--resume` knows both the epoch and how far into it to skip.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use burn::optim::GradientsAccumulator;
use burn::tensor::Device;
use burn::train::checkpoint::{AsyncCheckpointer, CheckpointingAction, CheckpointingStrategy};
use burn::train::metric::store::EventStoreClient;
use burn::train::{
    EventProcessorTraining, InferenceStep, Learner, LearnerEvent, LearnerModel,
    LearningCheckpointer, SupervisedLearningStrategy, SupervisedTrainingEventProcessor,
    TrainLoader, TrainingComponents, TrainingItem, ValidLoader,
};

use super::checkpoint::AtomicFileCheckpointer;
use super::stop::{StopReason, StopRequest};

/// Where a run stands, in batches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    /// 1-based epoch.
    pub epoch: usize,
    /// Batches of that epoch already trained.
    pub batches_done: usize,
}

impl Position {
    /// The step-checkpoint key: batches trained since the start of the run.
    pub fn key(self, batches_per_epoch: usize) -> usize {
        (self.epoch - 1) * batches_per_epoch + self.batches_done
    }

    /// The position a step-checkpoint key stands for.
    pub fn from_key(key: usize, batches_per_epoch: usize) -> Self {
        let per = batches_per_epoch.max(1);
        Position {
            epoch: key / per + 1,
            batches_done: key % per,
        }
    }
}

/// How a stopped run ended: why, and where it can resume.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stopped {
    /// What asked for the stop.
    pub reason: StopReason,
    /// The position saved (`batches_done == 0`: the end of the previous epoch).
    pub at: Position,
}

/// How often to save a mid-epoch checkpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckpointEvery {
    /// After this much wall time since the last checkpoint (what bounds lost work).
    Time(Duration),
    /// Every this many optimiser steps (reproducible, for tests and schedulers).
    Steps(usize),
}

impl std::str::FromStr for CheckpointEvery {
    type Err = String;

    /// `10` or `10m` (minutes), `30s`, `2h`, `500steps`.
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let err = || format!("{s:?}: expected minutes (10, 10m), 30s, 2h or 500steps");
        if let Some(n) = s.strip_suffix("steps") {
            let n: usize = n.trim().parse().map_err(|_| err())?;
            return (n > 0).then_some(CheckpointEvery::Steps(n)).ok_or_else(err);
        }
        let (number, unit) = match s.char_indices().last() {
            Some((i, 's')) => (&s[..i], 1.0),
            Some((i, 'm')) => (&s[..i], 60.0),
            Some((i, 'h')) => (&s[..i], 3600.0),
            _ => (s, 60.0),
        };
        let v: f64 = number.trim().parse().map_err(|_| err())?;
        if !(v.is_finite() && v > 0.0) {
            return Err(err());
        }
        Ok(CheckpointEvery::Time(Duration::from_secs_f64(v * unit)))
    }
}

/// Keeps only the newest step checkpoint (keys are not consecutive, so burn's
/// `KeepLastNCheckpoints` would miss the previous one).
struct KeepNewest {
    previous: Option<usize>,
}

impl CheckpointingStrategy for KeepNewest {
    fn checkpointing(&mut self, key: usize, _store: &EventStoreClient) -> Vec<CheckpointingAction> {
        let mut actions = vec![CheckpointingAction::Save];
        if let Some(old) = self.previous.replace(key).filter(|&old| old != key) {
            actions.push(CheckpointingAction::Delete(old));
        }
        actions
    }
}

/// Single-device training that can be stopped and resumed between any two optimiser steps.
pub struct PreemptibleTraining {
    /// `RUN/checkpoint/step`.
    pub step_dir: PathBuf,
    /// Samples per batch (to turn batches into dataset offsets).
    pub batch_size: usize,
    /// Save a step checkpoint this often.
    pub every: Option<CheckpointEvery>,
    /// Polled after every optimiser step.
    pub stop: StopRequest,
    /// Start from this step checkpoint instead of the beginning of `starting_epoch`.
    pub resume_from: Option<Position>,
    /// Filled in when the run stops on request.
    pub stopped: Arc<Mutex<Option<Stopped>>>,
    /// The training device and run seed: the random state (dropout) is reseeded before every
    /// batch from the seed and the batch's key, so a resumed run draws what an uninterrupted
    /// one would have.
    pub device: Device,
    /// The run's seed.
    pub seed: u64,
    /// Called after each epoch's validation with the epoch and the model (as `Any`: the loop
    /// is generic), e.g. to read a few validation images for a contact sheet.
    pub after_validation: Option<AfterValidation>,
}

/// See [`PreemptibleTraining::after_validation`].
pub type AfterValidation = Box<dyn Fn(usize, &dyn std::any::Any) + Send + Sync>;

impl PreemptibleTraining {
    fn step_checkpointer<M: LearnerModel>(&self) -> LearningCheckpointer<M> {
        let files = |name| AtomicFileCheckpointer::new(&self.step_dir, name);
        LearningCheckpointer::new(
            AsyncCheckpointer::new(files("model")),
            AsyncCheckpointer::new(files("optim")),
            AsyncCheckpointer::new(files("scheduler")),
            Box::new(KeepNewest { previous: None }),
        )
    }

    fn record_stop(&self, reason: StopReason, at: Position) {
        if let Ok(mut s) = self.stopped.lock() {
            *s = Some(Stopped { reason, at });
        }
    }
}

impl<M: LearnerModel> SupervisedLearningStrategy<M> for PreemptibleTraining {
    fn fit(
        &self,
        components: TrainingComponents<M>,
        mut learner: Learner<M>,
        dataloader_train: TrainLoader<M>,
        dataloader_valid: ValidLoader<M>,
        starting_epoch: usize,
    ) -> (M, SupervisedTrainingEventProcessor<M>) {
        let interrupter = components.interrupter.clone();
        let mut processor = components.event_processor;
        let mut checkpointer = components.checkpointer;
        let mut early_stopping = components.early_stopping;
        let store = components.event_store;
        let mut steps = self.step_checkpointer::<M>();

        let total_items = dataloader_train.num_items();
        let batches_per_epoch = total_items.div_ceil(self.batch_size.max(1));
        let mut first = Position {
            epoch: starting_epoch,
            batches_done: 0,
        };
        if let Some(at) = self.resume_from {
            learner = steps.load_checkpoint(learner, at.key(batches_per_epoch));
            first = at;
        }
        let accumulation = components.grad_accumulation.unwrap_or(1).max(1);
        let mut last_save = Instant::now();
        let mut steps_since_save = 0;

        for epoch in first.epoch..=components.num_epochs {
            let skip = if epoch == first.epoch {
                first.batches_done
            } else {
                0
            };
            // A resumed epoch trains on the samples it had not reached.
            let loader = if skip > 0 {
                dataloader_train.slice((skip * self.batch_size).min(total_items), total_items)
            } else {
                dataloader_train.clone()
            };
            interrupter.fail_on_error(processor.process_train(LearnerEvent::StartSplit {
                epoch_number: epoch,
                total_items: loader.num_items(),
            }));

            let mut iterator = loader.iter();
            let mut done = skip;
            let mut accumulator = GradientsAccumulator::new();
            let mut pending = 0;
            let mut stop_after_epoch = None;
            while let Some(item) = iterator.next() {
                let item = match item {
                    Ok(item) => item,
                    Err(err) => {
                        interrupter.fail(err);
                        break;
                    }
                };
                let key = Position {
                    epoch,
                    batches_done: done,
                }
                .key(batches_per_epoch);
                self.device
                    .seed(self.seed ^ (key as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
                done += 1;
                let progress = iterator.progress();
                let out = learner.train_step(item);
                accumulator.accumulate(&learner.model(), out.grads);
                pending += 1;
                let stepped = pending >= accumulation || progress.is_completed();
                if stepped {
                    learner.lr_step();
                    learner.optimizer_step(accumulator.grads());
                    pending = 0;
                }
                let item = TrainingItem::new(
                    out.item,
                    progress.clone(),
                    Some(done),
                    Some(learner.lr_current()),
                );
                interrupter
                    .fail_on_error(processor.process_train(LearnerEvent::ProcessedItem(item)));
                if interrupter.should_stop() {
                    break;
                }
                if !stepped {
                    continue;
                }
                let at = Position {
                    epoch,
                    batches_done: done,
                };
                steps_since_save += 1;
                let requested = self.stop.requested();
                let due = match self.every {
                    Some(CheckpointEvery::Time(d)) => last_save.elapsed() >= d,
                    Some(CheckpointEvery::Steps(n)) => steps_since_save >= n,
                    None => false,
                };
                if progress.is_completed() || done >= batches_per_epoch {
                    // The epoch checkpoint follows in a moment: stop after it.
                    stop_after_epoch = requested;
                } else if requested.is_some() || due {
                    steps.checkpoint(&learner, at.key(batches_per_epoch), &store);
                    last_save = Instant::now();
                    steps_since_save = 0;
                    if let Some(reason) = requested {
                        tracing::info!("{reason}: saved epoch {epoch}, batch {done}");
                        self.record_stop(reason, at);
                        interrupter.stop(Some(&reason.to_string()));
                        break;
                    }
                }
            }
            interrupter.fail_on_error(processor.process_train(LearnerEvent::EndSplit(epoch)));
            if interrupter.should_stop() {
                break;
            }

            interrupter.fail_on_error(processor.process_valid(LearnerEvent::StartSplit {
                epoch_number: epoch,
                total_items: dataloader_valid.num_items(),
            }));
            let model = learner.model().valid();
            let mut iterator = dataloader_valid.iter();
            let mut iteration = 0;
            while let Some(item) = iterator.next() {
                let item = match item {
                    Ok(item) => item,
                    Err(err) => {
                        interrupter.fail(err);
                        break;
                    }
                };
                iteration += 1;
                let progress = iterator.progress();
                let out = InferenceStep::step(&model, item);
                let item = TrainingItem::new(out, progress, Some(iteration), None);
                interrupter
                    .fail_on_error(processor.process_valid(LearnerEvent::ProcessedItem(item)));
                if interrupter.should_stop() {
                    break;
                }
            }
            interrupter.fail_on_error(processor.process_valid(LearnerEvent::EndSplit(epoch)));
            if let Some(f) = &self.after_validation {
                f(epoch, &model as &dyn std::any::Any);
            }
            interrupter.fail_on_error(processor.process_train(LearnerEvent::EndEpoch(epoch)));
            if checkpointer.is_some() || early_stopping.is_some() {
                interrupter.fail_on_error(processor.flush());
            }
            if interrupter.should_stop() {
                break;
            }
            if let Some(checkpointer) = &mut checkpointer {
                checkpointer.checkpoint(&learner, epoch, &store);
                last_save = Instant::now();
                steps_since_save = 0;
            }
            let requested = stop_after_epoch.or_else(|| self.stop.requested());
            if let Some(reason) = requested {
                self.record_stop(
                    reason,
                    Position {
                        epoch: epoch + 1,
                        batches_done: 0,
                    },
                );
                interrupter.stop(Some(&reason.to_string()));
                break;
            }
            if let Some(early) = &mut early_stopping
                && early.should_stop(epoch, &store)
            {
                break;
            }
        }
        // Dropping the step checkpointer waits for its writes to finish.
        drop(steps);
        (learner.model(), processor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_intervals_parse_with_units() {
        let t = |s: f64| Ok(CheckpointEvery::Time(Duration::from_secs_f64(s)));
        assert_eq!("10".parse(), t(600.0));
        assert_eq!("1.5m".parse(), t(90.0));
        assert_eq!("30s".parse(), t(30.0));
        assert_eq!("2h".parse(), t(7200.0));
        assert_eq!("25steps".parse(), Ok(CheckpointEvery::Steps(25)));
        for bad in ["", "0", "-1m", "0steps", "xs", "nan"] {
            assert!(bad.parse::<CheckpointEvery>().is_err(), "{bad}");
        }
    }

    #[test]
    fn positions_round_trip_through_keys() {
        for (epoch, done) in [(1, 1), (1, 9), (3, 4), (7, 0)] {
            let p = Position {
                epoch,
                batches_done: done,
            };
            assert_eq!(Position::from_key(p.key(10), 10), p);
        }
        assert_eq!(
            Position::from_key(20, 10),
            Position {
                epoch: 3,
                batches_done: 0
            },
            "a key on an epoch boundary is the start of the next epoch"
        );
    }
}
