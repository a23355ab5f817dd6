//! Training text: verses of the King James Bible (public domain) from Debian's `bible-kjv`
//! package, any UTF-8 text file, transcriptions, random words from word lists, or a weighted
//! mixture of these. Fortune-cookie databases are kept out: they are evaluation text.

use std::path::{Path, PathBuf};
use std::process::Command;

use rand::RngExt;
use rand::rngs::StdRng;

use super::words::{GENERATED_CHARS, WordMix, word_line};
use crate::charset::Charset;
use crate::error::{Error, Result};

/// Where training lines' text comes from: one or more weighted parts.
#[derive(Clone, Debug)]
pub struct TextCorpus {
    /// (part, cumulative weight).
    parts: Vec<(Part, f64)>,
    /// Characters generated tokens may use, once restricted to an alphabet.
    allowed: Option<Charset>,
}

#[derive(Clone, Debug)]
enum Part {
    /// Word-aligned pieces of sentences.
    Sentences(Vec<String>),
    /// Random words from a list, with generated tokens among them.
    Words(Vec<String>, WordMix),
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
        Ok(TextCorpus::of(Part::Sentences(sentences)))
    }

    /// Random words, one per non-empty line of word-list files (Debian's `/usr/share/dict/…`),
    /// dressed with numbers and punctuation as `mix` says.
    pub fn from_word_lists(paths: &[PathBuf], mix: WordMix) -> Result<Self> {
        let mut words = Vec::new();
        for path in paths {
            let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
            words.extend(
                text.lines()
                    .map(str::trim)
                    .filter(|w| !w.is_empty() && !w.contains(' '))
                    .map(String::from),
            );
        }
        if words.is_empty() {
            return Err(Error::EmptyDataset {
                what: format!("word lists {paths:?}"),
            });
        }
        Ok(TextCorpus::of(Part::Words(words, mix)))
    }

    /// A weighted mixture: each line's text comes from one corpus, drawn by weight.
    pub fn mixture(corpora: Vec<(TextCorpus, f64)>) -> Result<Self> {
        let mut parts = Vec::new();
        let mut total = 0.0;
        for (corpus, weight) in corpora {
            if !(weight.is_finite() && weight >= 0.0) {
                return Err(Error::config(
                    "text mixture",
                    format!("weight {weight} is not a non-negative number"),
                ));
            }
            // A part's own sub-parts share its weight in their proportions.
            let inner_total = corpus.parts.last().map_or(0.0, |(_, w)| *w);
            let mut previous = 0.0;
            for (part, cumulative) in corpus.parts {
                total += weight * (cumulative - previous) / inner_total.max(f64::MIN_POSITIVE);
                previous = cumulative;
                parts.push((part, total));
            }
        }
        if parts.is_empty() || total <= 0.0 {
            return Err(Error::config(
                "text mixture",
                "no part with a positive weight",
            ));
        }
        Ok(TextCorpus {
            parts,
            allowed: None,
        })
    }

    fn of(part: Part) -> Self {
        TextCorpus {
            parts: vec![(part, 1.0)],
            allowed: None,
        }
    }

    /// Keeps only characters in `charset`: sentences lose the others (spaces collapsed), word
    /// lists lose the words that hold any, generated tokens are filtered as they are made.
    pub fn restrict_to(&mut self, charset: &Charset) {
        for (part, _) in &mut self.parts {
            match part {
                Part::Sentences(sentences) => {
                    for s in sentences.iter_mut() {
                        let kept: String = s.chars().filter(|&c| charset.contains(c)).collect();
                        *s = kept.split_whitespace().collect::<Vec<_>>().join(" ");
                    }
                    sentences.retain(|s| !s.is_empty());
                }
                Part::Words(words, _) => words.retain(|w| w.chars().all(|c| charset.contains(c))),
            }
        }
        self.allowed = Some(charset.clone());
    }

    /// Text holding every character the corpus can write (for alphabets).
    pub fn chars(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().flat_map(|(part, _)| {
            let (texts, generated): (&[String], Option<&str>) = match part {
                Part::Sentences(s) => (s, None),
                Part::Words(w, _) => (w, Some(GENERATED_CHARS)),
            };
            texts.iter().map(String::as_str).chain(generated)
        })
    }

    /// A line of text of about `min..=max` characters from a part drawn by weight.
    pub fn sample(&self, rng: &mut StdRng, min: usize, max: usize) -> String {
        // One part draws nothing, so single-book corpora give the lines they always gave.
        let part = if self.parts.len() == 1 {
            self.parts.first()
        } else {
            let total = self.parts.last().map_or(0.0, |(_, w)| *w);
            let r = rng.random_range(0.0..total.max(f64::MIN_POSITIVE));
            self.parts
                .iter()
                .find(|(_, cumulative)| r < *cumulative)
                .or(self.parts.last())
        }
        .map(|(p, _)| p);
        let text = match part {
            Some(Part::Sentences(sentences)) if !sentences.is_empty() => {
                sentence_piece(sentences, rng, min, max)
            }
            Some(Part::Words(words, mix)) => {
                let target = rng.random_range(min.max(1)..=max.max(min.max(1)));
                let line = word_line(words, mix, rng, target);
                match &self.allowed {
                    Some(a) => {
                        let kept: String = line.chars().filter(|&c| a.contains(c)).collect();
                        kept.split_whitespace().collect::<Vec<_>>().join(" ")
                    }
                    None => line,
                }
            }
            _ => String::new(),
        };
        text.chars().take(max.max(1)).collect()
    }
}

