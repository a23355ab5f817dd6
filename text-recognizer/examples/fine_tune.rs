//! Fine-tune the built-in default model on a folder of lines (`NAME.png` + `NAME.gt.txt`), then
//! stage the best checkpoint as a model file. Needs the `train` feature.
//!
//! ```text
//! cargo run --release --features train --example fine_tune -- LINES_DIR [RUN_DIR] [EPOCHS]
//! ```
//!
//! The same folder serves as validation here to keep the example short; hold lines back for
//! it in real use (`train-app` takes the same options as a RON config).

use std::path::PathBuf;

use burn::train::renderer::CliMetricsRenderer;
use text_recognizer::data::DataSource;
use text_recognizer::training::{
    CharsetSpec, Component, ModelSpec, OptimConfig, RunDir, StopRequest, TrainOptions,
    TrainingConfig, train,
};
use text_recognizer::{DeviceSpec, Recognizer, StagedModel, UnknownCharPolicy};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args_os().skip(1);
    let lines = PathBuf::from(
        args.next()
            .ok_or("usage: fine_tune LINES_DIR [RUN_DIR] [EPOCHS]")?,
    );
    let run_dir = args
        .next()
        .map_or_else(|| PathBuf::from("runs/fine-tune"), PathBuf::from);
    let epochs: usize = match args.next() {
        Some(n) => n.to_string_lossy().parse()?,
        None => 2,
    };

    // Training starts from a model file: the built-in one, written into the run directory.
    let base = StagedModel::default_model()?;
    std::fs::create_dir_all(&run_dir)?;
    let base_path = run_dir.join("base.htr");
    base.save(&base_path)?;

    let config = TrainingConfig {
        // The base model's own architecture and preprocessing; its alphabet is kept because
        // `charset` is `FromData` and `init_from` is set.
        model: ModelSpec::Inline(base.manifest.preset.clone()),
        train: vec![Component {
            source: DataSource::LineFolder(lines.clone()),
            weight: 1.0,
        }],
        valid: vec![DataSource::LineFolder(lines)],
        augment: None,
        cache_dir: None,
        charset: CharsetSpec::FromData,
        unknown_chars: UnknownCharPolicy::default(),
        strict: false,
        epochs,
        epoch_samples: None,
        batch_size: 4,
        bucket_batches: 0,
        // A small learning rate: the weights are already good.
        optim: OptimConfig {
            lr: 1e-4,
            warmup_steps: 2,
            ..OptimConfig::default()
        },
        early_stopping_patience: None,
        seed: 7,
        num_workers: 0,
        log_samples: 0,
    };
    let device = DeviceSpec::Flex.device()?;
    let report = train(
        &config,
        TrainOptions {
            run_dir: RunDir::new(&run_dir),
            devices: vec![device.clone()],
            resume: false,
            renderer: Box::new(CliMetricsRenderer::new()),
            time_limit: None,
            init_from: Some(base_path),
            parent: Some("the built-in default-line model".into()),
            checkpoint_every: None,
            stop: StopRequest::new(),
            tracking: None,
            device_label: "flex".into(),
        },
    )?;
    for e in &report.epochs {
        println!(
            "epoch {}: train loss {:.3}, valid CER {:.2} %",
            e.epoch,
            e.train_loss.unwrap_or(f64::NAN),
            e.valid_cer.unwrap_or(f64::NAN)
        );
    }

    let tuned = StagedModel::from_run(&run_dir, "fine-tuned")?;
    let out = run_dir.join("fine-tuned.htr");
    tuned.save(&out)?;
    let recognizer = Recognizer::from_staged(tuned, device)?;
    println!(
        "staged {} (valid CER {:.2} %; {} tokens)",
        out.display(),
        recognizer
            .manifest()
            .provenance
            .valid_cer
            .unwrap_or(f64::NAN),
        recognizer.manifest().charset.vocab_size()
    );
    Ok(())
}
