//! `train-app data export`: a generated source written as a line folder, the same for the same
//! seed, and read back as a data source.

use std::process::{Command, Output};

use crate::util::{assert_success, path};

/// `train-app ARGS`, asserted to succeed.
fn data(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_train-app"))
        .args(args)
        .output()
        .expect("train-app starts");
    assert_success("train-app", args, &out);
    out
}

#[test]
fn synthetic_lines_export_as_a_line_folder() {
    let dir = tempfile::tempdir().expect("tempdir");
    let export = |name: &str, seed: &str| {
        let out = dir.path().join(name);
        let args = [
            "data",
            "export",
            "SyntheticLines(samples: 4)",
            "--samples",
            "4",
            "--seed",
            seed,
            "-o",
            path(&out),
        ];
        data(&args);
        out
    };
    let a = export("a", "7");
    for i in 0..4 {
        let text = std::fs::read_to_string(a.join(format!("{i:05}.gt.txt"))).expect("gt");
        assert!(!text.trim().is_empty());
        assert!(a.join(format!("{i:05}.png")).exists());
    }
    let b = export("b", "7");
    let c = export("c", "8");
    let read = |d: &std::path::Path| std::fs::read(d.join("00001.png")).expect("png");
    assert_eq!(read(&a), read(&b), "same seed, same sample");
    assert_ne!(read(&a), read(&c), "another seed, another sample");
    let out = data(&["data", "stats", path(&a)]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("samples: 4 (0 skipped)"));
}
