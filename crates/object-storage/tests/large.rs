//! Large objects over HTTP: dynamic ones (`X-Object-Manifest`) and static ones
//! (`?multipart-manifest=put|get|delete`), whole, ranged, copied, and refused when a manifest
//! does not match its segments.

mod common;

use common::*;
use md5::{Digest, Md5};
use serde_json::{json, Value};

fn md5_hex(data: &[u8]) -> String {
    Md5::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

async fn put_container(s: &Server, name: &str) {
    let r = s.req("PUT", &s.url(ACCOUNT_A, name), Some(ALICE)).send().await.unwrap();
    assert!(r.status().is_success(), "{name}: {}", r.status());
}

/// PUTs an object, returns its ETag.
async fn put(s: &Server, path: &str, data: Vec<u8>) -> String {
    // reqwest sends no Content-Length for an empty body.
    let r = s
        .req("PUT", &s.url(ACCOUNT_A, path), Some(ALICE))
        .header("content-length", data.len())
        .body(data)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{path}");
    r.headers()["etag"].to_str().unwrap().to_string()
}

async fn get(s: &Server, path: &str, range: Option<&str>) -> reqwest::Response {
    let mut r = s.req("GET", &s.url(ACCOUNT_A, path), Some(ALICE));
    if let Some(range) = range {
        r = r.header("range", range);
    }
    r.send().await.unwrap()
}

async fn status(s: &Server, method: &str, path: &str) -> u16 {
    s.req(method, &s.url(ACCOUNT_A, path), Some(ALICE)).send().await.unwrap().status().as_u16()
}

/// Three segments of different sizes: one read from a file (over 64 KiB), two small.
fn segment_data() -> Vec<Vec<u8>> {
    vec![
        (0..100_000u32).map(|i| (i % 251) as u8).collect(),
        b"the middle segment".to_vec(),
        (0..5_000u32).map(|i| (i % 13) as u8 + b'a').collect(),
    ]
}

#[tokio::test]
async fn dynamic_large_objects() {
    let s = Server::start("dlo").await;
    put_container(&s, "c").await;
    put_container(&s, "c_segments").await;
    let parts = segment_data();
    let mut etags = String::new();
    for (i, data) in parts.iter().enumerate() {
        etags.push_str(&put(&s, &format!("c_segments/big/{i:08}"), data.clone()).await);
    }
    // Outside the prefix: not a segment.
    put(&s, "c_segments/bigger", b"not mine".to_vec()).await;
    let whole: Vec<u8> = parts.concat();

    let r = s
        .req("PUT", &s.url(ACCOUNT_A, "c/big"), Some(ALICE))
        .header("x-object-manifest", "c_segments/big/")
        .header("content-type", "application/x-big")
        .header("content-length", "0")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);

    let r = get(&s, "c/big", None).await;
    assert_eq!(r.status(), 200);
    let expected_etag = format!("\"{}\"", md5_hex(etags.as_bytes()));
    assert_eq!(r.headers()["etag"], expected_etag.as_str());
    assert_eq!(r.headers()["content-length"], whole.len().to_string().as_str());
    assert_eq!(r.headers()["content-type"], "application/x-big");
    assert_eq!(r.headers()["x-object-manifest"], "c_segments/big/");
    assert_eq!(r.bytes().await.unwrap().as_ref(), &whole[..]);

    let head = s.req("HEAD", &s.url(ACCOUNT_A, "c/big"), Some(ALICE)).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["etag"], expected_etag.as_str());
    assert_eq!(head.headers()["content-length"], whole.len().to_string().as_str());

    // A range across the three segments, and one inside the last.
    let r = get(&s, "c/big", Some("bytes=99990-100020")).await;
    assert_eq!(r.status(), 206);
    let total = whole.len();
    assert_eq!(r.headers()["content-range"], format!("bytes 99990-100020/{total}").as_str());
    assert_eq!(r.bytes().await.unwrap().as_ref(), &whole[99_990..=100_020]);
    let r = get(&s, "c/big", Some("bytes=-10")).await;
    assert_eq!(r.bytes().await.unwrap().as_ref(), &whole[total - 10..]);
    // Conditionals use the large object's ETag.
    let r = s
        .req("GET", &s.url(ACCOUNT_A, "c/big"), Some(ALICE))
        .header("if-none-match", expected_etag.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);

    // The manifest itself: its own (empty) data.
    let r = get(&s, "c/big?multipart-manifest=get", None).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["etag"], md5_hex(b"").as_str());
    assert!(r.bytes().await.unwrap().is_empty());

    // Segments are whatever the prefix lists now.
    put(&s, "c_segments/big/00000003", b"!".to_vec()).await;
    let r = get(&s, "c/big", None).await;
    assert_eq!(r.headers()["content-length"], (total + 1).to_string().as_str());
    assert_eq!(r.bytes().await.unwrap().last(), Some(&b'!'));

    // A copy is an ordinary object with the whole data.
    let r = s
        .req("COPY", &s.url(ACCOUNT_A, "c/big"), Some(ALICE))
        .header("destination", "c/flat")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = get(&s, "c/flat", None).await;
    assert!(!r.headers().contains_key("x-object-manifest"));
    let mut flat = whole.clone();
    flat.push(b'!');
    assert_eq!(r.headers()["etag"], md5_hex(&flat).as_str());
    assert_eq!(r.bytes().await.unwrap().as_ref(), &flat[..]);

    // Malformed manifest values are refused.
    for bad in ["no-slash", "c_segments/", "/c_segments/big", "c_segments/big?x=1"] {
        let r = s
            .req("PUT", &s.url(ACCOUNT_A, "c/bad"), Some(ALICE))
            .header("x-object-manifest", bad)
            .header("content-length", "0")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{bad}");
        assert!(r.text().await.unwrap().contains("X-Object-Manifest must be in the format container/prefix"));
    }
    assert_eq!(status(&s, "HEAD", "c/bad").await, 404);

    // Another project may read the manifest's container, not the segments'.
    s.req("POST", &s.url(ACCOUNT_A, "c"), Some(ALICE))
        .header("x-container-read", "pb:*")
        .send()
        .await
        .unwrap();
    let r = s.req("GET", &s.url(ACCOUNT_A, "c/big"), Some(BOB)).send().await.unwrap();
    assert_eq!(r.status(), 403);
    s.req("POST", &s.url(ACCOUNT_A, "c_segments"), Some(ALICE))
        .header("x-container-read", "pb:*")
        .send()
        .await
        .unwrap();
    let r = s.req("GET", &s.url(ACCOUNT_A, "c/big"), Some(BOB)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().len(), total + 1);
    s.stop(true).await;
}

