//! The SQL store every service uses: one database per service, SQLite under the data dir by
//! default or MariaDB/MySQL by URL, through the same code: [`query`] with `?` placeholders,
//! values bound in order, [`Row`]s read by column, and a portable subset of DDL (VARCHAR,
//! TEXT, BIGINT). SQLite runs on the calling thread (see `sqlite.rs`), MariaDB through sqlx's
//! `Any` driver.
//!
//! Conventions that keep the SQL portable: booleans are BIGINT 0/1, timestamps are RFC 3339
//! strings in UTC with microseconds (they sort as text), ids are VARCHAR(64).

use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sqlx::any::AnyPoolOptions;
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyPool, Executor};

mod mysql;
mod row;
mod sqlite;

pub use row::{ColumnIndex, FromValue, Row, ToValue, Value};
pub use sqlx;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    MySql,
}

/// One schema change. `sql` may hold several statements separated by `;` at line ends.
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

/// A service's database: cheap to clone (one set of connections behind it).
#[derive(Clone)]
pub struct Db {
    backend: Arc<Backend>,
    dialect: Dialect,
}

enum Backend {
    Sqlite(sqlite::Sqlite),
    MySql(AnyPool),
}

impl Db {
    pub async fn connect(url: &str) -> anyhow::Result<Db> {
        let dialect = if url.starts_with("sqlite:") {
            Dialect::Sqlite
        } else if url.starts_with("mysql:") || url.starts_with("mariadb:") {
            Dialect::MySql
        } else {
            anyhow::bail!("unsupported database URL {}: use sqlite:// or mysql://", redact(url));
        };
        let url = url.replacen("mariadb:", "mysql:", 1);
        let backend = match dialect {
            Dialect::Sqlite => Backend::Sqlite(
                sqlite::Sqlite::open(sqlite_path(&url).map(Into::into))
                    .with_context(|| format!("opening {}", redact(&url)))?,
            ),
            Dialect::MySql => {
                sqlx::any::install_default_drivers();
                create_mysql_database_if_missing(&url).await?;
                Backend::MySql(
                    AnyPoolOptions::new()
                        .max_connections(16)
                        .acquire_timeout(Duration::from_secs(10))
                        .connect(&url)
                        .await
                        .with_context(|| format!("connecting to {}", redact(&url)))?,
                )
            }
        };
        Ok(Db { backend: Arc::new(backend), dialect })
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Starts a transaction: committed by [`Tx::commit`], rolled back if dropped before. On
    /// SQLite it holds the one writer connection until then.
    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        let conn = match &*self.backend {
            Backend::Sqlite(s) => {
                let w = s.writer().await;
                sqlite::run(&w, "BEGIN IMMEDIATE", &[])?;
                Conn(ConnInner::Sqlite(w))
            }
            Backend::MySql(pool) => Conn(ConnInner::MySqlTx(pool.begin().await?)),
        };
        Ok(Tx { conn, open: true })
    }

    /// One connection for several statements outside a transaction (on SQLite: the writer).
    pub async fn acquire(&self) -> Result<Conn, sqlx::Error> {
        Ok(Conn(match &*self.backend {
            Backend::Sqlite(s) => ConnInner::Sqlite(s.writer().await),
            Backend::MySql(pool) => ConnInner::MySql(pool.acquire().await?),
        }))
    }

    /// One connection for several reads, which do not wait for writers (on SQLite: a
    /// reader connection; a write on it would bypass the writer's queue — don't).
    pub async fn acquire_for_reads(&self) -> Result<Conn, sqlx::Error> {
        match &*self.backend {
            Backend::Sqlite(s) => match s.reader()? {
                Some(r) => Ok(Conn(ConnInner::SqliteReader(r))),
                None => Ok(Conn(ConnInner::Sqlite(s.writer().await))),
            },
            Backend::MySql(_) => self.acquire().await,
        }
    }

