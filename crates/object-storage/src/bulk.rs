//! Bulk delete (`POST /v1/<account>?bulk-delete`): a newline-separated list of
//! URL-encoded `/<container>[/<object>]` paths, answered with counts and errors.
//!
//! The answer is always `200 OK`; its body tells what happened, in the format the `Accept`
//! header picks (text, JSON or XML): how many names were deleted, how many were not found,
//! an overall status (`200 OK`, or the status of the failures, `400 Bad Request` by default)
//! and the names that failed with their status. Every delete is authorized on its own, as
//! the single DELETE would be; a container is deleted only when empty (`409 Conflict`).
//! The same answer reports `DELETE ?multipart-manifest=delete` of a static large object.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use futures_util::StreamExt;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::access::{Action, Caller, Standing};
use crate::api::{Req, Service};
use crate::constraints::{MAX_CONTAINER_NAME_LENGTH, MAX_OBJECT_NAME_LENGTH};
use crate::error::{unauthorized, SwiftResult};

pub const MAX_DELETES: usize = 10_000;

/// Longest line accepted (a URL-encoded path may be three times its decoded length).
const MAX_LINE: usize = 3 * (MAX_CONTAINER_NAME_LENGTH + MAX_OBJECT_NAME_LENGTH + 2);

/// Python's `quote`: letters, digits, `_.-~` and `/` stay as they are.
const QUOTE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'_').remove(b'.').remove(b'-').remove(b'~').remove(b'/');

/// A path as it appears in the `Errors` of an answer.
pub fn quote(path: &str) -> String {
    utf8_percent_encode(path, QUOTE).to_string()
}

/// `409 Conflict`
pub fn status_line(status: StatusCode) -> String {
    format!("{} {}", status.as_u16(), status.canonical_reason().unwrap_or(""))
}

/// The body formats of an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Xml(&'static str),
}

/// The format an `Accept` header picks (text without one); `None` when it accepts none.
pub fn format_of(accept: Option<&str>) -> Option<Format> {
    const OFFERS: [(&str, Format); 4] = [
        ("text/plain", Format::Text),
        ("application/json", Format::Json),
        ("application/xml", Format::Xml("application/xml")),
        ("text/xml", Format::Xml("text/xml")),
    ];
    let Some(accept) = accept.map(str::trim).filter(|a| !a.is_empty()) else { return Some(Format::Text) };
    // Each offer's quality: that of the most specific media range matching it.
    let ranges: Vec<(String, f32)> = accept
        .split(',')
        .filter_map(|part| {
            let mut params = part.split(';');
            let media = params.next()?.trim().to_ascii_lowercase();
            let q = params
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            (!media.is_empty()).then_some((media, q))
        })
        .collect();
    let quality = |offer: &str| -> f32 {
        let main = offer.split('/').next().unwrap_or("");
        let mut best: Option<(u8, f32)> = None;
        for (media, q) in &ranges {
            let specificity = if media == offer {
                3
            } else if media.strip_suffix("/*") == Some(main) {
                2
            } else if media == "*/*" || media == "*" {
                1
            } else {
                continue;
            };
            if best.is_none_or(|(s, _)| specificity > s) {
                best = Some((specificity, *q));
            }
        }
        best.map(|(_, q)| q).unwrap_or(0.0)
    };
    let mut chosen: Option<(Format, f32)> = None;
    for (offer, format) in OFFERS {
        let q = quality(offer);
        if q > 0.0 && chosen.is_none_or(|(_, best)| q > best) {
            chosen = Some((format, q));
        }
    }
    chosen.map(|(f, _)| f)
}

/// What a bulk operation did.
#[derive(Debug, Clone)]
pub struct Report {
    pub deleted: u64,
    pub not_found: u64,
    /// The overall status (`Response Status`).
    pub status: StatusCode,
    /// Why the whole request failed, if it did (`Response Body`).
    pub body: String,
    /// `(quoted path, status)` of every name that could not be deleted.
    pub errors: Vec<(String, String)>,
    /// The status failures turn the overall status into (502 after a server error).
    failure: StatusCode,
}

impl Default for Report {
    fn default() -> Self {
        Report {
            deleted: 0,
            not_found: 0,
            status: StatusCode::OK,
            body: String::new(),
            errors: Vec::new(),
            failure: StatusCode::BAD_REQUEST,
        }
    }
}

impl Report {
    /// Counts the outcome of deleting `path`.
    pub fn record(&mut self, path: &str, outcome: SwiftResult<()>) {
        match outcome {
            Ok(()) => self.deleted += 1,
            Err(e) if e.status == StatusCode::NOT_FOUND => self.not_found += 1,
            Err(e) => self.fail(path, e.status),
        }
    }

