//! `/flavors`: create/show/list/update/delete, microversion-dependent bodies, flavor access
//! and extra specs, over HTTP.

mod api_harness;

use api_harness::{Cloud, ADMIN, MEMBER_P, MEMBER_Q, P, READER_P};
use serde_json::{json, Value};

async fn create(cloud: &Cloud, body: Value) -> Value {
    cloud
        .post("/flavors")
        .token(ADMIN)
        .version("2.61")
        .json(json!({ "flavor": body }))
        .send()
        .await
        .expect(200)
        .body["flavor"]
        .clone()
}

fn ids(body: &Value) -> Vec<String> {
    body["flavors"].as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn create_show_and_microversions() {
    let cloud = Cloud::start().await;
    let f = create(&cloud, json!({"name": "m1.tiny", "ram": 512, "vcpus": 1, "disk": 1})).await;
    let id = f["id"].as_str().unwrap().to_string();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "a generated uuid: {id}");
    assert_eq!(f["ram"], 512);
    assert_eq!(f["vcpus"], 1);
    assert_eq!(f["disk"], 1);
    assert_eq!(f["OS-FLV-EXT-DATA:ephemeral"], 0);
    assert_eq!(f["OS-FLV-DISABLED:disabled"], false);
    assert_eq!(f["os-flavor-access:is_public"], true);
    assert_eq!(f["rxtx_factor"], 1.0);
    assert_eq!(f["swap"], "");
    assert_eq!(f["extra_specs"], json!({}));
    assert_eq!(f["description"], Value::Null);
    assert!(f["links"][0]["href"].as_str().unwrap().ends_with(&format!("/v2.1/flavors/{id}")));

    // 2.1: no description, no extra_specs, swap "" when 0.
    let r = cloud.get(&format!("/flavors/{id}")).token(MEMBER_P).send().await.expect(200);
    let f = &r.body["flavor"];
    assert!(f.get("description").is_none() && f.get("extra_specs").is_none());
    assert_eq!(f["swap"], "");
    assert_eq!(r.headers["openstack-api-version"], "compute 2.1");
    // 2.55: description; 2.61: extra_specs (readers may see them); 2.75: swap 0.
    let f =
        cloud.get(&format!("/flavors/{id}")).token(READER_P).version("2.55").send().await.expect(200).body;
    assert!(f["flavor"].get("description").is_some() && f["flavor"].get("extra_specs").is_none());
    let f =
        cloud.get(&format!("/flavors/{id}")).token(READER_P).version("2.61").send().await.expect(200).body;
    assert_eq!(f["flavor"]["extra_specs"], json!({}));
    let f =
        cloud.get(&format!("/flavors/{id}")).token(READER_P).version("2.75").send().await.expect(200).body;
    assert_eq!(f["flavor"]["swap"], 0);

    // Explicit ids: strings, numbers, "auto".
    let f = create(
        &cloud,
        json!({"name": "m1.small", "id": 42, "ram": "2048", "vcpus": "2", "disk": 20,
        "swap": 512, "OS-FLV-EXT-DATA:ephemeral": 5, "rxtx_factor": "2.5"}),
    )
    .await;
    assert_eq!(f["id"], "42");
    assert_eq!(f["ram"], 2048);
    assert_eq!(f["swap"], 512);
    assert_eq!(f["rxtx_factor"], 2.5);
    let f = create(&cloud, json!({"name": "m1.auto", "id": "auto", "ram": 1, "vcpus": 1, "disk": 0})).await;
    assert_ne!(f["id"], "auto");

    // Description from 2.55, and updating it.
    let r = cloud
        .post("/flavors")
        .token(ADMIN)
        .version("2.55")
        .json(json!({"flavor": {"name": "d1", "id": "d1", "ram": 1, "vcpus": 1, "disk": 0, "description": "small"}}))
        .send()
        .await
        .expect(200);
    assert_eq!(r.body["flavor"]["description"], "small");
    let r = cloud
        .put("/flavors/d1")
        .token(ADMIN)
        .version("2.55")
        .json(json!({"flavor": {"description": "tiny"}}));
    assert_eq!(r.send().await.expect(200).body["flavor"]["description"], "tiny");
    let r =
        cloud.put("/flavors/d1").token(ADMIN).version("2.54").json(json!({"flavor": {"description": "x"}}));
    r.send().await.expect_error(404);
    let r = cloud
        .put("/flavors/d1")
        .token(MEMBER_P)
        .version("2.55")
        .json(json!({"flavor": {"description": "x"}}));
    r.send().await.expect_error(403);

    // Delete: 202, then gone.
    cloud.delete("/flavors/d1").token(MEMBER_P).send().await.expect_error(403);
    cloud.delete("/flavors/d1").token(ADMIN).send().await.expect(202);
    let msg = cloud.get("/flavors/d1").token(ADMIN).send().await.expect_error(404);
    assert_eq!(msg, "Flavor d1 could not be found.");
    cloud.delete("/flavors/d1").token(ADMIN).send().await.expect_error(404);
}

