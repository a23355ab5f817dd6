//! Training steps in a loop, for a profiler (BENCHMARKS.md, "Training step"):
//!
//! ```text
//! cargo build --release -p benches --example profile_train
//! RAYON_NUM_THREADS=2 perf record -F 999 target/release/examples/profile_train line 30
//! perf report --no-children --sort symbol
//! ```
//!
//! `profile_train [line|paragraph] [STEPS]` runs the shapes of `twin time` (line: B=4, 64×512,
//! 48 tokens; paragraph: B=2, 576×640, 200 tokens) and prints the median and fastest step.

use std::time::Instant;

use anyhow::{Context, Result};
use burn::prelude::*;
use text_recognizer::model::PresetName;

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let preset: PresetName = args.next().as_deref().unwrap_or("line").parse()?;
    let steps: usize = match args.next() {
        Some(s) => s
            .parse()
            .with_context(|| format!("STEPS: {s:?} is not a count"))?,
        None => 10,
    };
    let (batch, size, tokens) = match preset {
        PresetName::Line => (4, [64, 512], 48),
        PresetName::Paragraph => (2, [576, 640], 200),
    };
    let device = Device::flex().autodiff();
    device.seed(42);
    let mut bench = benches::TrainBench::new(preset, batch, size, tokens, &device);
    bench.step();
    let mut millis: Vec<f64> = (0..steps.max(1))
        .map(|_| {
            let start = Instant::now();
            bench.step();
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    millis.sort_by(f64::total_cmp);
    println!(
        "{preset:?}: median {:.1} ms, fastest {:.1} ms over {} steps",
        millis[millis.len() / 2],
        millis[0],
        millis.len()
    );
    Ok(())
}
