//! The harness of the placement integration tests: a fresh placement service (SQLite in a temp
//! dir) served on 127.0.0.1:0, a token resolver with fixed tokens, and a small HTTP client.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::Value;
use stratus_core::auth::{AuthContext, BoxFuture, NamedRef, ResolveOptions, SharedResolver, TokenResolver};
use stratus_core::config::Config;
use stratus_core::error::ApiError;
use stratus_core::http::ShutdownTrigger;
use stratus_placement::PlacementService;

pub const ADMIN: &str = "admin-token";
pub const SERVICE: &str = "service-token";
pub const MEMBER: &str = "member-token";
pub const READER: &str = "reader-token";
pub const LATEST: &str = "placement 1.39";

/// Fixed tokens: admin (admin on project p-admin), service (service role), member and reader
/// of project p-member.
pub struct TestResolver;

fn named(id: &str) -> NamedRef {
    NamedRef { id: id.into(), name: id.into() }
}

pub fn context(user: &str, project: &str, roles: &[&str]) -> AuthContext {
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
        issued_at: chrono::Utc::now(),
        expires_at: chrono::Utc::now() + chrono::Duration::hours(1),
        application_credential: None,
        is_admin_project: false,
    }
}

impl TokenResolver for TestResolver {
    fn resolve<'a>(
        &'a self,
        token: &'a str,
        _: ResolveOptions,
    ) -> BoxFuture<'a, Result<Arc<AuthContext>, ApiError>> {
        Box::pin(async move {
            let ctx = match token {
                ADMIN => context("u-admin", "p-admin", &["admin", "member", "reader"]),
                SERVICE => context("u-nova", "p-service", &["service"]),
                MEMBER => context("u-member", "p-member", &["member", "reader"]),
                READER => context("u-reader", "p-member", &["reader"]),
                _ => {
                    return Err(ApiError::unauthorized("The request you have made requires authentication."))
                }
            };
            Ok(Arc::new(ctx))
        })
    }
}

/// With `STRATUS_TEST_MYSQL_URL` (`mysql://user:password@host:3306/`) the tests run on a
/// fresh MariaDB database each (dropped afterwards) instead of SQLite.
fn mysql_database() -> Option<(String, String)> {
    let base = std::env::var("STRATUS_TEST_MYSQL_URL").ok().filter(|u| !u.is_empty())?;
    let name = format!("stratus_placement_it_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    Some((format!("{}/{name}", base.trim_end_matches('/')), name))
}

fn drop_mysql_database(url: String, name: String) {
    // Drop runs outside async code: a thread with its own runtime.
    let _ = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(async move {
            sqlx::any::install_default_drivers();
            let server = url.trim_end_matches(&name).to_string();
            if let Ok(pool) = sqlx::AnyPool::connect(&server).await {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS `{name}`")).execute(&pool).await;
                pool.close().await;
            }
        })
    })
    .join();
}

pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        let path =
            std::env::temp_dir().join(format!("stratus-placement-it-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&path).expect("temp dir");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running placement service. Stops (and forgets its data) when dropped.
pub struct Cloud {
    pub config: Config,
    pub addr: SocketAddr,
    pub service: Arc<PlacementService>,
    pub http: reqwest::Client,
    trigger: ShutdownTrigger,
    mysql: Option<(String, String)>,
    _dir: TempDir,
}

impl Drop for Cloud {
    fn drop(&mut self) {
        self.trigger.fire();
        if let Some((url, name)) = self.mysql.take() {
            drop_mysql_database(url, name);
        }
    }
}

impl Cloud {
    pub async fn start() -> Cloud {
        let dir = TempDir::new();
        let mut config = Config { data_dir: dir.0.clone(), ..Config::default() };
        config.placement.listen = "127.0.0.1:0".into();
        let mysql = mysql_database();
        if let Some((url, _)) = &mysql {
            config.placement.database_url = url.clone();
        }
        let service = PlacementService::open(config.clone()).await.expect("opening placement");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binding");
        let addr = listener.local_addr().expect("address");
        let (trigger, shutdown) = ShutdownTrigger::new();
        let resolver: SharedResolver = Arc::new(TestResolver);
        let router = stratus_placement::api::router(service.clone(), resolver);
        tokio::spawn(stratus_core::http::serve("placement", listener, router, shutdown));
        let http = reqwest::Client::builder().pool_max_idle_per_host(64).build().expect("client");
        Cloud { config, addr, service, http, trigger, mysql, _dir: dir }
    }

    /// A second placement service on the same database, as another process would run it:
    /// (its address, the trigger that stops it).
    pub async fn second(&self) -> (SocketAddr, Arc<PlacementService>, ShutdownTrigger) {
        let service = PlacementService::open(self.config.clone()).await.expect("opening placement again");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binding");
        let addr = listener.local_addr().expect("address");
        let (trigger, shutdown) = ShutdownTrigger::new();
        let router = stratus_placement::api::router(service.clone(), Arc::new(TestResolver));
        tokio::spawn(stratus_core::http::serve("placement", listener, router, shutdown));
        (addr, service, trigger)
    }

    /// The same request sent to another address.
    pub fn to(&self, addr: SocketAddr, req: Req) -> Req {
        let path = req.url.trim_start_matches(&self.url()).to_string();
        Req { url: format!("http://{addr}{path}"), ..req }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A request as the admin at the latest microversion.
    pub fn req(&self, method: &str, path: &str) -> Req {
        Req {
            http: self.http.clone(),
            method: method.parse().expect("method"),
            url: format!("{}{}", self.url(), path),
            token: Some(ADMIN.to_string()),
            version: Some(LATEST.to_string()),
            body: None,
        }
    }

    pub fn get(&self, path: &str) -> Req {
        self.req("GET", path)
    }
    pub fn post(&self, path: &str, body: Value) -> Req {
        self.req("POST", path).json(body)
    }
    pub fn put(&self, path: &str, body: Value) -> Req {
        self.req("PUT", path).json(body)
    }
    pub fn delete(&self, path: &str) -> Req {
        self.req("DELETE", path)
    }

    // ---- shortcuts ----

    /// Creates a provider; returns its uuid.
    pub async fn provider(&self, name: &str) -> String {
        let r = self.post("/resource_providers", serde_json::json!({"name": name})).send().await.expect(200);
        r.body["uuid"].as_str().unwrap().to_string()
    }

    pub async fn child(&self, name: &str, parent: &str) -> String {
        let body = serde_json::json!({"name": name, "parent_provider_uuid": parent});
        let r = self.post("/resource_providers", body).send().await.expect(200);
        r.body["uuid"].as_str().unwrap().to_string()
    }

    pub async fn generation(&self, rp: &str) -> i64 {
        self.get(&format!("/resource_providers/{rp}")).send().await.expect(200).body["generation"]
            .as_i64()
            .unwrap()
    }

    /// Replaces the provider's inventories (`inventories` is the `inventories` object).
    pub async fn inventory(&self, rp: &str, inventories: Value) -> Resp {
        let generation = self.generation(rp).await;
        let body =
            serde_json::json!({"resource_provider_generation": generation, "inventories": inventories});
        self.put(&format!("/resource_providers/{rp}/inventories"), body).send().await
    }

    pub async fn traits(&self, rp: &str, traits: &[&str]) -> Resp {
        let generation = self.generation(rp).await;
        let body = serde_json::json!({"resource_provider_generation": generation, "traits": traits});
        self.put(&format!("/resource_providers/{rp}/traits"), body).send().await
    }

    pub async fn aggregates(&self, rp: &str, aggs: &[&str]) -> Resp {
        let generation = self.generation(rp).await;
        let body = serde_json::json!({"resource_provider_generation": generation, "aggregates": aggs});
        self.put(&format!("/resource_providers/{rp}/aggregates"), body).send().await
    }

    /// PUT /allocations/{consumer} at 1.39.
    pub async fn claim(&self, consumer: &str, allocations: Value, generation: Option<i64>) -> Resp {
        let body = serde_json::json!({
            "allocations": allocations, "project_id": "p1", "user_id": "u1",
            "consumer_generation": generation, "consumer_type": "INSTANCE",
        });
        self.put(&format!("/allocations/{consumer}"), body).send().await
    }

    pub async fn candidates(&self, query: &str) -> Value {
        self.get(&format!("/allocation_candidates?{query}")).send().await.expect(200).body
    }
}

pub struct Req {
    http: reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: Option<String>,
    version: Option<String>,
    body: Option<Value>,
}

impl Req {
    pub fn token(mut self, token: Option<&str>) -> Req {
        self.token = token.map(str::to_string);
        self
    }
    pub fn as_(self, token: &str) -> Req {
        self.token(Some(token))
    }
    /// `None` sends no version header (the minimum, 1.0); `Some("1.20")`.
    pub fn version(mut self, v: Option<&str>) -> Req {
        self.version = v.map(|v| format!("placement {v}"));
        self
    }
    pub fn json(mut self, body: Value) -> Req {
        self.body = Some(body);
        self
    }

    pub async fn send(self) -> Resp {
        let mut r = self.http.request(self.method, &self.url);
        if let Some(t) = self.token {
            r = r.header("x-auth-token", t);
        }
        if let Some(v) = self.version {
            r = r.header("openstack-api-version", v);
        }
        if let Some(b) = self.body {
            r = r.json(&b);
        }
        let resp = r.send().await.expect("request");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp { status, headers, body, text }
    }
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Resp {
    /// Asserts the status; returns self for chaining.
    #[track_caller]
    pub fn expect(self, status: u16) -> Resp {
        assert_eq!(self.status, status, "unexpected status; body: {}", self.text);
        self
    }

    /// The placement error code of an error answer.
    pub fn code(&self) -> &str {
        self.body["errors"][0]["code"].as_str().unwrap_or("")
    }
}

pub fn new_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}
