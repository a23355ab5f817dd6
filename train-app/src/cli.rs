//! Command-line interface (the `///` comments are the `--help` text).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use text_recognizer::DeviceSpec;
use text_recognizer::training::CheckpointEvery;

/// Train handwriting recognizers and stage them for inference.
#[derive(Parser, Debug)]
#[command(name = "train-app", version)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Args, Debug)]
pub struct GlobalArgs {
    /// Compute device: flex (CPU), wgpu[:N], cuda[:N] (the last two need cargo features).
    #[arg(long, global = true, default_value = "flex", env = "HTR_DEVICE")]
    pub device: DeviceSpec,
    /// More logging.
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// Model registry directory [default: ~/.local/share/text-recognizer/registry].
    #[arg(long, global = true, env = "HTR_REGISTRY")]
    pub registry: Option<PathBuf>,
}

impl GlobalArgs {
    /// The registry `--registry` names, or the default one.
    pub fn registry(&self) -> text_recognizer::Registry {
        text_recognizer::Registry::open_or_default(self.registry.clone())
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Train a model from a RON config (or resume a run).
    Train(TrainArgs),
    /// Adapt a model to your own transcribed lines (NAME.png + NAME.gt.txt folders) in one
    /// command: a share held back to pick the checkpoint, small-data defaults, the best checkpoint
    /// staged as a model file that keeps the base model's LM.
    FineTune(FineTuneArgs),
    /// Stage a run's best checkpoint: register it as the next version of a model in the
    /// registry (with its lineage), and/or write a plain `.htr` file (`-o`).
    Stage(StageArgs),
    /// Rewrite a model file with its weights at another precision (f16 halves it; loading
    /// widens them back to f32), and with a character LM attached (--lm) or removed (--no-lm).
    Convert(ConvertArgs),
    /// Check the `--device` against the CPU (`flex`) before trusting it: a model's eval logits,
    /// training loss and logits after one Adam step on the same lines. Prints a JSON object;
    /// exits non-zero when they differ beyond the tolerance.
    CheckDevice(CheckDeviceArgs),
    /// The model registry: versions, lineage and aliases.
    #[command(subcommand)]
    Registry(RegistryCommand),
    /// Runs on disk: a table, one in detail, several side by side with their curves.
    #[command(subcommand)]
    Runs(RunsCommand),
    /// Data tools: download, statistics, contact sheets.
    #[command(subcommand)]
    Data(DataCommand),
    /// Character language models for beam search: build one from transcriptions, measure one.
    #[command(subcommand)]
    Lm(LmCommand),
}

#[derive(Subcommand, Debug)]
pub enum LmCommand {
    /// Build a character n-gram model from text files (one line each) and line folders
    /// (their NAME.gt.txt; train splits only), normalised as transcriptions are (NFC, single
    /// spaces).
    Build(LmBuildArgs),
    /// Bits per character of a model on text (lower is better: orders and smoothings are
    /// chosen this way, on validation transcriptions).
    Eval(LmEvalArgs),
}

/// How transcriptions are rewritten before counting (a set's conventions, as in a training
/// config's `Rewritten` source).
#[derive(Args, Debug)]
pub struct LmTextArgs {
    /// Replace a character: FROM=TO (TO may be empty), e.g. --map '¬=-'.
    #[arg(long, value_name = "FROM=TO")]
    pub map: Vec<String>,
    /// Remove these characters (markup), e.g. --drop '‸'.
    #[arg(long, value_name = "CHARS", default_value = "")]
    pub drop: String,
    /// Leave out lines holding any of these characters, e.g. --skip-lines-with '¥'.
    #[arg(long, value_name = "CHARS", default_value = "")]
    pub skip_lines_with: String,
    /// Keep only the characters of this staged model's alphabet.
    #[arg(long, value_name = "MODEL")]
    pub alphabet_of: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct LmBuildArgs {
    /// Text files and line folders.
    #[arg(required = true)]
    pub text: Vec<PathBuf>,
    /// Where to write the model (NAME.lm).
    #[arg(short, long)]
    pub output: PathBuf,
    /// N-gram order (characters of context + 1), 1 to 8.
    #[arg(long, default_value_t = 6)]
    pub order: usize,
    /// kneser-ney (modified, interpolated) or witten-bell.
    #[arg(long, default_value = "kneser-ney")]
    pub smoothing: text_recognizer::lm::Smoothing,
    /// Leave n-grams (of two characters or more) seen fewer times than this to the backoff:
    /// a smaller file (1: keep all).
    #[arg(long, default_value_t = 1)]
    pub min_count: usize,
    /// Also report bits per character on this held-out file or folder (repeat the option for
    /// several: a bare path after it is training text).
    #[arg(long, value_name = "TEXT")]
    pub held_out: Vec<PathBuf>,
    #[command(flatten)]
    pub rewrite: LmTextArgs,
}

#[derive(Args, Debug)]
pub struct LmEvalArgs {
    /// The model (.lm).
    pub lm: PathBuf,
    /// Text files and line folders.
    #[arg(required = true)]
    pub text: Vec<PathBuf>,
    #[command(flatten)]
    pub rewrite: LmTextArgs,
}

/// Attaching a character LM to a model file (`stage`, `convert`).
#[derive(Args, Debug)]
pub struct AttachLmArgs {
    /// A character LM (`train-app lm build`) the model then reads with in beam search.
    #[arg(long, value_name = "FILE")]
    pub lm: Option<PathBuf>,
    /// Leave out the LM the model file carries.
    #[arg(long, conflicts_with = "lm")]
    pub no_lm: bool,
    /// The LM's weight saved with the model [default: the library's].
    #[arg(long, requires = "lm")]
    pub lm_weight: Option<f32>,
    /// The LM's per-character bonus saved with the model [default: the library's].
    #[arg(long, requires = "lm")]
    pub lm_bonus: Option<f32>,
    /// Beams saved with the model (an LM needs 2 or more) [default: the model's own, raised
    /// to 4 with an LM].
    #[arg(long)]
    pub beam: Option<usize>,
}

#[derive(Subcommand, Debug)]
pub enum DataCommand {
    /// Download a data set by name into the cache and cut it into line folders: `iam`, or the
    /// HTR-United sets `testaments`, `cremma-mss18`, `lectaurep-bronod`, `lectaurep-mariages`
    /// (pinned commits, resumable, SHA-256 checked, split by page).
    Download(DownloadArgs),
    /// Counts, alphabet, image sizes, text lengths, characters outside a model's alphabet.
    Stats(SourceArgs),
    /// A contact sheet of samples with their transcriptions.
    Show(ShowArgs),
    /// Write samples as a line folder (NNNNN.png + NNNNN.gt.txt), e.g. a held-out synthetic
    /// test set for `infer-app eval`.
    Export(ExportArgs),
}

#[derive(Args, Debug)]
pub struct DownloadArgs {
    /// Data set name: iam, testaments, cremma-mss18, lectaurep-bronod, lectaurep-mariages.
    pub name: String,
    /// Fetch the archive from this URL instead (a mirror).
    #[arg(long)]
    pub url: Option<String>,
    /// Expected SHA-256 of the archive (pins a set whose recipe has none).
    #[arg(long)]
    pub sha256: Option<String>,
    /// Folder of page images, for repositories that publish the XML without the scans.
    #[arg(long)]
    pub images: Option<PathBuf>,
    /// Cache directory (default: $HTR_CACHE or ~/.cache/text-recognizer).
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct SourceArgs {
    /// A folder of lines, an ALTO/PAGE file or folder, or a source written in RON
    /// (e.g. 'Iam(split: Val)', 'SyntheticLines()').
    pub source: String,
    /// Cache directory (default: $HTR_CACHE or ~/.cache/text-recognizer).
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
    /// How many samples generated sources contribute.
    #[arg(long, default_value_t = 1000)]
    pub samples: usize,
    /// Report characters outside this staged model's alphabet.
    #[arg(long)]
    pub model: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct ShowArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// Output PNG.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Samples on the sheet.
    #[arg(short = 'n', long, default_value_t = 12)]
    pub count: usize,
    /// Show what the model sees: preprocessed with this preset (line or paragraph).
    #[arg(long)]
    pub preset: Option<String>,
    /// Apply FSDL's augmentation (line or paragraph parameters, by --preset).
    #[arg(long, requires = "preset")]
    pub augment: bool,
    /// Apply this training config's augmentation instead (see what a recipe trains on).
    #[arg(
        long,
        requires = "preset",
        conflicts_with = "augment",
        value_name = "CONFIG"
    )]
    pub augment_of: Option<std::path::PathBuf>,
    /// Seed for sample choice and augmentation.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Source; `--samples` sets how many a generated source gives.
    #[command(flatten)]
    pub source: SourceArgs,
    /// Output folder.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Seed of generated samples (use one training never used for a held-out set).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Write JPEG at this quality (1–100) instead of PNG: real lines at 60 take about a
    /// third of their published size, so all of them travel to a GPU machine.
    #[arg(long, value_name = "QUALITY", value_parser = clap::value_parser!(u8).range(1..=100))]
    pub jpeg: Option<u8>,
}

#[derive(Args, Debug)]
pub struct TrainArgs {
    /// Training config (RON). Not needed with --resume, which reuses the run's config.
    #[arg(long, required_unless_present = "resume")]
    pub config: Option<PathBuf>,
    /// Run directory (default: runs/<config name>-<unix time>).
    #[arg(long)]
    pub run_dir: Option<PathBuf>,
    /// Continue the run in this directory from its newest checkpoint.
    #[arg(long, value_name = "RUN_DIR", conflicts_with = "run_dir")]
    pub resume: Option<PathBuf>,
    /// Override: number of epochs (with --resume: the new total).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Override: batch size.
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Override: peak learning rate.
    #[arg(long)]
    pub lr: Option<f64>,
    /// Override: random seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Override: data-loading threads.
    #[arg(long)]
    pub workers: Option<usize>,
    /// Override: samples per epoch.
    #[arg(long)]
    pub epoch_samples: Option<usize>,
    /// Start from this model's weights (fine-tuning; same architecture and alphabet): a `.htr`
    /// file, or `registry:NAME@ALIAS`, `registry:NAME:VERSION`, `registry:NAME` (newest).
    #[arg(long, conflicts_with = "resume")]
    pub init_from: Option<text_recognizer::ModelRef>,
    /// Fail on the first unreadable or unencodable sample instead of skipping it.
    #[arg(long)]
    pub strict: bool,
    /// Stop cleanly after this many minutes (a checkpoint is saved; `--resume` continues).
    #[arg(long)]
    pub max_minutes: Option<f64>,
    /// Also save a mid-epoch checkpoint this often (one device), so a killed run loses at most
    /// this much work: minutes (10, 10m), 30s, 2h, or optimiser steps (500steps).
    #[arg(long, value_name = "INTERVAL")]
    pub checkpoint_every: Option<CheckpointEvery>,
    /// Train data-parallel on these devices, e.g. cuda:0,cuda:1 (default: --device alone).
    /// One batch per device per optimiser step; see `optim.lr_scaling` in the config.
    #[arg(long, value_delimiter = ',', value_name = "DEVICE,...")]
    pub devices: Option<Vec<DeviceSpec>>,
    /// Print plain progress lines even on a terminal.
    #[arg(long)]
    pub log_progress: bool,
    /// Also log the run to this MLflow tracking server (params, per-step and per-epoch
    /// metrics, tags, artifacts, status); training never waits for it.
    #[arg(long, env = "MLFLOW_TRACKING_URI", value_name = "URL")]
    pub tracking_uri: Option<String>,
    /// MLflow experiment (created when missing).
    #[arg(
        long,
        env = "MLFLOW_EXPERIMENT_NAME",
        default_value = "text-recognizer"
    )]
    pub experiment: String,
}

