//! `train-app stage`.

use std::path::PathBuf;

use text_recognizer::StagedModel;

use crate::cli::StageArgs;

pub fn run(args: StageArgs) -> anyhow::Result<()> {
    let staged = StagedModel::from_run(&args.run_dir, &args.name)?;
    let output = args
        .output
        .unwrap_or_else(|| PathBuf::from("staged").join(format!("{}.htr", args.name)));
    staged.save(&output)?;
    let p = &staged.manifest.provenance;
    println!(
        "staged {} from epoch {} (valid CER {}) → {} ({:.1} MB of weights)",
        args.name,
        p.epoch,
        p.valid_cer.map_or("-".into(), |c| format!("{c:.2} %")),
        output.display(),
        staged.weights_len() as f64 / 1e6
    );
    Ok(())
}
