//! `infer-app ocr` over a folder with good, broken and non-image files: outputs, summary and
//! exit codes (0 all read, 1 some failed, 2 nothing could be done).

use std::path::Path;
use std::process::Command;

use image::{GrayImage, Luma};
use text_recognizer::artifact::{Manifest, Provenance};
use text_recognizer::model::{ModelConfig, Preset, PresetName};
use text_recognizer::{Charset, StagedModel};

/// A small randomly initialised line model: enough to exercise the whole path.
fn random_model(path: &Path) {
    let mut preset = Preset::named(PresetName::Line);
    preset.model = ModelConfig::tiny();
    let charset = Charset::from_texts(["abc"]);
    let model = preset
        .model
        .init(charset.vocab_size(), &burn::tensor::Device::flex());
    let manifest = Manifest {
        name: "random".into(),
        preset,
        charset,
        provenance: Provenance::default(),
    };
    StagedModel::from_model(manifest, model)
        .expect("packs")
        .save(path)
        .expect("saves");
}

fn infer_app(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_infer-app"))
        .args(args)
        .output()
        .expect("starts")
}

#[test]
fn good_broken_and_other_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let model = dir.path().join("m.htr");
    random_model(&model);
    let scans = dir.path().join("scans");
    std::fs::create_dir_all(scans.join("deeper")).expect("mkdir");
    GrayImage::from_pixel(90, 30, Luma([240]))
        .save(scans.join("good.png"))
        .expect("png");
    GrayImage::from_pixel(90, 30, Luma([240]))
        .save(scans.join("deeper/more.png"))
        .expect("png");
    std::fs::write(scans.join("broken.jpg"), b"\xff\xd8\xff not a jpeg").expect("write");
    std::fs::write(scans.join("readme.txt"), "hello").expect("write");
    let m = model.to_str().expect("utf-8");
    let s = scans.to_str().expect("utf-8");

    // txt (default): NAME.txt next to each image read.
    let out = infer_app(&["ocr", "--model", m, s]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(scans.join("good.txt").exists());
    assert!(!scans.join("broken.txt").exists());
    assert!(!scans.join("deeper/more.txt").exists(), "not recursive");
    assert!(
        stderr.contains("broken.jpg") && stderr.contains("cannot decode"),
        "{stderr}"
    );
    assert!(stderr.contains("readme.txt is not an image"), "{stderr}");
    assert!(
        stderr.contains("read 1 images") && stderr.contains("1 failed"),
        "{stderr}"
    );

    // jsonl on stdout: one record per image read, with the fields users rely on.
    let out = infer_app(&["ocr", "--model", m, "-f", "jsonl", "--recursive", s]);
    assert_eq!(out.status.code(), Some(1));
    let records: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(records.len(), 2);
    for key in [
        "path",
        "page",
        "text",
        "confidence",
        "lines",
        "model",
        "elapsed_ms",
    ] {
        assert!(
            records[0].get(key).is_some(),
            "{key} missing in {}",
            records[0]
        );
    }
    assert_eq!(records[0]["model"], "random");

    // Mirrored under -o, only good files: exit 0.
    let mirror = dir.path().join("mirror");
    let out = infer_app(&[
        "ocr",
        "--model",
        m,
        "--recursive",
        "-o",
        mirror.to_str().expect("utf-8"),
        &format!("{s}/*.png"),
        &format!("{s}/deeper"),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(mirror.join("good.txt").exists() && mirror.join("more.txt").exists());

    // good.png and good.bmp would both write good.txt: the second is an error, not a loss.
    GrayImage::from_pixel(90, 30, Luma([240]))
        .save(scans.join("deeper/more.bmp"))
        .expect("bmp");
    let out = infer_app(&["ocr", "--model", m, &format!("{s}/deeper")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("would overwrite the output of"), "{stderr}");

    let out = infer_app(&["ocr", "--model", "/no/model.htr", s]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/no/model.htr"));
}

/// A temporary folder with a random model and `n` blank line images in `scans/`; returns the
/// folder and the paths of the model and of `scans`.
fn setup(n: usize) -> (tempfile::TempDir, String, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let model = dir.path().join("m.htr");
    random_model(&model);
    let scans = dir.path().join("scans");
    std::fs::create_dir_all(&scans).expect("mkdir");
    for i in 0..n {
        GrayImage::from_pixel(60 + i as u32, 30, Luma([230]))
            .save(scans.join(format!("line-{i:02}.png")))
            .expect("png");
    }
    let utf8 = |p: &Path| p.to_str().expect("utf-8").to_string();
    (dir, utf8(&model), utf8(&scans))
}

#[test]
fn skip_existing_resumes_an_interrupted_jsonl_run() {
    let (dir, m, s) = setup(6);
    let out_file = dir.path().join("out.jsonl");
    let (m, s, o) = (m.as_str(), s.as_str(), out_file.to_str().expect("utf-8"));
    let out = infer_app(&["ocr", "--model", m, "-f", "jsonl", "-o", o, s]);
    assert_eq!(out.status.code(), Some(0));
    let full = std::fs::read_to_string(&out_file).expect("output");
    assert_eq!(full.lines().count(), 6);
    // An interruption: the first two records and half of the third survive.
    let lines: Vec<&str> = full.lines().collect();
    let torn = format!(
        "{}\n{}\n{}",
        lines[0],
        lines[1],
        &lines[2][..lines[2].len() / 2]
    );
    std::fs::write(&out_file, torn).expect("write");
    let out = infer_app(&[
        "ocr",
        "--model",
        m,
        "-f",
        "jsonl",
        "-o",
        o,
        "--skip-existing",
        s,
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("read 4 images") && stderr.contains("2 already done"),
        "{stderr}"
    );
    let resumed = std::fs::read_to_string(&out_file).expect("output");
    let mut paths: Vec<String> = resumed
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).expect("whole JSON lines")["path"]
                .to_string()
        })
        .collect();
    assert_eq!(paths.len(), 6, "{resumed}");
    paths.sort();
    paths.dedup();
    assert_eq!(paths.len(), 6, "every image exactly once");

    // Per-image files: a second run with --skip-existing reads nothing.
    let out = infer_app(&["ocr", "--model", m, s]);
    assert_eq!(out.status.code(), Some(0));
    let out = infer_app(&["ocr", "--model", m, "--skip-existing", s]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("read 0 images") && stderr.contains("6 already done"),
        "{stderr}"
    );
}

#[test]
fn shards_split_a_folder_without_overlap() {
    let (_dir, m, s) = setup(12);
    let (m, s) = (m.as_str(), s.as_str());
    let mut seen = Vec::new();
    for k in 1..=3 {
        let out = infer_app(&[
            "ocr",
            "--model",
            m,
            "-f",
            "csv",
            "--shard",
            &format!("{k}/3"),
            s,
        ]);
        assert_eq!(out.status.code(), Some(0));
        let mut reader = csv::Reader::from_reader(out.stdout.as_slice());
        for r in reader.records() {
            seen.push(r.expect("CSV record")[0].to_string());
        }
    }
    seen.sort();
    let n = seen.len();
    seen.dedup();
    assert_eq!((n, seen.len()), (12, 12), "each file in exactly one shard");
    let out = infer_app(&["ocr", "--model", m, "--shard", "4/3", s]);
    assert_eq!(out.status.code(), Some(2));
}

/// Validates `xml` with xmllint against `schema` (see datasets/schemas/fetch.sh).
fn xmllint(xml: &Path, schema: &Path) {
    let out = Command::new("xmllint")
        .args(["--noout", "--nonet", "--schema"])
        .arg(schema)
        .arg(xml)
        .output()
        .expect("xmllint runs (apt-get install libxml2-utils)");
    assert!(
        out.status.success(),
        "{} is not valid: {}",
        xml.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn page_xml_and_alto_are_valid_against_their_schemas() {
    let schemas = std::env::var_os("HTR_SCHEMA_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/schemas"),
        std::path::PathBuf::from,
    );
    let (page_xsd, alto_xsd) = (schemas.join("page.xsd"), schemas.join("alto-4-4.xsd"));
    for xsd in [&page_xsd, &alto_xsd] {
        assert!(
            xsd.exists(),
            "{} missing: run datasets/schemas/fetch.sh (CI does)",
            xsd.display()
        );
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let model = dir.path().join("m.htr");
    random_model(&model);
    // A page with three dark lines, and a plain line image.
    let scans = dir.path().join("scans");
    std::fs::create_dir_all(&scans).expect("mkdir");
    let mut page = GrayImage::from_pixel(300, 240, Luma([245]));
    for (top, bottom) in [(30, 50), (100, 120), (170, 190)] {
        for x in 20..280 {
            for y in top..bottom {
                if (x / 20) % 3 != 2 && x % 5 < 2 {
                    page.put_pixel(x, y, Luma([20]));
                }
            }
        }
    }
    page.save(scans.join("page & co.png")).expect("png");
    GrayImage::from_pixel(120, 32, Luma([240]))
        .save(scans.join("line.png"))
        .expect("png");
    let (m, s) = (
        model.to_str().expect("utf-8"),
        scans.to_str().expect("utf-8"),
    );
    for format in ["page", "alto"] {
        let out = infer_app(&["ocr", "--model", m, "-f", format, s]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for name in ["page & co", "line"] {
        xmllint(&scans.join(format!("{name}.page.xml")), &page_xsd);
        xmllint(&scans.join(format!("{name}.alto.xml")), &alto_xsd);
    }
    for ext in ["page.xml", "alto.xml"] {
        let xml = std::fs::read_to_string(scans.join(format!("page & co.{ext}"))).expect(ext);
        assert_eq!(xml.matches("<TextLine ").count(), 3, "{xml}");
    }
}

#[test]
fn eval_reports_the_cer_of_a_set_with_known_errors() {
    let (dir, m, s) = setup(4);
    let (m, s) = (m.as_str(), s.as_str());
    // What the model reads (one image per pass: padding then cannot differ between commands).
    let out = infer_app(&[
        "ocr",
        "--model",
        m,
        "--layout",
        "line",
        "--batch-size",
        "1",
        "-f",
        "jsonl",
        s,
    ]);
    assert_eq!(out.status.code(), Some(0));
    // References that differ from each hypothesis by exactly two characters.
    let (mut edits, mut length) = (0usize, 0usize);
    // The same readings as another engine's output files, for `eval --predictions`.
    let pred = dir.path().join("pred");
    std::fs::create_dir_all(&pred).expect("mkdir");
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let r: serde_json::Value = serde_json::from_str(line).expect("JSON");
        let path = Path::new(r["path"].as_str().expect("path"));
        let text = r["text"].as_str().expect("text");
        let reference = format!("{text}Zq");
        edits += 2;
        length += reference.chars().count();
        std::fs::write(path.with_extension("gt.txt"), reference).expect("gt");
        let stem = path.file_stem().expect("a name").to_string_lossy();
        std::fs::write(pred.join(format!("{stem}.txt")), format!("{text}\n")).expect("pred");
    }
    let out = infer_app(&["eval", "--model", m, "--batch-size", "1", "--json", s]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    let expected = 100.0 * edits as f64 / length as f64;
    let cer = report["cer"].as_f64().expect("cer");
    assert!(
        (cer - expected).abs() < 1e-9,
        "eval CER {cer} vs known {expected}"
    );
    assert_eq!(report["images"], 4);
    // Another engine's readings are scored by the same scorer: the same CER.
    let pred_arg = pred.to_string_lossy().to_string();
    let out = infer_app(&["eval", "--predictions", &pred_arg, "--json", s]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    let from_files = report["cer"].as_f64().expect("cer");
    assert!(
        (from_files - expected).abs() < 1e-9,
        "{from_files} vs {expected}"
    );
    // A missing reading is scored as empty and listed (exit 1).
    let first = std::fs::read_dir(&pred)
        .expect("lists")
        .next()
        .expect("a file")
        .expect("entry");
    std::fs::remove_file(first.path()).expect("removes");
    let out = infer_app(&["eval", "--predictions", &pred_arg, "--json", s]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_eq!(report["skipped"].as_array().map(Vec::len), Some(1));
}

/// `--log DB` records each page read and each failure in the prediction log.
#[test]
fn ocr_log_records_every_page_and_failure() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fixtures =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../datasets/fixtures/testaments-val-mini");
    for name in ["AN_0006-0-002.jpg", "AD78_0034-1-009.jpg"] {
        std::fs::copy(fixtures.join(name), dir.path().join(name)).expect("copies");
    }
    std::fs::write(
        dir.path().join("broken.png"),
        b"\x89PNG\r\n\x1a\n not really",
    )
    .expect("writes");
    let db = dir.path().join("log.sqlite3");
    let out = infer_app(&[
        "ocr",
        dir.path().to_str().expect("utf-8"),
        "--layout",
        "line",
        "-o",
        "-",
        "--log",
        db.to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(1), "one input failed");
    let conn = rusqlite::Connection::open(&db).expect("opens");
    let mut rows: Vec<(u16, Option<u32>, Option<String>, i64)> = conn
        .prepare(
            "SELECT status, width, image_sha256, pred_chars FROM predictions WHERE route = 'ocr'",
        )
        .and_then(|mut s| {
            s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                .collect()
        })
        .expect("rows");
    rows.sort();
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert!(
        rows[..2]
            .iter()
            .all(|r| r.0 == 200 && r.1.is_some() && r.2.is_some() && r.3 > 0)
    );
    assert_eq!((rows[2].0, rows[2].1), (422, None));
}