#[derive(Args, Debug)]
pub struct FineTuneArgs {
    /// Folders of transcribed lines (NAME.png + NAME.gt.txt, recursive).
    #[arg(required = true)]
    pub lines: Vec<PathBuf>,
    /// The model to adapt: a `.htr` file or `registry:NAME@ALIAS` [default: the built-in model].
    #[arg(long, value_name = "MODEL")]
    pub from: Option<text_recognizer::ModelRef>,
    /// Train the base model's architecture and alphabet from random weights instead.
    #[arg(long)]
    pub scratch: bool,
    /// Use only this many of the lines (a seeded sample): learning curves, quick tries.
    #[arg(long = "lines", value_name = "N")]
    pub max_lines: Option<usize>,
    /// Lines that pick the checkpoint [default: --valid-share of the lines, held back].
    #[arg(long, value_name = "DIR")]
    pub valid: Option<PathBuf>,
    /// Share of the lines held back to pick the checkpoint (at least 2 lines).
    #[arg(long, default_value_t = 0.1)]
    pub valid_share: f64,
    /// Train this many minutes: the learning rate's cosine ends there (the best checkpoint is
    /// staged).
    #[arg(long, default_value_t = 30.0)]
    pub minutes: f64,
    /// At most this many epochs.
    #[arg(long, default_value_t = 1000)]
    pub epochs: usize,
    /// Samples per epoch (validation runs after each) [default: max(training lines, 256)].
    #[arg(long)]
    pub epoch_samples: Option<usize>,
    /// Stop early when this many epochs in a row bring no better validation CER [default:
    /// none; the decay needs the whole --minutes, and a few dozen held-back lines score too
    /// noisily to stop on (README, "Fine-tuning to your own hand")].
    #[arg(long)]
    pub patience: Option<usize>,
    /// Peak learning rate: 20 warm-up steps, then a cosine to a hundredth of it over
    /// --minutes.
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,
    /// Batch size.
    #[arg(long, default_value_t = 8)]
    pub batch_size: usize,
    /// Seed of the split, the sampling and the augmentation.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Run directory (default: runs/fine-tune-<unix time>).
    #[arg(long)]
    pub run_dir: Option<PathBuf>,
    /// Where to write the fine-tuned model [default: RUN_DIR/fine-tuned.htr].
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// The model's name in its manifest.
    #[arg(long, default_value = "fine-tuned")]
    pub name: String,
    /// Leave out the base model's LM.
    #[arg(long)]
    pub no_lm: bool,
    /// Print plain progress lines even on a terminal.
    #[arg(long)]
    pub log_progress: bool,
}

