//! `/v1/<account>`: HEAD/GET (container listing), POST (metadata, quota), and bulk delete.

use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;

use super::headers::{apply_metadata, insert, render_metadata, timestamp_headers};
use super::listing_format::{self, format_of, query_of};
use super::{empty, Req, Service};
use crate::access::{Action, Standing};
use crate::constraints::{check_metadata, Kind};
use crate::error::{forbidden, SwiftError, SwiftResult};
use crate::listing::AccountInfo;

/// Account metadata only the owner (or a reseller admin) sees.
fn owner_only(name: &str) -> bool {
    name.starts_with("x-account-meta-temp-url-key")
}

fn account_headers(info: &AccountInfo, standing: Standing) -> HeaderMap {
    let mut h = HeaderMap::new();
    insert(&mut h, "x-account-container-count", info.container_count.to_string());
    insert(&mut h, "x-account-object-count", info.object_count.to_string());
    insert(&mut h, "x-account-bytes-used", info.bytes_used.to_string());
    insert(&mut h, "x-account-storage-policy-policy-0-container-count", info.container_count.to_string());
    insert(&mut h, "x-account-storage-policy-policy-0-object-count", info.object_count.to_string());
    insert(&mut h, "x-account-storage-policy-policy-0-bytes-used", info.bytes_used.to_string());
    timestamp_headers(&mut h, info.created);
    let privileged = matches!(standing, Standing::Owner | Standing::ResellerAdmin);
    render_metadata(&mut h, &info.metadata, |k| !privileged && owner_only(k));
    h
}

pub async fn handle(service: &Service, req: Req) -> SwiftResult<Response> {
    match req.method {
        Method::HEAD | Method::GET => {
            let standing =
                service.access.authorize(&req.caller, &req.account, Action::ReadAccount, None, None)?;
            let info = service.account(&req.account).await?;
            let headers = account_headers(&info, standing);
            if req.method == Method::HEAD {
                return Ok(empty(204, headers));
            }
            let q = query_of(&req)?;
            let entries = service.listings.list_containers(&req.account, &q).await?;
            Ok(listing_format::containers(format_of(&req), &req.account, &entries, headers))
        }
        Method::POST if req.query.contains_key("bulk-delete") => crate::bulk::bulk_delete(service, req).await,
        Method::POST => {
            let standing =
                service.access.authorize(&req.caller, &req.account, Action::WriteAccount, None, None)?;
            check_metadata(&req.headers, Kind::Account)?;
            let touches_quota = req.headers.keys().any(|k| {
                let k = k.as_str();
                k == "x-account-meta-quota-bytes" || k == "x-remove-account-meta-quota-bytes"
            });
            if touches_quota && standing != Standing::ResellerAdmin {
                return Err(forbidden());
            }
            if let Some(q) = req.header("x-account-meta-quota-bytes") {
                if !q.is_empty() && q.parse::<u64>().is_err() {
                    return Err(crate::error::bad_request("Invalid bytes quota."));
                }
            }
            let mut info = service.account(&req.account).await?;
            apply_metadata(&mut info.metadata, &req.headers, Kind::Account, &[]);
            service.listings.set_account_metadata(&req.account, &info.metadata).await?;
            let info = service.account(&req.account).await?;
            Ok(empty(204, account_headers(&info, standing)))
        }
        _ => Err(SwiftError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "The method is not allowed for this account.",
        )),
    }
}
