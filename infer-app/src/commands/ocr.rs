//! `infer-app ocr`: read many images fast, write results as they finish, lose nothing.
//!
//! A producer thread decodes and segments the next chunk of files on all cores (rayon) while
//! the network reads the current one; the lines of every file in a chunk are batched together.
//! Each file's results are written as soon as its chunk is read, so `--skip-existing` can pick
//! up after an interruption.

use std::process::ExitCode;
use std::sync::mpsc::sync_channel;
use std::time::Instant;

use rayon::prelude::*;
use text_recognizer::image::profile::InputSummary;
use text_recognizer::image::{Layout, open_image_pages};
use text_recognizer::layout::{PagePlan, plan_page};
use text_recognizer::{LayoutMode, Recognizer};

use crate::cli::{GlobalArgs, OcrArgs};
use crate::inputs::InputFile;
use crate::monitor::store::{InputStats, Prediction};
use crate::output::{FileResult, Sink, SinkOptions};
use crate::progress::Progress;

/// A decoded, segmented file: its pages' plans, the milliseconds that took, and (with
/// `--log`) the file's SHA-256 and each page's summary.
type Decoded = (InputFile, Result<(Vec<PagePlan>, f64, Logged), String>);

/// What `--log` records of a file before it is read.
type Logged = Option<(String, Vec<InputSummary>)>;

/// A prediction-log row for page `page` (0: the whole file) of `file`.
fn log_row(
    file: &InputFile,
    page: usize,
    model: &(String, Option<String>),
    latency_ms: f64,
    status: u16,
    error: Option<String>,
) -> Prediction {
    Prediction {
        created: text_recognizer::export::utc_now(),
        request_id: format!("ocr:{}#{page}", file.path.display()),
        model: model.0.clone(),
        model_version: model.1.clone(),
        route: "ocr".into(),
        status,
        latency_ms,
        image_sha256: None,
        input: None,
        lines: 0,
        pred_chars: 0,
        confidence: None,
        error,
    }
}

pub fn run(args: OcrArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    if let Some(jobs) = args.jobs {
        rayon::ThreadPoolBuilder::new()
            .num_threads(jobs.max(1))
            .build_global()?;
    }
    let (recognizer, version) = crate::model::recognizer(
        args.model.as_ref(),
        global,
        args.batch_size,
        args.beam,
        &args.lm,
    )?;
    let model = (recognizer.manifest().name.clone(), Some(version));

    let expanded = crate::inputs::expand(&args.inputs, args.recursive);
    for p in &expanded.skipped {
        eprintln!("note: {} is not an image; skipped", p.display());
    }
    let mut tally = Tally {
        failures: expanded.failures,
        ..Tally::default()
    };
    let mut files = expanded.files;
    let found = files.len();
    if let Some(shard) = args.shard {
        files.retain(|f| shard.contains(&f.path));
    }
    let other_shards = found - files.len();
    let mut sink = crate::output::open(SinkOptions {
        format: args.format,
        output: args.output.clone(),
        skip_existing: args.skip_existing,
        several: files.len() > 1 || args.inputs.len() > 1,
        model: model.0.clone(),
    })?;
    let before = files.len();
    if args.skip_existing {
        files.retain(|f| !sink.exists(f));
    }
    let existing = before - files.len();
    let log = args
        .log
        .as_deref()
        .map(crate::monitor::store::Store::open)
        .transpose()?;

    let start = Instant::now();
    let mut progress = Progress::new(files.len(), args.log_every);
    let layout = recognizer.preprocess().layout;
    let (mode, logging) = (args.layout, log.is_some());
    let chunk = (2 * args.batch_size).max(8);
    let (tx, rx) = sync_channel::<Vec<Decoded>>(1);
    std::thread::scope(|scope| {
        let files = &files;
        // Decoding and segmentation of the next chunk overlap the network's reading of this one.
        scope.spawn(move || {
            for part in files.chunks(chunk) {
                if tx.send(decode_chunk(part, mode, &layout, logging)).is_err() {
                    break;
                }
            }
        });
        for decoded in rx {
            let n = decoded.len();
            let failed_before = tally.failures.len();
            let rows = read_chunk(
                decoded,
                &recognizer,
                sink.as_mut(),
                &model,
                logging,
                &mut tally,
            );
            if let Some(store) = &log
                && let Err(e) = store.insert_predictions(&rows, &[])
            {
                eprintln!("warning: --log: {e:#}");
            }
            progress.advance(n, tally.failures.len() - failed_before);
        }
    });
    sink.finish()?;
    progress.finish();
    Ok(summarize(
        &tally,
        start.elapsed().as_secs_f64(),
        existing,
        other_shards,
    ))
}

/// What a run has read so far, and what failed (`path: reason`).
#[derive(Default)]
struct Tally {
    read: usize,
    pages: usize,
    lines: usize,
    failures: Vec<String>,
}

