//! The feedback loop closed, end to end on a tiny model: serve version 1, read three lines it
//! never saw (wrongly), flag them with corrections in the API the page uses, export the
//! corrections, fine-tune from version 1 on them mixed with the original lines, stage version 2
//! under the same alias, serve it, and it now reads those lines as corrected.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};
use text_recognizer::metrics::{ErrorCount, char_errors};

use crate::util::{TINY_CONFIG, assert_success, infer_app, path, repo_root, train_app_in};

/// Lines of the validation fixture (writers the tiny model never saw) and their text.
const LINES: [&str; 3] = ["AN_0006-1-009", "AN_0118-0-004", "AD78_0002-0-019"];

fn fixture(name: &str, ext: &str) -> std::path::PathBuf {
    repo_root().join(format!(
        "datasets/fixtures/testaments-val-mini/{name}.{ext}"
    ))
}

fn truth(name: &str) -> String {
    std::fs::read_to_string(fixture(name, "gt.txt"))
        .expect("transcription")
        .trim_end()
        .to_string()
}

struct Server(Child, String);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(registry: &Path, db: &Path) -> Server {
    let mut child = Command::new(infer_app())
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--model",
            "registry:flywheel@prod",
            "--db",
        ])
        .arg(db)
        .env("HTR_REGISTRY", registry)
        .stdout(Stdio::piped())
        .spawn()
        .expect("infer-app serve starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("reads");
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("{line:?}"))
        .to_string();
    let server = Server(child, base);
    let started = Instant::now();
    let client = reqwest::blocking::Client::new();
    while !client
        .get(format!("{}/readyz", server.1))
        .send()
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(started.elapsed() < Duration::from_secs(60), "never ready");
        std::thread::sleep(Duration::from_millis(100));
    }
    server
}

