//! Policy override files: JSON, and the YAML that oslo.policy's generators write.
//!
//! The YAML reader accepts exactly the subset those files use: a flat mapping of
//! `"rule name": "check string"` lines, keys and values plain, single- or double-quoted,
//! `#` comments, blank lines, and an optional `---` / `...`. Anything else (nesting,
//! lists, block or multi-line scalars, anchors, tags, flow collections other than an
//! empty `{}`) is rejected with the line number rather than guessed at.

use std::fmt::Write as _;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::Value;

/// A format error in an override file; `line` is 1-based (0 when unknown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileError {
    pub line: usize,
    pub message: String,
}

fn err<T>(line: usize, message: impl Into<String>) -> Result<T, FileError> {
    Err(FileError { line, message: message.into() })
}

/// Parses override text, JSON if it starts with `{` (after blanks) and YAML otherwise.
/// Returns `(name, check string)` pairs in file order; a name given twice is an error.
pub(crate) fn parse_overrides(text: &str) -> Result<Vec<(String, String)>, FileError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim_start().starts_with('{') && text.trim() != "{}" {
        parse_json(text)
    } else {
        parse_yaml(text)
    }
}

fn parse_json(text: &str) -> Result<Vec<(String, String)>, FileError> {
    struct Entries(Vec<(String, Value)>);
    struct EntriesVisitor;
    impl<'de> Visitor<'de> for EntriesVisitor {
        type Value = Entries;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an object mapping rule names to check strings")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries, A::Error> {
            let mut out = Vec::new();
            while let Some((k, v)) = map.next_entry::<String, Value>()? {
                out.push((k, v));
            }
            Ok(Entries(out))
        }
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let entries = de.deserialize_map(EntriesVisitor).and_then(|e| de.end().map(|()| e));
    let entries = match entries {
        Ok(Entries(e)) => e,
        Err(e) => return err(e.line(), format!("invalid JSON: {e}")),
    };
    let mut out: Vec<(String, String)> = Vec::with_capacity(entries.len());
    for (name, value) in entries {
        let Value::String(check) = value else {
            return err(
                0,
                format!(
                    "rule `{name}`: the value must be a check string (the old list form is not supported)"
                ),
            );
        };
        if out.iter().any(|(n, _)| *n == name) {
            return err(0, format!("rule `{name}` is given more than once"));
        }
        out.push((name, check));
    }
    Ok(out)
}

fn parse_yaml(text: &str) -> Result<Vec<(String, String)>, FileError> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut seen_empty_map = false;
    let mut ended = false;
    // A key without a value: an error, reported once we know whether a nested block
    // follows it.
    let mut valueless: Option<(usize, String)> = None;
    for (idx, raw) in text.lines().enumerate() {
        let n = idx + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if let Some((at, name)) = valueless.take() {
            if line.starts_with([' ', '\t']) {
                return err(n, "indented line: nested mappings and lists are not supported");
            }
            return err(at, no_value(&name));
        }
        if ended {
            return err(n, "content after the document end marker `...`");
        }
        if is_marker(line, "---") {
            if !out.is_empty() || seen_empty_map {
                return err(n, "only one YAML document is supported");
            }
            continue;
        }
        if is_marker(line, "...") {
            ended = true;
            continue;
        }
        if line.starts_with([' ', '\t']) {
            return err(n, "indented line: nested mappings and multi-line values are not supported");
        }
        if strip_comment(line).trim_end() == "{}" {
            if !out.is_empty() || seen_empty_map {
                return err(n, "`{}` must be the whole document");
            }
            seen_empty_map = true;
            continue;
        }
        if seen_empty_map {
            return err(n, "entries after `{}`");
        }
        let (name, rest) = yaml_key(line, n)?;
        let Some(check) = yaml_value(rest, n)? else {
            valueless = Some((n, name));
            continue;
        };
        if out.iter().any(|(k, _)| *k == name) {
            return err(n, format!("rule `{name}` is given more than once"));
        }
        out.push((name, check));
    }
    if let Some((at, name)) = valueless {
        return err(at, no_value(&name));
    }
    Ok(out)
}

