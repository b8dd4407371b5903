//! Token payloads in keystone's msgpack layout.
//!
//! A keystone Fernet token encrypts a msgpack array `[version, field, ...]`. The versions and
//! field orders this module reads and writes (keystone `token/token_formatters.py`):
//!
//! | version | meaning                | fields after the version                                    |
//! |---------|------------------------|-------------------------------------------------------------|
//! | 0       | unscoped               | user, methods, expires_at, audit_ids                        |
//! | 1       | domain-scoped          | user, methods, domain, expires_at, audit_ids                |
//! | 2       | project-scoped         | user, methods, project, expires_at, audit_ids               |
//! | 8       | system-scoped          | user, methods, system, expires_at, audit_ids                |
//! | 9       | application credential | user, methods, project, expires_at, audit_ids, app_cred     |
//!
//! Versions 3 (trust), 4-6 (federated), 7 (OAuth1) and 10 (OAuth2 mTLS, certificate-bound) are
//! recognised and rejected with [`TokenError::Unsupported`].
//!
//! Field encodings:
//! - user, project and application credential ids are a pair `[is_uuid, value]`: a 32-character
//!   lowercase hex id travels as `[true, <16 raw bytes>]`, anything else as `[false, "<str>"]`.
//! - a domain id is bare: a hex UUID as its 16 raw bytes, any other id (keystone only allows its
//!   configured default domain id there) as a msgpack string.
//! - methods is an integer bitmask, bit `i` standing for the `i`-th entry of keystone's
//!   `[auth] methods` list (see [`PayloadConfig::auth_methods`]).
//! - expires_at is a float64 of Unix seconds.
//! - audit ids are raw bytes (16 in practice) and are shown as unpadded urlsafe base64.
//!
//! Text is written as msgpack `str` and raw bytes as msgpack `bin`, which is what keystone's
//! msgpack (>= 1.0, `use_bin_type=True`) produces; the encoding below is byte-for-byte the one
//! keystone produces for the same values. When reading, `str` and `bin` are accepted in either
//! place, as tokens from msgpack < 1.0 carried raw bytes in `str`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use rmpv::Value;

use super::TokenError;

/// Payload version of an unscoped token.
pub const VERSION_UNSCOPED: u64 = 0;
/// Payload version of a domain-scoped token.
pub const VERSION_DOMAIN_SCOPED: u64 = 1;
/// Payload version of a project-scoped token.
pub const VERSION_PROJECT_SCOPED: u64 = 2;
/// Payload version of a system-scoped token.
pub const VERSION_SYSTEM_SCOPED: u64 = 8;
/// Payload version of an application-credential token.
pub const VERSION_APPLICATION_CREDENTIAL: u64 = 9;

/// Keystone's default `[auth] methods`, in bit order: external=1, password=2, token=4,
/// oauth1=8, mapped=16, application_credential=32, ec2credential=64.
///
/// `ec2credential` (the marker of tokens minted by `/v3/ec2tokens` and `/v3/s3tokens`) joined
/// the default list in keystone 30.0.0; earlier releases have the first six and never set
/// bit 64, so this list reads the tokens of both.
pub const DEFAULT_AUTH_METHODS: [&str; 7] =
    ["external", "password", "token", "oauth1", "mapped", "application_credential", "ec2credential"];

/// Keystone's default `[identity] default_domain_id`.
pub const DEFAULT_DOMAIN_ID: &str = "default";

/// What a token is scoped to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    Unscoped,
    Project(String),
    Domain(String),
    /// System scope; keystone only ever issues `System("all")`.
    System(String),
}

/// The decoded content of a token (everything but its issue time).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenPayload {
    pub user_id: String,
    /// Authentication method names. Decoding yields them in keystone's order: highest bit first.
    pub methods: Vec<String>,
    pub scope: Scope,
    /// Keystone's own tokens expire on a whole second; other values keep microsecond precision.
    pub expires_at: DateTime<Utc>,
    /// The token's own audit id first, then (for a rescoped token) the audit id of the token
    /// that started the chain.
    pub audit_ids: Vec<String>,
    /// Set for application-credential tokens, which are always project-scoped.
    pub app_cred_id: Option<String>,
}

impl TokenPayload {
    /// The token's own audit id (what `revoke_by_audit_id` targets).
    pub fn audit_id(&self) -> Option<&str> {
        self.audit_ids.first().map(String::as_str)
    }

