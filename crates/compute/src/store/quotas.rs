//! Quota limits set for a project (rows only for what differs from the defaults).

use std::collections::BTreeMap;

use stratus_core::db::{int, text};
use stratus_core::error::ApiResult;

use super::Store;

impl Store {
    /// The limits set for a project: resource → hard limit.
    pub async fn quota_limits(&self, project_id: &str) -> ApiResult<BTreeMap<String, i64>> {
        let rows = sqlx::query("SELECT resource, hard_limit FROM quotas WHERE project_id = ?")
            .bind(project_id)
            .fetch_all(self.db().pool())
            .await?;
        Ok(rows.iter().map(|r| (text(r, "resource").unwrap_or_default(), int(r, "hard_limit"))).collect())
    }

    /// Sets some of a project's limits, all or none.
    pub async fn set_quota_limits(&self, project_id: &str, limits: &BTreeMap<String, i64>) -> ApiResult<()> {
        let mut tx = self.db().pool().begin().await?;
        for (resource, limit) in limits {
            sqlx::query("DELETE FROM quotas WHERE project_id = ? AND resource = ?")
                .bind(project_id)
                .bind(resource)
                .execute(&mut *tx)
                .await?;
            sqlx::query("INSERT INTO quotas (project_id, resource, hard_limit) VALUES (?, ?, ?)")
                .bind(project_id)
                .bind(resource)
                .bind(limit)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Forgets every limit set for a project: it has the defaults again.
    /// The limits set for a quota class.
    pub async fn quota_class_limits(&self, class: &str) -> ApiResult<BTreeMap<String, i64>> {
        let rows = sqlx::query("SELECT resource, hard_limit FROM quota_classes WHERE class_name = ?")
            .bind(class)
            .fetch_all(self.db().pool())
            .await?;
        Ok(rows.iter().map(|r| (text(r, "resource").unwrap_or_default(), int(r, "hard_limit"))).collect())
    }

    /// Sets some of a quota class's limits, all or none.
    pub async fn set_quota_class_limits(&self, class: &str, limits: &BTreeMap<String, i64>) -> ApiResult<()> {
        let mut tx = self.db().pool().begin().await?;
        for (resource, limit) in limits {
            sqlx::query("DELETE FROM quota_classes WHERE class_name = ? AND resource = ?")
                .bind(class)
                .bind(resource)
                .execute(&mut *tx)
                .await?;
            sqlx::query("INSERT INTO quota_classes (class_name, resource, hard_limit) VALUES (?, ?, ?)")
                .bind(class)
                .bind(resource)
                .bind(limit)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn delete_quota_limits(&self, project_id: &str) -> ApiResult<()> {
        sqlx::query("DELETE FROM quotas WHERE project_id = ?")
            .bind(project_id)
            .execute(self.db().pool())
            .await?;
        Ok(())
    }
}
