//! Tokens over HTTP: expiry and `allow_expired`, rescoping, domain- and system-scoped tokens,
//! what a token may reach (`/v3/auth/*`) and `nocatalog`.

mod common;

use std::time::Duration;

use chrono::{DateTime, Utc};
use common::*;
use serde_json::{json, Value};

fn time(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap_or_else(|| panic!("not a time: {v}")))
        .expect("an RFC 3339 time")
        .with_timezone(&Utc)
}

fn token_auth(token: &str, scope: Value) -> Value {
    let mut auth = json!({"identity": {"methods": ["token"], "token": {"id": token}}});
    if !scope.is_null() {
        auth["scope"] = scope;
    }
    json!({ "auth": auth })
}

#[tokio::test]
async fn expired_tokens_are_refused_but_services_may_validate_them_within_the_window() {
    let cloud = Cloud::start_with(|c| {
        c.identity.token_expiration = 2;
        c.identity.allow_expired_window = 3;
    })
    .await;
    let admin = cloud.admin_token().await;
    let (alice, project) = cloud.member_of_new_project(&admin, "alice", "member").await;
    let (bob, _) = cloud.member_of_new_project(&admin, "bob", "member").await;
    // A service user: the service role on the service project, as deployments set them up.
    let service_project =
        ids(&cloud.get("/v3/projects?name=service").token(&admin).send().await.body, "projects")[0].clone();
    let nova = cloud.create_user(&admin, "nova", "nova-pw").await;
    let service_role = cloud.role_id(&admin, "service").await;
    cloud.grant(&admin, "projects", &service_project, &nova, &service_role).await;

    let before = Utc::now();
    let started = std::time::Instant::now();
    let token = cloud.token(&alice, "alice-pw", project_scope(&project)).await;
    let after = Utc::now();
    let shown = cloud.validate(&admin, &token).await.expect(200);
    let expires = time(&shown.body["token"]["expires_at"]);
    let two = chrono::Duration::seconds(2);
    let tick = chrono::Duration::milliseconds(1);
    assert!(
        expires >= before + two - tick && expires <= after + two + tick,
        "token_expiration = 2 s: {expires}"
    );
    cloud.get("/v3/auth/projects").token(&token).send().await.expect(200);

    // While it is valid, only the subject, admins, system readers and services may validate it.
    let bob_token = cloud.token(&bob, "bob-pw", Value::Null).await;
    let denied = cloud.validate(&bob_token, &token).await.expect(403);
    assert!(denied.error_message().contains("identity:validate_token"), "{}", denied.text);
    cloud.validate(&bob_token, &bob_token).await.expect(200);

    tokio::time::sleep(Duration::from_millis(2600).saturating_sub(started.elapsed())).await;

    let refused = cloud.get("/v3/auth/projects").token(&token).send().await.expect(401);
    assert_eq!(refused.body["error"]["code"], 401);
    let admin = cloud.admin_token().await;
    let gone = cloud.validate(&admin, &token).await.expect(404);
    assert!(gone.error_message().contains("expired"), "{}", gone.text);

    let shown_late = late(&cloud, &admin, &token).await.expect(200);
    assert_eq!(shown_late.body["token"]["user"]["id"], alice.as_str());
    assert_eq!(shown_late.body["token"]["project"]["id"], project.as_str());
    assert_eq!(shown_late.body["token"]["expires_at"], shown.body["token"]["expires_at"]);
    assert_eq!(shown_late.subject_token(), token);
    // A service user may; the token's own user may; another user may not.
    let nova_token = cloud.token(&nova, "nova-pw", project_scope(&service_project)).await;
    late(&cloud, &nova_token, &token).await.expect(200);
    late(&cloud, &cloud.token(&alice, "alice-pw", Value::Null).await, &token).await.expect(200);
    let bob_token = cloud.token(&bob, "bob-pw", project_scope_of(&cloud, &admin, &bob).await).await;
    let bob_late = late(&cloud, &bob_token, &token).await.expect(403);
    assert_eq!(bob_late.body["error"]["title"], "Forbidden");
    // allow_expired is for validation only: the expired token still authenticates nothing.
    cloud.get("/v3/auth/projects?allow_expired=1").token(&token).send().await.expect(401);

    // Past expiry + allow_expired_window (2 s + 3 s) even a service gets 404.
    tokio::time::sleep(Duration::from_millis(5600).saturating_sub(started.elapsed())).await;
    let admin = cloud.admin_token().await;
    late(&cloud, &admin, &token).await.expect(404);
}

