//! The typed client against the real router on an ephemeral port.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::*;
use serde_json::json;
use stratus_core::auth::BoxFuture;
use stratus_core::service_auth::{StaticToken, TokenSource};
use stratus_placement::client::{
    CandidateQuery, CandidateView, ClientError, ConsumerAllocations, Inventory, PlacementClient,
    CONSUMER_TYPE, MIGRATION_CONSUMER_TYPE,
};

fn inv(total: u64, ratio: f64) -> Inventory {
    Inventory { total, reserved: 0, min_unit: 1, max_unit: total, step_size: 1, allocation_ratio: ratio }
}

fn allocs(rp: &str, pairs: &[(&str, u64)]) -> BTreeMap<String, BTreeMap<String, u64>> {
    BTreeMap::from([(rp.to_string(), pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect())])
}

/// Hands out a stale token first, the good one after `invalidate`.
struct Rotating {
    invalidated: AtomicUsize,
}

impl TokenSource for Rotating {
    fn token(&self) -> BoxFuture<'_, anyhow::Result<String>> {
        let t = if self.invalidated.load(Ordering::SeqCst) == 0 { "expired" } else { SERVICE };
        Box::pin(async move { Ok(t.to_string()) })
    }
    fn invalidate(&self) {
        self.invalidated.fetch_add(1, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn client_end_to_end() {
    let c = Cloud::start().await;
    let auth = Arc::new(Rotating { invalidated: AtomicUsize::new(0) });
    let client = PlacementClient::new(c.url(), auth.clone());
    let rp = new_uuid();
    // Created once; a second call finds it. The first call retried after a 401.
    assert_eq!(client.ensure_provider(&rp, "host1").await.unwrap(), 0);
    assert_eq!(auth.invalidated.load(Ordering::SeqCst), 1);
    assert_eq!(client.ensure_provider(&rp, "host1").await.unwrap(), 0);
    let inventory = BTreeMap::from([
        ("VCPU".to_string(), inv(8, 4.0)),
        ("MEMORY_MB".to_string(), inv(16384, 1.0)),
        ("DISK_GB".to_string(), inv(200, 1.0)),
    ]);
    client.set_inventory(&rp, &inventory).await.unwrap();
    let g = c.generation(&rp).await;
    client.set_inventory(&rp, &inventory).await.unwrap();
    assert_eq!(c.generation(&rp).await, g, "an unchanged inventory is not written again");
    client
        .set_traits(&rp, &["HW_ARCH_X86_64".into(), "COMPUTE_NODE".into(), "CUSTOM_FAST".into()])
        .await
        .unwrap();
    let agg = new_uuid();
    client.set_aggregates(&rp, std::slice::from_ref(&agg)).await.unwrap();

    let other = new_uuid();
    client.ensure_provider(&other, "host2").await.unwrap();
    client.set_inventory(&other, &BTreeMap::from([("VCPU".to_string(), inv(2, 1.0))])).await.unwrap();

    let q = CandidateQuery {
        resources: BTreeMap::from([("VCPU".into(), 4), ("MEMORY_MB".into(), 2048)]),
        required: vec!["COMPUTE_NODE".into()],
        forbidden: vec!["CUSTOM_SLOW".into()],
        member_of: vec![vec![agg.clone()]],
        in_tree: None,
        limit: Some(10),
    };
    // CUSTOM_SLOW does not exist: placement says 400.
    assert!(matches!(client.allocation_candidates(&q).await, Err(ClientError::Api { status: 400, .. })));
    let q = CandidateQuery { forbidden: vec!["HW_CPU_X86_SVM".into()], ..q };
    let cands = client.allocation_candidates(&q).await.unwrap();
    assert_eq!(cands.allocation_requests.len(), 1);
    assert_eq!(cands.allocation_requests[0].allocations, allocs(&rp, &[("VCPU", 4), ("MEMORY_MB", 2048)]));
    let summary = &cands.provider_summaries[&rp];
    assert_eq!(summary.resources["VCPU"].capacity, 32);
    assert!(summary.traits.contains(&"CUSTOM_FAST".to_string()));

    // Claims.
    let vm = new_uuid();
    let a = allocs(&rp, &[("VCPU", 4), ("MEMORY_MB", 2048)]);
    client.claim(&vm, &a, "proj", "user", None).await.unwrap();
    let err = client.claim(&vm, &a, "proj", "user", None).await.unwrap_err();
    assert!(
        matches!(&err, ClientError::Conflict(m) if m.contains("consumer generation conflict")),
        "{err:?}"
    );
    let (got, generation) = client.allocations(&vm).await.unwrap();
    assert_eq!(got, a);
    assert_eq!(generation, Some(1));
    let err =
        client.claim(&new_uuid(), &allocs(&other, &[("VCPU", 3)]), "proj", "user", None).await.unwrap_err();
    assert!(err.is_conflict());
    assert_eq!(client.provider_usages(&rp).await.unwrap()["VCPU"], 4);
    assert_eq!(client.project_usages("proj").await.unwrap()["MEMORY_MB"], 2048);

    // A move: the migration takes the source, the instance the destination.
    let migration = new_uuid();
    client
        .move_allocations(&[
            ConsumerAllocations {
                consumer: migration.clone(),
                allocations: a.clone(),
                project_id: "proj".into(),
                user_id: "user".into(),
                generation: None,
                consumer_type: MIGRATION_CONSUMER_TYPE,
            },
            ConsumerAllocations {
                consumer: vm.clone(),
                allocations: allocs(&other, &[("VCPU", 2)]),
                project_id: "proj".into(),
                user_id: "user".into(),
                generation: Some(1),
                consumer_type: CONSUMER_TYPE,
            },
        ])
        .await
        .unwrap();
    assert_eq!(client.allocations(&vm).await.unwrap().0, allocs(&other, &[("VCPU", 2)]));
    assert_eq!(client.allocations(&migration).await.unwrap().0, a);
    // The migration holds the source as a MIGRATION consumer, the instance stays an INSTANCE.
    for (consumer, kind) in [(&migration, "MIGRATION"), (&vm, "INSTANCE")] {
        let shown = c.get(&format!("/allocations/{consumer}")).send().await.expect(200).body;
        assert_eq!(shown["consumer_type"], kind, "{shown}");
    }
    client.delete_allocations(&migration).await.unwrap();
    client.delete_allocations(&migration).await.unwrap();
    assert_eq!(client.allocations(&migration).await.unwrap(), (BTreeMap::new(), None));

    // A provider with allocations cannot go; without, it can (twice).
    assert!(client.delete_provider(&other).await.unwrap_err().is_conflict());
    client.delete_allocations(&vm).await.unwrap();
    client.delete_provider(&other).await.unwrap();
    client.delete_provider(&other).await.unwrap();

    // A bad token stays an error.
    let bad = PlacementClient::new(c.url(), Arc::new(StaticToken("nope".into())));
    assert!(bad.ensure_provider(&new_uuid(), "x").await.is_err());
}

/// The in-process path (`stratus up`'s scheduler) answers as REST does: the same candidates,
/// the same errors, the same claims and releases.
#[tokio::test]
async fn in_process_path_matches_rest() {
    let c = Cloud::start().await;
    let auth = Arc::new(StaticToken(SERVICE.into()));
    let rest = PlacementClient::new(c.url(), auth.clone());
    // An unreachable endpoint: anything not served in process would fail.
    let local = PlacementClient::new("http://127.0.0.1:9".into(), auth).in_process(c.service.clone());
    let mut hosts = Vec::new();
    for (i, vcpus) in [8u64, 4, 2].into_iter().enumerate() {
        let rp = new_uuid();
        rest.ensure_provider(&rp, &format!("host{i}")).await.unwrap();
        let inventory = BTreeMap::from([
            ("VCPU".to_string(), inv(vcpus, 2.0)),
            ("MEMORY_MB".to_string(), inv(4096, 1.0)),
        ]);
        rest.set_inventory(&rp, &inventory).await.unwrap();
        rest.set_traits(&rp, &["COMPUTE_NODE".into(), format!("CUSTOM_H{i}")]).await.unwrap();
        hosts.push(rp);
    }
    let q = CandidateQuery {
        resources: BTreeMap::from([("VCPU".into(), 4), ("MEMORY_MB".into(), 3000)]),
        required: vec!["COMPUTE_NODE".into()],
        ..Default::default()
    };
    let via_rest = rest.allocation_candidates(&q).await.unwrap();
    let in_process = local.allocation_candidates(&q).await.unwrap();
    assert_eq!(in_process, via_rest);
    assert_eq!(in_process.allocation_requests.len(), 2, "a server cannot be bigger than the 2-vCPU host");
    assert_eq!(in_process.provider_summaries[&hosts[0]].resources["VCPU"].capacity, 16);
    assert!(in_process.provider_summaries[&hosts[1]].traits.contains(&"CUSTOM_H1".to_string()));
    // The same 400 for a trait that does not exist.
    let bad = CandidateQuery { required: vec!["CUSTOM_NOPE".into()], ..q.clone() };
    let (a, b) = (rest.allocation_candidates(&bad).await, local.allocation_candidates(&bad).await);
    assert!(
        matches!(&b, Err(ClientError::Api { status: 400, message, .. }) if message.contains("CUSTOM_NOPE")),
        "{b:?}"
    );
    assert_eq!(a, b);

    // A claim in process is seen over REST, and uses the capacity.
    let vm = new_uuid();
    let a = allocs(&hosts[1], &[("VCPU", 4), ("MEMORY_MB", 3000)]);
    local.claim(&vm, &a, "proj", "user", None).await.unwrap();
    assert_eq!(rest.allocations(&vm).await.unwrap(), (a.clone(), Some(1)));
    let after = local.allocation_candidates(&q).await.unwrap();
    assert_eq!(after, rest.allocation_candidates(&q).await.unwrap());
    assert_eq!(after.allocation_requests.len(), 1, "host1's memory is taken now");
    assert_eq!(after.provider_summaries[&hosts[0]].resources["VCPU"].used, 0);
    // Conflicts are conflicts: the same consumer again, or more than fits.
    let err = local.claim(&vm, &a, "proj", "user", None).await.unwrap_err();
    assert!(
        matches!(&err, ClientError::Conflict(m) if m.contains("consumer generation conflict")),
        "{err:?}"
    );
    let err =
        local.claim(&new_uuid(), &allocs(&hosts[2], &[("VCPU", 5)]), "proj", "user", None).await.unwrap_err();
    assert!(err.is_conflict(), "{err:?}");
    // A malformed claim is placement's 400, as over REST.
    let err = local.claim(&new_uuid(), &allocs("not-a-uuid", &[("VCPU", 1)]), "proj", "user", None).await;
    assert!(matches!(err, Err(ClientError::Api { status: 400, .. })), "{err:?}");
    // Releases: gone over REST too; a second release is fine.
    local.delete_allocations(&vm).await.unwrap();
    local.delete_allocations(&vm).await.unwrap();
    assert_eq!(rest.allocations(&vm).await.unwrap(), (BTreeMap::new(), None));
    assert_eq!(rest.provider_usages(&hosts[1]).await.unwrap().get("VCPU").copied().unwrap_or(0), 0);
}

/// What a scheduler reads through the view: per request its providers, their free amounts and
/// the allocations.
type Read = Vec<(Vec<(String, Option<i64>, Option<i64>)>, BTreeMap<String, BTreeMap<String, u64>>)>;

fn read(view: &dyn CandidateView) -> Read {
    (0..view.len())
        .map(|i| {
            // (The order of a request's providers is not part of the answer.)
            let mut providers: Vec<_> = (0..view.providers(i))
                .map(|k| {
                    (view.provider(i, k).to_string(), view.free(i, k, "VCPU"), view.free(i, k, "DISK_GB"))
                })
                .collect();
            providers.sort();
            (providers, view.allocations(i))
        })
        .collect()
}

/// The scheduler's in-place reading of the candidates (in process) gives what it reads from
/// the parsed REST answer: the same providers of each request, the same free amounts, the same
/// allocations — for single hosts and for a request spread over a tree.
#[tokio::test]
async fn candidates_read_in_place_match_rest() {
    let c = Cloud::start().await;
    let auth = Arc::new(StaticToken(SERVICE.into()));
    let rest = PlacementClient::new(c.url(), auth.clone());
    let local = PlacementClient::new("http://127.0.0.1:9".into(), auth).in_process(c.service.clone());
    let host = c.provider("host").await;
    c.inventory(&host, json!({"VCPU": {"total": 8}, "DISK_GB": {"total": 50}})).await.expect(200);
    // A tree: disk on the node, vCPUs on its NUMA child.
    let cn = c.provider("cn").await;
    c.inventory(&cn, json!({"DISK_GB": {"total": 100}})).await.expect(200);
    let numa = c.child("cn-numa0", &cn).await;
    c.inventory(&numa, json!({"VCPU": {"total": 4}})).await.expect(200);
    let vm = new_uuid();
    rest.claim(&vm, &allocs(&host, &[("VCPU", 3), ("DISK_GB", 5)]), "p", "u", None).await.unwrap();

    let q = CandidateQuery {
        resources: BTreeMap::from([("VCPU".into(), 1), ("DISK_GB".into(), 10)]),
        ..Default::default()
    };
    let via_rest = rest.with_allocation_candidates(&q, read).await.unwrap();
    let in_place = local.with_allocation_candidates(&q, read).await.unwrap();
    let sorted = |mut r: Read| {
        r.sort_by(|a, b| a.1.cmp(&b.1));
        r
    };
    assert_eq!(sorted(in_place.clone()), sorted(via_rest));
    assert_eq!(in_place.len(), 2);
    let flat = in_place.iter().find(|(p, _)| p.len() == 1).expect("the single host");
    assert_eq!(flat.0[0], (host.clone(), Some(8 - 3), Some(50 - 5)), "free = capacity - used");
    let tree = in_place.iter().find(|(p, _)| p.len() == 2).expect("the tree");
    let mut expected = vec![(cn.clone(), None, Some(100)), (numa.clone(), Some(4), None)];
    expected.sort();
    assert_eq!(tree.0, expected);
    assert_eq!(tree.1[&numa]["VCPU"], 1);
    assert_eq!(tree.1[&cn]["DISK_GB"], 10);
    // Errors are the REST path's.
    let bad = CandidateQuery { required: vec!["CUSTOM_NOPE".into()], ..q };
    let (a, b) = (
        rest.with_allocation_candidates(&bad, read).await,
        local.with_allocation_candidates(&bad, read).await,
    );
    assert!(matches!(&b, Err(ClientError::Api { status: 400, .. })), "{b:?}");
    assert_eq!(a, b);
}
