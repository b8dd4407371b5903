//! `/v3/roles` and implied roles (`/v3/roles/{prior}/implies/{implied}`, `/v3/role_inferences`).

use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use stratus_core::auth::Authenticated;
use stratus_core::error::{ApiError, ApiResult};
use stratus_core::http::{BaseUrl, Json as JsonBody};
use stratus_core::input::Fields;

use super::{collection_links, links, with_extra, State};
use crate::model::{new_id, Role};

pub fn routes() -> Router<std::sync::Arc<crate::service::Identity>> {
    Router::new()
        .route("/v3/roles", get(list).post(create))
        .route("/v3/roles/{id}", get(show).patch(update).delete(remove))
        .route("/v3/roles/{id}/implies", get(list_implied))
        .route("/v3/roles/{id}/implies/{implied}", get(show_implied).put(add_implied).delete(remove_implied))
        .route("/v3/role_inferences", get(inferences))
}

pub(crate) fn render(r: &Role, base: &str) -> Value {
    let v = json!({
        "id": r.id, "name": r.name, "domain_id": r.domain_id, "description": r.description,
        "options": r.extra.get("options").cloned().unwrap_or(json!({})),
        "links": links(base, &format!("roles/{}", r.id)),
    });
    with_extra(v, &r.extra)
}

fn brief(r: &Role, base: &str) -> Value {
    json!({"id": r.id, "name": r.name, "links": links(base, &format!("roles/{}", r.id))})
}

pub(crate) async fn load(s: &State, id: &str) -> ApiResult<Role> {
    s.store.get_role(id).await?.ok_or_else(|| ApiError::not_found_resource("role", id))
}

fn target(r: &Role) -> Value {
    json!({"target": {"role": {"id": r.id, "domain_id": r.domain_id}}})
}

fn rule(r: &Role, global: &'static str, domain: &'static str) -> &'static str {
    if r.domain_id.is_some() {
        domain
    } else {
        global
    }
}

#[derive(Deserialize)]
struct ListQuery {
    name: Option<String>,
    domain_id: Option<String>,
}

