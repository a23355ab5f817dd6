//! The HTTP service behind `infer-app serve` and `infer-app lambda`: one axum [`Router`](axum::Router)
//! (tested without a socket), the page served from the binary, micro-batched recognition on a
//! thread of its own, the SQLite record (every prediction, feedback; see [`crate::monitor`]),
//! Prometheus metrics and input limits.

mod batcher;
mod engine;
mod error;
mod guard;
mod image_url;
mod input;
mod metrics;
mod page;
mod recent;
mod response;
mod routes;

#[cfg(test)]
mod tests;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use text_recognizer::LayoutMode;
use text_recognizer::image::DecodeLimits;

pub use routes::app;

use crate::cli::{GlobalArgs, ServiceArgs};
use crate::monitor::log::PredictionLog;
use crate::monitor::store::Store;
use batcher::{BatchConfig, Batcher};
use engine::{Engine, Local};
use guard::Admission;
use image_url::ImageFetcher;
use metrics::Metrics;
use recent::RecentInputs;

/// Everything a handler needs; cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

/// See [`AppState`].
pub struct Inner {
    engine: Engine,
    store: Store,
    log: PredictionLog,
    log_writer: Mutex<Option<JoinHandle<()>>>,
    keep_inputs: bool,
    /// Inputs of recent recognitions, for flags that name only their request.
    recent: RecentInputs,
    metrics: Metrics,
    admission: Admission,
    image_url: Option<ImageFetcher>,
    layout: LayoutMode,
    max_body: usize,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// Every `drift_every_s`, the drift report of the last window on the prediction log, into
/// the gauges on /metrics (a Prometheus alert on `htr_drifted_features > 0` then fires). Runs
/// on its own connection, so feedback writes never wait for it.
fn watch_drift(store: Store, metrics: Metrics, args: &ServiceArgs) {
    let every = Duration::from_secs(args.drift_every_s);
    let (window, reference) = (
        args.drift_window_min * 60,
        args.drift_reference_days * 86_400,
    );
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        loop {
            ticks.tick().await;
            let (store, metrics) = (store.clone(), metrics.clone());
            let checked = tokio::task::spawn_blocking(move || {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                let since = text_recognizer::export::utc_timestamp(now.saturating_sub(window));
                let from =
                    text_recognizer::export::utc_timestamp(now.saturating_sub(window + reference));
                let r = crate::monitor::report::build(&store, &since, Some(&from), None)?;
                for f in &r.features {
                    if let Some(psi) = f.psi {
                        metrics.drift_psi.with_label_values(&[f.bins.key]).set(psi);
                    }
                }
                metrics.drifted_features.set(r.drifted().len() as i64);
                metrics.flag_rate.set(r.flag_rate());
                anyhow::Ok(())
            })
            .await;
            match checked {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!("drift check: {e:#}"),
                Err(e) => tracing::warn!("drift check: {e}"),
            }
        }
    });
}

impl AppState {
    /// Loads the model (or connects to the backend) and opens the database (predictions,
    /// feedback, inputs). Must be called inside a tokio runtime; the model warms up in the
    /// background (`/readyz`).
    pub fn build(args: &ServiceArgs, db: &Path, global: &GlobalArgs) -> anyhow::Result<Self> {
        let metrics = Metrics::new();
        let timeout = Duration::from_secs(args.timeout_s.max(1));
        let max_body = args.max_body_mb.max(1) * 1024 * 1024;
        let engine = match &args.backend_url {
            Some(url) => Engine::remote(url, timeout)?,
            None => {
                let (recognizer, version) = crate::model::recognizer(
                    args.model.as_ref(),
                    global,
                    text_recognizer::recognizer::DEFAULT_BATCH_SIZE,
                    None,
                    &args.lm,
                )?;
                let model = recognizer.manifest().name.clone();
                let model_layout = recognizer.preprocess().layout;
                let max_pixels = (args.max_megapixels.max(0.0) * 1e6) as u64;
                let config = BatchConfig {
                    max_batch: args.max_batch.max(1),
                    max_wait: Duration::from_millis(args.max_wait_ms),
                    max_queue: args.max_queue.max(1),
                };
                Engine::Local(Box::new(Local {
                    batcher: Batcher::start(recognizer, config, metrics.clone()),
                    model,
                    version,
                    model_layout,
                    limits: DecodeLimits {
                        max_side: args.max_side.max(1),
                        max_pixels,
                    },
                    metrics: metrics.clone(),
                }))
            }
        };
        let image_url = if args.image_url_hosts.is_empty() {
            None
        } else {
            Some(ImageFetcher::new(
                args.image_url_hosts.clone(),
                max_body,
                timeout,
            )?)
        };
        let store = Store::open(db)?;
        if args.keep_inputs {
            let purged = store.purge_inputs(args.keep_inputs_days)?;
            let capped = match args.keep_inputs_max_mb {
                Some(mb) => store.cap_inputs(mb * 1024 * 1024)?,
                None => 0,
            };
            if capped > 0 {
                tracing::info!(
                    "{capped} kept inputs removed to stay under {:?} MiB",
                    args.keep_inputs_max_mb
                );
            }
            if purged > 0 {
                tracing::info!(
                    "{purged} kept inputs older than {} days removed",
                    args.keep_inputs_days
                );
            }
        }
        // The writer has a connection of its own, so feedback never waits behind a log batch.
        let (log, log_writer) =
            PredictionLog::start(Store::open(db)?, 10_000, metrics.log_dropped.clone());
        if args.drift_every_s > 0 {
            watch_drift(Store::open(db)?, metrics.clone(), args);
        }
        Ok(AppState(Arc::new(Inner {
            engine,
            store,
            log,
            log_writer: Mutex::new(Some(log_writer)),
            keep_inputs: args.keep_inputs,
            recent: RecentInputs::new(
                Duration::from_secs(args.flag_window_minutes * 60),
                usize::try_from(args.flag_window_mb.saturating_mul(1024 * 1024))
                    .unwrap_or(usize::MAX),
            ),
            metrics,
            admission: Admission::new(args.max_concurrent, timeout),
            image_url,
            layout: args.layout,
            max_body,
        })))
    }

    /// The model's name (or the backend's URL).
    pub fn describe(&self) -> String {
        self.engine.describe()
    }

    /// True once the model is warmed up.
    pub fn is_ready(&self) -> bool {
        self.engine.is_ready()
    }

    /// The prediction log's writer thread, to join once every clone of the state is gone
    /// (it then writes what is queued and ends).
    pub fn take_log_writer(&self) -> Option<JoinHandle<()>> {
        self.log_writer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }
}
