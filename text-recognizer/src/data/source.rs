//! Where samples come from, as written in a training config, and what loading one gives.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use image::{GrayImage, imageops};
use serde::{Deserialize, Serialize};

use super::conventions::Conventions;
use super::iam::{Iam, IamSplit};
use super::line_folder::{LineFolder, Skipped};
use super::pages::{PageUnit, load_pages};
use super::synthetic::{
    FontSet, Fonts, ParagraphStacker, RenderConfig, StackConfig, SyntheticLines, TextCorpus,
    WordMix,
};
use crate::error::{Error, Result};
use crate::image::{InkPolarity, open_image};

/// Where training text comes from.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub enum TextSource {
    /// The King James Bible (Debian `bible-kjv`, public domain).
    #[default]
    Kjv,
    /// One sentence per line of a UTF-8 file.
    File(PathBuf),
    /// Transcriptions: every `NAME.gt.txt` of line folders (train splits only) and lines of text
    /// files, normalised as LMs read them (NFC) and rewritten by `conventions`.
    Transcriptions {
        /// Line folders or text files.
        paths: Vec<PathBuf>,
        /// The rewriting (one for all paths).
        #[serde(default)]
        conventions: Conventions,
    },
    /// Random words from word lists, one word per line (`/usr/share/dict/french` from Debian's
    /// `wfrench`, `american-english` from `wamerican`), with numbers, dates and punctuation.
    Words {
        /// Word-list files.
        lists: Vec<PathBuf>,
        /// How lines are dressed.
        #[serde(default)]
        mix: WordMix,
    },
    /// Each line's text from one of these sources, drawn by weight.
    Mix(Vec<(TextSource, f64)>),
}

impl TextSource {
    /// Loads the text (the KJV cached under `cache_dir`).
    pub fn corpus(&self, cache_dir: &Path) -> Result<TextCorpus> {
        match self {
            TextSource::Kjv => TextCorpus::kjv(cache_dir),
            TextSource::File(p) => TextCorpus::from_file(p),
            TextSource::Transcriptions { paths, conventions } => {
                let (lines, _) = crate::lm::corpus_lines(paths, conventions, None)?;
                TextCorpus::from_lines(lines.iter().map(String::as_str), "transcriptions")
            }
            TextSource::Words { lists, mix } => TextCorpus::from_word_lists(lists, mix.clone()),
            TextSource::Mix(parts) => TextCorpus::mixture(
                parts
                    .iter()
                    .map(|(source, weight)| Ok((source.corpus(cache_dir)?, *weight)))
                    .collect::<Result<Vec<_>>>()?,
            ),
        }
    }
}

/// A source of (image, transcription) samples.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum DataSource {
    /// `NAME.{png,jpg,…}` + `NAME.gt.txt` under a folder, recursively.
    LineFolder(PathBuf),
    /// ALTO v4 or PAGE-XML files (a file or a folder, recursively), cropped into lines or regions.
    Pages {
        /// File or folder.
        path: PathBuf,
        /// Lines or regions.
        #[serde(default)]
        unit: PageUnit,
    },
    /// IAM (FSDL's mirror, `train-app data download iam`), FSDL's page split.
    Iam {
        /// Split.
        split: IamSplit,
        /// Lines, or regions = paragraphs.
        #[serde(default)]
        unit: PageUnit,
    },
    /// Text rendered with fonts, generated fresh for every sample.
    SyntheticLines {
        /// Fonts.
        #[serde(default)]
        fonts: FontSet,
        /// Text.
        #[serde(default)]
        text: TextSource,
        /// Rendering variation.
        #[serde(default)]
        render: RenderConfig,
        /// Nominal size (samples per epoch when it is the only source).
        #[serde(default = "default_synthetic_len")]
        samples: usize,
    },
    /// Another source with its transcriptions rewritten to the project's conventions (see
    /// [`Conventions`]); lines the conventions leave out are reported as skipped.
    Rewritten {
        /// The source (lines in memory: a line folder, pages or IAM).
        source: Box<DataSource>,
        /// The rewriting.
        conventions: Conventions,
    },
    /// FSDL synthetic paragraphs stacked from the lines of another source.
    SyntheticParagraphs {
        /// Source of the line crops (materialised up to 5,000 lines).
        lines: Box<DataSource>,
        /// Limits.
        #[serde(default)]
        stack: StackConfig,
        /// Nominal size.
        #[serde(default = "default_synthetic_len")]
        samples: usize,
    },
}

