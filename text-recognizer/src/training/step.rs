//! burn's `TrainStep` / `InferenceStep` for the model: teacher-forced cross-entropy for
//! training; the same loss plus free-running greedy decoding for validation, so validation CER
//! is the CER a user gets (not the optimistic teacher-forced one).

use std::sync::Arc;

use burn::nn::loss::CrossEntropyLossConfig;
use burn::prelude::*;
use burn::train::metric::{Adaptor, ItemLazy, LossInput};
use burn::train::{InferenceStep, TrainOutput, TrainStep};
use burn_std::ExecutionError;

use crate::charset::PAD;
use crate::data::HtrBatch;
use crate::decode::greedy;
use crate::model::ResnetTransformer;
use crate::model::cpu::in_pool;

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
            let logits = self.forward(batch.images, batch.inputs);
            let loss = sequence_loss(logits, batch.targets);
            let grads = loss.backward();
            TrainOutput::new(
                self,
                grads,
                HtrOutput {
                    loss,
                    hypotheses: Arc::default(),
                    references: Arc::new(batch.target_ids),
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
        let memory = self.encode(batch.images);
        let logits = self.decode(memory.clone(), batch.inputs);
        let target_len = batch.targets.dims()[1];
        let loss = sequence_loss(logits, batch.targets);
        // Room for twice the reference: a hypothesis cut there already has CER ≥ 100 %.
        let max_len = (2 * target_len + 8).min(self.max_output_len());
        let decoded = greedy(self, memory, max_len);
        HtrOutput {
            loss,
            hypotheses: Arc::new(decoded.into_iter().map(|d| d.tokens).collect()),
            references: Arc::new(batch.target_ids),
        }
    }
}
