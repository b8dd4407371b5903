//! `/os-availability-zone` and `/os-availability-zone/detail`.
//!
//! Zones are where services are: a compute service is in its host's zone
//! ([`crate::zones::host_zones`]: an aggregate's `availability_zone`, else the zone the
//! service reported); other services are in nova's `internal` zone, which only the detail
//! shows. A zone is available when one of its services is enabled.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use axum::routing::get;
use axum::{Json, Router};
use chrono::Utc;
use serde_json::{json, Map, Value};
use stratus_core::auth::Authenticated;
use stratus_core::error::ApiResult;

use super::common::nova_time;
use super::State;
use crate::model::Service;
use crate::ComputeService;

/// nova's `internal_service_availability_zone`.
const INTERNAL_ZONE: &str = "internal";
/// nova's `default_availability_zone`.
const DEFAULT_ZONE: &str = "nova";

pub fn routes() -> Router<Arc<ComputeService>> {
    Router::new()
        .route("/os-availability-zone", get(index))
        .route("/os-availability-zone/detail", get(detail))
}

/// Every service with the zone it is in.
async fn zoned_services(s: &ComputeService) -> ApiResult<Vec<(String, Service)>> {
    let zones = crate::zones::host_zones(&s.store).await?;
    let services = s.store.services().await?;
    Ok(services
        .into_iter()
        .map(|svc| {
            let zone = if svc.topic == "compute" || svc.binary == "nova-compute" {
                zones.get(&svc.host).cloned().unwrap_or_else(|| {
                    if svc.availability_zone.is_empty() {
                        DEFAULT_ZONE.to_string()
                    } else {
                        svc.availability_zone.clone()
                    }
                })
            } else {
                INTERNAL_ZONE.to_string()
            };
            (zone, svc)
        })
        .collect())
}

/// (available zones, zones whose services are all disabled), each sorted.
fn split(services: &[(String, Service)]) -> (BTreeSet<String>, BTreeSet<String>) {
    let available: BTreeSet<String> =
        services.iter().filter(|(_, s)| !s.disabled).map(|(z, _)| z.clone()).collect();
    let unavailable = services
        .iter()
        .filter(|(z, s)| s.disabled && !available.contains(z))
        .map(|(z, _)| z.clone())
        .collect();
    (available, unavailable)
}

fn zone(name: &str, available: bool, hosts: Value) -> Value {
    json!({"zoneName": name, "zoneState": {"available": available}, "hosts": hosts})
}

async fn index(s: State, Authenticated(ctx): Authenticated) -> ApiResult<Json<Value>> {
    s.authorize(&ctx, "os_compute_api:os-availability-zone:list", &json!({}))?;
    let services = zoned_services(&s).await?;
    let (available, unavailable) = split(&services);
    let zones: Vec<Value> = available
        .iter()
        .map(|z| (z, true))
        .chain(unavailable.iter().map(|z| (z, false)))
        .filter(|(z, _)| z.as_str() != INTERNAL_ZONE)
        .map(|(z, up)| zone(z, up, Value::Null))
        .collect();
    Ok(Json(json!({ "availabilityZoneInfo": zones })))
}

async fn detail(s: State, Authenticated(ctx): Authenticated) -> ApiResult<Json<Value>> {
    s.authorize(&ctx, "os_compute_api:os-availability-zone:detail", &json!({}))?;
    let services = zoned_services(&s).await?;
    let (available, unavailable) = split(&services);
    let now = Utc::now();
    let down_after = s.config.compute.service_down_time;
    // zone → host → binary → state, for the enabled services.
    let mut hosts: BTreeMap<&str, BTreeMap<&str, Map<String, Value>>> = BTreeMap::new();
    for (z, svc) in services.iter().filter(|(_, svc)| !svc.disabled) {
        let updated = svc.last_seen_up.unwrap_or(svc.updated_at);
        hosts.entry(z.as_str()).or_default().entry(svc.host.as_str()).or_default().insert(
            svc.binary.clone(),
            json!({"available": svc.is_up(now, down_after), "active": true, "updated_at": nova_time(updated)}),
        );
    }
    let mut zones: Vec<Value> = available
        .iter()
        .map(|z| zone(z, true, json!(hosts.get(z.as_str()).cloned().unwrap_or_default())))
        .collect();
    zones.extend(unavailable.iter().map(|z| zone(z, false, Value::Null)));
    Ok(Json(json!({ "availabilityZoneInfo": zones })))
}
