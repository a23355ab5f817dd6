//! Admission control for recognition routes: a bounded number at once (429 beyond, so a burst
//! cannot pile unbounded work behind the model) and a time limit per request (503 after it).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;

use super::error::ApiError;

/// The limits a guarded route runs under.
#[derive(Clone)]
pub struct Admission {
    pub(super) permits: Arc<Semaphore>,
    max_concurrent: usize,
    timeout: Duration,
}

impl Admission {
    /// At most `max_concurrent` requests at once, each at most `timeout`.
    pub fn new(max_concurrent: usize, timeout: Duration) -> Self {
        Admission {
            permits: Arc::new(Semaphore::new(max_concurrent.max(1))),
            max_concurrent: max_concurrent.max(1),
            timeout,
        }
    }
}

/// Middleware applying an [`Admission`].
pub async fn guard(State(admission): State<Admission>, request: Request, next: Next) -> Response {
    let Ok(_permit) = admission.permits.clone().try_acquire_owned() else {
        return ApiError::too_many(format!(
            "more than {} requests at once; retry shortly",
            admission.max_concurrent
        ))
        .into_response();
    };
    match tokio::time::timeout(admission.timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::unavailable(format!(
            "the request took longer than {} s",
            admission.timeout.as_secs_f64()
        ))
        .into_response(),
    }
}
