//! Feedback (flags and corrections) stored durably in SQLite: the start of the flywheel that
//! turns users' corrections into training data. One table now; the monitoring work adds the
//! prediction log beside it.

use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};

/// What a user says about a reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Flag {
    /// The text is wrong (a correction may come with it).
    Incorrect,
    /// The content is offensive.
    Offensive,
    /// Anything else.
    Other,
}

impl Flag {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Flag::Incorrect => "incorrect",
            Flag::Offensive => "offensive",
            Flag::Other => "other",
        }
    }
}

/// One piece of feedback.
#[derive(Debug, Clone, PartialEq)]
pub struct Feedback {
    /// The recognition request it is about (from the response's `request_id`).
    pub request_id: Option<String>,
    /// The flag.
    pub flag: Flag,
    /// What the model read.
    pub predicted: Option<String>,
    /// What the user says the image holds.
    pub correction: Option<String>,
    /// The model's name.
    pub model: Option<String>,
    /// The image file bytes, so a correction can become a training sample.
    pub image: Option<Vec<u8>>,
}

/// A stored row.
#[cfg(test)]
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    /// Row id.
    pub id: i64,
    /// When it was stored, `YYYY-MM-DDTHH:MM:SSZ`.
    pub created: String,
    /// What was stored.
    pub feedback: Feedback,
}

/// The SQLite database behind `POST /api/v1/feedback`.
#[derive(Clone)]
pub struct FeedbackStore {
    conn: Arc<Mutex<Connection>>,
}

impl FeedbackStore {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating {} for the database", dir.display()))?;
        }
        let conn = Connection::open(path)
            .with_context(|| format!("opening the feedback database {}", path.display()))?;
        // WAL: readers (exports, dashboards) do not block the server's writes; a committed
        // row survives a crash.
        conn.pragma_update(None, "journal_mode", "WAL")
            .and_then(|_| conn.pragma_update(None, "busy_timeout", 5000))
            .and_then(|_| {
                conn.execute_batch(
                    "CREATE TABLE IF NOT EXISTS feedback (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        created TEXT NOT NULL,
                        request_id TEXT,
                        flag TEXT NOT NULL CHECK (flag IN ('incorrect', 'offensive', 'other')),
                        predicted TEXT,
                        correction TEXT,
                        model TEXT,
                        image BLOB,
                        image_sha256 TEXT
                    );
                    CREATE INDEX IF NOT EXISTS feedback_created ON feedback (created);",
                )
            })
            .with_context(|| format!("setting up the feedback database {}", path.display()))?;
        Ok(FeedbackStore {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves a connection SQLite itself kept consistent.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stores `feedback` and returns its id.
    pub fn record(&self, feedback: &Feedback) -> anyhow::Result<i64> {
        use sha2::Digest;
        let sha = feedback.image.as_ref().map(|b| {
            sha2::Sha256::digest(b)
                .iter()
                .map(|x| format!("{x:02x}"))
                .collect::<String>()
        });
        let conn = self.lock();
        conn.execute(
            "INSERT INTO feedback (created, request_id, flag, predicted, correction, model,
                                   image, image_sha256)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                text_recognizer::export::utc_now(),
                feedback.request_id,
                feedback.flag.as_str(),
                feedback.predicted,
                feedback.correction,
                feedback.model,
                feedback.image,
                sha,
            ],
        )
        .context("storing feedback")?;
        Ok(conn.last_insert_rowid())
    }

    /// The newest `limit` rows, newest first.
    #[cfg(test)]
    pub fn recent(&self, limit: usize) -> anyhow::Result<Vec<Stored>> {
        let conn = self.lock();
        let mut stmt = conn.prepare(
            "SELECT id, created, request_id, flag, predicted, correction, model, image
             FROM feedback ORDER BY id DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit as i64], |row| {
            let flag: String = row.get(3)?;
            Ok(Stored {
                id: row.get(0)?,
                created: row.get(1)?,
                feedback: Feedback {
                    request_id: row.get(2)?,
                    flag: match flag.as_str() {
                        "incorrect" => Flag::Incorrect,
                        "offensive" => Flag::Offensive,
                        _ => Flag::Other,
                    },
                    predicted: row.get(4)?,
                    correction: row.get(5)?,
                    model: row.get(6)?,
                    image: row.get(7)?,
                },
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feedback_survives_reopening() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub/serve.sqlite3");
        let store = FeedbackStore::open(&path).expect("opens");
        let f = Feedback {
            request_id: Some("r1".into()),
            flag: Flag::Incorrect,
            predicted: Some("helo".into()),
            correction: Some("hello".into()),
            model: Some("m".into()),
            image: Some(vec![1, 2, 3]),
        };
        let id = store.record(&f).expect("stored");
        drop(store);
        let rows = FeedbackStore::open(&path)
            .expect("reopens")
            .recent(10)
            .expect("reads");
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].id, &rows[0].feedback), (id, &f));
    }
}
