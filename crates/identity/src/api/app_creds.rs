//! `/v3/users/{user_id}/application_credentials`

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

use super::{collection_links, links, State};
use crate::model::{new_id, ApplicationCredential};
use crate::password;

pub fn routes() -> Router<std::sync::Arc<crate::service::Identity>> {
    Router::new()
        .route("/v3/users/{user_id}/application_credentials", get(list).post(create))
        .route("/v3/users/{user_id}/application_credentials/{id}", get(show).delete(remove))
}

async fn render(s: &State, c: &ApplicationCredential, base: &str, secret: Option<&str>) -> ApiResult<Value> {
    let mut roles = Vec::new();
    for id in &c.role_ids {
        if let Some(r) = s.store.get_role(id).await? {
            roles.push(json!({"id": r.id, "name": r.name, "domain_id": r.domain_id}));
        }
    }
    let mut v = json!({
        "id": c.id, "name": c.name, "description": c.description, "user_id": c.user_id,
        "project_id": c.project_id, "expires_at": c.expires_at, "unrestricted": c.unrestricted,
        "roles": roles, "system": null, "access_rules": [],
        "links": links(base, &format!("users/{}/application_credentials/{}", c.user_id, c.id)),
    });
    if let Some(secret) = secret {
        v["secret"] = json!(secret);
    }
    Ok(v)
}

fn target(user_id: &str) -> Value {
    json!({"user_id": user_id, "target": {"user": {"id": user_id}, "application_credential": {"user_id": user_id}}})
}

#[derive(Deserialize)]
struct ListQuery {
    name: Option<String>,
}

async fn list(
    s: State,
    Authenticated(ctx): Authenticated,
    BaseUrl(base): BaseUrl,
    Path(user_id): Path<String>,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Value>> {
    s.authorize(&ctx, "identity:list_application_credentials", &target(&user_id))?;
    let mut items = Vec::new();
    for c in s.store.list_app_creds(&user_id, q.name.as_deref()).await? {
        items.push(render(&s, &c, &base, None).await?);
    }
    Ok(Json(json!({"application_credentials": items,
                   "links": collection_links(&base, &format!("users/{user_id}/application_credentials"))})))
}

async fn load(s: &State, user_id: &str, id: &str) -> ApiResult<ApplicationCredential> {
    s.store
        .get_app_cred(id)
        .await?
        .filter(|c| c.user_id == user_id)
        .ok_or_else(|| ApiError::not_found_resource("application credential", id))
}

async fn show(
    s: State,
    Authenticated(ctx): Authenticated,
    BaseUrl(base): BaseUrl,
    Path((user_id, id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    s.authorize(&ctx, "identity:get_application_credential", &target(&user_id))?;
    let c = load(&s, &user_id, &id).await?;
    Ok(Json(json!({"application_credential": render(&s, &c, &base, None).await?})))
}

async fn create(
    s: State,
    Authenticated(ctx): Authenticated,
    BaseUrl(base): BaseUrl,
    Path(user_id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    s.authorize(&ctx, "identity:create_application_credential", &target(&user_id))?;
    if ctx.user.id != user_id {
        return Err(ApiError::forbidden("Application credentials are created by their own user only."));
    }
    let project_id = ctx
        .project_id()
        .ok_or_else(|| ApiError::bad_request("An application credential needs a project-scoped token."))?
        .to_string();
    if ctx.application_credential.is_some() {
        return Err(ApiError::forbidden(
            "An application credential cannot create another application credential.",
        ));
    }
    let mut f = Fields::from_wrapped(body, "application_credential")?;
    f.forbid(&["id", "links", "user_id", "project_id"])?;
    let name = f.req_name("name", 255)?;
    let secret = match f.opt_str("secret")? {
        Some(sec) if sec.is_empty() => {
            return Err(ApiError::bad_request("Invalid input for field 'secret': must not be empty"))
        }
        Some(sec) => sec,
        None => password::generate_secret(64),
    };
    let expires_at = match f.opt_str("expires_at")? {
        Some(t) => {
            let parsed = parse_expiry(&t)?;
            if parsed <= chrono::Utc::now() {
                return Err(ApiError::bad_request(
                    "Invalid input for field 'expires_at': the time is in the past",
                ));
            }
            Some(stratus_core::db::time_string(parsed))
        }
        None => None,
    };
    // Roles: those asked for (each must be one the token has), or — when none are named, as
    // the SDK sends `[]` — all of the token's.
    let token_roles = &ctx.roles;
    let role_ids = match f.take("roles") {
        None | Some(Value::Null) => token_roles.iter().map(|r| r.id.clone()).collect::<Vec<_>>(),
        Some(Value::Array(asked)) if asked.is_empty() => token_roles.iter().map(|r| r.id.clone()).collect(),
        Some(Value::Array(asked)) => {
            let mut ids = Vec::new();
            for r in asked {
                let id = r.get("id").and_then(Value::as_str);
                let name = r.get("name").and_then(Value::as_str);
                let found = token_roles
                    .iter()
                    .find(|t| Some(t.id.as_str()) == id || Some(t.name.as_str()) == name)
                    .ok_or_else(|| {
                        ApiError::forbidden(format!(
                            "The role {} is not one the current token holds.",
                            id.or(name).unwrap_or("?")
                        ))
                    })?;
                if !ids.contains(&found.id) {
                    ids.push(found.id.clone());
                }
            }
            ids
        }
        Some(_) => return Err(ApiError::bad_request("Invalid input for field 'roles': must be a list")),
    };
    let c = ApplicationCredential {
        id: new_id(),
        name,
        user_id: user_id.clone(),
        project_id,
        secret_hash: password::hash(&secret, s.config.identity.password_hash_rounds).await?,
        description: f.opt_str("description")?,
        expires_at,
        unrestricted: f.opt_bool("unrestricted")?.unwrap_or(false),
        role_ids,
    };
    s.store.create_app_cred(&c).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"application_credential": render(&s, &c, &base, Some(&secret)).await?})),
    ))
}

fn parse_expiry(t: &str) -> ApiResult<chrono::DateTime<chrono::Utc>> {
    stratus_core::input::parse_iso_time(t).ok_or_else(|| {
        ApiError::bad_request(format!("Invalid input for field 'expires_at': {t:?} is not an ISO 8601 time"))
    })
}

async fn remove(
    s: State,
    Authenticated(ctx): Authenticated,
    Path((user_id, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    s.authorize(&ctx, "identity:delete_application_credential", &target(&user_id))?;
    load(&s, &user_id, &id).await?;
    s.store.delete_app_cred(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}
