//! `/os-aggregates` and `/os-availability-zone`: zones come from aggregates.

mod api_harness;

use api_harness::{Cloud, ADMIN, MEMBER_P, READER_P};
use serde_json::{json, Value};

async fn create(cloud: &Cloud, name: &str, zone: Option<&str>) -> Value {
    let mut agg = json!({ "name": name });
    if let Some(z) = zone {
        agg["availability_zone"] = json!(z);
    }
    cloud
        .post("/os-aggregates")
        .token(ADMIN)
        .version("2.81")
        .json(json!({ "aggregate": agg }))
        .send()
        .await
        .expect(200)
        .body["aggregate"]
        .clone()
}

async fn act(cloud: &Cloud, id: i64, body: Value) -> api_harness::Resp {
    cloud.post(&format!("/os-aggregates/{id}/action")).token(ADMIN).version("2.81").json(body).send().await
}

#[tokio::test]
async fn aggregates_crud_and_hosts() {
    let cloud = Cloud::start().await;
    cloud.add_compute_host("host1").await;
    cloud.add_compute_host("host2").await;

    // Admins only.
    cloud.get("/os-aggregates").token(MEMBER_P).send().await.expect_error(403);
    cloud
        .post("/os-aggregates")
        .token(MEMBER_P)
        .json(json!({"aggregate": {"name": "x"}}))
        .send()
        .await
        .expect_error(403);

    let a = create(&cloud, "agg1", Some("az1")).await;
    let id = a["id"].as_i64().unwrap();
    assert_eq!(a["name"], "agg1");
    assert_eq!(a["availability_zone"], "az1");
    assert!(uuid::Uuid::parse_str(a["uuid"].as_str().unwrap()).is_ok());
    assert!(a.get("hosts").is_none() && a.get("metadata").is_none());
    assert_eq!(a["deleted"], false);
    assert_eq!(a["updated_at"], Value::Null);
    // Before 2.41 no uuid.
    let old = cloud.get(&format!("/os-aggregates/{id}")).token(ADMIN).send().await.expect(200).body;
    assert!(old["aggregate"].get("uuid").is_none());
    assert_eq!(old["aggregate"]["metadata"], json!({"availability_zone": "az1"}));

    let msg = cloud
        .post("/os-aggregates")
        .token(ADMIN)
        .json(json!({"aggregate": {"name": "agg1"}}))
        .send()
        .await
        .expect_error(409);
    assert_eq!(msg, "Aggregate agg1 already exists.");
    cloud
        .post("/os-aggregates")
        .token(ADMIN)
        .json(json!({"aggregate": {"name": ""}}))
        .send()
        .await
        .expect_error(400);
    cloud
        .post("/os-aggregates")
        .token(ADMIN)
        .json(json!({"aggregate": {"name": "x", "availability_zone": "a:b"}}))
        .send()
        .await
        .expect_error(400);
    cloud
        .post("/os-aggregates")
        .token(ADMIN)
        .json(json!({"aggregate": {"name": "x", "hosts": []}}))
        .send()
        .await
        .expect_error(400);

    // Hosts: must have a compute service; once only.
    let r = act(&cloud, id, json!({"add_host": {"host": "host1"}})).await.expect(200);
    assert_eq!(r.body["aggregate"]["hosts"], json!(["host1"]));
    let msg = act(&cloud, id, json!({"add_host": {"host": "host1"}})).await.expect_error(409);
    assert_eq!(msg, format!("Aggregate {id} already has host host1."));
    let msg = act(&cloud, id, json!({"add_host": {"host": "ghost"}})).await.expect_error(404);
    assert_eq!(msg, "Compute host ghost could not be found.");
    act(&cloud, 999, json!({"add_host": {"host": "host2"}})).await.expect_error(404);
    act(&cloud, id, json!({"add_host": {"host": "bad host"}})).await.expect_error(400);
    act(&cloud, id, json!({"fly": {}})).await.expect_error(400);
    cloud.get("/os-aggregates/abc").token(ADMIN).send().await.expect_error(400);
    cloud.get("/os-aggregates/999").token(ADMIN).send().await.expect_error(404);

    // A host cannot be in two zones.
    let b = create(&cloud, "agg2", Some("az2")).await;
    let bid = b["id"].as_i64().unwrap();
    let msg = act(&cloud, bid, json!({"add_host": {"host": "host1"}})).await.expect_error(409);
    assert!(msg.contains("One or more hosts already in availability zone(s) ['az1']"), "{msg}");
    // An aggregate without a zone, or of the same zone, is fine.
    let c = create(&cloud, "agg3", None).await;
    let cid = c["id"].as_i64().unwrap();
    act(&cloud, cid, json!({"add_host": {"host": "host1"}})).await.expect(200);
    // ... but then it may not take another zone.
    let msg = act(&cloud, cid, json!({"set_metadata": {"metadata": {"availability_zone": "az2"}}}))
        .await
        .expect_error(400);
    assert!(msg.starts_with(&format!("Cannot update metadata of aggregate {cid}")), "{msg}");
    let msg = cloud
        .put(&format!("/os-aggregates/{cid}"))
        .token(ADMIN)
        .json(json!({"aggregate": {"availability_zone": "az2"}}))
        .send()
        .await
        .expect_error(400);
    assert!(msg.contains("One or more hosts already in availability zone(s)"), "{msg}");

    // Metadata: set and unset.
    let r = act(&cloud, cid, json!({"set_metadata": {"metadata": {"ssd": "true", "gpu": "1"}}}))
        .await
        .expect(200);
    assert_eq!(r.body["aggregate"]["metadata"], json!({"ssd": "true", "gpu": "1"}));
    assert!(r.body["aggregate"]["updated_at"].is_string());
    let r = act(&cloud, cid, json!({"set_metadata": {"metadata": {"gpu": null}}})).await.expect(200);
    assert_eq!(r.body["aggregate"]["metadata"], json!({"ssd": "true"}));
    act(&cloud, cid, json!({"set_metadata": {"metadata": {"bad/key": "x"}}})).await.expect_error(400);
    act(&cloud, cid, json!({"set_metadata": {"metadata": {"availability_zone": null}}}))
        .await
        .expect_error(400);
    let meta = cloud.service.store.host_aggregate_metadata().await.unwrap();
    assert_eq!(meta["host1"]["ssd"], vec!["true"]);

    // Rename.
    let r = cloud
        .put(&format!("/os-aggregates/{cid}"))
        .token(ADMIN)
        .json(json!({"aggregate": {"name": "fast"}}))
        .send()
        .await
        .expect(200);
    assert_eq!(r.body["aggregate"]["name"], "fast");
    cloud
        .put(&format!("/os-aggregates/{cid}"))
        .token(ADMIN)
        .json(json!({"aggregate": {"name": "agg1"}}))
        .send()
        .await
        .expect_error(409);
    cloud
        .put(&format!("/os-aggregates/{cid}"))
        .token(ADMIN)
        .json(json!({"aggregate": {}}))
        .send()
        .await
        .expect_error(400);

    // The list.
    let list = cloud.get("/os-aggregates").token(ADMIN).version("2.41").send().await.expect(200).body;
    let names: Vec<&str> =
        list["aggregates"].as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["agg1", "agg2", "fast"]);
    assert!(list["aggregates"][0]["uuid"].is_string());

    // Delete: not while it has hosts (400, as nova).
    let msg = cloud.delete(&format!("/os-aggregates/{id}")).token(ADMIN).send().await.expect_error(400);
    assert!(msg.contains("Host aggregate is not empty"), "{msg}");
    let r = act(&cloud, id, json!({"remove_host": {"host": "host1"}})).await.expect(200);
    assert_eq!(r.body["aggregate"]["hosts"], json!([]));
    let msg = act(&cloud, id, json!({"remove_host": {"host": "host1"}})).await.expect_error(404);
    assert_eq!(msg, format!("Cannot remove host host1 in aggregate {id}"));
    act(&cloud, id, json!({"remove_host": {"host": "ghost"}})).await.expect_error(404);
    cloud.delete(&format!("/os-aggregates/{id}")).token(MEMBER_P).send().await.expect_error(403);
    cloud.delete(&format!("/os-aggregates/{id}")).token(ADMIN).send().await.expect(200);
    cloud.get(&format!("/os-aggregates/{id}")).token(ADMIN).send().await.expect_error(404);
    // Now host1 may join az2.
    act(&cloud, bid, json!({"add_host": {"host": "host1"}})).await.expect(200);
}

