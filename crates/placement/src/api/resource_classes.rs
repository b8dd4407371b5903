//! `/resource_classes` (microversion 1.2 and later).

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};
use stratus_core::auth::Authenticated;
use stratus_core::error::{ApiError, ApiResult};
use stratus_core::http::microversion::Version;
use stratus_core::http::{Json, OptionalJson};

use super::{created_at, invalid, keys, no_content, object, ok, since, string, State};
use crate::model::is_custom_name;

pub fn routes() -> Router<std::sync::Arc<crate::service::PlacementService>> {
    Router::new()
        .route("/resource_classes", get(list).post(create))
        .route("/resource_classes/{name}", get(show).put(put).delete(delete))
}

fn url(name: &str) -> String {
    format!("/resource_classes/{name}")
}

fn render(name: &str) -> Value {
    json!({"name": name, "links": [{"rel": "self", "href": url(name)}]})
}

fn custom_name(body: Value) -> ApiResult<String> {
    let body = object(body)?;
    keys(&body, &["name"], &["name"])?;
    let name = string(&body["name"], "name")?;
    if !is_custom_name(name) {
        return Err(invalid(format!("'{name}' does not match '^CUSTOM_[A-Z0-9_]+$' (name)")));
    }
    Ok(name.to_string())
}

async fn list(s: State, Authenticated(ctx): Authenticated, v: Version) -> ApiResult<Response> {
    since(v, 1, 2)?;
    s.can(&ctx, "placement:resource_classes:list")?;
    let all: Vec<Value> = s.resource_classes().await?.iter().map(|n| render(n)).collect();
    Ok(ok(&json!({"resource_classes": all})))
}

async fn show(
    s: State,
    Authenticated(ctx): Authenticated,
    v: Version,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    since(v, 1, 2)?;
    s.can(&ctx, "placement:resource_classes:show")?;
    if !s.resource_class_exists(&name).await? {
        return Err(ApiError::not_found(format!("No such resource class {name}.")));
    }
    Ok(ok(&render(&name)))
}

async fn create(
    s: State,
    Authenticated(ctx): Authenticated,
    v: Version,
    Json(body): Json<Value>,
) -> ApiResult<Response> {
    since(v, 1, 2)?;
    s.can(&ctx, "placement:resource_classes:create")?;
    let name = custom_name(body)?;
    s.create_resource_class(&name, false).await?;
    Ok(created_at(StatusCode::CREATED, &url(&name)))
}

/// Before 1.7 a rename of a custom class; from 1.7 "create, or confirm it exists".
async fn put(
    s: State,
    Authenticated(ctx): Authenticated,
    v: Version,
    Path(name): Path<String>,
    OptionalJson(body): OptionalJson<Value>,
) -> ApiResult<Response> {
    since(v, 1, 2)?;
    s.can(&ctx, "placement:resource_classes:update")?;
    if v.at_least(1, 7) {
        if !is_custom_name(&name) {
            return Err(invalid(format!("'{name}' does not match '^CUSTOM_[A-Z0-9_]+$' (name)")));
        }
        let created = s.create_resource_class(&name, true).await?;
        let status = if created { StatusCode::CREATED } else { StatusCode::NO_CONTENT };
        return Ok(created_at(status, &url(&name)));
    }
    let new_name = custom_name(body.unwrap_or(Value::Null))?;
    s.rename_resource_class(&name, &new_name).await?;
    Ok(ok(&render(&new_name)))
}

async fn delete(
    s: State,
    Authenticated(ctx): Authenticated,
    v: Version,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    since(v, 1, 2)?;
    s.can(&ctx, "placement:resource_classes:delete")?;
    s.delete_resource_class(&name).await?;
    Ok(no_content())
}