/// `GET /v3/auth/tokens?allow_expired=1` of `token` as `caller`.
async fn late(cloud: &Cloud, caller: &str, token: &str) -> Resp {
    cloud.get("/v3/auth/tokens?allow_expired=1").token(caller).header("x-subject-token", token).send().await
}

/// The one project the user has a role on.
async fn project_scope_of(cloud: &Cloud, admin: &str, user: &str) -> Value {
    let r = cloud.get(&format!("/v3/users/{user}/projects")).token(admin).send().await.expect(200);
    project_scope(&ids(&r.body, "projects")[0])
}

#[tokio::test]
async fn an_unscoped_token_rescopes_to_a_project_keeping_expiry_and_audit_chain() {
    let cloud = Cloud::start().await;
    let admin = cloud.admin_token().await;
    let (alice, project) = cloud.member_of_new_project(&admin, "alice", "member").await;
    let elsewhere = cloud.create_project(&admin, "elsewhere").await;

    // No scope and no default project: unscoped, without roles or catalog.
    let unscoped = cloud.password_auth(&alice, "alice-pw", Value::Null).await.expect(201);
    let t = &unscoped.body["token"];
    assert_eq!(t["methods"], json!(["password"]));
    for absent in ["project", "domain", "system", "roles", "catalog"] {
        assert!(t.get(absent).is_none(), "an unscoped token has no {absent}: {t}");
    }
    let audit = t["audit_ids"].as_array().expect("audit_ids").clone();
    assert_eq!(audit.len(), 1);
    let token = unscoped.subject_token();

    // Wait so that a rescoped token with a new lifetime would show a later expiry.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = cloud.post("/v3/auth/tokens").json(token_auth(&token, project_scope(&project))).send().await;
    let rescoped = r.expect(201);
    let rt = &rescoped.body["token"];
    assert_eq!(rt["project"]["id"], project.as_str());
    assert_eq!(rt["user"]["id"], alice.as_str());
    assert_eq!(role_names(&rescoped.body), ["member", "reader"]);
    assert_eq!(rt["expires_at"], t["expires_at"], "a rescoped token keeps the original expiry");
    let methods: Vec<&str> = rt["methods"].as_array().unwrap().iter().map(|m| m.as_str().unwrap()).collect();
    assert!(methods.contains(&"token") && methods.contains(&"password"), "{methods:?}");
    let raudit = rt["audit_ids"].as_array().expect("audit_ids");
    assert_eq!(raudit.len(), 2, "{raudit:?}");
    assert_eq!(raudit[1], audit[0], "the original audit id comes second");
    assert_ne!(raudit[0], audit[0]);
    assert!(rt["catalog"].is_array(), "a project token carries the catalog");

    // What validation shows is what was issued.
    let shown = cloud.validate(&admin, &rescoped.subject_token()).await.expect(200);
    assert_eq!(shown.body["token"]["audit_ids"], rt["audit_ids"].clone());
    assert_eq!(shown.body["token"]["expires_at"], t["expires_at"]);

    // No role there, no token there.
    let r = cloud.post("/v3/auth/tokens").json(token_auth(&token, project_scope(&elsewhere))).send().await;
    assert_eq!(r.expect(401).body["error"]["code"], 401);
    // Rescoping a revoked token fails.
    cloud.delete("/v3/auth/tokens").token(&admin).header("x-subject-token", &token).send().await.expect(204);
    let r = cloud.post("/v3/auth/tokens").json(token_auth(&token, project_scope(&project))).send().await;
    r.expect(401);
}

