//! Services (`nova-compute` agents and their heartbeats) and compute nodes (hypervisors).

use stratus_core::db::{int, is_unique_violation, now_string, query, text, Row};
use stratus_core::error::{ApiError, ApiResult};

use super::{next_id, opt_time, time, Store};
use crate::model::{ComputeNode, Service};

const SERVICE_COLUMNS: &str =
    "id, uuid, host, service_binary, topic, availability_zone, disabled, disabled_reason, \
    forced_down, last_seen_up, created_at, updated_at";
const NODE_COLUMNS: &str =
    "id, uuid, host, hypervisor_hostname, hypervisor_type, hypervisor_version, vcpus, \
    memory_mb, local_gb, cpu_arch, vm_modes, host_ip";

fn service_row(r: &Row) -> Service {
    Service {
        id: int(r, "id"),
        uuid: text(r, "uuid").unwrap_or_default(),
        host: text(r, "host").unwrap_or_default(),
        binary: text(r, "service_binary").unwrap_or_default(),
        topic: text(r, "topic").unwrap_or_default(),
        availability_zone: text(r, "availability_zone").unwrap_or_default(),
        disabled: int(r, "disabled") != 0,
        disabled_reason: text(r, "disabled_reason"),
        forced_down: int(r, "forced_down") != 0,
        last_seen_up: opt_time(r, "last_seen_up"),
        created_at: time(r, "created_at"),
        updated_at: time(r, "updated_at"),
    }
}

fn node_row(r: &Row) -> ComputeNode {
    ComputeNode {
        id: int(r, "id"),
        uuid: text(r, "uuid").unwrap_or_default(),
        host: text(r, "host").unwrap_or_default(),
        hypervisor_hostname: text(r, "hypervisor_hostname").unwrap_or_default(),
        hypervisor_type: text(r, "hypervisor_type").unwrap_or_default(),
        hypervisor_version: int(r, "hypervisor_version"),
        vcpus: int(r, "vcpus"),
        memory_mb: int(r, "memory_mb"),
        local_gb: int(r, "local_gb"),
        cpu_arch: text(r, "cpu_arch").unwrap_or_default(),
        vm_modes: text(r, "vm_modes")
            .unwrap_or_default()
            .split(',')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
        host_ip: text(r, "host_ip").unwrap_or_default(),
    }
}

impl Store {
    pub async fn services(&self) -> ApiResult<Vec<Service>> {
        let sql = format!("SELECT {SERVICE_COLUMNS} FROM services ORDER BY id");
        let rows = query(&sql).fetch_all(self.db()).await?;
        Ok(rows.iter().map(service_row).collect())
    }

    pub async fn service(&self, id: &str) -> ApiResult<Option<Service>> {
        let sql = format!("SELECT {SERVICE_COLUMNS} FROM services WHERE uuid = ? OR CAST(id AS CHAR) = ?");
        let row = query(&sql).bind(id).bind(id).fetch_optional(self.db()).await?;
        Ok(row.as_ref().map(service_row))
    }

    pub async fn service_by_host(&self, host: &str, binary: &str) -> ApiResult<Option<Service>> {
        let sql = format!("SELECT {SERVICE_COLUMNS} FROM services WHERE host = ? AND service_binary = ?");
        let row = query(&sql).bind(host).bind(binary).fetch_optional(self.db()).await?;
        Ok(row.as_ref().map(service_row))
    }

    /// Registration and heartbeat: creates the service on first report, then refreshes
    /// `last_seen_up`. Returns the service.
    pub async fn report_service(
        &self,
        host: &str,
        binary: &str,
        topic: &str,
        zone: &str,
    ) -> ApiResult<Service> {
        let now = now_string();
        let updated = query(
            "UPDATE services SET last_seen_up = ?, updated_at = ?, report_count = report_count + 1 \
             WHERE host = ? AND service_binary = ?",
        )
        .bind(&now)
        .bind(&now)
        .bind(host)
        .bind(binary)
        .execute(self.db())
        .await?;
        if updated.rows_affected() == 0 {
            for _ in 0..5 {
                let mut tx = self.db().begin().await?;
                let id = next_id(&mut tx, "services").await?;
                let r = query(
                    "INSERT INTO services (id, uuid, host, service_binary, topic, availability_zone, disabled, \
                     disabled_reason, forced_down, report_count, last_seen_up, created_at, updated_at) \
                     VALUES (?, ?, ?, ?, ?, ?, 0, NULL, 0, 1, ?, ?, ?)",
                )
                .bind(id)
                .bind(uuid::Uuid::new_v4().to_string())
                .bind(host)
                .bind(binary)
                .bind(topic)
                .bind(zone)
                .bind(&now)
                .bind(&now)
                .bind(&now)
                .execute(&mut *tx)
                .await;
                match r {
                    Ok(_) => {
                        tx.commit().await?;
                        break;
                    }
                    Err(e) if is_unique_violation(&e) => continue,
                    Err(e) => return Err(e.into()),
                }
            }
        }
        self.service_by_host(host, binary).await?.ok_or_else(|| ApiError::internal("service vanished"))
    }

