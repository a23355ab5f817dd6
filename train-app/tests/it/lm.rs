//! `train-app lm build` / `lm eval` and attaching an LM to a model file (`convert --lm`).

use std::process::Command;

use text_recognizer::StagedModel;

use crate::util::{path, repo_root};

fn train_app(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_train-app"))
        .args(args)
        .current_dir(repo_root())
        .output()
        .expect("train-app starts")
}

#[test]
fn an_lm_built_from_line_folders_measures_and_rides_in_a_model_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lm = dir.path().join("mini.lm");
    let out = train_app(&[
        "lm",
        "build",
        "datasets/fixtures/testaments-mini",
        "--order",
        "5",
        "-o",
        path(&lm),
        "--held-out",
        "datasets/fixtures/testaments-val-mini",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Its own text is far more predictable than other writers' lines.
    let bits = |label: &str| -> f64 {
        stdout
            .lines()
            .find(|l| l.contains(label))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {label:?} in {stdout}"))
    };
    let (own, held) = (bits("its own text"), bits("held-out text"));
    assert!(own < held && own > 0.0, "own {own} vs held-out {held}");
    let out = train_app(&[
        "lm",
        "eval",
        path(&lm),
        "datasets/fixtures/testaments-val-mini",
    ]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("bits per character"));

    // convert --lm: the model file carries it, with a beam that uses it.
    let with = dir.path().join("with.htr");
    let out = train_app(&[
        "convert",
        "datasets/campaign/line.htr",
        "-o",
        path(&with),
        "--weights",
        "f32",
        "--lm",
        path(&lm),
        "--lm-weight",
        "0.7",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let staged = StagedModel::load(&with).expect("loads");
    assert_eq!(staged.lm().map(|l| l.order()), Some(5));
    assert_eq!(staged.manifest.preset.decode.beam, 4);
    assert_eq!(staged.manifest.preset.decode.lm_weight, 0.7);
    let out = train_app(&[
        "convert",
        path(&with),
        "-o",
        path(&with),
        "--weights",
        "f32",
        "--no-lm",
    ]);
    assert!(out.status.success());
    assert!(StagedModel::load(&with).expect("loads").lm().is_none());

    // A damaged LM is refused by name.
    let bytes = std::fs::read(&lm).expect("reads");
    std::fs::write(&lm, &bytes[..bytes.len() - 5]).expect("writes");
    let out = train_app(&[
        "lm",
        "eval",
        path(&lm),
        "datasets/fixtures/testaments-val-mini",
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("mini.lm") && stderr.contains("not a valid"),
        "{stderr}"
    );
}
