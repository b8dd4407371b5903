//! The swift API over HTTP: accounts, containers, objects, listings, conditionals, ranges,
//! ACLs, quotas, versioning, expiry, copies, and bad input that must change nothing.

mod common;

use common::*;
use serde_json::Value;

async fn put_container(s: &Server, token: &str, account: &str, name: &str) -> u16 {
    s.req("PUT", &s.url(account, name), Some(token)).send().await.unwrap().status().as_u16()
}

async fn put_object(
    s: &Server,
    token: &str,
    account: &str,
    path: &str,
    body: &'static [u8],
) -> reqwest::Response {
    s.req("PUT", &s.url(account, path), Some(token)).body(body).send().await.unwrap()
}

async fn listing(s: &Server, token: &str, account: &str, container: &str, query: &str) -> Value {
    let url = format!("{}?format=json{query}", s.url(account, container));
    let r = s.req("GET", &url, Some(token)).send().await.unwrap();
    assert_eq!(r.status(), 200, "{url}");
    r.json().await.unwrap()
}

fn names(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|e| e.get("name").or_else(|| e.get("subdir")).and_then(Value::as_str).unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn containers_objects_and_listings() {
    let s = Server::start("basic").await;
    assert_eq!(put_container(&s, ALICE, ACCOUNT_A, "photos").await, 201);
    assert_eq!(put_container(&s, ALICE, ACCOUNT_A, "photos").await, 202);
    let r = put_object(&s, ALICE, ACCOUNT_A, "photos/a/1.txt", b"hello").await;
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["etag"], "5d41402abc4b2a76b9719d911017c592");
    for p in ["photos/a/2.txt", "photos/b.txt", "photos/c/d/e"] {
        assert_eq!(put_object(&s, ALICE, ACCOUNT_A, p, b"12345678").await.status(), 201);
    }

    let r = s.req("GET", &s.url(ACCOUNT_A, "photos/a/1.txt"), Some(ALICE)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/plain");
    assert_eq!(r.headers()["content-length"], "5");
    assert_eq!(r.text().await.unwrap(), "hello");

    assert_eq!(
        names(&listing(&s, ALICE, ACCOUNT_A, "photos", "").await),
        ["a/1.txt", "a/2.txt", "b.txt", "c/d/e"]
    );
    assert_eq!(names(&listing(&s, ALICE, ACCOUNT_A, "photos", "&delimiter=/").await), ["a/", "b.txt", "c/"]);
    assert_eq!(
        names(&listing(&s, ALICE, ACCOUNT_A, "photos", "&prefix=a/&delimiter=/").await),
        ["a/1.txt", "a/2.txt"]
    );
    assert_eq!(names(&listing(&s, ALICE, ACCOUNT_A, "photos", "&marker=a/2.txt&limit=1").await), ["b.txt"]);
    assert_eq!(
        names(&listing(&s, ALICE, ACCOUNT_A, "photos", "&reverse=true&end_marker=a/2.txt").await),
        ["c/d/e", "b.txt"]
    );
    let one = &listing(&s, ALICE, ACCOUNT_A, "photos", "&limit=1").await[0];
    assert_eq!(one["bytes"], 5);
    assert_eq!(one["hash"], "5d41402abc4b2a76b9719d911017c592");
    assert!(one["last_modified"].as_str().unwrap().contains('T'));

    let text = s.req("GET", &s.url(ACCOUNT_A, "photos?delimiter=/"), Some(ALICE)).send().await.unwrap();
    assert_eq!(text.text().await.unwrap(), "a/\nb.txt\nc/\n");
    let xml = s.req("GET", &s.url(ACCOUNT_A, "photos?format=xml&limit=1"), Some(ALICE)).send().await.unwrap();
    let xml = xml.text().await.unwrap();
    assert!(xml.starts_with("<?xml") && xml.contains("<name>a/1.txt</name>"), "{xml}");

    let head = s.req("HEAD", &s.url(ACCOUNT_A, "photos"), Some(ALICE)).send().await.unwrap();
    assert_eq!(head.headers()["x-container-object-count"], "4");
    assert_eq!(head.headers()["x-container-bytes-used"], "29");
    let acct = s.req("HEAD", &s.url(ACCOUNT_A, ""), Some(ALICE)).send().await.unwrap();
    assert_eq!(acct.status(), 204);
    assert_eq!(acct.headers()["x-account-container-count"], "1");
    assert_eq!(acct.headers()["x-account-object-count"], "4");
    assert_eq!(acct.headers()["x-account-bytes-used"], "29");
    assert!(acct.headers().contains_key("x-trans-id"));

    // Deleting a container that holds objects: 409, nothing removed.
    let r = s.req("DELETE", &s.url(ACCOUNT_A, "photos"), Some(ALICE)).send().await.unwrap();
    assert_eq!(r.status(), 409);
    assert_eq!(names(&listing(&s, ALICE, ACCOUNT_A, "photos", "").await).len(), 4);
    for p in ["photos/a/1.txt", "photos/a/2.txt", "photos/b.txt", "photos/c/d/e"] {
        assert_eq!(s.req("DELETE", &s.url(ACCOUNT_A, p), Some(ALICE)).send().await.unwrap().status(), 204);
    }
    assert_eq!(
        s.req("DELETE", &s.url(ACCOUNT_A, "photos/b.txt"), Some(ALICE)).send().await.unwrap().status(),
        404
    );
    let empty = s.req("GET", &s.url(ACCOUNT_A, "photos"), Some(ALICE)).send().await.unwrap();
    assert_eq!(empty.status(), 204);
    assert_eq!(s.req("DELETE", &s.url(ACCOUNT_A, "photos"), Some(ALICE)).send().await.unwrap().status(), 204);
    assert_eq!(s.req("HEAD", &s.url(ACCOUNT_A, "photos"), Some(ALICE)).send().await.unwrap().status(), 404);
    s.stop(true).await;
}

#[tokio::test]
async fn bad_input_changes_nothing() {
    let s = Server::start("bad").await;
    put_container(&s, ALICE, ACCOUNT_A, "c").await;
    // Container name over 256 bytes.
    let long = "x".repeat(257);
    let r = s.req("PUT", &s.url(ACCOUNT_A, &long), Some(ALICE)).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("longer than 256"));
    // Object into a missing container.
    assert_eq!(put_object(&s, ALICE, ACCOUNT_A, "nope/o", b"x").await.status(), 404);
    // Wrong ETag: 422, nothing stored.
    let r = s
        .req("PUT", &s.url(ACCOUNT_A, "c/o"), Some(ALICE))
        .header("etag", "0".repeat(32))
        .body("data")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert_eq!(s.req("HEAD", &s.url(ACCOUNT_A, "c/o"), Some(ALICE)).send().await.unwrap().status(), 404);
    // Listing limit over 10,000.
    let r = s.req("GET", &s.url(ACCOUNT_A, "c?limit=10001"), Some(ALICE)).send().await.unwrap();
    assert_eq!(r.status(), 412);
    // Metadata over the limits.
    let r = s
        .req("PUT", &s.url(ACCOUNT_A, "c/m"), Some(ALICE))
        .header("x-object-meta-big", "v".repeat(257))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // Another project's token on this account: 403; no token: 401.
    assert_eq!(s.req("GET", &s.url(ACCOUNT_A, "c"), Some(BOB)).send().await.unwrap().status(), 403);
    assert_eq!(put_object(&s, BOB, ACCOUNT_A, "c/evil", b"x").await.status(), 403);
    assert_eq!(s.req("DELETE", &s.url(ACCOUNT_A, "c"), Some(BOB)).send().await.unwrap().status(), 403);
    assert_eq!(s.req("GET", &s.url(ACCOUNT_A, "c"), None).send().await.unwrap().status(), 401);
    assert_eq!(s.req("GET", &s.url(ACCOUNT_A, "c"), Some("bogus")).send().await.unwrap().status(), 401);
    // A reader reads but cannot write.
    assert_eq!(s.req("GET", &s.url(ACCOUNT_A, "c"), Some(RITA)).send().await.unwrap().status(), 204);
    assert_eq!(put_object(&s, RITA, ACCOUNT_A, "c/r", b"x").await.status(), 403);
    // An admin reaches any account.
    assert_eq!(s.req("GET", &s.url(ACCOUNT_A, "c"), Some(ADMIN)).send().await.unwrap().status(), 204);
    // Only an admin sets an account quota.
    let r = s
        .req("POST", &s.url(ACCOUNT_A, ""), Some(ALICE))
        .header("x-account-meta-quota-bytes", "10")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let acct = s.req("HEAD", &s.url(ACCOUNT_A, ""), Some(ALICE)).send().await.unwrap();
    assert_eq!(acct.headers()["x-account-object-count"], "0");
    assert!(!acct.headers().contains_key("x-account-meta-quota-bytes"));
    // Errors are swift's short HTML pages.
    let r = s.req("GET", &s.url(ACCOUNT_A, "c/missing"), Some(ALICE)).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert!(r.text().await.unwrap().contains("<h1>Not Found</h1>"));
    // Nothing in tmp, nothing listed.
    assert_eq!(std::fs::read_dir(s.data_dir.join("objects/tmp")).map(|d| d.count()).unwrap_or(0), 0);
    s.stop(true).await;
}

