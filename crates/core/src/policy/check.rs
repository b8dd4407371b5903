//! The parsed form of a check string and its evaluation.
//!
//! Rules are parsed once (at load time) into this tree; evaluating it borrows from the
//! credentials and the target and only allocates in the rare cases noted on
//! [`Template::render`].

use std::borrow::Cow;
use std::fmt;

use serde_json::Value;

use super::credentials::{CredAttr, Credentials};

/// One node of a parsed rule.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Check {
    /// `@` (and the empty rule): always passes.
    True,
    /// `!`: never passes.
    False,
    /// `rule:NAME`: the result of another rule; an unknown rule fails.
    Rule(RuleRef),
    /// `role:NAME`: the caller holds the role (compared case-insensitively).
    Role(Template),
    /// `kind:match` for any other kind: a credential attribute (or a literal) equals the
    /// match after `%(...)s` substitution from the target.
    Generic {
        left: Left,
        right: Template,
    },
    Not(Box<Check>),
    And(Vec<Check>),
    Or(Vec<Check>),
}

/// A `rule:NAME` reference; `slot` is filled in when the policy links its rules.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RuleRef {
    pub name: Box<str>,
    pub slot: Option<usize>,
}

/// Left side of a generic check.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Left {
    /// A Python-style literal such as `'member'`, `True` or `1`; `value` is its `str()`.
    Literal { text: Box<str>, value: Box<str> },
    /// A (dotted) credential attribute.
    Attr { path: Box<str>, attr: CredAttr },
}

/// The right side of a check: text with optional `%(dotted.key)s` substitutions.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Template {
    Literal(Box<str>),
    Subst(Subst),
    Mixed(Box<[Piece]>),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Piece {
    Text(Box<str>),
    Subst(Subst),
}

/// One `%(key)s` substitution.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Subst {
    /// The key as written, e.g. `target.user.domain_id`.
    pub key: Box<str>,
    /// The key split on `.`, for nested targets.
    pub path: Box<[Box<str>]>,
}

/// What an evaluation reads.
pub(crate) struct Ctx<'a> {
    pub creds: &'a Credentials,
    pub target: &'a Value,
    /// Every rule of the policy, indexed by [`RuleRef::slot`].
    pub rules: &'a [Check],
}

impl Check {
    pub(crate) fn eval(&self, cx: &Ctx<'_>) -> bool {
        match self {
            Check::True => true,
            Check::False => false,
            Check::Rule(r) => match r.slot {
                Some(i) => cx.rules[i].eval(cx),
                None => false,
            },
            Check::Role(t) => match t.render(cx.target) {
                Some(role) => cx.creds.roles.iter().any(|r| eq_ignore_case(r, &role)),
                None => false,
            },
            Check::Generic { left, right } => {
                let Some(expected) = right.render(cx.target) else {
                    return false;
                };
                match left {
                    Left::Literal { value, .. } => **value == *expected,
                    Left::Attr { attr, .. } => cx.creds.attr_matches(attr, &expected),
                }
            }
            Check::Not(c) => !c.eval(cx),
            Check::And(cs) => cs.iter().all(|c| c.eval(cx)),
            Check::Or(cs) => cs.iter().any(|c| c.eval(cx)),
        }
    }

    /// Calls `f` on every `rule:` reference in this tree.
    pub(crate) fn for_each_ref_mut(&mut self, f: &mut impl FnMut(&mut RuleRef)) {
        match self {
            Check::Rule(r) => f(r),
            Check::Not(c) => c.for_each_ref_mut(f),
            Check::And(cs) | Check::Or(cs) => cs.iter_mut().for_each(|c| c.for_each_ref_mut(f)),
            Check::True | Check::False | Check::Role(_) | Check::Generic { .. } => {}
        }
    }

    /// Calls `f` on every `rule:` reference in this tree.
    pub(crate) fn for_each_ref<'a>(&'a self, f: &mut impl FnMut(&'a RuleRef)) {
        match self {
            Check::Rule(r) => f(r),
            Check::Not(c) => c.for_each_ref(f),
            Check::And(cs) | Check::Or(cs) => cs.iter().for_each(|c| c.for_each_ref(f)),
            Check::True | Check::False | Check::Role(_) | Check::Generic { .. } => {}
        }
    }
}

