//! The compute side of `stratus up`: the compute API, its conductor and the in-process
//! simulated hosts (fake compute agents), all on the local bus.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use serde_json::Value;
use stratus_compute::image_client::LocalImages;
use stratus_compute::{ComputeService, Dependencies};
use stratus_compute_agent::driver::fake::{FakeDriver, FakeOptions};
use stratus_compute_agent::{Agent, AgentOptions};
use stratus_core::auth::{AuthContext, BoxFuture};
use stratus_core::bus::SharedBus;
use stratus_core::config::Config;
use stratus_core::error::ApiResult;
use stratus_core::http::Shutdown;
use stratus_core::service_auth::{PasswordAuth, ServiceCredentials, SharedTokenSource};
use stratus_identity::Identity;
use stratus_image::service::ImageService;
use stratus_placement::client::PlacementClient;
use stratus_placement::PlacementService;

/// The service user the compute service and its agents call placement and image as.
pub const SERVICE_USER: &str = "nova";

/// The compute service user's token source, over this node's identity API.
pub async fn service_auth(identity: &Identity, config: &Config) -> anyhow::Result<SharedTokenSource> {
    let password =
        identity.ensure_service_user(SERVICE_USER).await.context("creating the nova service user")?;
    Ok(nova_user(format!("{}/v3", config.local_url(&config.identity.listen)), password))
}

fn nova_user(auth_url: String, password: String) -> SharedTokenSource {
    PasswordAuth::new(ServiceCredentials {
        auth_url,
        username: SERVICE_USER.into(),
        password,
        project_name: "service".into(),
        user_domain_id: "default".into(),
        project_domain_id: "default".into(),
    })
}

/// The bus of this node: in-process, or RabbitMQ when `bus.transport_url` names one.
pub async fn connect_bus(config: &Config) -> anyhow::Result<SharedBus> {
    if config.bus.transport_url.is_empty() {
        return Ok(stratus_core::bus::LocalBus::new());
    }
    let bus = stratus_core::bus_amqp::connect(&config.bus.transport_url).await.with_context(|| {
        format!("connecting to the message bus at {}", stratus_core::db::redact(&config.bus.transport_url))
    })?;
    Ok(bus)
}

/// `stratus agent compute`: one compute agent in its own process, reaching the controller
/// only through the message bus (RabbitMQ) and the identity and placement REST APIs.
pub async fn run_agent(config: Config) -> anyhow::Result<()> {
    if config.bus.transport_url.is_empty() {
        anyhow::bail!(
            "a compute agent in its own process needs the controller's message bus: \
             set --transport-url amqp://user:password@controller:5672/ (bus.transport_url)"
        );
    }
    let a = &config.compute_agent;
    let password_file = if a.password_file.is_empty() {
        config.data_dir.join(format!("{SERVICE_USER}-service-password"))
    } else {
        std::path::PathBuf::from(&a.password_file)
    };
    let password = std::fs::read_to_string(&password_file)
        .with_context(|| {
            format!(
                "reading the nova service user's password from {} (copy it from the controller's \
                 data dir, or set compute_agent.password_file)",
                password_file.display()
            )
        })?
        .trim()
        .to_string();
    let auth_url = if a.auth_url.is_empty() {
        format!("{}/v3", config.local_url(&config.identity.listen))
    } else {
        a.auth_url.clone()
    };
    let placement_url = if a.placement_url.is_empty() {
        config.local_url(&config.placement.listen)
    } else {
        a.placement_url.clone()
    };
    let auth = nova_user(auth_url, password);
    let bus = connect_bus(&config).await?;
    let host = config.agent_host();
    let driver: Arc<dyn stratus_compute_agent::driver::Driver> = match a.driver.as_str() {
        "fake" => Arc::new(fake_driver(&config, &host)),
        other => anyhow::bail!("unknown compute driver {other:?} (this build has: fake)"),
    };
    let agent = Agent::new(
        agent_options(&config, host.clone()),
        bus,
        driver,
        PlacementClient::new(placement_url, auth.clone()),
        auth,
    );
    println!(
        "compute agent {host} ({}) on {}",
        a.driver,
        stratus_core::db::redact(&config.bus.transport_url)
    );
    let (trigger, shutdown) = stratus_core::http::ShutdownTrigger::new();
    let running = tokio::spawn(agent.run(shutdown));
    crate::services::wait_for_signal().await;
    trigger.fire();
    running.await.context("agent task")?
}

/// The compute service; `placement` and `image` run in this process, so the scheduler's
/// candidates, claims and releases call placement directly (see `stratus_placement::client`)
/// and boots read their image without HTTP.
pub async fn open(
    config: &Config,
    bus: SharedBus,
    auth: SharedTokenSource,
    placement: Arc<PlacementService>,
    image: Arc<ImageService>,
) -> anyhow::Result<Arc<ComputeService>> {
    let deps = Dependencies {
        bus,
        placement: PlacementClient::new(config.local_url(&config.placement.listen), auth.clone())
            .in_process(placement),
        image_url: config.local_url(&config.image.listen),
        local_images: Some(Arc::new(LocalImageService(image))),
        auth,
    };
    ComputeService::open(config.clone(), deps).await.context("opening the compute service")
}

/// The image service of this process, as the compute service reads images (no HTTP).
struct LocalImageService(Arc<ImageService>);

impl LocalImages for LocalImageService {
    fn show<'a>(&'a self, ctx: &'a AuthContext, id: &'a str) -> BoxFuture<'a, ApiResult<Value>> {
        Box::pin(stratus_image::api::show_image(&self.0, ctx, id))
    }
}

/// The options of a compute agent on `host`, from the config.
pub fn agent_options(config: &Config, host: String) -> AgentOptions {
    let a = &config.compute_agent;
    AgentOptions {
        host,
        availability_zone: a.availability_zone.clone(),
        report_interval: Duration::from_secs(a.report_interval.max(1)),
        sync_power_state_interval: Duration::from_secs(a.sync_power_state_interval.max(1)),
        cpu_allocation_ratio: config.scheduler.cpu_allocation_ratio,
        ram_allocation_ratio: config.scheduler.ram_allocation_ratio,
        disk_allocation_ratio: config.scheduler.disk_allocation_ratio,
    }
}

/// A fake driver sized from the config, failing if `host` is listed in `fake_failing_hosts`.
pub fn fake_driver(config: &Config, host: &str) -> FakeDriver {
    let a = &config.compute_agent;
    FakeDriver::new(FakeOptions {
        vcpus: a.fake_vcpus,
        memory_mb: a.fake_memory_mb,
        disk_gb: a.fake_disk_gb,
        fail_spawns: a.fake_failing_hosts.split(',').map(str::trim).any(|h| h == host),
        spawn_delay: Duration::from_millis(a.fake_spawn_delay_ms),
    })
}

/// Starts `compute_agent.fake_hosts` simulated hosts, `fake1` … `fakeN`.
pub fn spawn_fake_agents(
    config: &Config,
    bus: &SharedBus,
    auth: &SharedTokenSource,
    shutdown: &Shutdown,
) -> Vec<tokio::task::JoinHandle<anyhow::Result<()>>> {
    let placement = PlacementClient::new(config.local_url(&config.placement.listen), auth.clone());
    (1..=config.compute_agent.fake_hosts)
        .map(|i| {
            let host = format!("fake{i}");
            let driver = Arc::new(fake_driver(config, &host));
            let agent =
                Agent::new(agent_options(config, host), bus.clone(), driver, placement.clone(), auth.clone());
            tokio::spawn(agent.run(shutdown.clone()))
        })
        .collect()
}