#[tokio::test]
async fn create_validates_and_conflicts() {
    let cloud = Cloud::start().await;
    let post = |body: Value| cloud.post("/flavors").token(ADMIN).json(json!({ "flavor": body })).send();
    // Only admins create flavors.
    let r = cloud
        .post("/flavors")
        .token(MEMBER_P)
        .json(json!({"flavor": {"name": "x", "ram": 1, "vcpus": 1, "disk": 1}}))
        .send()
        .await;
    let msg = r.expect_error(403);
    assert!(msg.contains("os_compute_api:os-flavor-manage:create"), "{msg}");
    assert!(post(json!({"name": "x", "ram": 0, "vcpus": 1, "disk": 1}))
        .await
        .expect_error(400)
        .contains("ram"));
    assert!(post(json!({"name": "x", "ram": 1, "vcpus": 0, "disk": 1}))
        .await
        .expect_error(400)
        .contains("vcpus"));
    assert!(post(json!({"name": "x", "ram": 1, "vcpus": 1, "disk": -1}))
        .await
        .expect_error(400)
        .contains("disk"));
    assert!(post(json!({"name": "x", "ram": "a lot", "vcpus": 1, "disk": 1}))
        .await
        .expect_error(400)
        .contains("ram"));
    assert!(post(json!({"ram": 1, "vcpus": 1, "disk": 1})).await.expect_error(400).contains("name"));
    assert!(post(json!({"name": "x", "vcpus": 1, "disk": 1})).await.expect_error(400).contains("ram"));
    post(json!({"name": " x", "ram": 1, "vcpus": 1, "disk": 1})).await.expect_error(400);
    post(json!({"name": "x".repeat(256), "ram": 1, "vcpus": 1, "disk": 1})).await.expect_error(400);
    post(json!({"name": "x", "id": "bad/id", "ram": 1, "vcpus": 1, "disk": 1})).await.expect_error(400);
    post(json!({"name": "x", "ram": 1, "vcpus": 1, "disk": 1, "rxtx_factor": 0})).await.expect_error(400);
    post(json!({"name": "x", "ram": 1, "vcpus": 1, "disk": 1, "os-flavor-access:is_public": "maybe"}))
        .await
        .expect_error(400);
    // Unknown fields, and a description before 2.55, are refused.
    assert!(post(json!({"name": "x", "ram": 1, "vcpus": 1, "disk": 1, "color": "red"}))
        .await
        .expect_error(400)
        .contains("color"));
    post(json!({"name": "x", "ram": 1, "vcpus": 1, "disk": 1, "description": "d"})).await.expect_error(400);
    cloud.post("/flavors").token(ADMIN).json(json!({"name": "x"})).send().await.expect_error(400);

    post(json!({"name": "m1", "id": "1", "ram": 1, "vcpus": 1, "disk": 1})).await.expect(200);
    let msg = post(json!({"name": "m1", "id": "2", "ram": 1, "vcpus": 1, "disk": 1})).await.expect_error(409);
    assert_eq!(msg, "Flavor with name m1 already exists.");
    let msg = post(json!({"name": "m2", "id": "1", "ram": 1, "vcpus": 1, "disk": 1})).await.expect_error(409);
    assert_eq!(msg, "Flavor with ID 1 already exists.");
    // Nothing was created by the refused requests.
    let all = cloud.get("/flavors?is_public=none").token(ADMIN).send().await.expect(200).body;
    assert_eq!(ids(&all), vec!["1"]);
}

