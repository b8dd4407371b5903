//! The in-process path of [`PlacementClient`](super::PlacementClient): when placement runs in
//! the caller's process (`stratus up`), the scheduler's hot calls — allocation candidates,
//! claims, releases — reach the service without HTTP. At a thousand hosts a candidates answer
//! is about 0.5 MB of JSON written by placement and parsed again by the scheduler on every
//! decision; here the search result is read straight from placement's snapshot.
//!
//! Same rules as over REST: the request is what the REST path would send (the same query
//! string, the same body, microversion 1.39), read by the handlers' own parsers and given to
//! the same service calls. Only the policy check is skipped: the caller is this process's own
//! service, which would present the `nova` service user's token.

use std::collections::BTreeMap;

use serde_json::Value;
use stratus_core::error::ApiError;
use stratus_core::http::microversion::Version;

use super::{AllocationRequest, Candidates, Capacity, ClientError, ProviderSummary};
use crate::api::{allocation_candidates, allocations};
use crate::query::Params;
use crate::service::PlacementService;

const VERSION: Version = Version::new(1, 39);

pub(super) async fn allocation_candidates(
    svc: &PlacementService,
    query: Vec<(String, String)>,
) -> Result<Candidates, ClientError> {
    allocation_candidates::search(svc, &Params(query), VERSION, |snap, found| {
        let allocation_requests = found
            .requests
            .iter()
            .map(|req| {
                let mut allocations: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
                for &(rp, rc, amount) in &req.parts {
                    allocations
                        .entry(snap.node(rp).uuid.clone())
                        .or_default()
                        .insert(snap.rcs.name(rc).to_string(), amount as u64);
                }
                AllocationRequest { allocations }
            })
            .collect();
        // As rendered from 1.27: every inventory of the provider, and its traits.
        let provider_summaries = found
            .summaries
            .iter()
            .map(|&id| {
                let node = snap.node(id);
                let resources = node
                    .inventories
                    .iter()
                    .map(|inv| {
                        let capacity = Capacity { capacity: inv.capacity() as u64, used: inv.used as u64 };
                        (snap.rcs.name(inv.rc).to_string(), capacity)
                    })
                    .collect();
                let mut traits: Vec<String> =
                    node.traits.iter().map(|t| snap.traits.name(*t).to_string()).collect();
                traits.sort_unstable();
                (node.uuid.clone(), ProviderSummary { resources, traits })
            })
            .collect();
        Candidates { allocation_requests, provider_summaries }
    })
    .await
    .map_err(error)
}

pub(super) async fn put_allocations(
    svc: &PlacementService,
    consumer: &str,
    body: Value,
) -> Result<(), ClientError> {
    allocations::put_consumer(svc, consumer, body, VERSION).await.map_err(error)
}

pub(super) async fn delete_allocations(svc: &PlacementService, consumer: &str) -> Result<(), ClientError> {
    allocations::delete_consumer(svc, consumer).await.map_err(error)
}

/// The error the REST path would have made of the same answer.
fn error(e: ApiError) -> ClientError {
    match e.status.as_u16() {
        409 => ClientError::Conflict(e.message),
        404 => ClientError::NotFound(e.message),
        status => ClientError::Api {
            status,
            code: e.kind.unwrap_or("placement.undefined_code").to_string(),
            message: e.message,
        },
    }
}
