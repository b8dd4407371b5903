//! Operations on one host: delete, power operations, rescue, rebuild, snapshot, shelve.

use std::sync::Arc;

use chrono::Utc;
use stratus_compute_agent::rpc::{AgentRequest, ImageSpec, SnapshotTarget};

use super::Requester;
use crate::model::{Action, Instance, PowerState, TaskState, VmState};
use crate::store::InstanceUpdate;
use crate::ComputeService;

/// The stable state an action ends in.
fn outcome(action: Action, was: &Instance) -> (VmState, PowerState) {
    match action {
        Action::Stop => (VmState::Stopped, PowerState::Shutdown),
        Action::Start | Action::Reboot | Action::RebootHard | Action::Unpause | Action::Resume => {
            (VmState::Active, PowerState::Running)
        }
        Action::Pause => (VmState::Paused, PowerState::Paused),
        Action::Suspend => (VmState::Suspended, PowerState::Suspended),
        Action::Rescue => (VmState::Rescued, PowerState::Running),
        Action::Unrescue => (VmState::Active, PowerState::Running),
        _ => (was.vm_state, was.power_state),
    }
}

/// The event name nova records for an action (`openstack server event show`).
fn event_name(action: Action) -> String {
    match action {
        Action::Stop => "compute_stop_instance".into(),
        Action::Start => "compute_start_instance".into(),
        Action::Reboot | Action::RebootHard => "compute_reboot_instance".into(),
        other => format!("compute_{}_instance", other.name().to_lowercase()),
    }
}

impl ComputeService {
    /// Records an instance action (`server event list`) and returns its id.
    pub async fn record_action(&self, uuid: &str, action: &str, who: &Requester) -> String {
        self.store
            .start_action(uuid, action, &who.request_id, &who.user_id, &who.project_id)
            .await
            .unwrap_or_default()
    }

    /// Starts a power-type operation (stop, start, reboot, pause, unpause, suspend, resume,
    /// rescue, unrescue): 409 now if the states forbid it, else it runs in the background.
    pub async fn start_simple(
        self: &Arc<Self>,
        instance: &Instance,
        action: Action,
        who: &Requester,
    ) -> crate::ApiResult<()> {
        let instance = self.begin(instance, action).await?;
        let action_id = self.record_action(&instance.uuid, action.name(), who).await;
        let me = self.clone();
        tokio::spawn(async move { me.run_simple(instance, action, action_id).await });
        Ok(())
    }

    async fn run_simple(&self, instance: Instance, action: Action, action_id: String) {
        let uuid = instance.uuid.clone();
        let Some(host) = instance.host.clone() else {
            return self.fail(&uuid, action.task(), None, "The server is on no host", None).await;
        };
        let event = event_name(action);
        let _ = self.store.start_event(&action_id, &event, Some(&host)).await;
        let request = match action {
            Action::Stop => AgentRequest::PowerOff { uuid: uuid.clone() },
            Action::Start => AgentRequest::PowerOn { uuid: uuid.clone() },
            Action::Reboot => AgentRequest::Reboot { uuid: uuid.clone(), hard: false },
            Action::RebootHard => AgentRequest::Reboot { uuid: uuid.clone(), hard: true },
            Action::Pause => AgentRequest::Pause { uuid: uuid.clone() },
            Action::Unpause => AgentRequest::Unpause { uuid: uuid.clone() },
            Action::Suspend => AgentRequest::Suspend { uuid: uuid.clone() },
            Action::Resume => AgentRequest::Resume { uuid: uuid.clone() },
            Action::Rescue => {
                AgentRequest::Rescue { instance: instance.spec(), rescue_image: instance.image.clone() }
            }
            Action::Unrescue => AgentRequest::Unrescue { uuid: uuid.clone() },
            other => unreachable!("{other:?} is not a simple operation"),
        };
        match self.call_agent(&host, request).await {
            Ok(_) => {
                let (vm, power) = outcome(action, &instance);
                let update =
                    InstanceUpdate { vm_state: Some(vm), power_state: Some(power), ..Default::default() };
                let _ = self.finish(&uuid, action.task(), update).await;
                let _ = self.store.finish_event(&action_id, &event, None).await;
            }
            Err(e) => {
                let msg = format!("{} failed on {host}: {e}", action.name());
                // A failed hard reboot leaves the server in ERROR, as nova does; others
                // keep their state.
                let vm = (action == Action::RebootHard).then_some(VmState::Error);
                self.fail(&uuid, action.task(), vm, &msg, Some(&host)).await;
                let _ = self.store.finish_event(&action_id, &event, Some(&msg)).await;
            }
        }
    }

