//! `/os-server-groups` and `/os-server-groups/{id}`: groups of servers the scheduler keeps
//! together (affinity) or apart (anti-affinity), strictly or as a preference (soft-).
//!
//! Before 2.64 a group has a one-item `policies` list (and an empty `metadata`); from 2.64
//! a `policy` and `rules` (`max_server_per_host` for anti-affinity).

use std::sync::Arc;

use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use chrono::Utc;
use serde_json::{json, Value};
use stratus_core::auth::Authenticated;
use stratus_core::error::{ApiError, ApiResult};
use stratus_core::http::microversion::Version;
use stratus_core::http::Json as JsonBody;
use stratus_core::input::Fields;

use super::common::{check_name, invalid_field, no_more_fields, validate_integer, QueryParams};
use super::State;
use crate::model::{ServerGroup, ServerGroupPolicy};
use crate::ComputeService;

pub fn routes() -> Router<Arc<ComputeService>> {
    Router::new()
        .route("/os-server-groups", get(index).post(create))
        .route("/os-server-groups/{id}", get(show).delete(remove))
}

fn render(g: &ServerGroup, version: Version) -> Value {
    let mut v = json!({"id": g.uuid, "name": g.name, "members": g.members});
    if version.at_least(2, 64) {
        v["policy"] = json!(g.policy.as_str());
        v["rules"] = match g.max_server_per_host {
            Some(n) => json!({ "max_server_per_host": n }),
            None => json!({}),
        };
    } else {
        v["policies"] = json!([g.policy.as_str()]);
        v["metadata"] = json!({});
    }
    if version.at_least(2, 13) {
        v["project_id"] = json!(g.project_id);
        v["user_id"] = json!(g.user_id);
    }
    v
}

async fn load(s: &ComputeService, id: &str) -> ApiResult<ServerGroup> {
    s.store
        .server_group(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("Instance group {id} could not be found.")))
}

async fn index(
    s: State,
    Authenticated(ctx): Authenticated,
    version: Version,
    q: QueryParams,
) -> ApiResult<Json<Value>> {
    q.only(version, &["all_projects", "limit", "offset"])?;
    let own = ComputeService::own_target(&ctx);
    s.authorize(&ctx, "os_compute_api:os-server-groups:index", &own)?;
    let (limit, offset) = q.limit_offset()?;
    let groups = if q.contains("all_projects") && s.is_admin(&ctx) {
        s.authorize(&ctx, "os_compute_api:os-server-groups:index:all_projects", &own)?;
        s.store.server_groups(None).await?
    } else {
        s.store.server_groups(Some(ctx.project_id().unwrap_or_default())).await?
    };
    let page: Vec<Value> = groups.iter().skip(offset).take(limit).map(|g| render(g, version)).collect();
    Ok(Json(json!({ "server_groups": page })))
}

async fn show(
    s: State,
    Authenticated(ctx): Authenticated,
    version: Version,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let g = load(&s, &id).await?;
    s.authorize(&ctx, "os_compute_api:os-server-groups:show", &json!({"project_id": g.project_id}))?;
    Ok(Json(json!({ "server_group": render(&g, version) })))
}

async fn remove(
    s: State,
    Authenticated(ctx): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let g = load(&s, &id).await?;
    s.authorize(&ctx, "os_compute_api:os-server-groups:delete", &json!({"project_id": g.project_id}))?;
    if !s.store.delete_server_group(&id).await? {
        return Err(ApiError::not_found(format!("Instance group {id} could not be found.")));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// The policy of a create body: `policy` (and `rules`) from 2.64, else a one-item
/// `policies`; the soft policies from 2.15.
fn parse_policy(fields: &mut Fields, version: Version) -> ApiResult<(ServerGroupPolicy, Option<u32>)> {
    let allowed = |p: ServerGroupPolicy| {
        version.at_least(2, 15) || matches!(p, ServerGroupPolicy::Affinity | ServerGroupPolicy::AntiAffinity)
    };
    let parse = |v: &Value, field: &str| -> ApiResult<ServerGroupPolicy> {
        v.as_str().and_then(ServerGroupPolicy::parse).filter(|p| allowed(*p)).ok_or_else(|| {
            let names = if version.at_least(2, 15) {
                "'anti-affinity', 'affinity', 'soft-anti-affinity', 'soft-affinity'"
            } else {
                "'anti-affinity', 'affinity'"
            };
            invalid_field(field, &format!("Value: {v}. It must be one of {names}."))
        })
    };
    if !version.at_least(2, 64) {
        let policies = match fields.take("policies") {
            Some(Value::Array(items)) if items.len() == 1 => items,
            Some(_) => return Err(invalid_field("policies", "It must be a list of exactly one policy.")),
            None => return Err(invalid_field("server_group", "'policies' is a required property")),
        };
        return Ok((parse(&policies[0], "policies")?, None));
    }
    let policy = match fields.take("policy") {
        Some(v) => parse(&v, "policy")?,
        None => return Err(invalid_field("server_group", "'policy' is a required property")),
    };
    let max_per_host = match fields.opt_object("rules")? {
        None => None,
        Some(mut rules) => {
            let max = rules.remove("max_server_per_host");
            if let Some(k) = rules.keys().next() {
                return Err(invalid_field(
                    "rules",
                    &format!("Additional properties are not allowed ('{k}' was unexpected)"),
                ));
            }
            match max {
                None => None,
                Some(v) => {
                    if v.as_str().is_some_and(|s| s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit())) {
                        return Err(invalid_field("max_server_per_host", "It must be a positive integer."));
                    }
                    Some(validate_integer(&v, "max_server_per_host", 1, u32::MAX as i64)? as u32)
                }
            }
        }
    };
    if max_per_host.is_some() && policy != ServerGroupPolicy::AntiAffinity {
        return Err(ApiError::bad_request("Only anti-affinity policy supports rules."));
    }
    Ok((policy, max_per_host))
}

async fn create(
    s: State,
    Authenticated(ctx): Authenticated,
    version: Version,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Json<Value>> {
    let project_id = ctx.project_id().unwrap_or_default().to_string();
    s.authorize(&ctx, "os_compute_api:os-server-groups:create", &ComputeService::own_target(&ctx))?;
    let mut fields = Fields::from_wrapped(body, "server_group")?;
    let name = match fields.take("name") {
        Some(Value::String(n)) => n,
        Some(_) => return Err(invalid_field("name", "It must be a string.")),
        None => return Err(invalid_field("server_group", "'name' is a required property")),
    };
    check_name("name", &name, 255, &[])?;
    let (policy, max_server_per_host) = parse_policy(&mut fields, version)?;
    no_more_fields(&fields.rest())?;
    let group = ServerGroup {
        uuid: uuid::Uuid::new_v4().to_string(),
        name,
        project_id,
        user_id: ctx.user.id.clone(),
        policy,
        max_server_per_host,
        members: vec![],
        created_at: Utc::now(),
    };
    {
        let _quota = s.quota_lock.lock().await;
        crate::quota::check_server_groups(&s, &group.project_id).await?;
        s.store.create_server_group(&group).await?;
    }
    Ok(Json(json!({ "server_group": render(&group, version) })))
}
