//! The inference API: load a staged model, read images.

use std::path::Path;

use burn::tensor::Device;
use image::GrayImage;

use crate::artifact::StagedModel;
use crate::charset::Charset;
use crate::decode::greedy;
use crate::error::Result;
use crate::image::{PreprocessConfig, open_image};
use crate::layout::{LayoutMode, LineBox, PagePlan, plan_page};
use crate::model::ResnetTransformer;
use crate::model::cpu::in_pool;
use rayon::prelude::*;

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

/// One line of a page: its box (when the page was segmented) and what was read.
#[derive(Clone, Debug, PartialEq)]
pub struct LineText {
    /// Where the line is; `None` when the whole image was read as one unit.
    pub bbox: Option<LineBox>,
    /// What was read.
    pub recognition: Recognition,
}

/// The text of one input image, line by line, top to bottom.
#[derive(Clone, Debug, PartialEq)]
pub struct PageText {
    /// Image width in pixels.
    pub width: u32,
    /// Image height in pixels.
    pub height: u32,
    /// Lines read.
    pub lines: Vec<LineText>,
}

impl PageText {
    /// The lines joined with newlines.
    pub fn text(&self) -> String {
        let lines: Vec<&str> = self
            .lines
            .iter()
            .map(|l| l.recognition.text.as_str())
            .collect();
        lines.join("\n")
    }

    /// Mean line confidence, weighted by characters read (1.0 for a page with no lines).
    pub fn confidence(&self) -> f32 {
        let weight = |l: &LineText| l.recognition.text.chars().count().max(1) as f32;
        let total: f32 = self.lines.iter().map(weight).sum();
        if total == 0.0 {
            return 1.0;
        }
        self.lines
            .iter()
            .map(|l| weight(l) * l.recognition.confidence)
            .sum::<f32>()
            / total
    }
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

    /// The model's preprocessing (line or paragraph input).
    pub fn preprocess(&self) -> &PreprocessConfig {
        &self.preprocess
    }

    /// Splits an image into what this model reads (see [`plan_page`]).
    pub fn plan(&self, image: GrayImage, mode: LayoutMode) -> PagePlan {
        plan_page(image, mode, &self.preprocess.layout)
    }

    /// Reads one image as a line, paragraph or page.
    pub fn read_page(&self, image: GrayImage, mode: LayoutMode) -> PageText {
        self.read_plans(vec![self.plan(image, mode)])
            .pop()
            .unwrap_or_else(|| unreachable!("one plan in, one page out"))
    }

    /// Reads planned pages, batching the lines of all of them together.
    pub fn read_plans(&self, plans: Vec<PagePlan>) -> Vec<PageText> {
        let mut images = Vec::new();
        let mut shapes = Vec::with_capacity(plans.len());
        for plan in plans {
            let mut boxes = Vec::with_capacity(plan.lines.len());
            for line in plan.lines {
                boxes.push(line.bbox);
                images.push(line.image);
            }
            shapes.push((plan.width, plan.height, boxes));
        }
        let mut read = self.recognize_batch(&images).into_iter();
        shapes
            .into_iter()
            .map(|(width, height, boxes)| PageText {
                width,
                height,
                lines: boxes
                    .into_iter()
                    .zip(read.by_ref())
                    .map(|(bbox, recognition)| LineText { bbox, recognition })
                    .collect(),
            })
            .collect()
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
        // On a rayon worker: each of the decoder's many small operations would otherwise be
        // injected into the pool from outside (`in_pool`).
        in_pool(|| self.recognize_batch_here(images))
    }

    fn recognize_batch_here(&self, images: &[GrayImage]) -> Vec<Recognition> {
        // Resizing is per image and CPU-bound: spread it over the cores.
        let prepared: Vec<GrayImage> = images
            .par_iter()
            .map(|i| self.preprocess.prepare(i))
            .collect();
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
        // Padding changes a batch's numbers (no memory mask), so order is checked where no
        // padding happens: one image per pass, in a shuffled order.
        let single = recognizer.with_batch_size(1);
        let one_by_one = single.recognize_batch(&images);
        for (i, image) in images.iter().enumerate().rev() {
            assert_eq!(single.recognize(image), one_by_one[i], "image {i}");
        }
    }

    #[test]
    fn pages_are_split_and_put_back_together() {
        let recognizer =
            Recognizer::from_staged(random_line_model(), Device::flex()).expect("loads");
        let mut page = GrayImage::from_pixel(300, 200, Luma([250]));
        for (top, bottom) in [(30, 50), (120, 140)] {
            // Pen strokes, not solid blocks: the segmenter thresholds against the neighbourhood.
            for x in (20..280).filter(|x| x % 6 < 2) {
                for y in top..bottom {
                    page.put_pixel(x, y, Luma([10]));
                }
            }
        }
        let read = recognizer.read_page(page.clone(), LayoutMode::Auto);
        assert_eq!(read.lines.len(), 2);
        assert!(read.lines.iter().all(|l| l.bbox.is_some()));
        assert_eq!((read.width, read.height), (300, 200));
        let whole = recognizer.read_page(page, LayoutMode::Line);
        assert_eq!(whole.lines.len(), 1);
        assert_eq!(whole.lines[0].bbox, None);
    }
}
