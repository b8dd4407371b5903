//! The service catalog API: regions, services, endpoints, and what lands in a token.

mod common;

use common::*;
use serde_json::{json, Value};

#[tokio::test]
async fn regions_nest_and_can_be_created_with_a_chosen_id() {
    let cloud = Cloud::start().await;
    let admin = cloud.admin_token().await;

    let r = cloud
        .post("/v3/regions")
        .token(&admin)
        .json(json!({"region": {"id": "Europe", "description": "EU"}}))
        .send()
        .await
        .expect(201);
    assert_eq!(r.body["region"]["id"], "Europe");
    assert_eq!(r.body["region"]["parent_region_id"], Value::Null);
    let r = cloud
        .put("/v3/regions/Paris")
        .token(&admin)
        .json(json!({"region": {"parent_region_id": "Europe", "description": "FR"}}))
        .send()
        .await
        .expect(201);
    assert_eq!(r.body["region"]["id"], "Paris");
    assert_eq!(r.body["region"]["parent_region_id"], "Europe");
    assert!(r.body["region"]["links"]["self"].as_str().unwrap().ends_with("/v3/regions/Paris"));
    // A generated id when none is given.
    let r = cloud.post("/v3/regions").token(&admin).json(json!({"region": {}})).send().await.expect(201);
    assert!(!r.body["region"]["id"].as_str().unwrap().is_empty());

    // The same id twice, an id that contradicts the URL, an unknown parent.
    cloud.put("/v3/regions/Paris").token(&admin).json(json!({"region": {}})).send().await.expect(409);
    cloud
        .put("/v3/regions/Lyon")
        .token(&admin)
        .json(json!({"region": {"id": "Nice"}}))
        .send()
        .await
        .expect(400);
    cloud
        .post("/v3/regions")
        .token(&admin)
        .json(json!({"region": {"id": "Oslo", "parent_region_id": "Nowhere"}}))
        .send()
        .await
        .expect(404);

    let r = cloud.get("/v3/regions?parent_region_id=Europe").token(&admin).send().await.expect(200);
    assert_eq!(ids(&r.body, "regions"), ["Paris"]);
    let r = cloud.get("/v3/regions/Paris").token(&admin).send().await.expect(200);
    assert_eq!(r.body["region"]["description"], "FR");
    let r = cloud
        .patch("/v3/regions/Paris")
        .token(&admin)
        .json(json!({"region": {"description": "France"}}))
        .send()
        .await
        .expect(200);
    assert_eq!(r.body["region"]["description"], "France");
    assert_eq!(r.body["region"]["parent_region_id"], "Europe");

    // A region cannot become its own ancestor.
    for parent in ["Europe", "Paris"] {
        let r = cloud
            .patch("/v3/regions/Europe")
            .token(&admin)
            .json(json!({"region": {"parent_region_id": parent}}))
            .send()
            .await
            .expect(400);
        assert_eq!(r.body["error"]["code"], 400);
    }
    let r = cloud.get("/v3/regions/Europe").token(&admin).send().await.expect(200);
    assert_eq!(r.body["region"]["parent_region_id"], Value::Null);

    // Anyone with a token may read regions; only admins write them.
    let (eve, project) = cloud.member_of_new_project(&admin, "eve", "member").await;
    let member = cloud.token(&eve, "eve-pw", project_scope(&project)).await;
    cloud.get("/v3/regions").token(&member).send().await.expect(200);
    cloud.post("/v3/regions").token(&member).json(json!({"region": {}})).send().await.expect(403);

    cloud.delete("/v3/regions/Paris").token(&admin).send().await.expect(204);
    cloud.get("/v3/regions/Paris").token(&admin).send().await.expect(404);
    cloud.delete("/v3/regions/Paris").token(&admin).send().await.expect(404);
}

#[tokio::test]
async fn a_region_with_endpoints_is_not_deleted() {
    let cloud = Cloud::start().await;
    let admin = cloud.admin_token().await;
    let service = create_service(&cloud, &admin, json!({"type": "compute", "name": "nova"})).await;
    cloud.put("/v3/regions/Busy").token(&admin).json(json!({"region": {}})).send().await.expect(201);
    let endpoint = create_endpoint(&cloud, &admin, &service, "public", "Busy").await;

    // (keystone answers 403 here; Stratus says 409 Conflict.)
    let r = cloud.delete("/v3/regions/Busy").token(&admin).send().await.expect(409);
    assert!(r.error_message().contains("Busy"), "{}", r.text);
    cloud.get("/v3/regions/Busy").token(&admin).send().await.expect(200);
    cloud.delete(&format!("/v3/endpoints/{endpoint}")).token(&admin).send().await.expect(204);
    cloud.delete("/v3/regions/Busy").token(&admin).send().await.expect(204);
}

async fn create_service(cloud: &Cloud, admin: &str, service: Value) -> String {
    let r = cloud.post("/v3/services").token(admin).json(json!({ "service": service })).send().await;
    id_of(&r.expect(201).body["service"])
}