/// Canonical text, with every `and`/`or` group parenthesised (as oslo.policy prints trees).
impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn join(f: &mut fmt::Formatter<'_>, cs: &[Check], op: &str) -> fmt::Result {
            f.write_str("(")?;
            for (i, c) in cs.iter().enumerate() {
                if i > 0 {
                    write!(f, " {op} ")?;
                }
                write!(f, "{c}")?;
            }
            f.write_str(")")
        }
        match self {
            Check::True => f.write_str("@"),
            Check::False => f.write_str("!"),
            Check::Rule(r) => write!(f, "rule:{}", r.name),
            Check::Role(t) => write!(f, "role:{t}"),
            Check::Generic { left, right } => match left {
                Left::Literal { text, .. } => write!(f, "{text}:{right}"),
                Left::Attr { path, .. } => write!(f, "{path}:{right}"),
            },
            Check::Not(c) => write!(f, "not {c}"),
            Check::And(cs) => join(f, cs, "and"),
            Check::Or(cs) => join(f, cs, "or"),
        }
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn text(f: &mut fmt::Formatter<'_>, t: &str) -> fmt::Result {
            f.write_str(&t.replace('%', "%%"))
        }
        match self {
            Template::Literal(t) => text(f, t),
            Template::Subst(s) => write!(f, "%({})s", s.key),
            Template::Mixed(pieces) => {
                for p in pieces.iter() {
                    match p {
                        Piece::Text(t) => text(f, t)?,
                        Piece::Subst(s) => write!(f, "%({})s", s.key)?,
                    }
                }
                Ok(())
            }
        }
    }
}

impl Template {
    /// The match text with substitutions applied, or `None` when a substituted key is
    /// missing from the target (the check then fails, as oslo.policy's `KeyError`).
    ///
    /// Borrows for a plain literal and for a single string substitution; allocates only
    /// for numbers and for text mixing literals with substitutions.
    pub(crate) fn render<'a>(&'a self, target: &'a Value) -> Option<Cow<'a, str>> {
        match self {
            Template::Literal(t) => Some(Cow::Borrowed(t)),
            Template::Subst(s) => py_str(s.resolve(target)?),
            Template::Mixed(pieces) => {
                let mut out = String::new();
                for p in pieces.iter() {
                    match p {
                        Piece::Text(t) => out.push_str(t),
                        Piece::Subst(s) => out.push_str(&py_str(s.resolve(target)?)?),
                    }
                }
                Some(Cow::Owned(out))
            }
        }
    }
}

impl Subst {
    /// Finds the value for this key: first a literal (flattened) top-level key such as
    /// `"target.user.id"`, then the nested path `target` → `user` → `id`.
    pub(crate) fn resolve<'a>(&self, target: &'a Value) -> Option<&'a Value> {
        let root = target.as_object()?;
        if let Some(v) = root.get(&*self.key) {
            return Some(v);
        }
        if self.path.len() < 2 {
            return None;
        }
        let mut cur = target;
        for seg in self.path.iter() {
            cur = cur.as_object()?.get(&**seg)?;
        }
        Some(cur)
    }
}

/// Python's `str()` of a JSON value, as the `%` operator would render it. Objects and
/// arrays render as `None`: their Python repr never equals a credential value, so the
/// check simply fails.
pub(crate) fn py_str(v: &Value) -> Option<Cow<'_, str>> {
    match v {
        Value::String(s) => Some(Cow::Borrowed(s)),
        Value::Bool(true) => Some(Cow::Borrowed("True")),
        Value::Bool(false) => Some(Cow::Borrowed("False")),
        Value::Null => Some(Cow::Borrowed("None")),
        Value::Number(n) => Some(Cow::Owned(py_number(n))),
        Value::Array(_) | Value::Object(_) => None,
    }
}

