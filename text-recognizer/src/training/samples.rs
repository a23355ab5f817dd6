//! A contact sheet per validation epoch (`RUN/samples/epoch-N.png`): a few validation images
//! with their reference, what the model read, and its confidence, so a person can look at what
//! the numbers mean.

use std::path::PathBuf;

use ab_glyph::FontVec;
use burn::tensor::Device;
use image::GrayImage;

use crate::artifact::{Manifest, Provenance};
use crate::charset::Charset;
use crate::data::Loaded;
use crate::data::sheet::contact_sheet;
use crate::data::synthetic::{FontSet, Fonts};
use crate::model::{Preset, ResnetTransformer};
use crate::recognizer::Recognizer;

/// The images, their references and what is needed to read and draw them.
pub struct SampleSheets {
    samples: Vec<(GrayImage, String)>,
    manifest: Manifest,
    device: Device,
    dir: PathBuf,
    font: FontVec,
}

impl SampleSheets {
    /// The first `n` validation samples (spread over the sources). `None` when there is
    /// nothing to show or no font to write with (DejaVu/Liberation; a warning says so).
    pub fn new(
        valid: &[Loaded],
        n: usize,
        preset: &Preset,
        charset: &Charset,
        device: Device,
        dir: PathBuf,
    ) -> Option<Self> {
        if n == 0 {
            return None;
        }
        let font = match Fonts::load(FontSet::Printed) {
            Ok(mut f) if !f.fonts.is_empty() => f.fonts.swap_remove(0).1,
            Ok(_) | Err(_) => {
                tracing::warn!("no DejaVu/Liberation font: validation samples stay text only");
                return None;
            }
        };
        let per = n.div_ceil(valid.len().max(1));
        let samples: Vec<(GrayImage, String)> = valid
            .iter()
            .flat_map(|l| (0..l.len().min(per)).map(move |i| l.sample(i, i as u64)))
            .take(n)
            .collect();
        (!samples.is_empty()).then(|| SampleSheets {
            samples,
            manifest: Manifest {
                name: "training".into(),
                preset: preset.clone(),
                charset: charset.clone(),
                provenance: Provenance::default(),
            },
            device,
            dir,
            font,
        })
    }

    /// Reads the samples with `model` and writes `samples/epoch-{epoch}.png`.
    pub fn write(&self, epoch: usize, model: &ResnetTransformer) {
        let reader =
            Recognizer::from_model(model.clone(), self.manifest.clone(), self.device.clone());
        let images: Vec<GrayImage> = self.samples.iter().map(|(i, _)| i.clone()).collect();
        let rows: Vec<(GrayImage, String)> = reader
            .recognize_batch(&images)
            .into_iter()
            .zip(&self.samples)
            .map(|(r, (img, reference))| {
                (
                    img.clone(),
                    format!(
                        "REF: {reference}\nHYP: {}   (confidence {:.2})",
                        r.text, r.confidence
                    ),
                )
            })
            .collect();
        let sheet = contact_sheet(&rows, &self.font, 900);
        let path = self.dir.join(format!("epoch-{epoch}.png"));
        if let Err(e) = std::fs::create_dir_all(&self.dir).map(|_| sheet.save(&path)) {
            tracing::warn!("{}: {e}", path.display());
        }
    }
}
