//! How the policy targets of list calls are built.

use serde_json::Value;
use stratus_core::auth::AuthContext;

/// The target of a list call filtered by domain, as keystone builds it: the `domain_id`
/// filter when one is given, else the domain of a domain-scoped token, else nothing at all
/// (a missing key fails `domain_id:%(target.domain_id)s`, where a null would match None).
/// Returns the target and the domain the listing must be limited to.
pub fn domain_filter_target(ctx: &AuthContext, domain_id: Option<&str>) -> (Value, Option<String>) {
    let domain = domain_id.map(str::to_string).or_else(|| ctx.domain.as_ref().map(|d| d.id.clone()));
    match &domain {
        Some(d) => (serde_json::json!({"domain_id": d, "target": {"domain_id": d}}), domain),
        None => (serde_json::json!({}), None),
    }
}
