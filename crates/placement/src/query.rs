//! The query-string languages of placement: `resources=VCPU:1,MEMORY_MB:512`,
//! `required=T1,!T2` and `required=in:T3,T4`, `member_of=in:A,B` and `!in:`, `in_tree=UUID`,
//! and the request groups of `GET /allocation_candidates` (`resources1=…&required1=…`).

use std::collections::BTreeMap;

use stratus_core::error::{ApiError, ApiResult};
use stratus_core::http::microversion::Version;

use crate::model::is_uuid_like;

pub const DUPLICATE_KEY: &str = "placement.query.duplicate_key";
pub const BAD_VALUE: &str = "placement.query.bad_value";
pub const MISSING_VALUE: &str = "placement.query.missing_value";

/// The query string as `(key, value)` pairs, repeats kept.
#[derive(Debug, Default, Clone)]
pub struct Params(pub Vec<(String, String)>);

impl Params {
    pub fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0.iter().filter(move |(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// The last value of `key` (webob's `GET[key]`).
    pub fn last<'a>(&'a self, key: &'a str) -> Option<&'a str> {
        self.all(key).last()
    }

    pub fn has(&self, key: &str) -> bool {
        self.0.iter().any(|(k, _)| k == key)
    }

    /// 400 for any key not accepted (placement's `additionalProperties: False`).
    pub fn only(&self, allowed: impl Fn(&str) -> bool) -> ApiResult<()> {
        for (k, _) in &self.0 {
            if !allowed(k) {
                return Err(ApiError::bad_request(format!(
                    "Invalid query string parameters: Additional properties are not allowed ('{k}' was unexpected)"
                )));
            }
        }
        Ok(())
    }
}

/// `VCPU:2,MEMORY_MB:1024` → ordered (class, amount) pairs.
pub fn resources(qs: &str) -> ApiResult<Vec<(String, i64)>> {
    const FORM: &str = "Expected resources query string parameter in form: ?resources=VCPU:2,MEMORY_MB:1024.";
    if qs.trim().is_empty() {
        return Err(ApiError::bad_request(format!(
            "Badly formed resources parameter. {FORM} Got: empty string."
        )));
    }
    let mut out: Vec<(String, i64)> = Vec::new();
    for part in qs.split(',') {
        let Some((rc, amount)) = part.split_once(':').filter(|(_, a)| !a.contains(':')) else {
            return Err(ApiError::bad_request(format!(
                "Badly formed resources parameter. {FORM} Got: {part}."
            )));
        };
        let amount: i64 = amount.trim().parse().map_err(|_| {
            ApiError::bad_request(format!(
                "Requested resource {rc} expected positive integer amount. Got: {amount}."
            ))
        })?;
        if amount < 1 {
            return Err(ApiError::bad_request(format!(
                "Requested resource {rc} requires amount >= 1. Got: {amount}."
            )));
        }
        let rc = rc.trim().to_string();
        match out.iter_mut().find(|(r, _)| *r == rc) {
            Some(slot) => slot.1 = amount,
            None => out.push((rc, amount)),
        }
    }
    Ok(out)
}

/// Required traits (an AND of OR-sets) and forbidden traits.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Traits {
    pub required: Vec<Vec<String>>,
    pub forbidden: Vec<String>,
}

impl Traits {
    pub fn is_empty(&self) -> bool {
        self.required.is_empty() && self.forbidden.is_empty()
    }

