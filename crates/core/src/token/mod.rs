//! Keystone-compatible Fernet tokens.
//!
//! Stratus reads and writes keystone's Fernet token format, so a Stratus node given a copy of a
//! keystone Fernet key repository validates that keystone's tokens, and keystone validates the
//! node's:
//!
//! - [`keys`]: the key repository on disk (setup, rotation, loading);
//! - [`payload`]: the msgpack payload inside a token;
//! - [`revoke`]: keystone-style revocation events and their matching rules;
//! - [`TokenProvider`]: issues and decodes tokens with a repository's keys.
//!
//! A token is `Fernet(primary key).encrypt(msgpack(payload))` with the base64 `=` padding
//! stripped. It is decoded with every key of the repository in turn; the Fernet timestamp is
//! the token's `issued_at`. Expiry lives in the payload and is not checked by
//! [`TokenProvider::decode`], and neither is revocation: the caller decides (e.g. to allow
//! expired tokens for `GET /v3/auth/tokens?allow_expired=1`).

pub mod keys;
pub mod payload;
pub mod revoke;

use std::path::PathBuf;
use std::sync::{RwLock, RwLockReadGuard};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Utc};

pub use keys::{KeyRepository, LoadedKey, RotationReport, SetupOutcome};
pub use payload::{PayloadConfig, Scope, TokenPayload};
pub use revoke::{RevocationContext, RevocationList, RevokeEvent};

/// Longer inputs are rejected before any decoding. Keystone's own tokens are about 180-250
/// characters.
pub const MAX_TOKEN_LEN: usize = 8192;

/// Fernet header: version byte, 8-byte timestamp, 16-byte IV; then ciphertext and a 32-byte HMAC.
const FERNET_MIN_LEN: usize = 1 + 8 + 16 + 16 + 32;

/// Why a token or key operation failed. Messages never contain key material or token text.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Not a token of ours: bad encoding, tampered, or made with a key we do not hold.
    #[error("the token is invalid")]
    Invalid,
    /// Decrypted, but the payload is not in the layout we know.
    #[error("the token payload is malformed: {0}")]
    Malformed(String),
    /// A valid keystone token of a kind Stratus does not handle.
    #[error("unsupported token type: {kind} (keystone payload version {version})")]
    Unsupported { version: u64, kind: &'static str },
    /// The payload given to [`TokenProvider::issue`] cannot be represented.
    #[error("cannot issue the token: {0}")]
    InvalidPayload(String),
    #[error("no Fernet keys in key repository {}", .0.display())]
    NoKeys(PathBuf),
    #[error("key file {} does not hold a valid Fernet key", .0.display())]
    BadKey(PathBuf),
    #[error("key repository {}: {reason}", path.display())]
    Repository { path: PathBuf, reason: String },
    #[error("key repository I/O error on {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl TokenError {
    /// True when the token presented is at fault (invalid, malformed, unsupported) rather than
    /// this node's configuration or key repository: the caller should answer 401/404.
    pub fn is_bad_token(&self) -> bool {
        matches!(self, TokenError::Invalid | TokenError::Malformed(_) | TokenError::Unsupported { .. })
    }
}

/// A decrypted token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidatedToken {
    pub payload: TokenPayload,
    /// The Fernet timestamp, whole seconds.
    pub issued_at: DateTime<Utc>,
}

/// Issues and decodes tokens with the keys of one repository.
///
/// The keys sit behind a lock: after a rotation (here or on another node followed by a sync),
/// [`TokenProvider::reload`] picks up the new keys without a restart.
pub struct TokenProvider {
    repository: KeyRepository,
    config: PayloadConfig,
    keys: RwLock<Vec<LoadedKey>>,
}

impl std::fmt::Debug for TokenProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenProvider")
            .field("repository", &self.repository)
            .field("config", &self.config)
            .field("key_indexes", &self.key_indexes())
            .finish()
    }
}

impl TokenProvider {
    /// Load the repository's keys, with keystone's default `[auth] methods` and
    /// `[identity] default_domain_id`.
    pub fn from_repository(repository: &KeyRepository) -> Result<Self, TokenError> {
        Self::with_config(repository, PayloadConfig::default())
    }

