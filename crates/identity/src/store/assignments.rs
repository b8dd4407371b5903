use super::*;
use crate::model::{ActorType, Assignment, TargetType};

fn assignment_row(row: &Row) -> Option<Assignment> {
    Some(Assignment {
        actor_type: ActorType::parse(&get_str(row, "actor_type"))?,
        actor_id: get_str(row, "actor_id"),
        target_type: TargetType::parse(&get_str(row, "target_type"))?,
        target_id: get_str(row, "target_id"),
        role_id: get_str(row, "role_id"),
        inherited: get_flag(row, "inherited"),
    })
}

/// Which assignments to read; None matches anything.
#[derive(Debug, Default, Clone)]
pub struct AssignmentFilter {
    pub actor_type: Option<ActorType>,
    pub actor_ids: Option<Vec<String>>,
    pub target_type: Option<TargetType>,
    pub target_ids: Option<Vec<String>>,
    pub role_id: Option<String>,
    pub inherited: Option<bool>,
}

impl Store {
    /// Grants a role; granting it twice is not an error.
    pub async fn grant(&self, a: &Assignment) -> StoreResult<()> {
        if self.assignment_exists(a).await? {
            return Ok(());
        }
        query(
            "INSERT INTO assignments (actor_type, actor_id, target_type, target_id, role_id, inherited) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(a.actor_type.as_str())
        .bind(&a.actor_id)
        .bind(a.target_type.as_str())
        .bind(&a.target_id)
        .bind(&a.role_id)
        .bind(flag(a.inherited))
        .execute(self.db())
        .await
        .map(|_| ())
        .or_else(|e| if is_unique_violation(&e) { Ok(()) } else { Err(e.into()) })
    }

    pub async fn revoke(&self, a: &Assignment) -> StoreResult<bool> {
        let r = query(
            "DELETE FROM assignments WHERE actor_type = ? AND actor_id = ? AND target_type = ? \
             AND target_id = ? AND role_id = ? AND inherited = ?",
        )
        .bind(a.actor_type.as_str())
        .bind(&a.actor_id)
        .bind(a.target_type.as_str())
        .bind(&a.target_id)
        .bind(&a.role_id)
        .bind(flag(a.inherited))
        .execute(self.db())
        .await?;
        Ok(r.rows_affected() > 0)
    }

    pub async fn assignment_exists(&self, a: &Assignment) -> StoreResult<bool> {
        let row = query(
            "SELECT role_id FROM assignments WHERE actor_type = ? AND actor_id = ? AND target_type = ? \
             AND target_id = ? AND role_id = ? AND inherited = ?",
        )
        .bind(a.actor_type.as_str())
        .bind(&a.actor_id)
        .bind(a.target_type.as_str())
        .bind(&a.target_id)
        .bind(&a.role_id)
        .bind(flag(a.inherited))
        .fetch_optional(self.db())
        .await?;
        Ok(row.is_some())
    }

    pub async fn list_assignments(&self, f: &AssignmentFilter) -> StoreResult<Vec<Assignment>> {
        let mut sql = String::from("SELECT * FROM assignments WHERE 1 = 1");
        let mut binds: Vec<String> = Vec::new();
        if let Some(t) = f.actor_type {
            sql.push_str(" AND actor_type = ?");
            binds.push(t.as_str().into());
        }
        if let Some(ids) = &f.actor_ids {
            if ids.is_empty() {
                return Ok(vec![]);
            }
            sql.push_str(&format!(" AND actor_id IN ({})", placeholders(ids.len())));
            binds.extend(ids.iter().cloned());
        }
        if let Some(t) = f.target_type {
            sql.push_str(" AND target_type = ?");
            binds.push(t.as_str().into());
        }
        if let Some(ids) = &f.target_ids {
            if ids.is_empty() {
                return Ok(vec![]);
            }
            sql.push_str(&format!(" AND target_id IN ({})", placeholders(ids.len())));
            binds.extend(ids.iter().cloned());
        }
        if let Some(r) = &f.role_id {
            sql.push_str(" AND role_id = ?");
            binds.push(r.clone());
        }
        if let Some(i) = f.inherited {
            sql.push_str(if i { " AND inherited = 1" } else { " AND inherited = 0" });
        }
        sql.push_str(" ORDER BY actor_type, actor_id, target_type, target_id, role_id");
        let mut q = query(&sql);
        for b in &binds {
            q = q.bind(b);
        }
        let rows = q.fetch_all(self.db()).await?;
        Ok(rows.iter().filter_map(assignment_row).collect())
    }
}

fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}
