//! `/v3/users`, a user's projects and groups, and password self-change.

use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use stratus_core::auth::Authenticated;
use stratus_core::error::{ApiError, ApiResult};
use stratus_core::http::{BaseUrl, Json as JsonBody};
use stratus_core::input::{query_bool, Fields};

use super::{collection_links, links, owning_domain, with_extra, State};
use crate::model::{new_id, User};
use crate::password;
use crate::policy_glue::domain_filter_target;

pub fn routes() -> Router<std::sync::Arc<crate::service::Identity>> {
    Router::new()
        .route("/v3/users", get(list).post(create))
        .route("/v3/users/{id}", get(show).patch(update).delete(remove))
        .route("/v3/users/{id}/password", post(change_password))
        .route("/v3/users/{id}/projects", get(projects))
        .route("/v3/users/{id}/groups", get(groups))
}

pub(crate) fn render(u: &User, base: &str) -> Value {
    let mut v = json!({
        "id": u.id, "name": u.name, "domain_id": u.domain_id, "enabled": u.enabled,
        "password_expires_at": null,
        "options": u.extra.get("options").cloned().unwrap_or(json!({})),
        "links": links(base, &format!("users/{}", u.id)),
    });
    if let Some(p) = &u.default_project_id {
        v["default_project_id"] = json!(p);
    }
    with_extra(v, &u.extra)
}

pub(crate) async fn load(s: &State, id: &str) -> ApiResult<User> {
    s.store.get_user(id).await?.ok_or_else(|| ApiError::not_found_resource("user", id))
}

pub(crate) fn target(u: &User) -> Value {
    json!({"target": {"user": {"id": u.id, "domain_id": u.domain_id}}, "user_id": u.id, "domain_id": u.domain_id})
}

#[derive(Deserialize)]
struct ListQuery {
    name: Option<String>,
    domain_id: Option<String>,
    enabled: Option<String>,
}

