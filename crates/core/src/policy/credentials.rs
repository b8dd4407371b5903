//! Who is calling: the credential attributes that checks read.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::check::leaf_eq;
use super::Scope;

/// The caller's credentials, with the attribute names oslo.context and keystonemiddleware
/// give them (`to_policy_values()`), plus keystone's rendered `token`.
///
/// Generic checks read these by (dotted) name. Every top-level attribute is always
/// present: an unset `Option` reads as Python's `None`, so `domain_id:None` is true for a
/// token that is not domain-scoped, exactly as in keystone. The `token.*` attributes only
/// exist for the parts the token has:
///
/// | name | value |
/// |---|---|
/// | `user_id`, `user_domain_id` | the user and the user's domain |
/// | `project_id`, `project_domain_id` | project scope |
/// | `domain_id` | domain scope |
/// | `system_scope` | `"all"` for a system-scoped token |
/// | `system` | same as `system_scope`, only when system-scoped (oslo.policy compatibility) |
/// | `roles` | role names; `roles:NAME` matches any of them (case-sensitive, unlike `role:`) |
/// | `is_admin_project` | bool, reads as `True`/`False` |
/// | `service_user_id`, `service_user_domain_id`, `service_project_id`, `service_project_domain_id`, `service_roles` | the service token, if any |
/// | `token.user.id`, `token.user.domain.id` | present when `user_id` (and `user_domain_id`) are set |
/// | `token.project.id`, `token.project.domain.id` | present for project scope |
/// | `token.domain.id` | present for domain scope |
/// | `token.system.all` | `True` when `system_scope` is `"all"` |
/// | `token.roles.name` | any role name |
/// | `token.is_admin_project` | present for project scope |
/// | anything else | looked up in [`Credentials::extra`] (lists are searched element-wise) |
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Credentials {
    pub user_id: Option<String>,
    pub user_domain_id: Option<String>,
    pub project_id: Option<String>,
    pub project_domain_id: Option<String>,
    /// Set for a domain-scoped token.
    pub domain_id: Option<String>,
    /// `Some("all")` for a system-scoped token.
    pub system_scope: Option<String>,
    /// Effective role names on the token's scope (implied roles included).
    pub roles: Vec<String>,
    /// Whether the project is the cloud's admin project (keystone `[resource] admin_project_*`).
    pub is_admin_project: bool,
    pub service_user_id: Option<String>,
    pub service_user_domain_id: Option<String>,
    pub service_project_id: Option<String>,
    pub service_project_domain_id: Option<String>,
    pub service_roles: Vec<String>,
    /// Further attributes for custom rules. Keys that name one of the attributes above
    /// (including `system` and `token`) are ignored.
    pub extra: Map<String, Value>,
}

/// Top-level credential names that [`Credentials::extra`] cannot shadow.
const RESERVED: &[&str] = &[
    "user_id",
    "user_domain_id",
    "project_id",
    "project_domain_id",
    "domain_id",
    "system_scope",
    "system",
    "roles",
    "is_admin_project",
    "service_user_id",
    "service_user_domain_id",
    "service_project_id",
    "service_project_domain_id",
    "service_roles",
    "token",
];

/// A credential attribute, resolved from its dotted name when a rule is parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CredAttr {
    UserId,
    UserDomainId,
    ProjectId,
    ProjectDomainId,
    DomainId,
    SystemScope,
    System,
    Roles,
    IsAdminProject,
    ServiceUserId,
    ServiceUserDomainId,
    ServiceProjectId,
    ServiceProjectDomainId,
    ServiceRoles,
    TokenUserId,
    TokenUserDomainId,
    TokenProjectId,
    TokenProjectDomainId,
    TokenDomainId,
    TokenSystemAll,
    TokenRoleNames,
    TokenIsAdminProject,
    /// A path into [`Credentials::extra`].
    Extra(Box<[Box<str>]>),
    /// A path that names an object, or goes below a value that has no attributes: it
    /// never equals anything.
    Never,
}

