//! `/allocations/{consumer_uuid}`, `POST /allocations` (1.13 and later) and
//! `/resource_providers/{uuid}/allocations`.

use std::collections::BTreeMap;

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Map, Value};
use stratus_core::auth::Authenticated;
use stratus_core::error::{ApiError, ApiResult};
use stratus_core::http::microversion::Version;
use stratus_core::http::Json;

use super::{int, int_in, invalid, keys, no_content, object, ok, path_uuid, string, uuid_value, State};
use crate::model::{is_rc_or_trait_name, is_uuid_like, AllocationMap, ConsumerWrite, UNKNOWN_CONSUMER_TYPE};
use crate::service::{allocation_map, incomplete_consumer, PlacementService};

pub fn routes() -> Router<std::sync::Arc<crate::service::PlacementService>> {
    Router::new()
        .route("/allocations", post(post_many))
        .route("/allocations/{consumer_uuid}", get(show).put(put).delete(delete))
        .route("/resource_providers/{uuid}/allocations", get(for_provider))
}

/// `{"VCPU": 1, …}`: classes to positive amounts, at least one.
fn resources(v: &Value) -> ApiResult<BTreeMap<String, i64>> {
    let Value::Object(m) = v else {
        return Err(invalid(format!("{v} is not of type 'object' (resources)")));
    };
    if m.is_empty() {
        return Err(invalid("{} does not have enough properties (resources)"));
    }
    let mut out = BTreeMap::new();
    for (rc, amount) in m {
        if !is_rc_or_trait_name(rc) {
            return Err(invalid(format!("Additional properties are not allowed ('{rc}' was unexpected)")));
        }
        out.insert(rc.clone(), int_in(amount, rc, 1, i64::MAX)?);
    }
    Ok(out)
}

/// Allocations in the dict form (1.12+): `{rp_uuid: {"resources": {...}, "generation": n}}`.
fn allocations_dict(v: &Value, may_be_empty: bool) -> ApiResult<AllocationMap> {
    let Value::Object(m) = v else {
        return Err(invalid(format!("{v} is not of type 'object' (allocations)")));
    };
    if m.is_empty() && !may_be_empty {
        return Err(invalid("{} does not have enough properties (allocations)"));
    }
    let mut out = AllocationMap::new();
    for (rp, alloc) in m {
        if !is_uuid_like(rp) || rp.len() != 36 {
            return Err(invalid(format!("Additional properties are not allowed ('{rp}' was unexpected)")));
        }
        let Value::Object(a) = alloc else {
            return Err(invalid(format!("{alloc} is not of type 'object' ({rp})")));
        };
        keys(a, &["resources", "generation"], &["resources"])?;
        if let Some(g) = a.get("generation") {
            int(g, "generation")?;
        }
        out.insert(rp.to_ascii_lowercase(), resources(&a["resources"])?);
    }
    Ok(out)
}

/// Allocations in the list form (before 1.12).
fn allocations_list(v: &Value) -> ApiResult<AllocationMap> {
    let Value::Array(items) = v else {
        return Err(invalid(format!("{v} is not of type 'array' (allocations)")));
    };
    if items.is_empty() {
        return Err(invalid("[] is too short (allocations)"));
    }
    let mut out = AllocationMap::new();
    for item in items {
        let Value::Object(a) = item else {
            return Err(invalid(format!("{item} is not of type 'object' (allocations)")));
        };
        keys(a, &["resource_provider", "resources"], &["resource_provider", "resources"])?;
        let Value::Object(rp) = &a["resource_provider"] else {
            return Err(invalid("resource_provider is not of type 'object'"));
        };
        keys(rp, &["uuid"], &["uuid"])?;
        let uuid = uuid_value(&rp["uuid"], "uuid")?;
        out.insert(uuid, resources(&a["resources"])?);
    }
    Ok(out)
}

fn id_field(m: &Map<String, Value>, field: &str) -> ApiResult<String> {
    let s = string(&m[field], field)?;
    if s.is_empty() || s.chars().count() > 255 {
        return Err(invalid(format!("'{s}' is not a valid {field}")));
    }
    Ok(s.to_string())
}

/// One consumer's part of a PUT or POST body at microversion `v`.
pub fn consumer_write(
    consumer: String,
    m: &Map<String, Value>,
    v: Version,
    post: bool,
) -> ApiResult<ConsumerWrite> {
    let mut allowed = vec!["allocations"];
    let mut required = vec!["allocations"];
    if v.at_least(1, 8) {
        allowed.extend(["project_id", "user_id"]);
        required.extend(["project_id", "user_id"]);
    }
    if v.at_least(1, 28) {
        allowed.push("consumer_generation");
        required.push("consumer_generation");
    }
    if v.at_least(1, 34) {
        allowed.push("mappings");
    }
    if v.at_least(1, 38) {
        allowed.push("consumer_type");
        required.push("consumer_type");
    }
    keys(m, &allowed, &required)?;
    let allocations = if v.at_least(1, 12) {
        allocations_dict(&m["allocations"], post || v.at_least(1, 28))?
    } else {
        allocations_list(&m["allocations"])?
    };
    let (project_id, user_id) = if v.at_least(1, 8) {
        (id_field(m, "project_id")?, id_field(m, "user_id")?)
    } else {
        incomplete_consumer()
    };
    let generation = match m.get("consumer_generation") {
        None | Some(Value::Null) => None,
        Some(g) => Some(int(g, "consumer_generation")?),
    };
    if let Some(mappings) = m.get("mappings") {
        let Value::Object(mm) = mappings else {
            return Err(invalid(format!("{mappings} is not of type 'object' (mappings)")));
        };
        for (_, list) in mm {
            for u in super::strings(list, "mappings", false)? {
                if !is_uuid_like(&u) {
                    return Err(invalid(format!("'{u}' is not a 'uuid' (mappings)")));
                }
            }
        }
    }
    let consumer_type = match m.get("consumer_type") {
        None => None,
        Some(t) => {
            let t = string(t, "consumer_type")?;
            if !is_rc_or_trait_name(t) || t.len() > 255 {
                return Err(invalid(format!("'{t}' does not match '^[A-Z0-9_]+$' (consumer_type)")));
            }
            Some(t.to_string())
        }
    };
    Ok(ConsumerWrite {
        consumer,
        allocations,
        project_id,
        user_id,
        generation,
        check_generation: v.at_least(1, 28),
        consumer_type,
    })
}