#[derive(Args, Debug)]
pub struct StageArgs {
    /// The run directory to stage from.
    pub run_dir: PathBuf,
    /// Name of the model (its versions in the registry share it).
    #[arg(long)]
    pub name: String,
    /// Also (or, without --registry, only) write the model to this file.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Point these aliases at the new version (e.g. --alias staging).
    #[arg(long)]
    pub alias: Vec<String>,
    /// Also register the version in this MLflow server's model registry (the run must have
    /// been tracked there), with the same aliases.
    #[arg(long, env = "MLFLOW_TRACKING_URI", value_name = "URL")]
    pub tracking_uri: Option<String>,
    #[command(flatten)]
    pub lm: AttachLmArgs,
}

#[derive(Args, Debug)]
pub struct ConvertArgs {
    /// The model file to read.
    pub model: PathBuf,
    /// Where to write the converted model.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Weight precision: f32 or f16.
    #[arg(long, default_value = "f16")]
    pub weights: text_recognizer::WeightPrecision,
    #[command(flatten)]
    pub lm: AttachLmArgs,
}

#[derive(Args, Debug)]
pub struct CheckDeviceArgs {
    /// A folder of lines: NAME.jpg/.png/.tif + NAME.gt.txt (different widths cover the batch
    /// padding; the transcriptions are teacher-forced).
    #[arg(default_value = "datasets/fixtures/testaments-mini")]
    pub lines: PathBuf,
    /// The staged model to run.
    #[arg(long, default_value = "text-recognizer/model/default-line.htr")]
    pub model: PathBuf,
    /// Lines in the batch.
    #[arg(long, default_value_t = 8)]
    pub batch: usize,
    /// Largest relative difference accepted (TF32 or half-precision products differ from f32
    /// by about 1e-3).
    #[arg(long, default_value_t = 1e-2)]
    pub tolerance: f64,
}

