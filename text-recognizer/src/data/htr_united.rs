//! Real handwriting by name: the HTR-United sets (`recipes/htr-united.ron`), each a public
//! repository of page images with ALTO or PAGE XML, downloaded at a pinned commit and cut into
//! line folders with a page-level split (no page, hence no line of it, in two splits).
//!
//! ```text
//! CACHE/downloaded/NAME/NAME-COMMIT.zip          the archive (resumable, SHA-256 checked)
//! CACHE/downloaded/NAME/unpacked/                its contents
//! CACHE/datasets/NAME/lines/{train,val}/         PAGE-RR-LLL.png + .gt.txt, one per line
//! CACHE/datasets/NAME/ATTRIBUTION.txt            the licence and credit every derivative keeps
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::download::{Recipe, download, unzip};
use super::line_folder::Skipped;
use super::pages::{crop, parse_page_xml_with_images};
use crate::error::{Error, Result};
use crate::image::open_image;

/// Share of a set's pages (at least one) that go to validation.
pub const VALID_SHARE: f64 = 0.1;

/// One set of the catalogue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HtrUnitedSet {
    /// The name `train-app data download` takes.
    pub name: String,
    /// What it is.
    pub title: String,
    /// `owner/name` on GitHub.
    pub repository: String,
    /// The pinned commit.
    pub commit: String,
    /// SHA-256 of the archive when known (see [`Recipe::sha256`]).
    pub sha256: Option<String>,
    /// Licence.
    pub license: String,
    /// The credit every file derived from it keeps.
    pub attribution: String,
}

impl HtrUnitedSet {
    /// The sets this build knows.
    pub fn catalogue() -> Vec<HtrUnitedSet> {
        crate::ron_file::from_ron(
            include_str!("../../recipes/htr-united.ron"),
            "text-recognizer/recipes/htr-united.ron",
        )
        .unwrap_or_else(|e| unreachable!("the shipped catalogue is tested: {e}"))
    }

    /// The set called `name`, or an error listing the known ones.
    pub fn named(name: &str) -> Result<HtrUnitedSet> {
        let all = HtrUnitedSet::catalogue();
        let known: Vec<String> = all.iter().map(|s| s.name.clone()).collect();
        all.into_iter().find(|s| s.name == name).ok_or_else(|| {
            Error::config(
                name.to_string(),
                format!("unknown data set (known: iam, {})", known.join(", ")),
            )
        })
    }

    /// GitHub's archive of the pinned commit.
    pub fn url(&self) -> String {
        format!(
            "https://github.com/{}/archive/{}.zip",
            self.repository, self.commit
        )
    }

    /// The download, from `url` (a mirror) or GitHub, checked against `sha256` or the set's own.
    pub fn recipe(&self, url: Option<&str>, sha256: Option<&str>) -> Recipe {
        Recipe {
            name: self.name.clone(),
            url: url.map_or_else(|| self.url(), str::to_string),
            filename: format!(
                "{}-{}.zip",
                self.name,
                &self.commit[..self.commit.len().min(12)]
            ),
            sha256: sha256.map(str::to_string).or_else(|| self.sha256.clone()),
            license: self.license.clone(),
            splits: format!(
                "by page, {:.0} % of pages for validation",
                100.0 * VALID_SHARE
            ),
        }
    }
}

/// What [`prepare`] made.
#[derive(Clone, Debug, Default)]
pub struct Prepared {
    /// Training lines folder.
    pub train: PathBuf,
    /// Validation lines folder.
    pub val: PathBuf,
    /// Pages cut, per split.
    pub pages: (usize, usize),
    /// Lines written, per split.
    pub lines: (usize, usize),
    /// Pages and lines left out, with the reason (no image in the repository, empty text, …).
    pub skipped: Vec<Skipped>,
}

/// Where a set's line folders go.
pub fn dataset_dir(cache: &Path, name: &str) -> PathBuf {
    cache.join("datasets").join(name)
}

/// Downloads `recipe` for `set` into the cache (continuing a partial download), unpacks it and
/// cuts its pages into `CACHE/datasets/NAME/lines/{train,val}`. Page images missing from the
/// repository are looked up by file name in `images` when given. Runs again from where it
/// stopped: a verified archive is not fetched again, an unpacked one not unpacked again.
pub fn prepare(
    set: &HtrUnitedSet,
    recipe: &Recipe,
    cache: &Path,
    images: Option<&Path>,
    progress: impl FnMut(u64, Option<u64>),
) -> Result<Prepared> {
    let dir = cache.join("downloaded").join(&set.name);
    let archive = download(recipe, &dir, progress)?;
    let unpacked = dir.join("unpacked");
    let done = dir.join("unpacked.ok");
    if !done.exists() {
        if unpacked.exists() {
            std::fs::remove_dir_all(&unpacked).map_err(|e| Error::io(&unpacked, e))?;
        }
        unzip(&archive, &unpacked)?;
        std::fs::write(&done, &recipe.filename).map_err(|e| Error::io(&done, e))?;
    }
    cut_lines(set, &unpacked, &dataset_dir(cache, &set.name), images)
}

