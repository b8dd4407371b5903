//! Large objects: dynamic (`X-Object-Manifest: <container>/<prefix>`, the segments are the
//! objects under the prefix) and static (`?multipart-manifest=put` with a JSON list of
//! segments, validated when stored).

use axum::response::Response;

use crate::api::{Req, Service};
use crate::disk::{ObjectMeta, StoredObject};
use crate::error::{SwiftError, SwiftResult};
use crate::service::BodyStream;

/// Largest SLO manifest body accepted.
pub const MAX_MANIFEST_SIZE: usize = 8 * 1024 * 1024;

pub fn is_large(meta: &ObjectMeta) -> bool {
    meta.header("x-static-large-object").is_some() || meta.header("x-object-manifest").is_some()
}

pub fn check_dlo_manifest(value: &str) -> SwiftResult<()> {
    let _ = value;
    Ok(())
}

pub async fn get(service: &Service, req: &Req, obj: StoredObject) -> SwiftResult<Response> {
    let _ = (service, req, obj);
    Err(SwiftError::not_implemented("large objects are not served yet"))
}

pub async fn get_manifest(req: &Req, obj: StoredObject) -> SwiftResult<Response> {
    let _ = (req, obj);
    Err(SwiftError::not_implemented("large objects are not served yet"))
}

pub async fn put_manifest(service: &Service, req: Req) -> SwiftResult<Response> {
    let _ = (service, req);
    Err(SwiftError::not_implemented("static large objects are not stored yet"))
}

pub async fn delete_manifest(service: &Service, req: Req) -> SwiftResult<Response> {
    let _ = (service, req);
    Err(SwiftError::not_implemented("static large objects are not stored yet"))
}

/// The data of a large object as one stream, its size and (when known) ETag, for a copy.
pub async fn assembled(
    service: &Service,
    account: &str,
    obj: StoredObject,
) -> SwiftResult<(BodyStream, u64, Option<String>)> {
    let _ = (service, account, obj);
    Err(SwiftError::not_implemented("large objects are not copied yet"))
}
