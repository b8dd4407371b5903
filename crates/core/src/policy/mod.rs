//! Policy engine: oslo.policy-compatible rules as data.
//!
//! A service declares its default rules as [`RuleDefault`] consts; [`Policy::new`] parses
//! them, [`Policy::load_overrides`] lays an operator's `policy.yaml` / `policy.json` over
//! them, and handlers call [`Policy::enforce`] or [`Policy::authorize`] with the rule name,
//! the caller's [`Credentials`] and a JSON target describing the object acted upon.
//!
//! # The rule language
//!
//! The check strings of oslo.policy (see `parser` for the grammar):
//!
//! * `@` always passes, `!` never does, and so does the empty check string;
//! * `role:NAME` — the caller holds the role, compared case-insensitively;
//! * `rule:NAME` — another rule passes; a name that is not defined fails;
//! * `attr:value` — the credential attribute `attr` (dotted, see [`Credentials`]) equals
//!   `value`; `value` may substitute `%(dotted.key)s` from the target, e.g.
//!   `user_id:%(target.user.id)s`, `system_scope:all`, `token.is_admin_project:True`;
//! * `LITERAL:value` — a Python literal compared with the substituted value, e.g.
//!   `'member':%(target.role.name)s`, `True:%(target.user.enabled)s`,
//!   `None:%(target.role.domain_id)s`;
//! * `not`, `and`, `or` (loosest) and parentheses.
//!
//! Values compare as oslo.policy compares them: as Python `str()`s. JSON `null` (in the
//! target) and an unset credential attribute both read as `None`, booleans as
//! `True`/`False`. A substitution key that is absent from the target makes the check
//! fail (and `not` of it pass), so handlers must **leave out** keys they do not know
//! rather than set them to `null`: keystone's rules rely on `None` comparisons such as
//! `not None:%(target.project.domain_id)s`.
//!
//! # Targets
//!
//! The target is a JSON object. `%(a.b.c)s` first looks for a top-level key `"a.b.c"`
//! (keystone's flattened form) and then for the nested path `a` → `b` → `c`. Following
//! keystone, path parameters of the request go at the top level (`{"user_id": ...}`),
//! and the objects acted upon under `"target"` (`{"target": {"user": {...}}}`).
//!
//! # Scope
//!
//! A rule default may list the token scopes it is meant for ([`RuleDefault::scope_types`]).
//! As in oslo.policy (where scope enforcement can no longer be turned off), a request whose
//! token scope (see [`Credentials::scope`]) is not listed is denied before the check
//! string is evaluated; overriding the check string does not change the scope types.
//!
//! # Differences from oslo.policy
//!
//! * Malformed rules are load errors (reported with the rule name), not silent "never"s;
//!   so are `rule:` cycles. Remote `http:`/`https:` checks are not supported.
//! * There is no `default` rule fallback: an unknown rule name is denied.
//! * Deprecated rules and their aliases are not modelled (oslo's
//!   `enforce_new_defaults = True`, its default, behaves the same).
//! * Lists of lists (the pre-2014 JSON rule syntax) are not accepted.

mod check;
mod credentials;
mod file;
mod parser;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::Value;

use check::{Check, Ctx};

pub use credentials::Credentials;
pub use parser::ParseError;

/// The token scopes of oslo.policy's `scope_types`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    System,
    Domain,
    Project,
}

