//! Version discovery: `GET /` (every version) and `GET /v2.1` (this one). No token needed.

use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};
use stratus_core::http::BaseUrl;

use super::VERSIONS;
use crate::ComputeService;

fn version(base: &str) -> Value {
    json!({
        "id": "v2.1",
        "status": "CURRENT",
        "version": VERSIONS.max.to_string(),
        "min_version": VERSIONS.min.to_string(),
        "updated": "2013-07-23T11:33:21Z",
        "links": [{"rel": "self", "href": format!("{base}/v2.1/")}],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.compute+json;version=2.1"}],
    })
}

pub fn root_routes() -> Router<Arc<ComputeService>> {
    // openstacksdk discovers microversions at `/v2.1/`, with the slash; nest() serves only
    // `/v2.1`.
    Router::new()
        .route(
            "/",
            get(|BaseUrl(base): BaseUrl| async move { axum::Json(json!({"versions": [version(&base)]})) }),
        )
        .route(
            "/v2.1/",
            get(|BaseUrl(base): BaseUrl| async move { axum::Json(json!({"version": version(&base)})) }),
        )
}

pub fn v21_routes() -> Router<Arc<ComputeService>> {
    Router::new().route(
        "/",
        get(|BaseUrl(base): BaseUrl| async move { axum::Json(json!({"version": version(&base)})) }),
    )
}
