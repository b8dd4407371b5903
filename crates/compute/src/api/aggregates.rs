//! `/os-aggregates`, `/os-aggregates/{id}` and its actions (`add_host`, `remove_host`,
//! `set_metadata`). Admin-only by policy.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::Path;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use stratus_core::auth::Authenticated;
use stratus_core::error::{ApiError, ApiResult};
use stratus_core::http::microversion::Version;
use stratus_core::http::Json as JsonBody;
use stratus_core::input::Fields;

use super::common::{self, check_name, invalid_field, no_more_fields, nova_time, validate_integer};
use super::State;
use crate::aggregates;
use crate::store::Aggregate;
use crate::ComputeService;

pub fn routes() -> Router<Arc<ComputeService>> {
    Router::new()
        .route("/os-aggregates", get(index).post(create))
        .route("/os-aggregates/{id}", get(show).put(update).delete(remove))
        .route("/os-aggregates/{id}/action", post(action))
}

fn render(a: &Aggregate, version: Version, with_hosts: bool) -> Value {
    let mut v = json!({
        "id": a.id,
        "name": a.name,
        "availability_zone": a.availability_zone(),
        "created_at": nova_time(a.created_at),
        // Never updated: null, as nova's.
        "updated_at": (a.updated_at != a.created_at).then(|| nova_time(a.updated_at)),
        "deleted": false,
        "deleted_at": null,
    });
    if with_hosts {
        v["hosts"] = json!(a.hosts);
        v["metadata"] = json!(a.metadata);
    }
    if version.at_least(2, 41) {
        v["uuid"] = json!(a.uuid);
    }
    v
}

fn parse_id(id: &str) -> ApiResult<i64> {
    validate_integer(&Value::String(id.to_string()), "id", i64::MIN, i64::MAX)
}

/// A zone name: printable, no `:`, not starting or ending with whitespace; or null.
fn parse_zone(v: Option<Value>) -> ApiResult<Option<Option<String>>> {
    match v {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(z)) => {
            check_name("availability_zone", &z, 255, &[':'])?;
            Ok(Some(Some(z)))
        }
        Some(_) => Err(invalid_field("availability_zone", "It must be a string or null.")),
    }
}

fn parse_name(v: Option<Value>) -> ApiResult<Option<String>> {
    match v {
        None => Ok(None),
        Some(Value::String(n)) => {
            check_name("name", &n, 255, &[])?;
            Ok(Some(n))
        }
        Some(_) => Err(invalid_field("name", "It must be a string.")),
    }
}

async fn index(s: State, Authenticated(ctx): Authenticated, version: Version) -> ApiResult<Json<Value>> {
    s.authorize(&ctx, "os_compute_api:os-aggregates:index", &json!({}))?;
    let aggs = s.store.aggregates().await?;
    Ok(Json(json!({"aggregates": aggs.iter().map(|a| render(a, version, true)).collect::<Vec<_>>()})))
}