async fn put(
    s: State,
    Authenticated(ctx): Authenticated,
    v: Version,
    Path(consumer): Path<String>,
    Json(body): Json<Value>,
) -> ApiResult<Response> {
    s.can(&ctx, "placement:allocations:update")?;
    put_consumer(&s, &consumer, body, v).await?;
    Ok(no_content())
}

/// `PUT /allocations/{consumer}` once authorized (the in-process client calls it too).
pub async fn put_consumer(s: &PlacementService, consumer: &str, body: Value, v: Version) -> ApiResult<()> {
    let Some(consumer) = crate::model::normalize_uuid(consumer) else {
        return Err(ApiError::bad_request(format!("Malformed consumer_uuid: {consumer}")));
    };
    let body = object(body)?;
    let write = consumer_write(consumer, &body, v, false)?;
    s.replace_allocations(&[write], false).await
}

async fn post_many(
    s: State,
    Authenticated(ctx): Authenticated,
    v: Version,
    Json(body): Json<Value>,
) -> ApiResult<Response> {
    super::since(v, 1, 13)?;
    s.can(&ctx, "placement:allocations:manage")?;
    let body = object(body)?;
    if body.is_empty() {
        return Err(invalid("{} does not have enough properties"));
    }
    let mut writes = Vec::new();
    for (consumer, part) in &body {
        if !is_uuid_like(consumer) || consumer.len() != 36 {
            return Err(invalid(format!(
                "Additional properties are not allowed ('{consumer}' was unexpected)"
            )));
        }
        let Value::Object(m) = part else {
            return Err(invalid(format!("{part} is not of type 'object' ({consumer})")));
        };
        writes.push(consumer_write(consumer.to_ascii_lowercase(), m, v, true)?);
    }
    s.replace_allocations(&writes, false).await.map_err(|mut e| {
        if e.status == StatusCode::BAD_REQUEST
            && e.message.starts_with("Unable to allocate inventory for consumer")
        {
            if let Some((_, rest)) = e.message.split_once(": ") {
                e.message = format!("Unable to allocate inventory {rest}");
            }
        }
        e
    })?;
    Ok(no_content())
}

async fn show(
    s: State,
    Authenticated(ctx): Authenticated,
    v: Version,
    Path(consumer): Path<String>,
) -> ApiResult<Response> {
    s.can(&ctx, "placement:allocations:list")?;
    let consumer = path_uuid(&consumer);
    let (rows, gens, k) = s.consumer_allocations(&consumer).await?;
    let mut allocations = Map::new();
    for (rp, resources) in allocation_map(&rows) {
        let generation = gens.get(&rp).copied().unwrap_or_default();
        allocations.insert(rp, json!({"generation": generation, "resources": resources}));
    }
    let mut body = json!({"allocations": allocations});
    if let (Some(k), true) = (k, v.at_least(1, 12)) {
        body["project_id"] = json!(k.project_id);
        body["user_id"] = json!(k.user_id);
        if v.at_least(1, 28) {
            body["consumer_generation"] = json!(k.generation);
        }
        if v.at_least(1, 38) {
            body["consumer_type"] = json!(k.consumer_type.as_deref().unwrap_or(UNKNOWN_CONSUMER_TYPE));
        }
    }
    Ok(ok(&body))
}

async fn delete(
    s: State,
    Authenticated(ctx): Authenticated,
    Path(consumer): Path<String>,
) -> ApiResult<Response> {
    s.can(&ctx, "placement:allocations:delete")?;
    delete_consumer(&s, &consumer).await?;
    Ok(no_content())
}

/// `DELETE /allocations/{consumer}` once authorized: 404 when it has none.
pub async fn delete_consumer(s: &PlacementService, consumer: &str) -> ApiResult<()> {
    let write = ConsumerWrite {
        consumer: path_uuid(consumer),
        allocations: AllocationMap::new(),
        project_id: String::new(),
        user_id: String::new(),
        generation: None,
        check_generation: false,
        consumer_type: None,
    };
    s.replace_allocations(&[write], true).await
}

async fn for_provider(
    s: State,
    Authenticated(ctx): Authenticated,
    v: Version,
    Path(uuid): Path<String>,
) -> ApiResult<Response> {
    s.can(&ctx, "placement:resource_providers:allocations:list")?;
    let (p, rows, gens) = s.provider_allocations(&path_uuid(&uuid)).await?;
    let mut by_consumer: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
    for r in &rows {
        by_consumer.entry(r.consumer.clone()).or_default().insert(r.resource_class.clone(), r.used);
    }
    let allocations: Map<String, Value> = by_consumer
        .into_iter()
        .map(|(c, resources)| {
            let mut a = json!({"resources": resources});
            if v.at_least(1, 28) {
                a["consumer_generation"] = json!(gens.get(&c));
            }
            (c, a)
        })
        .collect();
    Ok(ok(&json!({"allocations": allocations, "resource_provider_generation": p.generation})))
}
