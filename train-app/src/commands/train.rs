//! `train-app train`.

use std::path::PathBuf;

use anyhow::Context;
use text_recognizer::training::tracking::TrackingOptions;
use text_recognizer::training::{
    CheckpointEvery, RunDir, StopReason, StopRequest, TrainOptions, TrainReport, TrainingConfig,
    run_config, train,
};
use text_recognizer::{DeviceSpec, ModelRef};

use crate::cli::{GlobalArgs, TrainArgs};
use crate::progress::Progress;

pub fn run(args: TrainArgs, global: &GlobalArgs) -> anyhow::Result<()> {
    let (mut config, run_dir, resume) = match (&args.resume, &args.config) {
        (Some(dir), _) => (run_config(dir)?, dir.clone(), true),
        (None, Some(path)) => {
            let config = TrainingConfig::load(path)?;
            let dir = args
                .run_dir
                .clone()
                .unwrap_or_else(|| default_run_dir(path));
            (config, dir, false)
        }
        (None, None) => anyhow::bail!("give --config FILE.ron or --resume RUN_DIR"),
    };
    apply_overrides(&mut config, &args);
    config
        .validate()
        .map_err(|e| anyhow::anyhow!("config after overrides: {e}"))?;
    if !resume && RunDir::new(&run_dir).latest_checkpoint().is_some() {
        anyhow::bail!(
            "{} already holds checkpoints: use --resume {0} to continue it, or another --run-dir",
            run_dir.display()
        );
    }

    let registry = global.registry();
    let init_from = match (&args.init_from, &args.tracking_uri) {
        (Some(ModelRef::Registry { name, selector }), Some(uri)) => {
            Some(text_recognizer::mlflow::fetch_model(
                uri,
                name,
                selector,
                &text_recognizer::data::default_cache_dir(),
            )?)
        }
        (Some(r), _) => Some(r.path(&registry)?),
        (None, _) => None,
    };
    let parent = args.init_from.as_ref().map(|r| r.describe(&registry));
    execute(
        &config,
        Launch {
            run_dir,
            resume,
            init_from,
            parent,
            max_minutes: args.max_minutes,
            checkpoint_every: args.checkpoint_every,
            devices: args.devices.clone(),
            log_progress: args.log_progress,
            tracking: args.tracking_uri.clone().map(|uri| TrackingOptions {
                uri,
                experiment: args.experiment.clone(),
            }),
        },
        global,
    )?;
    Ok(())
}

/// How to launch a run, beyond its config.
pub(crate) struct Launch {
    pub run_dir: PathBuf,
    pub resume: bool,
    pub init_from: Option<PathBuf>,
    pub parent: Option<String>,
    pub max_minutes: Option<f64>,
    pub checkpoint_every: Option<CheckpointEvery>,
    pub devices: Option<Vec<DeviceSpec>>,
    pub log_progress: bool,
    pub tracking: Option<TrackingOptions>,
}

/// Trains `config` with the signal handling every run gets (SIGTERM and Ctrl-C checkpoint and
/// stop) and prints what the run did.
pub(crate) fn execute(
    config: &TrainingConfig,
    launch: Launch,
    global: &GlobalArgs,
) -> anyhow::Result<TrainReport> {
    let run_dir = launch.run_dir;
    let specs = launch
        .devices
        .unwrap_or_else(|| vec![global.device.clone()]);
    let devices = specs
        .iter()
        .map(|s| s.device())
        .collect::<Result<Vec<_>, _>>()?;
    let names = specs
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let minutes = |m: f64, flag: &str| {
        anyhow::ensure!(
            m.is_finite() && m > 0.0,
            "{flag} must be a positive number of minutes"
        );
        Ok(std::time::Duration::from_secs_f64(m * 60.0))
    };
    let time_limit = launch
        .max_minutes
        .map(|m| minutes(m, "--max-minutes"))
        .transpose()?;
    let stop = StopRequest::new();
    // SIGTERM (a cloud provider's notice before preemption) and Ctrl-C: finish the step,
    // checkpoint, exit 0. A second Ctrl-C still kills at once.
    signal_hook::flag::register_usize(
        signal_hook::consts::SIGTERM,
        stop.flag(),
        StopReason::Terminate.code(),
    )?;
    let interrupted = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    signal_hook::flag::register_conditional_shutdown(
        signal_hook::consts::SIGINT,
        130,
        interrupted.clone(),
    )?;
    signal_hook::flag::register(signal_hook::consts::SIGINT, interrupted)?;
    signal_hook::flag::register_usize(
        signal_hook::consts::SIGINT,
        stop.flag(),
        StopReason::Interrupt.code(),
    )?;

    let started = std::time::Instant::now();
    let report = train(
        config,
        TrainOptions {
            run_dir: RunDir::new(&run_dir),
            devices,
            resume: launch.resume,
            renderer: Box::new(Progress::new(
                config.batch_size,
                launch.log_progress,
                time_limit,
            )),
            init_from: launch.init_from,
            parent: launch.parent,
            time_limit,
            checkpoint_every: launch.checkpoint_every,
            stop,
            tracking: launch.tracking,
            device_label: names.clone(),
        },
    )
    .with_context(|| format!("training run {}", run_dir.display()))?;

    for (what, data) in [("train", &report.train_data), ("valid", &report.valid_data)] {
        if !data.skipped.is_empty() {
            eprintln!("{what}: {} samples skipped:", data.skipped.len());
            for s in &data.skipped {
                eprintln!("  {}: {}", s.path.display(), s.reason);
            }
        }
        if data.unknown_chars > 0 {
            eprintln!(
                "{what}: {} characters outside the alphabet were skipped or replaced",
                data.unknown_chars
            );
        }
    }
    println!("run: {}", run_dir.display());
    println!("time: {:.1} s on {names}", started.elapsed().as_secs_f64());
    if let Some(last) = report.epochs.last() {
        println!(
            "last epoch {}: train loss {:.4}, valid CER {:.2} %, WER {:.2} %",
            last.epoch,
            last.train_loss.unwrap_or(f64::NAN),
            last.valid_cer.unwrap_or(f64::NAN),
            last.valid_wer.unwrap_or(f64::NAN)
        );
    }
    if let Some((epoch, cer)) = report.best {
        println!("best checkpoint: epoch {epoch}, valid CER {cer:.2} %");
    }
    if let Some(stopped) = report.stopped {
        let at = stopped.at;
        let place = if at.batches_done == 0 {
            format!("at the start of epoch {}", at.epoch)
        } else {
            format!("in epoch {}, after batch {}", at.epoch, at.batches_done)
        };
        println!(
            "stopped ({}); checkpoint saved {place}. Continue with:\n  train-app train --resume {}",
            stopped.reason,
            run_dir.display()
        );
    }
    Ok(report)
}

fn apply_overrides(config: &mut TrainingConfig, args: &TrainArgs) {
    if let Some(v) = args.epochs {
        config.epochs = v;
    }
    if let Some(v) = args.batch_size {
        config.batch_size = v;
    }
    if let Some(v) = args.lr {
        config.optim.lr = v;
    }
    if let Some(v) = args.seed {
        config.seed = v;
    }
    if let Some(v) = args.workers {
        config.num_workers = v;
    }
    if let Some(v) = args.epoch_samples {
        config.epoch_samples = Some(v);
    }
    if args.strict {
        config.strict = true;
    }
}

fn default_run_dir(config: &std::path::Path) -> PathBuf {
    let stem = config.file_stem().and_then(|s| s.to_str()).unwrap_or("run");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    PathBuf::from("runs").join(format!("{stem}-{now}"))
}
