//! Large objects: dynamic (`X-Object-Manifest: <container>/<prefix>`, the segments are the
//! objects under the prefix) and static (`?multipart-manifest=put` with a JSON list of
//! segments, validated when stored).
//!
//! Either kind is read through a *plan*: the list of byte spans of segment objects whose
//! concatenation is the large object. A dynamic plan comes from the segment container's
//! listing (name order), a static one from the stored manifest (nested static manifests are
//! expanded). A GET streams the spans of the plan that its range covers, opening each segment
//! when its turn comes; a segment that is gone or changed since it was planned ends the
//! stream with an error (the client sees a short body, as with swift).
//!
//! * ETag of a dynamic object: `"<md5 of the concatenated segment ETags>"`; of a static
//!   one: the same over its segments (`<etag>:<first>-<last>;` for a segment with a range),
//!   computed once when the manifest is stored and kept in `x-object-sysmeta-slo-etag`
//!   (the total size in `x-object-sysmeta-slo-size`), which listings show too.
//! * A static manifest is stored as an ordinary object whose data is the normalized JSON
//!   list (`name`, `bytes`, `hash`, `content_type`, `last_modified`, `range`, `sub_slo`);
//!   `?multipart-manifest=get` returns it (`&format=raw`: in the form a PUT takes).
//! * `DELETE ?multipart-manifest=delete` removes the segments, then the manifest, and
//!   answers like a bulk delete (`bulk::Report`).
//! * Segments in another container than the manifest's must be readable by the caller
//!   (for a copy too: [`assembled`] checks like a GET).
//! * Segment paths of a static manifest are object names as written (not URL-decoded), as
//!   python-swiftclient sends them.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;

use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::StreamExt;
use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::access::Action;
use crate::api::headers::object_headers;
use crate::api::object::{
    authorize, body_stream, content_type, cors_headers, created, delete_at, object_response_headers,
    respond_with,
};
use crate::api::{Req, Service};
use crate::bulk::{self, Report};
use crate::disk::{ObjectMeta, StoredObject};
use crate::error::{bad_request, io as io_error, too_large, unprocessable, SwiftError, SwiftResult};
use crate::listing::{Entry, ListQuery};
use crate::service::{body_of, BodyStream, NewObject};

/// Largest SLO manifest body accepted.
pub const MAX_MANIFEST_SIZE: usize = 8 * 1024 * 1024;

/// Deepest nesting of static manifests in one another.
const MAX_NESTING: usize = 10;

/// Listing page size when collecting the segments of a dynamic large object.
const DLO_PAGE: usize = 10_000;

const SLO_FLAG: &str = "x-static-large-object";
const SLO_ETAG: &str = "x-object-sysmeta-slo-etag";
const SLO_SIZE: &str = "x-object-sysmeta-slo-size";
const DLO_MANIFEST: &str = "x-object-manifest";

pub fn is_large(meta: &ObjectMeta) -> bool {
    meta.header("x-static-large-object").is_some() || meta.header("x-object-manifest").is_some()
}

/// Is this object a static large object manifest?
pub fn is_slo(meta: &ObjectMeta) -> bool {
    meta.header(SLO_FLAG).is_some_and(is_true)
}

fn is_true(value: &str) -> bool {
    matches!(value.trim().to_ascii_lowercase().as_str(), "true" | "1" | "yes" | "on" | "t" | "y")
}

/// `X-Object-Manifest` must name a container and a non-empty prefix, without a query.
pub fn check_dlo_manifest(value: &str) -> SwiftResult<()> {
    let valid = match value.split_once('/') {
        Some((container, prefix)) => {
            !container.is_empty()
                && !prefix.is_empty()
                && !prefix.starts_with('/')
                && !value.contains('?')
                && !value.contains('&')
        }
        None => false,
    };
    if valid {
        Ok(())
    } else {
        Err(bad_request("X-Object-Manifest must be in the format container/prefix"))
    }
}

