//! `/os-quota-sets`, `/limits` and `/os-server-groups` (whose creation a quota guards), and
//! the quota checks the server code calls.

mod api_harness;

use api_harness::{Cloud, ADMIN, MEMBER_P, MEMBER_Q, P, Q, READER_P};
use serde_json::{json, Value};

#[tokio::test]
async fn quota_sets_show_update_revert() {
    let cloud = Cloud::start_with(|c| c.compute.quota_cores = 20).await;
    let show = |token: &'static str, version: &'static str| {
        cloud.get(&format!("/os-quota-sets/{P}")).token(token).version(version).send()
    };
    // 2.1 shows every resource; 2.36 drops the network ones, 2.57 the file ones.
    let q = show(READER_P, "2.1").await.expect(200).body["quota_set"].clone();
    assert_eq!(q["id"], P);
    assert_eq!(q["cores"], 20);
    assert_eq!(q["instances"], 10);
    assert_eq!(q["floating_ips"], -1);
    assert_eq!(q["injected_files"], 5);
    let q = show(READER_P, "2.36").await.expect(200).body["quota_set"].clone();
    assert!(q.get("floating_ips").is_none() && q.get("injected_files").is_some());
    let q = show(READER_P, "2.57").await.expect(200).body["quota_set"].clone();
    assert!(q.get("injected_files").is_none());
    let keys: Vec<&String> = q.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 8, "{keys:?}");
    // Another project's readers may not look.
    show(MEMBER_Q, "2.57").await.expect_error(403);
    cloud.get(&format!("/os-quota-sets/{P}")).token(MEMBER_P).send().await.expect(200);

    // Defaults: anyone.
    let d = cloud
        .get(&format!("/os-quota-sets/{Q}/defaults"))
        .token(MEMBER_P)
        .version("2.57")
        .send()
        .await
        .expect(200);
    assert_eq!(d.body["quota_set"]["cores"], 20);
    assert_eq!(d.body["quota_set"]["id"], Q);

    // Only admins update.
    let put = |token: &'static str, body: Value| {
        cloud
            .put(&format!("/os-quota-sets/{P}"))
            .token(token)
            .version("2.57")
            .json(json!({ "quota_set": body }))
            .send()
    };
    put(MEMBER_P, json!({"cores": 30})).await.expect_error(403);
    let r = put(ADMIN, json!({"cores": 30, "instances": "15", "ram": -1})).await.expect(200);
    assert_eq!(r.body["quota_set"]["cores"], 30);
    assert_eq!(r.body["quota_set"]["instances"], 15);
    assert_eq!(r.body["quota_set"]["ram"], -1);
    assert!(r.body["quota_set"].get("id").is_none());
    assert_eq!(show(READER_P, "2.57").await.expect(200).body["quota_set"]["cores"], 30);
    // Validation: range, integers, resources of the version.
    put(ADMIN, json!({"cores": -2})).await.expect_error(400);
    put(ADMIN, json!({"cores": "many"})).await.expect_error(400);
    put(ADMIN, json!({"cores": 1.5})).await.expect_error(400);
    put(ADMIN, json!({"cores": 2147483648_i64})).await.expect_error(400);
    put(ADMIN, json!({"gpus": 1})).await.expect_error(400);
    put(ADMIN, json!({"injected_files": 1})).await.expect_error(400);
    let r = cloud
        .put(&format!("/os-quota-sets/{P}"))
        .token(ADMIN)
        .version("2.1")
        .json(json!({"quota_set": {"injected_files": 3, "networks": 1}}))
        .send()
        .await;
    assert_eq!(r.expect_error(400), "The networks quota has been removed");
    cloud
        .put(&format!("/os-quota-sets/{P}"))
        .token(ADMIN)
        .version("2.1")
        .json(json!({"quota_set": {"injected_files": 3}}))
        .send()
        .await
        .expect(200);
    // Refused requests changed nothing.
    assert_eq!(show(READER_P, "2.57").await.expect(200).body["quota_set"]["cores"], 30);

    // Detail has usage; a limit below it needs force.
    cloud
        .post("/os-server-groups")
        .token(MEMBER_P)
        .version("2.64")
        .json(json!({"server_group": {"name": "g", "policy": "affinity"}}))
        .send()
        .await
        .expect(200);
    cloud
        .post("/os-server-groups")
        .token(MEMBER_P)
        .version("2.64")
        .json(json!({"server_group": {"name": "h", "policy": "affinity"}}))
        .send()
        .await
        .expect(200);
    let d = cloud
        .get(&format!("/os-quota-sets/{P}/detail"))
        .token(READER_P)
        .version("2.57")
        .send()
        .await
        .expect(200);
    assert_eq!(d.body["quota_set"]["server_groups"], json!({"limit": 10, "in_use": 2, "reserved": 0}));
    assert_eq!(d.body["quota_set"]["cores"]["in_use"], 0);
    let msg = put(ADMIN, json!({"server_groups": 1})).await.expect_error(400);
    assert_eq!(
        msg,
        "Quota limit 1 for server_groups must be greater than or equal to already used and reserved 2."
    );
    put(ADMIN, json!({"server_groups": 1, "force": true})).await.expect(200);

    // Delete: back to the defaults.
    cloud.delete(&format!("/os-quota-sets/{P}")).token(MEMBER_P).send().await.expect_error(403);
    cloud.delete(&format!("/os-quota-sets/{P}")).token(ADMIN).send().await.expect(202);
    let q = show(READER_P, "2.57").await.expect(200).body["quota_set"].clone();
    assert_eq!(q["cores"], 20);
    assert_eq!(q["server_groups"], 10);
}