#[tokio::test]
async fn conditionals_and_ranges() {
    let s = Server::start("cond").await;
    put_container(&s, ALICE, ACCOUNT_A, "c").await;
    let r = put_object(&s, ALICE, ACCOUNT_A, "c/o", b"0123456789").await;
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    let last_modified = r.headers()["last-modified"].to_str().unwrap().to_string();
    let get = |h: &'static str, v: String| s.req("GET", &s.url(ACCOUNT_A, "c/o"), Some(ALICE)).header(h, v);
    assert_eq!(get("if-none-match", etag.clone()).send().await.unwrap().status(), 304);
    assert_eq!(get("if-match", "\"nope\"".into()).send().await.unwrap().status(), 412);
    assert_eq!(get("if-match", etag.clone()).send().await.unwrap().status(), 200);
    assert_eq!(get("if-modified-since", last_modified.clone()).send().await.unwrap().status(), 304);
    assert_eq!(
        get("if-unmodified-since", "Thu, 01 Jan 1970 00:00:00 GMT".into()).send().await.unwrap().status(),
        412
    );

    let r = get("range", "bytes=2-4".into()).send().await.unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.headers()["content-range"], "bytes 2-4/10");
    assert_eq!(r.text().await.unwrap(), "234");
    let r = get("range", "bytes=-3".into()).send().await.unwrap();
    assert_eq!(r.text().await.unwrap(), "789");
    let r = get("range", "bytes=0-0,8-9".into()).send().await.unwrap();
    assert_eq!(r.status(), 206);
    let ct = r.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ct.starts_with("multipart/byteranges;boundary="), "{ct}");
    let body = r.text().await.unwrap();
    assert!(body.contains("Content-Range: bytes 0-0/10\r\n\r\n0\r\n"), "{body}");
    assert!(body.contains("Content-Range: bytes 8-9/10\r\n\r\n89\r\n"), "{body}");
    let r = get("range", "bytes=20-30".into()).send().await.unwrap();
    assert_eq!(r.status(), 416);
    assert_eq!(r.headers()["content-range"], "bytes */10");
    s.stop(true).await;
}