fn md5_hex(data: &[u8]) -> String {
    Md5::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

fn quoted(etag: &str) -> String {
    format!("\"{etag}\"")
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()
}

/// `/container/object` (leading slashes optional) → its parts.
fn split_segment_path(path: &str) -> Option<(&str, &str)> {
    let (container, object) = path.trim_start_matches('/').split_once('/')?;
    (!container.is_empty() && !object.is_empty()).then_some((container, object))
}

// ---- plans ----

/// A span of one segment object: `len` bytes from `start`.
#[derive(Debug, Clone)]
struct Piece {
    container: String,
    object: String,
    /// What the segment must still be when it is read (from the manifest or listing).
    etag: Option<String>,
    size: Option<u64>,
    start: u64,
    len: u64,
}

/// One segment of a stored static manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Segment {
    name: String,
    bytes: u64,
    hash: String,
    #[serde(default)]
    content_type: String,
    #[serde(default)]
    last_modified: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    range: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    sub_slo: bool,
}

impl Segment {
    /// The span of the segment this entry uses, `(start, len)`.
    fn span(&self) -> SwiftResult<(u64, u64)> {
        match &self.range {
            None => Ok((0, self.bytes)),
            Some(r) => parse_range(r, self.bytes)
                .ok()
                .flatten()
                .ok_or_else(|| SwiftError::internal(format!("bad range {r:?} in a stored manifest"))),
        }
    }
}

/// A segment range (`first-last`, `first-`, `-suffix`) over `size` bytes: `Err` when it is
/// not one range, `Ok(None)` when no byte of the segment is in it, else `(start, len)`.
fn parse_range(spec: &str, size: u64) -> Result<Option<(u64, u64)>, &'static str> {
    let spec = spec.trim();
    let spec = spec.strip_prefix("bytes=").unwrap_or(spec);
    if spec.contains(',') {
        return Err("multiple ranges (only one allowed)");
    }
    let (a, b) = spec.split_once('-').ok_or("invalid range")?;
    let (a, b) = (a.trim(), b.trim());
    let number = |s: &str| s.parse::<u64>().map_err(|_| "invalid range");
    if a.is_empty() {
        let n = number(b)?;
        if n == 0 || size == 0 {
            return Ok(None);
        }
        let n = n.min(size);
        return Ok(Some((size - n, n)));
    }
    let first = number(a)?;
    let last = if b.is_empty() { u64::MAX } else { number(b)? };
    if last < first {
        return Err("invalid range");
    }
    if first >= size {
        return Ok(None);
    }
    let last = last.min(size - 1);
    Ok(Some((first, last - first + 1)))
}

/// The pieces covering `range` of the object the pieces make up (all for `None`).
fn cut(pieces: Vec<Piece>, range: Option<(u64, u64)>) -> Vec<Piece> {
    let Some((start, len)) = range else { return pieces };
    let end = start + len;
    let mut out = Vec::new();
    let mut pos = 0;
    for piece in pieces {
        let (from, to) = (pos, pos + piece.len);
        pos = to;
        if to <= start || piece.len == 0 {
            continue;
        }
        if from >= end {
            break;
        }
        let skip = start.max(from) - from;
        let take = end.min(to) - from - skip;
        out.push(Piece { start: piece.start + skip, len: take, ..piece });
    }
    out
}

/// Who reads a large object's segments: a request (checked against the ACLs of segment
/// containers other than the manifest's), or the service itself.
struct Reader<'a> {
    service: &'a Service,
    req: Option<&'a Req>,
    account: &'a str,
    home: &'a str,
    allowed: HashSet<String>,
}

impl<'a> Reader<'a> {
    fn new(service: &'a Service, req: Option<&'a Req>, account: &'a str, home: &'a str) -> Self {
        Reader { service, req, account, home, allowed: HashSet::new() }
    }

    async fn may_read(&mut self, container: &str) -> SwiftResult<()> {
        if container == self.home || self.allowed.contains(container) {
            return Ok(());
        }
        if let Some(req) = self.req {
            authorize(self.service, req, self.account, container, None, Action::ReadObject).await?;
        }
        self.allowed.insert(container.to_string());
        Ok(())
    }

