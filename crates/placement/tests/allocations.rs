//! Allocations over HTTP: claims, consumer generations, capacity, moves, usages, and many
//! claims at once.

mod common;

use common::*;
use serde_json::json;

#[tokio::test]
async fn claims_with_consumer_generations() {
    let c = Cloud::start().await;
    let rp = c.provider("cn").await;
    c.inventory(&rp, json!({"VCPU": {"total": 4, "allocation_ratio": 2.0}, "MEMORY_MB": {"total": 2048, "step_size": 256, "max_unit": 1024}})).await.expect(200);
    let g0 = c.generation(&rp).await;
    let consumer = new_uuid();
    let alloc = json!({rp.clone(): {"resources": {"VCPU": 2, "MEMORY_MB": 512}}});
    // A new consumer is claimed with generation null; anything else is a conflict.
    let r = c.claim(&consumer, alloc.clone(), Some(0)).await.expect(409);
    assert_eq!(r.code(), "placement.concurrent_update");
    c.claim(&consumer, alloc.clone(), None).await.expect(204);
    assert_eq!(c.generation(&rp).await, g0 + 1, "the provider's generation moves with its allocations");
    let r = c.get(&format!("/allocations/{consumer}")).send().await.expect(200);
    assert_eq!(r.body["consumer_generation"], 1);
    assert_eq!(r.body["project_id"], "p1");
    assert_eq!(r.body["user_id"], "u1");
    assert_eq!(r.body["consumer_type"], "INSTANCE");
    assert_eq!(r.body["allocations"][&rp]["resources"], json!({"VCPU": 2, "MEMORY_MB": 512}));
    assert_eq!(r.body["allocations"][&rp]["generation"], g0 + 1);
    // Replacing needs the current generation.
    let r = c.claim(&consumer, alloc.clone(), None).await.expect(409);
    assert_eq!(r.code(), "placement.concurrent_update");
    c.claim(&consumer, json!({rp.clone(): {"resources": {"VCPU": 3}}}), Some(1)).await.expect(204);
    let r = c.get(&format!("/allocations/{consumer}")).send().await.expect(200);
    assert_eq!(r.body["consumer_generation"], 2);
    assert_eq!(r.body["allocations"][&rp]["resources"], json!({"VCPU": 3}));
    // Older microversions show less.
    let r = c.get(&format!("/allocations/{consumer}")).version(Some("1.11")).send().await.expect(200);
    assert!(r.body.get("project_id").is_none() && r.body.get("consumer_generation").is_none());

    // Capacity: (4 - 0) * 2.0 = 8 VCPU; min/max/step of the inventory.
    let other = new_uuid();
    let r = c.claim(&other, json!({rp.clone(): {"resources": {"VCPU": 6}}}), None).await.expect(409);
    assert!(r.body["errors"][0]["detail"].as_str().unwrap().contains("exceed the capacity"));
    c.claim(&other, json!({rp.clone(): {"resources": {"VCPU": 5}}}), None).await.expect(204);
    let r =
        c.claim(&new_uuid(), json!({rp.clone(): {"resources": {"MEMORY_MB": 300}}}), None).await.expect(409);
    assert!(r.body["errors"][0]["detail"].as_str().unwrap().contains("violate inventory constraints"));
    c.claim(&new_uuid(), json!({rp.clone(): {"resources": {"MEMORY_MB": 1280}}}), None).await.expect(409);
    c.claim(&new_uuid(), json!({rp.clone(): {"resources": {"DISK_GB": 1}}}), None).await.expect(409);
    c.claim(&new_uuid(), json!({new_uuid(): {"resources": {"VCPU": 1}}}), None).await.expect(400);
    c.claim(&new_uuid(), json!({rp.clone(): {"resources": {"CUSTOM_NOPE": 1}}}), None).await.expect(400);
    c.claim(&new_uuid(), json!({rp.clone(): {"resources": {"VCPU": 0}}}), None).await.expect(400);
    c.put("/allocations/not-a-uuid", json!({})).send().await.expect(400);
    // Missing consumer_type at 1.38+ / consumer_generation at 1.28+.
    let body = json!({"allocations": {rp.clone(): {"resources": {"VCPU": 1}}}, "project_id": "p", "user_id": "u", "consumer_generation": null});
    c.put(&format!("/allocations/{}", new_uuid()), body).send().await.expect(400);

    // Provider view.
    let r = c.get(&format!("/resource_providers/{rp}/allocations")).send().await.expect(200);
    assert_eq!(r.body["allocations"][&consumer]["resources"]["VCPU"], 3);
    assert_eq!(r.body["allocations"][&consumer]["consumer_generation"], 2);
    assert_eq!(r.body["resource_provider_generation"], c.generation(&rp).await);
    let r = c.get(&format!("/resource_providers/{rp}/usages")).send().await.expect(200);
    assert_eq!(r.body["usages"]["VCPU"], 8);

    // An empty PUT at the right generation deletes (safely); DELETE is unconditional.
    c.claim(&consumer, json!({}), Some(2)).await.expect(204);
    let r = c.get(&format!("/allocations/{consumer}")).send().await.expect(200);
    assert_eq!(r.body, json!({"allocations": {}}));
    c.delete(&format!("/allocations/{other}")).send().await.expect(204);
    c.delete(&format!("/allocations/{other}")).send().await.expect(404);
    let r = c.get(&format!("/resource_providers/{rp}/usages")).send().await.expect(200);
    assert_eq!(r.body["usages"]["VCPU"], 0);
}

