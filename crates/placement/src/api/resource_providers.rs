//! `/resource_providers` and `/resource_providers/{uuid}`.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};
use stratus_core::auth::Authenticated;
use stratus_core::error::{ApiError, ApiResult};
use stratus_core::http::microversion::Version;
use stratus_core::http::Json;

use super::{invalid, keys, no_content, object, ok, path_uuid, string, uuid_value, State};
use crate::candidates::ProviderFilter;
use crate::query::{self, Params};

pub fn routes() -> Router<std::sync::Arc<crate::service::PlacementService>> {
    Router::new()
        .route("/resource_providers", get(list).post(create))
        .route("/resource_providers/{uuid}", get(show).put(update).delete(delete))
}

pub fn provider_url(uuid: &str) -> String {
    format!("/resource_providers/{uuid}")
}

/// A provider as placement renders it at `v`.
pub fn render(
    uuid: &str,
    name: &str,
    generation: i64,
    parent: Option<&str>,
    root: &str,
    v: Version,
) -> Value {
    let url = provider_url(uuid);
    let mut links = vec![json!({"rel": "self", "href": url})];
    let mut rels = vec!["inventories", "usages"];
    if v.at_least(1, 1) {
        rels.push("aggregates");
    }
    if v.at_least(1, 6) {
        rels.push("traits");
    }
    if v.at_least(1, 11) {
        rels.push("allocations");
    }
    for rel in rels {
        links.push(json!({"rel": rel, "href": format!("{url}/{rel}")}));
    }
    let mut body = json!({"uuid": uuid, "name": name, "generation": generation, "links": links});
    if v.at_least(1, 14) {
        body["parent_provider_uuid"] = json!(parent);
        body["root_provider_uuid"] = json!(root);
    }
    body
}

fn render_provider(p: &crate::model::Provider, v: Version) -> Value {
    render(&p.uuid, &p.name, p.generation, p.parent_uuid.as_deref(), &p.root_uuid, v)
}

async fn list(
    s: State,
    Authenticated(ctx): Authenticated,
    v: Version,
    params: Params,
) -> ApiResult<Response> {
    s.can(&ctx, "placement:resource_providers:list")?;
    params.only(|k| match k {
        "name" | "uuid" => true,
        "member_of" => v.at_least(1, 3),
        "resources" => v.at_least(1, 4),
        "in_tree" => v.at_least(1, 14),
        "required" => v.at_least(1, 18),
        _ => false,
    })?;
    let name = params.last("name").map(str::to_string);
    let uuid = params.last("uuid").map(|u| query::uuid_param("uuid", u)).transpose()?;
    let in_tree = params.last("in_tree").map(|u| query::uuid_param("in_tree", u)).transpose()?;
    let resources = params.last("resources").map(query::resources).transpose()?.unwrap_or_default();
    let traits = if params.has("required") {
        let t = query::traits_params(&params, "required", v)?;
        if t.is_empty() {
            return Err(ApiError::bad_request("Invalid query string parameters: empty 'required'"));
        }
        t
    } else {
        Default::default()
    };
    let member_of = if params.has("member_of") {
        query::member_of_params(&params, "member_of", v)?
    } else {
        Default::default()
    };
    s.fresh().await?;
    let body = s.with_view(|snap| -> ApiResult<Value> {
        let filter = ProviderFilter::new(snap, &resources, &traits, &member_of)?;
        let tree_root = match &in_tree {
            Some(t) => match snap.get(t) {
                Some(id) => Some(snap.node(id).root),
                None => return Ok(json!({"resource_providers": []})),
            },
            None => None,
        };
        let mut out = Vec::new();
        for (_, node) in snap.live() {
            if name.as_ref().is_some_and(|n| *n != node.name)
                || uuid.as_ref().is_some_and(|u| *u != node.uuid)
                || tree_root.is_some_and(|r| node.root != r)
                || !filter.matches(snap, node)
            {
                continue;
            }
            out.push(render(
                &node.uuid,
                &node.name,
                node.generation,
                node.parent_uuid.as_deref(),
                &node.root_uuid,
                v,
            ));
        }
        Ok(json!({"resource_providers": out}))
    })?;
    Ok(ok(&body))
}

async fn create(
    s: State,
    Authenticated(ctx): Authenticated,
    v: Version,
    Json(body): Json<Value>,
) -> ApiResult<Response> {
    s.can(&ctx, "placement:resource_providers:create")?;
    let body = object(body)?;
    let allowed: &[&str] =
        if v.at_least(1, 14) { &["name", "uuid", "parent_provider_uuid"] } else { &["name", "uuid"] };
    keys(&body, allowed, &["name"])?;
    let name = provider_name(&body["name"])?;
    let uuid = match body.get("uuid") {
        Some(u) => uuid_value(u, "uuid")?,
        None => uuid::Uuid::new_v4().to_string(),
    };
    let parent = match body.get("parent_provider_uuid") {
        None | Some(Value::Null) => None,
        Some(p) => Some(uuid_value(p, "parent_provider_uuid")?),
    };
    let p = s.create_provider(uuid, name, parent).await?;
    let location = provider_url(&p.uuid);
    if v.at_least(1, 20) {
        let mut resp = ok(&render_provider(&p, v));
        resp.headers_mut().insert(axum::http::header::LOCATION, location.parse().expect("ascii"));
        Ok(resp)
    } else {
        Ok(super::created_at(StatusCode::CREATED, &location))
    }
}

fn provider_name(v: &Value) -> ApiResult<String> {
    let name = string(v, "name")?;
    if name.chars().count() > 200 {
        return Err(invalid(format!("'{name}' is too long (name)")));
    }
    if name.is_empty() {
        return Err(invalid("'' is too short (name)"));
    }
    Ok(name.to_string())
}

async fn show(
    s: State,
    Authenticated(ctx): Authenticated,
    v: Version,
    Path(uuid): Path<String>,
) -> ApiResult<Response> {
    s.can(&ctx, "placement:resource_providers:show")?;
    let p = s.provider(&path_uuid(&uuid)).await?;
    Ok(ok(&render_provider(&p, v)))
}

async fn update(
    s: State,
    Authenticated(ctx): Authenticated,
    v: Version,
    Path(uuid): Path<String>,
    Json(body): Json<Value>,
) -> ApiResult<Response> {
    s.can(&ctx, "placement:resource_providers:update")?;
    let uuid = path_uuid(&uuid);
    s.provider(&uuid).await?;
    let body = object(body)?;
    let allowed: &[&str] = if v.at_least(1, 14) { &["name", "parent_provider_uuid"] } else { &["name"] };
    keys(&body, allowed, &["name"])?;
    let name = provider_name(&body["name"])?;
    let parent = match body.get("parent_provider_uuid") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(p) => Some(Some(uuid_value(p, "parent_provider_uuid")?)),
    };
    let p = s.update_provider(&uuid, Some(name), parent, v.at_least(1, 37)).await?;
    Ok(ok(&render_provider(&p, v)))
}

async fn delete(
    s: State,
    Authenticated(ctx): Authenticated,
    Path(uuid): Path<String>,
) -> ApiResult<Response> {
    s.can(&ctx, "placement:resource_providers:delete")?;
    s.delete_provider(&path_uuid(&uuid)).await?;
    Ok(no_content())
}
