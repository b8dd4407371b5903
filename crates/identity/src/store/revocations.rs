use super::*;

impl Store {
    /// Persists one revocation event (serialized by the caller).
    pub async fn add_revocation(&self, id: &str, revoked_at: &str, event_json: &str) -> StoreResult<()> {
        query("INSERT INTO revocation_events (id, revoked_at, event) VALUES (?, ?, ?)")
            .bind(id)
            .bind(revoked_at)
            .bind(event_json)
            .execute(self.db())
            .await?;
        Ok(())
    }

    /// Events revoked at or after `since` (all when None), oldest first.
    pub async fn list_revocations(&self, since: Option<&str>) -> StoreResult<Vec<String>> {
        let rows = query(
            "SELECT event FROM revocation_events WHERE (? IS NULL OR revoked_at >= ?) ORDER BY revoked_at",
        )
        .bind(since)
        .bind(since)
        .fetch_all(self.db())
        .await?;
        Ok(rows.iter().map(|r| get_str(r, "event")).collect())
    }

    /// Forgets events older than any token that could still be presented.
    pub async fn prune_revocations(&self, before: &str) -> StoreResult<u64> {
        let r = query("DELETE FROM revocation_events WHERE revoked_at < ?")
            .bind(before)
            .execute(self.db())
            .await?;
        Ok(r.rows_affected())
    }
}
