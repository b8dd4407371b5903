//! The harness of the identity integration tests: a fresh identity service (SQLite in a temp
//! dir, bootstrapped, bcrypt cost 4) served on 127.0.0.1:0, and a small HTTP client.
//!
//! Every test file is its own crate and uses a part of this module only.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::HeaderMap;
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use stratus_core::config::Config;
use stratus_core::http::ShutdownTrigger;
use stratus_identity::Identity;

pub const ADMIN_PASSWORD: &str = "admin-secret";

/// A directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        let path = std::env::temp_dir().join(format!(
            "stratus-identity-it-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&path).expect("creating the temp dir");
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The configuration of a test cloud living in `dir`.
pub fn config_in(dir: &Path) -> Config {
    let mut config = Config { data_dir: dir.to_path_buf(), ..Config::default() };
    config.identity.listen = "127.0.0.1:0".into();
    config.identity.password_hash_rounds = 4;
    config
}

/// A running identity service. Stops (and forgets its data) when dropped.
pub struct Cloud {
    pub addr: SocketAddr,
    pub identity: Arc<Identity>,
    trigger: ShutdownTrigger,
    // Last: the directory goes once everything else is dropped.
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

    /// Starts a cloud whose configuration `adjust` may change first (its `data_dir` is
    /// already the cloud's own temp dir, so files such as a policy file can go there).
    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> Cloud {
        let dir = TempDir::new();
        let mut config = config_in(dir.path());
        adjust(&mut config);
        let identity = Identity::open(config).await.expect("opening the identity service");
        identity.bootstrap(Some(ADMIN_PASSWORD), &[]).await.expect("bootstrap");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binding");
        let addr = listener.local_addr().expect("local address");
        let (trigger, shutdown) = ShutdownTrigger::new();
        let router = stratus_identity::api::router(identity.clone());
        tokio::spawn(stratus_core::http::serve("identity", listener, router, shutdown));
        Cloud { addr, identity, trigger, _dir: dir }
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
    pub fn patch(&self, path: &str) -> Req<'_> {
        self.request("PATCH", path)
    }
    pub fn delete(&self, path: &str) -> Req<'_> {
        self.request("DELETE", path)
    }

    pub fn request(&self, method: &str, path: &str) -> Req<'_> {
        Req { cloud: self, method: method.to_string(), path: path.to_string(), headers: vec![], body: None }
    }

    // ---- tokens ----

    /// `POST /v3/auth/tokens` with a password; `scope` is the `auth.scope` value (Null for none).
    pub async fn password_auth(&self, user_id: &str, password: &str, scope: Value) -> Resp {
        self.post("/v3/auth/tokens").json(auth_body(user_id, password, scope)).send().await
    }

    /// A token of the user for the scope; panics unless it is issued.
    pub async fn token(&self, user_id: &str, password: &str, scope: Value) -> String {
        self.password_auth(user_id, password, scope).await.expect(201).subject_token()
    }

    /// The bootstrap admin's token on the admin project.
    pub async fn admin_token(&self) -> String {
        let body = json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": "admin", "domain": {"id": "default"}, "password": ADMIN_PASSWORD}}},
            "scope": {"project": {"name": "admin", "domain": {"id": "default"}}},
        }});
        self.post("/v3/auth/tokens").json(body).send().await.expect(201).subject_token()
    }

    /// `GET /v3/auth/tokens` of `subject` as `caller`.
    pub async fn validate(&self, caller: &str, subject: &str) -> Resp {
        self.get("/v3/auth/tokens").token(caller).header("x-subject-token", subject).send().await
    }

    // ---- resources (as the admin whose token is given) ----

    pub async fn create_user(&self, admin: &str, name: &str, password: &str) -> String {
        self.create_user_with(admin, json!({"name": name, "password": password})).await
    }

    pub async fn create_user_with(&self, admin: &str, user: Value) -> String {
        let r = self.post("/v3/users").token(admin).json(json!({ "user": user })).send().await;
        id_of(&r.expect(201).body["user"])
    }

    pub async fn create_project(&self, admin: &str, name: &str) -> String {
        self.create_project_with(admin, json!({ "name": name })).await
    }

    pub async fn create_project_with(&self, admin: &str, project: Value) -> String {
        let r = self.post("/v3/projects").token(admin).json(json!({ "project": project })).send().await;
        id_of(&r.expect(201).body["project"])
    }

    pub async fn create_role(&self, admin: &str, name: &str) -> String {
        let r = self.post("/v3/roles").token(admin).json(json!({"role": {"name": name}})).send().await;
        id_of(&r.expect(201).body["role"])
    }

    pub async fn create_domain(&self, admin: &str, name: &str) -> String {
        let r = self.post("/v3/domains").token(admin).json(json!({"domain": {"name": name}})).send().await;
        id_of(&r.expect(201).body["domain"])
    }

    pub async fn create_group(&self, admin: &str, name: &str) -> String {
        let r = self.post("/v3/groups").token(admin).json(json!({"group": {"name": name}})).send().await;
        id_of(&r.expect(201).body["group"])
    }

    /// The id of the global role of that name.
    pub async fn role_id(&self, admin: &str, name: &str) -> String {
        let r = self.get(&format!("/v3/roles?name={name}")).token(admin).send().await.expect(200);
        let roles = r.body["roles"].as_array().expect("roles");
        assert_eq!(roles.len(), 1, "one role named {name}: {roles:?}");
        id_of(&roles[0])
    }

    /// `PUT /v3/{target}/{target_id}/users/{user}/roles/{role}`, e.g. target "projects".
    pub async fn grant(&self, admin: &str, target: &str, target_id: &str, user: &str, role: &str) {
        self.put(&format!("/v3/{target}/{target_id}/users/{user}/roles/{role}"))
            .token(admin)
            .send()
            .await
            .expect(204);
    }

    /// A new user with a role on a new project: (user id, project id).
    pub async fn member_of_new_project(&self, admin: &str, name: &str, role: &str) -> (String, String) {
        let project = self.create_project(admin, &format!("{name}-project")).await;
        let user = self.create_user(admin, name, &format!("{name}-pw")).await;
        let role = self.role_id(admin, role).await;
        self.grant(admin, "projects", &project, &user, &role).await;
        (user, project)
    }
}