    /// The audit id of the first token of the rescope chain: the parent's id for a rescoped
    /// token, the token's own id otherwise.
    pub fn audit_chain_id(&self) -> Option<&str> {
        self.audit_ids.last().map(String::as_str)
    }

    pub fn project_id(&self) -> Option<&str> {
        match &self.scope {
            Scope::Project(id) => Some(id),
            _ => None,
        }
    }

    pub fn domain_id(&self) -> Option<&str> {
        match &self.scope {
            Scope::Domain(id) => Some(id),
            _ => None,
        }
    }

    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at <= now
    }

    /// The keystone payload version this payload is written as.
    pub fn version(&self) -> u64 {
        match (&self.scope, &self.app_cred_id) {
            (_, Some(_)) => VERSION_APPLICATION_CREDENTIAL,
            (Scope::Unscoped, None) => VERSION_UNSCOPED,
            (Scope::Domain(_), None) => VERSION_DOMAIN_SCOPED,
            (Scope::Project(_), None) => VERSION_PROJECT_SCOPED,
            (Scope::System(_), None) => VERSION_SYSTEM_SCOPED,
        }
    }
}

/// The deployment settings that shape a payload; both must equal keystone's for interop.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PayloadConfig {
    /// Keystone's `[auth] methods`: the position of a name is its bit in the methods mask.
    pub auth_methods: Vec<String>,
    /// Keystone's `[identity] default_domain_id`: the only non-UUID domain id keystone accepts
    /// in a domain-scoped token.
    pub default_domain_id: String,
}

impl Default for PayloadConfig {
    fn default() -> Self {
        Self {
            auth_methods: DEFAULT_AUTH_METHODS.iter().map(|m| m.to_string()).collect(),
            default_domain_id: DEFAULT_DOMAIN_ID.to_string(),
        }
    }
}

impl PayloadConfig {
    /// The methods bitmask. Every name must be in `auth_methods`; duplicates count once.
    pub fn methods_to_bits(&self, methods: &[String]) -> Result<u64, TokenError> {
        let mut bits = 0u64;
        for method in methods {
            let index = self.auth_methods.iter().position(|m| m == method).ok_or_else(|| {
                TokenError::InvalidPayload(format!(
                    "authentication method {method:?} is not in the configured method list"
                ))
            })?;
            if index >= 64 {
                return Err(TokenError::InvalidPayload(format!(
                    "authentication method {method:?} is past the 64th entry of the method list"
                )));
            }
            bits |= 1 << index;
        }
        Ok(bits)
    }

    /// The method names set in `bits`, highest bit first (keystone's order). Bits with no
    /// configured method are ignored.
    pub fn bits_to_methods(&self, bits: u64) -> Vec<String> {
        self.auth_methods
            .iter()
            .enumerate()
            .take(64)
            .rev()
            .filter(|(i, _)| bits & (1 << i) != 0)
            .map(|(_, m)| m.clone())
            .collect()
    }
}

/// Serialize a payload exactly as keystone's formatter does.
pub fn encode(payload: &TokenPayload, config: &PayloadConfig) -> Result<Vec<u8>, TokenError> {
    let version = payload.version();
    let mut fields = Vec::with_capacity(7);
    fields.push(Value::from(version));
    fields.push(pack_id(&payload.user_id));
    fields.push(Value::from(config.methods_to_bits(&payload.methods)?));
    let expires_at = Value::F64(datetime_to_float(payload.expires_at));
    let audit_ids = Value::Array(
        payload
            .audit_ids
            .iter()
            .map(|id| audit_id_to_bytes(id).map(Value::Binary))
            .collect::<Result<_, _>>()?,
    );
    match (&payload.scope, &payload.app_cred_id) {
        (Scope::Project(project_id), Some(app_cred_id)) => {
            fields.push(pack_id(project_id));
            fields.push(expires_at);
            fields.push(audit_ids);
            fields.push(pack_id(app_cred_id));
        }
        (_, Some(_)) => {
            return Err(TokenError::InvalidPayload(
                "an application credential token must be project-scoped".into(),
            ))
        }
        (Scope::Unscoped, None) => {
            fields.push(expires_at);
            fields.push(audit_ids);
        }
        (Scope::Domain(domain_id), None) => {
            fields.push(pack_domain_id(domain_id, config)?);
            fields.push(expires_at);
            fields.push(audit_ids);
        }
        (Scope::Project(project_id), None) => {
            fields.push(pack_id(project_id));
            fields.push(expires_at);
            fields.push(audit_ids);
        }
        (Scope::System(system), None) => {
            fields.push(Value::from(system.as_str()));
            fields.push(expires_at);
            fields.push(audit_ids);
        }
    }
    let mut out = Vec::with_capacity(128);
    rmpv::encode::write_value(&mut out, &Value::Array(fields))
        .map_err(|e| TokenError::InvalidPayload(format!("msgpack encoding failed: {e}")))?;
    Ok(out)
}

