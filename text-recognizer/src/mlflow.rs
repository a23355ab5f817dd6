//! MLflow over its REST API: the client (runs, metrics, artifacts, model registry) and the
//! tracker, a background thread that never holds training up.
//!
//! Training hands points and files to a bounded queue and moves on. The worker creates the
//! experiment and run when the server answers, logs the resolved config as params once, sends
//! metrics in batches (by step, oldest first, each point once), uploads artifacts through the
//! server's artifact proxy, and sets the run's status at the end. When the server is down it
//! warns once, keeps what it has, retries with a growing pause, and catches up when the server
//! returns.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Milliseconds since the Unix epoch (MLflow's timestamps).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// A failed call: the server's error code and message, or the transport error.
#[derive(Debug, Clone)]
pub struct MlflowError(pub String);

impl std::fmt::Display for MlflowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The REST calls the tracker and the registry make.
#[derive(Clone, Debug)]
pub struct MlflowClient {
    base: String,
    http: reqwest::blocking::Client,
}

/// What MLflow says about a run (kept in `RUN/mlflow.ron`, so a resumed run logs to it).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RunIds {
    /// The experiment's id.
    pub experiment_id: String,
    /// The run's id.
    pub run_id: String,
    /// Where its artifacts go (`mlflow-artifacts:/…` with the server's proxy).
    pub artifact_uri: String,
}