#[tokio::test]
async fn private_flavors_and_access() {
    let cloud = Cloud::start().await;
    create(&cloud, json!({"name": "public", "id": "pub", "ram": 1, "vcpus": 1, "disk": 1})).await;
    create(
        &cloud,
        json!({"name": "private", "id": "priv", "ram": 1, "vcpus": 1, "disk": 1,
        "os-flavor-access:is_public": false}),
    )
    .await;

    // Members see public flavors only; admins choose with is_public.
    assert_eq!(ids(&cloud.get("/flavors").token(MEMBER_P).send().await.expect(200).body), vec!["pub"]);
    assert_eq!(ids(&cloud.get("/flavors").token(ADMIN).send().await.expect(200).body), vec!["pub"]);
    let all = cloud.get("/flavors/detail?is_public=None").token(ADMIN).send().await.expect(200).body;
    assert_eq!(ids(&all), vec!["priv", "pub"]);
    let private = cloud.get("/flavors?is_public=false").token(ADMIN).send().await.expect(200).body;
    assert_eq!(ids(&private), vec!["priv"]);
    cloud.get("/flavors?is_public=perhaps").token(ADMIN).send().await.expect_error(400);
    cloud.get("/flavors/priv").token(MEMBER_P).send().await.expect_error(404);

    // Share it with P.
    let action = |token: &str, name: &str, tenant: &str| {
        cloud
            .post("/flavors/priv/action")
            .token(token)
            .version("2.7")
            .json(json!({ name: {"tenant": tenant} }))
            .send()
    };
    action(MEMBER_P, "addTenantAccess", P).await.expect_error(403);
    let r = action(ADMIN, "addTenantAccess", P).await.expect(200);
    assert_eq!(r.body, json!({"flavor_access": [{"flavor_id": "priv", "tenant_id": P}]}));
    let msg = action(ADMIN, "addTenantAccess", P).await.expect_error(409);
    assert!(msg.contains("already exists"), "{msg}");
    // A public flavor has no access list (409 from 2.7).
    let msg = cloud
        .post("/flavors/pub/action")
        .token(ADMIN)
        .version("2.7")
        .json(json!({"addTenantAccess": {"tenant": P}}))
        .send()
        .await
        .expect_error(409);
    assert_eq!(msg, "Can not add access to a public flavor.");
    cloud.get("/flavors/pub/os-flavor-access").token(ADMIN).send().await.expect_error(404);
    let access = cloud.get("/flavors/priv/os-flavor-access").token(ADMIN).send().await.expect(200).body;
    assert_eq!(access["flavor_access"][0]["tenant_id"], P);
    cloud.get("/flavors/priv/os-flavor-access").token(MEMBER_P).send().await.expect_error(403);
    cloud
        .post("/flavors/priv/action")
        .token(ADMIN)
        .json(json!({"shareWithEveryone": {}}))
        .send()
        .await
        .expect_error(400);

    // P now sees and uses it; Q does not.
    assert_eq!(
        ids(&cloud.get("/flavors").token(MEMBER_P).send().await.expect(200).body),
        vec!["priv", "pub"]
    );
    cloud.get("/flavors/priv").token(READER_P).send().await.expect(200);
    assert_eq!(ids(&cloud.get("/flavors").token(MEMBER_Q).send().await.expect(200).body), vec!["pub"]);
    cloud.get("/flavors/priv").token(MEMBER_Q).send().await.expect_error(404);
    let store = &cloud.service.store;
    let flavor = store.flavor_by_flavorid("priv").await.unwrap().unwrap();
    assert!(store.flavor_accessible(&flavor, P).await.unwrap());
    assert!(!store.flavor_accessible(&flavor, api_harness::Q).await.unwrap());

    action(ADMIN, "removeTenantAccess", P).await.expect(200);
    action(ADMIN, "removeTenantAccess", P).await.expect_error(404);
    cloud.get("/flavors/priv").token(MEMBER_P).send().await.expect_error(404);
}

