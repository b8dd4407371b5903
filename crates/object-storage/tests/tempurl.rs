//! TempURLs over HTTP: every digest and signature form, expiry, keys of the account and of
//! a container, prefixes, uploads, and what a TempURL download shows.

mod common;

use base64::Engine;
use common::*;
use hmac::{Hmac, Mac};

const KEY: &str = "secret";

#[derive(Clone, Copy)]
enum Form {
    Sha1Hex,
    Sha256Hex,
    Sha512Hex,
    /// `sha512:<url-safe base64 without padding>`, as python-swiftclient writes it.
    Sha512B64,
    /// `sha256:<standard base64 with padding>`.
    Sha256B64,
}

fn mac(form: Form, key: &str, body: &str) -> Vec<u8> {
    fn run<M: Mac + hmac::digest::KeyInit>(key: &str, body: &str) -> Vec<u8> {
        let mut m = <M as Mac>::new_from_slice(key.as_bytes()).unwrap();
        m.update(body.as_bytes());
        m.finalize().into_bytes().to_vec()
    }
    match form {
        Form::Sha1Hex => run::<Hmac<sha1::Sha1>>(key, body),
        Form::Sha256Hex | Form::Sha256B64 => run::<Hmac<sha2::Sha256>>(key, body),
        Form::Sha512Hex | Form::Sha512B64 => run::<Hmac<sha2::Sha512>>(key, body),
    }
}

