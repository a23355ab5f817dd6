//! The service's record in one SQLite database: a row per recognition (the prediction log),
//! feedback (flags and corrections), and input images stored by content hash (flagged ones
//! always, all of them with `--keep-inputs`). WAL, a busy timeout, and numbered schema
//! migrations (`PRAGMA user_version`) so a database written by an older release opens in a
//! newer one.

use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};

/// Schema steps; `user_version` counts those applied. Never edit one that has shipped: add
/// the next.
const MIGRATIONS: &[&str] = &[
    // 1: feedback, as the first `serve` release wrote it (image bytes inline).
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
    // 2: images stored once by content hash; the prediction log.
    "CREATE TABLE inputs (
        sha256 TEXT PRIMARY KEY,
        bytes BLOB NOT NULL,
        created TEXT NOT NULL
    );
    INSERT OR IGNORE INTO inputs (sha256, bytes, created)
        SELECT image_sha256, image, created FROM feedback
        WHERE image IS NOT NULL AND image_sha256 IS NOT NULL;
    ALTER TABLE feedback DROP COLUMN image;
    CREATE TABLE predictions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        created TEXT NOT NULL,
        request_id TEXT NOT NULL,
        model TEXT NOT NULL,
        route TEXT NOT NULL,
        status INTEGER NOT NULL,
        latency_ms REAL NOT NULL,
        image_sha256 TEXT,
        width INTEGER,
        height INTEGER,
        mean_intensity REAL,
        dark_ink INTEGER,
        lines INTEGER,
        pred_chars INTEGER,
        confidence REAL,
        error TEXT
    );
    CREATE INDEX predictions_created ON predictions (created);
    CREATE INDEX predictions_request ON predictions (request_id);",
    // 3: which build of a model answered (a content hash: names are reused across versions).
    "ALTER TABLE predictions ADD COLUMN model_version TEXT;",
];

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

/// What the input statistics of one recognized image were.
#[derive(Debug, Clone, PartialEq)]
pub struct InputStats {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Mean gray level (0 black – 255 white).
    pub mean_intensity: f64,
    /// Dark ink on light paper (false: light on dark, e.g. a negative or a blackboard).
    pub dark_ink: bool,
}

/// One row of the prediction log.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// `YYYY-MM-DDTHH:MM:SSZ`.
    pub created: String,
    /// The response's request id.
    pub request_id: String,
    /// The model (or backend) that answered.
    pub model: String,
    /// The first 12 hex digits of the model file's SHA-256 (None for a backend).
    pub model_version: Option<String>,
    /// `/predict`, `/api/v1/recognize`, …
    pub route: String,
    /// HTTP status answered.
    pub status: u16,
    /// Time in the server.
    pub latency_ms: f64,
    /// SHA-256 of the image bytes, when the request had an image.
    pub image_sha256: Option<String>,
    /// Decoded image statistics, when it decoded.
    pub input: Option<InputStats>,
    /// Lines read.
    pub lines: usize,
    /// Characters read.
    pub pred_chars: usize,
    /// Character-weighted mean confidence.
    pub confidence: Option<f32>,
    /// Why it failed, if it did.
    pub error: Option<String>,
}

/// A stored piece of feedback.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredFeedback {
    /// Row id.
    pub id: i64,
    /// When it was stored.
    pub created: String,
    /// What was stored (the image from the inputs table).
    pub feedback: Feedback,
}

/// The database. Clones share one connection; the prediction log's writer opens its own.
#[derive(Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
}

/// Hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

