//! The compute agent (nova-compute): runs the instances of one host through a virt driver.
//!
//! It registers its host as a `nova-compute` service and heartbeats over the bus, reports the
//! host's resources to placement as a resource provider, carries out what the conductor asks
//! (`rpc::AgentRequest`) and reports the hypervisor's power states periodically. It never
//! touches a database. In `stratus up` agents run in-process on the local bus; on other hosts
//! `stratus agent compute` runs one over RabbitMQ.

pub mod driver;
pub mod rpc;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use stratus_core::bus::{Incoming, Message, SharedBus, Target};
use stratus_core::http::Shutdown;
use stratus_core::service_auth::SharedTokenSource;
use stratus_placement::client::{Inventory, PlacementClient};

use crate::driver::{Driver, DriverError};
use crate::rpc::{
    AgentRequest, ConductorRequest, InstanceInfo, NodeReport, AGENT_TOPIC, CONDUCTOR_TOPIC, VERSION,
};

/// How an agent is set up.
#[derive(Debug, Clone)]
pub struct AgentOptions {
    pub host: String,
    pub availability_zone: String,
    pub report_interval: Duration,
    pub sync_power_state_interval: Duration,
    pub cpu_allocation_ratio: f64,
    pub ram_allocation_ratio: f64,
    pub disk_allocation_ratio: f64,
}

pub struct Agent {
    pub options: AgentOptions,
    bus: SharedBus,
    pub driver: Arc<dyn Driver>,
    placement: PlacementClient,
    auth: SharedTokenSource,
    http: reqwest::Client,
    pub rp_uuid: String,
}

/// The resource provider uuid of a host: stable across restarts, different per host.
pub fn provider_uuid(host: &str) -> String {
    uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, format!("stratus-compute-node:{host}").as_bytes())
        .to_string()
}

impl Agent {
    pub fn new(
        options: AgentOptions,
        bus: SharedBus,
        driver: Arc<dyn Driver>,
        placement: PlacementClient,
        auth: SharedTokenSource,
    ) -> Arc<Agent> {
        let rp_uuid = provider_uuid(&options.host);
        let http = reqwest::Client::builder().build().expect("http client");
        Arc::new(Agent { options, bus, driver, placement, auth, http, rp_uuid })
    }

    pub fn node_report(&self) -> NodeReport {
        let r = self.driver.host_resources();
        NodeReport {
            hypervisor_hostname: self.options.host.clone(),
            hypervisor_type: r.hypervisor_type,
            hypervisor_version: r.hypervisor_version,
            vcpus: r.vcpus,
            memory_mb: r.memory_mb,
            local_gb: r.disk_gb,
            cpu_arch: r.cpu_arch,
            host_ip: r.host_ip,
            rp_uuid: self.rp_uuid.clone(),
            vm_modes: r.vm_modes,
        }
    }

    /// The host's resources as placement inventory, with this node's allocation ratios.
    fn inventory(&self) -> BTreeMap<String, Inventory> {
        let r = self.driver.host_resources();
        let inv = |total: u64, ratio: f64| Inventory {
            total,
            reserved: 0,
            min_unit: 1,
            max_unit: total,
            step_size: 1,
            allocation_ratio: ratio,
        };
        let o = &self.options;
        BTreeMap::from([
            ("VCPU".to_string(), inv(r.vcpus as u64, o.cpu_allocation_ratio)),
            ("MEMORY_MB".to_string(), inv(r.memory_mb, o.ram_allocation_ratio)),
            ("DISK_GB".to_string(), inv(r.disk_gb, o.disk_allocation_ratio)),
        ])
    }

    async fn report_to_placement(&self) -> anyhow::Result<()> {
        self.placement.ensure_provider(&self.rp_uuid, &self.options.host).await?;
        self.placement.set_inventory(&self.rp_uuid, &self.inventory()).await?;
        let arch = format!("HW_ARCH_{}", self.driver.host_resources().cpu_arch.to_uppercase());
        self.placement.set_traits(&self.rp_uuid, &[arch, "COMPUTE_NODE".to_string()]).await?;
        Ok(())
    }

    async fn report_service(&self) -> anyhow::Result<()> {
        let report = ConductorRequest::ServiceReport {
            host: self.options.host.clone(),
            binary: "nova-compute".into(),
            availability_zone: self.options.availability_zone.clone(),
            node: self.node_report(),
        };
        self.bus.cast(&Target::topic(CONDUCTOR_TOPIC), Message::encode(VERSION, &report)).await?;
        Ok(())
    }

    async fn report_power_states(&self) -> anyhow::Result<()> {
        let states = self.driver.list_instances().await.into_iter().collect();
        let msg = ConductorRequest::PowerStates { host: self.options.host.clone(), states };
        self.bus.cast(&Target::topic(CONDUCTOR_TOPIC), Message::encode(VERSION, &msg)).await?;
        Ok(())
    }