fn default_synthetic_len() -> usize {
    10_000
}

/// Most lines a synthetic-paragraph source keeps in memory.
const PARAGRAPH_POOL: usize = 5_000;

/// A loaded source.
#[derive(Clone, Debug)]
pub enum Loaded {
    /// Samples in memory (images as decoded) and where each came from.
    Fixed(Arc<Vec<(GrayImage, String)>>, Arc<Vec<String>>),
    /// Rendered on demand.
    Lines(Arc<SyntheticLines>, usize),
    /// Stacked on demand from light-on-dark line crops.
    Paragraphs(ParagraphStacker, Arc<Vec<(GrayImage, String)>>, usize),
}

impl Loaded {
    /// Nominal number of samples.
    pub fn len(&self) -> usize {
        match self {
            Loaded::Fixed(v, _) => v.len(),
            Loaded::Lines(_, n) | Loaded::Paragraphs(_, _, n) => *n,
        }
    }

    /// Whether it has no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sample `index` (fixed sources) or the sample drawn from `seed` (generated ones).
    pub fn sample(&self, index: usize, seed: u64) -> (GrayImage, String) {
        match self {
            Loaded::Fixed(v, _) => v[index % v.len()].clone(),
            Loaded::Lines(lines, _) => lines.sample(seed),
            Loaded::Paragraphs(stacker, lines, _) => stacker.stack(lines, seed),
        }
    }

    /// Where fixed sample `index` came from (file, or file and region), for messages.
    pub fn origin(&self, index: usize) -> String {
        match self {
            Loaded::Fixed(_, o) => o.get(index).cloned().unwrap_or_default(),
            Loaded::Lines(..) => format!("synthetic line #{index}"),
            Loaded::Paragraphs(..) => format!("synthetic paragraph #{index}"),
        }
    }

    /// Every text of a fixed source (for alphabets and statistics).
    pub fn texts(&self) -> Vec<&str> {
        match self {
            Loaded::Fixed(v, _) => v.iter().map(|(_, t)| t.as_str()).collect(),
            Loaded::Paragraphs(_, v, _) => v.iter().map(|(_, t)| t.as_str()).collect(),
            Loaded::Lines(..) => Vec::new(),
        }
    }
}

/// Options shared by all sources.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// Downloads and processed data (IAM, the text corpus).
    pub cache_dir: PathBuf,
}

impl DataSource {
    /// Human-readable name.
    pub fn describe(&self) -> String {
        match self {
            DataSource::LineFolder(p) => format!("line folder {}", p.display()),
            DataSource::Pages { path, unit } => format!("pages {} ({unit:?})", path.display()),
            DataSource::Iam { split, unit } => format!("IAM {} ({unit:?})", split.name()),
            DataSource::SyntheticLines { fonts, text, .. } => {
                format!("synthetic lines ({fonts:?} fonts, {text:?} text)")
            }
            DataSource::SyntheticParagraphs { lines, .. } => {
                format!("synthetic paragraphs of {}", lines.describe())
            }
            DataSource::Rewritten { source, .. } => source.describe(),
        }
    }

    /// Text corpus of a synthetic-lines source, so alphabets can include it.
    pub fn corpus(&self, options: &LoadOptions) -> Result<Option<TextCorpus>> {
        match self {
            DataSource::SyntheticLines { text, .. } => Ok(Some(text.corpus(&options.cache_dir)?)),
            DataSource::SyntheticParagraphs { lines, .. } => lines.corpus(options),
            DataSource::Rewritten { source, .. } => source.corpus(options),
            _ => Ok(None),
        }
    }