impl Scope {
    pub const fn as_str(self) -> &'static str {
        match self {
            Scope::System => "system",
            Scope::Domain => "domain",
            Scope::Project => "project",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One API operation a rule protects, for documentation and sample files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operation {
    pub method: &'static str,
    pub path: &'static str,
}

impl Operation {
    pub const fn new(method: &'static str, path: &'static str) -> Self {
        Operation { method, path }
    }
}

/// A default rule, declared by a service as data.
///
/// ```
/// use stratus_core::policy::{Operation, RuleDefault, Scope};
///
/// const RULES: &[RuleDefault] = &[
///     RuleDefault::new("admin_required", "role:admin"),
///     RuleDefault::new("thing:get", "rule:admin_required or project_id:%(target.project.id)s")
///         .description("Show a thing.")
///         .scope_types(&[Scope::Project])
///         .operations(&[Operation::new("GET", "/v1/things/{thing_id}")]),
/// ];
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleDefault {
    pub name: &'static str,
    pub check_str: &'static str,
    pub description: &'static str,
    /// Token scopes the operation is meant for; empty means any scope.
    pub scope_types: &'static [Scope],
    pub operations: &'static [Operation],
}

impl RuleDefault {
    pub const fn new(name: &'static str, check_str: &'static str) -> Self {
        RuleDefault { name, check_str, description: "", scope_types: &[], operations: &[] }
    }

    pub const fn description(mut self, description: &'static str) -> Self {
        self.description = description;
        self
    }

    pub const fn scope_types(mut self, scope_types: &'static [Scope]) -> Self {
        self.scope_types = scope_types;
        self
    }

    pub const fn operations(mut self, operations: &'static [Operation]) -> Self {
        self.operations = operations;
        self
    }
}

/// Errors loading rules.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// A check string does not parse.
    #[error("{origin}: rule `{name}` ({check_str:?}): {error}")]
    InvalidRule {
        origin: String,
        name: String,
        check_str: String,
        #[source]
        error: ParseError,
    },
    /// Two defaults have the same name.
    #[error("rule `{0}` is defined more than once in the defaults")]
    DuplicateRule(String),
    /// Rules reference each other in a loop.
    #[error("{origin}: rules reference each other in a cycle: {}", .cycle.join(" -> "))]
    Cycle { origin: String, cycle: Vec<String> },
    #[error("cannot read policy file {}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The override file is not JSON or not the supported YAML subset.
    #[error("{origin}{}: {message}", line_suffix(*.line))]
    Format { origin: String, line: usize, message: String },
}

fn line_suffix(line: usize) -> String {
    if line == 0 {
        String::new()
    } else {
        format!(":{line}")
    }
}

/// Why a request was denied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenyReason {
    /// No rule of that name exists.
    UnknownRule,
    /// The token's scope is not one of the rule's scope types.
    Scope(Scope),
    /// The check string did not pass.
    Check,
}

/// A request the policy does not allow. Services answer it with 403 Forbidden.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("policy does not allow `{rule}` to be performed{}", self.detail())]
pub struct PolicyDenied {
    pub rule: String,
    pub reason: DenyReason,
}

impl PolicyDenied {
    fn detail(&self) -> String {
        match self.reason {
            DenyReason::UnknownRule => " (no such rule)".to_owned(),
            DenyReason::Scope(s) => format!(" with a {s}-scoped token"),
            DenyReason::Check => String::new(),
        }
    }
}

/// A rule as [`Policy::rules`] lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleInfo<'a> {
    pub name: &'a str,
    /// The effective check string (the override's, if any).
    pub check_str: &'a str,
    /// The service's default, if the rule has one.
    pub default: Option<&'a RuleDefault>,
    /// Whether an override file or [`Policy::set_rule`] replaced (or added) the rule.
    pub overridden: bool,
}

#[derive(Debug, Clone)]
struct Meta {
    name: Box<str>,
    check_str: Box<str>,
    default: Option<RuleDefault>,
    overridden: bool,
}

/// A set of parsed rules. Cheap to share (`Arc<Policy>`); enforcement takes `&self`.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    meta: Vec<Meta>,
    /// Parsed rules, parallel to `meta`, with `rule:` references resolved to indices.
    checks: Vec<Check>,
    index: HashMap<Box<str>, usize>,
}

impl Policy {
    /// Parses the defaults. Every check string must parse, names must be unique and
    /// `rule:` references must not form a cycle. References to undefined rules are
    /// allowed (they deny, as in oslo.policy) and logged; see
    /// [`Policy::unresolved_references`].
    pub fn new(defaults: &[RuleDefault]) -> Result<Policy, PolicyError> {
        let mut policy = Policy::default();
        for d in defaults {
            if policy.index.contains_key(d.name) {
                return Err(PolicyError::DuplicateRule(d.name.to_owned()));
            }
            let check = parse_rule("defaults", d.name, d.check_str)?;
            policy.index.insert(d.name.into(), policy.meta.len());
            policy.meta.push(Meta {
                name: d.name.into(),
                check_str: d.check_str.into(),
                default: Some(*d),
                overridden: false,
            });
            policy.checks.push(check);
        }
        policy.link("defaults")?;
        Ok(policy)
    }

