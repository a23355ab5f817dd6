//! The library's error type. Every variant names the file, field or input it is about, so a
//! user can fix the input without reading our code.

use std::path::PathBuf;

/// Errors returned by `text_recognizer`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// An image could not be decoded.
    #[error("{path}: cannot decode image: {reason}")]
    ImageDecode {
        /// The image file (or `<memory>` for in-memory bytes).
        path: PathBuf,
        /// The decoder's message.
        reason: String,
    },
    /// An image is larger than the limits allow (see [`crate::image::DecodeLimits`]).
    #[error("{path}: image too large: {reason}")]
    ImageTooLarge {
        /// The image file (or `<memory>`).
        path: PathBuf,
        /// Its size against the limit.
        reason: String,
    },
    /// An image is empty or too large to process.
    #[error("{path}: {reason}")]
    BadImage {
        /// The image file (or `<memory>`).
        path: PathBuf,
        /// Why it is rejected.
        reason: String,
    },
    /// A configuration file or field is invalid.
    #[error("{what}: {reason}")]
    Config {
        /// The file or field.
        what: String,
        /// Why it is invalid.
        reason: String,
    },
    /// A text contains a character the model's alphabet does not have.
    #[error("{context}: character {ch:?} (U+{code:04X}) is not in the alphabet")]
    UnknownChar {
        /// Where the text came from (file name or sample id).
        context: String,
        /// The character.
        ch: char,
        /// Its code point, for invisible characters.
        code: u32,
    },
    /// A data set yielded no usable samples.
    #[error("{what}: no usable samples")]
    EmptyDataset {
        /// The data source.
        what: String,
    },
    /// A staged model file is malformed or incompatible.
    #[error("{path}: not a valid staged model: {reason}")]
    BadModel {
        /// The model file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A character language model file is malformed, truncated or of another kind.
    #[error("{path}: not a valid character language model: {reason}")]
    BadLm {
        /// The LM file (or the model file that carries it).
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The requested compute device is unknown or not compiled in.
    #[error("device {spec:?}: {reason}")]
    Device {
        /// What the user asked for.
        spec: String,
        /// Why it cannot be used.
        reason: String,
    },
    /// Training failed inside burn.
    #[error("training failed: {0}")]
    Training(String),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Wraps an I/O error with the path it happened on.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// A configuration error about `what`.
    pub fn config(what: impl Into<String>, reason: impl std::fmt::Display) -> Self {
        Error::Config {
            what: what.into(),
            reason: reason.to_string(),
        }
    }
}