    /// The segments of a dynamic large object (`value` as in `X-Object-Manifest`) and its
    /// ETag (unquoted).
    async fn dlo_plan(&mut self, value: &str) -> SwiftResult<(Vec<Piece>, String)> {
        let (container, prefix) = value.split_once('/').unwrap_or((value, ""));
        let (container, prefix) = (decode(container), decode(prefix));
        self.may_read(&container).await?;
        let mut pieces = Vec::new();
        let mut etags = Md5::new();
        let mut marker = String::new();
        loop {
            let q = ListQuery { prefix: prefix.clone(), marker, limit: DLO_PAGE, ..Default::default() };
            let page = self.service.listings.list_objects(self.account, &container, &q).await?;
            let full = page.len() == DLO_PAGE;
            marker = String::new();
            for entry in page {
                let Entry::Item(row) = entry else { continue };
                etags.update(row.etag.as_bytes());
                marker = row.name.clone();
                pieces.push(Piece {
                    container: container.clone(),
                    object: row.name,
                    etag: Some(row.etag),
                    size: Some(row.size),
                    start: 0,
                    len: row.size,
                });
            }
            if !full || marker.is_empty() {
                break;
            }
        }
        let etag = etags.finalize().iter().map(|b| format!("{b:02x}")).collect();
        Ok((pieces, etag))
    }

    /// The pieces of a static manifest's segments, nested manifests expanded.
    fn slo_plan(
        &mut self,
        segments: Vec<Segment>,
        depth: usize,
    ) -> Pin<Box<dyn Future<Output = SwiftResult<Vec<Piece>>> + Send + '_>> {
        Box::pin(async move {
            if depth > MAX_NESTING {
                return Err(SwiftError::new(
                    StatusCode::CONFLICT,
                    "Static large objects are nested too deep.",
                ));
            }
            let mut pieces = Vec::new();
            for seg in segments {
                let (container, object) = split_segment_path(&seg.name).ok_or_else(|| {
                    SwiftError::internal(format!("bad segment {:?} in a manifest", seg.name))
                })?;
                self.may_read(container).await?;
                let span = seg.span()?;
                if seg.sub_slo {
                    let sub =
                        self.service.get_object(self.account, container, object).await.map_err(|e| {
                            SwiftError::new(
                                StatusCode::CONFLICT,
                                format!("The nested manifest {} cannot be read: {}", seg.name, e.message),
                            )
                        })?;
                    let sub_segments = read_manifest(sub).await?;
                    let inner = self.slo_plan(sub_segments, depth + 1).await?;
                    pieces.extend(cut(inner, Some(span)));
                } else {
                    pieces.push(Piece {
                        container: container.to_string(),
                        object: object.to_string(),
                        etag: Some(seg.hash.clone()),
                        size: Some(seg.bytes),
                        start: span.0,
                        len: span.1,
                    });
                }
            }
            Ok(pieces)
        })
    }
}

/// The whole data of a stored object (a manifest).
async fn read_all(obj: StoredObject) -> SwiftResult<Bytes> {
    if obj.meta.size > 4 * MAX_MANIFEST_SIZE as u64 {
        return Err(SwiftError::internal(format!("manifest {} is too large to read", obj.meta.name)));
    }
    if let Some(small) = &obj.small {
        return Ok(small.clone());
    }
    let mut out = Vec::with_capacity(obj.meta.size as usize);
    let mut body = body_of(obj, None);
    while let Some(chunk) = body.next().await {
        out.extend_from_slice(&chunk.map_err(io_error)?);
    }
    Ok(Bytes::from(out))
}

async fn read_manifest(obj: StoredObject) -> SwiftResult<Vec<Segment>> {
    if !is_slo(&obj.meta) {
        return Err(SwiftError::new(
            StatusCode::CONFLICT,
            format!("{} is no longer a static large object manifest", obj.meta.name),
        ));
    }
    let name = obj.meta.name.clone();
    let data = read_all(obj).await?;
    serde_json::from_slice(&data).map_err(|e| SwiftError::internal(format!("manifest {name}: {e}")))
}

/// The size and ETag (unquoted) of a static large object, as recorded when it was stored.
fn slo_recorded(meta: &ObjectMeta) -> Option<(u64, String)> {
    Some((meta.header(SLO_SIZE)?.parse().ok()?, meta.header(SLO_ETAG)?.to_string()))
}

/// Opens one piece, checking that the segment is still what was planned.
async fn open_piece(service: &Service, account: &str, piece: Piece) -> std::io::Result<BodyStream> {
    let path = format!("/{}/{}", piece.container, piece.object);
    let obj = service.get_object(account, &piece.container, &piece.object).await.map_err(|e| {
        tracing::warn!(segment = %path, status = %e.status, "large object: a segment cannot be read");
        std::io::Error::other(format!("segment {path}: {}", e.message))
    })?;
    let etag_ok =
        piece.etag.as_deref().is_none_or(|e| e.trim_matches('"').eq_ignore_ascii_case(&obj.meta.etag));
    let size_ok = piece.size.is_none_or(|s| s == obj.meta.size);
    if !etag_ok || !size_ok || piece.start + piece.len > obj.meta.size {
        tracing::warn!(segment = %path, "large object: a segment changed since the manifest was made");
        return Err(std::io::Error::other(format!("segment {path} changed")));
    }
    Ok(body_of(obj, Some((piece.start, piece.len))))
}

