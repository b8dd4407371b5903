//! The harness of the object-storage integration tests: a fresh service (its own data dir)
//! served on 127.0.0.1:0, a token resolver with fixed tokens, and a reqwest client.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use stratus_core::auth::{AuthContext, BoxFuture, NamedRef, ResolveOptions, SharedResolver, TokenResolver};
use stratus_core::config::Config;
use stratus_core::error::ApiError;
use stratus_core::http::ShutdownTrigger;
use stratus_object_storage::ObjectStorage;

/// Admin of the admin project (reseller admin: every account).
pub const ADMIN: &str = "admin-token";
/// Member of project `pa` (owns `AUTH_pa`).
pub const ALICE: &str = "alice-token";
/// Reader of project `pa`.
pub const RITA: &str = "rita-token";
/// Member of project `pb`.
pub const BOB: &str = "bob-token";

pub const ACCOUNT_A: &str = "AUTH_pa";
pub const ACCOUNT_B: &str = "AUTH_pb";

fn named(id: &str) -> NamedRef {
    NamedRef { id: id.into(), name: format!("{id}-name") }
}

pub fn context(user: &str, project: &str, roles: &[&str], admin_project: bool) -> AuthContext {
    AuthContext {
        user: named(user),
        user_domain: named("default"),
        project: Some(named(project)),
        project_domain: Some(named("default")),
        domain: None,
        system: None,
        roles: roles.iter().map(|r| NamedRef { id: r.to_string(), name: r.to_string() }).collect(),
        methods: vec!["password".into()],
        audit_ids: vec![],
        issued_at: chrono::Utc::now(),
        expires_at: chrono::Utc::now() + chrono::Duration::hours(1),
        application_credential: None,
        is_admin_project: admin_project,
    }
}

pub struct TestResolver;

impl TokenResolver for TestResolver {
    fn resolve<'a>(
        &'a self,
        token: &'a str,
        _: ResolveOptions,
    ) -> BoxFuture<'a, Result<Arc<AuthContext>, ApiError>> {
        Box::pin(async move {
            let ctx = match token {
                ADMIN => context("admin", "admin", &["admin", "member", "reader"], true),
                ALICE => context("alice", "pa", &["member", "reader"], false),
                RITA => context("rita", "pa", &["reader"], false),
                BOB => context("bob", "pb", &["member", "reader"], false),
                _ => {
                    return Err(ApiError::unauthorized("The request you have made requires authentication."))
                }
            };
            Ok(Arc::new(ctx))
        })
    }
}

pub struct Server {
    pub base: String,
    pub data_dir: PathBuf,
    pub service: Arc<ObjectStorage>,
    pub http: reqwest::Client,
    trigger: Option<ShutdownTrigger>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

pub fn config(data_dir: &std::path::Path) -> Config {
    let mut config = Config { data_dir: data_dir.to_path_buf(), ..Config::default() };
    config.object_storage.part_power = 6;
    config
}

impl Server {
    /// A fresh service in a new data dir.
    pub async fn start(name: &str) -> Server {
        let data_dir =
            std::env::temp_dir().join(format!("stratus-os-{name}-{}", uuid::Uuid::new_v4().simple()));
        Self::start_in(data_dir).await
    }

    /// A service on an existing data dir (after a restart or a simulated crash).
    pub async fn start_in(data_dir: PathBuf) -> Server {
        std::fs::create_dir_all(&data_dir).unwrap();
        let service = ObjectStorage::open(config(&data_dir)).await.expect("object storage opens");
        let resolver: SharedResolver = Arc::new(TestResolver);
        let router = stratus_object_storage::api::router(service.clone(), resolver);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (trigger, shutdown) = ShutdownTrigger::new();
        let task = tokio::spawn(stratus_core::http::serve("object-storage", listener, router, shutdown));
        Server {
            base,
            data_dir,
            service,
            http: reqwest::Client::new(),
            trigger: Some(trigger),
            task: Some(task),
        }
    }

    /// `http://…/v1/<account>/<path>`
    pub fn url(&self, account: &str, path: &str) -> String {
        if path.is_empty() {
            format!("{}/v1/{account}", self.base)
        } else {
            format!("{}/v1/{account}/{}", self.base, path.trim_start_matches('/'))
        }
    }

    pub fn req(&self, method: &str, url: &str, token: Option<&str>) -> reqwest::RequestBuilder {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let r = self.http.request(m, url);
        match token {
            Some(t) => r.header("x-auth-token", t),
            None => r,
        }
    }

    /// Stops serving; `clean` records a clean shutdown (false: as after a crash).
    pub async fn stop(mut self, clean: bool) -> PathBuf {
        if let Some(t) = self.trigger.take() {
            t.fire();
        }
        if let Some(task) = self.task.take() {
            task.await.ok();
        }
        if clean {
            self.service.close().await;
        } else {
            self.service.listings.close().await;
        }
        self.data_dir.clone()
    }
}
