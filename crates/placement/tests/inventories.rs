//! Inventories, resource classes and traits over HTTP.

mod common;

use common::*;
use serde_json::json;

#[tokio::test]
async fn inventory_validation_and_defaults() {
    let c = Cloud::start().await;
    let rp = c.provider("cn").await;
    let r = c.inventory(&rp, json!({"VCPU": {"total": 8, "allocation_ratio": 16.0}, "DISK_GB": {"total": 100, "reserved": 10}})).await.expect(200);
    assert_eq!(r.body["resource_provider_generation"], 1);
    let vcpu = &r.body["inventories"]["VCPU"];
    assert_eq!(vcpu["reserved"], 0);
    assert_eq!(vcpu["min_unit"], 1);
    assert_eq!(vcpu["max_unit"], 2147483647);
    assert_eq!(vcpu["step_size"], 1);
    assert_eq!(vcpu["allocation_ratio"], 16.0);
    let r = c.get(&format!("/resource_providers/{rp}/inventories/DISK_GB")).send().await.expect(200);
    assert_eq!(r.body["reserved"], 10);
    assert_eq!(r.body["resource_provider_generation"], 1);
    c.get(&format!("/resource_providers/{rp}/inventories/MEMORY_MB")).send().await.expect(404);

    // reserved > total is refused; reserved == total only from 1.26.
    c.inventory(&rp, json!({"VCPU": {"total": 8, "reserved": 9}})).await.expect(400);
    let g = c.generation(&rp).await;
    let body =
        json!({"resource_provider_generation": g, "inventories": {"VCPU": {"total": 8, "reserved": 8}}});
    c.put(&format!("/resource_providers/{rp}/inventories"), body.clone())
        .version(Some("1.25"))
        .send()
        .await
        .expect(400);
    c.put(&format!("/resource_providers/{rp}/inventories"), body).send().await.expect(200);
    // Types, bounds, unknown fields and classes.
    c.inventory(&rp, json!({"VCPU": {"total": 0}})).await.expect(400);
    c.inventory(&rp, json!({"VCPU": {"total": "8"}})).await.expect(400);
    c.inventory(&rp, json!({"VCPU": {"total": 8, "step_size": 0}})).await.expect(400);
    c.inventory(&rp, json!({"VCPU": {"total": 8, "colour": "red"}})).await.expect(400);
    c.inventory(&rp, json!({"VCPU": {}})).await.expect(400);
    c.inventory(&rp, json!({"CUSTOM_NOPE": {"total": 1}})).await.expect(400);
    c.inventory(&rp, json!({"lower": {"total": 1}})).await.expect(400);

    // One class: PUT needs the generation; POST creates; DELETE removes.
    let g = c.generation(&rp).await;
    let r = c
        .put(
            &format!("/resource_providers/{rp}/inventories/VCPU"),
            json!({"resource_provider_generation": g, "total": 4}),
        )
        .send()
        .await
        .expect(200);
    assert_eq!(r.body["total"], 4);
    assert_eq!(r.body["resource_provider_generation"], g + 1);
    let r = c
        .put(
            &format!("/resource_providers/{rp}/inventories/VCPU"),
            json!({"resource_provider_generation": g, "total": 4}),
        )
        .send()
        .await
        .expect(409);
    assert_eq!(r.code(), "placement.concurrent_update");
    let r = c
        .post(
            &format!("/resource_providers/{rp}/inventories"),
            json!({"resource_class": "MEMORY_MB", "total": 2048}),
        )
        .send()
        .await
        .expect(201);
    assert_eq!(r.body["total"], 2048);
    c.post(
        &format!("/resource_providers/{rp}/inventories"),
        json!({"resource_class": "MEMORY_MB", "total": 2048}),
    )
    .send()
    .await
    .expect(409);
    c.delete(&format!("/resource_providers/{rp}/inventories/MEMORY_MB")).send().await.expect(204);
    c.delete(&format!("/resource_providers/{rp}/inventories/MEMORY_MB")).send().await.expect(404);
    // DELETE of all inventories exists from 1.5.
    c.delete(&format!("/resource_providers/{rp}/inventories")).version(Some("1.4")).send().await.expect(405);
    c.delete(&format!("/resource_providers/{rp}/inventories")).send().await.expect(204);
    let r = c.get(&format!("/resource_providers/{rp}/inventories")).send().await.expect(200);
    assert_eq!(r.body["inventories"], json!({}));
}

