//! What many compute handlers share, as nova's `api/openstack/common.py`: query strings,
//! pagination (`limit`/`marker`/`offset` and `*_links`), resource links, nova's time format
//! and its body rules (integers that may be strings, names, booleans, unknown fields).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};
use stratus_core::error::{ApiError, ApiResult};
use stratus_core::http::microversion::Version;

/// `CONF.api.max_limit`: the most items one page holds.
pub const MAX_LIMIT: usize = 1000;

/// The query string as ordered pairs; a repeated parameter's last value counts, as webob's.
#[derive(Debug, Clone, Default)]
pub struct QueryParams(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Query(pairs) =
            axum::extract::Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
                .map_err(|e| ApiError::bad_request(format!("Invalid query string: {}", e.body_text())))?;
        Ok(QueryParams(pairs))
    }
}

impl QueryParams {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    pub fn contains(&self, key: &str) -> bool {
        self.0.iter().any(|(k, _)| k == key)
    }

    /// From 2.75 on, nova refuses query parameters an API does not know.
    pub fn only(&self, version: Version, allowed: &[&str]) -> ApiResult<()> {
        if !version.at_least(2, 75) {
            return Ok(());
        }
        match self.0.iter().find(|(k, _)| !allowed.contains(&k.as_str())) {
            Some((k, _)) => Err(ApiError::bad_request(format!(
                "Invalid input for query parameters {k}. Value: {}. Additional properties are not allowed \
                 ('{k}' was unexpected)",
                self.get(k).unwrap_or_default()
            ))),
            None => Ok(()),
        }
    }

    /// A non-negative integer parameter (`limit`, `offset`).
    pub fn count(&self, key: &str) -> ApiResult<Option<usize>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => validate_integer(&Value::String(v.to_string()), key, 0, i32::MAX as i64)
                .map(|n| Some(n as usize)),
        }
    }

    /// `limit` (capped at [`MAX_LIMIT`]) and `marker`, as `get_limit_and_marker`.
    pub fn limit_marker(&self) -> ApiResult<(usize, Option<String>)> {
        let limit = self.count("limit")?.map_or(MAX_LIMIT, |l| l.min(MAX_LIMIT));
        Ok((limit, self.get("marker").map(str::to_string)))
    }

    /// `limit` and `offset`, as `common.limited` (a limit of 0 means the maximum).
    pub fn limit_offset(&self) -> ApiResult<(usize, usize)> {
        let limit = match self.count("limit")? {
            None | Some(0) => MAX_LIMIT,
            Some(l) => l.min(MAX_LIMIT),
        };
        Ok((limit, self.count("offset")?.unwrap_or(0)))
    }
}

/// nova's `validate_integer`: an integer, or a string of one, within bounds.
pub fn validate_integer(value: &Value, name: &str, min: i64, max: i64) -> ApiResult<i64> {
    let invalid = |why: String| ApiError::bad_request(format!("Invalid input received: {why}"));
    let n = match value {
        Value::Number(n) => n.as_i64().ok_or_else(|| invalid(format!("{name} must be an integer")))?,
        Value::String(s) => {
            s.trim().parse::<i64>().map_err(|_| invalid(format!("{name} must be an integer")))?
        }
        _ => return Err(invalid(format!("{name} must be an integer"))),
    };
    if n < min {
        return Err(invalid(format!("{name} must be >= {min}")));
    }
    if n > max {
        return Err(invalid(format!("{name} must be <= {max}")));
    }
    Ok(n)
}

/// nova's body booleans: JSON booleans or the strings `true`/`yes`/`on`/`1` and their
/// opposites (any case as nova lists them).
pub fn parse_bool(value: &Value, field: &str) -> ApiResult<bool> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "true" | "1" | "on" | "yes" => Ok(true),
            "false" | "0" | "off" | "no" => Ok(false),
            _ => Err(invalid_field(field, &format!("{s:?} is not a boolean"))),
        },
        _ => Err(invalid_field(field, "must be a boolean")),
    }
}

pub fn invalid_field(field: &str, why: &str) -> ApiError {
    ApiError::bad_request(format!("Invalid input for field/attribute {field}. {why}"))
}

/// nova's `name` format: 1 to `max` printable characters, not starting or ending with
/// whitespace. `extra_forbidden` are characters also refused (`:` in zone names).
pub fn check_name(field: &str, value: &str, max: usize, extra_forbidden: &[char]) -> ApiResult<()> {
    let count = value.chars().count();
    if count == 0 || count > max {
        return Err(invalid_field(field, &format!("It must have 1 to {max} characters.")));
    }
    if value.starts_with(char::is_whitespace) || value.ends_with(char::is_whitespace) {
        return Err(invalid_field(field, "It can not start or end with whitespace."));
    }
    if let Some(c) = value.chars().find(|c| !is_printable(*c) || extra_forbidden.contains(c)) {
        return Err(invalid_field(field, &format!("It may not contain {c:?}.")));
    }
    Ok(())
}