fn no_value(name: &str) -> String {
    format!("rule `{name}` has no value (write \"\" for a rule that always allows)")
}

fn is_marker(line: &str, marker: &str) -> bool {
    line.strip_prefix(marker).is_some_and(|rest| {
        rest.is_empty() || (rest.starts_with([' ', '\t']) && strip_comment(rest).trim().is_empty())
    })
}

/// Removes a trailing ` # comment` from unquoted text.
fn strip_comment(s: &str) -> &str {
    let b = s.as_bytes();
    for i in 0..b.len() {
        if b[i] == b'#' && (i == 0 || b[i - 1] == b' ' || b[i - 1] == b'\t') {
            return &s[..i];
        }
    }
    s
}

/// Parses the key and the `:` after it; returns the key and the text after the colon.
fn yaml_key(line: &str, n: usize) -> Result<(String, &str), FileError> {
    if line.starts_with(['"', '\'']) {
        // After a quoted key YAML allows the value to follow the `:` directly.
        let (key, rest) = quoted(line, n)?;
        let rest = rest.trim_start_matches([' ', '\t']);
        let Some(rest) = rest.strip_prefix(':') else {
            return err(n, "expected `:` after the quoted key");
        };
        return Ok((key, rest));
    }
    let (key, rest) = {
        check_plain_start(line, n, "key")?;
        // A plain key ends at the first `:` followed by a blank or the end of the line.
        let b = line.as_bytes();
        let mut split = None;
        for i in 0..b.len() {
            if b[i] == b':' && (i + 1 == b.len() || b[i + 1] == b' ' || b[i + 1] == b'\t') {
                split = Some(i);
                break;
            }
            if b[i] == b'#' && i > 0 && (b[i - 1] == b' ' || b[i - 1] == b'\t') {
                break;
            }
        }
        let Some(i) = split else {
            return err(n, "expected `name: value`");
        };
        (line[..i].trim_end().to_owned(), &line[i + 1..])
    };
    if !rest.is_empty() && !rest.starts_with([' ', '\t']) {
        return err(n, "expected a blank after `:`");
    }
    Ok((key, rest))
}

/// The value after `name:`; `None` if there is none.
fn yaml_value(rest: &str, n: usize) -> Result<Option<String>, FileError> {
    let v = rest.trim_start_matches([' ', '\t']);
    if v.is_empty() || v.starts_with('#') {
        return Ok(None);
    }
    if v.starts_with(['"', '\'']) {
        let (value, after) = quoted(v, n)?;
        let after = after.trim_start_matches([' ', '\t']);
        if !after.is_empty() && !after.starts_with('#') {
            return err(n, "unexpected text after the quoted value");
        }
        return Ok(Some(value));
    }
    check_plain_start(v, n, "value")?;
    let value = strip_comment(v).trim_end();
    if value.contains(": ") || value.contains(":\t") || value.ends_with(':') {
        return err(n, "a plain value cannot contain `: `; quote it");
    }
    if !value.contains(':') && is_yaml_non_string(value) {
        return err(n, format!("`{value}` is not a string in YAML; quote the check string"));
    }
    Ok(Some(value.to_owned()))
}

/// Plain scalars may not start with a YAML indicator.
fn check_plain_start(s: &str, n: usize, what: &str) -> Result<(), FileError> {
    let mut chars = s.chars();
    let first = chars.next().unwrap_or(' ');
    let second = chars.next().unwrap_or(' ');
    let reserved =
        matches!(first, '[' | ']' | '{' | '}' | ',' | '&' | '*' | '!' | '|' | '>' | '%' | '@' | '`' | '#')
            || (matches!(first, '-' | '?' | ':') && (second == ' ' || second == '\t'));
    if reserved {
        return err(n, format!("unsupported YAML: a plain {what} cannot start with `{first}`; quote it"));
    }
    Ok(())
}

