//! CORS for browsers: a container's `X-Container-Meta-Access-Control-Allow-Origin`,
//! `-Max-Age` and `-Expose-Headers` answer preflight `OPTIONS` requests and decorate
//! responses to requests with an `Origin`.
//!
//! The allowed origins are a space-separated list, or `*` for any. A preflight (an `OPTIONS`
//! with an `Origin`) from an allowed origin asking for a method the resource has is answered
//! 200 with the `Access-Control-*` headers; any other preflight gets 401, as swift answers.
//! An `OPTIONS` without an `Origin` just lists the methods in `Allow`. No token is needed.
//!
//! Answers to other requests with an allowed `Origin` get `Access-Control-Allow-Origin` and
//! `Access-Control-Expose-Headers`: the simple response headers, swift's own (`etag`,
//! `x-timestamp`, the transaction ids), the user metadata in the answer and the container's
//! configured list. An origin that is not allowed gets nothing (strict CORS mode).

use std::collections::BTreeSet;

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::Response;

use crate::api::{empty, Req, Service};
use crate::error::SwiftResult;
use crate::listing::ContainerInfo;

const ALLOW_ORIGIN: &str = "x-container-meta-access-control-allow-origin";
const MAX_AGE: &str = "x-container-meta-access-control-max-age";
const EXPOSE_HEADERS: &str = "x-container-meta-access-control-expose-headers";

const OBJECT_METHODS: &[&str] = &["HEAD", "GET", "PUT", "POST", "COPY", "OPTIONS", "DELETE"];
const CONTAINER_METHODS: &[&str] = &["HEAD", "GET", "PUT", "POST", "OPTIONS", "DELETE"];

/// Response headers every allowed origin may read.
const ALWAYS_EXPOSED: &[&str] = &[
    "cache-control",
    "content-language",
    "content-type",
    "expires",
    "last-modified",
    "pragma",
    "etag",
    "x-timestamp",
    "x-trans-id",
    "x-openstack-request-id",
];

/// How a container answers an origin.
enum Grant {
    /// Any origin (`*`): answered with `*`.
    Any,
    /// This origin is listed: answered with itself.
    Listed,
}

fn grant(info: Option<&ContainerInfo>, origin: &str) -> Option<Grant> {
    let allowed = info?.metadata.get(ALLOW_ORIGIN)?;
    if allowed.trim() == "*" {
        return Some(Grant::Any);
    }
    let mut origins = allowed.split(' ').map(str::trim).filter(|o| !o.is_empty());
    if origins.clone().any(|o| o == "*") {
        // `*` among named origins admits every origin, each answered by name.
        return Some(Grant::Listed);
    }
    origins.any(|o| o == origin).then_some(Grant::Listed)
}

fn set(headers: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(HeaderName::from_static(name), v);
    }
}

/// Adds `value` to the response's `Vary`.
fn vary(headers: &mut HeaderMap, value: &str) {
    let joined = match headers.get("vary").and_then(|v| v.to_str().ok()) {
        Some(current) if !current.is_empty() => format!("{current}, {value}"),
        _ => value.to_string(),
    };
    set(headers, "vary", &joined);
}

fn allow_origin(headers: &mut HeaderMap, grant: &Grant, origin: &str) {
    match grant {
        Grant::Any => set(headers, "access-control-allow-origin", "*"),
        Grant::Listed => {
            set(headers, "access-control-allow-origin", origin);
            vary(headers, "Origin");
        }
    }
}

/// Answers an `OPTIONS` on a container or an object.
pub async fn preflight(service: &Service, req: &Req) -> SwiftResult<Response> {
    let methods = if req.object.is_some() { OBJECT_METHODS } else { CONTAINER_METHODS };
    let mut headers = HeaderMap::new();
    set(&mut headers, "allow", &methods.join(", "));
    let Some(origin) = req.header("origin") else { return Ok(empty(200, headers)) };
    let info = match req.container.as_deref() {
        Some(container) => service.listings.container(&req.account, container).await?,
        None => None,
    };
    let requested = req.header("access-control-request-method").unwrap_or("");
    let grant = match grant(info.as_ref(), origin) {
        Some(g) if methods.contains(&requested) => g,
        _ => return Ok(empty(401, headers)),
    };
    allow_origin(&mut headers, &grant, origin);
    if let Some(max_age) = info.as_ref().and_then(|i| i.metadata.get(MAX_AGE)) {
        set(&mut headers, "access-control-max-age", max_age);
    }
    set(&mut headers, "access-control-allow-methods", &methods.join(", "));
    let asked: Vec<&str> = req
        .header("access-control-request-headers")
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .collect();
    if !asked.is_empty() {
        set(&mut headers, "access-control-allow-headers", &asked.join(", "));
        vary(&mut headers, "Access-Control-Request-Headers");
    }
    Ok(empty(200, headers))
}

/// Adds the CORS headers to an answer to a request with an allowed `Origin`.
pub fn add_headers(headers: &mut HeaderMap, info: &ContainerInfo, req: &Req) {
    let Some(origin) = req.header("origin") else { return };
    let Some(grant) = grant(Some(info), origin) else { return };
    if !headers.contains_key("access-control-expose-headers") {
        let mut exposed: BTreeSet<String> = ALWAYS_EXPOSED.iter().map(|h| h.to_string()).collect();
        exposed.extend(
            headers
                .keys()
                .map(HeaderName::as_str)
                .filter(|h| h.starts_with("x-object-meta-") || h.starts_with("x-container-meta-"))
                .map(str::to_string),
        );
        if let Some(configured) = info.metadata.get(EXPOSE_HEADERS) {
            exposed.extend(
                configured.split(' ').map(str::trim).filter(|h| !h.is_empty()).map(str::to_ascii_lowercase),
            );
        }
        let list: Vec<String> = exposed.into_iter().collect();
        set(headers, "access-control-expose-headers", &list.join(", "));
    }
    if !headers.contains_key("access-control-allow-origin") {
        allow_origin(headers, &grant, origin);
    }
}
