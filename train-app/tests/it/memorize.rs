//! The project's proof that learning works: a tiny line model trained by `train-app` memorises a
//! handful of real handwritten lines, and the staged model read back by `infer-app` gives the same
//! predictions.

use std::collections::BTreeMap;
use std::process::Command;

use text_recognizer::metrics::char_errors;

use crate::util::{TINY_CONFIG, epoch_cers, infer_app, path, repo_root, stage, train_app};

#[test]
fn tiny_model_memorises_lines_and_the_staged_model_agrees() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let run = tmp.path().join("run");
    train_app(&["train", "--config", TINY_CONFIG, "--run-dir", path(&run)]);

    let cers = epoch_cers(&run);
    assert_eq!(cers.len(), 12, "one metrics row per epoch: {cers:?}");
    let best = cers.iter().map(|&(_, c)| c).fold(f64::INFINITY, f64::min);
    assert!(best <= 2.0, "validation CER never reached 2 %: {cers:?}");

    let model = tmp.path().join("memorized.htr");
    stage(&run, &model);

    let folder = repo_root().join("datasets/fixtures/testaments-mini");
    let out = Command::new(infer_app())
        .args([
            "ocr",
            "--model",
            path(&model),
            "--layout",
            "line",
            "-f",
            "jsonl",
        ])
        .arg(&folder)
        .output()
        .expect("infer-app starts");
    crate::util::assert_success("infer-app", &["ocr"], &out);
    let stdout = String::from_utf8(out.stdout).expect("UTF-8 output");
    let predictions: BTreeMap<String, String> = stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("a JSON record"))
        .map(|r| {
            (
                r["path"].as_str().unwrap_or_default().to_string(),
                r["text"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(predictions.len(), 6, "{stdout}");

    // infer-app on the staged model must reach the CER the best checkpoint had in training.
    let total = predictions
        .iter()
        .map(|(image, hyp)| {
            let gt = std::path::Path::new(image).with_extension("gt.txt");
            let reference = std::fs::read_to_string(gt).expect("transcription");
            char_errors(hyp, reference.trim_end())
        })
        .sum::<text_recognizer::metrics::ErrorCount>();
    let staged_cer = 100.0 * total.rate();
    assert!(
        (staged_cer - best).abs() < 1e-9,
        "staged model CER {staged_cer} % vs best epoch {best} %"
    );

    // And the same strings the validation step wrote for that epoch.
    let best_epoch = cers
        .iter()
        .rev()
        .find(|&&(_, c)| c == best)
        .map(|&(e, _)| e)
        .expect("best epoch");
    let samples =
        std::fs::read_to_string(run.join("samples").join(format!("epoch-{best_epoch}.txt")))
            .expect("sample predictions");
    for hyp in predictions.values() {
        assert!(
            samples.contains(&format!("HYP: {hyp}\n")),
            "{hyp:?} not among {samples}"
        );
    }
}