/// Uploads the three segments into `segs/s0..s2`; returns their data and ETags.
async fn upload_segments(s: &Server) -> (Vec<Vec<u8>>, Vec<String>) {
    put_container(s, "c").await;
    put_container(s, "segs").await;
    let parts = segment_data();
    let mut etags = vec![];
    for (i, data) in parts.iter().enumerate() {
        etags.push(put(s, &format!("segs/s{i}"), data.clone()).await);
    }
    (parts, etags)
}

fn manifest(parts: &[Vec<u8>], etags: &[String]) -> Value {
    Value::Array(
        (0..parts.len())
            .map(|i| json!({"path": format!("/segs/s{i}"), "etag": etags[i], "size_bytes": parts[i].len()}))
            .collect(),
    )
}

async fn put_manifest(s: &Server, path: &str, body: &Value) -> reqwest::Response {
    s.req("PUT", &s.url(ACCOUNT_A, &format!("{path}?multipart-manifest=put")), Some(ALICE))
        .header("content-type", "video/mp4")
        .header("x-object-meta-kind", "movie")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn static_large_objects() {
    let s = Server::start("slo").await;
    let (parts, etags) = upload_segments(&s).await;
    let whole = parts.concat();
    let total = whole.len();
    let slo_etag = md5_hex(etags.concat().as_bytes());

    let r = put_manifest(&s, "c/movie", &manifest(&parts, &etags)).await;
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["etag"], format!("\"{slo_etag}\"").as_str());

    let r = get(&s, "c/movie", None).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["etag"], format!("\"{slo_etag}\"").as_str());
    assert_eq!(r.headers()["content-length"], total.to_string().as_str());
    assert_eq!(r.headers()["x-static-large-object"], "True");
    assert_eq!(r.headers()["content-type"], "video/mp4");
    assert_eq!(r.headers()["x-object-meta-kind"], "movie");
    assert_eq!(r.bytes().await.unwrap().as_ref(), &whole[..]);

    let head = s.req("HEAD", &s.url(ACCOUNT_A, "c/movie"), Some(ALICE)).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["etag"], format!("\"{slo_etag}\"").as_str());
    assert_eq!(head.headers()["content-length"], total.to_string().as_str());
    assert_eq!(head.headers()["x-static-large-object"], "True");

    let r = get(&s, "c/movie", Some("bytes=99995-100025")).await;
    assert_eq!(r.status(), 206);
    assert_eq!(r.headers()["content-range"], format!("bytes 99995-100025/{total}").as_str());
    assert_eq!(r.bytes().await.unwrap().as_ref(), &whole[99_995..=100_025]);
    let r = get(&s, "c/movie", Some("bytes=100010-")).await;
    assert_eq!(r.bytes().await.unwrap().as_ref(), &whole[100_010..]);

    // Listings show the whole size and the large object's ETag.
    let listing: Value = get(&s, "c?format=json", None).await.json().await.unwrap();
    assert_eq!(listing[0]["name"], "movie");
    assert_eq!(listing[0]["bytes"], total);
    assert_eq!(listing[0]["hash"], slo_etag.as_str());

    // The stored manifest, and the form a PUT takes.
    let r = get(&s, "c/movie?multipart-manifest=get", None).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json; charset=utf-8");
    assert_eq!(r.headers()["x-static-large-object"], "True");
    let stored: Value = r.json().await.unwrap();
    assert_eq!(stored.as_array().unwrap().len(), 3);
    assert_eq!(stored[0]["name"], "/segs/s0");
    assert_eq!(stored[0]["bytes"], parts[0].len());
    assert_eq!(stored[0]["hash"], etags[0].as_str());
    assert_eq!(stored[1]["content_type"], "application/octet-stream");
    assert!(stored[2]["last_modified"].as_str().unwrap().contains('T'));
    let raw: Value = get(&s, "c/movie?multipart-manifest=get&format=raw", None).await.json().await.unwrap();
    assert_eq!(raw, manifest(&parts, &etags));
    // The raw form stores the same object again.
    assert_eq!(put_manifest(&s, "c/again", &raw).await.status(), 201);

    // A copy is an ordinary object with the whole data.
    let r = s
        .req("COPY", &s.url(ACCOUNT_A, "c/movie"), Some(ALICE))
        .header("destination", "c/copy")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = get(&s, "c/copy", None).await;
    assert!(!r.headers().contains_key("x-static-large-object"));
    assert_eq!(r.headers()["etag"], md5_hex(&whole).as_str());
    assert_eq!(r.headers()["x-object-meta-kind"], "movie");
    assert_eq!(r.bytes().await.unwrap().as_ref(), &whole[..]);

    // A plain DELETE removes the manifest only.
    assert_eq!(status(&s, "DELETE", "c/again").await, 204);
    assert_eq!(status(&s, "HEAD", "c/again").await, 404);
    assert_eq!(status(&s, "HEAD", "segs/s0").await, 200);

    // ?multipart-manifest=delete removes the segments, then the manifest.
    let r = s
        .req("DELETE", &s.url(ACCOUNT_A, "c/movie?multipart-manifest=delete"), Some(ALICE))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let report: Value = r.json().await.unwrap();
    assert_eq!(report["Number Deleted"], 4, "{report}");
    assert_eq!(report["Number Not Found"], 0);
    assert_eq!(report["Response Status"], "200 OK");
    assert_eq!(report["Errors"], json!([]));
    for path in ["c/movie", "segs/s0", "segs/s1", "segs/s2"] {
        assert_eq!(status(&s, "HEAD", path).await, 404, "{path}");
    }
    assert_eq!(status(&s, "HEAD", "c/copy").await, 200);
    // Text answer; an object that is gone is counted as not found.
    let r = s
        .req("DELETE", &s.url(ACCOUNT_A, "c/movie?multipart-manifest=delete"), Some(ALICE))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(text.contains("Number Deleted: 0\nNumber Not Found: 1\n"), "{text}");
    s.stop(true).await;
}

