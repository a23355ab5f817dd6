//! The learning-rate schedule: linear warm-up, then a cosine decay to `min_lr` over the run's
//! epochs or over its time limit. On a CPU a run is sized in minutes, not epochs: a decay over
//! the time limit ends at `min_lr` when `--max-minutes` stops the run, whatever the machine's
//! speed, where a decay over epochs must guess how many epochs the minutes hold.

use std::time::{Duration, Instant};

use burn::lr_scheduler::cosine::CosineAnnealingLrSchedulerConfig;
use burn::lr_scheduler::linear::LinearLrSchedulerConfig;
use burn::lr_scheduler::module_lr_scheduler::ModuleLrScheduler;
use burn::lr_scheduler::sequential::SequentialLrSchedulerConfig;
use burn::lr_scheduler::{LrScheduler, LrSchedulerConfig, LrSchedulerRecord};
use burn::optim::LearningRate;

use super::config::{DecayOver, TrainingConfig};
use crate::error::{Error, Result};

/// Warm-up from `lr / 100` to `lr` over `optim.warmup_steps`, then cosine decay to `min_lr`,
/// over `total` optimiser steps or over `time_limit` (`optim.decay_over`).
pub(super) fn lr_schedule(
    config: &TrainingConfig,
    lr: f64,
    total: usize,
    time_limit: Option<Duration>,
) -> Result<ModuleLrScheduler> {
    let o = &config.optim;
    let min_lr = o.min_lr.min(lr);
    match o.decay_over {
        DecayOver::Epochs => {
            let warmup = o.warmup_steps.min(total.saturating_sub(1));
            let cosine = CosineAnnealingLrSchedulerConfig::new(lr, (total - warmup).max(1))
                .with_min_lr(min_lr);
            let schedule = if warmup == 0 {
                cosine.init()
            } else {
                SequentialLrSchedulerConfig::new(
                    vec![
                        LrSchedulerConfig::Linear(LinearLrSchedulerConfig::new(
                            lr / 100.0,
                            lr,
                            warmup,
                        )),
                        LrSchedulerConfig::Cosine(cosine),
                    ],
                    vec![warmup],
                )
                .init()
            };
            schedule.map_err(|e| Error::config("optim", e))
        }
        DecayOver::TimeLimit => {
            let limit = time_limit.ok_or_else(|| {
                Error::config(
                    "optim.decay_over",
                    "TimeLimit decays over the run's time limit: give --max-minutes",
                )
            })?;
            Ok(TimeCosine::new(lr, min_lr, o.warmup_steps, limit, Instant::now()).into())
        }
    }
}

/// Cosine decay over wall time: at `elapsed / budget` of the way, the learning rate is where a
/// step-based cosine would be at that share of its steps. The budget is this launch's time
/// limit plus the time the run had already trained before a resume (kept in the record), so a
/// resumed run finishes the same curve.
#[derive(Clone, Debug)]
pub(super) struct TimeCosine {
    lr: f64,
    min_lr: f64,
    warmup_steps: usize,
    limit: Duration,
    started: Instant,
    /// Seconds trained by earlier launches of the run (from the record).
    before: f64,
    steps: usize,
}

impl TimeCosine {
    pub(super) fn new(
        lr: f64,
        min_lr: f64,
        warmup_steps: usize,
        limit: Duration,
        started: Instant,
    ) -> TimeCosine {
        TimeCosine {
            lr,
            min_lr,
            warmup_steps,
            limit,
            started,
            before: 0.0,
            steps: 0,
        }
    }

    fn elapsed(&self) -> f64 {
        self.before + self.started.elapsed().as_secs_f64()
    }
}

