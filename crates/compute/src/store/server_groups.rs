//! Server groups and their members.

use std::collections::HashMap;

use stratus_core::db::{int, is_unique_violation, query, text, time_string, Row};
use stratus_core::error::{ApiError, ApiResult};

use super::{time, Store};
use crate::model::{ServerGroup, ServerGroupPolicy};

const COLUMNS: &str = "uuid, name, project_id, user_id, policy, rules, created_at";

fn group_row(r: &Row) -> ServerGroup {
    let rules: serde_json::Value =
        text(r, "rules").and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default();
    ServerGroup {
        uuid: text(r, "uuid").unwrap_or_default(),
        name: text(r, "name").unwrap_or_default(),
        project_id: text(r, "project_id").unwrap_or_default(),
        user_id: text(r, "user_id").unwrap_or_default(),
        policy: text(r, "policy")
            .as_deref()
            .and_then(ServerGroupPolicy::parse)
            .unwrap_or(ServerGroupPolicy::AntiAffinity),
        max_server_per_host: rules["max_server_per_host"].as_u64().map(|n| n as u32),
        members: Vec::new(),
        created_at: time(r, "created_at"),
    }
}

impl Store {
    /// A server group with its members.
    pub async fn server_group(&self, uuid: &str) -> ApiResult<Option<ServerGroup>> {
        let sql = format!("SELECT {COLUMNS} FROM server_groups WHERE uuid = ?");
        let Some(row) = query(&sql).bind(uuid).fetch_optional(self.db()).await? else {
            return Ok(None);
        };
        let mut groups = vec![group_row(&row)];
        self.fill_members(&mut groups).await?;
        Ok(groups.pop())
    }

    /// The groups of a project (all groups for None), oldest first.
    pub async fn server_groups(&self, project_id: Option<&str>) -> ApiResult<Vec<ServerGroup>> {
        let rows = match project_id {
            Some(p) => {
                let sql = format!(
                    "SELECT {COLUMNS} FROM server_groups WHERE project_id = ? ORDER BY created_at, uuid"
                );
                query(&sql).bind(p).fetch_all(self.db()).await?
            }
            None => {
                let sql = format!("SELECT {COLUMNS} FROM server_groups ORDER BY created_at, uuid");
                query(&sql).fetch_all(self.db()).await?
            }
        };
        let mut groups: Vec<ServerGroup> = rows.iter().map(group_row).collect();
        self.fill_members(&mut groups).await?;
        Ok(groups)
    }

    /// Members whose servers are not deleted (a server still being created counts).
    async fn fill_members(&self, groups: &mut [ServerGroup]) -> ApiResult<()> {
        if groups.is_empty() {
            return Ok(());
        }
        let marks = vec!["?"; groups.len()].join(", ");
        let sql = format!(
            "SELECT m.group_uuid AS group_uuid, m.instance_uuid AS instance_uuid FROM server_group_members m \
             LEFT JOIN instances i ON i.uuid = m.instance_uuid \
             WHERE m.group_uuid IN ({marks}) AND (i.uuid IS NULL OR i.deleted = 0) ORDER BY m.instance_uuid"
        );
        let mut q = query(&sql);
        for g in groups.iter() {
            q = q.bind(&g.uuid);
        }
        let mut by_group: HashMap<String, Vec<String>> = HashMap::new();
        for r in q.fetch_all(self.db()).await? {
            by_group
                .entry(text(&r, "group_uuid").unwrap_or_default())
                .or_default()
                .push(text(&r, "instance_uuid").unwrap_or_default());
        }
        for g in groups {
            g.members = by_group.remove(&g.uuid).unwrap_or_default();
        }
        Ok(())
    }

    pub async fn create_server_group(&self, g: &ServerGroup) -> ApiResult<()> {
        let rules = match g.max_server_per_host {
            Some(n) => serde_json::json!({ "max_server_per_host": n }),
            None => serde_json::json!({}),
        };
        query(
            "INSERT INTO server_groups (uuid, name, project_id, user_id, policy, rules, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&g.uuid)
        .bind(&g.name)
        .bind(&g.project_id)
        .bind(&g.user_id)
        .bind(g.policy.as_str())
        .bind(rules.to_string())
        .bind(time_string(g.created_at))
        .execute(self.db())
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                ApiError::conflict(format!("Instance group {} already exists.", g.uuid))
            } else {
                e.into()
            }
        })?;
        Ok(())
    }

    /// Deletes a group and its member list; false if there was none.
    pub async fn delete_server_group(&self, uuid: &str) -> ApiResult<bool> {
        let mut tx = self.db().begin().await?;
        query("DELETE FROM server_group_members WHERE group_uuid = ?").bind(uuid).execute(&mut *tx).await?;
        let r = query("DELETE FROM server_groups WHERE uuid = ?").bind(uuid).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(r.rows_affected() > 0)
    }

    /// Makes a server a member of a group (again is fine).
    pub async fn add_group_member(&self, group_uuid: &str, instance_uuid: &str) -> ApiResult<()> {
        let r = query("INSERT INTO server_group_members (group_uuid, instance_uuid) VALUES (?, ?)")
            .bind(group_uuid)
            .bind(instance_uuid)
            .execute(self.db())
            .await;
        match r {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn count_server_groups(&self, project_id: &str) -> ApiResult<i64> {
        let row = query("SELECT COUNT(*) AS n FROM server_groups WHERE project_id = ?")
            .bind(project_id)
            .fetch_one(self.db())
            .await?;
        Ok(int(&row, "n"))
    }

    /// How many live servers of a user are in a group (the `server_group_members` quota).
    pub async fn count_group_members_of_user(&self, group_uuid: &str, user_id: &str) -> ApiResult<i64> {
        let row = query(
            "SELECT COUNT(*) AS n FROM server_group_members m JOIN instances i ON i.uuid = m.instance_uuid \
             WHERE m.group_uuid = ? AND i.user_id = ? AND i.deleted = 0",
        )
        .bind(group_uuid)
        .bind(user_id)
        .fetch_one(self.db())
        .await?;
        Ok(int(&row, "n"))
    }
}
