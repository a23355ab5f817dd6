//! The inference API: load a staged model, read images.

use std::path::Path;

use burn::tensor::Device;
use image::GrayImage;

use crate::artifact::StagedModel;
use crate::charset::Charset;
use crate::decode::greedy;
use crate::error::Result;
use crate::image::{PreprocessConfig, open_image};
use crate::model::ResnetTransformer;

/// Images per forward pass in [`Recognizer::recognize_batch`] unless set otherwise.
pub const DEFAULT_BATCH_SIZE: usize = 16;

/// The text read from one image.
#[derive(Clone, Debug, PartialEq)]
pub struct Recognition {
    /// The transcription.
    pub text: String,
    /// Mean probability of the emitted tokens (see [`crate::decode`]).
    pub confidence: f32,
    /// Smallest token probability: low when one character is doubtful.
    pub min_confidence: f32,
    /// True when decoding hit the model's length limit before the end token.
    pub truncated: bool,
}

/// A loaded model, ready to read images.
#[derive(Debug)]
pub struct Recognizer {
    model: ResnetTransformer,
    charset: Charset,
    preprocess: PreprocessConfig,
    device: Device,
    manifest: crate::artifact::Manifest,
    batch_size: usize,
}

impl Recognizer {
    /// Loads a staged model file on the CPU (`flex`).
    pub fn load(path: &Path) -> Result<Self> {
        Recognizer::from_staged(StagedModel::load(path)?, Device::flex())
    }

    /// Builds a recognizer from a staged model on `device`.
    pub fn from_staged(staged: StagedModel, device: Device) -> Result<Self> {
        let model = staged.model(&device)?;
        Ok(Recognizer {
            model,
            charset: staged.manifest.charset.clone(),
            preprocess: staged.manifest.preset.preprocess.clone(),
            device,
            manifest: staged.manifest,
            batch_size: DEFAULT_BATCH_SIZE,
        })
    }

    /// Sets how many images go through the network at once.
    pub fn with_batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size.max(1);
        self
    }

    /// The model's description.
    pub fn manifest(&self) -> &crate::artifact::Manifest {
        &self.manifest
    }

    /// Reads one image.
    pub fn recognize(&self, image: &GrayImage) -> Recognition {
        self.recognize_batch(std::slice::from_ref(image))
            .pop()
            .unwrap_or_else(|| unreachable!("one image in, one recognition out"))
    }

    /// Opens and reads an image file.
    pub fn recognize_file(&self, path: &Path) -> Result<Recognition> {
        Ok(self.recognize(&open_image(path)?))
    }

    /// Reads several images, batching those of similar width; results keep the input order.
    pub fn recognize_batch(&self, images: &[GrayImage]) -> Vec<Recognition> {
        let prepared: Vec<GrayImage> = images.iter().map(|i| self.preprocess.prepare(i)).collect();
        let mut order: Vec<usize> = (0..prepared.len()).collect();
        // Similar widths together: less padding, and padding is what batching could change.
        order.sort_by_key(|&i| prepared[i].width());
        let mut out: Vec<Option<Recognition>> = vec![None; prepared.len()];
        for chunk in order.chunks(self.batch_size) {
            let batch: Vec<&GrayImage> = chunk.iter().map(|&i| &prepared[i]).collect();
            let input = self.preprocess.batch_tensor(&batch, &self.device);
            let memory = self.model.encode(input);
            for (&i, d) in
                chunk
                    .iter()
                    .zip(greedy(&self.model, memory, self.model.max_output_len()))
            {
                out[i] = Some(Recognition {
                    text: self.charset.decode(&d.tokens),
                    confidence: d.confidence,
                    min_confidence: d.min_confidence,
                    truncated: !d.finished,
                });
            }
        }
        out.into_iter().flatten().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifact::tests::random_line_model;
    use image::Luma;

    #[test]
    fn odd_images_do_not_panic_and_batches_keep_order() {
        let recognizer = Recognizer::from_staged(random_line_model(), Device::flex())
            .expect("loads")
            .with_batch_size(2);
        let images = vec![
            GrayImage::from_pixel(1, 1, Luma([0])),
            GrayImage::from_pixel(5000, 3, Luma([255])),
            GrayImage::from_pixel(3, 900, Luma([128])),
            GrayImage::from_pixel(200, 64, Luma([30])),
        ];
        let batch = recognizer.recognize_batch(&images);
        assert_eq!(batch.len(), 4);
        for r in &batch {
            assert!((0.0..=1.0).contains(&r.confidence));
            assert!(r.min_confidence <= r.confidence + 1e-6);
        }
        assert_eq!(recognizer.recognize(&images[3]).text, batch[3].text);
    }
}
