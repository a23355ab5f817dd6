//! Where `ocr` results go: one file per image (txt, ALTO, PAGE), one stream of records
//! (jsonl, csv), or stdout.

mod files;
mod record;
mod stream;

use std::path::{Path, PathBuf};

use text_recognizer::PageText;

use crate::cli::Format;
use crate::inputs::InputFile;

pub use record::Record;

/// Everything read from one input file.
#[derive(Debug)]
pub struct FileResult {
    /// The input.
    pub input: InputFile,
    /// One entry per page (several for a multi-page TIFF).
    pub pages: Vec<PageText>,
    /// Decoding and segmentation time plus this file's share of its batch's network time.
    pub elapsed_ms: f64,
}

/// A destination for results.
pub trait Sink {
    /// Whether `file`'s results are already there (`--skip-existing`).
    fn exists(&self, file: &InputFile) -> bool;
    /// Writes one file's results.
    fn write(&mut self, result: &FileResult) -> anyhow::Result<()>;
    /// Flushes what is buffered.
    fn finish(&mut self) -> anyhow::Result<()> {
        Ok(())
    }
}

/// Options every sink needs.
#[derive(Clone, Debug)]
pub struct SinkOptions {
    pub format: Format,
    /// `-o`: `None` for the default, `Some("-")` for stdout.
    pub output: Option<PathBuf>,
    /// Resume: keep what an earlier run wrote.
    pub skip_existing: bool,
    /// More than one input file (stdout txt then names each).
    pub several: bool,
    /// The model's name, written into every record.
    pub model: String,
}

/// Opens the sink `options` describe.
pub fn open(options: SinkOptions) -> anyhow::Result<Box<dyn Sink>> {
    let to_stdout = options.output.as_deref() == Some(Path::new("-"));
    match options.format {
        Format::Jsonl | Format::Csv => {
            let file = options.output.clone().filter(|_| !to_stdout);
            if options.skip_existing && file.is_none() {
                anyhow::bail!(
                    "--skip-existing with --format jsonl/csv needs -o FILE: stdout cannot be resumed"
                );
            }
            Ok(Box::new(stream::StreamSink::open(options, file)?))
        }
        Format::Txt | Format::Alto | Format::Page => {
            if to_stdout {
                Ok(Box::new(files::StdoutSink::new(options)))
            } else {
                Ok(Box::new(files::FileSink::new(options)))
            }
        }
    }
}
