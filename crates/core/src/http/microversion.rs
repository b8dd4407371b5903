//! API microversions, as nova, placement and cinder negotiate them.
//!
//! A client asks for a version with `OpenStack-API-Version: <service> X.Y` (or a service's
//! legacy header, e.g. `X-OpenStack-Nova-API-Version: X.Y`); `latest` means the highest this
//! server has; no header means the lowest. A version outside the range is a 406. The answer
//! carries the chosen version in the same headers and `Vary` on them.
//!
//! [`layer`] does the negotiation once per request and leaves the chosen [`Version`] in the
//! request's extensions, where handlers read it with the `Version` extractor.

use std::fmt;

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// A microversion `major.minor`; ordered as versions are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    pub major: u16,
    pub minor: u16,
}

impl Version {
    pub const fn new(major: u16, minor: u16) -> Version {
        Version { major, minor }
    }

    /// `2.47` → Version(2, 47); anything else is None.
    pub fn parse(s: &str) -> Option<Version> {
        let (major, minor) = s.trim().split_once('.')?;
        let ok = |p: &str| !p.is_empty() && p.len() <= 4 && p.bytes().all(|b| b.is_ascii_digit());
        if !ok(major) || !ok(minor) || (minor.len() > 1 && minor.starts_with('0')) {
            return None;
        }
        Some(Version { major: major.parse().ok()?, minor: minor.parse().ok()? })
    }

    /// `self >= X.Y`, the test handlers use for version-dependent behaviour.
    pub fn at_least(self, major: u16, minor: u16) -> bool {
        self >= Version::new(major, minor)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// What one API offers.
#[derive(Debug, Clone, Copy)]
pub struct Versions {
    /// The service type in `OpenStack-API-Version` (`compute`, `placement`, `volume`).
    pub service_type: &'static str,
    /// An older header also honoured, and answered (`X-OpenStack-Nova-API-Version`).
    pub legacy_header: Option<&'static str>,
    pub min: Version,
    pub max: Version,
}

impl Versions {
    /// The version a request asked for, given its headers.
    pub fn negotiate(&self, headers: &HeaderMap) -> Result<Version, ApiError> {
        let asked = self.requested(headers)?;
        let version = match asked.as_deref() {
            None => return Ok(self.min),
            Some(s) if s.trim().eq_ignore_ascii_case("latest") => return Ok(self.max),
            Some(s) => Version::parse(s).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "Invalid API version request: '{}'. Versions look like {}.{}, or 'latest'.",
                    s.trim(),
                    self.min.major,
                    self.min.minor
                ))
            })?,
        };
        if version < self.min || version > self.max {
            return Err(ApiError::new(
                StatusCode::NOT_ACCEPTABLE,
                format!(
                    "Version {version} is not supported by the API. Minimum is {} and maximum is {}.",
                    self.min, self.max
                ),
            ));
        }
        Ok(version)
    }

    /// The version string asked for, if any: `OpenStack-API-Version` naming this service wins
    /// over the legacy header.
    fn requested(&self, headers: &HeaderMap) -> Result<Option<String>, ApiError> {
        for value in headers.get_all("openstack-api-version") {
            let Ok(value) = value.to_str() else { continue };
            // Several services may be named, comma-separated: "compute 2.60, volume 3.0".
            for part in value.split(',') {
                let mut words = part.split_whitespace();
                if words.next().is_some_and(|s| s.eq_ignore_ascii_case(self.service_type)) {
                    return Ok(Some(words.collect::<Vec<_>>().join(" ")));
                }
            }
        }
        if let Some(legacy) = self.legacy_header {
            if let Some(v) = headers.get(legacy) {
                let v = v.to_str().map_err(|_| ApiError::bad_request("Invalid API version header"))?;
                return Ok(Some(v.to_string()));
            }
        }
        Ok(None)
    }

    /// The headers every versioned answer carries.
    pub fn answer_headers(&self, version: Version, headers: &mut HeaderMap) {
        let value = HeaderValue::from_str(&format!("{} {version}", self.service_type)).expect("ascii");
        headers.insert("openstack-api-version", value);
        let mut vary = String::from("OpenStack-API-Version");
        if let Some(legacy) = self.legacy_header {
            headers.insert(legacy, HeaderValue::from_str(&version.to_string()).expect("ascii"));
            vary.push_str(", ");
            vary.push_str(&legacy_display(legacy));
        }
        headers.insert(axum::http::header::VARY, HeaderValue::from_str(&vary).expect("ascii"));
    }
}

fn legacy_display(name: &str) -> String {
    name.split('-')
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
        .replace("Openstack", "OpenStack")
        .replace("Api", "API")
}

/// Middleware: negotiate, remember the version for the handlers, answer with the headers.
/// Use as `axum::middleware::from_fn_with_state(VERSIONS, microversion::layer)`.
pub async fn layer(
    axum::extract::State(versions): axum::extract::State<Versions>,
    mut req: Request,
    next: Next,
) -> Response {
    let version = match versions.negotiate(req.headers()) {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    req.extensions_mut().insert(version);
    let mut resp = next.run(req).await;
    versions.answer_headers(version, resp.headers_mut());
    resp
}

impl<S: Send + Sync> FromRequestParts<S> for Version {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Version>()
            .copied()
            .ok_or_else(|| ApiError::internal("no microversion layer on this router"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOVA: Versions = Versions {
        service_type: "compute",
        legacy_header: Some("x-openstack-nova-api-version"),
        min: Version::new(2, 1),
        max: Version::new(2, 60),
    };

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn parses_and_orders() {
        assert_eq!(Version::parse("2.47"), Some(Version::new(2, 47)));
        assert!(Version::new(2, 10) > Version::new(2, 9));
        for bad in ["2", "2.", ".1", "2.x", "2.01", "two.one", "2.1.1"] {
            assert_eq!(Version::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn negotiates() {
        assert_eq!(NOVA.negotiate(&headers(&[])).unwrap(), Version::new(2, 1));
        let h = headers(&[("openstack-api-version", "compute latest")]);
        assert_eq!(NOVA.negotiate(&h).unwrap(), Version::new(2, 60));
        let h = headers(&[("openstack-api-version", "volume 3.0, compute 2.37")]);
        assert_eq!(NOVA.negotiate(&h).unwrap(), Version::new(2, 37));
        let h = headers(&[("x-openstack-nova-api-version", "2.20")]);
        assert_eq!(NOVA.negotiate(&h).unwrap(), Version::new(2, 20));
        let h = headers(&[("openstack-api-version", "compute 2.61")]);
        assert_eq!(NOVA.negotiate(&h).unwrap_err().status, StatusCode::NOT_ACCEPTABLE);
        let h = headers(&[("openstack-api-version", "compute 2.x")]);
        assert_eq!(NOVA.negotiate(&h).unwrap_err().status, StatusCode::BAD_REQUEST);
        // Another service's version is not ours.
        let h = headers(&[("openstack-api-version", "placement 1.30")]);
        assert_eq!(NOVA.negotiate(&h).unwrap(), Version::new(2, 1));
    }

    #[test]
    fn answers() {
        let mut h = HeaderMap::new();
        NOVA.answer_headers(Version::new(2, 5), &mut h);
        assert_eq!(h["openstack-api-version"], "compute 2.5");
        assert_eq!(h["x-openstack-nova-api-version"], "2.5");
        assert_eq!(h["vary"], "OpenStack-API-Version, X-OpenStack-Nova-API-Version");
    }
}
