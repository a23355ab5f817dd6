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
use text_recognizer::Recognizer;
use text_recognizer::image::open_image_pages;
use text_recognizer::image::profile::InputSummary;
use text_recognizer::layout::{PagePlan, plan_page};

use crate::cli::{GlobalArgs, OcrArgs};
use crate::inputs::InputFile;
use crate::monitor::store::{InputStats, Prediction};
use crate::output::{FileResult, SinkOptions};
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
    let staged = crate::model::load_with(args.model.as_ref(), global)?;
    let model_name = staged.manifest.name.clone();
    // The prediction log's model version: a content hash of the model file.
    let model_version = match &args.log {
        Some(_) => Some(crate::monitor::store::sha256_hex(&staged.to_bytes()?)[..12].to_string()),
        None => None,
    };
    let recognizer =
        Recognizer::from_staged(staged, global.device.device()?)?.with_batch_size(args.batch_size);
    let recognizer = match args.beam {
        Some(beam) => recognizer.with_beam(beam),
        None => recognizer,
    };
    let mode = args.layout;

    let expanded = crate::inputs::expand(&args.inputs, args.recursive);
    for p in &expanded.skipped {
        eprintln!("note: {} is not an image; skipped", p.display());
    }
    let mut failures = expanded.failures;
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
        model: model_name,
    })?;
    let before = files.len();
    if args.skip_existing {
        files.retain(|f| !sink.exists(f));
    }
    let existing = before - files.len();

    let start = Instant::now();
    let mut progress = Progress::new(files.len(), args.log_every);
    let (mut read, mut pages, mut lines) = (0usize, 0usize, 0usize);
    let layout = recognizer.preprocess().layout;
    let chunk = (2 * args.batch_size).max(8);
    let (tx, rx) = sync_channel::<Vec<Decoded>>(1);
    let log = args
        .log
        .as_deref()
        .map(crate::monitor::store::Store::open)
        .transpose()?;
    let logging = log.is_some();
    let model_name = (recognizer.manifest().name.clone(), model_version);
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let files = &files;
        scope.spawn(move || {
            for part in files.chunks(chunk) {
                let decoded: Vec<Decoded> = part
                    .par_iter()
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
                                .map(|img| plan_page(img, mode, &layout))
                                .collect();
                            (plans, t.elapsed().as_secs_f64() * 1e3, logged)
                        });
                        (f.clone(), plans.map_err(|e| e.to_string()))
                    })
                    .collect();
                if tx.send(decoded).is_err() {
                    break;
                }
            }
        });
        for decoded in rx {
            let n = decoded.len();
            let mut ok = Vec::with_capacity(n);
            let mut rows = Vec::new();
            for (file, result) in decoded {
                match result {
                    Ok((plans, ms, logged)) => ok.push((file, plans, ms, logged)),
                    Err(e) => {
                        if logging {
                            rows.push(log_row(&file, 0, &model_name, 0.0, 422, Some(e.clone())));
                        }
                        failures.push(e);
                    }
                }
            }
            let failed = n - ok.len();
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
            let mut write_failures = 0;
            for ((file, _, decode_ms, logged), (n_pages, n_lines)) in ok.into_iter().zip(counts) {
                let share = net_ms * n_lines as f64 / chunk_lines.max(1) as f64;
                let result = FileResult {
                    input: file,
                    pages: texts.by_ref().take(n_pages).collect(),
                    elapsed_ms: decode_ms + share,
                };
                if let Some((sha, summaries)) = logged {
                    let ms = result.elapsed_ms / n_pages.max(1) as f64;
                    for (i, (page, s)) in result.pages.iter().zip(summaries).enumerate() {
                        let mut row = log_row(&result.input, i + 1, &model_name, ms, 200, None);
                        row.image_sha256 = Some(sha.clone());
                        row.input = Some(InputStats {
                            width: s.width,
                            height: s.height,
                            mean_intensity: f64::from(s.mean_intensity),
                            dark_ink: s.dark_ink,
                        });
                        row.lines = page.lines.len();
                        row.pred_chars = page.text().chars().count();
                        row.confidence = Some(page.confidence());
                        rows.push(row);
                    }
                }
                match sink.write(&result) {
                    Ok(()) => {
                        read += 1;
                        pages += n_pages;
                        lines += n_lines;
                    }
                    Err(e) => {
                        write_failures += 1;
                        failures.push(format!("{}: {e:#}", result.input.path.display()));
                    }
                }
            }
            if let Some(store) = &log
                && let Err(e) = store.insert_predictions(&rows, &[])
            {
                eprintln!("warning: --log: {e:#}");
            }
            progress.advance(n, failed + write_failures);
        }
        Ok(())
    })?;
    sink.finish()?;
    progress.finish();

    let secs = start.elapsed().as_secs_f64();
    let mut summary = format!(
        "read {read} images ({pages} pages, {lines} lines) in {secs:.1} s ({:.2} images/s)",
        read as f64 / secs.max(1e-9)
    );
    if existing > 0 {
        summary += &format!("; {existing} already done (--skip-existing)");
    }
    if other_shards > 0 {
        summary += &format!("; {other_shards} left to other shards");
    }
    if failures.is_empty() {
        eprintln!("{summary}");
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!("{summary}; {} failed:", failures.len());
    for f in &failures {
        eprintln!("error: {f}");
    }
    Ok(ExitCode::from(1))
}