async fn create_endpoint(cloud: &Cloud, admin: &str, service: &str, interface: &str, region: &str) -> String {
    let url = format!("http://{interface}.{region}.example:8774/v2.1");
    let body =
        json!({"endpoint": {"service_id": service, "interface": interface, "url": url, "region_id": region}});
    let r = cloud.post("/v3/endpoints").token(admin).json(body).send().await.expect(201);
    assert_eq!(r.body["endpoint"]["url"], url.as_str());
    assert_eq!(r.body["endpoint"]["region_id"], region);
    assert_eq!(r.body["endpoint"]["region"], region);
    assert_eq!(r.body["endpoint"]["interface"], interface);
    assert_eq!(r.body["endpoint"]["enabled"], true);
    id_of(&r.body["endpoint"])
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

async fn endpoint_ids(cloud: &Cloud, admin: &str, query: &str) -> Vec<String> {
    let r = cloud.get(&format!("/v3/endpoints?{query}")).token(admin).send().await.expect(200);
    sorted(ids(&r.body, "endpoints"))
}

/// The catalog of a fresh project token of the admin.
async fn token_catalog(cloud: &Cloud) -> Vec<Value> {
    let admin = cloud.admin_token().await;
    let r = cloud.validate(&admin, &admin).await.expect(200);
    r.body["token"]["catalog"].as_array().expect("catalog").clone()
}

#[tokio::test]
async fn services_and_endpoints_crud_with_filters() {
    let cloud = Cloud::start().await;
    let admin = cloud.admin_token().await;
    let compute =
        create_service(&cloud, &admin, json!({"type": "compute", "name": "nova", "description": "VMs"}))
            .await;
    let image = create_service(&cloud, &admin, json!({"type": "image", "name": "glance"})).await;

    let r = cloud.get("/v3/services?type=compute").token(&admin).send().await.expect(200);
    assert_eq!(ids(&r.body, "services"), vec![compute.clone()]);
    assert_eq!(r.body["services"][0]["name"], "nova");
    assert_eq!(r.body["services"][0]["enabled"], true);
    let r = cloud.get("/v3/services?name=glance").token(&admin).send().await.expect(200);
    assert_eq!(ids(&r.body, "services"), vec![image.clone()]);
    let r = cloud
        .patch(&format!("/v3/services/{image}"))
        .token(&admin)
        .json(json!({"service": {"description": "Images"}}))
        .send()
        .await
        .expect(200);
    assert_eq!(r.body["service"]["description"], "Images");
    assert_eq!(r.body["service"]["type"], "image");
    cloud.get(&format!("/v3/services/{image}")).token(&admin).send().await.expect(200);
    cloud.get("/v3/services/nope").token(&admin).send().await.expect(404);
    let r =
        cloud.post("/v3/services").token(&admin).json(json!({"service": {"name": "typeless"}})).send().await;
    assert!(r.expect(400).error_message().contains("type"));

    cloud.put("/v3/regions/West").token(&admin).json(json!({"region": {}})).send().await.expect(201);
    let c_public = create_endpoint(&cloud, &admin, &compute, "public", "RegionOne").await;
    let c_internal = create_endpoint(&cloud, &admin, &compute, "internal", "RegionOne").await;
    let c_west = create_endpoint(&cloud, &admin, &compute, "public", "West").await;
    let i_public = create_endpoint(&cloud, &admin, &image, "public", "RegionOne").await;

    let all = endpoint_ids(&cloud, &admin, "").await;
    assert_eq!(all, sorted(vec![c_public.clone(), c_internal.clone(), c_west.clone(), i_public.clone()]));
    assert_eq!(endpoint_ids(&cloud, &admin, &format!("service_id={compute}")).await.len(), 3);
    assert_eq!(endpoint_ids(&cloud, &admin, "interface=internal").await, vec![c_internal.clone()]);
    assert_eq!(endpoint_ids(&cloud, &admin, "region_id=West").await, vec![c_west.clone()]);
    assert_eq!(
        endpoint_ids(&cloud, &admin, "interface=public&region_id=RegionOne").await,
        sorted(vec![c_public.clone(), i_public.clone()])
    );

    let r = cloud
        .patch(&format!("/v3/endpoints/{c_west}"))
        .token(&admin)
        .json(json!({"endpoint": {"url": "https://west.example/compute"}}))
        .send()
        .await
        .expect(200);
    assert_eq!(r.body["endpoint"]["url"], "https://west.example/compute");
    assert_eq!(r.body["endpoint"]["service_id"], compute.as_str());
    let r = cloud.get(&format!("/v3/endpoints/{c_west}")).token(&admin).send().await.expect(200);
    assert_eq!(r.body["endpoint"]["url"], "https://west.example/compute");
    cloud.delete(&format!("/v3/endpoints/{c_west}")).token(&admin).send().await.expect(204);
    cloud.get(&format!("/v3/endpoints/{c_west}")).token(&admin).send().await.expect(404);

    // Deleting a service takes its endpoints along.
    cloud.delete(&format!("/v3/services/{image}")).token(&admin).send().await.expect(204);
    cloud.get(&format!("/v3/endpoints/{i_public}")).token(&admin).send().await.expect(404);
    assert_eq!(endpoint_ids(&cloud, &admin, "").await, sorted(vec![c_public.clone(), c_internal.clone()]));

    // Members may not change the catalog.
    let (eve, project) = cloud.member_of_new_project(&admin, "eve", "member").await;
    let member = cloud.token(&eve, "eve-pw", project_scope(&project)).await;
    cloud
        .post("/v3/services")
        .token(&member)
        .json(json!({"service": {"type": "x"}}))
        .send()
        .await
        .expect(403);
    cloud.delete(&format!("/v3/endpoints/{c_public}")).token(&member).send().await.expect(403);
}

#[tokio::test]
async fn endpoints_need_a_known_service_and_region_and_a_valid_interface_and_url() {
    let cloud = Cloud::start().await;
    let admin = cloud.admin_token().await;
    let service = create_service(&cloud, &admin, json!({"type": "compute"})).await;
    let cases = [
        (json!({"service_id": "nope", "interface": "public", "url": "http://x.example/"}), "nope"),
        (
            json!({"service_id": service, "interface": "public", "url": "http://x.example/", "region_id": "Mars"}),
            "Mars",
        ),
        (json!({"service_id": service, "interface": "sideways", "url": "http://x.example/"}), "interface"),
        (json!({"service_id": service, "interface": "public", "url": "not a url"}), "url"),
        (json!({"interface": "public", "url": "http://x.example/"}), "service_id"),
    ];
    for (endpoint, named) in cases {
        let r = cloud.post("/v3/endpoints").token(&admin).json(json!({ "endpoint": endpoint })).send().await;
        let r = r.expect(400);
        assert_eq!(r.body["error"]["code"], 400);
        assert!(r.error_message().contains(named), "{named}: {}", r.text);
    }
    let ep = create_endpoint(&cloud, &admin, &service, "admin", "RegionOne").await;
    let r = cloud
        .patch(&format!("/v3/endpoints/{ep}"))
        .token(&admin)
        .json(json!({"endpoint": {"region_id": "Mars"}}))
        .send()
        .await
        .expect(400);
    assert!(r.error_message().contains("Mars"));
    assert_eq!(
        cloud.get("/v3/endpoints").token(&admin).send().await.body["endpoints"].as_array().unwrap().len(),
        1
    );
}

#[tokio::test]
async fn disabled_endpoints_and_services_stay_out_of_the_token_catalog() {
    let cloud = Cloud::start().await;
    let admin = cloud.admin_token().await;
    let compute = create_service(&cloud, &admin, json!({"type": "compute", "name": "nova"})).await;
    let image = create_service(&cloud, &admin, json!({"type": "image", "name": "glance"})).await;
    let c_public = create_endpoint(&cloud, &admin, &compute, "public", "RegionOne").await;
    let c_admin = create_endpoint(&cloud, &admin, &compute, "admin", "RegionOne").await;
    create_endpoint(&cloud, &admin, &image, "public", "RegionOne").await;

    let find = |catalog: &[Value], ty: &str| catalog.iter().find(|s| s["type"] == ty).cloned();
    let catalog = token_catalog(&cloud).await;
    let nova = find(&catalog, "compute").expect("compute listed");
    assert_eq!(nova["id"], compute.as_str());
    assert_eq!(nova["name"], "nova");
    assert_eq!(ids(&nova, "endpoints").len(), 2);
    assert!(find(&catalog, "image").is_some());

    cloud
        .patch(&format!("/v3/endpoints/{c_admin}"))
        .token(&admin)
        .json(json!({"endpoint": {"enabled": false}}))
        .send()
        .await
        .expect(200);
    cloud
        .patch(&format!("/v3/services/{image}"))
        .token(&admin)
        .json(json!({"service": {"enabled": false}}))
        .send()
        .await
        .expect(200);

    let catalog = token_catalog(&cloud).await;
    let nova = find(&catalog, "compute").expect("compute listed");
    assert_eq!(ids(&nova, "endpoints"), vec![c_public.clone()], "the disabled endpoint is left out");
    assert!(find(&catalog, "image").is_none(), "the disabled service is left out: {catalog:?}");
    // The same in /v3/auth/catalog, and the admin API still lists both.
    let admin = cloud.admin_token().await;
    let r = cloud.get("/v3/auth/catalog").token(&admin).send().await.expect(200);
    assert!(find(r.body["catalog"].as_array().unwrap(), "image").is_none());
    let r = cloud.get(&format!("/v3/endpoints?service_id={compute}")).token(&admin).send().await.expect(200);
    assert_eq!(ids(&r.body, "endpoints").len(), 2);

    cloud
        .patch(&format!("/v3/services/{image}"))
        .token(&admin)
        .json(json!({"service": {"enabled": true}}))
        .send()
        .await
        .expect(200);
    assert!(find(&token_catalog(&cloud).await, "image").is_some(), "re-enabled, listed again");
}
