//! Runs that survive preemption: SIGTERM saves and exits 0, `kill -9` loses at most one
//! checkpoint interval, and a resumed run trains on the data an uninterrupted one would have
//! (its validation losses match to float noise), on CPU.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::util::{TINY_CONFIG, epoch_cers, path, repo_root, train_tiny};

/// 3 epochs of 100 batches: long enough to stop in the middle of one.
const ARGS: [&str; 4] = ["--epochs", "3", "--epoch-samples", "600"];

fn start(run: &Path, extra: &[&str]) -> (Child, mpsc::Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_train-app"))
        .args(["train", "--config", TINY_CONFIG, "--run-dir", path(run)])
        .args(ARGS)
        .args(extra)
        .arg("--log-progress")
        .env("RAYON_NUM_THREADS", "1")
        .current_dir(repo_root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("train-app starts");
    let (tx, rx) = mpsc::channel();
    let stderr = child.stderr.take().expect("piped");
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// Waits for the end of epoch 1's validation, then a little into epoch 2.
fn wait_into_epoch_2(lines: &mpsc::Receiver<String>) {
    loop {
        let line = lines
            .recv_timeout(Duration::from_secs(600))
            .expect("train-app reports epoch 1");
        if line.starts_with("epoch 1/3 valid") {
            break;
        }
    }
    std::thread::sleep(Duration::from_millis(1500));
}

/// Each epoch's validation loss, from burn's logs (more digits than metrics.csv).
fn valid_losses(run: &Path) -> Vec<f64> {
    (1..=3)
        .map(|e| {
            let log = run.join(format!("valid/epoch-{e}/Loss.log"));
            let text = std::fs::read_to_string(&log).expect("valid loss log");
            let last = text.lines().last().expect("a line");
            last.split(',').next().expect("value").parse().expect("f64")
        })
        .collect()
}

fn assert_same_training(straight: &Path, resumed: &Path) {
    let (a, b) = (valid_losses(straight), valid_losses(resumed));
    for (e, (x, y)) in a.iter().zip(&b).enumerate() {
        // On one thread the CPU backend sums in a fixed order: uninterrupted runs agree to the
        // bit, a resumed one to float noise that training amplifies: ~1e-6 relative here,
        // 8.6e-5 on the CI machine. A run resumed on other samples or dropout masks differs by
        // ~1e-2 relative, ten times this bound.
        assert!(
            (x - y).abs() <= 1e-3 * x.abs().max(1e-3),
            "epoch {}: valid loss {y} after resuming, {x} uninterrupted\n{a:?}\n{b:?}",
            e + 1
        );
    }
    let epochs: Vec<usize> = epoch_cers(resumed).iter().map(|&(e, _)| e).collect();
    assert_eq!(
        epochs,
        vec![1, 2, 3],
        "metrics.csv continues, no epoch twice"
    );
}

/// Parallel float sums depend on how threads split the work (these tests run side by side):
/// one thread each makes runs repeatable, so a resumed run can be compared exactly.
fn one_thread(args: &[&str]) -> std::process::Output {
    let out = Command::new(env!("CARGO_BIN_EXE_train-app"))
        .args(args)
        .arg("--log-progress")
        .env("RAYON_NUM_THREADS", "1")
        .current_dir(repo_root())
        .output()
        .expect("train-app starts");
    crate::util::assert_success("train-app", args, &out);
    out
}

fn straight_run(dir: &Path) -> std::path::PathBuf {
    let straight = dir.join("straight");
    let mut args = vec![
        "train",
        "--config",
        TINY_CONFIG,
        "--run-dir",
        path(&straight),
    ];
    args.extend(ARGS);
    one_thread(&args);
    straight
}

#[test]
fn sigterm_saves_mid_epoch_exits_zero_and_resumes_on_the_same_data() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let straight = straight_run(tmp.path());

    let run = tmp.path().join("stopped");
    let (child, lines) = start(&run, &[]);
    wait_into_epoch_2(&lines);
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let out = child.wait_with_output().expect("train-app ends");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "exit 0 after SIGTERM: {}", out.status);
    assert!(
        stdout.contains("stopped (SIGTERM received)")
            && stdout.contains("train-app train --resume"),
        "says how to resume:\n{stdout}"
    );
    let saved = std::fs::read_dir(run.join("checkpoint/step"))
        .map(|d| d.count())
        .unwrap_or(0);
    let in_epoch = !stdout.contains("at the start of epoch");
    assert!(
        !in_epoch || saved == 3,
        "a mid-epoch stop leaves model, optimiser and scheduler"
    );

    let out = one_thread(&["train", "--resume", path(&run)]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("resuming")
            && stderr.contains(if in_epoch {
                "after batch"
            } else {
                "after epoch"
            }),
        "{stderr}"
    );
    assert_same_training(&straight, &run);
    assert!(
        !run.join("checkpoint/step")
            .read_dir()
            .is_ok_and(|mut d| d.next().is_some()),
        "mid-epoch checkpoints an epoch checkpoint covers are removed"
    );
}

#[test]
fn a_killed_run_loses_at_most_one_checkpoint_interval() {
    const EVERY: usize = 10;
    let tmp = tempfile::tempdir().expect("tempdir");
    let straight = straight_run(tmp.path());

    let run = tmp.path().join("killed");
    let every = format!("{EVERY}steps");
    let (mut child, lines) = start(&run, &["--checkpoint-every", &every]);
    wait_into_epoch_2(&lines);
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");

    // burn logs each trained batch's loss as it goes: a lower bound on the work done.
    let trained = std::fs::read_to_string(run.join("train/epoch-2/Loss.log"))
        .map(|t| t.lines().count())
        .unwrap_or(0);
    // Complete checkpoints only (model, optimiser and scheduler), as --resume sees them.
    let keys = text_recognizer::training::RunDir::new(&run).step_checkpoints();
    let saved = keys.last().map_or(0, |k| k.saturating_sub(100));
    assert!(
        trained < 100 && saved.is_multiple_of(EVERY),
        "killed in epoch 2 (batch {trained}); checkpoints every {EVERY} batches, newest at {saved}"
    );
    // The newest complete checkpoint, or the one before while it was being written.
    assert!(
        trained <= saved + 2 * EVERY,
        "trained {trained} batches of epoch 2, newest checkpoint at {saved}"
    );

    let out = one_thread(&["train", "--resume", path(&run)]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("resuming"), "{stderr}");
    assert_same_training(&straight, &run);
}

#[test]
fn several_cpu_devices_train_data_parallel() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let run = tmp.path().join("two");
    train_tiny(&run, &["--epochs", "2", "--devices", "flex,flex"]);
    let info = std::fs::read_to_string(run.join("run.ron")).expect("run.ron");
    assert!(info.contains("devices: 2"), "{info}");
    assert!(info.contains("effective_batch: 12"), "6 per device: {info}");
    assert!(
        info.contains("steps_per_epoch: 5"),
        "60 samples / 12: {info}"
    );
    assert_eq!(epoch_cers(&run).len(), 2);
}

#[test]
fn device_lists_are_checked_before_training() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let run = tmp.path().join("run");
    for (args, says) in [
        (vec!["--devices", "flex,tpu"], "tpu"),
        (
            vec!["--devices", "flex,flex", "--checkpoint-every", "5steps"],
            "single device",
        ),
        (vec!["--checkpoint-every", "soon"], "soon"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_train-app"))
            .args(["train", "--config", TINY_CONFIG, "--run-dir", path(&run)])
            .args(&args)
            .current_dir(repo_root())
            .output()
            .expect("starts");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} accepted");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}
