//! The object-storage HTTP API (swift v1): `/info`, and `/v1/<account>[/<container>[/<object>]]`
//! routed by depth and method to `account.rs`, `container.rs`, `object.rs`. Handlers parse,
//! authorize (`access`), call the service, render.

mod account;
mod conditional;
pub(crate) mod container;
pub(crate) mod headers;
mod info;
mod listing_format;
pub(crate) mod object;

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::{Extension, Router};
use stratus_core::auth::{ResolveOptions, SharedResolver};
use stratus_core::error::ErrorStyle;

use crate::access::Caller;
use crate::error::{bad_request, SwiftResult};
use crate::service::ObjectStorage;

pub type Service = Arc<ObjectStorage>;

/// One request, parsed: who calls, what it names, its headers, query and body.
pub struct Req {
    pub method: Method,
    pub headers: HeaderMap,
    pub query: HashMap<String, String>,
    pub account: String,
    pub container: Option<String>,
    pub object: Option<String>,
    pub caller: Caller,
    /// The request path as sent (for TempURL signatures).
    pub path: String,
    /// Taken once by the handler that reads it (behind a mutex so that `&Req` is `Send`).
    body: std::sync::Mutex<Option<Body>>,
}

impl Req {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The request body (empty after the first call).
    pub fn take_body(&self) -> Body {
        self.body.lock().expect("body lock").take().unwrap_or_else(Body::empty)
    }

    pub fn query(&self, name: &str) -> Option<&str> {
        self.query.get(name).map(String::as_str)
    }
}

/// The object-storage API; `resolver` turns X-Auth-Token into a caller.
pub fn router(service: Service, resolver: SharedResolver) -> Router {
    let routes = Router::new()
        .route("/info", get(info::info))
        .route("/healthcheck", get(|| async { "OK" }))
        .route("/v1/{*path}", any(dispatch))
        .with_state(service.clone())
        .layer(Extension(resolver));
    let max_body = service.config.http.max_body_bytes;
    stratus_core::http::finish(routes, "object-storage", ErrorStyle::ObjectStore, max_body)
        .layer(axum::middleware::from_fn(headers::trans_id))
}

/// `/v1/a/c/o/with/slashes` → account, container, object (percent-decoded).
fn split_path(path: &str) -> SwiftResult<(String, Option<String>, Option<String>)> {
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8()
            .map(|c| c.into_owned())
            .map_err(|_| crate::error::precondition_failed("Invalid UTF8 or contains NULL"))
    };
    let rest = path.strip_prefix("/v1/").unwrap_or(path);
    let mut parts = rest.splitn(3, '/');
    let account = decode(parts.next().unwrap_or(""))?;
    if account.is_empty() {
        return Err(bad_request("Account name is required"));
    }
    let container = parts.next().filter(|s| !s.is_empty()).map(decode).transpose()?;
    let object = parts.next().filter(|s| !s.is_empty()).map(decode).transpose()?;
    if container.is_none() && object.is_some() {
        return Err(bad_request("Container name is required"));
    }
    Ok((account, container, object))
}

async fn resolve_caller(resolver: &SharedResolver, headers: &HeaderMap) -> SwiftResult<Caller> {
    let referer = headers.get("referer").and_then(|v| v.to_str().ok()).map(str::to_string);
    let token = headers
        .get("x-auth-token")
        .or_else(|| headers.get("x-storage-token"))
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let Some(token) = token else { return Ok(Caller::Anonymous { referer }) };
    let ctx = resolver.resolve(token, ResolveOptions::default()).await.map_err(|mut e| {
        if e.status == 401 || e.status == 404 {
            e = crate::error::unauthorized();
        }
        e
    })?;
    Ok(Caller::User { ctx, referer })
}

async fn dispatch(
    State(service): State<Service>,
    Extension(resolver): Extension<SharedResolver>,
    request: Request,
) -> Response {
    match route(service, resolver, request).await {
        Ok(resp) => resp,
        Err(e) => e.into_response(),
    }
}

async fn route(service: Service, resolver: SharedResolver, request: Request) -> SwiftResult<Response> {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_string();
    let (account, container, object) = split_path(&path)?;
    let query: HashMap<String, String> =
        form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes()).into_owned().collect();
    let caller = resolve_caller(&resolver, &parts.headers).await?;
    let req = Req {
        method: parts.method,
        headers: parts.headers,
        query,
        account,
        container,
        object,
        caller,
        path,
        body: std::sync::Mutex::new(Some(body)),
    };
    let mut req = req;
    if matches!(req.caller, Caller::Anonymous { .. }) {
        if let Some(caller) = crate::tempurl::caller(&service, &req).await? {
            req.caller = caller;
        }
    }
    let resp = if req.object.is_some() {
        object::handle(&service, req).await?
    } else if req.container.is_some() {
        container::handle(&service, req).await?
    } else {
        account::handle(&service, req).await?
    };
    Ok(resp)
}

/// `204 No Content` or another empty answer with headers.
pub fn empty(status: u16, headers: HeaderMap) -> Response {
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = axum::http::StatusCode::from_u16(status).expect("status");
    *resp.headers_mut() = headers;
    if !resp.headers().contains_key("content-length") {
        resp.headers_mut().insert("content-length", HeaderValue::from_static("0"));
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(split_path("/v1/AUTH_a").unwrap(), ("AUTH_a".into(), None, None));
        assert_eq!(split_path("/v1/AUTH_a/c/").unwrap(), ("AUTH_a".into(), Some("c".into()), None));
        assert_eq!(
            split_path("/v1/AUTH_a/c/d/e%20f").unwrap(),
            ("AUTH_a".into(), Some("c".into()), Some("d/e f".into()))
        );
        assert!(split_path("/v1/AUTH_a//o").is_err());
    }
}