    pub fn names(&self) -> impl Iterator<Item = &String> {
        self.required.iter().flatten().chain(self.forbidden.iter())
    }
}

/// One `required` value.
pub fn traits_value(val: &str, allow_forbidden: bool, allow_any: bool) -> ApiResult<Traits> {
    if let Some(list) = val.strip_prefix("in:") {
        if !allow_any {
            return Err(ApiError::bad_request(format!(
                "Invalid query string parameters: The format 'in:HW_CPU_X86_VMX,CUSTOM_MAGIC' only supported \
                 since microversion 1.39. Got: {val}"
            )));
        }
        let any: Vec<String> = list.split(',').map(|s| s.trim().to_string()).collect();
        if any.iter().any(|t| t.is_empty()) {
            return Err(ApiError::bad_request(format!(
                "Invalid query string parameters: Expected 'required' parameter value of the form: \
                 in:HW_CPU_X86_VMX,CUSTOM_MAGIC. Got an empty trait in: {val}"
            )));
        }
        if any.iter().any(|t| t.starts_with('!')) {
            return Err(ApiError::bad_request(format!(
                "Invalid query string parameters: The format 'in:HW_CPU_X86_VMX,CUSTOM_MAGIC' does not support \
                 forbidden traits. Got: {val}"
            )));
        }
        let mut any = any;
        any.sort();
        any.dedup();
        return Ok(Traits { required: vec![any], forbidden: vec![] });
    }
    let all: Vec<&str> = val.split(',').map(str::trim).collect();
    let form = if allow_forbidden { "HW_CPU_X86_VMX,!CUSTOM_MAGIC" } else { "HW_CPU_X86_VMX,CUSTOM_MAGIC" };
    if all.iter().any(|t| t.is_empty() || *t == "!") {
        return Err(ApiError::bad_request(format!(
            "Invalid query string parameters: Expected 'required' parameter value of the form: {form}. \
             Got an empty trait in: {val}"
        )));
    }
    let mut out = Traits::default();
    for t in all {
        match t.strip_prefix('!') {
            Some(f) => {
                if !allow_forbidden {
                    return Err(ApiError::bad_request(format!(
                        "Invalid query string parameters: Expected 'required' parameter value of the form: \
                         HW_CPU_X86_VMX,CUSTOM_MAGIC. Got: {val}"
                    )));
                }
                out.forbidden.push(f.to_string());
            }
            None => out.required.push(vec![t.to_string()]),
        }
    }
    Ok(out)
}

/// All `required{suffix}` values: forbidden traits from 1.22, `in:` and repeats from 1.39
/// (before, the last one counts).
pub fn traits_params(params: &Params, key: &str, v: Version) -> ApiResult<Traits> {
    let values: Vec<&str> = params.all(key).collect();
    let values = if v.at_least(1, 39) { &values[..] } else { &values[values.len().saturating_sub(1)..] };
    let mut out = Traits::default();
    for value in values {
        let t = traits_value(value, v.at_least(1, 22), v.at_least(1, 39))?;
        out.required.extend(t.required);
        out.forbidden.extend(t.forbidden);
    }
    out.forbidden.sort();
    out.forbidden.dedup();
    Ok(out)
}

/// Required aggregates (an AND of OR-sets) and forbidden ones.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct MemberOf {
    pub required: Vec<Vec<String>>,
    pub forbidden: Vec<String>,
}

impl MemberOf {
    pub fn is_empty(&self) -> bool {
        self.required.is_empty() && self.forbidden.is_empty()
    }
}

/// All `member_of{suffix}` values: repeats from 1.24, `!` from 1.32.
pub fn member_of_params(params: &Params, key: &str, v: Version) -> ApiResult<MemberOf> {
    let values: Vec<&str> = params.all(key).collect();
    if !v.at_least(1, 24) && values.len() > 1 {
        return Err(ApiError::bad_request(format!("Multiple {key} parameters are not supported")));
    }
    let mut out = MemberOf::default();
    for value in values {
        if value.contains(',') && !(value.starts_with("in:") || value.starts_with("!in:")) {
            return Err(ApiError::bad_request(format!(
                "Multiple values for 'member_of' must be prefixed with the 'in:' or '!in:' keyword using the \
                 valid microversion. Got: {value}"
            )));
        }
        let (forbidden, list) = if let Some(l) = value.strip_prefix("!in:") {
            (true, l)
        } else if let Some(l) = value.strip_prefix('!') {
            (true, l)
        } else if let Some(l) = value.strip_prefix("in:") {
            (false, l)
        } else {
            (false, value)
        };
        let mut uuids = Vec::new();
        for u in list.split(',') {
            let Some(n) = crate::model::normalize_uuid(u) else {
                return Err(ApiError::bad_request(format!(
                    "Invalid query string parameters: Expected 'member_of' parameter to contain valid UUID(s). \
                     Got: {u}"
                )));
            };
            uuids.push(n);
        }
        if forbidden {
            if !v.at_least(1, 32) {
                return Err(ApiError::bad_request(format!(
                    "Forbidden {key} parameters are not supported in the specified microversion"
                )));
            }
            out.forbidden.extend(uuids);
        } else {
            out.required.push(uuids);
        }
    }
    out.forbidden.sort();
    out.forbidden.dedup();
    Ok(out)
}