#[tokio::test]
async fn large_bodies_stream_through_disk() {
    let s = Server::start("large").await;
    put_container(&s, ALICE, ACCOUNT_A, "c").await;
    let data: Vec<u8> = (0..5_000_000u32).map(|i| (i % 251) as u8).collect();
    let r = s.req("PUT", &s.url(ACCOUNT_A, "c/big"), Some(ALICE)).body(data.clone()).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let r = s.req("GET", &s.url(ACCOUNT_A, "c/big"), Some(ALICE)).send().await.unwrap();
    assert_eq!(r.bytes().await.unwrap().as_ref(), &data[..]);
    let r = s
        .req("GET", &s.url(ACCOUNT_A, "c/big"), Some(ALICE))
        .header("range", "bytes=4999990-")
        .send()
        .await
        .unwrap();
    assert_eq!(r.bytes().await.unwrap().as_ref(), &data[4_999_990..]);
    s.stop(true).await;
}

#[tokio::test]
async fn metadata_copy_and_post() {
    let s = Server::start("meta").await;
    put_container(&s, ALICE, ACCOUNT_A, "c").await;
    let r = s
        .req("PUT", &s.url(ACCOUNT_A, "c/src"), Some(ALICE))
        .header("x-object-meta-color", "blue")
        .header("content-type", "image/png")
        .body("pixels")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = s
        .req("COPY", &s.url(ACCOUNT_A, "c/src"), Some(ALICE))
        .header("destination", "c/dst")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = s
        .req("PUT", &s.url(ACCOUNT_A, "c/dst2"), Some(ALICE))
        .header("x-copy-from", "/c/src")
        .header("x-object-meta-size", "small")
        .header("content-length", "0")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    for name in ["dst", "dst2"] {
        let r = s.req("GET", &s.url(ACCOUNT_A, &format!("c/{name}")), Some(ALICE)).send().await.unwrap();
        assert_eq!(r.headers()["x-object-meta-color"], "blue");
        assert_eq!(r.headers()["content-type"], "image/png");
        assert_eq!(r.text().await.unwrap(), "pixels");
    }
    let r = s
        .req("POST", &s.url(ACCOUNT_A, "c/src"), Some(ALICE))
        .header("x-object-meta-shape", "round")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let r = s.req("HEAD", &s.url(ACCOUNT_A, "c/src"), Some(ALICE)).send().await.unwrap();
    assert_eq!(r.headers()["x-object-meta-shape"], "round");
    assert!(!r.headers().contains_key("x-object-meta-color"), "a POST replaces user metadata");
    assert_eq!(s.req("POST", &s.url(ACCOUNT_A, "c/none"), Some(ALICE)).send().await.unwrap().status(), 404);

    let r = s
        .req("POST", &s.url(ACCOUNT_A, "c"), Some(ALICE))
        .header("x-container-meta-owner", "alice")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = s.req("HEAD", &s.url(ACCOUNT_A, "c"), Some(ALICE)).send().await.unwrap();
    assert_eq!(r.headers()["x-container-meta-owner"], "alice");
    s.req("POST", &s.url(ACCOUNT_A, "c"), Some(ALICE))
        .header("x-remove-container-meta-owner", "x")
        .send()
        .await
        .unwrap();
    let r = s.req("HEAD", &s.url(ACCOUNT_A, "c"), Some(ALICE)).send().await.unwrap();
    assert!(!r.headers().contains_key("x-container-meta-owner"));
    s.stop(true).await;
}

