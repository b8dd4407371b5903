//! `/resource_providers/{uuid}/inventories[/{resource_class}]`.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::{json, Map, Value};
use stratus_core::auth::Authenticated;
use stratus_core::error::{ApiError, ApiResult};
use stratus_core::http::microversion::Version;
use stratus_core::http::Json;

use super::{int, int_in, invalid, json as respond, keys, no_content, object, ok, path_uuid, State};
use crate::model::{is_rc_or_trait_name, Inventory, MAX_INT, MAX_RATIO};

pub fn routes() -> Router<std::sync::Arc<crate::service::PlacementService>> {
    Router::new()
        .route(
            "/resource_providers/{uuid}/inventories",
            get(list).post(create).put(set_all).delete(delete_all),
        )
        .route(
            "/resource_providers/{uuid}/inventories/{resource_class}",
            get(show).put(update).delete(delete_one),
        )
}

pub fn render(i: &Inventory) -> Value {
    json!({
        "total": i.total,
        "reserved": i.reserved,
        "min_unit": i.min_unit,
        "max_unit": i.max_unit,
        "step_size": i.step_size,
        "allocation_ratio": i.allocation_ratio,
    })
}

fn render_all(generation: i64, inventories: &[Inventory]) -> Value {
    let map: Map<String, Value> = inventories.iter().map(|i| (i.resource_class.clone(), render(i))).collect();
    json!({"resource_provider_generation": generation, "inventories": map})
}

fn render_one(generation: i64, i: &Inventory) -> Value {
    let mut body = render(i);
    body["resource_provider_generation"] = json!(generation);
    body
}

/// One inventory record from a body, with placement's defaults.
pub fn read_inventory(
    rc: &str,
    m: &Map<String, Value>,
    extra: &[&str],
    required: &[&str],
) -> ApiResult<Inventory> {
    let mut allowed = vec!["total", "reserved", "min_unit", "max_unit", "step_size", "allocation_ratio"];
    allowed.extend_from_slice(extra);
    keys(m, &allowed, required)?;
    let get = |k: &str, min: i64, default: i64| match m.get(k) {
        Some(v) => int_in(v, k, min, MAX_INT),
        None => Ok(default),
    };
    let ratio = match m.get("allocation_ratio") {
        None => 1.0,
        Some(v) => {
            let r = v
                .as_f64()
                .ok_or_else(|| invalid(format!("{v} is not of type 'number' (allocation_ratio)")))?;
            if r > MAX_RATIO {
                return Err(invalid(format!(
                    "{r} is greater than the maximum of {MAX_RATIO} (allocation_ratio)"
                )));
            }
            r
        }
    };
    Ok(Inventory {
        resource_class: rc.to_string(),
        total: get("total", 1, 0)?,
        reserved: get("reserved", 0, 0)?,
        min_unit: get("min_unit", 1, 1)?,
        max_unit: get("max_unit", 1, MAX_INT)?,
        step_size: get("step_size", 1, 1)?,
        allocation_ratio: ratio,
        used: 0,
    })
}

/// Capacity must be positive (from 1.26: not negative, so reserved may equal total).
pub fn check_capacity(uuid: &str, i: &Inventory, v: Version, action: &str) -> ApiResult<()> {
    let capacity = i.capacity();
    let bad = if v.at_least(1, 26) { capacity < 0 } else { capacity <= 0 };
    if bad {
        let what = if v.at_least(1, 26) { "greater than" } else { "greater than or equal to" };
        return Err(ApiError::bad_request(format!(
            "Unable to {action} inventory for resource provider {uuid}: Invalid inventory for '{}' on resource \
             provider '{uuid}'. The reserved value is {what} total.",
            i.resource_class
        )));
    }
    Ok(())
}

async fn list(s: State, Authenticated(ctx): Authenticated, Path(uuid): Path<String>) -> ApiResult<Response> {
    s.can(&ctx, "placement:resource_providers:inventories:list")?;
    let (p, inv) = s.inventories(&path_uuid(&uuid)).await?;
    Ok(ok(&render_all(p.generation, &inv)))
}

async fn show(
    s: State,
    Authenticated(ctx): Authenticated,
    Path((uuid, rc)): Path<(String, String)>,
) -> ApiResult<Response> {
    s.can(&ctx, "placement:resource_providers:inventories:show")?;
    let uuid = path_uuid(&uuid);
    let (p, inv) = s.inventories(&uuid).await?;
    let i = inv
        .iter()
        .find(|i| i.resource_class == rc)
        .ok_or_else(|| ApiError::not_found(format!("No inventory of class {rc} for {uuid}")))?;
    Ok(ok(&render_one(p.generation, i)))
}

