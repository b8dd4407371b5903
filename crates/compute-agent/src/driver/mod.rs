//! The virt driver interface: what a hypervisor must do for the agent (nova's
//! `virt/driver.py`). The fake driver simulates hosts in memory; the QEMU driver runs real
//! guests.

pub mod fake;

use stratus_core::auth::BoxFuture;

use crate::rpc::{ConsoleInfo, FlavorSpec, ImageSpec, InstanceSpec, PowerState};

#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum DriverError {
    #[error("instance {0} is not on this host")]
    NotFound(String),
    #[error("{0}")]
    Failed(String),
}

pub type DriverResult<T> = Result<T, DriverError>;

/// What the host offers, for the inventory and the hypervisor listing.
#[derive(Debug, Clone, PartialEq)]
pub struct HostResources {
    pub vcpus: u32,
    pub memory_mb: u64,
    pub disk_gb: u64,
    pub hypervisor_type: String,
    pub hypervisor_version: u64,
    pub cpu_arch: String,
    pub vm_modes: Vec<String>,
    pub host_ip: String,
}

/// A snapshot's disk, ready to upload.
pub struct SnapshotData {
    pub disk_format: String,
    pub container_format: String,
    pub bytes: Vec<u8>,
}

pub trait Driver: Send + Sync + 'static {
    fn name(&self) -> &'static str;
    fn host_resources(&self) -> HostResources;
    fn spawn<'a>(&'a self, instance: &'a InstanceSpec) -> BoxFuture<'a, DriverResult<()>>;
    /// Removes the guest and its disks; destroying what is not there succeeds.
    fn destroy<'a>(&'a self, uuid: &'a str) -> BoxFuture<'a, DriverResult<()>>;
    fn power_off<'a>(&'a self, uuid: &'a str) -> BoxFuture<'a, DriverResult<()>>;
    fn power_on<'a>(&'a self, uuid: &'a str) -> BoxFuture<'a, DriverResult<()>>;
    fn reboot<'a>(&'a self, uuid: &'a str, hard: bool) -> BoxFuture<'a, DriverResult<()>>;
    fn pause<'a>(&'a self, uuid: &'a str) -> BoxFuture<'a, DriverResult<()>>;
    fn unpause<'a>(&'a self, uuid: &'a str) -> BoxFuture<'a, DriverResult<()>>;
    fn suspend<'a>(&'a self, uuid: &'a str) -> BoxFuture<'a, DriverResult<()>>;
    fn resume<'a>(&'a self, uuid: &'a str) -> BoxFuture<'a, DriverResult<()>>;
    fn rescue<'a>(
        &'a self,
        instance: &'a InstanceSpec,
        rescue_image: Option<&'a ImageSpec>,
    ) -> BoxFuture<'a, DriverResult<()>>;
    fn unrescue<'a>(&'a self, uuid: &'a str) -> BoxFuture<'a, DriverResult<()>>;
    /// Recreates the guest's root disk from `instance.image`, keeping its identity.
    fn rebuild<'a>(&'a self, instance: &'a InstanceSpec) -> BoxFuture<'a, DriverResult<()>>;
    fn snapshot<'a>(&'a self, uuid: &'a str) -> BoxFuture<'a, DriverResult<SnapshotData>>;
    /// Source side of a migration: power off, move the disk towards `dest_host`.
    fn migrate_disk_and_power_off<'a>(
        &'a self,
        uuid: &'a str,
        dest_host: &'a str,
        flavor: &'a FlavorSpec,
    ) -> BoxFuture<'a, DriverResult<()>>;
    /// Destination side: bring the migrated instance up with its (new) flavor.
    fn finish_migration<'a>(
        &'a self,
        instance: &'a InstanceSpec,
        power_on: bool,
    ) -> BoxFuture<'a, DriverResult<()>>;
    /// Source side after a confirm: drop the old copy.
    fn confirm_migration<'a>(&'a self, uuid: &'a str) -> BoxFuture<'a, DriverResult<()>>;
    /// Source side after a revert: bring the old copy back.
    fn finish_revert_migration<'a>(
        &'a self,
        instance: &'a InstanceSpec,
        power_on: bool,
    ) -> BoxFuture<'a, DriverResult<()>>;
    fn get_info<'a>(&'a self, uuid: &'a str) -> BoxFuture<'a, DriverResult<PowerState>>;
    /// Every guest on this host with its power state.
    fn list_instances(&self) -> BoxFuture<'_, Vec<(String, PowerState)>>;
    fn console_output<'a>(&'a self, uuid: &'a str) -> BoxFuture<'a, DriverResult<String>>;
    fn vnc_console<'a>(&'a self, uuid: &'a str) -> BoxFuture<'a, DriverResult<ConsoleInfo>>;
}
