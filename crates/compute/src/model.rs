//! Domain types of the compute service and the server state machine (no HTTP, no SQL).
//!
//! A server has three states, as seed 001 explains: `vm_state` (the stable state the API
//! produced), `task_state` (the operation in flight, None when stable) and `power_state`
//! (what the hypervisor says). The API's `status` is derived from the first two.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
pub use stratus_compute_agent::rpc::PowerState;
use stratus_compute_agent::rpc::{FlavorSpec, ImageSpec};

macro_rules! str_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $s:literal),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name { $(#[serde(rename = $s)] $variant),* }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $s),* }
            }

            pub fn parse(s: &str) -> Option<$name> {
                match s { $($s => Some($name::$variant),)* _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

str_enum!(
    /// nova's `vm_states`.
    VmState {
        Active = "active",
        Building = "building",
        Paused = "paused",
        Suspended = "suspended",
        Stopped = "stopped",
        Rescued = "rescued",
        Resized = "resized",
        SoftDeleted = "soft-delete",
        Deleted = "deleted",
        Error = "error",
        Shelved = "shelved",
        ShelvedOffloaded = "shelved_offloaded",
    }
);

str_enum!(
    /// nova's `task_states` (the ones this service goes through).
    TaskState {
        Scheduling = "scheduling",
        BlockDeviceMapping = "block_device_mapping",
        Networking = "networking",
        Spawning = "spawning",
        ImageSnapshot = "image_snapshot",
        ImagePendingUpload = "image_pending_upload",
        ImageUploading = "image_uploading",
        ResizePrep = "resize_prep",
        ResizeMigrating = "resize_migrating",
        ResizeMigrated = "resize_migrated",
        ResizeFinish = "resize_finish",
        ResizeReverting = "resize_reverting",
        ResizeConfirming = "resize_confirming",
        Rebooting = "rebooting",
        RebootingHard = "rebooting_hard",
        Pausing = "pausing",
        Unpausing = "unpausing",
        Suspending = "suspending",
        Resuming = "resuming",
        PoweringOff = "powering-off",
        PoweringOn = "powering-on",
        Rescuing = "rescuing",
        Unrescuing = "unrescuing",
        Rebuilding = "rebuilding",
        RebuildSpawning = "rebuild_spawning",
        Migrating = "migrating",
        Deleting = "deleting",
        Shelving = "shelving",
        ShelvingImageUploading = "shelving_image_uploading",
        ShelvingOffloading = "shelving_offloading",
        Unshelving = "unshelving",
    }
);

/// The API's `status` of a server, derived as nova's `api/openstack/common.py` does.
pub fn status(vm: VmState, task: Option<TaskState>) -> &'static str {
    use TaskState as T;
    use VmState as V;
    match (vm, task) {
        (V::Active, Some(T::Rebooting)) => "REBOOT",
        (V::Active, Some(T::RebootingHard)) => "HARD_REBOOT",
        (V::Active | V::Stopped | V::Error, Some(T::Rebuilding | T::RebuildSpawning)) => "REBUILD",
        (V::Active | V::Paused, Some(T::Migrating)) => "MIGRATING",
        (
            V::Active | V::Stopped,
            Some(T::ResizePrep | T::ResizeMigrating | T::ResizeMigrated | T::ResizeFinish),
        ) => "RESIZE",
        (V::Active, _) => "ACTIVE",
        (V::Building, _) => "BUILD",
        (V::Stopped, _) => "SHUTOFF",
        (V::Resized, Some(T::ResizeReverting)) => "REVERT_RESIZE",
        (V::Resized, _) => "VERIFY_RESIZE",
        (V::Paused, _) => "PAUSED",
        (V::Suspended, _) => "SUSPENDED",
        (V::Rescued, _) => "RESCUE",
        (V::Error, _) => "ERROR",
        (V::Deleted, _) => "DELETED",
        (V::SoftDeleted, _) => "SOFT_DELETED",
        (V::Shelved, _) => "SHELVED",
        (V::ShelvedOffloaded, _) => "SHELVED_OFFLOADED",
    }
}

/// The vm_states a `status` filter means (`server list --status SHUTOFF`).
pub fn vm_states_for_status(status: &str) -> Option<Vec<VmState>> {
    let status = status.to_ascii_uppercase();
    let states: Vec<VmState> =
        VmState::ALL.iter().copied().filter(|vm| status_variants(*vm).contains(&status.as_str())).collect();
    (!states.is_empty()).then_some(states)
}

fn status_variants(vm: VmState) -> Vec<&'static str> {
    let mut out = vec![status(vm, None)];
    for t in TaskState::ALL {
        let s = status(vm, Some(*t));
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

/// The power_state name the API shows in `OS-EXT-STS:power_state` docs and `server show`.
pub fn power_state_name(p: PowerState) -> &'static str {
    match p {
        PowerState::NoState => "NOSTATE",
        PowerState::Running => "Running",
        PowerState::Paused => "Paused",
        PowerState::Shutdown => "Shutdown",
        PowerState::Crashed => "Crashed",
        PowerState::Suspended => "Suspended",
    }
}

/// A server operation, with the states it may start from (nova's `check_instance_state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Stop,
    Start,
    Reboot,
    RebootHard,
    Pause,
    Unpause,
    Suspend,
    Resume,
    Rescue,
    Unrescue,
    Resize,
    ConfirmResize,
    RevertResize,
    Migrate,
    Rebuild,
    CreateImage,
    Shelve,
    Unshelve,
    Delete,
    Update,
}

impl Action {
    /// The name in nova's 409 messages and instance actions.
    pub fn name(self) -> &'static str {
        match self {
            Action::Stop => "stop",
            Action::Start => "start",
            Action::Reboot | Action::RebootHard => "reboot",
            Action::Pause => "pause",
            Action::Unpause => "unpause",
            Action::Suspend => "suspend",
            Action::Resume => "resume",
            Action::Rescue => "rescue",
            Action::Unrescue => "unrescue",
            Action::Resize => "resize",
            Action::ConfirmResize => "confirmResize",
            Action::RevertResize => "revertResize",
            Action::Migrate => "migrate",
            Action::Rebuild => "rebuild",
            Action::CreateImage => "createImage",
            Action::Shelve => "shelve",
            Action::Unshelve => "unshelve",
            Action::Delete => "delete",
            Action::Update => "update",
        }
    }

    /// vm_states the action may start from; empty means any.
    pub fn from_vm_states(self) -> &'static [VmState] {
        use VmState::*;
        match self {
            Action::Stop => &[Active, Error, Rescued, Paused, Suspended],
            Action::Start => &[Stopped],
            Action::Reboot => &[Active, Stopped, Paused, Suspended, Error],
            Action::RebootHard => &[Active, Stopped, Paused, Suspended, Error],
            Action::Pause => &[Active],
            Action::Unpause => &[Paused],
            Action::Suspend => &[Active],
            Action::Resume => &[Suspended],
            Action::Rescue => &[Active, Stopped, Error],
            Action::Unrescue => &[Rescued],
            Action::Resize | Action::Migrate => &[Active, Stopped],
            Action::ConfirmResize | Action::RevertResize => &[Resized],
            Action::Rebuild => &[Active, Stopped, Error],
            Action::CreateImage => &[Active, Stopped, Paused, Suspended],
            Action::Shelve => &[Active, Stopped, Paused, Suspended],
            Action::Unshelve => &[Shelved, ShelvedOffloaded],
            Action::Delete | Action::Update => &[],
        }
    }

    /// task_states the action may start from (None = no task in flight).
    pub fn from_task_states(self) -> &'static [Option<TaskState>] {
        use TaskState::*;
        match self {
            // A hard reboot may interrupt a soft one or a power change that hung.
            Action::RebootHard => {
                &[None, Some(Rebooting), Some(RebootingHard), Some(PoweringOn), Some(PoweringOff)]
            }
            // Delete pre-empts anything but another delete (force delete pre-empts that too).
            Action::Delete => &[],
            Action::Update => &[],
            _ => &[None],
        }
    }

    /// The task a server is in while the action runs.
    pub fn task(self) -> Option<TaskState> {
        use TaskState::*;
        Some(match self {
            Action::Stop => PoweringOff,
            Action::Start => PoweringOn,
            Action::Reboot => Rebooting,
            Action::RebootHard => RebootingHard,
            Action::Pause => Pausing,
            Action::Unpause => Unpausing,
            Action::Suspend => Suspending,
            Action::Resume => Resuming,
            Action::Rescue => Rescuing,
            Action::Unrescue => Unrescuing,
            Action::Resize | Action::Migrate => ResizePrep,
            Action::ConfirmResize => ResizeConfirming,
            Action::RevertResize => ResizeReverting,
            Action::Rebuild => Rebuilding,
            Action::CreateImage => ImageSnapshot,
            Action::Shelve => Shelving,
            Action::Unshelve => Unshelving,
            Action::Delete => Deleting,
            Action::Update => return None,
        })
    }

    /// Why the action cannot start from these states, in nova's words; None if it can.
    pub fn refusal(self, uuid: &str, vm: VmState, task: Option<TaskState>) -> Option<String> {
        let vms = self.from_vm_states();
        if !vms.is_empty() && !vms.contains(&vm) {
            return Some(format!(
                "Cannot '{}' instance {uuid} while it is in vm_state {}",
                self.name(),
                vm.as_str()
            ));
        }
        let tasks = self.from_task_states();
        if !tasks.is_empty() && !tasks.contains(&task) {
            let t = task.map(|t| t.as_str()).unwrap_or("None");
            return Some(format!("Cannot '{}' instance {uuid} while it is in task_state {t}", self.name()));
        }
        None
    }
}

