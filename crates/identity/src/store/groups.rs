use super::*;
use crate::model::Group;

fn group_row(row: &Row) -> Group {
    Group {
        id: get_str(row, "id"),
        name: get_str(row, "name"),
        domain_id: get_str(row, "domain_id"),
        description: get_opt(row, "description"),
        extra: parse_extra(row),
    }
}

impl Store {
    pub async fn create_group(&self, g: &Group) -> StoreResult<()> {
        query(
            "INSERT INTO user_groups (id, name, domain_id, description, extra, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&g.id)
        .bind(&g.name)
        .bind(&g.domain_id)
        .bind(&g.description)
        .bind(extra_json(&g.extra))
        .bind(stratus_core::db::now_string())
        .execute(self.db())
        .await
        .map_err(|e| conflict_or(e, "group", || format!("name {} at domain ID {}", g.name, g.domain_id)))?;
        Ok(())
    }

    pub async fn get_group(&self, id: &str) -> StoreResult<Option<Group>> {
        let row = query("SELECT * FROM user_groups WHERE id = ?").bind(id).fetch_optional(self.db()).await?;
        Ok(row.as_ref().map(group_row))
    }

    pub async fn list_groups(&self, name: Option<&str>, domain_id: Option<&str>) -> StoreResult<Vec<Group>> {
        let rows = query(
            "SELECT * FROM user_groups WHERE (? IS NULL OR name = ?) AND (? IS NULL OR domain_id = ?) ORDER BY name",
        )
        .bind(name)
        .bind(name)
        .bind(domain_id)
        .bind(domain_id)
        .fetch_all(self.db())
        .await?;
        Ok(rows.iter().map(group_row).collect())
    }

    pub async fn update_group(&self, g: &Group) -> StoreResult<()> {
        query("UPDATE user_groups SET name = ?, description = ?, extra = ? WHERE id = ?")
            .bind(&g.name)
            .bind(&g.description)
            .bind(extra_json(&g.extra))
            .bind(&g.id)
            .execute(self.db())
            .await
            .map_err(|e| {
                conflict_or(e, "group", || format!("name {} at domain ID {}", g.name, g.domain_id))
            })?;
        Ok(())
    }

    pub async fn delete_group(&self, id: &str) -> StoreResult<()> {
        let mut tx = self.db().begin().await?;
        for sql in [
            "DELETE FROM assignments WHERE actor_type = 'group' AND actor_id = ?",
            "DELETE FROM group_members WHERE group_id = ?",
            "DELETE FROM user_groups WHERE id = ?",
        ] {
            query(sql).bind(id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Adds a member; adding one twice is not an error.
    pub async fn add_group_member(&self, group_id: &str, user_id: &str) -> StoreResult<()> {
        if self.is_group_member(group_id, user_id).await? {
            return Ok(());
        }
        query("INSERT INTO group_members (group_id, user_id) VALUES (?, ?)")
            .bind(group_id)
            .bind(user_id)
            .execute(self.db())
            .await
            .map(|_| ())
            .or_else(|e| if is_unique_violation(&e) { Ok(()) } else { Err(e.into()) })
    }

    pub async fn remove_group_member(&self, group_id: &str, user_id: &str) -> StoreResult<bool> {
        let r = query("DELETE FROM group_members WHERE group_id = ? AND user_id = ?")
            .bind(group_id)
            .bind(user_id)
            .execute(self.db())
            .await?;
        Ok(r.rows_affected() > 0)
    }

    pub async fn is_group_member(&self, group_id: &str, user_id: &str) -> StoreResult<bool> {
        let row = query("SELECT user_id FROM group_members WHERE group_id = ? AND user_id = ?")
            .bind(group_id)
            .bind(user_id)
            .fetch_optional(self.db())
            .await?;
        Ok(row.is_some())
    }

    pub async fn group_member_ids(&self, group_id: &str) -> StoreResult<Vec<String>> {
        let rows = query("SELECT user_id FROM group_members WHERE group_id = ?")
            .bind(group_id)
            .fetch_all(self.db())
            .await?;
        Ok(rows.iter().map(|r| get_str(r, "user_id")).collect())
    }

    pub async fn groups_of_user(&self, user_id: &str) -> StoreResult<Vec<Group>> {
        let rows = query(
            "SELECT g.* FROM user_groups g JOIN group_members m ON m.group_id = g.id WHERE m.user_id = ? ORDER BY g.name",
        )
        .bind(user_id)
        .fetch_all(self.db())
        .await?;
        Ok(rows.iter().map(group_row).collect())
    }
}