    /// Load the repository's keys, with the method list and default domain id of the keystone
    /// deployment to interoperate with.
    pub fn with_config(repository: &KeyRepository, config: PayloadConfig) -> Result<Self, TokenError> {
        let keys = repository.load()?;
        Ok(Self { repository: repository.clone(), config, keys: RwLock::new(keys) })
    }

    /// Re-read the key repository. On error the keys in use are kept.
    pub fn reload(&self) -> Result<(), TokenError> {
        let keys = self.repository.load()?;
        *self.keys.write().unwrap_or_else(|e| e.into_inner()) = keys;
        Ok(())
    }

    pub fn repository(&self) -> &KeyRepository {
        &self.repository
    }

    pub fn config(&self) -> &PayloadConfig {
        &self.config
    }

    /// Indexes of the keys in use, primary first.
    pub fn key_indexes(&self) -> Vec<u64> {
        self.read_keys().iter().map(LoadedKey::index).collect()
    }

    /// Issue a token, encrypted with the primary key. Its Fernet timestamp (`issued_at`) is
    /// the current time.
    pub fn issue(&self, payload: &TokenPayload) -> Result<String, TokenError> {
        let plaintext = payload::encode(payload, &self.config)?;
        let keys = self.read_keys();
        let primary = keys.first().ok_or_else(|| TokenError::NoKeys(self.repository.dir.clone()))?;
        let mut token = primary.fernet().encrypt(&plaintext);
        // base64 padding is not URL-safe; keystone strips it too.
        let unpadded = token.trim_end_matches('=').len();
        token.truncate(unpadded);
        Ok(token)
    }

    /// Decrypt and decode a token with any of the keys. Does not check expiry or revocation.
    pub fn decode(&self, token: &str) -> Result<ValidatedToken, TokenError> {
        let issued = fernet_timestamp(token).ok_or(TokenError::Invalid)?;
        // Unlike keystone (which decrypts without a TTL and so skips the check), the fernet
        // crate rejects tokens stamped more than 60 s ahead of our clock.
        let plaintext = self
            .read_keys()
            .iter()
            .find_map(|key| key.fernet().decrypt(token).ok())
            .ok_or(TokenError::Invalid)?;
        let payload = payload::decode(&plaintext, &self.config)?;
        let issued_at = i64::try_from(issued)
            .ok()
            .and_then(|secs| DateTime::from_timestamp(secs, 0))
            .ok_or_else(|| TokenError::Malformed("issued_at is out of range".into()))?;
        Ok(ValidatedToken { payload, issued_at })
    }

    fn read_keys(&self) -> RwLockReadGuard<'_, Vec<LoadedKey>> {
        self.keys.read().unwrap_or_else(|e| e.into_inner())
    }
}

/// The timestamp of a well-formed Fernet token (padded or not), without decrypting it.
fn fernet_timestamp(token: &str) -> Option<u64> {
    if token.is_empty() || token.len() > MAX_TOKEN_LEN {
        return None;
    }
    let raw = URL_SAFE_NO_PAD.decode(token.trim_end_matches('=')).ok()?;
    if raw.len() < FERNET_MIN_LEN || raw[0] != 0x80 {
        return None;
    }
    Some(u64::from_be_bytes(raw[1..9].try_into().ok()?))
}

