//! The compute service (nova): the API, the scheduler and the conductor.
//!
//! `api` is HTTP only; `model` holds the server state machine; `store` is the only SQL;
//! `scheduler` picks hosts (filters and weighers over placement's candidates); `conductor` is
//! the only writer of instance state and runs every multi-step operation, talking to compute
//! agents over the bus.

pub mod aggregates;
pub mod api;
pub mod conductor;
pub mod expiring;
pub mod extra_specs;
pub mod image_client;
pub mod keys;
pub mod liveness;
pub mod model;
pub mod policy_defaults;
pub mod quota;
pub mod scheduler;
pub mod store;
pub mod zones;

use std::sync::Arc;

use serde_json::{json, Value};
use stratus_core::auth::AuthContext;
use stratus_core::bus::SharedBus;
use stratus_core::config::Config;
use stratus_core::db::Db;
use stratus_core::error::ApiError;
use stratus_core::policy::Policy;
use stratus_core::service_auth::SharedTokenSource;
use stratus_placement::client::PlacementClient;

use crate::image_client::LocalImages;
use crate::scheduler::Scheduler;
use crate::store::Store;

pub use stratus_core::error::ApiResult;

/// How the compute service reaches the services it depends on.
pub struct Dependencies {
    pub bus: SharedBus,
    pub placement: PlacementClient,
    /// Base URL of the image API (`http://host:9292`).
    pub image_url: String,
    /// The image service, when it runs in this process: images are then read without HTTP.
    pub local_images: Option<Arc<dyn LocalImages>>,
    /// The compute service user's token, for calls to other services.
    pub auth: SharedTokenSource,
}

pub struct ComputeService {
    pub config: Config,
    pub store: Store,
    pub policy: Policy,
    pub bus: SharedBus,
    pub placement: PlacementClient,
    pub image_url: String,
    pub local_images: Option<Arc<dyn LocalImages>>,
    pub auth: SharedTokenSource,
    pub http: reqwest::Client,
    pub scheduler: Scheduler,
    pub liveness: liveness::HostLiveness,
    /// Serializes quota checks with the inserts they guard, so concurrent creates cannot
    /// together exceed a quota.
    pub quota_lock: tokio::sync::Mutex<()>,
}

impl ComputeService {
    pub async fn open(config: Config, deps: Dependencies) -> anyhow::Result<Arc<ComputeService>> {
        let url = config.database_url("compute", &config.compute.database_url);
        let store = Store::open(Db::connect(&url).await?).await?;
        let policy = Policy::new(crate::policy_defaults::DEFAULTS)?;
        let http = reqwest::Client::builder().build()?;
        let scheduler = Scheduler::new(
            config.scheduler.clone(),
            config.compute.service_down_time,
            store.clone(),
            deps.placement.clone(),
        )?;
        let config_down_time = config.compute.service_down_time;
        Ok(Arc::new(ComputeService {
            config,
            store,
            policy,
            bus: deps.bus,
            placement: deps.placement,
            image_url: deps.image_url,
            local_images: deps.local_images,
            auth: deps.auth,
            http,
            scheduler,
            liveness: liveness::HostLiveness::new(config_down_time),
            quota_lock: tokio::sync::Mutex::new(()),
        }))
    }

    /// Host facts changed (a service registered, came back, was disabled, forced down or
    /// deleted; an aggregate changed): the scheduler's and `host_status`'s caches are dropped.
    pub fn hosts_changed(&self) {
        self.scheduler.invalidate();
        self.liveness.invalidate();
    }

    pub fn is_admin(&self, ctx: &AuthContext) -> bool {
        self.policy.enforce("context_is_admin", &ctx.credentials(), &json!({}))
    }

    /// Checks a nova policy rule; the target names the owning project (and user) of the
    /// resource, as nova's `{"project_id": ..., "user_id": ...}`.
    pub fn authorize(&self, ctx: &AuthContext, rule: &str, target: &Value) -> ApiResult<()> {
        if self.policy.enforce(rule, &ctx.credentials(), target) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!("Policy doesn't allow {rule} to be performed.")))
        }
    }

    /// The usual target: the caller's own project and user.
    pub fn own_target(ctx: &AuthContext) -> Value {
        json!({"project_id": ctx.project_id(), "user_id": ctx.user.id})
    }
}
