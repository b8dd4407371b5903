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

use serde_json::Value;
use stratus_core::error::ApiError;
use stratus_core::http::microversion::Version;

use super::{
    AllocationRequest, Allocations, CandidateView, Candidates, Capacity, ClientError, ProviderSummary,
};
use crate::api::{allocation_candidates, allocations};
use crate::candidates::Found;
use crate::query::Params;
use crate::service::PlacementService;
use crate::snapshot::Snapshot;

const VERSION: Version = Version::new(1, 39);

pub(super) async fn allocation_candidates(
    svc: &PlacementService,
    query: Vec<(String, String)>,
) -> Result<Candidates, ClientError> {
    allocation_candidates::search(svc, &Params(query), VERSION, |snap, found| {
        let view = InPlace::new(snap, found);
        let allocation_requests =
            (0..view.len()).map(|i| AllocationRequest { allocations: view.allocations(i) }).collect();
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

/// The candidates as placement's search found them, read through [`CandidateView`].
struct InPlace<'a> {
    snap: &'a Snapshot,
    found: &'a Found,
    /// The ids of the classes a scheduler reads for every candidate, resolved once.
    common: [(&'static str, Option<u32>); 3],
}

impl<'a> InPlace<'a> {
    fn new(snap: &'a Snapshot, found: &'a Found) -> InPlace<'a> {
        let common = ["VCPU", "MEMORY_MB", "DISK_GB"].map(|rc| (rc, snap.rcs.get(rc)));
        InPlace { snap, found, common }
    }

    fn rc_id(&self, rc: &str) -> Option<u32> {
        match self.common.iter().find(|(name, _)| *name == rc) {
            Some((_, id)) => *id,
            None => self.snap.rcs.get(rc),
        }
    }

    /// Request `i`'s providers: its parts are sorted by provider id, so they are the runs.
    fn provider_ids(&self, i: usize) -> impl Iterator<Item = u32> + '_ {
        let parts = self.found.requests.get(i).parts;
        parts.iter().enumerate().filter(|(j, p)| *j == 0 || parts[j - 1].0 != p.0).map(|(_, p)| p.0)
    }

    fn provider_id(&self, i: usize, k: usize) -> u32 {
        self.provider_ids(i).nth(k).expect("k < providers(i)")
    }
}

impl CandidateView for InPlace<'_> {
    fn len(&self) -> usize {
        self.found.requests.len()
    }
    fn providers(&self, i: usize) -> usize {
        self.provider_ids(i).count()
    }
    fn provider(&self, i: usize, k: usize) -> &str {
        &self.snap.node(self.provider_id(i, k)).uuid
    }
    fn free(&self, i: usize, k: usize, rc: &str) -> Option<i64> {
        let rc = self.rc_id(rc)?;
        let node = self.snap.node(self.provider_id(i, k));
        node.inventories.iter().find(|inv| inv.rc == rc).map(|inv| inv.capacity() - inv.used)
    }
    fn free_common(&self, i: usize, k: usize) -> [Option<i64>; 3] {
        let node = self.snap.node(self.provider_id(i, k));
        self.common.map(|(_, rc)| {
            let inv = node.inventories.iter().find(|inv| Some(inv.rc) == rc)?;
            Some(inv.capacity() - inv.used)
        })
    }
    fn provider_key(&self, i: usize, k: usize) -> Option<u32> {
        Some(self.provider_id(i, k))
    }
    fn key_epoch(&self) -> Option<u64> {
        Some(self.snap.epoch)
    }
    fn allocations(&self, i: usize) -> Allocations {
        let mut allocations = Allocations::new();
        for &(rp, rc, amount) in self.found.requests.get(i).parts {
            allocations
                .entry(self.snap.node(rp).uuid.clone())
                .or_default()
                .insert(self.snap.rcs.name(rc).to_string(), amount as u64);
        }
        allocations
    }
}

pub(super) async fn with_candidates<R>(
    svc: &PlacementService,
    query: Vec<(String, String)>,
    f: impl FnOnce(&dyn CandidateView) -> R,
) -> Result<R, ClientError> {
    allocation_candidates::search(svc, &Params(query), VERSION, |snap, found| f(&InPlace::new(snap, found)))
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
