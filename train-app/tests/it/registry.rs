//! The model registry: staging registers numbered versions with their lineage, aliases move,
//! `infer-app --model registry:NAME@ALIAS` loads what the alias points to, deletion, two
//! stagings at once, and a staging that crashes before it is published.

use std::path::Path;
use std::process::{Command, Output};

use text_recognizer::metrics::{ErrorCount, char_errors};

use crate::util::{
    TINY_CONFIG, assert_success, infer_app, path, repo_root, train_app, train_app_in, train_tiny,
};

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// CER (%) of `model` on the memorised lines, read by `infer-app`.
fn cer(registry: &Path, model: &str) -> f64 {
    let folder = repo_root().join("datasets/fixtures/testaments-mini");
    let out = Command::new(infer_app())
        .args(["ocr", "--model", model, "--layout", "line", "-f", "jsonl"])
        .arg(&folder)
        .env("HTR_REGISTRY", registry)
        .output()
        .expect("infer-app starts");
    assert_success("infer-app", &["ocr", "--model", model], &out);
    let total: ErrorCount = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("a JSON record"))
        .map(|r| {
            let image = r["path"].as_str().unwrap_or_default();
            let gt = Path::new(image).with_extension("gt.txt");
            let reference = std::fs::read_to_string(gt).expect("transcription");
            char_errors(r["text"].as_str().unwrap_or_default(), reference.trim_end())
        })
        .sum();
    100.0 * total.rate()
}

#[test]
fn stage_alias_load_by_alias_and_delete() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let reg = tmp.path().join("registry");
    let (weak, strong) = (tmp.path().join("weak"), tmp.path().join("strong"));
    train_tiny(&weak, &["--epochs", "1"]);
    train_app(&["train", "--config", TINY_CONFIG, "--run-dir", path(&strong)]);

    let out = train_app_in(&reg, &["stage", path(&weak), "--name", "lines"]);
    assert!(
        stdout(&out).contains("registered lines:1"),
        "{}",
        stdout(&out)
    );
    let out = train_app_in(
        &reg,
        &[
            "stage",
            path(&strong),
            "--name",
            "lines",
            "--alias",
            "staging",
        ],
    );
    assert!(
        stdout(&out).contains("registered lines:2"),
        "{}",
        stdout(&out)
    );

    // Lineage travels with the version.
    let version = std::fs::read_to_string(reg.join("lines/2/version.ron")).expect("lineage");
    assert!(
        version.contains("strong") && version.contains("testaments-mini"),
        "{version}"
    );
    for f in ["model.htr", "config.ron", "run.ron", "metrics.csv"] {
        assert!(reg.join("lines/2").join(f).is_file(), "{f} copied");
    }

    // Promote what staging points to; the alias decides which weights infer-app loads.
    train_app_in(&reg, &["registry", "alias", "lines@staging", "production"]);
    let strong_cer = cer(&reg, "registry:lines@production");
    assert!(strong_cer <= 2.0, "the memorised model: {strong_cer} %");
    assert_eq!(cer(&reg, "registry:lines:2"), strong_cer);
    train_app_in(&reg, &["registry", "alias", "lines@1", "production"]);
    let weak_cer = cer(&reg, "registry:lines@production");
    assert!(weak_cer > 20.0, "after one epoch: {weak_cer} %");

    let list = stdout(&train_app_in(&reg, &["registry", "list", "lines"]));
    assert!(
        list.contains("production") && list.contains("staging"),
        "{list}"
    );
    let show = stdout(&train_app_in(
        &reg,
        &["registry", "show", "lines@production"],
    ));
    assert!(show.contains("model:      lines:1"), "{show}");

    // Deleting a version takes its aliases with it; asking for it is then a clear error.
    train_app_in(&reg, &["registry", "delete", "lines:1"]);
    let out = Command::new(infer_app())
        .args(["ocr", "--model", "registry:lines@production"])
        .arg(repo_root().join("datasets/fixtures/testaments-mini"))
        .env("HTR_REGISTRY", &reg)
        .output()
        .expect("infer-app starts");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no alias 'production'"), "{stderr}");
    assert_eq!(cer(&reg, "registry:lines"), strong_cer, "newest is 2");

    // Fine-tuning from the registry records the parent.
    let child = tmp.path().join("child");
    train_app_in(
        &reg,
        &[
            "train",
            "--config",
            TINY_CONFIG,
            "--run-dir",
            path(&child),
            "--epochs",
            "1",
            "--init-from",
            "registry:lines@staging",
        ],
    );
    train_app_in(&reg, &["stage", path(&child), "--name", "lines"]);
    let version = std::fs::read_to_string(reg.join("lines/3/version.ron")).expect("lineage");
    assert!(
        version.contains("registry:lines@staging (lines:2)"),
        "{version}"
    );
}

#[test]
fn concurrent_stagings_get_distinct_versions_and_a_crash_publishes_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let reg = tmp.path().join("registry");
    let run = tmp.path().join("run");
    train_tiny(&run, &["--epochs", "1"]);

    for _ in 0..4 {
        train_app_in(&reg, &["stage", path(&run), "--name", "m"]);
    }
    let spawned: Vec<_> = (0..4)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_train-app"))
                .args(["stage", path(&run), "--name", "m"])
                .env("HTR_REGISTRY", &reg)
                .current_dir(repo_root())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .expect("starts")
        })
        .collect();
    for child in spawned {
        let out = child.wait_with_output().expect("ends");
        assert!(out.status.success());
    }
    let versions: Vec<String> = std::fs::read_dir(reg.join("m"))
        .expect("model dir")
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.parse::<u32>().is_ok())
        .collect();
    assert_eq!(versions.len(), 8, "4 in a row and 4 at once: {versions:?}");
    for v in 1..=8 {
        let info = std::fs::read_to_string(reg.join(format!("m/{v}/version.ron"))).expect("ron");
        assert!(info.contains(&format!("version: {v},")), "{info}");
    }

    // Killed after writing the version, before publishing it.
    let out = Command::new(env!("CARGO_BIN_EXE_train-app"))
        .args(["stage", path(&run), "--name", "m"])
        .env("HTR_REGISTRY", &reg)
        .env("HTR_FAILPOINT", "registry-before-publish")
        .current_dir(repo_root())
        .output()
        .expect("starts");
    assert!(!out.status.success(), "the failpoint aborts");
    let list = stdout(&train_app_in(&reg, &["registry", "list", "m"]));
    assert_eq!(list.lines().count(), 1 + 8, "no ninth version: {list}");
    let out = train_app_in(&reg, &["stage", path(&run), "--name", "m"]);
    assert!(stdout(&out).contains("registered m:9"), "{}", stdout(&out));
}
