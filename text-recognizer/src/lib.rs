//! `text_recognizer`: handwriting recognition in pure Rust on burn.
//!
//! The pipeline, one module per stage:
//!
//! ```text
//! data (sources → HtrDataset → HtrBatcher) ─► model (ResnetTransformer)
//!   ─► training (SupervisedTraining, RunDir) ─► artifact (StagedModel, one file)
//!   ─► layout (page → lines) ─► recognizer (Recognizer::load → read_page)
//!   ─► export (ALTO, PAGE-XML) ─► apps (train-app, infer-app)
//! ```
//!
//! # Example
//! ```no_run
//! use text_recognizer::{Recognizer, image::open_image};
//! # fn main() -> text_recognizer::Result<()> {
//! let recognizer = Recognizer::load("model.htr".as_ref())?;
//! let line = open_image("line.png".as_ref())?;
//! let result = recognizer.recognize(&line);
//! println!("{} ({:.0} %)", result.text, 100.0 * result.confidence);
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

pub mod artifact;
pub mod charset;
pub mod data;
pub mod decode;
pub mod device;
pub mod error;
pub mod export;
pub mod image;
pub mod layout;
pub mod metrics;
pub mod mlflow;
pub mod model;
pub mod recognizer;
pub mod registry;
mod ron_file;
pub mod training;

pub use artifact::{Manifest, StagedModel};
pub use charset::{Charset, UnknownCharPolicy};
pub use device::DeviceSpec;
pub use error::{Error, Result};
pub use layout::LayoutMode;
pub use recognizer::{LineText, PageText, Recognition, Recognizer};
pub use registry::{ModelRef, Registry};
