//! `/v2/images/{id}/members`: sharing an image with other projects.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use chrono::Utc;
use serde_json::{json, Value};
use stratus_core::auth::Authenticated;
use stratus_core::error::{ApiError, ApiResult};
use stratus_core::http::Json as JsonBody;

use super::images::glance_time;
use super::State;
use crate::model::{Member, MemberStatus, Visibility};

pub fn routes() -> Router<std::sync::Arc<crate::service::ImageService>> {
    Router::new()
        .route("/v2/images/{id}/members", get(list).post(add))
        .route("/v2/images/{id}/members/{member_id}", get(show).put(update).delete(remove))
}

fn render(m: &Member) -> Value {
    json!({
        "image_id": m.image_id, "member_id": m.member_id, "status": m.status.as_str(),
        "created_at": glance_time(m.created_at),
        "updated_at": glance_time(m.updated_at),
        "schema": "/v2/schemas/member",
    })
}

async fn list(s: State, Authenticated(ctx): Authenticated, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let image = s.load_visible(&ctx, &id).await?;
    s.authorize(&ctx, "get_members", &s.target(&ctx, &image).await?)?;
    let mut members = s.store.list_members(&id).await?;
    // The owner (and an admin) sees every member; a member sees only itself.
    let owner = image.owner.as_deref() == ctx.project_id();
    if !owner && !s.is_admin(&ctx) {
        members.retain(|m| Some(m.member_id.as_str()) == ctx.project_id());
    }
    Ok(Json(
        json!({"members": members.iter().map(render).collect::<Vec<_>>(), "schema": "/v2/schemas/members"}),
    ))
}

async fn show(
    s: State,
    Authenticated(ctx): Authenticated,
    Path((id, member_id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let image = s.load_visible(&ctx, &id).await?;
    s.authorize(&ctx, "get_member", &s.target(&ctx, &image).await?)?;
    let owner = image.owner.as_deref() == ctx.project_id();
    if !owner && !s.is_admin(&ctx) && ctx.project_id() != Some(member_id.as_str()) {
        return Err(ApiError::not_found(format!("Member {member_id} not found for image {id}")));
    }
    let m = s
        .store
        .get_member(&id, &member_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("Member {member_id} not found for image {id}")))?;
    Ok(Json(render(&m)))
}

async fn add(
    s: State,
    Authenticated(ctx): Authenticated,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Json<Value>> {
    let member_id = body
        .get("member")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty() && m.len() <= 255)
        .ok_or_else(|| ApiError::bad_request("Invalid input for field 'member': a project id is required"))?
        .to_string();
    let image = s.load_visible(&ctx, &id).await?;
    s.authorize(&ctx, "add_member", &s.target(&ctx, &image).await?)?;
    if image.owner.as_deref() != ctx.project_id() && !s.is_admin(&ctx) {
        return Err(ApiError::forbidden("Only the image's owner can share it."));
    }
    if image.visibility != Visibility::Shared {
        return Err(ApiError::forbidden(format!(
            "Only shared images have members; image {id} is {}.",
            image.visibility.as_str()
        )));
    }
    let now = Utc::now();
    let m =
        Member { image_id: id, member_id, status: MemberStatus::Pending, created_at: now, updated_at: now };
    s.store.add_member(&m).await?;
    Ok(Json(render(&m)))
}

async fn update(
    s: State,
    Authenticated(ctx): Authenticated,
    Path((id, member_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Json<Value>> {
    let status =
        body.get("status").and_then(Value::as_str).and_then(MemberStatus::parse).ok_or_else(|| {
            ApiError::bad_request("Invalid input for field 'status': one of pending, accepted, rejected")
        })?;
    let image = s.load_visible(&ctx, &id).await?;
    s.authorize(&ctx, "modify_member", &s.target(&ctx, &image).await?)?;
    if ctx.project_id() != Some(member_id.as_str()) {
        return Err(ApiError::forbidden("Only the member project itself can accept or reject an image."));
    }
    let mut m = s
        .store
        .get_member(&id, &member_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("Member {member_id} not found for image {id}")))?;
    s.store.set_member_status(&id, &member_id, status).await?;
    m.status = status;
    m.updated_at = Utc::now();
    Ok(Json(render(&m)))
}

async fn remove(
    s: State,
    Authenticated(ctx): Authenticated,
    Path((id, member_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let image = s.load_visible(&ctx, &id).await?;
    s.authorize(&ctx, "delete_member", &s.target(&ctx, &image).await?)?;
    if image.owner.as_deref() != ctx.project_id() && !s.is_admin(&ctx) {
        return Err(ApiError::forbidden("Only the image's owner can stop sharing it."));
    }
    if !s.store.delete_member(&id, &member_id).await? {
        return Err(ApiError::not_found(format!("Member {member_id} not found for image {id}")));
    }
    Ok(StatusCode::NO_CONTENT)
}
