use super::*;
use crate::model::ApplicationCredential;

fn app_cred_row(row: &Row) -> ApplicationCredential {
    ApplicationCredential {
        id: get_str(row, "id"),
        name: get_str(row, "name"),
        user_id: get_str(row, "user_id"),
        project_id: get_str(row, "project_id"),
        secret_hash: get_str(row, "secret_hash"),
        description: get_opt(row, "description"),
        expires_at: get_opt(row, "expires_at"),
        unrestricted: get_flag(row, "unrestricted"),
        role_ids: serde_json::from_str(&get_str(row, "roles")).unwrap_or_default(),
    }
}

impl Store {
    pub async fn create_app_cred(&self, c: &ApplicationCredential) -> StoreResult<()> {
        query(
            "INSERT INTO application_credentials (id, name, user_id, project_id, secret_hash, description, \
             expires_at, unrestricted, roles, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&c.id)
        .bind(&c.name)
        .bind(&c.user_id)
        .bind(&c.project_id)
        .bind(&c.secret_hash)
        .bind(&c.description)
        .bind(&c.expires_at)
        .bind(flag(c.unrestricted))
        .bind(serde_json::to_string(&c.role_ids).unwrap_or_else(|_| "[]".into()))
        .bind(stratus_core::db::now_string())
        .execute(self.db())
        .await
        .map_err(|e| conflict_or(e, "application_credential", || format!("name {}", c.name)))?;
        Ok(())
    }

    pub async fn get_app_cred(&self, id: &str) -> StoreResult<Option<ApplicationCredential>> {
        let row = query("SELECT * FROM application_credentials WHERE id = ?")
            .bind(id)
            .fetch_optional(self.db())
            .await?;
        Ok(row.as_ref().map(app_cred_row))
    }

    pub async fn list_app_creds(
        &self,
        user_id: &str,
        name: Option<&str>,
    ) -> StoreResult<Vec<ApplicationCredential>> {
        let rows = query(
            "SELECT * FROM application_credentials WHERE user_id = ? AND (? IS NULL OR name = ?) ORDER BY name",
        )
        .bind(user_id)
        .bind(name)
        .bind(name)
        .fetch_all(self.db())
        .await?;
        Ok(rows.iter().map(app_cred_row).collect())
    }

    pub async fn delete_app_cred(&self, id: &str) -> StoreResult<()> {
        query("DELETE FROM application_credentials WHERE id = ?").bind(id).execute(self.db()).await?;
        Ok(())
    }
}