async fn list(
    s: State,
    Authenticated(ctx): Authenticated,
    BaseUrl(base): BaseUrl,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Value>> {
    let rule = if q.domain_id.is_some() { "identity:list_domain_roles" } else { "identity:list_roles" };
    let target = match &q.domain_id {
        Some(d) => json!({"domain_id": d, "target": {"domain_id": d}}),
        None => json!({}),
    };
    s.authorize(&ctx, rule, &target)?;
    let items: Vec<Value> = s
        .store
        .list_roles(q.name.as_deref(), q.domain_id.as_deref())
        .await?
        .iter()
        .map(|r| render(r, &base))
        .collect();
    Ok(Json(json!({"roles": items, "links": collection_links(&base, "roles")})))
}

async fn show(
    s: State,
    Authenticated(ctx): Authenticated,
    BaseUrl(base): BaseUrl,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let r = load(&s, &id).await?;
    s.authorize(&ctx, rule(&r, "identity:get_role", "identity:get_domain_role"), &target(&r))?;
    Ok(Json(json!({"role": render(&r, &base)})))
}

async fn create(
    s: State,
    Authenticated(ctx): Authenticated,
    BaseUrl(base): BaseUrl,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let mut f = Fields::from_wrapped(body, "role")?;
    f.forbid(&["id", "links"])?;
    let name = f.req_name("name", 255)?;
    let r = Role {
        id: new_id(),
        name,
        domain_id: f.opt_str("domain_id")?,
        description: f.opt_str("description")?,
        extra: f.rest(),
    };
    s.authorize(&ctx, rule(&r, "identity:create_role", "identity:create_domain_role"), &target(&r))?;
    if let Some(d) = &r.domain_id {
        if s.store.get_domain(d).await?.is_none() {
            return Err(ApiError::not_found_resource("domain", d));
        }
    }
    s.store.create_role(&r).await?;
    Ok((StatusCode::CREATED, Json(json!({"role": render(&r, &base)}))))
}

async fn update(
    s: State,
    Authenticated(ctx): Authenticated,
    BaseUrl(base): BaseUrl,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Json<Value>> {
    let mut r = load(&s, &id).await?;
    s.authorize(&ctx, rule(&r, "identity:update_role", "identity:update_domain_role"), &target(&r))?;
    let mut f = Fields::from_wrapped(body, "role")?;
    f.forbid(&["id", "links", "domain_id"])?;
    if let Some(name) = f.opt_name("name", 255)? {
        r.name = name;
    }
    if f.contains("description") {
        r.description = f.opt_str("description")?;
    }
    r.extra.extend(f.rest());
    s.store.update_role(&r).await?;
    Ok(Json(json!({"role": render(&r, &base)})))
}

async fn remove(
    s: State,
    Authenticated(ctx): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let r = load(&s, &id).await?;
    s.authorize(&ctx, rule(&r, "identity:delete_role", "identity:delete_domain_role"), &target(&r))?;
    let holders = s.role_holders(&id).await?;
    s.store.delete_role(&id).await?;
    s.revoke_users(&holders).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- implied roles ----

async fn list_implied(
    s: State,
    Authenticated(ctx): Authenticated,
    BaseUrl(base): BaseUrl,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    s.authorize(&ctx, "identity:list_implied_roles", &json!({}))?;
    let prior = load(&s, &id).await?;
    let graph = s.store.implied_roles().await?;
    let mut implies = Vec::new();
    for i in graph.implied_by(&id) {
        if let Some(r) = s.store.get_role(i).await? {
            implies.push(brief(&r, &base));
        }
    }
    Ok(Json(json!({"role_inference": {"prior_role": brief(&prior, &base), "implies": implies},
                   "links": links(&base, &format!("roles/{id}/implies"))})))
}

async fn show_implied(
    s: State,
    Authenticated(ctx): Authenticated,
    BaseUrl(base): BaseUrl,
    Path((id, implied)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    s.authorize(&ctx, "identity:get_implied_role", &json!({}))?;
    let prior = load(&s, &id).await?;
    let imp = load(&s, &implied).await?;
    if !s.store.implied_roles().await?.implied_by(&id).contains(&implied) {
        return Err(ApiError::not_found(format!("Could not find implied role: {id} implies {implied}.")));
    }
    Ok(Json(json!({"role_inference": {"prior_role": brief(&prior, &base), "implies": brief(&imp, &base)},
                   "links": links(&base, &format!("roles/{id}/implies/{implied}"))})))
}

async fn add_implied(
    s: State,
    Authenticated(ctx): Authenticated,
    BaseUrl(base): BaseUrl,
    Path((id, implied)): Path<(String, String)>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    s.authorize(&ctx, "identity:create_implied_role", &json!({}))?;
    let prior = load(&s, &id).await?;
    let imp = load(&s, &implied).await?;
    if prior.domain_id.is_none() && imp.domain_id.is_some() {
        // As keystone: domain-specific roles stand for global ones, never the reverse.
        return Err(ApiError::forbidden("A global role cannot imply a domain-specific role."));
    }
    if s.store.implied_roles().await?.would_cycle(&id, &implied) {
        return Err(ApiError::forbidden(format!(
            "Implying {implied} from {id} would make a cycle of implied roles."
        )));
    }
    s.store.add_implied_role(&id, &implied).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"role_inference": {"prior_role": brief(&prior, &base), "implies": brief(&imp, &base)},
                    "links": links(&base, &format!("roles/{id}/implies/{implied}"))})),
    ))
}

async fn remove_implied(
    s: State,
    Authenticated(ctx): Authenticated,
    Path((id, implied)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    s.authorize(&ctx, "identity:delete_implied_role", &json!({}))?;
    load(&s, &id).await?;
    load(&s, &implied).await?;
    let holders = s.role_holders(&id).await?;
    if !s.store.remove_implied_role(&id, &implied).await? {
        return Err(ApiError::not_found(format!("Could not find implied role: {id} implies {implied}.")));
    }
    s.revoke_users(&holders).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn inferences(
    s: State,
    Authenticated(ctx): Authenticated,
    BaseUrl(base): BaseUrl,
) -> ApiResult<Json<Value>> {
    s.authorize(&ctx, "identity:list_role_inference_rules", &json!({}))?;
    let roles: std::collections::HashMap<String, Role> =
        s.store.all_roles().await?.into_iter().map(|r| (r.id.clone(), r)).collect();
    let mut grouped: std::collections::BTreeMap<String, Vec<Value>> = Default::default();
    for (prior, implied) in s.store.implied_role_rules().await? {
        if let Some(r) = roles.get(&implied) {
            grouped.entry(prior).or_default().push(brief(r, &base));
        }
    }
    let items: Vec<Value> = grouped
        .into_iter()
        .filter_map(|(p, implies)| {
            roles.get(&p).map(|r| json!({"prior_role": brief(r, &base), "implies": implies}))
        })
        .collect();
    Ok(Json(json!({"role_inferences": items, "links": links(&base, "role_inferences")})))
}
