//! Bulk delete over HTTP (`POST /v1/<account>?bulk-delete`): objects and containers, the
//! JSON and text answers, names not found, non-empty containers and refused callers.

mod common;

use common::*;
use serde_json::{json, Value};

async fn setup(s: &Server) {
    for c in ["a", "b", "empty"] {
        assert_eq!(s.req("PUT", &s.url(ACCOUNT_A, c), Some(ALICE)).send().await.unwrap().status(), 201);
    }
    for o in ["a/x", "a/y z", "a/dir/ü", "b/keep"] {
        let r = s.req("PUT", &s.url(ACCOUNT_A, o), Some(ALICE)).body("data").send().await.unwrap();
        assert_eq!(r.status(), 201, "{o}");
    }
}

async fn bulk(s: &Server, token: &str, accept: Option<&str>, body: String) -> reqwest::Response {
    let mut r = s
        .req("POST", &format!("{}?bulk-delete", s.url(ACCOUNT_A, "")), Some(token))
        .header("content-type", "text/plain")
        .header("content-length", body.len());
    if let Some(accept) = accept {
        r = r.header("accept", accept);
    }
    r.body(body).send().await.unwrap()
}

async fn exists(s: &Server, path: &str) -> bool {
    let status = s.req("HEAD", &s.url(ACCOUNT_A, path), Some(ALICE)).send().await.unwrap().status();
    status.is_success()
}

#[tokio::test]
async fn bulk_delete_json() {
    let s = Server::start("bulk-json").await;
    setup(&s).await;
    let body = "/a/x\n/a/y%20z\n/a/dir/%C3%BC\n/a/missing\n/b\n/empty\n\n".to_string();
    let r = bulk(&s, ALICE, Some("application/json"), body).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    let report: Value = r.json().await.unwrap();
    assert_eq!(report["Number Deleted"], 4, "{report}");
    assert_eq!(report["Number Not Found"], 1);
    assert_eq!(report["Response Status"], "400 Bad Request");
    assert_eq!(report["Response Body"], "");
    assert_eq!(report["Errors"], json!([["/b", "409 Conflict"]]));
    for gone in ["a/x", "a/y%20z", "a/dir/%C3%BC", "empty"] {
        assert!(!exists(&s, gone).await, "{gone}");
    }
    assert!(exists(&s, "b/keep").await);
    assert!(exists(&s, "b").await, "a container with objects stays");

    // All good: 200 OK; the container emptied above can go now.
    let r = bulk(&s, ALICE, Some("application/json"), "/b/keep\n/b\n/a\n".into()).await;
    let report: Value = r.json().await.unwrap();
    assert_eq!(report["Response Status"], "200 OK", "{report}");
    assert_eq!(report["Number Deleted"], 3);
    assert_eq!(report["Errors"], json!([]));
    let acct = s.req("HEAD", &s.url(ACCOUNT_A, ""), Some(ALICE)).send().await.unwrap();
    assert_eq!(acct.headers()["x-account-container-count"], "0");
    s.stop(true).await;
}

#[tokio::test]
async fn bulk_delete_text_and_refusals() {
    let s = Server::start("bulk-text").await;
    setup(&s).await;
    let r = bulk(&s, ALICE, None, "/a/x\n/a/nope\n/b\n".into()).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    assert_eq!(
        r.text().await.unwrap(),
        "Number Deleted: 1\nNumber Not Found: 1\nResponse Body: \nResponse Status: 400 Bad Request\n\
         Errors:\n/b, 409 Conflict\n"
    );

    // Another project's member deletes nothing here; each name is refused.
    let r = bulk(&s, BOB, Some("application/json"), "/a/y%20z\n/b\n".into()).await;
    let report: Value = r.json().await.unwrap();
    assert_eq!(report["Number Deleted"], 0, "{report}");
    assert_eq!(report["Errors"], json!([["/a/y%20z", "403 Forbidden"], ["/b", "403 Forbidden"]]));
    assert!(exists(&s, "a/y%20z").await);
    // … unless a container's write ACL lets them delete its objects.
    s.req("POST", &s.url(ACCOUNT_A, "a"), Some(ALICE))
        .header("x-container-write", "pb:bob")
        .send()
        .await
        .unwrap();
    let r = bulk(&s, BOB, Some("application/json"), "/a/y%20z\n".into()).await;
    let report: Value = r.json().await.unwrap();
    assert_eq!(report["Number Deleted"], 1, "{report}");
    assert!(!exists(&s, "a/y%20z").await);
    // Without a token: 401 for each name.
    let r = s
        .req("POST", &format!("{}?bulk-delete", s.url(ACCOUNT_A, "")), None)
        .header("accept", "application/json")
        .header("content-length", "5")
        .body("/b/k\n")
        .send()
        .await
        .unwrap();
    let report: Value = r.json().await.unwrap();
    assert_eq!(report["Errors"], json!([["/b/k", "401 Unauthorized"]]));

    // Nothing to delete, too many names, a body that is not a list of names.
    let r = bulk(&s, ALICE, Some("application/json"), "\n".into()).await;
    let report: Value = r.json().await.unwrap();
    assert_eq!(report["Response Status"], "400 Bad Request");
    assert_eq!(report["Response Body"], "Invalid bulk delete.");
    let many: String = (0..10_001).map(|i| format!("/a/o{i}\n")).collect();
    let r = bulk(&s, ALICE, Some("application/json"), many).await;
    let report: Value = r.json().await.unwrap();
    assert_eq!(report["Response Status"], "413 Payload Too Large");
    assert_eq!(report["Number Deleted"], 0);
    let r = s
        .req("POST", &format!("{}?bulk-delete", s.url(ACCOUNT_A, "")), Some(ALICE))
        .header("content-type", "application/json")
        .header("accept", "application/json")
        .body("[\"/b/keep\"]")
        .send()
        .await
        .unwrap();
    let report: Value = r.json().await.unwrap();
    assert_eq!(report["Response Status"], "406 Not Acceptable");
    assert!(exists(&s, "b/keep").await);
    s.stop(true).await;
}
