//! Key pairs, which belong to a user (not a project).

use stratus_core::db::{int, is_unique_violation, query, text, time_string, Row};
use stratus_core::error::{ApiError, ApiResult};

use super::{time, Store};
use crate::model::KeyPair;

const COLUMNS: &str = "user_id, name, fingerprint, public_key, key_type, created_at";

fn keypair_row(r: &Row) -> KeyPair {
    KeyPair {
        user_id: text(r, "user_id").unwrap_or_default(),
        name: text(r, "name").unwrap_or_default(),
        fingerprint: text(r, "fingerprint").unwrap_or_default(),
        public_key: text(r, "public_key").unwrap_or_default(),
        key_type: text(r, "key_type").unwrap_or_else(|| "ssh".into()),
        created_at: time(r, "created_at"),
    }
}

impl Store {
    /// A user's key pair by name (what server create looks up for `key_name`).
    pub async fn keypair(&self, user_id: &str, name: &str) -> ApiResult<Option<KeyPair>> {
        let sql = format!("SELECT {COLUMNS} FROM key_pairs WHERE user_id = ? AND name = ?");
        let row = query(&sql).bind(user_id).bind(name).fetch_optional(self.db()).await?;
        Ok(row.as_ref().map(keypair_row))
    }

    /// A user's key pairs by name, at most `limit` after the one named `marker` (400 if
    /// there is no such key pair, as nova's `MarkerNotFound`).
    pub async fn keypairs(
        &self,
        user_id: &str,
        limit: Option<usize>,
        marker: Option<&str>,
    ) -> ApiResult<Vec<KeyPair>> {
        if let Some(m) = marker {
            if self.keypair(user_id, m).await?.is_none() {
                return Err(ApiError::bad_request(format!("Marker {m} could not be found.")));
            }
        }
        let limit = limit.map(|l| format!(" LIMIT {l}")).unwrap_or_default();
        let sql =
            format!("SELECT {COLUMNS} FROM key_pairs WHERE user_id = ? AND name > ? ORDER BY name{limit}");
        let rows = query(&sql).bind(user_id).bind(marker.unwrap_or("")).fetch_all(self.db()).await?;
        Ok(rows.iter().map(keypair_row).collect())
    }

    pub async fn count_keypairs(&self, user_id: &str) -> ApiResult<i64> {
        let row = query("SELECT COUNT(*) AS n FROM key_pairs WHERE user_id = ?")
            .bind(user_id)
            .fetch_one(self.db())
            .await?;
        Ok(int(&row, "n"))
    }

    /// Stores a key pair; 409 if the user has one of that name.
    pub async fn create_keypair(&self, k: &KeyPair) -> ApiResult<()> {
        query(
            "INSERT INTO key_pairs (user_id, name, fingerprint, public_key, key_type, created_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&k.user_id)
        .bind(&k.name)
        .bind(&k.fingerprint)
        .bind(&k.public_key)
        .bind(&k.key_type)
        .bind(time_string(k.created_at))
        .execute(self.db())
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                ApiError::conflict(format!("Key pair '{}' already exists.", k.name))
            } else {
                e.into()
            }
        })?;
        Ok(())
    }

    /// Deletes a key pair; false if there was none.
    pub async fn delete_keypair(&self, user_id: &str, name: &str) -> ApiResult<bool> {
        let r = query("DELETE FROM key_pairs WHERE user_id = ? AND name = ?")
            .bind(user_id)
            .bind(name)
            .execute(self.db())
            .await?;
        Ok(r.rows_affected() > 0)
    }
}