/// Decodes and segments a chunk of files on all cores; with `logging`, also hashes each file
/// and summarises its pages for the prediction log.
fn decode_chunk(
    part: &[InputFile],
    mode: LayoutMode,
    layout: &Layout,
    logging: bool,
) -> Vec<Decoded> {
    part.par_iter()
        .map(|f| {
            let t = Instant::now();
            let plans = open_image_pages(&f.path).map(|images| {
                let logged = logging.then(|| {
                    let bytes = std::fs::read(&f.path).unwrap_or_default();
                    let pages = images.iter().map(InputSummary::of).collect();
                    (crate::monitor::store::sha256_hex(&bytes), pages)
                });
                let plans: Vec<PagePlan> = images
                    .into_iter()
                    .map(|img| plan_page(img, mode, layout))
                    .collect();
                (plans, t.elapsed().as_secs_f64() * 1e3, logged)
            });
            (f.clone(), plans.map_err(|e| e.to_string()))
        })
        .collect()
}

/// Reads the lines of a decoded chunk in shared batches and writes each file's result; returns
/// the prediction-log rows (empty without `logging`).
fn read_chunk(
    decoded: Vec<Decoded>,
    recognizer: &Recognizer,
    sink: &mut dyn Sink,
    model: &(String, Option<String>),
    logging: bool,
    tally: &mut Tally,
) -> Vec<Prediction> {
    let mut ok = Vec::with_capacity(decoded.len());
    let mut rows = Vec::new();
    for (file, result) in decoded {
        match result {
            Ok((plans, ms, logged)) => ok.push((file, plans, ms, logged)),
            Err(e) => {
                if logging {
                    rows.push(log_row(&file, 0, model, 0.0, 422, Some(e.clone())));
                }
                tally.failures.push(e);
            }
        }
    }
    let counts: Vec<(usize, usize)> = ok
        .iter()
        .map(|(_, plans, _, _)| {
            (
                plans.len(),
                plans.iter().map(|p| p.lines.len()).sum::<usize>(),
            )
        })
        .collect();
    let chunk_lines: usize = counts.iter().map(|c| c.1).sum();
    let all: Vec<PagePlan> = ok.iter_mut().flat_map(|(_, p, _, _)| p.drain(..)).collect();
    let t = Instant::now();
    let mut texts = recognizer.read_plans(all).into_iter();
    let net_ms = t.elapsed().as_secs_f64() * 1e3;
    for ((file, _, decode_ms, logged), (n_pages, n_lines)) in ok.into_iter().zip(counts) {
        // Each file is charged its share of the batched network time, by lines.
        let share = net_ms * n_lines as f64 / chunk_lines.max(1) as f64;
        let result = FileResult {
            input: file,
            pages: texts.by_ref().take(n_pages).collect(),
            elapsed_ms: decode_ms + share,
        };
        if let Some((sha, summaries)) = logged {
            rows.extend(page_rows(&result, &sha, summaries, model));
        }
        match sink.write(&result) {
            Ok(()) => {
                tally.read += 1;
                tally.pages += n_pages;
                tally.lines += n_lines;
            }
            Err(e) => tally
                .failures
                .push(format!("{}: {e:#}", result.input.path.display())),
        }
    }
    rows
}

/// One prediction-log row per page of a file that was read.
fn page_rows(
    result: &FileResult,
    sha: &str,
    summaries: Vec<InputSummary>,
    model: &(String, Option<String>),
) -> Vec<Prediction> {
    let ms = result.elapsed_ms / result.pages.len().max(1) as f64;
    result
        .pages
        .iter()
        .zip(summaries)
        .enumerate()
        .map(|(i, (page, s))| {
            let mut row = log_row(&result.input, i + 1, model, ms, 200, None);
            row.image_sha256 = Some(sha.to_string());
            row.input = Some(InputStats {
                width: s.width,
                height: s.height,
                mean_intensity: f64::from(s.mean_intensity),
                dark_ink: s.dark_ink,
            });
            row.lines = page.lines.len();
            row.pred_chars = page.text().chars().count();
            row.confidence = Some(page.confidence());
            row
        })
        .collect()
}

/// The closing summary on stderr; exit 1 when anything failed.
fn summarize(tally: &Tally, secs: f64, existing: usize, other_shards: usize) -> ExitCode {
    let Tally {
        read,
        pages,
        lines,
        failures,
    } = tally;
    let mut summary = format!(
        "read {read} images ({pages} pages, {lines} lines) in {secs:.1} s ({:.2} images/s)",
        *read as f64 / secs.max(1e-9)
    );
    if existing > 0 {
        summary += &format!("; {existing} already done (--skip-existing)");
    }
    if other_shards > 0 {
        summary += &format!("; {other_shards} left to other shards");
    }
    if failures.is_empty() {
        eprintln!("{summary}");
        return ExitCode::SUCCESS;
    }
    eprintln!("{summary}; {} failed:", failures.len());
    for f in failures {
        eprintln!("error: {f}");
    }
    ExitCode::from(1)
}
