//! What every response has: a request id, and keystone's error body on any error.

mod common;

use common::*;
use serde_json::{json, Value};

#[track_caller]
fn assert_error_body(r: &Resp, code: u16, title: &str) {
    assert_eq!(r.status, code, "{} {}: {}", r.method, r.path, r.text);
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/json"),
        "{} {}: {:?}",
        r.method,
        r.path,
        r.headers
    );
    let e = r.body["error"]
        .as_object()
        .unwrap_or_else(|| panic!("{} {}: not an error body: {}", r.method, r.path, r.text));
    assert_eq!(e.len(), 3, "code, message and title only: {}", r.text);
    assert_eq!(e["code"], code, "{}", r.text);
    assert_eq!(e["title"], title, "{}", r.text);
    assert!(!e["message"].as_str().expect("a message").is_empty(), "{}", r.text);
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let cloud = Cloud::start().await;
    let admin = cloud.admin_token().await;
    let responses = vec![
        cloud.get("/").send().await,
        cloud.get("/v3").send().await,
        cloud.get("/v3/projects").token(&admin).send().await,
        cloud.post("/v3/auth/tokens").json(auth_body("admin", "nope", Value::Null)).send().await,
        cloud.get("/v3/projects").send().await,
        cloud.get("/v3/projects").token("garbage").send().await,
        cloud.get("/v3/projects/nope").token(&admin).send().await,
        cloud.get("/v3/no/such/path").send().await,
        cloud.request("PUT", "/v3/auth/tokens").send().await,
        cloud.post("/v3/projects").token(&admin).raw(b"{not json".to_vec(), "application/json").send().await,
        cloud.delete("/v3/auth/tokens").token(&admin).header("x-subject-token", &admin).send().await,
    ];
    let statuses: Vec<u16> = responses.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [300, 200, 200, 401, 401, 401, 404, 404, 405, 400, 204]);
    let mut seen = std::collections::HashSet::new();
    for r in &responses {
        let id = r
            .header("x-openstack-request-id")
            .unwrap_or_else(|| panic!("{} {}: no request id", r.method, r.path));
        assert!(id.starts_with("req-") && id.len() > 20, "{id}");
        assert!(seen.insert(id.clone()), "request ids are unique: {id}");
    }
}

#[tokio::test]
async fn errors_have_keystones_body_whatever_produced_them() {
    let cloud = Cloud::start().await;
    let admin = cloud.admin_token().await;

    // From the handlers.
    let r = cloud.get("/v3/users/nope").token(&admin).send().await;
    assert_error_body(&r, 404, "Not Found");
    assert_eq!(r.error_message(), "Could not find user: nope.");
    assert_error_body(&cloud.get("/v3/users").send().await, 401, "Unauthorized");
    let (user, project) = cloud.member_of_new_project(&admin, "wes", "member").await;
    let member = cloud.token(&user, "wes-pw", project_scope(&project)).await;
    assert_error_body(&cloud.get("/v3/users").token(&member).send().await, 403, "Forbidden");
    let r = cloud
        .post("/v3/projects")
        .token(&admin)
        .json(json!({"project": {"name": "wes-project"}}))
        .send()
        .await;
    assert_error_body(&r, 409, "Conflict");
    // From the JSON extractor.
    let r =
        cloud.post("/v3/projects").token(&admin).raw(b"{not json".to_vec(), "application/json").send().await;
    assert_error_body(&r, 400, "Bad Request");
    let r = cloud.post("/v3/projects").token(&admin).json(json!(["a list"])).send().await;
    assert_error_body(&r, 400, "Bad Request");
    // From the router: unknown paths and wrong methods.
    assert_error_body(&cloud.get("/v3/nothing-here").send().await, 404, "Not Found");
    let r = cloud.request("PUT", "/v3/projects").token(&admin).json(json!({})).send().await;
    assert_error_body(&r, 405, "Method Not Allowed");
    let r = cloud.request("PATCH", "/v3/auth/tokens").send().await;
    assert_error_body(&r, 405, "Method Not Allowed");
    assert!(r.header("allow").is_some_and(|a| a.contains("GET") && a.contains("POST")), "{:?}", r.headers);
    // From the body limit.
    let big = vec![b' '; 2 * 1024 * 1024];
    let r = cloud.post("/v3/projects").token(&admin).raw(big, "application/json").send().await;
    assert_error_body(&r, 413, "Payload Too Large");
}

#[tokio::test]
async fn a_missing_subject_token_is_a_bad_request() {
    let cloud = Cloud::start().await;
    let admin = cloud.admin_token().await;
    let r = cloud.get("/v3/auth/tokens").token(&admin).send().await;
    assert_error_body(&r, 400, "Bad Request");
    assert!(r.error_message().contains("X-Subject-Token"), "{}", r.text);
    let r = cloud.get("/v3/auth/tokens").token(&admin).header("x-subject-token", "not-a-token").send().await;
    assert_error_body(&r, 404, "Not Found");
}
