//! Command-line interface (the `///` comments are the `--help` text).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use text_recognizer::image::variants::Variant;
use text_recognizer::{DeviceSpec, LayoutMode};

fn parse_variant(s: &str) -> Result<Variant, String> {
    s.parse()
}

/// Read handwriting from images.
#[derive(Parser, Debug)]
#[command(name = "infer-app", version)]
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
    /// Model registry for `--model registry:…` [default: ~/.local/share/text-recognizer/registry].
    #[arg(long, global = true, env = "HTR_REGISTRY")]
    pub registry: Option<PathBuf>,
    /// Resolve `--model registry:NAME@ALIAS|:VERSION` in this MLflow server's model registry
    /// instead (the model is downloaded once into the cache).
    #[arg(long, global = true, env = "MLFLOW_TRACKING_URI", value_name = "URL")]
    pub tracking_uri: Option<String>,
}

impl GlobalArgs {
    /// The registry `--registry` names, or the default one.
    pub fn registry(&self) -> text_recognizer::Registry {
        text_recognizer::Registry::open_or_default(self.registry.clone())
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Read images (lines, paragraphs, pages) and write their text.
    ///
    /// Exit codes: 0 every image was read; 1 some inputs failed (each is reported on stderr
    /// with its path and reason, and the run went on); 2 nothing could be done (bad model,
    /// bad arguments, unwritable output).
    Ocr(OcrArgs),
    /// Score a model on a folder of images with `.gt.txt` transcriptions: CER, WER, worst
    /// lines, frequent confusions, throughput.
    Eval(EvalArgs),
    /// Serve the model over HTTP: a web page at `/` (upload, draw, flag), a JSON API
    /// (`POST /predict` in the FSDL reference's schema, `POST /api/v1/recognize`), feedback
    /// (`POST /api/v1/feedback`, stored in SQLite), `/healthz`, `/readyz` and `/metrics`.
    Serve(ServeArgs),
    /// Run as an AWS Lambda function (the container's entry point): answers the FSDL
    /// reference's events (`{"image": "data:…"}` → `{"pred": "…"}`) and function-URL requests
    /// to any route `serve` has.
    Lambda(LambdaArgs),
    /// What the server's prediction log says: volume, errors, latency, flags, and drift of
    /// inputs and outputs.
    #[command(subcommand)]
    Monitor(MonitorCommand),
    /// What users said about readings (flags and corrections stored by `serve`).
    #[command(subcommand)]
    Feedback(FeedbackCommand),
}

#[derive(Subcommand, Debug)]
pub enum MonitorCommand {
    /// Report on a window of traffic against the traffic before it: drift per feature by the
    /// population stability index (above 0.2: drift), latency, errors, flag rate.
    Report(ReportArgs),
}

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// The server's database.
    #[arg(long, default_value = "serve.sqlite3", env = "HTR_DB")]
    pub db: PathBuf,
    /// Start of the window: a date (2026-11-30) or a UTC timestamp (2026-11-30T08:00:00Z)
    /// [default: 24 hours ago].
    #[arg(long)]
    pub since: Option<String>,
    /// Also write the report as one self-contained HTML page.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// The served model (a `.htr` file or `registry:NAME@ALIAS`): its inputs are also
    /// compared with the profile of its training images kept at staging.
    #[arg(long)]
    pub model: Option<text_recognizer::ModelRef>,
    /// Exit with status 1 when a feature drifted (for cron jobs and CI gates).
    #[arg(long)]
    pub fail_on_drift: bool,
}

#[derive(Subcommand, Debug)]
pub enum FeedbackCommand {
    /// Write flagged readings that came with a correction as a line folder (`NAME.EXT` +
    /// `NAME.gt.txt`, which `train-app` reads) with a manifest.json, for fine-tuning.
    Export(FeedbackExportArgs),
}

#[derive(Args, Debug)]
pub struct FeedbackExportArgs {
    /// The server's database.
    #[arg(long, default_value = "serve.sqlite3", env = "HTR_DB")]
    pub db: PathBuf,
    /// Folder to write.
    #[arg(short, long)]
    pub output: PathBuf,
}

/// Reading with a character language model (`train-app lm build`) in beam search.
#[derive(Args, Debug, Clone, Default)]
pub struct LmArgs {
    /// Read with this character LM in beam search (replacing the model file's own; with no
    /// --beam, 4 beams).
    #[arg(long, value_name = "FILE")]
    pub lm: Option<PathBuf>,
    /// Read without the LM the model file carries.
    #[arg(long, conflicts_with = "lm")]
    pub no_lm: bool,
    /// The LM's weight [default: the model file's, else the library's].
    #[arg(long)]
    pub lm_weight: Option<f32>,
    /// Score added per character with an LM (offsets its pull to short lines) [default: the
    /// model file's, else the library's].
    #[arg(long)]
    pub lm_bonus: Option<f32>,
}

