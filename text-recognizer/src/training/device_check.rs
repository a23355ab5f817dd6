//! Is a device's arithmetic right? The same staged model and the same batch of real lines on
//! `flex` (the reference) and on another device: the eval-mode logits, the training loss, and
//! the logits after one Adam step must agree. Run it first on a new GPU build (a wrong kernel
//! trains quietly to nonsense), before any timing or training (`train-app --device cuda
//! check-device`).

use burn::module::{Flag, ModuleMapper, Param};
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use burn::tensor::TensorData;
use serde::Serialize;

use super::sequence_loss;
use crate::artifact::StagedModel;
use crate::charset::{PAD, UnknownCharPolicy};
use crate::error::{Error, Result};
use crate::image::Prepared;
use crate::model::ResnetTransformer;
use crate::model::cpu::in_pool;

/// What one device computed.
struct Outcome {
    logits: Vec<f32>,
    loss: f32,
    logits_after_step: Vec<f32>,
}

/// Agreement of a device with `flex`.
#[derive(Clone, Debug, Serialize)]
pub struct DeviceCheck {
    /// The device checked.
    pub device: String,
    /// Largest |difference| of the eval logits, over the largest |logit| on flex.
    pub forward: f32,
    /// |difference| of the training losses, over the flex loss.
    pub loss: f32,
    /// As `forward`, after one Adam step (lr 1e-3) from the same weights and batch.
    pub after_step: f32,
    /// Share of positions where the two devices' eval logits pick the same token.
    pub same_argmax: f32,
    /// The flex training loss.
    pub flex_loss: f32,
}

impl DeviceCheck {
    /// Every relative difference within `tolerance`.
    pub fn within(&self, tolerance: f32) -> bool {
        self.forward <= tolerance && self.loss <= tolerance && self.after_step <= tolerance
    }
}

/// Runs `staged` on `lines` (prepared with its preprocessing; teacher-forced with their
/// transcriptions) on `flex` and on `device`.
pub fn check_device(
    staged: &StagedModel,
    lines: &[Prepared],
    texts: &[String],
    device: &Device,
    name: &str,
) -> Result<DeviceCheck> {
    if lines.is_empty() || lines.len() != texts.len() {
        return Err(Error::Config {
            what: "device check".into(),
            reason: format!(
                "needs lines and a text for each ({} lines, {} texts)",
                lines.len(),
                texts.len()
            ),
        });
    }
    let tokens = token_ids(staged, texts)?;
    let reference = in_pool(|| run(staged, lines, &tokens, &Device::flex()))?;
    let other = in_pool(|| run(staged, lines, &tokens, device))?;
    let scale = reference
        .logits
        .iter()
        .fold(0f32, |m, v| m.max(v.abs()))
        .max(1e-6);
    let rel = |a: &[f32], b: &[f32]| max_difference(a, b) / scale;
    let vocab = staged.manifest.charset.vocab_size();
    let argmax = |l: &[f32]| -> Vec<usize> {
        l.chunks(vocab)
            .map(|row| {
                row.iter()
                    .enumerate()
                    .fold(
                        (0, f32::MIN),
                        |best, (i, &v)| if v > best.1 { (i, v) } else { best },
                    )
                    .0
            })
            .collect()
    };
    let (a, b) = (argmax(&reference.logits), argmax(&other.logits));
    let same = a.iter().zip(&b).filter(|(x, y)| x == y).count();
    Ok(DeviceCheck {
        device: name.to_string(),
        forward: rel(&reference.logits, &other.logits),
        loss: (reference.loss - other.loss).abs() / reference.loss.abs().max(1e-6),
        after_step: rel(&reference.logits_after_step, &other.logits_after_step),
        same_argmax: same as f32 / a.len().max(1) as f32,
        flex_loss: reference.loss,
    })
}

/// Switches the dropout layers (the model's fields named `…dropout`) to eval behaviour and
/// leaves every other layer as it is.
#[derive(Default)]
struct NoDropout {
    path: Vec<String>,
}

impl ModuleMapper for NoDropout {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn map_flag(&mut self, flag: Param<Flag>) -> Param<Flag> {
        if self.path.iter().any(|n| n.ends_with("dropout")) {
            flag.with_value(false)
        } else {
            flag
        }
    }
}

/// Largest |a - b|; infinite when a value is not a number or the lengths differ (`f32::max`
/// would skip a NaN, and a device that computes NaNs must fail).
fn max_difference(a: &[f32], b: &[f32]) -> f32 {
    if a.len() != b.len() {
        return f32::INFINITY;
    }
    a.iter().zip(b).fold(0f32, |m, (x, y)| {
        let d = (x - y).abs();
        if d.is_nan() { f32::INFINITY } else { m.max(d) }
    })
}