/// Parse a decrypted payload.
pub fn decode(bytes: &[u8], config: &PayloadConfig) -> Result<TokenPayload, TokenError> {
    let mut reader = bytes;
    let value = rmpv::decode::read_value_with_max_depth(&mut reader, 32)
        .map_err(|e| malformed(format!("not msgpack: {e}")))?;
    if !reader.is_empty() {
        return Err(malformed("trailing bytes after the payload"));
    }
    let Value::Array(items) = value else {
        return Err(malformed("the payload is not an array"));
    };
    let (version, fields) = items.split_first().ok_or_else(|| malformed("the payload is empty"))?;
    let version = version.as_u64().ok_or_else(|| malformed("the payload version is not an integer"))?;

    let expect = |n: usize| {
        if fields.len() == n {
            Ok(())
        } else {
            Err(malformed(format!("payload version {version} has {} fields, expected {n}", fields.len())))
        }
    };
    let (scope, expires, audit, app_cred) = match version {
        VERSION_UNSCOPED => {
            expect(4)?;
            (Scope::Unscoped, &fields[2], &fields[3], None)
        }
        VERSION_DOMAIN_SCOPED => {
            expect(5)?;
            let domain_id = unpack_domain_id(&fields[2])?;
            (Scope::Domain(domain_id), &fields[3], &fields[4], None)
        }
        VERSION_PROJECT_SCOPED => {
            expect(5)?;
            let project_id = unpack_id(&fields[2], "project id")?;
            (Scope::Project(project_id), &fields[3], &fields[4], None)
        }
        VERSION_SYSTEM_SCOPED => {
            expect(5)?;
            let system =
                value_to_text(&fields[2]).ok_or_else(|| malformed("the system scope is not text"))?;
            (Scope::System(system), &fields[3], &fields[4], None)
        }
        VERSION_APPLICATION_CREDENTIAL => {
            expect(6)?;
            let project_id = unpack_id(&fields[2], "project id")?;
            let app_cred_id = unpack_id(&fields[5], "application credential id")?;
            (Scope::Project(project_id), &fields[3], &fields[4], Some(app_cred_id))
        }
        other => return Err(TokenError::Unsupported { version: other, kind: unsupported_kind(other) }),
    };

    let user_id = unpack_id(&fields[0], "user id")?;
    let method_bits =
        fields[1].as_u64().ok_or_else(|| malformed("the methods field is not an unsigned integer"))?;
    let expires_at = expires
        .as_f64()
        .and_then(float_to_datetime)
        .ok_or_else(|| malformed("expires_at is not a representable timestamp"))?;
    let audit_ids = audit
        .as_array()
        .ok_or_else(|| malformed("the audit ids are not an array"))?
        .iter()
        .map(|v| {
            value_to_bytes(v)
                .map(|b| URL_SAFE_NO_PAD.encode(b))
                .ok_or_else(|| malformed("an audit id is not bytes"))
        })
        .collect::<Result<Vec<_>, _>>()?;

    Ok(TokenPayload {
        user_id,
        methods: config.bits_to_methods(method_bits),
        scope,
        expires_at,
        audit_ids,
        app_cred_id: app_cred,
    })
}

fn unsupported_kind(version: u64) -> &'static str {
    match version {
        3 => "trust-scoped",
        4 => "federated unscoped",
        5 => "federated project-scoped",
        6 => "federated domain-scoped",
        7 => "OAuth1-scoped",
        10 => "OAuth2 mTLS certificate-bound",
        _ => "unknown",
    }
}

fn malformed(reason: impl Into<String>) -> TokenError {
    TokenError::Malformed(reason.into())
}

