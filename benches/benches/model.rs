//! The model on the CPU (`flex`): encoder, encoder layers (burn's operations against ours), one
//! decoder step, whole recognitions, greedy decoding with and without the KV cache, training
//! steps.
//! Run: `cargo bench -p benches --bench model` (add a filter, e.g. `-- encoder`).
//!
//! Where a FLOP count makes sense the group's throughput is set to it, so criterion's
//! "thrpt … Gelem/s" reads as achieved GFLOP/s (counts: `benches::flops`).

use std::path::Path;

use benches::{TrainBench, VOCAB, flops, forced_cached, forced_uncached, images, tokens};
use burn::prelude::*;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use text_recognizer::Recognizer;
use text_recognizer::image::open_image;
use text_recognizer::model::{Preset, PresetName};

const PARAGRAPH: [usize; 2] = [576, 640];
const LINE: [usize; 2] = [64, 1024];

fn encoder(c: &mut Criterion) {
    let device = Device::flex();
    let mut g = c.benchmark_group("encoder");
    g.sample_size(10);
    for (preset, [h, w], label) in [
        (PresetName::Line, LINE, "line 1x64x1024"),
        (PresetName::Paragraph, PARAGRAPH, "paragraph 1x576x640"),
    ] {
        let (p, model) = benches::model(preset, &device);
        g.throughput(Throughput::Elements(
            flops::encoder(&p.model, h, w).0 as u64,
        ));
        let x = images(1, h, w, &device);
        g.bench_function(label, |b| b.iter(|| model.encode(x.clone()).into_data()));
    }
    g.finish();
}

fn decoder_step(c: &mut Criterion) {
    let device = Device::flex();
    let (p, model) = benches::model(PresetName::Paragraph, &device);
    let memory = model.encode(images(1, PARAGRAPH[0], PARAGRAPH[1], &device));
    let s = memory.dims()[1];
    let mut g = c.benchmark_group("decoder step, paragraph model");
    for prefix in [100, 500] {
        // A cache holding `prefix - 1` tokens; each iteration adds one and takes it back.
        let mut cache = model.start_cache(memory.clone());
        for _ in 1..prefix {
            let _ = model.step(tokens(1, 1, &device), &mut cache);
        }
        g.throughput(Throughput::Elements(
            flops::cached_step(&p.model, VOCAB, prefix, s) as u64,
        ));
        let token = tokens(1, 1, &device);
        g.bench_function(format!("KV cache, token {prefix}"), |b| {
            b.iter(|| {
                let logits = model.step(token.clone(), &mut cache).into_data();
                cache.truncate(prefix - 1);
                logits
            })
        });
    }
    g.finish();
}

fn recognition(c: &mut Criterion) {
    let mut g = c.benchmark_group("recognition");
    g.sample_size(10);
    // A line: the shipped model on real Testaments lines (preprocessing, batching and decoding
    // to <E> included), 1 and 8 at a time.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let shipped = root.join("text-recognizer/model/default-line.htr");
    let mut lines: Vec<_> = std::fs::read_dir(root.join("datasets/fixtures/testaments-mini"))
        .expect("fixture folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jpg"))
        .collect();
    lines.sort();
    // The fixture holds 6 lines; batch 8 repeats two.
    let lines: Vec<_> = lines
        .iter()
        .cycle()
        .take(8)
        .map(|p| open_image(p).expect("fixture image"))
        .collect();
    for batch in [1, 8] {
        let r = Recognizer::load(&shipped)
            .expect("the shipped model loads")
            .with_batch_size(batch);
        let set = &lines[..batch];
        g.throughput(Throughput::Elements(batch as u64));
        g.bench_function(format!("line, default model, batch {batch}"), |b| {
            b.iter(|| r.recognize_batch(set))
        });
    }
    // A paragraph: random weights, so decoding is forced to 400 tokens (a long IAM paragraph).
    let device = Device::flex();
    let (p, model) = benches::model(PresetName::Paragraph, &device);
    for batch in [1, 8] {
        let x = images(batch, PARAGRAPH[0], PARAGRAPH[1], &device);
        let (enc, [h, w]) = flops::encoder(&p.model, PARAGRAPH[0], PARAGRAPH[1]);
        let total = batch as f64 * (enc + flops::cached_decode(&p.model, VOCAB, 400, h * w));
        g.throughput(Throughput::Elements(total as u64));
        g.bench_function(format!("paragraph, 400 tokens, batch {batch}"), |b| {
            b.iter(|| forced_cached(&model, model.encode(x.clone()), 400))
        });
    }
    g.finish();
}

