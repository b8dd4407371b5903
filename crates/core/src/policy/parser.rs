//! The check-string language of oslo.policy.
//!
//! Tokens are separated by whitespace; `(` may lead and `)` may trail any token; `and`,
//! `or` and `not` are keywords in any case. Precedence, loosest first: `or`, `and`, `not`.
//! A check is `@`, `!` or `kind:match`: `rule:NAME`, `role:NAME`, or a generic check
//! whose kind is a Python literal (`'member'`, `"x"`, `True`, `False`, `None`, a number)
//! or a dotted credential attribute, and whose match may substitute `%(dotted.key)s`
//! from the target (`%%` is a literal `%`).
//!
//! Where oslo.policy silently turns a malformed check into "never" (fail closed), this
//! parser reports an error instead, so bad rules are caught at load time.

use std::fmt;

use super::check::{py_float, Check, Left, Piece, RuleRef, Subst, Template};
use super::credentials::CredAttr;

/// Why a check string could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    message: String,
}

impl ParseError {
    fn new(message: impl Into<String>) -> Self {
        ParseError { message: message.into() }
    }

    /// The human-readable reason.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ParseError {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok<'a> {
    LParen,
    RParen,
    And,
    Or,
    Not,
    Check(&'a str),
}

impl fmt::Display for Tok<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::LParen => f.write_str("("),
            Tok::RParen => f.write_str(")"),
            Tok::And => f.write_str("and"),
            Tok::Or => f.write_str("or"),
            Tok::Not => f.write_str("not"),
            Tok::Check(c) => f.write_str(c),
        }
    }
}

fn tokenize(rule: &str) -> Result<Vec<Tok<'_>>, ParseError> {
    let mut toks = Vec::new();
    for word in rule.split_whitespace() {
        let clean = word.trim_start_matches('(');
        toks.extend(std::iter::repeat_n(Tok::LParen, word.len() - clean.len()));
        if clean.is_empty() {
            continue;
        }
        let inner = clean.trim_end_matches(')');
        let trailing = clean.len() - inner.len();
        if inner.eq_ignore_ascii_case("and") {
            toks.push(Tok::And);
        } else if inner.eq_ignore_ascii_case("or") {
            toks.push(Tok::Or);
        } else if inner.eq_ignore_ascii_case("not") {
            toks.push(Tok::Not);
        } else if !inner.is_empty() {
            let b = clean.as_bytes();
            if b.len() >= 2 && (b[0] == b'"' || b[0] == b'\'') && b[b.len() - 1] == b[0] {
                return Err(ParseError::new(format!(
                    "a quoted string ({clean}) cannot stand alone; a check is `kind:match`"
                )));
            }
            toks.push(Tok::Check(inner));
        }
        toks.extend(std::iter::repeat_n(Tok::RParen, trailing));
    }
    Ok(toks)
}

/// Parses a check string. The empty (or all-blank) string is "always allow".
pub(crate) fn parse(rule: &str) -> Result<Check, ParseError> {
    let toks = tokenize(rule)?;
    if toks.is_empty() {
        return Ok(Check::True);
    }
    let mut p = Parser { toks, pos: 0 };
    let check = p.or_expr()?;
    match p.peek() {
        None => Ok(check),
        Some(Tok::RParen) => Err(ParseError::new("unbalanced `)`")),
        Some(t) => Err(ParseError::new(format!(
            "unexpected `{t}` after a complete expression (checks must be joined with `and` or `or`)"
        ))),
    }
}