#[tokio::test]
async fn limits() {
    let cloud = Cloud::start().await;
    cloud
        .put(&format!("/os-quota-sets/{P}"))
        .token(ADMIN)
        .json(json!({"quota_set": {"cores": 30, "key_pairs": 7}}))
        .send()
        .await
        .expect(200);
    cloud
        .post("/os-server-groups")
        .token(MEMBER_P)
        .json(json!({"server_group": {"name": "g", "policies": ["affinity"]}}))
        .send()
        .await
        .expect(200);

    let l = cloud.get("/limits").token(READER_P).version("2.57").send().await.expect(200).body;
    assert_eq!(l["limits"]["rate"], json!([]));
    let a = &l["limits"]["absolute"];
    assert_eq!(a["maxTotalCores"], 30);
    assert_eq!(a["maxTotalKeypairs"], 7);
    assert_eq!(a["maxTotalInstances"], 10);
    assert_eq!(a["maxTotalRAMSize"], 51200);
    assert_eq!(a["maxServerMeta"], 128);
    assert_eq!(a["maxServerGroups"], 10);
    assert_eq!(a["maxServerGroupMembers"], 10);
    assert_eq!(a["totalServerGroupsUsed"], 1);
    assert_eq!(a["totalInstancesUsed"], 0);
    assert_eq!(a["totalCoresUsed"], 0);
    assert_eq!(a["totalRAMUsed"], 0);
    for gone in
        ["maxPersonality", "maxImageMeta", "maxTotalFloatingIps", "totalFloatingIpsUsed", "maxSecurityGroups"]
    {
        assert!(a.get(gone).is_none(), "{gone} at 2.57");
    }
    let old = cloud.get("/limits").token(READER_P).send().await.expect(200).body;
    let a = &old["limits"]["absolute"];
    assert_eq!(a["maxImageMeta"], 128);
    assert_eq!(a["maxPersonality"], 5);
    assert_eq!(a["maxTotalFloatingIps"], -1);
    assert_eq!(a["totalSecurityGroupsUsed"], 0);

    // Another project: admins only.
    cloud.get(&format!("/limits?tenant_id={Q}")).token(MEMBER_P).send().await.expect_error(403);
    // What openstacksdk sends for "my project", and the caller's own project, are fine.
    let mine =
        cloud.get("/limits?reserved=False&tenant_id=None").token(MEMBER_P).send().await.expect(200).body;
    assert_eq!(mine["limits"]["absolute"]["maxTotalCores"], 30);
    cloud.get(&format!("/limits?tenant_id={P}")).token(READER_P).send().await.expect(200);
    let q = cloud.get(&format!("/limits?tenant_id={P}")).token(ADMIN).send().await.expect(200).body;
    assert_eq!(q["limits"]["absolute"]["maxTotalCores"], 30);
    cloud.get("/limits?foo=1").token(READER_P).version("2.75").send().await.expect_error(400);

    let l = stratus_compute::quota::limits(&cloud.service.store, &cloud.service.config, P).await.unwrap();
    assert_eq!((l.cores, l.instances, l.ram), (30, 10, 51200));
}

