//! Engine-level tests: enforcement, references, scope, overrides, listing.

use serde_json::{json, Value};

use super::*;

fn policy(rules: &[(&'static str, &'static str)]) -> Policy {
    let defaults: Vec<RuleDefault> = rules.iter().map(|(n, c)| RuleDefault::new(n, c)).collect();
    Policy::new(&defaults).unwrap()
}

/// A policy with the single rule `r`.
fn one(check: &'static str) -> Policy {
    policy(&[("r", check)])
}

fn project_member() -> Credentials {
    Credentials {
        user_id: Some("u1".into()),
        user_domain_id: Some("d1".into()),
        project_id: Some("p1".into()),
        project_domain_id: Some("d1".into()),
        roles: vec!["member".into(), "reader".into()],
        ..Default::default()
    }
}

fn allows(p: &Policy, creds: &Credentials, target: &Value) -> bool {
    p.enforce("r", creds, target)
}

#[test]
fn constants_and_empty_rule() {
    let c = project_member();
    let t = json!({});
    assert!(allows(&one("@"), &c, &t));
    assert!(!allows(&one("!"), &c, &t));
    assert!(allows(&one(""), &c, &t));
    assert!(!allows(&one("not @"), &c, &t));
    assert!(allows(&one("not !"), &c, &t));
}

#[test]
fn role_checks_are_case_insensitive() {
    let mut c = project_member();
    c.roles = vec!["Member".into()];
    let t = json!({"target": {"role": {"name": "MEMBER"}}});
    assert!(allows(&one("role:member"), &c, &t));
    assert!(allows(&one("role:MEMBER"), &c, &t));
    assert!(!allows(&one("role:admin"), &c, &t));
    assert!(!allows(&one("role:mem"), &c, &t));
    // Role names may come from the target.
    assert!(allows(&one("role:%(target.role.name)s"), &c, &t));
    assert!(!allows(&one("role:%(target.role.missing)s"), &c, &t));
    // The generic `roles:` check compares exactly, as oslo.policy does.
    assert!(allows(&one("roles:Member"), &c, &t));
    assert!(!allows(&one("roles:member"), &c, &t));
    // No roles at all.
    c.roles.clear();
    assert!(!allows(&one("role:member"), &c, &t));
}

#[test]
fn generic_checks_against_credentials() {
    let c = project_member();
    let t = json!({});
    assert!(allows(&one("user_id:u1"), &c, &t));
    assert!(!allows(&one("user_id:u2"), &c, &t));
    assert!(allows(&one("project_id:p1"), &c, &t));
    assert!(allows(&one("token.project.domain.id:d1"), &c, &t));
    assert!(allows(&one("is_admin_project:False"), &c, &t));
    assert!(allows(&one("token.is_admin_project:False"), &c, &t));
    assert!(!allows(&one("token.is_admin_project:True"), &c, &t));
    // Unset attributes read as None; token parts that do not exist never match.
    assert!(allows(&one("domain_id:None"), &c, &t));
    assert!(!allows(&one("token.domain.id:None"), &c, &t));
    assert!(!allows(&one("system_scope:all"), &c, &t));
    assert!(!allows(&one("no_such_attribute:x"), &c, &t));

    let system_admin = Credentials {
        user_id: Some("admin".into()),
        system_scope: Some("all".into()),
        roles: vec!["admin".into()],
        ..Default::default()
    };
    assert!(allows(&one("system_scope:all"), &system_admin, &t));
    assert!(allows(&one("system:all"), &system_admin, &t));
    assert!(allows(&one("token.system.all:True"), &system_admin, &t));
    assert!(!allows(&one("token.project.id:None"), &system_admin, &t));

    let mut custom = project_member();
    custom.extra.insert("tier".into(), json!("gold"));
    custom.extra.insert("groups".into(), json!([{"name": "ops"}, {"name": "dev"}]));
    assert!(allows(&one("tier:gold"), &custom, &t));
    assert!(allows(&one("groups.name:dev"), &custom, &t));
    assert!(!allows(&one("groups.name:qa"), &custom, &t));
}

#[test]
fn substitution_from_nested_and_flattened_targets() {
    let c = project_member();
    let p = one("user_id:%(target.user.id)s");
    assert!(allows(&p, &c, &json!({"target": {"user": {"id": "u1"}}})));
    assert!(!allows(&p, &c, &json!({"target": {"user": {"id": "u2"}}})));
    assert!(allows(&p, &c, &json!({"target.user.id": "u1"})));
    // Top-level keys, such as path parameters.
    let owner = one("user_id:%(user_id)s");
    assert!(allows(&owner, &c, &json!({"user_id": "u1"})));
    assert!(!allows(&owner, &c, &json!({"user_id": "u9"})));
    // Deeply nested, and several substitutions in one match.
    let deep = one("project_id:%(a.b.c.d)s");
    assert!(allows(&deep, &c, &json!({"a": {"b": {"c": {"d": "p1"}}}})));
    let mixed = one("user_id:%(pre)s%(post)s");
    assert!(allows(&mixed, &c, &json!({"pre": "u", "post": 1})));
    assert!(!allows(&mixed, &c, &json!({"pre": "u"})));
}