#[tokio::test]
async fn old_microversion_bodies() {
    let c = Cloud::start().await;
    let rp = c.provider("cn").await;
    c.inventory(&rp, json!({"VCPU": {"total": 4}})).await.expect(200);
    let consumer = new_uuid();
    // 1.0: a list of allocations, no project or user.
    let body = json!({"allocations": [{"resource_provider": {"uuid": rp}, "resources": {"VCPU": 1}}]});
    c.put(&format!("/allocations/{consumer}"), body).version(Some("1.0")).send().await.expect(204);
    // 1.12: the dict form with project and user; no generation needed.
    let body =
        json!({"allocations": {rp.clone(): {"resources": {"VCPU": 2}}}, "project_id": "p", "user_id": "u"});
    c.put(&format!("/allocations/{consumer}"), body).version(Some("1.12")).send().await.expect(204);
    let r = c.get(&format!("/allocations/{consumer}")).version(Some("1.12")).send().await.expect(200);
    assert_eq!(r.body["project_id"], "p");
    assert_eq!(r.body["allocations"][&rp]["resources"]["VCPU"], 2);
    // Before 1.28 an empty dict is refused.
    let body = json!({"allocations": {}, "project_id": "p", "user_id": "u"});
    c.put(&format!("/allocations/{consumer}"), body).version(Some("1.12")).send().await.expect(400);
    // POST /allocations appeared in 1.13.
    c.post("/allocations", json!({})).version(Some("1.12")).send().await.expect(404);
}

