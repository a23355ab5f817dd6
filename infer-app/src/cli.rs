//! Command-line interface (the `///` comments are the `--help` text).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use text_recognizer::DeviceSpec;

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
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Print the text of each image, one line per image.
    ///
    /// Exit codes: 0 every image was read; 1 some images failed (each is reported on stderr);
    /// 2 nothing could be done (bad model, bad arguments).
    Ocr(OcrArgs),
    /// Score a model on a folder of images with `.gt.txt` transcriptions: CER, WER, worst
    /// lines, frequent confusions, throughput.
    Eval(EvalArgs),
}

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// Folder of `NAME.png|jpg|…` + `NAME.gt.txt` (searched recursively).
    pub dir: PathBuf,
    /// Staged model file.
    #[arg(long, env = "HTR_MODEL")]
    pub model: PathBuf,
    /// Lines listed in the worst-lines table.
    #[arg(long, default_value_t = 10)]
    pub worst: usize,
    /// Images per forward pass.
    #[arg(long, default_value_t = text_recognizer::recognizer::DEFAULT_BATCH_SIZE)]
    pub batch_size: usize,
    /// Print one JSON object instead of the report.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct OcrArgs {
    /// Image files, folders, glob patterns ('scans/*.png') or @list.txt files (one per line).
    #[arg(required = true)]
    pub inputs: Vec<String>,
    /// Descend into sub-folders.
    #[arg(short, long)]
    pub recursive: bool,
    /// Staged model file (`train-app stage` writes one).
    #[arg(long, env = "HTR_MODEL")]
    pub model: PathBuf,
    /// Images per forward pass.
    #[arg(long, default_value_t = text_recognizer::recognizer::DEFAULT_BATCH_SIZE)]
    pub batch_size: usize,
}
