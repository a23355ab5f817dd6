//! `train-app lm`: character n-gram models from transcriptions, and their bits per character.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use text_recognizer::StagedModel;
use text_recognizer::data::Conventions;
use text_recognizer::lm::{CharLm, corpus_lines};

use crate::cli::{LmBuildArgs, LmCommand, LmEvalArgs, LmTextArgs};

pub fn run(cmd: LmCommand) -> anyhow::Result<()> {
    match cmd {
        LmCommand::Build(args) => build(args),
        LmCommand::Eval(args) => eval(args),
    }
}

fn build(args: LmBuildArgs) -> anyhow::Result<()> {
    let lines = read(&args.text, &args.rewrite)?;
    let started = Instant::now();
    let lm = CharLm::build_pruned(
        lines.iter().map(String::as_str),
        args.order,
        args.smoothing,
        args.min_count,
    )?;
    lm.save(&args.output)?;
    println!(
        "{}: {}-gram {:?} from {} lines ({} characters, {} distinct): {} n-grams, {:.1} MB, {:.1} s",
        args.output.display(),
        lm.order(),
        lm.smoothing(),
        lines.len(),
        lines.iter().map(|l| l.chars().count()).sum::<usize>(),
        lm.chars().len(),
        lm.ngrams(),
        lm.to_bytes().len() as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    println!(
        "bits per character on its own text: {:.3}",
        lm.bits_per_char(lines.iter().map(String::as_str))
    );
    if !args.held_out.is_empty() {
        let held = read(&args.held_out, &args.rewrite)?;
        println!(
            "bits per character on the held-out text ({} lines): {:.3}",
            held.len(),
            lm.bits_per_char(held.iter().map(String::as_str))
        );
    }
    Ok(())
}

fn eval(args: LmEvalArgs) -> anyhow::Result<()> {
    let lm = CharLm::load(&args.lm)?;
    let lines = read(&args.text, &args.rewrite)?;
    println!(
        "{}: {:.3} bits per character on {} lines",
        args.lm.display(),
        lm.bits_per_char(lines.iter().map(String::as_str)),
        lines.len()
    );
    Ok(())
}

/// The normalised lines of `paths`, rewritten as `rewrite` says.
fn read(paths: &[PathBuf], rewrite: &LmTextArgs) -> anyhow::Result<Vec<String>> {
    let map = rewrite
        .map
        .iter()
        .map(|m| {
            let (from, to) = m
                .split_once('=')
                .with_context(|| format!("--map {m:?}: write FROM=TO"))?;
            let mut chars = from.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => Ok((c, to.to_string())),
                _ => anyhow::bail!("--map {m:?}: FROM must be one character"),
            }
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let conventions = Conventions {
        drop: rewrite.drop.clone(),
        map,
        skip_lines_with: rewrite.skip_lines_with.clone(),
    };
    let alphabet = match &rewrite.alphabet_of {
        Some(model) => Some(StagedModel::load(model)?.manifest.charset),
        None => None,
    };
    let (lines, left_out) = corpus_lines(paths, &conventions, alphabet.as_ref())?;
    if left_out > 0 {
        eprintln!("note: {left_out} lines left out (the conventions, or nothing left)");
    }
    anyhow::ensure!(!lines.is_empty(), "no text in {paths:?}");
    Ok(lines)
}