    /// Applies the migrations not yet recorded in `schema_migrations`, each in order.
    pub async fn migrate(&self, migrations: &[Migration]) -> anyhow::Result<()> {
        query(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, \
             name VARCHAR(255) NOT NULL, applied_at VARCHAR(40) NOT NULL)",
        )
        .execute(self)
        .await?;
        let applied: Vec<i64> = query("SELECT version FROM schema_migrations")
            .fetch_all(self)
            .await?
            .iter()
            .map(|r| r.get::<i64, _>(0))
            .collect();
        for m in migrations {
            if applied.contains(&m.version) {
                continue;
            }
            tracing::info!(version = m.version, name = m.name, "applying migration");
            let mut tx = self.begin().await?;
            for stmt in split_statements(m.sql) {
                let stmt = in_dialect(stmt, self.dialect);
                query(stmt.as_str())
                    .execute(&mut *tx)
                    .await
                    .with_context(|| format!("migration {} ({}): {stmt}", m.version, m.name))?;
            }
            query("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)")
                .bind(m.version)
                .bind(m.name)
                .bind(now_string())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        }
        Ok(())
    }

    pub async fn close(&self) {
        if let Backend::MySql(pool) = &*self.backend {
            pool.close().await;
        }
    }
}

/// A statement with `?` placeholders, as every store writes them.
pub fn query(sql: impl Into<String>) -> Query {
    Query { sql: sql.into(), args: Vec::new() }
}

/// A statement and the values bound to its placeholders, in order; run with
/// [`Query::execute`] or one of the `fetch_*` methods on a [`Db`], a [`Conn`] or a [`Tx`].
#[must_use = "a query does nothing until it is executed or fetched"]
pub struct Query {
    sql: String,
    args: Vec<Value>,
}

/// Where a statement runs: the database (any connection) or one connection (a transaction's).
pub enum On<'a> {
    Db(&'a Db),
    Conn(&'a mut Conn),
}

impl<'a> From<&'a Db> for On<'a> {
    fn from(db: &'a Db) -> Self {
        On::Db(db)
    }
}

impl<'a> From<&'a mut Conn> for On<'a> {
    fn from(c: &'a mut Conn) -> Self {
        On::Conn(c)
    }
}

impl<'a> From<&'a mut Tx> for On<'a> {
    fn from(tx: &'a mut Tx) -> Self {
        On::Conn(&mut tx.conn)
    }
}

/// What a statement that returns no rows did.
#[derive(Debug, Clone, Copy)]
pub struct Done {
    rows_affected: u64,
    last_insert_id: i64,
}

impl Done {
    pub fn rows_affected(&self) -> u64 {
        self.rows_affected
    }

    /// The row id of the last row inserted on this connection (an AUTO_INCREMENT / INTEGER
    /// PRIMARY KEY column).
    pub fn last_insert_id(&self) -> i64 {
        self.last_insert_id
    }
}

impl Query {
    pub fn bind<T: ToValue>(mut self, value: T) -> Self {
        self.args.push(value.to_value());
        self
    }

    pub async fn execute<'a>(self, on: impl Into<On<'a>>) -> Result<Done, sqlx::Error> {
        let out = self.run(on.into()).await?;
        Ok(Done { rows_affected: out.rows_affected, last_insert_id: out.last_insert_id })
    }

    pub async fn fetch_all<'a>(self, on: impl Into<On<'a>>) -> Result<Vec<Row>, sqlx::Error> {
        Ok(self.run(on.into()).await?.rows)
    }

    pub async fn fetch_optional<'a>(self, on: impl Into<On<'a>>) -> Result<Option<Row>, sqlx::Error> {
        Ok(self.run(on.into()).await?.rows.into_iter().next())
    }

    pub async fn fetch_one<'a>(self, on: impl Into<On<'a>>) -> Result<Row, sqlx::Error> {
        self.fetch_optional(on).await?.ok_or(sqlx::Error::RowNotFound)
    }

    async fn run(self, on: On<'_>) -> Result<Output, sqlx::Error> {
        let (sql, args) = (self.sql.as_str(), self.args.as_slice());
        match on {
            On::Db(db) => match &*db.backend {
                Backend::Sqlite(s) => s.run(sql, args).await,
                Backend::MySql(pool) => mysql::run(&mut *pool.acquire().await?, sql, args).await,
            },
            On::Conn(conn) => match &mut conn.0 {
                ConnInner::Sqlite(w) => sqlite::run(w, sql, args),
                ConnInner::SqliteReader(r) => sqlite::run(r, sql, args),
                ConnInner::MySql(c) => mysql::run(c, sql, args).await,
                ConnInner::MySqlTx(tx) => mysql::run(tx, sql, args).await,
                ConnInner::Closed => Err(sqlx::Error::Protocol("the transaction has ended".into())),
            },
        }
    }
}