/// A flavor: the size of a server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Flavor {
    /// Internal numeric id.
    pub id: i64,
    /// The API id (`flavorid`), a string.
    pub flavorid: String,
    pub name: String,
    pub vcpus: u32,
    pub memory_mb: u64,
    pub root_gb: u64,
    pub ephemeral_gb: u64,
    pub swap: u64,
    pub rxtx_factor: f64,
    pub is_public: bool,
    pub disabled: bool,
    pub description: Option<String>,
    pub extra_specs: BTreeMap<String, String>,
}

impl Flavor {
    pub fn spec(&self) -> FlavorSpec {
        FlavorSpec {
            name: self.name.clone(),
            vcpus: self.vcpus,
            memory_mb: self.memory_mb,
            root_gb: self.root_gb,
            ephemeral_gb: self.ephemeral_gb,
            swap_mb: self.swap,
            extra_specs: self.extra_specs.clone(),
        }
    }

    /// The placement resources one server of this flavor takes.
    pub fn resources(&self) -> BTreeMap<String, u64> {
        let mut r = BTreeMap::new();
        r.insert("VCPU".to_string(), self.vcpus as u64);
        r.insert("MEMORY_MB".to_string(), self.memory_mb);
        let disk = self.root_gb + self.ephemeral_gb + self.swap.div_ceil(1024);
        if disk > 0 {
            r.insert("DISK_GB".to_string(), disk);
        }
        r
    }
}