/// The pieces' data, one segment after the other; an unreadable segment ends it with an
/// error.
fn stream_pieces(service: Service, account: String, pieces: Vec<Piece>) -> BodyStream {
    let bodies = futures_util::stream::iter(pieces).then(move |piece| {
        let (service, account) = (service.clone(), account.clone());
        async move { open_piece(&service, &account, piece).await }
    });
    let mut failed = false;
    Box::pin(
        bodies
            .take_while(move |r| {
                let go = !failed;
                failed |= r.is_err();
                std::future::ready(go)
            })
            .map(|r| match r {
                Ok(body) => body,
                Err(e) => Box::pin(futures_util::stream::once(async move { Err(e) })) as BodyStream,
            })
            .flatten(),
    )
}

// ---- GET / HEAD ----

pub async fn get(service: &Service, req: &Req, obj: StoredObject) -> SwiftResult<Response> {
    let account = req.account.clone();
    let home = req.container.clone().unwrap_or_default();
    let mut headers = object_response_headers(&obj.meta);
    cors_headers(service, req, &account, &home, &mut headers).await;
    crate::tempurl::outgoing(req, &mut headers);
    let last_modified = obj.meta.timestamp.http_date();
    let head = req.method == Method::HEAD;
    if !is_slo(&obj.meta) && obj.meta.header(DLO_MANIFEST).is_none() {
        // A static-large-object flag that is not true: the object's own data.
        let (etag, size) = (obj.meta.etag.clone(), obj.meta.size);
        return respond_with(req, headers, &etag, last_modified, size, |range| body_of(obj, range));
    }
    let mut reader = Reader::new(service, Some(req), &account, &home);
    let (pieces, size, etag) = if is_slo(&obj.meta) {
        if let Ok(v) = HeaderValue::from_str(&obj.meta.etag) {
            headers.insert("x-manifest-etag", v);
        }
        match slo_recorded(&obj.meta) {
            // A HEAD needs only what was recorded with the manifest.
            Some((size, etag)) if head => (Vec::new(), size, etag),
            recorded => {
                let pieces = reader.slo_plan(read_manifest(obj).await?, 1).await?;
                let size = pieces.iter().map(|p| p.len).sum();
                let etag = match recorded {
                    Some((_, etag)) => etag,
                    None => slo_etag_of_pieces(&pieces),
                };
                (pieces, size, etag)
            }
        }
    } else {
        let value = obj.meta.header(DLO_MANIFEST).unwrap_or_default().to_string();
        let (pieces, etag) = reader.dlo_plan(&value).await?;
        let size = pieces.iter().map(|p| p.len).sum();
        (pieces, size, etag)
    };
    if let Ok(v) = HeaderValue::from_str(&quoted(&etag)) {
        headers.insert("etag", v);
    }
    let service = service.clone();
    respond_with(req, headers, &etag, last_modified, size, move |range| {
        stream_pieces(service, account, cut(pieces, range))
    })
}

/// A static large object without recorded sysmeta (not made here): the ETag of its pieces.
fn slo_etag_of_pieces(pieces: &[Piece]) -> String {
    let joined: String = pieces.iter().filter_map(|p| p.etag.as_deref()).collect();
    md5_hex(joined.as_bytes())
}