async fn create(
    s: State,
    Authenticated(ctx): Authenticated,
    version: Version,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Json<Value>> {
    s.authorize(&ctx, "os_compute_api:os-aggregates:create", &json!({}))?;
    let mut fields = Fields::from_wrapped(body, "aggregate")?;
    let name = parse_name(fields.take("name"))?
        .ok_or_else(|| invalid_field("aggregate", "'name' is a required property"))?;
    let zone = parse_zone(fields.take("availability_zone"))?.flatten();
    no_more_fields(&fields.rest())?;
    let agg = aggregates::create(&s, &name, zone.as_deref()).await?;
    Ok(Json(json!({"aggregate": render(&agg, version, false)})))
}

async fn show(
    s: State,
    Authenticated(ctx): Authenticated,
    version: Version,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    s.authorize(&ctx, "os_compute_api:os-aggregates:show", &json!({}))?;
    let agg = aggregates::get(&s, parse_id(&id)?).await?;
    Ok(Json(json!({"aggregate": render(&agg, version, true)})))
}

async fn update(
    s: State,
    Authenticated(ctx): Authenticated,
    version: Version,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Json<Value>> {
    s.authorize(&ctx, "os_compute_api:os-aggregates:update", &json!({}))?;
    let mut fields = Fields::from_wrapped(body, "aggregate")?;
    let name = parse_name(fields.take("name"))?;
    let zone = parse_zone(fields.take("availability_zone"))?;
    no_more_fields(&fields.rest())?;
    if name.is_none() && zone.is_none() {
        return Err(invalid_field("aggregate", "One of 'name' and 'availability_zone' is required."));
    }
    let id = parse_id(&id)?;
    let zone_ref = zone.as_ref().map(|z| z.as_deref());
    let agg = aggregates::update(&s, id, name.as_deref().map(str::trim), zone_ref).await?;
    Ok(Json(json!({"aggregate": render(&agg, version, true)})))
}

async fn remove(s: State, Authenticated(ctx): Authenticated, Path(id): Path<String>) -> ApiResult<()> {
    s.authorize(&ctx, "os_compute_api:os-aggregates:delete", &json!({}))?;
    aggregates::delete(&s, parse_id(&id)?).await
}

/// The `host` of `add_host` / `remove_host`: 1 to 255 of letters, digits, `-`, `.`, `_`.
fn host_arg(action: &str, args: Value) -> ApiResult<String> {
    let Value::Object(map) = args else { return Err(invalid_field(action, "It must be an object.")) };
    let mut fields = Fields::new(map);
    let host = match fields.take("host") {
        Some(Value::String(h))
            if !h.is_empty()
                && h.len() <= 255
                && h.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_')) =>
        {
            h
        }
        Some(_) => return Err(invalid_field("host", "It must be a host name of 1 to 255 characters.")),
        None => return Err(invalid_field(action, "'host' is a required property")),
    };
    no_more_fields(&fields.rest())?;
    Ok(host)
}

/// `set_metadata`'s `metadata`: keys of letters, digits, `-_:.` and spaces, values strings
/// of at most 255 characters, or null to remove the key.
fn metadata_arg(args: Value) -> ApiResult<BTreeMap<String, Option<String>>> {
    let Value::Object(map) = args else { return Err(invalid_field("set_metadata", "It must be an object.")) };
    let mut fields = Fields::new(map);
    let metadata = fields
        .opt_object("metadata")?
        .ok_or_else(|| invalid_field("set_metadata", "'metadata' is a required property"))?;
    no_more_fields(&fields.rest())?;
    let mut out = BTreeMap::new();
    for (k, v) in metadata {
        let key_ok = !k.is_empty()
            && k.len() <= 255
            && k.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.' | ' '));
        if !key_ok {
            return Err(invalid_field("metadata", &format!("'{k}' is not a valid metadata key.")));
        }
        let value = match v {
            Value::Null => None,
            Value::String(s) if s.chars().count() <= 255 => Some(s),
            _ => {
                return Err(invalid_field(
                    "metadata",
                    &format!("The value of '{k}' must be a string of at most 255 characters, or null."),
                ))
            }
        };
        out.insert(k, value);
    }
    Ok(out)
}

async fn action(
    s: State,
    Authenticated(ctx): Authenticated,
    version: Version,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Json<Value>> {
    let (name, args) = common::action(body)?;
    let agg = match name.as_str() {
        "add_host" => {
            let host = host_arg(&name, args)?;
            s.authorize(&ctx, "os_compute_api:os-aggregates:add_host", &json!({}))?;
            aggregates::add_host(&s, parse_id(&id)?, &host).await?
        }
        "remove_host" => {
            let host = host_arg(&name, args)?;
            s.authorize(&ctx, "os_compute_api:os-aggregates:remove_host", &json!({}))?;
            aggregates::remove_host(&s, parse_id(&id)?, &host).await?
        }
        "set_metadata" => {
            let metadata = metadata_arg(args)?;
            s.authorize(&ctx, "os_compute_api:os-aggregates:set_metadata", &json!({}))?;
            aggregates::set_metadata(&s, parse_id(&id)?, &metadata).await?
        }
        other => return Err(ApiError::bad_request(format!("There is no such action: {other}"))),
    };
    Ok(Json(json!({"aggregate": render(&agg, version, true)})))
}