/// The `temp_url_sig` of `METHOD\nexpires\npath`.
fn sign(form: Form, key: &str, method: &str, expires: i64, path: &str) -> String {
    let raw = mac(form, key, &format!("{method}\n{expires}\n{path}"));
    match form {
        Form::Sha1Hex | Form::Sha256Hex | Form::Sha512Hex => raw.iter().map(|b| format!("{b:02x}")).collect(),
        Form::Sha512B64 => format!("sha512:{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)),
        Form::Sha256B64 => format!("sha256:{}", base64::engine::general_purpose::STANDARD.encode(raw)),
    }
}

fn later() -> i64 {
    chrono::Utc::now().timestamp() + 600
}

/// `http://…/v1/AUTH_pa/<object path>?temp_url_sig=…&temp_url_expires=…<extra>`
fn temp_url(s: &Server, object_path: &str, sig: &str, expires: &str, extra: &str) -> String {
    let sig: String = form_urlencoded::byte_serialize(sig.as_bytes()).collect();
    format!("{}?temp_url_sig={sig}&temp_url_expires={expires}{extra}", s.url(ACCOUNT_A, object_path))
}

/// A signed URL for `method` on `AUTH_pa/<object_path>` with the account key.
fn signed(s: &Server, method: &str, object_path: &str) -> String {
    let exp = later();
    let sig = sign(Form::Sha256Hex, KEY, method, exp, &format!("/v1/{ACCOUNT_A}/{object_path}"));
    temp_url(s, object_path, &sig, &exp.to_string(), "")
}

async fn status(s: &Server, method: &str, url: &str) -> u16 {
    s.req(method, url, None).send().await.unwrap().status().as_u16()
}

/// `AUTH_pa` with the key `secret`, container `c` holding `o.txt` (with private and public
/// metadata) and `dir/a`, `dir/b`, `other/x`.
async fn setup(name: &str) -> Server {
    let s = Server::start(name).await;
    let r = s
        .req("POST", &s.url(ACCOUNT_A, ""), Some(ALICE))
        .header("x-account-meta-temp-url-key", KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(s.req("PUT", &s.url(ACCOUNT_A, "c"), Some(ALICE)).send().await.unwrap().status(), 201);
    let r = s
        .req("PUT", &s.url(ACCOUNT_A, "c/o.txt"), Some(ALICE))
        .header("x-object-meta-color", "blue")
        .header("x-object-meta-public-tag", "shown")
        .body("hello tempurl")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    for (path, body) in [("c/dir/a", "A"), ("c/dir/b", "B"), ("c/other/x", "X")] {
        let r = s.req("PUT", &s.url(ACCOUNT_A, path), Some(ALICE)).body(body).send().await.unwrap();
        assert_eq!(r.status(), 201);
    }
    s
}

#[tokio::test]
async fn get_with_every_digest_and_signature_form() {
    let s = setup("tu-digests").await;
    let path = format!("/v1/{ACCOUNT_A}/c/o.txt");
    let exp = later();
    for form in [Form::Sha1Hex, Form::Sha256Hex, Form::Sha512Hex, Form::Sha512B64, Form::Sha256B64] {
        let url = temp_url(&s, "c/o.txt", &sign(form, KEY, "GET", exp, &path), &exp.to_string(), "");
        let r = s.req("GET", &url, None).send().await.unwrap();
        assert_eq!(r.status(), 200, "{url}");
        assert_eq!(r.text().await.unwrap(), "hello tempurl");
    }
    // The expiry may be given in ISO 8601; the signature covers the unix seconds.
    let iso = chrono::DateTime::from_timestamp(exp, 0).unwrap().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let url = temp_url(&s, "c/o.txt", &sign(Form::Sha256Hex, KEY, "GET", exp, &path), &iso, "");
    assert_eq!(status(&s, "GET", &url).await, 200);
    // A HEAD may use a URL signed for GET or PUT; a GET may not use one signed for HEAD.
    assert_eq!(status(&s, "HEAD", &signed(&s, "GET", "c/o.txt")).await, 200);
    assert_eq!(status(&s, "HEAD", &signed(&s, "PUT", "c/o.txt")).await, 200);
    assert_eq!(status(&s, "GET", &signed(&s, "HEAD", "c/o.txt")).await, 401);
    // The second account key signs too.
    s.req("POST", &s.url(ACCOUNT_A, ""), Some(ALICE))
        .header("x-account-meta-temp-url-key-2", "other")
        .send()
        .await
        .unwrap();
    let url = temp_url(&s, "c/o.txt", &sign(Form::Sha1Hex, "other", "GET", exp, &path), &exp.to_string(), "");
    assert_eq!(status(&s, "GET", &url).await, 200);
}

#[tokio::test]
async fn bad_expired_and_misused_urls_are_refused() {
    let s = setup("tu-refused").await;
    let path = format!("/v1/{ACCOUNT_A}/c/o.txt");
    let exp = later();

    let wrong = sign(Form::Sha256Hex, "not-the-key", "GET", exp, &path);
    let r = s.req("GET", &temp_url(&s, "c/o.txt", &wrong, &exp.to_string(), ""), None).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.text().await.unwrap().contains("Temp URL invalid"));

    let past = chrono::Utc::now().timestamp() - 10;
    let old = sign(Form::Sha256Hex, KEY, "GET", past, &path);
    let r = s.req("GET", &temp_url(&s, "c/o.txt", &old, &past.to_string(), ""), None).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.text().await.unwrap().contains("Temp URL expired"));

    // A signature for one object does not open another.
    let for_o = sign(Form::Sha256Hex, KEY, "GET", exp, &path);
    assert_eq!(status(&s, "GET", &temp_url(&s, "c/dir/a", &for_o, &exp.to_string(), "")).await, 401);
    // The expiry is signed: moving it breaks the signature.
    assert_eq!(status(&s, "GET", &temp_url(&s, "c/o.txt", &for_o, &(exp + 1).to_string(), "")).await, 401);
    // A GET signature neither deletes nor overwrites.
    let get_url = signed(&s, "GET", "c/o.txt");
    assert_eq!(status(&s, "DELETE", &get_url).await, 401);
    assert_eq!(s.req("PUT", &get_url, None).body("evil").send().await.unwrap().status(), 401);
    let r = s.req("GET", &s.url(ACCOUNT_A, "c/o.txt"), Some(ALICE)).send().await.unwrap();
    assert_eq!(r.text().await.unwrap(), "hello tempurl");

    // Malformed or partial parameters, and a container, are not TempURLs.
    let only_sig = format!("{}?temp_url_sig={for_o}", s.url(ACCOUNT_A, "c/o.txt"));
    assert_eq!(status(&s, "GET", &only_sig).await, 401);
    assert_eq!(status(&s, "GET", &temp_url(&s, "c/o.txt", "abcdef", &exp.to_string(), "")).await, 401);
    assert_eq!(status(&s, "GET", &temp_url(&s, "c/o.txt", &for_o, "tomorrow", "")).await, 401);
    let container_sig = sign(Form::Sha256Hex, KEY, "GET", exp, &format!("/v1/{ACCOUNT_A}/c"));
    assert_eq!(status(&s, "GET", &temp_url(&s, "c", &container_sig, &exp.to_string(), "")).await, 401);
    // Anonymous without a TempURL stays anonymous.
    assert_eq!(status(&s, "GET", &s.url(ACCOUNT_A, "c/o.txt")).await, 401);

    // An account without keys accepts no signature; a removed key stops working.
    s.req("POST", &s.url(ACCOUNT_A, ""), Some(ALICE))
        .header("x-remove-account-meta-temp-url-key", "x")
        .send()
        .await
        .unwrap();
    assert_eq!(status(&s, "GET", &signed(&s, "GET", "c/o.txt")).await, 401);
}