/// `?multipart-manifest=get`: the stored manifest (`&format=raw`: as a PUT takes it).
pub async fn get_manifest(req: &Req, obj: StoredObject) -> SwiftResult<Response> {
    let mut headers = object_response_headers(&obj.meta);
    headers.insert("content-type", HeaderValue::from_static("application/json; charset=utf-8"));
    crate::tempurl::outgoing(req, &mut headers);
    let last_modified = obj.meta.timestamp.http_date();
    if req.query("format") != Some("raw") {
        let (etag, size) = (obj.meta.etag.clone(), obj.meta.size);
        return respond_with(req, headers, &etag, last_modified, size, |range| body_of(obj, range));
    }
    let segments = read_manifest(obj).await?;
    let raw: Vec<Value> = segments
        .iter()
        .map(|s| {
            let mut entry = serde_json::json!({"path": s.name, "etag": s.hash, "size_bytes": s.bytes});
            if let Some(range) = &s.range {
                entry["range"] = Value::String(range.clone());
            }
            entry
        })
        .collect();
    let body = Bytes::from(serde_json::to_vec(&raw).map_err(SwiftError::internal)?);
    let etag = md5_hex(&body);
    if let Ok(v) = HeaderValue::from_str(&etag) {
        headers.insert("etag", v);
    }
    let size = body.len() as u64;
    respond_with(req, headers, &etag, last_modified, size, move |range| {
        let (start, len) = range.unwrap_or((0, size));
        let part = body.slice(start as usize..(start + len) as usize);
        Box::pin(futures_util::stream::once(async move { Ok(part) }))
    })
}

// ---- PUT ?multipart-manifest=put ----

/// One segment of a manifest PUT, checked for form.
struct Wanted {
    path: String,
    container: String,
    object: String,
    etag: Option<String>,
    size: Option<u64>,
    range: Option<String>,
}

/// The JSON of a manifest PUT → its segments, or the list of what is wrong with it.
fn parse_manifest(body: &[u8], max_segments: usize, self_path: (&str, &str)) -> SwiftResult<Vec<Wanted>> {
    let value: Value =
        serde_json::from_slice(body).map_err(|_| bad_request("Manifest must be valid JSON."))?;
    let Value::Array(list) = value else {
        return Err(bad_request("Manifest must be a JSON list of segments."));
    };
    if list.is_empty() {
        return Err(bad_request("Manifest must have at least one segment."));
    }
    if list.len() > max_segments {
        return Err(too_large(format!("Number of segments must be <= {max_segments}")));
    }
    let mut wanted = Vec::with_capacity(list.len());
    let mut problems = Vec::new();
    for (i, item) in list.into_iter().enumerate() {
        let Value::Object(fields) = item else {
            problems.push(format!("Index {i}: not a JSON object"));
            continue;
        };
        let extra: Vec<&str> = fields
            .keys()
            .map(String::as_str)
            .filter(|k| !matches!(*k, "path" | "etag" | "size_bytes" | "range"))
            .collect();
        if !extra.is_empty() {
            problems.push(format!("Index {i}: unknown keys {}", extra.join(", ")));
            continue;
        }
        let Some(path) = fields.get("path").and_then(Value::as_str) else {
            problems.push(format!("Index {i}: \"path\" must be a string"));
            continue;
        };
        let Some((container, object)) = split_segment_path(path) else {
            problems.push(format!("Index {i}: \"path\" must name an object, as /container/object"));
            continue;
        };
        if (container, object) == self_path {
            problems.push(format!("Index {i}: a manifest cannot be one of its own segments"));
            continue;
        }
        let etag = match fields.get("etag") {
            None | Some(Value::Null) => None,
            Some(Value::String(e)) => Some(e.trim_matches('"').to_string()),
            Some(_) => {
                problems.push(format!("Index {i}: \"etag\" must be a string or null"));
                continue;
            }
        };
        let size = match fields.get("size_bytes") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) if n.as_u64().is_some() => n.as_u64(),
            Some(Value::String(s)) if s.trim().parse::<u64>().is_ok() => s.trim().parse().ok(),
            Some(_) => {
                problems.push(format!("Index {i}: \"size_bytes\" must be a non-negative integer or null"));
                continue;
            }
        };
        let range = match fields.get("range") {
            None | Some(Value::Null) => None,
            Some(Value::String(r)) => match parse_range(r, u64::MAX) {
                Err(why) => {
                    problems.push(format!("Index {i}: {why}"));
                    continue;
                }
                Ok(_) => Some(r.clone()),
            },
            Some(_) => {
                problems.push(format!("Index {i}: \"range\" must be a string"));
                continue;
            }
        };
        wanted.push(Wanted {
            path: format!("/{container}/{object}"),
            container: container.to_string(),
            object: object.to_string(),
            etag,
            size,
            range,
        });
    }
    if !problems.is_empty() {
        return Err(bad_request(problems.join("\n")));
    }
    Ok(wanted)
}