pub fn auth_body(user_id: &str, password: &str, scope: Value) -> Value {
    let mut auth = json!({"identity": {"methods": ["password"],
                          "password": {"user": {"id": user_id, "password": password}}}});
    if !scope.is_null() {
        auth["scope"] = scope;
    }
    json!({ "auth": auth })
}

pub fn project_scope(id: &str) -> Value {
    json!({"project": {"id": id}})
}

pub fn domain_scope(id: &str) -> Value {
    json!({"domain": {"id": id}})
}

pub fn system_scope() -> Value {
    json!({"system": {"all": true}})
}

pub fn id_of(v: &Value) -> String {
    v["id"].as_str().unwrap_or_else(|| panic!("no id in {v}")).to_string()
}

/// The names of the roles in a token body.
pub fn role_names(token_body: &Value) -> Vec<String> {
    let mut names: Vec<String> = token_body["token"]["roles"]
        .as_array()
        .unwrap_or_else(|| panic!("no roles in {token_body}"))
        .iter()
        .map(|r| r["name"].as_str().expect("role name").to_string())
        .collect();
    names.sort();
    names
}

/// The ids of the objects in `body[key]`.
pub fn ids(body: &Value, key: &str) -> Vec<String> {
    body[key].as_array().unwrap_or_else(|| panic!("no list {key} in {body}")).iter().map(id_of).collect()
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

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn json(self, body: Value) -> Self {
        self.raw(serde_json::to_vec(&body).expect("json"), "application/json")
    }

    pub fn raw(mut self, body: Vec<u8>, content_type: &str) -> Self {
        self.body = Some(body);
        self.header("content-type", content_type)
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

pub struct Resp {
    pub method: String,
    pub path: String,
    pub status: u16,
    pub headers: HeaderMap,
    /// The body as JSON; Null when empty or not JSON (see `text`).
    pub body: Value,
    pub text: String,
}

impl Resp {
    /// Panics, showing the body, unless the status is `status`.
    #[track_caller]
    pub fn expect(self, status: u16) -> Self {
        assert_eq!(
            self.status, status,
            "{} {} answered {} instead of {status}: {}",
            self.method, self.path, self.status, self.text
        );
        self
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
    }

    #[track_caller]
    pub fn subject_token(&self) -> String {
        self.header("x-subject-token").expect("an X-Subject-Token header")
    }

    /// `error.message` of a keystone error body.
    #[track_caller]
    pub fn error_message(&self) -> String {
        self.body["error"]["message"]
            .as_str()
            .unwrap_or_else(|| panic!("not an error body: {}", self.text))
            .to_string()
    }
}
