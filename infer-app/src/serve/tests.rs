//! The service through its router, without a socket (axum's testing style), on the embedded
//! model and real lines from the fixtures. Every bad input gets its status and a message, and
//! the server keeps answering.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine as _;
use clap::Parser;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::{AppState, app};
use crate::cli::{Cli, Command};

fn fixture(path: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../datasets/fixtures")
        .join(path);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn line_jpg() -> Vec<u8> {
    fixture("testaments-val-mini/AN_0006-0-002.jpg")
}

fn data_url(bytes: &[u8], mime: &str) -> String {
    format!(
        "data:{mime};base64,{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let mut out = Vec::new();
    text_recognizer::image::GrayImage::from_pixel(
        width,
        height,
        text_recognizer::image::Luma([200]),
    )
    .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
    .expect("encode");
    out
}

/// A service from `serve` flags (the defaults unless given), its database in `dir`, ready.
async fn service(dir: &tempfile::TempDir, flags: &[&str]) -> (AppState, Router) {
    let db = dir.path().join("serve.sqlite3");
    let mut argv = vec![
        "infer-app",
        "serve",
        "--db",
        db.to_str().expect("utf-8 path"),
    ];
    argv.extend_from_slice(flags);
    let cli = Cli::try_parse_from(argv).expect("flags");
    let Command::Serve(args) = cli.command else {
        unreachable!("serve")
    };
    let state = AppState::build(&args.service, &args.db, &cli.global).expect("builds");
    let router = app(state.clone());
    let started = Instant::now();
    while !state.is_ready() {
        assert!(started.elapsed() < Duration::from_secs(120), "never ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (state, router)
}

async fn send(router: &Router, request: Request<Body>) -> (StatusCode, String, Vec<u8>) {
    let response = router.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body")
        .to_vec();
    (status, content_type, body)
}

fn post_json(path: &str, body: &Value) -> Request<Body> {
    post_raw(path, "application/json", body.to_string().into_bytes())
}

fn post_raw(path: &str, content_type: &str, body: Vec<u8>) -> Request<Body> {
    Request::post(path)
        .header("content-type", content_type)
        .body(Body::from(body))
        .expect("request")
}

fn json_of(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(body)))
}

fn multipart(fields: &[(&str, Option<&str>, &[u8])]) -> Request<Body> {
    let boundary = "XyZboundary42";
    let mut body = Vec::new();
    for (name, file, data) in fields {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match file {
            Some(f) => body.extend_from_slice(
                format!(
                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: image/jpeg\r\n\r\n"
                )
                .as_bytes(),
            ),
            None => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            ),
        }
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    post_raw(
        "/api/v1/recognize",
        &format!("multipart/form-data; boundary={boundary}"),
        body,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_schemas_multipart_and_every_format_read_the_same_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, router) = service(&dir, &[]).await;
    let image = data_url(&line_jpg(), "image/jpeg");

    let (status, _, body) = send(&router, post_json("/predict", &json!({ "image": image }))).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let pred = json_of(&body)["pred"].as_str().expect("pred").to_string();
    assert!(pred.chars().count() > 10, "{pred:?}");

    let request = json!({ "image": image, "layout": "line" });
    let (status, _, body) = send(&router, post_json("/api/v1/recognize", &request)).await;
    assert_eq!(status, StatusCode::OK);
    let full = json_of(&body);
    assert_eq!(full["text"], pred.as_str());
    assert_eq!(full["model"], "default-line");
    assert!(full["request_id"].as_str().is_some_and(|s| s.len() == 36));
    assert!(full["latency_ms"].as_f64().is_some_and(|ms| ms > 0.0));
    let line = &full["lines"][0];
    assert_eq!(line["text"], pred.as_str());
    assert_eq!(line["box"], json!([0, 0, full["width"], full["height"]]));
    let conf = line["confidence"].as_f64().expect("confidence");
    assert!((0.0..=1.0).contains(&conf));
    let words: Vec<&str> = line["words"]
        .as_array()
        .expect("words")
        .iter()
        .filter_map(|w| w["text"].as_str())
        .collect();
    assert_eq!(
        words.join(" "),
        pred.split_whitespace().collect::<Vec<_>>().join(" ")
    );

    let (status, _, body) = send(
        &router,
        multipart(&[
            ("layout", None, b"line"),
            ("image", Some("line.jpg"), &line_jpg()),
        ]),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    assert_eq!(json_of(&body)["text"], pred.as_str());

    let text = json!({ "image": image, "layout": "line", "format": "text" });
    let (status, content_type, body) = send(&router, post_json("/api/v1/recognize", &text)).await;
    assert_eq!(
        (status, content_type.starts_with("text/plain")),
        (StatusCode::OK, true)
    );
    assert_eq!(String::from_utf8_lossy(&body), pred);

    for format in ["alto", "page"] {
        let request = json!({ "image": image, "layout": "line", "format": format });
        let (status, content_type, body) =
            send(&router, post_json("/api/v1/recognize", &request)).await;
        assert_eq!(
            (status, content_type.as_str()),
            (StatusCode::OK, "application/xml")
        );
        let xml = String::from_utf8(body).expect("utf-8");
        let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
        let first_word = pred.split_whitespace().next().expect("a word");
        assert!(
            doc.descendants()
                .any(|n| n.attribute("CONTENT") == Some(first_word)
                    || n.text().is_some_and(|t| t.contains(first_word))),
            "{format}: {xml}"
        );
    }

    // A paragraph is split into lines with boxes inside the image.
    let paragraph = fixture("serve-examples/AD78_0005-1-paragraph.jpg");
    let request = json!({ "image": data_url(&paragraph, "image/jpeg"), "layout": "paragraph" });
    let (status, _, body) = send(&router, post_json("/api/v1/recognize", &request)).await;
    assert_eq!(status, StatusCode::OK);
    let page = json_of(&body);
    let lines = page["lines"].as_array().expect("lines");
    assert!((3..=6).contains(&lines.len()), "{} lines", lines.len());
    for l in lines {
        let b: Vec<u64> = serde_json::from_value(l["box"].clone()).expect("box");
        assert!(b[0] + b[2] <= 920 && b[1] + b[3] <= 266, "{b:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_input_gets_its_status_and_the_server_goes_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, router) = service(
        &dir,
        &[
            "--max-body-mb",
            "1",
            "--max-megapixels",
            "1",
            "--max-side",
            "5000",
        ],
    )
    .await;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let jpg = line_jpg();
    let cases: Vec<(&str, Request<Body>, StatusCode, &str)> = vec![
        (
            "not JSON",
            post_raw("/predict", "application/json", b"hello".to_vec()),
            StatusCode::BAD_REQUEST,
            "not a JSON",
        ),
        (
            "JSON but not an object",
            post_json("/predict", &json!([1, 2])),
            StatusCode::BAD_REQUEST,
            "not a JSON",
        ),
        (
            "missing image",
            post_json("/predict", &json!({})),
            StatusCode::BAD_REQUEST,
            "neither image nor image_url",
        ),
        (
            "bad base64",
            post_json(
                "/api/v1/recognize",
                &json!({"image": "data:image/png;base64,@@@"}),
            ),
            StatusCode::BAD_REQUEST,
            "base64",
        ),
        (
            "data URL without base64",
            post_json("/predict", &json!({"image": "data:image/png,abc"})),
            StatusCode::BAD_REQUEST,
            "base64",
        ),
        (
            "not an image",
            post_json(
                "/predict",
                &json!({"image": b64(b"hello, world: plain text")}),
            ),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "not an image",
        ),
        (
            "truncated JPEG",
            post_json("/predict", &json!({"image": b64(&jpg[..jpg.len() / 3])})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "truncated",
        ),
        (
            "truncated PNG",
            post_json("/predict", &json!({"image": b64(&png(300, 80)[..60])})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "decode",
        ),
        (
            "too many pixels",
            post_json("/predict", &json!({"image": b64(&png(2000, 1000))})),
            StatusCode::PAYLOAD_TOO_LARGE,
            "2000×1000",
        ),
        (
            "too wide",
            post_json("/predict", &json!({"image": b64(&png(6000, 1))})),
            StatusCode::PAYLOAD_TOO_LARGE,
            "5000",
        ),
        (
            "huge body",
            post_raw("/predict", "application/json", vec![b' '; 2 * 1024 * 1024]),
            StatusCode::PAYLOAD_TOO_LARGE,
            "1 MiB",
        ),
        (
            "huge multipart",
            multipart(&[("image", Some("big.jpg"), &vec![0u8; 2 * 1024 * 1024])]),
            StatusCode::PAYLOAD_TOO_LARGE,
            "1 MiB",
        ),
        (
            "multipart without image",
            multipart(&[("layout", None, b"line")]),
            StatusCode::BAD_REQUEST,
            "no `image`",
        ),
        (
            "unsupported content type",
            post_raw("/api/v1/recognize", "text/csv", b"a,b".to_vec()),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "content type",
        ),
        (
            "bad layout",
            post_json(
                "/api/v1/recognize",
                &json!({"image": b64(&jpg), "layout": "sideways"}),
            ),
            StatusCode::BAD_REQUEST,
            "layout",
        ),
        (
            "image_url not enabled",
            post_json("/predict", &json!({"image_url": "file:///etc/passwd"})),
            StatusCode::BAD_REQUEST,
            "not enabled",
        ),
        (
            "bad flag",
            post_json("/api/v1/feedback", &json!({"flag": "meh"})),
            StatusCode::BAD_REQUEST,
            "flag",
        ),
        (
            "no route",
            Request::get("/nope").body(Body::empty()).expect("request"),
            StatusCode::NOT_FOUND,
            "no route",
        ),
        (
            "wrong method",
            Request::get("/predict")
                .body(Body::empty())
                .expect("request"),
            StatusCode::METHOD_NOT_ALLOWED,
            "GET is not allowed",
        ),
    ];
    for (name, request, want, needle) in cases {
        let (status, _, body) = send(&router, request).await;
        let body = json_of(&body);
        let message = body["message"].as_str().unwrap_or("");
        assert_eq!(status, want, "{name}: {body}");
        assert!(body["error"].is_string(), "{name}: {body}");
        assert!(
            message.contains(needle),
            "{name}: {message:?} lacks {needle:?}"
        );
    }
    let (status, _, _) = send(
        &router,
        Request::get("/healthz")
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, body) =
        send(&router, post_json("/predict", &json!({"image": b64(&jpg)}))).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feedback_is_stored_and_everything_is_counted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (state, router) = service(&dir, &[]).await;
    let image = data_url(&line_jpg(), "image/jpeg");
    let (_, _, body) = send(
        &router,
        post_json("/api/v1/recognize", &json!({"image": image})),
    )
    .await;
    let read = json_of(&body);
    let flag = json!({
        "flag": "incorrect",
        "correction": "Dans le cas où je viendrais",
        "request_id": read["request_id"],
        "text": read["text"],
        "model": read["model"],
        "image": image,
    });
    let (status, _, body) = send(&router, post_json("/api/v1/feedback", &flag)).await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&body)
    );
    let id = json_of(&body)["id"].as_i64().expect("id");
    let stored = state.store.feedback(5).expect("reads");
    assert_eq!(stored.len(), 1);
    let f = &stored[0];
    assert_eq!(f.id, id);
    assert_eq!(
        f.feedback.correction.as_deref(),
        Some("Dans le cas où je viendrais")
    );
    assert_eq!(
        f.feedback.request_id.as_deref(),
        read["request_id"].as_str()
    );
    assert_eq!(f.feedback.image.as_deref(), Some(&line_jpg()[..]));

    let (status, _, body) = send(
        &router,
        Request::get("/readyz")
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(
        (status, json_of(&body)["model"].as_str()),
        (StatusCode::OK, Some("default-line"))
    );
    let (status, content_type, body) = send(
        &router,
        Request::get("/metrics")
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/plain"));
    let text = String::from_utf8(body).expect("utf-8");
    for series in [
        r#"htr_requests_total{route="/api/v1/recognize",status="200"} 1"#,
        r#"htr_requests_total{route="/api/v1/feedback",status="201"} 1"#,
        r#"htr_feedback_total{flag="incorrect"} 1"#,
        "htr_batch_lines_count 1",
        "htr_input_pixels_count 1",
        "htr_prediction_confidence_count 1",
        "htr_request_duration_seconds_bucket",
        "htr_requests_in_flight",
    ] {
        assert!(text.contains(series), "{series} missing from:\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_requests_share_forward_passes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (state, router) = service(&dir, &["--max-wait-ms", "400", "--max-batch", "8"]).await;
    let image = data_url(&line_jpg(), "image/jpeg");
    let requests: Vec<_> = (0..6)
        .map(|_| {
            let router = router.clone();
            let body = json!({"image": image, "layout": "line"});
            tokio::spawn(async move { send(&router, post_json("/predict", &body)).await })
        })
        .collect();
    let mut preds = Vec::new();
    for r in requests {
        let (status, _, body) = r.await.expect("joins");
        assert_eq!(status, StatusCode::OK);
        preds.push(json_of(&body)["pred"].as_str().expect("pred").to_string());
    }
    // Batched lines read as they do alone.
    assert!(preds.windows(2).all(|w| w[0] == w[1]), "{preds:?}");
    let batches = state.metrics.batch_lines.get_sample_count();
    assert!(
        batches < 6,
        "6 requests in {batches} forward passes: no batching"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admission_refuses_beyond_the_limit_and_times_out() {
    use axum::middleware::from_fn_with_state;
    use axum::routing::get;
    let admission = super::guard::Admission::new(1, Duration::from_millis(100));
    let router = Router::new()
        .route(
            "/slow",
            get(|| async { tokio::time::sleep(Duration::from_secs(5)).await }),
        )
        .route("/fast", get(|| async { "ok" }))
        .route_layer(from_fn_with_state(admission.clone(), super::guard::guard));
    let get_ = |p: &str| Request::get(p).body(Body::empty()).expect("request");
    let (status, _, body) = send(&router, get_("/slow")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        json_of(&body)["message"]
            .as_str()
            .is_some_and(|m| m.contains("longer than"))
    );
    let held = admission
        .permits
        .clone()
        .try_acquire_owned()
        .expect("a permit");
    let (status, _, body) = send(&router, get_("/fast")).await;
    assert_eq!(
        status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        String::from_utf8_lossy(&body)
    );
    drop(held);
    let (status, _, _) = send(&router, get_("/fast")).await;
    assert_eq!(status, StatusCode::OK);
}

/// A loopback server for `image_url` and `--backend-url` tests.
async fn listen(router: Router) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, router).await });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_urls_only_from_allowed_hosts_and_the_backend_url_forwards() {
    use axum::response::Redirect;
    use axum::routing::get;
    let dir = tempfile::tempdir().expect("tempdir");
    // A backend: the real service on a socket.
    let (_, backend) = service(&dir, &[]).await;
    let backend_addr = listen(backend.clone()).await;
    // A file host: the line, and a redirect to a host that is not allowed.
    let files = Router::new()
        .route("/line.jpg", get(|| async { line_jpg() }))
        .route(
            "/elsewhere",
            get(|| async { Redirect::temporary("http://localhost:9/line.jpg") }),
        );
    let files_addr = listen(files).await;

    let front_dir = tempfile::tempdir().expect("tempdir");
    let backend_url = format!("http://{backend_addr}/api/v1/recognize");
    let (_, front) = service(
        &front_dir,
        &[
            "--backend-url",
            &backend_url,
            "--allow-image-url-host",
            "127.0.0.1",
        ],
    )
    .await;
    let image = data_url(&line_jpg(), "image/jpeg");
    let (_, _, direct) = send(&backend, post_json("/predict", &json!({"image": image}))).await;
    let (status, _, forwarded) =
        send(&front, post_json("/predict", &json!({"image": image}))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json_of(&forwarded)["pred"], json_of(&direct)["pred"]);
    let (status, _, body) = send(
        &front,
        post_json("/api/v1/recognize", &json!({"image": image})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        json_of(&body)["model"],
        "default-line",
        "the backend's model answers"
    );
    // The backend's refusal reaches the client with its status.
    let not_image = base64::engine::general_purpose::STANDARD.encode(b"plain text, no image");
    let (status, _, _) = send(&front, post_json("/predict", &json!({"image": not_image}))).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let url = format!("http://{files_addr}/line.jpg");
    let (status, _, body) = send(&front, post_json("/predict", &json!({"image_url": url}))).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    assert_eq!(json_of(&body)["pred"], json_of(&direct)["pred"]);
    for (url, needle) in [
        (format!("http://{files_addr}/elsewhere"), "not allowed"),
        (
            format!("http://localhost:{}/line.jpg", files_addr.port()),
            "only http(s)",
        ),
        ("file:///etc/passwd".to_string(), "only http(s)"),
    ] {
        let (status, _, body) =
            send(&front, post_json("/predict", &json!({"image_url": url}))).await;
        let body = json_of(&body);
        assert_eq!(status, StatusCode::BAD_REQUEST, "{url}: {body}");
        assert!(
            body["message"].as_str().is_some_and(|m| m.contains(needle)),
            "{url}: {body}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_and_its_examples_are_served() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, router) = service(&dir, &[]).await;
    let get_ = |p: &str| Request::get(p).body(Body::empty()).expect("request");
    let (status, content_type, body) = send(&router, get_("/")).await;
    assert_eq!(
        (status, content_type.as_str()),
        (StatusCode::OK, "text/html; charset=utf-8")
    );
    let html = String::from_utf8(body).expect("utf-8");
    assert!(html.contains("id=\"flag-form\"") && html.contains("/app.js"));
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no CDN"
    );
    let (_, _, body) = send(&router, get_("/api/v1/examples")).await;
    let examples = json_of(&body);
    let names: Vec<&str> = examples
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    assert!(names.len() >= 3);
    for name in names {
        let (status, content_type, body) = send(&router, get_(&format!("/examples/{name}"))).await;
        assert_eq!(
            (status, content_type.as_str()),
            (StatusCode::OK, "image/jpeg")
        );
        assert!(image::guess_format(&body).is_ok());
    }
    let (status, _, _) = send(&router, get_("/examples/..%2Fetc%2Fpasswd")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_recognition_is_logged_with_its_input_statistics() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, router) = service(&dir, &["--keep-inputs"]).await;
    let jpg = line_jpg();
    let (_, _, body) = send(
        &router,
        post_json(
            "/api/v1/recognize",
            &json!({"image": data_url(&jpg, "image/jpeg")}),
        ),
    )
    .await;
    let request_id = json_of(&body)["request_id"]
        .as_str()
        .expect("id")
        .to_string();
    let not_image = base64::engine::general_purpose::STANDARD.encode(b"plain text");
    let (status, _, _) = send(&router, post_json("/predict", &json!({"image": not_image}))).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // The writer is asynchronous: wait for both rows.
    let conn = rusqlite::Connection::open(dir.path().join("serve.sqlite3")).expect("opens");
    let started = Instant::now();
    while conn
        .query_row("SELECT COUNT(*) FROM predictions", [], |r| {
            r.get::<_, i64>(0)
        })
        .expect("counts")
        < 2
    {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "rows never written"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    type Row = (
        String,
        String,
        u16,
        Option<u32>,
        Option<bool>,
        Option<String>,
        i64,
        Option<String>,
    );
    let rows: Vec<Row> = conn
        .prepare(
            "SELECT request_id, route, status, width, dark_ink, image_sha256, pred_chars, error
             FROM predictions ORDER BY id",
        )
        .and_then(|mut s| {
            s.query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                ))
            })?
            .collect()
        })
        .expect("rows");
    let ok = rows
        .iter()
        .find(|r| r.1 == "/api/v1/recognize")
        .expect("the good request");
    assert_eq!(
        (ok.0.as_str(), ok.2, ok.3, ok.4),
        (request_id.as_str(), 200, Some(564), Some(true))
    );
    assert!(ok.6 > 10 && ok.7.is_none());
    let version: Option<String> = conn
        .query_row(
            "SELECT model_version FROM predictions WHERE route = '/api/v1/recognize'",
            [],
            |r| r.get(0),
        )
        .expect("version");
    assert!(
        version.is_some_and(|v| v.len() == 12 && v.chars().all(|c| c.is_ascii_hexdigit())),
        "the model's content hash"
    );
    let sha = ok.5.clone().expect("hashed");
    let kept: Vec<u8> = conn
        .query_row("SELECT bytes FROM inputs WHERE sha256 = ?1", [&sha], |r| {
            r.get(0)
        })
        .expect("kept with --keep-inputs");
    assert_eq!(kept, jpg);
    let bad = rows
        .iter()
        .find(|r| r.1 == "/predict")
        .expect("the bad request");
    assert_eq!((bad.2, bad.3), (415, None));
    assert!(
        bad.7.as_deref().is_some_and(|e| e.contains("not an image")),
        "{bad:?}"
    );
}

/// Recognizes the test line; returns the request id.
async fn recognize_line(router: &Router) -> String {
    let (status, _, body) = send(
        router,
        post_json(
            "/api/v1/recognize",
            &json!({"image": data_url(&line_jpg(), "image/jpeg")}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    json_of(&body)["request_id"]
        .as_str()
        .expect("a request id")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flag_by_request_id_alone_keeps_the_image_for_training() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Default flags: no --keep-inputs.
    let (state, router) = service(&dir, &[]).await;
    let request_id = recognize_line(&router).await;
    let flag = json!({
        "request_id": request_id,
        "flag": "incorrect",
        "correction": "Dans le cas où je viendrais",
    });
    let (status, _, body) = send(&router, post_json("/api/v1/feedback", &flag)).await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&body)
    );
    let out = dir.path().join("export");
    let exported = crate::monitor::export::export(&state.store, &out).expect("exports");
    assert_eq!(exported.len(), 1, "one sample, with its image");
    assert_eq!(exported[0].correction, "Dans le cas où je viendrais");
    let image = std::fs::read(out.join(format!("{}.jpg", exported[0].name))).expect("image");
    assert_eq!(image, line_jpg());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flag_for_an_input_no_longer_held_says_to_send_the_image() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (state, router) = service(&dir, &["--flag-window-minutes", "0"]).await;
    let request_id = recognize_line(&router).await;
    // The prediction log is written asynchronously: wait for the row.
    let started = Instant::now();
    while !state.store.input_of_request(&request_id).expect("reads").0 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "row never written"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let flag = |id: &str| json!({"request_id": id, "flag": "incorrect", "correction": "x"});
    let (status, _, body) = send(&router, post_json("/api/v1/feedback", &flag(&request_id))).await;
    assert_eq!(status, StatusCode::GONE);
    let message = json_of(&body)["message"].as_str().unwrap_or("").to_string();
    assert!(
        message.contains(&request_id) && message.contains("`image`"),
        "{message}"
    );
    let (status, _, body) = send(&router, post_json("/api/v1/feedback", &flag("no-such-id"))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(String::from_utf8_lossy(&body).contains("no-such-id"));
    assert!(
        state.store.feedback(5).expect("reads").is_empty(),
        "nothing stored"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misspelt_fields_are_refused_by_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (state, router) = service(&dir, &[]).await;
    let request_id = recognize_line(&router).await;
    let misspelt = json!({"request_id": request_id, "flag": "incorrect", "corrected_text": "x"});
    let (status, _, body) = send(&router, post_json("/api/v1/feedback", &misspelt)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(String::from_utf8_lossy(&body).contains("corrected_text"));
    assert!(state.store.feedback(5).expect("reads").is_empty());
    let image = data_url(&line_jpg(), "image/jpeg");
    let (status, _, body) = send(
        &router,
        post_json(
            "/api/v1/recognize",
            &json!({"image": image, "layuot": "line"}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(String::from_utf8_lossy(&body).contains("layuot"));
    // FSDL's /predict keeps ignoring what its clients add.
    let (status, _, _) = send(
        &router,
        post_json("/predict", &json!({"image": image, "client": "gradio"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}