/// What running a statement gave, whichever the backend: every row it returned, and what it
/// changed.
pub(crate) struct Output {
    pub rows: Vec<Row>,
    pub rows_affected: u64,
    pub last_insert_id: i64,
}

/// One connection held for several statements: see [`Db::acquire`] and [`Db::begin`].
pub struct Conn(ConnInner);

enum ConnInner {
    Sqlite(sqlite::Writer),
    SqliteReader(sqlite::Reader),
    MySql(PoolConnection<Any>),
    MySqlTx(sqlx::Transaction<'static, Any>),
    /// A transaction's, once committed or rolled back.
    Closed,
}

/// A transaction; statements run on it with `&mut *tx` (or `&mut tx`).
pub struct Tx {
    conn: Conn,
    open: bool,
}

impl Tx {
    pub async fn commit(mut self) -> Result<(), sqlx::Error> {
        self.open = false;
        match std::mem::replace(&mut self.conn.0, ConnInner::Closed) {
            ConnInner::Sqlite(w) => sqlite::run(&w, "COMMIT", &[]).map(|_| ()).inspect_err(|_| {
                // A failed COMMIT leaves the transaction open: end it before the writer is
                // handed on.
                let _ = w.execute_batch("ROLLBACK");
            }),
            ConnInner::MySqlTx(tx) => tx.commit().await,
            _ => Ok(()),
        }
    }

    pub async fn rollback(mut self) -> Result<(), sqlx::Error> {
        self.open = false;
        match std::mem::replace(&mut self.conn.0, ConnInner::Closed) {
            ConnInner::Sqlite(w) => sqlite::run(&w, "ROLLBACK", &[]).map(|_| ()),
            ConnInner::MySqlTx(tx) => tx.rollback().await,
            _ => Ok(()),
        }
    }
}

impl Deref for Tx {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        &self.conn
    }
}

impl DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut Conn {
        &mut self.conn
    }
}

impl Drop for Tx {
    fn drop(&mut self) {
        // MariaDB: sqlx's transaction rolls itself back when dropped.
        if let (true, ConnInner::Sqlite(w)) = (self.open, &self.conn.0) {
            let _ = w.execute_batch("ROLLBACK");
        }
    }
}

/// Reads a text column, or None when it is NULL (or not text).
pub fn text(row: &Row, col: &str) -> Option<String> {
    row.try_get::<Option<String>, _>(col).ok().flatten()
}

/// Reads an integer column (0 when NULL).
pub fn int(row: &Row, col: &str) -> i64 {
    row.try_get::<Option<i64>, _>(col).ok().flatten().unwrap_or(0)
}

/// Is this error a unique-constraint violation (a duplicate name or id)?
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db) => {
            db.is_unique_violation() || {
                let msg = db.message();
                msg.contains("UNIQUE constraint failed") || msg.contains("Duplicate entry")
            }
        }
        _ => false,
    }
}

/// The current time as stored: RFC 3339, UTC, microseconds.
pub fn now_string() -> String {
    time_string(chrono::Utc::now())
}

pub fn time_string(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

pub fn parse_time(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&chrono::Utc))
}

