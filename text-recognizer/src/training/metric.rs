//! CER and WER as burn metrics, computed on decoded strings (burn's `WordErrorRate` works on
//! token ids and knows no words). The CER metric also writes a few sample predictions per
//! epoch into the run directory.

use std::path::PathBuf;
use std::sync::Arc;

use burn::tensor::TensorReadError;
use burn::train::metric::state::{FormatOptions, NumericMetricState};
use burn::train::metric::{
    Metric, MetricAttributes, MetricMetadata, MetricName, Numeric, NumericAttributes, NumericEntry,
    SerializedEntry,
};

use super::step::TokenPairs;
use crate::charset::Charset;
use crate::metrics::{char_errors, word_errors};

/// Which error rate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// Character error rate, "CER".
    Cer,
    /// Word error rate, "WER".
    Wer,
}

/// Corpus error rate in percent over an epoch: 100 · Σ edits / Σ reference length.
#[derive(Clone)]
pub struct TextErrorMetric {
    kind: ErrorKind,
    name: MetricName,
    charset: Arc<Charset>,
    state: NumericMetricState,
    samples: Option<SampleWriter>,
}

/// Keeps the first few pairs of an epoch and writes them at its end.
#[derive(Clone)]
struct SampleWriter {
    dir: PathBuf,
    epoch: usize,
    keep: usize,
    lines: Vec<(String, String)>,
}

impl TextErrorMetric {
    /// A metric of `kind`, decoding with `charset`.
    pub fn new(kind: ErrorKind, charset: Arc<Charset>) -> Self {
        let name = match kind {
            ErrorKind::Cer => "CER",
            ErrorKind::Wer => "WER",
        };
        TextErrorMetric {
            kind,
            name: Arc::new(name.to_string()),
            charset,
            state: NumericMetricState::default(),
            samples: None,
        }
    }

    /// Also write `keep` sample predictions per epoch to `dir/epoch-N.txt`, numbering epochs
    /// from `first_epoch`.
    pub fn with_samples(mut self, dir: PathBuf, first_epoch: usize, keep: usize) -> Self {
        self.samples = Some(SampleWriter {
            dir,
            epoch: first_epoch,
            keep,
            lines: Vec::new(),
        });
        self
    }

    fn format(&self) -> FormatOptions {
        FormatOptions::new(self.name()).unit("%").precision(2)
    }
}

impl Metric for TextErrorMetric {
    type Input = TokenPairs;

    fn name(&self) -> MetricName {
        self.name.clone()
    }

    fn attributes(&self) -> MetricAttributes {
        NumericAttributes {
            unit: Some("%".to_string()),
            higher_is_better: false,
        }
        .into()
    }

    fn update(
        &mut self,
        item: &TokenPairs,
        _: &MetricMetadata,
    ) -> Result<SerializedEntry, TensorReadError> {
        let mut edits = 0;
        let mut reference_len = 0;
        for (hyp, reference) in item.hypotheses.iter().zip(item.references.iter()) {
            let hyp = self.charset.decode(hyp);
            let reference = self.charset.decode(reference);
            let count = match self.kind {
                ErrorKind::Cer => char_errors(&hyp, &reference),
                ErrorKind::Wer => word_errors(&hyp, &reference),
            };
            edits += count.edits;
            reference_len += count.reference_len;
            if let Some(s) = self.samples.as_mut()
                && s.lines.len() < s.keep
            {
                s.lines.push((reference, hyp));
            }
        }
        // Weighting each batch by its reference length makes the epoch value Σ edits / Σ length.
        let batch_rate = 100.0 * edits as f64 / reference_len.max(1) as f64;
        self.state.update(batch_rate, reference_len.max(1));
        Ok(self.state.compute_update(self.format()))
    }

    fn compute(&mut self) -> Result<SerializedEntry, TensorReadError> {
        if let Some(s) = self.samples.as_mut() {
            let mut text = String::new();
            for (reference, hyp) in s.lines.drain(..) {
                text.push_str(&format!("REF: {reference}\nHYP: {hyp}\n\n"));
            }
            let path = s.dir.join(format!("epoch-{}.txt", s.epoch));
            if let Err(e) =
                std::fs::create_dir_all(&s.dir).and_then(|_| std::fs::write(&path, text))
            {
                tracing::warn!(
                    "could not write sample predictions to {}: {e}",
                    path.display()
                );
            }
            s.epoch += 1;
        }
        Ok(self.state.compute_final(self.format()))
    }

    fn clear(&mut self) {
        self.state.reset();
    }
}

impl Numeric for TextErrorMetric {
    fn value(&self) -> Option<NumericEntry> {
        Some(self.state.current_value())
    }

    fn running_value(&self) -> Option<NumericEntry> {
        Some(self.state.running_value())
    }

    fn final_value(&self) -> NumericEntry {
        self.state.final_value()
    }
}
