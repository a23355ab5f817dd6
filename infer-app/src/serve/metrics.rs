//! Prometheus metrics: what TorchServe and BentoML export, plus the per-request figures the
//! FSDL reference logs (input area and mean intensity, prediction length) for drift watching.

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus::{
    Encoder, Gauge, GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec,
    IntGauge, Opts, Registry, TextEncoder,
};

use super::AppState;

/// The service's metrics, registered in their own registry.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    /// Requests by route and status.
    pub requests: IntCounterVec,
    /// Seconds per request by route.
    pub latency: HistogramVec,
    /// Requests being handled.
    pub in_flight: IntGauge,
    /// Pages waiting for the model.
    pub queue_depth: IntGauge,
    /// Lines per forward pass (micro-batching at work when above 1).
    pub batch_lines: Histogram,
    /// Characters per prediction.
    pub prediction_length: Histogram,
    /// Mean token probability per prediction.
    pub confidence: Histogram,
    /// Input image area in pixels.
    pub input_pixels: Histogram,
    /// Input mean intensity (0 black – 255 white).
    pub input_mean_intensity: Histogram,
    /// Feedback received, by flag.
    pub feedback: IntCounterVec,
    /// Prediction-log rows lost (queue full or a write failed).
    pub log_dropped: IntCounter,
    /// PSI of the last window against the days before it, per feature.
    pub drift_psi: GaugeVec,
    /// Features past the drift threshold in the last window.
    pub drifted_features: IntGauge,
    /// Flags per reading in the last window.
    pub flag_rate: Gauge,
}

fn histogram(name: &str, help: &str, buckets: Vec<f64>) -> Histogram {
    Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets))
        .unwrap_or_else(|e| unreachable!("static metric {name}: {e}"))
}

impl Metrics {
    /// Creates and registers every metric.
    pub fn new() -> Self {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new("htr_requests_total", "HTTP requests by route and status"),
            &["route", "status"],
        )
        .unwrap_or_else(|e| unreachable!("{e}"));
        let latency = HistogramVec::new(
            HistogramOpts::new("htr_request_duration_seconds", "Request latency by route").buckets(
                vec![
                    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
                ],
            ),
            &["route"],
        )
        .unwrap_or_else(|e| unreachable!("{e}"));
        let in_flight = IntGauge::new("htr_requests_in_flight", "Requests being handled")
            .unwrap_or_else(|e| unreachable!("{e}"));
        let queue_depth = IntGauge::new("htr_queue_depth", "Pages waiting for the model")
            .unwrap_or_else(|e| unreachable!("{e}"));
        let batch_lines = histogram(
            "htr_batch_lines",
            "Lines per forward pass",
            vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0],
        );
        let prediction_length = histogram(
            "htr_prediction_length_chars",
            "Characters per prediction",
            vec![0.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0],
        );
        let confidence = histogram(
            "htr_prediction_confidence",
            "Mean token probability per prediction",
            vec![0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99],
        );
        let input_pixels = histogram(
            "htr_input_pixels",
            "Input image area in pixels",
            prometheus::exponential_buckets(1e4, 4.0, 8).unwrap_or_default(),
        );
        let input_mean_intensity = histogram(
            "htr_input_mean_intensity",
            "Input image mean intensity (0 black, 255 white)",
            prometheus::linear_buckets(0.0, 32.0, 8).unwrap_or_default(),
        );
        let feedback = IntCounterVec::new(
            Opts::new("htr_feedback_total", "Feedback received by flag"),
            &["flag"],
        )
        .unwrap_or_else(|e| unreachable!("{e}"));
        let log_dropped = IntCounter::new(
            "htr_prediction_log_dropped_total",
            "Prediction-log rows lost (queue full or a write failed)",
        )
        .unwrap_or_else(|e| unreachable!("{e}"));
        let drift_psi = GaugeVec::new(
            Opts::new(
                "htr_drift_psi",
                "Population stability index of the last window against the days before it",
            ),
            &["feature"],
        )
        .unwrap_or_else(|e| unreachable!("{e}"));
        let drifted_features = IntGauge::new(
            "htr_drifted_features",
            "Features whose PSI is past the drift threshold (0.2) in the last window",
        )
        .unwrap_or_else(|e| unreachable!("{e}"));
        let flag_rate = Gauge::new("htr_flag_rate", "Flags per reading in the last window")
            .unwrap_or_else(|e| unreachable!("{e}"));
        for c in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(in_flight.clone()),
            Box::new(queue_depth.clone()),
            Box::new(batch_lines.clone()),
            Box::new(prediction_length.clone()),
            Box::new(confidence.clone()),
            Box::new(input_pixels.clone()),
            Box::new(input_mean_intensity.clone()),
            Box::new(feedback.clone()),
            Box::new(log_dropped.clone()),
            Box::new(drift_psi.clone()),
            Box::new(drifted_features.clone()),
            Box::new(flag_rate.clone()),
        ] {
            registry
                .register(c)
                .unwrap_or_else(|e| unreachable!("metric names are unique: {e}"));
        }
        Metrics {
            registry,
            requests,
            latency,
            in_flight,
            queue_depth,
            batch_lines,
            prediction_length,
            confidence,
            input_pixels,
            input_mean_intensity,
            feedback,
            log_dropped,
            drift_psi,
            drifted_features,
            flag_rate,
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::error!("encoding metrics: {e}");
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// `GET /metrics`.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [("content-type", "text/plain; version=0.0.4; charset=utf-8")],
        state.metrics.render(),
    )
}

/// Middleware: counts every request by its route pattern (not its raw path, which would make
/// one series per URL) and status, and times it.
pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let started = std::time::Instant::now();
    let metrics = &state.metrics;
    metrics.in_flight.inc();
    let response = next.run(request).await;
    metrics.in_flight.dec();
    metrics
        .latency
        .with_label_values(&[route.as_str()])
        .observe(started.elapsed().as_secs_f64());
    metrics
        .requests
        .with_label_values(&[route.as_str(), response.status().as_str()])
        .inc();
    response
}
