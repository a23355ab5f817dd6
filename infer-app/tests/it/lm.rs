//! Reading with a character LM: `--lm`, `--lm-weight`, `--no-lm` and a model file that carries
//! one, on real validation lines with the campaign's CTC model (prefix beams).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use text_recognizer::StagedModel;
use text_recognizer::data::Conventions;
use text_recognizer::lm::{CharLm, Smoothing, corpus_lines};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn eval(args: &[&str]) -> (serde_json::Value, Output) {
    let val = root().join("datasets/fixtures/testaments-val-mini");
    let out = Command::new(env!("CARGO_BIN_EXE_infer-app"))
        .arg("eval")
        .arg(&val)
        .args(["--json", "--worst", "0"])
        .args(args)
        .output()
        .expect("starts");
    let report = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (report, out)
}

#[test]
fn reading_with_an_lm_from_options_and_from_the_model_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fixtures = root().join("datasets/fixtures");
    let (text, _) = corpus_lines(
        &[fixtures.join("testaments-mini")],
        &Conventions::default(),
        None,
    )
    .expect("fixture transcriptions");
    let lm =
        CharLm::build(text.iter().map(String::as_str), 5, Smoothing::KneserNey).expect("builds");
    let lm_path = dir.path().join("mini.lm");
    lm.save(&lm_path).expect("saves");
    let lm_arg = lm_path.to_string_lossy().to_string();
    let model = root().join("datasets/campaign/line.htr");
    let model_arg = model.to_string_lossy().to_string();

    // The campaign's file carries the real sets' LM; --no-lm gives plain prefix beams.
    let (own, _) = eval(&["--model", &model_arg]);
    let own_decoding = own["decoding"].as_str().unwrap_or_default();
    assert!(own_decoding.contains("character LM"), "{own_decoding}");
    let (plain, out) = eval(&["--model", &model_arg, "--beam", "4", "--no-lm"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Weight 0 and no bonus: the LM is consulted but changes nothing.
    let (zero, out) = eval(&[
        "--model",
        &model_arg,
        "--beam",
        "4",
        "--lm",
        &lm_arg,
        "--lm-weight",
        "0",
        "--lm-bonus",
        "0",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(zero["cer"], plain["cer"]);
    let decoding = zero["decoding"].as_str().unwrap_or_default();
    assert!(decoding.contains("character LM"), "{decoding}");

    // A model file that carries the LM reads with it unasked; --no-lm reads without.
    let with = dir.path().join("with-lm.htr");
    let mut staged = StagedModel::load(&model).expect("loads");
    staged.manifest.preset.decode.beam = 4;
    staged.with_lm(Some(lm)).save(&with).expect("saves");
    let with_arg = with.to_string_lossy().to_string();
    let (carried, out) = eval(&["--model", &with_arg]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        carried["decoding"]
            .as_str()
            .unwrap_or_default()
            .contains("character LM")
    );
    let (without, _) = eval(&["--model", &with_arg, "--no-lm"]);
    assert!(
        !without["decoding"]
            .as_str()
            .unwrap_or_default()
            .contains("LM")
    );
    assert_eq!(without["cer"], plain["cer"]);

    // A truncated LM is refused with its name, before anything is read.
    let bytes = std::fs::read(&lm_path).expect("reads");
    let cut = dir.path().join("cut.lm");
    std::fs::write(&cut, &bytes[..bytes.len() / 3]).expect("writes");
    let cut_arg = cut.to_string_lossy().to_string();
    let (_, out) = eval(&["--model", &model_arg, "--lm", &cut_arg]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cut.lm") && stderr.contains("language model"),
        "{stderr}"
    );
}