    /// Deletes a server: pre-empts any task (the build or operation in flight notices and
    /// undoes its work), then destroys the guest, frees the allocations, removes the record.
    pub async fn start_delete(
        self: &Arc<Self>,
        instance: &Instance,
        who: &Requester,
    ) -> crate::ApiResult<()> {
        let update = InstanceUpdate { task_state: Some(Some(TaskState::Deleting)), ..Default::default() };
        self.store.update_instance(&instance.uuid, &Default::default(), &update).await?;
        self.record_action(&instance.uuid, "delete", who).await;
        let instance = self.store.instance_or_404(&instance.uuid).await?;
        let me = self.clone();
        tokio::spawn(async move { me.run_delete(instance).await });
        Ok(())
    }

    pub(crate) async fn run_delete(&self, instance: Instance) {
        let uuid = &instance.uuid;
        if let Some(host) = &instance.host {
            if let Err(e) = self.call_agent(host, AgentRequest::Destroy { uuid: uuid.clone() }).await {
                // The host may be gone for good; the record must still go. Its agent
                // removes unknown guests when it syncs.
                tracing::warn!(instance = %uuid, %host, "destroy on the host failed: {e}; deleting anyway");
            }
        }
        if let Some(migration) = self.store.migration_in(uuid, "finished").await.ok().flatten() {
            if let Some(src) = &migration.source_compute {
                let _ = self.call_agent(src, AgentRequest::Destroy { uuid: uuid.clone() }).await;
            }
            self.release_allocations(&migration.uuid).await;
            let _ = self.store.set_migration_status(&migration.uuid, "deleted").await;
        }
        self.release_allocations(uuid).await;
        let _ = self.store.remove_group_member(uuid).await;
        let update = InstanceUpdate {
            deleted: true,
            power_state: Some(PowerState::NoState),
            terminated_at: Some(Utc::now()),
            ..Default::default()
        };
        if let Err(e) = self.store.update_instance(uuid, &Default::default(), &update).await {
            tracing::error!(instance = %uuid, "cannot mark the server deleted: {e}");
        }
    }

    /// Rebuild: the same server (id, name, metadata, host) from another image.
    pub async fn start_rebuild(
        self: &Arc<Self>,
        instance: &Instance,
        image: ImageSpec,
        changes: InstanceUpdate,
        who: &Requester,
    ) -> crate::ApiResult<Instance> {
        let instance = self.begin(instance, Action::Rebuild).await?;
        let action_id = self.record_action(&instance.uuid, "rebuild", who).await;
        let update =
            InstanceUpdate { image_ref: Some(Some(image.id.clone())), image: Some(Some(image)), ..changes };
        self.store.update_instance(&instance.uuid, &Default::default(), &update).await?;
        let instance = self.store.instance_or_404(&instance.uuid).await?;
        let me = self.clone();
        let running = instance.clone();
        tokio::spawn(async move {
            let uuid = running.uuid.clone();
            let Some(host) = running.host.clone() else {
                return me
                    .fail(
                        &uuid,
                        Some(TaskState::Rebuilding),
                        Some(VmState::Error),
                        "The server is on no host",
                        None,
                    )
                    .await;
            };
            let _ = me.store.start_event(&action_id, "compute_rebuild_instance", Some(&host)).await;
            match me.call_agent(&host, AgentRequest::Rebuild { instance: running.spec() }).await {
                Ok(_) => {
                    let update = InstanceUpdate {
                        vm_state: Some(VmState::Active),
                        power_state: Some(PowerState::Running),
                        launched_at: Some(Utc::now()),
                        ..Default::default()
                    };
                    let _ = me.finish(&uuid, Some(TaskState::Rebuilding), update).await;
                    let _ = me.store.finish_event(&action_id, "compute_rebuild_instance", None).await;
                }
                Err(e) => {
                    let msg = format!("rebuild failed on {host}: {e}");
                    me.fail(&uuid, Some(TaskState::Rebuilding), Some(VmState::Error), &msg, Some(&host))
                        .await;
                    let _ = me.store.finish_event(&action_id, "compute_rebuild_instance", Some(&msg)).await;
                }
            }
        });
        Ok(instance)
    }