/// A word-aligned piece of a random sentence of `min..=max` characters (FSDL's
/// SentenceGenerator), or a whole shorter sentence.
fn sentence_piece(sentences: &[String], rng: &mut StdRng, min: usize, max: usize) -> String {
    let sentence = &sentences[rng.random_range(0..sentences.len())];
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
    out
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
                "In the beginning God created the heaven and the earth.".contains(&s),
                "{s:?} is a piece of the sentence"
            );
        }
    }

    #[test]
    fn restricting_drops_unknown_characters() {
        let mut corpus = TextCorpus::from_lines(["ab; c", ";;;"], "t").expect("corpus");
        corpus.restrict_to(&Charset::from_texts(["abc "]));
        assert_eq!(corpus.chars().collect::<Vec<_>>(), vec!["ab c"]);
    }

    fn word_list(dir: &Path, words: &str) -> PathBuf {
        let path = dir.join("words");
        std::fs::write(&path, words).expect("write");
        path
    }

    #[test]
    fn word_lists_lose_words_outside_the_alphabet_and_numbers_keep_to_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let list = word_list(dir.path(), "abc\nçà\n\nbad word\ncab\n");
        let mut corpus = TextCorpus::from_word_lists(&[list], WordMix::default()).expect("words");
        let alphabet = Charset::from_texts(["abc 0123456789"]);
        corpus.restrict_to(&alphabet);
        let mut rng = StdRng::seed_from_u64(2);
        for _ in 0..200 {
            let line = corpus.sample(&mut rng, 5, 30);
            assert!(line.chars().count() <= 30, "{line:?}");
            assert!(line.chars().all(|c| alphabet.contains(c)), "{line:?}");
        }
    }

    #[test]
    fn a_mixture_draws_its_parts_by_weight() {
        let dir = tempfile::tempdir().expect("tempdir");
        let list = word_list(dir.path(), "zzz\n");
        let no_dressing = WordMix {
            numbers: 0.0,
            punctuation: 0.0,
            capitalised: 0.0,
            upper: 0.0,
        };
        let words = TextCorpus::from_word_lists(&[list], no_dressing).expect("words");
        let book = TextCorpus::from_lines(["aaa"], "book").expect("book");
        let mixed = TextCorpus::mixture(vec![(words, 3.0), (book, 1.0)]).expect("mixture");
        let mut rng = StdRng::seed_from_u64(9);
        let from_words = (0..4000)
            .filter(|_| mixed.sample(&mut rng, 3, 3) == "zzz")
            .count();
        assert!((2800..3200).contains(&from_words), "{from_words} of 4000");
        let book = TextCorpus::from_lines(["aaa"], "book").expect("book");
        assert!(TextCorpus::mixture(vec![(book, 0.0)]).is_err());
    }
}
