//! The `swift` store: image data as objects in object storage, as glance_store's swift driver
//! keeps it in single-tenant mode. Every image's data is the object
//! `<endpoint>/v1/AUTH_<service project>/<container>/<image id>` of the account the image
//! service's own user (`glance`) owns; callers never see it, they read through the image API.
//!
//! The verified local file is streamed up with its md5 as `ETag`, so object storage checks the
//! data it stored; reads are ranged GETs streamed back. Requests carry the service user's token
//! and are retried once with a fresh token when it is refused (401).
//!
//! An image larger than one object (object storage's `max_file_size`, 5 GiB by default) is
//! stored as a static large object, as glance_store does: segments `<image id>/<n>` of at
//! most that size in `<container>_segments`, then a manifest named by the image id; reads of
//! the manifest stream the segments, and deleting it (`?multipart-manifest=delete`) removes
//! them too.

use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::bail;
use futures_util::StreamExt;
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE, ETAG, RANGE};
use reqwest::{RequestBuilder, Response, StatusCode};
use stratus_core::auth::BoxFuture;
use stratus_core::service_auth::SharedTokenSource;
use tokio::io::AsyncReadExt;

use super::{DataReader, ImageBackend};

/// Swift's default `max_file_size`: the largest object stored without segments.
pub const DEFAULT_MAX_OBJECT_SIZE: u64 = 5 * 1024 * 1024 * 1024 + 2;

/// Where the swift store keeps image data.
#[derive(Debug, Clone)]
pub struct SwiftOptions {
    /// The object-storage endpoint, e.g. `http://controller:8080` (a trailing `/v1` is allowed).
    pub endpoint: String,
    /// The project that owns the account: the data lives in `AUTH_<project_id>`.
    pub project_id: String,
    /// The container of image data (glance's `swift_store_container`).
    pub container: String,
    /// The largest object object storage accepts without segments (its `max_file_size`).
    pub max_object_size: u64,
}

/// The object-storage store.
pub struct SwiftBackend {
    http: reqwest::Client,
    auth: SharedTokenSource,
    /// `<endpoint>/v1/AUTH_<project>/<container>`.
    container_url: String,
    endpoint: String,
    container: String,
    max_object_size: u64,
    /// The container is known to exist (created once, again if it disappears).
    container_ready: AtomicBool,
    /// The same for the segments' container.
    segments_ready: AtomicBool,
}

