//! Training progress for people: an `indicatif` bar on a terminal, plain periodic lines in a
//! log file (epoch, step, loss, lr, samples/s, ETA), and a one-line validation summary per epoch.
//!
//! burn's own CLI renderer prints a `Progress {..}` struct per batch and never a metric value,
//! and its TUI needs a terminal, so neither suits a cloud log.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use burn::train::logger::{EvaluationProgressLogger, TrainingProgressLogger};
use burn::train::metric::{MetricDefinition, MetricId};
use burn::train::renderer::{
    EvaluationName, MetricState, MetricsRenderer, MetricsRendererEvaluation,
    MetricsRendererTraining,
};
use indicatif::{ProgressBar, ProgressStyle};

/// How often a log line is written when no terminal is attached.
const LOG_EVERY: Duration = Duration::from_secs(10);

/// The progress display.
pub struct Progress {
    bar: Option<ProgressBar>,
    names: HashMap<MetricId, String>,
    train: HashMap<String, f64>,
    valid: HashMap<String, f64>,
    total_epochs: usize,
    epoch: usize,
    split: String,
    items: usize,
    total_items: usize,
    batch_size: usize,
    split_start: Instant,
    last_log: Instant,
    train_rate: Option<f64>,
    /// When `--max-minutes` stops the run, if it was given: the ETA is never later.
    deadline: Option<Instant>,
}

impl Progress {
    /// A bar when stderr is a terminal, log lines otherwise (or when `force_log`). With a
    /// `time_limit` the ETA is the sooner of the epochs' end and the limit's.
    pub fn new(batch_size: usize, force_log: bool, time_limit: Option<Duration>) -> Self {
        let bar = (!force_log && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix} [{bar:30}] {pos}/{len} {msg} ({per_sec}, ETA {eta})",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar
        });
        Progress {
            bar,
            names: HashMap::new(),
            train: HashMap::new(),
            valid: HashMap::new(),
            total_epochs: 0,
            epoch: 1,
            split: String::new(),
            items: 0,
            total_items: 0,
            batch_size: batch_size.max(1),
            split_start: Instant::now(),
            last_log: Instant::now(),
            train_rate: None,
            deadline: time_limit.map(|t| Instant::now() + t),
        }
    }

    fn record(&mut self, state: MetricState, valid: bool) {
        if let MetricState::Numeric(entry, Some(value)) = state
            && let Some(name) = self.names.get(&entry.metric_id)
        {
            let map = if valid {
                &mut self.valid
            } else {
                &mut self.train
            };
            map.insert(name.clone(), value.current());
        }
    }

    fn rate(&self) -> f64 {
        self.items as f64 / self.split_start.elapsed().as_secs_f64().max(1e-9)
    }

    /// Time left in the whole run: to the time limit, or sooner if the epochs end first (at
    /// the training rate, validation time not included).
    fn eta(&self) -> Option<Duration> {
        let by_limit = self
            .deadline
            .map(|d| d.saturating_duration_since(Instant::now()));
        match (self.epochs_eta(), by_limit) {
            (Some(e), Some(l)) => Some(e.min(l)),
            (e, l) => e.or(l),
        }
    }

    /// Time until the last epoch ends, from the training rate.
    fn epochs_eta(&self) -> Option<Duration> {
        let rate = self
            .train_rate
            .or((self.split == "train").then(|| self.rate()))?;
        let left_this = if self.split == "train" {
            self.total_items.saturating_sub(self.items)
        } else {
            0
        };
        let per_epoch = if self.split == "train" {
            self.total_items
        } else {
            0
        };
        let later = self.total_epochs.saturating_sub(self.epoch) * per_epoch.max(self.items);
        (rate > 0.0).then(|| Duration::from_secs_f64((left_this + later) as f64 / rate))
    }

    fn train_line(&self) -> String {
        let loss = self
            .train
            .get("Loss")
            .map_or("-".into(), |v| format!("{v:.4}"));
        let lr = self
            .train
            .get("Learning Rate")
            .map_or("-".into(), |v| format!("{v:.2e}"));
        let eta = self
            .eta()
            .map_or("-".into(), |d| format!("{}s", d.as_secs()));
        format!(
            "epoch {}/{} step {}/{} loss {loss} lr {lr} {:.1} samples/s ETA {eta}",
            self.epoch,
            self.total_epochs,
            self.items.div_ceil(self.batch_size),
            self.total_items.div_ceil(self.batch_size),
            self.rate()
        )
    }
}