/// A fresh audit id as keystone makes them: the 16 bytes of a random UUID in unpadded urlsafe
/// base64 (22 characters).
pub fn new_audit_id() -> String {
    URL_SAFE_NO_PAD.encode(uuid::Uuid::new_v4().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};
    use std::fs;

    fn temp_repo(name: &str) -> KeyRepository {
        let dir = std::env::temp_dir().join(format!(
            "stratus-token-{name}-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        let repo = KeyRepository::new(dir);
        repo.setup().unwrap();
        repo
    }

    fn cleanup(repo: &KeyRepository) {
        fs::remove_dir_all(&repo.dir).unwrap();
    }

    const USER: &str = "b9e6d7a1c2f34e5d8a7b6c5d4e3f2a1b";
    const PROJECT: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
    const DOMAIN: &str = "aabbccddeeff00112233445566778899";

    fn payload(scope: Scope) -> TokenPayload {
        TokenPayload {
            user_id: USER.into(),
            methods: vec!["password".into()],
            scope,
            expires_at: Utc::now().with_nanosecond(0).unwrap() + Duration::hours(1),
            audit_ids: vec![new_audit_id()],
            app_cred_id: None,
        }
    }

    use chrono::Timelike as _;

    #[test]
    fn round_trip_every_scope() {
        let repo = temp_repo("roundtrip");
        let provider = TokenProvider::from_repository(&repo).unwrap();
        let mut cases = Vec::new();
        for user in [USER, "default", "ldap-user@example", "Ünïcode"] {
            for scope in [
                Scope::Unscoped,
                Scope::Project(PROJECT.into()),
                Scope::Project("service".into()),
                Scope::Domain(DOMAIN.into()),
                Scope::Domain("default".into()),
                Scope::System("all".into()),
            ] {
                let mut p = payload(scope);
                p.user_id = user.into();
                cases.push(p);
            }
        }
        let mut app_cred = payload(Scope::Project(PROJECT.into()));
        app_cred.methods = vec!["application_credential".into()];
        app_cred.app_cred_id = Some("5c2f0f5e4a4b4bb8a4f3a0a7d1e3c9b2".into());
        cases.push(app_cred.clone());
        app_cred.app_cred_id = Some("my-app-cred".into());
        app_cred.scope = Scope::Project("non-uuid-project".into());
        cases.push(app_cred);
        let mut rescoped = payload(Scope::Project(PROJECT.into()));
        rescoped.methods = vec!["token".into(), "password".into()];
        rescoped.audit_ids.push(new_audit_id());
        rescoped.expires_at += Duration::microseconds(654_321);
        cases.push(rescoped);

        for p in cases {
            let before = Utc::now().timestamp();
            let token = provider.issue(&p).unwrap();
            assert!(!token.contains('='), "{token}");
            assert!(token.len() < 300, "{} chars", token.len());
            let validated = provider.decode(&token).unwrap();
            assert_eq!(validated.payload, p);
            let issued = validated.issued_at.timestamp();
            assert!(issued >= before && issued <= Utc::now().timestamp());
        }
        cleanup(&repo);
    }

    #[test]
    fn padded_token_is_accepted() {
        let repo = temp_repo("padding");
        let provider = TokenProvider::from_repository(&repo).unwrap();
        let token = provider.issue(&payload(Scope::Unscoped)).unwrap();
        let padded = format!("{token}{}", "=".repeat((4 - token.len() % 4) % 4));
        assert_eq!(provider.decode(&padded).unwrap(), provider.decode(&token).unwrap());
        cleanup(&repo);
    }

    #[test]
    fn tampered_token_is_invalid() {
        let repo = temp_repo("tamper");
        let provider = TokenProvider::from_repository(&repo).unwrap();
        let token = provider.issue(&payload(Scope::Project(PROJECT.into()))).unwrap();
        let mut raw = URL_SAFE_NO_PAD.decode(&token).unwrap();
        for position in [0, 5, 12, 40, raw.len() - 40, raw.len() - 1] {
            raw[position] ^= 0x01;
            let tampered = URL_SAFE_NO_PAD.encode(&raw);
            let err = provider.decode(&tampered).unwrap_err();
            assert!(matches!(err, TokenError::Invalid), "byte {position}: {err}");
            raw[position] ^= 0x01;
        }
        assert!(provider.decode(&URL_SAFE_NO_PAD.encode(&raw)).is_ok());
        for garbage in ["", "abc", "not a token!", &"A".repeat(MAX_TOKEN_LEN + 4)] {
            assert!(matches!(provider.decode(garbage), Err(TokenError::Invalid)));
        }
        cleanup(&repo);
    }

    #[test]
    fn token_from_another_repository_is_invalid() {
        let ours = temp_repo("ours");
        let theirs = temp_repo("theirs");
        let token =
            TokenProvider::from_repository(&theirs).unwrap().issue(&payload(Scope::Unscoped)).unwrap();
        let provider = TokenProvider::from_repository(&ours).unwrap();
        let err = provider.decode(&token).unwrap_err();
        assert!(matches!(err, TokenError::Invalid));
        assert!(err.is_bad_token());
        assert_eq!(err.to_string(), "the token is invalid");
        cleanup(&ours);
        cleanup(&theirs);
    }

    #[test]
    fn rotation_keeps_then_purges_old_tokens() {
        let repo = temp_repo("rotation");
        let provider = TokenProvider::from_repository(&repo).unwrap();
        assert_eq!(provider.key_indexes(), vec![1, 0]);
        let p = payload(Scope::Project(PROJECT.into()));
        let old = provider.issue(&p).unwrap();

        // Another node's primary is our staged key: its tokens validate before we rotate.
        let staged_only = KeyRepository::new(repo.dir.join("staged-copy")).with_max_active_keys(3);
        fs::create_dir_all(&staged_only.dir).unwrap();
        fs::copy(repo.dir.join("0"), staged_only.dir.join("0")).unwrap();
        let from_staged = TokenProvider::from_repository(&staged_only).unwrap().issue(&p).unwrap();
        assert_eq!(provider.decode(&from_staged).unwrap().payload, p);

        repo.rotate().unwrap();
        provider.reload().unwrap();
        assert_eq!(provider.key_indexes(), vec![2, 1, 0]);
        let new = provider.issue(&p).unwrap();
        assert_eq!(provider.decode(&old).unwrap().payload, p, "key 1 is secondary now");
        assert_eq!(provider.decode(&new).unwrap().payload, p);
        assert_eq!(provider.decode(&from_staged).unwrap().payload, p);

        // Before reload, the provider still has (and only has) its old keys.
        repo.rotate().unwrap();
        assert!(provider.decode(&old).is_ok());
        provider.reload().unwrap();
        assert_eq!(provider.key_indexes(), vec![3, 2, 0]);
        assert!(matches!(provider.decode(&old), Err(TokenError::Invalid)));
        assert!(provider.decode(&new).is_ok());
        assert!(provider.decode(&from_staged).is_ok());

        // The third rotation purges key 2 (the staged key of the start).
        let newest = provider.issue(&p).unwrap();
        repo.rotate().unwrap();
        provider.reload().unwrap();
        assert_eq!(provider.key_indexes(), vec![4, 3, 0]);
        assert!(matches!(provider.decode(&new), Err(TokenError::Invalid)));
        assert!(matches!(provider.decode(&from_staged), Err(TokenError::Invalid)));
        assert!(provider.decode(&newest).is_ok(), "key 3 is secondary");

        // A failed reload keeps the keys in use.
        fs::remove_dir_all(&repo.dir).unwrap();
        assert!(matches!(provider.reload(), Err(TokenError::NoKeys(_))));
        assert!(provider.decode(&newest).is_ok());
    }

    #[test]
    fn expired_payload_round_trips() {
        let repo = temp_repo("expired");
        let provider = TokenProvider::from_repository(&repo).unwrap();
        let mut p = payload(Scope::Unscoped);
        p.expires_at = Utc.with_ymd_and_hms(2001, 2, 3, 4, 5, 6).unwrap() + Duration::microseconds(7);
        let validated = provider.decode(&provider.issue(&p).unwrap()).unwrap();
        assert_eq!(validated.payload.expires_at, p.expires_at);
        assert!(validated.payload.is_expired(Utc::now()));
        cleanup(&repo);
    }

    #[test]
    fn issue_rejects_unrepresentable_payloads() {
        let repo = temp_repo("reject");
        let provider = TokenProvider::from_repository(&repo).unwrap();
        let mut p = payload(Scope::Unscoped);
        p.methods = vec!["totp".into()];
        let err = provider.issue(&p).unwrap_err();
        assert!(matches!(err, TokenError::InvalidPayload(_)));
        assert!(!err.is_bad_token());

        let mut config = PayloadConfig::default();
        config.auth_methods.push("totp".into());
        let provider = TokenProvider::with_config(&repo, config).unwrap();
        assert_eq!(provider.decode(&provider.issue(&p).unwrap()).unwrap().payload, p);
        cleanup(&repo);
    }

    #[test]
    fn audit_ids_look_like_keystones() {
        let a = new_audit_id();
        assert_eq!(a.len(), 22);
        assert!(a.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_ne!(a, new_audit_id());
    }

    #[test]
    fn provider_is_send_sync_and_debug_hides_keys() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<TokenProvider>();
        assert_send_sync::<RevocationList>();
        let repo = temp_repo("debug");
        let provider = TokenProvider::from_repository(&repo).unwrap();
        let debug = format!("{provider:?}");
        for index in [0, 1] {
            let key = fs::read_to_string(repo.dir.join(index.to_string())).unwrap();
            assert!(!debug.contains(key.trim()));
            assert!(!debug.contains(key.trim().trim_end_matches('=')));
        }
        cleanup(&repo);
    }
}
