use super::*;
use crate::model::{Domain, Project};

#[derive(Debug, Default, Clone)]
pub struct ProjectFilter {
    pub name: Option<String>,
    pub domain_id: Option<String>,
    pub parent_id: Option<String>,
    pub enabled: Option<bool>,
    /// All of these tags.
    pub tags: Vec<String>,
    /// Any of these tags.
    pub tags_any: Vec<String>,
    pub not_tags: Vec<String>,
    pub not_tags_any: Vec<String>,
    pub ids: Option<Vec<String>>,
}

fn domain_row(row: &Row) -> Domain {
    Domain {
        id: get_str(row, "id"),
        name: get_str(row, "name"),
        description: get_opt(row, "description"),
        enabled: get_flag(row, "enabled"),
        extra: parse_extra(row),
    }
}

fn project_row(row: &Row, tags: Vec<String>) -> Project {
    Project {
        id: get_str(row, "id"),
        name: get_str(row, "name"),
        domain_id: get_str(row, "domain_id"),
        parent_id: get_opt(row, "parent_id"),
        description: get_opt(row, "description"),
        enabled: get_flag(row, "enabled"),
        tags,
        extra: parse_extra(row),
    }
}

impl Store {
    // ---- domains ----

    pub async fn create_domain(&self, d: &Domain) -> StoreResult<()> {
        query(
            "INSERT INTO domains (id, name, description, enabled, extra, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&d.id)
        .bind(&d.name)
        .bind(&d.description)
        .bind(flag(d.enabled))
        .bind(extra_json(&d.extra))
        .bind(stratus_core::db::now_string())
        .execute(self.db())
        .await
        .map_err(|e| conflict_or(e, "domain", || format!("name {}", d.name)))?;
        Ok(())
    }

    pub async fn get_domain(&self, id: &str) -> StoreResult<Option<Domain>> {
        let row = query("SELECT * FROM domains WHERE id = ?").bind(id).fetch_optional(self.db()).await?;
        Ok(row.as_ref().map(domain_row))
    }

    pub async fn get_domain_by_name(&self, name: &str) -> StoreResult<Option<Domain>> {
        let row = query("SELECT * FROM domains WHERE name = ?").bind(name).fetch_optional(self.db()).await?;
        Ok(row.as_ref().map(domain_row))
    }

    pub async fn list_domains(&self, name: Option<&str>, enabled: Option<bool>) -> StoreResult<Vec<Domain>> {
        let rows = query(
            "SELECT * FROM domains WHERE (? IS NULL OR name = ?) AND (? IS NULL OR enabled = ?) ORDER BY name",
        )
        .bind(name)
        .bind(name)
        .bind(enabled.map(flag))
        .bind(enabled.map(flag))
        .fetch_all(self.db())
        .await?;
        Ok(rows.iter().map(domain_row).collect())
    }

    pub async fn update_domain(&self, d: &Domain) -> StoreResult<()> {
        query("UPDATE domains SET name = ?, description = ?, enabled = ?, extra = ? WHERE id = ?")
            .bind(&d.name)
            .bind(&d.description)
            .bind(flag(d.enabled))
            .bind(extra_json(&d.extra))
            .bind(&d.id)
            .execute(self.db())
            .await
            .map_err(|e| conflict_or(e, "domain", || format!("name {}", d.name)))?;
        Ok(())
    }

    /// Deletes the domain and everything in it: projects, users, groups, domain roles and the
    /// assignments that name any of them.
    pub async fn delete_domain(&self, id: &str) -> StoreResult<()> {
        let mut tx = self.db().begin().await?;
        for (sql, binds) in [
            ("DELETE FROM assignments WHERE target_type = 'project' AND target_id IN (SELECT id FROM projects WHERE domain_id = ?)", 1),
            ("DELETE FROM project_tags WHERE project_id IN (SELECT id FROM projects WHERE domain_id = ?)", 1),
            ("DELETE FROM application_credentials WHERE project_id IN (SELECT id FROM projects WHERE domain_id = ?) OR user_id IN (SELECT id FROM users WHERE domain_id = ?)", 2),
            ("DELETE FROM assignments WHERE actor_type = 'user' AND actor_id IN (SELECT id FROM users WHERE domain_id = ?)", 1),
            ("DELETE FROM assignments WHERE actor_type = 'group' AND actor_id IN (SELECT id FROM user_groups WHERE domain_id = ?)", 1),
            ("DELETE FROM group_members WHERE user_id IN (SELECT id FROM users WHERE domain_id = ?) OR group_id IN (SELECT id FROM user_groups WHERE domain_id = ?)", 2),
            ("DELETE FROM assignments WHERE role_id IN (SELECT id FROM roles WHERE domain_id = ?)", 1),
            ("DELETE FROM implied_roles WHERE prior_role_id IN (SELECT id FROM roles WHERE domain_id = ?) OR implied_role_id IN (SELECT id FROM roles WHERE domain_id = ?)", 2),
            ("DELETE FROM assignments WHERE target_type = 'domain' AND target_id = ?", 1),
            ("DELETE FROM projects WHERE domain_id = ?", 1),
            ("DELETE FROM users WHERE domain_id = ?", 1),
            ("DELETE FROM user_groups WHERE domain_id = ?", 1),
            ("DELETE FROM roles WHERE domain_id = ?", 1),
            ("DELETE FROM domains WHERE id = ?", 1),
        ] {
            let mut q = query(sql);
            for _ in 0..binds {
                q = q.bind(id);
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    // ---- projects ----

    pub async fn create_project(&self, p: &Project) -> StoreResult<()> {
        let mut tx = self.db().begin().await?;
        query(
            "INSERT INTO projects (id, name, domain_id, parent_id, description, enabled, extra, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&p.id)
        .bind(&p.name)
        .bind(&p.domain_id)
        .bind(&p.parent_id)
        .bind(&p.description)
        .bind(flag(p.enabled))
        .bind(extra_json(&p.extra))
        .bind(stratus_core::db::now_string())
        .execute(&mut *tx)
        .await
        .map_err(|e| conflict_or(e, "project", || format!("name {} at domain ID {}", p.name, p.domain_id)))?;
        for tag in &p.tags {
            query("INSERT INTO project_tags (project_id, tag) VALUES (?, ?)")
                .bind(&p.id)
                .bind(tag)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn project_from_row(&self, row: &Row) -> StoreResult<Project> {
        let tags = self.project_tags(&get_str(row, "id")).await?;
        Ok(project_row(row, tags))
    }

    pub async fn project_tags(&self, id: &str) -> StoreResult<Vec<String>> {
        let rows = query("SELECT tag FROM project_tags WHERE project_id = ? ORDER BY tag")
            .bind(id)
            .fetch_all(self.db())
            .await?;
        Ok(rows.iter().map(|r| get_str(r, "tag")).collect())
    }

    pub async fn get_project(&self, id: &str) -> StoreResult<Option<Project>> {
        let row = query("SELECT * FROM projects WHERE id = ?").bind(id).fetch_optional(self.db()).await?;
        match row {
            Some(r) => Ok(Some(self.project_from_row(&r).await?)),
            None => Ok(None),
        }
    }

    pub async fn get_project_by_name(&self, domain_id: &str, name: &str) -> StoreResult<Option<Project>> {
        let row = query("SELECT * FROM projects WHERE domain_id = ? AND name = ?")
            .bind(domain_id)
            .bind(name)
            .fetch_optional(self.db())
            .await?;
        match row {
            Some(r) => Ok(Some(self.project_from_row(&r).await?)),
            None => Ok(None),
        }
    }

    pub async fn list_projects(&self, f: &ProjectFilter) -> StoreResult<Vec<Project>> {
        let rows = query(
            "SELECT * FROM projects WHERE (? IS NULL OR name = ?) AND (? IS NULL OR domain_id = ?) \
             AND (? IS NULL OR parent_id = ? OR (parent_id IS NULL AND domain_id = ?)) \
             AND (? IS NULL OR enabled = ?) ORDER BY name",
        )
        .bind(&f.name)
        .bind(&f.name)
        .bind(&f.domain_id)
        .bind(&f.domain_id)
        .bind(&f.parent_id)
        .bind(&f.parent_id)
        .bind(&f.parent_id)
        .bind(f.enabled.map(flag))
        .bind(f.enabled.map(flag))
        .fetch_all(self.db())
        .await?;
        let mut all_tags: std::collections::HashMap<String, Vec<String>> = Default::default();
        for r in query("SELECT project_id, tag FROM project_tags ORDER BY tag").fetch_all(self.db()).await? {
            all_tags.entry(get_str(&r, "project_id")).or_default().push(get_str(&r, "tag"));
        }
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let p = project_row(r, all_tags.remove(&get_str(r, "id")).unwrap_or_default());
            if let Some(ids) = &f.ids {
                if !ids.contains(&p.id) {
                    continue;
                }
            }
            let has = |t: &String| p.tags.contains(t);
            if !f.tags.iter().all(has) {
                continue;
            }
            if !f.tags_any.is_empty() && !f.tags_any.iter().any(has) {
                continue;
            }
            if !f.not_tags.is_empty() && f.not_tags.iter().all(has) {
                continue;
            }
            if f.not_tags_any.iter().any(has) {
                continue;
            }
            out.push(p);
        }
        Ok(out)
    }

    pub async fn update_project(&self, p: &Project) -> StoreResult<()> {
        let mut tx = self.db().begin().await?;
        query("UPDATE projects SET name = ?, description = ?, enabled = ?, extra = ? WHERE id = ?")
            .bind(&p.name)
            .bind(&p.description)
            .bind(flag(p.enabled))
            .bind(extra_json(&p.extra))
            .bind(&p.id)
            .execute(&mut *tx)
            .await
            .map_err(|e| {
                conflict_or(e, "project", || format!("name {} at domain ID {}", p.name, p.domain_id))
            })?;
        query("DELETE FROM project_tags WHERE project_id = ?").bind(&p.id).execute(&mut *tx).await?;
        for tag in &p.tags {
            query("INSERT INTO project_tags (project_id, tag) VALUES (?, ?)")
                .bind(&p.id)
                .bind(tag)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn project_has_children(&self, id: &str) -> StoreResult<bool> {
        let row = query("SELECT id FROM projects WHERE parent_id = ? LIMIT 1")
            .bind(id)
            .fetch_optional(self.db())
            .await?;
        Ok(row.is_some())
    }

    /// Deletes the project with its tags, assignments and application credentials.
    pub async fn delete_project(&self, id: &str) -> StoreResult<()> {
        let mut tx = self.db().begin().await?;
        for sql in [
            "DELETE FROM assignments WHERE target_type = 'project' AND target_id = ?",
            "DELETE FROM project_tags WHERE project_id = ?",
            "DELETE FROM application_credentials WHERE project_id = ?",
            "UPDATE users SET default_project_id = NULL WHERE default_project_id = ?",
            "DELETE FROM projects WHERE id = ?",
        ] {
            query(sql).bind(id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
