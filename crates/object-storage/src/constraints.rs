//! Swift's limits (`swift.common.constraints`): name lengths, metadata limits, listing limits.
//! They are also what `/info` announces.

use axum::http::HeaderMap;

use crate::error::{bad_request, precondition_failed, SwiftError};

pub const MAX_META_NAME_LENGTH: usize = 128;
pub const MAX_META_VALUE_LENGTH: usize = 256;
pub const MAX_META_COUNT: usize = 90;
pub const MAX_META_OVERALL_SIZE: usize = 4096;
pub const MAX_HEADER_SIZE: usize = 8192;
pub const MAX_OBJECT_NAME_LENGTH: usize = 1024;
pub const CONTAINER_LISTING_LIMIT: usize = 10_000;
pub const ACCOUNT_LISTING_LIMIT: usize = 10_000;
pub const MAX_ACCOUNT_NAME_LENGTH: usize = 256;
pub const MAX_CONTAINER_NAME_LENGTH: usize = 256;
/// Extra headers a caller may send per request.
pub const EXTRA_HEADER_COUNT: usize = 0;

/// Which resource a metadata header belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Account,
    Container,
    Object,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Account => "account",
            Kind::Container => "container",
            Kind::Object => "object",
        }
    }

    /// `x-object-meta-`
    pub fn meta_prefix(self) -> &'static str {
        match self {
            Kind::Account => "x-account-meta-",
            Kind::Container => "x-container-meta-",
            Kind::Object => "x-object-meta-",
        }
    }

    /// `x-remove-object-meta-`
    pub fn remove_prefix(self) -> &'static str {
        match self {
            Kind::Account => "x-remove-account-meta-",
            Kind::Container => "x-remove-container-meta-",
            Kind::Object => "x-remove-object-meta-",
        }
    }
}

pub fn check_container_name(name: &str) -> Result<(), SwiftError> {
    if name.is_empty() {
        return Err(bad_request("Container name is required"));
    }
    if name.len() > MAX_CONTAINER_NAME_LENGTH {
        return Err(bad_request(format!(
            "Container name length of {} longer than {MAX_CONTAINER_NAME_LENGTH}",
            name.len()
        )));
    }
    if name.contains('/') {
        return Err(bad_request("Container name cannot contain slashes"));
    }
    check_utf8_name(name)
}

pub fn check_object_name(name: &str) -> Result<(), SwiftError> {
    if name.len() > MAX_OBJECT_NAME_LENGTH {
        return Err(bad_request(format!(
            "Object name length of {} longer than {MAX_OBJECT_NAME_LENGTH}",
            name.len()
        )));
    }
    check_utf8_name(name)
}

fn check_utf8_name(name: &str) -> Result<(), SwiftError> {
    if name.contains('\0') {
        return Err(precondition_failed("Invalid UTF8 or contains NULL"));
    }
    Ok(())
}

/// Checks the metadata headers of a PUT or POST against swift's limits; a bad request names
/// the limit it broke.
pub fn check_metadata(headers: &HeaderMap, kind: Kind) -> Result<(), SwiftError> {
    let prefix = kind.meta_prefix();
    let mut count = 0;
    let mut size = 0;
    for (name, value) in headers {
        let name = name.as_str();
        let Some(key) = name.strip_prefix(prefix) else { continue };
        let value = value.as_bytes();
        if key.is_empty() {
            return Err(bad_request("Metadata name cannot be empty"));
        }
        if key.len() > MAX_META_NAME_LENGTH {
            return Err(bad_request(format!("Metadata name too long: {name}; max {MAX_META_NAME_LENGTH}")));
        }
        if value.len() > MAX_META_VALUE_LENGTH {
            return Err(bad_request(format!("Metadata value longer than {MAX_META_VALUE_LENGTH}: {name}")));
        }
        count += 1;
        size += key.len() + value.len();
        if count > MAX_META_COUNT {
            return Err(bad_request(format!("Too many metadata items; max {MAX_META_COUNT}")));
        }
        if size > MAX_META_OVERALL_SIZE {
            return Err(bad_request(format!("Total metadata too large; max {MAX_META_OVERALL_SIZE}")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn names() {
        assert!(check_container_name("photos").is_ok());
        assert_eq!(check_container_name(&"a".repeat(257)).unwrap_err().status.as_u16(), 400);
        assert!(check_container_name(&"a".repeat(256)).is_ok());
        assert_eq!(check_container_name("a/b").unwrap_err().status.as_u16(), 400);
        assert!(check_object_name(&"o".repeat(1024)).is_ok());
        assert_eq!(check_object_name(&"o".repeat(1025)).unwrap_err().status.as_u16(), 400);
    }

    #[test]
    fn metadata_limits() {
        let mut h = HeaderMap::new();
        h.insert("x-object-meta-color", HeaderValue::from_static("blue"));
        assert!(check_metadata(&h, Kind::Object).is_ok());
        h.insert("x-object-meta-long", HeaderValue::from_str(&"v".repeat(257)).unwrap());
        let e = check_metadata(&h, Kind::Object).unwrap_err();
        assert!(e.message.contains("longer than 256"), "{}", e.message);
        let mut h = HeaderMap::new();
        for i in 0..91 {
            h.insert(
                axum::http::HeaderName::from_bytes(format!("x-container-meta-k{i}").as_bytes()).unwrap(),
                HeaderValue::from_static("v"),
            );
        }
        assert!(check_metadata(&h, Kind::Container).unwrap_err().message.contains("Too many"));
        assert!(check_metadata(&h, Kind::Object).is_ok(), "other kinds' headers are not counted");
    }
}