/// Cuts every ALTO/PAGE page under `root` into line crops, the pages split by a hash of their
/// path (stable across runs and machines).
pub fn cut_lines(
    set: &HtrUnitedSet,
    root: &Path,
    out: &Path,
    images: Option<&Path>,
) -> Result<Prepared> {
    let mut xmls = Vec::new();
    super::pages::collect_xml(root, &mut xmls)?;
    let mut prepared = Prepared {
        train: out.join("lines").join("train"),
        val: out.join("lines").join("val"),
        ..Prepared::default()
    };
    // Parse first: only pages that hold lines take part in the split.
    let mut pages = Vec::new();
    for xml in xmls {
        match parse_page_xml_with_images(&xml, images) {
            Ok(page) if page.regions.iter().any(|r| !r.is_empty()) => pages.push((xml, page)),
            Ok(_) => {}
            // Repositories hold other XML too (metadata, schemas): not pages, not errors.
            Err(e) if e.to_string().contains("neither ALTO nor PAGE") => {}
            Err(e) => prepared.skipped.push(Skipped {
                path: xml,
                reason: if images.is_some() {
                    e.to_string()
                } else {
                    format!("{e} (give --images DIR if the scans are published elsewhere)")
                },
            }),
        }
    }
    let key = |xml: &Path| -> String {
        let rel = xml.strip_prefix(root).unwrap_or(xml).to_string_lossy();
        Sha256::digest(rel.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    pages.sort_by_cached_key(|(xml, _)| key(xml));
    let n_val = if pages.len() < 2 {
        0
    } else {
        ((pages.len() as f64 * VALID_SHARE).ceil() as usize).max(1)
    };
    for dir in [&prepared.train, &prepared.val] {
        if dir.exists() {
            std::fs::remove_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    for (i, (xml, page)) in pages.iter().enumerate() {
        let image = match open_image(&page.image) {
            Ok(image) => image,
            Err(e) => {
                prepared.skipped.push(Skipped {
                    path: xml.clone(),
                    reason: e.to_string(),
                });
                continue;
            }
        };
        let val = i < n_val;
        let dir = if val { &prepared.val } else { &prepared.train };
        let stem = xml
            .strip_prefix(root)
            .unwrap_or(xml)
            .with_extension("")
            .to_string_lossy()
            .replace(['/', '\\', ' '], "_");
        let mut written = 0;
        for (r, lines) in page.regions.iter().enumerate() {
            for (l, line) in lines.iter().enumerate() {
                let text = line.text.trim();
                let what = format!("region {r} line {l}");
                let Some(crop) = (!text.is_empty())
                    .then(|| crop(&image, &line.polygon))
                    .flatten()
                else {
                    prepared.skipped.push(Skipped {
                        path: xml.clone(),
                        reason: format!("{what}: empty transcription or outside the image"),
                    });
                    continue;
                };
                let name = dir.join(format!("{stem}-{r:02}-{l:03}"));
                let png = name.with_extension("png");
                crop.save(&png)
                    .map_err(|e| Error::config(png.display().to_string(), e))?;
                let gt = name.with_extension("gt.txt");
                std::fs::write(&gt, format!("{text}\n")).map_err(|e| Error::io(&gt, e))?;
                written += 1;
            }
        }
        if val {
            prepared.pages.1 += 1;
            prepared.lines.1 += written;
        } else {
            prepared.pages.0 += 1;
            prepared.lines.0 += written;
        }
    }
    let credit = out.join("ATTRIBUTION.txt");
    std::fs::write(
        &credit,
        format!(
            "{}\n\nSource: {} at commit {} ({}).\nLicence: {}. Keep this attribution in every \
             model, report or file derived from these lines.\nSplit: by page, {} pages for \
             training and {} for validation.\n",
            set.title,
            set.repository,
            set.commit,
            set.attribution,
            set.license,
            prepared.pages.0,
            prepared.pages.1
        ),
    )
    .map_err(|e| Error::io(&credit, e))?;
    Ok(prepared)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use zip::write::SimpleFileOptions;

    use super::*;
    use crate::data::LineFolder;

    #[test]
    fn the_catalogue_names_the_four_sets_pinned() {
        let names: Vec<String> = HtrUnitedSet::catalogue()
            .into_iter()
            .map(|s| {
                assert_eq!(s.commit.len(), 40, "{}: a full commit hash", s.name);
                assert!(s.url().starts_with("https://github.com/HTR-United/"));
                assert!(s.attribution.contains("CC-BY-4.0"));
                s.name
            })
            .collect();
        assert_eq!(
            names,
            [
                "testaments",
                "cremma-mss18",
                "lectaurep-bronod",
                "lectaurep-mariages"
            ]
        );
        let err = HtrUnitedSet::named("nope").expect_err("unknown");
        assert!(err.to_string().contains("testaments"), "{err}");
    }

    /// An archive in the repositories' layout (`REPO-COMMIT/data/batch/PAGE.{xml,jpg}`), with
    /// the three real pages of the fixture, a README and a page whose image is missing.
    fn archive() -> Vec<u8> {
        let fixture =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../datasets/fixtures/testaments-pages");
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let opts = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
        let top = "CREMMA-AN-TestamentsDePoilus-0123456789abcdef0123456789abcdef01234567";
        zip.start_file(format!("{top}/README.md"), opts)
            .expect("zip");
        zip.write_all(b"# a data set\n").expect("zip");
        let mut names: Vec<_> = std::fs::read_dir(&fixture)
            .expect("fixture")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "xml" || x == "jpg"))
            .collect();
        names.sort();
        for path in &names {
            let name = path.file_name().and_then(|n| n.to_str()).expect("name");
            zip.start_file(format!("{top}/data/batch-1/{name}"), opts)
                .expect("zip");
            zip.write_all(&std::fs::read(path).expect("read"))
                .expect("zip");
        }
        // A page published without its image.
        let xml = names
            .iter()
            .find(|p| p.extension().is_some_and(|x| x == "xml"))
            .expect("xml");
        zip.start_file(format!("{top}/data/batch-2/orphan.xml"), opts)
            .expect("zip");
        zip.write_all(&std::fs::read(xml).expect("read"))
            .expect("zip");
        zip.finish().expect("zip").into_inner()
    }

    #[test]
    fn downloads_a_set_from_a_loopback_server_and_splits_it_by_page() {
        let body = archive();
        let sha: String = Sha256::digest(&body)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let set = HtrUnitedSet::named("testaments").expect("known");
        let cache = tempfile::tempdir().expect("tempdir");
        // One request only: the second run must use the verified archive.
        let url = crate::data::download::tests::serve(body, 1);
        let recipe = set.recipe(Some(&url), Some(&sha));
        let first = prepare(&set, &recipe, cache.path(), None, |_, _| {}).expect("prepares");
        assert_eq!(first.pages, (2, 1), "3 pages with images: 2 train, 1 val");
        assert!(first.lines.0 > 20 && first.lines.1 > 5, "{:?}", first.lines);
        assert!(
            first
                .skipped
                .iter()
                .any(|s| s.path.ends_with("orphan.xml") && s.reason.contains("no page image")),
            "{:?}",
            first.skipped
        );
        // The folders read as line folders, and no page is in both.
        let (train, _) = LineFolder::new(&first.train).scan().expect("train");
        let (val, _) = LineFolder::new(&first.val).scan().expect("val");
        assert_eq!((train.len(), val.len()), first.lines);
        let page = |p: &Path| -> String {
            let n = p
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_string();
            n.rsplitn(3, '-').nth(2).unwrap_or_default().to_string()
        };
        for v in &val {
            assert!(train.iter().all(|t| page(&t.image) != page(&v.image)));
        }
        let credit = std::fs::read_to_string(
            dataset_dir(cache.path(), "testaments").join("ATTRIBUTION.txt"),
        )
        .expect("attribution");
        assert!(
            credit.contains("CC-BY-4.0") && credit.contains("Chagué"),
            "{credit}"
        );

        let again = prepare(&set, &recipe, cache.path(), None, |_, _| {}).expect("cached");
        assert_eq!((again.pages, again.lines), (first.pages, first.lines));

        // The scans published elsewhere: `--images` completes the page without one.
        let fixture =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../datasets/fixtures/testaments-pages");
        let unpacked = cache.path().join("downloaded/testaments/unpacked");
        let out = dataset_dir(cache.path(), "testaments");
        let all = cut_lines(&set, &unpacked, &out, Some(&fixture)).expect("cuts");
        assert_eq!(all.pages.0 + all.pages.1, 4, "{:?}", all.skipped);
    }
}