    /// Runs until `shutdown`: registration, then requests, heartbeats and power syncs.
    pub async fn run(self: Arc<Self>, shutdown: Shutdown) -> anyhow::Result<()> {
        let mut listener = self.bus.listen(AGENT_TOPIC, &self.options.host).await?;
        // Placement and the conductor may still be starting: keep trying, a host that cannot
        // report is not schedulable anyway.
        let mut delay = Duration::from_millis(50);
        loop {
            match self.report_to_placement().await {
                Ok(()) => break,
                Err(e) => {
                    tracing::warn!(host = %self.options.host, "cannot report to placement yet: {e:#}");
                    if wait_or_shutdown(&shutdown, delay).await {
                        return Ok(());
                    }
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
        if let Err(e) = self.report_service().await {
            tracing::warn!(host = %self.options.host, "cannot register with the conductor yet: {e}");
        }
        tracing::info!(host = %self.options.host, driver = self.driver.name(), rp = %self.rp_uuid, "compute agent up");

        let mut heartbeat = tokio::time::interval(self.options.report_interval);
        let mut sync = tokio::time::interval(self.options.sync_power_state_interval);
        heartbeat.tick().await;
        sync.tick().await;
        let stop = shutdown.clone();
        let mut stopped = std::pin::pin!(stop.wait());
        loop {
            tokio::select! {
                incoming = listener.recv() => {
                    let Some(incoming) = incoming else { break };
                    let agent = self.clone();
                    tokio::spawn(async move { agent.handle(incoming).await });
                }
                _ = heartbeat.tick() => {
                    if let Err(e) = self.report_service().await {
                        tracing::warn!(host = %self.options.host, "heartbeat failed: {e}");
                    }
                }
                _ = sync.tick() => {
                    if let Err(e) = self.report_power_states().await {
                        tracing::warn!(host = %self.options.host, "power state sync failed: {e}");
                    }
                }
                _ = &mut stopped => break,
            }
        }
        tracing::info!(host = %self.options.host, "compute agent stopped");
        Ok(())
    }

    async fn handle(&self, incoming: Incoming) {
        let request: AgentRequest = match incoming.message.decode() {
            Ok(r) => r,
            Err(e) => {
                incoming.reply(Err(e.to_string()));
                return;
            }
        };
        let answer = self.execute(request).await;
        incoming.reply(answer.map_err(|e| e.to_string()));
    }

    /// Carries out one request through the driver.
    pub async fn execute(&self, request: AgentRequest) -> Result<Value, DriverError> {
        let d = &self.driver;
        let done = |r: Result<(), DriverError>| r.map(|()| Value::Null);
        match request {
            AgentRequest::Spawn { instance } => {
                let result = d.spawn(&instance).await;
                if result.is_err() {
                    // Leave nothing behind on this host: the conductor may try another.
                    let _ = d.destroy(&instance.uuid).await;
                }
                done(result)
            }
            AgentRequest::Destroy { uuid } => done(d.destroy(&uuid).await),
            AgentRequest::PowerOff { uuid } => done(d.power_off(&uuid).await),
            AgentRequest::PowerOn { uuid } => done(d.power_on(&uuid).await),
            AgentRequest::Reboot { uuid, hard } => done(d.reboot(&uuid, hard).await),
            AgentRequest::Pause { uuid } => done(d.pause(&uuid).await),
            AgentRequest::Unpause { uuid } => done(d.unpause(&uuid).await),
            AgentRequest::Suspend { uuid } => done(d.suspend(&uuid).await),
            AgentRequest::Resume { uuid } => done(d.resume(&uuid).await),
            AgentRequest::Rescue { instance, rescue_image } => {
                done(d.rescue(&instance, rescue_image.as_ref()).await)
            }
            AgentRequest::Unrescue { uuid } => done(d.unrescue(&uuid).await),
            AgentRequest::Rebuild { instance } => done(d.rebuild(&instance).await),
            AgentRequest::Snapshot { uuid, target } => {
                let data = d.snapshot(&uuid).await?;
                self.upload(&target.upload_url, data.bytes)
                    .await
                    .map_err(|e| DriverError::Failed(format!("{e:#}")))?;
                Ok(json!({"disk_format": data.disk_format, "container_format": data.container_format}))
            }
            AgentRequest::MigrateDisk { uuid, dest_host, flavor } => {
                done(d.migrate_disk_and_power_off(&uuid, &dest_host, &flavor).await)
            }
            AgentRequest::FinishMigration { instance, power_on } => {
                done(d.finish_migration(&instance, power_on).await)
            }
            AgentRequest::ConfirmMigration { uuid } => done(d.confirm_migration(&uuid).await),
            AgentRequest::FinishRevertMigration { instance, power_on } => {
                done(d.finish_revert_migration(&instance, power_on).await)
            }
            AgentRequest::GetInfo { uuid } => {
                let power_state = d.get_info(&uuid).await?;
                Ok(serde_json::to_value(InstanceInfo { power_state }).expect("json"))
            }
            AgentRequest::ConsoleOutput { uuid, length } => {
                let text = d.console_output(&uuid).await?;
                let text = match length {
                    Some(n) => {
                        let lines: Vec<&str> = text.lines().collect();
                        let start = lines.len().saturating_sub(n as usize);
                        lines[start..].join("\n") + "\n"
                    }
                    None => text,
                };
                Ok(Value::String(text))
            }
            AgentRequest::VncConsole { uuid } => {
                Ok(serde_json::to_value(d.vnc_console(&uuid).await?).expect("json"))
            }
        }
    }

    /// Uploads snapshot data to the image service with this agent's service token.
    async fn upload(&self, url: &str, bytes: Vec<u8>) -> anyhow::Result<()> {
        for attempt in 0..2 {
            let token = self.auth.token().await?;
            let resp = self
                .http
                .put(url)
                .header("x-auth-token", token)
                .header("content-type", "application/octet-stream")
                .body(bytes.clone())
                .send()
                .await?;
            if resp.status() == reqwest::StatusCode::UNAUTHORIZED && attempt == 0 {
                self.auth.invalidate();
                continue;
            }
            if !resp.status().is_success() {
                anyhow::bail!(
                    "image upload answered {}: {}",
                    resp.status(),
                    resp.text().await.unwrap_or_default()
                );
            }
            return Ok(());
        }
        anyhow::bail!("image upload refused the service token")
    }
}

/// Sleeps; true if shutdown fired meanwhile.
async fn wait_or_shutdown(shutdown: &Shutdown, d: Duration) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(d) => shutdown.is_fired(),
        _ = shutdown.clone().wait() => true,
    }
}
