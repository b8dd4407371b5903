use super::*;
use crate::model::User;

fn user_row(row: &Row) -> User {
    User {
        id: get_str(row, "id"),
        name: get_str(row, "name"),
        domain_id: get_str(row, "domain_id"),
        enabled: get_flag(row, "enabled"),
        default_project_id: get_opt(row, "default_project_id"),
        password_hash: get_opt(row, "password_hash"),
        failed_auth_count: stratus_core::db::int(row, "failed_auth_count"),
        last_failed_auth: get_opt(row, "last_failed_auth"),
        extra: parse_extra(row),
    }
}

impl Store {
    pub async fn create_user(&self, u: &User) -> StoreResult<()> {
        let now = stratus_core::db::now_string();
        query(
            "INSERT INTO users (id, name, domain_id, enabled, default_project_id, password_hash, \
             password_created_at, failed_auth_count, last_failed_auth, extra, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, 0, NULL, ?, ?)",
        )
        .bind(&u.id)
        .bind(&u.name)
        .bind(&u.domain_id)
        .bind(flag(u.enabled))
        .bind(&u.default_project_id)
        .bind(&u.password_hash)
        .bind(u.password_hash.as_ref().map(|_| now.clone()))
        .bind(extra_json(&u.extra))
        .bind(&now)
        .execute(self.db())
        .await
        .map_err(|e| conflict_or(e, "user", || format!("name {} at domain ID {}", u.name, u.domain_id)))?;
        Ok(())
    }

    pub async fn get_user(&self, id: &str) -> StoreResult<Option<User>> {
        let row = query("SELECT * FROM users WHERE id = ?").bind(id).fetch_optional(self.db()).await?;
        Ok(row.as_ref().map(user_row))
    }

    pub async fn get_user_by_name(&self, domain_id: &str, name: &str) -> StoreResult<Option<User>> {
        let row = query("SELECT * FROM users WHERE domain_id = ? AND name = ?")
            .bind(domain_id)
            .bind(name)
            .fetch_optional(self.db())
            .await?;
        Ok(row.as_ref().map(user_row))
    }

    pub async fn list_users(
        &self,
        name: Option<&str>,
        domain_id: Option<&str>,
        enabled: Option<bool>,
    ) -> StoreResult<Vec<User>> {
        let rows = query(
            "SELECT * FROM users WHERE (? IS NULL OR name = ?) AND (? IS NULL OR domain_id = ?) \
             AND (? IS NULL OR enabled = ?) ORDER BY name",
        )
        .bind(name)
        .bind(name)
        .bind(domain_id)
        .bind(domain_id)
        .bind(enabled.map(flag))
        .bind(enabled.map(flag))
        .fetch_all(self.db())
        .await?;
        Ok(rows.iter().map(user_row).collect())
    }

    /// Writes the user's attributes (not the password).
    pub async fn update_user(&self, u: &User) -> StoreResult<()> {
        query("UPDATE users SET name = ?, enabled = ?, default_project_id = ?, extra = ? WHERE id = ?")
            .bind(&u.name)
            .bind(flag(u.enabled))
            .bind(&u.default_project_id)
            .bind(extra_json(&u.extra))
            .bind(&u.id)
            .execute(self.db())
            .await
            .map_err(|e| {
                conflict_or(e, "user", || format!("name {} at domain ID {}", u.name, u.domain_id))
            })?;
        Ok(())
    }

    pub async fn set_password_hash(&self, user_id: &str, hash: &str) -> StoreResult<()> {
        query(
            "UPDATE users SET password_hash = ?, password_created_at = ?, failed_auth_count = 0, \
             last_failed_auth = NULL WHERE id = ?",
        )
        .bind(hash)
        .bind(stratus_core::db::now_string())
        .bind(user_id)
        .execute(self.db())
        .await?;
        Ok(())
    }

    pub async fn record_failed_auth(&self, user_id: &str) -> StoreResult<()> {
        query(
            "UPDATE users SET failed_auth_count = failed_auth_count + 1, last_failed_auth = ? WHERE id = ?",
        )
        .bind(stratus_core::db::now_string())
        .bind(user_id)
        .execute(self.db())
        .await?;
        Ok(())
    }

    pub async fn reset_failed_auth(&self, user_id: &str) -> StoreResult<()> {
        query("UPDATE users SET failed_auth_count = 0, last_failed_auth = NULL WHERE id = ? AND failed_auth_count > 0")
            .bind(user_id)
            .execute(self.db())
            .await?;
        Ok(())
    }

    /// Deletes the user with its group memberships, assignments and application credentials.
    pub async fn delete_user(&self, id: &str) -> StoreResult<()> {
        let mut tx = self.db().begin().await?;
        for sql in [
            "DELETE FROM assignments WHERE actor_type = 'user' AND actor_id = ?",
            "DELETE FROM group_members WHERE user_id = ?",
            "DELETE FROM application_credentials WHERE user_id = ?",
            "DELETE FROM users WHERE id = ?",
        ] {
            query(sql).bind(id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
