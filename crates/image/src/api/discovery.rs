//! Version discovery, JSON schemas and `/v2/info/*`.

use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use stratus_core::http::BaseUrl;

use super::State;
use crate::format::{CONTAINER_FORMATS, DISK_FORMATS};

pub fn routes() -> Router<std::sync::Arc<crate::service::ImageService>> {
    Router::new()
        .route("/", get(root))
        .route("/versions", get(versions))
        .route("/v2/schemas/image", get(|| async { Json(image_schema()) }))
        .route("/v2/schemas/images", get(|| async { Json(images_schema()) }))
        .route("/v2/schemas/member", get(|| async { Json(member_schema()) }))
        .route("/v2/schemas/members", get(|| async { Json(json!({"name": "members", "properties": {"members": {"type": "array", "items": member_schema()}, "schema": {"type": "string"}}, "links": [{"rel": "schema", "href": "{schema}"}]})) }))
        .route("/v2/info/import", get(import_info))
        .route("/v2/info/stores", get(stores_info))
}

/// The versions we serve; v2.16 is current.
fn version_list(base: &str) -> Value {
    let versions: Vec<Value> = (0..=16)
        .rev()
        .map(|minor| {
            json!({"id": format!("v2.{minor}"), "status": if minor == 16 { "CURRENT" } else { "SUPPORTED" },
                   "links": [{"rel": "self", "href": format!("{base}/v2/")}]})
        })
        .collect();
    json!({ "versions": versions })
}

async fn root(BaseUrl(base): BaseUrl) -> (StatusCode, Json<Value>) {
    (StatusCode::MULTIPLE_CHOICES, Json(version_list(&base)))
}

async fn versions(BaseUrl(base): BaseUrl) -> Json<Value> {
    Json(version_list(&base))
}

async fn import_info(_: State) -> Json<Value> {
    Json(json!({"import-methods": {
        "description": "Import methods available.",
        "type": "array",
        "value": ["glance-direct"],
    }}))
}

/// The stores, the default (where new data goes) first; glance marks only the default.
async fn stores_info(s: State) -> Json<Value> {
    let default = s.backend.id();
    let mut stores: Vec<Value> =
        vec![json!({"id": default, "description": s.backend.description(), "default": true})];
    for b in s.backends.iter().filter(|b| b.id() != default) {
        stores.push(json!({"id": b.id(), "description": b.description()}));
    }
    Json(json!({ "stores": stores }))
}

pub fn image_schema() -> Value {
    let nullable_string = json!({"type": ["null", "string"]});
    json!({
        "name": "image",
        "additionalProperties": {"type": "string"},
        "properties": {
            "id": {"type": "string", "pattern": "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$", "description": "An identifier for the image"},
            "name": {"type": ["null", "string"], "maxLength": 255, "description": "Descriptive name for the image"},
            "status": {"type": "string", "readOnly": true, "enum": ["queued", "saving", "active", "killed", "deleted", "uploading", "importing", "pending_delete", "deactivated"]},
            "visibility": {"type": "string", "enum": ["community", "public", "private", "shared"]},
            "protected": {"type": "boolean"},
            "os_hidden": {"type": "boolean"},
            "checksum": {"type": ["null", "string"], "readOnly": true, "maxLength": 32},
            "os_hash_algo": {"type": ["null", "string"], "readOnly": true, "maxLength": 64},
            "os_hash_value": {"type": ["null", "string"], "readOnly": true, "maxLength": 128},
            "owner": {"type": ["null", "string"], "maxLength": 255},
            "size": {"type": ["null", "integer"], "readOnly": true},
            "virtual_size": {"type": ["null", "integer"], "readOnly": true},
            "container_format": {"type": ["null", "string"], "enum": CONTAINER_FORMATS.iter().map(|s| json!(s)).chain([Value::Null]).collect::<Vec<_>>()},
            "disk_format": {"type": ["null", "string"], "enum": DISK_FORMATS.iter().map(|s| json!(s)).chain([Value::Null]).collect::<Vec<_>>()},
            "created_at": {"type": "string", "readOnly": true},
            "updated_at": {"type": "string", "readOnly": true},
            "tags": {"type": "array", "items": {"type": "string", "maxLength": 255}},
            "direct_url": {"type": "string", "readOnly": true},
            "min_ram": {"type": "integer"},
            "min_disk": {"type": "integer"},
            "self": {"type": "string", "readOnly": true},
            "file": {"type": "string", "readOnly": true},
            "stores": {"type": "string", "readOnly": true},
            "schema": {"type": "string", "readOnly": true},
            "locations": {"type": "array", "items": {"type": "object"}},
            "kernel_id": nullable_string.clone(),
            "ramdisk_id": nullable_string,
            "architecture": {"type": "string"},
            "os_distro": {"type": "string"},
            "os_version": {"type": "string"},
            "instance_uuid": {"type": "string"},
        },
        "links": [
            {"rel": "self", "href": "{self}"},
            {"rel": "enclosure", "href": "{file}"},
            {"rel": "describedby", "href": "{schema}"},
        ],
    })
}

fn images_schema() -> Value {
    json!({
        "name": "images",
        "properties": {
            "images": {"type": "array", "items": image_schema()},
            "schema": {"type": "string"},
            "first": {"type": "string"},
            "next": {"type": "string"},
        },
        "links": [
            {"rel": "first", "href": "{first}"},
            {"rel": "next", "href": "{next}"},
            {"rel": "describedby", "href": "{schema}"},
        ],
    })
}

fn member_schema() -> Value {
    json!({
        "name": "member",
        "properties": {
            "created_at": {"type": "string"},
            "updated_at": {"type": "string"},
            "image_id": {"type": "string"},
            "member_id": {"type": "string"},
            "status": {"type": "string", "enum": ["pending", "accepted", "rejected"]},
            "schema": {"type": "string", "readOnly": true},
        },
    })
}
