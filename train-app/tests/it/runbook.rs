//! The cloud runbook's scripts (`datasets/cloud/`), dry-run on this machine: set-up, a named
//! run, a SIGTERM preemption, the restart that resumes it, following it, staging.

use std::process::Command;

use crate::util::{assert_success, repo_root};

#[test]
fn the_cloud_scripts_run_end_to_end_on_cpu() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = Command::new("bash")
        .arg("datasets/cloud/dry-run.sh")
        .env("TRAIN_APP", env!("CARGO_BIN_EXE_train-app"))
        .env("RUNS", tmp.path().join("runs"))
        .env("STAGED", tmp.path().join("staged"))
        .current_dir(repo_root())
        .output()
        .expect("bash runs");
    assert_success("datasets/cloud/dry-run.sh", &[], &out);
    assert!(String::from_utf8_lossy(&out.stdout).contains("dry run passed"));
    assert!(tmp.path().join("staged/dry-run.htr").is_file());
}
