//! The inference API: load a staged model, read images.

use std::path::Path;
use std::sync::Arc;

use burn::tensor::Device;
use image::GrayImage;

use crate::artifact::StagedModel;
use crate::charset::Charset;
use crate::decode::{Bounds, DecodeConfig, TokenLm, beam_search};
use crate::error::Result;
use crate::image::ink::is_blank;
use crate::image::{Layout, PreprocessConfig, open_image};
use crate::layout::{LayoutMode, LineBox, PagePlan, plan_page};
use crate::lm::CharLm;
use crate::model::ResnetTransformer;
use crate::model::cpu::in_pool;
use rayon::prelude::*;

/// Smallest padded width of a line for models without a padding mask.
const LEGACY_MIN_BUCKET: usize = 256;

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
    /// The probability of each character of `text`, in order (empty for blank images).
    pub char_confidences: Vec<f32>,
    /// True when decoding stopped before the end token: the line's length limit, or a
    /// repetition loop that was cut.
    pub truncated: bool,
    /// True when the image held no ink (see [`crate::image::ink`]): the text is empty and not
    /// decoded, and the confidence is 1.
    pub blank: bool,
}

impl Recognition {
    /// What an image without ink reads as.
    pub fn blank() -> Self {
        Recognition {
            text: String::new(),
            confidence: 1.0,
            min_confidence: 1.0,
            char_confidences: Vec::new(),
            truncated: false,
            blank: true,
        }
    }
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
    decode: DecodeConfig,
    device: Device,
    manifest: crate::artifact::Manifest,
    batch_size: usize,
    /// Tokens that may repeat alone without being a loop: leaders and spaces.
    repeatable: Vec<usize>,
}

impl Recognizer {
    /// Loads a staged model file on the CPU (`flex`).
    pub fn load(path: &Path) -> Result<Self> {
        Recognizer::from_staged(StagedModel::load(path)?, Device::flex())
    }