/// `<S> text <E>` of every line, padded with `<PAD>` to the longest: `[batch, len]`.
fn token_ids(staged: &StagedModel, texts: &[String]) -> Result<(Vec<i64>, usize)> {
    let charset = &staged.manifest.charset;
    let encoded = texts
        .iter()
        .map(|t| {
            charset
                .encode(t, UnknownCharPolicy::Skip, "device check")
                .map(|e| e.ids)
        })
        .collect::<Result<Vec<_>>>()?;
    let len = encoded.iter().map(Vec::len).max().unwrap_or(2);
    let ids = encoded
        .iter()
        .flat_map(|e| e.iter().copied().chain(std::iter::repeat(PAD)).take(len))
        .map(|id| id as i64)
        .collect();
    Ok((ids, len))
}

fn run(
    staged: &StagedModel,
    lines: &[Prepared],
    (ids, len): &(Vec<i64>, usize),
    device: &Device,
) -> Result<Outcome> {
    let read = |t: Tensor<3>| {
        t.try_to_vec_as::<f32>().map_err(|e| Error::Device {
            spec: format!("{device:?}"),
            reason: format!("reading logits: {e:?}"),
        })
    };
    let prep = &staged.manifest.preset.preprocess;
    let refs: Vec<&Prepared> = lines.iter().collect();
    let widths: Vec<usize> = lines.iter().map(|l| l.width() as usize).collect();
    let vocab = staged.manifest.charset.vocab_size();
    let (batch, len) = (lines.len(), *len);
    let toks =
        |d: &Device| Tensor::<2, Int>::from_data(TensorData::new(ids.clone(), [batch, len]), d);
    // Input `<S> text`, target `text <E>`.
    let split = |t: Tensor<2, Int>| {
        (
            t.clone().slice([0..batch, 0..len - 1]),
            t.slice([0..batch, 1..len]),
        )
    };

    let eval_logits = |model: &ResnetTransformer| -> Result<Vec<f32>> {
        let (inputs, _) = split(toks(device));
        read(model.forward(prep.batch_tensor(&refs, device), &widths, inputs))
    };
    let logits = eval_logits(&staged.model(device)?)?;

    // Training mode without dropout (its random masks differ between devices, and between
    // two runs on one); BatchNorm uses the batch's statistics, which are deterministic.
    let train = device.clone().autodiff();
    let model = staged
        .load_into(staged.manifest.preset.model.init(vocab, &train))?
        .map(&mut NoDropout::default());
    let (inputs, targets) = split(toks(&train));
    let loss = sequence_loss(
        model.forward(prep.batch_tensor(&refs, &train), &widths, inputs),
        targets,
    );
    let loss_value = loss.clone().into_scalar::<f32>();
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    let mut optim: ModuleOptimizer = AdamConfig::new().with_epsilon(1e-8).init();
    let stepped = optim.step(1e-3, model, grads);
    let logits_after_step = eval_logits(&stepped.valid())?;
    Ok(Outcome {
        logits,
        loss: loss_value,
        logits_after_step,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::open_image;
    use std::path::Path;

    #[test]
    fn differences_catch_drift_nans_and_missing_values() {
        assert_eq!(max_difference(&[1.0, 2.0], &[1.0, 2.0]), 0.0);
        assert!((max_difference(&[1.0, 2.0], &[1.0, 2.5]) - 0.5).abs() < 1e-6);
        assert_eq!(max_difference(&[1.0, 2.0], &[1.0, f32::NAN]), f32::INFINITY);
        assert_eq!(max_difference(&[1.0, 2.0], &[1.0]), f32::INFINITY);
    }

    #[test]
    fn flex_agrees_with_itself() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        // The attention model: its decoder's teacher-forced loss and argmax are what drift first.
        let staged = StagedModel::load(&root.join("text-recognizer/model/attention-line.htr"))
            .expect("the shipped model loads");
        let prep = &staged.manifest.preset.preprocess;
        let dir = root.join("datasets/fixtures/testaments-mini");
        let (lines, texts): (Vec<Prepared>, Vec<String>) = ["AD78_0003-0-010", "AD78_0005-1-008"]
            .iter()
            .map(|f| {
                let image = open_image(&dir.join(format!("{f}.jpg"))).expect("fixture image");
                let text = std::fs::read_to_string(dir.join(format!("{f}.gt.txt"))).expect("text");
                (prep.prepare(&image), text.trim().to_string())
            })
            .unzip();
        assert_ne!(
            lines[0].width(),
            lines[1].width(),
            "widths differ: padding is covered"
        );
        let p = check_device(&staged, &lines, &texts, &Device::flex(), "flex").expect("runs");
        // Parallel sums may round differently from run to run (seen: 6e-7 after the step).
        assert!(p.within(1e-4), "{p:?}");
        assert_eq!(p.same_argmax, 1.0);
        // The shipped model knows these lines: a loss far below a uniform guess's ln(137) ≈ 4.9.
        assert!(
            p.flex_loss.is_finite() && p.flex_loss > 0.0 && p.flex_loss < 2.0,
            "{p:?}"
        );
        assert!(check_device(&staged, &lines, &texts[..1], &Device::flex(), "flex").is_err());
    }
}