async fn set_all(
    s: State,
    Authenticated(ctx): Authenticated,
    v: Version,
    Path(uuid): Path<String>,
    Json(body): Json<Value>,
) -> ApiResult<Response> {
    s.can(&ctx, "placement:resource_providers:inventories:update")?;
    let uuid = path_uuid(&uuid);
    s.provider(&uuid).await?;
    let body = object(body)?;
    keys(
        &body,
        &["resource_provider_generation", "inventories"],
        &["resource_provider_generation", "inventories"],
    )?;
    let generation = int(&body["resource_provider_generation"], "resource_provider_generation")?;
    let Value::Object(records) = &body["inventories"] else {
        return Err(invalid(format!("{} is not of type 'object' (inventories)", body["inventories"])));
    };
    let mut inventories = Vec::new();
    for (rc, record) in records {
        if !is_rc_or_trait_name(rc) {
            return Err(invalid(format!("'{rc}' does not match any of the regexes: '^[A-Z0-9_]+$'")));
        }
        let m = match record {
            Value::Object(m) => m,
            other => return Err(invalid(format!("{other} is not of type 'object' ({rc})"))),
        };
        let i = read_inventory(rc, m, &["resource_provider_generation"], &["total"])?;
        check_capacity(&uuid, &i, v, "update")?;
        inventories.push(i);
    }
    let (generation, out) = s.set_inventories(&uuid, generation, inventories).await?;
    Ok(ok(&render_all(generation, &out)))
}

async fn create(
    s: State,
    Authenticated(ctx): Authenticated,
    v: Version,
    Path(uuid): Path<String>,
    Json(body): Json<Value>,
) -> ApiResult<Response> {
    s.can(&ctx, "placement:resource_providers:inventories:create")?;
    let uuid = path_uuid(&uuid);
    s.provider(&uuid).await?;
    let body = object(body)?;
    let rc = match body.get("resource_class") {
        Some(Value::String(rc)) if is_rc_or_trait_name(rc) => rc.clone(),
        Some(other) => {
            return Err(invalid(format!("{other} does not match '^[A-Z0-9_]+$' (resource_class)")))
        }
        None => return Err(invalid("'resource_class' is a required property")),
    };
    let i = read_inventory(&rc, &body, &["resource_class", "resource_provider_generation"], &["total"])?;
    check_capacity(&uuid, &i, v, "create")?;
    let (generation, i) = s.put_inventory(&uuid, None, i, true).await?;
    let mut resp = respond(StatusCode::CREATED, &render_one(generation, &i));
    let location = format!("/resource_providers/{uuid}/inventories/{rc}");
    resp.headers_mut().insert(axum::http::header::LOCATION, location.parse().expect("ascii"));
    Ok(resp)
}

async fn update(
    s: State,
    Authenticated(ctx): Authenticated,
    v: Version,
    Path((uuid, rc)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> ApiResult<Response> {
    s.can(&ctx, "placement:resource_providers:inventories:update")?;
    let uuid = path_uuid(&uuid);
    s.provider(&uuid).await?;
    let body = object(body)?;
    let i = read_inventory(
        &rc,
        &body,
        &["resource_provider_generation"],
        &["total", "resource_provider_generation"],
    )?;
    let generation = int(&body["resource_provider_generation"], "resource_provider_generation")?;
    check_capacity(&uuid, &i, v, "update")?;
    let (generation, i) = s.put_inventory(&uuid, Some(generation), i, false).await?;
    Ok(ok(&render_one(generation, &i)))
}

async fn delete_one(
    s: State,
    Authenticated(ctx): Authenticated,
    Path((uuid, rc)): Path<(String, String)>,
) -> ApiResult<Response> {
    s.can(&ctx, "placement:resource_providers:inventories:delete")?;
    s.delete_inventory(&path_uuid(&uuid), Some(&rc)).await?;
    Ok(no_content())
}

async fn delete_all(
    s: State,
    Authenticated(ctx): Authenticated,
    v: Version,
    Path(uuid): Path<String>,
) -> ApiResult<Response> {
    if !v.at_least(1, 5) {
        return Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "The method is not allowed for this resource.",
        ));
    }
    s.can(&ctx, "placement:resource_providers:inventories:delete")?;
    s.delete_inventory(&path_uuid(&uuid), None).await?;
    Ok(no_content())
}