impl LrScheduler for TimeCosine {
    fn step(&mut self) -> LearningRate {
        self.steps += 1;
        if self.steps <= self.warmup_steps {
            let start = self.lr / 100.0;
            return start + (self.lr - start) * self.steps as f64 / self.warmup_steps as f64;
        }
        let budget = self.before + self.limit.as_secs_f64();
        let done = if budget > 0.0 {
            (self.elapsed() / budget).min(1.0)
        } else {
            1.0
        };
        self.min_lr + 0.5 * (self.lr - self.min_lr) * (1.0 + (done * std::f64::consts::PI).cos())
    }

    fn to_record(&self) -> LrSchedulerRecord {
        LrSchedulerRecord::new()
            .with_scalar("steps", self.steps as u64)
            .with_scalar("elapsed_seconds", self.elapsed())
    }

    fn load_record(&mut self, record: LrSchedulerRecord) {
        if let Some(steps) = record.scalar::<u64>("steps") {
            self.steps = steps as usize;
        }
        if let Some(seconds) = record.scalar::<f64>("elapsed_seconds") {
            self.before = seconds;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn started(ago: Duration) -> Instant {
        Instant::now().checked_sub(ago).expect("clock far enough")
    }

    #[test]
    fn time_cosine_warms_up_then_follows_the_clock() {
        let limit = Duration::from_secs(1000);
        let mut s = TimeCosine::new(1e-3, 1e-5, 2, limit, Instant::now());
        assert!(
            (s.step() - 0.505e-3).abs() < 1e-9,
            "half-way up the warm-up"
        );
        assert!(
            (s.step() - 1e-3).abs() < 1e-9,
            "at the peak after the warm-up"
        );
        let s3 = s.step();
        assert!(s3 > 0.999e-3 && s3 <= 1e-3, "{s3}: no time has passed");

        // Half the budget gone: half-way down; all of it (or more): the floor. (Short spans:
        // the monotonic clock starts at boot.)
        let limit = Duration::from_secs(10);
        let mut half = TimeCosine::new(1e-3, 1e-5, 0, limit, started(limit / 2));
        let mid = half.step();
        assert!((mid - 0.505e-3).abs() < 5e-5, "{mid}"); // 5e-5: a third of a second late
        let mut over = TimeCosine::new(1e-3, 1e-5, 0, limit, started(limit * 2));
        assert!((over.step() - 1e-5).abs() < 1e-12);
    }

    #[test]
    fn a_resumed_time_cosine_finishes_the_same_curve() {
        let first = TimeCosine::new(
            1e-3,
            0.0,
            0,
            Duration::from_secs(8),
            started(Duration::from_secs(6)),
        );
        let record = first.to_record();
        // Resumed with the 2 seconds that were left: 6 of 8 done, 3/4 down the cosine.
        let mut resumed = TimeCosine::new(1e-3, 0.0, 0, Duration::from_secs(2), Instant::now());
        resumed.load_record(record);
        let lr = resumed.step();
        let expected = 0.5e-3 * (1.0 + (0.75 * std::f64::consts::PI).cos());
        assert!((lr - expected).abs() < 5e-5, "{lr} against {expected}");
    }

    #[test]
    fn a_decay_over_the_time_limit_needs_one() {
        let mut config: TrainingConfig = ron::from_str(
            r#"TrainingConfig(model: Preset(Line), train: [(source: LineFolder("a"))],
               valid: [LineFolder("b")], epochs: 2, batch_size: 4)"#,
        )
        .expect("parses");
        assert!(lr_schedule(&config, 1e-3, 10, None).is_ok());
        config.optim.decay_over = DecayOver::TimeLimit;
        let err = lr_schedule(&config, 1e-3, 10, None)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("decay_over") && err.contains("--max-minutes"),
            "{err}"
        );
        let mut schedule =
            lr_schedule(&config, 1e-3, 10, Some(Duration::from_secs(60))).expect("with a limit");
        // Warm-up starts at a hundredth of the peak.
        assert!((schedule.step().base() - 1e-5 - (1e-3 - 1e-5) / 100.0).abs() < 1e-9);
    }
}
