//! The routes: the page, the two recognition schemas, feedback, health and metrics.

use std::time::Instant;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;
use text_recognizer::export::{SourceInfo, alto_v4, page_2019, utc_now};
use tower_http::compression::CompressionLayer;
use tower_http::trace::TraceLayer;

use super::AppState;
use super::error::ApiError;
use super::input::{self, ImageSource, OutputFormat, RecognizeRequest};
use super::response::{Reading, RecognizeResponse};
use super::{guard, metrics, page};
use crate::monitor::log::Entry;
use crate::monitor::store::{Feedback, Flag, InputStats, Prediction, sha256_hex};

/// Longest correction kept (a line or a page of text, not a novel).
const MAX_CORRECTION_CHARS: usize = 20_000;

/// The whole service.
pub fn app(state: AppState) -> Router {
    let api = Router::new()
        .route("/predict", post(predict))
        .route("/api/v1/recognize", post(recognize))
        .route("/api/v1/feedback", post(feedback))
        .route_layer(from_fn_with_state(state.admission.clone(), guard::guard))
        .layer(DefaultBodyLimit::max(state.max_body));
    Router::new()
        .merge(api)
        .merge(page::routes())
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics::metrics))
        .route_layer(from_fn_with_state(state.clone(), metrics::track))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(CompressionLayer::new())
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn not_found(request: Request) -> ApiError {
    ApiError {
        status: StatusCode::NOT_FOUND,
        code: "not_found",
        message: format!("no route {} {}", request.method(), request.uri().path()),
    }
}

async fn method_not_allowed(request: Request) -> ApiError {
    ApiError {
        status: StatusCode::METHOD_NOT_ALLOWED,
        code: "method_not_allowed",
        message: format!(
            "{} is not allowed on {}",
            request.method(),
            request.uri().path()
        ),
    }
}

/// Alive: the process answers.
async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// Ready: the model is loaded and has read its warm-up line.
async fn readyz(State(state): State<AppState>) -> Response {
    let model = state.describe();
    if state.is_ready() {
        Json(json!({ "status": "ready", "model": model })).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "warming up", "model": model })),
        )
            .into_response()
    }
}

/// The image bytes a request names, fetching `image_url` when allowed.
async fn image_bytes(state: &AppState, source: ImageSource) -> Result<Bytes, ApiError> {
    match source {
        ImageSource::Bytes(b) => Ok(b),
        ImageSource::Url(url) => match &state.image_url {
            Some(fetcher) => fetcher.fetch(&url).await,
            None => Err(super::image_url::disabled()),
        },
    }
}

/// A recognition's outcome, for the answer and the log.
struct Outcome {
    result: Result<Reading, ApiError>,
    image: Option<Bytes>,
    stats: Option<InputStats>,
}

/// Reads what a parsed request names.
async fn read(state: &AppState, parsed: Result<RecognizeRequest, ApiError>) -> Outcome {
    let parsed = match parsed {
        Ok(p) => p,
        Err(e) => {
            return Outcome {
                result: Err(e),
                image: None,
                stats: None,
            };
        }
    };
    let layout = parsed.layout.unwrap_or(state.layout);
    let bytes = match image_bytes(state, parsed.image).await {
        Ok(b) => b,
        Err(e) => {
            return Outcome {
                result: Err(e),
                image: None,
                stats: None,
            };
        }
    };
    match state.engine.read(bytes.clone(), layout).await {
        Ok((reading, stats)) => Outcome {
            result: Ok(reading),
            image: Some(bytes),
            stats,
        },
        Err(e) => Outcome {
            result: Err(e),
            image: Some(bytes),
            stats: None,
        },
    }
}

/// One row of the prediction log for a finished request; never waits.
fn log(
    state: &AppState,
    route: &str,
    request_id: &str,
    started: Instant,
    outcome: &Outcome,
    status: StatusCode,
) {
    let sha = outcome.image.as_deref().map(sha256_hex);
    let (lines, chars, confidence, model) = match &outcome.result {
        Ok(r) => (
            r.lines.len(),
            r.text.chars().count(),
            r.confidence,
            r.model.clone(),
        ),
        Err(_) => (0, 0, None, state.describe()),
    };
    if let (Some(bytes), Ok(_)) = (&outcome.image, &outcome.result) {
        state.recent.put(request_id, bytes.clone());
    }
    let input = match (&sha, &outcome.image) {
        (Some(sha), Some(bytes)) if state.keep_inputs => Some((sha.clone(), bytes.to_vec())),
        _ => None,
    };
    state.log.log(Entry {
        row: Prediction {
            created: utc_now(),
            request_id: request_id.to_string(),
            model,
            model_version: state.engine.version(),
            route: route.to_string(),
            status: status.as_u16(),
            latency_ms: started.elapsed().as_secs_f64() * 1e3,
            image_sha256: sha,
            input: outcome.stats.clone(),
            lines,
            pred_chars: chars,
            confidence,
            error: outcome.result.as_ref().err().map(|e| e.message.clone()),
        },
        input,
    });
}

fn with_request_id(mut response: Response, request_id: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert("x-request-id", v);
    }
    response
}

/// `POST /predict`: the FSDL reference's schema, `{"image": "data:…"}` → `{"pred": "…"}`.
async fn predict(State(state): State<AppState>, request: Request) -> Response {
    let started = Instant::now();
    let request_id = uuid::Uuid::new_v4().to_string();
    let parsed = match input::read_body(request, state.max_body).await {
        Ok(body) => input::parse_json(&body, input::Keys::Lenient),
        Err(e) => Err(e),
    };
    let outcome = read(&state, parsed).await;
    let response = match &outcome.result {
        Ok(reading) => Json(json!({ "pred": reading.text })).into_response(),
        Err(e) => e.clone().into_response(),
    };
    log(
        &state,
        "/predict",
        &request_id,
        started,
        &outcome,
        response.status(),
    );
    with_request_id(response, &request_id)
}

