//! The fake driver: guests are entries in a map (nova's `virt/fake.py`). For scale
//! simulation and fast API tests; it can be told to fail or slow down spawns.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use stratus_core::auth::BoxFuture;

use super::{Driver, DriverError, DriverResult, HostResources, SnapshotData};
use crate::rpc::{ConsoleInfo, FlavorSpec, ImageSpec, InstanceSpec, PowerState};

#[derive(Debug, Clone)]
pub struct FakeOptions {
    pub vcpus: u32,
    pub memory_mb: u64,
    pub disk_gb: u64,
    /// Every spawn on this host fails (to test rescheduling).
    pub fail_spawns: bool,
    /// Every spawn takes this long.
    pub spawn_delay: Duration,
}

struct Guest {
    spec: InstanceSpec,
    power: PowerState,
    rescued: bool,
    /// Console lines, as a real guest would print on its serial port.
    console: Vec<String>,
}

pub struct FakeDriver {
    options: FakeOptions,
    guests: Mutex<HashMap<String, Guest>>,
}

impl FakeDriver {
    pub fn new(options: FakeOptions) -> FakeDriver {
        FakeDriver { options, guests: Mutex::new(HashMap::new()) }
    }

    /// Changes a guest's power state behind the cloud's back, as a guest shutting itself
    /// down would (for power-state sync tests).
    pub fn set_power_state(&self, uuid: &str, power: PowerState) -> bool {
        let mut guests = self.guests.lock().expect("guests");
        match guests.get_mut(uuid) {
            Some(g) => {
                g.power = power;
                true
            }
            None => false,
        }
    }

    fn with<T>(&self, uuid: &str, f: impl FnOnce(&mut Guest) -> DriverResult<T>) -> DriverResult<T> {
        let mut guests = self.guests.lock().expect("guests");
        let guest = guests.get_mut(uuid).ok_or_else(|| DriverError::NotFound(uuid.to_string()))?;
        f(guest)
    }

    fn power<'a>(
        &'a self,
        uuid: &'a str,
        from: &'a [PowerState],
        to: PowerState,
    ) -> BoxFuture<'a, DriverResult<()>> {
        Box::pin(async move {
            self.with(uuid, |g| {
                if !from.is_empty() && !from.contains(&g.power) {
                    return Err(DriverError::Failed(format!("guest {uuid} is {:?}, not {from:?}", g.power)));
                }
                g.power = to;
                g.console.push(format!("power: {to:?}"));
                Ok(())
            })
        })
    }

    fn insert(&self, spec: &InstanceSpec, power: PowerState) {
        let console = vec![
            format!("fake guest {} booting", spec.uuid),
            format!("hostname: {}", spec.hostname),
            "login:".to_string(),
        ];
        self.guests
            .lock()
            .expect("guests")
            .insert(spec.uuid.clone(), Guest { spec: spec.clone(), power, rescued: false, console });
    }
}