#[tokio::test]
async fn inventory_in_use() {
    let c = Cloud::start().await;
    let rp = c.provider("cn").await;
    c.inventory(&rp, json!({"VCPU": {"total": 8}, "MEMORY_MB": {"total": 1024}})).await.expect(200);
    let consumer = new_uuid();
    c.claim(&consumer, json!({rp.clone(): {"resources": {"VCPU": 4}}}), None).await.expect(204);
    // Removing a class in use is a 409 inventory.inuse.
    let r = c.inventory(&rp, json!({"MEMORY_MB": {"total": 1024}})).await.expect(409);
    assert_eq!(r.code(), "placement.inventory.inuse");
    let r = c.delete(&format!("/resource_providers/{rp}/inventories")).send().await.expect(409);
    assert_eq!(r.code(), "placement.inventory.inuse");
    c.delete(&format!("/resource_providers/{rp}/inventories/VCPU")).send().await.expect(409);
    // Lowering the total below the usage is allowed (placement only logs it); the provider
    // then takes no more.
    c.inventory(&rp, json!({"VCPU": {"total": 2}, "MEMORY_MB": {"total": 1024}})).await.expect(200);
    let r = c.get(&format!("/resource_providers/{rp}/usages")).send().await.expect(200);
    assert_eq!(r.body["usages"]["VCPU"], 4);
    assert_eq!(r.body["usages"]["MEMORY_MB"], 0);
    c.claim(&new_uuid(), json!({rp.clone(): {"resources": {"VCPU": 1}}}), None).await.expect(409);
    // But shrinking an over-capacity consumer is fine.
    c.claim(&consumer, json!({rp.clone(): {"resources": {"VCPU": 3}}}), Some(1)).await.expect(204);
    // A provider with allocations cannot be deleted.
    let r = c.delete(&format!("/resource_providers/{rp}")).send().await.expect(409);
    assert_eq!(r.code(), "placement.resource_provider.inuse");
    c.delete(&format!("/allocations/{consumer}")).send().await.expect(204);
    c.delete(&format!("/resource_providers/{rp}")).send().await.expect(204);
}

#[tokio::test]
async fn resource_classes_and_traits() {
    let c = Cloud::start().await;
    let r = c.get("/resource_classes").send().await.expect(200);
    let names: Vec<&str> =
        r.body["resource_classes"].as_array().unwrap().iter().map(|x| x["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"VCPU") && names.contains(&"NUMA_CORE") && names.contains(&"VGPU"));
    c.post("/resource_classes", json!({"name": "GOLD"})).send().await.expect(400);
    c.post("/resource_classes", json!({"name": "CUSTOM_GOLD"})).send().await.expect(201);
    c.post("/resource_classes", json!({"name": "CUSTOM_GOLD"})).send().await.expect(409);
    c.put("/resource_classes/CUSTOM_GOLD", json!(null)).send().await.expect(204);
    c.req("PUT", "/resource_classes/CUSTOM_SILVER").send().await.expect(201);
    c.req("PUT", "/resource_classes/VCPU").send().await.expect(400);
    c.get("/resource_classes/CUSTOM_GOLD").send().await.expect(200);
    c.get("/resource_classes/CUSTOM_NONE").send().await.expect(404);
    c.delete("/resource_classes/VCPU").send().await.expect(400);
    let rp = c.provider("cn").await;
    c.inventory(&rp, json!({"CUSTOM_GOLD": {"total": 1}})).await.expect(200);
    c.delete("/resource_classes/CUSTOM_GOLD").send().await.expect(409);
    c.delete("/resource_classes/CUSTOM_SILVER").send().await.expect(204);
    // Resource classes appeared in 1.2.
    c.get("/resource_classes").version(Some("1.1")).send().await.expect(404);

    // Traits: the standard ones are there; custom ones by PUT.
    c.get("/traits/COMPUTE_NODE").send().await.expect(204);
    c.get("/traits/CUSTOM_X").send().await.expect(404);
    c.req("PUT", "/traits/CUSTOM_X").send().await.expect(201);
    c.req("PUT", "/traits/CUSTOM_X").send().await.expect(204);
    c.req("PUT", "/traits/NOT_CUSTOM").send().await.expect(400);
    let r = c.get("/traits?name=startswith:CUSTOM_").send().await.expect(200);
    assert_eq!(r.body["traits"], json!(["CUSTOM_X"]));
    let r = c.get("/traits?name=in:CUSTOM_X,HW_CPU_X86_AVX2,NOPE").send().await.expect(200);
    assert_eq!(r.body["traits"], json!(["CUSTOM_X", "HW_CPU_X86_AVX2"]));
    let r = c.traits(&rp, &["CUSTOM_X", "HW_CPU_X86_AVX2"]).await.expect(200);
    assert_eq!(r.body["traits"], json!(["CUSTOM_X", "HW_CPU_X86_AVX2"]));
    let r = c.get("/traits?associated=true").send().await.expect(200);
    assert_eq!(r.body["traits"], json!(["CUSTOM_X", "HW_CPU_X86_AVX2"]));
    c.traits(&rp, &["CUSTOM_UNKNOWN"]).await.expect(400);
    let r = c.get(&format!("/resource_providers/{rp}/traits")).send().await.expect(200);
    assert_eq!(r.body["traits"], json!(["CUSTOM_X", "HW_CPU_X86_AVX2"]));
    c.delete("/traits/CUSTOM_X").send().await.expect(409);
    c.delete("/traits/COMPUTE_NODE").send().await.expect(400);
    let g = c.generation(&rp).await;
    c.delete(&format!("/resource_providers/{rp}/traits")).send().await.expect(204);
    assert_eq!(c.generation(&rp).await, g + 1);
    c.delete("/traits/CUSTOM_X").send().await.expect(204);
    c.delete("/traits/CUSTOM_X").send().await.expect(404);
    // Aggregates before 1.19: a plain list, no generation.
    let agg = new_uuid();
    let r = c
        .put(&format!("/resource_providers/{rp}/aggregates"), json!([agg]))
        .version(Some("1.18"))
        .send()
        .await
        .expect(200);
    assert_eq!(r.body, json!({"aggregates": [agg]}));
    let r = c.get(&format!("/resource_providers/{rp}/aggregates")).send().await.expect(200);
    assert_eq!(r.body["aggregates"], json!([agg]));
    assert!(r.body["resource_provider_generation"].is_i64());
}
