//! `/v1/<account>/<container>`: PUT, HEAD, GET (object listing), POST, DELETE.

use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;

use super::headers::{apply_metadata, insert, render_metadata, timestamp_headers};
use super::listing_format::{self, format_of, query_of};
use super::{empty, Req, Service};
use crate::access::{Action, Standing};
use crate::constraints::{check_container_name, check_metadata, Kind};
use crate::error::{bad_request, conflict, not_found, SwiftError, SwiftResult};
use crate::listing::{ContainerInfo, Metadata};

/// Container headers kept like metadata.
const KEPT: &[&str] = &[
    "x-container-read",
    "x-container-write",
    "x-versions-location",
    "x-history-location",
    "x-container-sync-to",
    "x-container-sync-key",
];

/// What only the owner sees of a container.
fn owner_only(name: &str) -> bool {
    matches!(name, "x-container-read" | "x-container-write" | "x-container-sync-key")
        || name.starts_with("x-container-meta-temp-url-key")
}

fn container_headers(info: &ContainerInfo, standing: Standing) -> HeaderMap {
    let mut h = HeaderMap::new();
    insert(&mut h, "x-container-object-count", info.object_count.to_string());
    insert(&mut h, "x-container-bytes-used", info.bytes_used.to_string());
    insert(&mut h, "x-storage-policy", "Policy-0");
    timestamp_headers(&mut h, info.created);
    insert(&mut h, "last-modified", info.created.http_date());
    let privileged = matches!(standing, Standing::Owner | Standing::ResellerAdmin);
    render_metadata(&mut h, &info.metadata, |k| !privileged && owner_only(k));
    h
}

/// Checks the special headers of a container PUT/POST.
fn check_special(req: &Req) -> SwiftResult<()> {
    check_metadata(&req.headers, Kind::Container)?;
    for (name, write) in [("x-container-read", false), ("x-container-write", true)] {
        if let Some(v) = req.header(name) {
            crate::acl::validate(v, write).map_err(bad_request)?;
        }
    }
    for name in ["x-container-meta-quota-bytes", "x-container-meta-quota-count"] {
        if let Some(v) = req.header(name) {
            if !v.is_empty() && v.parse::<u64>().is_err() {
                return Err(bad_request(format!("Invalid {name}: must be a number of bytes or objects.")));
            }
        }
    }
    for name in ["x-versions-location", "x-history-location"] {
        if let Some(v) = req.header(name) {
            if !v.is_empty() {
                check_container_name(v)?;
            }
        }
    }
    if req.header("x-versions-location").is_some_and(|v| !v.is_empty())
        && req.header("x-history-location").is_some_and(|v| !v.is_empty())
    {
        return Err(bad_request("Only one of X-Versions-Location or X-History-Location may be provided"));
    }
    Ok(())
}

pub async fn handle(service: &Service, req: Req) -> SwiftResult<Response> {
    let container = req.container.clone().expect("a container request");
    let account = req.account.clone();
    if req.method == Method::OPTIONS {
        return crate::cors::preflight(service, &req).await;
    }
    match req.method {
        Method::PUT => {
            service.access.authorize(&req.caller, &account, Action::WriteContainer, None, None)?;
            check_container_name(&container)?;
            check_special(&req)?;
            let mut metadata = Metadata::new();
            apply_metadata(&mut metadata, &req.headers, Kind::Container, KEPT);
            let created = service.listings.create_container(&account, &container, &Metadata::new()).await?;
            let mut info = service.container(&account, &container).await?;
            if created {
                info.metadata = metadata;
            } else {
                apply_metadata(&mut info.metadata, &req.headers, Kind::Container, KEPT);
            }
            service.listings.set_container_metadata(&account, &container, &info.metadata).await?;
            Ok(empty(if created { 201 } else { 202 }, HeaderMap::new()))
        }
        Method::HEAD | Method::GET => {
            let info = service.listings.container(&account, &container).await?;
            let (read, write) = acls(info.as_ref());
            let standing =
                service.access.authorize(&req.caller, &account, Action::ReadContainer, read, write)?;
            let info = info.ok_or_else(not_found)?;
            let mut headers = container_headers(&info, standing);
            crate::cors::add_headers(&mut headers, &info, &req);
            if req.method == Method::HEAD {
                return Ok(empty(204, headers));
            }
            let q = query_of(&req)?;
            let entries = service.listings.list_objects(&account, &container, &q).await?;
            Ok(listing_format::objects(format_of(&req), &container, &entries, headers))
        }
        Method::POST => {
            service.access.authorize(&req.caller, &account, Action::WriteContainer, None, None)?;
            check_special(&req)?;
            let mut info = service.container(&account, &container).await?;
            apply_metadata(&mut info.metadata, &req.headers, Kind::Container, KEPT);
            service.listings.set_container_metadata(&account, &container, &info.metadata).await?;
            Ok(empty(204, HeaderMap::new()))
        }
        Method::DELETE => {
            service.access.authorize(&req.caller, &account, Action::WriteContainer, None, None)?;
            match service.listings.delete_container(&account, &container).await? {
                None => Err(not_found()),
                Some(false) => Err(conflict("There was a conflict when trying to complete your request.")),
                Some(true) => Ok(empty(204, HeaderMap::new())),
            }
        }
        _ => Err(SwiftError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "The method is not allowed for this container.",
        )),
    }
}

/// A container's read and write ACLs.
pub fn acls(info: Option<&ContainerInfo>) -> (Option<&str>, Option<&str>) {
    let get = |k: &str| info.and_then(|i| i.metadata.get(k)).map(String::as_str);
    (get("x-container-read"), get("x-container-write"))
}