/// What a segment is, as a manifest entry: its size and ETag are those of the large object
/// when it is itself a static manifest.
async fn describe_segment(
    service: &Service,
    account: &str,
    denied: &HashMap<String, String>,
    w: &Wanted,
) -> Result<Segment, String> {
    if let Some(status) = denied.get(&w.container) {
        return Err(status.clone());
    }
    let obj = match service.get_object(account, &w.container, &w.object).await {
        Ok(obj) => obj,
        Err(e) => return Err(bulk::status_line(e.status)),
    };
    let meta = &obj.meta;
    let (bytes, hash, sub_slo) = match (is_slo(meta), slo_recorded(meta)) {
        (true, Some((size, etag))) => (size, etag, true),
        _ => (meta.size, meta.etag.clone(), false),
    };
    Ok(Segment {
        name: w.path.clone(),
        bytes,
        hash,
        content_type: meta.content_type.clone(),
        last_modified: meta.timestamp.iso(),
        range: None,
        sub_slo,
    })
}

pub async fn put_manifest(service: &Service, req: Req) -> SwiftResult<Response> {
    let account = req.account.clone();
    let container = req.container.clone().unwrap_or_default();
    let object = req.object.clone().unwrap_or_default();
    if req.headers.contains_key(DLO_MANIFEST) {
        return Err(bad_request("An object cannot be both a static and a dynamic large object."));
    }
    let chunked = req.header("transfer-encoding").is_some_and(|t| t.to_ascii_lowercase().contains("chunked"));
    let declared = req.header("content-length").and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_none() && !chunked {
        return Err(SwiftError::new(StatusCode::LENGTH_REQUIRED, "Missing Content-Length."));
    }
    let manifest_too_large = || too_large(format!("Manifest File > {MAX_MANIFEST_SIZE} bytes"));
    if declared.is_some_and(|len| len > MAX_MANIFEST_SIZE as u64) {
        return Err(manifest_too_large());
    }
    let mut body = Vec::new();
    let mut stream = body_stream(req.take_body());
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| SwiftError::new(StatusCode::REQUEST_TIMEOUT, format!("{e}")))?;
        if body.len() + chunk.len() > MAX_MANIFEST_SIZE {
            return Err(manifest_too_large());
        }
        body.extend_from_slice(&chunk);
    }
    let max_segments = service.config.object_storage.max_manifest_segments as usize;
    let wanted = parse_manifest(&body, max_segments, (&container, &object))?;

    // Every segment must exist (readable by the caller) and match what the manifest says.
    // The handler checked the right to write here; reading segments is checked everywhere.
    let mut reader = Reader::new(service, Some(&req), &account, "");
    let mut denied: HashMap<String, String> = HashMap::new();
    for w in &wanted {
        if denied.contains_key(&w.container) {
            continue;
        }
        if let Err(e) = reader.may_read(&w.container).await {
            denied.insert(w.container.clone(), bulk::status_line(e.status));
        }
    }
    let mut found: Vec<Result<Segment, String>> = Vec::with_capacity(wanted.len());
    for batch in wanted.chunks(8) {
        let looks = batch.iter().map(|w| describe_segment(service, &account, &denied, w));
        found.extend(futures_util::future::join_all(looks).await);
    }
    let mut problems: Vec<(String, String)> = Vec::new();
    let mut segments = Vec::with_capacity(wanted.len());
    let mut etags = String::new();
    let mut total = 0u64;
    for (w, found) in wanted.iter().zip(found) {
        let mut seg = match found {
            Ok(seg) => seg,
            Err(status) => {
                problems.push((bulk::quote(&w.path), status));
                continue;
            }
        };
        if w.size.is_some_and(|s| s != seg.bytes) {
            problems.push((bulk::quote(&w.path), "Size Mismatch".into()));
        }
        if w.etag.as_deref().is_some_and(|e| !e.eq_ignore_ascii_case(&seg.hash)) {
            problems.push((bulk::quote(&w.path), "Etag Mismatch".into()));
        }
        let span = match &w.range {
            None => Some((0, seg.bytes)),
            Some(r) => parse_range(r, seg.bytes).ok().flatten(),
        };
        let Some((start, len)) = span else {
            problems.push((bulk::quote(&w.path), "Unsatisfiable Range".into()));
            continue;
        };
        if len == 0 {
            problems.push((bulk::quote(&w.path), "Too small; each segment must be at least 1 byte.".into()));
            continue;
        }
        if w.range.is_some() {
            let range = format!("{}-{}", start, start + len - 1);
            etags.push_str(&format!("{}:{};", seg.hash, range));
            seg.range = Some(range);
        } else {
            etags.push_str(&seg.hash);
        }
        total += len;
        segments.push(seg);
    }
    if !problems.is_empty() {
        return Ok(problem_response(&req, problems));
    }
    let slo_etag = md5_hex(etags.as_bytes());
    if let Some(given) = req.header("etag") {
        if !given.trim().trim_matches('"').eq_ignore_ascii_case(&slo_etag) {
            return Err(unprocessable("The ETag you sent does not match the ETag of the segments."));
        }
    }

    let data = serde_json::to_vec(&segments).map_err(SwiftError::internal)?;
    let mut headers = object_headers(&req.headers);
    delete_at(&req, &mut headers)?;
    headers.insert(SLO_FLAG.into(), "True".into());
    headers.insert(SLO_ETAG.into(), slo_etag.clone());
    headers.insert(SLO_SIZE.into(), total.to_string());
    let new = NewObject {
        content_type: content_type(&req, &object),
        headers,
        etag: None,
        content_length: Some(data.len() as u64),
    };
    let body: BodyStream = Box::pin(futures_util::stream::once(async move { Ok(Bytes::from(data)) }));
    let meta = service.put_object(&account, &container, &object, new, body).await?;
    let mut resp = created(&meta);
    if let Ok(v) = HeaderValue::from_str(&quoted(&slo_etag)) {
        resp.headers_mut().insert("etag", v);
    }
    Ok(resp)
}

