//! `train-app fine-tune`: one command from a model and a folder of lines to a fine-tuned model
//! file, with the split, the config and the lines kept in the run directory.

use std::process::Command;

use crate::util::{infer_app, path, repo_root, stage, train_app, train_tiny};

#[test]
fn fine_tunes_a_model_on_a_folder_of_lines_in_one_command() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let base_run = tmp.path().join("base-run");
    train_tiny(&base_run, &["--epochs", "1"]);
    let base = tmp.path().join("base.htr");
    stage(&base_run, &base);

    let run = tmp.path().join("ft");
    let tuned = tmp.path().join("tuned.htr");
    let out = train_app(&[
        "fine-tune",
        "datasets/fixtures/testaments-mini",
        "--from",
        path(&base),
        "--epochs",
        "2",
        "--epoch-samples",
        "12",
        "--minutes",
        "5",
        "--run-dir",
        path(&run),
        "-o",
        path(&tuned),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("on 4 lines (2 held back") && stdout.contains("validation CER"),
        "{stdout}"
    );
    // The split is on disk: 6 labelled lines, 2 held back to pick the checkpoint.
    let count = |dir: &str| {
        std::fs::read_dir(run.join("lines").join(dir))
            .expect("split folder")
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.path().to_string_lossy().ends_with(".gt.txt"))
            })
            .count()
    };
    assert_eq!((count("train"), count("valid")), (4, 2));
    let config = std::fs::read_to_string(run.join("fine-tune.ron")).expect("config written");
    // A cosine over the minutes to a hundredth of the peak rate, no early stopping.
    for setting in [
        "lr: 0.001,",
        "decay_over: TimeLimit,",
        "early_stopping_patience: None,",
    ] {
        assert!(config.contains(setting), "{setting} in {config}");
    }

    // The file reads lines like any model.
    let read = Command::new(infer_app())
        .args([
            "ocr",
            "--model",
            path(&tuned),
            "--layout",
            "line",
            "-f",
            "jsonl",
        ])
        .arg(repo_root().join("datasets/fixtures/testaments-mini"))
        .output()
        .expect("infer-app starts");
    assert!(read.status.success(), "{read:?}");
    assert_eq!(String::from_utf8_lossy(&read.stdout).lines().count(), 6);

    // A second fine-tuning into the same run directory is refused, not mixed in.
    let again = Command::new(env!("CARGO_BIN_EXE_train-app"))
        .args(["fine-tune", "datasets/fixtures/testaments-mini", "--from"])
        .args([path(&base), "--run-dir", path(&run)])
        .current_dir(repo_root())
        .output()
        .expect("train-app starts");
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already holds checkpoints"),
        "{again:?}"
    );

    // More lines asked for than there are: an error that says how many there are.
    let too_many = Command::new(env!("CARGO_BIN_EXE_train-app"))
        .args([
            "fine-tune",
            "datasets/fixtures/testaments-mini",
            "--lines",
            "50",
        ])
        .args(["--from", path(&base), "--run-dir"])
        .arg(tmp.path().join("other"))
        .current_dir(repo_root())
        .output()
        .expect("train-app starts");
    assert!(!too_many.status.success());
    assert!(
        String::from_utf8_lossy(&too_many.stderr).contains("hold 6 labelled lines"),
        "{too_many:?}"
    );
}
