//! Conditional requests (`If-Match`, `If-None-Match`, `If-Modified-Since`,
//! `If-Unmodified-Since`) and byte ranges, as RFC 7232/7233 and swift apply them.

use axum::http::HeaderMap;

/// What a conditional GET/HEAD turns into.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Proceed,
    NotModified,
    PreconditionFailed,
}

fn etag_list_matches(list: &str, etag: &str) -> bool {
    list.split(',')
        .map(|t| t.trim().trim_start_matches("W/").trim_matches('"'))
        .any(|t| t == "*" || t == etag)
}

fn date(headers: &HeaderMap, name: &str) -> Option<u64> {
    let v = headers.get(name)?.to_str().ok()?;
    let t = httpdate::parse_http_date(v).ok()?;
    Some(t.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs())
}

/// `etag` unquoted; `last_modified` in whole seconds (as sent in Last-Modified).
pub fn evaluate(headers: &HeaderMap, etag: &str, last_modified: u64, is_get_or_head: bool) -> Outcome {
    if let Some(v) = headers.get("if-match").and_then(|v| v.to_str().ok()) {
        if !etag_list_matches(v, etag) {
            return Outcome::PreconditionFailed;
        }
    } else if let Some(since) = date(headers, "if-unmodified-since") {
        if last_modified > since {
            return Outcome::PreconditionFailed;
        }
    }
    if let Some(v) = headers.get("if-none-match").and_then(|v| v.to_str().ok()) {
        if etag_list_matches(v, etag) {
            return if is_get_or_head { Outcome::NotModified } else { Outcome::PreconditionFailed };
        }
    } else if let Some(since) = date(headers, "if-modified-since") {
        if is_get_or_head && last_modified <= since {
            return Outcome::NotModified;
        }
    }
    Outcome::Proceed
}

/// A `Range` header over an object of `size` bytes: `Ok(None)` for no (or an ignorable)
/// header, `Err(())` when no range is satisfiable (416), else the `(start, len)` ranges.
#[allow(clippy::result_unit_err)]
pub fn ranges(header: Option<&str>, size: u64) -> Result<Option<Vec<(u64, u64)>>, ()> {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else { return Ok(None) };
    let mut out = vec![];
    for part in spec.split(',').map(str::trim) {
        let Some((a, b)) = part.split_once('-') else { return Ok(None) };
        let (a, b) = (a.trim(), b.trim());
        let range = if a.is_empty() {
            let Ok(n) = b.parse::<u64>() else { return Ok(None) };
            if n == 0 {
                continue;
            }
            let n = n.min(size);
            (size - n, n)
        } else {
            let Ok(start) = a.parse::<u64>() else { return Ok(None) };
            let end = if b.is_empty() {
                size.saturating_sub(1)
            } else {
                match b.parse::<u64>() {
                    Ok(e) if e >= start => e.min(size.saturating_sub(1)),
                    _ => return Ok(None),
                }
            };
            if start >= size {
                continue;
            }
            (start, end - start + 1)
        };
        if range.1 > 0 {
            out.push(range);
        }
    }
    if out.is_empty() {
        return Err(());
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn range_forms() {
        assert_eq!(ranges(Some("bytes=0-4"), 10), Ok(Some(vec![(0, 5)])));
        assert_eq!(ranges(Some("bytes=-3"), 10), Ok(Some(vec![(7, 3)])));
        assert_eq!(ranges(Some("bytes=8-"), 10), Ok(Some(vec![(8, 2)])));
        assert_eq!(ranges(Some("bytes=0-0,5-100"), 10), Ok(Some(vec![(0, 1), (5, 5)])));
        assert_eq!(ranges(Some("bytes=20-30"), 10), Err(()));
        assert_eq!(ranges(Some("bytes=5-2"), 10), Ok(None));
        assert_eq!(ranges(None, 10), Ok(None));
    }

    #[test]
    fn conditions() {
        let mut h = HeaderMap::new();
        assert_eq!(evaluate(&h, "abc", 100, true), Outcome::Proceed);
        h.insert("if-none-match", HeaderValue::from_static("\"abc\""));
        assert_eq!(evaluate(&h, "abc", 100, true), Outcome::NotModified);
        let mut h = HeaderMap::new();
        h.insert("if-match", HeaderValue::from_static("\"other\""));
        assert_eq!(evaluate(&h, "abc", 100, true), Outcome::PreconditionFailed);
        let mut h = HeaderMap::new();
        h.insert("if-modified-since", HeaderValue::from_static("Thu, 01 Jan 1970 00:01:40 GMT"));
        assert_eq!(evaluate(&h, "abc", 100, true), Outcome::NotModified);
        assert_eq!(evaluate(&h, "abc", 101, true), Outcome::Proceed);
        let mut h = HeaderMap::new();
        h.insert("if-unmodified-since", HeaderValue::from_static("Thu, 01 Jan 1970 00:01:40 GMT"));
        assert_eq!(evaluate(&h, "abc", 101, true), Outcome::PreconditionFailed);
    }
}