    /// The default line model built into the library (feature `default-model`), on the CPU:
    ///
    /// ```no_run
    /// # fn main() -> text_recognizer::Result<()> {
    /// let recognizer = text_recognizer::Recognizer::default_model()?;
    /// let reading = recognizer.recognize_file("line.png".as_ref())?;
    /// println!("{}", reading.text);
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "default-model")]
    pub fn default_model() -> Result<Self> {
        Recognizer::from_staged(StagedModel::default_model()?, Device::flex())
    }

    /// Builds a recognizer from a staged model on `device`.
    pub fn from_staged(staged: StagedModel, device: Device) -> Result<Self> {
        let model = staged.model(&device)?;
        let lm = staged.lm().cloned();
        Ok(Recognizer::from_model(model, staged.manifest, device).with_lm(lm))
    }

    /// Wraps a network already in memory (e.g. during training) with what its manifest says
    /// about its alphabet, preprocessing and decoding.
    pub fn from_model(
        model: ResnetTransformer,
        manifest: crate::artifact::Manifest,
        device: Device,
    ) -> Self {
        let staged = StagedModel::manifest_only(manifest);
        let charset = staged.manifest.charset.clone();
        let repeatable = ['.', '-', '_', ' ', '…', '·', '=', '~']
            .into_iter()
            .filter_map(|c| charset.id(c))
            .collect();
        Recognizer {
            model,
            charset,
            preprocess: staged.manifest.preset.preprocess.clone(),
            decode: staged.manifest.preset.decode.clone(),
            device,
            manifest: staged.manifest,
            batch_size: DEFAULT_BATCH_SIZE,
            repeatable,
        }
    }

    /// Sets how many images go through the network at once.
    pub fn with_batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size.max(1);
        self
    }

    /// Sets the beam width (1: greedy), overriding the model's own.
    pub fn with_beam(mut self, beam: usize) -> Self {
        self.decode.beam = beam.max(1);
        self
    }

    /// Reads with the character LM `lm` in beam search (`None`: without one), replacing the
    /// model file's own. Greedy reading ignores the LM: give it a beam of 2 or more.
    pub fn with_lm(mut self, lm: Option<Arc<CharLm>>) -> Self {
        self.decode.lm = lm.map(|lm| Arc::new(TokenLm::new(lm, &self.charset)));
        self
    }

    /// Sets the LM's weight and per-character bonus in beam search.
    pub fn with_lm_weights(mut self, weight: f32, bonus: f32) -> Self {
        self.decode.lm_weight = weight;
        self.decode.lm_bonus = bonus;
        self
    }

    /// The character LM it reads with, if any.
    pub fn lm(&self) -> Option<&CharLm> {
        self.decode.lm.as_deref().map(TokenLm::lm)
    }

    /// Whether the model reads by CTC alone (no attention decoder).
    pub fn is_ctc_only(&self) -> bool {
        self.model.is_ctc_only()
    }

    /// The decoding settings in use.
    pub fn decode_config(&self) -> &DecodeConfig {
        &self.decode
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
        let prepared: Vec<(GrayImage, bool)> = images
            .par_iter()
            .map(|i| {
                let p = self.preprocess.prepare(i);
                let blank = is_blank(&p);
                (p, blank)
            })
            .collect();
        let mut out: Vec<Recognition> = vec![Recognition::blank(); prepared.len()];
        let mut order: Vec<usize> = (0..prepared.len()).filter(|&i| !prepared[i].1).collect();
        // Similar widths together: less padding, so less wasted work. Batches never mix
        // padding buckets (see `padded_width`).
        let bucket = |i: usize| self.padded_width(prepared[i].0.width() as usize);
        order.sort_by_key(|&i| (bucket(i), prepared[i].0.width()));
        for group in order.chunk_by(|&a, &b| bucket(a) == bucket(b)) {
            for chunk in group.chunks(self.batch_size) {
                let batch: Vec<&GrayImage> = chunk.iter().map(|&i| &prepared[i].0).collect();
                let width = bucket(chunk[0]);
                for (&i, recognition) in chunk.iter().zip(self.read_prepared(&batch, width)) {
                    out[i] = recognition;
                }
            }
        }
        out
    }

    /// Width a line of `width` pixels is padded to. With a padding mask, padding is invisible
    /// and batches pad to their widest line. A model trained without the mask reads
    /// differently with more or less padding in view, so each line gets a fixed amount: its
    /// width rounded up to the next power-of-two bucket (at least 256 px, at most the model's
    /// widest), and batches hold lines of one bucket only, so a line reads the same in any
    /// batch.
    fn padded_width(&self, width: usize) -> usize {
        if self.model.padding_mask() {
            return 0;
        }
        let widest = self.preprocess.max_width();
        width
            .max(LEGACY_MIN_BUCKET)
            .next_power_of_two()
            .min(widest.max(width))
    }

    /// One forward pass and decoding over prepared images padded to at least `width`.
    fn read_prepared(&self, batch: &[&GrayImage], width: usize) -> Vec<Recognition> {
        let widths: Vec<usize> = batch.iter().map(|p| p.width() as usize).collect();
        let input = self
            .preprocess
            .batch_tensor_at_least(batch, width, &self.device);
        let memory = self.model.encode_padded(input, &widths);
        let max_len = self.model.max_output_len();
        let limits = match self.preprocess.layout {
            Layout::Line { height, .. } => widths
                .iter()
                .map(|&w| self.decode.line_limit(w, height as usize, max_len))
                .collect(),
            Layout::Paragraph { .. } => vec![max_len; batch.len()],
        };
        let mut bounds = Bounds::new(limits);
        if self.decode.cut_loops {
            bounds = bounds.cutting_loops(self.repeatable.clone());
        }
        beam_search(&self.model, memory, &bounds, &self.decode)
            .into_iter()
            .map(|d| {
                let (text, char_confidences) =
                    self.charset.decode_scored(&d.tokens, &d.token_confidences);
                Recognition {
                    text,
                    confidence: d.confidence,
                    min_confidence: d.min_confidence,
                    char_confidences,
                    truncated: !d.finished(),
                    blank: false,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifact::tests::{random_ctc_line_model, random_line_model};
    use image::Luma;

    #[test]
    fn odd_images_do_not_panic_and_batches_keep_order() {
        for model in [random_line_model(), random_ctc_line_model()] {
            odd_images_read_in_order(model);
        }
    }

    fn odd_images_read_in_order(model: crate::StagedModel) {
        let recognizer = Recognizer::from_staged(model, Device::flex())
            .expect("loads")
            .with_batch_size(2);
        // Pen strokes (every 7th column dark) across the middle half of light paper, of any size.
        let strokes = |w, h| {
            GrayImage::from_fn(w, h, |x, y| {
                let core = (h / 4..h - h / 4).contains(&y);
                Luma([if core && x % 7 < 2 { 20 } else { 235 }])
            })
        };
        let images = vec![
            GrayImage::from_pixel(1, 1, Luma([0])),
            strokes(5000, 3),
            GrayImage::from_pixel(3, 900, Luma([128])),
            strokes(200, 64),
            strokes(900, 40),
            strokes(31, 64),
        ];
        let batch = recognizer.recognize_batch(&images);
        assert_eq!(batch.len(), 6);
        for r in &batch {
            assert!((0.0..=1.0).contains(&r.confidence));
            assert!(r.min_confidence <= r.confidence + 1e-6);
            assert_eq!(r.char_confidences.len(), r.text.chars().count());
            assert!(r.char_confidences.iter().all(|&p| p >= r.min_confidence));
        }
        // Blank images read as nothing without decoding; the others are decoded.
        assert!(batch[0].blank && batch[2].blank && batch[0].text.is_empty());
        assert!(batch[3..].iter().all(|r| !r.blank));
        // The line preset masks padding: one by one, the same as batched, in any order.
        let single = recognizer.with_batch_size(1);
        let one_by_one = single.recognize_batch(&images);
        for (i, image) in images.iter().enumerate().rev() {
            assert_eq!(single.recognize(image), one_by_one[i], "image {i}");
            assert_eq!(batch[i].text, one_by_one[i].text, "image {i}");
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
