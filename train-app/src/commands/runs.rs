//! `train-app runs`: a table of runs, one run in detail, and runs side by side with their
//! loss and CER curves drawn to an SVG.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use text_recognizer::training::tracking::{Environment, flatten};
use text_recognizer::training::{RunDir, TrainingConfig};

use crate::cli::RunsCommand;

/// What a run directory says about itself.
struct Summary {
    path: PathBuf,
    config: Option<TrainingConfig>,
    env: Option<Environment>,
    epochs: Vec<text_recognizer::training::EpochMetrics>,
    best: Option<(usize, f64)>,
}

impl Summary {
    fn read(path: &Path) -> Self {
        let run = RunDir::new(path);
        let env = std::fs::read_to_string(path.join("environment.ron"))
            .ok()
            .and_then(|t| ron::from_str(&t).ok());
        Summary {
            path: path.to_path_buf(),
            config: TrainingConfig::load(&run.config_path()).ok(),
            env,
            epochs: run.epoch_metrics(),
            best: run.best_checkpoint(),
        }
    }

    fn name(&self) -> String {
        self.path.file_name().map_or_else(
            || self.path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        )
    }

    fn epochs_done(&self) -> usize {
        self.epochs
            .iter()
            .filter(|e| e.valid_cer.is_some())
            .map(|e| e.epoch)
            .max()
            .unwrap_or(0)
    }

    /// finished, stopped (at a checkpoint, resumable) or incomplete (running, or killed).
    fn status(&self) -> &'static str {
        let total = self.config.as_ref().map_or(0, |c| c.epochs);
        match self.env.as_ref().and_then(|e| e.ended) {
            Some(_) if self.epochs_done() >= total => "finished",
            Some(_) => "stopped",
            None => "incomplete",
        }
    }

    fn config_summary(&self) -> String {
        self.config.as_ref().map_or("-".into(), |c| {
            let model = match &c.model {
                text_recognizer::training::ModelSpec::Preset(p) => format!("{p:?}"),
                text_recognizer::training::ModelSpec::File(f) => f.display().to_string(),
                text_recognizer::training::ModelSpec::Inline(p) => {
                    format!("inline d{}×{}", p.model.d_model, p.model.n_layers)
                }
            };
            format!(
                "{model} b{} lr{} {}×{}",
                c.batch_size,
                c.optim.lr,
                c.epochs,
                c.epoch_samples.map_or("all".into(), |n| n.to_string())
            )
        })
    }

    fn wall(&self) -> String {
        self.env
            .as_ref()
            .and_then(|e| e.wall_seconds)
            .map_or("-".into(), |s| format!("{:.0} s", s))
    }

    fn params(&self) -> BTreeMap<String, String> {
        let mut out = Vec::new();
        if let Some(v) = self
            .config
            .as_ref()
            .and_then(|c| serde_json::to_value(c).ok())
        {
            flatten("", &v, &mut out);
        }
        out.into_iter().collect()
    }

    /// (step, loss) of every training step, from steps.csv.
    fn step_losses(&self) -> Vec<(f64, f64)> {
        let text = std::fs::read_to_string(self.path.join("steps.csv")).unwrap_or_default();
        text.lines()
            .skip(1)
            .filter_map(|l| {
                let c: Vec<&str> = l.split(',').collect();
                (c.len() >= 5 && c[3] == "step_loss")
                    .then(|| Some((c[2].parse().ok()?, c[4].parse().ok()?)))
                    .flatten()
            })
            .collect()
    }
}

fn runs_in(dir: &Path) -> Vec<Summary> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("run.ron").is_file())
        .collect();
    dirs.sort();
    dirs.iter().map(|d| Summary::read(d)).collect()
}

fn pct(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.2}"))
}

