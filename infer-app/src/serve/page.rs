//! The web page, served from the binary (no CDN: it works offline), and its example images:
//! real lines and a paragraph from the Testaments de Poilus (CC-BY-4.0, see
//! datasets/fixtures/serve-examples/README.md).

use axum::Json;
use axum::Router;
use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;

use super::AppState;
use super::error::ApiError;

const INDEX: &str = include_str!("page/index.html");
const SCRIPT: &str = include_str!("page/app.js");
const STYLE: &str = include_str!("page/style.css");

/// An example image to click.
#[derive(Serialize)]
struct Example {
    name: &'static str,
    /// `line` or `paragraph`: the layout the page asks for.
    layout: &'static str,
    /// What the image says (its transcription).
    reference: &'static str,
    #[serde(skip)]
    bytes: &'static [u8],
}

macro_rules! fixture {
    ($path:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../datasets/fixtures/",
            $path
        ))
    };
}

static EXAMPLES: &[Example] = &[
    Example {
        name: "AD78_0005-1-paragraph.jpg",
        layout: "paragraph",
        reference: "pour ma légataire universelle\nma femme née Level Rosalie\nVictorine. Ma volonté absolue\nest qu’elle entre en possession",
        bytes: fixture!("serve-examples/AD78_0005-1-paragraph.jpg"),
    },
    Example {
        name: "AN_0006-0-002.jpg",
        layout: "line",
        reference: "Dans le cas où je viendrais",
        bytes: fixture!("testaments-val-mini/AN_0006-0-002.jpg"),
    },
    Example {
        name: "AD78_0034-1-009.jpg",
        layout: "line",
        reference: "Fait a Versailles le trois",
        bytes: fixture!("testaments-val-mini/AD78_0034-1-009.jpg"),
    },
    Example {
        name: "AN_0025-0-011.jpg",
        layout: "line",
        reference: "né le 25 Novembre 1883",
        bytes: fixture!("testaments-val-mini/AN_0025-0-011.jpg"),
    },
];

/// `/`, its script and style, and the examples.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/",
            get(|| async { asset("text/html; charset=utf-8", INDEX) }),
        )
        .route(
            "/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", SCRIPT) }),
        )
        .route(
            "/style.css",
            get(|| async { asset("text/css; charset=utf-8", STYLE) }),
        )
        .route("/api/v1/examples", get(|| async { Json(EXAMPLES) }))
        .route("/examples/{name}", get(example))
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

async fn example(Path(name): Path<String>) -> Result<Response, ApiError> {
    let found = EXAMPLES.iter().find(|e| e.name == name).ok_or(ApiError {
        status: axum::http::StatusCode::NOT_FOUND,
        code: "not_found",
        message: format!("no example {name:?}"),
    })?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/jpeg"),
            (header::CACHE_CONTROL, "max-age=86400"),
        ],
        found.bytes,
    )
        .into_response())
}
