//! The operator's policy file (`identity.policy_file`): JSON and oslo.policy YAML overrides
//! change what the API allows; a broken file stops the service from starting.

mod common;

use common::*;
use serde_json::json;
use stratus_identity::Identity;

/// A cloud whose policy file (written into its data dir) holds `text`.
async fn cloud_with_policy(file_name: &'static str, text: &'static str) -> Cloud {
    Cloud::start_with(move |c| {
        let path = c.data_dir.join(file_name);
        std::fs::write(&path, text).expect("writing the policy file");
        c.identity.policy_file = path.display().to_string();
    })
    .await
}

/// A project member's token: (cloud admin token, member token).
async fn tokens(cloud: &Cloud) -> (String, String) {
    let admin = cloud.admin_token().await;
    let (user, project) = cloud.member_of_new_project(&admin, "uma", "member").await;
    let member = cloud.token(&user, "uma-pw", project_scope(&project)).await;
    (admin, member)
}

#[tokio::test]
async fn by_default_a_project_member_cannot_list_projects() {
    let cloud = Cloud::start().await;
    let (_, member) = tokens(&cloud).await;
    let r = cloud.get("/v3/projects").token(&member).send().await.expect(403);
    assert_eq!(
        r.error_message(),
        "You are not authorized to perform the requested action: identity:list_projects."
    );
    cloud.get("/v3/regions/RegionOne").token(&member).send().await.expect(200);
}

#[tokio::test]
async fn a_json_policy_file_overrides_the_defaults() {
    let cloud = cloud_with_policy("policy.json", r#"{"identity:list_projects": "role:reader"}"#).await;
    let (admin, member) = tokens(&cloud).await;
    let r = cloud.get("/v3/projects").token(&member).send().await.expect(200);
    let names: Vec<&str> =
        r.body["projects"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"admin") && names.contains(&"uma-project"), "{names:?}");
    // Rules the file does not name keep their defaults.
    cloud.get("/v3/users").token(&member).send().await.expect(403);
    cloud.get("/v3/projects").token(&admin).send().await.expect(200);
}

#[tokio::test]
async fn an_oslo_yaml_policy_file_overrides_the_defaults() {
    let text = r#"# Show a region.
# GET  /v3/regions/{region_id}
#"identity:get_region": ""

"identity:get_region": "role:admin"
'identity:list_regions': 'role:admin or role:auditor'
"#;
    let cloud = cloud_with_policy("policy.yaml", text).await;
    let (admin, member) = tokens(&cloud).await;
    let r = cloud.get("/v3/regions/RegionOne").token(&member).send().await.expect(403);
    assert_eq!(
        r.error_message(),
        "You are not authorized to perform the requested action: identity:get_region."
    );
    cloud.get("/v3/regions").token(&member).send().await.expect(403);
    cloud.get("/v3/regions/RegionOne").token(&admin).send().await.expect(200);
    cloud.get("/v3/regions").token(&admin).send().await.expect(200);
    // An `or` of roles: a new role opens the list to its holders.
    let auditor = cloud.create_role(&admin, "auditor").await;
    let vic = cloud.create_user(&admin, "vic", "vic-pw").await;
    let project = cloud.create_project(&admin, "audited").await;
    cloud.grant(&admin, "projects", &project, &vic, &auditor).await;
    let vic = cloud.token(&vic, "vic-pw", project_scope(&project)).await;
    let r = cloud.get("/v3/regions").token(&vic).send().await.expect(200);
    assert_eq!(ids(&r.body, "regions"), ["RegionOne"]);
}

/// The error of opening an identity service with this policy file.
async fn open_error(file_name: &str, text: &str) -> String {
    let dir = TempDir::new();
    let mut config = config_in(dir.path());
    let path = dir.path().join(file_name);
    std::fs::write(&path, text).unwrap();
    config.identity.policy_file = path.display().to_string();
    match Identity::open(config).await {
        Ok(_) => panic!("a broken policy file ({text:?}) was accepted"),
        Err(e) => format!("{e:#}"),
    }
}

#[tokio::test]
async fn a_broken_policy_file_stops_the_service_naming_the_rule() {
    let err = open_error("policy.json", r#"{"identity:list_projects": "role:reader and ("}"#).await;
    assert!(err.contains("identity:list_projects"), "{err}");
    assert!(err.contains("policy"), "{err}");

    let err = open_error("policy.yaml", "\"identity:get_region\": \"role:admin or\"\n").await;
    assert!(err.contains("identity:get_region"), "{err}");

    let err = open_error("policy.json", r#"{"identity:get_region": "rule:identity:get_region"}"#).await;
    assert!(err.contains("identity:get_region") && err.contains("cycle"), "{err}");

    // Not the subset of YAML policy files use: the line is named.
    let err = open_error("policy.yaml", "\"identity:get_region\":\n  - role:admin\n").await;
    assert!(err.contains("policy.yaml:"), "{err}");

    let dir = TempDir::new();
    let mut config = config_in(dir.path());
    config.identity.policy_file = dir.path().join("missing.yaml").display().to_string();
    let err = format!("{:#}", Identity::open(config).await.err().expect("a missing policy file is an error"));
    assert!(err.contains("missing.yaml"), "{err}");

    // A valid file opens.
    let dir = TempDir::new();
    let mut config = config_in(dir.path());
    let path = dir.path().join("ok.json");
    std::fs::write(&path, json!({"identity:get_region": "role:admin"}).to_string()).unwrap();
    config.identity.policy_file = path.display().to_string();
    Identity::open(config).await.expect("a valid policy file");
}
