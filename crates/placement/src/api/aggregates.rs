//! `/resource_providers/{uuid}/aggregates` (microversion 1.1 and later; with the provider
//! generation from 1.19).

use axum::extract::Path;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};
use stratus_core::auth::Authenticated;
use stratus_core::error::ApiResult;
use stratus_core::http::microversion::Version;
use stratus_core::http::Json;

use super::{int, invalid, keys, object, ok, path_uuid, since, strings, State};

pub fn routes() -> Router<std::sync::Arc<crate::service::PlacementService>> {
    Router::new().route("/resource_providers/{uuid}/aggregates", get(list).put(set))
}

fn render(aggregates: &[String], generation: i64, v: Version) -> Value {
    let mut body = json!({"aggregates": aggregates});
    if v.at_least(1, 19) {
        body["resource_provider_generation"] = json!(generation);
    }
    body
}

async fn list(
    s: State,
    Authenticated(ctx): Authenticated,
    v: Version,
    Path(uuid): Path<String>,
) -> ApiResult<Response> {
    since(v, 1, 1)?;
    s.can(&ctx, "placement:resource_providers:aggregates:list")?;
    let (p, aggs) = s.provider_aggregates(&path_uuid(&uuid)).await?;
    Ok(ok(&render(&aggs, p.generation, v)))
}

async fn set(
    s: State,
    Authenticated(ctx): Authenticated,
    v: Version,
    Path(uuid): Path<String>,
    Json(body): Json<Value>,
) -> ApiResult<Response> {
    since(v, 1, 1)?;
    s.can(&ctx, "placement:resource_providers:aggregates:update")?;
    let uuid = path_uuid(&uuid);
    s.provider(&uuid).await?;
    let (list, generation) = if v.at_least(1, 19) {
        let body = object(body)?;
        keys(
            &body,
            &["aggregates", "resource_provider_generation"],
            &["aggregates", "resource_provider_generation"],
        )?;
        (
            body["aggregates"].clone(),
            Some(int(&body["resource_provider_generation"], "resource_provider_generation")?),
        )
    } else {
        (body, None)
    };
    let raw = strings(&list, "aggregates", true)?;
    let mut aggs = Vec::with_capacity(raw.len());
    for a in raw {
        aggs.push(
            crate::model::normalize_uuid(&a)
                .ok_or_else(|| invalid(format!("'{a}' is not a 'uuid' (aggregates)")))?,
        );
    }
    let generation = s.set_provider_aggregates(&uuid, generation, &aggs).await?;
    Ok(ok(&render(&aggs, generation, v)))
}
