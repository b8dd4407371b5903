//! Host aggregates, as nova's `AggregateAPI`: an aggregate's `availability_zone` metadata
//! puts its hosts in that zone, so changes that would put a host in two zones, or move
//! servers between zones, are refused. Host membership is mirrored into placement (the
//! host's resource provider joins the aggregate), so that placement's `member_of` sees it.

use std::collections::BTreeMap;

use stratus_core::error::{ApiError, ApiResult};

use crate::store::Aggregate;
use crate::ComputeService;

/// The operation a refusal names, in nova's messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    AddHost,
    RemoveHost,
    Update,
    UpdateMetadata,
}

/// nova's `InvalidAggregateAction*` message; the caller picks the status (400 or 409).
fn refusal(op: Op, id: i64, reason: &str) -> String {
    match op {
        Op::AddHost => format!("Cannot add host to aggregate {id}. Reason: {reason}."),
        Op::RemoveHost => format!("Cannot remove host from aggregate {id}. Reason: {reason}."),
        Op::Update => format!("Cannot update aggregate {id}. Reason: {reason}."),
        Op::UpdateMetadata => format!("Cannot update metadata of aggregate {id}. Reason: {reason}."),
    }
}

pub async fn get(s: &ComputeService, id: i64) -> ApiResult<Aggregate> {
    s.store
        .aggregate(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("Aggregate {id} could not be found.")))
}

/// nova's `is_safe_to_update_az`: a zone must have a name; no host of the aggregate (or
/// `hosts`) may be in an aggregate of another zone; with `check_instances`, a zone change
/// must not move servers. The reason, if unsafe.
async fn az_change_refused(
    s: &ComputeService,
    agg: &Aggregate,
    new_zone: Option<&str>,
    hosts: &[String],
    check_instances: bool,
) -> ApiResult<Option<String>> {
    let Some(new_zone) = new_zone else { return Ok(None) };
    if new_zone.is_empty() {
        return Ok(Some(format!("Aggregate {} does not support empty named availability zone", agg.name)));
    }
    let conflicting: Vec<String> = s
        .store
        .aggregates()
        .await?
        .iter()
        .filter(|a| a.id != agg.id && a.hosts.iter().any(|h| hosts.contains(h)))
        .filter_map(|a| a.availability_zone().filter(|z| *z != new_zone).map(|z| format!("'{z}'")))
        .collect();
    if !conflicting.is_empty() {
        return Ok(Some(format!(
            "One or more hosts already in availability zone(s) [{}]",
            conflicting.join(", ")
        )));
    }
    if check_instances && agg.availability_zone() != Some(new_zone) {
        for h in hosts {
            if !s.store.instances_on_host(h).await?.is_empty() {
                return Ok(Some("One or more hosts contain instances in this zone".into()));
            }
        }
    }
    Ok(None)
}

/// The zone a host's aggregates give it (None: no aggregate zone), leaving one aggregate out.
async fn aggregate_zone_of(s: &ComputeService, host: &str, except: Option<i64>) -> ApiResult<Option<String>> {
    Ok(s.store
        .aggregates()
        .await?
        .into_iter()
        .filter(|a| Some(a.id) != except && a.hosts.iter().any(|h| h == host))
        .find_map(|a| a.availability_zone().map(str::to_string)))
}

/// Refuses to change the zone of a host that has servers (their zone cannot change).
async fn servers_would_move(
    s: &ComputeService,
    op: Op,
    host: &str,
    from: Option<&str>,
    to: Option<&str>,
) -> ApiResult<Option<String>> {
    if from == to {
        return Ok(None);
    }
    let servers = s.store.instances_on_host(host).await?.len();
    if servers == 0 {
        return Ok(None);
    }
    let name = |z: Option<&str>| z.unwrap_or("None").to_string();
    let what = if op == Op::AddHost { "added to" } else { "removed from" };
    Ok(Some(format!(
        "The host cannot be {what} the aggregate as the availability zone of the host would change from '{}' \
         to '{}' but the host already has {servers} instance(s). Changing the AZ of an existing instance is not \
         supported by this action. Move the instances away from this host then try again. If you need to move \
         the instances between AZs then you can use shelve_offload and unshelve to achieve this",
        name(from),
        name(to)
    )))
}

