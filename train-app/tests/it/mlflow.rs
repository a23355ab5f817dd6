//! Tracking against a real MLflow server: `.ci/run` installs MLflow, starts `mlflow server` on
//! loopback and passes its URL in `HTR_TEST_MLFLOW_URI` (and the `mlflow` program in
//! `MLFLOW_BIN` for the test that stops and restarts a server of its own). Without them (a
//! developer's machine) these tests say so and pass; in CI (`CI` set) they fail instead.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use text_recognizer::mlflow::{MlflowClient, RunIds};

use crate::util::{TINY_CONFIG, assert_success, path, repo_root};

fn needed(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Some(v),
        _ if std::env::var_os("CI").is_some() => panic!("CI must set {var} (see .ci/run)"),
        _ => {
            eprintln!("skipped: {var} is not set (.ci/run sets it)");
            None
        }
    }
}

fn run_ids(run: &Path) -> RunIds {
    let text = std::fs::read_to_string(run.join("mlflow.ron")).expect("mlflow.ron");
    ron::from_str(&text).expect("run ids")
}

fn history(client: &MlflowClient, run_id: &str, key: &str) -> Vec<(i64, f64)> {
    let v = client
        .get(
            "metrics/get-history",
            &[
                ("run_id", run_id),
                ("metric_key", key),
                ("max_results", "25000"),
            ],
        )
        .expect("history");
    let mut points: Vec<(i64, f64)> = v["metrics"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|m| {
                    (
                        m["step"].as_i64().unwrap_or(-1),
                        m["value"].as_f64().unwrap_or(f64::NAN),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    points.sort_by_key(|p| p.0);
    points
}

fn train(uri: &str, experiment: &str, run: &Path, extra: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_train-app"));
    cmd.args(["train", "--config", TINY_CONFIG, "--run-dir", path(run)])
        .args([
            "--tracking-uri",
            uri,
            "--experiment",
            experiment,
            "--log-progress",
        ])
        .args(extra)
        .current_dir(repo_root());
    cmd
}

#[test]
fn a_tracked_run_reads_back_complete_and_its_staged_model_is_registered() {
    let Some(uri) = needed("HTR_TEST_MLFLOW_URI") else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let run = tmp.path().join("tracked");
    let experiment = format!("it-{}", std::process::id());
    let out = train(&uri, &experiment, &run, &["--epochs", "3"])
        .output()
        .expect("starts");
    assert_success("train-app", &["train", "--tracking-uri"], &out);
    let ids = run_ids(&run);
    let client = MlflowClient::new(&uri);

    let got = client
        .get("runs/get", &[("run_id", &ids.run_id)])
        .expect("runs/get");
    let r = &got["run"];
    assert_eq!(r["info"]["status"], "FINISHED");
    let param = |k: &str| -> Option<String> {
        r["data"]["params"]
            .as_array()?
            .iter()
            .find(|p| p["key"] == k)
            .and_then(|p| p["value"].as_str().map(str::to_string))
    };
    assert_eq!(param("config.batch_size").as_deref(), Some("6"));
    assert_eq!(param("config.epochs").as_deref(), Some("3"));
    assert_eq!(param("preset.model.d_model").as_deref(), Some("64"));
    let tags: Vec<&str> = r["data"]["tags"]
        .as_array()
        .map(|a| a.iter().filter_map(|t| t["key"].as_str()).collect())
        .unwrap_or_default();
    for t in ["device", "backend", "mlflow.source.git.commit"] {
        assert!(tags.contains(&t), "tag {t} in {tags:?}");
    }

    // Every step once (3 epochs × 10 batches), every epoch once.
    let steps: Vec<i64> = history(&client, &ids.run_id, "step_loss")
        .iter()
        .map(|p| p.0)
        .collect();
    assert_eq!(steps, (1..=30).collect::<Vec<i64>>());
    let cer = history(&client, &ids.run_id, "valid_cer");
    assert_eq!(cer.iter().map(|p| p.0).collect::<Vec<_>>(), vec![1, 2, 3]);
    let csv = std::fs::read_to_string(run.join("metrics.csv")).expect("metrics.csv");
    let last_cer: f64 = csv
        .lines()
        .last()
        .and_then(|l| l.split(',').nth(3))
        .and_then(|v| v.parse().ok())
        .expect("a CER");
    assert!((cer[2].1 - last_cer).abs() < 1e-3, "{cer:?} vs {last_cer}");

    let listed = client
        .get("artifacts/list", &[("run_id", &ids.run_id)])
        .expect("artifacts/list");
    let files: Vec<&str> = listed["files"]
        .as_array()
        .map(|a| a.iter().filter_map(|f| f["path"].as_str()).collect())
        .unwrap_or_default();
    for f in [
        "config.ron",
        "metrics.csv",
        "steps.csv",
        "environment.ron",
        "samples",
    ] {
        assert!(files.contains(&f), "artifact {f} in {files:?}");
    }

    let samples = client
        .get(
            "artifacts/list",
            &[("run_id", ids.run_id.as_str()), ("path", "samples")],
        )
        .expect("artifacts/list samples")
        .to_string();
    assert!(
        samples.contains("samples/epoch-3.png") && samples.contains("samples/epoch-3.txt"),
        "validation samples with their images: {samples}"
    );

    // Staging registers the version in MLflow's registry, with the alias.
    let name = format!("lines-{}", std::process::id());
    let out = Command::new(env!("CARGO_BIN_EXE_train-app"))
        .args([
            "stage",
            path(&run),
            "--name",
            &name,
            "--alias",
            "production",
        ])
        .args(["--tracking-uri", &uri, "--registry"])
        .arg(tmp.path().join("registry"))
        .current_dir(repo_root())
        .output()
        .expect("starts");
    assert_success("train-app", &["stage", "--tracking-uri"], &out);
    let alias = client
        .get(
            "registered-models/alias",
            &[("name", name.as_str()), ("alias", "production")],
        )
        .expect("alias");
    assert_eq!(alias["model_version"]["version"], "1");
    assert_eq!(
        alias["model_version"]["run_id"],
        Value::from(ids.run_id.clone())
    );
    let listed = client
        .get(
            "artifacts/list",
            &[("run_id", &ids.run_id), ("path", "model")],
        )
        .expect("artifacts/list");
    assert!(listed.to_string().contains("model/model.htr"), "{listed}");

    // And `registry:` names resolve against MLflow's registry.
    let out = Command::new(crate::util::infer_app())
        .args(["ocr", "--layout", "line", "-f", "jsonl", "--model"])
        .arg(format!("registry:{name}@production"))
        .args(["--tracking-uri", &uri])
        .arg(repo_root().join("datasets/fixtures/testaments-mini"))
        .env("HTR_CACHE", tmp.path().join("cache"))
        .output()
        .expect("infer-app starts");
    assert_success("infer-app", &["ocr", "--model", "registry:…"], &out);
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 6);
    assert!(
        tmp.path()
            .join(format!("cache/mlflow/{name}/1/model.htr"))
            .is_file(),
        "downloaded once into the cache"
    );
}

/// An `mlflow server` of this test's own, in its own process group (it forks a worker).
struct Server {
    child: Option<Child>,
}

impl Server {
    fn start(bin: &str, port: u16, dir: &Path) -> Self {
        use std::os::unix::process::CommandExt;
        let child = Command::new(bin)
            .args(["server", "--host", "127.0.0.1", "--workers", "1", "--port"])
            .arg(port.to_string())
            .arg("--backend-store-uri")
            .arg(format!("sqlite:///{}", dir.join("db.sqlite").display()))
            .arg("--artifacts-destination")
            .arg(dir.join("artifacts"))
            // MLflow's job runner forks consumers and kills process groups it considers its
            // own; tracking needs none of it.
            .env("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("mlflow server starts");
        let server = Server { child: Some(child) };
        let client = MlflowClient::new(&format!("http://127.0.0.1:{port}"));
        let deadline = Instant::now() + Duration::from_secs(120);
        while client
            .get("experiments/search", &[("max_results", "1")])
            .is_err()
        {
            assert!(Instant::now() < deadline, "mlflow server did not come up");
            std::thread::sleep(Duration::from_millis(300));
        }
        server
    }

    /// Gone at once, as in a crash (the whole group: the server and its worker).
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let group = format!("-{}", child.id());
            let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
            let _ = child.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

#[test]
fn a_server_that_goes_away_mid_run_gets_every_point_when_it_returns() {
    let Some(bin) = needed("MLFLOW_BIN") else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let store: PathBuf = tmp.path().join("mlflow");
    std::fs::create_dir_all(&store).expect("mkdir");
    let port = free_port();
    let uri = format!("http://127.0.0.1:{port}");
    let mut server = Server::start(&bin, port, &store);

    let run = tmp.path().join("run");
    // 4 epochs of 50 batches.
    let mut child = train(
        &uri,
        "outage",
        &run,
        &["--epochs", "4", "--epoch-samples", "300"],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("starts");
    let stderr = child.stderr.take().expect("piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut log = Vec::new();
    loop {
        let line = rx.recv_timeout(Duration::from_secs(600)).expect("progress");
        let done = line.starts_with("epoch 1/4 valid");
        log.push(line);
        if done {
            break;
        }
    }
    server.stop();
    std::thread::sleep(Duration::from_secs(3));
    let mut server = Server::start(&bin, port, &store);
    let out = child.wait_with_output().expect("ends");
    log.extend(rx.try_iter());
    assert!(out.status.success(), "{}", log.join("\n"));
    let log = log.join("\n");
    assert!(log.contains("is not answering"), "one warning:\n{log}");

    let ids = run_ids(&run);
    let client = MlflowClient::new(&uri);
    let steps: Vec<i64> = history(&client, &ids.run_id, "step_loss")
        .iter()
        .map(|p| p.0)
        .collect();
    assert_eq!(steps, (1..=200).collect::<Vec<i64>>(), "every step, once");
    assert_eq!(history(&client, &ids.run_id, "valid_cer").len(), 4);
    let got = client
        .get("runs/get", &[("run_id", &ids.run_id)])
        .expect("runs/get");
    assert_eq!(got["run"]["info"]["status"], "FINISHED");
    server.stop();
}
