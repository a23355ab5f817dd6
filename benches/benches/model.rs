//! Encoder forward passes and greedy decoding on the CPU (`flex`).
//! Run: `cargo bench -p benches --bench model`.

use burn::tensor::Device;
use criterion::{Criterion, criterion_group, criterion_main};
use text_recognizer::decode::{greedy, greedy_uncached};
use text_recognizer::model::PresetName;

fn encoder(c: &mut Criterion) {
    let device = Device::flex();
    let (_, line) = benches::model(PresetName::Line, &device);
    let (_, para) = benches::model(PresetName::Paragraph, &device);
    let mut g = c.benchmark_group("encoder");
    g.sample_size(10);
    let x = benches::images(1, 64, 1024, &device);
    g.bench_function("line 1x64x1024", |b| {
        b.iter(|| line.encode(x.clone()).into_data())
    });
    let x = benches::images(1, 576, 640, &device);
    g.bench_function("paragraph 1x576x640", |b| {
        b.iter(|| para.encode(x.clone()).into_data())
    });
    g.finish();
}

fn decoding(c: &mut Criterion) {
    let device = Device::flex();
    let (_, para) = benches::model(PresetName::Paragraph, &device);
    let memory = para.encode(benches::images(1, 576, 640, &device));
    let mut g = c.benchmark_group("greedy decode, paragraph model, 1 image");
    g.sample_size(10);
    g.bench_function("kv cache, up to 100 tokens", |b| {
        b.iter(|| greedy(&para, memory.clone(), 100))
    });
    g.bench_function("no cache (FSDL), up to 100 tokens", |b| {
        b.iter(|| greedy_uncached(&para, memory.clone(), 100))
    });
    g.finish();
}

criterion_group!(benches, encoder, decoding);
criterion_main!(benches);