#[tokio::test]
async fn post_allocations_moves_and_usages() {
    let c = Cloud::start().await;
    let src = c.provider("src").await;
    let dst = c.provider("dst").await;
    for rp in [&src, &dst] {
        c.inventory(rp, json!({"VCPU": {"total": 4}, "MEMORY_MB": {"total": 4096}})).await.expect(200);
    }
    let instance = new_uuid();
    let migration = new_uuid();
    c.claim(&instance, json!({src.clone(): {"resources": {"VCPU": 2, "MEMORY_MB": 1024}}}), None)
        .await
        .expect(204);
    // Move the instance's allocation to the migration consumer and claim the destination for
    // the instance, in one request (what nova does for a migration).
    let body = json!({
        migration.clone(): {"allocations": {src.clone(): {"resources": {"VCPU": 2, "MEMORY_MB": 1024}}},
                            "project_id": "p1", "user_id": "u1", "consumer_generation": null, "consumer_type": "MIGRATION"},
        instance.clone(): {"allocations": {dst.clone(): {"resources": {"VCPU": 2, "MEMORY_MB": 1024}}},
                           "project_id": "p1", "user_id": "u1", "consumer_generation": 1, "consumer_type": "INSTANCE"},
    });
    c.post("/allocations", body).send().await.expect(204);
    let r = c.get(&format!("/allocations/{instance}")).send().await.expect(200);
    assert!(r.body["allocations"].get(&src).is_none());
    assert_eq!(r.body["allocations"][&dst]["resources"]["VCPU"], 2);
    assert_eq!(r.body["consumer_generation"], 2);
    let r = c.get(&format!("/allocations/{migration}")).send().await.expect(200);
    assert_eq!(r.body["consumer_type"], "MIGRATION");
    // Usages per consumer type (1.38+), all together, or summed (older).
    let r = c.get("/usages?project_id=p1").send().await.expect(200);
    assert_eq!(r.body["usages"]["INSTANCE"], json!({"VCPU": 2, "MEMORY_MB": 1024, "consumer_count": 1}));
    assert_eq!(r.body["usages"]["MIGRATION"], json!({"VCPU": 2, "MEMORY_MB": 1024, "consumer_count": 1}));
    let r = c.get("/usages?project_id=p1&consumer_type=all").send().await.expect(200);
    assert_eq!(r.body["usages"]["all"], json!({"VCPU": 4, "MEMORY_MB": 2048, "consumer_count": 2}));
    let r = c.get("/usages?project_id=p1&user_id=u1").version(Some("1.9")).send().await.expect(200);
    assert_eq!(r.body["usages"], json!({"VCPU": 4, "MEMORY_MB": 2048}));
    let r = c.get("/usages?project_id=p1&user_id=nobody").version(Some("1.9")).send().await.expect(200);
    assert_eq!(r.body["usages"], json!({}));
    c.get("/usages").send().await.expect(400);
    c.get("/usages?project_id=p1").version(Some("1.8")).send().await.expect(404);

    // Confirm: empty allocations remove the migration's claim. A stale generation anywhere in
    // the request fails all of it.
    let body = json!({
        migration.clone(): {"allocations": {}, "project_id": "p1", "user_id": "u1", "consumer_generation": 1, "consumer_type": "MIGRATION"},
        instance.clone(): {"allocations": {dst.clone(): {"resources": {"VCPU": 1}}}, "project_id": "p1", "user_id": "u1", "consumer_generation": 1, "consumer_type": "INSTANCE"},
    });
    let r = c.post("/allocations", body).send().await.expect(409);
    assert_eq!(r.code(), "placement.concurrent_update");
    let r = c.get(&format!("/allocations/{migration}")).send().await.expect(200);
    assert_eq!(r.body["allocations"][&src]["resources"]["VCPU"], 2, "nothing changed");
    let body = json!({
        migration.clone(): {"allocations": {}, "project_id": "p1", "user_id": "u1", "consumer_generation": 1, "consumer_type": "MIGRATION"},
    });
    c.post("/allocations", body).send().await.expect(204);
    let r = c.get(&format!("/resource_providers/{src}/usages")).send().await.expect(200);
    assert_eq!(r.body["usages"], json!({"VCPU": 0, "MEMORY_MB": 0}));
    // Capacity is checked across the whole request.
    let body = json!({
        new_uuid(): {"allocations": {dst.clone(): {"resources": {"VCPU": 1}}}, "project_id": "p1", "user_id": "u1", "consumer_generation": null, "consumer_type": "INSTANCE"},
        new_uuid(): {"allocations": {dst.clone(): {"resources": {"VCPU": 2}}}, "project_id": "p1", "user_id": "u1", "consumer_generation": null, "consumer_type": "INSTANCE"},
    });
    c.post("/allocations", body).send().await.expect(409);
    let r = c.get(&format!("/resource_providers/{dst}/usages")).send().await.expect(200);
    assert_eq!(r.body["usages"]["VCPU"], 2);
}

/// 50 claims of 1 VCPU race for 40 VCPU: exactly 40 win, and usage is their sum.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_claims_never_oversubscribe() {
    let c = Cloud::start().await;
    let rp = c.provider("cn").await;
    c.inventory(&rp, json!({"VCPU": {"total": 10, "allocation_ratio": 4.0}, "MEMORY_MB": {"total": 100000}}))
        .await
        .expect(200);
    let g0 = c.generation(&rp).await;
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let req = c.put(
            &format!("/allocations/{}", new_uuid()),
            json!({"allocations": {rp.clone(): {"resources": {"VCPU": 1, "MEMORY_MB": 64}}},
                   "project_id": "p1", "user_id": "u1", "consumer_generation": null, "consumer_type": "INSTANCE"}),
        );
        tasks.push(tokio::spawn(req.send()));
    }
    let mut ok = 0;
    let mut conflicts = 0;
    for t in tasks {
        match t.await.unwrap().status {
            204 => ok += 1,
            409 => conflicts += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!((ok, conflicts), (40, 10));
    let r = c.get(&format!("/resource_providers/{rp}/usages")).send().await.expect(200);
    assert_eq!(r.body["usages"], json!({"VCPU": 40, "MEMORY_MB": 40 * 64}));
    let r = c.get(&format!("/resource_providers/{rp}/allocations")).send().await.expect(200);
    assert_eq!(r.body["allocations"].as_object().unwrap().len(), 40);
    assert_eq!(c.generation(&rp).await, g0 + 40);
    let r = c.get("/usages?project_id=p1").send().await.expect(200);
    assert_eq!(r.body["usages"]["INSTANCE"]["VCPU"], 40);
    assert_eq!(r.body["usages"]["INSTANCE"]["consumer_count"], 40);
    // The candidates agree: the provider is full.
    let r = c.candidates("resources=VCPU:1").await;
    assert_eq!(r["allocation_requests"], json!([]));
}

/// Two placement services on one database (two processes, as on MariaDB behind a load
/// balancer): claims through both never oversubscribe, and each sees the other's writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_services_on_one_database() {
    let c = Cloud::start().await;
    let (other, second, _stop) = c.second().await;
    let rp = c.provider("cn").await;
    c.inventory(&rp, json!({"VCPU": {"total": 20}})).await.expect(200);
    // The second service learns of the provider from the database.
    let r = c.to(other, c.get("/allocation_candidates?resources=VCPU:1")).send().await.expect(200);
    assert_eq!(r.body["allocation_requests"].as_array().unwrap().len(), 1);
    let mut tasks = Vec::new();
    for i in 0..30 {
        let req = c.put(
            &format!("/allocations/{}", new_uuid()),
            json!({"allocations": {rp.clone(): {"resources": {"VCPU": 1}}},
                   "project_id": "p1", "user_id": "u1", "consumer_generation": null, "consumer_type": "INSTANCE"}),
        );
        let req = if i % 2 == 0 { req } else { c.to(other, req) };
        tasks.push(tokio::spawn(req.send()));
    }
    let mut ok = 0;
    for t in tasks {
        let r = t.await.unwrap();
        match r.status {
            204 => ok += 1,
            409 => {}
            other => panic!("unexpected status {other}: {}", r.text),
        }
    }
    assert_eq!(ok, 20);
    for addr in [c.addr, other] {
        let r = c.to(addr, c.get(&format!("/resource_providers/{rp}/usages"))).send().await.expect(200);
        assert_eq!(r.body["usages"]["VCPU"], 20);
        let r = c.to(addr, c.get("/allocation_candidates?resources=VCPU:1")).send().await.expect(200);
        assert_eq!(r.body["allocation_requests"], json!([]), "the view of {addr} is current");
    }
    // Each caught up with the other's writes from the change log, without reading everything.
    assert_eq!((c.service.reloads(), second.reloads()), (1, 1));
}

