//! `GET /`: the version document, for anyone (no token needed).

use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::VERSIONS;

pub fn routes() -> Router<std::sync::Arc<crate::service::PlacementService>> {
    Router::new().route("/", get(home))
}

async fn home() -> Json<Value> {
    Json(json!({"versions": [{
        "id": format!("v{}", VERSIONS.min),
        "max_version": VERSIONS.max.to_string(),
        "min_version": VERSIONS.min.to_string(),
        "status": "CURRENT",
        "links": [{"rel": "self", "href": ""}],
    }]}))
}
