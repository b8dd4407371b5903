//! Resize and cold migration (seed 001: pick a destination through the scheduler, power
//! off, move the disk, start it there), then confirm or revert.
//!
//! Allocations follow nova: while a migration is open, the source host's allocation belongs
//! to the migration record (a consumer of its own) and the instance holds the destination's;
//! confirm frees the source, revert moves it back.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::Utc;
use stratus_compute_agent::rpc::AgentRequest;
use stratus_placement::client::{
    Allocations, ClientError, ConsumerAllocations, CONSUMER_TYPE, MIGRATION_CONSUMER_TYPE,
};

use super::Requester;
use crate::model::{Action, Flavor, Instance, PowerState, TaskState, VmState};
use crate::scheduler::RequestSpec;
use crate::store::{InstanceUpdate, Migration};
use crate::ComputeService;

impl ComputeService {
    /// Resize (new flavor) or migrate (same flavor, another host).
    pub async fn start_migration(
        self: &Arc<Self>,
        instance: &Instance,
        new_flavor: Option<Flavor>,
        mut spec: RequestSpec,
        who: &Requester,
    ) -> crate::ApiResult<()> {
        let action = if new_flavor.is_some() { Action::Resize } else { Action::Migrate };
        let instance = self.begin(instance, action).await?;
        let action_id = self.record_action(&instance.uuid, action.name(), who).await;
        let me = self.clone();
        tokio::spawn(async move {
            let uuid = instance.uuid.clone();
            let flavor = new_flavor.clone().unwrap_or_else(|| instance.flavor.clone());
            spec.flavor = flavor.clone();
            if let Some(src) = &instance.host {
                spec.ignore_hosts.push(src.clone());
            }
            let _ = me.store.start_event(&action_id, "conductor_migrate_server", None).await;
            if let Err(msg) =
                me.run_migration(&instance, flavor, new_flavor.is_some(), &spec, &action_id).await
            {
                me.fail(&uuid, None, None, &msg, instance.host.as_deref()).await;
                // Clear whichever resize task it stopped in.
                let _ = me
                    .store
                    .update_instance(
                        &uuid,
                        &Default::default(),
                        &InstanceUpdate { task_state: Some(None), ..Default::default() },
                    )
                    .await;
                let _ = me.store.finish_event(&action_id, "conductor_migrate_server", Some(&msg)).await;
            } else {
                let _ = me.store.finish_event(&action_id, "conductor_migrate_server", None).await;
            }
        });
        Ok(())
    }

