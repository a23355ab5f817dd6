//! The staged model: one self-describing file that every consumer loads.
//!
//! ```text
//! version 1: b"HTRMODEL" | u32 LE 1 | u64 LE manifest length | manifest (RON) | weights (burnpack)
//! version 2: b"HTRMODEL" | u32 LE 2 | u64 LE manifest length | manifest (RON)
//!            | u64 LE LM length | character LM (`.lm` bytes) | weights (burnpack)
//! ```
//! A model without an LM is written as version 1, so older builds still read it. The manifest
//! carries the architecture, the alphabet, the preprocessing and where the weights came from,
//! so a model file alone is enough to run it. One file also embeds with `include_bytes!`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use burn::module::Module;
use burn::store::burn_pack;
use burn::store::{FloatCastAdapter, ModuleRecord, ModuleSnapshot};
use burn::tensor::{Bytes, DType, Device};
use serde::{Deserialize, Serialize};

use crate::charset::Charset;
use crate::error::{Error, Result};
use crate::lm::CharLm;
use crate::model::{Preset, ResnetTransformer};

const MAGIC: &[u8; 8] = b"HTRMODEL";
/// The format without an LM.
const FORMAT_VERSION: u32 = 1;
/// The format with a character LM between the manifest and the weights.
const FORMAT_VERSION_LM: u32 = 2;

/// Where a staged model came from (`Default`: nowhere, for models built in code).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// The run directory it was staged from.
    pub run_dir: String,
    /// The checkpoint's epoch.
    pub epoch: usize,
    /// Optimiser steps up to that checkpoint.
    pub steps: usize,
    /// Validation CER (%) of that checkpoint.
    pub valid_cer: Option<f64>,
    /// Validation WER (%) of that checkpoint.
    pub valid_wer: Option<f64>,
    /// Training samples (distinct).
    pub train_samples: usize,
    /// Validation samples.
    pub valid_samples: usize,
    /// The data sources.
    pub data: Vec<String>,
    /// Git commit of the training code.
    pub git_commit: Option<String>,
    /// Seconds since the Unix epoch when it was staged.
    pub staged_at: u64,
    /// The model the run was fine-tuned from (`--init-from`), if any.
    #[serde(default)]
    pub parent: Option<String>,
    /// What its training inputs looked like (runs before this field: none).
    #[serde(default)]
    pub inputs: Option<crate::image::profile::InputProfile>,
}

/// Everything about a model except its weights.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// The model's name.
    pub name: String,
    /// Architecture and preprocessing.
    pub preset: Preset,
    /// Alphabet.
    pub charset: Charset,
    /// Training provenance.
    pub provenance: Provenance,
}

/// How a model file stores its weights (`train-app convert --weights`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WeightPrecision {
    /// 32-bit floats, as trained.
    F32,
    /// 16-bit floats: half the size, widened to f32 on load.
    F16,
}

impl std::str::FromStr for WeightPrecision {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "f32" => Ok(WeightPrecision::F32),
            "f16" => Ok(WeightPrecision::F16),
            other => Err(format!("weight precision {other:?}: f32 or f16")),
        }
    }
}

/// A manifest plus burnpack weights, and the character LM it reads with, if any.
#[derive(Clone, Debug)]
pub struct StagedModel {
    /// The description.
    pub manifest: Manifest,
    weights: Vec<u8>,
    lm: Option<Arc<CharLm>>,
}

/// The default line model's file, built into the library with the `default-model` feature
/// (`model/default-line.htr`: the CPU campaign's CTC model with its character LM; its config is
/// the repository's `datasets/configs/campaign.ron`, its lineage `datasets/campaign/LINEAGE.md`,
/// its report `datasets/configs/default-line.report.md`).
#[cfg(feature = "default-model")]
pub static DEFAULT_MODEL: &[u8] = include_bytes!("../model/default-line.htr");

impl StagedModel {
    /// The built-in default line model (feature `default-model`).
    #[cfg(feature = "default-model")]
    pub fn default_model() -> Result<Self> {
        StagedModel::from_bytes(DEFAULT_MODEL, Path::new("<built-in default-line.htr>"))
    }