impl SwiftBackend {
    pub fn new(options: SwiftOptions, auth: SharedTokenSource) -> anyhow::Result<SwiftBackend> {
        let SwiftOptions { endpoint, project_id, container, max_object_size } = options;
        let endpoint = endpoint.trim_end_matches('/');
        let endpoint = endpoint.strip_suffix("/v1").unwrap_or(endpoint).to_string();
        if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
            bail!("the swift store's endpoint {endpoint:?} is not an http(s) URL ([image] swift_url)");
        }
        if container.is_empty() || container.len() > 256 || container.contains('/') {
            bail!(
                "{container:?} is not a container name ([image] swift_container: 1 to 256 characters, no '/')"
            );
        }
        if project_id.is_empty() || project_id.contains('/') {
            bail!("the swift store needs the id of the project owning its account, not {project_id:?}");
        }
        // No overall timeout: an upload of many gigabytes takes as long as it takes.
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| anyhow::anyhow!("the swift store's HTTP client: {e}"))?;
        Ok(SwiftBackend {
            http,
            auth,
            container_url: format!("{endpoint}/v1/AUTH_{project_id}/{container}"),
            endpoint,
            container,
            max_object_size,
            container_ready: AtomicBool::new(false),
            segments_ready: AtomicBool::new(false),
        })
    }

    /// The URL of image `id`'s object.
    pub fn object_url(&self, id: &str) -> String {
        format!("{}/{id}", self.container_url)
    }

    /// Sends the request `build` makes with the service user's token; once more with a fresh
    /// token when the first is refused.
    async fn send(&self, what: &str, build: impl Fn() -> io::Result<RequestBuilder>) -> io::Result<Response> {
        let mut renewed = false;
        loop {
            let token = self.auth.token().await.map_err(|e| {
                io::Error::other(format!("swift store: no token for the image service user: {e:#}"))
            })?;
            let resp = build()?
                .header("x-auth-token", token)
                .send()
                .await
                .map_err(|e| io::Error::other(format!("swift store: {what}: {e}")))?;
            if resp.status() == StatusCode::UNAUTHORIZED && !renewed {
                self.auth.invalidate();
                renewed = true;
                continue;
            }
            return Ok(resp);
        }
    }

    /// Creates the container, once (PUT of an existing container is harmless).
    async fn ensure_container(&self) -> io::Result<()> {
        self.ensure(&self.container_url, &self.container_ready).await
    }

    fn segments_url(&self) -> String {
        format!("{}_segments", self.container_url)
    }

    async fn ensure(&self, url: &str, ready: &AtomicBool) -> io::Result<()> {
        if ready.load(Ordering::Acquire) {
            return Ok(());
        }
        let resp =
            self.send("creating the container", || Ok(self.http.put(url).header(CONTENT_LENGTH, 0))).await?;
        if !resp.status().is_success() {
            return Err(failure("PUT", url, resp).await);
        }
        ready.store(true, Ordering::Release);
        Ok(())
    }

    /// PUTs `len` bytes of the file `data` from `offset` to `url`, with `md5` as ETag if given.
    async fn upload_part(
        &self,
        url: &str,
        data: &Path,
        offset: u64,
        len: u64,
        md5: Option<&str>,
    ) -> io::Result<Response> {
        self.send("uploading image data", || {
            use std::io::Seek;
            let mut file = std::fs::File::open(data)?;
            file.seek(io::SeekFrom::Start(offset))?;
            let file = tokio::fs::File::from_std(file).take(len);
            let body =
                reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::with_capacity(file, 256 * 1024));
            let mut req = self
                .http
                .put(url)
                .header(CONTENT_LENGTH, len)
                .header(CONTENT_TYPE, "application/octet-stream")
                .body(body);
            if let Some(md5) = md5 {
                req = req.header(ETAG, md5);
            }
            Ok(req)
        })
        .await
    }

    async fn upload(&self, url: &str, data: &Path, len: u64, md5: &str) -> io::Result<Response> {
        self.upload_part(url, data, 0, len, Some(md5)).await
    }

    /// The size of each segment of a large image: the largest object, in whole MiB.
    fn segment_size(&self) -> u64 {
        const MIB: u64 = 1024 * 1024;
        match self.max_object_size {
            n if n >= MIB => n / MIB * MIB,
            n => n.max(1),
        }
    }

    /// Stores an image larger than one object: its segments, then a static manifest.
    async fn put_segmented(&self, id: &str, data: &Path, len: u64) -> io::Result<()> {
        self.ensure_container().await?;
        self.ensure(&self.segments_url(), &self.segments_ready).await?;
        let size = self.segment_size();
        let segments_container = format!("{}_segments", self.container);
        let mut manifest = Vec::new();
        let mut offset = 0;
        let mut n = 0;
        while offset < len {
            let part = size.min(len - offset);
            let name = format!("{id}/{n:08}");
            let url = format!("{}/{name}", self.segments_url());
            let resp = self.upload_part(&url, data, offset, part, None).await?;
            if resp.status() != StatusCode::CREATED {
                return Err(failure("PUT", &url, resp).await);
            }
            let etag = resp.headers().get(ETAG).and_then(|v| v.to_str().ok()).unwrap_or("").trim_matches('"');
            manifest.push(serde_json::json!({
                "path": format!("/{segments_container}/{name}"),
                "etag": etag,
                "size_bytes": part,
            }));
            offset += part;
            n += 1;
        }
        let url = format!("{}?multipart-manifest=put", self.object_url(id));
        let body = serde_json::to_vec(&manifest).map_err(io::Error::other)?;
        let resp = self
            .send("storing the image's manifest", || {
                Ok(self.http.put(&url).header(CONTENT_TYPE, "application/octet-stream").body(body.clone()))
            })
            .await?;
        if resp.status() != StatusCode::CREATED {
            return Err(failure("PUT", &url, resp).await);
        }
        Ok(())
    }
}