/// The few statements whose portable form differs: `DROP INDEX name ON table` (MariaDB and
/// MySQL name the table; SQLite's index names are per database, and it takes no `ON`).
fn in_dialect(stmt: String, dialect: Dialect) -> String {
    let words: Vec<&str> = stmt.split_whitespace().collect();
    match (dialect, words.as_slice()) {
        (Dialect::Sqlite, [drop, index, name, on, _table])
            if drop.eq_ignore_ascii_case("DROP")
                && index.eq_ignore_ascii_case("INDEX")
                && on.eq_ignore_ascii_case("ON") =>
        {
            format!("DROP INDEX {name}")
        }
        _ => stmt,
    }
}

fn split_statements(sql: &str) -> Vec<String> {
    sql.split(";\n")
        .map(|s| s.trim().trim_end_matches(';').trim().to_string())
        .filter(|s| !s.is_empty() && !s.lines().all(|l| l.trim().is_empty() || l.trim().starts_with("--")))
        .collect()
}

fn sqlite_path(url: &str) -> Option<String> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next()?;
    (!path.is_empty() && path != ":memory:").then(|| path.to_string())
}

async fn create_mysql_database_if_missing(url: &str) -> anyhow::Result<()> {
    // mysql://user:pass@host:port/dbname?opts
    let (base, query) = url.split_once('?').map(|(b, q)| (b, Some(q))).unwrap_or((url, None));
    let Some((server, name)) = base.rsplit_once('/') else { return Ok(()) };
    if name.is_empty() || server.ends_with('/') {
        return Ok(());
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        anyhow::bail!("database name {name:?} may hold only letters, digits and _");
    }
    let server_url = match query {
        Some(q) => format!("{server}/?{q}"),
        None => format!("{server}/"),
    };
    let pool = AnyPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .connect(&server_url)
        .await
        .with_context(|| format!("connecting to {}", redact(&server_url)))?;
    pool.execute(
        format!("CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin").as_str(),
    )
    .await
    .with_context(|| format!("creating database {name}"))?;
    pool.close().await;
    Ok(())
}

