//! Finding fonts installed by Debian packages, with an error that names the missing packages.

use std::path::{Path, PathBuf};

use ab_glyph::FontVec;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Handwriting fonts: (Debian package, files it installs).
pub const HANDWRITING: &[(&str, &[&str])] = &[
    (
        "fonts-dkg-handwriting",
        &[
            "truetype/fifthhorseman/dkg.ttf",
            "truetype/fifthhorseman/dkgIt.ttf",
        ],
    ),
    ("fonts-breip", &["truetype/breip/Breip.ttf"]),
    ("fonts-rufscript", &["truetype/rufscript/Rufscript010.ttf"]),
    (
        "fonts-sjfonts",
        &[
            "truetype/sjfonts/Delphine.ttf",
            "truetype/sjfonts/SteveHand.ttf",
        ],
    ),
    ("fonts-kristi", &["truetype/kristi/Kristi.ttf"]),
    (
        "fonts-dancingscript",
        &["opentype/dancingscript/DancingScript-Regular.otf"],
    ),
    (
        "fonts-kaushanscript",
        &["opentype/kaushanscript/KaushanScript-Regular.otf"],
    ),
    ("fonts-havana", &["opentype/havana/Havana-Regular.otf"]),
];

/// Printed fonts, because users' folders hold print too.
pub const PRINTED: &[(&str, &[&str])] = &[
    (
        "fonts-dejavu-core",
        &[
            "truetype/dejavu/DejaVuSans.ttf",
            "truetype/dejavu/DejaVuSerif.ttf",
        ],
    ),
    (
        "fonts-liberation2",
        &[
            "truetype/liberation2/LiberationSerif-Regular.ttf",
            "truetype/liberation2/LiberationSans-Regular.ttf",
        ],
    ),
];

/// Which fonts to render with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum FontSet {
    /// The eight handwriting font packages.
    #[default]
    Handwriting,
    /// DejaVu and Liberation.
    Printed,
    /// Both.
    All,
}

/// Loaded fonts with their file names.
pub struct Fonts {
    /// (file, font).
    pub fonts: Vec<(PathBuf, FontVec)>,
}

impl std::fmt::Debug for Fonts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.fonts.iter().map(|(p, _)| p))
            .finish()
    }
}

impl Fonts {
    /// Loads `set` from `/usr/share/fonts` (or `$HTR_FONT_DIR`).
    pub fn load(set: FontSet) -> Result<Self> {
        let root = std::env::var_os("HTR_FONT_DIR")
            .map_or_else(|| PathBuf::from("/usr/share/fonts"), PathBuf::from);
        Fonts::load_from(set, &root)
    }

    /// Loads `set` from a font root laid out like Debian's `/usr/share/fonts`.
    pub fn load_from(set: FontSet, root: &Path) -> Result<Self> {
        let packages: Vec<&(&str, &[&str])> = match set {
            FontSet::Handwriting => HANDWRITING.iter().collect(),
            FontSet::Printed => PRINTED.iter().collect(),
            FontSet::All => HANDWRITING.iter().chain(PRINTED).collect(),
        };
        let mut fonts = Vec::new();
        let mut missing = Vec::new();
        for (package, files) in packages {
            let before = fonts.len();
            for file in *files {
                let path = root.join(file);
                if let Ok(bytes) = std::fs::read(&path) {
                    match FontVec::try_from_vec(bytes) {
                        Ok(font) => fonts.push((path, font)),
                        Err(e) => tracing::warn!("{}: unreadable font: {e}", path.display()),
                    }
                }
            }
            if fonts.len() == before {
                missing.push(*package);
            }
        }
        if !missing.is_empty() {
            return Err(Error::config(
                "fonts",
                format!(
                    "missing font packages under {}: {} (apt-get install {})",
                    root.display(),
                    missing.join(", "),
                    missing.join(" ")
                ),
            ));
        }
        Ok(Fonts { fonts })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_packages_are_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = Fonts::load_from(FontSet::Handwriting, dir.path()).expect_err("no fonts there");
        let msg = err.to_string();
        assert!(
            msg.contains("fonts-kristi") && msg.contains("apt-get install"),
            "{msg}"
        );
    }
}