#[test]
fn missing_target_keys_deny() {
    let c = project_member();
    let p = one("user_id:%(target.user.id)s");
    for t in [
        json!({}),
        json!({"target": {}}),
        json!({"target": {"user": {}}}),
        json!({"target": {"user": "u1"}}),
        json!({"target": {"user": {"id": {"nested": "u1"}}}}),
        json!({"target": {"user": {"id": ["u1"]}}}),
        json!(null),
        json!("u1"),
    ] {
        assert!(!allows(&p, &c, &t), "{t}");
    }
    // `not` of a failed substitution passes, as in oslo.policy.
    let p = one("not None:%(target.project.domain_id)s");
    assert!(allows(&p, &c, &json!({})));
    assert!(allows(&p, &c, &json!({"target": {"project": {"domain_id": "d1"}}})));
    assert!(!allows(&p, &c, &json!({"target": {"project": {"domain_id": null}}})));
}

#[test]
fn literal_left_checks() {
    let c = project_member();
    let p = one("'member':%(target.role.name)s or 'reader':%(target.role.name)s");
    assert!(allows(&p, &c, &json!({"target": {"role": {"name": "member"}}})));
    assert!(allows(&p, &c, &json!({"target": {"role": {"name": "reader"}}})));
    assert!(!allows(&p, &c, &json!({"target": {"role": {"name": "admin"}}})));
    assert!(!allows(&p, &c, &json!({"target": {"role": {}}})));
    let enabled = one("True:%(target.user.enabled)s");
    assert!(allows(&enabled, &c, &json!({"target": {"user": {"enabled": true}}})));
    assert!(!allows(&enabled, &c, &json!({"target": {"user": {"enabled": false}}})));
    assert!(!allows(&enabled, &c, &json!({"target": {"user": {"enabled": "true"}}})));
    let global = one("None:%(target.role.domain_id)s");
    assert!(allows(&global, &c, &json!({"target": {"role": {"domain_id": null}}})));
    assert!(!allows(&global, &c, &json!({"target": {"role": {"domain_id": "d1"}}})));
    let number = one("3:%(n)s");
    assert!(allows(&number, &c, &json!({"n": 3})));
    assert!(allows(&number, &c, &json!({"n": "3"})));
    assert!(!allows(&number, &c, &json!({"n": 3.0})));
    let double = one("\"x\":%(s)s");
    assert!(allows(&double, &c, &json!({"s": "x"})));
}

#[test]
fn boolean_structure() {
    let c = project_member();
    let t = json!({});
    assert!(allows(&one("role:admin or role:member"), &c, &t));
    assert!(!allows(&one("role:admin and role:member"), &c, &t));
    assert!(allows(&one("role:admin or role:member and project_id:p1"), &c, &t));
    // `and` binds tighter: `admin or (member and p2)`.
    assert!(!allows(&one("role:admin or role:member and project_id:p2"), &c, &t));
    assert!(!allows(&one("(role:admin or role:member) and project_id:p2"), &c, &t));
    assert!(allows(&one("not role:admin and role:member"), &c, &t));
    assert!(!allows(&one("not (role:admin or role:member)"), &c, &t));
}

#[test]
fn rule_references_and_unknown_rules() {
    let p = policy(&[
        ("admin_required", "role:admin"),
        ("owner", "user_id:%(user_id)s"),
        ("admin_or_owner", "rule:admin_required or rule:owner"),
        ("dangling", "rule:nope or role:member"),
        ("only_dangling", "rule:nope"),
        ("negated_dangling", "not rule:nope"),
    ]);
    let c = project_member();
    assert!(p.enforce("admin_or_owner", &c, &json!({"user_id": "u1"})));
    assert!(!p.enforce("admin_or_owner", &c, &json!({"user_id": "u2"})));
    assert!(p.enforce("dangling", &c, &json!({})));
    assert!(!p.enforce("only_dangling", &c, &json!({})));
    assert!(p.enforce("negated_dangling", &c, &json!({})));
    assert_eq!(
        p.unresolved_references(),
        vec![("dangling", "nope"), ("only_dangling", "nope"), ("negated_dangling", "nope")]
    );
    // Unknown rule names are denied, with the reason.
    assert!(!p.enforce("identity:nothing", &c, &json!({})));
    let denied = p.authorize("identity:nothing", &c, &json!({})).unwrap_err();
    assert_eq!(denied.reason, DenyReason::UnknownRule);
    assert_eq!(denied.rule, "identity:nothing");
    let denied = p.authorize("only_dangling", &c, &json!({})).unwrap_err();
    assert_eq!(denied.reason, DenyReason::Check);
    assert!(denied.to_string().contains("only_dangling"));
    assert_eq!(p.authorize("dangling", &c, &json!({})), Ok(()));
}

