//! Resuming: a run stopped after epoch 1 and resumed ends with the same files as one that ran
//! straight through, and no epoch missing.

use std::collections::BTreeSet;
use std::path::Path;

use crate::util::{TINY_CONFIG, epoch_cers, path, train_app, train_tiny};

/// Relative paths of every file under `dir` except checkpoints (which keep-best/keep-last prune).
fn layout(dir: &Path) -> BTreeSet<String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).expect("readable").flatten() {
            let p = entry.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.insert(
                    p.strip_prefix(root)
                        .expect("under root")
                        .display()
                        .to_string(),
                );
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(dir, dir, &mut out);
    out.retain(|p| !p.starts_with("checkpoint"));
    out
}

#[test]
fn a_resumed_run_loses_no_epoch() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let straight = tmp.path().join("straight");
    train_tiny(&straight, &["--epochs", "3"]);

    let resumed = tmp.path().join("resumed");
    train_tiny(&resumed, &["--epochs", "1"]);
    assert_eq!(epoch_cers(&resumed).len(), 1);
    let out = train_app(&["train", "--resume", path(&resumed), "--epochs", "3"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("starting at epoch 2"), "{stderr}");

    let epochs: Vec<usize> = epoch_cers(&resumed).iter().map(|&(e, _)| e).collect();
    assert_eq!(epochs, vec![1, 2, 3]);
    assert_eq!(layout(&resumed), layout(&straight));
    assert!(resumed.join("checkpoint/model-3.bpk").exists());
}

#[test]
fn starting_over_an_existing_run_is_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let run = tmp.path().join("run");
    train_tiny(&run, &["--epochs", "1"]);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_train-app"))
        .args(["train", "--config", TINY_CONFIG, "--run-dir", path(&run)])
        .current_dir(crate::util::repo_root())
        .output()
        .expect("starts");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--resume"));
}
