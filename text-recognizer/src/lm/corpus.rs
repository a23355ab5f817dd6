//! The text an LM is built from: plain text files (one line of writing per line) and line
//! folders (every `NAME.gt.txt`), normalised as the models' transcriptions are (NFC, single
//! spaces, no edge spaces), a set's conventions applied, and characters outside a model's
//! alphabet dropped.

use std::path::{Path, PathBuf};

use unicode_normalization::UnicodeNormalization;

use crate::charset::Charset;
use crate::data::Conventions;
use crate::error::{Error, Result};

/// The lines of `paths` (files or line folders), in order, each rewritten by `conventions`
/// (lines it leaves out are skipped) and kept to `alphabet`'s characters when one is given.
/// Returns the lines and how many were left out.
pub fn corpus_lines(
    paths: &[PathBuf],
    conventions: &Conventions,
    alphabet: Option<&Charset>,
) -> Result<(Vec<String>, usize)> {
    let mut lines = Vec::new();
    let mut left_out = 0;
    for path in paths {
        let files = if path.is_dir() {
            transcriptions_in(path)?
        } else {
            vec![path.clone()]
        };
        if files.is_empty() {
            return Err(Error::EmptyDataset {
                what: format!("{} (no .gt.txt files)", path.display()),
            });
        }
        for file in files {
            let text = std::fs::read_to_string(&file).map_err(|e| Error::io(&file, e))?;
            for raw in text.lines() {
                match normalise(raw, conventions, alphabet) {
                    Some(line) => lines.push(line),
                    None => left_out += usize::from(!raw.trim().is_empty()),
                }
            }
        }
    }
    Ok((lines, left_out))
}

/// A line folder's transcriptions, sorted by name.
fn transcriptions_in(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".gt.txt"))
        .collect();
    files.sort();
    Ok(files)
}

/// One line as a model would be trained to write it, or `None` when nothing is left.
pub fn normalise(
    raw: &str,
    conventions: &Conventions,
    alphabet: Option<&Charset>,
) -> Option<String> {
    let text: String = raw.nfc().collect();
    let text = conventions.apply(&text).ok()?;
    let kept: String = match alphabet {
        Some(a) => text.chars().filter(|&c| a.contains(c)).collect(),
        None => text,
    };
    let line = kept.split_whitespace().collect::<Vec<_>>().join(" ");
    (!line.is_empty()).then_some(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_and_files_are_read_normalised_with_the_conventions() {
        let dir = tempfile::tempdir().expect("tempdir");
        let lines = dir.path().join("lines");
        std::fs::create_dir(&lines).expect("mkdir");
        // "é" as e + combining acute: NFC makes it one character.
        std::fs::write(lines.join("b.gt.txt"), "fait  e\u{301}crit¬\n").expect("write");
        std::fs::write(lines.join("a.gt.txt"), "signé ¥\n").expect("write");
        std::fs::write(lines.join("a.jpg"), b"not text").expect("write");
        let text = dir.path().join("words.txt");
        std::fs::write(&text, "un\n\n deux trois \n").expect("write");
        let conventions = Conventions {
            map: vec![('¬', "-".into())],
            skip_lines_with: "¥".into(),
            ..Conventions::default()
        };
        let (got, left_out) = corpus_lines(&[lines, text], &conventions, None).expect("reads");
        assert_eq!(got, ["fait écrit-", "un", "deux trois"]);
        assert_eq!(left_out, 1);
        let alphabet = Charset::new("abcdefghijklmnopqrstuvwxyz ".chars()).expect("alphabet");
        assert_eq!(
            normalise("fait écrit!", &Conventions::default(), Some(&alphabet)).as_deref(),
            Some("fait crit")
        );
    }

    #[test]
    fn a_folder_without_transcriptions_is_an_error_that_names_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = corpus_lines(&[dir.path().to_path_buf()], &Conventions::default(), None)
            .expect_err("empty folder")
            .to_string();
        assert!(err.contains(&dir.path().display().to_string()), "{err}");
    }
}