/// Whether `id` is a UUID in keystone's canonical form (`uuid4().hex`).
pub(crate) fn is_uuid_hex(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn uuid_hex_to_bytes(id: &str) -> Option<Vec<u8>> {
    if !is_uuid_hex(id) {
        return None;
    }
    uuid::Uuid::try_parse(id).ok().map(|u| u.as_bytes().to_vec())
}

fn uuid_bytes_to_hex(bytes: &[u8]) -> Option<String> {
    uuid::Uuid::from_slice(bytes).ok().map(|u| u.simple().to_string())
}

/// `[true, <16 bytes>]` for a hex UUID, `[false, "<id>"]` otherwise.
fn pack_id(id: &str) -> Value {
    match uuid_hex_to_bytes(id) {
        Some(bytes) => Value::Array(vec![Value::Boolean(true), Value::Binary(bytes)]),
        None => Value::Array(vec![Value::Boolean(false), Value::from(id)]),
    }
}

fn pack_domain_id(id: &str, config: &PayloadConfig) -> Result<Value, TokenError> {
    if let Some(bytes) = uuid_hex_to_bytes(id) {
        return Ok(Value::Binary(bytes));
    }
    if id != config.default_domain_id {
        return Err(TokenError::InvalidPayload(format!(
            "domain id {id:?} is neither a hex UUID nor the default domain id, \
             keystone cannot represent it in a domain-scoped token"
        )));
    }
    Ok(Value::from(id))
}

fn unpack_id(value: &Value, what: &str) -> Result<String, TokenError> {
    let pair = match value.as_array() {
        Some(pair) if pair.len() == 2 => pair,
        _ => return Err(malformed(format!("the {what} is not an [is_uuid, value] pair"))),
    };
    match pair[0] {
        Value::Boolean(true) => value_to_bytes(&pair[1])
            .and_then(uuid_bytes_to_hex)
            .ok_or_else(|| malformed(format!("the {what} is not 16 UUID bytes"))),
        Value::Boolean(false) => {
            value_to_text(&pair[1]).ok_or_else(|| malformed(format!("the {what} is not text")))
        }
        _ => Err(malformed(format!("the {what} has no is_uuid flag"))),
    }
}

fn unpack_domain_id(value: &Value) -> Result<String, TokenError> {
    match value {
        Value::Binary(bytes) if bytes.len() == 16 => uuid_bytes_to_hex(bytes),
        // msgpack < 1.0 wrote raw bytes as `str`; such a string is not UTF-8 in practice.
        Value::String(s) if !s.is_str() && s.as_bytes().len() == 16 => uuid_bytes_to_hex(s.as_bytes()),
        other => value_to_text(other),
    }
    .ok_or_else(|| malformed("the domain id is neither UUID bytes nor text"))
}

/// Raw bytes from either `bin` or `str` (legacy raw) values.
fn value_to_bytes(value: &Value) -> Option<&[u8]> {
    match value {
        Value::Binary(bytes) => Some(bytes),
        Value::String(s) => Some(s.as_bytes()),
        _ => None,
    }
}

/// Text from a UTF-8 `str` or `bin` value.
fn value_to_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => s.as_str().map(str::to_owned),
        Value::Binary(bytes) => std::str::from_utf8(bytes).ok().map(str::to_owned),
        _ => None,
    }
}

fn audit_id_to_bytes(id: &str) -> Result<Vec<u8>, TokenError> {
    URL_SAFE_NO_PAD
        .decode(id.trim_end_matches('='))
        .ok()
        .filter(|bytes| !bytes.is_empty())
        .ok_or_else(|| TokenError::InvalidPayload(format!("audit id {id:?} is not urlsafe base64")))
}

/// Unix seconds as keystone computes them: `timedelta.total_seconds()`, i.e. the exact
/// quotient of whole microseconds by 10^6, rounded once to a float64.
pub(crate) fn datetime_to_float(at: DateTime<Utc>) -> f64 {
    let micros = at.timestamp() as i128 * 1_000_000 + i128::from(at.timestamp_subsec_micros());
    micros as f64 / 1_000_000.0
}

