//! The model `infer-app` reads with: a staged file from `--model`, or the library's built-in
//! default model (datasets/configs/campaign.ron; report: datasets/configs/default-line.report.md).

use std::sync::Arc;

use anyhow::Context;
use text_recognizer::lm::CharLm;
use text_recognizer::{ModelRef, Recognizer, Registry, StagedModel};

use crate::cli::LmArgs;

/// Loads the model `model` names (a file, or a registry entry: in MLflow's registry when a
/// tracking URI is given, else in the local one), or the embedded default.
pub fn load(
    model: Option<&ModelRef>,
    registry: &Registry,
    mlflow: Option<&str>,
) -> anyhow::Result<StagedModel> {
    match model {
        Some(ModelRef::Registry { name, selector }) if let Some(uri) = mlflow => {
            let cache = text_recognizer::data::default_cache_dir();
            let path = text_recognizer::mlflow::fetch_model(uri, name, selector, &cache)?;
            StagedModel::load(&path).with_context(|| format!("model {name} from MLflow"))
        }
        Some(m) => {
            let path = m.path(registry)?;
            StagedModel::load(&path).with_context(|| format!("model {m}"))
        }
        None => StagedModel::default_model().context("the built-in default model"),
    }
}

/// A recognizer as every command sets it up: the model `model` names, on `--device`, with
/// `batch_size` images per forward pass, `beam` beams (`None`: the model's own) and the
/// character LM `lm` says, and the model's version for logs (the first 12 hex digits of its
/// file's SHA-256).
pub fn recognizer(
    model: Option<&ModelRef>,
    global: &crate::cli::GlobalArgs,
    batch_size: usize,
    beam: Option<usize>,
    lm: &LmArgs,
) -> anyhow::Result<(Recognizer, String)> {
    let staged = load_with(model, global)?;
    let version = crate::monitor::store::sha256_hex(&staged.to_bytes()?)[..12].to_string();
    let mut recognizer =
        Recognizer::from_staged(staged, global.device.device()?)?.with_batch_size(batch_size);
    if lm.no_lm {
        recognizer = recognizer.with_lm(None);
    } else if let Some(path) = &lm.lm {
        let char_lm = CharLm::load(path)?;
        recognizer = recognizer.with_lm(Some(Arc::new(char_lm)));
    }
    if lm.lm_weight.is_some() || lm.lm_bonus.is_some() {
        let d = recognizer.decode_config();
        let (w, b) = (
            lm.lm_weight.unwrap_or(d.lm_weight),
            lm.lm_bonus.unwrap_or(d.lm_bonus),
        );
        recognizer = recognizer.with_lm_weights(w, b);
    }
    match beam {
        Some(beam) => {
            if beam < 2 && recognizer.lm().is_some() {
                eprintln!("note: --beam {beam} reads greedily, without the LM");
            }
            recognizer = recognizer.with_beam(beam);
        }
        // An LM named on the command line is for beam search: give it beams.
        None if lm.lm.is_some() && recognizer.decode_config().beam < 2 => {
            recognizer = recognizer.with_beam(4);
        }
        None => {}
    }
    Ok((recognizer, version))
}

/// [`load`] with the registry and tracking server the global options name.
pub fn load_with(
    model: Option<&ModelRef>,
    global: &crate::cli::GlobalArgs,
) -> anyhow::Result<StagedModel> {
    load(model, &global.registry(), global.tracking_uri.as_deref())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use burn::tensor::Device;
    use text_recognizer::data::LineFolder;
    use text_recognizer::image::{GrayImage, open_image};
    use text_recognizer::metrics::{ErrorCount, char_errors};
    use text_recognizer::{Recognizer, Registry};

    /// Validation lines (writers no model here trained on), of very different widths.
    fn val_lines() -> (Vec<GrayImage>, Vec<String>) {
        let dir =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../datasets/fixtures/testaments-val-mini");
        let (samples, skipped) = LineFolder::new(&dir).scan().expect("fixture folder");
        assert!(skipped.is_empty() && samples.len() == 24, "{skipped:?}");
        samples
            .into_iter()
            .map(|s| (open_image(&s.image).expect("fixture image"), s.text))
            .unzip()
    }

    fn recognizer(batch: usize) -> Recognizer {
        let staged = super::load(None, &Registry::open("unused"), None).expect("embedded model");
        Recognizer::from_staged(staged, Device::flex())
            .expect("loads")
            .with_batch_size(batch)
    }

    #[test]
    fn the_embedded_model_loads() {
        let staged = super::load(None, &Registry::open("unused"), None).expect("embedded model");
        assert_eq!(staged.manifest.name, "default-line");
    }

    /// The shipped model must read real lines it never saw: a broken or mis-staged model
    /// (wrong alphabet, wrong preprocessing, random weights) reads them at 90-100 % CER.
    #[test]
    fn the_shipped_model_reads_unseen_lines_the_same_in_any_batch() {
        let (images, refs) = val_lines();
        let texts: Vec<Vec<String>> = [1, 7, 32]
            .into_iter()
            .map(|b| {
                recognizer(b)
                    .recognize_batch(&images)
                    .into_iter()
                    .map(|r| r.text)
                    .collect()
            })
            .collect();
        assert_eq!(texts[0], texts[1], "batch 1 and 7 differ");
        assert_eq!(texts[0], texts[2], "batch 1 and 32 differ");
        let errors = texts[0]
            .iter()
            .zip(&refs)
            .fold(ErrorCount::default(), |acc, (h, r)| acc + char_errors(h, r));
        let cer = 100.0 * errors.rate();
        // The embedded model reads them at 26.9 % (`infer-app eval` on the fixture folder: CTC
        // prefix beams with its LM; the attention model it replaced, 42.7 %). A model that
        // replaces it must do at least about as well.
        assert!(cer < 30.0, "CER {cer:.1} % on 24 unseen lines");
    }

    #[test]
    fn blank_images_read_as_nothing() {
        let r = recognizer(4);
        let images = [
            GrayImage::from_pixel(600, 64, image::Luma([255])),
            GrayImage::from_pixel(1, 1, image::Luma([255])),
            GrayImage::from_pixel(300, 40, image::Luma([0])),
        ];
        for (i, read) in r.recognize_batch(&images).iter().enumerate() {
            assert!(read.blank && read.text.is_empty(), "image {i}: {read:?}");
        }
    }
}
