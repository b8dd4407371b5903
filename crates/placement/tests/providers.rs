//! Resource providers over HTTP: CRUD, generations, conflicts, microversions, errors, auth.

mod common;

use common::*;
use serde_json::json;

#[tokio::test]
async fn root_is_open_and_versioned() {
    let c = Cloud::start().await;
    let r = c.get("/").token(None).version(None).send().await.expect(200);
    assert_eq!(r.body["versions"][0]["max_version"], "1.39");
    assert_eq!(r.body["versions"][0]["min_version"], "1.0");
    assert_eq!(r.body["versions"][0]["id"], "v1.0");
    assert_eq!(r.body["versions"][0]["status"], "CURRENT");
    // 1.40 does not exist: 406 in placement's error shape.
    let r = c.get("/resource_providers").version(Some("1.40")).send().await.expect(406);
    let e = &r.body["errors"][0];
    assert_eq!(e["status"], 406);
    assert_eq!(e["title"], "Not Acceptable");
    assert!(e["detail"].as_str().unwrap().contains("1.40"));
    assert_eq!(e["code"], "placement.undefined_code");
    let r = c.get("/resource_providers").send().await.expect(200);
    assert_eq!(r.headers["openstack-api-version"], "placement 1.39");
    assert_eq!(r.headers["cache-control"], "no-cache");
}

#[tokio::test]
async fn auth_and_policy() {
    let c = Cloud::start().await;
    c.get("/resource_providers").token(None).send().await.expect(401);
    c.get("/resource_providers").as_("bogus").send().await.expect(401);
    let r = c.get("/resource_providers").as_(MEMBER).send().await.expect(403);
    assert!(r.body["errors"][0]["detail"].as_str().unwrap().contains("placement:resource_providers:list"));
    c.get("/resource_providers").as_(SERVICE).send().await.expect(200);
    // Readers may see their own project's usages, not another's.
    c.get("/usages?project_id=p-member").as_(READER).send().await.expect(200);
    c.get("/usages?project_id=p-other").as_(READER).send().await.expect(403);
}

#[tokio::test]
async fn crud_generations_and_conflicts() {
    let c = Cloud::start().await;
    let id = new_uuid();
    let r = c.post("/resource_providers", json!({"name": "cn1", "uuid": id})).send().await.expect(200);
    assert_eq!(r.body["uuid"], id.as_str());
    assert_eq!(r.body["generation"], 0);
    assert_eq!(r.body["root_provider_uuid"], id.as_str());
    assert!(r.body["parent_provider_uuid"].is_null());
    assert_eq!(r.headers["location"], format!("/resource_providers/{id}").as_str());
    let rels: Vec<&str> =
        r.body["links"].as_array().unwrap().iter().map(|l| l["rel"].as_str().unwrap()).collect();
    assert_eq!(rels, ["self", "inventories", "usages", "aggregates", "traits", "allocations"]);

    // Before 1.20: 201 and no body.
    let r =
        c.post("/resource_providers", json!({"name": "old"})).version(Some("1.19")).send().await.expect(201);
    assert!(r.text.is_empty());

    // Duplicates.
    let r = c.post("/resource_providers", json!({"name": "cn1"})).send().await.expect(409);
    assert_eq!(r.code(), "placement.duplicate_name");
    let r = c.post("/resource_providers", json!({"name": "other", "uuid": id})).send().await.expect(409);
    assert!(r.body["errors"][0]["detail"].as_str().unwrap().contains("uuid"));
    // Bad bodies.
    c.post("/resource_providers", json!({"name": "x", "bogus": 1})).send().await.expect(400);
    c.post("/resource_providers", json!({})).send().await.expect(400);
    c.post("/resource_providers", json!({"name": "x".repeat(201)})).send().await.expect(400);
    c.post("/resource_providers", json!({"name": "x", "uuid": "nope"})).send().await.expect(400);

    // Show, update.
    c.get(&format!("/resource_providers/{id}")).send().await.expect(200);
    c.get(&format!("/resource_providers/{}", new_uuid())).send().await.expect(404);
    let r =
        c.put(&format!("/resource_providers/{id}"), json!({"name": "cn1-renamed"})).send().await.expect(200);
    assert_eq!(r.body["name"], "cn1-renamed");
    let r = c.put(&format!("/resource_providers/{id}"), json!({"name": "old"})).send().await.expect(409);
    assert_eq!(r.code(), "placement.duplicate_name");

    // Children: a parent cannot be deleted.
    let child = c.child("cn1-numa0", &id).await;
    let r = c.get(&format!("/resource_providers/{child}")).send().await.expect(200);
    assert_eq!(r.body["root_provider_uuid"], id.as_str());
    assert_eq!(r.body["parent_provider_uuid"], id.as_str());
    let r = c.delete(&format!("/resource_providers/{id}")).send().await.expect(409);
    assert_eq!(r.code(), "placement.resource_provider.cannot_delete_parent");
    // in_tree lists the whole tree.
    let r = c.get(&format!("/resource_providers?in_tree={child}")).send().await.expect(200);
    assert_eq!(r.body["resource_providers"].as_array().unwrap().len(), 2);
    // Re-parenting needs 1.37.
    let other = c.provider("cn2").await;
    let body = json!({"name": "cn1-numa0", "parent_provider_uuid": other});
    c.put(&format!("/resource_providers/{child}"), body.clone())
        .version(Some("1.36"))
        .send()
        .await
        .expect(400);
    let r = c.put(&format!("/resource_providers/{child}"), body).send().await.expect(200);
    assert_eq!(r.body["root_provider_uuid"], other.as_str());
    // A loop is refused.
    let body = json!({"name": "cn2", "parent_provider_uuid": child});
    c.put(&format!("/resource_providers/{other}"), body).send().await.expect(400);
    c.delete(&format!("/resource_providers/{child}")).send().await.expect(204);
    c.delete(&format!("/resource_providers/{child}")).send().await.expect(404);
    c.delete(&format!("/resource_providers/{id}")).send().await.expect(204);

    // Generations move with every change of the provider's data.
    let rp = c.provider("gen").await;
    assert_eq!(c.generation(&rp).await, 0);
    c.inventory(&rp, json!({"VCPU": {"total": 4}})).await.expect(200);
    assert_eq!(c.generation(&rp).await, 1);
    c.traits(&rp, &["HW_CPU_X86_AVX2"]).await.expect(200);
    assert_eq!(c.generation(&rp).await, 2);
    c.aggregates(&rp, &[&new_uuid()]).await.expect(200);
    assert_eq!(c.generation(&rp).await, 3);
    // A stale generation is a 409 concurrent_update everywhere.
    let stale = json!({"resource_provider_generation": 1, "traits": []});
    let r = c.put(&format!("/resource_providers/{rp}/traits"), stale).send().await.expect(409);
    assert_eq!(r.code(), "placement.concurrent_update");
    let stale = json!({"resource_provider_generation": 1, "aggregates": []});
    let r = c.put(&format!("/resource_providers/{rp}/aggregates"), stale).send().await.expect(409);
    assert_eq!(r.code(), "placement.concurrent_update");
    let stale = json!({"resource_provider_generation": 1, "inventories": {}});
    let r = c.put(&format!("/resource_providers/{rp}/inventories"), stale).send().await.expect(409);
    assert_eq!(r.code(), "placement.concurrent_update");
}

