//! `/os-quota-sets/{project_id}` (show, update, revert to defaults), its `/detail` (with
//! usage) and `/defaults`.
//!
//! Which resources a quota set shows depends on the microversion: the nova-network ones go
//! at 2.36, the personality-file ones at 2.57. Quotas are per project; per-user quotas
//! (`?user_id=`) are not kept, so a user's quotas are the project's.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Map, Value};
use stratus_core::auth::Authenticated;
use stratus_core::error::{ApiError, ApiResult};
use stratus_core::http::microversion::Version;
use stratus_core::http::Json as JsonBody;

use super::common::{invalid_field, parse_bool, validate_integer, QueryParams};
use super::State;
use crate::quota::{self, FILE_RESOURCES, NETWORK_RESOURCES, RESOURCES};
use crate::ComputeService;

pub fn routes() -> Router<Arc<ComputeService>> {
    Router::new()
        .route("/os-quota-sets/{id}", get(show).put(update).delete(revert))
        .route("/os-quota-sets/{id}/detail", get(detail))
        .route("/os-quota-sets/{id}/defaults", get(defaults))
}

/// The resources a quota set shows at this microversion.
fn shown(version: Version) -> impl Iterator<Item = &'static str> {
    RESOURCES.iter().copied().filter(move |r| {
        !(version.at_least(2, 36) && NETWORK_RESOURCES.contains(r)
            || version.at_least(2, 57) && FILE_RESOURCES.contains(r))
    })
}

fn quota_set(project_id: Option<&str>, values: impl Iterator<Item = (&'static str, Value)>) -> Value {
    wrapped("quota_set", project_id, values)
}

/// `{"<wrapper>": {"id": …, resource: value, …}}` (no `id` when `id` is None).
pub(super) fn wrapped(
    wrapper: &str,
    id: Option<&str>,
    values: impl Iterator<Item = (&'static str, Value)>,
) -> Value {
    let mut set = Map::new();
    if let Some(id) = id {
        set.insert("id".into(), json!(id));
    }
    for (k, v) in values {
        set.insert(k.into(), v);
    }
    json!({ wrapper: set })
}

fn target(project_id: &str) -> Value {
    json!({ "project_id": project_id })
}

async fn show(
    s: State,
    Authenticated(ctx): Authenticated,
    version: Version,
    Path(id): Path<String>,
    q: QueryParams,
) -> ApiResult<Json<Value>> {
    q.only(version, &["user_id"])?;
    s.authorize(&ctx, "os_compute_api:os-quota-sets:show", &target(&id))?;
    let limits = quota::project_limits(&s.store, &s.config.compute, &id).await?;
    Ok(Json(quota_set(Some(&id), shown(version).map(|r| (r, json!(limits[r]))))))
}

async fn detail(
    s: State,
    Authenticated(ctx): Authenticated,
    version: Version,
    Path(id): Path<String>,
    q: QueryParams,
) -> ApiResult<Json<Value>> {
    q.only(version, &["user_id"])?;
    s.authorize(&ctx, "os_compute_api:os-quota-sets:detail", &target(&id))?;
    let l = quota::limits(&s.store, &s.config, &id).await?;
    Ok(Json(quota_set(
        Some(&id),
        shown(version).map(|r| (r, json!({"limit": l.limit[r], "in_use": l.in_use[r], "reserved": 0}))),
    )))
}

async fn defaults(
    s: State,
    Authenticated(ctx): Authenticated,
    version: Version,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    s.authorize(&ctx, "os_compute_api:os-quota-sets:defaults", &target(&id))?;
    let d = quota::class_defaults(&s.store, &s.config.compute).await?;
    Ok(Json(quota_set(Some(&id), shown(version).map(|r| (r, json!(d[r]))))))
}

/// The limits a `PUT` body sets, checked as nova's schema for the microversion: integers
/// (or strings of one) from -1 to 2^31-1, only resources the version shows, and `force`.
fn parse_update(body: Value, version: Version) -> ApiResult<(BTreeMap<&'static str, i64>, bool)> {
    parse_limits(body, "quota_set", &shown(version).collect::<Vec<_>>(), version)
}

/// The limits of a `{"<wrapper>": {resource: limit, …}}` body, each resource one of `settable`.
pub(super) fn parse_limits(
    body: Value,
    wrapper: &str,
    settable: &[&'static str],
    version: Version,
) -> ApiResult<(BTreeMap<&'static str, i64>, bool)> {
    let Value::Object(mut outer) = body else {
        return Err(ApiError::bad_request("The request body must be a JSON object."));
    };
    let Some(Value::Object(set)) = outer.remove(wrapper) else {
        return Err(invalid_field(
            wrapper,
            &format!("'{wrapper}' is a required property and must be an object"),
        ));
    };
    if let Some(k) = outer.keys().next() {
        return Err(invalid_field(
            "",
            &format!("Additional properties are not allowed ('{k}' was unexpected)"),
        ));
    }
    let mut limits = BTreeMap::new();
    let mut force = false;
    for (k, v) in set {
        if k == "force" && wrapper == "quota_set" {
            force = parse_bool(&v, "force")?;
            continue;
        }
        if k == "networks" && !version.at_least(2, 36) {
            return Err(ApiError::bad_request("The networks quota has been removed"));
        }
        let Some(resource) = settable.iter().copied().find(|r| *r == k) else {
            return Err(invalid_field(
                wrapper,
                &format!("Additional properties are not allowed ('{k}' was unexpected)"),
            ));
        };
        if let Value::String(s) = &v {
            let digits = s.strip_prefix('-').unwrap_or(s);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid_field(&k, &format!("Value: {s}. It must be an integer.")));
            }
        }
        limits.insert(resource, validate_integer(&v, &k, -1, 0x7FFF_FFFF)?);
    }
    Ok((limits, force))
}

async fn update(
    s: State,
    Authenticated(ctx): Authenticated,
    version: Version,
    Path(id): Path<String>,
    q: QueryParams,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Json<Value>> {
    q.only(version, &["user_id"])?;
    let (limits, force) = parse_update(body, version)?;
    s.authorize(&ctx, "os_compute_api:os-quota-sets:update", &target(&id))?;
    if q.get("user_id").is_some() {
        return Err(ApiError::bad_request("Per-user quotas are not supported: set the project's quotas."));
    }
    {
        let _quota = s.quota_lock.lock().await;
        if !force {
            // A limit may not go below what the project already uses.
            let in_use = quota::project_usage(&s.store, &id).await?;
            for (r, limit) in &limits {
                if *limit != -1 && *limit < in_use[r] {
                    return Err(ApiError::bad_request(format!(
                        "Quota limit {limit} for {r} must be greater than or equal to already used and reserved {}.",
                        in_use[r]
                    )));
                }
            }
        }
        let limits: BTreeMap<String, i64> = limits.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        s.store.set_quota_limits(&id, &limits).await?;
    }
    let now = quota::project_limits(&s.store, &s.config.compute, &id).await?;
    Ok(Json(quota_set(None, shown(version).map(|r| (r, json!(now[r]))))))
}

async fn revert(
    s: State,
    Authenticated(ctx): Authenticated,
    version: Version,
    Path(id): Path<String>,
    q: QueryParams,
) -> ApiResult<StatusCode> {
    q.only(version, &["user_id"])?;
    s.authorize(&ctx, "os_compute_api:os-quota-sets:delete", &target(&id))?;
    if q.get("user_id").is_none() {
        s.store.delete_quota_limits(&id).await?;
    }
    Ok(StatusCode::ACCEPTED)
}