#[tokio::test]
async fn the_default_project_is_the_default_scope_unless_unscoped_is_asked() {
    let cloud = Cloud::start().await;
    let admin = cloud.admin_token().await;
    let project = cloud.create_project(&admin, "home").await;
    let carol = cloud
        .create_user_with(&admin, json!({"name": "carol", "password": "pw", "default_project_id": project}))
        .await;
    let member = cloud.role_id(&admin, "member").await;

    // Without a role on the default project, the token is unscoped rather than refused.
    let r = cloud.password_auth(&carol, "pw", Value::Null).await.expect(201);
    assert!(r.body["token"].get("project").is_none(), "{}", r.text);

    cloud.grant(&admin, "projects", &project, &carol, &member).await;
    let r = cloud.password_auth(&carol, "pw", Value::Null).await.expect(201);
    assert_eq!(r.body["token"]["project"]["id"], project.as_str());
    assert_eq!(r.body["token"]["project"]["domain"], json!({"id": "default", "name": "Default"}));

    let r = cloud.password_auth(&carol, "pw", json!("unscoped")).await.expect(201);
    assert!(r.body["token"].get("project").is_none(), "{}", r.text);
    assert!(r.body["token"].get("roles").is_none(), "{}", r.text);
}

#[tokio::test]
async fn domain_and_system_scoped_tokens_carry_their_scope_and_roles() {
    let cloud = Cloud::start().await;
    let admin = cloud.admin_token().await;
    let admin_id = cloud.validate(&admin, &admin).await.expect(200).body["token"]["user"]["id"]
        .as_str()
        .unwrap()
        .to_string();

    // The bootstrap admin holds admin on the system; implied roles come along.
    let sys = cloud.password_auth(&admin_id, ADMIN_PASSWORD, system_scope()).await.expect(201);
    assert_eq!(sys.body["token"]["system"], json!({"all": true}));
    assert_eq!(role_names(&sys.body), ["admin", "member", "reader"]);
    assert!(sys.body["token"].get("project").is_none() && sys.body["token"].get("domain").is_none());
    assert!(sys.body["token"]["catalog"].is_array());
    let shown = cloud.validate(&admin, &sys.subject_token()).await.expect(200);
    assert_eq!(shown.body["token"]["system"], json!({"all": true}));

    let domain = cloud.create_domain(&admin, "acme").await;
    let dave = cloud.create_user(&admin, "dave", "dave-pw").await;
    let member = cloud.role_id(&admin, "member").await;
    cloud.grant(&admin, "domains", &domain, &dave, &member).await;

    let by_id = cloud.password_auth(&dave, "dave-pw", domain_scope(&domain)).await.expect(201);
    assert_eq!(by_id.body["token"]["domain"], json!({"id": domain, "name": "acme"}));
    assert_eq!(role_names(&by_id.body), ["member", "reader"]);
    assert!(by_id.body["token"].get("project").is_none());
    let by_name =
        cloud.password_auth(&dave, "dave-pw", json!({"domain": {"name": "acme"}})).await.expect(201);
    assert_eq!(by_name.body["token"]["domain"]["id"], domain.as_str());
    let shown = cloud.validate(&admin, &by_id.subject_token()).await.expect(200);
    assert_eq!(shown.body["token"]["domain"]["id"], domain.as_str());

    // No role on the system or on another domain: no token there.
    let r = cloud.password_auth(&dave, "dave-pw", system_scope()).await.expect(401);
    assert_eq!(r.body["error"]["title"], "Unauthorized");
    cloud.password_auth(&dave, "dave-pw", domain_scope("default")).await.expect(401);
    cloud.password_auth(&dave, "dave-pw", domain_scope("no-such-domain")).await.expect(401);
}

