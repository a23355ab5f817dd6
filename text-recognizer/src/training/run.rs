//! One training run with burn's `SupervisedTraining`: data loading, the learner, metrics,
//! checkpoints (best validation CER + last), early stopping, warm-up + cosine LR, resume.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use burn::data::dataloader::DataLoaderBuilder;
use burn::grad_clipping::GradientClippingConfig;
use burn::module::Module;
use burn::optim::AdamWConfig;
use burn::tensor::Device;
use burn::train::checkpoint::{
    ComposedCheckpointingStrategy, KeepLastNCheckpoints, MetricCheckpointingStrategy,
};
use burn::train::logger::FileMetricLogger;
use burn::train::metric::store::{Aggregate, Direction, Split};
use burn::train::metric::{LearningRateMetric, LossMetric};
use burn::train::renderer::MetricsRenderer;
use burn::train::{
    ExecutionStrategy, Learner, MetricEarlyStoppingStrategy, MultiDeviceOptim, StoppingCondition,
    SupervisedTraining, TrainingStrategy,
};

use super::checkpoint::AtomicFileCheckpointer;
use super::config::{CharsetSpec, DecayOver, TrainingConfig};
use super::metric::{ErrorKind, TextErrorMetric};
use super::run_dir::{EpochMetrics, RunDir, RunInfo, git_commit};
use super::samples::SampleSheets;
use super::schedule::lr_schedule;
use super::stop::{StopReason, StopRequest};
use super::strategy::{CheckpointEvery, Position, PreemptibleTraining, Stopped};
use super::tracking::{self, Environment, StepLogger, TrackingOptions};
use crate::charset::Charset;
use crate::data::synthetic::TextCorpus;
use crate::data::{
    DataSource, HtrBatcher, HtrDataset, LoadOptions, LoadReport, Loaded, MixtureDataset,
    default_cache_dir,
};
use crate::error::{Error, Result};
use crate::mlflow::{self, RunIds, RunSpec, Tracker};
use crate::model::{Preset, ResnetTransformer};

/// How to run: where, on what, and whether to continue.
pub struct TrainOptions {
    /// The run directory (created if needed).
    pub run_dir: RunDir,
    /// Compute devices (without autodiff; it is added here). One: the preemptible single-device
    /// loop. Several: burn's data-parallel strategy (one batch per device per optimiser step,
    /// the optimiser on the first device).
    pub devices: Vec<Device>,
    /// Continue from the newest checkpoint in `run_dir` (an epoch's, or a newer mid-epoch one).
    pub resume: bool,
    /// Progress display.
    pub renderer: Box<dyn MetricsRenderer>,
    /// Stop cleanly (checkpoint written) after this much wall time.
    pub time_limit: Option<Duration>,
    /// Start from the weights of this staged model (fine-tuning) instead of random ones.
    pub init_from: Option<std::path::PathBuf>,
    /// How the user named `init_from` (e.g. `registry:lines@production (lines:3)`), recorded
    /// as the run's parent.
    pub parent: Option<String>,
    /// Save a mid-epoch checkpoint this often (single device only).
    pub checkpoint_every: Option<CheckpointEvery>,
    /// Set by the application's signal handlers: save and stop after the current step.
    pub stop: StopRequest,
    /// Also log the run to an MLflow server.
    pub tracking: Option<TrackingOptions>,
    /// The devices as the user named them (for the environment record).
    pub device_label: String,
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
    /// Where training started (a resumed run: after its checkpoint).
    pub started_at: Position,
    /// Set when the run stopped on request: why, and where `--resume` continues.
    pub stopped: Option<Stopped>,
}

/// Where a resumed run picks up.
enum Start {
    /// From scratch.
    Fresh,
    /// After this completed epoch (its checkpoint).
    AfterEpoch(usize),
    /// From a mid-epoch checkpoint.
    Within(Position),
}

impl Start {
    fn position(&self) -> Position {
        match *self {
            Start::Fresh => Position {
                epoch: 1,
                batches_done: 0,
            },
            Start::AfterEpoch(e) => Position {
                epoch: e + 1,
                batches_done: 0,
            },
            Start::Within(p) => p,
        }
    }
}

