//! One training run with burn's `SupervisedTraining`: data loading, the learner, metrics,
//! checkpoints (best validation CER + last), early stopping, warm-up + cosine LR, resume.

use std::path::Path;
use std::sync::Arc;

use burn::data::dataloader::DataLoaderBuilder;
use burn::grad_clipping::GradientClippingConfig;
use burn::lr_scheduler::LrSchedulerConfig;
use burn::lr_scheduler::cosine::CosineAnnealingLrSchedulerConfig;
use burn::lr_scheduler::linear::LinearLrSchedulerConfig;
use burn::lr_scheduler::module_lr_scheduler::ModuleLrScheduler;
use burn::lr_scheduler::sequential::SequentialLrSchedulerConfig;
use burn::module::Module;
use burn::optim::AdamWConfig;
use burn::tensor::Device;
use burn::train::checkpoint::{
    ComposedCheckpointingStrategy, KeepLastNCheckpoints, MetricCheckpointingStrategy,
};
use burn::train::metric::store::{Aggregate, Direction, Split};
use burn::train::metric::{LearningRateMetric, LossMetric};
use burn::train::renderer::MetricsRenderer;
use burn::train::{Learner, MetricEarlyStoppingStrategy, StoppingCondition, SupervisedTraining};

use super::config::TrainingConfig;
use super::metric::{ErrorKind, TextErrorMetric};
use super::run_dir::{EpochMetrics, RunDir, RunInfo, git_commit};
use crate::data::synthetic::TextCorpus;
use crate::data::{
    DataSource, HtrBatcher, HtrDataset, LoadOptions, LoadReport, Loaded, MixtureDataset,
    default_cache_dir,
};
use crate::error::{Error, Result};

/// How to run: where, on what, and whether to continue.
pub struct TrainOptions {
    /// The run directory (created if needed).
    pub run_dir: RunDir,
    /// Compute device (without autodiff; it is added here).
    pub device: Device,
    /// Continue from the newest checkpoint in `run_dir`.
    pub resume: bool,
    /// Progress display.
    pub renderer: Box<dyn MetricsRenderer>,
    /// Stop cleanly (checkpoints and metrics written) after this much wall time.
    pub time_limit: Option<std::time::Duration>,
    /// Start from the weights of this staged model (fine-tuning) instead of random ones.
    pub init_from: Option<std::path::PathBuf>,
}

/// What a finished run reports.
#[derive(Clone, Debug)]
pub struct TrainReport {
    /// Per-epoch metrics (also in `metrics.csv`).
    pub epochs: Vec<EpochMetrics>,
    /// Best kept checkpoint and its validation CER (%).
    pub best: Option<(usize, f64)>,
    /// What loading the training data left out.
    pub train_data: LoadReport,
    /// What loading the validation data left out.
    pub valid_data: LoadReport,
    /// Optimiser steps per epoch.
    pub steps_per_epoch: usize,
}

fn describe(sources: &[DataSource]) -> String {
    sources
        .iter()
        .map(DataSource::describe)
        .collect::<Vec<_>>()
        .join(", ")
}

fn is_generated(s: &DataSource) -> bool {
    matches!(
        s,
        DataSource::SyntheticLines { .. } | DataSource::SyntheticParagraphs { .. }
    )
}

/// The corpora of synthetic sources, for the alphabet and for restricting to it.
fn corpora(sources: &[&DataSource], options: &LoadOptions) -> Result<Vec<Option<TextCorpus>>> {
    sources.iter().map(|s| s.corpus(options)).collect()
}

/// Linear warm-up from `lr/100`, then cosine decay to `min_lr`, over `total` optimiser steps.
fn lr_schedule(config: &TrainingConfig, total: usize) -> Result<ModuleLrScheduler> {
    let o = &config.optim;
    let warmup = o.warmup_steps.min(total.saturating_sub(1));
    let cosine =
        CosineAnnealingLrSchedulerConfig::new(o.lr, (total - warmup).max(1)).with_min_lr(o.min_lr);
    let schedule = if warmup == 0 {
        cosine.init()
    } else {
        SequentialLrSchedulerConfig::new(
            vec![
                LrSchedulerConfig::Linear(LinearLrSchedulerConfig::new(o.lr / 100.0, o.lr, warmup)),
                LrSchedulerConfig::Cosine(cosine),
            ],
            vec![warmup],
        )
        .init()
    };
    schedule.map_err(|e| Error::config("optim", e))
}