/// `POST /reshaper`: VGPU inventory moves from the compute node to a new child provider,
/// with the allocation on it, in one step.
#[tokio::test]
async fn reshaper_moves_inventory_and_allocations() {
    let c = Cloud::start().await;
    let cn = c.provider("cn").await;
    c.inventory(&cn, json!({"VCPU": {"total": 8}, "VGPU": {"total": 4}})).await.expect(200);
    let vm = new_uuid();
    c.claim(&vm, json!({cn.clone(): {"resources": {"VCPU": 2, "VGPU": 1}}}), None).await.expect(204);
    let gpu = c.child("cn-gpu0", &cn).await;
    let cn_gen = c.generation(&cn).await;
    let gpu_gen = c.generation(&gpu).await;
    // Leaving the allocation behind on removed inventory is refused, and changes nothing.
    let stuck = json!({
        "inventories": {
            cn.clone(): {"resource_provider_generation": cn_gen, "inventories": {"VCPU": {"total": 8}}},
            gpu.clone(): {"resource_provider_generation": gpu_gen, "inventories": {"VGPU": {"total": 4}}},
        },
        "allocations": {},
    });
    let r = c.post("/reshaper", stuck).as_(SERVICE).send().await.expect(409);
    assert_eq!(r.code(), "placement.inventory.inuse");
    assert_eq!(c.generation(&cn).await, cn_gen);
    // Only services may reshape.
    let body = json!({
        "inventories": {
            cn.clone(): {"resource_provider_generation": cn_gen, "inventories": {"VCPU": {"total": 8}}},
            gpu.clone(): {"resource_provider_generation": gpu_gen, "inventories": {"VGPU": {"total": 4}}},
        },
        "allocations": {
            vm.clone(): {"allocations": {cn.clone(): {"resources": {"VCPU": 2}}, gpu.clone(): {"resources": {"VGPU": 1}}},
                         "project_id": "p1", "user_id": "u1", "consumer_generation": 1, "consumer_type": "INSTANCE"},
        },
    });
    c.post("/reshaper", body.clone()).send().await.expect(403);
    c.post("/reshaper", body).as_(SERVICE).send().await.expect(204);
    let r = c.get(&format!("/allocations/{vm}")).send().await.expect(200);
    assert_eq!(r.body["allocations"][&gpu]["resources"], json!({"VGPU": 1}));
    assert_eq!(r.body["allocations"][&cn]["resources"], json!({"VCPU": 2}));
    let r = c.get(&format!("/resource_providers/{gpu}/usages")).send().await.expect(200);
    assert_eq!(r.body["usages"], json!({"VGPU": 1}));
    let r = c.get(&format!("/resource_providers/{cn}/inventories")).send().await.expect(200);
    assert!(r.body["inventories"].get("VGPU").is_none());
    let r = c.candidates("resources=VCPU:1&resources1=VGPU:1&group_policy=none").await;
    assert_eq!(r["allocation_requests"][0]["allocations"][&gpu]["resources"]["VGPU"], 1);
}
