//! Flavors, their extra specs and the projects that may use a private flavor.

use std::collections::BTreeMap;

use chrono::Utc;
use stratus_core::db::{int, is_unique_violation, query, text, time_string, Row};
use stratus_core::error::{ApiError, ApiResult};

use super::{next_id, Store};
use crate::model::Flavor;

const COLUMNS: &str = "id, flavorid, name, vcpus, memory_mb, root_gb, ephemeral_gb, swap, rxtx_factor, \
    is_public, disabled, description";

/// Sort keys `GET /flavors` accepts, with their columns (nova's `vcpu_weight` is never set,
/// so it sorts as the id).
pub const FLAVOR_SORT_KEYS: &[(&str, &str)] = &[
    ("created_at", "created_at"),
    ("description", "description"),
    ("disabled", "disabled"),
    ("ephemeral_gb", "ephemeral_gb"),
    ("flavorid", "flavorid"),
    ("id", "id"),
    ("is_public", "is_public"),
    ("memory_mb", "memory_mb"),
    ("name", "name"),
    ("root_gb", "root_gb"),
    ("rxtx_factor", "rxtx_factor"),
    ("swap", "swap"),
    ("updated_at", "updated_at"),
    ("vcpu_weight", "id"),
    ("vcpus", "vcpus"),
];

/// Which flavors a list wants, and in what order.
#[derive(Debug, Clone)]
pub struct FlavorFilter {
    /// `Some(true)`: public flavors, and private ones `project_id` may use; `Some(false)`:
    /// private flavors only; None: all.
    pub is_public: Option<bool>,
    pub project_id: Option<String>,
    /// Only enabled flavors (what non-admins see).
    pub enabled_only: bool,
    /// A non-admin's list: the marker must be a flavor `project_id` can see.
    pub restricted: bool,
    pub min_memory_mb: Option<i64>,
    pub min_root_gb: Option<i64>,
    /// A column from [`FLAVOR_SORT_KEYS`].
    pub sort_column: &'static str,
    pub descending: bool,
    pub limit: usize,
    /// The flavorid after which the page starts.
    pub marker: Option<String>,
}

fn flavor_row(r: &Row) -> Flavor {
    Flavor {
        id: int(r, "id"),
        flavorid: text(r, "flavorid").unwrap_or_default(),
        name: text(r, "name").unwrap_or_default(),
        vcpus: int(r, "vcpus") as u32,
        memory_mb: int(r, "memory_mb") as u64,
        root_gb: int(r, "root_gb") as u64,
        ephemeral_gb: int(r, "ephemeral_gb") as u64,
        swap: int(r, "swap") as u64,
        rxtx_factor: r.try_get::<f64, _>("rxtx_factor").unwrap_or(1.0),
        is_public: int(r, "is_public") != 0,
        disabled: int(r, "disabled") != 0,
        description: text(r, "description"),
        extra_specs: BTreeMap::new(),
    }
}

/// A value of the sort column, for keyset pagination.
enum SortValue {
    Int(i64),
    Float(f64),
    Text(Option<String>),
}

fn sort_value(r: &Row, column: &str) -> SortValue {
    match column {
        "rxtx_factor" => SortValue::Float(r.try_get::<f64, _>(column).unwrap_or(0.0)),
        "flavorid" | "name" | "description" | "created_at" | "updated_at" => SortValue::Text(text(r, column)),
        _ => SortValue::Int(int(r, column)),
    }
}

impl Store {
    /// A flavor by its API id, with its extra specs.
    pub async fn flavor_by_flavorid(&self, flavorid: &str) -> ApiResult<Option<Flavor>> {
        let sql = format!("SELECT {COLUMNS} FROM flavors WHERE flavorid = ?");
        let Some(row) = query(&sql).bind(flavorid).fetch_optional(self.db()).await? else {
            return Ok(None);
        };
        let mut flavor = flavor_row(&row);
        flavor.extra_specs = self.flavor_extra_specs(flavor.id).await?;
        Ok(Some(flavor))
    }

