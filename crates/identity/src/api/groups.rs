//! `/v3/groups` and group membership.

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

use super::{collection_links, links, owning_domain, with_extra, State};
use crate::model::{new_id, Group};
use crate::policy_glue::domain_filter_target;

pub fn routes() -> Router<std::sync::Arc<crate::service::Identity>> {
    Router::new()
        .route("/v3/groups", get(list).post(create))
        .route("/v3/groups/{id}", get(show).patch(update).delete(remove))
        .route("/v3/groups/{id}/users", get(members))
        .route("/v3/groups/{id}/users/{user_id}", get(check_member).put(add_member).delete(remove_member))
}

pub(crate) fn render(g: &Group, base: &str) -> Value {
    let v = json!({
        "id": g.id, "name": g.name, "domain_id": g.domain_id,
        "description": g.description.clone().unwrap_or_default(),
        "links": links(base, &format!("groups/{}", g.id)),
    });
    with_extra(v, &g.extra)
}

pub(crate) async fn load(s: &State, id: &str) -> ApiResult<Group> {
    s.store.get_group(id).await?.ok_or_else(|| ApiError::not_found_resource("group", id))
}

fn target(g: &Group) -> Value {
    json!({"target": {"group": {"id": g.id, "domain_id": g.domain_id}}, "domain_id": g.domain_id})
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
    let (target, domain) = domain_filter_target(&ctx, q.domain_id.as_deref());
    s.authorize(&ctx, "identity:list_groups", &target)?;
    let items: Vec<Value> = s
        .store
        .list_groups(q.name.as_deref(), domain.as_deref())
        .await?
        .iter()
        .map(|g| render(g, &base))
        .collect();
    Ok(Json(json!({"groups": items, "links": collection_links(&base, "groups")})))
}

async fn show(
    s: State,
    Authenticated(ctx): Authenticated,
    BaseUrl(base): BaseUrl,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let g = load(&s, &id).await?;
    s.authorize(&ctx, "identity:get_group", &target(&g))?;
    Ok(Json(json!({"group": render(&g, &base)})))
}

async fn create(
    s: State,
    Authenticated(ctx): Authenticated,
    BaseUrl(base): BaseUrl,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let mut f = Fields::from_wrapped(body, "group")?;
    f.forbid(&["id", "links"])?;
    let name = f.req_name("name", 64)?;
    let domain_id = owning_domain(&ctx, f.opt_str("domain_id")?);
    let g = Group { id: new_id(), name, domain_id, description: f.opt_str("description")?, extra: f.rest() };
    s.authorize(&ctx, "identity:create_group", &target(&g))?;
    if s.store.get_domain(&g.domain_id).await?.is_none() {
        return Err(ApiError::not_found_resource("domain", &g.domain_id));
    }
    s.store.create_group(&g).await?;
    Ok((StatusCode::CREATED, Json(json!({"group": render(&g, &base)}))))
}

async fn update(
    s: State,
    Authenticated(ctx): Authenticated,
    BaseUrl(base): BaseUrl,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Json<Value>> {
    let mut g = load(&s, &id).await?;
    s.authorize(&ctx, "identity:update_group", &target(&g))?;
    let mut f = Fields::from_wrapped(body, "group")?;
    f.forbid(&["id", "links", "domain_id"])?;
    if let Some(name) = f.opt_name("name", 64)? {
        g.name = name;
    }
    if f.contains("description") {
        g.description = f.opt_str("description")?;
    }
    g.extra.extend(f.rest());
    s.store.update_group(&g).await?;
    Ok(Json(json!({"group": render(&g, &base)})))
}

async fn remove(
    s: State,
    Authenticated(ctx): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let g = load(&s, &id).await?;
    s.authorize(&ctx, "identity:delete_group", &target(&g))?;
    let members = s.store.group_member_ids(&id).await?;
    s.store.delete_group(&id).await?;
    s.revoke_users(&members).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn members(
    s: State,
    Authenticated(ctx): Authenticated,
    BaseUrl(base): BaseUrl,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let g = load(&s, &id).await?;
    s.authorize(&ctx, "identity:list_users_in_group", &target(&g))?;
    let mut items = Vec::new();
    for uid in s.store.group_member_ids(&id).await? {
        if let Some(u) = s.store.get_user(&uid).await? {
            items.push(super::users::render(&u, &base));
        }
    }
    Ok(Json(json!({"users": items, "links": collection_links(&base, &format!("groups/{id}/users"))})))
}

async fn membership_target(s: &State, gid: &str, uid: &str) -> ApiResult<Value> {
    let g = load(s, gid).await?;
    let u = super::users::load(s, uid).await?;
    Ok(
        json!({"target": {"group": {"id": g.id, "domain_id": g.domain_id}, "user": {"id": u.id, "domain_id": u.domain_id}}}),
    )
}

async fn check_member(
    s: State,
    Authenticated(ctx): Authenticated,
    Path((gid, uid)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let t = membership_target(&s, &gid, &uid).await?;
    s.authorize(&ctx, "identity:check_user_in_group", &t)?;
    if s.store.is_group_member(&gid, &uid).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("User {uid} is not a member of group {gid}.")))
    }
}

async fn add_member(
    s: State,
    Authenticated(ctx): Authenticated,
    Path((gid, uid)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let t = membership_target(&s, &gid, &uid).await?;
    s.authorize(&ctx, "identity:add_user_to_group", &t)?;
    s.store.add_group_member(&gid, &uid).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn remove_member(
    s: State,
    Authenticated(ctx): Authenticated,
    Path((gid, uid)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let t = membership_target(&s, &gid, &uid).await?;
    s.authorize(&ctx, "identity:remove_user_from_group", &t)?;
    if !s.store.remove_group_member(&gid, &uid).await? {
        return Err(ApiError::not_found(format!("User {uid} is not a member of group {gid}.")));
    }
    s.revoke_user(&uid).await?;
    Ok(StatusCode::NO_CONTENT)
}