struct Parser<'a> {
    toks: Vec<Tok<'a>>,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<Tok<'a>> {
        self.toks.get(self.pos).copied()
    }

    fn or_expr(&mut self) -> Result<Check, ParseError> {
        let first = self.and_expr()?;
        if self.peek() != Some(Tok::Or) {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.peek() == Some(Tok::Or) {
            self.pos += 1;
            items.push(self.and_expr()?);
        }
        Ok(Check::Or(items))
    }

    fn and_expr(&mut self) -> Result<Check, ParseError> {
        let first = self.unary()?;
        if self.peek() != Some(Tok::And) {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.peek() == Some(Tok::And) {
            self.pos += 1;
            items.push(self.unary()?);
        }
        Ok(Check::And(items))
    }

    fn unary(&mut self) -> Result<Check, ParseError> {
        match self.peek() {
            Some(Tok::Not) => {
                self.pos += 1;
                Ok(Check::Not(Box::new(self.unary()?)))
            }
            Some(Tok::LParen) => {
                self.pos += 1;
                let inner = self.or_expr()?;
                match self.peek() {
                    Some(Tok::RParen) => {
                        self.pos += 1;
                        Ok(inner)
                    }
                    None => Err(ParseError::new("missing `)`")),
                    Some(t) => Err(ParseError::new(format!("expected `)`, found `{t}`"))),
                }
            }
            Some(Tok::Check(text)) => {
                self.pos += 1;
                parse_check(text)
            }
            Some(t) => Err(ParseError::new(format!("expected a check, found `{t}`"))),
            None => Err(ParseError::new("unexpected end of rule: expected a check")),
        }
    }
}

/// One check token: `@`, `!` or `kind:match`.
fn parse_check(text: &str) -> Result<Check, ParseError> {
    match text {
        "@" => return Ok(Check::True),
        "!" => return Ok(Check::False),
        _ => {}
    }
    let Some((kind, matched)) = text.split_once(':') else {
        return Err(ParseError::new(format!("`{text}` is not a check: expected `kind:match`, `@` or `!`")));
    };
    match kind {
        "rule" => {
            if matched.is_empty() {
                return Err(ParseError::new("`rule:` needs a rule name"));
            }
            Ok(Check::Rule(RuleRef { name: matched.into(), slot: None }))
        }
        "role" => {
            if matched.is_empty() {
                return Err(ParseError::new("`role:` needs a role name"));
            }
            Ok(Check::Role(parse_template(matched)?))
        }
        "http" | "https" => {
            Err(ParseError::new(format!("`{text}`: remote (http/https) checks are not supported")))
        }
        "" => Err(ParseError::new(format!("`{text}`: empty check kind"))),
        _ => {
            let left = match parse_literal(kind)? {
                Some(value) => Left::Literal { text: kind.into(), value: value.into() },
                None => {
                    if kind.split('.').any(str::is_empty) {
                        return Err(ParseError::new(format!(
                            "`{kind}` is not a valid credential attribute path"
                        )));
                    }
                    Left::Attr { path: kind.into(), attr: CredAttr::parse(kind) }
                }
            };
            Ok(Check::Generic { left, right: parse_template(matched)? })
        }
    }
}

/// If `kind` is a Python literal (what `ast.literal_eval` accepts among strings, `True`,
/// `False`, `None` and numbers) returns its `str()`; `None` means it is an attribute path.
fn parse_literal(kind: &str) -> Result<Option<String>, ParseError> {
    let bad = |why: &str| ParseError::new(format!("invalid literal `{kind}`: {why}"));
    match kind {
        "True" | "False" | "None" => return Ok(Some(kind.to_owned())),
        _ => {}
    }
    let first = kind.as_bytes()[0];
    if first == b'\'' || first == b'"' {
        let quote = first as char;
        if kind.len() < 2 || !kind.ends_with(quote) {
            return Err(bad("unterminated string"));
        }
        let body = &kind[1..kind.len() - 1];
        let mut out = String::with_capacity(body.len());
        let mut chars = body.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some('\\') => out.push('\\'),
                    Some('\'') => out.push('\''),
                    Some('"') => out.push('"'),
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some('r') => out.push('\r'),
                    _ => return Err(bad("unsupported escape sequence")),
                },
                c if c == quote => return Err(bad("unescaped quote inside the string")),
                c => out.push(c),
            }
        }
        return Ok(Some(out));
    }
    let unsigned = kind.strip_prefix(['-', '+']).unwrap_or(kind);
    let starts_numeric =
        unsigned.as_bytes().first().is_some_and(|b| b.is_ascii_digit() || (*b == b'.' && unsigned.len() > 1));
    if !starts_numeric {
        return Ok(None);
    }
    let negative = kind.starts_with('-');
    if unsigned.bytes().all(|b| b.is_ascii_digit()) {
        if unsigned.len() > 1 && unsigned.starts_with('0') {
            if unsigned.bytes().all(|b| b == b'0') {
                return Ok(Some("0".to_owned()));
            }
            return Err(bad("leading zeros are not allowed in integers"));
        }
        let digits = unsigned.trim_start_matches('0');
        let digits = if digits.is_empty() { "0" } else { digits };
        let sign = if negative && digits != "0" { "-" } else { "" };
        return Ok(Some(format!("{sign}{digits}")));
    }
    let is_float_syntax =
        unsigned.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'));
    match unsigned.parse::<f64>() {
        Ok(v) if is_float_syntax && v.is_finite() => Ok(Some(py_float(if negative { -v } else { v }))),
        _ => Err(bad("not a number (an attribute path cannot start with a digit)")),
    }
}