#[tokio::test]
async fn acls_public_read_and_grants() {
    let s = Server::start("acl").await;
    put_container(&s, ALICE, ACCOUNT_A, "pub").await;
    put_object(&s, ALICE, ACCOUNT_A, "pub/o", b"open").await;
    assert_eq!(s.req("GET", &s.url(ACCOUNT_A, "pub/o"), None).send().await.unwrap().status(), 401);
    s.req("POST", &s.url(ACCOUNT_A, "pub"), Some(ALICE))
        .header("x-container-read", ".r:*")
        .send()
        .await
        .unwrap();
    let r = s.req("GET", &s.url(ACCOUNT_A, "pub/o"), None).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "open");
    // Listing needs .rlistings.
    assert_eq!(s.req("GET", &s.url(ACCOUNT_A, "pub"), None).send().await.unwrap().status(), 401);
    s.req("POST", &s.url(ACCOUNT_A, "pub"), Some(ALICE))
        .header("x-container-read", ".r:*,.rlistings")
        .send()
        .await
        .unwrap();
    assert_eq!(s.req("GET", &s.url(ACCOUNT_A, "pub"), None).send().await.unwrap().status(), 200);
    // Anonymous writes never pass a read ACL.
    assert_eq!(put_object(&s, "", ACCOUNT_A, "pub/x", b"x").await.status(), 401);
    // The ACL is hidden from non-owners.
    let r = s.req("HEAD", &s.url(ACCOUNT_A, "pub"), None).send().await.unwrap();
    assert!(!r.headers().contains_key("x-container-read"));

    // project:user grants.
    put_container(&s, ALICE, ACCOUNT_A, "shared").await;
    assert_eq!(put_object(&s, BOB, ACCOUNT_A, "shared/b", b"bob").await.status(), 403);
    s.req("POST", &s.url(ACCOUNT_A, "shared"), Some(ALICE))
        .header("x-container-write", "pb:bob")
        .send()
        .await
        .unwrap();
    assert_eq!(put_object(&s, BOB, ACCOUNT_A, "shared/b", b"bob").await.status(), 201);
    assert_eq!(s.req("GET", &s.url(ACCOUNT_A, "shared/b"), Some(BOB)).send().await.unwrap().status(), 403);
    s.req("POST", &s.url(ACCOUNT_A, "shared"), Some(ALICE))
        .header("x-container-read", "pb:*")
        .send()
        .await
        .unwrap();
    assert_eq!(s.req("GET", &s.url(ACCOUNT_A, "shared/b"), Some(BOB)).send().await.unwrap().status(), 200);
    // Bad ACLs are refused.
    let r = s
        .req("POST", &s.url(ACCOUNT_A, "shared"), Some(ALICE))
        .header("x-container-write", ".r:*")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    s.stop(true).await;
}

