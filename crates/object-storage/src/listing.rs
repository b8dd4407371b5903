//! Account and container listings in SQLite, as swift's account and container servers keep
//! them: accounts with their metadata, containers with metadata and object count / bytes, one
//! row per object (name, size, ETag, content type, timestamp). The object data itself is on
//! the devices (`disk`); a row is written after its data is durable and removed after the
//! tombstone is, and `repair` reconciles the two after a crash.

use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;

use anyhow::Context;
use stratus_core::db::sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use stratus_core::db::sqlx::{self, Row, SqlitePool};

use crate::timestamp::Timestamp;

pub type Metadata = BTreeMap<String, String>;

#[derive(Debug, Clone, PartialEq)]
pub struct AccountInfo {
    pub created: Timestamp,
    pub metadata: Metadata,
    pub container_count: u64,
    pub object_count: u64,
    pub bytes_used: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ContainerInfo {
    pub name: String,
    pub created: Timestamp,
    pub metadata: Metadata,
    pub object_count: u64,
    pub bytes_used: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ObjectRow {
    pub name: String,
    pub timestamp: Timestamp,
    pub size: u64,
    pub etag: String,
    pub content_type: String,
}

/// A listing entry: an object or container, or a pseudo-directory (`subdir`).
#[derive(Debug, Clone, PartialEq)]
pub enum Entry<T> {
    Item(T),
    Subdir(String),
}

/// What a listing asks for (swift's query parameters).
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub prefix: String,
    pub delimiter: Option<char>,
    pub marker: String,
    pub end_marker: String,
    pub limit: usize,
    pub reverse: bool,
}

/// Two pools on one database: readers, and one writer connection so that writers queue in
/// this process instead of failing to upgrade their locks (SQLite allows one writer).
#[derive(Clone)]
pub struct Listings {
    pool: SqlitePool,
    writer: SqlitePool,
}

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS accounts (
        account TEXT PRIMARY KEY,
        created TEXT NOT NULL,
        metadata TEXT NOT NULL DEFAULT '{}'
    ) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS containers (
        account TEXT NOT NULL,
        name TEXT NOT NULL,
        created TEXT NOT NULL,
        metadata TEXT NOT NULL DEFAULT '{}',
        object_count INTEGER NOT NULL DEFAULT 0,
        bytes_used INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (account, name)
    ) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS objects (
        account TEXT NOT NULL,
        container TEXT NOT NULL,
        name TEXT NOT NULL,
        timestamp TEXT NOT NULL,
        size INTEGER NOT NULL,
        etag TEXT NOT NULL,
        content_type TEXT NOT NULL,
        PRIMARY KEY (account, container, name)
    ) WITHOUT ROWID",
    // Objects with X-Delete-At, for the expirer.
    "CREATE TABLE IF NOT EXISTS expiring (
        delete_at INTEGER NOT NULL,
        account TEXT NOT NULL,
        container TEXT NOT NULL,
        name TEXT NOT NULL,
        PRIMARY KEY (delete_at, account, container, name)
    ) WITHOUT ROWID",
];

fn meta_json(m: &Metadata) -> String {
    serde_json::to_string(m).expect("metadata json")
}

fn parse_meta(s: &str) -> Metadata {
    serde_json::from_str(s).unwrap_or_default()
}

fn ts(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap_or_default()
}

/// The smallest string greater than every string that starts with `prefix`… as far as names
/// go (U+10FFFF never appears in a real name).
fn prefix_end(prefix: &str) -> String {
    format!("{prefix}\u{10FFFF}")
}