    /// Whether a project may see and use the flavor: public ones, and private ones shared
    /// with it (admins see every flavor; the caller checks that).
    pub async fn flavor_accessible(&self, flavor: &Flavor, project_id: &str) -> ApiResult<bool> {
        if flavor.is_public {
            return Ok(true);
        }
        let row = query("SELECT 1 AS x FROM flavor_projects WHERE flavor_id = ? AND project_id = ?")
            .bind(flavor.id)
            .bind(project_id)
            .fetch_optional(self.db())
            .await?;
        Ok(row.is_some())
    }

    pub async fn flavor_extra_specs(&self, flavor_id: i64) -> ApiResult<BTreeMap<String, String>> {
        let rows = query("SELECT spec_key, spec_value FROM flavor_extra_specs WHERE flavor_id = ?")
            .bind(flavor_id)
            .fetch_all(self.db())
            .await?;
        Ok(rows
            .iter()
            .map(|r| (text(r, "spec_key").unwrap_or_default(), text(r, "spec_value").unwrap_or_default()))
            .collect())
    }

    /// One page of flavors, with their extra specs. A marker that is not a flavor the
    /// filter's viewer may see is a 400, as nova's `MarkerNotFound`.
    pub async fn list_flavors(&self, f: &FlavorFilter) -> ApiResult<Vec<Flavor>> {
        let mut clauses: Vec<String> = Vec::new();
        let mut binds: Vec<Bind> = Vec::new();
        match (f.is_public, &f.project_id) {
            (Some(true), Some(project)) => {
                clauses.push(
                    "(is_public = 1 OR id IN (SELECT flavor_id FROM flavor_projects WHERE project_id = ?))"
                        .into(),
                );
                binds.push(Bind::Text(project.clone()));
            }
            (Some(p), _) => clauses.push(format!("is_public = {}", p as i64)),
            (None, _) => {}
        }
        if f.enabled_only {
            clauses.push("disabled = 0".into());
        }
        if let Some(m) = f.min_memory_mb {
            clauses.push("memory_mb >= ?".into());
            binds.push(Bind::Int(m));
        }
        if let Some(m) = f.min_root_gb {
            clauses.push("root_gb >= ?".into());
            binds.push(Bind::Int(m));
        }
        let col = f.sort_column;
        let (cmp, dir) = if f.descending { ("<", "DESC") } else { (">", "ASC") };
        if let Some(marker) = &f.marker {
            let sql = format!("SELECT id, {col} FROM flavors WHERE flavorid = ?");
            let row = query(&sql).bind(marker).fetch_optional(self.db()).await?;
            let Some(row) = row else {
                return Err(ApiError::bad_request(format!("marker [{marker}] not found")));
            };
            let visible = match (f.restricted, &f.project_id) {
                (false, _) => true,
                (true, None) => false,
                (true, Some(project)) => match self.flavor_by_flavorid(marker).await? {
                    Some(mf) => self.flavor_accessible(&mf, project).await?,
                    None => false,
                },
            };
            if !visible {
                return Err(ApiError::bad_request(format!("marker [{marker}] not found")));
            }
            let id = int(&row, "id");
            // NULLs (descriptions) sort first ascending and last descending, in both engines.
            let after = format!("({col} {cmp} ? OR ({col} = ? AND id {cmp} ?))");
            match sort_value(&row, col) {
                SortValue::Int(v) => {
                    clauses.push(after);
                    binds.extend([Bind::Int(v), Bind::Int(v), Bind::Int(id)]);
                }
                SortValue::Float(v) => {
                    clauses.push(after);
                    binds.extend([Bind::Float(v), Bind::Float(v), Bind::Int(id)]);
                }
                SortValue::Text(Some(v)) if f.descending => {
                    clauses.push(format!("({after} OR {col} IS NULL)"));
                    binds.extend([Bind::Text(v.clone()), Bind::Text(v), Bind::Int(id)]);
                }
                SortValue::Text(Some(v)) => {
                    clauses.push(after);
                    binds.extend([Bind::Text(v.clone()), Bind::Text(v), Bind::Int(id)]);
                }
                SortValue::Text(None) if f.descending => {
                    clauses.push(format!("({col} IS NULL AND id < ?)"));
                    binds.push(Bind::Int(id));
                }
                SortValue::Text(None) => {
                    clauses.push(format!("({col} IS NOT NULL OR id > ?)"));
                    binds.push(Bind::Int(id));
                }
            }
        }
        let filter =
            if clauses.is_empty() { String::new() } else { format!(" WHERE {}", clauses.join(" AND ")) };
        let sql =
            format!("SELECT {COLUMNS} FROM flavors{filter} ORDER BY {col} {dir}, id {dir} LIMIT {}", f.limit);
        let mut q = query(&sql);
        for b in binds {
            q = match b {
                Bind::Int(v) => q.bind(v),
                Bind::Float(v) => q.bind(v),
                Bind::Text(v) => q.bind(v),
            };
        }
        let rows = q.fetch_all(self.db()).await?;
        let mut flavors: Vec<Flavor> = rows.iter().map(flavor_row).collect();
        if !flavors.is_empty() {
            let ids: Vec<String> = flavors.iter().map(|f| f.id.to_string()).collect();
            let sql = format!(
                "SELECT flavor_id, spec_key, spec_value FROM flavor_extra_specs WHERE flavor_id IN ({})",
                ids.join(",")
            );
            let specs = query(&sql).fetch_all(self.db()).await?;
            for r in &specs {
                let fid = int(r, "flavor_id");
                if let Some(fl) = flavors.iter_mut().find(|fl| fl.id == fid) {
                    fl.extra_specs.insert(
                        text(r, "spec_key").unwrap_or_default(),
                        text(r, "spec_value").unwrap_or_default(),
                    );
                }
            }
        }
        Ok(flavors)
    }