#[tokio::test]
async fn extra_specs() {
    let cloud = Cloud::start().await;
    create(&cloud, json!({"name": "m1", "id": "m1", "ram": 1, "vcpus": 1, "disk": 1})).await;
    let specs = "/flavors/m1/os-extra_specs";
    cloud.post(specs).token(MEMBER_P).json(json!({"extra_specs": {"a": "b"}})).send().await.expect_error(403);
    let r = cloud
        .post(specs)
        .token(ADMIN)
        .json(json!({"extra_specs": {"hw:cpu_policy": "dedicated", "quota:cpu_shares": 2048}}))
        .send()
        .await
        .expect(200);
    assert_eq!(r.body["extra_specs"]["quota:cpu_shares"], 2048);
    cloud
        .post(specs)
        .token(ADMIN)
        .json(json!({"extra_specs": {"bad/key": "x"}}))
        .send()
        .await
        .expect_error(400);
    cloud.post(specs).token(ADMIN).json(json!({"extra_specs": {"k": ["x"]}})).send().await.expect_error(400);
    cloud.post(specs).token(ADMIN).json(json!({"specs": {}})).send().await.expect_error(400);

    let all = cloud.get(specs).token(READER_P).send().await.expect(200).body;
    assert_eq!(all, json!({"extra_specs": {"hw:cpu_policy": "dedicated", "quota:cpu_shares": "2048"}}));
    let one = cloud.get(&format!("{specs}/hw:cpu_policy")).token(READER_P).send().await.expect(200).body;
    assert_eq!(one, json!({"hw:cpu_policy": "dedicated"}));
    let msg = cloud.get(&format!("{specs}/nope")).token(READER_P).send().await.expect_error(404);
    assert_eq!(msg, "Flavor m1 has no extra specs with key nope.");

    let r =
        cloud.put(&format!("{specs}/hw:cpu_policy")).token(ADMIN).json(json!({"hw:cpu_policy": "shared"}));
    assert_eq!(r.send().await.expect(200).body, json!({"hw:cpu_policy": "shared"}));
    let msg = cloud
        .put(&format!("{specs}/hw:cpu_policy"))
        .token(ADMIN)
        .json(json!({"other": "x"}))
        .send()
        .await
        .expect_error(400);
    assert_eq!(msg, "Request body and URI mismatch");
    cloud
        .put(&format!("{specs}/a"))
        .token(ADMIN)
        .json(json!({"a": "1", "b": "2"}))
        .send()
        .await
        .expect_error(400);

    // Specs come with the flavor from 2.61, and with the store's flavor.
    let f = cloud.get("/flavors/m1").token(MEMBER_P).version("2.61").send().await.expect(200).body;
    assert_eq!(f["flavor"]["extra_specs"]["hw:cpu_policy"], "shared");
    let d = cloud.get("/flavors/detail").token(MEMBER_P).version("2.61").send().await.expect(200).body;
    assert_eq!(d["flavors"][0]["extra_specs"]["quota:cpu_shares"], "2048");
    let stored = cloud.service.store.flavor_by_flavorid("m1").await.unwrap().unwrap();
    assert_eq!(stored.extra_specs["hw:cpu_policy"], "shared");

    cloud.delete(&format!("{specs}/hw:cpu_policy")).token(MEMBER_P).send().await.expect_error(403);
    cloud.delete(&format!("{specs}/hw:cpu_policy")).token(ADMIN).send().await.expect(200);
    cloud.delete(&format!("{specs}/hw:cpu_policy")).token(ADMIN).send().await.expect_error(404);
    cloud.get("/flavors/none/os-extra_specs").token(ADMIN).send().await.expect_error(404);
}