/// An error for an unexpected answer, with what object storage said.
async fn failure(method: &str, url: &str, resp: Response) -> io::Error {
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    let text = text.trim();
    let why = match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
            " (the image service user has no access to the store's account)"
        }
        StatusCode::PAYLOAD_TOO_LARGE => " (larger than object storage's max_file_size)",
        StatusCode::UNPROCESSABLE_ENTITY => " (the stored data does not match its md5)",
        _ => "",
    };
    io::Error::other(format!("swift store: object storage answered {status} to {method} {url}{why}: {text}"))
}

impl ImageBackend for SwiftBackend {
    fn id(&self) -> &'static str {
        "swift"
    }

    fn description(&self) -> String {
        format!(
            "Object storage at {}, container {} of the image service's account",
            self.endpoint, self.container
        )
    }

    fn max_size(&self) -> Option<u64> {
        // Larger images are stored in segments.
        None
    }

    fn put<'a>(&'a self, id: &'a str, data: &'a Path, md5: &'a str) -> BoxFuture<'a, io::Result<()>> {
        Box::pin(async move {
            let len = tokio::fs::metadata(data).await?.len();
            if len > self.max_object_size {
                self.put_segmented(id, data, len).await?;
                tokio::fs::remove_file(data).await.ok();
                return Ok(());
            }
            self.ensure_container().await?;
            let url = self.object_url(id);
            let mut resp = self.upload(&url, data, len, md5).await?;
            if resp.status() == StatusCode::NOT_FOUND {
                // The container was removed behind our back: create it again.
                self.container_ready.store(false, Ordering::Release);
                self.ensure_container().await?;
                resp = self.upload(&url, data, len, md5).await?;
            }
            if resp.status() != StatusCode::CREATED {
                return Err(failure("PUT", &url, resp).await);
            }
            tokio::fs::remove_file(data).await.ok();
            Ok(())
        })
    }

    fn size<'a>(&'a self, id: &'a str) -> BoxFuture<'a, io::Result<u64>> {
        Box::pin(async move {
            let url = self.object_url(id);
            let resp = self.send("reading image data", || Ok(self.http.head(&url))).await?;
            match resp.status() {
                s if s.is_success() => {}
                StatusCode::NOT_FOUND => {
                    return Err(io::Error::new(io::ErrorKind::NotFound, format!("no object {url}")))
                }
                _ => return Err(failure("HEAD", &url, resp).await),
            }
            // Not `content_length()`: the body of a HEAD answer is empty whatever its length.
            resp.headers()
                .get(CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| io::Error::other(format!("swift store: HEAD {url} gave no Content-Length")))
        })
    }

    fn open<'a>(&'a self, id: &'a str, offset: u64, len: u64) -> BoxFuture<'a, io::Result<DataReader>> {
        Box::pin(async move {
            if len == 0 {
                return Ok(Box::pin(tokio::io::empty()) as DataReader);
            }
            let url = self.object_url(id);
            let range = format!("bytes={offset}-{}", offset + len - 1);
            let resp = self
                .send("reading image data", || Ok(self.http.get(&url).header(RANGE, range.as_str())))
                .await?;
            match resp.status() {
                StatusCode::PARTIAL_CONTENT => {}
                StatusCode::OK if offset == 0 => {}
                StatusCode::NOT_FOUND => {
                    return Err(io::Error::new(io::ErrorKind::NotFound, format!("no object {url}")))
                }
                _ => return Err(failure("GET", &url, resp).await),
            }
            let stream = resp.bytes_stream().map(|chunk| chunk.map_err(io::Error::other));
            Ok(Box::pin(tokio_util::io::StreamReader::new(stream).take(len)) as DataReader)
        })
    }

    fn delete<'a>(&'a self, id: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let mut url = self.object_url(id);
            // A segmented image goes with its segments.
            if let Ok(head) = self.send("reading image data", || Ok(self.http.head(&url))).await {
                if head.headers().contains_key("x-static-large-object") {
                    url.push_str("?multipart-manifest=delete");
                }
            }
            match self.send("deleting image data", || Ok(self.http.delete(&url))).await {
                Ok(resp) if resp.status().is_success() || resp.status() == StatusCode::NOT_FOUND => {}
                Ok(resp) => {
                    let e = failure("DELETE", &url, resp).await;
                    tracing::warn!(image = %id, error = %e, "image data left in object storage");
                }
                Err(e) => tracing::warn!(image = %id, error = %e, "image data left in object storage"),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::atomic::AtomicUsize;
    use std::sync::{Arc, Mutex};

    use axum::body::Bytes;
    use axum::extract::{Path as UrlPath, State};
    use axum::http::{HeaderMap, StatusCode as Status};
    use axum::routing::put;
    use axum::Router;
    use md5::{Digest, Md5};
    use stratus_core::service_auth::TokenSource;

    use super::*;

    /// Tokens `tok0`, `tok1` …: a new one after each `invalidate`.
    #[derive(Default)]
    struct Tokens(AtomicUsize);

    impl TokenSource for Tokens {
        fn token(&self) -> BoxFuture<'_, anyhow::Result<String>> {
            let n = self.0.load(Ordering::SeqCst);
            Box::pin(async move { Ok(format!("tok{n}")) })
        }
        fn invalidate(&self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// A tiny object store that only accepts `tok1`.
    #[derive(Default)]
    struct Fake {
        containers: Mutex<Vec<String>>,
        objects: Mutex<HashMap<String, Vec<u8>>>,
        requests: Mutex<Vec<String>>,
    }

    type S = State<Arc<Fake>>;

    fn refused(fake: &Fake, what: String, headers: &HeaderMap) -> Option<Status> {
        fake.requests.lock().unwrap().push(what);
        (headers.get("x-auth-token").and_then(|v| v.to_str().ok()) != Some("tok1"))
            .then_some(Status::UNAUTHORIZED)
    }

    async fn put_container(s: S, UrlPath((a, c)): UrlPath<(String, String)>, h: HeaderMap) -> Status {
        if let Some(st) = refused(&s, format!("PUT {a}/{c}"), &h) {
            return st;
        }
        s.containers.lock().unwrap().push(format!("{a}/{c}"));
        Status::CREATED
    }

    async fn put_object(
        s: S,
        UrlPath((a, c, o)): UrlPath<(String, String, String)>,
        h: HeaderMap,
        body: Bytes,
    ) -> Status {
        if let Some(st) = refused(&s, format!("PUT {a}/{c}/{o}"), &h) {
            return st;
        }
        if !s.containers.lock().unwrap().contains(&format!("{a}/{c}")) {
            return Status::NOT_FOUND;
        }
        let md5: String = Md5::digest(&body).iter().map(|b| format!("{b:02x}")).collect();
        if h.get("etag").and_then(|v| v.to_str().ok()) != Some(md5.as_str()) {
            return Status::UNPROCESSABLE_ENTITY;
        }
        s.objects.lock().unwrap().insert(format!("{a}/{c}/{o}"), body.to_vec());
        Status::CREATED
    }

    async fn get_object(
        s: S,
        UrlPath((a, c, o)): UrlPath<(String, String, String)>,
        h: HeaderMap,
    ) -> (Status, Vec<u8>) {
        if let Some(st) = refused(&s, format!("GET {a}/{c}/{o}"), &h) {
            return (st, vec![]);
        }
        let Some(data) = s.objects.lock().unwrap().get(&format!("{a}/{c}/{o}")).cloned() else {
            return (Status::NOT_FOUND, vec![]);
        };
        match h.get("range").and_then(|v| v.to_str().ok()).and_then(|r| r.strip_prefix("bytes=")) {
            Some(r) => {
                let (a, b) = r.split_once('-').unwrap();
                let (a, b): (usize, usize) = (a.parse().unwrap(), b.parse().unwrap());
                (Status::PARTIAL_CONTENT, data[a..=b.min(data.len() - 1)].to_vec())
            }
            None => (Status::OK, data),
        }
    }

    async fn delete_object(
        s: S,
        UrlPath((a, c, o)): UrlPath<(String, String, String)>,
        h: HeaderMap,
    ) -> Status {
        if let Some(st) = refused(&s, format!("DELETE {a}/{c}/{o}"), &h) {
            return st;
        }
        match s.objects.lock().unwrap().remove(&format!("{a}/{c}/{o}")) {
            Some(_) => Status::NO_CONTENT,
            None => Status::NOT_FOUND,
        }
    }

    async fn serve(fake: Arc<Fake>) -> String {
        let app = Router::new()
            .route("/v1/{a}/{c}", put(put_container))
            .route("/v1/{a}/{c}/{o}", put(put_object).get(get_object).delete(delete_object))
            .with_state(fake);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{addr}/v1/")
    }

    fn backend(endpoint: String, max: u64) -> SwiftBackend {
        let options = SwiftOptions {
            endpoint,
            project_id: "svc".into(),
            container: "glance".into(),
            max_object_size: max,
        };
        SwiftBackend::new(options, Arc::new(Tokens::default())).unwrap()
    }

    fn temp_file(data: &[u8]) -> std::path::PathBuf {
        let p = std::env::temp_dir().join(format!("stratus-swift-{}", uuid::Uuid::new_v4().simple()));
        std::fs::write(&p, data).unwrap();
        p
    }

    fn md5_hex(data: &[u8]) -> String {
        Md5::digest(data).iter().map(|b| format!("{b:02x}")).collect()
    }

    #[tokio::test]
    async fn put_read_and_delete_through_object_storage() {
        let fake = Arc::new(Fake::default());
        let store = backend(serve(fake.clone()).await, 1 << 20);
        assert_eq!(store.object_url("img"), format!("{}/v1/AUTH_svc/glance/img", store.endpoint));
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let file = temp_file(&data);
        store.put("img", &file, &md5_hex(&data)).await.unwrap();
        assert!(!file.exists(), "the local file is consumed");
        assert_eq!(fake.objects.lock().unwrap()["AUTH_svc/glance/img"], data);
        assert_eq!(store.size("img").await.unwrap(), data.len() as u64);

        let mut all = Vec::new();
        store.open("img", 0, data.len() as u64).await.unwrap().read_to_end(&mut all).await.unwrap();
        assert_eq!(all, data);
        let mut part = Vec::new();
        store.open("img", 1000, 10).await.unwrap().read_to_end(&mut part).await.unwrap();
        assert_eq!(part, &data[1000..1010]);

        store.delete("img").await;
        assert!(fake.objects.lock().unwrap().is_empty());
        assert_eq!(store.size("img").await.unwrap_err().kind(), io::ErrorKind::NotFound);
        assert_eq!(store.open("img", 0, 5).await.err().unwrap().kind(), io::ErrorKind::NotFound);
        store.delete("img").await; // a missing object is not an error

        let requests = fake.requests.lock().unwrap().clone();
        // The first call was refused (stale token) and retried once with a fresh one; the
        // container was created once.
        assert_eq!(requests[..2], ["PUT AUTH_svc/glance", "PUT AUTH_svc/glance"]);
        assert_eq!(requests.iter().filter(|r| *r == "PUT AUTH_svc/glance").count(), 2);
    }

    #[tokio::test]
    async fn refusals_leave_no_object() {
        let fake = Arc::new(Fake::default());
        let store = backend(serve(fake.clone()).await, 10);
        // A wrong md5 is refused by object storage.
        let file = temp_file(b"hello");
        let e = store.put("bad", &file, &md5_hex(b"other")).await.unwrap_err();
        assert!(e.to_string().contains("422"), "{e}");
        assert!(fake.objects.lock().unwrap().is_empty());
        std::fs::remove_file(file).ok();
        // A container removed behind the store's back is created again.
        fake.containers.lock().unwrap().clear();
        let file = temp_file(b"hello");
        store.put("ok", &file, &md5_hex(b"hello")).await.unwrap();
        assert_eq!(fake.objects.lock().unwrap()["AUTH_svc/glance/ok"], b"hello");
    }

    #[test]
    fn bad_settings_are_refused() {
        let auth: SharedTokenSource = Arc::new(Tokens::default());
        let opts = |endpoint: &str, container: &str| SwiftOptions {
            endpoint: endpoint.into(),
            project_id: "p".into(),
            container: container.into(),
            max_object_size: 1,
        };
        assert!(SwiftBackend::new(opts("ftp://x", "glance"), auth.clone()).is_err());
        assert!(SwiftBackend::new(opts("http://x:8080", "a/b"), auth.clone()).is_err());
        assert!(SwiftBackend::new(opts("http://x:8080", ""), auth.clone()).is_err());
        let ok = SwiftBackend::new(opts("http://x:8080/v1/", "glance"), auth).unwrap();
        assert_eq!(ok.object_url("i"), "http://x:8080/v1/AUTH_p/glance/i");
    }
}
