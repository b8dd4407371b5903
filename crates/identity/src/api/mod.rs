//! The identity HTTP API: one file per resource. Handlers parse, authorize, call the store or
//! the logic, and render; nothing else.

mod app_creds;
mod assignments;
mod auth;
mod catalog;
mod domains;
mod grants;
mod groups;
mod projects;
mod roles;
mod users;
mod versions;

use std::sync::Arc;

use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::{Extension, Router};
use serde_json::{json, Value};
use stratus_core::auth::SharedResolver;
use stratus_core::error::ErrorStyle;

use crate::service::Identity;
use crate::tokens::LocalResolver;

pub type State = axum::extract::State<Arc<Identity>>;

pub fn router(identity: Arc<Identity>) -> Router {
    let resolver: SharedResolver = Arc::new(LocalResolver(identity.clone()));
    let max_body = identity.config.http.max_body_bytes;
    let routes = Router::new()
        .merge(versions::routes())
        .merge(auth::routes())
        .merge(domains::routes())
        .merge(projects::routes())
        .merge(users::routes())
        .merge(groups::routes())
        .merge(roles::routes())
        .merge(assignments::routes())
        .merge(grants::routes())
        .merge(catalog::routes())
        .merge(app_creds::routes())
        .with_state(identity.clone())
        .layer(middleware::from_fn(move |req, next| invalidate_after_writes(identity.clone(), req, next)))
        .layer(Extension(resolver));
    stratus_core::http::finish(routes, "identity", ErrorStyle::Identity, max_body)
}

/// A successful write can change what tokens mean (roles, users, projects, catalog): drop the
/// cached answers. Issuing a token changes nothing cached.
async fn invalidate_after_writes(identity: Arc<Identity>, req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let issuing = req.uri().path().trim_end_matches('/') == "/v3/auth/tokens" && method == "POST";
    let resp = next.run(req).await;
    let is_write = !matches!(method.as_str(), "GET" | "HEAD" | "OPTIONS");
    if is_write && !issuing && resp.status().is_success() {
        identity.changed();
    }
    resp
}

/// `{"self": "http://host:5000/v3/<path>"}`
pub(crate) fn links(base: &str, path: &str) -> Value {
    json!({ "self": format!("{base}/v3/{path}") })
}

/// The `links` of a collection.
pub(crate) fn collection_links(base: &str, path: &str) -> Value {
    json!({ "self": format!("{base}/v3/{path}"), "previous": null, "next": null })
}

/// A rendered resource plus the extra attributes a client stored on it (keystone keeps unknown
/// attributes and returns them); the rendered fields win over an extra of the same name.
pub(crate) fn with_extra(mut v: Value, extra: &serde_json::Map<String, Value>) -> Value {
    if let Some(obj) = v.as_object_mut() {
        for (k, val) in extra {
            obj.entry(k.clone()).or_insert_with(|| val.clone());
        }
    }
    v
}

/// The domain a new user, group or project belongs to when the body names none: the token's
/// domain, else its project's domain, else the default domain (keystone's normalisation).
pub(crate) fn owning_domain(ctx: &stratus_core::auth::AuthContext, given: Option<String>) -> String {
    given
        .or_else(|| ctx.domain.as_ref().map(|d| d.id.clone()))
        .or_else(|| ctx.project_domain.as_ref().map(|d| d.id.clone()))
        .unwrap_or_else(|| crate::model::DEFAULT_DOMAIN_ID.to_string())
}