impl Listings {
    pub async fn open(path: &Path) -> anyhow::Result<Listings> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).ok();
        }
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(std::time::Duration::from_secs(10));
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await
            .with_context(|| format!("opening the listing database {}", path.display()))?;
        for stmt in SCHEMA {
            sqlx::query(stmt).execute(&writer).await?;
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .test_before_acquire(false)
            .connect_with(options)
            .await
            .with_context(|| format!("opening the listing database {}", path.display()))?;
        Ok(Listings { pool, writer })
    }

    pub async fn close(&self) {
        self.pool.close().await;
        self.writer.close().await;
    }

    // ---- accounts ----

    /// Creates the account row if missing (swift's account autocreate).
    pub async fn ensure_account(&self, account: &str) -> sqlx::Result<()> {
        sqlx::query("INSERT OR IGNORE INTO accounts (account, created) VALUES (?, ?)")
            .bind(account)
            .bind(Timestamp::now().normal())
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// The account with its totals; an account never written reads as empty (autocreate).
    pub async fn account(&self, account: &str) -> sqlx::Result<AccountInfo> {
        let row = sqlx::query("SELECT created, metadata FROM accounts WHERE account = ?")
            .bind(account)
            .fetch_optional(&self.pool)
            .await?;
        let totals = sqlx::query(
            "SELECT COUNT(*), COALESCE(SUM(object_count), 0), COALESCE(SUM(bytes_used), 0) \
             FROM containers WHERE account = ?",
        )
        .bind(account)
        .fetch_one(&self.pool)
        .await?;
        let (created, metadata) = match row {
            Some(r) => (ts(r.get(0)), parse_meta(r.get(1))),
            None => (Timestamp::now(), Metadata::new()),
        };
        Ok(AccountInfo {
            created,
            metadata,
            container_count: totals.get::<i64, _>(0) as u64,
            object_count: totals.get::<i64, _>(1) as u64,
            bytes_used: totals.get::<i64, _>(2) as u64,
        })
    }

    pub async fn account_metadata(&self, account: &str) -> sqlx::Result<Metadata> {
        let meta: Option<String> = sqlx::query_scalar("SELECT metadata FROM accounts WHERE account = ?")
            .bind(account)
            .fetch_optional(&self.pool)
            .await?;
        Ok(meta.as_deref().map(parse_meta).unwrap_or_default())
    }

    pub async fn set_account_metadata(&self, account: &str, metadata: &Metadata) -> sqlx::Result<()> {
        self.ensure_account(account).await?;
        sqlx::query("UPDATE accounts SET metadata = ? WHERE account = ?")
            .bind(meta_json(metadata))
            .bind(account)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    pub async fn list_containers(
        &self,
        account: &str,
        q: &ListQuery,
    ) -> sqlx::Result<Vec<Entry<ContainerInfo>>> {
        let pool = &self.pool;
        list(
            q,
            |marker, end, limit| async move {
                let order = if q.reverse { "DESC" } else { "ASC" };
                let (lo, hi) = bounds(q, &marker, &end);
                let sql = format!(
                    "SELECT name, created, metadata, object_count, bytes_used FROM containers \
                 WHERE account = ? AND name {} ? AND name {} ? ORDER BY name {order} LIMIT ?",
                    lo.0, hi.0
                );
                let rows = sqlx::query(&sql)
                    .bind(account)
                    .bind(lo.1)
                    .bind(hi.1)
                    .bind(limit as i64)
                    .fetch_all(pool)
                    .await?;
                Ok(rows
                    .iter()
                    .map(|r| ContainerInfo {
                        name: r.get(0),
                        created: ts(r.get(1)),
                        metadata: parse_meta(r.get(2)),
                        object_count: r.get::<i64, _>(3) as u64,
                        bytes_used: r.get::<i64, _>(4) as u64,
                    })
                    .collect())
            },
            |c: &ContainerInfo| c.name.clone(),
        )
        .await
    }

    // ---- containers ----

    /// Creates a container; false when it already existed (its metadata is then updated).
    pub async fn create_container(
        &self,
        account: &str,
        name: &str,
        metadata: &Metadata,
    ) -> sqlx::Result<bool> {
        self.ensure_account(account).await?;
        let done = sqlx::query(
            "INSERT OR IGNORE INTO containers (account, name, created, metadata) VALUES (?, ?, ?, ?)",
        )
        .bind(account)
        .bind(name)
        .bind(Timestamp::now().normal())
        .bind(meta_json(metadata))
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn container(&self, account: &str, name: &str) -> sqlx::Result<Option<ContainerInfo>> {
        let row = sqlx::query(
            "SELECT name, created, metadata, object_count, bytes_used FROM containers WHERE account = ? AND name = ?",
        )
        .bind(account)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| ContainerInfo {
            name: r.get(0),
            created: ts(r.get(1)),
            metadata: parse_meta(r.get(2)),
            object_count: r.get::<i64, _>(3) as u64,
            bytes_used: r.get::<i64, _>(4) as u64,
        }))
    }

    pub async fn set_container_metadata(
        &self,
        account: &str,
        name: &str,
        metadata: &Metadata,
    ) -> sqlx::Result<bool> {
        let done = sqlx::query("UPDATE containers SET metadata = ? WHERE account = ? AND name = ?")
            .bind(meta_json(metadata))
            .bind(account)
            .bind(name)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Deletes an empty container: `Ok(None)` when it does not exist, `Ok(Some(false))` when
    /// it still holds objects.
    pub async fn delete_container(&self, account: &str, name: &str) -> sqlx::Result<Option<bool>> {
        let mut tx = self.writer.begin().await?;
        let count: Option<i64> =
            sqlx::query_scalar("SELECT object_count FROM containers WHERE account = ? AND name = ?")
                .bind(account)
                .bind(name)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(count) = count else { return Ok(None) };
        let any: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM objects WHERE account = ? AND container = ? LIMIT 1")
                .bind(account)
                .bind(name)
                .fetch_optional(&mut *tx)
                .await?;
        if count > 0 || any.is_some() {
            return Ok(Some(false));
        }
        sqlx::query("DELETE FROM containers WHERE account = ? AND name = ?")
            .bind(account)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(true))
    }

    pub async fn list_objects(
        &self,
        account: &str,
        container: &str,
        q: &ListQuery,
    ) -> sqlx::Result<Vec<Entry<ObjectRow>>> {
        let pool = &self.pool;
        list(q, |marker, end, limit| async move {
            let order = if q.reverse { "DESC" } else { "ASC" };
            let (lo, hi) = bounds(q, &marker, &end);
            let sql = format!(
                "SELECT name, timestamp, size, etag, content_type FROM objects \
                 WHERE account = ? AND container = ? AND name {} ? AND name {} ? ORDER BY name {order} LIMIT ?",
                lo.0, hi.0
            );
            let rows = sqlx::query(&sql)
                .bind(account)
                .bind(container)
                .bind(lo.1)
                .bind(hi.1)
                .bind(limit as i64)
                .fetch_all(pool)
                .await?;
            Ok(rows.iter().map(object_row).collect())
        }, |o: &ObjectRow| o.name.clone())
        .await
    }

    // ---- objects ----

    /// Records an object version, replacing an older one; a row newer than `row` wins.
    pub async fn put_object(
        &self,
        account: &str,
        container: &str,
        row: &ObjectRow,
        delete_at: Option<u64>,
    ) -> sqlx::Result<()> {
        let mut tx = self.writer.begin().await?;
        let old = sqlx::query(
            "SELECT timestamp, size FROM objects WHERE account = ? AND container = ? AND name = ?",
        )
        .bind(account)
        .bind(container)
        .bind(&row.name)
        .fetch_optional(&mut *tx)
        .await?;
        let (count_delta, bytes_delta) = match &old {
            Some(r) if ts(r.get(0)) > row.timestamp => return Ok(()),
            Some(r) => (0i64, row.size as i64 - r.get::<i64, _>(1)),
            None => (1, row.size as i64),
        };
        sqlx::query(
            "INSERT OR REPLACE INTO objects (account, container, name, timestamp, size, etag, content_type) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(account)
        .bind(container)
        .bind(&row.name)
        .bind(row.timestamp.normal())
        .bind(row.size as i64)
        .bind(&row.etag)
        .bind(&row.content_type)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE containers SET object_count = object_count + ?, bytes_used = bytes_used + ? \
             WHERE account = ? AND name = ?",
        )
        .bind(count_delta)
        .bind(bytes_delta)
        .bind(account)
        .bind(container)
        .execute(&mut *tx)
        .await?;
        if let Some(at) = delete_at {
            sqlx::query(
                "INSERT OR IGNORE INTO expiring (delete_at, account, container, name) VALUES (?, ?, ?, ?)",
            )
            .bind(at as i64)
            .bind(account)
            .bind(container)
            .bind(&row.name)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await
    }

    /// Removes an object's row unless a newer version is listed.
    pub async fn delete_object(
        &self,
        account: &str,
        container: &str,
        name: &str,
        at: Timestamp,
    ) -> sqlx::Result<()> {
        let mut tx = self.writer.begin().await?;
        let old = sqlx::query(
            "SELECT timestamp, size FROM objects WHERE account = ? AND container = ? AND name = ?",
        )
        .bind(account)
        .bind(container)
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(old) = old else { return Ok(()) };
        if ts(old.get(0)) > at {
            return Ok(());
        }
        sqlx::query("DELETE FROM objects WHERE account = ? AND container = ? AND name = ?")
            .bind(account)
            .bind(container)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE containers SET object_count = object_count - 1, bytes_used = bytes_used - ? \
             WHERE account = ? AND name = ?",
        )
        .bind(old.get::<i64, _>(1))
        .bind(account)
        .bind(container)
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    }

    pub async fn object(
        &self,
        account: &str,
        container: &str,
        name: &str,
    ) -> sqlx::Result<Option<ObjectRow>> {
        let row = sqlx::query(
            "SELECT name, timestamp, size, etag, content_type FROM objects WHERE account = ? AND container = ? AND name = ?",
        )
        .bind(account)
        .bind(container)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(object_row))
    }

    /// Every listed object (for repair), as `(account, container, row)`.
    pub async fn all_objects(&self) -> sqlx::Result<Vec<(String, String, ObjectRow)>> {
        let rows =
            sqlx::query("SELECT account, container, name, timestamp, size, etag, content_type FROM objects")
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .iter()
            .map(|r| {
                (
                    r.get(0),
                    r.get(1),
                    ObjectRow {
                        name: r.get(2),
                        timestamp: ts(r.get(3)),
                        size: r.get::<i64, _>(4) as u64,
                        etag: r.get(5),
                        content_type: r.get(6),
                    },
                )
            })
            .collect())
    }

    /// Makes every container's count and bytes equal to its rows (after repair).
    pub async fn recount(&self) -> sqlx::Result<()> {
        sqlx::query(
            "UPDATE containers SET \
               object_count = (SELECT COUNT(*) FROM objects o WHERE o.account = containers.account AND o.container = containers.name), \
               bytes_used = (SELECT COALESCE(SUM(size), 0) FROM objects o WHERE o.account = containers.account AND o.container = containers.name)",
        )
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Objects whose `X-Delete-At` has passed: `(delete_at, account, container, name)`.
    pub async fn due(&self, now: u64, limit: usize) -> sqlx::Result<Vec<(u64, String, String, String)>> {
        let rows = sqlx::query(
            "SELECT delete_at, account, container, name FROM expiring WHERE delete_at <= ? ORDER BY delete_at LIMIT ?",
        )
        .bind(now as i64)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(|r| (r.get::<i64, _>(0) as u64, r.get(1), r.get(2), r.get(3))).collect())
    }

    pub async fn forget_expiring(
        &self,
        delete_at: u64,
        account: &str,
        container: &str,
        name: &str,
    ) -> sqlx::Result<()> {
        sqlx::query(
            "DELETE FROM expiring WHERE delete_at = ? AND account = ? AND container = ? AND name = ?",
        )
        .bind(delete_at as i64)
        .bind(account)
        .bind(container)
        .bind(name)
        .execute(&self.writer)
        .await?;
        Ok(())
    }
}