fn is_yaml_non_string(v: &str) -> bool {
    const WORDS: &[&str] = &[
        "~", "null", "Null", "NULL", "true", "True", "TRUE", "false", "False", "FALSE", "yes", "Yes", "YES",
        "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF", "y", "Y", "n", "N",
    ];
    WORDS.contains(&v) || v.parse::<f64>().is_ok()
}

/// Parses a single- or double-quoted scalar at the start of `s`; returns the value and
/// the text after the closing quote.
fn quoted(s: &str, n: usize) -> Result<(String, &str), FileError> {
    let mut chars = s.char_indices();
    let (_, q) = chars.next().expect("starts with a quote");
    let mut out = String::new();
    while let Some((i, c)) = chars.next() {
        if c == q {
            if q == '\'' && s[i + 1..].starts_with('\'') {
                chars.next();
                out.push('\'');
                continue;
            }
            return Ok((out, &s[i + 1..]));
        }
        if c == '\\' && q == '"' {
            let Some((_, e)) = chars.next() else { break };
            match e {
                '\\' => out.push('\\'),
                '"' => out.push('"'),
                '/' => out.push('/'),
                ' ' => out.push(' '),
                'n' => out.push('\n'),
                't' | '\t' => out.push('\t'),
                'r' => out.push('\r'),
                '0' => out.push('\0'),
                'x' | 'u' | 'U' => {
                    let len = match e {
                        'x' => 2,
                        'u' => 4,
                        _ => 8,
                    };
                    let mut code = String::new();
                    for _ in 0..len {
                        match chars.next() {
                            Some((_, h)) => code.push(h),
                            None => return err(n, "truncated escape in double-quoted string"),
                        }
                    }
                    let ch = u32::from_str_radix(&code, 16).ok().and_then(char::from_u32);
                    match ch {
                        Some(ch) => out.push(ch),
                        None => return err(n, format!("invalid escape `\\{e}{code}`")),
                    }
                }
                other => return err(n, format!("unsupported escape `\\{other}`")),
            }
            continue;
        }
        out.push(c);
    }
    err(n, "unterminated quoted string (multi-line quoted values are not supported)")
}

