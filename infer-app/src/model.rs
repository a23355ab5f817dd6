//! The model `infer-app` reads with: a staged file from `--model`, or the default model built
//! into the binary (datasets/configs/default-line.ron, its report beside it).

use std::path::Path;

use anyhow::Context;
use text_recognizer::StagedModel;

/// The default staged model, embedded at build time so the binary works on its own.
static DEFAULT_MODEL: &[u8] = include_bytes!("../model/default-line.htr");

/// Loads `path`, or the embedded default when there is none.
pub fn load(path: Option<&Path>) -> anyhow::Result<StagedModel> {
    match path {
        Some(p) => Ok(StagedModel::load(p)?),
        None => StagedModel::from_bytes(DEFAULT_MODEL, Path::new("<embedded default-line.htr>"))
            .context("the embedded default model"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_embedded_model_loads() {
        let staged = super::load(None).expect("embedded model");
        assert_eq!(staged.manifest.name, "default-line");
    }
}