    async fn run_migration(
        &self,
        instance: &Instance,
        flavor: Flavor,
        is_resize: bool,
        spec: &RequestSpec,
        action_id: &str,
    ) -> Result<(), String> {
        let uuid = &instance.uuid;
        let source = instance.host.clone().ok_or("The server is on no host")?;
        let decision = self.scheduler.select(spec).await.map_err(|e| e.to_string())?;
        let (source_allocations, generation) =
            self.placement.allocations(uuid).await.map_err(|e| format!("reading allocations: {e}"))?;
        let migration_uuid = uuid::Uuid::new_v4().to_string();
        // Claim the destination: the migration takes over the source allocation, the
        // instance gets the destination's, in one atomic placement call.
        let mut chosen = None;
        for selection in decision.selections {
            let moves = [
                held_by(
                    migration_uuid.clone(),
                    source_allocations.clone(),
                    instance,
                    None,
                    MIGRATION_CONSUMER_TYPE,
                ),
                held_by(uuid.clone(), selection.allocations.clone(), instance, generation, CONSUMER_TYPE),
            ];
            match self.placement.move_allocations(&moves).await {
                Ok(()) => {
                    chosen = Some(selection);
                    break;
                }
                Err(ClientError::Conflict(m)) => {
                    tracing::debug!(instance = %uuid, "destination claim lost: {m}")
                }
                Err(e) => return Err(format!("claiming the destination: {e}")),
            }
        }
        let dest = chosen.ok_or("No valid host was found: every destination was taken meanwhile")?;
        let migration = Migration {
            uuid: migration_uuid.clone(),
            instance_uuid: uuid.clone(),
            migration_type: if is_resize { "resize" } else { "migration" }.into(),
            source_compute: Some(source.clone()),
            dest_compute: Some(dest.host.clone()),
            old_flavor_id: Some(instance.flavor.flavorid.clone()),
            new_flavor_id: Some(flavor.flavorid.clone()),
            status: "migrating".into(),
            user_id: Some(instance.user_id.clone()),
            project_id: Some(instance.project_id.clone()),
        };
        self.store.create_migration(&migration).await.map_err(|e| e.message)?;
        let step = |t: TaskState| InstanceUpdate { task_state: Some(Some(t)), ..Default::default() };
        let _ =
            self.store.update_instance(uuid, &Default::default(), &step(TaskState::ResizeMigrating)).await;
        let _ = self.store.start_event(action_id, "compute_resize_instance", Some(&source)).await;
        let moved = self
            .call_agent(
                &source,
                AgentRequest::MigrateDisk {
                    uuid: uuid.clone(),
                    dest_host: dest.host.clone(),
                    flavor: flavor.spec(),
                },
            )
            .await;
        if let Err(e) = moved {
            let msg = format!("migrating the disk from {source}: {e}");
            let _ = self.store.finish_event(action_id, "compute_resize_instance", Some(&msg)).await;
            let _ = self.call_agent(&source, AgentRequest::PowerOn { uuid: uuid.clone() }).await;
            return Err(self.undo_migration(instance, &source_allocations, &migration_uuid, msg).await);
        }
        let _ = self.store.finish_event(action_id, "compute_resize_instance", None).await;
        let _ = self.store.update_instance(uuid, &Default::default(), &step(TaskState::ResizeMigrated)).await;
        let power_on = instance.vm_state == VmState::Active;
        let mut running = instance.clone();
        running.flavor = flavor.clone();
        let _ = self.store.update_instance(uuid, &Default::default(), &step(TaskState::ResizeFinish)).await;
        let _ = self.store.start_event(action_id, "compute_finish_resize", Some(&dest.host)).await;
        if let Err(e) = self
            .call_agent(&dest.host, AgentRequest::FinishMigration { instance: running.spec(), power_on })
            .await
        {
            let msg = format!("starting the server on {}: {e}", dest.host);
            let _ = self.store.finish_event(action_id, "compute_finish_resize", Some(&msg)).await;
            let _ = self
                .call_agent(
                    &source,
                    AgentRequest::FinishRevertMigration { instance: instance.spec(), power_on },
                )
                .await;
            return Err(self.undo_migration(instance, &source_allocations, &migration_uuid, msg).await);
        }
        let _ = self.store.finish_event(action_id, "compute_finish_resize", None).await;
        self.store.set_migration_status(&migration_uuid, "finished").await.map_err(|e| e.message)?;
        let update = InstanceUpdate {
            vm_state: Some(VmState::Resized),
            task_state: Some(None),
            power_state: Some(if power_on { PowerState::Running } else { PowerState::Shutdown }),
            host: Some(Some(dest.host.clone())),
            node: Some(Some(dest.node.clone())),
            availability_zone: Some(Some(dest.zone.clone())),
            old_flavor: Some(Some(instance.flavor.clone())),
            new_flavor: Some(Some(flavor.clone())),
            flavor: Some(flavor),
            ..Default::default()
        };
        self.store.update_instance(uuid, &Default::default(), &update).await.map_err(|e| e.message)?;
        Ok(())
    }

    /// Gives the source its allocation back after a failed migration; returns `msg`.
    async fn undo_migration(
        &self,
        instance: &Instance,
        source_allocations: &Allocations,
        migration_uuid: &str,
        msg: String,
    ) -> String {
        let uuid = &instance.uuid;
        let migration_generation = self.placement.allocations(migration_uuid).await.ok().and_then(|(_, g)| g);
        let back = [
            held_by(uuid.clone(), source_allocations.clone(), instance, None, CONSUMER_TYPE),
            held_by(
                migration_uuid.to_string(),
                Allocations::new(),
                instance,
                migration_generation,
                MIGRATION_CONSUMER_TYPE,
            ),
        ];
        let _ = self.placement.delete_allocations(uuid).await;
        if let Err(e) = self.placement.move_allocations(&back).await {
            tracing::error!(instance = %uuid, "cannot give the source its allocation back: {e}");
        }
        let _ = self.store.set_migration_status(migration_uuid, "error").await;
        msg
    }

    /// Confirm: the old copy goes, the source allocation is freed.
    pub async fn start_confirm_resize(
        self: &Arc<Self>,
        instance: &Instance,
        who: Option<&Requester>,
    ) -> crate::ApiResult<()> {
        let instance = self.begin(instance, Action::ConfirmResize).await?;
        if let Some(who) = who {
            self.record_action(&instance.uuid, "confirmResize", who).await;
        }
        let me = self.clone();
        tokio::spawn(async move {
            let uuid = instance.uuid.clone();
            let migration = me.store.migration_in(&uuid, "finished").await.ok().flatten();
            if let Some(m) = &migration {
                if let Some(src) = &m.source_compute {
                    if let Err(e) =
                        me.call_agent(src, AgentRequest::ConfirmMigration { uuid: uuid.clone() }).await
                    {
                        tracing::warn!(instance = %uuid, "cleaning the source {src}: {e}");
                    }
                }
                me.release_allocations(&m.uuid).await;
                let _ = me.store.set_migration_status(&m.uuid, "confirmed").await;
            }
            let vm =
                if instance.power_state == PowerState::Running { VmState::Active } else { VmState::Stopped };
            let update = InstanceUpdate {
                vm_state: Some(vm),
                old_flavor: Some(None),
                new_flavor: Some(None),
                ..Default::default()
            };
            let _ = me.finish(&uuid, Some(TaskState::ResizeConfirming), update).await;
        });
        Ok(())
    }

