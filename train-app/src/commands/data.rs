//! `train-app data download|stats|show|export`.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use image::codecs::jpeg::JpegEncoder;
use indicatif::{ProgressBar, ProgressStyle};
use text_recognizer::StagedModel;
use text_recognizer::data::download::{Recipe, download, unzip};
use text_recognizer::data::htr_united::{HtrUnitedSet, prepare};
use text_recognizer::data::iam::{Iam, IamSplit};
use text_recognizer::data::pages::PageUnit;
use text_recognizer::data::sheet::contact_sheet;
use text_recognizer::data::{
    AugmentConfig, DataSource, LoadOptions, Loaded, Skipped, default_cache_dir,
};
use text_recognizer::model::{Preset, PresetName};
use text_recognizer::training::TrainingConfig;

use crate::cli::{DataCommand, DownloadArgs, ExportArgs, ShowArgs, SourceArgs};

pub fn run(cmd: DataCommand) -> anyhow::Result<()> {
    match cmd {
        DataCommand::Download(args) => download_cmd(args),
        DataCommand::Stats(args) => stats(args),
        DataCommand::Show(args) => show(args),
        DataCommand::Export(args) => export(args),
    }
}

fn download_cmd(args: DownloadArgs) -> anyhow::Result<()> {
    let cache = args.cache_dir.clone().unwrap_or_else(default_cache_dir);
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{bytes}/{total_bytes} [{bar:30}] {bytes_per_sec} ETA {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let progress = |done, total: Option<u64>| {
        if let Some(t) = total {
            bar.set_length(t);
        }
        bar.set_position(done);
    };
    if args.name == "iam" {
        return download_iam(&args, &cache, progress, &bar);
    }
    let set = HtrUnitedSet::named(&args.name)?;
    let recipe = set.recipe(args.url.as_deref(), args.sha256.as_deref());
    println!("{}: {} at {}", set.name, set.repository, set.commit);
    let prepared = prepare(&set, &recipe, &cache, args.images.as_deref(), progress)
        .with_context(|| format!("data set {}", set.name))?;
    bar.finish_and_clear();
    if !prepared.skipped.is_empty() {
        eprintln!("{} pages or lines left out:", prepared.skipped.len());
        for s in prepared.skipped.iter().take(20) {
            eprintln!("  {}: {}", s.path.display(), s.reason);
        }
        if prepared.skipped.len() > 20 {
            eprintln!("  … and {} more", prepared.skipped.len() - 20);
        }
    }
    println!(
        "train: {} lines from {} pages in {}",
        prepared.lines.0,
        prepared.pages.0,
        prepared.train.display()
    );
    println!(
        "val:   {} lines from {} pages in {}",
        prepared.lines.1,
        prepared.pages.1,
        prepared.val.display()
    );
    println!("licence: {} — {}", set.license, set.attribution);
    anyhow::ensure!(
        prepared.lines.0 + prepared.lines.1 > 0,
        "no line could be cut from {} (see the pages left out above)",
        set.name
    );
    Ok(())
}

fn download_iam(
    args: &DownloadArgs,
    cache: &Path,
    progress: impl FnMut(u64, Option<u64>),
    bar: &ProgressBar,
) -> anyhow::Result<()> {
    let mut recipe = Recipe::iam();
    if let Some(url) = &args.url {
        recipe.url = url.clone();
    }
    if let Some(sha) = &args.sha256 {
        recipe.sha256 = Some(sha.clone());
    }
    let dir = cache.join("downloaded").join("iam");
    let zip = download(&recipe, &dir, progress)?;
    bar.finish_and_clear();
    println!(
        "verified {} (SHA-256 {})",
        zip.display(),
        recipe.sha256.as_deref().unwrap_or("-")
    );
    let iam = Iam::in_cache(cache);
    if !iam.root().join("xml").exists() {
        unzip(&zip, &dir)?;
    }
    for split in [IamSplit::Train, IamSplit::Val, IamSplit::Test] {
        let (lines, _) = iam.prepare(cache, split)?;
        println!(
            "{}: {} forms, crops in {}",
            split.name(),
            iam.split_ids(split)?.len(),
            lines.display()
        );
    }
    println!("licence: {}", recipe.license);
    Ok(())
}

/// A path becomes a line folder (or pages when it holds XML); anything else is read as RON.
fn parse_source(s: &str) -> anyhow::Result<DataSource> {
    let path = Path::new(s);
    if path.exists() {
        let has_xml = |p: &Path| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("xml"));
        let is_pages = has_xml(path)
            || (path.is_dir()
                && std::fs::read_dir(path)?
                    .flatten()
                    .any(|e| has_xml(&e.path())));
        return Ok(if is_pages {
            DataSource::Pages {
                path: path.to_path_buf(),
                unit: PageUnit::Lines,
            }
        } else {
            DataSource::LineFolder(path.to_path_buf())
        });
    }
    ron::Options::default()
        .with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME)
        .from_str(s)
        .with_context(|| format!("{s:?} is neither an existing path nor a data source in RON"))
}

fn load(args: &SourceArgs) -> anyhow::Result<(DataSource, Loaded, Vec<Skipped>)> {
    let source = parse_source(&args.source)?;
    let opts = LoadOptions {
        cache_dir: args.cache_dir.clone().unwrap_or_else(default_cache_dir),
    };
    let corpus = source.corpus(&opts)?;
    let (loaded, skipped) = source.load(&opts, corpus)?;
    Ok((source, loaded, skipped))
}