fn decoding(c: &mut Criterion) {
    let device = Device::flex();
    let (p, model) = benches::model(PresetName::Paragraph, &device);
    let memory = model.encode(images(1, PARAGRAPH[0], PARAGRAPH[1], &device));
    let s = memory.dims()[1];
    let mut g = c.benchmark_group("greedy decode, paragraph model, 1 image");
    g.sample_size(10);
    for n in [100, 682] {
        g.throughput(Throughput::Elements(
            flops::cached_decode(&p.model, VOCAB, n, s) as u64,
        ));
        g.bench_function(format!("KV cache, {n} tokens"), |b| {
            b.iter(|| forced_cached(&model, memory.clone(), n))
        });
        g.throughput(Throughput::Elements(
            flops::uncached_decode(&p.model, VOCAB, n, s) as u64,
        ));
        g.bench_function(format!("no cache (FSDL), {n} tokens"), |b| {
            b.iter(|| forced_uncached(&model, memory.clone(), n))
        });
    }
    g.finish();
}

fn training(c: &mut Criterion) {
    let device = Device::flex().autodiff();
    let mut g = c.benchmark_group("train step (fwd + bwd + Adam)");
    g.sample_size(10);
    for (preset, batch, [h, w], len) in [
        (PresetName::Line, 4, [64, 512], 48),
        (PresetName::Paragraph, 2, PARAGRAPH, 200),
    ] {
        let cfg = Preset::named(preset).model;
        let step_flops = batch as f64 * flops::train_step(&cfg, VOCAB, [h, w], len);
        g.throughput(Throughput::Elements(step_flops as u64));
        let mut bench = TrainBench::new(preset, batch, [h, w], len, &device);
        g.bench_function(format!("{preset:?}, B={batch}, {h}x{w}, T={len}"), |b| {
            b.iter(|| bench.step())
        });
        // Where the step's time goes: the forward alone, then forward + backward.
        let (m, x) = (bench.model(), bench.images());
        let (inputs, targets) = bench.inputs_and_targets();
        // The forward is a third of the counted work (the backward is two thirds).
        g.throughput(Throughput::Elements((step_flops / 3.0) as u64));
        g.bench_function(format!("{preset:?} forward only"), |b| {
            b.iter(|| {
                benches::loss(m, x.clone(), inputs.clone(), targets.clone()).into_scalar::<f32>()
            })
        });
        g.throughput(Throughput::Elements(step_flops as u64));
        g.bench_function(format!("{preset:?} forward + backward"), |b| {
            b.iter(|| benches::loss(m, x.clone(), inputs.clone(), targets.clone()).backward())
        });
    }
    g.finish();
}

