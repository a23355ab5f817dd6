//! `train-app runs`: the table, one run, and two runs compared with a chart.

use std::process::Command;

use crate::util::{TINY_CONFIG, assert_success, path, repo_root, train_app};

fn runs(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_train-app"))
        .arg("runs")
        .args(args)
        .current_dir(repo_root())
        .output()
        .expect("starts");
    assert_success("train-app runs", args, &out);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn runs_are_listed_shown_and_compared_with_a_chart() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (a, b) = (tmp.path().join("fast"), tmp.path().join("slow"));
    for (dir, lr) in [(&a, "0.003"), (&b, "0.001")] {
        let args = ["train", "--config", TINY_CONFIG, "--run-dir", path(dir)];
        train_app(&[&args[..], &["--epochs", "2", "--lr", lr]].concat());
    }

    let list = runs(&["list", path(tmp.path())]);
    for name in ["fast", "slow"] {
        let line = list.lines().find(|l| l.starts_with(name)).expect(name);
        assert!(line.contains("finished") && line.contains("2/2"), "{list}");
    }

    let show = runs(&["show", path(&a)]);
    assert!(
        show.contains("status:  finished") && show.contains("lr0.003"),
        "{show}"
    );
    assert_eq!(
        show.lines()
            .filter(|l| l.trim_start().starts_with(['1', '2']))
            .count(),
        2,
        "one row per epoch: {show}"
    );

    let chart = tmp.path().join("compare.svg");
    let cmp = runs(&["compare", path(&a), path(&b), "-o", path(&chart)]);
    assert!(cmp.contains("optim.lr: 0.003  |  0.001"), "{cmp}");
    let svg = std::fs::read_to_string(&chart).expect("chart written");
    assert!(
        svg.contains("fast") && svg.contains("slow"),
        "legend names the runs"
    );
    assert!(
        svg.matches("<polyline").count() >= 4,
        "two curves per panel"
    );

    let out = Command::new(env!("CARGO_BIN_EXE_train-app"))
        .args(["runs", "show"])
        .arg(tmp.path().join("missing"))
        .output()
        .expect("starts");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a run directory"));
}
