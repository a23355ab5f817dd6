//! The IAM Handwriting Database, the way FSDL 2022 uses it (fsdl-2022.md §1.4): the FSDL
//! re-packaging `iamdb.zip` (forms as half-size JPGs + XML + LWITLRT task files), line and
//! paragraph regions from the word boxes with FSDL's rules, and FSDL's split by page.
//!
//! Cache layout (as FSDL's): `CACHE/downloaded/iam/iamdb.zip`, extracted to
//! `CACHE/downloaded/iam/iamdb/{forms,xml,task}`; crops written as line folders to
//! `CACHE/processed/iam_lines/SPLIT/` and `CACHE/processed/iam_paragraphs/SPLIT/`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use image::GrayImage;
use roxmltree::Document;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::image::open_image;

/// The JPGs in `iamdb.zip` are half the size of the XML coordinates.
pub const DOWNSAMPLE_FACTOR: i64 = 2;
/// Padding around line regions (FSDL 2022; 16 in 2021).
pub const LINE_REGION_PADDING: i64 = 8;

/// FSDL's page split.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum IamSplit {
    /// Every form that is in neither the test nor the validation set.
    Train,
    /// Forms of `validationset1.txt` ∪ `validationset2.txt`.
    Val,
    /// Forms of `testset.txt`.
    Test,
}

impl IamSplit {
    /// Lower-case name, used for folders.
    pub fn name(self) -> &'static str {
        match self {
            IamSplit::Train => "train",
            IamSplit::Val => "val",
            IamSplit::Test => "test",
        }
    }
}

/// A rectangle in half-size image pixels, `x2`/`y2` exclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    /// Left.
    pub x1: i64,
    /// Top.
    pub y1: i64,
    /// Right.
    pub x2: i64,
    /// Bottom.
    pub y2: i64,
}

/// One form: its lines' texts and padded regions.
#[derive(Clone, Debug, PartialEq)]
pub struct IamForm {
    /// Form id, e.g. `a01-000u`.
    pub id: String,
    /// Line transcriptions.
    pub lines: Vec<String>,
    /// Padded line regions, one per line.
    pub regions: Vec<Region>,
}

impl IamForm {
    /// The paragraph: lines joined by `\n`.
    pub fn paragraph_text(&self) -> String {
        self.lines.join("\n")
    }

    /// The paragraph region: the union of the padded line regions.
    pub fn paragraph_region(&self) -> Option<Region> {
        let first = *self.regions.first()?;
        Some(self.regions.iter().fold(first, |a, r| Region {
            x1: a.x1.min(r.x1),
            y1: a.y1.min(r.y1),
            x2: a.x2.max(r.x2),
            y2: a.y2.max(r.y2),
        }))
    }
}

/// Parses a form XML: `handwritten-part/line@text` (with `&quot;` → `"`), and per line the
/// bounding box of its `word/cmp` boxes divided by [`DOWNSAMPLE_FACTOR`], padded by
/// [`LINE_REGION_PADDING`] horizontally and by at most half the gap to the neighbouring line
/// vertically.
pub fn parse_form(path: &Path) -> Result<IamForm> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    // IAM's XML declares ISO-8859-1; read it as Latin-1 when it is not UTF-8.
    let text = String::from_utf8(bytes)
        .unwrap_or_else(|e| e.into_bytes().iter().map(|&b| char::from(b)).collect());
    let text = text.replacen("encoding=\"ISO-8859-1\"", "", 1);
    let bad = |reason: String| Error::config(path.display().to_string(), reason);
    let doc = Document::parse(&text).map_err(|e| bad(format!("not well-formed XML: {e}")))?;
    let form = doc.root_element();
    let id = form
        .attribute("id")
        .ok_or_else(|| bad("<form> has no id".into()))?
        .to_string();
    let mut lines = Vec::new();
    let mut boxes = Vec::new();
    let part = form
        .children()
        .find(|n| n.tag_name().name() == "handwritten-part")
        .ok_or_else(|| bad("no <handwritten-part>".into()))?;
    for line in part.children().filter(|n| n.tag_name().name() == "line") {
        let t = line
            .attribute("text")
            .ok_or_else(|| bad("a <line> has no text".into()))?;
        let mut b: Option<Region> = None;
        for cmp in line.descendants().filter(|n| n.tag_name().name() == "cmp") {
            let v = |a: &str| cmp.attribute(a).and_then(|s| s.parse::<i64>().ok());
            let (Some(x), Some(y), Some(w), Some(h)) = (v("x"), v("y"), v("width"), v("height"))
            else {
                return Err(bad(format!("line {t:?}: <cmp> without x/y/width/height")));
            };
            let r = Region {
                x1: x,
                y1: y,
                x2: x + w,
                y2: y + h,
            };
            b = Some(match b {
                None => r,
                Some(a) => Region {
                    x1: a.x1.min(r.x1),
                    y1: a.y1.min(r.y1),
                    x2: a.x2.max(r.x2),
                    y2: a.y2.max(r.y2),
                },
            });
        }
        let b = b.ok_or_else(|| bad(format!("line {t:?} has no word boxes")))?;
        let d = DOWNSAMPLE_FACTOR;
        boxes.push(Region {
            x1: b.x1 / d,
            y1: b.y1 / d,
            x2: b.x2 / d,
            y2: b.y2 / d,
        });
        lines.push(t.replace("&quot;", "\""));
    }
    let gaps: Vec<i64> = boxes
        .windows(2)
        .map(|w| (w[1].y1 - w[0].y2).max(0))
        .collect();
    let pad = LINE_REGION_PADDING;
    let regions = boxes
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let pre = if i == 0 { 2 * pad } else { gaps[i - 1] };
            let post = gaps.get(i).copied().unwrap_or(2 * pad);
            Region {
                x1: r.x1 - pad,
                x2: r.x2 + pad,
                y1: r.y1 - pad.min(pre / 2),
                y2: r.y2 + pad.min(post / 2),
            }
        })
        .collect();
    Ok(IamForm { id, lines, regions })
}