#[tokio::test]
async fn quota_checks() {
    let cloud = Cloud::start().await;
    let s = &cloud.service;
    cloud
        .put(&format!("/os-quota-sets/{P}"))
        .token(ADMIN)
        .json(json!({"quota_set": {"cores": 4, "metadata_items": 2}}))
        .send()
        .await
        .expect(200);
    stratus_compute::quota::check_servers(s, P, 1, 4, 512).await.unwrap();
    let e = stratus_compute::quota::check_servers(s, P, 1, 5, 512).await.unwrap_err();
    assert_eq!(e.status, 403);
    assert_eq!(e.message, "Quota exceeded for cores: Requested 5, but already used 0 of 4 cores");
    let e = stratus_compute::quota::check_servers(s, P, 11, 44, 60000).await.unwrap_err();
    assert_eq!(
        e.message,
        "Quota exceeded for cores, instances, ram: Requested 44, 11, 60000, but already used 0, 0, 0 of 4, 10, 51200 \
         cores, instances, ram"
    );
    stratus_compute::quota::check_metadata_items(s, P, 2).await.unwrap();
    let e = stratus_compute::quota::check_metadata_items(s, P, 3).await.unwrap_err();
    assert_eq!((e.status.as_u16(), e.message.as_str()), (403, "Maximum number of metadata items exceeds 2"));
    stratus_compute::quota::check_keypairs(s, P, MEMBER_P).await.unwrap();
    stratus_compute::quota::check_server_groups(s, P).await.unwrap();
}