impl MlflowClient {
    /// A client for the server at `uri` (e.g. `http://127.0.0.1:5000`).
    pub fn new(uri: &str) -> Self {
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(5))
            .build()
            .unwrap_or_default();
        MlflowClient {
            base: uri.trim_end_matches('/').to_string(),
            http,
        }
    }

    fn check(resp: reqwest::Result<reqwest::blocking::Response>) -> Result<Value, MlflowError> {
        let resp = resp.map_err(|e| MlflowError(e.to_string()))?;
        let status = resp.status();
        let text = resp.text().map_err(|e| MlflowError(e.to_string()))?;
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if status.is_success() {
            Ok(body)
        } else {
            let code = body["error_code"].as_str().unwrap_or("");
            let msg = body["message"].as_str().unwrap_or(&text);
            Err(MlflowError(format!("HTTP {status} {code}: {msg}")))
        }
    }

    /// `POST /api/2.0/mlflow/{path}`.
    pub fn post(&self, path: &str, body: &Value) -> Result<Value, MlflowError> {
        let url = format!("{}/api/2.0/mlflow/{path}", self.base);
        Self::check(
            self.http
                .post(url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_string())
                .send(),
        )
    }

    /// `GET /api/2.0/mlflow/{path}?query`.
    pub fn get(&self, path: &str, query: &[(&str, &str)]) -> Result<Value, MlflowError> {
        let url =
            reqwest::Url::parse_with_params(&format!("{}/api/2.0/mlflow/{path}", self.base), query)
                .map_err(|e| MlflowError(format!("{}: {e}", self.base)))?;
        Self::check(self.http.get(url).send())
    }

    /// The id of experiment `name`, created when missing.
    pub fn experiment_id(&self, name: &str) -> Result<String, MlflowError> {
        if let Ok(v) = self.get("experiments/get-by-name", &[("experiment_name", name)])
            && let Some(id) = v["experiment"]["experiment_id"].as_str()
        {
            return Ok(id.to_string());
        }
        let v = self.post("experiments/create", &json!({ "name": name }))?;
        v["experiment_id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| MlflowError(format!("experiments/create answered {v}")))
    }

    /// A new run in `experiment_id`.
    pub fn create_run(
        &self,
        experiment_id: &str,
        run_name: &str,
        tags: &[(String, String)],
    ) -> Result<RunIds, MlflowError> {
        let tags: Vec<Value> = tags
            .iter()
            .map(|(k, v)| json!({ "key": k, "value": v }))
            .collect();
        let v = self.post(
            "runs/create",
            &json!({ "experiment_id": experiment_id, "run_name": run_name,
                     "start_time": now_ms(), "tags": tags }),
        )?;
        let info = &v["run"]["info"];
        Ok(RunIds {
            experiment_id: experiment_id.to_string(),
            run_id: info["run_id"].as_str().unwrap_or_default().to_string(),
            artifact_uri: info["artifact_uri"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        })
    }

    /// Uploads `bytes` as artifact `path` of a run, through the server's artifact proxy.
    pub fn upload_artifact(
        &self,
        artifact_uri: &str,
        path: &str,
        bytes: Vec<u8>,
    ) -> Result<(), MlflowError> {
        let root = artifact_uri
            .strip_prefix("mlflow-artifacts:")
            .ok_or_else(|| {
                MlflowError(format!(
                    "artifact store {artifact_uri} is not the server's proxy (start mlflow \
                     server with --artifacts-destination)"
                ))
            })?
            .trim_start_matches('/');
        let url = format!(
            "{}/api/2.0/mlflow-artifacts/artifacts/{root}/{path}",
            self.base
        );
        Self::check(self.http.put(url).body(bytes).send()).map(|_| ())
    }

    /// Registers the model at `source` (an artifact URI) as a new version of `name`; returns
    /// the version number MLflow gave it.
    pub fn register_version(
        &self,
        name: &str,
        source: &str,
        run_id: &str,
    ) -> Result<String, MlflowError> {
        if let Err(e) = self.post("registered-models/create", &json!({ "name": name }))
            && !e.0.contains("RESOURCE_ALREADY_EXISTS")
        {
            return Err(e);
        }
        let v = self.post(
            "model-versions/create",
            &json!({ "name": name, "source": source, "run_id": run_id }),
        )?;
        v["model_version"]["version"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| MlflowError(format!("model-versions/create answered {v}")))
    }

    /// The version and artifact source of registered model `name` at `selector` (an alias or
    /// a version number).
    pub fn model_version(
        &self,
        name: &str,
        selector: &crate::registry::Selector,
    ) -> Result<(String, String), MlflowError> {
        use crate::registry::Selector;
        let v = match selector {
            Selector::Alias(a) => {
                self.get("registered-models/alias", &[("name", name), ("alias", a)])?
            }
            Selector::Version(n) => self.get(
                "model-versions/get",
                &[("name", name), ("version", &n.to_string())],
            )?,
            Selector::Latest => {
                return Err(MlflowError(format!(
                    "{name}: name an alias (NAME@ALIAS) or a version (NAME:N) to load from MLflow"
                )));
            }
        };
        let mv = &v["model_version"];
        match (mv["version"].as_str(), mv["source"].as_str()) {
            (Some(version), Some(source)) => Ok((version.to_string(), source.to_string())),
            _ => Err(MlflowError(format!("unexpected answer {v}"))),
        }
    }

    /// Downloads file `path` under artifact URI `source` (through the artifact proxy).
    pub fn download_artifact(&self, source: &str, path: &str) -> Result<Vec<u8>, MlflowError> {
        let root = source
            .strip_prefix("mlflow-artifacts:")
            .ok_or_else(|| MlflowError(format!("{source}: not served by the artifact proxy")))?
            .trim_start_matches('/');
        let url = format!(
            "{}/api/2.0/mlflow-artifacts/artifacts/{root}/{path}",
            self.base
        );
        let resp = self
            .http
            .get(url)
            .send()
            .map_err(|e| MlflowError(e.to_string()))?;
        if !resp.status().is_success() {
            return Err(MlflowError(format!(
                "HTTP {} for {source}/{path}",
                resp.status()
            )));
        }
        resp.bytes()
            .map(|b| b.to_vec())
            .map_err(|e| MlflowError(e.to_string()))
    }

    /// Points `alias` of registered model `name` at `version`.
    pub fn set_alias(&self, name: &str, alias: &str, version: &str) -> Result<(), MlflowError> {
        self.post(
            "registered-models/alias",
            &json!({ "name": name, "alias": alias, "version": version }),
        )
        .map(|_| ())
    }
}

/// The file of registered model `name` at `selector` in the MLflow server at `uri`,
/// downloaded once into `cache/mlflow/NAME/VERSION/model.htr` (versions never change).
pub fn fetch_model(
    uri: &str,
    name: &str,
    selector: &crate::registry::Selector,
    cache: &std::path::Path,
) -> crate::Result<std::path::PathBuf> {
    let fail = |e: MlflowError| crate::Error::config(format!("MLflow at {uri}: {name}"), e);
    let client = MlflowClient::new(uri);
    let (version, source) = client.model_version(name, selector).map_err(fail)?;
    let cached = cache
        .join("mlflow")
        .join(name)
        .join(&version)
        .join("model.htr");
    if !cached.is_file() {
        let bytes = client
            .download_artifact(&source, "model.htr")
            .map_err(fail)?;
        // Check before caching: a broken download must not stick.
        crate::StagedModel::from_bytes(&bytes, &cached)?;
        crate::atomic_file::write_atomic(&cached, &bytes)?;
    }
    Ok(cached)
}

/// One metric point.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    /// Metric name.
    pub key: String,
    /// Value.
    pub value: f64,
    /// Step (global batch for per-step metrics, epoch for per-epoch ones).
    pub step: i64,
    /// When, in ms since the Unix epoch.
    pub timestamp: i64,
}

