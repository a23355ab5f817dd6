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

/// Printed faces to train on: every regular, bold, italic, mono, condensed, serif and sans face
/// of seven font packages (92 faces), so print in a face never seen still reads. Left out on
/// purpose: decorative and symbol faces, small caps (their lowercase draws capitals) and
/// [`HELD_OUT_PRINT`].
pub const PRINT_FACES: &[(&str, &[&str])] = &[
    (
        "fonts-dejavu-core",
        &[
            "truetype/dejavu/DejaVuSans.ttf",
            "truetype/dejavu/DejaVuSans-Bold.ttf",
            "truetype/dejavu/DejaVuSansMono.ttf",
            "truetype/dejavu/DejaVuSansMono-Bold.ttf",
            "truetype/dejavu/DejaVuSerif.ttf",
            "truetype/dejavu/DejaVuSerif-Bold.ttf",
        ],
    ),
    (
        "fonts-dejavu-extra",
        &[
            "truetype/dejavu/DejaVuSans-Oblique.ttf",
            "truetype/dejavu/DejaVuSans-BoldOblique.ttf",
            "truetype/dejavu/DejaVuSans-ExtraLight.ttf",
            "truetype/dejavu/DejaVuSansCondensed.ttf",
            "truetype/dejavu/DejaVuSansCondensed-Bold.ttf",
            "truetype/dejavu/DejaVuSansCondensed-Oblique.ttf",
            "truetype/dejavu/DejaVuSansCondensed-BoldOblique.ttf",
            "truetype/dejavu/DejaVuSansMono-Oblique.ttf",
            "truetype/dejavu/DejaVuSansMono-BoldOblique.ttf",
            "truetype/dejavu/DejaVuSerif-Italic.ttf",
            "truetype/dejavu/DejaVuSerif-BoldItalic.ttf",
            "truetype/dejavu/DejaVuSerifCondensed.ttf",
            "truetype/dejavu/DejaVuSerifCondensed-Bold.ttf",
            "truetype/dejavu/DejaVuSerifCondensed-Italic.ttf",
            "truetype/dejavu/DejaVuSerifCondensed-BoldItalic.ttf",
        ],
    ),
    (
        "fonts-liberation2",
        &[
            "truetype/liberation2/LiberationSans-Regular.ttf",
            "truetype/liberation2/LiberationSans-Bold.ttf",
            "truetype/liberation2/LiberationSans-Italic.ttf",
            "truetype/liberation2/LiberationSans-BoldItalic.ttf",
            "truetype/liberation2/LiberationSerif-Regular.ttf",
            "truetype/liberation2/LiberationSerif-Bold.ttf",
            "truetype/liberation2/LiberationSerif-Italic.ttf",
            "truetype/liberation2/LiberationSerif-BoldItalic.ttf",
            "truetype/liberation2/LiberationMono-Regular.ttf",
            "truetype/liberation2/LiberationMono-Bold.ttf",
            "truetype/liberation2/LiberationMono-Italic.ttf",
            "truetype/liberation2/LiberationMono-BoldItalic.ttf",
        ],
    ),
    (
        "fonts-freefont-ttf",
        &[
            "truetype/freefont/FreeSans.ttf",
            "truetype/freefont/FreeSansBold.ttf",
            "truetype/freefont/FreeSansOblique.ttf",
            "truetype/freefont/FreeSansBoldOblique.ttf",
            "truetype/freefont/FreeSerif.ttf",
            "truetype/freefont/FreeSerifBold.ttf",
            "truetype/freefont/FreeSerifItalic.ttf",
            "truetype/freefont/FreeSerifBoldItalic.ttf",
            "truetype/freefont/FreeMono.ttf",
            "truetype/freefont/FreeMonoBold.ttf",
            "truetype/freefont/FreeMonoOblique.ttf",
            "truetype/freefont/FreeMonoBoldOblique.ttf",
        ],
    ),
    (
        "fonts-urw-base35",
        &[
            "opentype/urw-base35/NimbusRoman-Regular.otf",
            "opentype/urw-base35/NimbusRoman-Bold.otf",
            "opentype/urw-base35/NimbusRoman-Italic.otf",
            "opentype/urw-base35/NimbusRoman-BoldItalic.otf",
            "opentype/urw-base35/NimbusSans-Regular.otf",
            "opentype/urw-base35/NimbusSans-Bold.otf",
            "opentype/urw-base35/NimbusSans-Italic.otf",
            "opentype/urw-base35/NimbusSans-BoldItalic.otf",
            "opentype/urw-base35/NimbusSansNarrow-Regular.otf",
            "opentype/urw-base35/NimbusSansNarrow-Bold.otf",
            "opentype/urw-base35/NimbusSansNarrow-Oblique.otf",
            "opentype/urw-base35/NimbusSansNarrow-BoldOblique.otf",
            "opentype/urw-base35/NimbusMonoPS-Regular.otf",
            "opentype/urw-base35/NimbusMonoPS-Bold.otf",
            "opentype/urw-base35/NimbusMonoPS-Italic.otf",
            "opentype/urw-base35/NimbusMonoPS-BoldItalic.otf",
            "opentype/urw-base35/C059-Roman.otf",
            "opentype/urw-base35/C059-Bold.otf",
            "opentype/urw-base35/C059-Italic.otf",
            "opentype/urw-base35/C059-BdIta.otf",
            "opentype/urw-base35/P052-Roman.otf",
            "opentype/urw-base35/P052-Bold.otf",
            "opentype/urw-base35/P052-Italic.otf",
            "opentype/urw-base35/P052-BoldItalic.otf",
            "opentype/urw-base35/URWBookman-Light.otf",
            "opentype/urw-base35/URWBookman-LightItalic.otf",
            "opentype/urw-base35/URWBookman-Demi.otf",
            "opentype/urw-base35/URWBookman-DemiItalic.otf",
            "opentype/urw-base35/URWGothic-Book.otf",
            "opentype/urw-base35/URWGothic-BookOblique.otf",
            "opentype/urw-base35/URWGothic-Demi.otf",
            "opentype/urw-base35/URWGothic-DemiOblique.otf",
            "opentype/urw-base35/Z003-MediumItalic.otf",
        ],
    ),
    (
        "fonts-go",
        &[
            "fonts-go/Go-Regular.ttf",
            "fonts-go/Go-Bold.ttf",
            "fonts-go/Go-Italic.ttf",
            "fonts-go/Go-Bold-Italic.ttf",
            "fonts-go/Go-Medium.ttf",
            "fonts-go/Go-Medium-Italic.ttf",
            "fonts-go/Go-Mono.ttf",
            "fonts-go/Go-Mono-Bold.ttf",
            "fonts-go/Go-Mono-Italic.ttf",
            "fonts-go/Go-Mono-Bold-Italic.ttf",
        ],
    ),
    (
        "fonts-crosextra-carlito",
        &[
            "truetype/crosextra/Carlito-Regular.ttf",
            "truetype/crosextra/Carlito-Bold.ttf",
            "truetype/crosextra/Carlito-Italic.ttf",
            "truetype/crosextra/Carlito-BoldItalic.ttf",
        ],
    ),
];

