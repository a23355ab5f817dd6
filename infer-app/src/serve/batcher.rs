//! Micro-batching: requests queue their pages; one worker thread (off the async runtime) takes
//! whatever is queued, waits up to `max_wait` for more until `max_batch` lines are gathered,
//! and reads them in one forward pass. Under load the model then runs full batches (more
//! lines per second); alone, a request waits at most `max_wait`.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TryRecvError, TrySendError};
use text_recognizer::image::{GrayImage, Luma};
use text_recognizer::layout::PagePlan;
use text_recognizer::{LayoutMode, PageText, Recognizer};
use tokio::sync::oneshot;

use super::error::ApiError;
use super::metrics::Metrics;

/// How requests are gathered into batches.
#[derive(Clone, Copy, Debug)]
pub struct BatchConfig {
    /// Most lines in one forward pass.
    pub max_batch: usize,
    /// Longest wait for more requests once one is queued.
    pub max_wait: Duration,
    /// Pages queued before requests are refused.
    pub max_queue: usize,
}

struct Job {
    plan: PagePlan,
    reply: oneshot::Sender<PageText>,
}

/// The queue in front of the model.
pub struct Batcher {
    tx: Sender<Job>,
    ready: Arc<AtomicBool>,
    metrics: Metrics,
}

impl Batcher {
    /// Starts the worker: it warms the model up (the first forward pass allocates and
    /// autotunes), then marks the batcher ready and serves the queue.
    pub fn start(recognizer: Recognizer, config: BatchConfig, metrics: Metrics) -> Self {
        let (tx, rx) = crossbeam_channel::bounded(config.max_queue.max(1));
        let ready = Arc::new(AtomicBool::new(false));
        let worker_ready = ready.clone();
        let worker_metrics = metrics.clone();
        let spawned = std::thread::Builder::new()
            .name("recognizer".into())
            .spawn(move || {
                let recognizer = recognizer.with_batch_size(config.max_batch.max(1));
                warm_up(&recognizer);
                worker_ready.store(true, Ordering::Release);
                tracing::info!("model warmed up; ready");
                serve_queue(&recognizer, &rx, config, &worker_metrics);
            });
        if let Err(e) = spawned {
            tracing::error!("cannot start the recognizer thread: {e}");
        }
        Batcher { tx, ready, metrics }
    }

    /// True once the model has read its warm-up line.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Queues a page and waits for its text. Dropping the future (a timed-out request) lets
    /// the worker skip the page.
    pub async fn read(&self, plan: PagePlan) -> Result<PageText, ApiError> {
        let (reply, answer) = oneshot::channel();
        match self.tx.try_send(Job { plan, reply }) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                return Err(ApiError::unavailable(
                    "the recognition queue is full; try again shortly",
                ));
            }
            Err(TrySendError::Disconnected(_)) => {
                return Err(ApiError::internal("the recognizer thread has stopped"));
            }
        }
        self.metrics.queue_depth.set(self.tx.len() as i64);
        answer
            .await
            .map_err(|_| ApiError::internal("recognition failed; the page was dropped"))
    }
}

/// One line of pen strokes: enough for every kernel the model uses to run once.
fn warm_up(recognizer: &Recognizer) {
    let strokes = GrayImage::from_fn(400, 64, |x, y| {
        let ink = x % 9 < 2 && (16..48).contains(&y);
        Luma([if ink { 20 } else { 235 }])
    });
    let started = Instant::now();
    let _ = recognizer.read_page(strokes, LayoutMode::Line);
    tracing::info!(
        "warm-up read in {:.0} ms",
        started.elapsed().as_secs_f64() * 1e3
    );
}

fn serve_queue(recognizer: &Recognizer, rx: &Receiver<Job>, config: BatchConfig, m: &Metrics) {
    // Ends when every sender is gone (the server shut down).
    while let Ok(first) = rx.recv() {
        let mut lines = first.plan.lines.len();
        let mut jobs = vec![first];
        let deadline = Instant::now() + config.max_wait;
        while lines < config.max_batch {
            let next = match rx.try_recv() {
                Ok(job) => Some(job),
                Err(TryRecvError::Disconnected) => None,
                Err(TryRecvError::Empty) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        None
                    } else {
                        rx.recv_timeout(left).ok()
                    }
                }
            };
            let Some(job) = next else { break };
            lines += job.plan.lines.len();
            jobs.push(job);
        }
        m.queue_depth.set(rx.len() as i64);
        // Requests that timed out or hung up while queued are not read.
        jobs.retain(|j| !j.reply.is_closed());
        if jobs.is_empty() {
            continue;
        }
        let (plans, replies): (Vec<PagePlan>, Vec<_>) =
            jobs.into_iter().map(|j| (j.plan, j.reply)).unzip();
        m.batch_lines
            .observe(plans.iter().map(|p| p.lines.len()).sum::<usize>() as f64);
        // A panic inside the model fails these requests (their replies are dropped: 500),
        // not the server.
        match std::panic::catch_unwind(AssertUnwindSafe(|| recognizer.read_plans(plans))) {
            Ok(pages) => {
                for (reply, page) in replies.into_iter().zip(pages) {
                    let _ = reply.send(page);
                }
            }
            Err(_) => tracing::error!("the recognizer panicked on a batch; its requests fail"),
        }
    }
}
