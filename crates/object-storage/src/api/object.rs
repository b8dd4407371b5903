//! `/v1/<account>/<container>/<object>`: PUT (streamed, or a copy with `X-Copy-From`), GET
//! and HEAD (conditional, ranges, large objects), POST (metadata), DELETE, COPY.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;
use futures_util::StreamExt;

use super::conditional::{self, Outcome};
use super::headers::{insert, object_headers, timestamp_headers};
use super::{empty, Req, Service};
use crate::access::{Action, Standing};
use crate::constraints::{check_metadata, check_object_name, Kind};
use crate::disk::ObjectMeta;
use crate::error::{bad_request, precondition_failed, SwiftError, SwiftResult};
use crate::service::{body_of, BodyStream, NewObject};
use crate::timestamp::unix_now;

pub async fn handle(service: &Service, req: Req) -> SwiftResult<Response> {
    match req.method.as_str() {
        "GET" | "HEAD" => get(service, req).await,
        "PUT" => put(service, req).await,
        "POST" => post(service, req).await,
        "DELETE" => delete(service, req).await,
        "COPY" => copy_verb(service, req).await,
        "OPTIONS" => crate::cors::preflight(service, &req).await,
        _ => {
            Err(SwiftError::new(StatusCode::METHOD_NOT_ALLOWED, "The method is not allowed for this object."))
        }
    }
}

fn names(req: &Req) -> (String, String, String) {
    (req.account.clone(), req.container.clone().unwrap_or_default(), req.object.clone().unwrap_or_default())
}

/// Authorizes an object request: the owner needs no container lookup; anyone else is
/// checked against the container's ACLs.
pub async fn authorize(
    service: &Service,
    req: &Req,
    account: &str,
    container: &str,
    object: Option<&str>,
    action: Action,
) -> SwiftResult<Standing> {
    match crate::access::Access::temp_url_covers(&req.caller, account, container, object, action) {
        Some(true) => return Ok(Standing::Other),
        Some(false) => return Err(crate::error::unauthorized()),
        None => {}
    }
    match service.access.standing(&req.caller, account) {
        s @ (Standing::Owner | Standing::ResellerAdmin) => return Ok(s),
        s @ Standing::Reader if action == Action::ReadObject => return Ok(s),
        _ => {}
    }
    let info = service.listings.container(account, container).await?;
    let (read, write) = super::container::acls(info.as_ref());
    service.access.authorize(&req.caller, account, action, read, write)
}

/// The response headers of an object.
pub fn object_response_headers(meta: &ObjectMeta) -> HeaderMap {
    let mut h = HeaderMap::new();
    insert(&mut h, "content-type", &meta.content_type);
    insert(&mut h, "etag", &meta.etag);
    insert(&mut h, "last-modified", meta.timestamp.http_date());
    timestamp_headers(&mut h, meta.timestamp);
    h.insert("accept-ranges", HeaderValue::from_static("bytes"));
    for (k, v) in &meta.headers {
        if !k.starts_with("x-object-sysmeta-") {
            insert(&mut h, k, v);
        }
    }
    h
}

async fn get(service: &Service, req: Req) -> SwiftResult<Response> {
    let (account, container, object) = names(&req);
    authorize(service, &req, &account, &container, Some(&object), Action::ReadObject).await?;
    let obj = service.get_object(&account, &container, &object).await?;
    let raw_manifest = req.query("multipart-manifest") == Some("get");
    if !raw_manifest && crate::large::is_large(&obj.meta) {
        return crate::large::get(service, &req, obj).await;
    }
    if raw_manifest && obj.meta.header("x-static-large-object").is_some() {
        return crate::large::get_manifest(&req, obj).await;
    }
    let mut headers = object_response_headers(&obj.meta);
    cors_headers(service, &req, &account, &container, &mut headers).await;
    crate::tempurl::outgoing(&req, &mut headers);
    let size = obj.meta.size;
    let etag = obj.meta.etag.clone();
    respond_with(&req, headers, &etag, obj.meta.timestamp.http_date(), size, |range| body_of(obj, range))
}

pub(crate) async fn cors_headers(
    service: &Service,
    req: &Req,
    account: &str,
    container: &str,
    headers: &mut HeaderMap,
) {
    if req.header("origin").is_none() {
        return;
    }
    if let Ok(Some(info)) = service.listings.container(account, container).await {
        crate::cors::add_headers(headers, &info, req);
    }
}

