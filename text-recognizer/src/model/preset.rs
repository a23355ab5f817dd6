//! Named model presets (`presets/*.ron`), compiled into the library and loadable from files.

use std::path::Path;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::ModelConfig;
use crate::decode::DecodeConfig;
use crate::error::{Error, Result};
use crate::image::PreprocessConfig;
use crate::ron_file::from_ron;

/// An architecture plus the preprocessing it expects.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Preset {
    /// The network.
    pub model: ModelConfig,
    /// How images are fitted to it.
    pub preprocess: PreprocessConfig,
    /// How its output is decoded (beam width, length limits, loop cutting).
    #[serde(default)]
    pub decode: DecodeConfig,
}

/// The presets shipped with the library.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PresetName {
    /// `presets/line.ron`.
    Line,
    /// `presets/paragraph.ron` (FSDL parity).
    Paragraph,
}

impl FromStr for PresetName {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "line" => Ok(PresetName::Line),
            "paragraph" => Ok(PresetName::Paragraph),
            other => Err(Error::config(
                "preset",
                format!("unknown preset {other:?} (line, paragraph)"),
            )),
        }
    }
}

impl Preset {
    /// A shipped preset.
    pub fn named(name: PresetName) -> Self {
        let (file, text) = match name {
            PresetName::Line => ("presets/line.ron", include_str!("../../presets/line.ron")),
            PresetName::Paragraph => (
                "presets/paragraph.ron",
                include_str!("../../presets/paragraph.ron"),
            ),
        };
        Preset::parse(text, file).unwrap_or_else(|e| unreachable!("shipped preset is tested: {e}"))
    }

    /// Reads a preset file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Preset::parse(&text, &path.display().to_string())
    }

    fn parse(text: &str, origin: &str) -> Result<Self> {
        let preset: Preset = from_ron(text, origin)?;
        preset
            .model
            .validate()
            .map_err(|e| Error::config(origin, e))?;
        Ok(preset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::charset::Charset;
    use burn::module::Module;
    use burn::tensor::Device;

    #[test]
    fn paragraph_preset_has_fsdl_parameter_count() {
        let preset = Preset::named(PresetName::Paragraph);
        let model = preset
            .model
            .init(Charset::fsdl_paragraph().vocab_size(), &Device::flex());
        let n = model.num_params() as f64;
        eprintln!("paragraph preset: {n} parameters");
        // FSDL's ResnetTransformer: 13,988,756 parameters (fsdl-2022.md §2.1).
        assert!((n - 13.99e6).abs() / 13.99e6 <= 0.01, "{n} parameters");
    }

    #[test]
    fn line_preset_reads_wide_lines() {
        let preset = Preset::named(PresetName::Line);
        assert_eq!(preset.model.encoder.total_stride(), [32, 16]);
        let crate::image::Layout::Line { height, max_width } = preset.preprocess.layout else {
            panic!("line preset has a line layout");
        };
        assert_eq!(height, 64);
        assert!(max_width >= 2048);
    }

    #[test]
    fn bad_files_name_the_problem() {
        let err = Preset::parse("Preset(model: 3)", "x.ron").expect_err("must fail");
        assert!(err.to_string().starts_with("x.ron"), "{err}");
    }
}
