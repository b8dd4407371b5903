//! Quotas, as nova's database quota driver: per-project limits (defaults from
//! `[compute] quota_*`, overridden per project through `os-quota-sets`), usage counted from
//! the resources themselves, and the checks creates run.
//!
//! A check and the insert it guards must run under [`ComputeService::quota_lock`], so that
//! concurrent creates cannot together pass a limit. -1 means unlimited; a create under no
//! server limit neither counts the usage nor takes the lock (a limit set meanwhile applies
//! to the creates that start after it, as in nova, whose checks take no lock at all).

use std::collections::BTreeMap;

use stratus_core::config::{ComputeConfig, Config};
use stratus_core::error::{ApiError, ApiResult};

use crate::store::Store;
use crate::ComputeService;

/// What a project's live servers use.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    pub instances: i64,
    pub cores: i64,
    pub ram: i64,
}

/// Every quota resource, in nova's order.
pub const RESOURCES: &[&str] = &[
    "instances",
    "cores",
    "ram",
    "metadata_items",
    "injected_files",
    "injected_file_content_bytes",
    "injected_file_path_bytes",
    "key_pairs",
    "server_groups",
    "server_group_members",
    "fixed_ips",
    "floating_ips",
    "security_groups",
    "security_group_rules",
];

/// nova-network's resources, shown (always unlimited) only before microversion 2.36.
pub const NETWORK_RESOURCES: &[&str] =
    &["fixed_ips", "floating_ips", "security_groups", "security_group_rules"];

/// Personality files' resources, shown only before microversion 2.57.
pub const FILE_RESOURCES: &[&str] =
    &["injected_files", "injected_file_content_bytes", "injected_file_path_bytes"];

/// The default limit of a resource, from the config (a `default` quota class overrides it).
pub fn default_limit(config: &ComputeConfig, resource: &str) -> i64 {
    match resource {
        "instances" => config.quota_instances,
        "cores" => config.quota_cores,
        "ram" => config.quota_ram,
        "metadata_items" => config.quota_metadata_items,
        "key_pairs" => config.quota_key_pairs,
        "server_groups" => config.quota_server_groups,
        "server_group_members" => config.quota_server_group_members,
        // nova's fixed defaults for the personality limits.
        "injected_files" => 5,
        "injected_file_content_bytes" => 10 * 1024,
        "injected_file_path_bytes" => 255,
        _ => -1,
    }
}

/// Every resource's default limit.
pub fn defaults(config: &ComputeConfig) -> BTreeMap<&'static str, i64> {
    overlay(config, &[])
}

/// The quota class whose limits are every project's defaults (nova uses no other).
pub const DEFAULT_CLASS: &str = "default";

/// Every resource's default: the `default` quota class where it was set
/// (`openstack quota set --class default …`), else the config's.
pub async fn class_defaults(store: &Store, config: &ComputeConfig) -> ApiResult<BTreeMap<&'static str, i64>> {
    class_limits(store, config, DEFAULT_CLASS).await
}

/// A quota class's limits: those set for it, else the config's defaults.
pub async fn class_limits(
    store: &Store,
    config: &ComputeConfig,
    class: &str,
) -> ApiResult<BTreeMap<&'static str, i64>> {
    let set = store.quota_class_limits(class).await?;
    Ok(overlay(config, &[&set]))
}

/// Every resource's limit: the first of `layers` that sets it, else the config's default.
fn overlay(config: &ComputeConfig, layers: &[&BTreeMap<String, i64>]) -> BTreeMap<&'static str, i64> {
    RESOURCES
        .iter()
        .map(|r| {
            let set = layers.iter().find_map(|l| l.get(*r)).copied();
            (*r, set.unwrap_or_else(|| default_limit(config, r)))
        })
        .collect()
}

/// A project's limits: the defaults, with what was set for the project (one read for both).
pub async fn project_limits(
    store: &Store,
    config: &ComputeConfig,
    project_id: &str,
) -> ApiResult<BTreeMap<&'static str, i64>> {
    let (project, class) = store.project_and_class_limits(project_id, DEFAULT_CLASS).await?;
    Ok(overlay(config, &[&project, &class]))
}

/// What a project uses, per resource. As in nova, the per-user resources (`key_pairs`,
/// `server_group_members`) and the ones nothing counts show 0.
pub async fn project_usage(store: &Store, project_id: &str) -> ApiResult<BTreeMap<&'static str, i64>> {
    let servers = store.instance_usage(project_id).await?;
    let groups = store.count_server_groups(project_id).await?;
    Ok(RESOURCES
        .iter()
        .map(|r| {
            let used = match *r {
                "instances" => servers.instances,
                "cores" => servers.cores,
                "ram" => servers.ram,
                "server_groups" => groups,
                _ => 0,
            };
            (*r, used)
        })
        .collect())
}

/// A project's limits and usage (what `GET /limits` and the quota detail show).
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// The server limits, also in `limit`.
    pub instances: i64,
    pub cores: i64,
    pub ram: i64,
    /// Every resource's limit.
    pub limit: BTreeMap<&'static str, i64>,
    /// Every resource's usage.
    pub in_use: BTreeMap<&'static str, i64>,
}