/// Answers a GET/HEAD of `size` bytes: conditionals (304/412), `Range` (206, multipart
/// byteranges, 416) and the body from `open(range)`.
pub fn respond_with(
    req: &Req,
    mut headers: HeaderMap,
    etag: &str,
    last_modified: String,
    size: u64,
    open: impl FnOnce(Option<(u64, u64)>) -> BodyStream,
) -> SwiftResult<Response> {
    let lm_secs = httpdate::parse_http_date(&last_modified)
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs())
        .unwrap_or(0);
    match conditional::evaluate(&req.headers, etag.trim_matches('"'), lm_secs, true) {
        Outcome::Proceed => {}
        Outcome::NotModified => {
            headers.remove("content-type");
            let mut resp = empty(304, headers);
            resp.headers_mut().remove("content-length");
            return Ok(resp);
        }
        Outcome::PreconditionFailed => {
            return Err(precondition_failed("A precondition for this request was not met."))
        }
    }
    let head = req.method == Method::HEAD;
    let ranges = match conditional::ranges(req.header("range"), size) {
        Ok(r) => r,
        Err(()) => {
            let mut e = SwiftError::new(StatusCode::RANGE_NOT_SATISFIABLE, "Requested range not satisfiable");
            e.kind = None;
            let mut resp = axum::response::IntoResponse::into_response(e);
            insert(resp.headers_mut(), "content-range", format!("bytes */{size}"));
            return Ok(resp);
        }
    };
    let mut resp = Response::new(Body::empty());
    match ranges.as_deref() {
        None => {
            headers.insert("content-length", HeaderValue::from(size));
            if !head {
                *resp.body_mut() = Body::from_stream(open(None));
            }
        }
        Some([(start, len)]) => {
            *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
            insert(&mut headers, "content-range", format!("bytes {}-{}/{size}", start, start + len - 1));
            headers.insert("content-length", HeaderValue::from(*len));
            if !head {
                *resp.body_mut() = Body::from_stream(open(Some((*start, *len))));
            }
        }
        Some(many) => {
            *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
            let boundary = uuid::Uuid::new_v4().simple().to_string();
            let ct = headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("application/octet-stream")
                .to_string();
            insert(&mut headers, "content-type", format!("multipart/byteranges;boundary={boundary}"));
            // All ranges read through one stream per range, framed by part headers.
            let mut total = 0u64;
            let mut parts: Vec<(String, (u64, u64))> = vec![];
            for (start, len) in many {
                let head = format!(
                    "--{boundary}\r\nContent-Type: {ct}\r\nContent-Range: bytes {}-{}/{size}\r\n\r\n",
                    start,
                    start + len - 1
                );
                total += head.len() as u64 + len + 2;
                parts.push((head, (*start, *len)));
            }
            let tail = format!("--{boundary}--");
            total += tail.len() as u64;
            headers.insert("content-length", HeaderValue::from(total));
            if !head {
                // The object is opened once per range; `open` is FnOnce, so ranges are read
                // from one whole-object stream, skipping what lies between them.
                let body = open(None);
                *resp.body_mut() = Body::from_stream(multipart_stream(body, parts, tail));
            }
        }
    }
    *resp.headers_mut() = headers;
    Ok(resp)
}

/// Cuts the ranges out of a whole-object stream, in order (swift orders them too).
fn multipart_stream(body: BodyStream, parts: Vec<(String, (u64, u64))>, tail: String) -> BodyStream {
    let mut sorted = parts;
    sorted.sort_by_key(|(_, (s, _))| *s);
    Box::pin(async_stream(body, sorted, tail))
}

