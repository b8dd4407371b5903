//! `/traits` and `/resource_providers/{uuid}/traits` (microversion 1.6 and later).

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};
use stratus_core::auth::Authenticated;
use stratus_core::error::{ApiError, ApiResult};
use stratus_core::http::microversion::Version;
use stratus_core::http::Json;

use super::{created_at, int, invalid, keys, no_content, object, ok, path_uuid, since, strings, State};
use crate::model::is_custom_name;
use crate::query::Params;

pub fn routes() -> Router<std::sync::Arc<crate::service::PlacementService>> {
    Router::new()
        .route("/traits", get(list))
        .route("/traits/{name}", get(show).put(put).delete(delete))
        .route(
            "/resource_providers/{uuid}/traits",
            get(provider_list).put(provider_set).delete(provider_clear),
        )
}

async fn list(
    s: State,
    Authenticated(ctx): Authenticated,
    v: Version,
    params: Params,
) -> ApiResult<Response> {
    since(v, 1, 6)?;
    s.can(&ctx, "placement:traits:list")?;
    params.only(|k| k == "name" || k == "associated")?;
    let (mut names_in, mut prefix) = (None, None);
    if let Some(q) = params.last("name") {
        let bad = || {
            ApiError::bad_request(format!(
                "Badly formatted name parameter. Expected name query string parameter in form: \
                 ?name=[in|startswith]:[name1,name2|prefix]. Got: \"{q}\""
            ))
        };
        let (op, value) = q.split_once(':').ok_or_else(bad)?;
        match op {
            "in" => names_in = Some(value.split(',').map(str::to_string).collect::<Vec<_>>()),
            "startswith" => prefix = Some(value.to_string()),
            _ => return Err(bad()),
        }
    }
    let associated = match params.last("associated") {
        None => None,
        Some(a) => match a.to_ascii_lowercase().as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => {
                return Err(ApiError::bad_request(
                    "The query parameter \"associated\" only accepts \"true\" or \"false\"",
                ))
            }
        },
    };
    let traits = s.traits(names_in.as_deref(), prefix.as_deref(), associated).await?;
    Ok(ok(&json!({"traits": traits})))
}

async fn show(
    s: State,
    Authenticated(ctx): Authenticated,
    v: Version,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    since(v, 1, 6)?;
    s.can(&ctx, "placement:traits:show")?;
    if !s.trait_exists(&name).await? {
        return Err(ApiError::not_found(format!("No such trait(s): {name}.")));
    }
    Ok(no_content())
}

async fn put(
    s: State,
    Authenticated(ctx): Authenticated,
    v: Version,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    since(v, 1, 6)?;
    s.can(&ctx, "placement:traits:update")?;
    if !is_custom_name(&name) {
        return Err(ApiError::bad_request(
            "The trait is invalid. A valid trait must be no longer than 255 characters, start with the prefix \
             \"CUSTOM_\" and use following characters: \"A\"-\"Z\", \"0\"-\"9\" and \"_\"",
        ));
    }
    let created = s.create_trait(&name).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::NO_CONTENT };
    Ok(created_at(status, &format!("/traits/{name}")))
}

async fn delete(
    s: State,
    Authenticated(ctx): Authenticated,
    v: Version,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    since(v, 1, 6)?;
    s.can(&ctx, "placement:traits:delete")?;
    s.delete_trait(&name).await?;
    Ok(no_content())
}

async fn provider_list(
    s: State,
    Authenticated(ctx): Authenticated,
    v: Version,
    Path(uuid): Path<String>,
) -> ApiResult<Response> {
    since(v, 1, 6)?;
    s.can(&ctx, "placement:resource_providers:traits:list")?;
    let (p, traits) = s.provider_traits(&path_uuid(&uuid)).await?;
    Ok(ok(&json!({"traits": traits, "resource_provider_generation": p.generation})))
}

async fn provider_set(
    s: State,
    Authenticated(ctx): Authenticated,
    v: Version,
    Path(uuid): Path<String>,
    Json(body): Json<Value>,
) -> ApiResult<Response> {
    since(v, 1, 6)?;
    s.can(&ctx, "placement:resource_providers:traits:update")?;
    let uuid = path_uuid(&uuid);
    let body = object(body)?;
    keys(&body, &["traits", "resource_provider_generation"], &["traits", "resource_provider_generation"])?;
    let traits = strings(&body["traits"], "traits", false)?;
    if let Some(t) = traits.iter().find(|t| t.is_empty() || t.len() > 255) {
        return Err(invalid(format!("'{t}' is not a valid trait name (traits)")));
    }
    let generation = int(&body["resource_provider_generation"], "resource_provider_generation")?;
    s.provider(&uuid).await?;
    let generation = s.set_provider_traits(&uuid, Some(generation), &traits).await?;
    let mut traits = traits;
    traits.sort();
    traits.dedup();
    Ok(ok(&json!({"traits": traits, "resource_provider_generation": generation})))
}

async fn provider_clear(
    s: State,
    Authenticated(ctx): Authenticated,
    v: Version,
    Path(uuid): Path<String>,
) -> ApiResult<Response> {
    since(v, 1, 6)?;
    s.can(&ctx, "placement:resource_providers:traits:delete")?;
    s.set_provider_traits(&path_uuid(&uuid), None, &[]).await?;
    Ok(no_content())
}
