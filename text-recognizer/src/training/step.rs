//! burn's `TrainStep` / `InferenceStep` for the model: teacher-forced cross-entropy for
//! training; the same loss plus free-running greedy decoding for validation, so validation CER
//! is the CER a user gets (not the optimistic teacher-forced one).

use std::sync::Arc;

use burn::nn::loss::{CTCLossConfig, CrossEntropyLossConfig};
use burn::prelude::*;
use burn::tensor::TensorData;
use burn::tensor::activation::log_softmax;
use burn::train::metric::{Adaptor, ItemLazy, LossInput};
use burn::train::{InferenceStep, TrainOutput, TrainStep};
use burn_std::ExecutionError;

use crate::charset::{BLANK, PAD};
use crate::data::HtrBatch;
use crate::decode::{Bounds, greedy_any};
use crate::model::cpu::in_pool;
use crate::model::{Memory, ResnetTransformer};

/// What a step hands to the metrics.
pub struct HtrOutput {
    /// Mean cross-entropy over non-pad target tokens.
    pub loss: Tensor<1>,
    /// Greedy-decoded ids (validation only; empty in training).
    pub hypotheses: Arc<Vec<Vec<usize>>>,
    /// Reference ids, without `<S>`, `<E>` and padding.
    pub references: Arc<Vec<Vec<usize>>>,
}

/// Hypotheses and references as token ids; text metrics decode them with their charset.
pub struct TokenPairs {
    /// Greedy-decoded ids.
    pub hypotheses: Arc<Vec<Vec<usize>>>,
    /// Reference ids.
    pub references: Arc<Vec<Vec<usize>>>,
}

impl ItemLazy for HtrOutput {
    fn sync(self) -> Result<Self, ExecutionError> {
        self.loss.device().flush()?;
        Ok(HtrOutput {
            loss: self.loss.without_autodiff(),
            ..self
        })
    }
}

impl Adaptor<LossInput> for HtrOutput {
    fn adapt(&self) -> LossInput {
        LossInput::new(self.loss.clone())
    }
}

impl Adaptor<TokenPairs> for HtrOutput {
    fn adapt(&self) -> TokenPairs {
        TokenPairs {
            hypotheses: self.hypotheses.clone(),
            references: self.references.clone(),
        }
    }
}

/// The CTC loss of the model's CTC head against `targets` (token ids, no `<S>`/`<E>`): each
/// line's loss over its length (over its frames for an empty line, whose loss sums a blank
/// over every frame and would otherwise swamp the rest), averaged over the lines that CTC can
/// align (a line needs a frame per character plus one between repeated characters; others get
/// weight 0). `None` without a CTC head.
pub fn ctc_loss(
    model: &ResnetTransformer,
    memory: &Memory,
    targets: &[Vec<usize>],
) -> Option<Tensor<1>> {
    let logits = model.ctc_logits(memory)?;
    let [b, t, _] = logits.dims();
    let device = logits.device();
    let frames = model.ctc_valid_frames(memory, t);
    let needed = |ids: &[usize]| ids.len() + ids.windows(2).filter(|w| w[0] == w[1]).count();
    let feasible: Vec<bool> = targets
        .iter()
        .zip(&frames)
        .map(|(ids, &f)| needed(ids) <= f)
        .collect();
    let usable = feasible.iter().filter(|&&f| f).count();
    if usable == 0 {
        return None;
    }
    let longest = targets.iter().map(Vec::len).max().unwrap_or(0).max(1);
    let mut padded = vec![PAD as i64; b * longest];
    let mut lengths = Vec::with_capacity(b);
    let mut weights = Vec::with_capacity(b);
    for (row, ((ids, &f), &ok)) in targets.iter().zip(&frames).zip(&feasible).enumerate() {
        // An unusable line still goes through (weight 0) with a length CTC accepts.
        let n = if ok { ids.len() } else { ids.len().min(f / 2) };
        for (k, &id) in ids.iter().take(n).enumerate() {
            padded[row * longest + k] = id as i64;
        }
        lengths.push(n as i64);
        let per = if ids.is_empty() { f.max(1) } else { ids.len() };
        weights.push(if ok { 1.0 / (per * usable) as f32 } else { 0.0 });
    }
    let int = |v: Vec<i64>, shape: Vec<usize>| {
        Tensor::<1, Int>::from_data(TensorData::new(v, shape), &device)
    };
    let log_probs = log_softmax(logits, 2).swap_dims(0, 1); // [T, B, V]
    let per_line = CTCLossConfig::new()
        .with_blank(BLANK)
        .with_zero_infinity(true)
        .init()
        .forward(
            log_probs,
            Tensor::<2, Int>::from_data(TensorData::new(padded, [b, longest]), &device),
            int(frames.iter().map(|&f| f as i64).collect(), vec![b]),
            int(lengths, vec![b]),
        );
    let weights = Tensor::<1>::from_data(TensorData::new(weights, [b]), &device);
    Some((per_line * weights).sum())
}

/// The training loss of a batch: CTC alone for a CTC-only model, otherwise the decoder's
/// teacher-forced cross-entropy mixed with the CTC loss by the model's CTC weight.
pub fn batch_loss(model: &ResnetTransformer, batch: HtrBatch) -> (Tensor<1>, Memory) {
    let memory = model.encode_padded(batch.images, &batch.widths);
    if model.is_ctc_only() {
        let loss = ctc_loss(model, &memory, &batch.target_ids).unwrap_or_else(|| {
            // No line of the batch fits its frames: a zero loss that still reaches the weights.
            model
                .ctc_logits(&memory)
                .map_or_else(|| memory.features.clone().sum(), |l| l.sum())
                * 0.0
        });
        return (loss, memory);
    }
    let logits = model.decode(memory.clone(), batch.inputs);
    let loss = hybrid_loss(model, &memory, logits, batch.targets, &batch.target_ids);
    (loss, memory)
}

