//! What a run records beyond burn's logs: every training step as a row of `steps.csv`, the
//! environment it ran in (`environment.ron`), and, with a tracking URI, the same to MLflow.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use burn::train::logger::MetricLogger;
use burn::train::metric::store::{EpochSummary, MetricsUpdate, Split};
use burn::train::metric::{MetricDefinition, MetricId, NumericEntry};
use serde::{Deserialize, Serialize};

use super::strategy::Position;
use crate::mlflow::{Point, Tracker, now_ms};

/// Where to send a run besides its directory.
#[derive(Clone, Debug)]
pub struct TrackingOptions {
    /// MLflow tracking server, e.g. `http://127.0.0.1:5000`.
    pub uri: String,
    /// Experiment name (created when missing).
    pub experiment: String,
}

/// The machine and code a run ran on (`RUN/environment.ron`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Environment {
    /// burn's version (pinned by the workspace).
    pub burn: String,
    /// This crate's version.
    pub text_recognizer: String,
    /// The device(s) asked for, e.g. `flex` or `cuda:0,cuda:1`.
    pub devices: String,
    /// burn backend behind them.
    pub backend: String,
    /// CPU model (`/proc/cpuinfo`).
    pub cpu: String,
    /// GPU models (`nvidia-smi`), when training on a GPU backend and the tool is there.
    #[serde(default)]
    pub gpu: Option<String>,
    /// Compute threads on the CPU (rayon's pool).
    pub threads: usize,
    /// Host name.
    pub host: String,
    /// Git commit of the working directory.
    pub git_commit: Option<String>,
    /// Whether the working tree had uncommitted changes.
    pub git_dirty: Option<bool>,
    /// Start, in seconds since the Unix epoch (of this launch; a resumed run has several).
    pub started: u64,
    /// End, in seconds since the Unix epoch.
    pub ended: Option<u64>,
    /// Wall time of this launch in seconds.
    pub wall_seconds: Option<f64>,
    /// Training samples per second over this launch (training steps only).
    pub samples_per_second: Option<f64>,
}

impl Environment {
    /// What can be read at the start of a run.
    pub fn detect(devices: &str) -> Self {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|t| {
                t.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split(':').nth(1))
                    .map(|s| s.trim().to_string())
            })
            .unwrap_or_else(|| std::env::consts::ARCH.to_string());
        let host = std::fs::read_to_string("/etc/hostname")
            .map(|h| h.trim().to_string())
            .ok()
            .filter(|h| !h.is_empty())
            .or_else(|| std::env::var("HOSTNAME").ok())
            .unwrap_or_default();
        let dirty = std::process::Command::new("git")
            .args(["status", "--porcelain", "--untracked-files=no"])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| !o.stdout.is_empty());
        let backend = devices
            .split(',')
            .map(|d| d.split(':').next().unwrap_or(d))
            .collect::<Vec<_>>()
            .join(",");
        let gpu = (backend != "flex")
            .then(|| {
                std::process::Command::new("nvidia-smi")
                    .args(["--query-gpu=name", "--format=csv,noheader"])
                    .output()
                    .ok()
                    .filter(|o| o.status.success())
                    .map(|o| {
                        String::from_utf8_lossy(&o.stdout)
                            .lines()
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
            })
            .flatten();
        Environment {
            burn: "0.22.1".into(),
            gpu,
            text_recognizer: env!("CARGO_PKG_VERSION").into(),
            devices: devices.to_string(),
            backend,
            cpu,
            threads: rayon::current_num_threads(),
            host,
            git_commit: super::git_commit(),
            git_dirty: dirty,
            started: now_ms() as u64 / 1000,
            ..Environment::default()
        }
    }

    /// As MLflow tags.
    pub fn tags(&self) -> Vec<(String, String)> {
        let mut tags = vec![
            ("device".to_string(), self.devices.clone()),
            ("backend".to_string(), self.backend.clone()),
            ("host".to_string(), self.host.clone()),
            ("cpu".to_string(), self.cpu.clone()),
            (
                "gpu".to_string(),
                self.gpu.clone().unwrap_or_else(|| "-".into()),
            ),
            ("burn".to_string(), self.burn.clone()),
        ];
        if let Some(c) = &self.git_commit {
            tags.push(("mlflow.source.git.commit".into(), c.clone()));
        }
        if let Some(d) = self.git_dirty {
            tags.push(("git_dirty".into(), d.to_string()));
        }
        tags
    }

    /// Writes `path` (RON).
    pub fn write(&self, path: &Path) -> crate::Result<()> {
        let text = ron::ser::to_string_pretty(self, ron::ser::PrettyConfig::default())
            .map_err(|e| crate::Error::config("environment.ron", e))?;
        crate::atomic_file::write_atomic(path, text.as_bytes())
    }
}

/// A value as `key → string` pairs with dotted keys (MLflow params are flat strings).
pub fn flatten(prefix: &str, value: &serde_json::Value, out: &mut Vec<(String, String)>) {
    let key = |k: &str| {
        if prefix.is_empty() {
            k.to_string()
        } else {
            format!("{prefix}.{k}")
        }
    };
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                flatten(&key(k), v, out);
            }
        }
        serde_json::Value::Array(items) if items.iter().all(|v| !v.is_object()) => {
            out.push((prefix.to_string(), value.to_string()));
        }
        serde_json::Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                flatten(&key(&i.to_string()), v, out);
            }
        }
        serde_json::Value::String(s) => out.push((prefix.to_string(), s.clone())),
        v => out.push((prefix.to_string(), v.to_string())),
    }
}