/// A key pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyPair {
    pub user_id: String,
    pub name: String,
    pub fingerprint: String,
    pub public_key: String,
    pub key_type: String,
    pub created_at: DateTime<Utc>,
}

/// A server (nova's instance).
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    pub uuid: String,
    pub display_name: String,
    pub hostname: String,
    pub description: Option<String>,
    pub project_id: String,
    pub user_id: String,
    pub host: Option<String>,
    pub node: Option<String>,
    pub availability_zone: Option<String>,
    pub requested_availability_zone: Option<String>,
    pub flavor: Flavor,
    pub old_flavor: Option<Flavor>,
    pub new_flavor: Option<Flavor>,
    pub image_ref: Option<String>,
    pub image: Option<ImageSpec>,
    pub key_name: Option<String>,
    pub key_data: Option<String>,
    pub user_data: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub tags: Vec<String>,
    pub vm_state: VmState,
    pub task_state: Option<TaskState>,
    pub power_state: PowerState,
    pub locked: bool,
    pub locked_by: Option<String>,
    pub locked_reason: Option<String>,
    pub access_ip_v4: Option<String>,
    pub access_ip_v6: Option<String>,
    pub config_drive: Option<String>,
    pub progress: i64,
    pub launch_index: i64,
    pub reservation_id: String,
    pub server_group: Option<String>,
    pub scheduler_hints: serde_json::Value,
    pub launched_at: Option<DateTime<Utc>>,
    pub terminated_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
    pub deleted: bool,
}

impl Instance {
    pub fn status(&self) -> &'static str {
        status(self.vm_state, self.task_state)
    }
}

/// A fault recorded against an instance (what `server show` prints as `fault`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fault {
    pub code: i64,
    pub message: String,
    pub details: Option<String>,
    pub host: Option<String>,
    pub created: DateTime<Utc>,
}

/// A `nova-compute` (or other) service record with its liveness.
#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    pub id: i64,
    pub uuid: String,
    pub host: String,
    pub binary: String,
    pub topic: String,
    pub availability_zone: String,
    pub disabled: bool,
    pub disabled_reason: Option<String>,
    pub forced_down: bool,
    pub last_seen_up: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Service {
    /// Up when not forced down and heard from within `down_after` seconds.
    pub fn is_up(&self, now: DateTime<Utc>, down_after: u64) -> bool {
        !self.forced_down && self.last_seen_up.is_some_and(|t| (now - t).num_seconds() <= down_after as i64)
    }
}