/// The training loss: cross-entropy, mixed with the CTC loss by the model's CTC weight.
pub fn hybrid_loss(
    model: &ResnetTransformer,
    memory: &Memory,
    logits: Tensor<3>,
    targets: Tensor<2, Int>,
    target_ids: &[Vec<usize>],
) -> Tensor<1> {
    let ce = sequence_loss(logits, targets);
    let w = model.ctc_weight();
    match (w > 0.0)
        .then(|| ctc_loss(model, memory, target_ids))
        .flatten()
    {
        Some(ctc) => ce * (1.0 - w) + ctc * w,
        None => ce,
    }
}

/// Cross-entropy over `[B, T, V]` logits, ignoring `<P>` targets (FSDL: plain CE, no smoothing).
pub fn sequence_loss(logits: Tensor<3>, targets: Tensor<2, Int>) -> Tensor<1> {
    let [b, t, v] = logits.dims();
    let loss = CrossEntropyLossConfig::new()
        .with_pad_tokens(Some(vec![PAD]))
        .init(&logits.device());
    loss.forward(logits.reshape([b * t, v]), targets.reshape([b * t]))
}

impl TrainStep for ResnetTransformer {
    type Input = HtrBatch;
    type Output = HtrOutput;

    fn step(&self, batch: HtrBatch) -> TrainOutput<HtrOutput> {
        // Forward and backward on a rayon worker: on the CPU that saves two context switches
        // per tensor operation (`in_pool`).
        in_pool(|| {
            let references = Arc::new(batch.target_ids.clone());
            let (loss, _) = batch_loss(self, batch);
            let grads = loss.backward();
            TrainOutput::new(
                self,
                grads,
                HtrOutput {
                    loss,
                    hypotheses: Arc::default(),
                    references,
                },
            )
        })
    }
}

impl InferenceStep for ResnetTransformer {
    type Input = HtrBatch;
    type Output = HtrOutput;

    fn step(&self, batch: HtrBatch) -> HtrOutput {
        in_pool(|| self.validate(batch))
    }
}

impl ResnetTransformer {
    /// Validation loss and greedy hypotheses of one batch.
    fn validate(&self, batch: HtrBatch) -> HtrOutput {
        let [b, target_len] = batch.targets.dims();
        let references = Arc::new(batch.target_ids.clone());
        let (loss, memory) = batch_loss(self, batch);
        // Room for twice the reference: a hypothesis cut there already has CER ≥ 100 %.
        let max_len = (2 * target_len + 8).min(self.max_output_len());
        let decoded = greedy_any(self, memory, &Bounds::uniform(b, max_len));
        HtrOutput {
            loss,
            hypotheses: Arc::new(decoded.into_iter().map(|d| d.tokens).collect()),
            references,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ModelConfig;

    #[test]
    fn ctc_loss_is_finite_skips_lines_it_cannot_align_and_trains_the_head() {
        let device = Device::flex().autodiff();
        device.seed(3);
        let cfg = ModelConfig {
            ctc_weight: 0.5,
            ..ModelConfig::tiny()
        };
        let model = cfg.init(10, &device);
        // Widths 64 and 24: 8 and 3 memory columns, so 16 and 6 CTC frames.
        let images =
            Tensor::<4>::random([2, 1, 32, 64], burn::tensor::Distribution::Default, &device);
        let memory = model.encode_padded(images.clone(), &[64, 24]);
        assert_eq!(memory.columns, vec![8, 3]);
        let loss = ctc_loss(&model, &memory, &[vec![5, 5, 6], vec![7, 8]]).expect("a CTC head");
        let value = loss.clone().into_scalar::<f32>();
        assert!(value.is_finite() && value > 0.0, "{value}");
        // Seven characters cannot align with 6 frames: that line gets no weight, and the loss
        // is the first line's, as it is with the first image alone (in eval mode: training
        // batch norm depends on the batch).
        let eval = model.valid();
        let images = images.inner();
        let memory_eval = eval.encode_padded(images.clone(), &[64, 24]);
        let skipped = ctc_loss(&eval, &memory_eval, &[vec![5, 5, 6], vec![4; 7]])
            .expect("a CTC head")
            .into_scalar::<f32>();
        let first = eval.encode_padded(images.slice([0..1, 0..1, 0..32, 0..64]), &[64]);
        let alone = ctc_loss(&eval, &first, &[vec![5, 5, 6]])
            .expect("a CTC head")
            .into_scalar::<f32>();
        assert!((skipped - alone).abs() < 1e-4, "{skipped} vs {alone}");
        // An empty line (a blank image) costs per frame, on the scale of a character.
        let empty = ctc_loss(&eval, &first, &[vec![]])
            .expect("a CTC head")
            .into_scalar::<f32>();
        assert!(
            empty.is_finite() && empty < 2.0 * alone.max(1.0),
            "{empty} vs {alone}"
        );
        let grads = loss.backward();
        let head = model.ctc.as_ref().expect("head").weight.grad(&grads);
        assert!(head.is_some(), "the CTC head gets a gradient");
    }
}
