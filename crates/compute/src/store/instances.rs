//! Instances, their faults, actions and migrations.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use stratus_core::db::{int, query, text, time_string, Query, Row};
use stratus_core::error::{ApiError, ApiResult};

use super::{next_id, opt_time, time, Store};
use crate::model::{Fault, Flavor, Instance, PowerState, TaskState, VmState};
use crate::quota::Usage;

const COLUMNS: &str = "uuid, display_name, hostname, description, project_id, user_id, host, node, \
    availability_zone, requested_availability_zone, flavor, old_flavor, new_flavor, vcpus, memory_mb, root_gb, \
    image_ref, image, key_name, key_data, user_data, metadata, tags, vm_state, task_state, power_state, locked, \
    locked_by, locked_reason, access_ip_v4, access_ip_v6, config_drive, progress, launch_index, reservation_id, \
    server_group, scheduler_hints, launched_at, terminated_at, created_at, updated_at, deleted_at, deleted";

fn json_col<T: serde::de::DeserializeOwned>(row: &Row, col: &str) -> Option<T> {
    text(row, col).and_then(|s| serde_json::from_str(&s).ok())
}

fn instance_row(row: &Row) -> Instance {
    Instance {
        uuid: text(row, "uuid").unwrap_or_default(),
        display_name: text(row, "display_name").unwrap_or_default(),
        hostname: text(row, "hostname").unwrap_or_default(),
        description: text(row, "description"),
        project_id: text(row, "project_id").unwrap_or_default(),
        user_id: text(row, "user_id").unwrap_or_default(),
        host: text(row, "host"),
        node: text(row, "node"),
        availability_zone: text(row, "availability_zone"),
        requested_availability_zone: text(row, "requested_availability_zone"),
        flavor: json_col(row, "flavor").expect("instance flavor is JSON"),
        old_flavor: json_col(row, "old_flavor"),
        new_flavor: json_col(row, "new_flavor"),
        image_ref: text(row, "image_ref"),
        image: json_col(row, "image"),
        key_name: text(row, "key_name"),
        key_data: text(row, "key_data"),
        user_data: text(row, "user_data"),
        metadata: json_col(row, "metadata").unwrap_or_default(),
        tags: json_col(row, "tags").unwrap_or_default(),
        vm_state: text(row, "vm_state").as_deref().and_then(VmState::parse).unwrap_or(VmState::Error),
        task_state: text(row, "task_state").as_deref().and_then(TaskState::parse),
        power_state: PowerState::from_code(int(row, "power_state")),
        locked: int(row, "locked") != 0,
        locked_by: text(row, "locked_by"),
        locked_reason: text(row, "locked_reason"),
        access_ip_v4: text(row, "access_ip_v4"),
        access_ip_v6: text(row, "access_ip_v6"),
        config_drive: text(row, "config_drive"),
        progress: int(row, "progress"),
        launch_index: int(row, "launch_index"),
        reservation_id: text(row, "reservation_id").unwrap_or_default(),
        server_group: text(row, "server_group"),
        scheduler_hints: json_col(row, "scheduler_hints").unwrap_or_default(),
        launched_at: opt_time(row, "launched_at"),
        terminated_at: opt_time(row, "terminated_at"),
        created_at: time(row, "created_at"),
        updated_at: time(row, "updated_at"),
        deleted_at: opt_time(row, "deleted_at"),
        deleted: int(row, "deleted") != 0,
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("json")
}

/// Which servers a list wants. Visibility (project) is decided by the caller.
#[derive(Debug, Default, Clone)]
pub struct InstanceFilter {
    /// None: every project (admin with all_tenants).
    pub project_id: Option<String>,
    pub user_id: Option<String>,
    pub vm_states: Option<Vec<VmState>>,
    pub host: Option<String>,
    pub flavor_id: Option<String>,
    pub image_ref: Option<String>,
    pub reservation_id: Option<String>,
    /// Servers changed since: deleted ones are then included, as nova does.
    pub changes_since: Option<DateTime<Utc>>,
    pub changes_before: Option<DateTime<Utc>>,
    pub include_deleted: bool,
    pub uuids: Option<Vec<String>>,
    pub availability_zone: Option<String>,
    pub locked: Option<bool>,
}

/// A partial update of an instance; `None` fields are left alone.
#[derive(Debug, Default, Clone)]
pub struct InstanceUpdate {
    pub vm_state: Option<VmState>,
    /// `Some(None)` clears the task.
    pub task_state: Option<Option<TaskState>>,
    pub power_state: Option<PowerState>,
    pub host: Option<Option<String>>,
    pub node: Option<Option<String>>,
    pub availability_zone: Option<Option<String>>,
    pub flavor: Option<Flavor>,
    pub old_flavor: Option<Option<Flavor>>,
    pub new_flavor: Option<Option<Flavor>>,
    pub image_ref: Option<Option<String>>,
    pub image: Option<Option<stratus_compute_agent::rpc::ImageSpec>>,
    pub display_name: Option<String>,
    pub hostname: Option<String>,
    pub description: Option<Option<String>>,
    pub metadata: Option<BTreeMap<String, String>>,
    pub tags: Option<Vec<String>>,
    pub locked: Option<(bool, Option<String>, Option<String>)>,
    pub access_ip_v4: Option<Option<String>>,
    pub access_ip_v6: Option<Option<String>>,
    pub progress: Option<i64>,
    pub launched_at: Option<DateTime<Utc>>,
    pub terminated_at: Option<DateTime<Utc>>,
    pub deleted: bool,
}

/// The states an update is conditional on (compare-and-set).
#[derive(Debug, Default, Clone)]
pub struct Expect {
    pub vm_states: Vec<VmState>,
    /// Expected task states (None = no task); empty means any.
    pub task_states: Vec<Option<TaskState>>,
}

enum Param {
    Text(Option<String>),
    Int(i64),
}

impl Store {
    pub async fn create_instance(&self, i: &Instance) -> ApiResult<()> {
        create_instance_query(i).execute(self.db()).await?;
        Ok(())
    }

    /// Records a new server and the action that creates it in one transaction; returns the
    /// action's id.
    pub async fn create_instance_with_action(
        &self,
        i: &Instance,
        action: NewAction<'_>,
    ) -> ApiResult<String> {
        let id = uuid::Uuid::new_v4().to_string();
        let mut tx = self.db().begin().await?;
        create_instance_query(i).execute(&mut tx).await?;
        start_action_query(&id, &i.uuid, action).execute(&mut tx).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// A live (not deleted) instance.
    pub async fn instance(&self, uuid: &str) -> ApiResult<Option<Instance>> {
        let sql = format!("SELECT {COLUMNS} FROM instances WHERE uuid = ? AND deleted = 0");
        let row = query(&sql).bind(uuid).fetch_optional(self.db()).await?;
        Ok(row.as_ref().map(instance_row))
    }

    pub async fn instance_or_404(&self, uuid: &str) -> ApiResult<Instance> {
        self.instance(uuid)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("Instance {uuid} could not be found.")))
    }

    /// Instances matching `f`, newest first (nova's default sort), keyset-paged by `marker`.
    pub async fn list_instances(
        &self,
        f: &InstanceFilter,
        limit: Option<usize>,
        marker: Option<&Instance>,
    ) -> ApiResult<Vec<Instance>> {
        let mut sql = format!("SELECT {COLUMNS} FROM instances WHERE 1 = 1");
        let mut params: Vec<Param> = Vec::new();
        let mut eq = |sql: &mut String, col: &str, v: &Option<String>| {
            if let Some(v) = v {
                sql.push_str(&format!(" AND {col} = ?"));
                params.push(Param::Text(Some(v.clone())));
            }
        };
        eq(&mut sql, "project_id", &f.project_id);
        eq(&mut sql, "user_id", &f.user_id);
        eq(&mut sql, "host", &f.host);
        eq(&mut sql, "image_ref", &f.image_ref);
        eq(&mut sql, "reservation_id", &f.reservation_id);
        eq(&mut sql, "availability_zone", &f.availability_zone);
        if let Some(states) = &f.vm_states {
            sql.push_str(&format!(" AND vm_state IN ({})", placeholders(states.len())));
            params.extend(states.iter().map(|s| Param::Text(Some(s.as_str().to_string()))));
        }
        if let Some(locked) = f.locked {
            sql.push_str(" AND locked = ?");
            params.push(Param::Int(locked as i64));
        }
        if let Some(uuids) = &f.uuids {
            if uuids.is_empty() {
                return Ok(Vec::new());
            }
            sql.push_str(&format!(" AND uuid IN ({})", placeholders(uuids.len())));
            params.extend(uuids.iter().map(|u| Param::Text(Some(u.clone()))));
        }
        if let Some(t) = f.changes_since {
            sql.push_str(" AND updated_at >= ?");
            params.push(Param::Text(Some(time_string(t))));
        }
        if let Some(t) = f.changes_before {
            sql.push_str(" AND updated_at <= ?");
            params.push(Param::Text(Some(time_string(t))));
        }
        if !(f.include_deleted || f.changes_since.is_some() || f.changes_before.is_some()) {
            sql.push_str(" AND deleted = 0");
        }
        if let Some(m) = marker {
            sql.push_str(" AND (created_at < ? OR (created_at = ? AND uuid < ?))");
            let t = time_string(m.created_at);
            params.push(Param::Text(Some(t.clone())));
            params.push(Param::Text(Some(t)));
            params.push(Param::Text(Some(m.uuid.clone())));
        }
        sql.push_str(" ORDER BY created_at DESC, uuid DESC");
        if let Some(l) = limit {
            sql.push_str(&format!(" LIMIT {l}"));
        }
        let mut q = query(&sql);
        for p in params {
            q = match p {
                Param::Text(t) => q.bind(t),
                Param::Int(i) => q.bind(i),
            };
        }
        let rows = q.fetch_all(self.db()).await?;
        let mut out: Vec<Instance> = rows.iter().map(instance_row).collect();
        if let Some(flavor) = &f.flavor_id {
            out.retain(|i| &i.flavor.flavorid == flavor);
        }
        Ok(out)
    }

    /// Any instance row, deleted or not (for markers and instance actions of deleted servers).
    pub async fn instance_any(&self, uuid: &str) -> ApiResult<Option<Instance>> {
        let sql = format!("SELECT {COLUMNS} FROM instances WHERE uuid = ?");
        let row = query(&sql).bind(uuid).fetch_optional(self.db()).await?;
        Ok(row.as_ref().map(instance_row))
    }

    /// Applies `u` if the instance is live and in the expected states; false if it was not
    /// (someone else changed it first, or it is gone).
    pub async fn update_instance(&self, uuid: &str, expect: &Expect, u: &InstanceUpdate) -> ApiResult<bool> {
        let done = update_query(uuid, expect, u).execute(self.db()).await?;
        Ok(done.rows_affected() == 1)
    }

    /// An update as [`Store::update_instance`], and, only if it applied, the action records
    /// written with it: one transaction (one commit) instead of one per record.
    pub async fn update_instance_recording(
        &self,
        uuid: &str,
        expect: &Expect,
        u: &InstanceUpdate,
        records: &[EventWrite<'_>],
    ) -> ApiResult<bool> {
        let mut tx = self.db().begin().await?;
        if update_query(uuid, expect, u).execute(&mut tx).await?.rows_affected() != 1 {
            return Ok(false); // rolled back as the transaction drops
        }
        for r in records {
            for q in r.queries() {
                q.execute(&mut tx).await?;
            }
        }
        tx.commit().await?;
        Ok(true)
    }

    /// What a project's live servers use, for quotas.
    pub async fn instance_usage(&self, project_id: &str) -> ApiResult<Usage> {
        // Summed by the database; the sums come back as text because MariaDB's SUM is a
        // DECIMAL, which the portable row readers do not decode.
        let row = query(
            "SELECT CAST(COUNT(*) AS CHAR) AS n, CAST(COALESCE(SUM(vcpus), 0) AS CHAR) AS cores, \
             CAST(COALESCE(SUM(memory_mb), 0) AS CHAR) AS ram FROM instances WHERE project_id = ? AND deleted = 0",
        )
        .bind(project_id)
        .fetch_one(self.db())
        .await?;
        let number = |col: &str| -> ApiResult<i64> {
            let t = text(&row, col).unwrap_or_default();
            t.trim()
                .parse::<i64>()
                .map_err(|_| ApiError::internal(format!("instance usage: {col} is not a number: {t:?}")))
        };
        Ok(Usage { instances: number("n")?, cores: number("cores")?, ram: number("ram")? })
    }

    /// Live instances on a host (for the power-state sync and host-level views).
    pub async fn instances_on_host(&self, host: &str) -> ApiResult<Vec<Instance>> {
        let sql = format!("SELECT {COLUMNS} FROM instances WHERE host = ? AND deleted = 0");
        let rows = query(&sql).bind(host).fetch_all(self.db()).await?;
        Ok(rows.iter().map(instance_row).collect())
    }

    /// Live instances stuck in a task (after a restart of the controller).
    pub async fn instances_in_task(&self) -> ApiResult<Vec<Instance>> {
        let sql = format!("SELECT {COLUMNS} FROM instances WHERE task_state IS NOT NULL AND deleted = 0");
        let rows = query(&sql).fetch_all(self.db()).await?;
        Ok(rows.iter().map(instance_row).collect())
    }

    /// Resized instances waiting for confirmation since before `before`.
    pub async fn resized_before(&self, before: DateTime<Utc>) -> ApiResult<Vec<Instance>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM instances WHERE vm_state = 'resized' AND task_state IS NULL \
             AND deleted = 0 AND updated_at < ?"
        );
        let rows = query(&sql).bind(time_string(before)).fetch_all(self.db()).await?;
        Ok(rows.iter().map(instance_row).collect())
    }

    // --- faults ---

    pub async fn add_fault(&self, uuid: &str, code: i64, message: &str, host: Option<&str>) -> ApiResult<()> {
        query(
            "INSERT INTO instance_faults (instance_uuid, code, message, details, host, created_at) \
             VALUES (?, ?, ?, NULL, ?, ?)",
        )
        .bind(uuid)
        .bind(code)
        .bind(message)
        .bind(host)
        .bind(stratus_core::db::now_string())
        .execute(self.db())
        .await?;
        Ok(())
    }

    /// The latest fault of each of these instances.
    pub async fn latest_faults(&self, uuids: &[String]) -> ApiResult<BTreeMap<String, Fault>> {
        let mut out = BTreeMap::new();
        for chunk in uuids.chunks(500) {
            let sql = format!(
                "SELECT instance_uuid, code, message, details, host, created_at FROM instance_faults \
                 WHERE instance_uuid IN ({}) ORDER BY created_at",
                placeholders(chunk.len())
            );
            let mut q = query(&sql);
            for u in chunk {
                q = q.bind(u);
            }
            for r in q.fetch_all(self.db()).await? {
                let fault = Fault {
                    code: int(&r, "code"),
                    message: text(&r, "message").unwrap_or_default(),
                    details: text(&r, "details"),
                    host: text(&r, "host"),
                    created: time(&r, "created_at"),
                };
                out.insert(text(&r, "instance_uuid").unwrap_or_default(), fault);
            }
        }
        Ok(out)
    }

    // --- instance actions (server event list) ---

    pub async fn start_action(
        &self,
        uuid: &str,
        action: &str,
        request_id: &str,
        user_id: &str,
        project_id: &str,
    ) -> ApiResult<String> {
        let id = uuid::Uuid::new_v4().to_string();
        start_action_query(&id, uuid, NewAction { action, request_id, user_id, project_id })
            .execute(self.db())
            .await?;
        Ok(id)
    }

    pub async fn start_event(&self, action_id: &str, event: &str, host: Option<&str>) -> ApiResult<()> {
        self.record(&EventWrite::Start { action_id, event, host }).await
    }

    /// Writes one action record on its own.
    pub async fn record(&self, r: &EventWrite<'_>) -> ApiResult<()> {
        for q in r.queries() {
            q.execute(self.db()).await?;
        }
        Ok(())
    }

    /// Ends several events of an action at once, and the action (its `message` "Error" on failure).
    pub async fn finish_events(
        &self,
        action_id: &str,
        events: &[&str],
        error: Option<&str>,
    ) -> ApiResult<()> {
        self.record(&EventWrite::Finish { action_id, events, error }).await
    }

    /// Ends an event (and its action, with `message` = "Error" on failure).
    pub async fn finish_event(&self, action_id: &str, event: &str, error: Option<&str>) -> ApiResult<()> {
        self.finish_events(action_id, &[event], error).await
    }

    pub async fn actions(&self, uuid: &str) -> ApiResult<Vec<InstanceAction>> {
        let rows = query(
            "SELECT id, request_id, instance_uuid, action, user_id, project_id, message, start_time, updated_at \
             FROM instance_actions WHERE instance_uuid = ? ORDER BY start_time DESC, id DESC",
        )
        .bind(uuid)
        .fetch_all(self.db())
        .await?;
        Ok(rows.iter().map(action_row).collect())
    }

    pub async fn action(&self, uuid: &str, request_id: &str) -> ApiResult<Option<InstanceAction>> {
        let row = query(
            "SELECT id, request_id, instance_uuid, action, user_id, project_id, message, start_time, updated_at \
             FROM instance_actions WHERE instance_uuid = ? AND request_id = ?",
        )
        .bind(uuid)
        .bind(request_id)
        .fetch_optional(self.db())
        .await?;
        Ok(row.as_ref().map(action_row))
    }

    pub async fn events(&self, action_id: &str) -> ApiResult<Vec<ActionEvent>> {
        let rows = query(
            "SELECT event, host, result, details, start_time, finish_time FROM instance_action_events \
             WHERE action_id = ? ORDER BY start_time",
        )
        .bind(action_id)
        .fetch_all(self.db())
        .await?;
        Ok(rows
            .iter()
            .map(|r| ActionEvent {
                event: text(r, "event").unwrap_or_default(),
                host: text(r, "host"),
                result: text(r, "result"),
                details: text(r, "details"),
                start_time: time(r, "start_time"),
                finish_time: opt_time(r, "finish_time"),
            })
            .collect())
    }

    // --- migrations ---

    pub async fn create_migration(&self, m: &Migration) -> ApiResult<i64> {
        for _ in 0..5 {
            let mut tx = self.db().begin().await?;
            let id = next_id(&mut tx, "migrations").await?;
            let now = stratus_core::db::now_string();
            let r = query(
                "INSERT INTO migrations (id, uuid, instance_uuid, migration_type, source_compute, dest_compute, \
                 source_node, dest_node, old_flavor_id, new_flavor_id, status, user_id, project_id, created_at, \
                 updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(id)
            .bind(&m.uuid)
            .bind(&m.instance_uuid)
            .bind(&m.migration_type)
            .bind(&m.source_compute)
            .bind(&m.dest_compute)
            .bind(&m.source_compute)
            .bind(&m.dest_compute)
            .bind(&m.old_flavor_id)
            .bind(&m.new_flavor_id)
            .bind(&m.status)
            .bind(&m.user_id)
            .bind(&m.project_id)
            .bind(&now)
            .bind(&now)
            .execute(&mut *tx)
            .await;
            match r {
                Ok(_) => {
                    tx.commit().await?;
                    return Ok(id);
                }
                Err(e) if stratus_core::db::is_unique_violation(&e) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ApiError::internal("could not allocate a migration id"))
    }

    pub async fn set_migration_status(&self, uuid: &str, status: &str) -> ApiResult<()> {
        query("UPDATE migrations SET status = ?, updated_at = ? WHERE uuid = ?")
            .bind(status)
            .bind(stratus_core::db::now_string())
            .bind(uuid)
            .execute(self.db())
            .await?;
        Ok(())
    }

    /// Migrations for `GET /os-migrations`, newest first, with the flavors' numeric ids.
    pub async fn list_migrations(&self, f: &MigrationFilter) -> ApiResult<Vec<MigrationRow>> {
        let mut sql = String::from(
            "SELECT m.id, m.uuid, m.instance_uuid, m.migration_type, m.source_compute, m.dest_compute, \
             m.old_flavor_id, m.new_flavor_id, m.status, m.user_id, m.project_id, m.created_at, m.updated_at, \
             fo.id AS old_type, fw.id AS new_type FROM migrations m \
             LEFT JOIN flavors fo ON fo.flavorid = m.old_flavor_id \
             LEFT JOIN flavors fw ON fw.flavorid = m.new_flavor_id WHERE 1 = 1",
        );
        let mut binds: Vec<String> = Vec::new();
        let mut eq = |col: &str, v: &Option<String>| {
            if let Some(v) = v {
                sql.push_str(&format!(" AND m.{col} = ?"));
                binds.push(v.clone());
            }
        };
        eq("instance_uuid", &f.instance_uuid);
        eq("status", &f.status);
        eq("migration_type", &f.migration_type);
        eq("source_compute", &f.source_compute);
        eq("user_id", &f.user_id);
        eq("project_id", &f.project_id);
        if let Some(h) = &f.host {
            sql.push_str(" AND (m.source_compute = ? OR m.dest_compute = ?)");
            binds.push(h.clone());
            binds.push(h.clone());
        }
        sql.push_str(" ORDER BY m.created_at DESC, m.id DESC");
        if let Some(limit) = f.limit {
            sql.push_str(&format!(" LIMIT {limit}"));
        }
        let mut q = query(&sql);
        for b in &binds {
            q = q.bind(b);
        }
        let rows = q.fetch_all(self.db()).await?;
        Ok(rows
            .iter()
            .map(|r| MigrationRow {
                id: int(r, "id"),
                migration: migration_row(r),
                old_type_id: r.try_get::<Option<i64>, _>("old_type").ok().flatten(),
                new_type_id: r.try_get::<Option<i64>, _>("new_type").ok().flatten(),
                created_at: time(r, "created_at"),
                updated_at: time(r, "updated_at"),
            })
            .collect())
    }

    /// The migration of an instance in a given status (e.g. the `finished` one to confirm).
    pub async fn migration_in(&self, instance_uuid: &str, status: &str) -> ApiResult<Option<Migration>> {
        let row = query(
            "SELECT uuid, instance_uuid, migration_type, source_compute, dest_compute, old_flavor_id, \
             new_flavor_id, status, user_id, project_id, created_at, updated_at FROM migrations \
             WHERE instance_uuid = ? AND status = ? ORDER BY created_at DESC",
        )
        .bind(instance_uuid)
        .bind(status)
        .fetch_optional(self.db())
        .await?;
        Ok(row.as_ref().map(migration_row))
    }
}

fn migration_row(r: &Row) -> Migration {
    Migration {
        uuid: text(r, "uuid").unwrap_or_default(),
        instance_uuid: text(r, "instance_uuid").unwrap_or_default(),
        migration_type: text(r, "migration_type").unwrap_or_default(),
        source_compute: text(r, "source_compute"),
        dest_compute: text(r, "dest_compute"),
        old_flavor_id: text(r, "old_flavor_id"),
        new_flavor_id: text(r, "new_flavor_id"),
        status: text(r, "status").unwrap_or_default(),
        user_id: text(r, "user_id"),
        project_id: text(r, "project_id"),
    }
}

fn action_row(r: &Row) -> InstanceAction {
    InstanceAction {
        id: text(r, "id").unwrap_or_default(),
        request_id: text(r, "request_id").unwrap_or_default(),
        instance_uuid: text(r, "instance_uuid").unwrap_or_default(),
        action: text(r, "action").unwrap_or_default(),
        user_id: text(r, "user_id"),
        project_id: text(r, "project_id"),
        message: text(r, "message"),
        start_time: time(r, "start_time"),
        updated_at: time(r, "updated_at"),
    }
}

pub(crate) fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

#[derive(Debug, Clone)]
pub struct InstanceAction {
    pub id: String,
    pub request_id: String,
    pub instance_uuid: String,
    pub action: String,
    pub user_id: Option<String>,
    pub project_id: Option<String>,
    pub message: Option<String>,
    pub start_time: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct ActionEvent {
    pub event: String,
    pub host: Option<String>,
    pub result: Option<String>,
    pub details: Option<String>,
    pub start_time: DateTime<Utc>,
    pub finish_time: Option<DateTime<Utc>>,
}

/// What `GET /os-migrations` filters on.
#[derive(Debug, Clone, Default)]
pub struct MigrationFilter {
    pub instance_uuid: Option<String>,
    pub status: Option<String>,
    pub migration_type: Option<String>,
    pub source_compute: Option<String>,
    /// Source or destination.
    pub host: Option<String>,
    pub user_id: Option<String>,
    pub project_id: Option<String>,
    pub limit: Option<u32>,
}

/// A migration as listed: its row id, the flavors' numeric ids, its times.
#[derive(Debug, Clone)]
pub struct MigrationRow {
    pub id: i64,
    pub migration: Migration,
    pub old_type_id: Option<i64>,
    pub new_type_id: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct Migration {
    pub uuid: String,
    pub instance_uuid: String,
    /// `resize` or `migration`.
    pub migration_type: String,
    pub source_compute: Option<String>,
    pub dest_compute: Option<String>,
    pub old_flavor_id: Option<String>,
    pub new_flavor_id: Option<String>,
    pub status: String,
    pub user_id: Option<String>,
    pub project_id: Option<String>,
}

impl Store {
    /// What live servers use on each host: (vcpus, memory_mb, root_gb), for explanations.
    pub async fn host_usage(&self) -> ApiResult<std::collections::HashMap<String, (i64, i64, i64)>> {
        let rows = query(
            "SELECT host, vcpus, memory_mb, root_gb FROM instances WHERE deleted = 0 AND host IS NOT NULL",
        )
        .fetch_all(self.db())
        .await?;
        let mut out: std::collections::HashMap<String, (i64, i64, i64)> = std::collections::HashMap::new();
        for r in &rows {
            let e = out.entry(text(r, "host").unwrap_or_default()).or_default();
            e.0 += int(r, "vcpus");
            e.1 += int(r, "memory_mb");
            e.2 += int(r, "root_gb");
        }
        Ok(out)
    }
}

impl Store {
    /// A deleted server leaves its server group.
    pub async fn remove_group_member(&self, instance_uuid: &str) -> ApiResult<()> {
        query("DELETE FROM server_group_members WHERE instance_uuid = ?")
            .bind(instance_uuid)
            .execute(self.db())
            .await?;
        Ok(())
    }
}

/// The statement that records a new server.
fn create_instance_query(i: &Instance) -> Query {
    let sql = format!(
        "INSERT INTO instances ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, \
         ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    );
    query(&sql)
        .bind(&i.uuid)
        .bind(&i.display_name)
        .bind(&i.hostname)
        .bind(&i.description)
        .bind(&i.project_id)
        .bind(&i.user_id)
        .bind(&i.host)
        .bind(&i.node)
        .bind(&i.availability_zone)
        .bind(&i.requested_availability_zone)
        .bind(to_json(&i.flavor))
        .bind(i.old_flavor.as_ref().map(to_json))
        .bind(i.new_flavor.as_ref().map(to_json))
        .bind(i.flavor.vcpus as i64)
        .bind(i.flavor.memory_mb as i64)
        .bind(i.flavor.root_gb as i64)
        .bind(&i.image_ref)
        .bind(i.image.as_ref().map(to_json))
        .bind(&i.key_name)
        .bind(&i.key_data)
        .bind(&i.user_data)
        .bind(to_json(&i.metadata))
        .bind(to_json(&i.tags))
        .bind(i.vm_state.as_str())
        .bind(i.task_state.map(|t| t.as_str()))
        .bind(i.power_state.code())
        .bind(i.locked as i64)
        .bind(&i.locked_by)
        .bind(&i.locked_reason)
        .bind(&i.access_ip_v4)
        .bind(&i.access_ip_v6)
        .bind(&i.config_drive)
        .bind(i.progress)
        .bind(i.launch_index)
        .bind(&i.reservation_id)
        .bind(&i.server_group)
        .bind(to_json(&i.scheduler_hints))
        .bind(i.launched_at.map(time_string))
        .bind(i.terminated_at.map(time_string))
        .bind(time_string(i.created_at))
        .bind(time_string(i.updated_at))
        .bind(i.deleted_at.map(time_string))
        .bind(i.deleted as i64)
}

/// The conditional update of one instance (see [`Expect`]).
fn update_query(uuid: &str, expect: &Expect, u: &InstanceUpdate) -> Query {
    let mut sets: Vec<String> = vec!["updated_at = ?".into()];
    let mut params: Vec<Param> = vec![Param::Text(Some(stratus_core::db::now_string()))];
    let mut set = |col: &str, p: Param| {
        sets.push(format!("{col} = ?"));
        params.push(p);
    };
    let t = |s: &str| Param::Text(Some(s.to_string()));
    let ot = |s: &Option<String>| Param::Text(s.clone());
    if let Some(v) = u.vm_state {
        set("vm_state", t(v.as_str()));
    }
    if let Some(v) = u.task_state {
        set("task_state", Param::Text(v.map(|t| t.as_str().to_string())));
    }
    if let Some(v) = u.power_state {
        set("power_state", Param::Int(v.code()));
    }
    if let Some(v) = &u.host {
        set("host", ot(v));
    }
    if let Some(v) = &u.node {
        set("node", ot(v));
    }
    if let Some(v) = &u.availability_zone {
        set("availability_zone", ot(v));
    }
    if let Some(f) = &u.flavor {
        set("flavor", t(&to_json(f)));
        set("vcpus", Param::Int(f.vcpus as i64));
        set("memory_mb", Param::Int(f.memory_mb as i64));
        set("root_gb", Param::Int(f.root_gb as i64));
    }
    if let Some(v) = &u.old_flavor {
        set("old_flavor", Param::Text(v.as_ref().map(to_json)));
    }
    if let Some(v) = &u.new_flavor {
        set("new_flavor", Param::Text(v.as_ref().map(to_json)));
    }
    if let Some(v) = &u.image_ref {
        set("image_ref", ot(v));
    }
    if let Some(v) = &u.image {
        set("image", Param::Text(v.as_ref().map(to_json)));
    }
    if let Some(v) = &u.display_name {
        set("display_name", t(v));
    }
    if let Some(v) = &u.hostname {
        set("hostname", t(v));
    }
    if let Some(v) = &u.description {
        set("description", ot(v));
    }
    if let Some(v) = &u.metadata {
        set("metadata", t(&to_json(v)));
    }
    if let Some(v) = &u.tags {
        set("tags", t(&to_json(v)));
    }
    if let Some((locked, by, reason)) = &u.locked {
        set("locked", Param::Int(*locked as i64));
        set("locked_by", ot(by));
        set("locked_reason", ot(reason));
    }
    if let Some(v) = &u.access_ip_v4 {
        set("access_ip_v4", ot(v));
    }
    if let Some(v) = &u.access_ip_v6 {
        set("access_ip_v6", ot(v));
    }
    if let Some(v) = u.progress {
        set("progress", Param::Int(v));
    }
    if let Some(v) = u.launched_at {
        set("launched_at", t(&time_string(v)));
    }
    if let Some(v) = u.terminated_at {
        set("terminated_at", t(&time_string(v)));
    }
    if u.deleted {
        set("deleted", Param::Int(1));
        set("deleted_at", t(&stratus_core::db::now_string()));
        set("vm_state", t(VmState::Deleted.as_str()));
        set("task_state", Param::Text(None));
    }
    let mut sql = format!("UPDATE instances SET {} WHERE uuid = ? AND deleted = 0", sets.join(", "));
    params.push(t(uuid));
    if !expect.vm_states.is_empty() {
        sql.push_str(&format!(" AND vm_state IN ({})", placeholders(expect.vm_states.len())));
        params.extend(expect.vm_states.iter().map(|s| t(s.as_str())));
    }
    if !expect.task_states.is_empty() {
        let named: Vec<&TaskState> = expect.task_states.iter().flatten().collect();
        let none = expect.task_states.iter().any(Option::is_none);
        let mut alts = Vec::new();
        if !named.is_empty() {
            alts.push(format!("task_state IN ({})", placeholders(named.len())));
            params.extend(named.iter().map(|s| t(s.as_str())));
        }
        if none {
            alts.push("task_state IS NULL".to_string());
        }
        sql.push_str(&format!(" AND ({})", alts.join(" OR ")));
    }
    let mut q = query(&sql);
    for p in params {
        q = match p {
            Param::Text(t) => q.bind(t),
            Param::Int(i) => q.bind(i),
        };
    }
    q
}

/// A new instance action: what was asked, by whom.
pub struct NewAction<'a> {
    pub action: &'a str,
    pub request_id: &'a str,
    pub user_id: &'a str,
    pub project_id: &'a str,
}

fn start_action_query(id: &str, uuid: &str, a: NewAction<'_>) -> Query {
    let now = stratus_core::db::now_string();
    query(
        "INSERT INTO instance_actions (id, request_id, instance_uuid, action, user_id, project_id, message, \
         start_time, finish_time, updated_at) VALUES (?, ?, ?, ?, ?, ?, NULL, ?, NULL, ?)",
    )
    .bind(id)
    .bind(a.request_id)
    .bind(uuid)
    .bind(a.action)
    .bind(a.user_id)
    .bind(a.project_id)
    .bind(&now)
    .bind(now)
}

/// A write to an instance action's events, alone or with an instance update
/// ([`Store::update_instance_recording`]).
pub enum EventWrite<'a> {
    /// An event starts now (it is finished later).
    Start { action_id: &'a str, event: &'a str, host: Option<&'a str> },
    /// An event that already ended (`error`: its failure) and, optionally, another that
    /// started with it.
    Ended {
        action_id: &'a str,
        event: &'a str,
        span: (DateTime<Utc>, DateTime<Utc>),
        error: Option<&'a str>,
        started: Option<(&'a str, DateTime<Utc>)>,
    },
    /// Events of an action end now, and the action with them ("Error" on failure).
    Finish { action_id: &'a str, events: &'a [&'a str], error: Option<&'a str> },
}

impl EventWrite<'_> {
    fn queries(&self) -> Vec<Query> {
        match *self {
            EventWrite::Start { action_id, event, host } => vec![query(
                "INSERT INTO instance_action_events (action_id, event, host, result, traceback, details, \
                 start_time, finish_time) VALUES (?, ?, ?, NULL, NULL, NULL, ?, NULL)",
            )
            .bind(action_id)
            .bind(event)
            .bind(host)
            .bind(stratus_core::db::now_string())],
            EventWrite::Ended { action_id, event, span: (start, finish), error, started } => {
                let result = if error.is_some() { "Error" } else { "Success" };
                let mut sql = String::from(
                    "INSERT INTO instance_action_events (action_id, event, host, result, traceback, details, \
                     start_time, finish_time) VALUES (?, ?, NULL, ?, NULL, ?, ?, ?)",
                );
                if started.is_some() {
                    sql.push_str(", (?, ?, NULL, NULL, NULL, NULL, ?, NULL)");
                }
                let mut q = query(&sql)
                    .bind(action_id)
                    .bind(event)
                    .bind(result)
                    .bind(error)
                    .bind(time_string(start))
                    .bind(time_string(finish));
                if let Some((other, at)) = started {
                    q = q.bind(action_id).bind(other).bind(time_string(at));
                }
                vec![q]
            }
            EventWrite::Finish { action_id, events, error } => {
                let now = stratus_core::db::now_string();
                let result = if error.is_some() { "Error" } else { "Success" };
                let marks = vec!["?"; events.len()].join(", ");
                let sql = format!(
                    "UPDATE instance_action_events SET result = ?, details = ?, finish_time = ? \
                     WHERE action_id = ? AND event IN ({marks}) AND finish_time IS NULL"
                );
                let mut q = query(&sql).bind(result).bind(error).bind(&now).bind(action_id);
                for e in events {
                    q = q.bind(*e);
                }
                let action = query(
                    "UPDATE instance_actions SET finish_time = ?, updated_at = ?, message = COALESCE(?, message) \
                     WHERE id = ?",
                )
                .bind(&now)
                .bind(&now)
                .bind(error.is_some().then_some("Error"))
                .bind(action_id);
                vec![q, action]
            }
        }
    }
}
