//! Building a server (seed 001's steps 6-12): schedule, claim in placement, spawn on the
//! chosen host; a failed spawn is retried on an alternate host up to `max_attempts`, then
//! the server is ERROR with a fault that says why.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use stratus_compute_agent::rpc::AgentRequest;
use stratus_placement::client::ClientError;

use crate::model::{Instance, PowerState, TaskState, VmState};
use crate::scheduler::{RequestSpec, SchedulingError};
use crate::store::{EventWrite, Expect, InstanceUpdate};
use crate::ComputeService;

/// The instance-action event around each scheduling decision (as nova's scheduler records).
pub const SELECT_EVENT: &str = "scheduler_select_destinations";
/// The conductor's event around the whole build, and the agent's around the spawn.
const CONDUCTOR_EVENT: &str = "conductor_schedule_and_build_instances";
const BUILD_EVENT: &str = "compute__do_build_and_run_instance";

pub struct BuildRequest {
    pub instance: Instance,
    pub spec: RequestSpec,
    pub action_id: String,
}

/// A scheduling decision's event, until it is written.
struct Decided {
    span: (DateTime<Utc>, DateTime<Utc>),
    error: Option<String>,
    /// The conductor's own event starts with the first decision.
    conductor_started: Option<DateTime<Utc>>,
}

impl Decided {
    fn write<'a>(&'a self, action_id: &'a str) -> EventWrite<'a> {
        EventWrite::Ended {
            action_id,
            event: SELECT_EVENT,
            span: self.span,
            error: self.error.as_deref(),
            started: self.conductor_started.map(|at| (CONDUCTOR_EVENT, at)),
        }
    }
}

enum Outcome {
    Active,
    /// Deleted (or otherwise taken over) while building: undo on the host.
    PreEmpted {
        host: String,
    },
    Failed(String),
}

impl ComputeService {
    /// Starts the build in the background; the API has already answered 202.
    pub fn spawn_build(self: &Arc<Self>, request: BuildRequest) {
        let me = self.clone();
        tokio::spawn(async move { me.run_build(request).await });
    }

    pub async fn run_build(self: &Arc<Self>, request: BuildRequest) {
        let BuildRequest { instance, mut spec, action_id } = request;
        let uuid = instance.uuid.clone();
        // The conductor's own event starts now; it is written with the first decision's.
        let mut conductor_started = Some(Utc::now());
        let attempts = self.scheduler.max_attempts();
        let mut tried = 0usize;
        let mut last_error = String::new();
        while tried < attempts {
            // Its own event, so `server event show` (and the benchmark) sees the decision time.
            // Written with the placement of the server when it is placed (one commit for
            // both), else on its own.
            let select_started = Utc::now();
            let selected = self.scheduler.select(&spec).await;
            let mut decided = Some(Decided {
                span: (select_started, Utc::now()),
                error: selected.as_ref().err().map(|e| e.to_string()),
                conductor_started: conductor_started.take(),
            });
            if selected.is_err() {
                self.record_decided(&action_id, &mut decided).await;
            }
            if let Ok(d) = &selected {
                tracing::debug!(
                    instance = %uuid,
                    placement_ms = d.placement_time.as_secs_f64() * 1e3,
                    filter_weigh_ms = d.filter_time.as_secs_f64() * 1e3,
                    "scheduled"
                );
            }
            let decision = match selected {
                Ok(d) => d,
                Err(SchedulingError::NoValidHost(msg)) => {
                    let msg = if tried > 0 {
                        format!(
                            "Exceeded maximum number of retries. Exhausted all hosts available for retrying build \
                             failures for instance {uuid}. Last error: {last_error}. {msg}"
                        )
                    } else {
                        msg
                    };
                    return self.build_failed(&uuid, &action_id, &msg, None).await;
                }
                Err(SchedulingError::Internal(msg)) => {
                    return self.build_failed(&uuid, &action_id, &msg, None).await
                }
            };
            for selection in decision.selections {
                if tried >= attempts {
                    break;
                }
                // Claim: another boot may have taken the room meanwhile; then the next host.
                match self
                    .placement
                    .claim(&uuid, &selection.allocations, &instance.project_id, &instance.user_id, None)
                    .await
                {
                    Ok(()) => {}
                    Err(ClientError::Conflict(m)) => {
                        tracing::debug!(instance = %uuid, host = %selection.host, "claim lost a race: {m}");
                        spec.ignore_hosts.push(selection.host.clone());
                        continue;
                    }
                    Err(e) => {
                        self.record_decided(&action_id, &mut decided).await;
                        return self
                            .build_failed(&uuid, &action_id, &format!("claiming resources: {e}"), None)
                            .await;
                    }
                }
                tried += 1;
                let update = InstanceUpdate {
                    host: Some(Some(selection.host.clone())),
                    node: Some(Some(selection.node.clone())),
                    availability_zone: Some(Some(selection.zone.clone())),
                    ..Default::default()
                };
                // Placed, with the decision's event and the start of the spawn's: one commit.
                let mut records = Vec::with_capacity(2);
                if let Some(d) = &decided {
                    records.push(d.write(&action_id));
                }
                records.push(EventWrite::Start {
                    action_id: &action_id,
                    event: BUILD_EVENT,
                    host: Some(&selection.host),
                });
                let placed = self
                    .store
                    .update_instance_recording(
                        &uuid,
                        &crate::store::Expect {
                            vm_states: vec![VmState::Building],
                            task_states: vec![Some(TaskState::Scheduling), Some(TaskState::Spawning)],
                        },
                        &InstanceUpdate { task_state: Some(Some(TaskState::Spawning)), ..update },
                        &records,
                    )
                    .await;
                drop(records);
                if !matches!(placed, Ok(true)) {
                    // Deleted while scheduling.
                    self.record_decided(&action_id, &mut decided).await;
                    self.release_allocations(&uuid).await;
                    return;
                }
                decided = None;
                match self.spawn_on(&instance, &selection.host, &action_id).await {
                    Outcome::Active => return,
                    Outcome::PreEmpted { host } => {
                        let _ = self.call_agent(&host, AgentRequest::Destroy { uuid: uuid.clone() }).await;
                        self.release_allocations(&uuid).await;
                        return;
                    }
                    Outcome::Failed(err) => {
                        tracing::warn!(instance = %uuid, host = %selection.host, "spawn failed, rescheduling: {err}");
                        let _ = self.store.finish_event(&action_id, BUILD_EVENT, Some(&err)).await;
                        last_error = format!("{}: {err}", selection.host);
                        self.release_allocations(&uuid).await;
                        spec.ignore_hosts.push(selection.host.clone());
                    }
                }
            }
            // Every selection's claim lost its race: the decision still gets its event.
            self.record_decided(&action_id, &mut decided).await;
        }
        let msg = format!(
            "Exceeded maximum number of retries. Exhausted all hosts available for retrying build failures for \
             instance {uuid} ({attempts} attempt(s)). Last error: {last_error}"
        );
        self.build_failed(&uuid, &action_id, &msg, None).await;
    }

