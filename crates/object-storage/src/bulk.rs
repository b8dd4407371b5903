//! Bulk delete (`POST /v1/<account>?bulk-delete`): a newline-separated list of
//! URL-encoded `/<container>[/<object>]` paths, answered with counts and errors.

use axum::response::Response;

use crate::api::{Req, Service};
use crate::error::{SwiftError, SwiftResult};

pub const MAX_DELETES: usize = 10_000;

pub async fn bulk_delete(service: &Service, req: Req) -> SwiftResult<Response> {
    let _ = (service, req);
    Err(SwiftError::not_implemented("bulk delete is not available yet"))
}