impl CredAttr {
    pub(crate) fn parse(path: &str) -> CredAttr {
        use CredAttr::*;
        match path {
            "user_id" => UserId,
            "user_domain_id" => UserDomainId,
            "project_id" => ProjectId,
            "project_domain_id" => ProjectDomainId,
            "domain_id" => DomainId,
            "system_scope" => SystemScope,
            "system" => System,
            "roles" => Roles,
            "is_admin_project" => IsAdminProject,
            "service_user_id" => ServiceUserId,
            "service_user_domain_id" => ServiceUserDomainId,
            "service_project_id" => ServiceProjectId,
            "service_project_domain_id" => ServiceProjectDomainId,
            "service_roles" => ServiceRoles,
            "token.user.id" => TokenUserId,
            "token.user.domain.id" => TokenUserDomainId,
            "token.project.id" => TokenProjectId,
            "token.project.domain.id" => TokenProjectDomainId,
            "token.domain.id" => TokenDomainId,
            "token.system.all" => TokenSystemAll,
            "token.roles.name" => TokenRoleNames,
            "token.is_admin_project" => TokenIsAdminProject,
            _ => {
                let first = path.split('.').next().unwrap_or(path);
                if RESERVED.contains(&first) {
                    Never
                } else {
                    Extra(path.split('.').map(Box::from).collect())
                }
            }
        }
    }
}

impl Credentials {
    /// The token's scope as oslo.policy derives it for `scope_types`: system if
    /// `system_scope` is set, else domain if `domain_id` is set, else project (which is
    /// also what an unscoped token counts as).
    pub fn scope(&self) -> Scope {
        if self.system_scope.as_deref().is_some_and(|s| !s.is_empty()) {
            Scope::System
        } else if self.domain_id.as_deref().is_some_and(|s| !s.is_empty()) {
            Scope::Domain
        } else {
            Scope::Project
        }
    }

