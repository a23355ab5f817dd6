//! jsonl and csv: one record per image page, appended as each file is done, flushed at once so
//! an interrupted run keeps everything it finished.

use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::{FileResult, Record, Sink, SinkOptions};
use crate::cli::Format;
use crate::inputs::InputFile;

/// CSV columns; `lines` holds the per-line records as JSON.
const CSV_HEADER: [&str; 8] = [
    "path",
    "page",
    "pages",
    "text",
    "confidence",
    "lines",
    "model",
    "elapsed_ms",
];

pub struct StreamSink {
    options: SinkOptions,
    out: Box<dyn Write>,
    /// Paths whose every page is already in the file.
    done: HashSet<String>,
    /// Whether the CSV header still has to be written.
    needs_header: bool,
}

impl StreamSink {
    /// Opens `file` (stdout when `None`). Without `--skip-existing` an existing file is
    /// replaced; with it, complete records are kept and a torn last record is cut off.
    pub fn open(options: SinkOptions, file: Option<PathBuf>) -> anyhow::Result<Self> {
        let Some(path) = file else {
            return Ok(StreamSink {
                needs_header: options.format == Format::Csv,
                options,
                out: Box::new(std::io::stdout()),
                done: HashSet::new(),
            });
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("{}: cannot create", dir.display()))?;
        }
        let (done, keep) = if options.skip_existing && path.exists() {
            match options.format {
                Format::Csv => scan_csv(&path)?,
                _ => scan_jsonl(&path)?,
            }
        } else {
            (HashSet::new(), 0)
        };
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("{}: cannot open for writing", path.display()))?;
        file.set_len(keep)
            .with_context(|| format!("{}: cannot truncate", path.display()))?;
        let mut file = file;
        std::io::Seek::seek(&mut file, std::io::SeekFrom::End(0))?;
        Ok(StreamSink {
            needs_header: options.format == Format::Csv && keep == 0,
            options,
            out: Box::new(file),
            done,
        })
    }
}

impl Sink for StreamSink {
    fn exists(&self, file: &InputFile) -> bool {
        self.done.contains(file.path.to_string_lossy().as_ref())
    }

    fn write(&mut self, result: &FileResult) -> anyhow::Result<()> {
        let records = Record::of(result, &self.options.model);
        let mut buf = Vec::new();
        match self.options.format {
            Format::Csv => {
                let mut w = csv::WriterBuilder::new()
                    .has_headers(false)
                    .from_writer(&mut buf);
                if self.needs_header {
                    w.write_record(CSV_HEADER)?;
                    self.needs_header = false;
                }
                for r in &records {
                    w.write_record([
                        r.path.clone(),
                        r.page.to_string(),
                        r.pages.to_string(),
                        r.text.clone(),
                        format!("{:.4}", r.confidence),
                        serde_json::to_string(&r.lines)?,
                        r.model.clone(),
                        format!("{:.1}", r.elapsed_ms),
                    ])?;
                }
                w.flush()?;
            }
            _ => {
                for r in &records {
                    serde_json::to_writer(&mut buf, r)?;
                    buf.push(b'\n');
                }
            }
        }
        // One write per file: a kill leaves at most this file's records torn.
        self.out.write_all(&buf)?;
        self.out.flush()?;
        Ok(())
    }

    fn finish(&mut self) -> anyhow::Result<()> {
        Ok(self.out.flush()?)
    }
}

/// Paths complete in a jsonl file, and the length of its complete lines.
fn scan_jsonl(path: &Path) -> anyhow::Result<(HashSet<String>, u64)> {
    let file = File::open(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let mut reader = BufReader::new(file);
    let mut pages: HashMap<String, (usize, usize)> = HashMap::new();
    let (mut keep, mut line) = (0u64, String::new());
    loop {
        line.clear();
        let n = reader.read_line(&mut line)?;
        if n == 0 || !line.ends_with('\n') {
            break;
        }
        match serde_json::from_str::<Record>(&line) {
            Ok(r) => {
                let e = pages.entry(r.path).or_insert((0, r.pages));
                e.0 += 1;
            }
            Err(_) => break,
        }
        keep += n as u64;
    }
    Ok((complete(pages), keep))
}

/// Paths complete in a csv file, and the length of its complete records.
fn scan_csv(path: &Path) -> anyhow::Result<(HashSet<String>, u64)> {
    let bytes = std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?;
    // Every record ends with a newline: what follows the last one is torn. A record torn just
    // after a newline inside a quoted field fails to parse below and is cut too.
    let end = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(&bytes[..end]);
    match reader.headers() {
        Ok(h) if h.len() == CSV_HEADER.len() => {}
        _ => return Ok((HashSet::new(), 0)),
    }
    let mut keep = reader.position().byte();
    let mut pages: HashMap<String, (usize, usize)> = HashMap::new();
    let mut record = csv::StringRecord::new();
    while let Ok(true) = reader.read_record(&mut record) {
        if record.len() != CSV_HEADER.len() {
            break;
        }
        let total: usize = record.get(2).and_then(|p| p.parse().ok()).unwrap_or(1);
        let e = pages
            .entry(record.get(0).unwrap_or_default().to_string())
            .or_insert((0, total));
        e.0 += 1;
        keep = reader.position().byte();
    }
    Ok((complete(pages), keep))
}

fn complete(pages: HashMap<String, (usize, usize)>) -> HashSet<String> {
    pages
        .into_iter()
        .filter(|(_, (seen, total))| seen >= total)
        .map(|(p, _)| p)
        .collect()
}
