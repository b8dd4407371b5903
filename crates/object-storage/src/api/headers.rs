//! Headers every swift answer has, and metadata headers in and out.

use std::collections::BTreeMap;

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

use crate::constraints::Kind;
use crate::listing::Metadata;
use crate::timestamp::Timestamp;

/// `X-Trans-Id` / `X-Openstack-Request-Id` on every answer, swift's `tx…-<hex time>` form.
pub async fn trans_id(req: Request, next: Next) -> Response {
    let id = format!(
        "tx{}-{:010x}",
        &uuid::Uuid::new_v4().simple().to_string()[..21],
        crate::timestamp::unix_now()
    );
    let mut resp = next.run(req).await;
    let value = HeaderValue::from_str(&id).expect("ascii id");
    resp.headers_mut().insert("x-trans-id", value.clone());
    resp.headers_mut().insert("x-openstack-request-id", value);
    resp
}

pub fn insert(headers: &mut HeaderMap, name: &str, value: impl AsRef<str>) {
    if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value.as_ref())) {
        headers.insert(n, v);
    }
}

/// Applies a PUT's or POST's metadata headers to `current`: `X-<Kind>-Meta-K: v` sets,
/// an empty value or `X-Remove-<Kind>-Meta-K` removes. `extra` names other headers that are
/// kept the same way (ACLs, quotas, versioning).
pub fn apply_metadata(current: &mut Metadata, headers: &HeaderMap, kind: Kind, extra: &[&str]) {
    let prefix = kind.meta_prefix();
    let remove = kind.remove_prefix();
    for (name, value) in headers {
        let name = name.as_str();
        let value = value.to_str().unwrap_or("").trim();
        if name.starts_with(prefix) || extra.contains(&name) {
            if value.is_empty() {
                current.remove(name);
            } else {
                current.insert(name.to_string(), value.to_string());
            }
        } else if let Some(key) = name.strip_prefix(remove) {
            current.remove(&format!("{prefix}{key}"));
        } else if let Some(other) = name.strip_prefix("x-remove-") {
            let full = format!("x-{other}");
            if extra.contains(&full.as_str()) {
                current.remove(&full);
            }
        }
    }
}

/// The object headers a PUT keeps, as swift's object server does.
pub fn object_headers(headers: &HeaderMap) -> BTreeMap<String, String> {
    const KEPT: &[&str] = &[
        "content-disposition",
        "content-encoding",
        "content-language",
        "cache-control",
        "expires",
        "x-robots-tag",
        "x-object-manifest",
        "x-delete-at",
    ];
    headers
        .iter()
        .filter(|(n, _)| n.as_str().starts_with("x-object-meta-") || KEPT.contains(&n.as_str()))
        .filter_map(|(n, v)| Some((n.as_str().to_string(), v.to_str().ok()?.trim().to_string())))
        .filter(|(_, v)| !v.is_empty())
        .collect()
}

/// Metadata as response headers.
pub fn render_metadata(out: &mut HeaderMap, metadata: &Metadata, hide: impl Fn(&str) -> bool) {
    for (k, v) in metadata {
        if !hide(k) {
            insert(out, k, v);
        }
    }
}

pub fn timestamp_headers(out: &mut HeaderMap, ts: Timestamp) {
    insert(out, "x-timestamp", ts.normal());
}
