//! `infer-app ocr`: one line of text per image on stdout, problems on stderr.

use std::process::ExitCode;

use text_recognizer::image::open_image;
use text_recognizer::{Recognizer, StagedModel};

use crate::cli::{GlobalArgs, OcrArgs};

pub fn run(args: OcrArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let staged = StagedModel::load(&args.model)?;
    let recognizer =
        Recognizer::from_staged(staged, global.device.device()?)?.with_batch_size(args.batch_size);
    let expanded = crate::inputs::expand(&args.inputs, args.recursive);
    for p in &expanded.skipped {
        eprintln!("note: {} is not an image; skipped", p.display());
    }
    let (files, mut failures) = (expanded.files, expanded.failures);
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