/// `match == str(value)` for a JSON leaf.
pub(crate) fn leaf_eq(v: &Value, expected: &str) -> bool {
    match v {
        Value::Number(n) => py_number(n) == expected,
        Value::Array(_) | Value::Object(_) => false,
        other => py_str(other).is_some_and(|s| s == expected),
    }
}

fn py_number(n: &serde_json::Number) -> String {
    if let Some(i) = n.as_i64() {
        i.to_string()
    } else if let Some(u) = n.as_u64() {
        u.to_string()
    } else {
        py_float(n.as_f64().unwrap_or(f64::NAN))
    }
}

/// Python's `repr(float)`: the shortest round-tripping digits, in fixed notation when the
/// decimal exponent is in `-4..16` (always with a fractional part), else `1e+16` style.
pub(crate) fn py_float(x: f64) -> String {
    if x.is_nan() {
        return "nan".to_owned();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    let sci = format!("{x:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let mut out = String::from(sign);
    if (-4..16).contains(&exp) {
        if exp >= 0 {
            let int_len = exp as usize + 1;
            if digits.len() <= int_len {
                out.push_str(&digits);
                out.extend(std::iter::repeat_n('0', int_len - digits.len()));
                out.push_str(".0");
            } else {
                out.push_str(&digits[..int_len]);
                out.push('.');
                out.push_str(&digits[int_len..]);
            }
        } else {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', (-exp - 1) as usize));
            out.push_str(&digits);
        }
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push_str(&format!("e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs()));
    }
    out
}

/// Case-insensitive equality as Python's `a.lower() == b.lower()`, without allocating.
pub(crate) fn eq_ignore_case(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        return a.eq_ignore_ascii_case(b);
    }
    a.chars().flat_map(char::to_lowercase).eq(b.chars().flat_map(char::to_lowercase))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn python_float_repr() {
        let cases = [
            (1.0, "1.0"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.5, "1.5"),
            (1000.0, "1000.0"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (1e16, "1e+16"),
            (1.25e20, "1.25e+20"),
            (123456789012345.6, "123456789012345.6"),
            (-2.5, "-2.5"),
            (0.1, "0.1"),
        ];
        for (x, want) in cases {
            assert_eq!(py_float(x), want, "repr({x})");
        }
    }

    #[test]
    fn python_str_of_json() {
        assert_eq!(py_str(&json!("x")).as_deref(), Some("x"));
        assert_eq!(py_str(&json!(true)).as_deref(), Some("True"));
        assert_eq!(py_str(&json!(false)).as_deref(), Some("False"));
        assert_eq!(py_str(&json!(null)).as_deref(), Some("None"));
        assert_eq!(py_str(&json!(42)).as_deref(), Some("42"));
        assert_eq!(py_str(&json!(-7)).as_deref(), Some("-7"));
        assert_eq!(py_str(&json!(2.0)).as_deref(), Some("2.0"));
        assert_eq!(py_str(&json!(["a"])), None);
        assert_eq!(py_str(&json!({"a": 1})), None);
        assert!(leaf_eq(&json!(3), "3"));
        assert!(!leaf_eq(&json!({"a": 1}), "None"));
    }

    #[test]
    fn case_insensitive_equality() {
        assert!(eq_ignore_case("Admin", "aDMIN"));
        assert!(!eq_ignore_case("admin", "admins"));
        assert!(eq_ignore_case("ÉTÉ", "été"));
        assert!(!eq_ignore_case("été", "ete"));
    }

    #[test]
    fn subst_prefers_flat_key_then_nested_path() {
        let s = Subst {
            key: "target.user.id".into(),
            path: vec!["target".into(), "user".into(), "id".into()].into(),
        };
        let nested = json!({"target": {"user": {"id": "u1"}}});
        assert_eq!(s.resolve(&nested), Some(&json!("u1")));
        let flat = json!({"target.user.id": "u2", "target": {"user": {"id": "u1"}}});
        assert_eq!(s.resolve(&flat), Some(&json!("u2")));
        assert_eq!(s.resolve(&json!({"target": {"user": {}}})), None);
        assert_eq!(s.resolve(&json!({"target": {"user": "x"}})), None);
        assert_eq!(s.resolve(&json!("not an object")), None);
    }
}