enum Msg {
    Point(Point),
    Artifact(String, Vec<u8>),
    Finish(&'static str, Duration),
}

/// How the worker starts: a new run, or the one a resumed training run logged to.
#[derive(Clone, Debug)]
pub struct RunSpec {
    /// Tracking server URI.
    pub uri: String,
    /// Experiment name.
    pub experiment: String,
    /// Run name.
    pub run_name: String,
    /// Continue this MLflow run (a resumed training run) instead of creating one.
    pub existing: Option<RunIds>,
    /// Logged once, when the run is created.
    pub params: Vec<(String, String)>,
    /// Tags (git commit, device, backend).
    pub tags: Vec<(String, String)>,
}

/// The handle training holds: non-blocking sends to the worker.
pub struct Tracker {
    tx: SyncSender<Msg>,
    worker: Mutex<Option<std::thread::JoinHandle<()>>>,
    ids: Arc<Mutex<Option<RunIds>>>,
    dropped: Arc<AtomicUsize>,
}

/// Points queued before the oldest are dropped (a server down for hours on a fast run).
const MAX_PENDING: usize = 1_000_000;
/// MLflow's per-request cap on metrics in `runs/log-batch`.
const BATCH: usize = 1000;

impl Tracker {
    /// Starts the worker; `on_ids` is called once the run exists (to record its id).
    pub fn start(spec: RunSpec, on_ids: impl Fn(&RunIds) + Send + 'static) -> Self {
        let (tx, rx) = sync_channel(100_000);
        let ids = Arc::new(Mutex::new(spec.existing.clone()));
        let dropped = Arc::new(AtomicUsize::new(0));
        let worker = {
            let ids = ids.clone();
            let dropped = dropped.clone();
            std::thread::Builder::new()
                .name("mlflow".into())
                .spawn(move || Worker::new(spec, ids, dropped).run(rx, on_ids))
                .ok()
        };
        Tracker {
            tx,
            worker: Mutex::new(worker),
            ids,
            dropped,
        }
    }

    /// Queues a metric point (dropped and counted if the queue is full).
    pub fn point(&self, point: Point) {
        if self.tx.try_send(Msg::Point(point)).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Queues a file for upload as artifact `path`.
    pub fn artifact(&self, path: &str, bytes: Vec<u8>) {
        if self
            .tx
            .try_send(Msg::Artifact(path.to_string(), bytes))
            .is_err()
        {
            tracing::warn!("MLflow: queue full, artifact {path} not sent");
        }
    }

    /// The run's ids, once created.
    pub fn ids(&self) -> Option<RunIds> {
        self.ids.lock().ok().and_then(|i| i.clone())
    }

    /// Sends what is left and sets the run's status (`FINISHED`, `FAILED`, `KILLED`), waiting
    /// at most `patience` for the server.
    pub fn finish(&self, status: &'static str, patience: Duration) -> Option<RunIds> {
        let worker = self.worker.lock().ok().and_then(|mut w| w.take());
        if let Some(w) = worker {
            let _ = self.tx.send(Msg::Finish(status, patience));
            let _ = w.join();
        }
        let dropped = self.dropped.load(Ordering::Relaxed);
        if dropped > 0 {
            tracing::warn!("MLflow: {dropped} metric points dropped (queue full)");
        }
        self.ids()
    }
}

impl Drop for Tracker {
    /// A run that ends without [`Tracker::finish`] (an error) is marked `FAILED`.
    fn drop(&mut self) {
        self.finish("FAILED", Duration::from_secs(10));
    }
}

struct Worker {
    spec: RunSpec,
    client: MlflowClient,
    ids: Arc<Mutex<Option<RunIds>>>,
    dropped: Arc<AtomicUsize>,
    run: Option<RunIds>,
    points: VecDeque<Point>,
    artifacts: VecDeque<(String, Vec<u8>)>,
    params_sent: bool,
    warned: bool,
    pause: Duration,
    next_try: Instant,
}

impl Worker {
    fn new(spec: RunSpec, ids: Arc<Mutex<Option<RunIds>>>, dropped: Arc<AtomicUsize>) -> Self {
        Worker {
            client: MlflowClient::new(&spec.uri),
            run: spec.existing.clone(),
            params_sent: spec.existing.is_some(),
            spec,
            ids,
            dropped,
            points: VecDeque::new(),
            artifacts: VecDeque::new(),
            warned: false,
            pause: Duration::from_millis(500),
            next_try: Instant::now(),
        }
    }

