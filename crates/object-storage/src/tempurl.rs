//! TempURLs: `?temp_url_sig=…&temp_url_expires=…` signed with an account's (or container's)
//! `Temp-URL-Key` give anonymous access to one object (or a prefix) for one method until
//! the expiry.

use axum::http::HeaderMap;

use crate::access::Caller;
use crate::api::{Req, Service};
use crate::error::SwiftResult;

/// The caller a valid TempURL makes of an anonymous request; `None` without a signature.
pub async fn caller(service: &Service, req: &Req) -> SwiftResult<Option<Caller>> {
    let _ = (service, req);
    Ok(None)
}

/// Headers of an answer to a TempURL request (`filename`, `inline`, hidden metadata).
pub fn outgoing(req: &Req, headers: &mut HeaderMap) {
    let _ = (req, headers);
}