#[test]
fn bad_defaults_are_reported_by_name() {
    let e = Policy::new(&[RuleDefault::new("fine", "role:a"), RuleDefault::new("svc:broken", "role:a or")])
        .unwrap_err();
    let msg = e.to_string();
    assert!(matches!(&e, PolicyError::InvalidRule { name, .. } if name == "svc:broken"));
    assert!(msg.contains("svc:broken") && msg.contains("end of rule"), "{msg}");

    let e = Policy::new(&[RuleDefault::new("a", "@"), RuleDefault::new("a", "!")]).unwrap_err();
    assert!(matches!(e, PolicyError::DuplicateRule(n) if n == "a"));

    let e = Policy::new(&[
        RuleDefault::new("a", "rule:b"),
        RuleDefault::new("b", "role:x or rule:c"),
        RuleDefault::new("c", "not rule:a"),
    ])
    .unwrap_err();
    let PolicyError::Cycle { cycle, .. } = &e else { panic!("{e}") };
    assert_eq!(cycle, &["a", "b", "c", "a"]);
    let e = Policy::new(&[RuleDefault::new("self", "rule:self")]).unwrap_err();
    assert!(e.to_string().contains("self -> self"), "{e}");
}

#[test]
fn scope_types_are_enforced() {
    const DEFAULTS: &[RuleDefault] = &[
        RuleDefault::new("sys_or_project", "role:admin").scope_types(&[Scope::System, Scope::Project]),
        RuleDefault::new("any", "role:admin"),
    ];
    let mut p = Policy::new(DEFAULTS).unwrap();
    let domain_admin = Credentials {
        user_id: Some("u".into()),
        domain_id: Some("d1".into()),
        roles: vec!["admin".into()],
        ..Default::default()
    };
    let project_admin = Credentials {
        user_id: Some("u".into()),
        project_id: Some("p".into()),
        roles: vec!["admin".into()],
        ..Default::default()
    };
    let t = json!({});
    assert!(p.enforce("sys_or_project", &project_admin, &t));
    assert!(p.enforce("any", &domain_admin, &t));
    assert_eq!(
        p.authorize("sys_or_project", &domain_admin, &t).unwrap_err().reason,
        DenyReason::Scope(Scope::Domain)
    );
    // Overriding the check string keeps the default's scope types.
    p.set_rule("sys_or_project", "@").unwrap();
    assert!(!p.enforce("sys_or_project", &domain_admin, &t));
    assert!(p.enforce("sys_or_project", &project_admin, &t));
    // ...but scope types only apply to the rule enforced, not to rules it references.
    p.set_rule("any", "rule:sys_or_project").unwrap();
    assert!(p.enforce("any", &domain_admin, &t));
}

const SERVICE_DEFAULTS: &[RuleDefault] = &[
    RuleDefault::new("admin_required", "role:admin"),
    RuleDefault::new("svc:get", "rule:admin_required or role:reader")
        .description("Show a thing.")
        .scope_types(&[Scope::Project])
        .operations(&[Operation::new("GET", "/v1/things/{id}"), Operation::new("HEAD", "/v1/things/{id}")]),
    RuleDefault::new("svc:delete", "rule:admin_required"),
];

#[test]
fn overrides_from_json() {
    let mut p = Policy::new(SERVICE_DEFAULTS).unwrap();
    let c = project_member();
    let t = json!({});
    assert!(!p.enforce("svc:delete", &c, &t));
    p.apply_overrides(
        r#"{"svc:delete": "role:member", "admin_required": "role:boss", "svc:extra": "rule:svc:delete"}"#,
        "policy.json",
    )
    .unwrap();
    assert!(p.enforce("svc:delete", &c, &t));
    assert!(p.enforce("svc:extra", &c, &t));
    let info = p.rule("svc:delete").unwrap();
    assert!(info.overridden);
    assert_eq!(info.check_str, "role:member");
    assert_eq!(info.default.unwrap().check_str, "rule:admin_required");
    let extra = p.rule("svc:extra").unwrap();
    assert!(extra.overridden && extra.default.is_none());
    assert!(!p.rule("svc:get").unwrap().overridden);
    // References follow the overridden rule.
    let with_roles = |roles: &[&str]| Credentials {
        roles: roles.iter().map(|r| r.to_string()).collect(),
        ..project_member()
    };
    assert!(p.enforce("svc:get", &with_roles(&["boss"]), &t));
    assert!(!p.enforce("svc:get", &with_roles(&["admin"]), &t));
    assert!(p.enforce("svc:get", &with_roles(&["reader"]), &t));
}

