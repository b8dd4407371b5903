//! The image HTTP API (glance v2): one file per resource. Handlers parse, authorize, call the
//! service, render.

mod data;
mod discovery;
mod images;
mod members;

use std::sync::Arc;

use axum::{Extension, Router};
use stratus_core::auth::SharedResolver;
use stratus_core::error::ErrorStyle;

use crate::service::ImageService;

pub use images::show_image;

pub type State = axum::extract::State<Arc<ImageService>>;

/// The image API; `resolver` turns X-Auth-Token into a caller (identity's, in one process).
pub fn router(service: Arc<ImageService>, resolver: SharedResolver) -> Router {
    let max_body = service.config.http.max_body_bytes;
    // Image data is streamed from the raw body (limited by the image size cap), so the JSON
    // body limit applies to the JSON calls only.
    let routes = Router::new()
        .merge(discovery::routes())
        .merge(images::routes())
        .merge(members::routes())
        .merge(data::routes())
        .with_state(service)
        .layer(Extension(resolver));
    stratus_core::http::finish(routes, "image", ErrorStyle::Image, max_body)
}
