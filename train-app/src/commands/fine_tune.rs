//! `train-app fine-tune`: a model adapted to one's own transcribed lines in one command, the
//! kraken/eScriptorium workflow. The lines are split (a seeded share held back for early
//! stopping), copied into the run directory with the config written beside them (so the run
//! resumes and reproduces like any other), trained from the base model's weights with small-data
//! defaults, and the best checkpoint staged with the base model's LM.

use std::path::{Path, PathBuf};

use anyhow::Context;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use text_recognizer::data::{AugmentConfig, DataSource, LineFolder, SampleRef};
use text_recognizer::training::{
    CharsetSpec, Component, DecayOver, ModelSpec, OptimConfig, RunDir, TrainingConfig,
};
use text_recognizer::{StagedModel, UnknownCharPolicy};

use super::train::{Launch, execute};
use crate::cli::{FineTuneArgs, GlobalArgs};

pub fn run(args: FineTuneArgs, global: &GlobalArgs) -> anyhow::Result<()> {
    let run_dir = args.run_dir.clone().unwrap_or_else(|| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        PathBuf::from("runs").join(format!("fine-tune-{now}"))
    });
    if RunDir::new(&run_dir).latest_checkpoint().is_some() {
        anyhow::bail!(
            "{} already holds checkpoints: `train-app train --resume {0}` continues it; \
             give another --run-dir for a new fine-tuning",
            run_dir.display()
        );
    }
    std::fs::create_dir_all(&run_dir).with_context(|| format!("creating {}", run_dir.display()))?;

    // The base model, written into the run so the run names what it started from.
    let registry = global.registry();
    let (base, parent) = match &args.from {
        None => (
            StagedModel::default_model()?,
            "the built-in default model".to_string(),
        ),
        Some(r) => (
            StagedModel::load(&r.path(&registry)?)?,
            r.describe(&registry),
        ),
    };
    let base_path = run_dir.join("base.htr");
    base.save(&base_path)?;

    let (train_lines, valid_lines) = split_lines(&args)?;
    let train_dir = run_dir.join("lines").join("train");
    let valid_dir = run_dir.join("lines").join("valid");
    copy_lines(&train_lines, &train_dir)?;
    if args.valid.is_none() {
        copy_lines(&valid_lines, &valid_dir)?;
    }
    let valid_source = args.valid.clone().unwrap_or(valid_dir);
    println!(
        "fine-tuning {} on {} lines ({} to pick the checkpoint: {}), {} minutes{}",
        parent,
        train_lines.len(),
        if args.valid.is_some() {
            "a separate folder".to_string()
        } else {
            format!("{} held back", valid_lines.len())
        },
        valid_source.display(),
        args.minutes,
        if args.scratch {
            " (from scratch: its architecture and alphabet, random weights)"
        } else {
            ""
        }
    );

    let config = small_data_config(&base, &args, &train_dir, &valid_source, train_lines.len());
    // The config beside the lines: `train-app train --config RUN_DIR/fine-tune.ron` repeats it.
    let config_path = run_dir.join("fine-tune.ron");
    let ron = ron::ser::to_string_pretty(&config, ron::ser::PrettyConfig::default())?;
    std::fs::write(&config_path, ron)
        .with_context(|| format!("writing {}", config_path.display()))?;
    let report = execute(
        &config,
        Launch {
            run_dir: run_dir.clone(),
            resume: false,
            init_from: (!args.scratch).then(|| base_path.clone()),
            parent: (!args.scratch).then(|| parent.clone()),
            max_minutes: Some(args.minutes),
            checkpoint_every: None,
            devices: None,
            log_progress: args.log_progress,
            tracking: None,
        },
        global,
    )?;

    let mut tuned = StagedModel::from_run(&run_dir, &args.name)?;
    // The model reads as its base did: same decoding settings (the preset is the base's) and,
    // unless --no-lm, the base's language model.
    if !args.no_lm {
        tuned = tuned.with_lm(base.lm().map(|lm| lm.as_ref().clone()));
    }
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| run_dir.join("fine-tuned.htr"));
    tuned.save(&output)?;
    let first = report.epochs.first().and_then(|e| e.valid_cer);
    let best = report.best.map(|(_, cer)| cer);
    println!(
        "validation CER: {} after the first epoch, {} at the best checkpoint → {}\n\
         read with: infer-app ocr --model {} DIR",
        first.map_or("-".into(), |c| format!("{c:.2} %")),
        best.map_or("-".into(), |c| format!("{c:.2} %")),
        output.display(),
        output.display()
    );
    Ok(())
}