/// A URL fit for logs: the password replaced.
pub fn redact(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        if let Some((cred, host)) = rest.split_once('@') {
            if let Some((user, _)) = cred.split_once(':') {
                return format!("{scheme}://{user}:***@{host}");
            }
        }
    }
    url.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_split_on_line_ends() {
        let s = split_statements("CREATE TABLE a (x BIGINT);\n-- comment\nCREATE INDEX i ON a (x);\n");
        assert_eq!(s, vec!["CREATE TABLE a (x BIGINT)", "-- comment\nCREATE INDEX i ON a (x)"]);
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact("mysql://stratus:secret@db:3306/x"), "mysql://stratus:***@db:3306/x");
    }

    #[tokio::test]
    async fn migrations_apply_once() {
        let dir = std::env::temp_dir().join(format!("stratus-db-{}", uuid::Uuid::new_v4()));
        let url = format!("sqlite://{}/t.db?mode=rwc", dir.display());
        let db = Db::connect(&url).await.unwrap();
        let m = [Migration { version: 1, name: "t", sql: "CREATE TABLE t (id VARCHAR(64) PRIMARY KEY)" }];
        db.migrate(&m).await.unwrap();
        db.migrate(&m).await.unwrap();
        query("INSERT INTO t (id) VALUES (?)").bind("a").execute(&db).await.unwrap();
        let err = query("INSERT INTO t (id) VALUES (?)").bind("a").execute(&db).await.unwrap_err();
        assert!(is_unique_violation(&err));
        std::fs::remove_dir_all(dir).ok();
    }

    /// A fresh SQLite database with a table `t (id, n)`, and its directory.
    async fn sqlite_db() -> (Db, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("stratus-db-{}", uuid::Uuid::new_v4()));
        let db = Db::connect(&format!("sqlite://{}/t.db?mode=rwc", dir.display())).await.unwrap();
        let m = [Migration {
            version: 1,
            name: "t",
            sql: "CREATE TABLE t (id VARCHAR(64) PRIMARY KEY, n BIGINT)",
        }];
        db.migrate(&m).await.unwrap();
        (db, dir)
    }

    async fn count(db: &Db) -> i64 {
        query("SELECT COUNT(*) AS c FROM t").fetch_one(db).await.unwrap().get("c")
    }

    #[tokio::test]
    async fn a_transaction_dropped_uncommitted_rolls_back_and_frees_the_writer() {
        let (db, dir) = sqlite_db().await;
        {
            let mut tx = db.begin().await.unwrap();
            query("INSERT INTO t (id, n) VALUES ('a', 1)").execute(&mut *tx).await.unwrap();
        }
        assert_eq!(count(&db).await, 0);
        let mut tx = db.begin().await.unwrap();
        query("INSERT INTO t (id, n) VALUES ('b', 2)").execute(&mut *tx).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(count(&db).await, 1);
        std::fs::remove_dir_all(dir).ok();
    }

    #[tokio::test]
    async fn reads_do_not_wait_for_a_transaction_and_see_only_what_it_committed() {
        let (db, dir) = sqlite_db().await;
        let mut tx = db.begin().await.unwrap();
        query("INSERT INTO t (id, n) VALUES ('a', 1)").execute(&mut *tx).await.unwrap();
        let seen = tokio::time::timeout(Duration::from_secs(5), count(&db)).await;
        assert_eq!(seen.expect("a read waited for the open transaction"), 0);
        tx.commit().await.unwrap();
        assert_eq!(count(&db).await, 1);
        std::fs::remove_dir_all(dir).ok();
    }

    #[tokio::test]
    async fn writes_queue_behind_a_transaction_instead_of_failing() {
        let (db, dir) = sqlite_db().await;
        let mut tx = db.begin().await.unwrap();
        let n: i64 = query("SELECT COUNT(*) AS c FROM t").fetch_one(&mut *tx).await.unwrap().get("c");
        let other = db.clone();
        let write = tokio::spawn(async move {
            query("INSERT INTO t (id, n) VALUES ('w', 0)").execute(&other).await.map(|d| d.rows_affected())
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!write.is_finished(), "a write ran while a transaction held the writer");
        query("INSERT INTO t (id, n) VALUES ('t', ?)").bind(n + 1).execute(&mut *tx).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(write.await.unwrap().unwrap(), 1);
        let rows = query("SELECT id, n FROM t ORDER BY id").fetch_all(&db).await.unwrap();
        let got: Vec<(String, i64)> = rows.iter().map(|r| (r.get("id"), r.get("n"))).collect();
        assert_eq!(got, vec![("t".to_string(), 1), ("w".to_string(), 0)]);
        std::fs::remove_dir_all(dir).ok();
    }

    #[tokio::test]
    async fn values_round_trip_with_their_types() {
        let (db, dir) = sqlite_db().await;
        query("CREATE TABLE v (i BIGINT, f DOUBLE, s TEXT, b BLOB, z TEXT)").execute(&db).await.unwrap();
        let done = query("INSERT INTO v (i, f, s, b, z) VALUES (?, ?, ?, ?, ?)")
            .bind(-7i64)
            .bind(1.5f64)
            .bind("héllo")
            .bind(vec![0u8, 255])
            .bind(None::<String>)
            .execute(&db)
            .await
            .unwrap();
        assert_eq!(done.rows_affected(), 1);
        let r = query("SELECT i, f, s, b, z FROM v").fetch_one(&db).await.unwrap();
        assert_eq!(r.get::<i64, _>("i"), -7);
        assert_eq!(r.get::<f64, _>("f"), 1.5);
        assert_eq!(r.get::<String, _>("s"), "héllo");
        assert_eq!(r.get::<Vec<u8>, _>("b"), vec![0u8, 255]);
        assert_eq!(r.get::<Option<String>, _>("z"), None);
        let missing = query("SELECT i FROM v WHERE i = 0").fetch_one(&db).await;
        assert!(matches!(missing, Err(sqlx::Error::RowNotFound)));
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn a_dropped_index_names_its_table_except_on_sqlite() {
        let stmt = || "DROP INDEX instances_project ON instances".to_string();
        assert_eq!(in_dialect(stmt(), Dialect::Sqlite), "DROP INDEX instances_project");
        assert_eq!(in_dialect(stmt(), Dialect::MySql), stmt());
        let other = "CREATE INDEX i ON t (a)".to_string();
        assert_eq!(in_dialect(other.clone(), Dialect::Sqlite), other);
    }

    #[tokio::test]
    async fn commits_leave_the_checkpoint_to_the_background() {
        let (db, dir) = sqlite_db().await;
        let file_len = || std::fs::metadata(dir.join("t.db")).unwrap().len();
        // 8 MB in one commit: past SQLite's own threshold (1,000 pages), at which a commit
        // would copy the log into the database file itself, fsyncs included.
        let blob = vec![7u8; 8 << 20];
        query("CREATE TABLE big (b BLOB)").execute(&db).await.unwrap();
        // Past the checkpoint the writes so far asked for.
        tokio::time::sleep(Duration::from_millis(600)).await;
        query("INSERT INTO big (b) VALUES (?)").bind(blob).execute(&db).await.unwrap();
        let committed = std::time::Instant::now();
        let right_after = file_len();
        if committed.elapsed() < Duration::from_millis(100) {
            assert!(
                right_after < 1 << 20,
                "the commit checkpointed: the database file is {right_after} bytes"
            );
        }
        // A moment later the checkpointer has copied it into the database file.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while file_len() < 8 << 20 {
            assert!(std::time::Instant::now() < deadline, "never checkpointed: {} bytes", file_len());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let r = query("SELECT length(b) AS n FROM big").fetch_one(&db).await.unwrap();
        assert_eq!(r.get::<i64, _>("n"), 8 << 20);
        std::fs::remove_dir_all(dir).ok();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_log_starts_over_under_steady_writes() {
        let (db, dir) = sqlite_db().await;
        let wal_len = || std::fs::metadata(dir.join("t.db-wal")).map(|m| m.len()).unwrap_or(0);
        query("CREATE TABLE w (i BIGINT, b BLOB)").execute(&db).await.unwrap();
        // Small commits without a pause, with short reads beside them (a steadily busy
        // service), until three times the log's limit went through the log: each commit adds
        // a page (4 KB) or so.
        let limit = sqlite::LOG_LIMIT_FRAMES as u64 * 4096;
        let reading = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let reader = {
            let (db, reading) = (db.clone(), reading.clone());
            tokio::spawn(async move {
                while reading.load(std::sync::atomic::Ordering::Relaxed) {
                    query("SELECT i FROM w ORDER BY rowid DESC LIMIT 1").fetch_optional(&db).await.unwrap();
                    tokio::task::yield_now().await;
                }
            })
        };
        let started = std::time::Instant::now();
        let mut commits = 0u64;
        let mut largest = 0;
        while commits * 4096 < 3 * limit && started.elapsed() < Duration::from_secs(60) {
            query("INSERT INTO w (i, b) VALUES (?, ?)")
                .bind(commits as i64)
                .bind(vec![1u8; 1000])
                .execute(&db)
                .await
                .unwrap();
            commits += 1;
            largest = largest.max(wal_len());
        }
        reading.store(false, std::sync::atomic::Ordering::Relaxed);
        reader.await.unwrap();
        assert!(commits * 4096 >= 3 * limit, "too few commits to tell: {commits}");
        // Never starting over, the log would hold every commit.
        assert!(largest < 2 * limit, "the log grew to {largest} bytes over {commits} commits");
        std::fs::remove_dir_all(dir).ok();
    }
}