pub fn in_tree(value: &str) -> ApiResult<String> {
    crate::model::normalize_uuid(value).ok_or_else(|| {
        ApiError::bad_request(format!(
            "Invalid query string parameters: Expected 'in_tree' parameter to be a format of uuid. Got: {value}"
        ))
    })
}

/// One request group of `GET /allocation_candidates`.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct RequestGroup {
    /// `""` for the unnumbered group, whose resources may come from several providers of a
    /// tree; every suffixed group is satisfied by one provider.
    pub suffix: String,
    pub resources: Vec<(String, i64)>,
    pub traits: Traits,
    pub member_of: MemberOf,
    pub in_tree: Option<String>,
}

impl RequestGroup {
    pub fn same_provider(&self) -> bool {
        !self.suffix.is_empty()
    }
}

/// Everything `GET /allocation_candidates` was asked.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct CandidateQuery {
    pub groups: Vec<RequestGroup>,
    pub limit: Option<usize>,
    pub isolate: bool,
    pub root_required: Vec<String>,
    pub root_forbidden: Vec<String>,
    pub same_subtrees: Vec<Vec<String>>,
}

fn suffix_ok(s: &str, v: Version) -> bool {
    if v.at_least(1, 33) {
        !s.is_empty()
            && s.len() <= 64
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    } else {
        !s.is_empty() && !s.starts_with('0') && s.bytes().all(|b| b.is_ascii_digit())
    }
}

/// `resources42` → ("resources", "42").
fn split_key(key: &str, v: Version) -> Option<(&'static str, String)> {
    for prefix in ["resources", "required", "member_of", "in_tree"] {
        if let Some(rest) = key.strip_prefix(prefix) {
            if rest.is_empty() {
                return Some((prefix, String::new()));
            }
            if v.at_least(1, 25) && suffix_ok(rest, v) && (prefix != "in_tree" || v.at_least(1, 31)) {
                return Some((prefix, rest.to_string()));
            }
        }
    }
    None
}

