//! `GET /allocation_candidates`: filtering by resources (allocation ratio, reserved, min/max/
//! step), traits, aggregates, trees, sharing providers, granular groups, limits and shapes.

mod common;

use common::*;
use serde_json::{json, Value};

fn providers_of(body: &Value) -> Vec<String> {
    let mut out: Vec<String> = body["allocation_requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["allocations"].as_object().unwrap().keys().cloned().collect::<Vec<_>>().join("+"))
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn resources_traits_aggregates_limit() {
    let c = Cloud::start().await;
    let big = c.provider("big").await;
    let small = c.provider("small").await;
    let odd = c.provider("odd").await;
    c.inventory(&big, json!({"VCPU": {"total": 16, "allocation_ratio": 2.0}, "MEMORY_MB": {"total": 32768, "reserved": 512}, "DISK_GB": {"total": 500}})).await.expect(200);
    c.inventory(
        &small,
        json!({"VCPU": {"total": 2}, "MEMORY_MB": {"total": 2048}, "DISK_GB": {"total": 20}}),
    )
    .await
    .expect(200);
    c.inventory(&odd, json!({"VCPU": {"total": 8, "step_size": 2, "min_unit": 2, "max_unit": 4}, "MEMORY_MB": {"total": 8192}})).await.expect(200);
    c.traits(&big, &["HW_CPU_X86_AVX2", "COMPUTE_NODE"]).await.expect(200);
    c.traits(&small, &["COMPUTE_NODE"]).await.expect(200);

    let mut all = vec![big.clone(), small.clone()];
    all.sort();
    let r = c.candidates("resources=VCPU:1,MEMORY_MB:512,DISK_GB:1").await;
    assert_eq!(providers_of(&r), all);
    let s = &r["provider_summaries"][&big];
    assert_eq!(s["resources"]["VCPU"], json!({"capacity": 32, "used": 0}));
    assert_eq!(s["resources"]["MEMORY_MB"], json!({"capacity": 32256, "used": 0}));
    assert_eq!(s["traits"], json!(["COMPUTE_NODE", "HW_CPU_X86_AVX2"]));
    assert!(s["parent_provider_uuid"].is_null());
    assert_eq!(s["root_provider_uuid"], big.as_str());
    assert_eq!(r["allocation_requests"][0]["mappings"][""].as_array().unwrap().len(), 1);

    // The allocation ratio counts: 20 VCPU fit only on big (16 * 2.0).
    assert_eq!(providers_of(&c.candidates("resources=VCPU:20").await), vec![big.clone()]);
    assert_eq!(providers_of(&c.candidates("resources=VCPU:33").await), Vec::<String>::new());
    // min_unit / max_unit / step_size of odd: 2 and 4 fit, 1, 3 and 6 do not.
    assert!(!providers_of(&c.candidates("resources=VCPU:1").await).contains(&odd));
    let r = c.candidates("resources=VCPU:4,MEMORY_MB:1024").await;
    assert!(providers_of(&r).contains(&odd));
    let r = c.candidates("resources=VCPU:3,MEMORY_MB:1024").await;
    assert!(!providers_of(&r).contains(&odd));
    let r = c.candidates("resources=VCPU:6,MEMORY_MB:1024").await;
    assert!(!providers_of(&r).contains(&odd));
    // Reserved counts: small has 2048 MB, big 32768 - 512.
    assert_eq!(providers_of(&c.candidates("resources=MEMORY_MB:32257").await), Vec::<String>::new());

    // Traits: required, forbidden, any-of.
    assert_eq!(
        providers_of(&c.candidates("resources=VCPU:1&required=HW_CPU_X86_AVX2").await),
        vec![big.clone()]
    );
    let r = c.candidates("resources=VCPU:2&required=!HW_CPU_X86_AVX2").await;
    let mut not_avx = vec![small.clone(), odd.clone()];
    not_avx.sort();
    assert_eq!(providers_of(&r), not_avx);
    let r = c.candidates("resources=VCPU:2&required=in:HW_CPU_X86_AVX2,COMPUTE_NODE").await;
    assert_eq!(providers_of(&r), all);
    let r = c.candidates("resources=VCPU:2&required=COMPUTE_NODE&required=!HW_CPU_X86_AVX2").await;
    assert_eq!(providers_of(&r), vec![small.clone()]);
    c.get("/allocation_candidates?resources=VCPU:1&required=CUSTOM_NOPE").send().await.expect(400);
    c.get("/allocation_candidates?resources=CUSTOM_NOPE:1").send().await.expect(400);
    c.get("/allocation_candidates?resources=VCPU:1&required=in:A,B")
        .version(Some("1.38"))
        .send()
        .await
        .expect(400);

    // Aggregates.
    let agg1 = new_uuid();
    let agg2 = new_uuid();
    c.aggregates(&small, &[&agg1]).await.expect(200);
    c.aggregates(&odd, &[&agg2]).await.expect(200);
    assert_eq!(
        providers_of(&c.candidates(&format!("resources=VCPU:2&member_of={agg1}")).await),
        vec![small.clone()]
    );
    let r = c.candidates(&format!("resources=VCPU:2&member_of=in:{agg1},{agg2}")).await;
    assert_eq!(providers_of(&r).len(), 2);
    let r = c.candidates(&format!("resources=VCPU:2&member_of={agg1}&member_of={agg2}")).await;
    assert_eq!(providers_of(&r).len(), 0);
    let r = c.candidates(&format!("resources=VCPU:2&member_of=!{agg1}")).await;
    assert!(!providers_of(&r).contains(&small));
    assert_eq!(
        providers_of(&c.candidates(&format!("resources=VCPU:2&member_of={}", new_uuid())).await).len(),
        0
    );

    // Limit.
    let r = c.candidates("resources=VCPU:2&limit=2").await;
    assert_eq!(r["allocation_requests"].as_array().unwrap().len(), 2);
    assert_eq!(r["provider_summaries"].as_object().unwrap().len(), 2);
    c.get("/allocation_candidates?resources=VCPU:1&limit=0").send().await.expect(400);
    // Usage counts.
    c.claim(&new_uuid(), json!({small.clone(): {"resources": {"VCPU": 2}}}), None).await.expect(204);
    let r = c.candidates("resources=VCPU:1").await;
    assert!(!providers_of(&r).contains(&small));
    // in_tree.
    assert_eq!(
        providers_of(&c.candidates(&format!("resources=VCPU:1&in_tree={big}")).await),
        vec![big.clone()]
    );

    // Shapes of old microversions.
    let r = c.get("/allocation_candidates?resources=VCPU:1").version(Some("1.10")).send().await.expect(200);
    let first = &r.body["allocation_requests"][0]["allocations"][0];
    assert!(first["resource_provider"]["uuid"].is_string());
    let s = r.body["provider_summaries"].as_object().unwrap().values().next().unwrap();
    assert!(s.get("traits").is_none());
    let r =
        c.get("/allocation_candidates?resources=DISK_GB:1").version(Some("1.26")).send().await.expect(200);
    let s = &r.body["provider_summaries"][&big];
    assert_eq!(s["resources"].as_object().unwrap().len(), 1, "before 1.27 only requested classes");
    assert!(r.body["allocation_requests"][0].get("mappings").is_none());
    c.get("/allocation_candidates?resources=VCPU:1").version(Some("1.9")).send().await.expect(404);
    c.get("/allocation_candidates").send().await.expect(400);
}

#[tokio::test]
async fn trees_sharing_and_granular_groups() {
    let c = Cloud::start().await;
    // A compute node with two NUMA children (VCPU/memory there) and two PFs with VFs.
    let cn = c.provider("cn").await;
    c.inventory(&cn, json!({"DISK_GB": {"total": 100}})).await.expect(200);
    let numa0 = c.child("cn-numa0", &cn).await;
    let numa1 = c.child("cn-numa1", &cn).await;
    c.inventory(&numa0, json!({"VCPU": {"total": 4}, "MEMORY_MB": {"total": 4096}})).await.expect(200);
    c.inventory(&numa1, json!({"VCPU": {"total": 4}, "MEMORY_MB": {"total": 4096}})).await.expect(200);
    let pf0 = c.child("cn-pf0", &cn).await;
    let pf1 = c.child("cn-pf1", &cn).await;
    c.inventory(&pf0, json!({"SRIOV_NET_VF": {"total": 2}})).await.expect(200);
    c.inventory(&pf1, json!({"SRIOV_NET_VF": {"total": 2}})).await.expect(200);
    c.req("PUT", "/traits/CUSTOM_PHYSNET_A").send().await.expect(201);
    c.traits(&pf0, &["CUSTOM_PHYSNET_A"]).await.expect(200);

    // The unnumbered group spreads over the tree: 2 NUMA choices for VCPU x 2 for memory.
    let r = c.candidates("resources=VCPU:1,MEMORY_MB:512,DISK_GB:10").await;
    assert_eq!(r["allocation_requests"].as_array().unwrap().len(), 4);
    assert_eq!(r["provider_summaries"].as_object().unwrap().len(), 5, "the whole tree is summarized");
    assert_eq!(r["provider_summaries"][&numa0]["parent_provider_uuid"], cn.as_str());
    assert_eq!(r["provider_summaries"][&numa0]["root_provider_uuid"], cn.as_str());
    // Before 1.29 only one provider per tree may be used: none here can do it alone.
    let old = c
        .get("/allocation_candidates?resources=VCPU:1,DISK_GB:10")
        .version(Some("1.28"))
        .send()
        .await
        .expect(200);
    assert_eq!(old.body["allocation_requests"], json!([]));

    // Granular: one VF on the PHYSNET_A PF, VCPU+memory from one NUMA node.
    let r = c.candidates("resources1=VCPU:1,MEMORY_MB:512&resources2=SRIOV_NET_VF:1&required2=CUSTOM_PHYSNET_A&group_policy=none").await;
    let reqs = r["allocation_requests"].as_array().unwrap();
    assert_eq!(reqs.len(), 2);
    for req in reqs {
        assert_eq!(req["allocations"][&pf0]["resources"]["SRIOV_NET_VF"], 1);
        assert_eq!(req["mappings"]["2"], json!([pf0]));
    }
    // isolate: two VFs from different PFs; none: the same PF may serve both.
    let r = c.candidates("resources1=SRIOV_NET_VF:1&resources2=SRIOV_NET_VF:1&group_policy=isolate").await;
    assert_eq!(r["allocation_requests"].as_array().unwrap().len(), 2);
    let r = c.candidates("resources1=SRIOV_NET_VF:1&resources2=SRIOV_NET_VF:1&group_policy=none").await;
    let reqs = r["allocation_requests"].as_array().unwrap();
    assert!(reqs.iter().any(|q| q["allocations"][&pf0]["resources"]["SRIOV_NET_VF"] == 2));
    // Two granular groups need a group_policy.
    c.get("/allocation_candidates?resources1=VCPU:1&resources2=VCPU:1").send().await.expect(400);
    // Same subtree: the VF group and the (resourceless) group rooted at the PHYSNET PF.
    let r = c
        .candidates(
            "resources1=SRIOV_NET_VF:1&required_pf=CUSTOM_PHYSNET_A&same_subtree=1,_pf&group_policy=none",
        )
        .await;
    let reqs = r["allocation_requests"].as_array().unwrap();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0]["mappings"]["_pf"], json!([pf0]));
    // root_required.
    c.traits(&cn, &["COMPUTE_NODE"]).await.expect(200);
    assert_eq!(
        c.candidates("resources=DISK_GB:1&root_required=COMPUTE_NODE").await["allocation_requests"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        c.candidates("resources=DISK_GB:1&root_required=!COMPUTE_NODE").await["allocation_requests"],
        json!([])
    );

    // A sharing provider of disk, shared with the compute node through an aggregate.
    let agg = new_uuid();
    let nfs = c.provider("nfs").await;
    c.inventory(&nfs, json!({"DISK_GB": {"total": 1000}})).await.expect(200);
    c.traits(&nfs, &["MISC_SHARES_VIA_AGGREGATE"]).await.expect(200);
    c.aggregates(&nfs, &[&agg]).await.expect(200);
    c.aggregates(&cn, &[&agg]).await.expect(200);
    let r = c.candidates("resources=VCPU:1,DISK_GB:500").await;
    let reqs = r["allocation_requests"].as_array().unwrap();
    assert_eq!(reqs.len(), 2, "disk only fits the sharing provider; VCPU from either NUMA node");
    for req in reqs {
        assert_eq!(req["allocations"][&nfs]["resources"]["DISK_GB"], 500);
    }
    // The sharing provider alone, for disk only, is a candidate too.
    let r = c.candidates("resources=DISK_GB:500").await;
    assert_eq!(providers_of(&r), vec![nfs.clone()]);
}
