//! Quota limits set for a project or a quota class (rows only for what differs from the
//! defaults).

use std::collections::BTreeMap;

use stratus_core::db::{int, query, text};
use stratus_core::error::ApiResult;

use super::Store;

/// Whose limits: a project's (`quotas`) or a quota class's (`quota_classes`).
#[derive(Clone, Copy)]
enum LimitsOf {
    Project,
    Class,
}

impl LimitsOf {
    /// The table and the column naming the owner.
    fn table(self) -> (&'static str, &'static str) {
        match self {
            LimitsOf::Project => ("quotas", "project_id"),
            LimitsOf::Class => ("quota_classes", "class_name"),
        }
    }
}

impl Store {
    /// Sets some of a project's limits, all or none.
    pub async fn set_quota_limits(&self, project_id: &str, limits: &BTreeMap<String, i64>) -> ApiResult<()> {
        self.set_limits_of(LimitsOf::Project, project_id, limits).await
    }

    /// The limits set for a quota class.
    pub async fn quota_class_limits(&self, class: &str) -> ApiResult<BTreeMap<String, i64>> {
        self.limits_of(LimitsOf::Class, class).await
    }

    /// Sets some of a quota class's limits, all or none.
    pub async fn set_quota_class_limits(&self, class: &str, limits: &BTreeMap<String, i64>) -> ApiResult<()> {
        self.set_limits_of(LimitsOf::Class, class, limits).await
    }

    /// A project's limits and a quota class's, in one read (every POST /servers asks).
    pub async fn project_and_class_limits(
        &self,
        project_id: &str,
        class: &str,
    ) -> ApiResult<(BTreeMap<String, i64>, BTreeMap<String, i64>)> {
        let rows = query(
            "SELECT 1 AS of_project, resource, hard_limit FROM quotas WHERE project_id = ? \
             UNION ALL SELECT 0, resource, hard_limit FROM quota_classes WHERE class_name = ?",
        )
        .bind(project_id)
        .bind(class)
        .fetch_all(self.db())
        .await?;
        let (mut project, mut class) = (BTreeMap::new(), BTreeMap::new());
        for r in &rows {
            let to = if int(r, "of_project") == 1 { &mut project } else { &mut class };
            to.insert(text(r, "resource").unwrap_or_default(), int(r, "hard_limit"));
        }
        Ok((project, class))
    }

    async fn limits_of(&self, of: LimitsOf, owner: &str) -> ApiResult<BTreeMap<String, i64>> {
        let (table, key) = of.table();
        let rows = query(format!("SELECT resource, hard_limit FROM {table} WHERE {key} = ?"))
            .bind(owner)
            .fetch_all(self.db())
            .await?;
        Ok(rows.iter().map(|r| (text(r, "resource").unwrap_or_default(), int(r, "hard_limit"))).collect())
    }

    async fn set_limits_of(
        &self,
        of: LimitsOf,
        owner: &str,
        limits: &BTreeMap<String, i64>,
    ) -> ApiResult<()> {
        let (table, key) = of.table();
        let delete = format!("DELETE FROM {table} WHERE {key} = ? AND resource = ?");
        let insert = format!("INSERT INTO {table} ({key}, resource, hard_limit) VALUES (?, ?, ?)");
        let mut tx = self.db().begin().await?;
        for (resource, limit) in limits {
            query(&delete).bind(owner).bind(resource).execute(&mut *tx).await?;
            query(&insert).bind(owner).bind(resource).bind(limit).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Forgets every limit set for a project: it has the defaults again.
    pub async fn delete_quota_limits(&self, project_id: &str) -> ApiResult<()> {
        query("DELETE FROM quotas WHERE project_id = ?").bind(project_id).execute(self.db()).await?;
        Ok(())
    }
}