/// The extracted `iamdb/` folder.
#[derive(Clone, Debug)]
pub struct Iam {
    root: PathBuf,
}

impl Iam {
    /// `root` holds `forms/`, `xml/` and `task/`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Iam { root: root.into() }
    }

    /// Where the extracted data set lives under a cache directory.
    pub fn in_cache(cache_dir: &Path) -> Self {
        Iam::new(cache_dir.join("downloaded").join("iam").join("iamdb"))
    }

    /// The folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// All form ids (from `xml/*.xml`), sorted.
    pub fn form_ids(&self) -> Result<Vec<String>> {
        let dir = self.root.join("xml");
        let mut ids: Vec<String> = std::fs::read_dir(&dir)
            .map_err(|e| Error::io(&dir, e))?
            .flatten()
            .filter_map(|e| {
                e.file_name()
                    .into_string()
                    .ok()?
                    .strip_suffix(".xml")
                    .map(str::to_string)
            })
            .collect();
        ids.sort();
        Ok(ids)
    }

    fn task_forms(&self, files: &[&str]) -> Result<BTreeSet<String>> {
        let mut ids = BTreeSet::new();
        for f in files {
            let path = self.root.join("task").join(f);
            let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
            // Line ids like a01-000u-00 → form a01-000u.
            ids.extend(
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(|l| l.split('-').take(2).collect::<Vec<_>>().join("-")),
            );
        }
        Ok(ids)
    }

    /// Form ids of a split, sorted.
    pub fn split_ids(&self, split: IamSplit) -> Result<Vec<String>> {
        let test = self.task_forms(&["testset.txt"])?;
        let val = self.task_forms(&["validationset1.txt", "validationset2.txt"])?;
        Ok(match split {
            IamSplit::Test => test.into_iter().collect(),
            IamSplit::Val => val.into_iter().collect(),
            IamSplit::Train => self
                .form_ids()?
                .into_iter()
                .filter(|id| !test.contains(id) && !val.contains(id))
                .collect(),
        })
    }

    /// Parses one form.
    pub fn form(&self, id: &str) -> Result<IamForm> {
        parse_form(&self.root.join("xml").join(format!("{id}.xml")))
    }

    /// The form's half-size scan.
    pub fn form_image(&self, id: &str) -> Result<GrayImage> {
        open_image(&self.root.join("forms").join(format!("{id}.jpg")))
    }

    /// Writes the crops of a split as line folders (`NAME.png` + `NAME.gt.txt`) under
    /// `processed/iam_lines/SPLIT` and `processed/iam_paragraphs/SPLIT` of `cache_dir`, once.
    /// Returns the two folders.
    pub fn prepare(&self, cache_dir: &Path, split: IamSplit) -> Result<(PathBuf, PathBuf)> {
        let lines_dir = cache_dir
            .join("processed")
            .join("iam_lines")
            .join(split.name());
        let paras_dir = cache_dir
            .join("processed")
            .join("iam_paragraphs")
            .join(split.name());
        let done = lines_dir.join(".complete");
        if done.exists() {
            return Ok((lines_dir, paras_dir));
        }
        for d in [&lines_dir, &paras_dir] {
            std::fs::create_dir_all(d).map_err(|e| Error::io(d, e))?;
        }
        for id in self.split_ids(split)? {
            let form = self.form(&id)?;
            let image = self.form_image(&id)?;
            for (i, (text, r)) in form.lines.iter().zip(&form.regions).enumerate() {
                write_crop(&image, r, text, &lines_dir.join(format!("{id}-{i:02}")))?;
            }
            if let Some(r) = form.paragraph_region() {
                write_crop(&image, &r, &form.paragraph_text(), &paras_dir.join(&id))?;
            }
        }
        std::fs::write(&done, b"").map_err(|e| Error::io(&done, e))?;
        Ok((lines_dir, paras_dir))
    }
}

fn write_crop(image: &GrayImage, r: &Region, text: &str, stem: &Path) -> Result<()> {
    let x1 = r.x1.clamp(0, i64::from(image.width())) as u32;
    let y1 = r.y1.clamp(0, i64::from(image.height())) as u32;
    let x2 = r.x2.clamp(0, i64::from(image.width())) as u32;
    let y2 = r.y2.clamp(0, i64::from(image.height())) as u32;
    if x2 <= x1 || y2 <= y1 {
        return Err(Error::config(
            stem.display().to_string(),
            "region lies outside the form image",
        ));
    }
    let crop = image::imageops::crop_imm(image, x1, y1, x2 - x1, y2 - y1).to_image();
    let png = stem.with_extension("png");
    crop.save(&png)
        .map_err(|e| Error::config(png.display().to_string(), e))?;
    let gt = stem.with_extension("gt.txt");
    std::fs::write(&gt, text).map_err(|e| Error::io(&gt, e))
}