    /// Whether the attribute equals `expected` as oslo.policy compares it
    /// (`expected == str(value)`, any element for lists).
    pub(crate) fn attr_matches(&self, attr: &CredAttr, expected: &str) -> bool {
        fn opt(v: &Option<String>, expected: &str) -> bool {
            match v {
                Some(s) => s == expected,
                None => expected == "None",
            }
        }
        fn bool_str(b: bool) -> &'static str {
            if b {
                "True"
            } else {
                "False"
            }
        }
        use CredAttr::*;
        match attr {
            UserId => opt(&self.user_id, expected),
            UserDomainId => opt(&self.user_domain_id, expected),
            ProjectId => opt(&self.project_id, expected),
            ProjectDomainId => opt(&self.project_domain_id, expected),
            DomainId => opt(&self.domain_id, expected),
            SystemScope => opt(&self.system_scope, expected),
            System => self.system().is_some_and(|s| s == expected),
            Roles => self.roles.iter().any(|r| r == expected),
            IsAdminProject => bool_str(self.is_admin_project) == expected,
            ServiceUserId => opt(&self.service_user_id, expected),
            ServiceUserDomainId => opt(&self.service_user_domain_id, expected),
            ServiceProjectId => opt(&self.service_project_id, expected),
            ServiceProjectDomainId => opt(&self.service_project_domain_id, expected),
            ServiceRoles => self.service_roles.iter().any(|r| r == expected),
            TokenUserId => self.user_id.as_deref() == Some(expected),
            TokenUserDomainId => self.user_id.is_some() && self.user_domain_id.as_deref() == Some(expected),
            TokenProjectId => self.project_id.as_deref() == Some(expected),
            TokenProjectDomainId => {
                self.project_id.is_some() && self.project_domain_id.as_deref() == Some(expected)
            }
            TokenDomainId => self.domain_id.as_deref() == Some(expected),
            TokenSystemAll => self.system_all() && expected == "True",
            TokenRoleNames => self.roles.iter().any(|r| r == expected),
            TokenIsAdminProject => self.project_id.is_some() && bool_str(self.is_admin_project) == expected,
            Extra(path) => {
                let (first, rest) = path.split_first().expect("paths have a segment");
                match self.extra.get(&**first) {
                    Some(v) => step(v, rest, expected),
                    None => false,
                }
            }
            Never => false,
        }
    }

    fn system(&self) -> Option<&str> {
        self.system_scope.as_deref().filter(|s| !s.is_empty())
    }

    fn system_all(&self) -> bool {
        self.system_scope.as_deref() == Some("all")
    }

    /// The credentials as the JSON object generic checks read (what oslo.policy's creds
    /// dict holds), e.g. for logging or for a `stratus policy check` command.
    pub fn to_value(&self) -> Value {
        fn opt(v: &Option<String>) -> Value {
            v.as_ref().map_or(Value::Null, |s| Value::String(s.clone()))
        }
        fn list(v: &[String]) -> Value {
            Value::Array(v.iter().map(|s| Value::String(s.clone())).collect())
        }
        fn id(id: &str) -> Map<String, Value> {
            let mut m = Map::new();
            m.insert("id".into(), Value::String(id.to_owned()));
            m
        }
        let mut out = Map::new();
        for (k, v) in &self.extra {
            if !RESERVED.contains(&k.as_str()) {
                out.insert(k.clone(), v.clone());
            }
        }
        out.insert("user_id".into(), opt(&self.user_id));
        out.insert("user_domain_id".into(), opt(&self.user_domain_id));
        out.insert("project_id".into(), opt(&self.project_id));
        out.insert("project_domain_id".into(), opt(&self.project_domain_id));
        out.insert("domain_id".into(), opt(&self.domain_id));
        out.insert("system_scope".into(), opt(&self.system_scope));
        if let Some(s) = self.system() {
            out.insert("system".into(), Value::String(s.to_owned()));
        }
        out.insert("roles".into(), list(&self.roles));
        out.insert("is_admin_project".into(), Value::Bool(self.is_admin_project));
        out.insert("service_user_id".into(), opt(&self.service_user_id));
        out.insert("service_user_domain_id".into(), opt(&self.service_user_domain_id));
        out.insert("service_project_id".into(), opt(&self.service_project_id));
        out.insert("service_project_domain_id".into(), opt(&self.service_project_domain_id));
        out.insert("service_roles".into(), list(&self.service_roles));

        let mut token = Map::new();
        if let Some(user_id) = &self.user_id {
            let mut user = id(user_id);
            if let Some(d) = &self.user_domain_id {
                user.insert("domain".into(), Value::Object(id(d)));
            }
            token.insert("user".into(), Value::Object(user));
        }
        if let Some(project_id) = &self.project_id {
            let mut project = id(project_id);
            if let Some(d) = &self.project_domain_id {
                project.insert("domain".into(), Value::Object(id(d)));
            }
            token.insert("project".into(), Value::Object(project));
            token.insert("is_admin_project".into(), Value::Bool(self.is_admin_project));
        }
        if let Some(d) = &self.domain_id {
            token.insert("domain".into(), Value::Object(id(d)));
        }
        if self.system_all() {
            let mut system = Map::new();
            system.insert("all".into(), Value::Bool(true));
            token.insert("system".into(), Value::Object(system));
        }
        token.insert(
            "roles".into(),
            Value::Array(
                self.roles
                    .iter()
                    .map(|r| {
                        let mut m = Map::new();
                        m.insert("name".into(), Value::String(r.clone()));
                        Value::Object(m)
                    })
                    .collect(),
            ),
        );
        out.insert("token".into(), Value::Object(token));
        Value::Object(out)
    }
}

/// oslo.policy's walk of the creds dict: `value` was found for the previous segment; a
/// list is searched element by element with the remaining path.
fn step(value: &Value, rest: &[Box<str>], expected: &str) -> bool {
    match value {
        Value::Array(items) => items.iter().any(|v| find(v, rest, expected)),
        other => find(other, rest, expected),
    }
}