async fn list(
    s: State,
    Authenticated(ctx): Authenticated,
    BaseUrl(base): BaseUrl,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Value>> {
    let (target, domain) = domain_filter_target(&ctx, q.domain_id.as_deref());
    s.authorize(&ctx, "identity:list_users", &target)?;
    let enabled = query_bool("enabled", q.enabled.as_deref())?;
    let users = s.store.list_users(q.name.as_deref(), domain.as_deref(), enabled).await?;
    let items: Vec<Value> = users.iter().map(|u| render(u, &base)).collect();
    Ok(Json(json!({"users": items, "links": collection_links(&base, "users")})))
}

async fn show(
    s: State,
    Authenticated(ctx): Authenticated,
    BaseUrl(base): BaseUrl,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let u = load(&s, &id).await?;
    s.authorize(&ctx, "identity:get_user", &target(&u))?;
    Ok(Json(json!({"user": render(&u, &base)})))
}

async fn create(
    s: State,
    Authenticated(ctx): Authenticated,
    BaseUrl(base): BaseUrl,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let mut f = Fields::from_wrapped(body, "user")?;
    f.forbid(&["id", "links"])?;
    let name = f.req_name("name", 255)?;
    let domain_id = owning_domain(&ctx, f.opt_str("domain_id")?);
    let mut user = User {
        id: new_id(),
        name,
        domain_id,
        enabled: f.opt_bool("enabled")?.unwrap_or(true),
        default_project_id: f.opt_str("default_project_id")?,
        password_hash: None,
        failed_auth_count: 0,
        last_failed_auth: None,
        extra: Default::default(),
    };
    s.authorize(&ctx, "identity:create_user", &target(&user))?;
    if s.store.get_domain(&user.domain_id).await?.is_none() {
        return Err(ApiError::not_found_resource("domain", &user.domain_id));
    }
    if let Some(p) = &user.default_project_id {
        if s.store.get_project(p).await?.is_none() {
            return Err(ApiError::not_found_resource("project", p));
        }
    }
    if let Some(pw) = f.opt_str("password")? {
        user.password_hash = Some(password::hash(&pw, s.config.identity.password_hash_rounds).await?);
    }
    user.extra = f.rest();
    s.store.create_user(&user).await?;
    Ok((StatusCode::CREATED, Json(json!({"user": render(&user, &base)}))))
}

async fn update(
    s: State,
    Authenticated(ctx): Authenticated,
    BaseUrl(base): BaseUrl,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Json<Value>> {
    let mut u = load(&s, &id).await?;
    s.authorize(&ctx, "identity:update_user", &target(&u))?;
    let mut f = Fields::from_wrapped(body, "user")?;
    f.forbid(&["id", "links", "domain_id"])?;
    if let Some(name) = f.opt_name("name", 255)? {
        u.name = name;
    }
    let was_enabled = u.enabled;
    if let Some(e) = f.opt_bool("enabled")? {
        u.enabled = e;
    }
    if f.contains("default_project_id") {
        u.default_project_id = f.opt_str("default_project_id")?;
        if let Some(p) = &u.default_project_id {
            if s.store.get_project(p).await?.is_none() {
                return Err(ApiError::not_found_resource("project", p));
            }
        }
    }
    let new_password = f.opt_str("password")?;
    u.extra.extend(f.rest());
    s.store.update_user(&u).await?;
    if let Some(pw) = &new_password {
        let hash = password::hash(pw, s.config.identity.password_hash_rounds).await?;
        s.store.set_password_hash(&u.id, &hash).await?;
    }
    if (was_enabled && !u.enabled) || new_password.is_some() {
        s.revoke_user(&u.id).await?;
    }
    Ok(Json(json!({"user": render(&u, &base)})))
}

async fn remove(
    s: State,
    Authenticated(ctx): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let u = load(&s, &id).await?;
    s.authorize(&ctx, "identity:delete_user", &target(&u))?;
    s.store.delete_user(&id).await?;
    s.revoke_user(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v3/users/{id}/password`: the user proves the old password; no token needed.
async fn change_password(
    s: State,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<StatusCode> {
    let mut f = Fields::from_wrapped(body, "user")?;
    let original = f.opt_str("original_password")?.ok_or_else(|| {
        ApiError::bad_request(
            "Invalid input for field 'original_password': 'original_password' is a required property",
        )
    })?;
    let new = f.opt_str("password")?.ok_or_else(|| {
        ApiError::bad_request("Invalid input for field 'password': 'password' is a required property")
    })?;
    if new.is_empty() {
        return Err(ApiError::bad_request("Invalid input for field 'password': must not be empty"));
    }
    // As keystone: the original password is checked like a login (lockout, disabled user).
    s.check_password(&crate::tokens::UserRef::Id(id.clone()), &original).await?;
    let hash = password::hash(&new, s.config.identity.password_hash_rounds).await?;
    s.store.set_password_hash(&id, &hash).await?;
    s.revoke_user(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn projects(
    s: State,
    Authenticated(ctx): Authenticated,
    BaseUrl(base): BaseUrl,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let u = load(&s, &id).await?;
    s.authorize(&ctx, "identity:list_user_projects", &target(&u))?;
    let items: Vec<Value> =
        s.scopable_projects(&id).await?.iter().map(|p| super::projects::render(p, &base)).collect();
    Ok(Json(json!({"projects": items, "links": collection_links(&base, &format!("users/{id}/projects"))})))
}

async fn groups(
    s: State,
    Authenticated(ctx): Authenticated,
    BaseUrl(base): BaseUrl,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let u = load(&s, &id).await?;
    s.authorize(&ctx, "identity:list_groups_for_user", &target(&u))?;
    let items: Vec<Value> =
        s.store.groups_of_user(&id).await?.iter().map(|g| super::groups::render(g, &base)).collect();
    Ok(Json(json!({"groups": items, "links": collection_links(&base, &format!("users/{id}/groups"))})))
}