/// Printed faces no training config uses: four families (a serif, an old-style serif, a sans, a
/// mono) kept for the held-out check that print in unseen faces reads.
pub const HELD_OUT_PRINT: &[(&str, &[&str])] = &[
    (
        "fonts-crosextra-caladea",
        &[
            "truetype/crosextra/Caladea-Regular.ttf",
            "truetype/crosextra/Caladea-Bold.ttf",
            "truetype/crosextra/Caladea-Italic.ttf",
            "truetype/crosextra/Caladea-BoldItalic.ttf",
        ],
    ),
    (
        "fonts-ebgaramond",
        &[
            "opentype/ebgaramond/EBGaramond12-Regular.otf",
            "opentype/ebgaramond/EBGaramond12-Italic.otf",
        ],
    ),
    (
        "fonts-cantarell",
        &[
            "opentype/cantarell/Cantarell-Regular.otf",
            "opentype/cantarell/Cantarell-Bold.otf",
        ],
    ),
    (
        "fonts-inconsolata",
        &["truetype/inconsolata/Inconsolata.otf"],
    ),
];

/// Which fonts to render with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum FontSet {
    /// The eight handwriting font packages.
    #[default]
    Handwriting,
    /// DejaVu and Liberation, four faces (what the first models trained on).
    Printed,
    /// Handwriting and the four printed faces.
    All,
    /// The training print faces (`PRINT_FACES` in `fonts.rs`): 92 faces of seven packages.
    PrintFaces,
    /// Printed faces training never uses (`HELD_OUT_PRINT` in `fonts.rs`), for evaluation.
    HeldOutPrint,
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
            FontSet::PrintFaces => PRINT_FACES.iter().collect(),
            FontSet::HeldOutPrint => HELD_OUT_PRINT.iter().collect(),
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
    use ab_glyph::Font;

    #[test]
    fn held_out_faces_are_not_training_faces() {
        let training: Vec<&str> = HANDWRITING
            .iter()
            .chain(PRINTED)
            .chain(PRINT_FACES)
            .flat_map(|(_, files)| files.iter().copied())
            .collect();
        for (_, files) in HELD_OUT_PRINT {
            for f in *files {
                assert!(!training.contains(f), "{f} is held out and trained on");
            }
        }
        let faces: usize = PRINT_FACES.iter().map(|(_, f)| f.len()).sum();
        assert!(faces >= 40, "{faces} training print faces");
    }

    #[test]
    fn every_print_face_writes_french() {
        // The packages .ci/run installs; a face without these glyphs would only ever draw the
        // lines its neighbours cannot.
        for set in [FontSet::PrintFaces, FontSet::HeldOutPrint] {
            let fonts = Fonts::load(set).expect("print fonts installed (see .ci/run)");
            for (path, font) in &fonts.fonts {
                let missing: String = "azAZ09éèàçôù,.;:'()"
                    .chars()
                    .filter(|&c| font.glyph_id(c).0 == 0)
                    .collect();
                assert!(missing.is_empty(), "{}: no {missing:?}", path.display());
            }
        }
    }

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
