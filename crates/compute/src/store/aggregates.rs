//! Host aggregates: their hosts and metadata (`availability_zone` among it).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use stratus_core::db::{int, is_unique_violation, query, text, time_string, Row};
use stratus_core::error::{ApiError, ApiResult};

use super::{next_id, time, Store};

/// A host aggregate.
#[derive(Debug, Clone, PartialEq)]
pub struct Aggregate {
    pub id: i64,
    pub uuid: String,
    pub name: String,
    pub hosts: Vec<String>,
    pub metadata: BTreeMap<String, String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Aggregate {
    /// The zone this aggregate makes its hosts part of, if any.
    pub fn availability_zone(&self) -> Option<&str> {
        self.metadata.get("availability_zone").map(String::as_str)
    }
}

fn aggregate_row(r: &Row) -> Aggregate {
    Aggregate {
        id: int(r, "id"),
        uuid: text(r, "uuid").unwrap_or_default(),
        name: text(r, "name").unwrap_or_default(),
        hosts: Vec::new(),
        metadata: BTreeMap::new(),
        created_at: time(r, "created_at"),
        updated_at: time(r, "updated_at"),
    }
}

impl Store {
    /// Every aggregate with its hosts and metadata, by id.
    pub async fn aggregates(&self) -> ApiResult<Vec<Aggregate>> {
        let rows = query("SELECT id, uuid, name, created_at, updated_at FROM aggregates ORDER BY id")
            .fetch_all(self.db())
            .await?;
        let mut aggs: Vec<Aggregate> = rows.iter().map(aggregate_row).collect();
        let mut hosts: HashMap<i64, Vec<String>> = HashMap::new();
        for r in
            query("SELECT aggregate_id, host FROM aggregate_hosts ORDER BY host").fetch_all(self.db()).await?
        {
            hosts.entry(int(&r, "aggregate_id")).or_default().push(text(&r, "host").unwrap_or_default());
        }
        let mut metadata: HashMap<i64, BTreeMap<String, String>> = HashMap::new();
        for r in query("SELECT aggregate_id, meta_key, meta_value FROM aggregate_metadata")
            .fetch_all(self.db())
            .await?
        {
            metadata
                .entry(int(&r, "aggregate_id"))
                .or_default()
                .insert(text(&r, "meta_key").unwrap_or_default(), text(&r, "meta_value").unwrap_or_default());
        }
        for a in &mut aggs {
            a.hosts = hosts.remove(&a.id).unwrap_or_default();
            a.metadata = metadata.remove(&a.id).unwrap_or_default();
        }
        Ok(aggs)
    }

    pub async fn aggregate(&self, id: i64) -> ApiResult<Option<Aggregate>> {
        let row = query("SELECT id, uuid, name, created_at, updated_at FROM aggregates WHERE id = ?")
            .bind(id)
            .fetch_optional(self.db())
            .await?;
        let Some(row) = row else { return Ok(None) };
        let mut a = aggregate_row(&row);
        a.hosts = query("SELECT host FROM aggregate_hosts WHERE aggregate_id = ? ORDER BY host")
            .bind(id)
            .fetch_all(self.db())
            .await?
            .iter()
            .filter_map(|r| text(r, "host"))
            .collect();
        a.metadata = query("SELECT meta_key, meta_value FROM aggregate_metadata WHERE aggregate_id = ?")
            .bind(id)
            .fetch_all(self.db())
            .await?
            .iter()
            .map(|r| (text(r, "meta_key").unwrap_or_default(), text(r, "meta_value").unwrap_or_default()))
            .collect();
        Ok(Some(a))
    }

    /// Whether another aggregate than `except` has that name.
    pub async fn aggregate_name_taken(&self, name: &str, except: Option<i64>) -> ApiResult<bool> {
        let row = query("SELECT id FROM aggregates WHERE name = ? AND id <> ?")
            .bind(name)
            .bind(except.unwrap_or(-1))
            .fetch_optional(self.db())
            .await?;
        Ok(row.is_some())
    }

