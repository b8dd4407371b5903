//! `/servers/{id}/os-instance-actions`: what was done to a server (`server event list`).

use std::sync::Arc;

use axum::extract::Path;
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};
use stratus_core::auth::Authenticated;
use stratus_core::error::{ApiError, ApiResult};
use stratus_core::http::microversion::Version;

use super::common::nova_time;
use super::State;
use crate::store::{ActionEvent, InstanceAction};
use crate::ComputeService;

pub fn routes() -> Router<Arc<ComputeService>> {
    Router::new()
        .route("/servers/{id}/os-instance-actions", get(list))
        .route("/servers/{id}/os-instance-actions/{request_id}", get(show))
}

fn render(a: &InstanceAction, v: Version) -> Value {
    let mut body = json!({
        "action": a.action,
        "instance_uuid": a.instance_uuid,
        "message": a.message,
        "project_id": a.project_id,
        "request_id": a.request_id,
        "start_time": nova_time(a.start_time),
        "user_id": a.user_id,
    });
    if v.at_least(2, 58) {
        body["updated_at"] = json!(nova_time(a.updated_at));
    }
    body
}

fn render_event(e: &ActionEvent, v: Version, admin: bool) -> Value {
    let mut body = json!({
        "event": e.event,
        "start_time": nova_time(e.start_time),
        "finish_time": e.finish_time.map(nova_time),
        "result": e.result,
    });
    if admin {
        body["traceback"] = Value::Null;
        if v.at_least(2, 62) {
            body["host"] = json!(e.host);
        }
    }
    if v.at_least(2, 62) {
        body["hostId"] = json!("");
    }
    if v.at_least(2, 84) {
        body["details"] = json!(e.details);
    }
    body
}

async fn owned(
    service: &ComputeService,
    ctx: &stratus_core::auth::AuthContext,
    id: &str,
    rule: &str,
) -> ApiResult<()> {
    // Actions of deleted servers stay readable, as nova's are.
    let i = service
        .store
        .instance_any(id)
        .await?
        .filter(|i| service.is_admin(ctx) || Some(i.project_id.as_str()) == ctx.project_id())
        .ok_or_else(|| ApiError::not_found(format!("Instance {id} could not be found.")))?;
    service.authorize(ctx, rule, &json!({"project_id": i.project_id}))
}

async fn list(
    service: State,
    Authenticated(ctx): Authenticated,
    v: Version,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<Value>> {
    owned(&service, &ctx, &id, "os_compute_api:os-instance-actions:list").await?;
    let actions: Vec<Value> = service.store.actions(&id).await?.iter().map(|a| render(a, v)).collect();
    Ok(axum::Json(json!({"instanceActions": actions})))
}

async fn show(
    service: State,
    Authenticated(ctx): Authenticated,
    v: Version,
    Path((id, rid)): Path<(String, String)>,
) -> ApiResult<axum::Json<Value>> {
    owned(&service, &ctx, &id, "os_compute_api:os-instance-actions:show").await?;
    let a = service.store.action(&id, &rid).await?.ok_or_else(|| {
        ApiError::not_found(format!("Action for request_id {rid} on instance {id} not found"))
    })?;
    let admin = service.is_admin(&ctx);
    let events: Vec<Value> =
        service.store.events(&a.id).await?.iter().map(|e| render_event(e, v, admin)).collect();
    let mut body = render(&a, v);
    body["events"] = json!(events);
    Ok(axum::Json(json!({"instanceAction": body})))
}
