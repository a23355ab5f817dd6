//! Data-loading throughput (samples/s, one thread, with augmentation) beside the training step
//! it has to keep up with, measured in the same run.
//! Run: `cargo bench -p benches --bench data` (needs the Debian font and bible-kjv packages).

use std::sync::Arc;

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::Dataset;
use burn::tensor::Device;
use burn::train::TrainStep;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use text_recognizer::Charset;
use text_recognizer::charset::UnknownCharPolicy;
use text_recognizer::data::synthetic::{FontSet, ParagraphStacker, StackConfig, TextCorpus};
use text_recognizer::data::{
    AugmentConfig, DataSource, HtrBatcher, LoadOptions, Loaded, MixtureDataset, TextSource,
};
use text_recognizer::model::{Preset, PresetName};

const BATCH: usize = 16;

fn mixture(
    preset: &Preset,
    source: Loaded,
    charset: Arc<Charset>,
    augment: AugmentConfig,
) -> MixtureDataset {
    MixtureDataset::new(
        vec![(source, 1.0)],
        preset.preprocess.clone(),
        charset,
        UnknownCharPolicy::Skip,
        preset.model.max_output_len,
        Some(augment),
        1 << 20,
        0,
    )
    .0
}

fn data_loading(c: &mut Criterion) {
    let opts = LoadOptions {
        cache_dir: text_recognizer::data::default_cache_dir(),
    };
    let lines_src = DataSource::SyntheticLines {
        fonts: FontSet::Handwriting,
        text: TextSource::Kjv,
        render: Default::default(),
        samples: 10_000,
    };
    let corpus: TextCorpus = lines_src.corpus(&opts).expect("corpus").expect("synthetic");
    let charset = Arc::new(Charset::from_texts(corpus.chars().chain(["\n"])));
    let (lines, _) = lines_src
        .load(&opts, Some(corpus))
        .expect("fonts installed");
    let line_preset = Preset::named(PresetName::Line);
    let para_preset = Preset::named(PresetName::Paragraph);
    let pool: Vec<_> = (0..500).map(|i| lines.sample(i, i as u64)).collect();
    let paragraphs = Loaded::Paragraphs(
        ParagraphStacker::new(StackConfig::default()),
        Arc::new(pool),
        10_000,
    );

    let line_ds = mixture(
        &line_preset,
        lines,
        charset.clone(),
        AugmentConfig::fsdl_line(),
    );
    let para_ds = mixture(
        &para_preset,
        paragraphs,
        charset.clone(),
        AugmentConfig::default(),
    );
    let mut g = c.benchmark_group("data loading, 1 thread, augmented");
    g.sample_size(10);
    g.throughput(Throughput::Elements(BATCH as u64));
    let device = Device::flex();
    let mut i = 0;
    for (name, ds, pre) in [
        ("synthetic lines", &line_ds, &line_preset),
        ("synthetic paragraphs", &para_ds, &para_preset),
    ] {
        let batcher = HtrBatcher::new(pre.preprocess.clone());
        g.bench_function(format!("{name}, batch of {BATCH}"), |b| {
            b.iter(|| {
                let items = (0..BATCH).map(|_| {
                    i += 1;
                    ds.get(i).expect("item")
                });
                batcher.batch(items.collect(), &device)
            })
        });
    }
    g.finish();

    // The training step those batches feed, same batch size, on the same machine.
    let mut g = c.benchmark_group("training step, line preset");
    g.sample_size(10);
    g.throughput(Throughput::Elements(BATCH as u64));
    let ad = Device::flex().autodiff();
    let model = line_preset.model.init(charset.vocab_size(), &ad);
    let batcher = HtrBatcher::new(line_preset.preprocess.clone());
    let batch = batcher.batch(
        (0..BATCH).map(|k| line_ds.get(k).expect("item")).collect(),
        &ad,
    );
    g.bench_function(format!("forward+backward, batch of {BATCH}"), |b| {
        b.iter(|| TrainStep::step(&model, batch.clone()))
    });
    g.finish();
}

criterion_group!(benches, data_loading);
criterion_main!(benches);