    pub async fn set_service_status(
        &self,
        uuid: &str,
        disabled: Option<(bool, Option<String>)>,
        forced_down: Option<bool>,
    ) -> ApiResult<()> {
        if let Some((disabled, reason)) = disabled {
            query("UPDATE services SET disabled = ?, disabled_reason = ?, updated_at = ? WHERE uuid = ?")
                .bind(disabled as i64)
                .bind(reason)
                .bind(now_string())
                .bind(uuid)
                .execute(self.db())
                .await?;
        }
        if let Some(down) = forced_down {
            query("UPDATE services SET forced_down = ?, updated_at = ? WHERE uuid = ?")
                .bind(down as i64)
                .bind(now_string())
                .bind(uuid)
                .execute(self.db())
                .await?;
        }
        Ok(())
    }

    pub async fn delete_service(&self, uuid: &str) -> ApiResult<()> {
        let svc = self.service(uuid).await?;
        query("DELETE FROM services WHERE uuid = ?").bind(uuid).execute(self.db()).await?;
        if let Some(svc) = svc {
            query("DELETE FROM compute_nodes WHERE host = ?").bind(&svc.host).execute(self.db()).await?;
        }
        Ok(())
    }

    pub async fn compute_nodes(&self) -> ApiResult<Vec<ComputeNode>> {
        let sql = format!("SELECT {NODE_COLUMNS} FROM compute_nodes ORDER BY id");
        let rows = query(&sql).fetch_all(self.db()).await?;
        Ok(rows.iter().map(node_row).collect())
    }

    pub async fn compute_node(&self, id: &str) -> ApiResult<Option<ComputeNode>> {
        let sql = format!("SELECT {NODE_COLUMNS} FROM compute_nodes WHERE uuid = ? OR CAST(id AS CHAR) = ?");
        let row = query(&sql).bind(id).bind(id).fetch_optional(self.db()).await?;
        Ok(row.as_ref().map(node_row))
    }

    /// Records what a node reported; true if anything changed (or it is new).
    pub async fn upsert_compute_node(&self, n: &ComputeNode) -> ApiResult<bool> {
        let now = now_string();
        let modes = n.vm_modes.join(",");
        if let Some(old) = self.compute_node(&n.uuid).await? {
            let same = ComputeNode { id: old.id, ..n.clone() } == old;
            if same {
                return Ok(false);
            }
            query(
                "UPDATE compute_nodes SET host = ?, hypervisor_hostname = ?, hypervisor_type = ?, \
                 hypervisor_version = ?, vcpus = ?, memory_mb = ?, local_gb = ?, cpu_arch = ?, vm_modes = ?, \
                 host_ip = ?, updated_at = ? WHERE uuid = ?",
            )
            .bind(&n.host)
            .bind(&n.hypervisor_hostname)
            .bind(&n.hypervisor_type)
            .bind(n.hypervisor_version)
            .bind(n.vcpus)
            .bind(n.memory_mb)
            .bind(n.local_gb)
            .bind(&n.cpu_arch)
            .bind(&modes)
            .bind(&n.host_ip)
            .bind(&now)
            .bind(&n.uuid)
            .execute(self.db())
            .await?;
            return Ok(true);
        }
        for _ in 0..5 {
            let mut tx = self.db().begin().await?;
            let id = next_id(&mut tx, "compute_nodes").await?;
            let r = query(
                "INSERT INTO compute_nodes (id, uuid, host, hypervisor_hostname, hypervisor_type, \
                 hypervisor_version, vcpus, memory_mb, local_gb, cpu_arch, vm_modes, host_ip, created_at, \
                 updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(id)
            .bind(&n.uuid)
            .bind(&n.host)
            .bind(&n.hypervisor_hostname)
            .bind(&n.hypervisor_type)
            .bind(n.hypervisor_version)
            .bind(n.vcpus)
            .bind(n.memory_mb)
            .bind(n.local_gb)
            .bind(&n.cpu_arch)
            .bind(&modes)
            .bind(&n.host_ip)
            .bind(&now)
            .bind(&now)
            .execute(&mut *tx)
            .await;
            match r {
                Ok(_) => {
                    tx.commit().await?;
                    return Ok(true);
                }
                Err(e) if is_unique_violation(&e) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ApiError::internal("could not allocate a compute node id"))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use stratus_core::db::Db;

    use super::*;

    /// A thousand fake hosts register at once under `stratus up --fake-hosts`: every one must
    /// get its service row and an id of its own (the ids are allocated `MAX(id) + 1`).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn hosts_registering_at_once_each_get_a_service_of_their_own() {
        let dir = std::env::temp_dir().join(format!("stratus-compute-{}", uuid::Uuid::new_v4()));
        let db = Db::connect(&format!("sqlite://{}/compute.db?mode=rwc", dir.display())).await.unwrap();
        let store = Store::open(db).await.unwrap();
        let tasks: Vec<_> = (0..64)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    store.report_service(&format!("host-{i}"), "nova-compute", "compute", "nova").await
                })
            })
            .collect();
        let mut ids = BTreeSet::new();
        for t in tasks {
            let service = t.await.unwrap().expect("registration failed");
            ids.insert(service.id);
        }
        assert_eq!(ids.len(), 64);
        assert_eq!(store.services().await.unwrap().len(), 64);
        std::fs::remove_dir_all(dir).ok();
    }
}