/// `POST /api/v1/recognize`: JSON or multipart in, text with lines, boxes and confidences
/// (or plain text, ALTO, PAGE) out.
async fn recognize(State(state): State<AppState>, request: Request) -> Response {
    let started = Instant::now();
    let request_id = uuid::Uuid::new_v4().to_string();
    let parsed = input::parse(request, state.max_body).await;
    let format = parsed.as_ref().map(|p| p.format).unwrap_or_default();
    let outcome = read(&state, parsed).await;
    let response = match &outcome.result {
        Ok(reading) => render(reading, format, &request_id, started),
        Err(e) => e.clone().into_response(),
    };
    log(
        &state,
        "/api/v1/recognize",
        &request_id,
        started,
        &outcome,
        response.status(),
    );
    with_request_id(response, &request_id)
}

fn render(reading: &Reading, format: OutputFormat, request_id: &str, started: Instant) -> Response {
    let xml = |doc: String| ([(header::CONTENT_TYPE, "application/xml")], doc).into_response();
    let created = utc_now();
    let source = SourceInfo {
        file_name: "upload",
        model: &reading.model,
        created: &created,
    };
    match format {
        OutputFormat::Json => Json(RecognizeResponse {
            reading: reading.clone(),
            request_id: request_id.to_string(),
            latency_ms: started.elapsed().as_secs_f64() * 1e3,
        })
        .into_response(),
        OutputFormat::Text => reading.text.clone().into_response(),
        OutputFormat::Alto => xml(alto_v4(&[reading.to_page()], &source)),
        OutputFormat::Page => xml(page_2019(&reading.to_page(), &source)),
    }
}

/// `POST /api/v1/feedback`'s body; a misspelt field is refused, not dropped.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FeedbackRequest {
    flag: Option<String>,
    request_id: Option<String>,
    /// What the model read.
    text: Option<String>,
    correction: Option<String>,
    model: Option<String>,
    /// The image, as in a recognition request.
    image: Option<String>,
}

/// The image a recognition `request_id` read: held in memory for the flag window, or kept in
/// the database (`--keep-inputs`). A 410 when the request is known but its image is gone, a
/// 400 when no request has that id; either says to send the `image`.
async fn input_of_request(state: &AppState, request_id: &str) -> Result<Vec<u8>, ApiError> {
    if let Ok(bytes) = state.recent.get(request_id) {
        return Ok(bytes.to_vec());
    }
    let store = state.store.clone();
    let id = request_id.to_string();
    let (known, kept) = tokio::task::spawn_blocking(move || store.input_of_request(&id))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    if let Some(bytes) = kept {
        return Ok(bytes);
    }
    let window = state.recent.window().as_secs() / 60;
    if known {
        Err(ApiError::gone(format!(
            "request_id {request_id:?}: its image is no longer kept (inputs are held {window} \
             minutes after recognition); send the image with the flag (`image`)"
        )))
    } else {
        Err(ApiError::bad_request(format!(
            "request_id {request_id:?}: no recognition with that id is held (inputs are held \
             {window} minutes); send the image with the flag (`image`)"
        )))
    }
}

/// `POST /api/v1/feedback`: a flag (incorrect, offensive, other) with an optional
/// correction, stored in SQLite with its image (sent, or the one its `request_id` read).
async fn feedback(State(state): State<AppState>, request: Request) -> Result<Response, ApiError> {
    let body = input::read_body(request, state.max_body).await?;
    let req: FeedbackRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("body is not a JSON feedback object: {e}")))?;
    let flag = match req.flag.as_deref() {
        Some("incorrect") => Flag::Incorrect,
        Some("offensive") => Flag::Offensive,
        Some("other") => Flag::Other,
        Some(f) => {
            return Err(ApiError::bad_request(format!(
                "flag: unknown {f:?} (expected incorrect, offensive or other)"
            )));
        }
        None => return Err(ApiError::bad_request("flag is missing")),
    };
    let correction = req.correction.filter(|c| !c.trim().is_empty());
    if correction
        .as_ref()
        .is_some_and(|c| c.chars().count() > MAX_CORRECTION_CHARS)
    {
        return Err(ApiError::too_large(format!(
            "correction: longer than {MAX_CORRECTION_CHARS} characters"
        )));
    }
    let image = match (req.image.as_deref(), req.request_id.as_deref()) {
        (Some(image), _) => Some(input::decode_base64_image(image)?),
        (None, Some(id)) => Some(input_of_request(&state, id).await?),
        (None, None) => None,
    };
    if image
        .as_deref()
        .is_some_and(|b| image::guess_format(b).is_err())
    {
        return Err(ApiError::unsupported("image: not an image"));
    }
    let record = Feedback {
        request_id: req.request_id,
        flag,
        predicted: req.text,
        correction,
        model: req.model,
        image,
    };
    let store = state.store.clone();
    let id = tokio::task::spawn_blocking(move || store.record_feedback(&record))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    state
        .metrics
        .feedback
        .with_label_values(&[flag.as_str()])
        .inc();
    Ok((
        StatusCode::CREATED,
        Json(json!({ "id": id, "status": "stored" })),
    )
        .into_response())
}