/// Trains a model as `config` says. Returns when the last epoch ends or early stopping fires.
pub fn train(config: &TrainingConfig, options: TrainOptions) -> Result<TrainReport> {
    let run = options.run_dir;
    std::fs::create_dir_all(run.root()).map_err(|e| Error::io(run.root(), e))?;
    let resume_epoch = if options.resume {
        Some(run.latest_checkpoint().ok_or_else(|| {
            Error::config(
                run.root().display().to_string(),
                "--resume: no checkpoint in this run",
            )
        })?)
    } else {
        None
    };

    let load_opts = LoadOptions {
        cache_dir: config.cache_dir.clone().unwrap_or_else(default_cache_dir),
    };
    let train_sources: Vec<&DataSource> = config.train.iter().map(|c| &c.source).collect();
    let valid_sources: Vec<&DataSource> = config.valid.iter().collect();
    let mut train_corpora = corpora(&train_sources, &load_opts)?;
    let mut valid_corpora = corpora(&valid_sources, &load_opts)?;
    // Load fixed sources first: their texts shape the alphabet.
    let mut train_loaded = Vec::new();
    let mut valid_loaded = Vec::new();
    let mut train_report = LoadReport::default();
    let mut valid_report = LoadReport::default();
    for (list, loaded, report) in [
        (&train_sources, &mut train_loaded, &mut train_report),
        (&valid_sources, &mut valid_loaded, &mut valid_report),
    ] {
        for s in list.iter().filter(|s| !is_generated(s)) {
            let (l, skipped) = s.load(&load_opts, None)?;
            report.skipped.extend(skipped);
            loaded.push(((*s).clone(), l));
        }
    }
    // A resumed run keeps its preset and alphabet: token ids must not move under the weights.
    let (preset, charset) = if resume_epoch.is_some() {
        let info = run.read_info()?;
        (info.preset, info.charset)
    } else {
        let mut texts: Vec<&str> = train_loaded
            .iter()
            .chain(&valid_loaded)
            .flat_map(|(_, l)| l.texts())
            .collect();
        let corpus_texts: Vec<&str> = train_corpora
            .iter()
            .chain(&valid_corpora)
            .flatten()
            .flat_map(TextCorpus::chars)
            .collect();
        texts.extend(corpus_texts);
        let paragraphs = train_sources
            .iter()
            .chain(&valid_sources)
            .any(|s| matches!(s, DataSource::SyntheticParagraphs { .. }));
        if paragraphs {
            texts.push("\n");
        }
        (config.model.resolve()?, config.charset.build(texts)?)
    };
    for corpus in train_corpora
        .iter_mut()
        .chain(valid_corpora.iter_mut())
        .flatten()
    {
        corpus.restrict_to(&charset);
    }
    // Then the generated ones, with their corpora restricted to the alphabet.
    for (list, corpora, loaded, report) in [
        (
            &train_sources,
            train_corpora,
            &mut train_loaded,
            &mut train_report,
        ),
        (
            &valid_sources,
            valid_corpora,
            &mut valid_loaded,
            &mut valid_report,
        ),
    ] {
        for (s, corpus) in list.iter().zip(corpora) {
            if is_generated(s) {
                let (l, skipped) = s.load(&load_opts, corpus)?;
                report.skipped.extend(skipped);
                loaded.push(((*s).clone(), l));
            }
        }
    }
    let max_tokens = preset.model.max_output_len;
    let charset = Arc::new(charset);

    let valid_list: Vec<Loaded> = valid_loaded.into_iter().map(|(_, l)| l).collect();
    let (valid_ds, vr) = HtrDataset::from_loaded(
        &valid_list,
        &preset.preprocess,
        &charset,
        config.unknown_chars,
        max_tokens,
        config.strict,
    )?;
    valid_report.skipped.extend(vr.skipped);
    valid_report.loaded = vr.loaded;
    valid_report.unknown_chars = vr.unknown_chars;

    let weights: Vec<(Loaded, f64)> = train_loaded
        .into_iter()
        .map(|(s, l)| {
            let w = config
                .train
                .iter()
                .find(|c| c.source == s)
                .map_or(1.0, |c| c.weight);
            (l, w)
        })
        .collect();
    let epoch_len = config
        .epoch_samples
        .unwrap_or_else(|| weights.iter().map(|(l, _)| l.len()).sum())
        .max(1);
    let (train_ds, skipped, unknown) = MixtureDataset::new(
        weights,
        preset.preprocess.clone(),
        charset.clone(),
        config.unknown_chars,
        max_tokens,
        config.augment.clone(),
        epoch_len,
        config.seed,
    );
    train_report.skipped.extend(skipped);
    train_report.unknown_chars = unknown;
    train_report.loaded = epoch_len;
    if config.strict
        && let Some(s) = train_report
            .skipped
            .iter()
            .chain(&valid_report.skipped)
            .next()
    {
        return Err(Error::config(s.path.display().to_string(), &s.reason));
    }
    if train_ds.sources() == 0 {
        return Err(Error::EmptyDataset {
            what: describe(
                &config
                    .train
                    .iter()
                    .map(|c| c.source.clone())
                    .collect::<Vec<_>>(),
            ),
        });
    }
    if valid_ds.items().is_empty() {
        return Err(Error::EmptyDataset {
            what: describe(&config.valid),
        });
    }

    let steps_per_epoch = epoch_len
        .div_ceil(config.batch_size)
        .div_ceil(config.optim.grad_accumulation);
    let total_steps = (steps_per_epoch * config.epochs).max(1);

    std::fs::write(run.config_path(), config.to_ron())
        .map_err(|e| Error::io(run.config_path(), e))?;
    run.write_info(&RunInfo {
        preset: preset.clone(),
        charset: (*charset).clone(),
        train_samples: epoch_len,
        valid_samples: valid_ds.items().len(),
        data: config
            .train
            .iter()
            .map(|c| format!("train: {} (weight {})", c.source.describe(), c.weight))
            .chain(
                config
                    .valid
                    .iter()
                    .map(|s| format!("valid: {}", s.describe())),
            )
            .collect(),
        steps_per_epoch,
        git_commit: git_commit(),
    })?;

    let device = options.device.autodiff();
    device.seed(config.seed);
    let mut model = preset.model.init(charset.vocab_size(), &device);
    if let Some(path) = &options.init_from
        && resume_epoch.is_none()
    {
        let staged = crate::StagedModel::load(path)?;
        if staged.manifest.charset != *charset
            || !staged.manifest.preset.model.same_weights_as(&preset.model)
        {
            return Err(Error::config(
                path.display().to_string(),
                "--init-from: the model's architecture or alphabet differs from this config's",
            ));
        }
        // The staged model's own architecture takes its weights; a CTC head this config adds
        // starts fresh (hybrid fine-tuning of a model trained without one).
        let base = staged
            .manifest
            .preset
            .model
            .init(charset.vocab_size(), &device);
        model =
            staged
                .load_into(base)?
                .with_settings_of(&preset.model, charset.vocab_size(), &device);
        tracing::info!("initialised from {}", path.display());
    }
    tracing::info!(
        "model: {} parameters; {} training samples per epoch, {} validation; {} steps per epoch",
        model.num_params(),
        epoch_len,
        valid_ds.items().len(),
        steps_per_epoch
    );

    let batcher = HtrBatcher::new(preset.preprocess.clone());
    let train_loader = DataLoaderBuilder::new(batcher.clone())
        .batch_size(config.batch_size)
        .shuffle(config.seed)
        .num_workers(config.num_workers)
        .set_device(device.clone())
        .build(train_ds);
    let valid_loader = DataLoaderBuilder::new(batcher)
        .batch_size(config.batch_size)
        .num_workers(config.num_workers)
        .set_device(device.clone())
        .build(valid_ds);

    let optim = AdamWConfig::new()
        .with_weight_decay(config.optim.weight_decay)
        .with_epsilon(1e-8)
        .with_grad_clipping(
            config
                .optim
                .grad_clip_norm
                .map(GradientClippingConfig::Norm),
        )
        .init();
    let schedule = lr_schedule(config, total_steps)?;

    let cer = TextErrorMetric::new(ErrorKind::Cer, charset.clone());
    let first_epoch = resume_epoch.map_or(1, |e| e + 1);
    let mut training = SupervisedTraining::new(run.root(), train_loader, valid_loader)
        .metric_train_numeric(LossMetric::new())
        .metric_valid_numeric(LossMetric::new())
        .metric_train_numeric(LearningRateMetric::new())
        .metric_valid_numeric(cer.clone().with_samples(
            run.samples_dir(),
            first_epoch,
            config.log_samples,
        ))
        .metric_valid_numeric(TextErrorMetric::new(ErrorKind::Wer, charset))
        .with_default_checkpointers()
        .with_checkpointing_strategy(
            ComposedCheckpointingStrategy::builder()
                .add(KeepLastNCheckpoints::new(1))
                .add(MetricCheckpointingStrategy::new(
                    &cer,
                    Aggregate::Mean,
                    Direction::Lowest,
                    Split::Valid,
                ))
                .build(),
        )
        .with_application_logger(None)
        .renderer(options.renderer)
        .num_epochs(config.epochs)
        .summary();
    if config.optim.grad_accumulation > 1 {
        training = training.grads_accumulation(config.optim.grad_accumulation);
    }
    if let Some(n_epochs) = config.early_stopping_patience {
        training = training.early_stopping(MetricEarlyStoppingStrategy::new(
            &cer,
            Aggregate::Mean,
            Direction::Lowest,
            Split::Valid,
            StoppingCondition::NoImprovementSince { n_epochs },
        ));
    }
    if let Some(epoch) = resume_epoch {
        tracing::info!("resuming {} from epoch {epoch}", run.root().display());
        training = training.checkpoint(epoch);
    }

    if let Some(limit) = options.time_limit {
        // A rented GPU is paid by the hour: stop at a time budget the way Ctrl-C would, with
        // the current epoch's checkpoint and metrics written.
        let interrupter = training.interrupter();
        std::thread::spawn(move || {
            std::thread::sleep(limit);
            interrupter.stop(Some("time limit reached"));
        });
    }
    let result = training.launch(Learner::new(model, optim, schedule));
    if let Some(reason) = &result.interrupted {
        tracing::warn!("training stopped early: {reason:?}");
    }
    if let Some(err) = result.error {
        return Err(Error::Training(err.to_string()));
    }
    let epochs = run.write_metrics_csv()?;
    Ok(TrainReport {
        epochs,
        best: run.best_checkpoint(),
        train_data: train_report,
        valid_data: valid_report,
        steps_per_epoch,
    })
}

/// Reads the config a run was started with.
pub fn run_config(run_dir: &Path) -> Result<TrainingConfig> {
    TrainingConfig::load(&RunDir::new(run_dir).config_path())
}