    /// Lays the rules of an operator's policy file over the current ones (replacing rules
    /// of the same name, adding others). The file is JSON if it starts with `{`, else the
    /// YAML that `oslopolicy-sample-generator` writes. Nothing changes on error.
    pub fn load_overrides(&mut self, path: impl AsRef<Path>) -> Result<(), PolicyError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|source| PolicyError::Io { path: path.to_owned(), source })?;
        self.apply_overrides(&text, &path.display().to_string())
    }

    /// [`Policy::load_overrides`] from text; `origin` names it in errors (e.g. a path).
    pub fn apply_overrides(&mut self, text: &str, origin: &str) -> Result<(), PolicyError> {
        let pairs = read_pairs(text, origin)?;
        self.apply_pairs(&pairs, origin)
    }

    /// Replaces (or adds) one rule.
    pub fn set_rule(&mut self, name: &str, check_str: &str) -> Result<(), PolicyError> {
        self.apply_pairs(&[(name.to_owned(), check_str.to_owned())], "set_rule")
    }

    fn apply_pairs(&mut self, pairs: &[(String, String)], origin: &str) -> Result<(), PolicyError> {
        let mut next = self.clone();
        for (name, check_str) in pairs {
            let check = parse_rule(origin, name, check_str)?;
            match next.index.get(name.as_str()) {
                Some(&i) => {
                    next.meta[i].check_str = check_str.as_str().into();
                    next.meta[i].overridden = true;
                    next.checks[i] = check;
                }
                None => {
                    tracing::warn!(
                        rule = %name,
                        "{origin}: policy rule `{name}` is not one of the service's rules; adding it"
                    );
                    next.index.insert(name.as_str().into(), next.meta.len());
                    next.meta.push(Meta {
                        name: name.as_str().into(),
                        check_str: check_str.as_str().into(),
                        default: None,
                        overridden: true,
                    });
                    next.checks.push(check);
                }
            }
        }
        next.link(origin)?;
        *self = next;
        Ok(())
    }

    /// Resolves `rule:` references to indices and rejects cycles.
    fn link(&mut self, origin: &str) -> Result<(), PolicyError> {
        let index = &self.index;
        for check in &mut self.checks {
            check.for_each_ref_mut(&mut |r| r.slot = index.get(&r.name).copied());
        }
        // Depth-first search for a back edge.
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            New,
            Active,
            Done,
        }
        fn visit(
            i: usize,
            checks: &[Check],
            marks: &mut [Mark],
            stack: &mut Vec<usize>,
        ) -> Option<Vec<usize>> {
            marks[i] = Mark::Active;
            stack.push(i);
            let mut deps = Vec::new();
            checks[i].for_each_ref(&mut |r| deps.extend(r.slot));
            for j in deps {
                match marks[j] {
                    Mark::Active => {
                        let start = stack.iter().position(|&k| k == j).unwrap_or(0);
                        let mut cycle = stack[start..].to_vec();
                        cycle.push(j);
                        return Some(cycle);
                    }
                    Mark::New => {
                        if let Some(c) = visit(j, checks, marks, stack) {
                            return Some(c);
                        }
                    }
                    Mark::Done => {}
                }
            }
            stack.pop();
            marks[i] = Mark::Done;
            None
        }
        let mut marks = vec![Mark::New; self.checks.len()];
        for i in 0..self.checks.len() {
            if marks[i] == Mark::New {
                if let Some(cycle) = visit(i, &self.checks, &mut marks, &mut Vec::new()) {
                    return Err(PolicyError::Cycle {
                        origin: origin.to_owned(),
                        cycle: cycle.into_iter().map(|k| self.meta[k].name.to_string()).collect(),
                    });
                }
            }
        }
        for (rule, missing) in self.unresolved_references() {
            tracing::warn!(
                "{origin}: policy rule `{rule}` references undefined rule `{missing}`, which always denies"
            );
        }
        Ok(())
    }

    /// Whether `creds` may perform `rule` on `target`. Unknown rules are denied.
    pub fn enforce(&self, rule: &str, creds: &Credentials, target: &Value) -> bool {
        self.evaluate(rule, creds, target).is_ok()
    }

    /// Like [`Policy::enforce`], with the reason for a denial.
    pub fn authorize(&self, rule: &str, creds: &Credentials, target: &Value) -> Result<(), PolicyDenied> {
        self.evaluate(rule, creds, target).map_err(|reason| {
            tracing::debug!(rule, ?reason, "policy denied");
            PolicyDenied { rule: rule.to_owned(), reason }
        })
    }

    fn evaluate(&self, rule: &str, creds: &Credentials, target: &Value) -> Result<(), DenyReason> {
        let Some(&i) = self.index.get(rule) else {
            return Err(DenyReason::UnknownRule);
        };
        if let Some(d) = &self.meta[i].default {
            if !d.scope_types.is_empty() {
                let scope = creds.scope();
                if !d.scope_types.contains(&scope) {
                    return Err(DenyReason::Scope(scope));
                }
            }
        }
        let cx = Ctx { creds, target, rules: &self.checks };
        if self.checks[i].eval(&cx) {
            Ok(())
        } else {
            Err(DenyReason::Check)
        }
    }

    /// Whether a rule of that name exists.
    pub fn contains(&self, rule: &str) -> bool {
        self.index.contains_key(rule)
    }

    /// One rule by name.
    pub fn rule(&self, name: &str) -> Option<RuleInfo<'_>> {
        self.index.get(name).map(|&i| self.info(i))
    }

    /// Every rule: the defaults in declaration order, then rules only the overrides define.
    pub fn rules(&self) -> impl ExactSizeIterator<Item = RuleInfo<'_>> + '_ {
        (0..self.meta.len()).map(|i| self.info(i))
    }

    fn info(&self, i: usize) -> RuleInfo<'_> {
        let m = &self.meta[i];
        RuleInfo {
            name: &m.name,
            check_str: &m.check_str,
            default: m.default.as_ref(),
            overridden: m.overridden,
        }
    }

    /// `(rule, referenced name)` for every `rule:` reference to a rule that does not exist.
    pub fn unresolved_references(&self) -> Vec<(&str, &str)> {
        let mut out = Vec::new();
        for (m, check) in self.meta.iter().zip(&self.checks) {
            check.for_each_ref(&mut |r| {
                if r.slot.is_none() {
                    out.push((&*m.name, &*r.name));
                }
            });
        }
        out
    }

    /// The effective rules as a policy file in oslo.policy's YAML form (what
    /// `oslopolicy-policy-generator` prints): with `help`, each rule is preceded by its
    /// description, operations and scope types as comments.
    pub fn to_yaml(&self, help: bool) -> String {
        let mut out = String::new();
        for r in self.rules() {
            write_yaml_rule(&mut out, r.name, r.check_str, r.default, help, false);
        }
        out
    }
}

