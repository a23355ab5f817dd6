//! `infer-app eval`: how well a model reads a labelled folder.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Instant;

use rayon::prelude::*;
use serde::Serialize;
use text_recognizer::Recognizer;
use text_recognizer::data::{LineFolder, SampleRef};
use text_recognizer::image::variants::Variant;
use text_recognizer::image::{GrayImage, open_image};
use text_recognizer::metrics::{
    ErrorCount, char_confusions, char_errors, invented_words, word_errors,
};
use unicode_normalization::UnicodeNormalization;

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
    /// Words read that are no misreading of any reference word (a decoder writing its own text).
    invented: Invented,
    /// How the images were split into lines, when the references have several.
    segmentation: Option<Segmentation>,
}

/// Read words that resemble no word of their line's reference
/// ([`text_recognizer::metrics::invented_words`]).
#[derive(Serialize)]
struct Invented {
    /// Invented words in all.
    words: usize,
    /// Words read in all.
    of_words_read: usize,
    /// The most frequent ones, with their counts.
    most_frequent: Vec<(String, usize)>,
}

/// Lines found against the lines of the references.
#[derive(Serialize)]
struct Segmentation {
    /// Images split into as many lines as their reference has.
    right_count: usize,
    /// Images scored.
    images: usize,
    /// Lines found in all.
    lines_found: usize,
    /// Non-empty lines in the references.
    lines_in_references: usize,
}

#[derive(Serialize)]
struct ErrorCountJson {
    edits: usize,
    reference_len: usize,
}

pub fn run(args: EvalArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    if let Some(pred) = &args.predictions {
        return score_predictions(&args, pred);
    }
    let (recognizer, _) = crate::model::recognizer(
        args.model.as_ref(),
        global,
        args.batch_size,
        args.beam,
        &args.lm,
    )?;
    let name = recognizer.manifest().name.clone();
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
    if args.robustness {
        return robustness(&recognizer, &images, &refs, &args);
    }
    let images: Vec<GrayImage> = match args.variant {
        Some(v) => images.par_iter().map(|i| v.apply(i)).collect(),
        None => images,
    };
    let start = Instant::now();
    let plans: Vec<_> = images
        .into_iter()
        .map(|img| recognizer.plan(img, args.layout))
        .collect();
    let segmentation = segmentation(&refs, plans.iter().map(|p| p.lines.len()));
    let results: Vec<Hypothesis> = recognizer
        .read_plans(plans)
        .into_iter()
        .map(|page| Hypothesis {
            text: page.text(),
            confidence: page.confidence(),
        })
        .collect();
    let seconds = start.elapsed().as_secs_f64();

    let Scores {
        chars,
        words,
        worst: lines,
        confusions,
        invented,
    } = score(&refs, &results, args.worst);
    let report = Report {
        model: name,
        decoding: decoding(&recognizer, &args),
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
        invented,
        segmentation,
    };
    finish(&report, args.json)
}

/// `eval --predictions`: another engine's readings (`PRED/NAME.txt`, one per labelled image)
/// scored as our own are.
fn score_predictions(args: &EvalArgs, pred: &std::path::Path) -> anyhow::Result<ExitCode> {
    let (refs, skipped) = LineFolder::new(&args.dir).scan()?;
    let mut skipped: Vec<String> = skipped
        .into_iter()
        .map(|s| format!("{}: {}", s.path.display(), s.reason))
        .collect();
    anyhow::ensure!(
        !refs.is_empty(),
        "{}: no labelled images to evaluate",
        args.dir.display()
    );
    let results: Vec<Hypothesis> = refs
        .iter()
        .map(|s| {
            let relative = s.image.strip_prefix(&args.dir).unwrap_or(&s.image);
            let file = pred.join(relative).with_extension("txt");
            let text = match std::fs::read_to_string(&file) {
                Ok(t) => t.trim_end_matches(['\n', '\r']).nfc().collect(),
                Err(e) => {
                    skipped.push(format!("{}: {e} (scored as empty)", file.display()));
                    String::new()
                }
            };
            Hypothesis {
                text,
                confidence: f32::NAN,
            }
        })
        .collect();
    let Scores {
        chars,
        words,
        worst,
        confusions,
        invented,
    } = score(&refs, &results, args.worst);
    let report = Report {
        model: pred.display().to_string(),
        decoding: "predictions read from files".into(),
        device: "-".into(),
        images: results.len(),
        skipped,
        cer: 100.0 * chars.rate(),
        wer: 100.0 * words.rate(),
        char_errors: ErrorCountJson {
            edits: chars.edits,
            reference_len: chars.reference_len,
        },
        seconds: 0.0,
        images_per_second: 0.0,
        worst,
        confusions,
        invented,
        segmentation: None,
    };
    finish(&report, args.json)
}

