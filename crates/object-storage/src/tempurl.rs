//! TempURLs: `?temp_url_sig=…&temp_url_expires=…` signed with an account's (or container's)
//! `Temp-URL-Key` give anonymous access to one object (or a prefix) for one method until
//! the expiry.
//!
//! The signature is an HMAC of `"{METHOD}\n{expires}\n{path}"`, where `path` is the decoded
//! object path `/v1/<account>/<container>/<object>`, or `prefix:/v1/<account>/<container>/<prefix>`
//! for a URL with `temp_url_prefix`. It is given as lower-case hex (SHA-1: 40 digits,
//! SHA-256: 64, SHA-512: 128) or as `<digest>:<base64>` (URL-safe or standard alphabet,
//! padding optional). The keys are `X-Account-Meta-Temp-URL-Key(-2)` and
//! `X-Container-Meta-Temp-URL-Key(-2)`; any of them may have signed. `temp_url_expires` is
//! unix seconds or `YYYY-MM-DDTHH:MM:SSZ`; the signature always covers the unix seconds.
//! A HEAD may use a URL signed for HEAD, GET, POST or PUT.
//!
//! Answers to a GET/HEAD through a TempURL carry a `Content-Disposition` (`filename`,
//! `inline` in the query, else the object's own, else an attachment named after the object)
//! and lose the `X-Object-Meta-*` headers except `X-Object-Meta-Public-*`.

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use base64::Engine;
use hmac::{Hmac, Mac};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use subtle::ConstantTimeEq;

use crate::access::Caller;
use crate::api::{Req, Service};
use crate::error::{bad_request, SwiftError, SwiftResult};
use crate::timestamp::unix_now;

/// Methods a TempURL may be signed for (as `/info` announces).
const METHODS: &[&str] = &["GET", "HEAD", "PUT", "POST", "DELETE"];

/// Methods whose signature also admits a HEAD of the same URL.
const HEAD_ALSO_FOR: &[&str] = &["HEAD", "GET", "POST", "PUT"];

