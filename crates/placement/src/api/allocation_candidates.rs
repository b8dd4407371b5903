//! `GET /allocation_candidates` (1.10 and later). The answer is written straight into a string:
//! at a thousand hosts it is most of the work.

use std::fmt::Write as _;

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use stratus_core::auth::Authenticated;
use stratus_core::error::ApiResult;
use stratus_core::http::microversion::Version;

use super::{since, State};
use crate::candidates::{self, Found};
use crate::query::{self, Params};
use crate::service::PlacementService;
use crate::snapshot::Snapshot;

pub fn routes() -> Router<std::sync::Arc<crate::service::PlacementService>> {
    Router::new().route("/allocation_candidates", get(list))
}

async fn list(
    s: State,
    Authenticated(ctx): Authenticated,
    v: Version,
    params: Params,
) -> ApiResult<Response> {
    since(v, 1, 10)?;
    s.can(&ctx, "placement:allocation_candidates:list")?;
    let body = search(&s, &params, v, |snap, found| render(snap, found, v)).await?;
    let mut resp = body.into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(resp)
}

/// The search of `GET /allocation_candidates` once authorized; `answer` reads what was found
/// while the snapshot is held (the handler renders it, the in-process client converts it).
pub async fn search<R>(
    s: &PlacementService,
    params: &Params,
    v: Version,
    answer: impl FnOnce(&Snapshot, &Found) -> R,
) -> ApiResult<R> {
    let q = query::candidate_query(params, v)?;
    s.fresh().await?;
    s.with_view(|snap| -> ApiResult<R> {
        let found = candidates::search(snap, &q, v.at_least(1, 29))?;
        Ok(answer(snap, &found))
    })
}

/// Names here are UUIDs and `[A-Z0-9_]` (checked on the way in), group suffixes
/// `[A-Za-z0-9_-]`: none needs escaping, but a stray quote or backslash would.
fn push_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn render(snap: &Snapshot, found: &Found, v: Version) -> String {
    let mut out = String::with_capacity(256 + found.requests.len() * 200 + found.summaries.len() * 300);
    out.push_str("{\"allocation_requests\": [");
    for (i, req) in found.requests.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        if v.at_least(1, 12) {
            out.push_str("{\"allocations\": {");
            let mut first_rp = true;
            let mut k = 0;
            while k < req.parts.len() {
                let rp = req.parts[k].0;
                if !first_rp {
                    out.push_str(", ");
                }
                first_rp = false;
                push_str(&mut out, &snap.node(rp).uuid);
                out.push_str(": {\"resources\": {");
                let mut first = true;
                while k < req.parts.len() && req.parts[k].0 == rp {
                    if !first {
                        out.push_str(", ");
                    }
                    first = false;
                    push_str(&mut out, snap.rcs.name(req.parts[k].1));
                    let _ = write!(out, ": {}", req.parts[k].2);
                    k += 1;
                }
                out.push_str("}}");
            }
            out.push('}');
            if v.at_least(1, 34) {
                out.push_str(", \"mappings\": {");
                for (j, (suffix, providers)) in req.mappings().enumerate() {
                    if j > 0 {
                        out.push_str(", ");
                    }
                    push_str(&mut out, suffix);
                    out.push_str(": [");
                    for (n, p) in providers.iter().enumerate() {
                        if n > 0 {
                            out.push_str(", ");
                        }
                        push_str(&mut out, &snap.node(*p).uuid);
                    }
                    out.push(']');
                }
                out.push('}');
            }
            out.push('}');
        } else {
            out.push_str("{\"allocations\": [");
            let mut k = 0;
            let mut first_rp = true;
            while k < req.parts.len() {
                let rp = req.parts[k].0;
                if !first_rp {
                    out.push_str(", ");
                }
                first_rp = false;
                out.push_str("{\"resource_provider\": {\"uuid\": ");
                push_str(&mut out, &snap.node(rp).uuid);
                out.push_str("}, \"resources\": {");
                let mut first = true;
                while k < req.parts.len() && req.parts[k].0 == rp {
                    if !first {
                        out.push_str(", ");
                    }
                    first = false;
                    push_str(&mut out, snap.rcs.name(req.parts[k].1));
                    let _ = write!(out, ": {}", req.parts[k].2);
                    k += 1;
                }
                out.push_str("}}");
            }
            out.push_str("]}");
        }
    }
    out.push_str("], \"provider_summaries\": {");
    let all_resources = v.at_least(1, 27);
    let mut trait_names: Vec<&str> = Vec::new();
    for (i, &id) in found.summaries.iter().enumerate() {
        let node = snap.node(id);
        if i > 0 {
            out.push_str(", ");
        }
        push_str(&mut out, &node.uuid);
        out.push_str(": {\"resources\": {");
        let mut first = true;
        for inv in &node.inventories {
            if !all_resources && found.requested_rcs.binary_search(&inv.rc).is_err() {
                continue;
            }
            if !first {
                out.push_str(", ");
            }
            first = false;
            push_str(&mut out, snap.rcs.name(inv.rc));
            let _ = write!(out, ": {{\"capacity\": {}, \"used\": {}}}", inv.capacity(), inv.used);
        }
        out.push('}');
        if v.at_least(1, 17) {
            trait_names.clear();
            trait_names.extend(node.traits.iter().map(|t| snap.traits.name(*t)));
            trait_names.sort_unstable();
            out.push_str(", \"traits\": [");
            for (n, t) in trait_names.iter().enumerate() {
                if n > 0 {
                    out.push_str(", ");
                }
                push_str(&mut out, t);
            }
            out.push(']');
        }
        if v.at_least(1, 29) {
            out.push_str(", \"parent_provider_uuid\": ");
            match &node.parent_uuid {
                Some(p) => push_str(&mut out, p),
                None => out.push_str("null"),
            }
            out.push_str(", \"root_provider_uuid\": ");
            push_str(&mut out, &node.root_uuid);
        }
        out.push('}');
    }
    out.push_str("}}");
    out
}