#[tokio::test]
async fn list_filters() {
    let c = Cloud::start().await;
    let agg = new_uuid();
    let a = c.provider("a").await;
    let b = c.provider("b").await;
    let d = c.provider("d").await;
    c.inventory(&a, json!({"VCPU": {"total": 8}, "MEMORY_MB": {"total": 1024}})).await.expect(200);
    c.inventory(&b, json!({"VCPU": {"total": 2}})).await.expect(200);
    c.traits(&a, &["HW_CPU_X86_AVX2"]).await.expect(200);
    c.aggregates(&b, &[&agg]).await.expect(200);
    let names = |v: &serde_json::Value| -> Vec<String> {
        v["resource_providers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_string())
            .collect()
    };
    let r = c.get("/resource_providers").send().await.expect(200);
    assert_eq!(names(&r.body), ["a", "b", "d"]);
    let r = c.get("/resource_providers?name=b").send().await.expect(200);
    assert_eq!(names(&r.body), ["b"]);
    let r = c.get(&format!("/resource_providers?uuid={d}")).send().await.expect(200);
    assert_eq!(names(&r.body), ["d"]);
    let r = c.get("/resource_providers?resources=VCPU:4").send().await.expect(200);
    assert_eq!(names(&r.body), ["a"]);
    let r = c.get("/resource_providers?resources=VCPU:1").send().await.expect(200);
    assert_eq!(names(&r.body), ["a", "b"]);
    let r = c.get("/resource_providers?required=HW_CPU_X86_AVX2").send().await.expect(200);
    assert_eq!(names(&r.body), ["a"]);
    let r = c.get("/resource_providers?required=!HW_CPU_X86_AVX2").send().await.expect(200);
    assert_eq!(names(&r.body), ["b", "d"]);
    let r = c.get(&format!("/resource_providers?member_of={agg}")).send().await.expect(200);
    assert_eq!(names(&r.body), ["b"]);
    let r = c.get(&format!("/resource_providers?member_of=!{agg}")).send().await.expect(200);
    assert_eq!(names(&r.body), ["a", "d"]);
    // Unknown names and bad values are 400s.
    c.get("/resource_providers?resources=CUSTOM_NOPE:1").send().await.expect(400);
    c.get("/resource_providers?required=CUSTOM_NOPE").send().await.expect(400);
    c.get("/resource_providers?uuid=nope").send().await.expect(400);
    c.get("/resource_providers?bogus=1").send().await.expect(400);
    // Filters that do not exist yet at a microversion are refused.
    c.get("/resource_providers?required=HW_CPU_X86_AVX2").version(Some("1.17")).send().await.expect(400);
}
