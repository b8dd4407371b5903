//! API errors, rendered in the shape each OpenStack service uses.
//!
//! Handlers and logic return [`ApiError`] (a status and a message a user can act on). The HTTP
//! layer of each service turns it — and every other error response, such as an unknown path or
//! an oversized body — into that service's body shape ([`ErrorStyle`]).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// Short machine name some services put in the body (neutron's `type`).
    pub kind: Option<&'static str>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError { status, message: message.into(), kind: None }
    }
    pub fn with_kind(mut self, kind: &'static str) -> Self {
        self.kind = Some(kind);
        self
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
    /// "Could not find project: 1234." — keystone's wording.
    pub fn not_found_resource(resource: &str, id: &str) -> Self {
        Self::not_found(format!("Could not find {resource}: {id}."))
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }
    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, message)
    }
    pub fn not_implemented(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_IMPLEMENTED, message)
    }
    /// An unexpected failure: the cause goes to the log, the client gets a generic message.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "An unexpected error prevented the server from fulfilling your request.",
        )
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.message)
    }
}

impl std::error::Error for ApiError {}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        ApiError::internal(format!("database: {e}"))
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        match e.downcast::<ApiError>() {
            Ok(api) => api,
            Err(e) => ApiError::internal(format!("{e:#}")),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // The body is written by the service's error layer, which knows its style; the
        // identity style is the fallback when no layer is present.
        let body = ErrorStyle::Identity.body(&self);
        let mut resp = (self.status, axum::Json(body)).into_response();
        resp.extensions_mut().insert(self);
        resp
    }
}

/// The body shapes of the OpenStack services.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorStyle {
    /// keystone: `{"error": {"code": 404, "message": "...", "title": "Not Found"}}`
    Identity,
    /// nova, cinder: `{"itemNotFound": {"code": 404, "message": "..."}}`
    Compute,
    /// neutron: `{"NeutronError": {"type": "...", "message": "...", "detail": ""}}`
    Network,
    /// glance (webob): `{"code": "404 Not Found", "title": "Not Found", "message": "..."}`
    Image,
    /// placement: `{"errors": [{"status": 409, "title": "Conflict", "detail": "...",
    /// "code": "placement.concurrent_update"}]}` (the code from the error's `kind`)
    Placement,
    /// swift: a short HTML page, `<html><h1>Not Found</h1><p>...</p></html>`
    ObjectStore,
}

impl ErrorStyle {
    pub fn body(self, err: &ApiError) -> serde_json::Value {
        let code = err.status.as_u16();
        match self {
            ErrorStyle::Identity => json!({"error": {
                "code": code,
                "message": err.message,
                "title": err.status.canonical_reason().unwrap_or("Error"),
            }}),
            ErrorStyle::Compute => {
                let key = match code {
                    400 => "badRequest",
                    401 => "unauthorized",
                    403 => "forbidden",
                    404 => "itemNotFound",
                    405 => "badMethod",
                    409 => "conflictingRequest",
                    413 => "overLimit",
                    415 => "badMediaType",
                    429 => "overLimit",
                    501 => "notImplemented",
                    503 => "serviceUnavailable",
                    _ if code >= 500 => "computeFault",
                    _ => "badRequest",
                };
                json!({ key: {"code": code, "message": err.message} })
            }
            ErrorStyle::Image => {
                let title = err.status.canonical_reason().unwrap_or("Error");
                json!({"code": format!("{code} {title}"), "title": title, "message": err.message})
            }
            ErrorStyle::Placement => json!({"errors": [{
                "status": code,
                "title": err.status.canonical_reason().unwrap_or("Error"),
                "detail": err.message,
                "code": err.kind.unwrap_or("placement.undefined_code"),
            }]}),
            ErrorStyle::ObjectStore => json!(format!(
                "<html><h1>{}</h1><p>{}</p></html>",
                err.status.canonical_reason().unwrap_or("Error"),
                html_escape(&err.message)
            )),
            ErrorStyle::Network => json!({"NeutronError": {
                "type": err.kind.unwrap_or(match code {
                    400 => "BadRequest",
                    401 => "Unauthorized",
                    403 => "Forbidden",
                    404 => "NotFound",
                    409 => "Conflict",
                    _ => "Error",
                }),
                "message": err.message,
                "detail": "",
            }}),
        }
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let e = ApiError::not_found_resource("project", "x");
        assert_eq!(
            ErrorStyle::Identity.body(&e),
            json!({"error": {"code": 404, "message": "Could not find project: x.", "title": "Not Found"}})
        );
        assert_eq!(ErrorStyle::Compute.body(&e)["itemNotFound"]["code"], 404);
        assert_eq!(ErrorStyle::Network.body(&e)["NeutronError"]["type"], "NotFound");
    }
}
