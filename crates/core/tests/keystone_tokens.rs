//! Interop with real keystone Fernet tokens.
//!
//! `fixtures/keystone_tokens/` holds a key repository made by keystone's own `fernet_setup` +
//! `fernet_rotate` and tokens minted by keystone's `TokenFormatter`, each with the fields
//! keystone itself decoded from it (see `keystone_interop.py` there, which regenerates them).

use std::fs;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use stratus_core::token::payload::{self, PayloadConfig};
use stratus_core::token::{new_audit_id, KeyRepository, Scope, TokenError, TokenPayload, TokenProvider};

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/keystone_tokens")
}

fn fixtures() -> Value {
    let text = fs::read_to_string(fixture_dir().join("tokens.json")).expect("tokens.json");
    serde_json::from_str(&text).expect("tokens.json is JSON")
}

fn tokens(doc: &Value) -> &Vec<Value> {
    doc["tokens"].as_array().expect("tokens array")
}

fn keystone_repository() -> KeyRepository {
    KeyRepository::new(fixture_dir().join("keys"))
}

/// A private copy of the fixture repository, for tests that rotate it.
fn copy_of_keystone_repository(name: &str) -> KeyRepository {
    let dir = std::env::temp_dir().join(format!(
        "stratus-keystone-{name}-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    fs::create_dir_all(&dir).unwrap();
    for index in ["0", "1", "2"] {
        fs::copy(fixture_dir().join("keys").join(index), dir.join(index)).unwrap();
    }
    KeyRepository::new(dir)
}

fn time(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap_or_else(|e| panic!("{text}: {e}")).with_timezone(&Utc)
}

fn strings(value: &Value) -> Vec<String> {
    value.as_array().expect("array").iter().map(|v| v.as_str().expect("string").to_string()).collect()
}

fn expected_scope(value: &Value) -> Scope {
    if value == "unscoped" {
        return Scope::Unscoped;
    }
    let (kind, id) = value.as_object().unwrap().iter().next().unwrap();
    let id = id.as_str().unwrap().to_string();
    match kind.as_str() {
        "project" => Scope::Project(id),
        "domain" => Scope::Domain(id),
        "system" => Scope::System(id),
        other => panic!("scope {other}"),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Keystone's rendering of a time: whole seconds with a zero subsecond.
fn keystone_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S.000000Z").to_string()
}

#[test]
fn fixture_repository_is_keystones_layout() {
    let repo = keystone_repository();
    assert_eq!(repo.key_indexes().unwrap(), vec![0, 1, 2]);
    let provider = TokenProvider::from_repository(&repo).unwrap();
    assert_eq!(provider.key_indexes(), vec![2, 1, 0], "primary first");
    let doc = fixtures();
    assert_eq!(
        strings(&doc["auth_methods"]),
        PayloadConfig::default().auth_methods,
        "keystone's default [auth] methods"
    );
    assert_eq!(doc["default_domain_id"], PayloadConfig::default().default_domain_id);
}

#[test]
fn decodes_every_keystone_token() {
    let doc = fixtures();
    let provider = TokenProvider::from_repository(&keystone_repository()).unwrap();
    let config = PayloadConfig::default();
    let (mut decoded, mut unsupported, mut invalid, mut byte_identical) = (0, 0, 0, 0);
    let mut scopes_seen = std::collections::HashSet::new();

    for case in tokens(&doc) {
        let name = case["name"].as_str().unwrap();
        let token = case["token"].as_str().unwrap();
        let result = provider.decode(token);
        match case["expect_error"].as_str() {
            Some("unsupported") => {
                let version = case["payload_version"].as_u64().unwrap();
                match result {
                    Err(TokenError::Unsupported { version: v, .. }) if v == version => {}
                    other => panic!("{name}: expected unsupported v{version}, got {other:?}"),
                }
                unsupported += 1;
                continue;
            }
            Some("invalid") => {
                assert!(matches!(result, Err(TokenError::Invalid)), "{name}: {result:?}");
                invalid += 1;
                continue;
            }
            Some(other) => panic!("{name}: unknown expectation {other}"),
            None => {}
        }

        let validated = result.unwrap_or_else(|e| panic!("{name}: {e}"));
        let got = &validated.payload;
        let want = &case["expect"];
        let keystone = &case["keystone_validate"];
        assert_eq!(got.user_id, want["user_id"], "{name}: user_id");
        assert_eq!(got.methods, strings(&want["methods"]), "{name}: methods");
        assert_eq!(got.scope, expected_scope(&want["scope"]), "{name}: scope");
        assert_eq!(got.expires_at, time(want["expires_at"].as_str().unwrap()), "{name}: expires_at");
        assert_eq!(got.audit_ids, strings(&want["audit_ids"]), "{name}: audit_ids");
        assert_eq!(got.app_cred_id.as_deref(), want["app_cred_id"].as_str(), "{name}: app_cred_id");
        assert_eq!(validated.issued_at, time(want["issued_at"].as_str().unwrap()), "{name}: issued_at");

        // The same fields as keystone's own validate_token returned them.
        assert_eq!(got.user_id, keystone["user_id"], "{name}");
        assert_eq!(got.methods, strings(&keystone["methods"]), "{name}");
        assert_eq!(got.audit_ids, strings(&keystone["audit_ids"]), "{name}");
        assert_eq!(got.project_id(), keystone["project_id"].as_str(), "{name}");
        assert_eq!(got.domain_id(), keystone["domain_id"].as_str(), "{name}");
        let system = match &got.scope {
            Scope::System(s) => Some(s.as_str()),
            _ => None,
        };
        assert_eq!(system, keystone["system"].as_str(), "{name}");
        assert_eq!(got.app_cred_id.as_deref(), keystone["app_cred_id"].as_str());
        assert_eq!(keystone_time(got.expires_at), keystone["expires_at"], "{name}");
        assert_eq!(keystone_time(validated.issued_at), keystone["issued_at"], "{name}");

        // Our encoder writes the very bytes keystone wrote (legacy msgpack aside).
        let ours = hex(&payload::encode(got, &config).unwrap());
        if case["legacy_msgpack"].as_bool() == Some(true) {
            assert_ne!(ours, case["msgpack_hex"], "{name}");
        } else {
            assert_eq!(ours, case["msgpack_hex"], "{name}: msgpack bytes");
            byte_identical += 1;
        }
        scopes_seen.insert(case["payload_version"].as_u64().unwrap());
        decoded += 1;
    }

    assert!(decoded >= 20, "only {decoded} tokens decoded");
    assert!(byte_identical >= 18, "only {byte_identical} byte-identical");
    assert_eq!(unsupported, 6);
    // A token from a foreign key, and one stamped in 2100: keystone accepts the latter, the
    // fernet crate applies its 60 s clock-skew check.
    assert_eq!(invalid, 2);
    assert_eq!(
        scopes_seen,
        [0, 1, 2, 8, 9].into_iter().collect(),
        "every supported payload version is covered"
    );
}

#[test]
fn keystone_tokens_survive_and_expire_with_our_rotations() {
    let doc = fixtures();
    let by_key = |note: &str| -> Vec<String> {
        tokens(&doc)
            .iter()
            .filter(|c| c["encrypted_with"].as_str().unwrap().starts_with(note))
            .filter(|c| c.get("expect").is_some())
            .map(|c| c["token"].as_str().unwrap().to_string())
            .collect()
    };
    let (key1, key2, key0) = (by_key("key 1"), by_key("key 2"), by_key("key 0"));
    assert!(!key1.is_empty() && !key2.is_empty() && !key0.is_empty());

    let repo = copy_of_keystone_repository("rotate");
    let provider = TokenProvider::from_repository(&repo).unwrap();
    for token in key1.iter().chain(&key2).chain(&key0) {
        provider.decode(token).unwrap();
    }

    // With keystone's default max_active_keys of 3, rotating promotes 0 to 3 and purges 1.
    let report = repo.rotate().unwrap();
    assert_eq!(report.new_primary, 3);
    assert_eq!(report.purged, vec![1]);
    provider.reload().unwrap();
    for token in &key1 {
        assert!(matches!(provider.decode(token), Err(TokenError::Invalid)));
    }
    for token in key2.iter().chain(&key0) {
        provider.decode(token).unwrap();
    }

    repo.rotate().unwrap();
    provider.reload().unwrap();
    assert_eq!(provider.key_indexes(), vec![4, 3, 0]);
    for token in &key2 {
        assert!(matches!(provider.decode(token), Err(TokenError::Invalid)));
    }
    for token in &key0 {
        provider.decode(token).unwrap();
    }
    fs::remove_dir_all(&repo.dir).unwrap();
}

/// Mints tokens for keystone to validate: run with `STRATUS_KEYSTONE_OUT=<dir> cargo test -p
/// stratus-core --test keystone_tokens -- --ignored`, then
/// `python keystone_interop.py verify <dir>/keys <dir>/tokens.json` with keystone installed.
/// The keys are the fixture repository after one rotation done by Stratus.
#[test]
#[ignore = "writes tokens for keystone_interop.py verify"]
fn stratus_tokens_for_keystone() {
    let out = PathBuf::from(
        std::env::var("STRATUS_KEYSTONE_OUT").expect("set STRATUS_KEYSTONE_OUT to a directory"),
    );
    let repo = copy_of_keystone_repository("mint");
    repo.rotate().unwrap();
    let provider = TokenProvider::from_repository(&repo).unwrap();

    let uid = uuid::Uuid::new_v4().simple().to_string();
    let pid = uuid::Uuid::new_v4().simple().to_string();
    let did = uuid::Uuid::new_v4().simple().to_string();
    let acid = uuid::Uuid::new_v4().simple().to_string();
    let later = time("2034-02-03T04:05:06Z");
    let with_micros = time("2034-02-03T04:05:06.654321Z");
    let base = |user: &str, scope: Scope| TokenPayload {
        user_id: user.into(),
        methods: vec!["password".into()],
        scope,
        expires_at: later,
        audit_ids: vec![new_audit_id()],
        app_cred_id: None,
    };
    let mut cases = vec![
        ("project_uuid_ids", base(&uid, Scope::Project(pid.clone()))),
        ("project_text_ids", base("admin", Scope::Project("service".into()))),
        ("domain_uuid", base(&uid, Scope::Domain(did.clone()))),
        ("domain_default", base("admin", Scope::Domain("default".into()))),
        ("system_all", base(&uid, Scope::System("all".into()))),
        ("unscoped_uuid_user", base(&uid, Scope::Unscoped)),
        ("unscoped_text_user", base("ldap-user@example.org", Scope::Unscoped)),
    ];
    let mut rescoped = base(&uid, Scope::Project(pid.clone()));
    rescoped.methods = vec!["token".into(), "password".into()];
    rescoped.audit_ids.push(new_audit_id());
    cases.push(("project_rescoped", rescoped));
    let mut app_cred = base(&uid, Scope::Project(pid.clone()));
    app_cred.methods = vec!["application_credential".into()];
    app_cred.app_cred_id = Some(acid);
    cases.push(("app_cred_uuid", app_cred.clone()));
    app_cred.user_id = "svc-user".into();
    app_cred.scope = Scope::Project("demo".into());
    app_cred.app_cred_id = Some("my-cred".into());
    cases.push(("app_cred_text_ids", app_cred));
    let mut all_methods = base(&uid, Scope::Unscoped);
    // Highest bit first, the order decoding yields.
    all_methods.methods = PayloadConfig::default().auth_methods.into_iter().rev().collect();
    cases.push(("unscoped_all_methods", all_methods));
    let mut micros = base(&uid, Scope::Project(pid));
    micros.expires_at = with_micros;
    cases.push(("microsecond_expiry", micros));
    let mut expired = base(&uid, Scope::Unscoped);
    expired.expires_at = time("2001-01-01T00:00:00Z");
    cases.push(("expired_unscoped", expired));

    let mut records = Vec::new();
    for (name, p) in cases {
        let token = provider.issue(&p).unwrap();
        let validated = provider.decode(&token).unwrap();
        assert_eq!(validated.payload, p);
        let scope = match &p.scope {
            Scope::Unscoped => json!("unscoped"),
            Scope::Project(id) => json!({ "project": id }),
            Scope::Domain(id) => json!({ "domain": id }),
            Scope::System(id) => json!({ "system": id }),
        };
        records.push(json!({
            "name": name,
            "token": token,
            "msgpack_hex": hex(&payload::encode(&p, provider.config()).unwrap()),
            "expect": {
                "user_id": p.user_id,
                "methods": p.methods,
                "scope": scope,
                "audit_ids": p.audit_ids,
                "app_cred_id": p.app_cred_id,
                "expires_at_keystone": keystone_time(p.expires_at),
                "issued_at_keystone": keystone_time(validated.issued_at),
            },
        }));
    }

    let keys_out = out.join("keys");
    let _ = fs::remove_dir_all(&keys_out);
    fs::create_dir_all(&keys_out).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        fs::set_permissions(&keys_out, fs::Permissions::from_mode(0o700)).unwrap();
    }
    for index in repo.key_indexes().unwrap() {
        let name = index.to_string();
        fs::copy(repo.dir.join(&name), keys_out.join(&name)).unwrap();
    }
    let doc = json!({ "key_indexes": repo.key_indexes().unwrap(), "tokens": records });
    fs::write(out.join("tokens.json"), serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    fs::remove_dir_all(&repo.dir).unwrap();
    println!("wrote {} tokens to {}", tokens(&doc).len(), out.display());
}