#[tokio::test]
async fn server_groups() {
    let cloud = Cloud::start_with(|c| c.compute.quota_server_groups = 3).await;
    let create = |token: &'static str, version: &'static str, body: Value| {
        cloud
            .post("/os-server-groups")
            .token(token)
            .version(version)
            .json(json!({ "server_group": body }))
            .send()
    };
    // 2.64: policy and rules.
    let g = create(
        MEMBER_P,
        "2.64",
        json!({"name": "g1", "policy": "anti-affinity", "rules": {"max_server_per_host": 2}}),
    )
    .await
    .expect(200)
    .body["server_group"]
        .clone();
    let id = g["id"].as_str().unwrap().to_string();
    assert_eq!(g["policy"], "anti-affinity");
    assert_eq!(g["rules"], json!({"max_server_per_host": 2}));
    assert_eq!(g["members"], json!([]));
    assert_eq!(g["project_id"], P);
    assert_eq!(g["user_id"], MEMBER_P);
    assert!(g.get("policies").is_none());
    // Before 2.64: a policies list and empty metadata; soft policies from 2.15.
    let g2 =
        create(MEMBER_P, "2.15", json!({"name": "g2", "policies": ["soft-affinity"]})).await.expect(200).body;
    assert_eq!(g2["server_group"]["policies"], json!(["soft-affinity"]));
    assert_eq!(g2["server_group"]["metadata"], json!({}));
    create(MEMBER_P, "2.14", json!({"name": "g3", "policies": ["soft-affinity"]})).await.expect_error(400);
    create(MEMBER_P, "2.1", json!({"name": "g3", "policies": ["affinity", "anti-affinity"]}))
        .await
        .expect_error(400);
    create(
        MEMBER_P,
        "2.64",
        json!({"name": "g3", "policy": "affinity", "rules": {"max_server_per_host": 2}}),
    )
    .await
    .expect_error(400);
    create(
        MEMBER_P,
        "2.64",
        json!({"name": "g3", "policy": "anti-affinity", "rules": {"max_server_per_host": 0}}),
    )
    .await
    .expect_error(400);
    create(MEMBER_P, "2.64", json!({"name": "g3", "policy": "anti-affinity", "rules": {"other": 1}}))
        .await
        .expect_error(400);
    create(MEMBER_P, "2.64", json!({"name": "g3", "policies": ["affinity"]})).await.expect_error(400);
    create(MEMBER_P, "2.64", json!({"policy": "affinity"})).await.expect_error(400);
    create(MEMBER_P, "2.64", json!({"name": "g3", "policy": "best-effort"})).await.expect_error(400);
    create(READER_P, "2.64", json!({"name": "g3", "policy": "affinity"})).await.expect_error(403);

    // Show: the owner project's readers; 403 for other projects, 404 for none.
    let shown = cloud
        .get(&format!("/os-server-groups/{id}"))
        .token(READER_P)
        .version("2.64")
        .send()
        .await
        .expect(200);
    assert_eq!(shown.body["server_group"]["name"], "g1");
    cloud.get(&format!("/os-server-groups/{id}")).token(MEMBER_Q).send().await.expect_error(403);
    cloud.get(&format!("/os-server-groups/{id}")).token(ADMIN).send().await.expect(200);
    let msg = cloud.get("/os-server-groups/nope").token(READER_P).send().await.expect_error(404);
    assert_eq!(msg, "Instance group nope could not be found.");

    // Members, as the server code adds them.
    cloud.service.store.add_group_member(&id, "11111111-1111-1111-1111-111111111111").await.unwrap();
    cloud.service.store.add_group_member(&id, "11111111-1111-1111-1111-111111111111").await.unwrap();
    let g = cloud.service.store.server_group(&id).await.unwrap().unwrap();
    assert_eq!(g.members, vec!["11111111-1111-1111-1111-111111111111"]);
    assert_eq!(g.max_server_per_host, Some(2));
    let shown = cloud.get(&format!("/os-server-groups/{id}")).token(READER_P).send().await.expect(200);
    assert_eq!(shown.body["server_group"]["members"], json!(["11111111-1111-1111-1111-111111111111"]));

    // Lists: own project; all projects for admins; limit/offset.
    create(MEMBER_Q, "2.64", json!({"name": "q1", "policy": "affinity"})).await.expect(200);
    let names = |body: &Value| -> Vec<String> {
        body["server_groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["name"].as_str().unwrap().to_string())
            .collect()
    };
    let mine = cloud.get("/os-server-groups").token(READER_P).send().await.expect(200).body;
    assert_eq!(names(&mine), vec!["g1", "g2"]);
    let mine = cloud.get("/os-server-groups?all_projects=1").token(MEMBER_P).send().await.expect(200).body;
    assert_eq!(names(&mine), vec!["g1", "g2"]);
    let all = cloud.get("/os-server-groups?all_projects=True").token(ADMIN).send().await.expect(200).body;
    assert_eq!(names(&all), vec!["g1", "g2", "q1"]);
    let page =
        cloud.get("/os-server-groups?all_projects=1&limit=1&offset=1").token(ADMIN).send().await.expect(200);
    assert_eq!(names(&page.body), vec!["g2"]);

    // Quota: three groups in P.
    create(MEMBER_P, "2.64", json!({"name": "g3", "policy": "affinity"})).await.expect(200);
    let msg = create(MEMBER_P, "2.64", json!({"name": "g4", "policy": "affinity"})).await.expect_error(403);
    assert_eq!(msg, "Quota exceeded, too many server groups.");

    // Delete.
    cloud.delete(&format!("/os-server-groups/{id}")).token(READER_P).send().await.expect_error(403);
    cloud.delete(&format!("/os-server-groups/{id}")).token(MEMBER_Q).send().await.expect_error(403);
    cloud.delete(&format!("/os-server-groups/{id}")).token(MEMBER_P).send().await.expect(204);
    cloud.delete(&format!("/os-server-groups/{id}")).token(MEMBER_P).send().await.expect_error(404);
    create(MEMBER_P, "2.64", json!({"name": "g4", "policy": "affinity"})).await.expect(200);
}

#[tokio::test]
async fn quota_class_default_sets_every_projects_defaults() {
    let cloud = Cloud::start().await;
    let class = "/os-quota-class-sets/default";
    let shown = cloud.get(class).token(ADMIN).send().await.expect(200).body;
    // 2.1: nova-network's resources, no server group ones; the config's defaults.
    assert_eq!(shown["quota_class_set"]["id"], "default");
    assert_eq!(shown["quota_class_set"]["instances"], 10);
    assert_eq!(shown["quota_class_set"]["floating_ips"], -1);
    assert!(shown["quota_class_set"].get("server_groups").is_none());
    let v257 = cloud.get(class).token(ADMIN).version("2.57").send().await.expect(200).body;
    assert_eq!(v257["quota_class_set"]["server_groups"], 10);
    assert!(v257["quota_class_set"].get("floating_ips").is_none());
    assert!(v257["quota_class_set"].get("injected_files").is_none());

    // Only admins; bad bodies change nothing.
    cloud.get(class).token(MEMBER_P).send().await.expect_error(403);
    let set = |body: Value| cloud.put(class).token(ADMIN).version("2.57").json(body);
    cloud
        .put(class)
        .token(MEMBER_P)
        .json(json!({"quota_class_set": {"instances": 1}}))
        .send()
        .await
        .expect_error(403);
    set(json!({"quota_class_set": {"instances": -2}})).send().await.expect_error(400);
    set(json!({"quota_class_set": {"floating_ips": 5}})).send().await.expect_error(400);
    set(json!({"quota_class_set": {"nonsense": 5}})).send().await.expect_error(400);
    set(json!({"quota_set": {"instances": 5}})).send().await.expect_error(400);

    let r = set(json!({"quota_class_set": {"instances": 3, "cores": "40"}})).send().await.expect(200).body;
    assert_eq!(r["quota_class_set"]["instances"], 3);
    assert_eq!(r["quota_class_set"]["cores"], 40);
    assert!(r["quota_class_set"].get("id").is_none(), "nova's update answer has no id");

    // Every project's defaults follow; a project's own limit still wins.
    let d = cloud.get(&format!("/os-quota-sets/{P}/defaults")).token(MEMBER_P).send().await.expect(200).body;
    assert_eq!(
        (d["quota_set"]["instances"].clone(), d["quota_set"]["ram"].clone()),
        (json!(3), json!(51200))
    );
    let q = cloud.get(&format!("/os-quota-sets/{Q}")).token(MEMBER_Q).send().await.expect(200).body;
    assert_eq!(q["quota_set"]["instances"], 3);
    cloud
        .put(&format!("/os-quota-sets/{P}"))
        .token(ADMIN)
        .json(json!({"quota_set": {"instances": 8}}))
        .send()
        .await
        .expect(200);
    let p = cloud.get(&format!("/os-quota-sets/{P}")).token(MEMBER_P).send().await.expect(200).body;
    assert_eq!(p["quota_set"]["instances"], 8);
    // The checks use them: three servers' worth of instances for project Q.
    let s = &cloud.service;
    stratus_compute::quota::check_servers(s, Q, 3, 3, 3).await.unwrap();
    let e = stratus_compute::quota::check_servers(s, Q, 4, 4, 4).await.unwrap_err();
    assert!(e.message.contains("Quota exceeded for instances"), "{}", e.message);

    // Another class is kept and shown, but is nobody's default.
    cloud
        .put("/os-quota-class-sets/gold")
        .token(ADMIN)
        .json(json!({"quota_class_set": {"instances": 99}}))
        .send()
        .await
        .expect(200);
    let gold = cloud.get("/os-quota-class-sets/gold").token(ADMIN).send().await.expect(200).body;
    assert_eq!(
        (gold["quota_class_set"]["instances"].clone(), gold["quota_class_set"]["cores"].clone()),
        (json!(99), json!(20))
    );
    let d = cloud.get(&format!("/os-quota-sets/{Q}/defaults")).token(MEMBER_Q).send().await.expect(200).body;
    assert_eq!(d["quota_set"]["instances"], 3);
}
