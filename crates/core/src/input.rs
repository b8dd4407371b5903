//! Reading request bodies field by field, with errors that name the field.
//!
//! OpenStack APIs keep attributes they do not know (a user's `email`, say), so bodies are
//! read as JSON objects: the known fields are taken out with type checks, what remains is the
//! resource's extra attributes.

use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult};

#[derive(Debug)]
pub struct Fields {
    map: Map<String, Value>,
}

fn invalid(field: &str, why: &str) -> ApiError {
    ApiError::bad_request(format!("Invalid input for field '{field}': {why}"))
}

impl Fields {
    /// `{"user": {...}}` → the object under `key`.
    pub fn from_wrapped(body: Value, key: &str) -> ApiResult<Fields> {
        match body {
            Value::Object(mut outer) => match outer.remove(key) {
                Some(Value::Object(map)) => Ok(Fields { map }),
                Some(_) => Err(invalid(key, "must be an object")),
                None => Err(invalid(key, &format!("'{key}' is a required property"))),
            },
            _ => Err(ApiError::bad_request("The request body must be a JSON object.")),
        }
    }

    pub fn new(map: Map<String, Value>) -> Fields {
        Fields { map }
    }

    pub fn contains(&self, field: &str) -> bool {
        self.map.contains_key(field)
    }

    /// An optional string; `null` counts as absent.
    pub fn opt_str(&mut self, field: &str) -> ApiResult<Option<String>> {
        match self.map.remove(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(invalid(field, "must be a string")),
        }
    }

    /// A string that must be present and non-empty, at most `max` characters.
    pub fn req_name(&mut self, field: &str, max: usize) -> ApiResult<String> {
        let s = self
            .opt_str(field)?
            .ok_or_else(|| invalid(field, &format!("'{field}' is a required property")))?;
        check_name(field, &s, max)?;
        Ok(s)
    }

    /// Like `req_name`, but may be absent.
    pub fn opt_name(&mut self, field: &str, max: usize) -> ApiResult<Option<String>> {
        match self.opt_str(field)? {
            Some(s) => {
                check_name(field, &s, max)?;
                Ok(Some(s))
            }
            None => Ok(None),
        }
    }

    pub fn opt_bool(&mut self, field: &str) -> ApiResult<Option<bool>> {
        match self.map.remove(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(b)),
            Some(_) => Err(invalid(field, "must be a boolean")),
        }
    }

    pub fn opt_str_list(&mut self, field: &str) -> ApiResult<Option<Vec<String>>> {
        match self.map.remove(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) => items
                .into_iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s),
                    _ => Err(invalid(field, "must be a list of strings")),
                })
                .collect::<ApiResult<Vec<_>>>()
                .map(Some),
            Some(_) => Err(invalid(field, "must be a list")),
        }
    }

    pub fn opt_object(&mut self, field: &str) -> ApiResult<Option<Map<String, Value>>> {
        match self.map.remove(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(m)) => Ok(Some(m)),
            Some(_) => Err(invalid(field, "must be an object")),
        }
    }

    pub fn take(&mut self, field: &str) -> Option<Value> {
        self.map.remove(field)
    }

    /// Refuses fields the caller may not set (ids, links …).
    pub fn forbid(&mut self, fields: &[&str]) -> ApiResult<()> {
        for f in fields {
            if self.map.contains_key(*f) {
                return Err(invalid(f, "it cannot be set here"));
            }
        }
        Ok(())
    }

    /// What remains: attributes to keep verbatim.
    pub fn rest(self) -> Map<String, Value> {
        self.map
    }
}

pub fn check_name(field: &str, s: &str, max: usize) -> ApiResult<()> {
    if s.trim().is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    if s.chars().count() > max {
        return Err(invalid(field, &format!("longer than {max} characters")));
    }
    Ok(())
}

/// An ISO 8601 time as OpenStack APIs take it: RFC 3339, or without a zone (read as UTC),
/// with or without fractional seconds.
pub fn parse_iso_time(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    crate::db::parse_time(s).or_else(|| {
        chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f").ok().map(|n| n.and_utc())
    })
}

/// Query-string booleans as OpenStack reads them: present and not `0`/`false`/`no` means true.
pub fn query_flag(v: Option<&str>) -> bool {
    match v {
        None => false,
        Some(s) => !matches!(s.to_ascii_lowercase().as_str(), "0" | "false" | "no" | "off"),
    }
}

/// A query-string filter on a boolean attribute (`?enabled=false`).
pub fn query_bool(field: &str, v: Option<&str>) -> ApiResult<Option<bool>> {
    match v.map(|s| s.to_ascii_lowercase()) {
        None => Ok(None),
        Some(s) if matches!(s.as_str(), "" | "1" | "true" | "yes" | "on") => Ok(Some(true)),
        Some(s) if matches!(s.as_str(), "0" | "false" | "no" | "off") => Ok(Some(false)),
        Some(_) => Err(invalid(field, "must be true or false")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields() {
        let mut f =
            Fields::from_wrapped(json!({"user": {"name": "a", "enabled": "yes", "email": "x@y"}}), "user")
                .unwrap();
        assert_eq!(f.req_name("name", 64).unwrap(), "a");
        assert!(f.opt_bool("enabled").unwrap_err().message.contains("'enabled'"));
        assert_eq!(f.rest().get("email"), Some(&json!("x@y")));
        assert!(Fields::from_wrapped(json!({}), "user").unwrap_err().message.contains("required"));
        let mut f = Fields::from_wrapped(json!({"p": {"name": "x".repeat(65)}}), "p").unwrap();
        assert!(f.req_name("name", 64).is_err());
        let mut f = Fields::from_wrapped(json!({"p": {"name": "  "}}), "p").unwrap();
        assert!(f.req_name("name", 64).is_err());
    }

    #[test]
    fn query_values() {
        assert!(
            query_flag(Some("True")) && query_flag(Some("")) && !query_flag(Some("0")) && !query_flag(None)
        );
        assert_eq!(query_bool("enabled", Some("False")).unwrap(), Some(false));
        assert!(query_bool("enabled", Some("maybe")).is_err());
    }
}