/// One 3×3 convolution and one batch norm, forward + backward, at the line preset's four stage
/// shapes (B=4, 64×512 input): burn's own operations against `text_recognizer::model::cpu`.
fn encoder_layers(c: &mut Criterion) {
    use burn::tensor::module::conv2d as burn_conv2d;
    use burn::tensor::ops::ConvOptions;
    use text_recognizer::model::cpu::{batch_norm::batch_norm, conv::conv2d};

    let device = Device::flex().autodiff();
    let mut g = c.benchmark_group("encoder layer fwd + bwd, line stages, B=4");
    g.sample_size(20);
    for [ch, h, w] in [[32, 16, 128], [64, 8, 64], [128, 4, 32], [256, 2, 32]] {
        let random = |shape: [usize; 4]| {
            Tensor::<4>::random(shape, burn::tensor::Distribution::Default, &device).require_grad()
        };
        let (x, weight) = (random([4, ch, h, w]), random([ch, ch, 3, 3]));
        g.throughput(Throughput::Elements(
            (3 * 2 * 4 * ch * ch * 9 * h * w) as u64,
        ));
        let options = ConvOptions::new([1, 1], [1, 1], [1, 1], 1);
        g.bench_function(format!("conv 3x3 {ch}ch {h}x{w}, burn"), |b| {
            b.iter(|| {
                burn_conv2d(x.clone(), weight.clone(), None, options.clone())
                    .sum()
                    .backward()
            })
        });
        g.bench_function(format!("conv 3x3 {ch}ch {h}x{w}, ours"), |b| {
            b.iter(|| {
                conv2d(x.clone(), weight.clone(), [1, 1], [1, 1])
                    .sum()
                    .backward()
            })
        });
        g.throughput(Throughput::Elements((4 * ch * h * w) as u64));
        let bn = burn::nn::BatchNormConfig::new(ch).init(&device);
        g.bench_function(format!("batch norm {ch}ch {h}x{w}, burn"), |b| {
            b.iter(|| bn.forward(x.clone()).sum().backward())
        });
        g.bench_function(format!("batch norm {ch}ch {h}x{w}, ours"), |b| {
            b.iter(|| batch_norm(&bn, x.clone()).sum().backward())
        });
    }
    g.finish();
}

/// Beam search of 4 with and without a character LM, side by side: the attention model (the
/// default until 2026-12-04) and the embedded default, the campaign's CTC model, on 8 real
/// lines. The LM is `HTR_BENCH_LM` (an `.lm` file, e.g. the one built from the real sets' train
/// transcriptions) or, without it, a 6-gram of the fixtures' transcriptions.
fn lm_fusion(c: &mut Criterion) {
    use std::sync::Arc;
    use text_recognizer::data::Conventions;
    use text_recognizer::lm::{CharLm, Smoothing, corpus_lines};

    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let fixtures = root.join("datasets/fixtures");
    let lm = match std::env::var_os("HTR_BENCH_LM") {
        Some(path) => CharLm::load(Path::new(&path)).expect("HTR_BENCH_LM loads"),
        None => {
            let (text, _) = corpus_lines(
                &[
                    fixtures.join("testaments-mini"),
                    fixtures.join("testaments-val-mini"),
                ],
                &Conventions::default(),
                None,
            )
            .expect("fixture transcriptions");
            CharLm::build(text.iter().map(String::as_str), 6, Smoothing::KneserNey).expect("builds")
        }
    };
    let lm = Arc::new(lm);
    let mut paths: Vec<_> = std::fs::read_dir(fixtures.join("testaments-val-mini"))
        .expect("fixture folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jpg"))
        .collect();
    paths.sort();
    let lines: Vec<_> = paths
        .iter()
        .take(8)
        .map(|p| open_image(p).expect("fixture image"))
        .collect();
    let mut g = c.benchmark_group("beam 4, 8 lines, with and without a character LM");
    g.sample_size(10);
    g.throughput(Throughput::Elements(lines.len() as u64));
    for (name, model) in [
        (
            "attention model",
            "text-recognizer/model/attention-line.htr",
        ),
        (
            "CTC model (the default)",
            "text-recognizer/model/default-line.htr",
        ),
    ] {
        let plain = Recognizer::load(&root.join(model))
            .expect("the model loads")
            .with_batch_size(8)
            .with_beam(4)
            .with_lm(None);
        g.bench_function(format!("{name}, beam 4"), |b| {
            b.iter(|| plain.recognize_batch(&lines))
        });
        let fused = plain.with_lm(Some(lm.clone()));
        g.bench_function(format!("{name}, beam 4 + LM"), |b| {
            b.iter(|| fused.recognize_batch(&lines))
        });
    }
    g.finish();
}

criterion_group!(
    benches,
    encoder,
    encoder_layers,
    decoder_step,
    recognition,
    decoding,
    training,
    lm_fusion
);
criterion_main!(benches);
