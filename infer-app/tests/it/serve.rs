//! `infer-app serve` and `infer-app lambda` as users run them: a real socket, a real browser
//! (headless Chromium through chromedriver), SIGTERM, and the Lambda Runtime API emulator
//! (`cargo lambda watch --only-lambda-apis`). `.ci/run` installs chromium, chromium-driver and
//! cargo-lambda; where one is missing these tests say so and pass, except in CI (`CI` set),
//! where they fail.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../datasets/fixtures")
}

/// A program from `$VAR`, else `name` on the PATH.
fn tool(var: &str, name: &str) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(var).filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        if std::env::var_os("CI").is_some() {
            panic!("CI must provide {name} (or ${var}); see .ci/run");
        }
        eprintln!("skipped: {name} not found (set {var} or install it; .ci/run does)");
    }
    found
}

/// A child process killed when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `infer-app serve` on a free loopback port; returns it and its base URL.
fn serve(db: &Path, extra: &[&str]) -> (Running, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_infer-app"))
        .args(["serve", "--addr", "127.0.0.1:0", "--db"])
        .arg(db)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("starts");
    let stdout = child.stdout.take().expect("stdout");
    let running = Running(child);
    let mut first = String::new();
    BufReader::new(stdout).read_line(&mut first).expect("reads");
    let url = first
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
        .to_string();
    (running, url)
}

