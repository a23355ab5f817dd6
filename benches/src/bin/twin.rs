//! The burn side of the PyTorch twin (`benches/pytorch/`):
//! * `twin export DIR` writes two models with PyTorch names (burn's `SafetensorsStore` +
//!   `BurnToPyTorchAdapter`): the shipped line model and a randomly initialised `paragraph`
//!   preset. With each go its architecture as JSON and a reference input with burn's logits and
//!   greedy tokens, for the twin's parity check;
//! * `twin time` times the operations `compare.sh` puts side by side and prints JSON lines;
//! * `twin gpu` times the accelerator cases of `benches/gpu/run.sh`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use benches::{TrainBench, VOCAB, forced_cached, forced_uncached, images, tokens};
use burn::prelude::*;
use burn::store::{BurnToPyTorchAdapter, ModuleSnapshot, SafetensorsStore};
use clap::{Parser, Subcommand};
use safetensors::{Dtype, View};
use text_recognizer::image::open_image;
use text_recognizer::model::cpu::in_pool;
use text_recognizer::model::{Preset, PresetName};
use text_recognizer::{DeviceSpec, StagedModel};

#[derive(Parser)]
#[command(about = "burn side of the PyTorch twin: weight export and timings")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Writes `{line,paragraph}.{safetensors,json}` and `*.reference.safetensors` into DIR.
    Export {
        dir: PathBuf,
        /// Greedy tokens to record for the parity check.
        #[arg(long, default_value_t = 40)]
        steps: usize,
    },
    /// Times the compared operations; one JSON object per line on stdout.
    Time {
        /// Tokens decoded per paragraph (forced: decoding never stops early).
        #[arg(long, default_value_t = 400)]
        paragraph_tokens: usize,
        /// Tokens decoded per line.
        #[arg(long, default_value_t = 64)]
        line_tokens: usize,
        /// Timed repetitions after one warm-up; the median is reported.
        #[arg(long, default_value_t = 3)]
        repeats: usize,
        /// Skip FSDL's uncached decoding (the slowest row).
        #[arg(long)]
        skip_uncached: bool,
    },
    /// Accelerator timings (`benches/gpu/run.sh`): training steps of both presets at batch 16
    /// and 32, recognition latency at batch 1 and 16, one conv backward at the widest line.
    Gpu {
        /// `wgpu[:N]` or `cuda[:N]` (the binary needs that cargo feature); `flex` works too.
        #[arg(long, default_value = "wgpu")]
        device: DeviceSpec,
        /// Timed steps or runs per case, after three warm-up ones (autotuning happens there).
        #[arg(long, default_value_t = 10)]
        runs: usize,
        /// Training batch sizes.
        #[arg(long, value_delimiter = ',', default_value = "16,32")]
        train_batches: Vec<usize>,
        /// Recognition batch sizes.
        #[arg(long, value_delimiter = ',', default_value = "1,16")]
        infer_batches: Vec<usize>,
        /// Which groups of cases to run: `train`, `infer`, `conv` (run.sh gives each its own
        /// time limit, so one slow group cannot take the others' results with it).
        #[arg(long, value_delimiter = ',', default_value = "train,infer,conv")]
        cases: Vec<String>,
        /// The `framework` field of the JSON lines (a column of `twin.py table`), to tell
        /// builds apart: `burn wgpu`, `burn vulkan`.
        #[arg(long, default_value = "burn")]
        label: String,
    },
}

/// The image shape each preset is exported and timed at.
fn shape(preset: PresetName) -> [usize; 2] {
    match preset {
        PresetName::Line => [64, 1024],
        PresetName::Paragraph => [576, 640],
    }
}

fn name(preset: PresetName) -> &'static str {
    match preset {
        PresetName::Line => "line",
        PresetName::Paragraph => "paragraph",
    }
}

