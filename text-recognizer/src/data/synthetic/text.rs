//! Training text: verses of the King James Bible (public domain) from Debian's `bible-kjv`
//! package, or any UTF-8 text file. Fortune-cookie databases are kept out: they are evaluation
//! text.

use std::path::{Path, PathBuf};
use std::process::Command;

use rand::RngExt;
use rand::rngs::StdRng;

use crate::charset::Charset;
use crate::error::{Error, Result};

/// Sentences to cut training lines from.
#[derive(Clone, Debug)]
pub struct TextCorpus {
    sentences: Vec<String>,
}

impl TextCorpus {
    /// The KJV Bible via the `bible` program of Debian's `bible-kjv` package, cached as plain
    /// text in `cache_dir/processed/kjv.txt`.
    pub fn kjv(cache_dir: &Path) -> Result<Self> {
        let cached = cache_dir.join("processed").join("kjv.txt");
        if !cached.exists() {
            let out = Command::new("bible")
                .args(["-f", "Gen1:1-Rev22:21"])
                .output()
                .map_err(|e| {
                    Error::config(
                        "text corpus",
                        format!("cannot run `bible` ({e}): apt-get install bible-kjv"),
                    )
                })?;
            if !out.status.success() {
                return Err(Error::config(
                    "text corpus",
                    "`bible` failed: apt-get install bible-kjv",
                ));
            }
            // Lines read `Ge1:1 In the beginning…`: drop the reference.
            let text: String = String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter_map(|l| l.split_once(' ').map(|(_, verse)| verse.trim()))
                .filter(|v| !v.is_empty())
                .collect::<Vec<_>>()
                .join("\n");
            if let Some(dir) = cached.parent() {
                std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
            }
            std::fs::write(&cached, text).map_err(|e| Error::io(&cached, e))?;
        }
        TextCorpus::from_file(&cached)
    }

    /// One sentence per non-empty line of a UTF-8 file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        TextCorpus::from_lines(text.lines(), &PathBuf::from(path).display().to_string())
    }

    /// From sentences in memory.
    pub fn from_lines<'a>(lines: impl IntoIterator<Item = &'a str>, what: &str) -> Result<Self> {
        let sentences: Vec<String> = lines
            .into_iter()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .filter(|l| !l.is_empty())
            .collect();
        if sentences.is_empty() {
            return Err(Error::EmptyDataset {
                what: what.to_string(),
            });
        }
        Ok(TextCorpus { sentences })
    }

    /// Keeps only characters in `charset` (others dropped, spaces collapsed).
    pub fn restrict_to(&mut self, charset: &Charset) {
        for s in &mut self.sentences {
            let kept: String = s.chars().filter(|&c| charset.contains(c)).collect();
            *s = kept.split_whitespace().collect::<Vec<_>>().join(" ");
        }
        self.sentences.retain(|s| !s.is_empty());
    }

    /// Every character the corpus uses.
    pub fn chars(&self) -> impl Iterator<Item = &str> {
        self.sentences.iter().map(String::as_str)
    }

    /// A word-aligned piece of a random sentence of `min..=max` characters (FSDL's
    /// SentenceGenerator), or a whole shorter sentence.
    pub fn sample(&self, rng: &mut StdRng, min: usize, max: usize) -> String {
        let sentence = &self.sentences[rng.random_range(0..self.sentences.len())];
        let words: Vec<&str> = sentence.split(' ').collect();
        let target = rng.random_range(min.max(1)..=max.max(min.max(1)));
        let start = rng.random_range(0..words.len());
        let mut out = String::new();
        for w in &words[start..] {
            let extra = usize::from(!out.is_empty()) + w.chars().count();
            if !out.is_empty() && out.chars().count() + extra > target {
                break;
            }
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(w);
        }
        out.chars().take(max.max(1)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn samples_are_word_aligned_and_bounded() {
        let corpus = TextCorpus::from_lines(
            ["In the beginning God created the heaven and the earth."],
            "t",
        )
        .expect("corpus");
        let mut rng = StdRng::seed_from_u64(1);
        for _ in 0..50 {
            let s = corpus.sample(&mut rng, 5, 20);
            assert!(!s.is_empty() && s.chars().count() <= 20, "{s:?}");
            assert!(
                corpus.sentences[0].contains(&s),
                "{s:?} is a piece of the sentence"
            );
        }
    }

    #[test]
    fn restricting_drops_unknown_characters() {
        let mut corpus = TextCorpus::from_lines(["ab; c", ";;;"], "t").expect("corpus");
        corpus.restrict_to(&Charset::from_texts(["abc "]));
        assert_eq!(corpus.sentences, vec!["ab c".to_string()]);
    }
}