/// Printable as nova's regexes define it: no control or format characters, and no
/// separators other than plain spaces.
pub fn is_printable(c: char) -> bool {
    !c.is_control() && !matches!(c, '\u{2028}' | '\u{2029}' | '\u{200b}'..='\u{200f}' | '\u{feff}')
}

/// Refuses what is left of a body object once the known fields are taken out.
pub fn no_more_fields(rest: &Map<String, Value>) -> ApiResult<()> {
    match rest.keys().next() {
        Some(k) => Err(ApiError::bad_request(format!(
            "Invalid input for field/attribute. Additional properties are not allowed ('{k}' was unexpected)"
        ))),
        None => Ok(()),
    }
}

/// `{"action_name": {...}}` bodies of `/action` URLs: the one action named.
pub fn action(body: Value) -> ApiResult<(String, Value)> {
    let Value::Object(map) = body else {
        return Err(ApiError::bad_request("The request body must be a JSON object."));
    };
    let mut it = map.into_iter();
    match (it.next(), it.next()) {
        (Some((name, value)), None) => Ok((name, value)),
        (None, _) => Err(ApiError::bad_request("Malformed request body: no action given")),
        (Some(_), Some(_)) => Err(ApiError::bad_request("Malformed request body: more than one action")),
    }
}

/// Times as nova's objects render them: ISO 8601 without zone, with microseconds.
pub fn nova_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
}

/// The `self` and `bookmark` links of a resource: `{base}/v2.1/{collection}/{id}` and
/// `{base}/{collection}/{id}`.
pub fn links(base: &str, collection: &str, id: &str) -> Value {
    json!([
        {"rel": "self", "href": format!("{base}/v2.1/{collection}/{id}")},
        {"rel": "bookmark", "href": format!("{base}/{collection}/{id}")},
    ])
}

/// The `next` link of a page, when the page is full (nova's `_get_collection_links`): the
/// request's parameters, sorted, with `marker` set to the last item's id.
pub fn collection_links(
    base: &str,
    collection: &str,
    query: &QueryParams,
    count: usize,
    last_id: Option<&str>,
) -> Option<Value> {
    let max_items = query.count("limit").ok().flatten().map_or(MAX_LIMIT, |l| l.min(MAX_LIMIT));
    let last = last_id?;
    if max_items == 0 || max_items != count {
        return None;
    }
    let mut params: Vec<(String, String)> = Vec::new();
    for (k, _) in &query.0 {
        if k != "marker" && !params.iter().any(|(p, _)| p == k) {
            params.push((k.clone(), query.get(k).unwrap_or_default().to_string()));
        }
    }
    params.push(("marker".into(), last.to_string()));
    params.sort();
    let qs: Vec<String> =
        params.iter().map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v))).collect();
    Some(json!([{"rel": "next", "href": format!("{base}/v2.1/{collection}?{}", qs.join("&"))}]))
}

/// `application/x-www-form-urlencoded` encoding, as Python's `urlencode`.
fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_and_names() {
        assert_eq!(validate_integer(&json!("12"), "ram", 1, 10).unwrap_err().status, 400);
        assert_eq!(validate_integer(&json!("8"), "ram", 1, 10).unwrap(), 8);
        assert!(validate_integer(&json!(0), "ram", 1, 10).unwrap_err().message.contains("ram must be >= 1"));
        assert!(validate_integer(&json!(1.5), "ram", 1, 10).is_err());
        assert!(check_name("name", "m1.tiny", 255, &[]).is_ok());
        assert!(check_name("name", " m1", 255, &[]).is_err());
        assert!(check_name("name", "", 255, &[]).is_err());
        assert!(check_name("name", "a\u{7}b", 255, &[]).is_err());
        assert!(check_name("availability_zone", "a:b", 255, &[':']).is_err());
    }

    #[test]
    fn next_links() {
        let q = QueryParams(vec![("limit".into(), "2".into()), ("is_public".into(), "None".into())]);
        let l = collection_links("http://h:8774", "flavors/detail", &q, 2, Some("f 2")).unwrap();
        assert_eq!(l[0]["href"], "http://h:8774/v2.1/flavors/detail?is_public=None&limit=2&marker=f+2");
        assert!(collection_links("http://h", "flavors", &q, 1, Some("x")).is_none());
        assert_eq!(nova_time(DateTime::from_timestamp(0, 5000).unwrap()), "1970-01-01T00:00:00.000005");
    }
}