/// Prints the report (JSON or text); exit 1 when something was skipped.
fn finish(report: &Report, json: bool) -> anyhow::Result<ExitCode> {
    if json {
        println!("{}", serde_json::to_string_pretty(report)?);
    } else {
        print_report(report);
    }
    Ok(if report.skipped.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Error counts over a set, its worst lines and its most frequent confusions.
struct Scores {
    chars: ErrorCount,
    words: ErrorCount,
    worst: Vec<Line>,
    confusions: Vec<(String, String, usize)>,
    invented: Invented,
}

/// Scores `results` against the references: totals, the `worst` lines by CER and the 15 most
/// frequent character confusions.
fn score(refs: &[SampleRef], results: &[Hypothesis], worst: usize) -> Scores {
    let mut chars = ErrorCount::default();
    let mut words = ErrorCount::default();
    let mut confusions: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut lines = Vec::new();
    let mut invented: BTreeMap<String, usize> = BTreeMap::new();
    let mut words_read = 0;
    for (s, r) in refs.iter().zip(results) {
        words_read += r.text.split_whitespace().count();
        for w in invented_words(&r.text, &s.text) {
            *invented.entry(w).or_default() += 1;
        }
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
    lines.truncate(worst);
    let mut confusions: Vec<(String, String, usize)> = confusions
        .into_iter()
        .map(|((a, b), n)| (a, b, n))
        .collect();
    confusions.sort_by_key(|c| std::cmp::Reverse(c.2));
    confusions.truncate(15);
    let invented_count = invented.values().sum();
    let mut most_frequent: Vec<(String, usize)> = invented.into_iter().collect();
    most_frequent.sort_by_key(|w| std::cmp::Reverse(w.1));
    most_frequent.truncate(10);
    Scores {
        chars,
        words,
        worst: lines,
        confusions,
        invented: Invented {
            words: invented_count,
            of_words_read: words_read,
            most_frequent,
        },
    }
}

/// Lines found per image against the references' lines; `None` when no reference has more
/// than one line (line images: nothing to split).
fn segmentation(refs: &[SampleRef], found: impl Iterator<Item = usize>) -> Option<Segmentation> {
    let wanted: Vec<usize> = refs
        .iter()
        .map(|r| r.text.lines().filter(|l| !l.trim().is_empty()).count())
        .collect();
    if wanted.iter().all(|&n| n <= 1) {
        return None;
    }
    let found: Vec<usize> = found.collect();
    Some(Segmentation {
        right_count: wanted.iter().zip(&found).filter(|(w, f)| w == f).count(),
        images: wanted.len(),
        lines_found: found.iter().sum(),
        lines_in_references: wanted.iter().sum(),
    })
}

fn decoding(recognizer: &Recognizer, args: &EvalArgs) -> String {
    let d = recognizer.decode_config();
    let search = match (recognizer.is_ctc_only(), d.beam > 1) {
        (true, true) => format!("CTC prefix beam {}", d.beam),
        (true, false) => "CTC best path".to_string(),
        (false, true) => format!("beam {} (alpha {}), KV cache", d.beam, d.length_alpha),
        (false, false) => "greedy, KV cache".to_string(),
    };
    let search = match recognizer.lm() {
        Some(lm) if d.beam > 1 => format!(
            "{search}, {}-gram character LM (weight {}, bonus {})",
            lm.order(),
            d.lm_weight,
            d.lm_bonus
        ),
        _ => search,
    };
    let limit = d.max_chars_per_height.map_or(String::new(), |c| {
        format!(", at most {c} chars per line height")
    });
    let variant = args
        .variant
        .map_or(String::new(), |v| format!(", images {}", v.name()));
    format!(
        "layout {}, {search}, batch {}{limit}{}{variant}",
        args.layout,
        args.batch_size,
        if d.cut_loops { ", loops cut" } else { "" }
    )
}

#[derive(Serialize)]
struct VariantScore {
    variant: &'static str,
    cer: f64,
    wer: f64,
    ratio_to_plain: f64,
}

/// CER of the same images varied every way users' images vary ([`Variant::ALL`]).
fn robustness(
    recognizer: &Recognizer,
    images: &[GrayImage],
    refs: &[SampleRef],
    args: &EvalArgs,
) -> anyhow::Result<ExitCode> {
    let mut scores: Vec<VariantScore> = Vec::new();
    for variant in Variant::ALL {
        let varied: Vec<GrayImage> = images.par_iter().map(|i| variant.apply(i)).collect();
        let plans = varied
            .into_iter()
            .map(|img| recognizer.plan(img, args.layout))
            .collect();
        let mut chars = ErrorCount::default();
        let mut words = ErrorCount::default();
        for (page, r) in recognizer.read_plans(plans).iter().zip(refs) {
            chars = chars + char_errors(&page.text(), &r.text);
            words = words + word_errors(&page.text(), &r.text);
        }
        let cer = 100.0 * chars.rate();
        let plain = scores.first().map_or(cer, |s| s.cer);
        scores.push(VariantScore {
            variant: variant.name(),
            cer,
            wer: 100.0 * words.rate(),
            ratio_to_plain: cer / plain.max(1e-9),
        });
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&scores)?);
    } else {
        println!(
            "model {} on {} images ({})",
            recognizer.manifest().name,
            images.len(),
            decoding(recognizer, args)
        );
        println!("| variant | CER | WER | CER / plain |\n|---|---|---|---|");
        for s in &scores {
            println!(
                "| {} | {:.2} % | {:.2} % | {:.2} |",
                s.variant, s.cer, s.wer, s.ratio_to_plain
            );
        }
    }
    Ok(ExitCode::SUCCESS)
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
    let examples: Vec<String> = r
        .invented
        .most_frequent
        .iter()
        .map(|(w, n)| format!("{w} ×{n}"))
        .collect();
    println!(
        "invented words (like no word of the line): {} of {} read{}",
        r.invented.words,
        r.invented.of_words_read,
        if examples.is_empty() {
            String::new()
        } else {
            format!(": {}", examples.join(", "))
        }
    );
    if let Some(s) = &r.segmentation {
        println!(
            "segmentation: the right number of lines in {} of {} images \
             ({} lines found, {} in the references)",
            s.right_count, s.images, s.lines_found, s.lines_in_references
        );
    }
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
