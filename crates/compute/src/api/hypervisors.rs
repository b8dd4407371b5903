//! `/os-hypervisors`: the compute nodes, their size and use; statistics (before 2.88).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query};
use axum::routing::get;
use axum::Router;
use chrono::Utc;
use serde_json::{json, Value};
use stratus_core::auth::Authenticated;
use stratus_core::error::{ApiError, ApiResult};
use stratus_core::http::microversion::Version;

use super::State;
use crate::model::ComputeNode;
use crate::ComputeService;

pub fn routes() -> Router<Arc<ComputeService>> {
    Router::new()
        .route("/os-hypervisors", get(list))
        .route("/os-hypervisors/detail", get(detail))
        .route("/os-hypervisors/statistics", get(statistics))
        .route("/os-hypervisors/{id}", get(show))
}

struct Row {
    node: ComputeNode,
    up: bool,
    enabled: bool,
    service_id: Value,
    disabled_reason: Option<String>,
    used: (i64, i64, i64),
    running: i64,
}

async fn rows(service: &ComputeService, v: Version) -> ApiResult<Vec<Row>> {
    let services = service.store.services().await?;
    let usage = service.store.host_usage().await?;
    let mut running: HashMap<String, i64> = HashMap::new();
    for (host, _) in usage.iter() {
        running.insert(host.clone(), service.store.instances_on_host(host).await?.len() as i64);
    }
    let now = Utc::now();
    Ok(service
        .store
        .compute_nodes()
        .await?
        .into_iter()
        .filter_map(|n| {
            let s = services.iter().find(|s| s.host == n.host && s.binary == "nova-compute")?;
            Some(Row {
                up: s.is_up(now, service.config.compute.service_down_time),
                enabled: !s.disabled,
                service_id: if v.at_least(2, 53) { json!(s.uuid) } else { json!(s.id) },
                disabled_reason: s.disabled_reason.clone(),
                used: usage.get(&n.host).copied().unwrap_or_default(),
                running: running.get(&n.host).copied().unwrap_or(0),
                node: n,
            })
        })
        .collect())
}

fn render(r: &Row, v: Version, detail: bool) -> Value {
    let n = &r.node;
    let mut h = json!({
        "id": if v.at_least(2, 53) { json!(n.uuid) } else { json!(n.id) },
        "hypervisor_hostname": n.hypervisor_hostname,
        "state": if r.up { "up" } else { "down" },
        "status": if r.enabled { "enabled" } else { "disabled" },
    });
    if detail {
        let o = h.as_object_mut().expect("object");
        o.insert("hypervisor_type".into(), json!(n.hypervisor_type));
        o.insert("hypervisor_version".into(), json!(n.hypervisor_version));
        o.insert("host_ip".into(), json!(n.host_ip));
        o.insert(
            "service".into(),
            json!({"id": r.service_id, "host": n.host, "disabled_reason": r.disabled_reason}),
        );
        if !v.at_least(2, 88) {
            o.insert("vcpus".into(), json!(n.vcpus));
            o.insert("memory_mb".into(), json!(n.memory_mb));
            o.insert("local_gb".into(), json!(n.local_gb));
            o.insert("vcpus_used".into(), json!(r.used.0));
            o.insert("memory_mb_used".into(), json!(r.used.1));
            o.insert("local_gb_used".into(), json!(r.used.2));
            o.insert("free_ram_mb".into(), json!(n.memory_mb - r.used.1));
            o.insert("free_disk_gb".into(), json!(n.local_gb - r.used.2));
            o.insert("running_vms".into(), json!(r.running));
            o.insert("current_workload".into(), json!(0));
            o.insert("disk_available_least".into(), json!(n.local_gb - r.used.2));
            o.insert("cpu_info".into(), json!(json!({"arch": n.cpu_arch}).to_string()));
        } else {
            o.insert("uptime".into(), Value::Null);
        }
    }
    h
}

async fn list(
    service: State,
    Authenticated(ctx): Authenticated,
    v: Version,
    Query(q): Query<Vec<(String, String)>>,
) -> ApiResult<axum::Json<Value>> {
    service.authorize(&ctx, "os_compute_api:os-hypervisors:list", &json!({}))?;
    let pattern = q.iter().find(|(k, _)| k == "hypervisor_hostname_pattern").map(|(_, v)| v.clone());
    let list: Vec<Value> = rows(&service, v)
        .await?
        .iter()
        .filter(|r| pattern.as_ref().is_none_or(|p| r.node.hypervisor_hostname.contains(p.as_str())))
        .map(|r| render(r, v, false))
        .collect();
    Ok(axum::Json(json!({"hypervisors": list})))
}

async fn detail(
    service: State,
    Authenticated(ctx): Authenticated,
    v: Version,
) -> ApiResult<axum::Json<Value>> {
    service.authorize(&ctx, "os_compute_api:os-hypervisors:list-detail", &json!({}))?;
    let list: Vec<Value> = rows(&service, v).await?.iter().map(|r| render(r, v, true)).collect();
    Ok(axum::Json(json!({"hypervisors": list})))
}

async fn show(
    service: State,
    Authenticated(ctx): Authenticated,
    v: Version,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<Value>> {
    service.authorize(&ctx, "os_compute_api:os-hypervisors:show", &json!({}))?;
    let all = rows(&service, v).await?;
    let r = all
        .iter()
        .find(|r| r.node.uuid == id || r.node.id.to_string() == id)
        .ok_or_else(|| ApiError::not_found(format!("Hypervisor with ID {id} could not be found.")))?;
    Ok(axum::Json(json!({"hypervisor": render(r, v, true)})))
}

async fn statistics(
    service: State,
    Authenticated(ctx): Authenticated,
    v: Version,
) -> ApiResult<axum::Json<Value>> {
    service.authorize(&ctx, "os_compute_api:os-hypervisors:statistics", &json!({}))?;
    if v.at_least(2, 88) {
        return Err(ApiError::not_found(
            "The statistics API was removed in microversion 2.88; use placement.",
        ));
    }
    let all = rows(&service, v).await?;
    let sum = |f: &dyn Fn(&Row) -> i64| all.iter().map(f).sum::<i64>();
    Ok(axum::Json(json!({"hypervisor_statistics": {
        "count": all.len(),
        "vcpus": sum(&|r| r.node.vcpus),
        "memory_mb": sum(&|r| r.node.memory_mb),
        "local_gb": sum(&|r| r.node.local_gb),
        "vcpus_used": sum(&|r| r.used.0),
        "memory_mb_used": sum(&|r| r.used.1),
        "local_gb_used": sum(&|r| r.used.2),
        "free_ram_mb": sum(&|r| r.node.memory_mb - r.used.1),
        "free_disk_gb": sum(&|r| r.node.local_gb - r.used.2),
        "running_vms": sum(&|r| r.running),
        "current_workload": 0,
        "disk_available_least": sum(&|r| r.node.local_gb - r.used.2),
    }})))
}
