//! The placement HTTP API: one file per resource. Handlers parse, authorize, call the
//! service, render. Bodies are checked as placement's JSON schemas check them
//! (`additionalProperties: false`, types, bounds), with placement's wording.

mod aggregates;
pub mod allocation_candidates;
pub mod allocations;
mod inventories;
mod reshaper;
mod resource_classes;
mod resource_providers;
mod root;
mod traits;
mod usages;

use std::sync::Arc;

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router};
use serde_json::{Map, Value};
use stratus_core::auth::SharedResolver;
use stratus_core::error::{ApiError, ApiResult, ErrorStyle};
use stratus_core::http::microversion::{Version, Versions};

use crate::query::Params;
use crate::service::PlacementService;

pub type State = axum::extract::State<Arc<PlacementService>>;

/// The microversions this API speaks.
pub const VERSIONS: Versions = Versions {
    service_type: "placement",
    legacy_header: None,
    min: Version::new(1, 0),
    max: Version::new(1, 39),
};

/// The placement API; `resolver` turns X-Auth-Token into a caller (identity's, in one process).
pub fn router(service: Arc<PlacementService>, resolver: SharedResolver) -> Router {
    let max_body = service.config.http.max_body_bytes;
    let routes = Router::new()
        .merge(root::routes())
        .merge(resource_providers::routes())
        .merge(inventories::routes())
        .merge(resource_classes::routes())
        .merge(traits::routes())
        .merge(aggregates::routes())
        .merge(allocations::routes())
        .merge(allocation_candidates::routes())
        .merge(usages::routes())
        .merge(reshaper::routes())
        .with_state(service)
        .layer(Extension(resolver))
        .layer(axum::middleware::from_fn(cache_headers))
        .layer(axum::middleware::from_fn_with_state(VERSIONS, stratus_core::http::microversion::layer));
    stratus_core::http::finish(routes, "placement", ErrorStyle::Placement, max_body)
}

/// From 1.15, answers with bodies carry `cache-control: no-cache` and `last-modified`.
async fn cache_headers(req: Request, next: Next) -> Response {
    let version = req.extensions().get::<Version>().copied();
    let method = req.method().clone();
    let mut resp = next.run(req).await;
    let with_body = method == Method::GET || resp.status() == StatusCode::OK;
    if resp.status().is_success() && with_body && version.is_some_and(|v| v.at_least(1, 15)) {
        let now = chrono::Utc::now().format("%a, %d %b %Y %H:%M:%S GMT").to_string();
        let headers = resp.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        if let Ok(v) = HeaderValue::from_str(&now) {
            headers.entry(header::LAST_MODIFIED).or_insert(v);
        }
    }
    resp
}

/// The whole query string, repeated keys kept.
impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<Vec<(String, String)>>::try_from_uri(&parts.uri) {
            Ok(axum::extract::Query(pairs)) => Ok(Params(pairs)),
            Err(e) => {
                Err(ApiError::bad_request(format!("Invalid query string parameters: {}", e.body_text())))
            }
        }
    }
}

/// Routes that appeared in a later microversion are 404 before it.
pub fn since(v: Version, major: u16, minor: u16) -> ApiResult<()> {
    if v.at_least(major, minor) {
        Ok(())
    } else {
        Err(ApiError::not_found("The resource could not be found."))
    }
}

/// A JSON answer with a status.
pub fn json(status: StatusCode, body: &Value) -> Response {
    (status, axum::Json(body)).into_response()
}

pub fn ok(body: &Value) -> Response {
    json(StatusCode::OK, body)
}

pub fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// A status with a `Location` and no body.
pub fn created_at(status: StatusCode, location: &str) -> Response {
    let mut resp = status.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

/// Path UUIDs are compared in their normal form; anything else names nothing.
pub fn path_uuid(s: &str) -> String {
    crate::model::normalize_uuid(s).unwrap_or_else(|| s.to_string())
}

// ---- body checks, in the words of placement's JSON schema errors ----

pub fn invalid(why: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(format!("JSON does not validate: {why}"))
}

pub fn object(body: Value) -> ApiResult<Map<String, Value>> {
    match body {
        Value::Object(m) => Ok(m),
        other => Err(invalid(format!("{other} is not of type 'object'"))),
    }
}

/// Refuses unknown keys and missing required ones.
pub fn keys(map: &Map<String, Value>, allowed: &[&str], required: &[&str]) -> ApiResult<()> {
    for k in map.keys() {
        if !allowed.contains(&k.as_str()) {
            return Err(invalid(format!("Additional properties are not allowed ('{k}' was unexpected)")));
        }
    }
    for r in required {
        if !map.contains_key(*r) {
            return Err(invalid(format!("'{r}' is a required property")));
        }
    }
    Ok(())
}

pub fn int_in(v: &Value, field: &str, min: i64, max: i64) -> ApiResult<i64> {
    let n = v
        .as_i64()
        .filter(|_| !v.is_f64())
        .ok_or_else(|| invalid(format!("{v} is not of type 'integer' ({field})")))?;
    if n < min {
        return Err(invalid(format!("{n} is less than the minimum of {min} ({field})")));
    }
    if n > max {
        return Err(invalid(format!("{n} is greater than the maximum of {max} ({field})")));
    }
    Ok(n)
}

pub fn int(v: &Value, field: &str) -> ApiResult<i64> {
    int_in(v, field, i64::MIN, i64::MAX)
}

pub fn string<'a>(v: &'a Value, field: &str) -> ApiResult<&'a str> {
    v.as_str().ok_or_else(|| invalid(format!("{v} is not of type 'string' ({field})")))
}

pub fn uuid_value(v: &Value, field: &str) -> ApiResult<String> {
    let s = string(v, field)?;
    crate::model::normalize_uuid(s).ok_or_else(|| invalid(format!("'{s}' is not a 'uuid' ({field})")))
}

/// A list of strings, optionally unique.
pub fn strings(v: &Value, field: &str, unique: bool) -> ApiResult<Vec<String>> {
    let items = v.as_array().ok_or_else(|| invalid(format!("{v} is not of type 'array' ({field})")))?;
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        let s = string(item, field)?.to_string();
        if unique && out.contains(&s) {
            return Err(invalid(format!("{v} has non-unique elements ({field})")));
        }
        out.push(s);
    }
    Ok(out)
}