fn samples(
    loaded: &Loaded,
    limit: usize,
    seed: u64,
) -> Vec<(text_recognizer::image::GrayImage, String)> {
    let n = match loaded {
        Loaded::Fixed(..) => loaded.len(),
        _ => limit.min(loaded.len()),
    };
    (0..n)
        .map(|i| loaded.sample(i, seed.wrapping_add(i as u64)))
        .collect()
}

fn histogram(values: impl Iterator<Item = usize>, bucket: usize) -> String {
    let mut h: BTreeMap<usize, usize> = BTreeMap::new();
    for v in values {
        *h.entry(v / bucket * bucket).or_default() += 1;
    }
    let max = h.values().copied().max().unwrap_or(1);
    h.iter()
        .map(|(k, n)| {
            format!(
                "  {:>6}-{:<6} {:>6} {}",
                k,
                k + bucket - 1,
                n,
                "#".repeat((40 * n).div_ceil(max))
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn stats(args: SourceArgs) -> anyhow::Result<()> {
    let (source, loaded, skipped) = load(&args)?;
    let all = samples(&loaded, args.samples, 0);
    println!("source: {}", source.describe());
    println!("samples: {} ({} skipped)", all.len(), skipped.len());
    let mut freq: BTreeMap<char, usize> = BTreeMap::new();
    for (_, t) in &all {
        for c in t.chars() {
            *freq.entry(c).or_default() += 1;
        }
    }
    let mut by_count: Vec<(char, usize)> = freq.iter().map(|(&c, &n)| (c, n)).collect();
    by_count.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    println!("alphabet: {} characters", by_count.len());
    for row in by_count.chunks(8) {
        println!(
            "  {}",
            row.iter()
                .map(|(c, n)| format!("{c:?} {n:<7}"))
                .collect::<String>()
        );
    }
    println!(
        "image width (px):\n{}",
        histogram(all.iter().map(|(i, _)| i.width() as usize), 250)
    );
    println!(
        "image height (px):\n{}",
        histogram(all.iter().map(|(i, _)| i.height() as usize), 16)
    );
    println!(
        "text length (chars):\n{}",
        histogram(all.iter().map(|(_, t)| t.chars().count()), 10)
    );
    if let Some(model) = &args.model {
        let charset = StagedModel::load(model)?.manifest.charset;
        let outside: Vec<(char, usize)> = by_count
            .iter()
            .copied()
            .filter(|(c, _)| !charset.contains(*c))
            .collect();
        println!(
            "outside the alphabet of {}: {} characters {:?}",
            model.display(),
            outside.len(),
            outside
        );
    }
    for s in &skipped {
        eprintln!("skipped {}: {}", s.path.display(), s.reason);
    }
    Ok(())
}

fn show(args: ShowArgs) -> anyhow::Result<()> {
    let (_, loaded, skipped) = load(&args.source)?;
    let take = args.count.min(loaded.len().max(1));
    // Spread the choice over the whole source.
    let step = (loaded.len() / take.max(1)).max(1);
    let mut chosen: Vec<(text_recognizer::image::GrayImage, String)> = (0..take)
        .map(|k| loaded.sample(k * step, args.seed.wrapping_add(k as u64)))
        .collect();
    if let Some(name) = &args.preset {
        let name: PresetName = name.parse()?;
        let pre = Preset::named(name).preprocess;
        let augment = match &args.augment_of {
            Some(path) => TrainingConfig::load(path)?.augment,
            None => args.augment.then(|| match name {
                PresetName::Line => AugmentConfig::fsdl_line(),
                PresetName::Paragraph => AugmentConfig::default(),
            }),
        };
        for (k, (img, _)) in chosen.iter_mut().enumerate() {
            let mut p = pre.prepare(img);
            if let Some(a) = &augment {
                p = a.apply(&p, args.seed.wrapping_add(k as u64));
            }
            *img = p;
        }
    }
    let font = text_recognizer::data::synthetic::Fonts::load(
        text_recognizer::data::synthetic::FontSet::Printed,
    )?;
    let sheet = contact_sheet(&chosen, &font.fonts[0].1, 900);
    sheet
        .save(&args.output)
        .with_context(|| format!("writing {}", args.output.display()))?;
    println!(
        "{} samples → {} ({} skipped in the source)",
        chosen.len(),
        args.output.display(),
        skipped.len()
    );
    Ok(())
}

fn export(args: ExportArgs) -> anyhow::Result<()> {
    let (_, loaded, skipped) = load(&args.source)?;
    std::fs::create_dir_all(&args.output)
        .with_context(|| format!("creating {}", args.output.display()))?;
    let all = samples(&loaded, args.source.samples, args.seed);
    for (i, (image, text)) in all.iter().enumerate() {
        let stem = args.output.join(format!("{i:05}"));
        match args.jpeg {
            Some(quality) => {
                let path = stem.with_extension("jpg");
                let file = std::fs::File::create(&path)
                    .with_context(|| format!("writing {}", path.display()))?;
                JpegEncoder::new_with_quality(std::io::BufWriter::new(file), quality)
                    .encode_image(image)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            None => {
                let png = stem.with_extension("png");
                image
                    .save(&png)
                    .with_context(|| format!("writing {}", png.display()))?;
            }
        }
        let gt = stem.with_extension("gt.txt");
        std::fs::write(&gt, text).with_context(|| format!("writing {}", gt.display()))?;
    }
    println!(
        "{} samples → {} ({} skipped in the source)",
        all.len(),
        args.output.display(),
        skipped.len()
    );
    Ok(())
}