pub fn run(cmd: RunsCommand) -> anyhow::Result<()> {
    match cmd {
        RunsCommand::List { dir } => {
            let runs = runs_in(&dir);
            if runs.is_empty() {
                anyhow::bail!("no runs (folders with run.ron) in {}", dir.display());
            }
            println!(
                "{:<28} {:<10} {:<34} {:>7} {:>9} {:>9}",
                "run", "status", "config", "epochs", "best CER", "time"
            );
            for r in runs {
                let total = r.config.as_ref().map_or(0, |c| c.epochs);
                println!(
                    "{:<28} {:<10} {:<34} {:>7} {:>9} {:>9}",
                    r.name(),
                    r.status(),
                    r.config_summary(),
                    format!("{}/{total}", r.epochs_done()),
                    pct(r.best.map(|b| b.1)),
                    r.wall()
                );
            }
        }
        RunsCommand::Show { run } => {
            anyhow::ensure!(
                run.join("run.ron").is_file(),
                "{}: not a run directory (no run.ron)",
                run.display()
            );
            let r = Summary::read(&run);
            println!("run:     {}", run.display());
            println!("status:  {}", r.status());
            println!("config:  {}", r.config_summary());
            if let Some((e, cer)) = r.best {
                println!("best:    epoch {e}, valid CER {cer:.2} %");
            }
            if let Some(env) = &r.env {
                println!(
                    "ran on:  {} ({}), {} threads, {} at {}{}",
                    env.devices,
                    env.cpu,
                    env.threads,
                    env.host,
                    env.git_commit.as_deref().unwrap_or("-"),
                    if env.git_dirty == Some(true) {
                        " (dirty)"
                    } else {
                        ""
                    }
                );
                println!(
                    "time:    {}, {} samples/s",
                    r.wall(),
                    env.samples_per_second
                        .map_or("-".into(), |s| format!("{s:.1}"))
                );
            }
            println!(
                "\n{:>5} {:>10} {:>10} {:>9} {:>9}",
                "epoch", "train loss", "valid loss", "CER %", "WER %"
            );
            for e in &r.epochs {
                println!(
                    "{:>5} {:>10} {:>10} {:>9} {:>9}",
                    e.epoch,
                    e.train_loss.map_or("-".into(), |v| format!("{v:.4}")),
                    e.valid_loss.map_or("-".into(), |v| format!("{v:.4}")),
                    pct(e.valid_cer),
                    pct(e.valid_wer)
                );
            }
        }
        RunsCommand::Compare { runs, output } => {
            anyhow::ensure!(runs.len() >= 2, "compare needs at least two runs");
            let rs: Vec<Summary> = runs
                .iter()
                .map(|p| {
                    anyhow::ensure!(
                        p.join("run.ron").is_file(),
                        "{}: not a run directory (no run.ron)",
                        p.display()
                    );
                    Ok(Summary::read(p))
                })
                .collect::<anyhow::Result<_>>()?;
            let params: Vec<BTreeMap<String, String>> = rs.iter().map(Summary::params).collect();
            let mut keys: Vec<&String> = params.iter().flat_map(|p| p.keys()).collect();
            keys.sort();
            keys.dedup();
            println!("params that differ:");
            for k in keys {
                let values: Vec<&str> = params
                    .iter()
                    .map(|p| p.get(k).map_or("-", String::as_str))
                    .collect();
                if values.iter().any(|v| *v != values[0]) {
                    println!("  {k}: {}", values.join("  |  "));
                }
            }
            println!(
                "\n{:<28} {:>7} {:>9} {:>9}",
                "run", "epochs", "best CER", "time"
            );
            for r in &rs {
                println!(
                    "{:<28} {:>7} {:>9} {:>9}",
                    r.name(),
                    r.epochs_done(),
                    pct(r.best.map(|b| b.1)),
                    r.wall()
                );
            }
            let series: Vec<crate::chart::Series> = rs
                .iter()
                .map(|r| crate::chart::Series {
                    name: r.name(),
                    loss: r.step_losses(),
                    cer: r
                        .epochs
                        .iter()
                        .filter_map(|e| Some((e.epoch as f64, e.valid_cer?)))
                        .collect(),
                })
                .collect();
            crate::chart::draw(&series, &output)?;
            println!("\nchart: {}", output.display());
        }
    }
    Ok(())
}