/// Receives every metric update from burn: writes `steps.csv` (one row per training step and
/// metric, and per-epoch means) and forwards the same points to MLflow.
pub struct StepLogger {
    names: HashMap<MetricId, String>,
    csv: Option<std::io::BufWriter<std::fs::File>>,
    tracker: Option<Arc<Tracker>>,
    batches_per_epoch: usize,
    first: Position,
    epoch: usize,
    batch: usize,
    running: HashMap<(String, String), f64>,
}

impl StepLogger {
    /// Appends to `RUN/steps.csv` (a resumed run continues it).
    pub fn new(
        csv_path: PathBuf,
        tracker: Option<Arc<Tracker>>,
        batches_per_epoch: usize,
        first: Position,
    ) -> Self {
        let new = !csv_path.exists();
        let csv = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&csv_path)
            .map_err(|e| tracing::warn!("{}: {e}; steps not recorded", csv_path.display()))
            .ok()
            .map(std::io::BufWriter::new);
        let mut logger = StepLogger {
            names: HashMap::new(),
            csv,
            tracker,
            batches_per_epoch,
            first,
            epoch: 0,
            batch: 0,
            running: HashMap::new(),
        };
        if new && let Some(f) = &mut logger.csv {
            let _ = writeln!(f, "split,epoch,step,metric,value,unix_ms");
        }
        logger
    }

    fn emit(&mut self, split: &str, epoch: usize, step: i64, metric: &str, value: f64) {
        let ts = now_ms();
        if let Some(f) = &mut self.csv {
            let _ = writeln!(f, "{split},{epoch},{step},{metric},{value},{ts}");
        }
        if let Some(t) = &self.tracker {
            t.point(Point {
                key: metric.to_string(),
                value,
                step,
                timestamp: ts,
            });
        }
    }
}

/// `Learning Rate` → `lr`, `Loss` → `loss`, `CER` → `cer`.
fn short(name: &str) -> String {
    match name {
        "Learning Rate" => "lr".into(),
        n => n.to_ascii_lowercase().replace(' ', "_"),
    }
}

impl MetricLogger for StepLogger {
    fn log(&mut self, update: MetricsUpdate, epoch: usize, split: &Split) {
        let split_name = match split {
            Split::Train => "train",
            Split::Valid => "valid",
            Split::Test(_) => "test",
        };
        // At an epoch's end burn sends the authoritative epoch values as one more update:
        // they are the epoch's figures, not another step.
        let last = update
            .entries_numeric
            .iter()
            .any(|u| matches!(u.numeric_entry, Some(NumericEntry::Final(_))));
        if last {
            for u in &update.entries_numeric {
                if let (Some(name), Some(NumericEntry::Final(v))) =
                    (self.names.get(&u.entry.metric_id), &u.numeric_entry)
                {
                    self.running
                        .insert((split_name.to_string(), name.clone()), *v);
                }
            }
            return;
        }
        if matches!(split, Split::Train) {
            if epoch != self.epoch {
                self.epoch = epoch;
                self.batch = if epoch == self.first.epoch {
                    self.first.batches_done
                } else {
                    0
                };
            }
            self.batch += 1;
        }
        let step = ((epoch.max(1) - 1) * self.batches_per_epoch + self.batch) as i64;
        for u in update.entries_numeric {
            let Some(name) = self.names.get(&u.entry.metric_id).cloned() else {
                continue;
            };
            if let Some(r) = &u.running_entry {
                self.running
                    .insert((split_name.to_string(), name.clone()), r.current());
            }
            if matches!(split, Split::Train)
                && let Some(v) = u.numeric_entry.as_ref().map(NumericEntry::current)
            {
                self.emit("train", epoch, step, &format!("step_{}", short(&name)), v);
            }
        }
    }

    fn read_numeric(
        &mut self,
        _name: &str,
        _epoch: usize,
        _split: &Split,
    ) -> Result<Vec<NumericEntry>, String> {
        // burn reads epoch values back from its file logger.
        Err("steps.csv is not read back".into())
    }

    fn log_metric_definition(&mut self, definition: MetricDefinition) {
        self.names
            .insert(definition.metric_id, definition.name.to_string());
    }

    fn log_epoch_summary(&mut self, summary: EpochSummary) {
        let split = match summary.split {
            Split::Train => "train",
            Split::Valid => "valid",
            Split::Test(_) => "test",
        };
        let epoch = summary.epoch_number;
        let mut values: Vec<(String, f64)> = self
            .running
            .iter()
            .filter(|((s, n), _)| s == split && n != "Learning Rate")
            .map(|((_, n), v)| (format!("{split}_{}", short(n)), *v))
            .collect();
        values.sort_by(|a, b| a.0.cmp(&b.0));
        for (metric, v) in values {
            self.emit(split, epoch, epoch as i64, &metric, v);
        }
        self.running.retain(|(s, _), _| s != split);
        if let Some(f) = &mut self.csv {
            let _ = f.flush();
        }
    }
}