#[tokio::test]
async fn extra_specs_are_validated_from_2_86() {
    let cloud = Cloud::start().await;
    create(&cloud, json!({"name": "m1", "id": "m1", "ram": 1, "vcpus": 1, "disk": 1})).await;
    let specs = "/flavors/m1/os-extra_specs";
    let post = |body: serde_json::Value, v: &str| cloud.post(specs).token(ADMIN).version(v).json(body);
    // Before 2.86 anything goes (as nova); from 2.86 a known namespace's keys and values are checked.
    post(json!({"extra_specs": {"hw:cpu_policy": "bogus"}}), "2.85").send().await.expect(200);
    let msg = post(json!({"extra_specs": {"hw:cpu_policy": "bogus"}}), "2.86").send().await.expect_error(400);
    assert!(msg.contains("hw:cpu_policy") && msg.contains("dedicated, shared, mixed"), "{msg}");
    let msg =
        post(json!({"extra_specs": {"hw:cpu_polcy": "dedicated"}}), "2.86").send().await.expect_error(400);
    assert!(msg.contains("not a known key"), "{msg}");
    let msg = post(json!({"extra_specs": {"trait:CUSTOM_SSD": "preferred"}}), "2.86")
        .send()
        .await
        .expect_error(400);
    assert!(msg.contains("required, forbidden"), "{msg}");
    post(json!({"extra_specs": {"quota:disk_read_iops_sec": "-5"}}), "2.86").send().await.expect_error(400);
    // A refused body changes nothing, even with valid keys beside the bad one.
    post(json!({"extra_specs": {"hw:numa_nodes": "2", "hw:watchdog_action": "explode"}}), "2.86")
        .send()
        .await
        .expect_error(400);
    let all = cloud.get(specs).token(ADMIN).send().await.expect(200).body;
    assert_eq!(all, json!({"extra_specs": {"hw:cpu_policy": "bogus"}}));
    // Valid ones, and keys of namespaces nova does not know (other filters' and drivers'), pass.
    let good = json!({"extra_specs": {"hw:cpu_policy": "dedicated", "trait:CUSTOM_SSD": "required",
        "resources:VCPU": "2", "aggregate_instance_extra_specs:ssd": "true", "mydriver:knob": "11", "ssd": "true"}});
    post(good, "2.86").send().await.expect(200);
    let put = cloud.put(&format!("{specs}/hw:mem_page_size")).token(ADMIN).version("2.86");
    put.json(json!({"hw:mem_page_size": "huge"})).send().await.expect_error(400);
    let put = cloud.put(&format!("{specs}/hw:mem_page_size")).token(ADMIN).version("2.86");
    put.json(json!({"hw:mem_page_size": "2MB"})).send().await.expect(200);
}

#[tokio::test]
async fn list_filters_sorting_and_paging() {
    let cloud = Cloud::start().await;
    for (i, (ram, disk)) in [(512, 1), (1024, 10), (2048, 20), (4096, 40), (8192, 80)].iter().enumerate() {
        create(
            &cloud,
            json!({"name": format!("f{i}"), "id": format!("f{i}"), "ram": ram, "vcpus": 1, "disk": disk}),
        )
        .await;
    }
    let list = |q: &str| cloud.get(&format!("/flavors{q}")).token(MEMBER_P).send();
    assert_eq!(ids(&list("?minRam=2048").await.expect(200).body), vec!["f2", "f3", "f4"]);
    assert_eq!(ids(&list("?minDisk=40&minRam=1").await.expect(200).body), vec!["f3", "f4"]);
    list("?minRam=lots").await.expect_error(400);
    assert_eq!(
        ids(&list("?sort_key=memory_mb&sort_dir=desc").await.expect(200).body),
        vec!["f4", "f3", "f2", "f1", "f0"]
    );
    list("?sort_key=colour").await.expect_error(400);
    list("?sort_dir=up").await.expect_error(400);
    // Unknown parameters are ignored before 2.75, refused from it.
    list("?foo=bar").await.expect(200);
    cloud.get("/flavors?foo=bar").token(MEMBER_P).version("2.75").send().await.expect_error(400);

    // Pages of two, following the next links.
    let mut seen = Vec::new();
    let mut path = "/flavors/detail?limit=2".to_string();
    loop {
        let body = cloud.get(&path).token(MEMBER_P).send().await.expect(200).body;
        seen.extend(ids(&body));
        match body["flavors_links"][0]["href"].as_str() {
            Some(href) => {
                assert_eq!(body["flavors_links"][0]["rel"], "next");
                path = href.split("/v2.1").nth(1).unwrap().to_string();
                assert!(path.starts_with("/flavors/detail?"), "{path}");
            }
            None => break,
        }
    }
    assert_eq!(seen, vec!["f0", "f1", "f2", "f3", "f4"]);
    let page = list("?sort_key=memory_mb&sort_dir=desc&limit=2&marker=f3").await.expect(200).body;
    assert_eq!(ids(&page), vec!["f2", "f1"]);
    let msg = list("?marker=nope").await.expect_error(400);
    assert_eq!(msg, "marker [nope] not found");
    list("?limit=-1").await.expect_error(400);
}