#[tokio::test]
async fn put_through_a_temp_url_stores_the_object() {
    let s = setup("tu-put").await;
    let url = signed(&s, "PUT", "c/upload.bin");
    let r = s.req("PUT", &url, None).body("uploaded bytes").send().await.unwrap();
    assert_eq!(r.status(), 201);
    let r = s.req("GET", &s.url(ACCOUNT_A, "c/upload.bin"), Some(ALICE)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "uploaded bytes");

    // A PUT URL cannot make a manifest or copy another object into its name.
    let r = s.req("PUT", &url, None).header("x-object-manifest", "c/dir/").body("").send().await.unwrap();
    assert_eq!(r.status(), 400);
    let r = s.req("PUT", &url, None).header("x-copy-from", "c/other/x").body("").send().await.unwrap();
    assert_eq!(r.status(), 400);
    let r = s.req("GET", &s.url(ACCOUNT_A, "c/upload.bin"), Some(ALICE)).send().await.unwrap();
    assert_eq!(r.text().await.unwrap(), "uploaded bytes");

    // DELETE through its own signature.
    assert_eq!(status(&s, "DELETE", &signed(&s, "DELETE", "c/upload.bin")).await, 204);
    assert_eq!(status(&s, "HEAD", &s.url(ACCOUNT_A, "c/upload.bin")).await, 401);
    let r = s.req("HEAD", &s.url(ACCOUNT_A, "c/upload.bin"), Some(ALICE)).send().await.unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn container_keys_sign_for_their_container_only() {
    let s = setup("tu-container-key").await;
    let r = s
        .req("PUT", &s.url(ACCOUNT_A, "shared"), Some(ALICE))
        .header("x-container-meta-temp-url-key", "ckey")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    s.req("PUT", &s.url(ACCOUNT_A, "shared/doc"), Some(ALICE)).body("doc").send().await.unwrap();
    let exp = later();
    let in_shared = sign(Form::Sha512B64, "ckey", "GET", exp, &format!("/v1/{ACCOUNT_A}/shared/doc"));
    let r = s
        .req("GET", &temp_url(&s, "shared/doc", &in_shared, &exp.to_string(), ""), None)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "doc");
    let in_c = sign(Form::Sha512B64, "ckey", "GET", exp, &format!("/v1/{ACCOUNT_A}/c/o.txt"));
    assert_eq!(status(&s, "GET", &temp_url(&s, "c/o.txt", &in_c, &exp.to_string(), "")).await, 401);
    // The key is not shown to anonymous or reading callers, only to the owner.
    let r = s.req("HEAD", &s.url(ACCOUNT_A, "shared"), Some(RITA)).send().await.unwrap();
    assert!(r.headers().get("x-container-meta-temp-url-key").is_none());
}

#[tokio::test]
async fn prefix_urls_cover_the_prefix() {
    let s = setup("tu-prefix").await;
    let exp = later();
    let sig = sign(Form::Sha256Hex, KEY, "GET", exp, &format!("prefix:/v1/{ACCOUNT_A}/c/dir/"));
    for (object, body) in [("c/dir/a", "A"), ("c/dir/b", "B")] {
        let url = temp_url(&s, object, &sig, &exp.to_string(), "&temp_url_prefix=dir/");
        let r = s.req("GET", &url, None).send().await.unwrap();
        assert_eq!(r.status(), 200, "{url}");
        assert_eq!(r.text().await.unwrap(), body);
    }
    let outside = temp_url(&s, "c/other/x", &sig, &exp.to_string(), "&temp_url_prefix=dir/");
    assert_eq!(status(&s, "GET", &outside).await, 401);
    // Claiming a shorter prefix than was signed breaks the signature.
    let shorter = temp_url(&s, "c/other/x", &sig, &exp.to_string(), "&temp_url_prefix=");
    assert_eq!(status(&s, "GET", &shorter).await, 401);
    // A plain signature of the prefix path is not a prefix signature.
    let plain = sign(Form::Sha256Hex, KEY, "GET", exp, &format!("/v1/{ACCOUNT_A}/c/dir/"));
    let url = temp_url(&s, "c/dir/a", &plain, &exp.to_string(), "&temp_url_prefix=dir/");
    assert_eq!(status(&s, "GET", &url).await, 401);
}

