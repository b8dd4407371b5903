//! `GET /info`: swift's capability discovery, which clients read before using a feature
//! (python-swiftclient checks `slo` and `bulk_delete`, `tempurl` its digests).

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use super::Service;
use crate::constraints::*;

pub async fn info(State(service): State<Service>) -> Json<Value> {
    let os = &service.config.object_storage;
    Json(json!({
        "swift": {
            "version": env!("CARGO_PKG_VERSION"),
            "max_file_size": os.max_file_size,
            "max_meta_name_length": MAX_META_NAME_LENGTH,
            "max_meta_value_length": MAX_META_VALUE_LENGTH,
            "max_meta_count": MAX_META_COUNT,
            "max_meta_overall_size": MAX_META_OVERALL_SIZE,
            "max_header_size": MAX_HEADER_SIZE,
            "max_object_name_length": MAX_OBJECT_NAME_LENGTH,
            "container_listing_limit": CONTAINER_LISTING_LIMIT,
            "account_listing_limit": ACCOUNT_LISTING_LIMIT,
            "max_account_name_length": MAX_ACCOUNT_NAME_LENGTH,
            "max_container_name_length": MAX_CONTAINER_NAME_LENGTH,
            "extra_header_count": EXTRA_HEADER_COUNT,
            "strict_cors_mode": true,
            "policies": [{"name": "Policy-0", "default": true}],
            "allow_account_management": false,
            "account_autocreate": true,
        },
        "container_quotas": {},
        "account_quotas": {},
        "versioned_writes": {"allowed_flags": ["x-versions-location", "x-history-location"]},
        "bulk_delete": {"max_deletes_per_request": crate::bulk::MAX_DELETES, "max_failed_deletes": crate::bulk::MAX_DELETES},
        "slo": {
            "max_manifest_segments": os.max_manifest_segments,
            "max_manifest_size": crate::large::MAX_MANIFEST_SIZE,
            "min_segment_size": 1,
            "yield_frequency": 10,
        },
        "dlo": {"max_segments": 10000},
        "tempurl": {
            "methods": ["GET", "HEAD", "PUT", "POST", "DELETE"],
            "incoming_remove_headers": ["x-timestamp"],
            "incoming_allow_headers": [],
            "outgoing_remove_headers": ["x-object-meta-*"],
            "outgoing_allow_headers": ["x-object-meta-public-*"],
            "allowed_digests": ["sha1", "sha256", "sha512"],
        },
    }))
}