fn data_url(name: &str) -> String {
    let bytes = std::fs::read(fixture(name, "jpg")).expect("image");
    format!(
        "data:image/jpeg;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

/// Reads the three lines through the API; returns the responses and the CER (%).
fn read_all(server: &Server) -> (Vec<Value>, f64) {
    let client = reqwest::blocking::Client::new();
    let mut errors = ErrorCount::default();
    let mut responses = Vec::new();
    for name in LINES {
        let r: Value = client
            .post(format!("{}/api/v1/recognize", server.1))
            .json(&json!({ "image": data_url(name), "layout": "line" }))
            .send()
            .and_then(|r| r.error_for_status())
            .and_then(|r| r.json())
            .expect("read");
        errors = errors + char_errors(r["text"].as_str().unwrap_or(""), &truth(name));
        responses.push(r);
    }
    (responses, 100.0 * errors.rate())
}

fn stage(registry: &Path, run: &Path) {
    train_app_in(
        registry,
        &["stage", path(run), "--name", "flywheel", "--alias", "prod"],
    );
}

#[test]
fn flag_export_fine_tune_stage_serve_reads_the_corrections() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let registry = tmp.path().join("registry");
    let tiny = std::fs::read_to_string(repo_root().join(TINY_CONFIG)).expect("config");

    // Version 1: the tiny config with an alphabet wide enough for the new lines (a base
    // model's alphabet covers the language), one epoch: it cannot read them.
    let mut chars: Vec<char> =
        std::fs::read_dir(repo_root().join("datasets/fixtures/testaments-mini"))
            .expect("fixture folder")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.to_string_lossy().ends_with(".gt.txt"))
            .flat_map(|p| {
                std::fs::read_to_string(p)
                    .expect("text")
                    .trim_end()
                    .chars()
                    .collect::<Vec<_>>()
            })
            .chain(
                LINES
                    .iter()
                    .flat_map(|n| truth(n).chars().collect::<Vec<_>>()),
            )
            .collect();
    chars.sort_unstable();
    chars.dedup();
    let alphabet: String = chars.into_iter().collect();
    let v1_config = tmp.path().join("v1.ron");
    let v1 = tiny.replacen(
        "    seed: 42,",
        &format!("    seed: 42,\n    charset: Chars({alphabet:?}),"),
        1,
    );
    assert_ne!(v1, tiny, "the config has a seed line to extend");
    std::fs::write(&v1_config, v1).expect("writes");
    let run1 = tmp.path().join("run1");
    train_app_in(
        &registry,
        &[
            "train",
            "--config",
            path(&v1_config),
            "--run-dir",
            path(&run1),
            "--epochs",
            "1",
        ],
    );
    stage(&registry, &run1);

    // Serve it, read the lines, flag each with its correction.
    let db = tmp.path().join("serve.sqlite3");
    let server = serve(&registry, &db);
    let (before, cer_before) = read_all(&server);
    let client = reqwest::blocking::Client::new();
    for (name, r) in LINES.iter().zip(&before) {
        let status = client
            .post(format!("{}/api/v1/feedback", server.1))
            .json(&json!({
                "flag": "incorrect",
                "correction": truth(name),
                "request_id": r["request_id"],
                "text": r["text"],
                "model": r["model"],
                "image": data_url(name),
            }))
            .send()
            .expect("sends")
            .status();
        assert_eq!(status, 201);
    }
    drop(server);

    // Export, fine-tune from version 1 on the corrections mixed with the original lines (the
    // config names no alphabet: fine-tuning keeps the model's), stage version 2 as prod.
    let export = tmp.path().join("corrections");
    let out = Command::new(infer_app())
        .args(["feedback", "export", "--db", path(&db), "-o", path(&export)])
        .output()
        .expect("infer-app starts");
    assert_success("infer-app", &["feedback", "export"], &out);
    let export_dir = path(&export);
    let v2 = tiny
        .replace(
            r#"train: [(source: LineFolder("datasets/fixtures/testaments-mini"))],"#,
            &format!(
                r#"train: [(source: LineFolder({export_dir:?})), (source: LineFolder("datasets/fixtures/testaments-mini"))],"#
            ),
        )
        .replace(
            r#"valid: [LineFolder("datasets/fixtures/testaments-mini")],"#,
            &format!(r#"valid: [LineFolder({export_dir:?})],"#),
        );
    assert!(
        v2.contains(export_dir),
        "the config's data lines were replaced"
    );
    let v2_config = tmp.path().join("v2.ron");
    std::fs::write(&v2_config, v2).expect("writes");
    let run2 = tmp.path().join("run2");
    train_app_in(
        &registry,
        &[
            "train",
            "--config",
            path(&v2_config),
            "--run-dir",
            path(&run2),
            "--init-from",
            "registry:flywheel@prod",
        ],
    );
    stage(&registry, &run2);

    // The alias now serves version 2, which reads the flagged lines as corrected.
    let server = serve(&registry, &tmp.path().join("serve2.sqlite3"));
    let (after, cer_after) = read_all(&server);
    let texts: Vec<&str> = after
        .iter()
        .map(|r| r["text"].as_str().unwrap_or(""))
        .collect();
    eprintln!(
        "CER on the flagged lines: {cer_before:.1} % before, {cer_after:.1} % after: {texts:?}"
    );
    assert!(
        cer_before > 50.0,
        "version 1 already read them ({cer_before:.1} %)"
    );
    assert!(
        cer_after <= 10.0,
        "after fine-tuning: {cer_after:.1} % ({texts:?})"
    );
    drop(server);

    // The staged model carries its training inputs' profile: the drift report compares the
    // served traffic with it.
    let out = Command::new(infer_app())
        .args([
            "monitor",
            "report",
            "--db",
            path(&db),
            "--since",
            "2000-01-01",
        ])
        .args(["--model", "registry:flywheel@prod"])
        .env("HTR_REGISTRY", &registry)
        .output()
        .expect("infer-app starts");
    assert_success("infer-app", &["monitor", "report"], &out);
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        report.contains("input mean intensity: PSI")
            && report.contains("against the training inputs"),
        "{report}"
    );
}
