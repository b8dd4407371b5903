//! The conductor (nova-conductor): the only writer of instance state, and the runner of every
//! multi-step operation. The API asks it to start an operation (which moves the server into
//! its task state atomically, or refuses with 409); the operation then runs in the
//! background, calling the host's agent over the bus, and ends in a stable state — or in
//! ERROR with a fault, never with a leaked allocation.
//!
//! Agents report to it on the `conductor` topic: registrations and heartbeats, and the
//! power states their hypervisors see.

mod build;
mod migrate;
mod operations;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde_json::Value;
use stratus_compute_agent::rpc::{
    AgentRequest, ConductorRequest, InstanceSpec, NodeReport, AGENT_TOPIC, CONDUCTOR_TOPIC, VERSION,
};
use stratus_core::bus::{BusError, Incoming, Message, Target};
use stratus_core::error::{ApiError, ApiResult};
use stratus_core::http::Shutdown;

use crate::model::{Action, ComputeNode, Instance, PowerState, TaskState, VmState};
use crate::store::{Expect, InstanceUpdate};
use crate::ComputeService;

pub use build::BuildRequest;

/// Who asked for an operation (for instance actions).
#[derive(Debug, Clone)]
pub struct Requester {
    pub request_id: String,
    pub user_id: String,
    pub project_id: String,
}

impl Instance {
    /// What an agent needs to run this instance.
    pub fn spec(&self) -> InstanceSpec {
        InstanceSpec {
            uuid: self.uuid.clone(),
            name: self.display_name.clone(),
            hostname: self.hostname.clone(),
            project_id: self.project_id.clone(),
            flavor: self.flavor.spec(),
            image: self.image.clone(),
            user_data: self.user_data.clone(),
            key_data: self.key_data.clone(),
            metadata: self.metadata.clone(),
        }
    }
}

/// How long an agent call may take before the operation fails.
fn agent_timeout(service: &ComputeService) -> Duration {
    Duration::from_secs(service.config.bus.rpc_response_timeout.max(1))
}

impl ComputeService {
    /// Calls the agent on `host`.
    pub async fn call_agent(&self, host: &str, request: AgentRequest) -> Result<Value, BusError> {
        let target = Target::server(AGENT_TOPIC, host);
        self.bus.call(&target, Message::encode(VERSION, &request), agent_timeout(self)).await
    }

    /// Moves a server into the task of `action`, if its states allow it; else 409 with
    /// nova's message. Returns the server as it now is.
    pub async fn begin(&self, instance: &Instance, action: Action) -> ApiResult<Instance> {
        if let Some(refusal) = action.refusal(&instance.uuid, instance.vm_state, instance.task_state) {
            return Err(ApiError::conflict(refusal));
        }
        let expect = Expect {
            vm_states: action.from_vm_states().to_vec(),
            task_states: action.from_task_states().to_vec(),
        };
        let update = InstanceUpdate { task_state: Some(action.task()), ..Default::default() };
        if !self.store.update_instance(&instance.uuid, &expect, &update).await? {
            // Someone changed it in between: say what it is now.
            let now = self.store.instance_or_404(&instance.uuid).await?;
            let refusal = action.refusal(&now.uuid, now.vm_state, now.task_state).unwrap_or_else(|| {
                format!("Instance {} changed while '{}' was starting", now.uuid, action.name())
            });
            return Err(ApiError::conflict(refusal));
        }
        self.store.instance_or_404(&instance.uuid).await
    }

    /// Sets the result of an operation, but only if the server is still in `task` (a delete
    /// may have pre-empted it). True if applied.
    pub(crate) async fn finish(
        &self,
        uuid: &str,
        task: Option<TaskState>,
        update: InstanceUpdate,
    ) -> ApiResult<bool> {
        let expect = Expect { vm_states: vec![], task_states: vec![task] };
        let update = InstanceUpdate { task_state: update.task_state.or(Some(None)), ..update };
        self.store.update_instance(uuid, &expect, &update).await
    }

    /// Ends an operation that failed: the task is cleared (state left as it was, or as
    /// `vm_state` says), and a fault tells what went wrong.
    pub(crate) async fn fail(
        &self,
        uuid: &str,
        task: Option<TaskState>,
        vm_state: Option<VmState>,
        message: &str,
        host: Option<&str>,
    ) {
        tracing::warn!(instance = uuid, "operation failed: {message}");
        let update = InstanceUpdate { vm_state, task_state: Some(None), ..Default::default() };
        let expect = Expect { vm_states: vec![], task_states: vec![task] };
        if let Err(e) = self.store.update_instance(uuid, &expect, &update).await {
            tracing::error!(instance = uuid, "cannot record the failure: {e}");
        }
        if let Err(e) = self.store.add_fault(uuid, 500, message, host).await {
            tracing::error!(instance = uuid, "cannot record the fault: {e}");
        }
    }