fn find(value: &Value, rest: &[Box<str>], expected: &str) -> bool {
    let Some((first, rest)) = rest.split_first() else {
        return leaf_eq(value, expected);
    };
    match value.as_object().and_then(|m| m.get(&**first)) {
        Some(v) => step(v, rest, expected),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Credentials {
        let mut extra = Map::new();
        extra.insert("tenant".into(), json!("t1"));
        extra.insert("nested".into(), json!({"a": {"b": 5}, "flag": false}));
        extra.insert("groups".into(), json!([{"id": "g1"}, {"id": "g2"}]));
        extra.insert("tags".into(), json!(["x", "y"]));
        extra.insert("nothing".into(), Value::Null);
        // Reserved names in `extra` are ignored.
        extra.insert("token".into(), json!("shadow"));
        extra.insert("system".into(), json!("shadow"));
        Credentials {
            user_id: Some("u1".into()),
            user_domain_id: Some("d1".into()),
            project_id: Some("p1".into()),
            project_domain_id: Some("d2".into()),
            domain_id: None,
            system_scope: None,
            roles: vec!["member".into(), "Reader".into()],
            is_admin_project: true,
            service_user_id: Some("svc".into()),
            service_user_domain_id: None,
            service_project_id: None,
            service_project_domain_id: None,
            service_roles: vec!["service".into()],
            extra,
        }
    }

    /// Every leaf of `to_value()` must be matched by the fast attribute lookup under its
    /// dotted path, and differing values must not match.
    fn assert_consistent(creds: &Credentials) {
        fn walk(v: &Value, path: String, out: &mut Vec<(String, Value)>) {
            match v {
                Value::Object(m) => {
                    for (k, v) in m {
                        let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                        walk(v, p, out);
                    }
                }
                Value::Array(items) => {
                    for item in items {
                        walk(item, path.clone(), out);
                    }
                }
                leaf => out.push((path, leaf.clone())),
            }
        }
        let mut leaves = Vec::new();
        walk(&creds.to_value(), String::new(), &mut leaves);
        assert!(leaves.len() > 10);
        for (path, leaf) in leaves {
            let attr = CredAttr::parse(&path);
            let expected = crate::policy::check::py_str(&leaf).unwrap();
            assert!(creds.attr_matches(&attr, &expected), "{path} should match {expected}");
            assert!(!creds.attr_matches(&attr, "no-such-value"), "{path} should not match anything");
        }
    }

    #[test]
    fn fast_lookup_agrees_with_value_form() {
        assert_consistent(&sample());
        assert_consistent(&Credentials::default());
        assert_consistent(&Credentials {
            user_id: Some("admin".into()),
            system_scope: Some("all".into()),
            roles: vec!["admin".into()],
            ..Default::default()
        });
        assert_consistent(&Credentials {
            user_id: Some("dm".into()),
            domain_id: Some("d9".into()),
            roles: vec!["manager".into()],
            ..Default::default()
        });
    }

    #[test]
    fn python_semantics_of_attributes() {
        let c = sample();
        let m = |p: &str, v: &str| c.attr_matches(&CredAttr::parse(p), v);
        // Unset top-level attributes read as None; unset token parts are absent.
        assert!(m("domain_id", "None"));
        assert!(m("system_scope", "None"));
        assert!(!m("token.domain.id", "None"));
        assert!(!m("system", "None"));
        assert!(m("is_admin_project", "True"));
        assert!(m("token.is_admin_project", "True"));
        assert!(m("token.project.domain.id", "d2"));
        assert!(m("token.user.domain.id", "d1"));
        // Lists match any element; `roles:` is case-sensitive.
        assert!(m("roles", "member"));
        assert!(!m("roles", "reader"));
        assert!(m("token.roles.name", "Reader"));
        assert!(m("groups.id", "g2"));
        assert!(m("tags", "y"));
        assert!(m("nested.a.b", "5"));
        assert!(m("nested.flag", "False"));
        assert!(m("nothing", "None"));
        assert!(m("tenant", "t1"));
        // Objects, paths below scalars and shadowed reserved names never match.
        assert!(!m("nested.a", "{'b': 5}"));
        assert!(!m("tenant.x", "t1"));
        assert!(!m("roles.name", "member"));
        assert!(!m("token", "shadow"));
        assert!(!m("token.user", "u1"));
        assert!(!m("missing", "None"));
    }

    #[test]
    fn scope_of_a_token() {
        let mut c = Credentials::default();
        assert_eq!(c.scope(), Scope::Project);
        c.domain_id = Some("d".into());
        assert_eq!(c.scope(), Scope::Domain);
        c.system_scope = Some("all".into());
        assert_eq!(c.scope(), Scope::System);
        c.system_scope = Some(String::new());
        assert_eq!(c.scope(), Scope::Domain);
    }
}