const ACCOUNT_KEYS: &[&str] = &["x-account-meta-temp-url-key", "x-account-meta-temp-url-key-2"];
const CONTAINER_KEYS: &[&str] = &["x-container-meta-temp-url-key", "x-container-meta-temp-url-key-2"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Digest {
    Sha1,
    Sha256,
    Sha512,
}

impl Digest {
    fn named(name: &str) -> Option<Digest> {
        match name {
            "sha1" => Some(Digest::Sha1),
            "sha256" => Some(Digest::Sha256),
            "sha512" => Some(Digest::Sha512),
            _ => None,
        }
    }

    fn output_len(self) -> usize {
        match self {
            Digest::Sha1 => 20,
            Digest::Sha256 => 32,
            Digest::Sha512 => 64,
        }
    }

    fn hmac(self, key: &[u8], message: &[u8]) -> Vec<u8> {
        fn run<M: Mac + hmac::digest::KeyInit>(key: &[u8], message: &[u8]) -> Vec<u8> {
            let mut mac = <M as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
            mac.update(message);
            mac.finalize().into_bytes().to_vec()
        }
        match self {
            Digest::Sha1 => run::<Hmac<sha1::Sha1>>(key, message),
            Digest::Sha256 => run::<Hmac<sha2::Sha256>>(key, message),
            Digest::Sha512 => run::<Hmac<sha2::Sha512>>(key, message),
        }
    }
}

fn invalid() -> SwiftError {
    SwiftError::new(StatusCode::UNAUTHORIZED, "Temp URL invalid")
}

fn expired() -> SwiftError {
    SwiftError::new(StatusCode::UNAUTHORIZED, "Temp URL expired")
}

/// A `temp_url_sig` value → its digest and raw bytes.
fn parse_signature(sig: &str) -> Option<(Digest, Vec<u8>)> {
    let (digest, bytes) = match sig.split_once(':') {
        Some((name, encoded)) => {
            let digest = Digest::named(name)?;
            let standard: String = encoded
                .trim_end_matches('=')
                .chars()
                .map(|c| match c {
                    '-' => '+',
                    '_' => '/',
                    c => c,
                })
                .collect();
            (digest, base64::engine::general_purpose::STANDARD_NO_PAD.decode(standard).ok()?)
        }
        None => {
            let digest = match sig.len() {
                40 => Digest::Sha1,
                64 => Digest::Sha256,
                128 => Digest::Sha512,
                _ => return None,
            };
            (digest, decode_hex(sig)?)
        }
    };
    (bytes.len() == digest.output_len()).then_some((digest, bytes))
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

/// `temp_url_expires` → unix seconds: an integer, or ISO 8601 `YYYY-MM-DDTHH:MM:SSZ`.
fn parse_expires(value: &str) -> Option<i64> {
    if let Ok(secs) = value.parse::<i64>() {
        return Some(secs);
    }
    chrono::NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%SZ").ok().map(|t| t.and_utc().timestamp())
}

/// The keys that may have signed a URL into `account/container`.
/// The keys that may sign for `container`, each with whether it is an account key.
async fn keys(service: &Service, account: &str, container: &str) -> SwiftResult<Vec<(String, bool)>> {
    let mut keys = Vec::new();
    let account_meta = service.listings.account_metadata(account).await?;
    keys.extend(ACCOUNT_KEYS.iter().filter_map(|k| account_meta.get(*k)).map(|k| (k.clone(), true)));
    if let Some(info) = service.listings.container(account, container).await? {
        keys.extend(CONTAINER_KEYS.iter().filter_map(|k| info.metadata.get(*k)).map(|k| (k.clone(), false)));
    }
    keys.retain(|(k, _)| !k.is_empty());
    Ok(keys)
}

/// Refuses what a TempURL must not do even when its signature is good: make a manifest that
/// points at other objects, or copy another object into the signed name.
fn check_disallowed(req: &Req) -> SwiftResult<()> {
    if matches!(req.method, Method::PUT | Method::POST) {
        for header in ["x-object-manifest", "x-symlink-target", "x-copy-from"] {
            if req.headers.contains_key(header) {
                return Err(bad_request(format!("The {header} header is not allowed with a TempURL.")));
            }
        }
    }
    if matches!(req.query("multipart-manifest"), Some("put" | "delete")) {
        return Err(bad_request("multipart-manifest is not allowed with a TempURL."));
    }
    Ok(())
}

/// The caller a valid TempURL makes of an anonymous request; `None` without a signature.
pub async fn caller(service: &Service, req: &Req) -> SwiftResult<Option<Caller>> {
    // Preflights pass through: browsers send them without the URL's query.
    if req.method == Method::OPTIONS {
        return Ok(None);
    }
    let sig = req.query("temp_url_sig");
    let expires = req.query("temp_url_expires");
    if sig.is_none() && expires.is_none() {
        return Ok(None);
    }
    let (Some(sig), Some(expires)) = (sig, expires) else { return Err(invalid()) };
    let (Some(container), Some(object)) = (req.container.as_deref(), req.object.as_deref()) else {
        return Err(invalid());
    };
    let method = req.method.as_str();
    if !METHODS.contains(&method) {
        return Err(invalid());
    }
    // Signatures bound to a client address cannot be checked here: the request carries none.
    if req.query.contains_key("temp_url_ip_range") {
        return Err(invalid());
    }
    let expires = parse_expires(expires).ok_or_else(invalid)?;
    if expires <= 0 {
        return Err(invalid());
    }
    if expires < unix_now() as i64 {
        return Err(expired());
    }
    let (digest, given) = parse_signature(sig).ok_or_else(invalid)?;

    let prefix = req.query("temp_url_prefix");
    let path = match prefix {
        None => format!("/v1/{}/{container}/{object}", req.account),
        Some(p) if object.starts_with(p) => format!("prefix:/v1/{}/{container}/{p}", req.account),
        Some(_) => return Err(invalid()),
    };
    let keys = keys(service, &req.account, container).await?;
    let methods: &[&str] = if method == "HEAD" { HEAD_ALSO_FOR } else { std::slice::from_ref(&method) };
    let mut valid = false;
    let mut account_key = false;
    for (key, is_account_key) in keys {
        for m in methods {
            let expected = digest.hmac(key.as_bytes(), format!("{m}\n{expires}\n{path}").as_bytes());
            // Every candidate is computed and compared: no early exit on a match.
            let matched = bool::from(expected.ct_eq(&given));
            valid |= matched;
            account_key |= matched && is_account_key;
        }
    }
    if !valid {
        return Err(invalid());
    }
    check_disallowed(req)?;
    Ok(Some(Caller::TempUrl {
        account: req.account.clone(),
        container: container.to_string(),
        object: prefix.unwrap_or(object).to_string(),
        prefix: prefix.is_some(),
        account_key,
    }))
}

/// Percent-encoding as Python's `quote`: letters, digits and `_.-~` stay, `/` too.
const QUOTE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'_').remove(b'.').remove(b'-').remove(b'~').remove(b'/');
/// The same, keeping spaces as well (for the quoted `filename="…"` form).
const QUOTE_KEEP_SPACE: &AsciiSet = &QUOTE.remove(b' ');
/// Everything but the unreserved characters (for RFC 5987's `filename*`).
const QUOTE_ALL: &AsciiSet = &QUOTE.add(b'/');

/// `attachment; filename="…"; filename*=UTF-8''…` (RFC 6266 with RFC 5987 for non-ASCII).
fn disposition(kind: &str, filename: &str) -> String {
    format!(
        "{kind}; filename=\"{}\"; filename*=UTF-8''{}",
        utf8_percent_encode(filename, QUOTE_KEEP_SPACE),
        utf8_percent_encode(filename, QUOTE_ALL)
    )
}

/// Headers of an answer to a TempURL request (`filename`, `inline`, hidden metadata).
pub fn outgoing(req: &Req, headers: &mut HeaderMap) {
    if !matches!(req.caller, Caller::TempUrl { .. }) {
        return;
    }
    let hidden: Vec<_> = headers
        .keys()
        .filter(|k| {
            let k = k.as_str();
            k.starts_with("x-object-meta-") && !k.starts_with("x-object-meta-public-")
        })
        .cloned()
        .collect();
    for name in hidden {
        headers.remove(name);
    }
    if !matches!(req.method, Method::GET | Method::HEAD) {
        return;
    }
    let filename = req.query("filename").filter(|f| !f.is_empty());
    let value = if req.query.contains_key("inline") {
        match filename {
            Some(name) => disposition("inline", name),
            None => "inline".to_string(),
        }
    } else if let Some(name) = filename {
        disposition("attachment", name)
    } else if let Some(own) = headers.get("content-disposition") {
        own.to_str().unwrap_or("attachment").to_string()
    } else {
        let object = req.object.as_deref().unwrap_or("");
        let base = object.trim_end_matches('/').rsplit('/').next().unwrap_or("");
        disposition("attachment", base)
    };
    if let Ok(v) = HeaderValue::from_str(&value) {
        headers.insert("content-disposition", v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_in_every_form() {
        let mac = Digest::Sha512.hmac(b"k", b"GET\n1\n/v1/a/c/o");
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(parse_signature(&hex), Some((Digest::Sha512, mac.clone())));
        let url_safe = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&mac);
        assert_eq!(parse_signature(&format!("sha512:{url_safe}")), Some((Digest::Sha512, mac.clone())));
        let padded = base64::engine::general_purpose::STANDARD.encode(&mac);
        assert_eq!(parse_signature(&format!("sha512:{padded}")), Some((Digest::Sha512, mac)));
        let sha1 = Digest::Sha1.hmac(b"k", b"x");
        assert_eq!(
            parse_signature(&format!("sha256:{}", base64::engine::general_purpose::STANDARD.encode(&sha1))),
            None
        );
        assert_eq!(parse_signature("md5:AAAA"), None);
        assert_eq!(parse_signature(&"z".repeat(40)), None);
        assert_eq!(parse_signature("abc"), None);
    }

    #[test]
    fn expiry_forms() {
        assert_eq!(parse_expires("1700000000"), Some(1_700_000_000));
        assert_eq!(parse_expires("2024-01-01T00:00:00Z"), Some(1_704_067_200));
        assert_eq!(parse_expires("2024-01-01 00:00:00"), None);
        assert_eq!(parse_expires("soon"), None);
    }

    #[test]
    fn dispositions_are_quoted() {
        assert_eq!(
            disposition("attachment", "a b.txt"),
            "attachment; filename=\"a b.txt\"; filename*=UTF-8''a%20b.txt"
        );
        assert_eq!(
            disposition("inline", "\"é\"\n"),
            "inline; filename=\"%22%C3%A9%22%0A\"; filename*=UTF-8''%22%C3%A9%22%0A"
        );
    }
}