    /// Runs the conductor: agent reports, the power-state sync, the resize auto-confirm.
    pub async fn run_conductor(self: Arc<Self>, shutdown: Shutdown) -> anyhow::Result<()> {
        self.recover().await?;
        let mut listener = self.bus.listen(CONDUCTOR_TOPIC, "controller").await?;
        let mut confirm = tokio::time::interval(Duration::from_secs(10));
        let stop = shutdown.clone();
        let mut stopped = std::pin::pin!(stop.wait());
        loop {
            tokio::select! {
                m = listener.recv() => {
                    let Some(m) = m else { break };
                    let me = self.clone();
                    tokio::spawn(async move { me.handle_report(m).await });
                }
                _ = confirm.tick() => {
                    if let Err(e) = self.auto_confirm_resizes().await {
                        tracing::warn!("resize auto-confirm: {e}");
                    }
                }
                _ = &mut stopped => break,
            }
        }
        Ok(())
    }

    /// After a restart: operations that were in flight cannot finish.
    async fn recover(self: &Arc<Self>) -> ApiResult<()> {
        for i in self.store.instances_in_task().await? {
            let task = i.task_state;
            match (i.vm_state, task) {
                (_, Some(TaskState::Deleting)) => {
                    let me = self.clone();
                    tokio::spawn(async move { me.run_delete(i).await });
                }
                (VmState::Building, _) => {
                    self.release_allocations(&i.uuid).await;
                    self.fail(
                        &i.uuid,
                        task,
                        Some(VmState::Error),
                        "The build was interrupted by a restart of the compute service",
                        None,
                    )
                    .await;
                }
                _ => {
                    self.fail(
                        &i.uuid,
                        task,
                        None,
                        "The operation was interrupted by a restart of the compute service",
                        i.host.as_deref(),
                    )
                    .await;
                }
            }
        }
        Ok(())
    }

    async fn handle_report(&self, incoming: Incoming) {
        let result = match incoming.message.decode::<ConductorRequest>() {
            Ok(ConductorRequest::ServiceReport { host, binary, availability_zone, node }) => {
                self.service_report(&host, &binary, &availability_zone, &node).await
            }
            Ok(ConductorRequest::PowerStates { host, states }) => self.sync_power_states(&host, states).await,
            Err(e) => Err(ApiError::bad_request(e.to_string())),
        };
        if let Err(e) = &result {
            tracing::warn!("agent report: {e}");
        }
        incoming.reply(result.map(|()| Value::Null).map_err(|e| e.message));
    }

    async fn service_report(&self, host: &str, binary: &str, zone: &str, node: &NodeReport) -> ApiResult<()> {
        let before = self.store.service_by_host(host, binary).await?;
        self.store.report_service(host, binary, AGENT_TOPIC, zone).await?;
        let changed = self
            .store
            .upsert_compute_node(&ComputeNode {
                id: 0,
                uuid: node.rp_uuid.clone(),
                host: host.to_string(),
                hypervisor_hostname: node.hypervisor_hostname.clone(),
                hypervisor_type: node.hypervisor_type.clone(),
                hypervisor_version: node.hypervisor_version as i64,
                vcpus: node.vcpus as i64,
                memory_mb: node.memory_mb as i64,
                local_gb: node.local_gb as i64,
                cpu_arch: node.cpu_arch.clone(),
                vm_modes: node.vm_modes.clone(),
                host_ip: node.host_ip.clone(),
            })
            .await?;
        let came_back =
            before.as_ref().is_some_and(|s| !s.is_up(Utc::now(), self.config.compute.service_down_time));
        if before.is_none() || changed || came_back {
            self.hosts_changed();
        }
        Ok(())
    }

    /// What the hypervisor says wins over what the database believes, as nova's
    /// `_sync_instance_power_state`: a guest that shut itself down becomes SHUTOFF.
    async fn sync_power_states(
        &self,
        host: &str,
        states: std::collections::BTreeMap<String, PowerState>,
    ) -> ApiResult<()> {
        for i in self.store.instances_on_host(host).await? {
            if i.task_state.is_some() {
                continue; // an operation is under way; it will set the state
            }
            let power = states.get(&i.uuid).copied().unwrap_or(PowerState::NoState);
            let mut update = InstanceUpdate::default();
            if power != i.power_state {
                update.power_state = Some(power);
            }
            match (i.vm_state, power) {
                (VmState::Active, PowerState::Shutdown | PowerState::Crashed | PowerState::NoState) => {
                    tracing::info!(instance = %i.uuid, ?power, "the guest stopped outside the cloud; now SHUTOFF");
                    update.vm_state = Some(VmState::Stopped);
                }
                (VmState::Stopped, PowerState::Running) => {
                    tracing::info!(instance = %i.uuid, "a stopped guest is running; stopping it");
                    let _ = self.call_agent(host, AgentRequest::PowerOff { uuid: i.uuid.clone() }).await;
                    update.power_state = Some(PowerState::Shutdown);
                }
                _ => {}
            }
            if update.power_state.is_some() || update.vm_state.is_some() {
                let expect = Expect { vm_states: vec![i.vm_state], task_states: vec![None] };
                self.store.update_instance(&i.uuid, &expect, &update).await?;
            }
        }
        Ok(())
    }

    /// Frees whatever the instance holds in placement (best effort, logged).
    pub(crate) async fn release_allocations(&self, uuid: &str) {
        if let Err(e) = self.placement.delete_allocations(uuid).await {
            tracing::error!(instance = uuid, "cannot free the allocations: {e}");
        }
    }
}
