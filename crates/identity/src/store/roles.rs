use super::*;
use crate::model::Role;

fn role_row(row: &Row) -> Role {
    Role {
        id: get_str(row, "id"),
        name: get_str(row, "name"),
        domain_id: get_opt(row, "domain_id").filter(|d| !d.is_empty()),
        description: get_opt(row, "description"),
        extra: parse_extra(row),
    }
}

impl Store {
    pub async fn create_role(&self, r: &Role) -> StoreResult<()> {
        query("INSERT INTO roles (id, name, domain_id, description, extra) VALUES (?, ?, ?, ?, ?)")
            .bind(&r.id)
            .bind(&r.name)
            .bind(r.domain_id.clone().unwrap_or_default())
            .bind(&r.description)
            .bind(extra_json(&r.extra))
            .execute(self.db())
            .await
            .map_err(|e| conflict_or(e, "role", || format!("name {}", r.name)))?;
        Ok(())
    }

    pub async fn get_role(&self, id: &str) -> StoreResult<Option<Role>> {
        let row = query("SELECT * FROM roles WHERE id = ?").bind(id).fetch_optional(self.db()).await?;
        Ok(row.as_ref().map(role_row))
    }

    pub async fn get_global_role_by_name(&self, name: &str) -> StoreResult<Option<Role>> {
        let row = query("SELECT * FROM roles WHERE name = ? AND domain_id = ''")
            .bind(name)
            .fetch_optional(self.db())
            .await?;
        Ok(row.as_ref().map(role_row))
    }

    /// Roles by name and domain; `domain_id` None lists global roles only (as keystone).
    pub async fn list_roles(&self, name: Option<&str>, domain_id: Option<&str>) -> StoreResult<Vec<Role>> {
        let rows = query("SELECT * FROM roles WHERE (? IS NULL OR name = ?) AND domain_id = ? ORDER BY name")
            .bind(name)
            .bind(name)
            .bind(domain_id.unwrap_or(""))
            .fetch_all(self.db())
            .await?;
        Ok(rows.iter().map(role_row).collect())
    }

    pub async fn all_roles(&self) -> StoreResult<Vec<Role>> {
        let rows = query("SELECT * FROM roles").fetch_all(self.db()).await?;
        Ok(rows.iter().map(role_row).collect())
    }

    pub async fn update_role(&self, r: &Role) -> StoreResult<()> {
        query("UPDATE roles SET name = ?, description = ?, extra = ? WHERE id = ?")
            .bind(&r.name)
            .bind(&r.description)
            .bind(extra_json(&r.extra))
            .bind(&r.id)
            .execute(self.db())
            .await
            .map_err(|e| conflict_or(e, "role", || format!("name {}", r.name)))?;
        Ok(())
    }

    pub async fn delete_role(&self, id: &str) -> StoreResult<()> {
        let mut tx = self.db().begin().await?;
        for (sql, n) in [
            ("DELETE FROM assignments WHERE role_id = ?", 1),
            ("DELETE FROM implied_roles WHERE prior_role_id = ? OR implied_role_id = ?", 2),
            ("DELETE FROM roles WHERE id = ?", 1),
        ] {
            let mut q = query(sql);
            for _ in 0..n {
                q = q.bind(id);
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn add_implied_role(&self, prior: &str, implied: &str) -> StoreResult<()> {
        query("INSERT INTO implied_roles (prior_role_id, implied_role_id) VALUES (?, ?)")
            .bind(prior)
            .bind(implied)
            .execute(self.db())
            .await
            .map(|_| ())
            .or_else(|e| if is_unique_violation(&e) { Ok(()) } else { Err(e.into()) })
    }

    pub async fn remove_implied_role(&self, prior: &str, implied: &str) -> StoreResult<bool> {
        let r = query("DELETE FROM implied_roles WHERE prior_role_id = ? AND implied_role_id = ?")
            .bind(prior)
            .bind(implied)
            .execute(self.db())
            .await?;
        Ok(r.rows_affected() > 0)
    }

    /// Every (prior, implied) rule.
    pub async fn implied_role_rules(&self) -> StoreResult<Vec<(String, String)>> {
        let rows = query("SELECT prior_role_id, implied_role_id FROM implied_roles ORDER BY prior_role_id")
            .fetch_all(self.db())
            .await?;
        Ok(rows.iter().map(|r| (get_str(r, "prior_role_id"), get_str(r, "implied_role_id"))).collect())
    }
}
