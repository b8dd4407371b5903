//! `/v3/domains`

use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use stratus_core::auth::Authenticated;
use stratus_core::error::{ApiError, ApiResult};
use stratus_core::http::{BaseUrl, Json as JsonBody};
use stratus_core::input::{query_bool, Fields};

use super::{collection_links, links, with_extra, State};
use crate::model::{new_id, Domain, DEFAULT_DOMAIN_ID};

pub fn routes() -> Router<std::sync::Arc<crate::service::Identity>> {
    Router::new()
        .route("/v3/domains", get(list).post(create))
        .route("/v3/domains/{id}", get(show).patch(update).delete(remove))
}

pub(crate) fn render(d: &Domain, base: &str) -> Value {
    let v = json!({
        "id": d.id, "name": d.name, "description": d.description.clone().unwrap_or_default(),
        "enabled": d.enabled, "tags": d.extra.get("tags").cloned().unwrap_or(json!([])),
        "options": d.extra.get("options").cloned().unwrap_or(json!({})),
        "links": links(base, &format!("domains/{}", d.id)),
    });
    with_extra(v, &d.extra)
}

pub(crate) async fn load(s: &State, id: &str) -> ApiResult<Domain> {
    s.store.get_domain(id).await?.ok_or_else(|| ApiError::not_found_resource("domain", id))
}

#[derive(Deserialize)]
struct ListQuery {
    name: Option<String>,
    enabled: Option<String>,
}

async fn list(
    s: State,
    Authenticated(ctx): Authenticated,
    BaseUrl(base): BaseUrl,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Value>> {
    let enabled = query_bool("enabled", q.enabled.as_deref())?;
    let all = s.store.list_domains(q.name.as_deref(), enabled).await?;
    // Domain members may list the domains they belong to; others need the list rule.
    let may_list = s.allowed(&ctx, "identity:list_domains", &json!({}));
    let items: Vec<Value> = all
        .iter()
        .filter(|d| {
            may_list || s.allowed(&ctx, "identity:get_domain", &json!({"target": {"domain": {"id": d.id}}}))
        })
        .map(|d| render(d, &base))
        .collect();
    if items.is_empty() && !may_list && !all.is_empty() {
        s.authorize(&ctx, "identity:list_domains", &json!({}))?;
    }
    Ok(Json(json!({"domains": items, "links": collection_links(&base, "domains")})))
}

async fn show(
    s: State,
    Authenticated(ctx): Authenticated,
    BaseUrl(base): BaseUrl,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    s.authorize(&ctx, "identity:get_domain", &json!({"target": {"domain": {"id": id}}}))?;
    let d = load(&s, &id).await?;
    Ok(Json(json!({"domain": render(&d, &base)})))
}

async fn create(
    s: State,
    Authenticated(ctx): Authenticated,
    BaseUrl(base): BaseUrl,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    s.authorize(&ctx, "identity:create_domain", &json!({}))?;
    let mut f = Fields::from_wrapped(body, "domain")?;
    f.forbid(&["links"])?;
    let id = match f.opt_name("explicit_domain_id", 64)? {
        Some(id) => id,
        None => new_id(),
    };
    f.forbid(&["id"])?;
    let name = f.req_name("name", 64)?;
    let description = f.opt_str("description")?;
    let enabled = f.opt_bool("enabled")?.unwrap_or(true);
    let d = Domain { id, name, description, enabled, extra: f.rest() };
    s.store.create_domain(&d).await?;
    Ok((StatusCode::CREATED, Json(json!({"domain": render(&d, &base)}))))
}

async fn update(
    s: State,
    Authenticated(ctx): Authenticated,
    BaseUrl(base): BaseUrl,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Json<Value>> {
    s.authorize(&ctx, "identity:update_domain", &json!({"target": {"domain": {"id": id}}}))?;
    let mut d = load(&s, &id).await?;
    let mut f = Fields::from_wrapped(body, "domain")?;
    f.forbid(&["id", "links"])?;
    if let Some(name) = f.opt_name("name", 64)? {
        d.name = name;
    }
    if f.contains("description") {
        d.description = f.opt_str("description")?;
    }
    let was_enabled = d.enabled;
    if let Some(e) = f.opt_bool("enabled")? {
        if !e && id == DEFAULT_DOMAIN_ID {
            return Err(ApiError::forbidden("The default domain cannot be disabled."));
        }
        d.enabled = e;
    }
    d.extra.extend(f.rest());
    s.store.update_domain(&d).await?;
    if was_enabled && !d.enabled {
        s.revoke_domain(&id).await?;
    }
    Ok(Json(json!({"domain": render(&d, &base)})))
}

async fn remove(
    s: State,
    Authenticated(ctx): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.authorize(&ctx, "identity:delete_domain", &json!({"target": {"domain": {"id": id}}}))?;
    let d = load(&s, &id).await?;
    if d.enabled {
        return Err(ApiError::forbidden(format!(
            "Cannot delete a domain that is enabled, please disable it first: {id}."
        )));
    }
    s.store.delete_domain(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}