/// 400 listing the segments that did not check out: `Errors:` lines, or a JSON object
/// when the client accepts JSON (left as is by the error layer, which reshapes other bodies).
fn problem_response(req: &Req, problems: Vec<(String, String)>) -> Response {
    if bulk::format_of(req.header("accept")) == Some(bulk::Format::Json) {
        let body = serde_json::json!({"Errors": problems}).to_string();
        let mut resp = Response::new(axum::body::Body::from(body));
        *resp.status_mut() = StatusCode::BAD_REQUEST;
        resp.headers_mut()
            .insert("content-type", HeaderValue::from_static("application/json; charset=utf-8"));
        return resp;
    }
    let mut text = String::from("Errors:\n");
    for (path, why) in &problems {
        text.push_str(&format!("{path}, {why}\n"));
    }
    bad_request(text).into_response()
}

// ---- DELETE ?multipart-manifest=delete ----

/// Collects what deleting a manifest removes, segments first (nested manifests: their own
/// segments, then themselves), into `out` as `(container, object)`.
fn collect_for_delete<'a>(
    service: &'a Service,
    account: &'a str,
    segments: Vec<Segment>,
    depth: usize,
    out: &'a mut Vec<(String, String)>,
) -> Pin<Box<dyn Future<Output = SwiftResult<()>> + Send + 'a>> {
    Box::pin(async move {
        if depth > MAX_NESTING {
            return Err(SwiftError::new(StatusCode::CONFLICT, "Static large objects are nested too deep."));
        }
        for seg in segments {
            let Some((container, object)) = split_segment_path(&seg.name) else { continue };
            if seg.sub_slo {
                if let Ok(sub) = service.get_object(account, container, object).await {
                    if is_slo(&sub.meta) {
                        let inner = read_manifest(sub).await?;
                        collect_for_delete(service, account, inner, depth + 1, out).await?;
                    }
                }
            }
            out.push((container.to_string(), object.to_string()));
        }
        Ok(())
    })
}