/// Double-quotes `s` for YAML (and JSON, which it is compatible with).
pub(crate) fn yaml_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Writes `text` as `# ` comment lines wrapped at about 70 columns.
pub(crate) fn write_comment(out: &mut String, text: &str) {
    for para in text.lines() {
        let mut line = String::from("#");
        for word in para.split_whitespace() {
            if line.len() > 1 && line.len() + 1 + word.len() > 72 {
                out.push_str(&line);
                out.push('\n');
                line = String::from("#");
            }
            line.push(' ');
            line.push_str(word);
        }
        out.push_str(&line);
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    fn yaml_err(text: &str) -> FileError {
        match parse_overrides(text) {
            Ok(v) => panic!("{text:?} should be rejected, got {v:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn json_overrides() {
        let text = r#"{
            "identity:get_user": "role:admin",
            "custom": "",
            "esc": "a:\"b\""
        }"#;
        assert_eq!(
            parse_overrides(text).unwrap(),
            pairs(&[("identity:get_user", "role:admin"), ("custom", ""), ("esc", "a:\"b\"")])
        );
        assert_eq!(parse_overrides("{}").unwrap(), vec![]);
        assert!(parse_overrides(r#"{"a": ["role:x"]}"#).unwrap_err().message.contains("list form"));
        assert!(parse_overrides(r#"{"a": "x:1", "a": "y:2"}"#)
            .unwrap_err()
            .message
            .contains("more than once"));
        let e = parse_overrides("{\n\"a\": \"x:1\",\n}").unwrap_err();
        assert_eq!(e.line, 3);
        assert!(parse_overrides(r#"{"a": "x:1"} trailing"#).is_err());
    }

    #[test]
    fn yaml_as_oslo_generates_it() {
        let text = "\
# Default rule for admin.
#\"admin_required\": \"role:admin or is_admin:1\"

# Show user details.
# GET  /v3/users/{user_id}
# Intended scope(s): system, domain, project
\"identity:get_user\": \"(rule:admin_required) or user_id:%(target.user.id)s\"

'single': 'it''s:%(x)s'  # trailing comment
plain_key: role:admin or role:member # comment
identity:list_users: rule:admin_required
\"empty\":\"\"
\"bang\": \"!\"
\"esc\": \"a\\\\b:\\\"c\\\" \\u00e9\"
";
        assert_eq!(
            parse_overrides(text).unwrap(),
            pairs(&[
                ("identity:get_user", "(rule:admin_required) or user_id:%(target.user.id)s"),
                ("single", "it's:%(x)s"),
                ("plain_key", "role:admin or role:member"),
                ("identity:list_users", "rule:admin_required"),
                ("empty", ""),
                ("bang", "!"),
                ("esc", "a\\b:\"c\" é"),
            ])
        );
    }

    #[test]
    fn yaml_documents_and_empty_files() {
        assert_eq!(parse_overrides("").unwrap(), vec![]);
        assert_eq!(parse_overrides("# only comments\n\n").unwrap(), vec![]);
        assert_eq!(parse_overrides("---\n{}\n").unwrap(), vec![]);
        assert_eq!(
            parse_overrides("\u{feff}--- # start\r\na: \"x:1\"\r\n...\n# end\n").unwrap(),
            pairs(&[("a", "x:1")])
        );
        assert!(yaml_err("a: \"x:1\"\n---\nb: \"y:2\"\n").message.contains("one YAML document"));
        assert!(yaml_err("...\na: \"x:1\"\n").message.contains("after the document end"));
    }

    #[test]
    fn yaml_rejects_what_it_does_not_understand() {
        let cases = [
            ("a:\n  b: \"x:1\"\n", 2, "indented"),
            ("a: \"x:1\n  y\"\n", 1, "unterminated"),
            ("a: |\n  role:admin\n", 1, "cannot start with `|`"),
            ("a: [role:admin]\n", 1, "cannot start with `[`"),
            ("a: @\n", 1, "cannot start with `@`"),
            ("a: !\n", 1, "cannot start with `!`"),
            ("a: &x role:admin\n", 1, "cannot start with `&`"),
            ("- a\n", 1, "cannot start with `-`"),
            ("a:\n", 1, "no value"),
            ("a:\n\nb: \"x:1\"\n", 1, "no value"),
            ("a:\n  - role:admin\n", 2, "indented"),
            ("a: # nothing\n", 1, "no value"),
            ("a: true\n", 1, "not a string"),
            ("a: 1\n", 1, "not a string"),
            ("a: b: c\n", 1, "cannot contain"),
            ("just text\n", 1, "name: value"),
            ("\"a\" \"x:1\"\n", 1, "expected `:`"),
            ("a:\"x:1\"\n", 1, "name: value"),
            ("a: \"x:1\" junk\n", 1, "after the quoted value"),
            ("a: \"\\q\"\n", 1, "unsupported escape"),
            ("a: \"x:1\"\nb: \"y:2\"\na: \"z:3\"\n", 3, "more than once"),
            ("{a: b}\n", 1, "invalid JSON"),
            ("x: \"y:1\"\n{a: b}\n", 2, "cannot start with `{`"),
        ];
        for (text, line, msg) in cases {
            let e = yaml_err(text);
            assert_eq!(e.line, line, "{text:?}: {e:?}");
            assert!(e.message.contains(msg), "{text:?}: {e:?}");
        }
    }

    #[test]
    fn quoting_round_trips() {
        for s in ["", "role:admin", "a\"b\\c", "tab\there", "é✓", "\u{1}"] {
            let line = format!("k: {}\n", yaml_quote(s));
            assert_eq!(parse_overrides(&line).unwrap(), pairs(&[("k", s)]), "{s:?}");
        }
    }

    #[test]
    fn comments_wrap() {
        let mut out = String::new();
        write_comment(&mut out, &"word ".repeat(40));
        assert!(out.lines().count() > 1);
        assert!(out.lines().all(|l| l.starts_with("# ") && l.len() <= 72));
    }
}