    /// Revert: the server goes back to its source host and old flavor.
    pub async fn start_revert_resize(
        self: &Arc<Self>,
        instance: &Instance,
        who: &Requester,
    ) -> crate::ApiResult<()> {
        let instance = self.begin(instance, Action::RevertResize).await?;
        let action_id = self.record_action(&instance.uuid, "revertResize", who).await;
        let me = self.clone();
        tokio::spawn(async move {
            let uuid = instance.uuid.clone();
            if let Err(msg) = me.run_revert(&instance, &action_id).await {
                me.fail(
                    &uuid,
                    Some(TaskState::ResizeReverting),
                    Some(VmState::Error),
                    &msg,
                    instance.host.as_deref(),
                )
                .await;
            }
        });
        Ok(())
    }

    async fn run_revert(&self, instance: &Instance, action_id: &str) -> Result<(), String> {
        let uuid = &instance.uuid;
        let m = self
            .store
            .migration_in(uuid, "finished")
            .await
            .map_err(|e| e.message)?
            .ok_or("no finished migration to revert")?;
        let source = m.source_compute.clone().ok_or("the migration has no source")?;
        let old_flavor = instance.old_flavor.clone().unwrap_or_else(|| instance.flavor.clone());
        if let Some(dest) = &instance.host {
            let _ = self.call_agent(dest, AgentRequest::Destroy { uuid: uuid.clone() }).await;
        }
        let (held, migration_generation) =
            self.placement.allocations(&m.uuid).await.map_err(|e| e.to_string())?;
        let (_, generation) = self.placement.allocations(uuid).await.map_err(|e| e.to_string())?;
        let moves = [
            held_by(uuid.clone(), held.clone(), instance, generation, CONSUMER_TYPE),
            held_by(m.uuid.clone(), BTreeMap::new(), instance, migration_generation, MIGRATION_CONSUMER_TYPE),
        ];
        self.placement.move_allocations(&moves).await.map_err(|e| format!("moving allocations back: {e}"))?;
        let power_on = instance.power_state == PowerState::Running;
        let mut old = instance.clone();
        old.flavor = old_flavor.clone();
        let _ = self.store.start_event(action_id, "compute_finish_revert_resize", Some(&source)).await;
        self.call_agent(&source, AgentRequest::FinishRevertMigration { instance: old.spec(), power_on })
            .await
            .map_err(|e| format!("restarting the server on {source}: {e}"))?;
        let _ = self.store.finish_event(action_id, "compute_finish_revert_resize", None).await;
        let _ = self.store.set_migration_status(&m.uuid, "reverted").await;
        let zone = crate::zones::zone_of_host(&self.store, &source).await.ok();
        let update = InstanceUpdate {
            vm_state: Some(if power_on { VmState::Active } else { VmState::Stopped }),
            host: Some(Some(source.clone())),
            node: Some(Some(source.clone())),
            availability_zone: zone.map(Some),
            flavor: Some(old_flavor),
            old_flavor: Some(None),
            new_flavor: Some(None),
            ..Default::default()
        };
        let _ = self.finish(uuid, Some(TaskState::ResizeReverting), update).await;
        Ok(())
    }

    /// `resize_confirm_window`: resized servers left unconfirmed are confirmed.
    pub(crate) async fn auto_confirm_resizes(self: &Arc<Self>) -> crate::ApiResult<()> {
        let window = self.config.compute.resize_confirm_window;
        if window == 0 {
            return Ok(());
        }
        let before = Utc::now() - chrono::Duration::seconds(window as i64);
        for i in self.store.resized_before(before).await? {
            tracing::info!(instance = %i.uuid, "confirming a resize left unconfirmed for {window} s");
            let _ = self.start_confirm_resize(&i, None).await;
        }
        Ok(())
    }
}

/// One consumer of a move of allocations, on behalf of `instance`'s project and user.
fn held_by(
    consumer: String,
    allocations: Allocations,
    instance: &Instance,
    generation: Option<i64>,
    consumer_type: &'static str,
) -> ConsumerAllocations {
    ConsumerAllocations {
        consumer,
        allocations,
        project_id: instance.project_id.clone(),
        user_id: instance.user_id.clone(),
        generation,
        consumer_type,
    }
}
