//! `/os-services`: the compute services with their state; enable, disable, force down.

use std::sync::Arc;

use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::Router;
use chrono::Utc;
use serde_json::{json, Value};
use stratus_core::auth::Authenticated;
use stratus_core::error::{ApiError, ApiResult};
use stratus_core::http::microversion::Version;
use stratus_core::http::Json as JsonBody;

use super::common::nova_time;
use super::State;
use crate::model::Service;
use crate::ComputeService;

pub fn routes() -> Router<Arc<ComputeService>> {
    Router::new().route("/os-services", get(list)).route("/os-services/{id}", put(update).delete(delete))
}

fn render(service: &ComputeService, s: &Service, v: Version, zone: &str) -> Value {
    let up = s.is_up(Utc::now(), service.config.compute.service_down_time);
    let mut body = json!({
        "id": if v.at_least(2, 53) { json!(s.uuid) } else { json!(s.id) },
        "binary": s.binary,
        "host": s.host,
        "zone": zone,
        "status": if s.disabled { "disabled" } else { "enabled" },
        "state": if up { "up" } else { "down" },
        "updated_at": s.last_seen_up.map(nova_time),
        "disabled_reason": s.disabled_reason,
    });
    if v.at_least(2, 11) {
        body["forced_down"] = json!(s.forced_down);
    }
    body
}

async fn list(
    service: State,
    Authenticated(ctx): Authenticated,
    v: Version,
    Query(q): Query<Vec<(String, String)>>,
) -> ApiResult<axum::Json<Value>> {
    service.authorize(&ctx, "os_compute_api:os-services:list", &json!({}))?;
    let zones = crate::zones::host_zones(&service.store).await?;
    let get = |k: &str| q.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
    let services: Vec<Value> = service
        .store
        .services()
        .await?
        .iter()
        .filter(|s| get("host").is_none_or(|h| h == s.host))
        .filter(|s| get("binary").is_none_or(|b| b == s.binary))
        .map(|s| render(&service, s, v, zones.get(&s.host).unwrap_or(&s.availability_zone)))
        .collect();
    Ok(axum::Json(json!({"services": services})))
}

async fn update(
    service: State,
    Authenticated(ctx): Authenticated,
    v: Version,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<axum::Json<Value>> {
    service.authorize(&ctx, "os_compute_api:os-services:update", &json!({}))?;
    if !v.at_least(2, 53) {
        return Err(ApiError::not_found("Use microversion 2.53 or later to update a service by id."));
    }
    let s = service
        .store
        .service(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("Service {id} could not be found.")))?;
    let status = body.get("status").and_then(Value::as_str);
    let reason = body.get("disabled_reason").and_then(Value::as_str).map(str::to_string);
    let forced = body.get("forced_down").and_then(Value::as_bool);
    if status.is_none() && forced.is_none() {
        return Err(ApiError::bad_request("Give 'status' and/or 'forced_down'."));
    }
    let disabled = match status {
        Some("enabled") => Some((false, None)),
        Some("disabled") => Some((true, reason)),
        Some(other) => {
            return Err(ApiError::bad_request(format!("Invalid status '{other}': enabled or disabled")))
        }
        None if reason.is_some() => {
            return Err(ApiError::bad_request("disabled_reason needs status 'disabled'"))
        }
        None => None,
    };
    service.store.set_service_status(&s.uuid, disabled, forced).await?;
    service.hosts_changed();
    let s = service.store.service(&s.uuid).await?.ok_or_else(|| ApiError::not_found("gone"))?;
    let zone = crate::zones::zone_of_host(&service.store, &s.host).await?;
    Ok(axum::Json(json!({"service": render(&service, &s, v, &zone)})))
}

async fn delete(
    service: State,
    Authenticated(ctx): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    service.authorize(&ctx, "os_compute_api:os-services:delete", &json!({}))?;
    let s = service
        .store
        .service(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("Service {id} could not be found.")))?;
    if !service.store.instances_on_host(&s.host).await?.is_empty() {
        return Err(ApiError::conflict(format!(
            "Unable to delete compute service that is hosting instances ({}).",
            s.host
        )));
    }
    service.store.delete_service(&s.uuid).await?;
    let _ = service.placement.delete_provider(&stratus_compute_agent::provider_uuid(&s.host)).await;
    service.hosts_changed();
    Ok(StatusCode::NO_CONTENT)
}
