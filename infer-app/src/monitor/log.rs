//! The prediction log's writer: handlers hand rows to a bounded queue and never wait; one
//! thread writes them in batches. When the queue is full a row is dropped and counted
//! (`htr_prediction_log_dropped_total`): logging must never slow or fail a recognition.
//! Feedback does not go through here: it is written before it is acknowledged.

use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender, TrySendError};
use prometheus::IntCounter;

use super::store::{Prediction, Store};

/// Rows written per transaction at most.
const BATCH: usize = 256;

/// A row and, when inputs are kept, the image bytes under their hash.
pub struct Entry {
    /// The row.
    pub row: Prediction,
    /// `(sha256, bytes)` to keep.
    pub input: Option<(String, Vec<u8>)>,
}

/// The sending side; dropping every clone lets the writer finish and exit.
#[derive(Clone)]
pub struct PredictionLog {
    tx: Sender<Entry>,
    dropped: IntCounter,
}

impl PredictionLog {
    /// Starts the writer on `store` (give it a connection of its own: `Store::open` again).
    pub fn start(store: Store, capacity: usize, dropped: IntCounter) -> (Self, JoinHandle<()>) {
        let (tx, rx) = crossbeam_channel::bounded(capacity.max(1));
        let writer_dropped = dropped.clone();
        let handle = std::thread::Builder::new()
            .name("prediction-log".into())
            .spawn(move || write(&store, &rx, &writer_dropped))
            .unwrap_or_else(|e| panic!("cannot start the prediction log thread: {e}"));
        (PredictionLog { tx, dropped }, handle)
    }

    /// Queues a row; never blocks.
    pub fn log(&self, entry: Entry) {
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) = self.tx.try_send(entry)
        {
            self.dropped.inc();
        }
    }
}

fn write(store: &Store, rx: &Receiver<Entry>, dropped: &IntCounter) {
    while let Ok(first) = rx.recv() {
        let mut entries = vec![first];
        while entries.len() < BATCH {
            match rx.try_recv() {
                Ok(e) => entries.push(e),
                Err(_) => break,
            }
        }
        let mut rows = Vec::with_capacity(entries.len());
        let mut inputs = Vec::new();
        for e in entries {
            rows.push(e.row);
            inputs.extend(e.input);
        }
        if let Err(e) = store.insert_predictions(&rows, &inputs) {
            tracing::warn!("prediction log: {} rows lost: {e:#}", rows.len());
            dropped.inc_by(rows.len() as u64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(i: usize) -> Prediction {
        Prediction {
            created: "2026-11-30T08:00:00Z".into(),
            request_id: format!("r{i}"),
            model: "m".into(),
            model_version: None,
            route: "/predict".into(),
            status: 200,
            latency_ms: 1.0,
            image_sha256: None,
            input: None,
            lines: 1,
            pred_chars: 3,
            confidence: Some(0.5),
            error: None,
        }
    }

    #[test]
    fn rows_are_written_and_a_full_queue_drops_and_counts() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("db.sqlite3");
        let store = Store::open(&path).expect("opens");
        let dropped = IntCounter::new("d", "d").expect("counter");
        let (log, writer) =
            PredictionLog::start(Store::open(&path).expect("opens"), 4, dropped.clone());
        // A queue of 4 fed in a tight loop overflows; how often depends on timing, so the
        // check is exact bookkeeping: every row is written or counted as dropped.
        for i in 0..2000 {
            log.log(Entry {
                row: row(i),
                input: None,
            });
        }
        drop(log);
        writer.join().expect("the writer finishes");
        let written = store.prediction_count().expect("counts");
        assert_eq!(written as u64 + dropped.get(), 2000);
        assert!(written > 0);
    }
}
