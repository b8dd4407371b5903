//! The SQL store every service uses: one database per service, SQLite under the data dir by
//! default or MariaDB/MySQL by URL, through the same code (sqlx's `Any` driver, `?`
//! placeholders, and a portable subset of DDL: VARCHAR, TEXT, BIGINT).
//!
//! Conventions that keep the SQL portable: booleans are BIGINT 0/1, timestamps are RFC 3339
//! strings in UTC with microseconds (they sort as text), ids are VARCHAR(64).

use std::time::Duration;

use anyhow::Context;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Executor, Row};

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

#[derive(Clone)]
pub struct Db {
    pool: AnyPool,
    dialect: Dialect,
}

impl Db {
    pub async fn connect(url: &str) -> anyhow::Result<Db> {
        sqlx::any::install_default_drivers();
        let dialect = if url.starts_with("sqlite:") {
            Dialect::Sqlite
        } else if url.starts_with("mysql:") || url.starts_with("mariadb:") {
            Dialect::MySql
        } else {
            anyhow::bail!("unsupported database URL {}: use sqlite:// or mysql://", redact(url));
        };
        let url = url.replacen("mariadb:", "mysql:", 1);
        let pool = match dialect {
            Dialect::Sqlite => {
                if let Some(path) = sqlite_path(&url) {
                    if let Some(parent) = std::path::Path::new(&path).parent() {
                        std::fs::create_dir_all(parent).ok();
                    }
                }
                AnyPoolOptions::new()
                    // Every connection is a thread that each statement is handed to and back;
                    // SQLite writes one at a time, and on a small machine more threads mean
                    // more switching, not more work done (8 → 4: ~25 % less CPU per boot).
                    .max_connections(4)
                    // A file connection cannot go stale; the ping before each use would cost
                    // a round trip to the connection's thread per statement.
                    .test_before_acquire(false)
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            conn.execute(
                                "PRAGMA journal_mode=WAL; PRAGMA busy_timeout=10000; \
                                 PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
                            )
                            .await?;
                            Ok(())
                        })
                    })
                    .connect(&url)
                    .await
                    .with_context(|| format!("opening {}", redact(&url)))?
            }
            Dialect::MySql => {
                create_mysql_database_if_missing(&url).await?;
                AnyPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect(&url)
                    .await
                    .with_context(|| format!("connecting to {}", redact(&url)))?
            }
        };
        Ok(Db { pool, dialect })
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Applies the migrations not yet recorded in `schema_migrations`, each in order.
    pub async fn migrate(&self, migrations: &[Migration]) -> anyhow::Result<()> {
        self.pool
            .execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, \
                 name VARCHAR(255) NOT NULL, applied_at VARCHAR(40) NOT NULL)",
            )
            .await?;
        let applied: Vec<i64> = sqlx::query("SELECT version FROM schema_migrations")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r: &AnyRow| r.get::<i64, _>(0))
            .collect();
        for m in migrations {
            if applied.contains(&m.version) {
                continue;
            }
            tracing::info!(version = m.version, name = m.name, "applying migration");
            let mut tx = self.pool.begin().await?;
            for stmt in split_statements(m.sql) {
                sqlx::query(&stmt)
                    .execute(&mut *tx)
                    .await
                    .with_context(|| format!("migration {} ({}): {stmt}", m.version, m.name))?;
            }
            sqlx::query("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)")
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
        self.pool.close().await;
    }
}

/// Reads a text column, or None when it is NULL. MariaDB reports TEXT in a binary collation
/// as BLOB, which sqlx will not decode as a string; such values are read as UTF-8 bytes.
pub fn text(row: &AnyRow, col: &str) -> Option<String> {
    match row.try_get::<Option<String>, _>(col) {
        Ok(v) => v,
        Err(_) => row
            .try_get::<Option<Vec<u8>>, _>(col)
            .ok()
            .flatten()
            .map(|b| String::from_utf8_lossy(&b).into_owned()),
    }
}

/// Reads an integer column (0 when NULL).
pub fn int(row: &AnyRow, col: &str) -> i64 {
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
        sqlx::query("INSERT INTO t (id) VALUES (?)").bind("a").execute(db.pool()).await.unwrap();
        let err =
            sqlx::query("INSERT INTO t (id) VALUES (?)").bind("a").execute(db.pool()).await.unwrap_err();
        assert!(is_unique_violation(&err));
        std::fs::remove_dir_all(dir).ok();
    }
}
