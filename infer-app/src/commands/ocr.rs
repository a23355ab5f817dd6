//! `infer-app ocr`: one line of text per image on stdout, problems on stderr.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use text_recognizer::image::open_image;
use text_recognizer::{Recognizer, StagedModel};

use crate::cli::{GlobalArgs, OcrArgs};

const IMAGE_EXTENSIONS: &[&str] = &["png", "jpg", "jpeg", "tif", "tiff", "webp", "bmp"];

pub fn run(args: OcrArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let staged = StagedModel::load(&args.model)?;
    let recognizer =
        Recognizer::from_staged(staged, global.device.device()?)?.with_batch_size(args.batch_size);
    let (files, mut failures) = expand_inputs(&args.inputs);
    let several = files.len() > 1;
    // Decode everything that decodes, then recognise in batches; a bad file never stops the run.
    let mut images = Vec::new();
    let mut names = Vec::new();
    for path in files {
        match open_image(&path) {
            Ok(img) => {
                images.push(img);
                names.push(path);
            }
            Err(e) => failures.push(e.to_string()),
        }
    }
    for (path, rec) in names.iter().zip(recognizer.recognize_batch(&images)) {
        if several {
            println!("{}\t{}", path.display(), rec.text);
        } else {
            println!("{}", rec.text);
        }
    }
    for f in &failures {
        eprintln!("error: {f}");
    }
    if failures.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "{} of {} inputs failed",
            failures.len(),
            failures.len() + names.len()
        );
        Ok(ExitCode::from(1))
    }
}

fn is_image(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Files as given, folders expanded to their images (sorted). Unreadable folders are failures.
fn expand_inputs(inputs: &[PathBuf]) -> (Vec<PathBuf>, Vec<String>) {
    let mut files = Vec::new();
    let mut failures = Vec::new();
    for input in inputs {
        if input.is_dir() {
            match std::fs::read_dir(input) {
                Ok(entries) => {
                    let mut found: Vec<PathBuf> = entries
                        .flatten()
                        .map(|e| e.path())
                        .filter(|p| p.is_file() && is_image(p))
                        .collect();
                    found.sort();
                    files.extend(found);
                }
                Err(e) => failures.push(format!("{}: {e}", input.display())),
            }
        } else {
            files.push(input.clone());
        }
    }
    (files, failures)
}