/// A hypervisor: one node of a compute host.
#[derive(Debug, Clone, PartialEq)]
pub struct ComputeNode {
    pub id: i64,
    pub uuid: String,
    pub host: String,
    pub hypervisor_hostname: String,
    pub hypervisor_type: String,
    pub hypervisor_version: i64,
    pub vcpus: i64,
    pub memory_mb: i64,
    pub local_gb: i64,
    pub cpu_arch: String,
    pub vm_modes: Vec<String>,
    pub host_ip: String,
}

str_enum!(
    /// The placement policy of a server group.
    ServerGroupPolicy {
        Affinity = "affinity",
        AntiAffinity = "anti-affinity",
        SoftAffinity = "soft-affinity",
        SoftAntiAffinity = "soft-anti-affinity",
    }
);

/// A server group (nova's instance group): servers placed together or apart.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerGroup {
    pub uuid: String,
    pub name: String,
    pub project_id: String,
    pub user_id: String,
    pub policy: ServerGroupPolicy,
    /// The `max_server_per_host` rule of an anti-affinity group (at most this many members
    /// on one host; None means 1).
    pub max_server_per_host: Option<u32>,
    /// Members whose servers are not deleted.
    pub members: Vec<String>,
    pub created_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_follows_nova() {
        assert_eq!(status(VmState::Active, None), "ACTIVE");
        assert_eq!(status(VmState::Active, Some(TaskState::Rebooting)), "REBOOT");
        assert_eq!(status(VmState::Active, Some(TaskState::RebootingHard)), "HARD_REBOOT");
        assert_eq!(status(VmState::Stopped, Some(TaskState::PoweringOn)), "SHUTOFF");
        assert_eq!(status(VmState::Resized, None), "VERIFY_RESIZE");
        assert_eq!(status(VmState::Resized, Some(TaskState::ResizeReverting)), "REVERT_RESIZE");
        assert_eq!(status(VmState::Active, Some(TaskState::ResizeMigrating)), "RESIZE");
        assert_eq!(status(VmState::Building, Some(TaskState::Scheduling)), "BUILD");
        assert_eq!(status(VmState::Error, Some(TaskState::Rebuilding)), "REBUILD");
        assert_eq!(status(VmState::Rescued, None), "RESCUE");
    }

    #[test]
    fn status_filters_map_back() {
        assert_eq!(vm_states_for_status("shutoff"), Some(vec![VmState::Stopped]));
        assert!(vm_states_for_status("ACTIVE").unwrap().contains(&VmState::Active));
        assert_eq!(vm_states_for_status("BOGUS"), None);
    }

    #[test]
    fn actions_check_states() {
        assert_eq!(Action::Start.refusal("u", VmState::Stopped, None), None);
        assert_eq!(
            Action::Start.refusal("u", VmState::Active, None).unwrap(),
            "Cannot 'start' instance u while it is in vm_state active"
        );
        assert_eq!(
            Action::Stop.refusal("u", VmState::Active, Some(TaskState::Rebooting)).unwrap(),
            "Cannot 'stop' instance u while it is in task_state rebooting"
        );
        assert_eq!(Action::RebootHard.refusal("u", VmState::Active, Some(TaskState::Rebooting)), None);
        assert_eq!(Action::Delete.refusal("u", VmState::Building, Some(TaskState::Spawning)), None);
        for vm in VmState::ALL {
            for a in [Action::Stop, Action::Start, Action::Resize, Action::Shelve] {
                // Every refusal names the action.
                if let Some(m) = a.refusal("u", *vm, None) {
                    assert!(m.contains(a.name()));
                }
            }
        }
    }

    #[test]
    fn flavor_resources() {
        let f = Flavor {
            id: 1,
            flavorid: "1".into(),
            name: "m1".into(),
            vcpus: 2,
            memory_mb: 2048,
            root_gb: 10,
            ephemeral_gb: 5,
            swap: 1500,
            rxtx_factor: 1.0,
            is_public: true,
            disabled: false,
            description: None,
            extra_specs: Default::default(),
        };
        let r = f.resources();
        assert_eq!(r["VCPU"], 2);
        assert_eq!(r["MEMORY_MB"], 2048);
        assert_eq!(r["DISK_GB"], 17);
    }
}