    /// createImage: the image record exists (created by the API with the caller's token);
    /// the host's agent uploads the disk to it.
    pub async fn start_snapshot(
        self: &Arc<Self>,
        instance: &Instance,
        image_id: &str,
        who: &Requester,
    ) -> crate::ApiResult<()> {
        let instance = self.begin(instance, Action::CreateImage).await?;
        let action_id = self.record_action(&instance.uuid, "createImage", who).await;
        let me = self.clone();
        let image_id = image_id.to_string();
        tokio::spawn(async move {
            let uuid = instance.uuid.clone();
            let result = me.snapshot_to(&instance, &image_id, &action_id, TaskState::ImageSnapshot).await;
            match result {
                Ok(()) => {
                    let _ =
                        me.finish(&uuid, Some(TaskState::ImageUploading), InstanceUpdate::default()).await;
                }
                Err(msg) => {
                    me.fail(&uuid, Some(TaskState::ImageUploading), None, &msg, instance.host.as_deref())
                        .await;
                    me.delete_image(&image_id).await;
                }
            }
        });
        Ok(())
    }

    /// Uploads a snapshot of the instance into `image_id`, moving through nova's snapshot
    /// tasks. Leaves the task at `image_uploading`.
    async fn snapshot_to(
        &self,
        instance: &Instance,
        image_id: &str,
        action_id: &str,
        from: TaskState,
    ) -> Result<(), String> {
        let uuid = &instance.uuid;
        let host = instance.host.clone().ok_or("The server is on no host")?;
        let moved = self
            .finish(
                uuid,
                Some(from),
                InstanceUpdate { task_state: Some(Some(TaskState::ImageUploading)), ..Default::default() },
            )
            .await;
        if !matches!(moved, Ok(true)) {
            return Err("the server changed during the snapshot".into());
        }
        let _ = self.store.start_event(action_id, "compute_snapshot_instance", Some(&host)).await;
        let target = SnapshotTarget {
            image_id: image_id.to_string(),
            upload_url: format!("{}/v2/images/{image_id}/file", self.image_url.trim_end_matches('/')),
        };
        let r = self.call_agent(&host, AgentRequest::Snapshot { uuid: uuid.clone(), target }).await;
        let err = r.err().map(|e| format!("snapshot failed on {host}: {e}"));
        let _ = self.store.finish_event(action_id, "compute_snapshot_instance", err.as_deref()).await;
        err.map_or(Ok(()), Err)
    }

