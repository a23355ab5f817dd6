//! Broken training data: reported by name and skipped, or fatal with `--strict`.

use std::process::Command;

use crate::util::{TINY_CONFIG, path, repo_root};

#[test]
fn broken_samples_are_reported_and_strict_fails() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("lines");
    std::fs::create_dir(&data).expect("mkdir");
    for e in std::fs::read_dir(repo_root().join("datasets/fixtures/testaments-mini"))
        .expect("fixture")
        .flatten()
    {
        std::fs::copy(e.path(), data.join(e.file_name())).expect("copy");
    }
    std::fs::write(data.join("corrupt.jpg"), b"\xff\xd8\xff\xe0 not a jpeg").expect("write");
    std::fs::write(data.join("corrupt.gt.txt"), "x").expect("write");
    let config = std::fs::read_to_string(repo_root().join(TINY_CONFIG))
        .expect("config")
        .replace("datasets/fixtures/testaments-mini", path(&data));
    let config_path = tmp.path().join("c.ron");
    std::fs::write(&config_path, config).expect("write");

    let run = |extra: &[&str], dir: &str| {
        Command::new(env!("CARGO_BIN_EXE_train-app"))
            .args([
                "train",
                "--config",
                path(&config_path),
                "--epochs",
                "1",
                "--run-dir",
            ])
            .arg(tmp.path().join(dir))
            .args(extra)
            .current_dir(repo_root())
            .output()
            .expect("starts")
    };
    let lenient = run(&[], "lenient");
    let stderr = String::from_utf8_lossy(&lenient.stderr);
    assert!(lenient.status.success(), "{stderr}");
    assert!(
        stderr.contains("corrupt.jpg") && stderr.contains("cannot decode"),
        "{stderr}"
    );
    assert!(
        stderr.contains("samples skipped"),
        "summary at the end: {stderr}"
    );

    let strict = run(&["--strict"], "strict");
    let stderr = String::from_utf8_lossy(&strict.stderr);
    assert!(!strict.status.success());
    assert!(stderr.contains("corrupt.jpg"), "{stderr}");
}

/// A decay over the time limit without one is refused at once, before data are read: here the
/// data do not exist, and the error is still about the option.
#[test]
fn time_limit_decay_without_max_minutes_is_refused_before_loading() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = std::fs::read_to_string(repo_root().join(TINY_CONFIG))
        .expect("config")
        .replace("datasets/fixtures/testaments-mini", "no/such/lines")
        .replace(
            "grad_accumulation: 1,",
            "grad_accumulation: 1, decay_over: TimeLimit,",
        );
    assert!(config.contains("decay_over: TimeLimit"), "{config}");
    let config_path = tmp.path().join("c.ron");
    std::fs::write(&config_path, config).expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_train-app"))
        .args(["train", "--config", path(&config_path), "--run-dir"])
        .arg(tmp.path().join("run"))
        .current_dir(repo_root())
        .output()
        .expect("starts");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("optim.decay_over") && stderr.contains("--max-minutes"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("no/such/lines"),
        "checked before loading: {stderr}"
    );
}
