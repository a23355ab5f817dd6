//! Who reads the image: the local model behind the micro-batcher, or another server's JSON
//! API (`--backend-url`), as the reference's front end forwards to its Lambda.

use std::time::Duration;

use axum::body::Bytes;
use base64::Engine as _;
use serde::Deserialize;
use text_recognizer::LayoutMode;
use text_recognizer::image::{DecodeLimits, Layout};
use text_recognizer::layout::plan_page;

use super::batcher::Batcher;
use super::error::ApiError;
use super::input::decode_image;
use super::metrics::Metrics;
use super::response::Reading;
use crate::monitor::store::InputStats;

/// The local model.
pub struct Local {
    /// The queue in front of it.
    pub batcher: Batcher,
    /// Its name.
    pub model: String,
    /// A content hash of its file (see [`crate::monitor::store::Prediction::model_version`]).
    pub version: String,
    /// How it sizes inputs (lines are cut from pages for a line model).
    pub model_layout: Layout,
    /// Image size limits.
    pub limits: DecodeLimits,
    /// Where input statistics go.
    pub metrics: Metrics,
}

/// Another server.
pub struct Remote {
    client: reqwest::Client,
    url: String,
}

/// Either.
pub enum Engine {
    /// Read here.
    Local(Box<Local>),
    /// Forwarded.
    Remote(Remote),
}

impl Engine {
    /// A forwarding engine for `url`.
    pub fn remote(url: &str, timeout: Duration) -> anyhow::Result<Self> {
        let parsed =
            reqwest::Url::parse(url).map_err(|e| anyhow::anyhow!("--backend-url {url:?}: {e}"))?;
        anyhow::ensure!(
            matches!(parsed.scheme(), "http" | "https"),
            "--backend-url {url:?}: http or https expected"
        );
        let client = reqwest::Client::builder().timeout(timeout).build()?;
        Ok(Engine::Remote(Remote {
            client,
            url: url.to_string(),
        }))
    }

    /// Ready to answer: the local model is warmed up (a backend is trusted to be).
    pub fn is_ready(&self) -> bool {
        match self {
            Engine::Local(l) => l.batcher.is_ready(),
            Engine::Remote(_) => true,
        }
    }

    /// The local model's content hash.
    pub fn version(&self) -> Option<String> {
        match self {
            Engine::Local(l) => Some(l.version.clone()),
            Engine::Remote(_) => None,
        }
    }

    /// The model's name, or the backend's URL.
    pub fn describe(&self) -> String {
        match self {
            Engine::Local(l) => l.model.clone(),
            Engine::Remote(r) => format!("backend {}", r.url),
        }
    }

    /// Reads an image file's bytes; the input's statistics when it was decoded here.
    pub async fn read(
        &self,
        bytes: Bytes,
        layout: LayoutMode,
    ) -> Result<(Reading, Option<InputStats>), ApiError> {
        match self {
            Engine::Local(local) => local
                .read(bytes, layout)
                .await
                .map(|(r, stats)| (r, Some(stats))),
            Engine::Remote(remote) => remote.read(&bytes, layout).await.map(|r| (r, None)),
        }
    }
}

impl Local {
    async fn read(
        &self,
        bytes: Bytes,
        mode: LayoutMode,
    ) -> Result<(Reading, InputStats), ApiError> {
        let (limits, model_layout, metrics) =
            (self.limits, self.model_layout, self.metrics.clone());
        // Decoding and segmentation are CPU work: off the async threads.
        let (plan, stats) = tokio::task::spawn_blocking(move || {
            let image = decode_image(&bytes, limits)?;
            let (w, h) = image.dimensions();
            let area = f64::from(w) * f64::from(h);
            let sum: u64 = image.as_raw().iter().map(|&p| u64::from(p)).sum();
            let stats = InputStats {
                width: w,
                height: h,
                mean_intensity: sum as f64 / area.max(1.0),
                dark_ink: text_recognizer::image::ink_is_dark(&image),
            };
            metrics.input_pixels.observe(area);
            metrics.input_mean_intensity.observe(stats.mean_intensity);
            Ok::<_, ApiError>((plan_page(image, mode, &model_layout), stats))
        })
        .await
        .map_err(ApiError::internal)??;
        let page = self.batcher.read(plan).await?;
        let reading = Reading::from_page(&page, &self.model);
        for line in &reading.lines {
            self.metrics
                .prediction_length
                .observe(line.text.chars().count() as f64);
            self.metrics.confidence.observe(f64::from(line.confidence));
        }
        Ok((reading, stats))
    }
}

/// An error body in our schema (`{error, message}`) or FSDL's (`{message}`).
#[derive(Deserialize)]
struct BackendError {
    message: Option<String>,
}

/// An FSDL-style answer.
#[derive(Deserialize)]
struct Pred {
    pred: String,
}

impl Remote {
    async fn read(&self, bytes: &[u8], layout: LayoutMode) -> Result<Reading, ApiError> {
        let mime = image::guess_format(bytes)
            .map(|f| f.to_mime_type())
            .unwrap_or("application/octet-stream");
        let data_url = format!(
            "data:{mime};base64,{}",
            base64::engine::general_purpose::STANDARD.encode(bytes)
        );
        let body = serde_json::json!({ "image": data_url, "layout": layout.to_string() });
        let response = self
            .client
            .post(&self.url)
            .json(&body)
            .send()
            .await
            .map_err(|e| ApiError::unavailable(format!("backend {}: {e}", self.url)))?;
        let status = response.status();
        let text = response
            .bytes()
            .await
            .map_err(|e| ApiError::unavailable(format!("backend {}: {e}", self.url)))?;
        if status.is_client_error() {
            // The request was bad there too: the client hears the backend's own reason.
            let message = serde_json::from_slice::<BackendError>(&text)
                .ok()
                .and_then(|b| b.message)
                .unwrap_or_else(|| String::from_utf8_lossy(&text).into_owned());
            return Err(ApiError {
                status: axum::http::StatusCode::from_u16(status.as_u16())
                    .unwrap_or(axum::http::StatusCode::BAD_REQUEST),
                code: "backend_refused",
                message,
            });
        }
        if !status.is_success() {
            return Err(ApiError::unavailable(format!(
                "backend {} answered {status}",
                self.url
            )));
        }
        if let Ok(reading) = serde_json::from_slice::<Reading>(&text) {
            return Ok(reading);
        }
        let pred: Pred = serde_json::from_slice(&text).map_err(|_| {
            ApiError::unavailable(format!(
                "backend {}: neither our schema nor {{\"pred\": …}} in its answer",
                self.url
            ))
        })?;
        Ok(Reading {
            text: pred.pred,
            lines: Vec::new(),
            confidence: None,
            model: format!("backend {}", self.url),
            width: 0,
            height: 0,
        })
    }
}