    /// Shelve: snapshot, power off, then offload at once (nova's shelved_offload_time = 0):
    /// the guest leaves its host and its allocation is freed.
    pub async fn start_shelve(
        self: &Arc<Self>,
        instance: &Instance,
        image_id: &str,
        who: &Requester,
    ) -> crate::ApiResult<()> {
        let instance = self.begin(instance, Action::Shelve).await?;
        let action_id = self.record_action(&instance.uuid, "shelve", who).await;
        let me = self.clone();
        let image_id = image_id.to_string();
        tokio::spawn(async move {
            let uuid = instance.uuid.clone();
            let host = instance.host.clone().unwrap_or_default();
            if let Err(msg) = me.snapshot_to(&instance, &image_id, &action_id, TaskState::Shelving).await {
                me.fail(&uuid, Some(TaskState::ImageUploading), None, &msg, Some(&host)).await;
                me.delete_image(&image_id).await;
                return;
            }
            let _ = me.call_agent(&host, AgentRequest::PowerOff { uuid: uuid.clone() }).await;
            let shelved = InstanceUpdate {
                vm_state: Some(VmState::Shelved),
                power_state: Some(PowerState::Shutdown),
                task_state: Some(Some(TaskState::ShelvingOffloading)),
                ..Default::default()
            };
            if !matches!(me.finish(&uuid, Some(TaskState::ImageUploading), shelved).await, Ok(true)) {
                return;
            }
            let _ = me.call_agent(&host, AgentRequest::Destroy { uuid: uuid.clone() }).await;
            me.release_allocations(&uuid).await;
            let offloaded = InstanceUpdate {
                vm_state: Some(VmState::ShelvedOffloaded),
                host: Some(None),
                node: Some(None),
                power_state: Some(PowerState::Shutdown),
                ..Default::default()
            };
            let _ = me.finish(&uuid, Some(TaskState::ShelvingOffloading), offloaded).await;
            let _ = me.store.set_shelved_image(&uuid, Some(&image_id)).await;
        });
        Ok(())
    }

    /// Unshelve: schedule and spawn again, from the shelved snapshot.
    pub async fn start_unshelve(
        self: &Arc<Self>,
        instance: &Instance,
        spec: crate::scheduler::RequestSpec,
        who: &Requester,
    ) -> crate::ApiResult<()> {
        let instance = self.begin(instance, Action::Unshelve).await?;
        let action_id = self.record_action(&instance.uuid, "unshelve", who).await;
        let me = self.clone();
        tokio::spawn(async move {
            let uuid = instance.uuid.clone();
            let decision = match me.scheduler.select(&spec).await {
                Ok(d) => d,
                Err(e) => {
                    return me.fail(&uuid, Some(TaskState::Unshelving), None, &e.to_string(), None).await
                }
            };
            for selection in decision.selections {
                let claimed = me
                    .placement
                    .claim(&uuid, &selection.allocations, &instance.project_id, &instance.user_id, None)
                    .await;
                if claimed.is_err() {
                    continue;
                }
                let _ = me
                    .store
                    .start_event(&action_id, "compute_unshelve_instance", Some(&selection.host))
                    .await;
                match me.call_agent(&selection.host, AgentRequest::Spawn { instance: instance.spec() }).await
                {
                    Ok(_) => {
                        let update = InstanceUpdate {
                            vm_state: Some(VmState::Active),
                            power_state: Some(PowerState::Running),
                            host: Some(Some(selection.host.clone())),
                            node: Some(Some(selection.node.clone())),
                            availability_zone: Some(Some(selection.zone.clone())),
                            ..Default::default()
                        };
                        let _ = me.finish(&uuid, Some(TaskState::Unshelving), update).await;
                        let _ = me.store.finish_event(&action_id, "compute_unshelve_instance", None).await;
                        if let Ok(Some(image)) = me.store.shelved_image(&uuid).await {
                            me.delete_image(&image).await;
                            let _ = me.store.set_shelved_image(&uuid, None).await;
                        }
                        return;
                    }
                    Err(e) => {
                        let _ = me
                            .store
                            .finish_event(&action_id, "compute_unshelve_instance", Some(&e.to_string()))
                            .await;
                        me.release_allocations(&uuid).await;
                    }
                }
            }
            me.fail(
                &uuid,
                Some(TaskState::Unshelving),
                None,
                "No host could take the unshelved server",
                None,
            )
            .await;
        });
        Ok(())
    }
}
