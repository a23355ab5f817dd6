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
        provenance: Provenance {
            run_dir: String::new(),
            epoch: 0,
            steps: 0,
            valid_cer: None,
            valid_wer: None,
            train_samples: 0,
            valid_samples: 0,
            data: vec![],
            git_commit: None,
            staged_at: 0,
        },
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

    let out = infer_app(&["ocr", "--model", m, s]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stdout.lines().count(), 1, "only good.png is read: {stdout}");
    assert!(stdout.starts_with(&format!("{}\t", scans.join("good.png").display())));
    assert!(
        stderr.contains("broken.jpg") && stderr.contains("cannot decode"),
        "{stderr}"
    );
    assert!(stderr.contains("readme.txt is not an image"), "{stderr}");
    assert!(stderr.contains("1 of 2 inputs failed"), "{stderr}");

    let out = infer_app(&[
        "ocr",
        "--model",
        m,
        "--recursive",
        &format!("{s}/*.png"),
        &format!("{s}/deeper"),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 2);

    let out = infer_app(&["ocr", "--model", "/no/model.htr", s]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/no/model.htr"));
}