/// Options of the HTTP service shared by `serve` and `lambda`.
#[derive(Args, Debug, Clone)]
pub struct ServiceArgs {
    /// Staged model: a `.htr` file, `registry:NAME@ALIAS`, `registry:NAME:VERSION` or
    /// `registry:NAME` [default: the model built into this binary].
    #[arg(long, env = "HTR_MODEL")]
    pub model: Option<text_recognizer::ModelRef>,
    /// How images are read when a request does not say: line, paragraph or auto.
    #[arg(long, default_value_t = LayoutMode::Auto)]
    pub layout: LayoutMode,
    /// Largest request body in MiB (base64 makes an image about a third larger).
    #[arg(long, default_value_t = 20, env = "HTR_MAX_BODY_MB")]
    pub max_body_mb: usize,
    /// Largest image in megapixels, checked from its header before it is decoded.
    #[arg(long, default_value_t = 40.0, env = "HTR_MAX_MEGAPIXELS")]
    pub max_megapixels: f64,
    /// Longest image side in pixels.
    #[arg(long, default_value_t = 20_000)]
    pub max_side: u32,
    /// Seconds a request may take before it is answered 503.
    #[arg(long, default_value_t = 30, env = "HTR_TIMEOUT_S")]
    pub timeout_s: u64,
    /// Recognition requests handled at once; more are answered 429.
    #[arg(long, default_value_t = 64, env = "HTR_MAX_CONCURRENT")]
    pub max_concurrent: usize,
    /// Most lines read in one forward pass: concurrent requests' lines are batched together.
    #[arg(long, default_value_t = 16)]
    pub max_batch: usize,
    /// Milliseconds a batch waits for more requests before it runs (0: no micro-batching
    /// wait; a request then joins only what is already queued).
    #[arg(long, default_value_t = 5)]
    pub max_wait_ms: u64,
    /// Pages waiting for the model; past that, requests are answered 503.
    #[arg(long, default_value_t = 256)]
    pub max_queue: usize,
    /// Accept `image_url` in requests, fetching only from these hosts (http and https; no
    /// redirects to other hosts; the body and time limits apply). Off when none is given.
    #[arg(long = "allow-image-url-host", value_name = "HOST")]
    pub image_url_hosts: Vec<String>,
    /// Keep every input image in the database (by content hash), not only flagged ones: for
    /// audits and for building evaluation sets from real traffic.
    #[arg(long)]
    pub keep_inputs: bool,
    /// Days kept inputs are kept (flagged ones stay); older ones are removed at start.
    #[arg(long, default_value_t = 30, requires = "keep_inputs")]
    pub keep_inputs_days: u32,
    /// Most MiB of kept inputs; past it, the oldest (not flagged) are removed at start.
    #[arg(long, requires = "keep_inputs")]
    pub keep_inputs_max_mb: Option<u64>,
    /// Minutes every input is held in memory after its recognition, so a flag that names
    /// only its `request_id` still stores the image with the correction; 0: none (a flag must
    /// then carry its `image`).
    #[arg(long, default_value_t = 60)]
    pub flag_window_minutes: u64,
    /// Most MiB of inputs held for flags; past it, the oldest go first.
    #[arg(long, default_value_t = 256)]
    pub flag_window_mb: u64,
    /// Seconds between drift checks of the prediction log (the `htr_drift_psi`,
    /// `htr_drifted_features` and `htr_flag_rate` gauges on /metrics); 0: none.
    #[arg(long, default_value_t = 60)]
    pub drift_every_s: u64,
    /// Minutes of traffic in the window checked for drift.
    #[arg(long, default_value_t = 60)]
    pub drift_window_min: u64,
    /// Days before the window that serve as its reference.
    #[arg(long, default_value_t = 7)]
    pub drift_reference_days: u64,
    /// Recognition is forwarded to this server's JSON API (`…/api/v1/recognize` of another
    /// `infer-app serve`, or an FSDL-style endpoint answering `{"pred": …}`) instead of a
    /// local model, so the page and the model can scale apart.
    #[arg(long, value_name = "URL", env = "HTR_BACKEND_URL")]
    pub backend_url: Option<String>,
    #[command(flatten)]
    pub lm: LmArgs,
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on (port 0: any free port; the address is printed on stdout).
    #[arg(long, default_value = "127.0.0.1:8080", env = "HTR_ADDR")]
    pub addr: std::net::SocketAddr,
    /// SQLite database: a row per recognition (the prediction log), feedback (flags and
    /// corrections from the page and the API), flagged input images.
    #[arg(long, default_value = "serve.sqlite3", env = "HTR_DB")]
    pub db: PathBuf,
    #[command(flatten)]
    pub service: ServiceArgs,
}