impl Driver for FakeDriver {
    fn name(&self) -> &'static str {
        "fake"
    }

    fn host_resources(&self) -> HostResources {
        HostResources {
            vcpus: self.options.vcpus,
            memory_mb: self.options.memory_mb,
            disk_gb: self.options.disk_gb,
            hypervisor_type: "fake".into(),
            hypervisor_version: 1000,
            cpu_arch: "x86_64".into(),
            vm_modes: vec!["hvm".into()],
            host_ip: "127.0.0.1".into(),
        }
    }

    fn spawn<'a>(&'a self, instance: &'a InstanceSpec) -> BoxFuture<'a, DriverResult<()>> {
        Box::pin(async move {
            if !self.options.spawn_delay.is_zero() {
                tokio::time::sleep(self.options.spawn_delay).await;
            }
            if self.options.fail_spawns {
                return Err(DriverError::Failed("the fake hypervisor was told to fail every spawn".into()));
            }
            self.insert(instance, PowerState::Running);
            Ok(())
        })
    }

    fn destroy<'a>(&'a self, uuid: &'a str) -> BoxFuture<'a, DriverResult<()>> {
        Box::pin(async move {
            self.guests.lock().expect("guests").remove(uuid);
            Ok(())
        })
    }

    fn power_off<'a>(&'a self, uuid: &'a str) -> BoxFuture<'a, DriverResult<()>> {
        self.power(uuid, &[], PowerState::Shutdown)
    }

    fn power_on<'a>(&'a self, uuid: &'a str) -> BoxFuture<'a, DriverResult<()>> {
        self.power(uuid, &[], PowerState::Running)
    }

    fn reboot<'a>(&'a self, uuid: &'a str, _hard: bool) -> BoxFuture<'a, DriverResult<()>> {
        self.power(uuid, &[], PowerState::Running)
    }

    fn pause<'a>(&'a self, uuid: &'a str) -> BoxFuture<'a, DriverResult<()>> {
        self.power(uuid, &[PowerState::Running], PowerState::Paused)
    }

    fn unpause<'a>(&'a self, uuid: &'a str) -> BoxFuture<'a, DriverResult<()>> {
        self.power(uuid, &[PowerState::Paused], PowerState::Running)
    }

    fn suspend<'a>(&'a self, uuid: &'a str) -> BoxFuture<'a, DriverResult<()>> {
        self.power(uuid, &[PowerState::Running], PowerState::Suspended)
    }

    fn resume<'a>(&'a self, uuid: &'a str) -> BoxFuture<'a, DriverResult<()>> {
        self.power(uuid, &[PowerState::Suspended], PowerState::Running)
    }

    fn rescue<'a>(
        &'a self,
        instance: &'a InstanceSpec,
        _rescue_image: Option<&'a ImageSpec>,
    ) -> BoxFuture<'a, DriverResult<()>> {
        Box::pin(async move {
            self.with(&instance.uuid, |g| {
                g.rescued = true;
                g.power = PowerState::Running;
                Ok(())
            })
        })
    }

    fn unrescue<'a>(&'a self, uuid: &'a str) -> BoxFuture<'a, DriverResult<()>> {
        Box::pin(async move {
            self.with(uuid, |g| {
                g.rescued = false;
                g.power = PowerState::Running;
                Ok(())
            })
        })
    }

    fn rebuild<'a>(&'a self, instance: &'a InstanceSpec) -> BoxFuture<'a, DriverResult<()>> {
        Box::pin(async move {
            self.with(&instance.uuid, |g| {
                g.spec = instance.clone();
                g.power = PowerState::Running;
                g.console.push(format!("rebuilt from image {:?}", instance.image.as_ref().map(|i| &i.id)));
                Ok(())
            })
        })
    }

    fn snapshot<'a>(&'a self, uuid: &'a str) -> BoxFuture<'a, DriverResult<SnapshotData>> {
        Box::pin(async move {
            self.with(uuid, |g| {
                // A tiny raw "disk" that names what it is a snapshot of.
                let bytes =
                    format!("stratus fake snapshot of {} ({})\n", g.spec.uuid, g.spec.name).into_bytes();
                Ok(SnapshotData { disk_format: "raw".into(), container_format: "bare".into(), bytes })
            })
        })
    }

    fn migrate_disk_and_power_off<'a>(
        &'a self,
        uuid: &'a str,
        _dest_host: &'a str,
        _flavor: &'a FlavorSpec,
    ) -> BoxFuture<'a, DriverResult<()>> {
        self.power(uuid, &[], PowerState::Shutdown)
    }

    fn finish_migration<'a>(
        &'a self,
        instance: &'a InstanceSpec,
        power_on: bool,
    ) -> BoxFuture<'a, DriverResult<()>> {
        Box::pin(async move {
            let power = if power_on { PowerState::Running } else { PowerState::Shutdown };
            self.insert(instance, power);
            Ok(())
        })
    }

    fn confirm_migration<'a>(&'a self, uuid: &'a str) -> BoxFuture<'a, DriverResult<()>> {
        self.destroy(uuid)
    }

    fn finish_revert_migration<'a>(
        &'a self,
        instance: &'a InstanceSpec,
        power_on: bool,
    ) -> BoxFuture<'a, DriverResult<()>> {
        self.finish_migration(instance, power_on)
    }

    fn get_info<'a>(&'a self, uuid: &'a str) -> BoxFuture<'a, DriverResult<PowerState>> {
        Box::pin(async move { self.with(uuid, |g| Ok(g.power)) })
    }

    fn list_instances(&self) -> BoxFuture<'_, Vec<(String, PowerState)>> {
        Box::pin(async move {
            self.guests.lock().expect("guests").iter().map(|(id, g)| (id.clone(), g.power)).collect()
        })
    }

    fn console_output<'a>(&'a self, uuid: &'a str) -> BoxFuture<'a, DriverResult<String>> {
        Box::pin(async move { self.with(uuid, |g| Ok(g.console.join("\n") + "\n")) })
    }

    fn vnc_console<'a>(&'a self, uuid: &'a str) -> BoxFuture<'a, DriverResult<ConsoleInfo>> {
        Box::pin(async move { self.with(uuid, |_| Ok(ConsoleInfo { host: "127.0.0.1".into(), port: 5900 })) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::FlavorSpec;

    fn spec(uuid: &str) -> InstanceSpec {
        InstanceSpec {
            uuid: uuid.into(),
            name: "vm".into(),
            hostname: "vm".into(),
            project_id: "p".into(),
            flavor: FlavorSpec {
                name: "m1.tiny".into(),
                vcpus: 1,
                memory_mb: 512,
                root_gb: 1,
                ephemeral_gb: 0,
                swap_mb: 0,
                extra_specs: Default::default(),
            },
            image: None,
            user_data: None,
            key_data: None,
            metadata: Default::default(),
        }
    }

    fn options() -> FakeOptions {
        FakeOptions {
            vcpus: 4,
            memory_mb: 4096,
            disk_gb: 40,
            fail_spawns: false,
            spawn_delay: Duration::ZERO,
        }
    }

    #[tokio::test]
    async fn guest_lifecycle() {
        let d = FakeDriver::new(options());
        d.spawn(&spec("a")).await.unwrap();
        assert_eq!(d.get_info("a").await.unwrap(), PowerState::Running);
        d.pause("a").await.unwrap();
        assert!(d.suspend("a").await.is_err(), "a paused guest cannot be suspended");
        d.unpause("a").await.unwrap();
        d.power_off("a").await.unwrap();
        assert_eq!(d.list_instances().await, vec![("a".to_string(), PowerState::Shutdown)]);
        d.destroy("a").await.unwrap();
        assert_eq!(d.get_info("a").await, Err(DriverError::NotFound("a".into())));
    }

    #[tokio::test]
    async fn can_be_told_to_fail() {
        let d = FakeDriver::new(FakeOptions { fail_spawns: true, ..options() });
        assert!(d.spawn(&spec("a")).await.is_err());
        assert!(d.list_instances().await.is_empty());
    }
}