/// Reads and checks the parameters of `GET /allocation_candidates` at microversion `v`.
pub fn candidate_query(params: &Params, v: Version) -> ApiResult<CandidateQuery> {
    // Which keys exist at this version.
    params.only(|k| match k {
        "limit" => v.at_least(1, 16),
        "group_policy" => v.at_least(1, 25),
        "root_required" => v.at_least(1, 35),
        "same_subtree" => v.at_least(1, 36),
        _ => match split_key(k, v) {
            Some(("resources", _)) => true,
            Some(("required", _)) => v.at_least(1, 17),
            Some(("member_of", _)) => v.at_least(1, 21),
            Some(("in_tree", _)) => v.at_least(1, 31),
            _ => false,
        },
    })?;
    if !v.at_least(1, 25) && !params.has("resources") {
        return Err(ApiError::bad_request(
            "Invalid query string parameters: 'resources' is a required property",
        ));
    }
    // Request-wide parameters.
    let mut q = CandidateQuery::default();
    if let Some(limit) = params.all("limit").next() {
        let n: usize =
            limit.parse().ok().filter(|n| *n >= 1 && !limit.starts_with('0')).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "Invalid query string parameters: '{limit}' does not match '^[1-9][0-9]*$'"
                ))
            })?;
        q.limit = Some(n);
    }
    if let Some(policy) = params.all("group_policy").next() {
        q.isolate = match policy {
            "isolate" => true,
            "none" => false,
            other => {
                return Err(ApiError::bad_request(format!(
                    "Invalid query string parameters: '{other}' is not one of ['none', 'isolate']"
                )))
            }
        };
    }
    let root_required: Vec<&str> = params.all("root_required").collect();
    if root_required.len() > 1 {
        return Err(ApiError::bad_request("Query parameter 'root_required' may be specified only once.")
            .with_kind(DUPLICATE_KEY));
    }
    if let Some(rr) = root_required.first() {
        let t = traits_value(rr, true, false)?;
        q.root_required = t.required.into_iter().flatten().collect();
        q.root_forbidden = t.forbidden;
        if let Some(c) = q.root_required.iter().find(|t| q.root_forbidden.contains(t)) {
            return Err(ApiError::bad_request(format!(
                "Conflicting required and forbidden traits found in root_required: {c}"
            ))
            .with_kind(BAD_VALUE));
        }
    }
    for val in params.all("same_subtree") {
        let set: Vec<String> = val.split(',').map(|s| s.trim().to_string()).collect();
        if set.iter().any(|s| s.is_empty()) {
            return Err(ApiError::bad_request(
                "Empty string (unsuffixed group) can not be specified in `same_subtree` ",
            )
            .with_kind(BAD_VALUE));
        }
        q.same_subtrees.push(set);
    }
    // The groups, in order of first appearance (the unnumbered one first).
    let mut groups: BTreeMap<String, RequestGroup> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    for (key, val) in &params.0 {
        let Some((prefix, suffix)) = split_key(key, v) else { continue };
        if !groups.contains_key(&suffix) {
            order.push(suffix.clone());
            groups.insert(suffix.clone(), RequestGroup { suffix: suffix.clone(), ..Default::default() });
        }
        let g = groups.get_mut(&suffix).expect("inserted");
        match prefix {
            "resources" => g.resources = resources(val)?,
            "required" => g.traits = traits_params(params, key, v)?,
            "member_of" => g.member_of = member_of_params(params, key, v)?,
            _ => g.in_tree = Some(in_tree(val)?),
        }
    }
    order.sort_by_key(|s| !s.is_empty());
    q.groups = order.into_iter().filter_map(|s| groups.remove(&s)).collect();

    if v.at_least(1, 36) {
        let resourceless: Vec<&str> =
            q.groups.iter().filter(|g| g.resources.is_empty()).map(|g| g.suffix.as_str()).collect();
        if resourceless.len() == q.groups.len() {
            return Err(ApiError::bad_request(
                "There must be at least one resources or resources[$S] parameter.",
            )
            .with_kind(MISSING_VALUE));
        }
        let in_subtree = |s: &str| q.same_subtrees.iter().any(|set| set.iter().any(|x| x == s));
        let bad: Vec<&str> = resourceless.iter().copied().filter(|s| !in_subtree(s)).collect();
        if !bad.is_empty() {
            return Err(ApiError::bad_request(format!(
                "Resourceless suffixed group request should be specified in `same_subtree` query param: \
                 bad group(s) - {bad:?}."
            ))
            .with_kind(BAD_VALUE));
        }
        let known: Vec<&str> = q.groups.iter().map(|g| g.suffix.as_str()).collect();
        let missing: Vec<&String> =
            q.same_subtrees.iter().flatten().filter(|s| !known.contains(&s.as_str())).collect();
        if !missing.is_empty() {
            return Err(ApiError::bad_request(format!(
                "Real suffixes should be specified in `same_subtree`: {missing:?} not found in {known:?}."
            ))
            .with_kind(BAD_VALUE));
        }
    } else {
        let orphans: Vec<String> = q
            .groups
            .iter()
            .filter(|g| !g.traits.required.is_empty() && g.resources.is_empty())
            .map(|g| format!("required{}", g.suffix))
            .collect();
        if !orphans.is_empty() {
            return Err(ApiError::bad_request(format!(
                "All traits parameters must be associated with resources.  Found the following orphaned traits \
                 keys: {}",
                orphans.join(", ")
            )));
        }
        let orphans: Vec<String> = q
            .groups
            .iter()
            .filter(|g| !g.member_of.is_empty() && g.resources.is_empty())
            .map(|g| format!("member_of{}", g.suffix))
            .collect();
        if !orphans.is_empty() {
            return Err(ApiError::bad_request(format!(
                "All member_of parameters must be associated with resources. Found the following orphaned \
                 member_of keys: {}",
                orphans.join(", ")
            )));
        }
        if q.groups.iter().any(|g| g.resources.is_empty()) {
            return Err(ApiError::bad_request("All request groups must specify resources."));
        }
        if q.groups.is_empty() {
            return Err(ApiError::bad_request(
                "At least one request group (`resources` or `resources{$S}`) is required.",
            ));
        }
    }
    if v.at_least(1, 22) {
        let mut conflicts = Vec::new();
        for g in &q.groups {
            for any in &g.traits.required {
                if any.iter().all(|t| g.traits.forbidden.contains(t)) {
                    conflicts.push(format!("required{}: ({})", g.suffix, any.join(", ")));
                }
            }
        }
        if !conflicts.is_empty() {
            conflicts.sort();
            return Err(ApiError::bad_request(format!(
                "Conflicting required and forbidden traits found in the following traits keys: {}",
                conflicts.join(", ")
            )));
        }
    }
    if !params.has("group_policy") && q.groups.iter().filter(|g| g.same_provider()).count() > 1 {
        return Err(ApiError::bad_request(
            "The \"group_policy\" parameter is required when specifying more than one \"resources{N}\" parameter.",
        ));
    }
    Ok(q)
}

