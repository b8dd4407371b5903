//! `/limits`: the caller's project's absolute limits and usage (rate limits are long gone
//! from nova: always `[]`). An admin may ask for another project with `tenant_id`.

use std::sync::Arc;

use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Map, Value};
use stratus_core::auth::Authenticated;
use stratus_core::error::ApiResult;
use stratus_core::http::microversion::Version;

use super::common::QueryParams;
use super::State;
use crate::quota;
use crate::ComputeService;

/// One entry of `absolute`: its name, the quota resource it shows, and the last
/// microversion that shows it (None: every one).
struct Entry(&'static str, &'static str, Option<Version>);

const fn until(minor: u16) -> Option<Version> {
    Some(Version::new(2, minor))
}

/// The limits.
const ABSOLUTE: &[Entry] = &[
    Entry("maxTotalRAMSize", "ram", None),
    Entry("maxTotalInstances", "instances", None),
    Entry("maxTotalCores", "cores", None),
    Entry("maxTotalKeypairs", "key_pairs", None),
    Entry("maxTotalFloatingIps", "floating_ips", until(35)),
    Entry("maxServerMeta", "metadata_items", None),
    Entry("maxImageMeta", "metadata_items", until(38)),
    Entry("maxPersonality", "injected_files", until(56)),
    Entry("maxPersonalitySize", "injected_file_content_bytes", until(56)),
    Entry("maxSecurityGroups", "security_groups", until(35)),
    Entry("maxSecurityGroupRules", "security_group_rules", until(35)),
    Entry("maxServerGroups", "server_groups", None),
    Entry("maxServerGroupMembers", "server_group_members", None),
];

/// The usage.
const USED: &[Entry] = &[
    Entry("totalRAMUsed", "ram", None),
    Entry("totalCoresUsed", "cores", None),
    Entry("totalInstancesUsed", "instances", None),
    Entry("totalFloatingIpsUsed", "floating_ips", until(35)),
    Entry("totalSecurityGroupsUsed", "security_groups", until(35)),
    Entry("totalServerGroupsUsed", "server_groups", None),
];

pub fn routes() -> Router<Arc<ComputeService>> {
    Router::new().route("/limits", get(index))
}

fn shown(version: Version, until: Option<Version>) -> bool {
    until.is_none_or(|last| version <= last)
}

async fn index(
    s: State,
    Authenticated(ctx): Authenticated,
    version: Version,
    q: QueryParams,
) -> ApiResult<Json<Value>> {
    q.only(version, &["tenant_id"])?;
    s.authorize(&ctx, "os_compute_api:limits", &json!({}))?;
    let own = ctx.project_id().unwrap_or_default();
    // openstacksdk sends `tenant_id=None` when no project was asked for: that, an empty
    // value and the caller's own project are no other project.
    let project_id = match q.get("tenant_id").filter(|p| !p.is_empty() && *p != "None" && *p != own) {
        Some(p) => {
            s.authorize(&ctx, "os_compute_api:limits:other_project", &ComputeService::own_target(&ctx))?;
            p.to_string()
        }
        None => own.to_string(),
    };
    let l = quota::limits(&s.store, &s.config, &project_id).await?;
    let mut absolute = Map::new();
    for Entry(name, resource, last) in ABSOLUTE {
        if shown(version, *last) {
            absolute.insert(name.to_string(), json!(l.limit[resource]));
        }
    }
    for Entry(name, resource, last) in USED {
        if shown(version, *last) {
            absolute.insert(name.to_string(), json!(l.in_use[resource]));
        }
    }
    Ok(Json(json!({"limits": {"rate": [], "absolute": absolute}})))
}
