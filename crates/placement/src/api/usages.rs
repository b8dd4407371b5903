//! `/resource_providers/{uuid}/usages` and `GET /usages` (1.9 and later; by consumer type
//! from 1.38).

use std::collections::{BTreeMap, BTreeSet};

use axum::extract::Path;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::{json, Map, Value};
use stratus_core::auth::Authenticated;
use stratus_core::error::{ApiError, ApiResult};
use stratus_core::http::microversion::Version;

use super::{ok, path_uuid, since, State};
use crate::model::{is_rc_or_trait_name, UNKNOWN_CONSUMER_TYPE};
use crate::query::Params;

pub fn routes() -> Router<std::sync::Arc<crate::service::PlacementService>> {
    Router::new().route("/resource_providers/{uuid}/usages", get(provider)).route("/usages", get(totals))
}

async fn provider(
    s: State,
    Authenticated(ctx): Authenticated,
    Path(uuid): Path<String>,
) -> ApiResult<Response> {
    s.can(&ctx, "placement:resource_providers:usages")?;
    let (p, inventories) = s.inventories(&path_uuid(&uuid)).await?;
    let usages: Map<String, Value> =
        inventories.iter().map(|i| (i.resource_class.clone(), json!(i.used))).collect();
    Ok(ok(&json!({"resource_provider_generation": p.generation, "usages": usages})))
}

async fn totals(
    s: State,
    Authenticated(ctx): Authenticated,
    v: Version,
    params: Params,
) -> ApiResult<Response> {
    since(v, 1, 9)?;
    let project_id = params.last("project_id").map(str::to_string);
    let target = json!({"project_id": project_id, "user_id": ctx.user.id});
    s.authorize(&ctx, "placement:usages", &target)?;
    let by_type = v.at_least(1, 38);
    params.only(|k| k == "project_id" || k == "user_id" || (by_type && k == "consumer_type"))?;
    let bad =
        |field: &str| ApiError::bad_request(format!("Invalid query string parameters: '{field}' is invalid"));
    let Some(project_id) = project_id else {
        return Err(ApiError::bad_request(
            "Invalid query string parameters: 'project_id' is a required property",
        ));
    };
    if project_id.is_empty() || project_id.len() > 255 {
        return Err(bad("project_id"));
    }
    let user_id = params.last("user_id");
    if user_id.is_some_and(|u| u.is_empty() || u.len() > 255) {
        return Err(bad("user_id"));
    }
    let consumer_type = params.last("consumer_type");
    if let Some(t) = consumer_type {
        if !(is_rc_or_trait_name(t) || t == "all" || t == "unknown") || t.len() > 255 {
            return Err(bad("consumer_type"));
        }
    }
    let rows = s.project_usages(&project_id, user_id).await?;
    if !by_type {
        let mut usages: BTreeMap<String, i64> = BTreeMap::new();
        for (_, _, rc, used) in rows {
            *usages.entry(rc).or_default() += used;
        }
        return Ok(ok(&json!({"usages": usages})));
    }
    // From 1.38: grouped by consumer type, with a count of consumers per type; `all` and
    // `unknown` put everything (or the untyped) under one key.
    let mut groups: BTreeMap<String, (BTreeMap<String, i64>, BTreeSet<String>)> = BTreeMap::new();
    for (ctype, consumer, rc, used) in rows {
        let key = match consumer_type {
            Some("all") => "all".to_string(),
            Some("unknown") if ctype.is_some() => continue,
            Some("unknown") => UNKNOWN_CONSUMER_TYPE.to_string(),
            Some(t) if ctype.as_deref() != Some(t) => continue,
            _ => ctype.unwrap_or_else(|| UNKNOWN_CONSUMER_TYPE.to_string()),
        };
        let g = groups.entry(key).or_default();
        *g.0.entry(rc).or_default() += used;
        g.1.insert(consumer);
    }
    let usages: Map<String, Value> = groups
        .into_iter()
        .map(|(k, (mut by_rc, consumers))| {
            let mut m: Map<String, Value> = by_rc.iter_mut().map(|(rc, n)| (rc.clone(), json!(n))).collect();
            m.insert("consumer_count".into(), json!(consumers.len()));
            (k, Value::Object(m))
        })
        .collect();
    Ok(ok(&json!({"usages": usages})))
}
