//! Version discovery: `/` (300 Multiple Choices) and `/v3`.

use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use stratus_core::http::BaseUrl;

use super::State;

pub const VERSION: &str = "v3.14";
const UPDATED: &str = "2020-04-07T00:00:00Z";

pub fn routes() -> Router<std::sync::Arc<crate::service::Identity>> {
    Router::new().route("/", get(root)).route("/v3", get(v3)).route("/v3/", get(v3))
}

fn version(base: &str) -> Value {
    json!({
        "id": VERSION,
        "status": "stable",
        "updated": UPDATED,
        "links": [{"rel": "self", "href": format!("{base}/v3/")}],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}],
    })
}

async fn root(_: State, BaseUrl(base): BaseUrl) -> (StatusCode, Json<Value>) {
    (StatusCode::MULTIPLE_CHOICES, Json(json!({"versions": {"values": [version(&base)]}})))
}

async fn v3(_: State, BaseUrl(base): BaseUrl) -> Json<Value> {
    Json(json!({ "version": version(&base) }))
}
