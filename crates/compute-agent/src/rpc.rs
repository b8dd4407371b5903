//! The messages between the compute service (conductor) and compute agents, versioned.
//!
//! This is the agent's whole interface (nova's `compute/rpcapi.py`): the conductor *calls*
//! an agent at `compute.<host>` with an [`AgentRequest`]; agents *cast* [`ConductorRequest`]s
//! (registration, heartbeats, power states) to the `conductor` topic. Agents never touch a
//! database: everything they know arrives in these messages.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Topic agents listen on, as `compute.<host>`.
pub const AGENT_TOPIC: &str = "compute";
/// Topic the conductor listens on.
pub const CONDUCTOR_TOPIC: &str = "conductor";
/// The interface version this build speaks. Bump the minor for additions that old peers may
/// ignore; the major for changes they cannot.
pub const VERSION: &str = "1.0";

/// The hypervisor's view of a guest (nova's power_state values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PowerState {
    NoState,
    Running,
    Paused,
    Shutdown,
    Crashed,
    Suspended,
}

impl PowerState {
    /// The number in the API's `OS-EXT-STS:power_state`.
    pub fn code(self) -> i64 {
        match self {
            PowerState::NoState => 0,
            PowerState::Running => 1,
            PowerState::Paused => 3,
            PowerState::Shutdown => 4,
            PowerState::Crashed => 6,
            PowerState::Suspended => 7,
        }
    }

    pub fn from_code(code: i64) -> PowerState {
        match code {
            1 => PowerState::Running,
            3 => PowerState::Paused,
            4 => PowerState::Shutdown,
            6 => PowerState::Crashed,
            7 => PowerState::Suspended,
            _ => PowerState::NoState,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlavorSpec {
    pub name: String,
    pub vcpus: u32,
    pub memory_mb: u64,
    pub root_gb: u64,
    pub ephemeral_gb: u64,
    pub swap_mb: u64,
    #[serde(default)]
    pub extra_specs: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageSpec {
    pub id: String,
    pub name: Option<String>,
    pub disk_format: Option<String>,
    pub container_format: Option<String>,
    pub size: Option<u64>,
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
}

/// Everything an agent needs to run an instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceSpec {
    pub uuid: String,
    pub name: String,
    pub hostname: String,
    pub project_id: String,
    pub flavor: FlavorSpec,
    pub image: Option<ImageSpec>,
    pub user_data: Option<String>,
    pub key_data: Option<String>,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

/// Where to upload a snapshot: an image the conductor created in the image service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotTarget {
    pub image_id: String,
    /// `PUT` the data here (`…/v2/images/{id}/file`) with a service token.
    pub upload_url: String,
}

/// Requests the conductor sends an agent; every one is a call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", content = "args", rename_all = "snake_case")]
pub enum AgentRequest {
    Spawn {
        instance: InstanceSpec,
    },
    Destroy {
        uuid: String,
    },
    PowerOff {
        uuid: String,
    },
    PowerOn {
        uuid: String,
    },
    Reboot {
        uuid: String,
        hard: bool,
    },
    Pause {
        uuid: String,
    },
    Unpause {
        uuid: String,
    },
    Suspend {
        uuid: String,
    },
    Resume {
        uuid: String,
    },
    Rescue {
        instance: InstanceSpec,
        rescue_image: Option<ImageSpec>,
    },
    Unrescue {
        uuid: String,
    },
    Rebuild {
        instance: InstanceSpec,
    },
    Snapshot {
        uuid: String,
        target: SnapshotTarget,
    },
    /// Source side of a resize or cold migration: power off and hand the disk over.
    MigrateDisk {
        uuid: String,
        dest_host: String,
        flavor: FlavorSpec,
    },
    /// Destination side: start the instance from the migrated disk with its (new) flavor.
    FinishMigration {
        instance: InstanceSpec,
        power_on: bool,
    },
    /// Source side, after confirm: forget the old copy.
    ConfirmMigration {
        uuid: String,
    },
    /// Source side, after revert: start the old copy again with the old flavor.
    FinishRevertMigration {
        instance: InstanceSpec,
        power_on: bool,
    },
    GetInfo {
        uuid: String,
    },
    ConsoleOutput {
        uuid: String,
        length: Option<u32>,
    },
    VncConsole {
        uuid: String,
    },
}

/// Answer of an agent to a request that returns something.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceInfo {
    pub power_state: PowerState,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConsoleInfo {
    pub host: String,
    pub port: u16,
}

/// What a host has, as its agent reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeReport {
    pub hypervisor_hostname: String,
    pub hypervisor_type: String,
    pub hypervisor_version: u64,
    pub vcpus: u32,
    pub memory_mb: u64,
    pub local_gb: u64,
    pub cpu_arch: String,
    pub host_ip: String,
    /// The resource provider of this node in placement.
    pub rp_uuid: String,
    /// Guest modes the hypervisor runs (`hvm`, `xen`, `exe`).
    pub vm_modes: Vec<String>,
}

/// Messages agents send the conductor (casts).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", content = "args", rename_all = "snake_case")]
pub enum ConductorRequest {
    /// Registration and heartbeat of a `nova-compute` service with its node.
    ServiceReport { host: String, binary: String, availability_zone: String, node: NodeReport },
    /// The power state of every guest the hypervisor runs (periodic sync).
    PowerStates { host: String, states: BTreeMap<String, PowerState> },
}