fn object_row(r: &sqlx::sqlite::SqliteRow) -> ObjectRow {
    ObjectRow {
        name: r.get(0),
        timestamp: ts(r.get(1)),
        size: r.get::<i64, _>(2) as u64,
        etag: r.get(3),
        content_type: r.get(4),
    }
}

/// The name bounds of one page: `(operator, value)` for the low and the high end.
fn bounds(q: &ListQuery, marker: &str, end_marker: &str) -> ((&'static str, String), (&'static str, String)) {
    let mut lo = (">=", q.prefix.clone());
    let mut hi = ("<", if q.prefix.is_empty() { "\u{10FFFF}".to_string() } else { prefix_end(&q.prefix) });
    if q.reverse {
        // Descending: the marker is the upper bound, the end marker the lower one.
        if !marker.is_empty() && marker < hi.1.as_str() {
            hi = ("<", marker.to_string());
        }
        if !end_marker.is_empty() && end_marker >= lo.1.as_str() {
            lo = (">", end_marker.to_string());
        }
    } else {
        if !marker.is_empty() && marker >= lo.1.as_str() {
            lo = (">", marker.to_string());
        }
        if !end_marker.is_empty() && end_marker < hi.1.as_str() {
            hi = ("<", end_marker.to_string());
        }
    }
    (lo, hi)
}

