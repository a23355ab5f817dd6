//! Line folders: `NAME.{png,jpg,jpeg,tif,tiff,webp,bmp}` next to `NAME.gt.txt` (the kraken /
//! Tesseract / Calamari convention), searched recursively.

use std::path::{Path, PathBuf};

use unicode_normalization::UnicodeNormalization;

use crate::error::{Error, Result};

/// Image extensions we look for, in order of preference when several share a stem.
const IMAGE_EXTENSIONS: &[&str] = &["png", "jpg", "jpeg", "tif", "tiff", "webp", "bmp"];

/// An image and its transcription, not yet decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SampleRef {
    /// The line image.
    pub image: PathBuf,
    /// Its transcription (trailing newline removed).
    pub text: String,
}

/// A sample left out, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// The file concerned.
    pub path: PathBuf,
    /// Why it was left out.
    pub reason: String,
}

/// A folder of line images with `.gt.txt` transcriptions.
#[derive(Clone, Debug)]
pub struct LineFolder {
    root: PathBuf,
}

impl LineFolder {
    /// A line folder rooted at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        LineFolder { root: root.into() }
    }

    /// Lists the samples, sorted by path. Transcriptions that are missing, empty or not UTF-8
    /// are reported in the second list instead of failing the scan.
    pub fn scan(&self) -> Result<(Vec<SampleRef>, Vec<Skipped>)> {
        let mut images = Vec::new();
        walk(&self.root, &mut images)?;
        images.sort();
        let mut samples = Vec::new();
        let mut skipped = Vec::new();
        for image in images {
            let gt = gt_path(&image);
            match std::fs::read(&gt) {
                Err(e) => skipped.push(Skipped {
                    path: image,
                    reason: format!("no transcription ({}: {e})", gt.display()),
                }),
                Ok(bytes) => match String::from_utf8(bytes) {
                    Err(_) => skipped.push(Skipped {
                        path: gt,
                        reason: "transcription is not UTF-8".into(),
                    }),
                    Ok(text) => {
                        // NFC: some sets write accents as combining marks (e + U+0301), others
                        // as one letter (é); the model and the CER see one form.
                        let text: String = text.trim_end_matches(['\n', '\r']).nfc().collect();
                        if text.trim().is_empty() {
                            skipped.push(Skipped {
                                path: gt,
                                reason: "transcription is empty".into(),
                            });
                        } else {
                            samples.push(SampleRef { image, text });
                        }
                    }
                },
            }
        }
        Ok((samples, skipped))
    }
}

fn gt_path(image: &Path) -> PathBuf {
    image.with_extension("gt.txt")
}

fn is_image(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let path = entry.path();
        let kind = entry.file_type().map_err(|e| Error::io(&path, e))?;
        if kind.is_dir() {
            walk(&path, out)?;
        } else if is_image(&path) {
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_images_with_transcriptions_and_reports_the_rest() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sub = dir.path().join("a");
        std::fs::create_dir(&sub).expect("mkdir");
        std::fs::write(sub.join("l1.png"), b"x").expect("write");
        std::fs::write(sub.join("l1.gt.txt"), "bonjour\n").expect("write");
        std::fs::write(dir.path().join("l2.jpg"), b"x").expect("write");
        std::fs::write(dir.path().join("l3.png"), b"x").expect("write");
        std::fs::write(dir.path().join("l3.gt.txt"), "  \n").expect("write");
        std::fs::write(dir.path().join("l4.png"), b"x").expect("write");
        std::fs::write(dir.path().join("l4.gt.txt"), [0xff, 0xfe]).expect("write");
        std::fs::write(dir.path().join("notes.txt"), "ignored").expect("write");
        let (samples, skipped) = LineFolder::new(dir.path()).scan().expect("scans");
        assert_eq!(samples.len(), 1);
        assert_eq!(samples[0].text, "bonjour");
        let reasons: Vec<&str> = skipped.iter().map(|s| s.reason.as_str()).collect();
        assert_eq!(skipped.len(), 3, "{reasons:?}");
        assert!(reasons.iter().any(|r| r.contains("no transcription")));
        assert!(reasons.iter().any(|r| r.contains("empty")));
        assert!(reasons.iter().any(|r| r.contains("UTF-8")));
    }

    #[test]
    fn a_missing_folder_is_a_named_error() {
        let err = LineFolder::new("/no/such/dir")
            .scan()
            .expect_err("must fail");
        assert!(err.to_string().contains("/no/such/dir"));
    }
}