pub async fn limits(store: &Store, config: &Config, project_id: &str) -> ApiResult<Limits> {
    let limit = project_limits(store, &config.compute, project_id).await?;
    Ok(Limits {
        instances: limit["instances"],
        cores: limit["cores"],
        ram: limit["ram"],
        limit,
        in_use: project_usage(store, project_id).await?,
    })
}

fn over(limit: i64, used: i64, add: i64) -> bool {
    limit >= 0 && used + add > limit
}

/// Whether a project may have `add_instances` more servers using `add_cores` and `add_ram`
/// more; a 403 in nova's words otherwise ("Quota exceeded for cores: Requested 4, but
/// already used 28 of 30 cores").
pub async fn check_servers(
    service: &ComputeService,
    project_id: &str,
    add_instances: i64,
    add_cores: i64,
    add_ram: i64,
) -> ApiResult<()> {
    let limits = project_limits(&service.store, &service.config.compute, project_id).await?;
    let used = service.store.instance_usage(project_id).await?;
    servers_fit(&limits, &used, add_instances, add_cores, add_ram)
}

/// [`check_servers`] with the project's limits and usage already read.
pub fn servers_fit(
    limits: &BTreeMap<&'static str, i64>,
    used: &Usage,
    add_instances: i64,
    add_cores: i64,
    add_ram: i64,
) -> ApiResult<()> {
    // Sorted by name, as nova sorts them.
    let wanted = [
        ("cores", used.cores, add_cores),
        ("instances", used.instances, add_instances),
        ("ram", used.ram, add_ram),
    ];
    let overs: Vec<_> = wanted.iter().filter(|(r, used, add)| over(limits[r], *used, *add)).collect();
    if overs.is_empty() {
        return Ok(());
    }
    let join =
        |f: &dyn Fn(&(&str, i64, i64)) -> String| overs.iter().map(|o| f(o)).collect::<Vec<_>>().join(", ");
    let names = join(&|o| o.0.to_string());
    Err(ApiError::forbidden(format!(
        "Quota exceeded for {names}: Requested {}, but already used {} of {} {names}",
        join(&|o| o.2.to_string()),
        join(&|o| o.1.to_string()),
        join(&|o| limits[o.0].to_string()),
    )))
}

/// Whether the user may have one more key pair (the limit is the project's).
pub async fn check_keypairs(service: &ComputeService, project_id: &str, user_id: &str) -> ApiResult<()> {
    let limit = project_limits(&service.store, &service.config.compute, project_id).await?["key_pairs"];
    if over(limit, service.store.count_keypairs(user_id).await?, 1) {
        return Err(ApiError::forbidden("Quota exceeded, too many key pairs."));
    }
    Ok(())
}

/// Whether the project may have one more server group.
pub async fn check_server_groups(service: &ComputeService, project_id: &str) -> ApiResult<()> {
    let limit = project_limits(&service.store, &service.config.compute, project_id).await?["server_groups"];
    if over(limit, service.store.count_server_groups(project_id).await?, 1) {
        return Err(ApiError::forbidden("Quota exceeded, too many server groups."));
    }
    Ok(())
}

/// Whether `add` more servers of the user may join the group (nova counts a group's
/// members per user).
pub async fn check_server_group_members(
    service: &ComputeService,
    project_id: &str,
    group_uuid: &str,
    user_id: &str,
    add: i64,
) -> ApiResult<()> {
    let limit =
        project_limits(&service.store, &service.config.compute, project_id).await?["server_group_members"];
    if over(limit, service.store.count_group_members_of_user(group_uuid, user_id).await?, add) {
        return Err(ApiError::forbidden("Quota exceeded, too many servers in group"));
    }
    Ok(())
}

/// Whether a server may have `count` metadata items.
pub async fn check_metadata_items(service: &ComputeService, project_id: &str, count: i64) -> ApiResult<()> {
    metadata_fits(&project_limits(&service.store, &service.config.compute, project_id).await?, count)
}

/// [`check_metadata_items`] with the project's limits already read.
pub fn metadata_fits(limits: &BTreeMap<&'static str, i64>, count: i64) -> ApiResult<()> {
    let limit = limits["metadata_items"];
    if over(limit, 0, count) {
        return Err(ApiError::forbidden(format!("Maximum number of metadata items exceeds {limit}")));
    }
    Ok(())
}

/// Whether no server limit (instances, cores, ram) applies: then creating servers needs
/// neither the project's usage nor the quota lock.
pub fn servers_unlimited(limits: &BTreeMap<&'static str, i64>) -> bool {
    ["instances", "cores", "ram"].iter().all(|r| limits[r] < 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_config() {
        let c = ComputeConfig { quota_cores: 7, ..Default::default() };
        let d = defaults(&c);
        assert_eq!(d["cores"], 7);
        assert_eq!(d["injected_files"], 5);
        assert_eq!(d["floating_ips"], -1);
        assert_eq!(d.len(), RESOURCES.len());
        assert!(!over(-1, 100, 100));
        assert!(over(10, 8, 3));
        assert!(!over(10, 8, 2));
    }
}