#[tokio::test]
async fn quotas() {
    let s = Server::start("quota").await;
    s.req("PUT", &s.url(ACCOUNT_A, "q"), Some(ALICE))
        .header("x-container-meta-quota-bytes", "10")
        .send()
        .await
        .unwrap();
    assert_eq!(put_object(&s, ALICE, ACCOUNT_A, "q/a", b"123456").await.status(), 201);
    let r = put_object(&s, ALICE, ACCOUNT_A, "q/b", b"123456").await;
    assert_eq!(r.status(), 413);
    assert!(r.text().await.unwrap().contains("Upload exceeds quota"));
    s.req("PUT", &s.url(ACCOUNT_A, "n"), Some(ALICE))
        .header("x-container-meta-quota-count", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(put_object(&s, ALICE, ACCOUNT_A, "n/a", b"1").await.status(), 201);
    assert_eq!(put_object(&s, ALICE, ACCOUNT_A, "n/b", b"1").await.status(), 413);

    let r = s
        .req("POST", &s.url(ACCOUNT_A, ""), Some(ADMIN))
        .header("x-account-meta-quota-bytes", "8")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    put_container(&s, ALICE, ACCOUNT_A, "free").await;
    assert_eq!(put_object(&s, ALICE, ACCOUNT_A, "free/x", b"1").await.status(), 201);
    assert_eq!(put_object(&s, ALICE, ACCOUNT_A, "free/y", b"1").await.status(), 413);
    let names = names(&listing(&s, ALICE, ACCOUNT_A, "free", "").await);
    assert_eq!(names, ["x"]);
    s.stop(true).await;
}

#[tokio::test]
async fn versioning_stack_and_history() {
    let s = Server::start("versions").await;
    put_container(&s, ALICE, ACCOUNT_A, "archive").await;
    s.req("PUT", &s.url(ACCOUNT_A, "docs"), Some(ALICE))
        .header("x-versions-location", "archive")
        .send()
        .await
        .unwrap();
    for v in [&b"v1"[..], b"v2", b"v3"] {
        s.req("PUT", &s.url(ACCOUNT_A, "docs/o"), Some(ALICE)).body(v).send().await.unwrap();
    }
    assert_eq!(listing(&s, ALICE, ACCOUNT_A, "archive", "").await.as_array().unwrap().len(), 2);
    let get = || async { s.req("GET", &s.url(ACCOUNT_A, "docs/o"), Some(ALICE)).send().await.unwrap() };
    assert_eq!(get().await.text().await.unwrap(), "v3");
    s.req("DELETE", &s.url(ACCOUNT_A, "docs/o"), Some(ALICE)).send().await.unwrap();
    assert_eq!(get().await.text().await.unwrap(), "v2", "a delete restores the previous version");
    s.req("DELETE", &s.url(ACCOUNT_A, "docs/o"), Some(ALICE)).send().await.unwrap();
    assert_eq!(get().await.text().await.unwrap(), "v1");
    s.req("DELETE", &s.url(ACCOUNT_A, "docs/o"), Some(ALICE)).send().await.unwrap();
    assert_eq!(get().await.status(), 404);

    put_container(&s, ALICE, ACCOUNT_A, "history").await;
    s.req("PUT", &s.url(ACCOUNT_A, "logs"), Some(ALICE))
        .header("x-history-location", "history")
        .send()
        .await
        .unwrap();
    s.req("PUT", &s.url(ACCOUNT_A, "logs/l"), Some(ALICE)).body("one").send().await.unwrap();
    s.req("PUT", &s.url(ACCOUNT_A, "logs/l"), Some(ALICE)).body("two").send().await.unwrap();
    s.req("DELETE", &s.url(ACCOUNT_A, "logs/l"), Some(ALICE)).send().await.unwrap();
    assert_eq!(s.req("GET", &s.url(ACCOUNT_A, "logs/l"), Some(ALICE)).send().await.unwrap().status(), 404);
    let hist = listing(&s, ALICE, ACCOUNT_A, "history", "").await;
    assert_eq!(hist.as_array().unwrap().len(), 2, "history keeps both versions: {hist}");
    assert!(names(&hist).iter().all(|n| n.starts_with("001l/")));
    s.stop(true).await;
}

#[tokio::test]
async fn expiring_objects() {
    let s = Server::start("expiry").await;
    put_container(&s, ALICE, ACCOUNT_A, "c").await;
    let r = s
        .req("PUT", &s.url(ACCOUNT_A, "c/t"), Some(ALICE))
        .header("x-delete-after", "2")
        .body("tmp")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = s
        .req("PUT", &s.url(ACCOUNT_A, "c/p"), Some(ALICE))
        .header("x-delete-at", "1000")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "X-Delete-At in the past");
    let head = s.req("HEAD", &s.url(ACCOUNT_A, "c/t"), Some(ALICE)).send().await.unwrap();
    assert!(head.headers().contains_key("x-delete-at"));
    tokio::time::sleep(std::time::Duration::from_millis(3100)).await;
    assert_eq!(s.req("GET", &s.url(ACCOUNT_A, "c/t"), Some(ALICE)).send().await.unwrap().status(), 404);
    assert_eq!(s.service.expire_due().await.unwrap(), 1);
    assert_eq!(listing(&s, ALICE, ACCOUNT_A, "c", "").await.as_array().unwrap().len(), 0);
    s.stop(true).await;
}

#[tokio::test]
async fn info_announces_capabilities() {
    let s = Server::start("info").await;
    let info: Value = s.http.get(format!("{}/info", s.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(info["swift"]["max_file_size"], 5_368_709_122u64);
    assert_eq!(info["swift"]["container_listing_limit"], 10_000);
    assert!(info["slo"].is_object() && info["tempurl"].is_object() && info["bulk_delete"].is_object());
    s.stop(true).await;
}