fn async_stream(
    mut body: BodyStream,
    parts: Vec<(String, (u64, u64))>,
    tail: String,
) -> impl futures_util::Stream<Item = std::io::Result<bytes::Bytes>> + Send {
    // Buffer the whole object only up to the end of the last range: multi-range requests are
    // for small windows of an object.
    let needed = parts.iter().map(|(_, (s, l))| s + l).max().unwrap_or(0);
    futures_util::stream::once(async move {
        let mut data = Vec::new();
        while (data.len() as u64) < needed {
            match body.next().await {
                Some(Ok(chunk)) => data.extend_from_slice(&chunk),
                Some(Err(e)) => return Err(e),
                None => break,
            }
        }
        let mut out = Vec::new();
        for (head, (start, len)) in &parts {
            out.extend_from_slice(head.as_bytes());
            let s = (*start as usize).min(data.len());
            let e = ((start + len) as usize).min(data.len());
            out.extend_from_slice(&data[s..e]);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(tail.as_bytes());
        Ok(bytes::Bytes::from(out))
    })
}

/// `X-Delete-At` / `X-Delete-After` → the `x-delete-at` header kept with the object.
pub(crate) fn delete_at(req: &Req, headers: &mut BTreeMap<String, String>) -> SwiftResult<()> {
    let now = unix_now();
    if let Some(after) = req.header("x-delete-after") {
        let secs: u64 = after.trim().parse().map_err(|_| bad_request("Non-integer X-Delete-After"))?;
        headers.insert("x-delete-at".into(), (now + secs).to_string());
    } else if let Some(at) = req.header("x-delete-at") {
        let at: u64 = at.trim().parse().map_err(|_| bad_request("Non-integer X-Delete-At"))?;
        if at <= now {
            return Err(bad_request("X-Delete-At in past"));
        }
        headers.insert("x-delete-at".into(), at.to_string());
    }
    Ok(())
}

/// Content type of a PUT: the header, or a guess from the name, as swift's mimetypes.
pub(crate) fn content_type(req: &Req, object: &str) -> String {
    match req.header("content-type").map(str::trim) {
        Some(ct) if !ct.is_empty() && req.header("x-detect-content-type") != Some("true") => ct.to_string(),
        _ => guess_type(object).to_string(),
    }
}

fn guess_type(name: &str) -> &'static str {
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    match ext.as_str() {
        "txt" | "text" | "log" => "text/plain",
        "html" | "htm" => "text/html",
        "css" => "text/css",
        "csv" => "text/csv",
        "js" => "application/javascript",
        "json" => "application/json",
        "xml" => "application/xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "svg" => "image/svg+xml",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "gz" | "tgz" => "application/gzip",
        "tar" => "application/x-tar",
        "iso" => "application/x-iso9660-image",
        "mp4" => "video/mp4",
        _ => "application/octet-stream",
    }
}

pub fn body_stream(body: Body) -> BodyStream {
    Box::pin(body.into_data_stream().map(|r| r.map_err(std::io::Error::other)))
}

async fn put(service: &Service, req: Req) -> SwiftResult<Response> {
    let (account, container, object) = names(&req);
    authorize(service, &req, &account, &container, Some(&object), Action::WriteObject).await?;
    check_object_name(&object)?;
    check_metadata(&req.headers, Kind::Object)?;
    if req.query("multipart-manifest") == Some("put") {
        return crate::large::put_manifest(service, req).await;
    }
    if let Some(from) = req.header("x-copy-from") {
        let (src_container, src_object) = split_copy_path(from)?;
        let src_account = req.header("x-copy-from-account").unwrap_or(&account).to_string();
        return copy(
            service,
            &req,
            (&src_account, &src_container, &src_object),
            (&account, &container, &object),
        )
        .await;
    }
    let content_length = match req.header("content-length") {
        Some(v) => Some(v.trim().parse::<u64>().map_err(|_| bad_request("Invalid Content-Length"))?),
        None => None,
    };
    let chunked = req.header("transfer-encoding").is_some_and(|t| t.to_ascii_lowercase().contains("chunked"));
    // Without either, HTTP/1.1 says the body is empty (swift answers 411; an empty object is
    // what the client meant).
    let content_length = if content_length.is_none() && !chunked { Some(0) } else { content_length };
    let mut headers = object_headers(&req.headers);
    delete_at(&req, &mut headers)?;
    if let Some(manifest) = headers.get("x-object-manifest") {
        crate::large::check_dlo_manifest(manifest)?;
    }
    let new = NewObject {
        content_type: content_type(&req, &object),
        headers,
        etag: req.header("etag").map(str::to_string),
        content_length,
    };
    let meta = service.put_object(&account, &container, &object, new, body_stream(req.take_body())).await?;
    Ok(created(&meta))
}