#[tokio::test]
async fn static_manifests_are_checked() {
    let s = Server::start("slo-check").await;
    let (parts, etags) = upload_segments(&s).await;
    put(&s, "segs/empty", vec![]).await;

    let mut wrong = manifest(&parts, &etags);
    wrong[0]["path"] = json!("/segs/missing");
    wrong[1]["etag"] = json!("0123456789abcdef0123456789abcdef");
    wrong[2]["size_bytes"] = json!(parts[2].len() + 1);
    let r = put_manifest(&s, "c/bad", &wrong).await;
    assert_eq!(r.status(), 400);
    let body = r.text().await.unwrap();
    assert!(body.contains("Errors:"), "{body}");
    assert!(body.contains("/segs/missing, 404 Not Found"), "{body}");
    assert!(body.contains("/segs/s1, Etag Mismatch"), "{body}");
    assert!(body.contains("/segs/s2, Size Mismatch"), "{body}");

    // The same as JSON when asked.
    let r = s
        .req("PUT", &s.url(ACCOUNT_A, "c/bad?multipart-manifest=put"), Some(ALICE))
        .header("accept", "application/json")
        .body(json!([{"path": "/segs/missing", "etag": null, "size_bytes": null}]).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let errors: Value = r.json().await.unwrap();
    assert_eq!(errors["Errors"], json!([["/segs/missing", "404 Not Found"]]));

    for (what, body) in [
        ("empty segment", json!([{"path": "/segs/empty", "etag": null, "size_bytes": null}]).to_string()),
        ("not json", "[{".to_string()),
        ("empty list", "[]".to_string()),
        ("no object", json!([{"path": "/segs", "etag": null, "size_bytes": null}]).to_string()),
        ("unknown key", json!([{"path": "/segs/s0", "colour": "red"}]).to_string()),
        ("itself", json!([{"path": "/c/bad"}]).to_string()),
    ] {
        let r = s
            .req("PUT", &s.url(ACCOUNT_A, "c/bad?multipart-manifest=put"), Some(ALICE))
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{what}");
    }
    assert_eq!(status(&s, "HEAD", "c/bad").await, 404, "nothing is stored");

    // An ETag sent with the manifest must be that of the large object.
    let good = manifest(&parts, &etags);
    let r = s
        .req("PUT", &s.url(ACCOUNT_A, "c/tagged?multipart-manifest=put"), Some(ALICE))
        .header("etag", md5_hex(good.to_string().as_bytes()))
        .body(good.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert_eq!(status(&s, "HEAD", "c/tagged").await, 404);
    let slo_etag = md5_hex(etags.concat().as_bytes());
    let r = s
        .req("PUT", &s.url(ACCOUNT_A, "c/tagged?multipart-manifest=put"), Some(ALICE))
        .header("etag", format!("\"{slo_etag}\""))
        .body(good.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);

    // Segments the caller cannot read are refused (another project writing by ACL).
    s.req("POST", &s.url(ACCOUNT_A, "c"), Some(ALICE))
        .header("x-container-write", "pb:*")
        .send()
        .await
        .unwrap();
    let r = s
        .req("PUT", &s.url(ACCOUNT_A, "c/theirs?multipart-manifest=put"), Some(BOB))
        .body(good.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("/segs/s0, 403 Forbidden"));
    s.stop(true).await;
}

#[tokio::test]
async fn ranged_and_nested_static_segments() {
    let s = Server::start("slo-nested").await;
    let (parts, etags) = upload_segments(&s).await;
    // A piece of s0, all of s1.
    let inner = json!([
        {"path": "/segs/s0", "etag": etags[0], "size_bytes": parts[0].len(), "range": "10-19"},
        {"path": "/segs/s1", "etag": null, "size_bytes": null},
    ]);
    let r = put_manifest(&s, "c/inner", &inner).await;
    assert_eq!(r.status(), 201);
    let inner_etag = md5_hex(format!("{}:10-19;{}", etags[0], etags[1]).as_bytes());
    assert_eq!(r.headers()["etag"], format!("\"{inner_etag}\"").as_str());
    let mut inner_data = parts[0][10..20].to_vec();
    inner_data.extend_from_slice(&parts[1]);
    assert_eq!(get(&s, "c/inner", None).await.bytes().await.unwrap().as_ref(), &inner_data[..]);
    let stored: Value = get(&s, "c/inner?multipart-manifest=get", None).await.json().await.unwrap();
    assert_eq!(stored[0]["range"], "10-19");

    // A manifest whose first segment is the manifest above.
    let outer = json!([
        {"path": "/c/inner", "etag": inner_etag, "size_bytes": inner_data.len()},
        {"path": "/segs/s2", "etag": etags[2], "size_bytes": parts[2].len()},
    ]);
    assert_eq!(put_manifest(&s, "c/outer", &outer).await.status(), 201);
    let mut outer_data = inner_data.clone();
    outer_data.extend_from_slice(&parts[2]);
    let r = get(&s, "c/outer", None).await;
    assert_eq!(r.headers()["content-length"], outer_data.len().to_string().as_str());
    assert_eq!(r.bytes().await.unwrap().as_ref(), &outer_data[..]);
    let r = get(&s, "c/outer", Some("bytes=5-30")).await;
    assert_eq!(r.bytes().await.unwrap().as_ref(), &outer_data[5..=30]);

    // A segment replaced since: the data stops short instead of being wrong.
    put(&s, "segs/s2", b"replaced".to_vec()).await;
    let r = get(&s, "c/outer", None).await;
    assert_eq!(r.status(), 200);
    assert!(r.bytes().await.is_err(), "the body is cut off");

    // Deleting the outer manifest removes the nested one and its segments too.
    let r = s
        .req("DELETE", &s.url(ACCOUNT_A, "c/outer?multipart-manifest=delete"), Some(ALICE))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    let report: Value = r.json().await.unwrap();
    assert_eq!(report["Number Deleted"], 5, "{report}");
    for path in ["c/outer", "c/inner", "segs/s0", "segs/s1", "segs/s2"] {
        assert_eq!(status(&s, "HEAD", path).await, 404, "{path}");
    }
    s.stop(true).await;
}