#[derive(Subcommand, Debug)]
pub enum RunsCommand {
    /// One line per run: status, config, epochs, best validation CER, time.
    List {
        /// Folder holding run directories.
        #[arg(default_value = "runs")]
        dir: PathBuf,
    },
    /// A run's config, environment and per-epoch metrics.
    Show {
        /// The run directory.
        run: PathBuf,
    },
    /// Runs side by side: the params that differ, and loss/CER curves drawn to an SVG.
    Compare {
        /// Two or more run directories.
        #[arg(required = true, num_args = 2..)]
        runs: Vec<PathBuf>,
        /// The chart (SVG).
        #[arg(short, long, default_value = "compare.svg")]
        output: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
pub enum RegistryCommand {
    /// Models, or the versions of one model, with their metrics and aliases.
    List {
        /// A model name.
        name: Option<String>,
    },
    /// A version's lineage: NAME (newest), NAME:VERSION or NAME@ALIAS.
    Show {
        /// The version.
        model: String,
    },
    /// Point ALIAS at a version, creating or moving it: `alias lines@3 production`, or
    /// `alias lines@staging production` to promote what staging points to.
    Alias {
        /// NAME@VERSION, NAME:VERSION or NAME@ALIAS.
        target: String,
        /// The alias to set.
        alias: String,
    },
    /// Remove an alias.
    Unalias {
        /// The model's name.
        name: String,
        /// The alias.
        alias: String,
    },
    /// Delete a version (NAME:VERSION; its aliases go too) or a whole model (NAME --all).
    Delete {
        /// NAME:VERSION, or NAME with --all.
        model: String,
        /// Delete every version of the model.
        #[arg(long)]
        all: bool,
    },
}