/// Parses the match side: literal text, `%%`, and `%(key)s` substitutions.
fn parse_template(text: &str) -> Result<Template, ParseError> {
    if !text.contains('%') {
        return Ok(Template::Literal(text.into()));
    }
    let mut pieces: Vec<Piece> = Vec::new();
    let mut lit = String::new();
    let mut rest = text;
    while let Some(i) = rest.find('%') {
        lit.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(r) = after.strip_prefix('%') {
            lit.push('%');
            rest = r;
            continue;
        }
        let Some(after_paren) = after.strip_prefix('(') else {
            return Err(ParseError::new(format!(
                "`{text}`: `%` must start `%(key)s` (write `%%` for a literal `%`)"
            )));
        };
        // Python's format parser allows nested parentheses inside the key.
        let mut depth = 1usize;
        let mut end = None;
        for (j, c) in after_paren.char_indices() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        end = Some(j);
                        break;
                    }
                }
                _ => {}
            }
        }
        let Some(end) = end else {
            return Err(ParseError::new(format!("`{text}`: unterminated `%(`")));
        };
        let key = &after_paren[..end];
        let Some(r) = after_paren[end + 1..].strip_prefix('s') else {
            return Err(ParseError::new(format!("`{text}`: only `%(key)s` substitutions are supported")));
        };
        if key.is_empty() {
            return Err(ParseError::new(format!("`{text}`: empty substitution key")));
        }
        if !lit.is_empty() {
            pieces.push(Piece::Text(std::mem::take(&mut lit).into()));
        }
        pieces.push(Piece::Subst(Subst { key: key.into(), path: key.split('.').map(Box::from).collect() }));
        rest = r;
    }
    lit.push_str(rest);
    if !lit.is_empty() {
        pieces.push(Piece::Text(lit.into()));
    }
    Ok(match pieces.len() {
        0 => Template::Literal("".into()),
        1 => match pieces.pop() {
            Some(Piece::Subst(s)) => Template::Subst(s),
            Some(Piece::Text(t)) => Template::Literal(t),
            None => unreachable!(),
        },
        _ => Template::Mixed(pieces.into()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(s: &str) -> String {
        parse(s).unwrap_or_else(|e| panic!("{s:?} should parse: {e}")).to_string()
    }

    fn err(s: &str) -> String {
        match parse(s) {
            Ok(c) => panic!("{s:?} should not parse, got {c}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn empty_and_constant_rules() {
        assert_eq!(parse("").unwrap(), Check::True);
        assert_eq!(parse("   \t").unwrap(), Check::True);
        assert_eq!(parse("@").unwrap(), Check::True);
        assert_eq!(parse("!").unwrap(), Check::False);
        assert_eq!(canon("(@)"), "@");
    }

    #[test]
    fn precedence_and_binds_tighter_than_or() {
        assert_eq!(canon("a:1 or b:2 and c:3"), "(a:1 or (b:2 and c:3))");
        assert_eq!(canon("a:1 and b:2 or c:3"), "((a:1 and b:2) or c:3)");
        assert_eq!(canon("a:1 and b:2 or c:3 and d:4"), "((a:1 and b:2) or (c:3 and d:4))");
        assert_eq!(canon("a:1 or b:2 and c:3 and d:4 or e:5"), "(a:1 or (b:2 and c:3 and d:4) or e:5)");
        assert_eq!(canon("a:1 or b:2 or c:3"), "(a:1 or b:2 or c:3)");
    }

    #[test]
    fn not_binds_to_the_next_check_only() {
        assert_eq!(canon("not a:1 and b:2"), "(not a:1 and b:2)");
        assert_eq!(canon("not a:1 or b:2"), "(not a:1 or b:2)");
        assert_eq!(canon("a:1 and not b:2"), "(a:1 and not b:2)");
        assert_eq!(canon("not (a:1 or b:2)"), "not (a:1 or b:2)");
        assert_eq!(canon("not not a:1"), "not not a:1");
        assert_eq!(canon("NOT a:1 AND b:2 Or c:3"), "((not a:1 and b:2) or c:3)");
    }

    #[test]
    fn parentheses_group_and_may_touch_checks() {
        assert_eq!(canon("(a:1 or b:2) and c:3"), "((a:1 or b:2) and c:3)");
        assert_eq!(canon("((a:1))"), "a:1");
        assert_eq!(canon("a:1 or (b:2 or c:3) and d:4"), "(a:1 or ((b:2 or c:3) and d:4))");
        assert_eq!(
            canon("(role:admin) or (role:reader and system_scope:all)"),
            "(role:admin or (role:reader and system_scope:all))"
        );
        // Parentheses inside a substitution belong to the check.
        assert_eq!(canon("(user_id:%(target.user.id)s)"), "user_id:%(target.user.id)s");
    }

    #[test]
    fn quoted_and_python_literals_on_the_left() {
        let c = parse("'member':%(role.name)s").unwrap();
        let Check::Generic { left: Left::Literal { value, .. }, .. } = &c else { panic!("{c:?}") };
        assert_eq!(&**value, "member");
        let lit = |s: &str| parse_literal(s).unwrap();
        assert_eq!(lit("\"it's\"").as_deref(), Some("it's"));
        assert_eq!(lit(r"'a\'b'").as_deref(), Some("a'b"));
        assert_eq!(lit("True").as_deref(), Some("True"));
        assert_eq!(lit("None").as_deref(), Some("None"));
        assert_eq!(lit("1").as_deref(), Some("1"));
        assert_eq!(lit("-0").as_deref(), Some("0"));
        assert_eq!(lit("+12").as_deref(), Some("12"));
        assert_eq!(lit("1.50").as_deref(), Some("1.5"));
        assert_eq!(lit("1e3").as_deref(), Some("1000.0"));
        assert_eq!(lit(".5").as_deref(), Some("0.5"));
        // Not literals: attribute paths.
        assert_eq!(lit("true"), None);
        assert_eq!(lit("user_id"), None);
        assert_eq!(lit("token.is_admin_project"), None);
        assert_eq!(lit("-x"), None);
        // Python would reject these outright.
        assert!(parse_literal("'abc").is_err());
        assert!(parse_literal("'a'b'").is_err());
        assert!(parse_literal("007").is_err());
        assert!(parse_literal("1abc").is_err());
    }

    #[test]
    fn templates() {
        assert_eq!(parse_template("admin").unwrap(), Template::Literal("admin".into()));
        assert_eq!(parse_template("50%%").unwrap(), Template::Literal("50%".into()));
        let t = parse_template("%(target.user.id)s").unwrap();
        let Template::Subst(s) = &t else { panic!() };
        assert_eq!(&*s.key, "target.user.id");
        assert_eq!(s.path.len(), 3);
        let t = parse_template("p-%(a)s/%(b.c)s%%").unwrap();
        assert_eq!(t.to_string(), "p-%(a)s/%(b.c)s%%");
        let Template::Mixed(pieces) = &t else { panic!() };
        assert_eq!(pieces.len(), 5);
        assert_eq!(parse_template("%(f(x))s").unwrap().to_string(), "%(f(x))s");
        for bad in ["50%", "%s", "%(a)d", "%(a", "%()s", "%(a)"] {
            assert!(parse_template(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn syntax_errors_are_reported() {
        assert!(err("role:admin or").contains("end of rule"));
        assert!(err("or role:admin").contains("expected a check"));
        assert!(err("role:admin role:member").contains("joined with `and` or `or`"));
        assert!(err("(role:admin").contains("missing `)`"));
        assert!(err("role:admin)").contains("unbalanced"));
        assert!(err("()").contains("expected a check"));
        assert!(err("role:a and and role:b").contains("expected a check"));
        assert!(err("not").contains("end of rule"));
        assert!(err("admin").contains("not a check"));
        assert!(err("'quoted'").contains("quoted string"));
        // Whitespace splits tokens even inside quotes, as in oslo.policy.
        assert!(err("\"x y\":%(s)s").contains("not a check"));
        assert!(err("rule:").contains("rule name"));
        assert!(err("role:").contains("role name"));
        assert!(err("http://example.com/check").contains("not supported"));
        assert!(err(":x").contains("empty check kind"));
        assert!(err("a..b:x").contains("attribute path"));
        assert!(err("user_id:%(x)d").contains("%(key)s"));
    }

    #[test]
    fn keyword_case_and_role_with_colons() {
        assert_eq!(canon("role:a OR role:b"), "(role:a or role:b)");
        // Only the first colon separates kind and match.
        assert_eq!(canon("role:compute:admin"), "role:compute:admin");
        // As in oslo.policy, keywords need whitespace around them: this is one role check.
        assert_eq!(canon("(role:a)or(role:b)"), "role:a)or(role:b");
    }
}