    /// Creates an aggregate with its metadata; the id is assigned here.
    pub async fn create_aggregate(
        &self,
        name: &str,
        metadata: &BTreeMap<String, String>,
    ) -> ApiResult<Aggregate> {
        let now = Utc::now();
        let uuid = uuid::Uuid::new_v4().to_string();
        let mut last_err = None;
        for _ in 0..5 {
            let mut tx = self.db().begin().await?;
            let id = next_id(&mut tx, "aggregates").await?;
            let r = query(
                "INSERT INTO aggregates (id, uuid, name, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
            )
            .bind(id)
            .bind(&uuid)
            .bind(name)
            .bind(time_string(now))
            .bind(time_string(now))
            .execute(&mut *tx)
            .await;
            match r {
                Ok(_) => {}
                // Another aggregate took the id first: try the next one.
                Err(e) if is_unique_violation(&e) => {
                    last_err = Some(e);
                    continue;
                }
                Err(e) => return Err(e.into()),
            }
            for (k, v) in metadata {
                query("INSERT INTO aggregate_metadata (aggregate_id, meta_key, meta_value) VALUES (?, ?, ?)")
                    .bind(id)
                    .bind(k)
                    .bind(v)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            return Ok(Aggregate {
                id,
                uuid,
                name: name.to_string(),
                hosts: vec![],
                metadata: metadata.clone(),
                created_at: now,
                updated_at: now,
            });
        }
        Err(last_err.map(Into::into).unwrap_or_else(|| ApiError::internal("no free aggregate id")))
    }

    pub async fn rename_aggregate(&self, id: i64, name: &str) -> ApiResult<()> {
        query("UPDATE aggregates SET name = ?, updated_at = ? WHERE id = ?")
            .bind(name)
            .bind(time_string(Utc::now()))
            .bind(id)
            .execute(self.db())
            .await?;
        Ok(())
    }

    /// Sets (Some) or removes (None) metadata keys of an aggregate, all or none.
    pub async fn update_aggregate_metadata(
        &self,
        id: i64,
        changes: &BTreeMap<String, Option<String>>,
    ) -> ApiResult<()> {
        let mut tx = self.db().begin().await?;
        for (k, v) in changes {
            query("DELETE FROM aggregate_metadata WHERE aggregate_id = ? AND meta_key = ?")
                .bind(id)
                .bind(k)
                .execute(&mut *tx)
                .await?;
            if let Some(v) = v {
                query("INSERT INTO aggregate_metadata (aggregate_id, meta_key, meta_value) VALUES (?, ?, ?)")
                    .bind(id)
                    .bind(k)
                    .bind(v)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        query("UPDATE aggregates SET updated_at = ? WHERE id = ?")
            .bind(time_string(Utc::now()))
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Adds a host to an aggregate; false if it was already there.
    pub async fn add_aggregate_host(&self, id: i64, host: &str) -> ApiResult<bool> {
        let r = query("INSERT INTO aggregate_hosts (aggregate_id, host) VALUES (?, ?)")
            .bind(id)
            .bind(host)
            .execute(self.db())
            .await;
        match r {
            Ok(_) => Ok(true),
            Err(e) if is_unique_violation(&e) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes a host from an aggregate; false if it was not there.
    pub async fn remove_aggregate_host(&self, id: i64, host: &str) -> ApiResult<bool> {
        let r = query("DELETE FROM aggregate_hosts WHERE aggregate_id = ? AND host = ?")
            .bind(id)
            .bind(host)
            .execute(self.db())
            .await?;
        Ok(r.rows_affected() > 0)
    }

    /// Deletes an aggregate and its metadata (the caller checks it has no hosts).
    pub async fn delete_aggregate(&self, id: i64) -> ApiResult<()> {
        let mut tx = self.db().begin().await?;
        query("DELETE FROM aggregate_metadata WHERE aggregate_id = ?").bind(id).execute(&mut *tx).await?;
        query("DELETE FROM aggregate_hosts WHERE aggregate_id = ?").bind(id).execute(&mut *tx).await?;
        query("DELETE FROM aggregates WHERE id = ?").bind(id).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The uuids of the aggregates a host is in (what placement mirrors).
    pub async fn host_aggregate_uuids(&self, host: &str) -> ApiResult<Vec<String>> {
        let rows = query(
            "SELECT a.uuid AS uuid FROM aggregates a JOIN aggregate_hosts h ON h.aggregate_id = a.id \
             WHERE h.host = ? ORDER BY a.uuid",
        )
        .bind(host)
        .fetch_all(self.db())
        .await?;
        Ok(rows.iter().filter_map(|r| text(r, "uuid")).collect())
    }
}
