//! `text_recognizer`: handwriting recognition in pure Rust on burn.
//!
//! # Reading
//!
//! ```no_run
//! use text_recognizer::{LayoutMode, Recognizer, image::open_image};
//! # fn main() -> text_recognizer::Result<()> {
//! // The built-in default line model (feature `default-model`), on the CPU.
//! let recognizer = Recognizer::default_model()?;
//! let line = recognizer.recognize(&open_image("line.png".as_ref())?);
//! println!("{} ({:.0} %)", line.text, 100.0 * line.confidence);
//! // A page: split into lines (layout), each read, boxes kept for ALTO / PAGE-XML export.
//! let page = recognizer.read_page(open_image("page.jpg".as_ref())?, LayoutMode::Auto);
//! print!("{}", page.text());
//! // Your own model file (`train-app stage`), on any device:
//! let mine = Recognizer::load("model.htr".as_ref())?.with_beam(4);
//! # Ok(()) }
//! ```
//!
//! # The pipeline, one module per stage
//!
//! ```text
//!            ┌──────────────── feature `train` ────────────────┐
//!  images ──►│ data: sources ─► HtrDataset ─► HtrBatcher        │
//!            │          └─► training (SupervisedTraining, RunDir)│──► StagedModel::from_run
//!            └──────────────────────────────────────────────────┘          │
//!                                                                          ▼
//!  artifact (StagedModel: one .htr file = manifest + weights; registry: versions and aliases)
//!      │
//!      ▼
//!  image (load, preprocess) ─► layout (page ─► lines) ─► model (ResnetTransformer)
//!      ─► decode (greedy / beam, KV cache; lm: character n-grams fused into the beams)
//!      ─► recognizer (Recognition, PageText)
//!      ─► export (ALTO v4, PAGE-XML 2019) ─► metrics (CER, WER)
//! ```
//!
//! * Inference, with the default features: [`image`], [`layout`], [`model`], [`decode`], [`lm`],
//!   [`recognizer`], [`export`], [`artifact`], [`registry`], [`metrics`], and
//!   [`data::LineFolder`] to read labelled lines for evaluation.
//! * Feature `train`: [`data`] sources (line folders, ALTO/PAGE pages, IAM, synthetic lines and
//!   paragraphs), augmentation, `training` (burn's `SupervisedTraining`, checkpoints, tracking).
//! * Feature `download`: `data::download` (data sets by name) and `mlflow` (tracking client and
//!   model registry).
//! * Features `wgpu`, `cuda`: GPU devices ([`DeviceSpec`]); the CPU backend (`flex`) is always
//!   built.
#![deny(missing_docs)]

pub mod artifact;
mod atomic_file;
pub mod charset;
pub mod data;
pub mod decode;
pub mod device;
pub mod error;
pub mod export;
pub mod image;
pub mod layout;
pub mod lm;
pub mod metrics;
#[cfg(feature = "download")]
pub mod mlflow;
pub mod model;
pub mod recognizer;
pub mod registry;
mod ron_file;
#[cfg(feature = "train")]
pub mod training;

pub use artifact::{Manifest, StagedModel, WeightPrecision};
pub use charset::{Charset, UnknownCharPolicy};
pub use device::DeviceSpec;
pub use error::{Error, Result};
pub use layout::LayoutMode;
pub use recognizer::{LineText, PageText, Recognition, Recognizer};
pub use registry::{ModelRef, Registry};