/// Checks a UUID-like path or query value, normalizing it.
pub fn uuid_param(field: &str, value: &str) -> ApiResult<String> {
    if !is_uuid_like(value) {
        return Err(ApiError::bad_request(format!(
            "Invalid query string parameters: '{value}' is not a 'uuid' ({field})"
        )));
    }
    Ok(crate::model::normalize_uuid(value).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Params {
        Params(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    const V: Version = Version::new(1, 39);

    #[test]
    fn resources_param() {
        assert_eq!(
            resources("VCPU:1,MEMORY_MB:512").unwrap(),
            vec![("VCPU".into(), 1), ("MEMORY_MB".into(), 512)]
        );
        assert!(resources("VCPU").is_err() && resources("VCPU:0").is_err() && resources("VCPU:x").is_err());
        assert!(resources("").is_err());
    }

    #[test]
    fn traits_and_member_of() {
        let t = traits_params(&p(&[("required", "in:B,A"), ("required", "C,!D")]), "required", V).unwrap();
        assert_eq!(t.required, vec![vec!["A".to_string(), "B".to_string()], vec!["C".to_string()]]);
        assert_eq!(t.forbidden, vec!["D".to_string()]);
        // Before 1.39 only the last value counts and in: is refused.
        let old = Version::new(1, 38);
        assert!(traits_params(&p(&[("required", "in:A,B")]), "required", old).is_err());
        let a = "7b5b4fa4-cd3a-4c1b-8cd1-a0f1c2d3e4f5";
        let b = "0c7b5b4f-cd3a-4c1b-8cd1-a0f1c2d3e4f5";
        let m = member_of_params(
            &p(&[("member_of", &format!("in:{a},{b}")), ("member_of", &format!("!{b}"))]),
            "member_of",
            V,
        )
        .unwrap();
        assert_eq!(m.required.len(), 1);
        assert_eq!(m.forbidden, vec![b.to_string()]);
        assert!(member_of_params(&p(&[("member_of", &format!("{a},{b}"))]), "member_of", V).is_err());
    }

    #[test]
    fn groups() {
        let q = candidate_query(
            &p(&[
                ("resources1", "SRIOV_NET_VF:1"),
                ("resources", "VCPU:1"),
                ("resources2", "SRIOV_NET_VF:1"),
                ("group_policy", "isolate"),
                ("limit", "5"),
            ]),
            V,
        )
        .unwrap();
        assert_eq!(q.groups.iter().map(|g| g.suffix.as_str()).collect::<Vec<_>>(), vec!["", "1", "2"]);
        assert!(q.isolate && q.limit == Some(5));
        assert!(candidate_query(&p(&[("resources1", "VCPU:1"), ("resources2", "VCPU:1")]), V).is_err());
        assert!(candidate_query(&p(&[("resources", "VCPU:1"), ("bogus", "1")]), V).is_err());
        assert!(candidate_query(&p(&[("resources", "VCPU:1"), ("required", "A,!A")]), V).is_err());
        assert!(candidate_query(&p(&[("required", "A")]), V).is_err());
        assert!(candidate_query(&p(&[("limit", "0"), ("resources", "VCPU:1")]), V).is_err());
    }
}
