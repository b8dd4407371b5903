//! Listings as swift renders them: plain text (one name per line), JSON or XML, chosen by
//! `?format=` or the `Accept` header; and the listing query parameters.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::json;

use super::Req;
use crate::constraints::CONTAINER_LISTING_LIMIT;
use crate::error::{precondition_failed, SwiftResult};
use crate::listing::{ContainerInfo, Entry, ListQuery, ObjectRow};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Plain,
    Json,
    Xml,
}

pub fn format_of(req: &Req) -> Format {
    match req.query("format").map(str::to_ascii_lowercase).as_deref() {
        Some("json") => return Format::Json,
        Some("xml") => return Format::Xml,
        Some("plain") => return Format::Plain,
        _ => {}
    }
    let accept = req.header("accept").unwrap_or("");
    if accept.contains("application/json") {
        Format::Json
    } else if accept.contains("application/xml") || accept.contains("text/xml") {
        Format::Xml
    } else {
        Format::Plain
    }
}

/// The listing parameters; `limit` over 10,000 is 412 as in swift.
pub fn query_of(req: &Req) -> SwiftResult<ListQuery> {
    let limit = match req.query("limit") {
        Some(l) => {
            let n: usize =
                l.parse().map_err(|_| precondition_failed("Value of limit must be a positive integer"))?;
            if n > CONTAINER_LISTING_LIMIT {
                return Err(precondition_failed(format!("Maximum limit is {CONTAINER_LISTING_LIMIT}")));
            }
            n
        }
        None => CONTAINER_LISTING_LIMIT,
    };
    let delimiter = match req.query("delimiter") {
        Some(d) if d.chars().count() > 1 => {
            return Err(precondition_failed("Bad delimiter"));
        }
        Some(d) => d.chars().next(),
        None => None,
    };
    let reverse = matches!(
        req.query("reverse").map(str::to_ascii_lowercase).as_deref(),
        Some("true" | "1" | "yes" | "on" | "t" | "y")
    );
    Ok(ListQuery {
        prefix: req.query("prefix").unwrap_or("").to_string(),
        delimiter,
        marker: req.query("marker").unwrap_or("").to_string(),
        end_marker: req.query("end_marker").unwrap_or("").to_string(),
        limit,
        reverse,
    })
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn respond(format: Format, body: String, headers: HeaderMap, empty: bool) -> Response {
    let mut resp = Response::new(Body::empty());
    *resp.headers_mut() = headers;
    let ct = match format {
        Format::Plain => "text/plain; charset=utf-8",
        Format::Json => "application/json; charset=utf-8",
        Format::Xml => "application/xml; charset=utf-8",
    };
    resp.headers_mut().insert("content-type", HeaderValue::from_static(ct));
    if empty && format == Format::Plain {
        *resp.status_mut() = StatusCode::NO_CONTENT;
        resp.headers_mut().insert("content-length", HeaderValue::from_static("0"));
        return resp;
    }
    resp.headers_mut().insert("content-length", HeaderValue::from(body.len()));
    *resp.body_mut() = Body::from(body);
    resp
}

pub fn objects(
    format: Format,
    container: &str,
    entries: &[Entry<ObjectRow>],
    headers: HeaderMap,
) -> Response {
    let body = match format {
        Format::Plain => entries
            .iter()
            .map(|e| match e {
                Entry::Item(o) => format!("{}\n", o.name),
                Entry::Subdir(s) => format!("{s}\n"),
            })
            .collect(),
        Format::Json => serde_json::to_string(
            &entries
                .iter()
                .map(|e| match e {
                    Entry::Item(o) => json!({
                        "name": o.name,
                        "hash": o.etag,
                        "bytes": o.size,
                        "content_type": o.content_type,
                        "last_modified": o.timestamp.iso(),
                    }),
                    Entry::Subdir(s) => json!({"subdir": s}),
                })
                .collect::<Vec<_>>(),
        )
        .expect("json"),
        Format::Xml => {
            let mut x = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<container name=\"{}\">",
                xml_escape(container)
            );
            for e in entries {
                match e {
                    Entry::Item(o) => x.push_str(&format!(
                        "<object><name>{}</name><hash>{}</hash><bytes>{}</bytes><content_type>{}</content_type><last_modified>{}</last_modified></object>",
                        xml_escape(&o.name),
                        o.etag,
                        o.size,
                        xml_escape(&o.content_type),
                        o.timestamp.iso()
                    )),
                    Entry::Subdir(s) => {
                        x.push_str(&format!("<subdir name=\"{0}\"><name>{0}</name></subdir>", xml_escape(s)))
                    }
                }
            }
            x.push_str("</container>");
            x
        }
    };
    respond(format, body, headers, entries.is_empty())
}

pub fn containers(
    format: Format,
    account: &str,
    entries: &[Entry<ContainerInfo>],
    headers: HeaderMap,
) -> Response {
    let body = match format {
        Format::Plain => entries
            .iter()
            .map(|e| match e {
                Entry::Item(c) => format!("{}\n", c.name),
                Entry::Subdir(s) => format!("{s}\n"),
            })
            .collect(),
        Format::Json => serde_json::to_string(
            &entries
                .iter()
                .map(|e| match e {
                    Entry::Item(c) => json!({
                        "name": c.name,
                        "count": c.object_count,
                        "bytes": c.bytes_used,
                        "last_modified": c.created.iso(),
                    }),
                    Entry::Subdir(s) => json!({"subdir": s}),
                })
                .collect::<Vec<_>>(),
        )
        .expect("json"),
        Format::Xml => {
            let mut x = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<account name=\"{}\">",
                xml_escape(account)
            );
            for e in entries {
                match e {
                    Entry::Item(c) => x.push_str(&format!(
                        "<container><name>{}</name><count>{}</count><bytes>{}</bytes><last_modified>{}</last_modified></container>",
                        xml_escape(&c.name),
                        c.object_count,
                        c.bytes_used,
                        c.created.iso()
                    )),
                    Entry::Subdir(s) => {
                        x.push_str(&format!("<subdir name=\"{0}\"><name>{0}</name></subdir>", xml_escape(s)))
                    }
                }
            }
            x.push_str("</account>");
            x
        }
    };
    respond(format, body, headers, entries.is_empty())
}