#[tokio::test]
async fn availability_zones() {
    let cloud = Cloud::start().await;
    cloud.add_compute_host("host1").await;
    cloud.add_compute_host("host2").await;
    cloud.add_compute_host("host3").await;
    cloud.service.store.report_service("ctl", "nova-scheduler", "scheduler", "internal").await.unwrap();
    let a = create(&cloud, "agg1", Some("az1")).await;
    act(&cloud, a["id"].as_i64().unwrap(), json!({"add_host": {"host": "host1"}})).await.expect(200);
    // A zone without hosts is not listed.
    create(&cloud, "empty", Some("az-empty")).await;

    let zones = |body: &Value| -> Vec<(String, bool)> {
        body["availabilityZoneInfo"]
            .as_array()
            .unwrap()
            .iter()
            .map(|z| {
                (z["zoneName"].as_str().unwrap().to_string(), z["zoneState"]["available"].as_bool().unwrap())
            })
            .collect()
    };
    let list = cloud.get("/os-availability-zone").token(READER_P).send().await.expect(200).body;
    assert_eq!(zones(&list), vec![("az1".to_string(), true), ("nova".to_string(), true)]);
    assert_eq!(list["availabilityZoneInfo"][0]["hosts"], Value::Null);

    cloud.get("/os-availability-zone/detail").token(MEMBER_P).send().await.expect_error(403);
    let detail = cloud.get("/os-availability-zone/detail").token(ADMIN).send().await.expect(200).body;
    assert_eq!(
        zones(&detail),
        vec![("az1".to_string(), true), ("internal".to_string(), true), ("nova".to_string(), true)]
    );
    let az1 = &detail["availabilityZoneInfo"][0]["hosts"];
    let svc = &az1["host1"]["nova-compute"];
    assert_eq!(svc["available"], true);
    assert_eq!(svc["active"], true);
    assert!(svc["updated_at"].is_string());
    let nova = &detail["availabilityZoneInfo"][2]["hosts"];
    let mut hosts: Vec<&String> = nova.as_object().unwrap().keys().collect();
    hosts.sort();
    assert_eq!(hosts, vec!["host2", "host3"]);
    assert!(detail["availabilityZoneInfo"][1]["hosts"]["ctl"]["nova-scheduler"].is_object());

    // The rule the scheduler uses agrees.
    let map = stratus_compute::zones::host_zones(&cloud.service.store).await.unwrap();
    assert_eq!(map.get("host1").map(String::as_str), Some("az1"));
    assert_eq!(map.get("host2"), None);
}
