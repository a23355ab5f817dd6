//! Per-image files (txt, ALTO, PAGE), next to each image or mirrored under `-o DIR`; or all
//! of them on stdout.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use text_recognizer::export::{SourceInfo, alto_v4, page_2019, utc_now};

use super::{FileResult, Sink, SinkOptions};
use crate::cli::Format;
use crate::inputs::InputFile;

/// The documents one input file becomes: (extension after the stem, contents).
fn documents(options: &SinkOptions, result: &FileResult) -> Vec<(String, String)> {
    let created = utc_now();
    let name = result.input.path.to_string_lossy();
    let source = SourceInfo {
        file_name: &name,
        model: &options.model,
        created: &created,
    };
    match options.format {
        Format::Alto => vec![("alto.xml".into(), alto_v4(&result.pages, &source))],
        // PAGE holds one page per document.
        Format::Page => result
            .pages
            .iter()
            .enumerate()
            .map(|(i, p)| (page_extension(i), page_2019(p, &source)))
            .collect(),
        // Form feeds between pages, as Tesseract writes them.
        _ => {
            let texts: Vec<String> = result.pages.iter().map(|p| p.text()).collect();
            vec![("txt".into(), texts.join("\n\x0c") + "\n")]
        }
    }
}

fn page_extension(index: usize) -> String {
    if index == 0 {
        "page.xml".into()
    } else {
        format!("p{}.page.xml", index + 1)
    }
}

/// Writes one file per image (per page for PAGE).
pub struct FileSink {
    options: SinkOptions,
    /// Outputs written in this run, with their image: `a.png` and `a.jpg` both make `a.txt`.
    written: HashMap<PathBuf, PathBuf>,
}

impl FileSink {
    pub fn new(options: SinkOptions) -> Self {
        FileSink {
            options,
            written: HashMap::new(),
        }
    }

    /// Output path of `file` with extension `ext`.
    fn target(&self, file: &InputFile, ext: &str) -> PathBuf {
        let base = match &self.options.output {
            Some(dir) => dir.join(&file.rel),
            None => file.path.clone(),
        };
        base.with_extension(ext)
    }
}

impl Sink for FileSink {
    fn exists(&self, file: &InputFile) -> bool {
        let first = match self.options.format {
            Format::Alto => "alto.xml".to_string(),
            Format::Page => page_extension(0),
            _ => "txt".into(),
        };
        self.target(file, &first).exists()
    }

    fn write(&mut self, result: &FileResult) -> anyhow::Result<()> {
        // PAGE's first page is written last: it is what --skip-existing looks for.
        for (ext, contents) in documents(&self.options, result).into_iter().rev() {
            let target = self.target(&result.input, &ext);
            if let Some(other) = self.written.get(&target) {
                anyhow::bail!(
                    "{} would overwrite the output of {} (same name, other extension): \
                     rename one, or use --format jsonl/csv",
                    target.display(),
                    other.display()
                );
            }
            write_atomically(&target, contents.as_bytes())?;
            self.written.insert(target, result.input.path.clone());
        }
        Ok(())
    }
}

/// Writes through a temporary file and a rename, so an interrupted run never leaves a
/// half-written output that `--skip-existing` would take for done.
fn write_atomically(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("{}: cannot create", dir.display()))?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".part");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, contents).with_context(|| format!("{}: cannot write", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("{}: cannot write", path.display()))
}

/// Everything on stdout: txt as the bare text for one image, `==> path <==` blocks for several.
pub struct StdoutSink {
    options: SinkOptions,
}

impl StdoutSink {
    pub fn new(options: SinkOptions) -> Self {
        StdoutSink { options }
    }
}

impl Sink for StdoutSink {
    fn exists(&self, _: &InputFile) -> bool {
        false
    }

    fn write(&mut self, result: &FileResult) -> anyhow::Result<()> {
        let mut out = std::io::stdout().lock();
        for (_, contents) in documents(&self.options, result) {
            if self.options.several && self.options.format == Format::Txt {
                writeln!(out, "==> {} <==", result.input.path.display())?;
            }
            out.write_all(contents.as_bytes())?;
        }
        out.flush()?;
        Ok(())
    }
}
