//! SQLite on the calling thread. A statement takes microseconds, so it runs where it is
//! asked for instead of being handed to a connection thread and back (what sqlx's driver
//! does, twice per statement with the pool's ping: most of a boot's database time was that
//! hand-off, not SQLite).
//!
//! One writer connection behind an async lock: writes and transactions queue on it without
//! holding a thread. Reads outside a transaction (`SELECT …`) take any idle reader
//! connection, opened as needed; in WAL mode they never wait for the writer.
//!
//! Checkpoints (copying the write-ahead log back into the database file, with two fsyncs)
//! run on a thread of their own, a moment after writes, instead of inside whichever commit
//! crosses SQLite's threshold: there they blocked an async worker on the disk while holding
//! the writer, and every other write queued behind the flush. A log that grew long anyway
//! is made to start over by a checkpoint holding the writer: without it, when commits never
//! pause long enough for a checkpoint to catch up, the log grows by every commit's pages
//! without bound (hundreds of MB a minute under load).

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

use super::row::{Row, Value};
use super::Output;

/// How long a statement waits for another process's write lock before failing with
/// "database is locked".
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Prepared statements kept per connection.
const STATEMENT_CACHE: usize = 256;
/// How long the checkpointer lets writes gather after it is nudged, so that a busy database
/// is checkpointed a few times a second rather than after every commit.
const CHECKPOINT_PAUSE: Duration = Duration::from_millis(200);
/// How long a checkpoint holding the writer waits for reads of older states to end.
const RESTART_WAIT: Duration = Duration::from_millis(20);
/// Checkpoints without the writer repeat (up to this many more times) while the commits
/// made during one add more than `CATCH_UP_FRAMES` pages to the log.
const CATCH_UP_PASSES: usize = 3;
const CATCH_UP_FRAMES: i64 = 256;
/// The length of log (in pages: 64 MB of 4 KB pages) past which a checkpoint makes sure the
/// log starts over.
pub(crate) const LOG_LIMIT_FRAMES: i64 = 16_384;

pub(crate) struct Sqlite {
    /// None for an in-memory database: every statement then runs on the writer.
    path: Option<PathBuf>,
    writer: Arc<AsyncMutex<Connection>>,
    readers: Arc<Mutex<Vec<Connection>>>,
    /// Nudges the checkpointer (file databases only); it ends when this is dropped.
    checkpoints: Option<SyncSender<()>>,
}

/// The writer connection, held until dropped; releasing it nudges the checkpointer.
pub(crate) struct Writer {
    conn: OwnedMutexGuard<Connection>,
    checkpoints: Option<SyncSender<()>>,
}

impl std::ops::Deref for Writer {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        &self.conn
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        if let Some(tx) = &self.checkpoints {
            // Full: a checkpoint is already due; disconnected: shutting down.
            let _ = tx.try_send(());
        }
    }
}

/// A reader connection, back to the idle ones when dropped.
pub(crate) struct Reader {
    conn: Option<Connection>,
    idle: Arc<Mutex<Vec<Connection>>>,
}

impl std::ops::Deref for Reader {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn.as_ref().expect("a reader is held until dropped")
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        if let Some(c) = self.conn.take() {
            self.idle.lock().unwrap_or_else(|e| e.into_inner()).push(c);
        }
    }
}

impl Sqlite {
    pub fn open(path: Option<PathBuf>) -> Result<Sqlite, sqlx::Error> {
        if let Some(parent) = path.as_ref().and_then(|p| p.parent()) {
            std::fs::create_dir_all(parent).ok();
        }
        let conn = connect(path.as_ref())?;
        if path.is_some() {
            // Commits no longer checkpoint; the checkpointer's connection does.
            conn.execute_batch("PRAGMA wal_autocheckpoint=0").map_err(error)?;
        }
        let writer = Arc::new(AsyncMutex::new(conn));
        let checkpoints = match &path {
            Some(p) => {
                let conn = connect(Some(p))?;
                let (tx, rx) = sync_channel(1);
                let writer = writer.clone();
                std::thread::Builder::new()
                    .name("sqlite-checkpoint".into())
                    .spawn(move || checkpointer(conn, writer, rx))
                    .map_err(sqlx::Error::Io)?;
                Some(tx)
            }
            None => None,
        };
        Ok(Sqlite { path, writer, readers: Arc::default(), checkpoints })
    }

    pub async fn writer(&self) -> Writer {
        Writer { conn: self.writer.clone().lock_owned().await, checkpoints: self.checkpoints.clone() }
    }

    /// An idle reader connection (a new one if none is idle), or None for an in-memory
    /// database, which has only the writer.
    pub fn reader(&self) -> Result<Option<Reader>, sqlx::Error> {
        if self.path.is_none() {
            return Ok(None);
        }
        let idle = self.readers.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let conn = match idle {
            Some(c) => c,
            None => connect(self.path.as_ref())?,
        };
        Ok(Some(Reader { conn: Some(conn), idle: self.readers.clone() }))
    }

    /// Runs one statement outside any transaction: a read on a reader, anything else on the
    /// writer.
    pub async fn run(&self, sql: &str, args: &[Value]) -> Result<Output, sqlx::Error> {
        if is_read(sql) {
            if let Some(r) = self.reader()? {
                return run(&r, sql, args);
            }
        }
        let w = self.writer().await;
        run(&w, sql, args)
    }
}