pub(crate) fn created(meta: &ObjectMeta) -> Response {
    let mut h = HeaderMap::new();
    insert(&mut h, "etag", &meta.etag);
    insert(&mut h, "last-modified", meta.timestamp.http_date());
    timestamp_headers(&mut h, meta.timestamp);
    insert(&mut h, "content-type", "text/html; charset=UTF-8");
    empty(201, h)
}

/// `/container/object` or `container/object` (URL-encoded) → its parts.
fn split_copy_path(path: &str) -> SwiftResult<(String, String)> {
    let decoded = percent_encoding::percent_decode_str(path).decode_utf8_lossy().into_owned();
    let trimmed = decoded.trim_start_matches('/');
    match trimmed.split_once('/') {
        Some((c, o)) if !c.is_empty() && !o.is_empty() => Ok((c.to_string(), o.to_string())),
        _ => {
            Err(precondition_failed("X-Copy-From header must be of the form <container name>/<object name>"))
        }
    }
}

async fn copy_verb(service: &Service, req: Req) -> SwiftResult<Response> {
    let (account, container, object) = names(&req);
    let dest = req.header("destination").ok_or_else(|| precondition_failed("Destination header required"))?;
    let (dst_container, dst_object) = split_copy_path(dest)?;
    let dst_account = req.header("destination-account").unwrap_or(&account).to_string();
    copy(service, &req, (&account, &container, &object), (&dst_account, &dst_container, &dst_object)).await
}

/// Server-side copy: the source's data and metadata (unless `X-Fresh-Metadata`), with the
/// request's metadata on top.
async fn copy(
    service: &Service,
    req: &Req,
    src: (&str, &str, &str),
    dst: (&str, &str, &str),
) -> SwiftResult<Response> {
    authorize(service, req, src.0, src.1, Some(src.2), Action::ReadObject).await?;
    authorize(service, req, dst.0, dst.1, Some(dst.2), Action::WriteObject).await?;
    check_object_name(dst.2)?;
    let source = service.get_object(src.0, src.1, src.2).await?;
    let fresh = req.header("x-fresh-metadata").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let mut headers: BTreeMap<String, String> = if fresh {
        BTreeMap::new()
    } else {
        source
            .meta
            .headers
            .iter()
            .filter(|(k, _)| !k.starts_with("x-object-sysmeta-") && *k != "x-static-large-object")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    headers.extend(object_headers(&req.headers));
    delete_at(req, &mut headers)?;
    let content_type = req
        .header("content-type")
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| source.meta.content_type.clone());
    let (body, size, etag) = if crate::large::is_large(&source.meta) {
        crate::large::assembled(service, req, src.0, source).await?
    } else {
        let size = source.meta.size;
        let etag = source.meta.etag.clone();
        (body_of(source, None), size, Some(etag))
    };
    headers.remove("x-object-manifest");
    let new = NewObject { content_type, headers, etag, content_length: Some(size) };
    let meta = service.put_object(dst.0, dst.1, dst.2, new, body).await?;
    let mut resp = created(&meta);
    insert(resp.headers_mut(), "x-copied-from", format!("{}/{}", src.1, src.2));
    insert(resp.headers_mut(), "x-copied-from-last-modified", meta.timestamp.http_date());
    Ok(resp)
}

async fn post(service: &Service, req: Req) -> SwiftResult<Response> {
    let (account, container, object) = names(&req);
    authorize(service, &req, &account, &container, Some(&object), Action::WriteObject).await?;
    check_metadata(&req.headers, Kind::Object)?;
    let mut headers = object_headers(&req.headers);
    headers.remove("x-object-manifest");
    delete_at(&req, &mut headers)?;
    let content_type = req.header("content-type").filter(|c| !c.is_empty()).map(str::to_string);
    service.post_object(&account, &container, &object, content_type, headers).await?;
    Ok(empty(202, HeaderMap::new()))
}

async fn delete(service: &Service, req: Req) -> SwiftResult<Response> {
    let (account, container, object) = names(&req);
    authorize(service, &req, &account, &container, Some(&object), Action::WriteObject).await?;
    if req.query("multipart-manifest") == Some("delete") {
        return crate::large::delete_manifest(service, req).await;
    }
    service.delete_object(&account, &container, &object).await?;
    Ok(empty(204, HeaderMap::new()))
}