#[derive(Args, Debug)]
pub struct LambdaArgs {
    /// SQLite database (predictions, feedback); Lambda's /tmp is the writable place.
    #[arg(long, default_value = "/tmp/serve.sqlite3", env = "HTR_DB")]
    pub db: PathBuf,
    #[command(flatten)]
    pub service: ServiceArgs,
}

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// Folder of `NAME.png|jpg|…` + `NAME.gt.txt` (searched recursively).
    pub dir: PathBuf,
    /// Staged model: a `.htr` file, `registry:NAME@ALIAS`, `registry:NAME:VERSION` or
    /// `registry:NAME` (newest) [default: the model built into this binary].
    #[arg(long, env = "HTR_MODEL")]
    pub model: Option<text_recognizer::ModelRef>,
    /// What the images hold: `line` (each read whole, as the .gt.txt is one line), or
    /// `paragraph`/`auto` (split into lines; the reference's lines are then joined by newlines).
    #[arg(long, default_value_t = LayoutMode::Line)]
    pub layout: LayoutMode,
    /// Lines listed in the worst-lines table.
    #[arg(long, default_value_t = 10)]
    pub worst: usize,
    /// Images per forward pass.
    #[arg(long, default_value_t = text_recognizer::recognizer::DEFAULT_BATCH_SIZE)]
    pub batch_size: usize,
    /// Beams of the decoder's search (1: greedy) [default: the model's own, 1 for the
    /// embedded model].
    #[arg(long)]
    pub beam: Option<usize>,
    #[command(flatten)]
    pub lm: LmArgs,
    /// Vary every image first, as users' images vary: tight, loose, small, large, inverted,
    /// blurred, jpeg (plain: unchanged).
    #[arg(long, value_parser = parse_variant)]
    pub variant: Option<Variant>,
    /// Score every variant of the images (a robustness table) instead of one report.
    #[arg(long, conflicts_with = "variant")]
    pub robustness: bool,
    /// Score another engine's readings instead of reading: `PRED/NAME.txt` for each
    /// `DIR/NAME.gt.txt` (a missing file reads as empty and is listed), so every engine is
    /// scored by the same normalisation and edit distance.
    #[arg(long, value_name = "PRED", conflicts_with_all = ["robustness", "variant", "model"])]
    pub predictions: Option<PathBuf>,
    /// Print one JSON object instead of the report.
    #[arg(long)]
    pub json: bool,
}

/// Output formats of `ocr`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Plain text: NAME.txt per image (pages of a TIFF separated by form feeds).
    Txt,
    /// One JSON object per image page (path, page, text, lines with boxes, confidence, model,
    /// elapsed_ms).
    Jsonl,
    /// One CSV row per image page, same fields as jsonl (lines as JSON).
    Csv,
    /// ALTO v4 XML: NAME.alto.xml per image.
    Alto,
    /// PAGE-XML 2019: NAME.page.xml per image page.
    Page,
}

#[derive(Args, Debug)]
pub struct OcrArgs {
    /// Image files, folders, glob patterns ('scans/*.png') or @list.txt files (one per line).
    /// png, jpeg, tiff (every page), webp, bmp; other files are skipped with a note.
    #[arg(required = true)]
    pub inputs: Vec<String>,
    /// Descend into sub-folders.
    #[arg(short, long)]
    pub recursive: bool,
    /// Staged model: a `.htr` file (`train-app stage` writes one), `registry:NAME@ALIAS`,
    /// `registry:NAME:VERSION` or `registry:NAME` (newest) [default: the model built into
    /// this binary].
    #[arg(long, env = "HTR_MODEL")]
    pub model: Option<text_recognizer::ModelRef>,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Format::Txt)]
    pub format: Format,
    /// Where results go. txt/alto/page: a folder mirroring the inputs (default: next to each
    /// image). jsonl/csv: a file (default: stdout). `-` prints everything to stdout.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// What the images hold: `line` (read whole), `paragraph` (split into lines for a line
    /// model), or `auto` (split when more than one line is found).
    #[arg(long, default_value_t = LayoutMode::Auto)]
    pub layout: LayoutMode,
    /// Images per forward pass (lines of several images are batched together).
    #[arg(long, default_value_t = text_recognizer::recognizer::DEFAULT_BATCH_SIZE)]
    pub batch_size: usize,
    /// Beams of the decoder's search (1: greedy) [default: the model's own, 1 for the
    /// embedded model].
    #[arg(long)]
    pub beam: Option<usize>,
    #[command(flatten)]
    pub lm: LmArgs,
    /// Threads for decoding, segmentation and the network [default: all cores].
    #[arg(short, long)]
    pub jobs: Option<usize>,
    /// Leave out images whose output already exists (resume an interrupted run).
    #[arg(long)]
    pub skip_existing: bool,
    /// Read only shard K of N (1-based), chosen by a hash of each file's path: N machines
    /// given the same inputs split them with no coordination.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<crate::shard::Shard>,
    /// Also record every page read (and every failure) in this SQLite database, in the
    /// prediction log `serve` keeps (`infer-app monitor report` reads it).
    #[arg(long, value_name = "DB")]
    pub log: Option<PathBuf>,
    /// Progress as plain log lines every N seconds, also on a terminal (default: a progress
    /// bar on a terminal, log lines every 10 s otherwise).
    #[arg(long, value_name = "SECONDS")]
    pub log_every: Option<u64>,
}