#[tokio::test]
async fn downloads_name_the_file_and_hide_private_metadata() {
    let s = setup("tu-download").await;
    let header =
        |r: &reqwest::Response, name: &str| r.headers().get(name).map(|v| v.to_str().unwrap().to_string());
    let url = signed(&s, "GET", "c/o.txt");
    let r = s.req("GET", &url, None).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        header(&r, "content-disposition").unwrap(),
        "attachment; filename=\"o.txt\"; filename*=UTF-8''o.txt"
    );
    assert_eq!(header(&r, "x-object-meta-color"), None);
    assert_eq!(header(&r, "x-object-meta-public-tag").as_deref(), Some("shown"));
    // The owner still sees everything, and no disposition is made up.
    let r = s.req("GET", &s.url(ACCOUNT_A, "c/o.txt"), Some(ALICE)).send().await.unwrap();
    assert_eq!(header(&r, "x-object-meta-color").as_deref(), Some("blue"));
    assert_eq!(header(&r, "content-disposition"), None);

    let r = s.req("GET", &format!("{url}&filename=My%20Report.pdf"), None).send().await.unwrap();
    assert_eq!(
        header(&r, "content-disposition").unwrap(),
        "attachment; filename=\"My Report.pdf\"; filename*=UTF-8''My%20Report.pdf"
    );
    let r = s.req("GET", &format!("{url}&inline"), None).send().await.unwrap();
    assert_eq!(header(&r, "content-disposition").unwrap(), "inline");
    let r = s.req("HEAD", &format!("{url}&inline&filename=x.txt"), None).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(header(&r, "content-disposition").unwrap().starts_with("inline; filename=\"x.txt\""));

    // An object's own Content-Disposition is kept when the URL names none.
    s.req("POST", &s.url(ACCOUNT_A, "c/dir/a"), Some(ALICE))
        .header("content-disposition", "attachment; filename=\"kept.txt\"")
        .send()
        .await
        .unwrap();
    let r = s.req("GET", &signed(&s, "GET", "c/dir/a"), None).send().await.unwrap();
    assert_eq!(header(&r, "content-disposition").unwrap(), "attachment; filename=\"kept.txt\"");
}

#[tokio::test]
async fn signed_large_objects_read_their_segments_with_account_keys_only() {
    let s = setup("tu-large").await;
    s.req("PUT", &s.url(ACCOUNT_A, "c_segments"), Some(ALICE)).send().await.unwrap();
    for (i, part) in ["one-", "two"].iter().enumerate() {
        s.req("PUT", &s.url(ACCOUNT_A, &format!("c_segments/big/{i:08}")), Some(ALICE))
            .body(*part)
            .send()
            .await
            .unwrap();
    }
    let r = s
        .req("PUT", &s.url(ACCOUNT_A, "c/big"), Some(ALICE))
        .header("x-object-manifest", "c_segments/big/")
        .body("")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    // An account key signs for the segments anywhere in the account (as swift).
    let r = s.req("GET", &signed(&s, "GET", "c/big"), None).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "one-two");
    // A container key signs for its own container only: segments elsewhere are refused.
    s.req("POST", &s.url(ACCOUNT_A, ""), Some(ALICE))
        .header("x-remove-account-meta-temp-url-key", "x")
        .send()
        .await
        .unwrap();
    s.req("POST", &s.url(ACCOUNT_A, "c"), Some(ALICE))
        .header("x-container-meta-temp-url-key", "ckey")
        .send()
        .await
        .unwrap();
    let exp = later();
    let sig = sign(Form::Sha256Hex, "ckey", "GET", exp, &format!("/v1/{ACCOUNT_A}/c/big"));
    assert_eq!(status(&s, "GET", &temp_url(&s, "c/big", &sig, &exp.to_string(), "")).await, 401);
}