    /// Loads the source. Unreadable samples are skipped and listed; `corpus` (already restricted
    /// to the model's alphabet) is used by synthetic lines.
    pub fn load(
        &self,
        options: &LoadOptions,
        corpus: Option<TextCorpus>,
    ) -> Result<(Loaded, Vec<Skipped>)> {
        match self {
            DataSource::LineFolder(dir) => load_line_folder(dir),
            DataSource::Rewritten {
                source,
                conventions,
            } => {
                let (loaded, mut skipped) = source.load(options, corpus)?;
                let Loaded::Fixed(samples, origins) = loaded else {
                    return Err(Error::config(
                        source.describe(),
                        "conventions apply to sources held in memory (line folders, pages, IAM)",
                    ));
                };
                let mut kept = Vec::with_capacity(samples.len());
                let mut kept_origins = Vec::with_capacity(samples.len());
                for ((image, text), origin) in samples.iter().zip(origins.iter()) {
                    match conventions.apply(text) {
                        Ok(text) => {
                            kept.push((image.clone(), text));
                            kept_origins.push(origin.clone());
                        }
                        Err(reason) => skipped.push(Skipped {
                            path: origin.into(),
                            reason,
                        }),
                    }
                }
                Ok((
                    Loaded::Fixed(Arc::new(kept), Arc::new(kept_origins)),
                    skipped,
                ))
            }
            DataSource::Pages { path, unit } => {
                let (samples, skipped) = load_pages(path, *unit)?;
                let (samples, origins) = samples
                    .into_iter()
                    .map(|(img, text, o)| ((img, text), o))
                    .unzip();
                Ok((Loaded::Fixed(Arc::new(samples), Arc::new(origins)), skipped))
            }
            DataSource::Iam { split, unit } => {
                let iam = Iam::in_cache(&options.cache_dir);
                if !iam.root().join("xml").exists() {
                    return Err(Error::config(
                        iam.root().display().to_string(),
                        "IAM is not downloaded: run `train-app data download iam`",
                    ));
                }
                let (lines, paragraphs) = iam.prepare(&options.cache_dir, *split)?;
                load_line_folder(if *unit == PageUnit::Lines {
                    &lines
                } else {
                    &paragraphs
                })
            }
            DataSource::SyntheticLines {
                fonts,
                render,
                samples,
                ..
            } => {
                let corpus =
                    corpus.ok_or_else(|| Error::config("synthetic lines", "no text corpus"))?;
                let fonts = Fonts::load(*fonts)?;
                let lines = SyntheticLines::new(Arc::new(fonts), Arc::new(corpus), render.clone());
                Ok((Loaded::Lines(Arc::new(lines), *samples), Vec::new()))
            }
            DataSource::SyntheticParagraphs {
                lines,
                stack,
                samples,
            } => {
                let (base, skipped) = lines.load(options, corpus)?;
                let n = base.len().min(PARAGRAPH_POOL);
                let pool: Vec<(GrayImage, String)> = (0..n)
                    .map(|i| {
                        let (mut img, text) = base.sample(i, i as u64);
                        // FSDL stacks light-on-dark crops on a black canvas.
                        if InkPolarity::Auto.needs_inversion(&img) {
                            imageops::invert(&mut img);
                        }
                        (img, text)
                    })
                    .collect();
                if pool.is_empty() {
                    return Err(Error::EmptyDataset {
                        what: lines.describe(),
                    });
                }
                Ok((
                    Loaded::Paragraphs(
                        ParagraphStacker::new(stack.clone()),
                        Arc::new(pool),
                        *samples,
                    ),
                    skipped,
                ))
            }
        }
    }
}

fn load_line_folder(dir: &Path) -> Result<(Loaded, Vec<Skipped>)> {
    let (refs, mut skipped) = LineFolder::new(dir).scan()?;
    let mut samples = Vec::with_capacity(refs.len());
    let mut origins = Vec::with_capacity(refs.len());
    for r in refs {
        match open_image(&r.image) {
            Ok(img) => {
                samples.push((img, r.text));
                origins.push(r.image.display().to_string());
            }
            Err(e) => skipped.push(Skipped {
                path: r.image,
                reason: e.to_string(),
            }),
        }
    }
    Ok((Loaded::Fixed(Arc::new(samples), Arc::new(origins)), skipped))
}