    pub fn fail(&mut self, path: &str, status: StatusCode) {
        if status.is_server_error() {
            self.failure = StatusCode::BAD_GATEWAY;
        }
        self.errors.push((quote(path), status_line(status)));
    }

    /// Ends the request early: `status` and `body` describe why.
    pub fn abort(&mut self, status: StatusCode, body: impl Into<String>) {
        self.status = status;
        self.body = body.into();
    }

    /// Sets the overall status once every name was handled.
    pub fn finish(&mut self) {
        if self.status != StatusCode::OK {
            return;
        }
        if !self.errors.is_empty() {
            self.status = self.failure;
        } else if self.deleted == 0 && self.not_found == 0 {
            self.status = StatusCode::BAD_REQUEST;
            self.body = "Invalid bulk delete.".into();
        }
    }

    fn text(&self) -> String {
        let mut out = format!(
            "Number Deleted: {}\nNumber Not Found: {}\nResponse Body: {}\nResponse Status: {}\nErrors:\n",
            self.deleted,
            self.not_found,
            self.body,
            status_line(self.status)
        );
        for (path, status) in &self.errors {
            out.push_str(&format!("{path}, {status}\n"));
        }
        out
    }

    fn json(&self) -> String {
        serde_json::json!({
            "Number Deleted": self.deleted,
            "Number Not Found": self.not_found,
            "Response Status": status_line(self.status),
            "Response Body": self.body,
            "Errors": self.errors,
        })
        .to_string()
    }

    fn xml(&self) -> String {
        let esc = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
        let mut out = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<delete><number_deleted>{}</number_deleted>\
             <number_not_found>{}</number_not_found><response_body>{}</response_body>\
             <response_status>{}</response_status><errors>",
            self.deleted,
            self.not_found,
            esc(&self.body),
            status_line(self.status)
        );
        for (path, status) in &self.errors {
            out.push_str(&format!(
                "<object><name>{}</name><status>{}</status></object>",
                esc(path),
                esc(status)
            ));
        }
        out.push_str("</errors></delete>\n");
        out
    }
}

/// The `200 OK` answer carrying a report; without an acceptable format, a text report of
/// `406 Not Acceptable`.
pub fn render(format: Option<Format>, report: &Report) -> Response {
    let (body, content_type) = match format {
        Some(Format::Json) => (report.json(), "application/json; charset=utf-8"),
        Some(Format::Xml(ct)) => (report.xml(), ct),
        Some(Format::Text) => (report.text(), "text/plain; charset=utf-8"),
        None => {
            let mut refused = report.clone();
            refused.abort(StatusCode::NOT_ACCEPTABLE, "");
            (refused.text(), "text/plain; charset=utf-8")
        }
    };
    let mut resp = Response::new(Body::from(body));
    resp.headers_mut().insert("content-type", HeaderValue::from_static(content_type));
    resp
}

/// May the caller delete in `container` (an object in it, or the container itself)?
async fn may_delete(
    service: &Service,
    caller: &Caller,
    account: &str,
    container: &str,
    object: bool,
) -> SwiftResult<()> {
    if matches!(caller, Caller::TempUrl { .. }) {
        return Err(unauthorized());
    }
    if !object {
        service.access.authorize(caller, account, Action::WriteContainer, None, None)?;
        return Ok(());
    }
    if matches!(service.access.standing(caller, account), Standing::Owner | Standing::ResellerAdmin) {
        return Ok(());
    }
    let info = service.listings.container(account, container).await?;
    let (read, write) = crate::api::container::acls(info.as_ref());
    service.access.authorize(caller, account, Action::WriteObject, read, write)?;
    Ok(())
}

/// Deletes one name of the list into the report.
async fn delete_one(service: &Service, caller: &Caller, account: &str, path: &str, report: &mut Report) {
    let trimmed = path.trim_start_matches('/');
    let (container, object) = match trimmed.split_once('/') {
        Some((c, o)) => (c, (!o.is_empty()).then_some(o)),
        None => (trimmed, None),
    };
    if container.is_empty() {
        report.fail(path, StatusCode::BAD_REQUEST);
        return;
    }
    if let Err(e) = may_delete(service, caller, account, container, object.is_some()).await {
        report.fail(path, e.status);
        return;
    }
    let outcome = match object {
        Some(object) => service.delete_object(account, container, object).await,
        None => match service.listings.delete_container(account, container).await {
            Ok(None) => Err(crate::error::not_found()),
            Ok(Some(false)) => Err(crate::error::conflict("The container is not empty.")),
            Ok(Some(true)) => Ok(()),
            Err(e) => Err(e.into()),
        },
    };
    report.record(path, outcome);
}