fn wait_ready(base: &str) {
    let client = reqwest::blocking::Client::new();
    let started = Instant::now();
    loop {
        if let Ok(r) = client.get(format!("{base}/readyz")).send()
            && r.status().is_success()
        {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(120), "not ready");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn wait_port(port: u16) {
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "port {port} never opened"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn line_data_url() -> String {
    let bytes =
        std::fs::read(fixtures().join("testaments-val-mini/AN_0006-0-002.jpg")).expect("fixture");
    format!(
        "data:image/jpeg;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

#[test]
fn sigterm_lets_requests_in_flight_finish() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut server, base) = serve(&dir.path().join("db.sqlite3"), &["--max-wait-ms", "300"]);
    wait_ready(&base);
    let url = format!("{base}/predict");
    let body = json!({ "image": line_data_url() });
    let request = std::thread::spawn(move || {
        reqwest::blocking::Client::new()
            .post(url)
            .json(&body)
            .send()
            .map(|r| (r.status().as_u16(), r.text().unwrap_or_default()))
    });
    // The request waits 300 ms in the batcher: the signal arrives while it is in flight.
    std::thread::sleep(Duration::from_millis(100));
    let pid = server.0.id().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    let (status, text) = request.join().expect("joins").expect("answered");
    assert_eq!(status, 200, "{text}");
    let code = server.0.wait().expect("exits");
    assert!(code.success(), "{code:?}");
}

#[test]
fn the_lambda_answers_fsdl_events_and_function_urls_through_the_emulator() {
    let Some(cargo_lambda) = tool("CARGO_LAMBDA_BIN", "cargo-lambda") else {
        return;
    };
    let port = free_port();
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let _emulator = Running(
        Command::new(&cargo_lambda)
            .args([
                "lambda",
                "watch",
                "--only-lambda-apis",
                "-A",
                "127.0.0.1",
                "-P",
            ])
            .arg(port.to_string())
            .current_dir(&workspace)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the emulator starts"),
    );
    wait_port(port);
    let dir = tempfile::tempdir().expect("tempdir");
    let _function = Running(
        Command::new(env!("CARGO_BIN_EXE_infer-app"))
            .args(["lambda", "--db"])
            .arg(dir.path().join("db.sqlite3"))
            .env(
                "AWS_LAMBDA_RUNTIME_API",
                format!("http://127.0.0.1:{port}/.rt"),
            )
            .env("AWS_LAMBDA_FUNCTION_NAME", "_")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "4096")
            .spawn()
            .expect("the function starts"),
    );
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .expect("client");
    let invoke = |event: &Value| -> Value {
        let url = format!("http://127.0.0.1:{port}/2015-03-31/functions/_/invocations");
        let response = client.post(url).json(event).send().expect("invokes");
        let text = response.text().expect("body");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
    };
    let image = line_data_url();
    let direct = invoke(&json!({ "image": image }));
    let pred = direct["pred"]
        .as_str()
        .unwrap_or_else(|| panic!("{direct}"));
    assert!(pred.chars().count() > 10, "{pred:?}");
    // FSDL's function-URL style: the request JSON as a string in `body`.
    let wrapped = invoke(&json!({ "body": json!({ "image": image }).to_string() }));
    assert_eq!(wrapped["pred"], pred);
    let missing = invoke(&json!({}));
    assert_eq!(missing["statusCode"], 400, "{missing}");
    assert!(
        missing["message"]
            .as_str()
            .is_some_and(|m| m.contains("neither image"))
    );
    // A function-URL (HTTP API v2) event reaches the full API.
    let event = json!({
        "version": "2.0",
        "rawPath": "/api/v1/recognize",
        "rawQueryString": "",
        "headers": { "content-type": "application/json" },
        "requestContext": { "http": { "method": "POST", "path": "/api/v1/recognize" } },
        "body": base64::engine::general_purpose::STANDARD
            .encode(json!({ "image": image, "layout": "line" }).to_string()),
        "isBase64Encoded": true,
    });
    let http = invoke(&event);
    assert_eq!(http["statusCode"], 200, "{http}");
    let body: Value = serde_json::from_str(http["body"].as_str().expect("body")).expect("JSON");
    assert_eq!(body["text"], pred);
    assert!(body["lines"][0]["box"].is_array());
}

#[test]
fn a_person_reads_an_example_in_the_browser_and_flags_it() {
    let (Some(chromium), Some(driver)) = (
        tool("CHROMIUM_BIN", "chromium"),
        tool("CHROMEDRIVER_BIN", "chromedriver"),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("db.sqlite3");
    let (_server, base) = serve(&db, &[]);
    wait_ready(&base);
    let port = free_port();
    let _driver = Running(
        Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts"),
    );
    wait_port(port);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let stored_text = runtime.block_on(browse(&base, port, &chromium));
    let conn = rusqlite::Connection::open(&db).expect("opens the database");
    let (flag, correction, predicted, image): (String, String, String, Vec<u8>) = conn
        .query_row(
            "SELECT f.flag, f.correction, f.predicted, i.bytes
             FROM feedback f JOIN inputs i ON i.sha256 = f.image_sha256
             ORDER BY f.id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .expect("the flag was stored");
    assert_eq!(flag, "incorrect");
    assert_eq!(correction, "Dans le cas où je viendrais");
    assert_eq!(
        predicted.split_whitespace().collect::<Vec<_>>().join(" "),
        stored_text
    );
    let uploaded =
        std::fs::read(fixtures().join("testaments-val-mini/AN_0006-0-002.jpg")).expect("fixture");
    assert_eq!(image, uploaded, "the uploaded image is kept with the flag");
}

/// The text of the element with id `id`.
async fn text_of(client: &fantoccini::Client, id: &str) -> String {
    client
        .find(fantoccini::Locator::Id(id))
        .await
        .unwrap_or_else(|e| panic!("#{id}: {e}"))
        .text()
        .await
        .unwrap_or_else(|e| panic!("#{id}: {e}"))
}

async fn click(client: &fantoccini::Client, css: &str) {
    client
        .find(fantoccini::Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"));
}

/// Waits until the text of `#id` passes `done` (at most `secs`); returns it.
async fn wait_for(
    client: &fantoccini::Client,
    id: &str,
    done: impl Fn(&str) -> bool,
    secs: u64,
) -> String {
    let started = Instant::now();
    loop {
        let s = text_of(client, id).await;
        if done(&s) {
            return s;
        }
        assert!(
            !s.starts_with("Not stored") && !s.starts_with("Could not"),
            "#{id}: {s}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(secs),
            "#{id} still {s:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Drives the page; returns the text it showed.
async fn browse(base: &str, port: u16, chromium: &Path) -> String {
    use fantoccini::{ClientBuilder, Locator};
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1280,1100"],
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let client = ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("connects to chromedriver");
    client.goto(base).await.expect("loads the page");
    // The examples list loads, and uploading one reads it.
    client
        .wait()
        .for_element(Locator::Css("#examples button"))
        .await
        .expect("examples");
    // Chromedriver takes canonical paths only.
    let file = fixtures()
        .join("testaments-val-mini/AN_0006-0-002.jpg")
        .canonicalize()
        .expect("fixture");
    let input = client
        .find(Locator::Css("#file"))
        .await
        .expect("file input");
    input
        .send_keys(&file.to_string_lossy())
        .await
        .expect("uploads");
    let status = wait_for(&client, "status", |s| s.starts_with("Read "), 60).await;
    assert!(status.starts_with("Read 1 line"), "{status}");
    let line = client
        .find(Locator::Css("#lines li .text"))
        .await
        .expect("a line")
        .text()
        .await
        .expect("text");
    assert!(line.chars().count() > 10, "{line:?}");
    // Flag it as incorrect with the right text.
    let correction = client
        .find(Locator::Id("correction"))
        .await
        .expect("textarea");
    correction.clear().await.expect("clears");
    correction
        .send_keys("Dans le cas où je viendrais")
        .await
        .expect("types");
    click(&client, "input[name=flag][value=incorrect]").await;
    click(&client, "#flag-submit").await;
    wait_for(&client, "flag-status", |s| s.starts_with("Thank you"), 30).await;
    // An example paragraph, clicked: split into lines, each outlined.
    click(
        &client,
        r#"#examples button[data-name="AD78_0005-1-paragraph.jpg"]"#,
    )
    .await;
    let status = wait_for(
        &client,
        "status",
        |s| s.starts_with("Read ") && !s.starts_with("Read 1 line"),
        60,
    )
    .await;
    let n: usize = status["Read ".len()..]
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!((3..=6).contains(&n), "{status}");
    if let Some(dir) = std::env::var_os("HTR_SCREENSHOT_DIR") {
        let png = client.screenshot().await.expect("screenshot");
        std::fs::write(Path::new(&dir).join("serve-page.png"), png).expect("writes");
    }
    let words: Vec<String> = line.split_whitespace().map(str::to_string).collect();
    client.close().await.expect("closes");
    words.join(" ")
}

/// Feedback is acknowledged only once committed: `kill -9` during a burst loses none of what
/// was acknowledged, and the export turns it into a line folder.
#[test]
fn kill_9_during_a_feedback_burst_loses_no_acknowledged_feedback() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("db.sqlite3");
    let (mut server, base) = serve(&db, &[]);
    wait_ready(&base);
    let image = line_data_url();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let senders: Vec<_> = (0..4)
        .map(|t| {
            let (url, image, stop) = (
                format!("{base}/api/v1/feedback"),
                image.clone(),
                stop.clone(),
            );
            std::thread::spawn(move || {
                let client = reqwest::blocking::Client::new();
                let mut acknowledged = Vec::new();
                for i in 0..10_000 {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        break;
                    }
                    let body = json!({
                        "flag": "incorrect",
                        "correction": format!("correction {t}-{i}"),
                        "image": image,
                    });
                    match client.post(&url).json(&body).send() {
                        Ok(r) if r.status() == 201 => {
                            let v: Value = r.json().expect("JSON");
                            acknowledged.push(v["id"].as_i64().expect("id"));
                        }
                        _ => break,
                    }
                }
                acknowledged
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    server.0.kill().expect("SIGKILL");
    let _ = server.0.wait();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let acknowledged: Vec<i64> = senders
        .into_iter()
        .flat_map(|s| s.join().expect("joins"))
        .collect();
    assert!(
        acknowledged.len() > 10,
        "only {} acknowledged",
        acknowledged.len()
    );
    eprintln!(
        "{} feedback rows acknowledged before SIGKILL",
        acknowledged.len()
    );
    let conn = rusqlite::Connection::open(&db).expect("opens after the crash");
    for id in &acknowledged {
        let found: i64 = conn
            .query_row("SELECT COUNT(*) FROM feedback WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .expect("queries");
        assert_eq!(found, 1, "acknowledged feedback #{id} lost");
    }
    drop(conn);
    let out = dir.path().join("export");
    let status = Command::new(env!("CARGO_BIN_EXE_infer-app"))
        .args(["feedback", "export", "--db"])
        .arg(&db)
        .arg("-o")
        .arg(&out)
        .status()
        .expect("runs");
    assert!(status.success());
    let (samples, skipped) = text_recognizer::data::LineFolder::new(&out)
        .scan()
        .expect("a line folder");
    assert!(skipped.is_empty());
    assert!(
        samples.len() >= acknowledged.len(),
        "{} < {}",
        samples.len(),
        acknowledged.len()
    );
}

/// A real Prometheus (Debian's `prometheus`, on loopback) scrapes `/metrics` and its query API
/// returns the drift gauges: the log holds two hours-old rows of dark scans with light ink,
/// and the server now reads light scans with dark ink.
#[test]
fn prometheus_scrapes_the_drift_gauges() {
    let Some(prometheus) = tool("PROMETHEUS_BIN", "prometheus") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("db.sqlite3");
    let (_server, base) = serve(&db, &["--drift-every-s", "1"]);
    wait_ready(&base);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let earlier = text_recognizer::export::utc_timestamp(now - 2 * 3600);
    {
        let conn = rusqlite::Connection::open(&db).expect("opens");
        for i in 0..300 {
            conn.execute(
                "INSERT INTO predictions (created, request_id, model, route, status, latency_ms,
                     width, height, mean_intensity, dark_ink, lines, pred_chars, confidence)
                 VALUES (?1, 'old', 'default-line', '/predict', 200, 80, 900, 120, ?2, 0, 1, 20, 0.6)",
                rusqlite::params![earlier, 60.0 + f64::from(i % 40)],
            )
            .expect("a reference row");
        }
    }
    let client = reqwest::blocking::Client::new();
    for _ in 0..5 {
        let r = client
            .post(format!("{base}/predict"))
            .json(&json!({ "image": line_data_url() }))
            .send()
            .expect("reads");
        assert!(r.status().is_success());
    }
    let port: u16 = base
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: htr\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
        ),
    )
    .expect("writes");
    let prom_port = free_port();
    let _prometheus = Running(
        Command::new(prometheus)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus starts"),
    );
    let started = Instant::now();
    let query = |q: &str| -> Value {
        let url = reqwest::Url::parse_with_params(
            &format!("http://127.0.0.1:{prom_port}/api/v1/query"),
            [("query", q)],
        )
        .expect("a URL");
        client
            .get(url)
            .send()
            .and_then(|r| r.json())
            .unwrap_or(Value::Null)
    };
    loop {
        let drifted = query("htr_drifted_features");
        let value = drifted["data"]["result"][0]["value"][1]
            .as_str()
            .and_then(|v| v.parse::<f64>().ok());
        if value.is_some_and(|v| v >= 2.0) {
            let psi = query(r#"htr_drift_psi{feature="mean_intensity"}"#);
            let psi = psi["data"]["result"][0]["value"][1]
                .as_str()
                .and_then(|v| v.parse::<f64>().ok())
                .expect("the PSI series");
            assert!(psi > 0.2, "mean intensity PSI {psi}");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "Prometheus never saw the drift: {drifted}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}
