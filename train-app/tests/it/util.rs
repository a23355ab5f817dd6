//! Running the apps from tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root (configs use paths relative to it).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The memorization config every test here trains.
pub const TINY_CONFIG: &str = "datasets/configs/memorize-tiny.ron";

/// Runs `train-app` from the repository root; panics with its output if it fails.
pub fn train_app(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_train-app"))
        .args(args)
        .arg("--log-progress")
        .current_dir(repo_root())
        .output()
        .expect("train-app starts");
    assert_success("train-app", args, &out);
    out
}

/// Runs `train-app` from the repository root with `registry` as its model registry; panics
/// with its output if it fails.
pub fn train_app_in(registry: &Path, args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_train-app"))
        .args(args)
        .env("HTR_REGISTRY", registry)
        .current_dir(repo_root())
        .output()
        .expect("train-app starts");
    assert_success("train-app", args, &out);
    out
}

/// Trains the memorisation config into `run` with `extra` options; panics if it fails.
pub fn train_tiny(run: &Path, extra: &[&str]) -> Output {
    let args = ["train", "--config", TINY_CONFIG, "--run-dir", path(run)];
    train_app(&[&args[..], extra].concat())
}

/// `train-app stage` (no progress flag).
pub fn stage(run_dir: &Path, output: &Path) -> Output {
    let args = [
        "stage",
        path(run_dir),
        "--name",
        "memorized",
        "-o",
        path(output),
    ];
    let out = Command::new(env!("CARGO_BIN_EXE_train-app"))
        .args(args)
        .current_dir(repo_root())
        .output()
        .expect("train-app starts");
    assert_success("train-app", &args, &out);
    out
}

/// The `infer-app` binary of the same build, built first if this test ran alone.
pub fn infer_app() -> PathBuf {
    let dir = Path::new(env!("CARGO_BIN_EXE_train-app"))
        .parent()
        .expect("bin dir")
        .to_path_buf();
    let exe = dir.join(format!("infer-app{}", std::env::consts::EXE_SUFFIX));
    if !exe.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "-p", "infer-app"])
            .current_dir(repo_root())
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building infer-app failed");
    }
    exe
}

pub fn assert_success(name: &str, args: &[&str], out: &Output) {
    assert!(
        out.status.success(),
        "{name} {args:?} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn path(p: &Path) -> &str {
    p.to_str().expect("temp paths are UTF-8")
}

/// Rows of a run's `metrics.csv` as (epoch, valid CER %).
pub fn epoch_cers(run_dir: &Path) -> Vec<(usize, f64)> {
    let csv = std::fs::read_to_string(run_dir.join("metrics.csv")).expect("metrics.csv exists");
    csv.lines()
        .skip(1)
        .map(|line| {
            let cols: Vec<&str> = line.split(',').collect();
            (
                cols[0].parse().expect("epoch"),
                cols[3].parse().expect("valid_cer"),
            )
        })
        .collect()
}
