//! The compute side of `stratus up`: the compute API, its conductor and the in-process
//! simulated hosts (fake compute agents), all on the local bus.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use stratus_compute::{ComputeService, Dependencies};
use stratus_compute_agent::driver::fake::{FakeDriver, FakeOptions};
use stratus_compute_agent::{Agent, AgentOptions};
use stratus_core::bus::SharedBus;
use stratus_core::config::Config;
use stratus_core::http::Shutdown;
use stratus_core::service_auth::{PasswordAuth, ServiceCredentials, SharedTokenSource};
use stratus_identity::Identity;
use stratus_placement::client::PlacementClient;

/// The service user the compute service and its agents call placement and image as.
pub const SERVICE_USER: &str = "nova";

/// The compute service user's token source, over this node's identity API.
pub async fn service_auth(identity: &Identity, config: &Config) -> anyhow::Result<SharedTokenSource> {
    let password = identity.ensure_service_user(SERVICE_USER).await.context("creating the nova service user")?;
    Ok(PasswordAuth::new(ServiceCredentials {
        auth_url: format!("{}/v3", config.local_url(&config.identity.listen)),
        username: SERVICE_USER.into(),
        password,
        project_name: "service".into(),
        user_domain_id: "default".into(),
        project_domain_id: "default".into(),
    }))
}

pub async fn open(config: &Config, bus: SharedBus, auth: SharedTokenSource) -> anyhow::Result<Arc<ComputeService>> {
    let deps = Dependencies {
        bus,
        placement: PlacementClient::new(config.local_url(&config.placement.listen), auth.clone()),
        image_url: config.local_url(&config.image.listen),
        auth,
    };
    ComputeService::open(config.clone(), deps).await.context("opening the compute service")
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
