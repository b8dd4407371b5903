//! `/os-migrations`: resizes and cold migrations (`openstack server migration list`).

use std::sync::Arc;

use axum::extract::Query;
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};
use stratus_core::auth::Authenticated;
use stratus_core::error::{ApiError, ApiResult};
use stratus_core::http::microversion::Version;

use super::common::nova_time;
use super::State;
use crate::store::{MigrationFilter, MigrationRow};
use crate::ComputeService;

pub fn routes() -> Router<Arc<ComputeService>> {
    Router::new().route("/os-migrations", get(list))
}

fn render(r: &MigrationRow, v: Version, show_hosts: bool) -> Value {
    let m = &r.migration;
    let host = |h: &Option<String>| if show_hosts { json!(h) } else { Value::Null };
    let mut body = json!({
        "id": r.id,
        "instance_uuid": m.instance_uuid,
        "status": m.status,
        "source_compute": host(&m.source_compute),
        "source_node": host(&m.source_compute),
        "dest_compute": host(&m.dest_compute),
        "dest_node": host(&m.dest_compute),
        "dest_host": Value::Null,
        "old_instance_type_id": r.old_type_id,
        "new_instance_type_id": r.new_type_id,
        "created_at": nova_time(r.created_at),
        "updated_at": nova_time(r.updated_at),
    });
    if v.at_least(2, 23) {
        body["migration_type"] = json!(m.migration_type);
    }
    if v.at_least(2, 59) {
        body["uuid"] = json!(m.uuid);
    }
    if v.at_least(2, 80) {
        body["user_id"] = json!(m.user_id);
        body["project_id"] = json!(m.project_id);
    }
    body
}

async fn list(
    service: State,
    Authenticated(ctx): Authenticated,
    v: Version,
    Query(q): Query<Vec<(String, String)>>,
) -> ApiResult<axum::Json<Value>> {
    let own = ComputeService::own_target(&ctx);
    service.authorize(&ctx, "os_compute_api:os-migrations:index", &own)?;
    let all_projects =
        service.policy.enforce("os_compute_api:os-migrations:index:all_projects", &ctx.credentials(), &own);
    let show_hosts =
        service.policy.enforce("os_compute_api:os-migrations:index:host", &ctx.credentials(), &own);
    let get = |k: &str| q.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
    let limit = match get("limit") {
        Some(l) => Some(l.parse::<u32>().map_err(|_| ApiError::bad_request(format!("Invalid limit: {l}")))?),
        None => None,
    };
    let mut filter = MigrationFilter {
        instance_uuid: get("instance_uuid"),
        status: get("status"),
        migration_type: get("migration_type"),
        source_compute: get("source_compute"),
        host: get("host"),
        user_id: get("user_id").filter(|_| v.at_least(2, 80)),
        project_id: get("project_id").filter(|_| v.at_least(2, 80)),
        limit,
    };
    if !all_projects {
        filter.project_id = ctx.project_id().map(str::to_string);
    }
    if !show_hosts {
        filter.host = None;
        filter.source_compute = None;
    }
    let rows = service.store.list_migrations(&filter).await?;
    let migrations: Vec<Value> = rows.iter().map(|r| render(r, v, show_hosts)).collect();
    Ok(axum::Json(json!({"migrations": migrations})))
}