impl Store {
    /// Opens (creating if needed, migrating if older) the database at `path`. A file that is
    /// not a database, a newer schema, or a lock held too long is an error naming the file.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating {} for the database", dir.display()))?;
        }
        let mut conn = Connection::open(path)
            .with_context(|| format!("opening the database {}", path.display()))?;
        migrate(&mut conn).with_context(|| format!("the database {}", path.display()))?;
        Ok(Store {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Opens a database the server already wrote (for exports and reports): a missing file
    /// is an error, not a new empty database.
    pub fn open_existing(path: &Path) -> anyhow::Result<Self> {
        anyhow::ensure!(
            path.is_file(),
            "{}: no such database (`infer-app serve --db` writes one)",
            path.display()
        );
        Self::open(path)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves a connection SQLite itself kept consistent.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stores `feedback` (its image by content hash) in one transaction and returns its id;
    /// when this returns, the row is on disk.
    pub fn record_feedback(&self, feedback: &Feedback) -> anyhow::Result<i64> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let sha = feedback.image.as_deref().map(sha256_hex);
        if let (Some(sha), Some(bytes)) = (&sha, &feedback.image) {
            put_input(&tx, sha, bytes)?;
        }
        tx.execute(
            "INSERT INTO feedback (created, request_id, flag, predicted, correction, model,
                                   image_sha256)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                text_recognizer::export::utc_now(),
                feedback.request_id,
                feedback.flag.as_str(),
                feedback.predicted,
                feedback.correction,
                feedback.model,
                sha,
            ],
        )?;
        let id = tx.last_insert_rowid();
        tx.commit().context("storing feedback")?;
        Ok(id)
    }

    /// Appends prediction rows (and the inputs kept with them) in one transaction.
    pub fn insert_predictions(
        &self,
        rows: &[Prediction],
        inputs: &[(String, Vec<u8>)],
    ) -> anyhow::Result<()> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        {
            let mut insert = tx.prepare(
                "INSERT INTO predictions (created, request_id, model, route, status, latency_ms,
                    image_sha256, width, height, mean_intensity, dark_ink, lines, pred_chars,
                    confidence, error, model_version)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
            )?;
            for r in rows {
                let i = r.input.as_ref();
                insert.execute(params![
                    r.created,
                    r.request_id,
                    r.model,
                    r.route,
                    r.status,
                    r.latency_ms,
                    r.image_sha256,
                    i.map(|i| i.width),
                    i.map(|i| i.height),
                    i.map(|i| i.mean_intensity),
                    i.map(|i| i.dark_ink),
                    r.lines as i64,
                    r.pred_chars as i64,
                    r.confidence,
                    r.error,
                    r.model_version,
                ])?;
            }
        }
        for (sha, bytes) in inputs {
            put_input(&tx, sha, bytes)?;
        }
        tx.commit().context("writing the prediction log")?;
        Ok(())
    }

    /// Deletes kept inputs older than `days` that no feedback refers to; returns how many.
    pub fn purge_inputs(&self, days: u32) -> anyhow::Result<usize> {
        let cutoff = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
            .saturating_sub(u64::from(days) * 86_400);
        let cutoff = text_recognizer::export::utc_timestamp(cutoff);
        let conn = self.lock();
        Ok(conn.execute(
            "DELETE FROM inputs WHERE created < ?1
               AND sha256 NOT IN (SELECT image_sha256 FROM feedback WHERE image_sha256 IS NOT NULL)",
            [cutoff],
        )?)
    }

    /// Deletes the oldest kept inputs that no feedback refers to until those left take at
    /// most `max_bytes`; returns how many went.
    pub fn cap_inputs(&self, max_bytes: u64) -> anyhow::Result<usize> {
        let conn = self.lock();
        let mut stmt = conn.prepare(
            "SELECT sha256, length(bytes) FROM inputs
             WHERE sha256 NOT IN (SELECT image_sha256 FROM feedback WHERE image_sha256 IS NOT NULL)
             ORDER BY created DESC, rowid DESC",
        )?;
        let sizes: Vec<(String, i64)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        let mut kept = 0u64;
        let mut removed = 0;
        for (sha, size) in sizes {
            kept += size.max(0) as u64;
            if kept > max_bytes {
                removed += conn.execute("DELETE FROM inputs WHERE sha256 = ?1", [sha])?;
            }
        }
        Ok(removed)
    }

    /// Feedback, newest first (at most `limit`), with each image.
    pub fn feedback(&self, limit: usize) -> anyhow::Result<Vec<StoredFeedback>> {
        let conn = self.lock();
        let mut stmt = conn.prepare(
            "SELECT f.id, f.created, f.request_id, f.flag, f.predicted, f.correction, f.model,
                    i.bytes
             FROM feedback f LEFT JOIN inputs i ON i.sha256 = f.image_sha256
             ORDER BY f.id DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit as i64], |row| {
            let flag: String = row.get(3)?;
            Ok(StoredFeedback {
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

    /// The number of prediction rows.
    #[cfg(test)]
    pub fn prediction_count(&self) -> anyhow::Result<i64> {
        Ok(self
            .lock()
            .query_row("SELECT COUNT(*) FROM predictions", [], |r| r.get(0))?)
    }

    /// Whether a recognition `request_id` is in the log, and its input when that is kept.
    pub fn input_of_request(&self, request_id: &str) -> anyhow::Result<(bool, Option<Vec<u8>>)> {
        let conn = self.lock();
        let found: Option<(Option<String>, Option<Vec<u8>>)> = conn
            .query_row(
                "SELECT p.image_sha256, i.bytes FROM predictions p
                 LEFT JOIN inputs i ON i.sha256 = p.image_sha256
                 WHERE p.request_id = ?1 ORDER BY p.id DESC LIMIT 1",
                [request_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map(Some)
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                e => Err(e),
            })?;
        Ok(match found {
            Some((_, bytes)) => (true, bytes),
            None => (false, None),
        })
    }

    /// The stored bytes of an input, if kept.
    #[cfg(test)]
    pub fn input(&self, sha256: &str) -> anyhow::Result<Option<Vec<u8>>> {
        Ok(self
            .lock()
            .query_row(
                "SELECT bytes FROM inputs WHERE sha256 = ?1",
                [sha256],
                |r| r.get(0),
            )
            .map(Some)
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                e => Err(e),
            })?)
    }
}

/// What the report reads of one prediction row.
#[derive(Debug, Clone)]
pub struct LoggedPrediction {
    /// HTTP status.
    pub status: u16,
    /// Server time.
    pub latency_ms: f64,
    /// Input mean intensity, when decoded.
    pub mean_intensity: Option<f64>,
    /// Input ink polarity, when decoded.
    pub dark_ink: Option<bool>,
    /// Input height, when decoded.
    pub height: Option<u32>,
    /// Characters read.
    pub pred_chars: i64,
    /// Mean confidence.
    pub confidence: Option<f64>,
}

impl Store {
    /// Prediction rows with `from <= created < to` (ISO timestamps or dates; open ends).
    pub fn predictions(
        &self,
        from: Option<&str>,
        to: Option<&str>,
    ) -> anyhow::Result<Vec<LoggedPrediction>> {
        let conn = self.lock();
        let mut stmt = conn.prepare(
            "SELECT status, latency_ms, mean_intensity, dark_ink, height, pred_chars, confidence
             FROM predictions
             WHERE (?1 IS NULL OR created >= ?1) AND (?2 IS NULL OR created < ?2)
             ORDER BY id",
        )?;
        let rows = stmt.query_map(params![from, to], |r| {
            Ok(LoggedPrediction {
                status: r.get(0)?,
                latency_ms: r.get(1)?,
                mean_intensity: r.get(2)?,
                dark_ink: r.get(3)?,
                height: r.get(4)?,
                pred_chars: r.get(5)?,
                confidence: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Feedback rows by flag with `from <= created < to`.
    pub fn feedback_counts(
        &self,
        from: Option<&str>,
        to: Option<&str>,
    ) -> anyhow::Result<Vec<(String, i64)>> {
        let conn = self.lock();
        let mut stmt = conn.prepare(
            "SELECT flag, COUNT(*) FROM feedback
             WHERE (?1 IS NULL OR created >= ?1) AND (?2 IS NULL OR created < ?2)
             GROUP BY flag ORDER BY flag",
        )?;
        let rows = stmt.query_map(params![from, to], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

fn put_input(conn: &Connection, sha: &str, bytes: &[u8]) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT OR IGNORE INTO inputs (sha256, bytes, created) VALUES (?1, ?2, ?3)",
        params![sha, bytes, text_recognizer::export::utc_now()],
    )
    .map(|_| ())
}

/// Sets the connection up and applies the migrations it lacks, each in a transaction.
fn migrate(conn: &mut Connection) -> anyhow::Result<()> {
    // WAL: readers (exports, reports) do not block the server's writes; with the default
    // synchronous=FULL a committed row survives a crash.
    conn.pragma_update(None, "journal_mode", "WAL")
        .context("not a usable SQLite database")?;
    conn.pragma_update(None, "busy_timeout", 5000)?;
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let known = MIGRATIONS.len() as i64;
    anyhow::ensure!(
        version <= known,
        "schema version {version} is newer than this program's {known}: use a newer infer-app"
    );
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)
            .with_context(|| format!("schema migration {}", i + 1))?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feedback(image: Option<Vec<u8>>) -> Feedback {
        Feedback {
            request_id: Some("r1".into()),
            flag: Flag::Incorrect,
            predicted: Some("helo".into()),
            correction: Some("hello".into()),
            model: Some("m".into()),
            image,
        }
    }

    #[test]
    fn feedback_survives_reopening() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub/serve.sqlite3");
        let store = Store::open(&path).expect("opens");
        let f = feedback(Some(vec![1, 2, 3]));
        let id = store.record_feedback(&f).expect("stored");
        drop(store);
        let rows = Store::open(&path)
            .expect("reopens")
            .feedback(10)
            .expect("reads");
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].id, &rows[0].feedback), (id, &f));
    }

    /// A database as the first `serve` release left it: schema 1, images inline.
    #[test]
    fn a_database_of_the_previous_schema_is_migrated_keeping_its_feedback() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("old.sqlite3");
        {
            let conn = Connection::open(&path).expect("creates");
            conn.execute_batch(MIGRATIONS[0]).expect("schema 1");
            conn.execute(
                "INSERT INTO feedback (created, request_id, flag, predicted, correction, model,
                                       image, image_sha256)
                 VALUES ('2026-11-30T08:00:00Z', 'r0', 'incorrect', 'helo', 'hello', 'm',
                         x'010203', ?1)",
                [sha256_hex(&[1, 2, 3])],
            )
            .expect("an old row");
        }
        let store = Store::open(&path).expect("migrates");
        let rows = store.feedback(10).expect("reads");
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].feedback.image.as_deref(), Some(&[1u8, 2, 3][..]));
        assert_eq!(rows[0].feedback.correction.as_deref(), Some("hello"));
        let version: i64 = store
            .lock()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .expect("version");
        assert_eq!(version, MIGRATIONS.len() as i64);
        store
            .insert_predictions(&[], &[])
            .expect("the new tables exist");
        // Opening again applies nothing twice.
        drop(store);
        assert_eq!(
            Store::open(&path)
                .expect("reopens")
                .feedback(10)
                .expect("reads")
                .len(),
            1
        );
    }

    #[test]
    fn bad_files_are_clear_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let junk = dir.path().join("junk.sqlite3");
        std::fs::write(&junk, vec![0x42u8; 8192]).expect("writes");
        let err = format!("{:#}", Store::open(&junk).err().expect("not a database"));
        assert!(
            err.contains("junk.sqlite3") && err.contains("not a"),
            "{err}"
        );
        let newer = dir.path().join("newer.sqlite3");
        Connection::open(&newer)
            .and_then(|c| c.pragma_update(None, "user_version", 99))
            .expect("writes");
        let err = format!("{:#}", Store::open(&newer).err().expect("too new"));
        assert!(err.contains("newer"), "{err}");
    }

    #[test]
    fn kept_inputs_are_capped_by_size_newest_and_flagged_first() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("db.sqlite3")).expect("opens");
        let inputs: Vec<(String, Vec<u8>)> = (0u8..5)
            .map(|i| (sha256_hex(&[i]), vec![i; 1000]))
            .collect();
        for input in &inputs {
            store
                .insert_predictions(&[], std::slice::from_ref(input))
                .expect("inserts");
        }
        store
            .record_feedback(&feedback(Some(vec![9; 3000])))
            .expect("flagged");
        assert_eq!(store.cap_inputs(2500).expect("caps"), 3);
        // The two newest stay, and the flagged one whatever its size.
        for (i, (sha, _)) in inputs.iter().enumerate() {
            assert_eq!(
                store.input(sha).expect("reads").is_some(),
                i >= 3,
                "input {i}"
            );
        }
        assert!(
            store
                .input(&sha256_hex(&[9; 3000]))
                .expect("reads")
                .is_some()
        );
    }

    #[test]
    fn a_locked_database_is_a_clear_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("locked.sqlite3");
        let holder = Connection::open(&path).expect("creates");
        holder
            .execute_batch("BEGIN EXCLUSIVE; CREATE TABLE t (x);")
            .expect("locks");
        let err = format!("{:#}", Store::open(&path).err().expect("locked"));
        assert!(
            err.contains("locked.sqlite3") && err.contains("locked"),
            "{err}"
        );
    }

    #[test]
    fn predictions_and_kept_inputs_are_stored_and_old_inputs_purged() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("db.sqlite3")).expect("opens");
        let row = Prediction {
            created: "2026-11-30T08:00:00Z".into(),
            request_id: "r".into(),
            model: "m".into(),
            model_version: None,
            route: "/predict".into(),
            status: 200,
            latency_ms: 12.5,
            image_sha256: Some(sha256_hex(b"img")),
            input: Some(InputStats {
                width: 10,
                height: 5,
                mean_intensity: 200.0,
                dark_ink: true,
            }),
            lines: 1,
            pred_chars: 4,
            confidence: Some(0.9),
            error: None,
        };
        store
            .insert_predictions(
                &[row.clone(), row],
                &[(sha256_hex(b"img"), b"img".to_vec())],
            )
            .expect("inserts");
        assert_eq!(store.prediction_count().expect("counts"), 2);
        assert_eq!(
            store.input(&sha256_hex(b"img")).expect("reads").as_deref(),
            Some(&b"img"[..])
        );
        // Kept today: a 0-day retention removes it, unless feedback refers to it.
        store
            .record_feedback(&feedback(Some(b"flagged".to_vec())))
            .expect("feedback");
        store
            .lock()
            .execute("UPDATE inputs SET created = '2000-01-01T00:00:00Z'", [])
            .expect("ages");
        assert_eq!(store.purge_inputs(1).expect("purges"), 1);
        assert!(store.input(&sha256_hex(b"img")).expect("reads").is_none());
        assert!(
            store
                .input(&sha256_hex(b"flagged"))
                .expect("reads")
                .is_some()
        );
    }
}
