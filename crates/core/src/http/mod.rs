//! HTTP plumbing shared by every API: request ids, the access log, body limits, error bodies in
//! the service's shape, JSON extraction with clear errors, graceful shutdown and version
//! discovery documents.

mod json;
pub mod microversion;
mod shutdown;

use std::time::Instant;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;

use crate::error::{ApiError, ErrorStyle};

pub use json::{Json, OptionalJson};
pub use shutdown::{Shutdown, ShutdownTrigger};

pub const REQUEST_ID_HEADER: &str = "x-openstack-request-id";

/// The id of the request being served, as sent back in `x-openstack-request-id`.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Wraps a service's routes with what every Stratus API has.
pub fn finish(router: Router, service: &'static str, style: ErrorStyle, max_body: usize) -> Router {
    router
        .fallback(|| async { ApiError::not_found("The resource could not be found.") })
        .layer(DefaultBodyLimit::max(max_body))
        .layer(middleware::from_fn(move |req, next| around_request(req, next, service, style)))
}

async fn around_request(mut req: Request, next: Next, service: &'static str, style: ErrorStyle) -> Response {
    let started = Instant::now();
    let id = format!("req-{}", uuid::Uuid::new_v4());
    req.extensions_mut().insert(RequestId(id.clone()));
    let method = req.method().clone();
    let path = req.uri().path().to_string();

    let resp = next.run(req).await;
    let mut resp = render_error(resp, style).await;

    resp.headers_mut().insert(REQUEST_ID_HEADER, HeaderValue::from_str(&id).expect("ascii request id"));
    let status = resp.status().as_u16();
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    if status >= 500 {
        tracing::warn!(target: "access", service, %method, path, status, elapsed_ms, request_id = %id);
    } else {
        tracing::info!(target: "access", service, %method, path, status, elapsed_ms, request_id = %id);
    }
    resp
}

/// Gives every error response the service's body shape, whatever produced it.
async fn render_error(resp: Response, style: ErrorStyle) -> Response {
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let err = match resp.extensions().get::<ApiError>() {
        Some(err) => err.clone(),
        None => {
            let is_json = resp
                .headers()
                .get(header::CONTENT_TYPE)
                .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
            if is_json {
                return resp;
            }
            let (parts, body) = resp.into_parts();
            let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
            let text = String::from_utf8_lossy(&text).trim().to_string();
            let message = match parts.status {
                StatusCode::PAYLOAD_TOO_LARGE => "Request body is too large.".to_string(),
                StatusCode::METHOD_NOT_ALLOWED => {
                    "The method is not allowed for the requested URL.".to_string()
                }
                _ if text.is_empty() => parts.status.canonical_reason().unwrap_or("Error").to_string(),
                _ => text,
            };
            let mut resp = Response::from_parts(parts, Body::empty());
            resp.headers_mut().remove(header::CONTENT_LENGTH);
            let err = ApiError::new(status, message);
            return with_body(resp, style, &err);
        }
    };
    let (parts, _) = resp.into_parts();
    with_body(Response::from_parts(parts, Body::empty()), style, &err)
}

fn with_body(resp: Response, style: ErrorStyle, err: &ApiError) -> Response {
    let (body, content_type) = match (style, style.body(err)) {
        (ErrorStyle::ObjectStore, serde_json::Value::String(html)) => {
            (html.into_bytes(), "text/html; charset=UTF-8")
        }
        (_, value) => (serde_json::to_vec(&value).expect("json"), "application/json"),
    };
    let (mut parts, _) = resp.into_parts();
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    parts.headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    Response::from_parts(parts, Body::from(body))
}

/// Binds and serves until `shutdown` fires, then lets requests in flight finish.
pub async fn serve(
    name: &'static str,
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: Shutdown,
) -> std::io::Result<()> {
    let addr = listener.local_addr()?;
    tracing::info!(service = name, %addr, "listening");
    axum::serve(listener, router).with_graceful_shutdown(async move { shutdown.wait().await }).await
}

/// Binds a listen address like `0.0.0.0:5000`, saying which service failed and why.
pub async fn bind(name: &str, listen: &str) -> anyhow::Result<tokio::net::TcpListener> {
    use anyhow::Context;
    tokio::net::TcpListener::bind(listen).await.with_context(|| format!("{name}: cannot listen on {listen}"))
}

/// The scheme and authority the client used (`http://host:5000`), for `links` in bodies.
#[derive(Debug, Clone)]
pub struct BaseUrl(pub String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for BaseUrl {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .or_else(|| parts.uri.authority().map(|a| a.to_string()))
            .unwrap_or_else(|| "localhost".into());
        let scheme = parts
            .headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .filter(|s| *s == "https" || *s == "http")
            .unwrap_or("http");
        Ok(BaseUrl(format!("{scheme}://{host}")))
    }
}