    async fn spawn_on(&self, instance: &Instance, host: &str, action_id: &str) -> Outcome {
        let request = AgentRequest::Spawn { instance: instance.spec() };
        match self.call_agent(host, request).await {
            Ok(_) => {
                // ACTIVE, unless a delete took over meanwhile; the build's events end with it.
                let update = InstanceUpdate {
                    vm_state: Some(VmState::Active),
                    power_state: Some(PowerState::Running),
                    launched_at: Some(Utc::now()),
                    task_state: Some(None),
                    ..Default::default()
                };
                let expect = Expect { vm_states: vec![], task_states: vec![Some(TaskState::Spawning)] };
                let ended =
                    [EventWrite::Finish { action_id, events: &[BUILD_EVENT, CONDUCTOR_EVENT], error: None }];
                match self.store.update_instance_recording(&instance.uuid, &expect, &update, &ended).await {
                    Ok(true) => Outcome::Active,
                    _ => Outcome::PreEmpted { host: host.to_string() },
                }
            }
            Err(e) => Outcome::Failed(e.to_string()),
        }
    }

    /// Writes a decision's event if it has not been written yet.
    async fn record_decided(&self, action_id: &str, decided: &mut Option<Decided>) {
        if let Some(d) = decided.take() {
            let _ = self.store.record(&d.write(action_id)).await;
        }
    }

    async fn build_failed(&self, uuid: &str, action_id: &str, message: &str, host: Option<&str>) {
        self.release_allocations(uuid).await;
        let update = InstanceUpdate {
            vm_state: Some(VmState::Error),
            host: Some(None),
            node: Some(None),
            ..Default::default()
        };
        // Only if still building (a delete may have taken over).
        let expect = crate::store::Expect {
            vm_states: vec![VmState::Building],
            task_states: vec![Some(TaskState::Scheduling), Some(TaskState::Spawning)],
        };
        let update = InstanceUpdate { task_state: Some(None), ..update };
        if let Ok(true) = self.store.update_instance(uuid, &expect, &update).await {
            let _ = self.store.add_fault(uuid, 500, message, host).await;
        }
        let _ = self.store.finish_event(action_id, CONDUCTOR_EVENT, Some(message)).await;
        tracing::warn!(instance = uuid, "build failed: {message}");
    }
}
