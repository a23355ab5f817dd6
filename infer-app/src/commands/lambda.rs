//! `infer-app lambda`: the service as an AWS Lambda function, through the Lambda Runtime API.
//!
//! Two kinds of events arrive:
//! * direct invocations in the FSDL reference's shape: `{"image": "data:…"}` or
//!   `{"image_url": …}`, possibly wrapped as `{"body": "<json>"}`, answered `{"pred": "…"}`
//!   or `{"statusCode": 4xx, "message": …}`, as its handler does;
//! * function-URL (HTTP API v2) requests, passed to the same router `serve` runs, so
//!   `/api/v1/recognize`, `/predict`, `/healthz` and the rest all work there too.

use std::process::ExitCode;

use anyhow::Context;
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine as _;
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::cli::{GlobalArgs, LambdaArgs};
use crate::serve::{AppState, app};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

pub fn run(args: LambdaArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        // Loaded once per container (the cold start), as the reference does at import.
        let router = app(AppState::build(&args.service, &args.db, global)?);
        lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
            let router = router.clone();
            async move { Ok::<Value, BoxError>(handle(router, event.payload).await) }
        }))
        .await
        .map_err(|e| anyhow::anyhow!("the Lambda runtime stopped: {e}"))?;
        Ok(ExitCode::SUCCESS)
    })
}

/// Answers one event.
pub async fn handle(router: Router, event: Value) -> Value {
    // The reference accepts the event as a JSON string too.
    let event = match event {
        Value::String(s) => serde_json::from_str(&s).unwrap_or(Value::String(s)),
        other => other,
    };
    if event.get("requestContext").is_some() && event.get("rawPath").is_some() {
        return http_event(router, &event).await;
    }
    let body = match event.get("body") {
        Some(Value::String(s)) => match decode_body(&event, s) {
            Ok(bytes) => bytes,
            Err(message) => return fsdl_error(StatusCode::BAD_REQUEST, &message),
        },
        Some(other) => other.to_string().into_bytes(),
        None => event.to_string().into_bytes(),
    };
    let request = Request::post("/predict")
        .header("content-type", "application/json")
        .body(Body::from(body));
    let Ok(request) = request else {
        return fsdl_error(StatusCode::INTERNAL_SERVER_ERROR, "building the request");
    };
    let (status, body) = call(router, request).await;
    let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if status.is_success() {
        json
    } else {
        let message = json["message"]
            .as_str()
            .unwrap_or("request failed")
            .to_string();
        fsdl_error(status, &message)
    }
}

fn fsdl_error(status: StatusCode, message: &str) -> Value {
    json!({ "statusCode": status.as_u16(), "message": message })
}

fn decode_body(event: &Value, body: &str) -> Result<Vec<u8>, String> {
    if event["isBase64Encoded"].as_bool() == Some(true) {
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|e| format!("body: not valid base64: {e}"))
    } else {
        Ok(body.as_bytes().to_vec())
    }
}

async fn call(router: Router, request: Request<Body>) -> (StatusCode, Vec<u8>) {
    match router.oneshot(request).await {
        Ok(response) => {
            let status = response.status();
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .map(|b| b.to_vec())
                .unwrap_or_default();
            (status, bytes)
        }
        Err(never) => match never {},
    }
}

/// A function-URL event through the router, answered in the HTTP API v2 response shape.
async fn http_event(router: Router, event: &Value) -> Value {
    let method = event["requestContext"]["http"]["method"]
        .as_str()
        .unwrap_or("GET");
    let path = event["rawPath"].as_str().unwrap_or("/");
    let query = event["rawQueryString"].as_str().unwrap_or("");
    let uri = if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{query}")
    };
    let body = match event["body"].as_str() {
        Some(s) => match decode_body(event, s) {
            Ok(b) => b,
            Err(message) => {
                return http_response(
                    StatusCode::BAD_REQUEST,
                    "application/json",
                    json!({"error": "bad_request", "message": message})
                        .to_string()
                        .into_bytes(),
                );
            }
        },
        None => Vec::new(),
    };
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(headers) = event["headers"].as_object() {
        for (name, value) in headers {
            if let Some(v) = value.as_str() {
                request = request.header(name.as_str(), v);
            }
        }
    }
    let Ok(request) = request.body(Body::from(body)) else {
        return http_response(
            StatusCode::BAD_REQUEST,
            "application/json",
            br#"{"error":"bad_request","message":"malformed request line or headers"}"#.to_vec(),
        );
    };
    match router.oneshot(request).await {
        Ok(response) => {
            let status = response.status();
            let content_type = response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("application/octet-stream")
                .to_string();
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .map(|b| b.to_vec())
                .unwrap_or_default();
            http_response(status, &content_type, bytes)
        }
        Err(never) => match never {},
    }
}

fn http_response(status: StatusCode, content_type: &str, body: Vec<u8>) -> Value {
    let (body, encoded) = match String::from_utf8(body) {
        Ok(text) => (text, false),
        Err(e) => (
            base64::engine::general_purpose::STANDARD.encode(e.into_bytes()),
            true,
        ),
    };
    json!({
        "statusCode": status.as_u16(),
        "headers": { "content-type": content_type },
        "body": body,
        "isBase64Encoded": encoded,
    })
}
