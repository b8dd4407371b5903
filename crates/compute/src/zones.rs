//! Availability zones: the one rule for which zone a host is in. A host in an aggregate
//! with `availability_zone` metadata is in that zone; any other host is in the zone its
//! compute service reported (`compute_agent.availability_zone`, default `nova`).

use std::collections::HashMap;

use stratus_core::error::ApiResult;

use crate::store::Store;

/// host → zone, for hosts whose zone comes from an aggregate.
pub async fn host_zones(store: &Store) -> ApiResult<HashMap<String, String>> {
    let metadata = store.host_aggregate_metadata().await?;
    Ok(metadata
        .into_iter()
        .filter_map(|(host, m)| {
            m.get("availability_zone").and_then(|v| v.first().cloned()).map(|z| (host, z))
        })
        .collect())
}

/// The zone of one host.
pub async fn zone_of_host(store: &Store, host: &str) -> ApiResult<String> {
    if let Some(z) = host_zones(store).await?.remove(host) {
        return Ok(z);
    }
    let services = store.services().await?;
    Ok(services
        .into_iter()
        .find(|s| s.host == host && s.binary == "nova-compute")
        .map(|s| s.availability_zone)
        .unwrap_or_else(|| "nova".into()))
}
