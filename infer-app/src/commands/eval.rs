//! `infer-app eval`: how well a model reads a labelled folder.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Instant;

use serde::Serialize;
use text_recognizer::Recognizer;
use text_recognizer::data::LineFolder;
use text_recognizer::image::open_image;
use text_recognizer::metrics::{ErrorCount, char_confusions, char_errors, word_errors};

use crate::cli::{EvalArgs, GlobalArgs};

#[derive(Serialize)]
struct Line {
    image: String,
    reference: String,
    hypothesis: String,
    cer: f64,
    confidence: f32,
}

/// What was read from one image (lines joined by newlines).
struct Hypothesis {
    text: String,
    confidence: f32,
}

#[derive(Serialize)]
struct Report {
    model: String,
    decoding: String,
    device: String,
    images: usize,
    skipped: Vec<String>,
    cer: f64,
    wer: f64,
    char_errors: ErrorCountJson,
    seconds: f64,
    images_per_second: f64,
    worst: Vec<Line>,
    confusions: Vec<(String, String, usize)>,
}

#[derive(Serialize)]
struct ErrorCountJson {
    edits: usize,
    reference_len: usize,
}

pub fn run(args: EvalArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let staged = crate::model::load(args.model.as_deref())?;
    let name = staged.manifest.name.clone();
    let recognizer =
        Recognizer::from_staged(staged, global.device.device()?)?.with_batch_size(args.batch_size);
    let (samples, skipped) = LineFolder::new(&args.dir).scan()?;
    let mut skipped: Vec<String> = skipped
        .into_iter()
        .map(|s| format!("{}: {}", s.path.display(), s.reason))
        .collect();
    let mut images = Vec::new();
    let mut refs = Vec::new();
    for s in samples {
        match open_image(&s.image) {
            Ok(img) => {
                images.push(img);
                refs.push(s);
            }
            Err(e) => skipped.push(e.to_string()),
        }
    }
    anyhow::ensure!(
        !images.is_empty(),
        "{}: no labelled images to evaluate",
        args.dir.display()
    );
    let start = Instant::now();
    let plans = images
        .into_iter()
        .map(|img| recognizer.plan(img, args.layout))
        .collect();
    let results: Vec<Hypothesis> = recognizer
        .read_plans(plans)
        .into_iter()
        .map(|page| Hypothesis {
            text: page.text(),
            confidence: page.confidence(),
        })
        .collect();
    let seconds = start.elapsed().as_secs_f64();

    let mut chars = ErrorCount::default();
    let mut words = ErrorCount::default();
    let mut confusions: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut lines = Vec::new();
    for (s, r) in refs.iter().zip(&results) {
        let c = char_errors(&r.text, &s.text);
        chars = chars + c;
        words = words + word_errors(&r.text, &s.text);
        for (a, b) in char_confusions(&r.text, &s.text) {
            let show = |c: Option<char>| c.map_or("∅".to_string(), |c| c.to_string());
            *confusions.entry((show(a), show(b))).or_default() += 1;
        }
        lines.push(Line {
            image: s.image.display().to_string(),
            reference: s.text.clone(),
            hypothesis: r.text.clone(),
            cer: c.rate(),
            confidence: r.confidence,
        });
    }
    lines.sort_by(|a, b| b.cer.total_cmp(&a.cer));
    lines.truncate(args.worst);
    let mut confusions: Vec<(String, String, usize)> = confusions
        .into_iter()
        .map(|((a, b), n)| (a, b, n))
        .collect();
    confusions.sort_by_key(|c| std::cmp::Reverse(c.2));
    confusions.truncate(15);
    let report = Report {
        model: name,
        decoding: format!(
            "layout {}, greedy, KV cache, batch {}, up to the model's max_output_len",
            args.layout, args.batch_size
        ),
        device: global.device.to_string(),
        images: results.len(),
        skipped,
        cer: 100.0 * chars.rate(),
        wer: 100.0 * words.rate(),
        char_errors: ErrorCountJson {
            edits: chars.edits,
            reference_len: chars.reference_len,
        },
        seconds,
        images_per_second: results.len() as f64 / seconds.max(1e-9),
        worst: lines,
        confusions,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report);
    }
    Ok(if report.skipped.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn print_report(r: &Report) {
    println!(
        "model {} on {} images ({}; {})",
        r.model, r.images, r.device, r.decoding
    );
    println!(
        "CER {:.2} % ({} edits / {} chars)   WER {:.2} %",
        r.cer, r.char_errors.edits, r.char_errors.reference_len, r.wer
    );
    println!("{:.2} s, {:.1} images/s", r.seconds, r.images_per_second);
    println!("\nworst lines:");
    for l in &r.worst {
        println!(
            "  {:5.1} %  {}\n     REF: {}\n     HYP: {}",
            100.0 * l.cer,
            l.image,
            l.reference,
            l.hypothesis
        );
    }
    println!("\nmost frequent confusions (reference → hypothesis, ∅ = nothing):");
    for (a, b, n) in &r.confusions {
        println!("  {a:?} → {b:?}: {n}");
    }
    for s in &r.skipped {
        eprintln!("skipped {s}");
    }
}
