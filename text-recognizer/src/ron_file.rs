//! Reading RON configs the same way everywhere: `Some(..)` may be left out around optional
//! values (`epoch_samples: 60`), and parse errors name the file with line and column.

use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// Parses `text` as RON; `origin` names it in errors.
pub(crate) fn from_ron<T: DeserializeOwned>(text: &str, origin: &str) -> Result<T> {
    ron::Options::default()
        .with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME)
        .from_str(text)
        .map_err(|e| Error::config(origin, e))
}