/// The newest complete checkpoint: an epoch's, or a mid-epoch one past it (single device).
fn resume_point(run: &RunDir, batches_per_epoch: usize, single_device: bool) -> Result<Start> {
    let epoch = run.latest_checkpoint();
    let step = run.step_checkpoints().last().copied();
    let covered = epoch.unwrap_or(0) * batches_per_epoch;
    match (epoch, step) {
        (_, Some(key)) if key > covered && single_device => {
            Ok(Start::Within(Position::from_key(key, batches_per_epoch)))
        }
        (Some(e), _) => Ok(Start::AfterEpoch(e)),
        (None, Some(_)) => Err(Error::config(
            run.root().display().to_string(),
            "--resume: only a mid-epoch checkpoint, which several devices cannot continue; \
             resume on one device",
        )),
        (None, None) => Err(Error::config(
            run.root().display().to_string(),
            "--resume: no checkpoint in this run",
        )),
    }
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

/// Trains a model as `config` says. Returns when the last epoch ends or early stopping fires.
pub fn train(config: &TrainingConfig, options: TrainOptions) -> Result<TrainReport> {
    let run = options.run_dir.clone();
    check_options(config, &options, &run)?;
    let (data, train_ds, valid_ds) = load_data(config, &options, &run)?;
    let plan = Plan::new(config, &options, &run, data.epoch_len)?;
    // The data of a resumed run continue where they stopped (seeded by epoch and index).
    train_ds.start_at(
        plan.started_at.epoch,
        plan.started_at.batches_done * config.batch_size,
    );
    let (mut environment, tracker) = record_run(config, &options, &run, &data, &plan)?;

    let devices: Vec<Device> = options
        .devices
        .iter()
        .map(|d| d.clone().autodiff())
        .collect();
    let device = devices[0].clone();
    device.seed(config.seed);
    let model = init_model(&data, &options, &device)?;
    tracing::info!(
        "model: {} parameters; {} training samples per epoch, {} validation; {} steps per epoch",
        model.num_params(),
        data.epoch_len,
        data.valid_len,
        plan.steps_per_epoch
    );
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
    let schedule = lr_schedule(config, plan.scaled_lr, plan.total_steps, options.time_limit)?;

    let stopped = Arc::new(Mutex::new(None));
    let training = supervised(
        config,
        &run,
        (train_ds, valid_ds),
        &data,
        &plan,
        &device,
        tracker.clone(),
        options.renderer,
    );
    let training = with_strategy(
        training,
        config,
        &run,
        &data,
        &plan,
        (devices, options.devices[0].clone()),
        (&options.stop, options.checkpoint_every),
        &stopped,
    );
    if let Some(limit) = options.time_limit {
        // A rented GPU is paid by the hour: stop at a time budget as on SIGTERM.
        let stop = options.stop.clone();
        std::thread::spawn(move || {
            std::thread::sleep(limit);
            stop.request(StopReason::TimeLimit);
        });
    }
    let launched = std::time::Instant::now();
    let result = training.launch(Learner::new(model, optim, schedule));
    if let Some(reason) = &result.interrupted {
        tracing::warn!("training stopped early: {reason:?}");
    }
    if let Some(err) = result.error {
        return Err(Error::Training(err.to_string()));
    }
    if let Some(e) = run.latest_checkpoint() {
        run.prune_step_checkpoints(e * plan.batches_per_epoch)?;
    }
    let stopped = stopped.lock().ok().and_then(|s| *s);
    let epochs = run.write_metrics_csv()?;

    let wall = launched.elapsed().as_secs_f64();
    let ended_at = stopped.map_or_else(
        || Position {
            epoch: epochs.last().map_or(plan.started_at.epoch, |m| m.epoch + 1),
            batches_done: 0,
        },
        |s| s.at,
    );
    let trained = ended_at
        .key(plan.batches_per_epoch)
        .saturating_sub(plan.started_at.key(plan.batches_per_epoch))
        * config.batch_size;
    environment.ended = Some(mlflow::now_ms() as u64 / 1000);
    environment.wall_seconds = Some(wall);
    environment.samples_per_second = (wall > 0.0).then(|| trained as f64 / wall);
    environment.write(&run.root().join("environment.ron"))?;

    if let Some(tracker) = tracker {
        finish_tracker(&tracker, &run, stopped);
    }
    Ok(TrainReport {
        epochs,
        best: run.best_checkpoint(),
        train_data: data.train_report,
        valid_data: data.valid_report,
        steps_per_epoch: plan.steps_per_epoch,
        started_at: plan.started_at,
        stopped,
    })
}

/// Refuses option combinations that cannot work, before anything is loaded.
fn check_options(config: &TrainingConfig, options: &TrainOptions, run: &RunDir) -> Result<()> {
    if config.optim.decay_over == DecayOver::TimeLimit && options.time_limit.is_none() {
        return Err(Error::config(
            "optim.decay_over",
            "TimeLimit decays over the run's time limit: give --max-minutes",
        ));
    }
    std::fs::create_dir_all(run.root()).map_err(|e| Error::io(run.root(), e))?;
    let n_devices = options.devices.len();
    if n_devices == 0 {
        return Err(Error::config("devices", "at least one device is needed"));
    }
    if n_devices > 1 && options.checkpoint_every.is_some() {
        return Err(Error::config(
            "--checkpoint-every",
            "mid-epoch checkpoints need a single device; with several, make epochs short \
             with epoch_samples (a checkpoint ends every epoch)",
        ));
    }
    if options.resume && run.latest_checkpoint().is_none() && run.step_checkpoints().is_empty() {
        return Err(Error::config(
            run.root().display().to_string(),
            "--resume: no checkpoint in this run",
        ));
    }
    Ok(())
}

/// A run's data, ready for the loaders, and the alphabet and preset they were encoded with.
struct RunData {
    preset: Preset,
    charset: Arc<Charset>,
    /// The validation sources as loaded (sample sheets draw from them).
    valid_list: Vec<Loaded>,
    /// Training samples per epoch.
    epoch_len: usize,
    /// Validation samples.
    valid_len: usize,
    train_report: LoadReport,
    valid_report: LoadReport,
}

/// Sources as loaded, with the source each came from.
type LoadedSources = Vec<(DataSource, Loaded)>;

/// Loads the sources, settles the alphabet, and builds the training mixture and the fixed
/// validation set.
fn load_data(
    config: &TrainingConfig,
    options: &TrainOptions,
    run: &RunDir,
) -> Result<(RunData, MixtureDataset, HtrDataset)> {
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
    let (preset, charset) = choose_alphabet(
        config,
        options,
        run,
        [&train_loaded, &valid_loaded],
        [&train_corpora, &valid_corpora],
    )?;
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
    if !options.resume {
        write_input_profile(run, &train_loaded)?;
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
    let train_ds = train_ds.with_width_buckets(config.bucket_batches * config.batch_size);
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
    let data = RunData {
        preset,
        charset,
        valid_list,
        epoch_len,
        valid_len: valid_ds.items().len(),
        train_report,
        valid_report,
    };
    Ok((data, train_ds, valid_ds))
}

/// The preset and alphabet: a resumed run keeps its own (token ids must not move under the
/// weights), fine-tuning keeps the base model's unless the config names one, otherwise every
/// character of the fixed sources' texts and the synthetic sources' corpora.
fn choose_alphabet(
    config: &TrainingConfig,
    options: &TrainOptions,
    run: &RunDir,
    loaded: [&LoadedSources; 2],
    corpora: [&Vec<Option<TextCorpus>>; 2],
) -> Result<(Preset, Charset)> {
    if options.resume {
        let info = run.read_info()?;
        return Ok((info.preset, info.charset));
    }
    if let Some(path) = &options.init_from
        && matches!(config.charset, CharsetSpec::FromData)
    {
        // Its output layer is sized and ordered for its alphabet; characters the new data
        // adds fall under `unknown_chars`.
        let staged = crate::StagedModel::load(path)?;
        return Ok((config.model.resolve()?, staged.manifest.charset));
    }
    let mut texts: Vec<&str> = loaded
        .into_iter()
        .flatten()
        .flat_map(|(_, l)| l.texts())
        .collect();
    texts.extend(
        corpora
            .into_iter()
            .flatten()
            .flatten()
            .flat_map(TextCorpus::chars),
    );
    let paragraphs = config
        .train
        .iter()
        .map(|c| &c.source)
        .chain(&config.valid)
        .any(|s| matches!(s, DataSource::SyntheticParagraphs { .. }));
    if paragraphs {
        texts.push("\n");
    }
    Ok((config.model.resolve()?, config.charset.build(texts)?))
}

/// What the real training images look like, for drift checks where the model serves.
fn write_input_profile(run: &RunDir, train_loaded: &LoadedSources) -> Result<()> {
    let images: Vec<&crate::image::GrayImage> = train_loaded
        .iter()
        .filter_map(|(_, l)| match l {
            Loaded::Fixed(samples, _) => Some(samples.iter().map(|(img, _)| img)),
            _ => None,
        })
        .flatten()
        .collect();
    if images.is_empty() {
        return Ok(());
    }
    run.write_input_profile(&crate::image::profile::InputProfile::of(&images))
}

/// Steps, learning rate and where the run starts.
struct Plan {
    n_devices: usize,
    batches_per_epoch: usize,
    steps_per_epoch: usize,
    total_steps: usize,
    scaled_lr: f64,
    start: Start,
    started_at: Position,
}

impl Plan {
    fn new(
        config: &TrainingConfig,
        options: &TrainOptions,
        run: &RunDir,
        epoch_len: usize,
    ) -> Result<Plan> {
        let n_devices = options.devices.len();
        // Several devices each take one batch per optimiser step.
        let batches_per_epoch = epoch_len.div_ceil(config.batch_size);
        let steps_per_epoch = epoch_len
            .div_ceil(n_devices)
            .div_ceil(config.batch_size)
            .div_ceil(config.optim.grad_accumulation);
        let start = if options.resume {
            let info = run.read_info()?;
            if info.steps_per_epoch != steps_per_epoch {
                return Err(Error::config(
                    run.root().display().to_string(),
                    format!(
                        "--resume: {steps_per_epoch} optimiser steps per epoch, the run had {} \
                         (batch size, epoch length or device count changed)",
                        info.steps_per_epoch
                    ),
                ));
            }
            resume_point(run, batches_per_epoch, n_devices == 1)?
        } else {
            Start::Fresh
        };
        Ok(Plan {
            n_devices,
            batches_per_epoch,
            steps_per_epoch,
            total_steps: (steps_per_epoch * config.epochs).max(1),
            scaled_lr: config.optim.lr * config.optim.lr_scaling.factor(n_devices),
            started_at: start.position(),
            start,
        })
    }
}

/// Writes the run's config, info and environment, and starts MLflow tracking when asked.
fn record_run(
    config: &TrainingConfig,
    options: &TrainOptions,
    run: &RunDir,
    data: &RunData,
    plan: &Plan,
) -> Result<(Environment, Option<Arc<Tracker>>)> {
    let n_devices = plan.n_devices;
    let effective_batch = config.batch_size * config.optim.grad_accumulation * n_devices;
    std::fs::write(run.config_path(), config.to_ron())
        .map_err(|e| Error::io(run.config_path(), e))?;
    run.write_info(&RunInfo {
        preset: data.preset.clone(),
        charset: (*data.charset).clone(),
        train_samples: data.epoch_len,
        valid_samples: data.valid_len,
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
        steps_per_epoch: plan.steps_per_epoch,
        git_commit: git_commit(),
        devices: n_devices,
        effective_batch,
        peak_lr: plan.scaled_lr,
        parent: if options.resume {
            run.read_info().ok().and_then(|i| i.parent)
        } else {
            options.parent.clone()
        },
    })?;

    let environment = Environment::detect(&options.device_label);
    environment.write(&run.root().join("environment.ron"))?;
    let tracker = options.tracking.as_ref().map(|t| {
        let mut params = Vec::new();
        if let Ok(v) = serde_json::to_value(config) {
            tracking::flatten("config", &v, &mut params);
        }
        if let Ok(v) = serde_json::to_value(&data.preset) {
            tracking::flatten("preset", &v, &mut params);
        }
        params.extend([
            ("devices".to_string(), n_devices.to_string()),
            ("effective_batch".to_string(), effective_batch.to_string()),
            ("peak_lr".to_string(), plan.scaled_lr.to_string()),
            (
                "steps_per_epoch".to_string(),
                plan.steps_per_epoch.to_string(),
            ),
            (
                "train_samples_per_epoch".to_string(),
                data.epoch_len.to_string(),
            ),
            (
                "vocab_size".to_string(),
                data.charset.vocab_size().to_string(),
            ),
        ]);
        if let Some(p) = &options.parent {
            params.push(("parent".to_string(), p.clone()));
        }
        start_tracker(t, run, options.resume, params, environment.tags())
    });
    Ok((environment, tracker))
}

/// The network: fresh, or with the weights of `--init-from` (a resumed run gets its weights
/// from its checkpoint later).
fn init_model(
    data: &RunData,
    options: &TrainOptions,
    device: &Device,
) -> Result<ResnetTransformer> {
    let (preset, vocab) = (&data.preset, data.charset.vocab_size());
    let model = preset.model.init(vocab, device);
    let Some(path) = options.init_from.as_ref().filter(|_| !options.resume) else {
        return Ok(model);
    };
    let staged = crate::StagedModel::load(path)?;
    if staged.manifest.charset != *data.charset
        || !staged.manifest.preset.model.same_weights_as(&preset.model)
    {
        return Err(Error::config(
            path.display().to_string(),
            "--init-from: the model's architecture or alphabet differs from this config's",
        ));
    }
    // The staged model's own architecture takes its weights; a CTC head this config adds
    // starts fresh (hybrid fine-tuning of a model trained without one).
    let base = staged.manifest.preset.model.init(vocab, device);
    let model = staged
        .load_into(base)?
        .with_settings_of(&preset.model, vocab, device);
    tracing::info!("initialised from {}", path.display());
    Ok(model)
}

/// burn's supervised loop with our loaders, metrics, checkpointing, early stopping and logs.
#[allow(clippy::too_many_arguments)]
fn supervised(
    config: &TrainingConfig,
    run: &RunDir,
    (train_ds, valid_ds): (MixtureDataset, HtrDataset),
    data: &RunData,
    plan: &Plan,
    device: &Device,
    tracker: Option<Arc<Tracker>>,
    renderer: Box<dyn MetricsRenderer>,
) -> SupervisedTraining<ResnetTransformer> {
    let batcher = HtrBatcher::new(data.preset.preprocess.clone());
    // No shuffle: each index is already a random draw, and a resumed run can skip a prefix.
    let train_loader = DataLoaderBuilder::new(batcher.clone())
        .batch_size(config.batch_size)
        .num_workers(config.num_workers)
        .set_device(device.clone())
        .build(train_ds);
    let valid_loader = DataLoaderBuilder::new(batcher)
        .batch_size(config.batch_size)
        .num_workers(config.num_workers)
        .set_device(device.clone())
        .build(valid_ds);

    let cer = TextErrorMetric::new(ErrorKind::Cer, data.charset.clone());
    let mut training = SupervisedTraining::new(run.root(), train_loader, valid_loader)
        .metric_train_numeric(LossMetric::new())
        .metric_valid_numeric(LossMetric::new())
        .metric_train_numeric(LearningRateMetric::new())
        .metric_valid_numeric(cer.clone().with_samples(
            run.samples_dir(),
            plan.started_at.epoch,
            config.log_samples,
        ))
        .metric_valid_numeric(TextErrorMetric::new(ErrorKind::Wer, data.charset.clone()))
        .with_custom_checkpointers(
            AtomicFileCheckpointer::new(run.root().join("checkpoint"), "model"),
            AtomicFileCheckpointer::new(run.root().join("checkpoint"), "optim"),
            AtomicFileCheckpointer::new(run.root().join("checkpoint"), "scheduler"),
        )
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
        .with_metric_logger(FileMetricLogger::new(run.root()))
        .with_metric_logger(StepLogger::new(
            run.root().join("steps.csv"),
            tracker,
            plan.batches_per_epoch,
            plan.started_at,
        ))
        .renderer(renderer)
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
    // The epoch before the start is loaded by burn (and names the starting epoch in the
    // progress display); a mid-epoch checkpoint is loaded over it by the loop.
    let before = plan.started_at.epoch - 1;
    if before > 0 && run.checkpoints().contains(&before) {
        training = training.checkpoint(before);
    }
    match plan.start {
        Start::Fresh => {}
        Start::AfterEpoch(e) => tracing::info!("resuming {} after epoch {e}", run.root().display()),
        Start::Within(p) => tracing::info!(
            "resuming {} in epoch {}, after batch {}",
            run.root().display(),
            p.epoch,
            p.batches_done
        ),
    }
    training
}

/// One device: our preemptible loop (mid-epoch checkpoints, clean stops, sample sheets).
/// Several: burn's data-parallel loop, stopped between epochs on request.
#[allow(clippy::too_many_arguments)]
fn with_strategy(
    training: SupervisedTraining<ResnetTransformer>,
    config: &TrainingConfig,
    run: &RunDir,
    data: &RunData,
    plan: &Plan,
    (devices, sheets_device): (Vec<Device>, Device),
    (stop, every): (&StopRequest, Option<CheckpointEvery>),
    stopped: &Arc<Mutex<Option<Stopped>>>,
) -> SupervisedTraining<ResnetTransformer> {
    if devices.len() == 1 {
        let device = devices[0].clone();
        return training.with_training_strategy(TrainingStrategy::Custom(Arc::new(
            PreemptibleTraining {
                step_dir: run.step_dir(),
                batch_size: config.batch_size,
                every,
                stop: stop.clone(),
                resume_from: match plan.start {
                    Start::Within(p) => Some(p),
                    _ => None,
                },
                stopped: stopped.clone(),
                device: device.clone(),
                seed: config.seed,
                after_validation: SampleSheets::new(
                    &data.valid_list,
                    config.log_samples,
                    &data.preset,
                    &data.charset,
                    sheets_device,
                    run.samples_dir(),
                )
                .map(|sheets| -> super::strategy::AfterValidation {
                    Box::new(move |epoch, model| {
                        if let Some(m) = model.downcast_ref::<ResnetTransformer>() {
                            sheets.write(epoch, m);
                        }
                    })
                }),
            },
        )));
    }
    let training = training.with_training_strategy(TrainingStrategy::Default(
        ExecutionStrategy::MultiDevice(devices, MultiDeviceOptim::OptimMainDevice),
    ));
    // burn's data-parallel loop has no mid-epoch checkpoint: a stop ends the run at once
    // and the epoch in progress is trained again on resume.
    let interrupter = training.interrupter();
    let (stop, record, run) = (stop.clone(), stopped.clone(), run.clone());
    std::thread::spawn(move || {
        loop {
            if let Some(reason) = stop.requested() {
                let epoch = run.latest_checkpoint().unwrap_or(0) + 1;
                if let Ok(mut r) = record.lock() {
                    *r = Some(Stopped {
                        reason,
                        at: Position {
                            epoch,
                            batches_done: 0,
                        },
                    });
                }
                interrupter.stop(Some(&reason.to_string()));
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    training
}

/// Starts logging to MLflow: a new run, or the one a resumed run logged to (its id is kept in
/// `RUN/mlflow.ron`). Params longer than MLflow accepts are cut.
fn start_tracker(
    t: &TrackingOptions,
    run: &RunDir,
    resume: bool,
    mut params: Vec<(String, String)>,
    tags: Vec<(String, String)>,
) -> Arc<Tracker> {
    for (_, v) in &mut params {
        if v.len() > 6000 {
            let mut cut = 5990;
            while !v.is_char_boundary(cut) {
                cut -= 1;
            }
            v.truncate(cut);
            v.push('…');
        }
    }
    let ids_path = run.root().join("mlflow.ron");
    Arc::new(Tracker::start(
        RunSpec {
            uri: t.uri.clone(),
            experiment: t.experiment.clone(),
            run_name: run
                .root()
                .file_name()
                .map_or("run".into(), |n| n.to_string_lossy().into_owned()),
            existing: if resume { read_mlflow_ids(run) } else { None },
            params,
            tags,
        },
        move |ids| {
            if let Ok(text) = ron::ser::to_string_pretty(ids, ron::ser::PrettyConfig::default()) {
                let _ = crate::atomic_file::write_atomic(&ids_path, text.as_bytes());
            }
        },
    ))
}

/// Uploads the run's files, sets the MLflow run's status and waits (up to two minutes) for
/// the server to take everything.
fn finish_tracker(tracker: &Tracker, run: &RunDir, stopped: Option<Stopped>) {
    let mut files = vec![
        run.config_path(),
        run.info_path(),
        run.root().join("environment.ron"),
        run.root().join("metrics.csv"),
        run.root().join("steps.csv"),
    ];
    let mut samples: Vec<PathBuf> = std::fs::read_dir(run.samples_dir())
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .collect();
    samples.sort();
    files.extend(samples);
    for f in files {
        if let (Ok(bytes), Ok(rel)) = (std::fs::read(&f), f.strip_prefix(run.root())) {
            tracker.artifact(&rel.to_string_lossy(), bytes);
        }
    }
    let status = match stopped.map(|s| s.reason) {
        Some(StopReason::Terminate | StopReason::Interrupt) => "KILLED",
        _ => "FINISHED",
    };
    tracker.finish(status, Duration::from_secs(120));
}

/// The MLflow run a run directory logged to (`RUN/mlflow.ron`).
pub fn read_mlflow_ids(run: &RunDir) -> Option<RunIds> {
    let path = run.root().join("mlflow.ron");
    let text = std::fs::read_to_string(&path).ok()?;
    ron::from_str(&text).ok()
}

/// Reads the config a run was started with.
pub fn run_config(run_dir: &Path) -> Result<TrainingConfig> {
    TrainingConfig::load(&RunDir::new(run_dir).config_path())
}