    /// Creates a flavor (its `id` is assigned here); 409 if the name or the flavorid is taken.
    pub async fn create_flavor(&self, flavor: &Flavor) -> ApiResult<Flavor> {
        for _ in 0..5 {
            self.check_flavor_unique(flavor).await?;
            let mut tx = self.db().begin().await?;
            let id = next_id(&mut tx, "flavors").await?;
            let now = time_string(Utc::now());
            let r = query(
                "INSERT INTO flavors (id, flavorid, name, vcpus, memory_mb, root_gb, ephemeral_gb, swap, rxtx_factor, \
                 is_public, disabled, description, created_at, updated_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(id)
            .bind(&flavor.flavorid)
            .bind(&flavor.name)
            .bind(flavor.vcpus as i64)
            .bind(flavor.memory_mb as i64)
            .bind(flavor.root_gb as i64)
            .bind(flavor.ephemeral_gb as i64)
            .bind(flavor.swap as i64)
            .bind(flavor.rxtx_factor)
            .bind(flavor.is_public as i64)
            .bind(flavor.disabled as i64)
            .bind(&flavor.description)
            .bind(&now)
            .bind(&now)
            .execute(&mut *tx)
            .await;
            match r {
                Ok(_) => {
                    tx.commit().await?;
                    return Ok(Flavor { id, extra_specs: BTreeMap::new(), ..flavor.clone() });
                }
                // Either the id raced with another insert (retry) or the name/flavorid did
                // (the check above then says which).
                Err(e) if is_unique_violation(&e) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ApiError::conflict("The flavor could not be created: concurrent updates. Try again."))
    }

    async fn check_flavor_unique(&self, flavor: &Flavor) -> ApiResult<()> {
        let row = query("SELECT name, flavorid FROM flavors WHERE name = ? OR flavorid = ?")
            .bind(&flavor.name)
            .bind(&flavor.flavorid)
            .fetch_optional(self.db())
            .await?;
        match row {
            Some(r) if text(&r, "name").as_deref() == Some(flavor.name.as_str()) => {
                Err(ApiError::conflict(format!("Flavor with name {} already exists.", flavor.name)))
            }
            Some(_) => Err(ApiError::conflict(format!("Flavor with ID {} already exists.", flavor.flavorid))),
            None => Ok(()),
        }
    }

    pub async fn set_flavor_description(&self, id: i64, description: Option<&str>) -> ApiResult<()> {
        query("UPDATE flavors SET description = ?, updated_at = ? WHERE id = ?")
            .bind(description)
            .bind(time_string(Utc::now()))
            .bind(id)
            .execute(self.db())
            .await?;
        Ok(())
    }

    /// Deletes a flavor with its extra specs and access list; false if there was none.
    /// Servers keep their own copy of the flavor.
    pub async fn delete_flavor(&self, flavorid: &str) -> ApiResult<bool> {
        let mut tx = self.db().begin().await?;
        let row = query("SELECT id FROM flavors WHERE flavorid = ?")
            .bind(flavorid)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else { return Ok(false) };
        let id = int(&row, "id");
        query("DELETE FROM flavor_extra_specs WHERE flavor_id = ?").bind(id).execute(&mut *tx).await?;
        query("DELETE FROM flavor_projects WHERE flavor_id = ?").bind(id).execute(&mut *tx).await?;
        query("DELETE FROM flavors WHERE id = ?").bind(id).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The projects a private flavor is shared with.
    pub async fn flavor_projects(&self, flavor_id: i64) -> ApiResult<Vec<String>> {
        let rows = query("SELECT project_id FROM flavor_projects WHERE flavor_id = ? ORDER BY project_id")
            .bind(flavor_id)
            .fetch_all(self.db())
            .await?;
        Ok(rows.iter().filter_map(|r| text(r, "project_id")).collect())
    }

    /// Shares a flavor with a project; false if it already was.
    pub async fn add_flavor_access(&self, flavor_id: i64, project_id: &str) -> ApiResult<bool> {
        let r = query("INSERT INTO flavor_projects (flavor_id, project_id) VALUES (?, ?)")
            .bind(flavor_id)
            .bind(project_id)
            .execute(self.db())
            .await;
        match r {
            Ok(_) => Ok(true),
            Err(e) if is_unique_violation(&e) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Stops sharing a flavor with a project; false if it was not shared.
    pub async fn remove_flavor_access(&self, flavor_id: i64, project_id: &str) -> ApiResult<bool> {
        let r = query("DELETE FROM flavor_projects WHERE flavor_id = ? AND project_id = ?")
            .bind(flavor_id)
            .bind(project_id)
            .execute(self.db())
            .await?;
        Ok(r.rows_affected() > 0)
    }

    /// Sets (adds or replaces) extra specs of a flavor, all or none.
    pub async fn set_flavor_extra_specs(
        &self,
        flavor_id: i64,
        specs: &BTreeMap<String, String>,
    ) -> ApiResult<()> {
        let mut tx = self.db().begin().await?;
        for (k, v) in specs {
            query("DELETE FROM flavor_extra_specs WHERE flavor_id = ? AND spec_key = ?")
                .bind(flavor_id)
                .bind(k)
                .execute(&mut *tx)
                .await?;
            query("INSERT INTO flavor_extra_specs (flavor_id, spec_key, spec_value) VALUES (?, ?, ?)")
                .bind(flavor_id)
                .bind(k)
                .bind(v)
                .execute(&mut *tx)
                .await?;
        }
        query("UPDATE flavors SET updated_at = ? WHERE id = ?")
            .bind(time_string(Utc::now()))
            .bind(flavor_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Removes one extra spec; false if the flavor had no such key.
    pub async fn delete_flavor_extra_spec(&self, flavor_id: i64, key: &str) -> ApiResult<bool> {
        let r = query("DELETE FROM flavor_extra_specs WHERE flavor_id = ? AND spec_key = ?")
            .bind(flavor_id)
            .bind(key)
            .execute(self.db())
            .await?;
        Ok(r.rows_affected() > 0)
    }
}

enum Bind {
    Int(i64),
    Float(f64),
    Text(String),
}