/// The inverse, with Python's `datetime.fromtimestamp` rounding (half to even, to the
/// microsecond).
pub(crate) fn float_to_datetime(seconds: f64) -> Option<DateTime<Utc>> {
    if !seconds.is_finite() || seconds.abs() > 1e15 {
        return None;
    }
    let whole = seconds.trunc();
    let mut micros = ((seconds - whole) * 1e6).round_ties_even() as i64;
    let mut secs = whole as i64;
    if micros >= 1_000_000 {
        secs += 1;
        micros -= 1_000_000;
    } else if micros < 0 {
        secs -= 1;
        micros += 1_000_000;
    }
    DateTime::from_timestamp(secs, (micros * 1000) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn payload(scope: Scope) -> TokenPayload {
        TokenPayload {
            user_id: "6c7c4ba36c8e4ac9a5b4ab8c0e7d4f02".into(),
            methods: vec!["password".into()],
            scope,
            expires_at: Utc.with_ymd_and_hms(2030, 1, 2, 3, 4, 5).unwrap(),
            audit_ids: vec!["pxJ9rYsnQ6i3B6gBqLHqaA".into()],
            app_cred_id: None,
        }
    }

    #[test]
    fn project_payload_bytes_match_keystone_layout() {
        let p = payload(Scope::Project("default".into()));
        let bytes = encode(&p, &PayloadConfig::default()).unwrap();
        // [2, [true, bin16], 2, [false, "default"], f64, [bin16]]
        assert_eq!(bytes[0], 0x96); // fixarray of 6
        assert_eq!(bytes[1], 0x02); // version 2
        assert_eq!(&bytes[2..5], &[0x92, 0xc3, 0xc4]); // [true, bin8 ...
        assert_eq!(bytes[5], 16);
        assert_eq!(bytes[22], 0x02); // methods: password
        assert_eq!(&bytes[23..26], &[0x92, 0xc2, 0xa7]); // [false, fixstr(7)
        assert_eq!(&bytes[26..33], b"default");
        assert_eq!(bytes[33], 0xcb); // float64
        assert_eq!(&bytes[42..45], &[0x91, 0xc4, 16]); // [bin8(16)]
        assert_eq!(bytes.len(), 45 + 16);
        assert_eq!(decode(&bytes, &PayloadConfig::default()).unwrap(), p);
    }

    #[test]
    fn domain_id_packing() {
        let config = PayloadConfig::default();
        let uuid_domain = "0123456789abcdef0123456789abcdef";
        let bytes = encode(&payload(Scope::Domain(uuid_domain.into())), &config).unwrap();
        // The domain id is bare bin8(16) right after the methods integer.
        assert_eq!(&bytes[23..25], &[0xc4, 16]);
        assert_eq!(decode(&bytes, &config).unwrap().scope, Scope::Domain(uuid_domain.into()));

        let bytes = encode(&payload(Scope::Domain("default".into())), &config).unwrap();
        assert_eq!(bytes[23], 0xa7);
        assert_eq!(decode(&bytes, &config).unwrap().scope, Scope::Domain("default".into()));

        let err = encode(&payload(Scope::Domain("my-domain".into())), &config).unwrap_err();
        assert!(matches!(err, TokenError::InvalidPayload(_)), "{err}");
    }

    #[test]
    fn ids_that_are_not_canonical_uuids_travel_as_text() {
        let config = PayloadConfig::default();
        for id in [
            "default",
            "0123456789ABCDEF0123456789ABCDEF",
            "01234567-89ab-cdef-0123-456789abcdef",
            "0123456789abcdef0123456789abcde",
            "",
        ] {
            let mut p = payload(Scope::Project(id.into()));
            p.user_id = id.into();
            let decoded = decode(&encode(&p, &config).unwrap(), &config).unwrap();
            assert_eq!(decoded, p, "id {id:?}");
        }
    }

    #[test]
    fn methods_bitmask() {
        let config = PayloadConfig::default();
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(config.methods_to_bits(&names(&["external"])).unwrap(), 1);
        assert_eq!(config.methods_to_bits(&names(&["password"])).unwrap(), 2);
        assert_eq!(config.methods_to_bits(&names(&["token"])).unwrap(), 4);
        assert_eq!(config.methods_to_bits(&names(&["oauth1"])).unwrap(), 8);
        assert_eq!(config.methods_to_bits(&names(&["mapped"])).unwrap(), 16);
        assert_eq!(config.methods_to_bits(&names(&["application_credential"])).unwrap(), 32);
        assert_eq!(config.methods_to_bits(&names(&["password", "token", "password"])).unwrap(), 6);
        assert_eq!(config.bits_to_methods(6), names(&["token", "password"]));
        assert_eq!(config.bits_to_methods(0), Vec::<String>::new());
        assert_eq!(config.methods_to_bits(&names(&["ec2credential"])).unwrap(), 64);
        // An unconfigured bit is ignored.
        assert_eq!(config.bits_to_methods(128 | 2), names(&["password"]));
        assert!(config.methods_to_bits(&names(&["totp"])).is_err());

        let mut custom = PayloadConfig::default();
        custom.auth_methods.push("totp".into());
        assert_eq!(custom.methods_to_bits(&names(&["totp", "password"])).unwrap(), 130);
        assert_eq!(custom.bits_to_methods(130), names(&["totp", "password"]));
    }

    #[test]
    fn expires_at_float_conversion() {
        let at = Utc
            .with_ymd_and_hms(2031, 5, 6, 7, 8, 9)
            .unwrap()
            .checked_add_signed(chrono::Duration::microseconds(123_456))
            .unwrap();
        let f = datetime_to_float(at);
        assert_eq!(f, 1_935_817_689.123456); // what Python computes
        assert_eq!(float_to_datetime(f), Some(at));
        // Python rounds the sub-second part half-to-even, carrying into the seconds.
        assert_eq!(float_to_datetime(10.999_999_9), DateTime::from_timestamp(11, 0));
        assert_eq!(float_to_datetime(-0.25), DateTime::from_timestamp(-1, 750_000_000));
        assert_eq!(float_to_datetime(f64::NAN), None);
        assert_eq!(float_to_datetime(1e300), None);
    }

    #[test]
    fn legacy_raw_strings_are_accepted() {
        // msgpack < 1.0 wrote bytes as str: [1, [true, raw16], 2, raw16, f64, [raw16]]
        let uuid = [0xffu8; 16];
        let mut bytes = vec![0x96, 0x01, 0x92, 0xc3, 0xb0];
        bytes.extend_from_slice(&uuid);
        bytes.push(0x02);
        bytes.push(0xb0);
        bytes.extend_from_slice(&uuid);
        bytes.push(0xcb);
        bytes.extend_from_slice(&1_900_000_000f64.to_be_bytes());
        bytes.extend_from_slice(&[0x91, 0xb0]);
        bytes.extend_from_slice(&uuid);
        let p = decode(&bytes, &PayloadConfig::default()).unwrap();
        assert_eq!(p.user_id, "ffffffffffffffffffffffffffffffff");
        assert_eq!(p.scope, Scope::Domain("ffffffffffffffffffffffffffffffff".into()));
        assert_eq!(p.audit_ids, vec!["_____________________w".to_string()]);
    }

    #[test]
    fn unsupported_and_malformed_payloads() {
        let config = PayloadConfig::default();
        for version in [3u8, 4, 5, 6, 7, 10, 42] {
            let bytes = [0x91, version];
            let err = decode(&bytes, &config).unwrap_err();
            assert!(
                matches!(err, TokenError::Unsupported { version: v, .. } if v == u64::from(version)),
                "{err}"
            );
        }
        for bytes in [
            &[][..],
            &[0x90],                   // empty array
            &[0x02],                   // not an array
            &[0x91, 0x02],             // project-scoped without fields
            &[0x92, 0x00, 0x00, 0x00], // trailing byte
        ] {
            let err = decode(bytes, &config).unwrap_err();
            assert!(matches!(err, TokenError::Malformed(_)), "{err}");
        }
        // An extra field is rejected rather than silently ignored.
        let mut bytes = encode(&payload(Scope::Unscoped), &config).unwrap();
        bytes[0] += 1;
        bytes.push(0xc0);
        assert!(matches!(decode(&bytes, &config), Err(TokenError::Malformed(_))));
    }

    #[test]
    fn app_cred_requires_project_scope_and_bad_audit_ids_are_rejected() {
        let config = PayloadConfig::default();
        let mut p = payload(Scope::Domain("default".into()));
        p.app_cred_id = Some("c".into());
        assert!(matches!(encode(&p, &config), Err(TokenError::InvalidPayload(_))));
        let mut p = payload(Scope::Unscoped);
        p.audit_ids = vec!["not base64!".into()];
        assert!(matches!(encode(&p, &config), Err(TokenError::InvalidPayload(_))));
    }
}