/// Swift's listing with a delimiter: names with the delimiter after the prefix collapse into
/// one `subdir` entry, and the scan jumps past them instead of reading them all.
async fn list<T, F, Fut>(
    q: &ListQuery,
    mut fetch: F,
    name_of: impl Fn(&T) -> String,
) -> sqlx::Result<Vec<Entry<T>>>
where
    F: FnMut(String, String, usize) -> Fut,
    Fut: std::future::Future<Output = sqlx::Result<Vec<T>>>,
{
    let mut out: Vec<Entry<T>> = Vec::new();
    let mut marker = q.marker.clone();
    let Some(delim) = q.delimiter else {
        return Ok(fetch(marker, q.end_marker.clone(), q.limit)
            .await?
            .into_iter()
            .map(Entry::Item)
            .collect());
    };
    // Pages grow while they hold plain names and shrink back after a jump, so that a listing
    // of many pseudo-directories reads a few rows per directory, not a full page each time.
    const FIRST_PAGE: usize = 64;
    let mut batch = FIRST_PAGE;
    'pages: while out.len() < q.limit {
        let want = (q.limit - out.len()).min(batch);
        let rows = fetch(marker.clone(), q.end_marker.clone(), want).await?;
        if rows.is_empty() {
            break;
        }
        let full_page = rows.len() == want;
        let mut skipping: Option<String> = None;
        for row in rows {
            let name = name_of(&row);
            // Rows under the pseudo-directory just listed come together: pass them by.
            if skipping.as_deref().is_some_and(|dir| name.starts_with(dir)) {
                continue;
            }
            skipping = None;
            if let Some(pos) = name[q.prefix.len()..].find(delim) {
                let dir = name[..q.prefix.len() + pos + delim.len_utf8()].to_string();
                if dir != q.marker {
                    out.push(Entry::Subdir(dir.clone()));
                }
                // The next page starts past every name under this pseudo-directory.
                marker = if q.reverse {
                    dir.clone()
                } else {
                    let mut next = dir[..dir.len() - delim.len_utf8()].to_string();
                    next.push(char::from_u32(delim as u32 + 1).unwrap_or(char::MAX));
                    next
                };
                skipping = Some(dir);
                if out.len() >= q.limit {
                    break 'pages;
                }
                continue;
            }
            marker = name;
            out.push(Entry::Item(row));
            if out.len() >= q.limit {
                break 'pages;
            }
        }
        if !full_page {
            break;
        }
        batch = if skipping.is_some() { FIRST_PAGE } else { (batch * 4).min(q.limit.max(FIRST_PAGE)) };
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn listings(name: &str) -> Listings {
        let path = std::env::temp_dir().join(format!("stratus-listing-{name}-{}.db", std::process::id()));
        for ext in ["", "-wal", "-shm"] {
            std::fs::remove_file(format!("{}{ext}", path.display())).ok();
        }
        Listings::open(&path).await.unwrap()
    }

    fn row(name: &str, size: u64) -> ObjectRow {
        ObjectRow {
            name: name.into(),
            timestamp: Timestamp::now(),
            size,
            etag: "e".into(),
            content_type: "t".into(),
        }
    }

    fn names(entries: &[Entry<ObjectRow>]) -> Vec<String> {
        entries
            .iter()
            .map(|e| match e {
                Entry::Item(o) => o.name.clone(),
                Entry::Subdir(s) => format!("subdir:{s}"),
            })
            .collect()
    }

    #[tokio::test]
    async fn counts_and_delimiters() {
        let l = listings("delim").await;
        assert!(l.create_container("AUTH_a", "c", &Metadata::new()).await.unwrap());
        assert!(!l.create_container("AUTH_a", "c", &Metadata::new()).await.unwrap());
        for n in ["a/1", "a/2", "a/b/3", "b", "c/1", "d"] {
            l.put_object("AUTH_a", "c", &row(n, 10), None).await.unwrap();
        }
        l.put_object("AUTH_a", "c", &row("d", 15), None).await.unwrap();
        let c = l.container("AUTH_a", "c").await.unwrap().unwrap();
        assert_eq!((c.object_count, c.bytes_used), (6, 65));
        let q = |prefix: &str, delim: Option<char>, limit: usize, reverse: bool| ListQuery {
            prefix: prefix.into(),
            delimiter: delim,
            limit,
            reverse,
            ..Default::default()
        };
        let all = l.list_objects("AUTH_a", "c", &q("", Some('/'), 100, false)).await.unwrap();
        assert_eq!(names(&all), ["subdir:a/", "b", "subdir:c/", "d"]);
        let a = l.list_objects("AUTH_a", "c", &q("a/", Some('/'), 100, false)).await.unwrap();
        assert_eq!(names(&a), ["a/1", "a/2", "subdir:a/b/"]);
        let rev = l.list_objects("AUTH_a", "c", &q("", Some('/'), 100, true)).await.unwrap();
        assert_eq!(names(&rev), ["d", "subdir:c/", "b", "subdir:a/"]);
        let two = l.list_objects("AUTH_a", "c", &q("", Some('/'), 2, false)).await.unwrap();
        assert_eq!(names(&two), ["subdir:a/", "b"]);
        let page = ListQuery { marker: "b".into(), end_marker: "d".into(), limit: 10, ..Default::default() };
        assert_eq!(names(&l.list_objects("AUTH_a", "c", &page).await.unwrap()), ["c/1"]);

        assert_eq!(l.delete_container("AUTH_a", "c").await.unwrap(), Some(false));
        for n in ["a/1", "a/2", "a/b/3", "b", "c/1", "d"] {
            l.delete_object("AUTH_a", "c", n, Timestamp::now()).await.unwrap();
        }
        let acct = l.account("AUTH_a").await.unwrap();
        assert_eq!((acct.container_count, acct.object_count, acct.bytes_used), (1, 0, 0));
        assert_eq!(l.delete_container("AUTH_a", "c").await.unwrap(), Some(true));
        assert_eq!(l.delete_container("AUTH_a", "c").await.unwrap(), None);
    }

    #[tokio::test]
    async fn many_pseudo_directories_and_names_next_to_them() {
        let l = listings("manydirs").await;
        l.create_container("AUTH_a", "c", &Metadata::new()).await.unwrap();
        let mut expected = vec![];
        for d in 0..150 {
            for o in 0..20 {
                l.put_object("AUTH_a", "c", &row(&format!("d{d:03}/o{o:02}"), 1), None).await.unwrap();
            }
            // An object named like the directory's stem sorts just before it.
            l.put_object("AUTH_a", "c", &row(&format!("d{d:03}"), 1), None).await.unwrap();
            expected.push(format!("d{d:03}"));
            expected.push(format!("subdir:d{d:03}/"));
        }
        let q = |limit: usize, reverse: bool, marker: &str| ListQuery {
            delimiter: Some('/'),
            limit,
            reverse,
            marker: marker.into(),
            ..Default::default()
        };
        assert_eq!(names(&l.list_objects("AUTH_a", "c", &q(10_000, false, "")).await.unwrap()), expected);
        let mut rev = expected.clone();
        rev.reverse();
        assert_eq!(names(&l.list_objects("AUTH_a", "c", &q(10_000, true, "")).await.unwrap()), rev);
        assert_eq!(
            names(&l.list_objects("AUTH_a", "c", &q(3, false, "d010/")).await.unwrap()),
            ["d011", "subdir:d011/", "d012"]
        );
        assert_eq!(
            names(&l.list_objects("AUTH_a", "c", &q(2, true, "d010")).await.unwrap()),
            ["subdir:d009/", "d009"]
        );
    }

    #[tokio::test]
    async fn older_writes_do_not_replace_newer_ones() {
        let l = listings("order").await;
        l.create_container("AUTH_a", "c", &Metadata::new()).await.unwrap();
        let old = row("o", 1);
        let new = row("o", 2);
        l.put_object("AUTH_a", "c", &new, None).await.unwrap();
        l.put_object("AUTH_a", "c", &old, None).await.unwrap();
        assert_eq!(l.object("AUTH_a", "c", "o").await.unwrap().unwrap().size, 2);
        l.delete_object("AUTH_a", "c", "o", old.timestamp).await.unwrap();
        assert!(l.object("AUTH_a", "c", "o").await.unwrap().is_some());
    }
}