/// The host's resource provider joins exactly the aggregates the host is in. Failures are
/// logged, not returned, as nova does: the aggregate itself has changed.
async fn mirror_to_placement(s: &ComputeService, host: &str) {
    let rp = stratus_compute_agent::provider_uuid(host);
    let result = match s.store.host_aggregate_uuids(host).await {
        Ok(uuids) => s.placement.set_aggregates(&rp, &uuids).await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    if let Err(e) = result {
        tracing::warn!(host, provider = %rp, error = %e, "could not mirror the host's aggregates into placement");
    }
}

pub async fn create(s: &ComputeService, name: &str, zone: Option<&str>) -> ApiResult<Aggregate> {
    if s.store.aggregate_name_taken(name, None).await? {
        return Err(ApiError::conflict(format!("Aggregate {name} already exists.")));
    }
    let mut metadata = BTreeMap::new();
    if let Some(z) = zone {
        metadata.insert("availability_zone".to_string(), z.to_string());
    }
    let agg = s.store.create_aggregate(name, &metadata).await?;
    s.hosts_changed();
    Ok(agg)
}

/// Renames an aggregate and/or moves it to another zone (`Some(None)`: no zone, which
/// nova refuses).
pub async fn update(
    s: &ComputeService,
    id: i64,
    name: Option<&str>,
    zone: Option<Option<&str>>,
) -> ApiResult<Aggregate> {
    let agg = get(s, id).await?;
    if let Some(name) = name {
        if s.store.aggregate_name_taken(name, Some(id)).await? {
            return Err(ApiError::conflict(format!("Aggregate {name} already exists.")));
        }
    }
    if let Some(zone) = zone {
        if let Some(why) = az_change_refused(s, &agg, Some(zone.unwrap_or("")), &agg.hosts, true).await? {
            return Err(ApiError::bad_request(refusal(Op::Update, id, &why)));
        }
    }
    if let Some(name) = name {
        s.store.rename_aggregate(id, name).await?;
    }
    if let Some(Some(zone)) = zone {
        let change = BTreeMap::from([("availability_zone".to_string(), Some(zone.to_string()))]);
        s.store.update_aggregate_metadata(id, &change).await?;
    }
    s.hosts_changed();
    get(s, id).await
}

/// Sets (Some) and removes (None) metadata keys.
pub async fn set_metadata(
    s: &ComputeService,
    id: i64,
    changes: &BTreeMap<String, Option<String>>,
) -> ApiResult<Aggregate> {
    let agg = get(s, id).await?;
    if let Some(zone) = changes.get("availability_zone") {
        let zone = zone.as_deref().unwrap_or("");
        if let Some(why) = az_change_refused(s, &agg, Some(zone), &agg.hosts, true).await? {
            return Err(ApiError::bad_request(refusal(Op::UpdateMetadata, id, &why)));
        }
    }
    s.store.update_aggregate_metadata(id, changes).await?;
    s.hosts_changed();
    get(s, id).await
}

pub async fn add_host(s: &ComputeService, id: i64, host: &str) -> ApiResult<Aggregate> {
    if s.store.service_by_host(host, "nova-compute").await?.is_none() {
        return Err(ApiError::not_found(format!("Compute host {host} could not be found.")));
    }
    let agg = get(s, id).await?;
    let hosts = [host.to_string()];
    if let Some(why) = az_change_refused(s, &agg, agg.availability_zone(), &hosts, false).await? {
        return Err(ApiError::conflict(refusal(Op::AddHost, id, &why)));
    }
    if let Some(new_zone) = agg.availability_zone() {
        let old_zone = aggregate_zone_of(s, host, None).await?;
        if let Some(why) =
            servers_would_move(s, Op::AddHost, host, old_zone.as_deref(), Some(new_zone)).await?
        {
            return Err(ApiError::conflict(refusal(Op::AddHost, id, &why)));
        }
    }
    if !s.store.add_aggregate_host(id, host).await? {
        return Err(ApiError::conflict(format!("Aggregate {id} already has host {host}.")));
    }
    s.hosts_changed();
    mirror_to_placement(s, host).await;
    get(s, id).await
}

pub async fn remove_host(s: &ComputeService, id: i64, host: &str) -> ApiResult<Aggregate> {
    let not_found = || ApiError::not_found(format!("Cannot remove host {host} in aggregate {id}"));
    if s.store.service_by_host(host, "nova-compute").await?.is_none() {
        return Err(not_found());
    }
    let agg = s.store.aggregate(id).await?.ok_or_else(not_found)?;
    if let Some(current) = agg.availability_zone() {
        if agg.hosts.iter().any(|h| h == host) {
            let after = aggregate_zone_of(s, host, Some(id)).await?;
            if let Some(why) =
                servers_would_move(s, Op::RemoveHost, host, Some(current), after.as_deref()).await?
            {
                return Err(ApiError::conflict(refusal(Op::RemoveHost, id, &why)));
            }
        }
    }
    if !s.store.remove_aggregate_host(id, host).await? {
        return Err(not_found());
    }
    s.hosts_changed();
    mirror_to_placement(s, host).await;
    get(s, id).await
}

/// Deletes an aggregate that has no hosts.
pub async fn delete(s: &ComputeService, id: i64) -> ApiResult<()> {
    let agg = get(s, id).await?;
    if !agg.hosts.is_empty() {
        return Err(ApiError::bad_request(refusal(Op::RemoveHost, id, "Host aggregate is not empty")));
    }
    s.store.delete_aggregate(id).await?;
    s.hosts_changed();
    Ok(())
}
