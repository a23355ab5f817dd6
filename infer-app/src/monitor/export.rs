//! `infer-app feedback export`: flagged readings that came with a correction and an image,
//! written as a line folder (`NAME.EXT` + `NAME.gt.txt`, what `train-app` reads) with a
//! manifest, so users' corrections become training data.

use std::path::Path;

use anyhow::Context;
use serde::Serialize;

use super::store::Store;

/// One exported sample, in `manifest.json`.
#[derive(Debug, Serialize)]
pub struct Exported {
    /// `feedback-ID`: the file stem.
    pub name: String,
    /// Feedback row id.
    pub id: i64,
    /// When it was flagged.
    pub created: String,
    /// The recognition request.
    pub request_id: Option<String>,
    /// The model that read it.
    pub model: Option<String>,
    /// What the model read.
    pub predicted: Option<String>,
    /// What the user says (the `.gt.txt`).
    pub correction: String,
}

/// Writes every corrected sample into `dir`; returns them. Samples without an image or whose
/// image is not a format we read are skipped with a note on stderr.
pub fn export(store: &Store, dir: &Path) -> anyhow::Result<Vec<Exported>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut out = Vec::new();
    for stored in store.feedback(usize::MAX >> 1)? {
        let f = stored.feedback;
        let Some(correction) = f.correction.filter(|c| !c.trim().is_empty()) else {
            continue;
        };
        let Some(image) = f.image else {
            eprintln!("note: feedback #{} has no image; skipped", stored.id);
            continue;
        };
        let Some(ext) = image::guess_format(&image)
            .ok()
            .and_then(|f| f.extensions_str().first().copied())
        else {
            eprintln!(
                "note: feedback #{}: the image is not in a known format; skipped",
                stored.id
            );
            continue;
        };
        let name = format!("feedback-{}", stored.id);
        let write = |file: String, bytes: &[u8]| {
            let path = dir.join(file);
            std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))
        };
        write(format!("{name}.{ext}"), &image)?;
        // One line per sample: a multi-line correction of a paragraph keeps its newlines.
        write(
            format!("{name}.gt.txt"),
            format!("{}\n", correction.trim_end()).as_bytes(),
        )?;
        out.push(Exported {
            name,
            id: stored.id,
            created: stored.created,
            request_id: f.request_id,
            model: f.model,
            predicted: f.predicted,
            correction,
        });
    }
    out.reverse();
    let manifest = dir.join("manifest.json");
    std::fs::write(&manifest, serde_json::to_string_pretty(&out)?)
        .with_context(|| format!("writing {}", manifest.display()))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::store::{Feedback, Flag};

    #[test]
    fn corrected_flags_become_a_line_folder_train_app_reads() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("db.sqlite3")).expect("opens");
        let jpg = std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../datasets/fixtures/testaments-val-mini/AN_0006-0-002.jpg"),
        )
        .expect("fixture");
        let flag = |correction: Option<&str>, image: Option<Vec<u8>>, flag| Feedback {
            request_id: Some("r".into()),
            flag,
            predicted: Some("Pour le cas".into()),
            correction: correction.map(str::to_string),
            model: Some("default-line".into()),
            image,
        };
        store
            .record_feedback(&flag(
                Some("Dans le cas où je viendrais"),
                Some(jpg.clone()),
                Flag::Incorrect,
            ))
            .expect("stored");
        store
            .record_feedback(&flag(None, Some(jpg.clone()), Flag::Offensive))
            .expect("stored");
        store
            .record_feedback(&flag(Some("no image"), None, Flag::Incorrect))
            .expect("stored");
        let out = dir.path().join("export");
        let exported = export(&store, &out).expect("exports");
        assert_eq!(exported.len(), 1);
        let (samples, skipped) = text_recognizer::data::LineFolder::new(&out)
            .scan()
            .expect("a line folder");
        assert!(skipped.is_empty(), "{skipped:?}");
        assert_eq!(samples.len(), 1);
        assert_eq!(samples[0].text, "Dans le cas où je viendrais");
        assert_eq!(std::fs::read(&samples[0].image).expect("image"), jpg);
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("manifest.json")).expect("manifest"))
                .expect("JSON");
        assert_eq!(manifest[0]["predicted"], "Pour le cas");
    }
}