#[test]
fn overrides_from_yaml_text() {
    let mut p = Policy::new(SERVICE_DEFAULTS).unwrap();
    let c = project_member();
    let yaml = "\
# Only the reader role may read things.
# GET  /v1/things/{id}
\"svc:get\": \"role:reader and not role:member\"
svc:delete: role:member  # members may delete
#\"admin_required\": \"role:admin\"
";
    p.apply_overrides(yaml, "policy.yaml").unwrap();
    assert!(!p.enforce("svc:get", &c, &json!({})));
    assert!(p.enforce("svc:delete", &c, &json!({})));
    assert_eq!(p.rule("admin_required").unwrap().check_str, "role:admin");
    assert!(!p.rule("admin_required").unwrap().overridden);
}

#[test]
fn bad_overrides_change_nothing() {
    let mut p = Policy::new(SERVICE_DEFAULTS).unwrap();
    let before: Vec<String> = p.rules().map(|r| r.check_str.to_owned()).collect();
    let e = p
        .apply_overrides("\"svc:delete\": \"@\"\n\"svc:get\": \"role:reader and\"\n", "policy.yaml")
        .unwrap_err();
    assert!(
        matches!(&e, PolicyError::InvalidRule { name, origin, .. } if name == "svc:get" && origin == "policy.yaml"),
        "{e}"
    );
    let e = p.apply_overrides("{\"admin_required\": \"rule:svc:delete\"}", "policy.json").unwrap_err();
    assert!(matches!(e, PolicyError::Cycle { .. }), "{e}");
    let e = p.apply_overrides("a:\n  b: c\n", "policy.yaml").unwrap_err();
    assert_eq!(e.to_string(), "policy.yaml:2: indented line: nested mappings and lists are not supported");
    let after: Vec<String> = p.rules().map(|r| r.check_str.to_owned()).collect();
    assert_eq!(before, after);
    assert!(p.rules().all(|r| !r.overridden));
}

#[test]
fn overrides_from_files() {
    let dir = std::env::temp_dir().join(format!(
        "stratus-policy-test-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let json_path = dir.join("policy.json");
    let yaml_path = dir.join("policy.yaml");
    std::fs::write(&json_path, r#"{"svc:delete": "@"}"#).unwrap();
    std::fs::write(&yaml_path, "---\n'svc:get': '!'\n").unwrap();
    let mut p = Policy::new(SERVICE_DEFAULTS).unwrap();
    p.load_overrides(&json_path).unwrap();
    p.load_overrides(&yaml_path).unwrap();
    let c = project_member();
    assert!(p.enforce("svc:delete", &c, &json!({})));
    assert!(!p.enforce("svc:get", &c, &json!({})));
    let missing = p.load_overrides(dir.join("absent.yaml")).unwrap_err();
    assert!(matches!(missing, PolicyError::Io { .. }));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn listing_and_generated_yaml_round_trip() {
    let mut p = Policy::new(SERVICE_DEFAULTS).unwrap();
    p.set_rule("svc:odd", "'quote\"d':%(x)s or user_id:%(a.b)s").unwrap();
    let names: Vec<&str> = p.rules().map(|r| r.name).collect();
    assert_eq!(names, ["admin_required", "svc:get", "svc:delete", "svc:odd"]);

    for help in [false, true] {
        let yaml = p.to_yaml(help);
        let pairs = parse_overrides(&yaml, "generated").unwrap();
        let expected: Vec<(String, String)> =
            p.rules().map(|r| (r.name.to_owned(), r.check_str.to_owned())).collect();
        assert_eq!(pairs, expected, "{yaml}");
    }
    let documented = p.to_yaml(true);
    assert!(documented.contains("# Show a thing.\n# GET  /v1/things/{id}\n# HEAD  /v1/things/{id}\n# Intended scope(s): project\n\"svc:get\": \"rule:admin_required or role:reader\"\n"), "{documented}");

    let sample = sample_yaml(SERVICE_DEFAULTS);
    assert!(sample.contains("#\"svc:delete\": \"rule:admin_required\"\n"));
    assert!(parse_overrides(&sample, "sample").unwrap().is_empty());
}

#[test]
fn enforcement_is_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Policy>();
    let p = std::sync::Arc::new(one("role:member"));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let p = p.clone();
            std::thread::spawn(move || p.enforce("r", &project_member(), &json!({})))
        })
        .collect();
    assert!(handles.into_iter().all(|h| h.join().unwrap()));
}