pub async fn delete_manifest(service: &Service, req: Req) -> SwiftResult<Response> {
    let account = req.account.clone();
    let container = req.container.clone().unwrap_or_default();
    let object = req.object.clone().unwrap_or_default();
    let format = bulk::format_of(req.header("accept"));
    let mut report = Report::default();
    let manifest_path = format!("/{container}/{object}");
    match service.get_object(&account, &container, &object).await {
        Err(e) if e.status == StatusCode::NOT_FOUND => report.not_found += 1,
        Err(e) => return Err(e),
        Ok(obj) if !is_slo(&obj.meta) => {
            report.errors.push((bulk::quote(&manifest_path), "Not an SLO manifest".into()));
        }
        Ok(obj) => {
            let mut targets = Vec::new();
            collect_for_delete(service, &account, read_manifest(obj).await?, 1, &mut targets).await?;
            let mut allowed: HashMap<String, Result<(), StatusCode>> = HashMap::new();
            for (c, o) in targets {
                let path = format!("/{c}/{o}");
                if !allowed.contains_key(&c) {
                    let may = authorize(service, &req, &account, &c, Some(&o), Action::WriteObject).await;
                    allowed.insert(c.clone(), may.map(|_| ()).map_err(|e| e.status));
                }
                if let Some(Err(status)) = allowed.get(&c) {
                    report.errors.push((bulk::quote(&path), bulk::status_line(*status)));
                    continue;
                }
                report.record(&path, service.delete_object(&account, &c, &o).await);
            }
            // The manifest goes only once its segments are gone, so that a failed delete can
            // be retried.
            if report.errors.is_empty() {
                report.record(&manifest_path, service.delete_object(&account, &container, &object).await);
            }
        }
    }
    report.finish();
    Ok(bulk::render(format, &report))
}

// ---- COPY ----

/// The data of a large object as one stream, its size and (when known) ETag, for a copy;
/// segments in containers other than the manifest's must be readable by the caller.
pub async fn assembled(
    service: &Service,
    req: &Req,
    account: &str,
    obj: StoredObject,
) -> SwiftResult<(BodyStream, u64, Option<String>)> {
    assemble(service, Some(req), account, obj).await
}

async fn assemble(
    service: &Service,
    req: Option<&Req>,
    account: &str,
    obj: StoredObject,
) -> SwiftResult<(BodyStream, u64, Option<String>)> {
    let home = crate::service::split_name(&obj.meta.name).map(|(_, c, _)| c.to_string()).unwrap_or_default();
    let mut reader = Reader::new(service, req, account, &home);
    let pieces = if is_slo(&obj.meta) {
        reader.slo_plan(read_manifest(obj).await?, 1).await?
    } else {
        let value = obj.meta.header(DLO_MANIFEST).unwrap_or_default().to_string();
        reader.dlo_plan(&value).await?.0
    };
    let size = pieces.iter().map(|p| p.len).sum();
    Ok((stream_pieces(service.clone(), account.to_string(), pieces), size, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn piece(name: &str, len: u64) -> Piece {
        Piece { container: "c".into(), object: name.into(), etag: None, size: Some(len), start: 0, len }
    }

    #[test]
    fn ranges_of_segments() {
        assert_eq!(parse_range("0-4", 10), Ok(Some((0, 5))));
        assert_eq!(parse_range("8-", 10), Ok(Some((8, 2))));
        assert_eq!(parse_range("-3", 10), Ok(Some((7, 3))));
        assert_eq!(parse_range("5-100", 10), Ok(Some((5, 5))));
        assert_eq!(parse_range("10-12", 10), Ok(None));
        assert!(parse_range("0-1,3-4", 10).is_err());
        assert!(parse_range("4-2", 10).is_err());
        assert!(parse_range("x", 10).is_err());
    }

    #[test]
    fn cutting_pieces() {
        let pieces = vec![piece("a", 3), piece("b", 0), piece("c", 4), piece("d", 3)];
        let spans = |r| -> Vec<(String, u64, u64)> {
            cut(pieces.clone(), r).into_iter().map(|p| (p.object, p.start, p.len)).collect()
        };
        assert_eq!(spans(None).len(), 4);
        assert_eq!(spans(Some((2, 3))), [("a".into(), 2, 1), ("c".into(), 0, 2)]);
        assert_eq!(spans(Some((3, 4))), [("c".into(), 0, 4)]);
        assert_eq!(spans(Some((9, 1))), [("d".into(), 2, 1)]);
    }

    #[test]
    fn dlo_manifest_values() {
        assert!(check_dlo_manifest("c/p").is_ok());
        assert!(check_dlo_manifest("c/p/q/").is_ok());
        for bad in ["c", "c/", "/p", "c//p", "c/p?x", "c/p&x"] {
            assert_eq!(check_dlo_manifest(bad).unwrap_err().status, StatusCode::BAD_REQUEST, "{bad}");
        }
    }
}