/// A tensor for `safetensors::serialize`.
struct Raw {
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl View for &Raw {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> std::borrow::Cow<'_, [u8]> {
        std::borrow::Cow::Borrowed(&self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

fn f32_raw(values: Vec<f32>, shape: Vec<usize>) -> Raw {
    Raw {
        dtype: Dtype::F32,
        shape,
        bytes: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
    }
}

fn i64_raw(values: Vec<i64>, shape: Vec<usize>) -> Raw {
    Raw {
        dtype: Dtype::I64,
        shape,
        bytes: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
    }
}

/// The staged model `twin export` uses for the line parity check (real weights give a real
/// transcription, where random weights repeat one token), and a line it reads: the attention
/// model of the `line` preset (the embedded default until 2026-12-04).
const LINE_MODEL: &str = "text-recognizer/model/attention-line.htr";
const LINE_IMAGE: &str = "datasets/fixtures/testaments-mini/AD78_0003-0-010.jpg";

fn export(dir: &Path, steps: usize) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let device = Device::flex();
    device.seed(42);
    for preset in [PresetName::Line, PresetName::Paragraph] {
        let n = name(preset);
        let (config, model, image) = match preset {
            PresetName::Line => {
                let staged = StagedModel::load(Path::new(LINE_MODEL))?;
                let prep = &staged.manifest.preset.preprocess;
                let line = prep.prepare(&open_image(Path::new(LINE_IMAGE))?);
                let image = prep.batch_tensor(&[&line], &device);
                (
                    staged.manifest.preset.model.clone(),
                    staged.model(&device)?,
                    image,
                )
            }
            PresetName::Paragraph => {
                let p = Preset::named(preset);
                let [h, w] = shape(preset);
                // Two training-mode passes give BatchNorm running statistics other than 0 and
                // 1, so the parity check covers their mapping too.
                let model = p.model.init(VOCAB, &device.clone().autodiff());
                for _ in 0..2 {
                    let train = model.devices()[0].clone();
                    let _ = model.forward(images(2, h, w, &train), &[w, w], tokens(2, 8, &train));
                }
                (p.model, model.valid(), images(1, h, w, &device))
            }
        };
        let weights = dir.join(format!("{n}.safetensors"));
        let mut store = SafetensorsStore::from_file(&weights)
            .with_to_adapter(BurnToPyTorchAdapter)
            .overwrite(true);
        model
            .save_into(&mut store)
            .map_err(|e| anyhow::anyhow!("{}: {e:?}", weights.display()))?;
        let vocab = model.vocab_size();
        let [_, _, h, w] = image.dims();
        let json =
            serde_json::json!({"preset": n, "model": config, "vocab": vocab, "image": [h, w]});
        std::fs::write(
            dir.join(format!("{n}.json")),
            serde_json::to_string_pretty(&json)?,
        )?;
        // A reference input and what burn computes for it.
        let toks = tokens(1, 24, &device).clamp_max(vocab as i64 - 1);
        let memory = model.encode(image.clone());
        let logits = model.decode(memory.clone(), toks.clone());
        let steps = steps.min(model.max_output_len());
        let greedy = forced_cached(&model, memory, steps);
        let tensors = [
            ("image", f32_raw(image.try_to_vec_as()?, vec![1, 1, h, w])),
            ("tokens", i64_raw(toks.try_to_vec_as()?, vec![1, 24])),
            (
                "logits",
                f32_raw(logits.try_to_vec_as()?, vec![1, 24, vocab]),
            ),
            ("greedy", i64_raw(greedy, vec![1, steps])),
        ];
        let bytes = safetensors::serialize(tensors.iter().map(|(k, v)| (*k, v)), None)?;
        std::fs::write(dir.join(format!("{n}.reference.safetensors")), bytes)?;
        eprintln!(
            "{n}: {} parameters → {}",
            model.num_params(),
            weights.display()
        );
    }
    Ok(())
}

/// Median wall time of `repeats` runs after one warm-up.
fn median(repeats: usize, mut f: impl FnMut()) -> f64 {
    f();
    let mut times: Vec<f64> = (0..repeats.max(1))
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn report(case: &str, seconds: f64) {
    println!(
        "{}",
        serde_json::json!({"framework": "burn", "case": case, "seconds": seconds})
    );
}

/// Decoding runs on a rayon worker, as `Recognizer` runs it (`in_pool`).
fn time(paragraph_tokens: usize, line_tokens: usize, repeats: usize, uncached: bool) {
    let device = Device::flex();
    device.seed(42);
    let (_, para) = benches::model(PresetName::Paragraph, &device);
    let [h, w] = shape(PresetName::Paragraph);
    let image = images(1, h, w, &device);
    report(
        &format!("paragraph, KV cache, {paragraph_tokens} tokens"),
        median(repeats, || {
            in_pool(|| forced_cached(&para, para.encode(image.clone()), paragraph_tokens));
        }),
    );
    if uncached {
        report(
            &format!("paragraph, no cache (FSDL), {paragraph_tokens} tokens"),
            median(repeats, || {
                in_pool(|| forced_uncached(&para, para.encode(image.clone()), paragraph_tokens));
            }),
        );
    }
    let (_, line) = benches::model(PresetName::Line, &device);
    let [h, w] = shape(PresetName::Line);
    let image = images(1, h, w, &device);
    report(
        &format!("line {h}x{w}, KV cache, {line_tokens} tokens"),
        median(repeats, || {
            in_pool(|| forced_cached(&line, line.encode(image.clone()), line_tokens));
        }),
    );
    // Training steps at perf-baseline.md's shapes.
    let train = device.autodiff();
    for (preset, batch, [h, w], len) in [
        (PresetName::Line, 4, [64, 512], 48),
        (PresetName::Paragraph, 2, [576, 640], 200),
    ] {
        let mut bench = TrainBench::new(preset, batch, [h, w], len, &train);
        let seconds = median(repeats, || {
            bench.step();
        });
        report(
            &format!("train step {}, B={batch}, {h}x{w}, T={len}", name(preset)),
            seconds,
        );
    }
}

/// Mean wall time of `runs` calls after three warm-up calls (which compile and autotune the
/// kernels of each new shape on a GPU). The device is synchronised before the clock starts and
/// before it stops, so no queued GPU work falls outside the timed span (a training step reads
/// its loss before its backward pass is queued).
fn mean_after_warmup(device: &Device, runs: usize, mut f: impl FnMut()) -> Result<f64> {
    let sync = || {
        device
            .sync()
            .map_err(|e| anyhow::anyhow!("device sync: {e:?}"))
    };
    for _ in 0..3 {
        f();
    }
    sync()?;
    let t = Instant::now();
    for _ in 0..runs.max(1) {
        f();
    }
    sync()?;
    Ok(t.elapsed().as_secs_f64() / runs.max(1) as f64)
}

fn gpu(
    spec: &DeviceSpec,
    runs: usize,
    train_batches: &[usize],
    infer_batches: &[usize],
    cases: &[String],
    label: &str,
) -> Result<()> {
    if let Some(unknown) = cases
        .iter()
        .find(|c| !["train", "infer", "conv"].contains(&c.as_str()))
    {
        anyhow::bail!("--cases: unknown group {unknown:?} (train, infer, conv)");
    }
    let wanted = |group: &str| cases.iter().any(|c| c == group);
    let device = spec.device()?;
    device.seed(42);
    let report = |case: String, seconds: f64| {
        println!(
            "{}",
            serde_json::json!({"framework": label, "device": spec.to_string(), "case": case, "seconds": seconds})
        );
    };
    let train = device.clone().autodiff();
    let train_batches = if wanted("train") { train_batches } else { &[] };
    let infer_batches = if wanted("infer") { infer_batches } else { &[] };
    for (preset, [h, w], len) in [
        (PresetName::Line, [64, 1024], 64),
        (PresetName::Paragraph, [576, 640], 200),
    ] {
        for &batch in train_batches {
            let mut bench = TrainBench::new(preset, batch, [h, w], len, &train);
            let seconds = mean_after_warmup(&device, runs, || {
                bench.step();
            })?;
            report(
                format!("train step {}, B={batch}, {h}x{w}, T={len}", name(preset)),
                seconds,
            );
        }
    }
    for (preset, [h, w], steps) in [
        (PresetName::Line, [64, 1024], 64),
        (PresetName::Paragraph, [576, 640], 400),
    ] {
        if infer_batches.is_empty() {
            break;
        }
        let (_, model) = benches::model(preset, &device);
        for &batch in infer_batches {
            let x = images(batch, h, w, &device);
            let seconds = mean_after_warmup(&device, runs, || {
                forced_cached(&model, model.encode(x.clone()), steps);
            })?;
            report(
                format!(
                    "recognize {}, B={batch}, {h}x{w}, {steps} tokens",
                    name(preset)
                ),
                seconds,
            );
        }
    }
    // burn issue #4445: convolution backward on very wide inputs. The line preset's stem and a
    // 3x3 stage-1 convolution at the widest line the preprocessing allows (2048 px).
    let convs: &[_] = if wanted("conv") {
        &[(1, 32, 7, 2, [64, 2048]), (32, 32, 3, 1, [16, 512])]
    } else {
        &[]
    };
    for &(c_in, c_out, k, stride, [h, w]) in convs {
        let conv = burn::nn::conv::Conv2dConfig::new([c_in, c_out], [k, k])
            .with_stride([stride, stride])
            .with_padding(burn::nn::PaddingConfig2d::Explicit(
                k / 2,
                k / 2,
                k / 2,
                k / 2,
            ))
            .init(&train);
        let x = images(16, h, w, &train).repeat_dim(1, c_in).require_grad();
        let seconds = mean_after_warmup(&device, runs, || {
            let grads = conv.forward(x.clone()).sum().backward();
            let gx = x.grad(&grads).expect("input gradient");
            let _ = gx.sum().into_scalar::<f32>();
        })?;
        report(
            format!("conv {k}x{k}/{stride} {c_in}->{c_out} fwd+bwd, 16x{c_in}x{h}x{w}"),
            seconds,
        );
    }
    Ok(())
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Gpu {
            device,
            runs,
            train_batches,
            infer_batches,
            cases,
            label,
        } => gpu(
            &device,
            runs,
            &train_batches,
            &infer_batches,
            &cases,
            &label,
        ),
        Command::Export { dir, steps } => export(&dir, steps),
        Command::Time {
            paragraph_tokens,
            line_tokens,
            repeats,
            skip_uncached,
        } => {
            time(paragraph_tokens, line_tokens, repeats, !skip_uncached);
            Ok(())
        }
    }
}
