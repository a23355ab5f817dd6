//! The inputs of recent recognitions, by request id, so that an API client that flags a reading
//! later (`POST /api/v1/feedback` with only its `request_id`) still gives training an image with
//! its correction. Kept in memory for a time window and under a size cap, oldest out first; a
//! flag stores its image in the database, so nothing flagged is lost at a restart.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::body::Bytes;

/// Recent inputs, oldest first.
pub struct RecentInputs {
    window: Duration,
    max_bytes: usize,
    kept: Mutex<Kept>,
}

#[derive(Default)]
struct Kept {
    entries: VecDeque<(Instant, String, Bytes)>,
    bytes: usize,
}

/// Why an input cannot be found.
#[derive(Debug, PartialEq, Eq)]
pub enum Missing {
    /// Inputs are not kept (a window of 0).
    NotKept,
    /// Not (or no longer) here: older than the window, pushed out by the cap, or never seen.
    Gone,
}

impl RecentInputs {
    /// Keeps inputs for `window` (zero: none), at most `max_bytes` in all.
    pub fn new(window: Duration, max_bytes: usize) -> Self {
        RecentInputs {
            window,
            max_bytes,
            kept: Mutex::new(Kept::default()),
        }
    }

    /// The window inputs are kept for.
    pub fn window(&self) -> Duration {
        self.window
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.kept.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Keeps the input of `request_id` (a no-op with no window, or for an input larger than
    /// the cap).
    pub fn put(&self, request_id: &str, bytes: Bytes) {
        if self.window.is_zero() || bytes.len() > self.max_bytes {
            return;
        }
        let now = Instant::now();
        let mut kept = self.lock();
        kept.bytes += bytes.len();
        kept.entries.push_back((now, request_id.to_string(), bytes));
        self.evict(&mut kept, now);
    }

    /// The input of `request_id`, while it is kept.
    pub fn get(&self, request_id: &str) -> Result<Bytes, Missing> {
        if self.window.is_zero() {
            return Err(Missing::NotKept);
        }
        let mut kept = self.lock();
        self.evict(&mut kept, Instant::now());
        kept.entries
            .iter()
            .rev()
            .find(|(_, id, _)| id == request_id)
            .map(|(_, _, bytes)| bytes.clone())
            .ok_or(Missing::Gone)
    }

    /// Drops what is older than the window, then the oldest until under the cap.
    fn evict(&self, kept: &mut Kept, now: Instant) {
        while let Some((at, _, bytes)) = kept.entries.front() {
            if now.duration_since(*at) <= self.window && kept.bytes <= self.max_bytes {
                break;
            }
            kept.bytes -= bytes.len();
            kept.entries.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(n: usize) -> Bytes {
        Bytes::from(vec![7u8; n])
    }

    #[test]
    fn inputs_are_found_by_request_until_the_cap_pushes_them_out() {
        let recent = RecentInputs::new(Duration::from_secs(60), 10);
        recent.put("a", bytes(4));
        recent.put("b", bytes(4));
        assert_eq!(recent.get("a").map(|b| b.len()), Ok(4));
        recent.put("c", bytes(4));
        assert_eq!(
            recent.get("a"),
            Err(Missing::Gone),
            "the oldest went for the cap"
        );
        assert!(recent.get("b").is_ok() && recent.get("c").is_ok());
        recent.put("huge", bytes(11));
        assert_eq!(
            recent.get("huge"),
            Err(Missing::Gone),
            "larger than the cap"
        );
        assert!(recent.get("c").is_ok(), "and it pushed nothing out");
    }

    #[test]
    fn inputs_expire_after_the_window_and_none_are_kept_without_one() {
        let recent = RecentInputs::new(Duration::from_millis(30), 1000);
        recent.put("a", bytes(1));
        assert!(recent.get("a").is_ok());
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(recent.get("a"), Err(Missing::Gone));
        let off = RecentInputs::new(Duration::ZERO, 1000);
        off.put("a", bytes(1));
        assert_eq!(off.get("a"), Err(Missing::NotKept));
    }
}
