//! The harness of the compute API tests: a compute service (SQLite in a temp dir, no
//! placement or image service behind it) served on 127.0.0.1:0, fixed tokens for a few
//! callers, and a small HTTP client.
//!
//! Every test file is its own crate and uses a part of this module only.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{Duration, Utc};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::HeaderMap;
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use stratus_compute::{ComputeService, Dependencies};
use stratus_core::auth::{AuthContext, BoxFuture, NamedRef, ResolveOptions, TokenResolver};
use stratus_core::bus::LocalBus;
use stratus_core::config::Config;
use stratus_core::error::ApiError;
use stratus_core::http::ShutdownTrigger;
use stratus_core::service_auth::StaticToken;
use stratus_placement::client::PlacementClient;

/// Project ids of the callers.
pub const ADMIN_PROJECT: &str = "a0000000000000000000000000000000";
pub const P: &str = "p0000000000000000000000000000000";
pub const Q: &str = "q0000000000000000000000000000000";

/// Tokens (and user ids): an admin, a member and a reader of project P, a member of Q.
pub const ADMIN: &str = "admin";
pub const MEMBER_P: &str = "member-p";
pub const READER_P: &str = "reader-p";
pub const MEMBER_Q: &str = "member-q";

/// Resolves the fixed test tokens; the token is also the user id.
struct Tokens;

fn context(user: &str, project: &str, roles: &[&str]) -> AuthContext {
    let named = |id: &str| NamedRef { id: id.to_string(), name: id.to_string() };
    AuthContext {
        user: named(user),
        user_domain: named("default"),
        project: Some(named(project)),
        project_domain: Some(named("default")),
        domain: None,
        system: None,
        roles: roles.iter().map(|r| named(r)).collect(),
        methods: vec!["password".into()],
        audit_ids: vec![],
        issued_at: Utc::now(),
        expires_at: Utc::now() + Duration::hours(1),
        application_credential: None,
        is_admin_project: project == ADMIN_PROJECT,
    }
}

impl TokenResolver for Tokens {
    fn resolve<'a>(
        &'a self,
        token: &'a str,
        _: ResolveOptions,
    ) -> BoxFuture<'a, Result<Arc<AuthContext>, ApiError>> {
        Box::pin(async move {
            let ctx = match token {
                ADMIN => context(ADMIN, ADMIN_PROJECT, &["admin", "member", "reader"]),
                MEMBER_P => context(MEMBER_P, P, &["member", "reader"]),
                READER_P => context(READER_P, P, &["reader"]),
                MEMBER_Q => context(MEMBER_Q, Q, &["member", "reader"]),
                _ => {
                    return Err(ApiError::unauthorized("The request you have made requires authentication."))
                }
            };
            Ok(Arc::new(ctx))
        })
    }
}

/// A directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        let path = std::env::temp_dir().join(format!(
            "stratus-compute-it-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&path).expect("creating the temp dir");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running compute API. Stops (and forgets its data) when dropped.
pub struct Cloud {
    pub addr: SocketAddr,
    pub service: Arc<ComputeService>,
    trigger: ShutdownTrigger,
    _dir: TempDir,
}

impl Drop for Cloud {
    fn drop(&mut self) {
        self.trigger.fire();
    }
}

impl Cloud {
    pub async fn start() -> Cloud {
        Cloud::start_with(|_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> Cloud {
        let dir = TempDir::new();
        let mut config = Config { data_dir: dir.0.clone(), ..Config::default() };
        adjust(&mut config);
        // Nothing listens on port 9 (discard): calls to placement or the image service fail
        // at once, which the tested APIs must survive.
        let nowhere = "http://127.0.0.1:9".to_string();
        let deps = Dependencies {
            bus: LocalBus::new(),
            placement: PlacementClient::new(nowhere.clone(), Arc::new(StaticToken("x".into()))),
            image_url: nowhere,
            local_images: None,
            auth: Arc::new(StaticToken("x".into())),
        };
        let service = ComputeService::open(config, deps).await.expect("opening the compute service");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binding");
        let addr = listener.local_addr().expect("local address");
        let (trigger, shutdown) = ShutdownTrigger::new();
        let router = stratus_compute::api::router(service.clone(), Arc::new(Tokens));
        tokio::spawn(stratus_core::http::serve("compute", listener, router, shutdown));
        Cloud { addr, service, trigger, _dir: dir }
    }

    pub fn get(&self, path: &str) -> Req<'_> {
        self.request("GET", path)
    }
    pub fn post(&self, path: &str) -> Req<'_> {
        self.request("POST", path)
    }
    pub fn put(&self, path: &str) -> Req<'_> {
        self.request("PUT", path)
    }
    pub fn delete(&self, path: &str) -> Req<'_> {
        self.request("DELETE", path)
    }

    /// A request under `/v2.1`.
    pub fn request(&self, method: &str, path: &str) -> Req<'_> {
        Req {
            cloud: self,
            method: method.to_string(),
            path: format!("/v2.1{path}"),
            headers: vec![],
            body: None,
        }
    }

    /// Registers a compute service on `host` (as an agent's first heartbeat does).
    pub async fn add_compute_host(&self, host: &str) {
        self.service.store.report_service(host, "nova-compute", "compute", "nova").await.expect("service");
    }
}

/// One request, sent with [`Req::send`].
pub struct Req<'a> {
    cloud: &'a Cloud,
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
}

impl Req<'_> {
    pub fn token(self, token: &str) -> Self {
        self.header("x-auth-token", token)
    }

    /// `OpenStack-API-Version: compute <v>`.
    pub fn version(self, v: &str) -> Self {
        self.header("openstack-api-version", &format!("compute {v}"))
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn json(mut self, body: Value) -> Self {
        self.body = Some(serde_json::to_vec(&body).expect("json"));
        self.header("content-type", "application/json")
    }

    pub async fn send(self) -> Resp {
        let stream = tokio::net::TcpStream::connect(self.cloud.addr).await.expect("connecting");
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.expect("handshake");
        tokio::spawn(conn);
        let mut req = Request::builder()
            .method(self.method.as_str())
            .uri(&self.path)
            .header("host", self.cloud.addr.to_string());
        for (k, v) in &self.headers {
            req = req.header(k, v);
        }
        let req = req.body(Full::new(Bytes::from(self.body.unwrap_or_default()))).expect("request");
        let resp = sender.send_request(req).await.expect("sending the request");
        let (parts, body) = resp.into_parts();
        let bytes = body.collect().await.expect("reading the body").to_bytes();
        let text = String::from_utf8_lossy(&bytes).to_string();
        let body =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::Null) };
        Resp {
            method: self.method,
            path: self.path,
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
            text,
        }
    }
}

#[derive(Debug)]
pub struct Resp {
    pub method: String,
    pub path: String,
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Resp {
    /// Panics (with the body) unless the status is `status`.
    #[track_caller]
    pub fn expect(self, status: u16) -> Resp {
        assert_eq!(self.status, status, "{} {}: {}", self.method, self.path, self.text);
        self
    }

    /// Panics unless this is a nova-shaped error with that status; returns its message.
    #[track_caller]
    pub fn expect_error(self, status: u16) -> String {
        assert_eq!(self.status, status, "{} {}: {}", self.method, self.path, self.text);
        let obj = self.body.as_object().unwrap_or_else(|| panic!("no error body: {}", self.text));
        assert_eq!(obj.len(), 1, "one key in {}", self.text);
        let inner = obj.values().next().expect("inner");
        assert_eq!(inner["code"], status, "{}", self.text);
        inner["message"].as_str().expect("message").to_string()
    }
}
