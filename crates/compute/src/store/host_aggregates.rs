//! Aggregate metadata per host, as the scheduler and availability zones need it.

use std::collections::{BTreeMap, HashMap};

use stratus_core::db::{query, text};
use stratus_core::error::ApiResult;

use super::Store;

impl Store {
    /// host → metadata key → the values of that key in the host's aggregates.
    pub async fn host_aggregate_metadata(&self) -> ApiResult<HashMap<String, BTreeMap<String, Vec<String>>>> {
        let rows = query(
            "SELECT h.host AS host, m.meta_key AS meta_key, m.meta_value AS meta_value \
             FROM aggregate_hosts h JOIN aggregate_metadata m ON m.aggregate_id = h.aggregate_id",
        )
        .fetch_all(self.db())
        .await?;
        let mut out: HashMap<String, BTreeMap<String, Vec<String>>> = HashMap::new();
        for r in &rows {
            let host = text(r, "host").unwrap_or_default();
            let key = text(r, "meta_key").unwrap_or_default();
            let value = text(r, "meta_value").unwrap_or_default();
            out.entry(host).or_default().entry(key).or_default().push(value);
        }
        Ok(out)
    }

    /// nova keeps a few facts about an instance outside its API fields (system metadata).
    pub async fn system_metadata(&self, uuid: &str, key: &str) -> ApiResult<Option<String>> {
        let row =
            query("SELECT meta_value FROM instance_system_metadata WHERE instance_uuid = ? AND meta_key = ?")
                .bind(uuid)
                .bind(key)
                .fetch_optional(self.db())
                .await?;
        Ok(row.and_then(|r| text(&r, "meta_value")))
    }

    pub async fn set_system_metadata(&self, uuid: &str, key: &str, value: Option<&str>) -> ApiResult<()> {
        query("DELETE FROM instance_system_metadata WHERE instance_uuid = ? AND meta_key = ?")
            .bind(uuid)
            .bind(key)
            .execute(self.db())
            .await?;
        if let Some(v) = value {
            query(
                "INSERT INTO instance_system_metadata (instance_uuid, meta_key, meta_value) VALUES (?, ?, ?)",
            )
            .bind(uuid)
            .bind(key)
            .bind(v)
            .execute(self.db())
            .await?;
        }
        Ok(())
    }

    pub async fn shelved_image(&self, uuid: &str) -> ApiResult<Option<String>> {
        self.system_metadata(uuid, "shelved_image_id").await
    }

    pub async fn set_shelved_image(&self, uuid: &str, image: Option<&str>) -> ApiResult<()> {
        self.set_system_metadata(uuid, "shelved_image_id", image).await
    }
}