/// The user's lines, shuffled by the seed, cut to `--lines`, and split into training and
/// early-stopping lines (none held back when `--valid` names a folder).
fn split_lines(args: &FineTuneArgs) -> anyhow::Result<(Vec<SampleRef>, Vec<SampleRef>)> {
    let mut lines = Vec::new();
    for dir in &args.lines {
        let (found, skipped) = LineFolder::new(dir).scan()?;
        for s in &skipped {
            eprintln!("skipped {}: {}", s.path.display(), s.reason);
        }
        lines.extend(found);
    }
    lines.sort_by(|a, b| a.image.cmp(&b.image));
    lines.shuffle(&mut StdRng::seed_from_u64(args.seed));
    if let Some(n) = args.max_lines {
        anyhow::ensure!(
            n <= lines.len(),
            "--lines {n}: the folders hold {} labelled lines",
            lines.len()
        );
        lines.truncate(n);
    }
    let held = if args.valid.is_some() {
        0
    } else {
        anyhow::ensure!(
            args.valid_share > 0.0 && args.valid_share < 1.0,
            "--valid-share must be between 0 and 1"
        );
        ((lines.len() as f64 * args.valid_share).round() as usize).max(2)
    };
    anyhow::ensure!(
        lines.len() >= held + 2,
        "{} labelled lines in {:?}: fine-tuning needs at least {} (NAME.png + NAME.gt.txt)",
        lines.len(),
        args.lines,
        held + 2
    );
    let train = lines.split_off(held);
    Ok((train, lines))
}

/// Copies lines (image and transcription) into `dir`, numbered so names never collide.
fn copy_lines(lines: &[SampleRef], dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for (k, line) in lines.iter().enumerate() {
        let stem = line
            .image
            .file_stem()
            .map_or_else(|| "line".into(), |s| s.to_string_lossy().into_owned());
        let ext = line
            .image
            .extension()
            .map_or_else(|| "png".into(), |e| e.to_string_lossy().into_owned());
        let name = format!("{k:05}-{stem}");
        let image = dir.join(format!("{name}.{ext}"));
        std::fs::copy(&line.image, &image)
            .with_context(|| format!("copying {} to {}", line.image.display(), image.display()))?;
        let text = dir.join(format!("{name}.gt.txt"));
        std::fs::write(&text, format!("{}\n", line.text))
            .with_context(|| format!("writing {}", text.display()))?;
    }
    Ok(())
}

/// Defaults for a few hundred lines: the base's architecture and alphabet, mild augmentation
/// (a few hundred lines are memorised fast without it), epochs of at least 256 samples so
/// validation stays a small share of the time, and a learning rate that decays along a cosine
/// over the time limit, so the run ends at its lowest rate whatever the machine's speed (on
/// 300 Bronod lines in 30 minutes this beat a constant 3e-4 with early stopping: README).
fn small_data_config(
    base: &StagedModel,
    args: &FineTuneArgs,
    train_dir: &Path,
    valid_dir: &Path,
    train_len: usize,
) -> TrainingConfig {
    let lr = args.lr;
    TrainingConfig {
        model: ModelSpec::Inline(base.manifest.preset.clone()),
        train: vec![Component {
            source: DataSource::LineFolder(train_dir.to_path_buf()),
            weight: 1.0,
        }],
        valid: vec![DataSource::LineFolder(valid_dir.to_path_buf())],
        augment: Some(AugmentConfig {
            brightness: 0.2,
            contrast: 0.2,
            rotation: 1.0,
            shear: (-10.0, 10.0),
            scale: (0.95, 1.0),
            stretch: (0.9, 1.1),
            shift: 0.0,
            perspective: (0.0, 0.0),
            blur_sigma: (0.1, 0.6),
            sharpen_p: 0.2,
            ..AugmentConfig::default()
        }),
        cache_dir: None,
        // From the base's weights its alphabet is kept (`FromData` with `init_from`); from
        // scratch it is given, so both read the same characters.
        charset: if args.scratch {
            CharsetSpec::Chars(base.manifest.charset.chars().iter().collect())
        } else {
            CharsetSpec::FromData
        },
        unknown_chars: UnknownCharPolicy::Skip,
        strict: false,
        epochs: args.epochs,
        epoch_samples: Some(args.epoch_samples.unwrap_or(train_len.max(256))),
        batch_size: args.batch_size,
        bucket_batches: 0,
        optim: OptimConfig {
            lr,
            min_lr: lr / 100.0,
            warmup_steps: 20,
            decay_over: DecayOver::TimeLimit,
            ..OptimConfig::default()
        },
        early_stopping_patience: args.patience,
        seed: args.seed,
        num_workers: 1,
        log_samples: 0,
    }
}