impl MetricsRendererTraining for Progress {
    fn update_train(&mut self, state: MetricState) {
        self.record(state, false);
    }

    fn update_valid(&mut self, state: MetricState) {
        self.record(state, true);
    }
}

impl MetricsRendererEvaluation for Progress {
    fn update_test(&mut self, _name: EvaluationName, _state: MetricState) {}
}

impl MetricsRenderer for Progress {
    fn manual_close(&mut self) {}

    fn register_metric(&mut self, definition: MetricDefinition) {
        self.names
            .insert(definition.metric_id, definition.name.to_string());
    }
}

impl TrainingProgressLogger for Progress {
    fn start(
        &mut self,
        total_epochs: usize,
        starting_epoch: usize,
        _total_items: Option<usize>,
        _label: Option<&str>,
    ) {
        self.total_epochs = total_epochs;
        self.epoch = starting_epoch.max(1);
        eprintln!(
            "training for {total_epochs} epochs, starting at epoch {}",
            self.epoch
        );
    }

    fn update_epoch(&mut self, epoch: usize) {
        self.epoch = epoch + 1;
    }

    fn start_split(&mut self, split: &str, total_items: usize) {
        self.split = split.to_string();
        self.items = 0;
        self.total_items = total_items;
        self.split_start = Instant::now();
        self.last_log = Instant::now();
        if split == "valid" {
            self.valid.clear();
        }
        if let Some(bar) = &self.bar {
            bar.reset();
            bar.set_length(total_items as u64);
            bar.set_prefix(format!(
                "epoch {}/{} {split}",
                self.epoch, self.total_epochs
            ));
        }
    }

    fn update_split(&mut self, items_processed: usize) {
        self.items = items_processed;
        if let Some(bar) = &self.bar {
            bar.set_position(items_processed as u64);
            if self.split == "train" {
                let loss = self
                    .train
                    .get("Loss")
                    .map_or(String::new(), |v| format!("loss {v:.4}"));
                bar.set_message(loss);
            }
        } else if self.split == "train" && self.last_log.elapsed() >= LOG_EVERY {
            self.last_log = Instant::now();
            eprintln!("{}", self.train_line());
        }
    }

    fn end_split(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        if self.split == "train" {
            self.train_rate = Some(self.rate());
            eprintln!("{}", self.train_line());
        } else {
            let pct = |k: &str| self.valid.get(k).map_or("-".into(), |v| format!("{v:.2}%"));
            let loss = self
                .valid
                .get("Loss")
                .map_or("-".into(), |v| format!("{v:.4}"));
            eprintln!(
                "epoch {}/{} valid loss {loss} CER {} WER {} ({:.1} samples/s)",
                self.epoch,
                self.total_epochs,
                pct("CER"),
                pct("WER"),
                self.rate()
            );
        }
    }

    fn end(&mut self) {}

    fn log_event_training(&mut self, event: String) {
        // burn reports every batch as an "Iteration" event; the step lines already cover it.
        if event != "Iteration" {
            eprintln!("{event}");
        }
    }
}

impl EvaluationProgressLogger for Progress {
    fn start_global_progress(&mut self, _total_tests: usize) {}
    fn start_test(&mut self, _name: &str, _total_items: usize) {}
    fn update_test_progress(&mut self, _items_processed: usize) {}
    fn end_test(&mut self) {}
    fn end_global_progress(&mut self) {}
    fn log_event_evaluation(&mut self, event: String) {
        if event != "Iteration" {
            eprintln!("{event}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run capped at 1000 epochs but stopped by a 60 s limit ends within 60 s, not in hours.
    #[test]
    fn eta_is_never_past_the_time_limit() {
        let mut p = Progress::new(16, true, Some(Duration::from_secs(60)));
        p.start(1000, 1, None, None);
        p.start_split("train", 2048);
        p.items = 1024;
        p.split_start = Instant::now() - Duration::from_secs(10);
        let eta = p.eta().expect("a rate");
        assert!(eta <= Duration::from_secs(60), "{eta:?}");
        assert!(p.epochs_eta().expect("a rate") > Duration::from_secs(3600));

        let unlimited = Progress {
            deadline: None,
            ..p
        };
        assert!(unlimited.eta().expect("a rate") > Duration::from_secs(3600));
    }
}
