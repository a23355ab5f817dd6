//! `train-app convert`: a model file with its weights at another precision.

use anyhow::Context;
use text_recognizer::StagedModel;

use crate::cli::ConvertArgs;

pub fn run(args: ConvertArgs) -> anyhow::Result<()> {
    let staged = StagedModel::load(&args.model)?;
    let converted = staged
        .with_weight_precision(args.weights)
        .with_context(|| format!("converting {}", args.model.display()))?;
    let converted = super::attach_lm(converted, &args.lm)?;
    converted.save(&args.output)?;
    println!(
        "{} → {} ({:?} weights: {:.1} MB → {:.1} MB{})",
        args.model.display(),
        args.output.display(),
        args.weights,
        staged.weights_len() as f64 / 1e6,
        converted.weights_len() as f64 / 1e6,
        converted.lm().map_or(String::new(), |lm| format!(
            "; reads with a {}-gram LM of {} n-grams, weight {}, bonus {}, beam {}",
            lm.order(),
            lm.ngrams(),
            converted.manifest.preset.decode.lm_weight,
            converted.manifest.preset.decode.lm_bonus,
            converted.manifest.preset.decode.beam
        ))
    );
    Ok(())
}
