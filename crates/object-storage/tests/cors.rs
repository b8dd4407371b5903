//! CORS over HTTP: preflights allowed, refused and unconfigured, and the headers of actual
//! requests that carry an `Origin`.

mod common;

use common::*;

const SITE: &str = "https://app.example";

fn header(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers().get(name).map(|v| v.to_str().unwrap().to_string())
}

/// Container `web` allows two origins, `open` any, `plain` has no CORS; each holds `f.txt`.
async fn setup(name: &str) -> Server {
    let s = Server::start(name).await;
    let r = s
        .req("PUT", &s.url(ACCOUNT_A, "web"), Some(ALICE))
        .header("x-container-meta-access-control-allow-origin", format!("{SITE} https://other.example"))
        .header("x-container-meta-access-control-max-age", "600")
        .header("x-container-meta-access-control-expose-headers", "X-Custom-One x-custom-two")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = s
        .req("PUT", &s.url(ACCOUNT_A, "open"), Some(ALICE))
        .header("x-container-meta-access-control-allow-origin", "*")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(s.req("PUT", &s.url(ACCOUNT_A, "plain"), Some(ALICE)).send().await.unwrap().status(), 201);
    for c in ["web", "open", "plain"] {
        let r = s
            .req("PUT", &s.url(ACCOUNT_A, &format!("{c}/f.txt")), Some(ALICE))
            .header("x-object-meta-color", "blue")
            .body("data")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    s
}

async fn preflight(s: &Server, path: &str, origin: Option<&str>, method: &str) -> reqwest::Response {
    let mut r = s
        .req("OPTIONS", &s.url(ACCOUNT_A, path), None)
        .header("access-control-request-method", method)
        .header("access-control-request-headers", "x-auth-token, content-type");
    if let Some(o) = origin {
        r = r.header("origin", o);
    }
    r.send().await.unwrap()
}

#[tokio::test]
async fn preflights_allowed_refused_and_unconfigured() {
    let s = setup("cors-preflight").await;

    let r = preflight(&s, "web/f.txt", Some(SITE), "PUT").await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "access-control-allow-origin").as_deref(), Some(SITE));
    assert_eq!(
        header(&r, "access-control-allow-methods").as_deref(),
        Some("HEAD, GET, PUT, POST, COPY, OPTIONS, DELETE")
    );
    assert_eq!(header(&r, "access-control-allow-headers").as_deref(), Some("x-auth-token, content-type"));
    assert_eq!(header(&r, "access-control-max-age").as_deref(), Some("600"));
    assert!(header(&r, "allow").unwrap().contains("GET"));
    assert!(header(&r, "vary").unwrap().contains("Origin"));

    // The container itself answers preflights too (without COPY).
    let r = preflight(&s, "web", Some("https://other.example"), "GET").await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "access-control-allow-origin").as_deref(), Some("https://other.example"));
    assert!(!header(&r, "access-control-allow-methods").unwrap().contains("COPY"));

    // `*` answers with `*`, for objects that do not exist yet as well.
    let r = preflight(&s, "open/not-yet", Some("https://anyone.example"), "PUT").await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "access-control-allow-origin").as_deref(), Some("*"));
    assert_eq!(header(&r, "access-control-max-age"), None);

    // Refused: another origin, an unknown method, no CORS configured, no such container.
    let r = preflight(&s, "web/f.txt", Some("https://evil.example"), "GET").await;
    assert_eq!(r.status(), 401);
    assert_eq!(header(&r, "access-control-allow-origin"), None);
    assert_eq!(preflight(&s, "web/f.txt", Some(SITE), "PATCH").await.status(), 401);
    assert_eq!(preflight(&s, "plain/f.txt", Some(SITE), "GET").await.status(), 401);
    assert_eq!(preflight(&s, "missing/f.txt", Some(SITE), "GET").await.status(), 401);

    // Without an Origin it is a plain OPTIONS: the methods, no CORS.
    let r = preflight(&s, "plain/f.txt", None, "GET").await;
    assert_eq!(r.status(), 200);
    assert!(header(&r, "allow").unwrap().contains("DELETE"));
    assert_eq!(header(&r, "access-control-allow-origin"), None);
}

#[tokio::test]
async fn actual_requests_with_an_origin_get_cors_headers() {
    let s = setup("cors-actual").await;
    let get = |path: String, origin: Option<&'static str>| {
        let mut r = s.req("GET", &s.url(ACCOUNT_A, &path), Some(ALICE));
        if let Some(o) = origin {
            r = r.header("origin", o);
        }
        r.send()
    };

    let r = get("web/f.txt".into(), Some(SITE)).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "access-control-allow-origin").as_deref(), Some(SITE));
    let exposed = header(&r, "access-control-expose-headers").unwrap();
    let exposed: Vec<&str> = exposed.split(", ").collect();
    for h in ["etag", "content-type", "last-modified", "x-timestamp", "x-trans-id", "x-object-meta-color"] {
        assert!(exposed.contains(&h), "{h} in {exposed:?}");
    }
    assert!(exposed.contains(&"x-custom-one") && exposed.contains(&"x-custom-two"), "{exposed:?}");

    // Without an Origin, or from an origin not allowed: nothing.
    let r = get("web/f.txt".into(), None).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "access-control-allow-origin"), None);
    assert_eq!(header(&r, "access-control-expose-headers"), None);
    let r = get("web/f.txt".into(), Some("https://evil.example")).await.unwrap();
    assert_eq!(header(&r, "access-control-allow-origin"), None);
    let r = get("plain/f.txt".into(), Some(SITE)).await.unwrap();
    assert_eq!(header(&r, "access-control-allow-origin"), None);

    // `*` and a HEAD of the container.
    let r = get("open/f.txt".into(), Some(SITE)).await.unwrap();
    assert_eq!(header(&r, "access-control-allow-origin").as_deref(), Some("*"));
    let r = s.req("HEAD", &s.url(ACCOUNT_A, "web"), Some(ALICE)).header("origin", SITE).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(header(&r, "access-control-allow-origin").as_deref(), Some(SITE));
    let exposed = header(&r, "access-control-expose-headers").unwrap();
    assert!(exposed.contains("x-container-meta-access-control-max-age"), "{exposed}");
}