    /// A manifest and burnpack weights as they are (staging, conversions).
    pub(crate) fn from_parts(manifest: Manifest, weights: Vec<u8>) -> Self {
        StagedModel {
            manifest,
            weights,
            lm: None,
        }
    }

    /// The character LM beam search reads with (`train-app stage --lm`).
    pub fn lm(&self) -> Option<&Arc<CharLm>> {
        self.lm.as_ref()
    }

    /// The same model carrying `lm` (`None`: none).
    pub fn with_lm(mut self, lm: Option<CharLm>) -> Self {
        self.lm = lm.map(Arc::new);
        self
    }

    /// Packs an in-memory model (tests, conversions). Training stages runs with
    /// `StagedModel::from_run` (feature `train`).
    pub fn from_model(manifest: Manifest, model: ResnetTransformer) -> Result<Self> {
        let weights = model
            .into_record()
            .into_bytes()
            .map_err(|e| Error::config("weights", e))?;
        Ok(StagedModel::from_parts(manifest, weights.to_vec()))
    }

    /// A manifest without weights (to describe a network held in memory).
    pub(crate) fn manifest_only(manifest: Manifest) -> Self {
        StagedModel {
            manifest,
            weights: Vec::new(),
            lm: None,
        }
    }

    /// Serialises to the single-file format.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let manifest =
            ron::ser::to_string_pretty(&self.manifest, ron::ser::PrettyConfig::default())
                .map_err(|e| Error::config("manifest", e))?;
        let lm = self.lm.as_ref().map(|lm| lm.to_bytes());
        let lm_len = lm.as_ref().map_or(0, |b| 8 + b.len());
        let mut out = Vec::with_capacity(20 + manifest.len() + lm_len + self.weights.len());
        out.extend_from_slice(MAGIC);
        let version = if lm.is_some() {
            FORMAT_VERSION_LM
        } else {
            FORMAT_VERSION
        };
        out.extend_from_slice(&version.to_le_bytes());
        out.extend_from_slice(&(manifest.len() as u64).to_le_bytes());
        out.extend_from_slice(manifest.as_bytes());
        if let Some(lm) = lm {
            out.extend_from_slice(&(lm.len() as u64).to_le_bytes());
            out.extend_from_slice(&lm);
        }
        out.extend_from_slice(&self.weights);
        Ok(out)
    }

    /// Writes the model file (through a temporary file and a rename: a reader or a crash
    /// never sees half a model).
    pub fn save(&self, path: &Path) -> Result<()> {
        crate::atomic_file::write_atomic(path, &self.to_bytes()?)
    }

    /// Reads a model file.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        StagedModel::from_bytes(&bytes, path)
    }

    /// Parses the single-file format; `origin` names it in errors.
    pub fn from_bytes(bytes: &[u8], origin: &Path) -> Result<Self> {
        let bad = |reason: &str| Error::BadModel {
            path: PathBuf::from(origin),
            reason: reason.to_string(),
        };
        if bytes.len() < 20 || &bytes[..8] != MAGIC {
            return Err(bad("missing HTRMODEL header"));
        }
        let version = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
        if version != FORMAT_VERSION && version != FORMAT_VERSION_LM {
            return Err(bad(&format!(
                "format version {version}, this build reads {FORMAT_VERSION} and {FORMAT_VERSION_LM}"
            )));
        }
        let mut len = [0u8; 8];
        len.copy_from_slice(&bytes[12..20]);
        let len = usize::try_from(u64::from_le_bytes(len))
            .map_err(|_| bad("manifest length overflows"))?;
        let end = 20usize
            .checked_add(len)
            .filter(|&e| e <= bytes.len())
            .ok_or_else(|| bad("truncated manifest"))?;
        let text =
            std::str::from_utf8(&bytes[20..end]).map_err(|_| bad("manifest is not UTF-8"))?;
        let manifest: Manifest = ron::from_str(text).map_err(|e| bad(&format!("manifest: {e}")))?;
        // Checked before anything is built from it.
        manifest.preset.model.validate().map_err(|e| bad(&e))?;
        manifest.preset.preprocess.validate().map_err(|e| bad(&e))?;
        if manifest.charset.vocab_size() > 100_000 {
            return Err(bad("an alphabet of over 100,000 tokens"));
        }
        let (lm, end) = if version == FORMAT_VERSION_LM {
            let mut len = [0u8; 8];
            len.copy_from_slice(bytes.get(end..end + 8).ok_or_else(|| bad("truncated LM"))?);
            let lm_end = usize::try_from(u64::from_le_bytes(len))
                .ok()
                .and_then(|l| (end + 8).checked_add(l))
                .filter(|&e| e <= bytes.len())
                .ok_or_else(|| bad("truncated LM"))?;
            let lm = CharLm::from_bytes(&bytes[end + 8..lm_end], origin)?;
            (Some(Arc::new(lm)), lm_end)
        } else {
            (None, end)
        };
        Ok(StagedModel {
            manifest,
            weights: bytes[end..].to_vec(),
            lm,
        })
    }

    /// Length of the serialised manifest (tests poke at the bytes after it).
    #[cfg(test)]
    fn manifest_len(&self) -> usize {
        ron::ser::to_string_pretty(&self.manifest, ron::ser::PrettyConfig::default())
            .map_or(0, |m| m.len())
    }

    /// Size of the weights in bytes.
    pub fn weights_len(&self) -> usize {
        self.weights.len()
    }

    /// How the weights are stored: f16 when every float tensor is half precision.
    pub fn weight_precision(&self) -> Result<WeightPrecision> {
        let reader = burn_pack::Reader::from_bytes(Bytes::from_bytes_vec(self.weights.clone()))
            .map_err(|e| self.bad_weights(format!("weights: {e}")))?;
        let tensors = reader
            .into_tensors()
            .map_err(|e| self.bad_weights(format!("weights: {e}")))?;
        let floats: Vec<DType> = tensors
            .iter()
            .map(|t| t.dtype)
            .filter(|d| d.is_float())
            .collect();
        Ok(
            if !floats.is_empty() && floats.iter().all(|d| *d == DType::F16) {
                WeightPrecision::F16
            } else {
                WeightPrecision::F32
            },
        )
    }

    /// The same model with its weights stored at `precision`. f16 halves the file (the
    /// embedded default model ships so); loading widens them back to f32, so inference and
    /// fine-tuning run in f32 either way.
    pub fn with_weight_precision(&self, precision: WeightPrecision) -> Result<StagedModel> {
        let target = match precision {
            WeightPrecision::F32 => DType::F32,
            WeightPrecision::F16 => DType::F16,
        };
        let model = self.model(&Device::flex())?;
        let tensors = model.collect(None, Some(Box::new(FloatCastAdapter::to(target))), false);
        let weights = burn_pack::Writer::new(tensors)
            .into_bytes()
            .map_err(|e| self.bad_weights(format!("writing the weights: {e}")))?;
        Ok(StagedModel {
            lm: self.lm.clone(),
            ..StagedModel::from_parts(self.manifest.clone(), weights.to_vec())
        })
    }

    fn bad_weights(&self, reason: String) -> Error {
        Error::BadModel {
            path: PathBuf::from(&self.manifest.name),
            reason,
        }
    }

    /// The weights as a record, cast to the network's float type (files may store f16).
    fn record(&self) -> Result<ModuleRecord> {
        ModuleRecord::from_bytes(Bytes::from_bytes_vec(self.weights.clone()))
            .map(ModuleRecord::cast_to_module_dtype)
            .map_err(|e| self.bad_weights(format!("weights: {e}")))
    }

    /// Loads the weights into an already built network of the same architecture (any device,
    /// autodiff included: fine-tuning starts here).
    pub fn load_into(&self, model: ResnetTransformer) -> Result<ResnetTransformer> {
        model
            .try_load_record(self.record()?)
            .map_err(|e| self.bad_weights(format!("weights do not fit the architecture: {e}")))
    }

    /// Builds the network on `device` (eval mode) and loads the weights.
    pub fn model(&self, device: &Device) -> Result<ResnetTransformer> {
        let model = self
            .manifest
            .preset
            .model
            .init(self.manifest.charset.vocab_size(), device);
        Ok(self.load_into(model)?.valid())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::PresetName;

    /// A randomly initialised model of the `line` preset, as a staged model.
    pub(crate) fn random_line_model() -> StagedModel {
        let preset = Preset::named(PresetName::Line);
        let charset = Charset::from_texts(["abc "]);
        let model = preset.model.init(charset.vocab_size(), &Device::flex());
        let manifest = Manifest {
            name: "random".into(),
            preset,
            charset,
            provenance: Provenance::default(),
        };
        StagedModel::from_model(manifest, model).expect("packs")
    }

    /// A randomly initialised CTC-only line model (no decoder, an LSTM context), as a staged
    /// model: the architecture of `datasets/configs/cpu/ctc-lstm.ron`, smaller.
    pub(crate) fn random_ctc_line_model() -> StagedModel {
        let mut preset = Preset::named(PresetName::Line);
        preset.model = crate::model::ModelConfig {
            encoder: crate::model::ResnetConfig {
                in_channels: 1,
                stem_width: 8,
                widths: vec![8, 16],
                depths: vec![1, 1],
                strides: vec![[2, 2], [2, 1]],
            },
            d_model: 16,
            ..crate::model::ModelConfig::tiny_ctc()
        };
        preset.preprocess.layout = crate::image::Layout::Line {
            height: 32,
            max_width: 1024,
        };
        let charset = Charset::from_texts(["abc "]);
        let model = preset.model.init(charset.vocab_size(), &Device::flex());
        let manifest = Manifest {
            name: "random-ctc".into(),
            preset,
            charset,
            provenance: Provenance::default(),
        };
        StagedModel::from_model(manifest, model).expect("packs")
    }

    #[test]
    fn a_ctc_only_model_round_trips_and_reads_the_same() {
        let staged = random_ctc_line_model();
        let bytes = staged.to_bytes().expect("serialises");
        let again = StagedModel::from_bytes(&bytes, Path::new("m.htr")).expect("parses");
        assert_eq!(again.manifest, staged.manifest);
        let device = Device::flex();
        let (a, b) = (
            staged.model(&device).expect("loads"),
            again.model(&device).expect("loads"),
        );
        assert!(a.is_ctc_only() && b.is_ctc_only());
        let images = burn::tensor::Tensor::<4>::random(
            [1, 1, 32, 80],
            burn::tensor::Distribution::Default,
            &device,
        );
        let logits = |m: &crate::model::ResnetTransformer| {
            m.ctc_logits(&m.encode_padded(images.clone(), &[80]))
                .expect("a CTC head")
                .try_to_vec_as::<f32>()
                .expect("reads")
        };
        assert_eq!(logits(&a), logits(&b));
    }

    #[test]
    fn a_model_with_an_lm_round_trips_and_one_without_stays_version_1() {
        let plain = random_ctc_line_model();
        let bytes = plain.to_bytes().expect("serialises");
        assert_eq!(bytes[8..12], FORMAT_VERSION.to_le_bytes());
        let lm =
            CharLm::build(["abc cab", "bca"], 3, crate::lm::Smoothing::KneserNey).expect("builds");
        let with = plain.clone().with_lm(Some(lm.clone()));
        let bytes = with.to_bytes().expect("serialises");
        assert_eq!(bytes[8..12], FORMAT_VERSION_LM.to_le_bytes());
        let again = StagedModel::from_bytes(&bytes, Path::new("m.htr")).expect("parses");
        assert_eq!(again.lm().map(|l| l.as_ref()), Some(&lm));
        assert_eq!(again.weights, plain.weights);
        assert!(again.model(&Device::flex()).is_ok());
        // A damaged LM inside the model file is named as the model file's.
        let mut broken = bytes.clone();
        let at = 20 + again.manifest_len() + 8 + 40;
        broken[at] ^= 0x55;
        let err = StagedModel::from_bytes(&broken, Path::new("m.htr"))
            .expect_err("a damaged LM is refused")
            .to_string();
        assert!(
            err.contains("m.htr") && err.contains("language model"),
            "{err}"
        );
    }

    #[test]
    fn round_trips_through_bytes() {
        let staged = random_line_model();
        let bytes = staged.to_bytes().expect("serialises");
        let again = StagedModel::from_bytes(&bytes, Path::new("m.htr")).expect("parses");
        assert_eq!(again.manifest, staged.manifest);
        assert_eq!(again.weights, staged.weights);
        assert!(again.model(&Device::flex()).is_ok());
    }

    /// f16 weights halve the file and read back within f16 rounding of the f32 ones.
    #[test]
    fn half_precision_weights_load_and_stay_close() {
        let staged = random_line_model();
        assert_eq!(staged.weight_precision().ok(), Some(WeightPrecision::F32));
        let half = staged
            .with_weight_precision(WeightPrecision::F16)
            .expect("converts");
        assert_eq!(half.weight_precision().ok(), Some(WeightPrecision::F16));
        assert!(half.weights_len() < staged.weights_len() * 6 / 10);
        let bytes = half.to_bytes().expect("serialises");
        let again = StagedModel::from_bytes(&bytes, Path::new("h.htr")).expect("parses");
        let device = Device::flex();
        let params = |m: &StagedModel| -> Vec<f32> {
            let record = m.model(&device).expect("loads").into_record();
            let bytes = record.into_bytes().expect("record bytes");
            let reader = burn_pack::Reader::from_bytes(bytes).expect("reads");
            reader
                .into_tensors()
                .expect("tensors")
                .into_iter()
                .filter(|t| t.dtype == DType::F32)
                .flat_map(|t| {
                    let bytes = t.into_bytes().expect("data");
                    bytes
                        .chunks_exact(4)
                        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                        .collect::<Vec<_>>()
                })
                .collect()
        };
        let (full, widened) = (params(&staged), params(&again));
        assert_eq!(full.len(), widened.len());
        assert!(!full.is_empty());
        for (a, b) in full.iter().zip(&widened) {
            assert!((a - b).abs() <= 1e-3 * a.abs().max(1e-2), "{a} vs {b}");
        }
    }

    #[test]
    fn corrupt_files_are_named_errors() {
        let bytes = random_line_model().to_bytes().expect("serialises");
        for bad in [&b"nope"[..], &bytes[..30], &bytes[..bytes.len() / 2]] {
            let err = StagedModel::from_bytes(bad, Path::new("bad.htr"))
                .and_then(|m| m.model(&Device::flex()).map(|_| ()));
            assert!(err.is_err(), "a corrupt model must not load");
        }
        let err = StagedModel::from_bytes(b"HTRMODEL\x09\0\0\0", Path::new("bad.htr"))
            .expect_err("must fail");
        assert!(err.to_string().starts_with("bad.htr"), "{err}");
    }

    /// A manifest asking for absurd sizes is refused before any tensor is made from it.
    #[test]
    fn manifests_out_of_bounds_are_refused_before_building() {
        let good = random_line_model();
        type Break = fn(&mut Manifest);
        let cases: [(&str, Break); 4] = [
            ("stride", |m| m.preset.model.encoder.strides[0] = [0, 1]),
            ("d_model", |m| m.preset.model.d_model = 1 << 20),
            ("in_channels", |m| m.preset.model.encoder.in_channels = 7),
            ("input size", |m| {
                m.preset.preprocess.layout = crate::image::Layout::Line {
                    height: 64,
                    max_width: 1 << 30,
                }
            }),
        ];
        for (what, break_it) in cases {
            let mut manifest = good.manifest.clone();
            break_it(&mut manifest);
            let bytes = StagedModel {
                manifest,
                weights: good.weights.clone(),
                lm: None,
            }
            .to_bytes()
            .expect("serialises");
            let err = StagedModel::from_bytes(&bytes, Path::new("evil.htr"))
                .expect_err(what)
                .to_string();
            assert!(err.contains("evil.htr"), "{what}: {err}");
        }
    }
}