/// The paths of the request body, decoded; `Err` ends the request with that status.
async fn read_paths(req: &Req) -> Result<Vec<Result<String, String>>, (StatusCode, String)> {
    let mut body = crate::api::object::body_stream(req.take_body());
    let mut pending: Vec<u8> = Vec::new();
    let mut lines: Vec<Vec<u8>> = Vec::new();
    let too_many =
        || (StatusCode::PAYLOAD_TOO_LARGE, format!("Maximum Bulk Deletes: {MAX_DELETES} per request"));
    let mut done = false;
    while !done {
        match body.next().await {
            Some(Ok(chunk)) => pending.extend_from_slice(&chunk),
            Some(Err(e)) => {
                return Err((StatusCode::REQUEST_TIMEOUT, format!("The request body did not arrive: {e}")))
            }
            None => done = true,
        }
        while let Some(pos) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=pos).collect();
            if !line.trim_ascii().is_empty() {
                lines.push(line);
            }
        }
        if done && !pending.trim_ascii().is_empty() {
            lines.push(std::mem::take(&mut pending));
        }
        if pending.len() > MAX_LINE {
            return Err((StatusCode::BAD_REQUEST, "Invalid File Name".into()));
        }
        if lines.len() > MAX_DELETES {
            return Err(too_many());
        }
    }
    Ok(lines
        .into_iter()
        .map(|line| {
            let raw = String::from_utf8_lossy(line.trim_ascii()).into_owned();
            percent_encoding::percent_decode_str(&raw)
                .decode_utf8()
                .ok()
                .filter(|p| !p.contains('\0'))
                .map(|p| p.into_owned())
                .ok_or(raw)
        })
        .collect())
}

pub async fn bulk_delete(service: &Service, req: Req) -> SwiftResult<Response> {
    let format = format_of(req.header("accept"));
    let mut report = Report::default();
    let chunked = req.header("transfer-encoding").is_some_and(|t| t.to_ascii_lowercase().contains("chunked"));
    let content_type = req.header("content-type").unwrap_or("").trim().to_ascii_lowercase();
    if format.is_none() {
        return Ok(render(None, &report));
    }
    if !content_type.is_empty() && !content_type.starts_with("text/plain") {
        report.abort(StatusCode::NOT_ACCEPTABLE, "Only text/plain lists of names are accepted.");
    } else if req.header("content-length").is_none() && !chunked {
        report.abort(StatusCode::LENGTH_REQUIRED, "A Content-Length or a chunked body is required.");
    } else {
        match read_paths(&req).await {
            Err((status, why)) => report.abort(status, why),
            Ok(paths) => {
                for path in paths {
                    match path {
                        Ok(path) => delete_one(service, &req.caller, &req.account, &path, &mut report).await,
                        Err(raw) => report.errors.push((raw, status_line(StatusCode::PRECONDITION_FAILED))),
                    }
                }
            }
        }
    }
    report.finish();
    Ok(render(format, &report))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_headers() {
        assert_eq!(format_of(None), Some(Format::Text));
        assert_eq!(format_of(Some("application/json")), Some(Format::Json));
        assert_eq!(format_of(Some("*/*")), Some(Format::Text));
        assert_eq!(format_of(Some("text/*;q=0.5, application/json;q=0.9")), Some(Format::Json));
        assert_eq!(format_of(Some("application/*")), Some(Format::Json));
        assert_eq!(format_of(Some("text/xml")), Some(Format::Xml("text/xml")));
        assert_eq!(format_of(Some("image/png")), None);
        assert_eq!(format_of(Some("application/json;q=0, */*")), Some(Format::Text));
    }

    #[test]
    fn reports() {
        let mut r = Report::default();
        r.record("/c/a", Ok(()));
        r.record("/c/b", Err(crate::error::not_found()));
        r.record("/c d", Err(crate::error::conflict("x")));
        r.finish();
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            r.text(),
            "Number Deleted: 1\nNumber Not Found: 1\nResponse Body: \nResponse Status: 400 Bad Request\n\
             Errors:\n/c%20d, 409 Conflict\n"
        );
        let mut empty = Report::default();
        empty.finish();
        assert_eq!(empty.body, "Invalid bulk delete.");
    }
}