/// A sample policy file for `defaults` in oslo.policy's YAML form (what
/// `oslopolicy-sample-generator` writes): every rule documented and commented out.
pub fn sample_yaml(defaults: &[RuleDefault]) -> String {
    let mut out = String::new();
    for d in defaults {
        write_yaml_rule(&mut out, d.name, d.check_str, Some(d), true, true);
    }
    out
}

fn write_yaml_rule(
    out: &mut String,
    name: &str,
    check_str: &str,
    default: Option<&RuleDefault>,
    help: bool,
    commented: bool,
) {
    if help {
        if let Some(d) = default {
            if !d.description.is_empty() {
                file::write_comment(out, d.description);
            }
            for op in d.operations {
                out.push_str(&format!("# {}  {}\n", op.method, op.path));
            }
            if !d.scope_types.is_empty() {
                let scopes: Vec<&str> = d.scope_types.iter().map(|s| s.as_str()).collect();
                out.push_str(&format!("# Intended scope(s): {}\n", scopes.join(", ")));
            }
        }
    }
    if commented {
        out.push('#');
    }
    out.push_str(&file::yaml_quote(name));
    out.push_str(": ");
    out.push_str(&file::yaml_quote(check_str));
    out.push('\n');
    if help {
        out.push('\n');
    }
}

/// Parses an override file's text (JSON or the YAML subset) into `(name, check string)`
/// pairs without applying them, checking that every check string parses; for tooling
/// such as a `stratus policy validate` command.
pub fn parse_overrides(text: &str, origin: &str) -> Result<Vec<(String, String)>, PolicyError> {
    let pairs = read_pairs(text, origin)?;
    for (name, check_str) in &pairs {
        parse_rule(origin, name, check_str)?;
    }
    Ok(pairs)
}

fn read_pairs(text: &str, origin: &str) -> Result<Vec<(String, String)>, PolicyError> {
    file::parse_overrides(text).map_err(|e| PolicyError::Format {
        origin: origin.to_owned(),
        line: e.line,
        message: e.message,
    })
}

fn parse_rule(origin: &str, name: &str, check_str: &str) -> Result<Check, PolicyError> {
    parser::parse(check_str).map_err(|error| PolicyError::InvalidRule {
        origin: origin.to_owned(),
        name: name.to_owned(),
        check_str: check_str.to_owned(),
        error,
    })
}