#[tokio::test]
async fn auth_endpoints_list_what_the_caller_can_scope_to() {
    let cloud = Cloud::start().await;
    let admin = cloud.admin_token().await;
    let (erin, project) = cloud.member_of_new_project(&admin, "erin", "member").await;
    let disabled = cloud.create_project(&admin, "disabled-one").await;
    let member = cloud.role_id(&admin, "member").await;
    cloud.grant(&admin, "projects", &disabled, &erin, &member).await;
    cloud
        .patch(&format!("/v3/projects/{disabled}"))
        .token(&admin)
        .json(json!({"project": {"enabled": false}}))
        .send()
        .await
        .expect(200);
    let domain = cloud.create_domain(&admin, "erins-domain").await;
    cloud.grant(&admin, "domains", &domain, &erin, &member).await;

    let unscoped = cloud.token(&erin, "erin-pw", Value::Null).await;
    let r = cloud.get("/v3/auth/projects").token(&unscoped).send().await.expect(200);
    assert_eq!(ids(&r.body, "projects"), vec![project.clone()], "enabled projects with a role only");
    assert_eq!(r.body["projects"][0]["name"], "erin-project");
    let r = cloud.get("/v3/auth/domains").token(&unscoped).send().await.expect(200);
    assert_eq!(ids(&r.body, "domains"), vec![domain.clone()]);
    let r = cloud.get("/v3/auth/system").token(&unscoped).send().await.expect(200);
    assert_eq!(r.body["system"], json!([]));
    let r = cloud.get("/v3/auth/system").token(&admin).send().await.expect(200);
    assert_eq!(r.body["system"], json!([{"all": true}]));

    // The catalog is for scoped tokens only.
    let r = cloud.get("/v3/auth/catalog").token(&unscoped).send().await.expect(403);
    assert_eq!(r.body["error"]["code"], 403);
    let scoped = cloud.token(&erin, "erin-pw", project_scope(&project)).await;
    let svc = cloud
        .post("/v3/services")
        .token(&admin)
        .json(json!({"service": {"type": "compute", "name": "nova"}}))
        .send()
        .await
        .expect(201);
    let svc_id = id_of(&svc.body["service"]);
    cloud
        .post("/v3/endpoints")
        .token(&admin)
        .json(json!({"endpoint": {"service_id": svc_id, "interface": "public",
                                  "url": "http://compute.example:8774/v2.1", "region_id": "RegionOne"}}))
        .send()
        .await
        .expect(201);
    let r = cloud.get("/v3/auth/catalog").token(&scoped).send().await.expect(200);
    let catalog = r.body["catalog"].as_array().expect("catalog");
    let compute = catalog.iter().find(|s| s["type"] == "compute").expect("compute in the catalog");
    assert_eq!(compute["name"], "nova");
    assert_eq!(compute["endpoints"][0]["url"], "http://compute.example:8774/v2.1");
    assert_eq!(compute["endpoints"][0]["interface"], "public");
    assert_eq!(compute["endpoints"][0]["region_id"], "RegionOne");
    let domain_token = cloud.token(&erin, "erin-pw", domain_scope(&domain)).await;
    cloud.get("/v3/auth/catalog").token(&domain_token).send().await.expect(200);
}

#[tokio::test]
async fn nocatalog_leaves_the_catalog_out() {
    let cloud = Cloud::start().await;
    let admin = cloud.admin_token().await;
    let (frank, project) = cloud.member_of_new_project(&admin, "frank", "member").await;
    let body = auth_body(&frank, "frank-pw", project_scope(&project));

    let full = cloud.post("/v3/auth/tokens").json(body.clone()).send().await.expect(201);
    assert!(full.body["token"]["catalog"].is_array());
    let bare = cloud.post("/v3/auth/tokens?nocatalog").json(body.clone()).send().await.expect(201);
    assert!(bare.body["token"].get("catalog").is_none(), "{}", bare.text);
    assert_eq!(bare.body["token"]["project"]["id"], project.as_str(), "only the catalog is left out");
    assert_eq!(role_names(&bare.body), ["member", "reader"]);
    let bare = cloud.post("/v3/auth/tokens?nocatalog=1").json(body).send().await.expect(201);
    assert!(bare.body["token"].get("catalog").is_none());

    let token = bare.subject_token();
    let shown = cloud.validate(&admin, &token).await.expect(200);
    assert!(shown.body["token"]["catalog"].is_array());
    let shown = cloud
        .get("/v3/auth/tokens?nocatalog")
        .token(&admin)
        .header("x-subject-token", &token)
        .send()
        .await
        .expect(200);
    assert!(shown.body["token"].get("catalog").is_none(), "{}", shown.text);
    assert_eq!(shown.body["token"]["project"]["id"], project.as_str());
}