    fn take(&mut self, msg: Msg) -> Option<(&'static str, Duration)> {
        match msg {
            Msg::Point(p) => {
                if self.points.len() >= MAX_PENDING {
                    self.points.pop_front();
                    self.dropped.fetch_add(1, Ordering::Relaxed);
                }
                self.points.push_back(p);
            }
            Msg::Artifact(path, bytes) => self.artifacts.push_back((path, bytes)),
            Msg::Finish(status, patience) => return Some((status, patience)),
        }
        None
    }

    fn run(mut self, rx: Receiver<Msg>, on_ids: impl Fn(&RunIds)) {
        let finish = loop {
            match rx.recv_timeout(Duration::from_millis(500)) {
                Ok(msg) => {
                    if let Some(f) = self.take(msg) {
                        break Some(f);
                    }
                    // Drain what else is waiting before talking to the server.
                    let mut fin = None;
                    while let Ok(msg) = rx.try_recv() {
                        if let Some(f) = self.take(msg) {
                            fin = Some(f);
                            break;
                        }
                    }
                    if fin.is_some() {
                        break fin;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break None,
            }
            if Instant::now() >= self.next_try {
                self.flush(&on_ids);
            }
        };
        let (status, patience) = finish.unwrap_or(("FAILED", Duration::from_secs(5)));
        let deadline = Instant::now() + patience;
        loop {
            if self.flush(&on_ids) && self.end(status) {
                break;
            }
            if Instant::now() >= deadline {
                tracing::warn!(
                    "MLflow at {}: gave up with {} metric points and {} files unsent",
                    self.spec.uri,
                    self.points.len(),
                    self.artifacts.len()
                );
                break;
            }
            std::thread::sleep(self.pause.min(Duration::from_secs(2)));
        }
    }

    fn failed(&mut self, e: &MlflowError) {
        if !self.warned {
            tracing::warn!(
                "MLflow at {} is not answering ({e}); training goes on, logging resumes when \
                 it is back",
                self.spec.uri
            );
            self.warned = true;
        }
        self.next_try = Instant::now() + self.pause;
        self.pause = (self.pause * 2).min(Duration::from_secs(30));
    }

    fn recovered(&mut self) {
        if self.warned {
            tracing::info!("MLflow at {} is back; catching up", self.spec.uri);
        }
        self.warned = false;
        self.pause = Duration::from_millis(500);
    }

    /// Sends everything pending; true when nothing is left.
    fn flush(&mut self, on_ids: &impl Fn(&RunIds)) -> bool {
        if let Err(e) = self.try_flush(on_ids) {
            self.failed(&e);
            return false;
        }
        self.recovered();
        true
    }

    fn try_flush(&mut self, on_ids: &impl Fn(&RunIds)) -> Result<(), MlflowError> {
        let run = match &self.run {
            Some(r) => r.clone(),
            None => {
                let exp = self.client.experiment_id(&self.spec.experiment)?;
                let r = self
                    .client
                    .create_run(&exp, &self.spec.run_name, &self.spec.tags)?;
                if let Ok(mut i) = self.ids.lock() {
                    *i = Some(r.clone());
                }
                on_ids(&r);
                self.run = Some(r.clone());
                r
            }
        };
        if !self.params_sent {
            // MLflow caps params per request; 100 at a time.
            for chunk in self.spec.params.chunks(100) {
                let params: Vec<Value> = chunk
                    .iter()
                    .map(|(k, v)| json!({ "key": k, "value": v }))
                    .collect();
                self.client.post(
                    "runs/log-batch",
                    &json!({ "run_id": run.run_id, "params": params }),
                )?;
            }
            self.params_sent = true;
        }
        while !self.points.is_empty() {
            let n = self.points.len().min(BATCH);
            let metrics: Vec<Value> = self
                .points
                .iter()
                .take(n)
                .map(|p| {
                    json!({ "key": p.key, "value": p.value, "step": p.step,
                            "timestamp": p.timestamp })
                })
                .collect();
            self.client.post(
                "runs/log-batch",
                &json!({ "run_id": run.run_id, "metrics": metrics }),
            )?;
            self.points.drain(..n);
        }
        while let Some((path, bytes)) = self.artifacts.front() {
            self.client
                .upload_artifact(&run.artifact_uri, path, bytes.clone())?;
            self.artifacts.pop_front();
        }
        Ok(())
    }

    fn end(&mut self, status: &str) -> bool {
        let Some(run) = &self.run else {
            return false;
        };
        match self.client.post(
            "runs/update",
            &json!({ "run_id": run.run_id, "status": status, "end_time": now_ms() }),
        ) {
            Ok(_) => true,
            Err(e) => {
                self.failed(&e);
                false
            }
        }
    }
}
