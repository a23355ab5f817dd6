//! `train-app check-device`: the `--device` against the CPU on a few real lines, before a GPU
//! run is trusted (a wrong kernel trains quietly to nonsense).

use anyhow::Context;
use text_recognizer::StagedModel;
use text_recognizer::image::open_image;
use text_recognizer::training::check_device;

use crate::cli::{CheckDeviceArgs, GlobalArgs};

pub fn run(args: CheckDeviceArgs, global: &GlobalArgs) -> anyhow::Result<()> {
    let staged = StagedModel::load(&args.model)?;
    let prep = &staged.manifest.preset.preprocess;
    let mut paths: Vec<_> = std::fs::read_dir(&args.lines)
        .with_context(|| format!("reading {}", args.lines.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .and_then(|x| x.to_str())
                .is_some_and(|x| ["jpg", "jpeg", "png", "tif", "tiff"].contains(&x))
        })
        .collect();
    paths.sort();
    paths.truncate(args.batch.max(1));
    anyhow::ensure!(
        !paths.is_empty(),
        "{}: no line images (.jpg, .png, .tif)",
        args.lines.display()
    );
    let (lines, texts): (Vec<_>, Vec<_>) = paths
        .iter()
        .map(|p| {
            let gt = p.with_extension("gt.txt");
            let text = std::fs::read_to_string(&gt)
                .with_context(|| format!("{}: the line's transcription", gt.display()))?;
            Ok((prep.prepare(&open_image(p)?), text.trim().to_string()))
        })
        .collect::<anyhow::Result<Vec<_>>>()?
        .into_iter()
        .unzip();
    let device = global.device.device()?;
    let check = check_device(&staged, &lines, &texts, &device, &global.device.to_string())?;
    let mut json = serde_json::to_value(&check)?;
    json["tolerance"] = args.tolerance.into();
    let pass = check.within(args.tolerance as f32);
    json["pass"] = pass.into();
    println!("{json}");
    anyhow::ensure!(
        pass,
        "{} disagrees with flex beyond {} (relative)",
        global.device,
        args.tolerance
    );
    Ok(())
}
