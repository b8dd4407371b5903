//! `/os-quota-class-sets/{class}` (show, update): the `default` class holds every project's
//! default limits (`openstack quota set --class default --instances 20`); as in nova, other
//! classes may be set and shown but nothing uses them.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::Path;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use stratus_core::auth::Authenticated;
use stratus_core::error::ApiResult;
use stratus_core::http::microversion::Version;
use stratus_core::http::Json as JsonBody;

use super::quotas::{parse_limits, wrapped};
use super::State;
use crate::quota::{self, FILE_RESOURCES, RESOURCES};
use crate::ComputeService;

pub fn routes() -> Router<Arc<ComputeService>> {
    Router::new().route("/os-quota-class-sets/{id}", get(show).put(update))
}

/// What a quota class set shows at this microversion: before 2.50 nova-network's resources
/// and no server group ones, from 2.50 the server group ones, from 2.57 no personality files.
fn shown(version: Version) -> Vec<&'static str> {
    let before_2_50 = ["floating_ips", "fixed_ips", "security_groups", "security_group_rules"];
    RESOURCES
        .iter()
        .copied()
        .filter(|r| {
            if version.at_least(2, 50) {
                !(before_2_50.contains(r) || version.at_least(2, 57) && FILE_RESOURCES.contains(r))
            } else {
                !r.starts_with("server_group")
            }
        })
        .collect()
}

fn render(class: &str, limits: &BTreeMap<&'static str, i64>, version: Version, with_id: bool) -> Value {
    let values = shown(version).into_iter().map(|r| (r, json!(limits[r])));
    wrapped("quota_class_set", with_id.then_some(class), values)
}

async fn show(
    s: State,
    Authenticated(ctx): Authenticated,
    version: Version,
    Path(class): Path<String>,
) -> ApiResult<Json<Value>> {
    s.authorize(&ctx, "os_compute_api:os-quota-class-sets:show", &json!({"quota_class": class}))?;
    let limits = quota::class_limits(&s.store, &s.config.compute, &class).await?;
    Ok(Json(render(&class, &limits, version, true)))
}

async fn update(
    s: State,
    Authenticated(ctx): Authenticated,
    version: Version,
    Path(class): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Json<Value>> {
    s.authorize(&ctx, "os_compute_api:os-quota-class-sets:update", &json!({"quota_class": class}))?;
    let (limits, _) = parse_limits(body, "quota_class_set", &shown(version), version)?;
    let limits: BTreeMap<String, i64> = limits.iter().map(|(k, v)| (k.to_string(), *v)).collect();
    s.store.set_quota_class_limits(&class, &limits).await?;
    let now = quota::class_limits(&s.store, &s.config.compute, &class).await?;
    // As nova: the update's answer has no `id`.
    Ok(Json(render(&class, &now, version, false)))
}