/// Checkpoints the database a moment after each burst of writes, until the database is
/// closed.
///
/// PASSIVE, without the writer: it never blocks readers or writes, and repeats while the
/// commits made during one add much to the log. A log that nevertheless reached
/// `LOG_LIMIT_FRAMES` (commits never paused long enough for a checkpoint to catch up) is then
/// checkpointed holding the writer, RESTART: once the few commits since are copied and the
/// reads of older states have ended (waiting at most `RESTART_WAIT`), the next commit writes
/// the log from its start. That pass waits on the disk with every write queued behind it
/// (10–50 ms under load), so it is kept for when the log is long.
fn checkpointer(conn: Connection, writer: Arc<AsyncMutex<Connection>>, nudges: Receiver<()>) {
    if let Err(e) = conn.busy_timeout(RESTART_WAIT) {
        tracing::warn!("SQLite checkpointer: {e}");
    }
    // The log's length in frames after the checkpoint (0 when it failed).
    let checkpoint = |mode: &str| -> i64 {
        let sql = format!("PRAGMA wal_checkpoint({mode})");
        match conn.query_row(&sql, [], |r| r.get::<_, i64>(1)) {
            Ok(frames) => frames,
            Err(e) => {
                // Busy (a read outlasted the wait): the next checkpoint tries again.
                tracing::warn!("SQLite checkpoint: {e}");
                0
            }
        }
    };
    while nudges.recv().is_ok() {
        std::thread::sleep(CHECKPOINT_PAUSE);
        // Writes during the pause are covered by this checkpoint.
        let _ = nudges.try_recv();
        let mut frames = checkpoint("PASSIVE");
        for _ in 0..CATCH_UP_PASSES {
            let before = frames;
            frames = checkpoint("PASSIVE");
            if frames - before < CATCH_UP_FRAMES {
                break;
            }
        }
        if frames >= LOG_LIMIT_FRAMES {
            let held = writer.blocking_lock();
            checkpoint("RESTART");
            // Releasing the writer here nudges nobody: the next commit does.
            drop(held);
        }
    }
}

fn is_read(sql: &str) -> bool {
    let head = sql.trim_start().as_bytes();
    head.len() >= 6 && head[..6].eq_ignore_ascii_case(b"SELECT")
}

fn connect(path: Option<&PathBuf>) -> Result<Connection, sqlx::Error> {
    let flags =
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = match path {
        Some(p) => Connection::open_with_flags(p, flags),
        None => Connection::open_in_memory(),
    }
    .map_err(error)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(error)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    if path.is_some() {
        conn.query_row("PRAGMA journal_mode=WAL", [], |_| Ok(())).map_err(error)?;
    }
    conn.execute_batch("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;").map_err(error)?;
    Ok(conn)
}

/// Runs one statement on `conn`, reading every row it gives.
pub(crate) fn run(conn: &Connection, sql: &str, args: &[Value]) -> Result<Output, sqlx::Error> {
    let mut stmt = conn.prepare_cached(sql).map_err(error)?;
    for (i, a) in args.iter().enumerate() {
        let r = match a {
            Value::Null => stmt.raw_bind_parameter(i + 1, rusqlite::types::Null),
            Value::Int(v) => stmt.raw_bind_parameter(i + 1, v),
            Value::Float(v) => stmt.raw_bind_parameter(i + 1, v),
            Value::Text(v) => stmt.raw_bind_parameter(i + 1, v.as_str()),
            Value::Blob(v) => stmt.raw_bind_parameter(i + 1, v.as_slice()),
        };
        r.map_err(error)?;
    }
    let n = stmt.column_count();
    let columns: Arc<[String]> = stmt.column_names().iter().map(|c| c.to_string()).collect();
    let mut rows = Vec::new();
    let mut results = stmt.raw_query();
    while let Some(r) = results.next().map_err(error)? {
        let mut values = Vec::with_capacity(n);
        for i in 0..n {
            values.push(match r.get_ref(i).map_err(error)? {
                ValueRef::Null => Value::Null,
                ValueRef::Integer(v) => Value::Int(v),
                ValueRef::Real(v) => Value::Float(v),
                ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                ValueRef::Blob(b) => Value::Blob(b.to_vec()),
            });
        }
        rows.push(Row::new(columns.clone(), values));
    }
    drop(results);
    Ok(Output { rows, rows_affected: conn.changes(), last_insert_id: conn.last_insert_rowid() })
}

/// An SQLite error as sqlx reports database errors, so callers see one error type whatever
/// the database (and `is_unique_violation` works on both).
#[derive(Debug)]
pub(crate) struct SqliteError {
    message: String,
    code: Option<i32>,
}

impl std::fmt::Display for SqliteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SqliteError {}

impl sqlx::error::DatabaseError for SqliteError {
    fn message(&self) -> &str {
        &self.message
    }

    fn code(&self) -> Option<Cow<'_, str>> {
        self.code.map(|c| Cow::Owned(c.to_string()))
    }

    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }

    fn kind(&self) -> sqlx::error::ErrorKind {
        use rusqlite::ffi;
        use sqlx::error::ErrorKind;
        match self.code {
            Some(ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY) => {
                ErrorKind::UniqueViolation
            }
            Some(ffi::SQLITE_CONSTRAINT_FOREIGNKEY) => ErrorKind::ForeignKeyViolation,
            Some(ffi::SQLITE_CONSTRAINT_NOTNULL) => ErrorKind::NotNullViolation,
            Some(ffi::SQLITE_CONSTRAINT_CHECK) => ErrorKind::CheckViolation,
            _ => ErrorKind::Other,
        }
    }
}

pub(crate) fn error(e: rusqlite::Error) -> sqlx::Error {
    let code = match &e {
        rusqlite::Error::SqliteFailure(f, _) => Some(f.extended_code),
        _ => None,
    };
    let message = match &e {
        rusqlite::Error::SqliteFailure(_, Some(m)) if !m.is_empty() => m.clone(),
        rusqlite::Error::SqliteFailure(f, _) => f.to_string(),
        e => e.to_string(),
    };
    sqlx::Error::Database(Box::new(SqliteError { message, code }))
}
