//! Stratus configuration: one TOML file with documented defaults, every option also settable
//! through the environment.
//!
//! An option `key` in section `[section]` is overridden by `STRATUS_SECTION_KEY` (upper case),
//! a top-level option `key` by `STRATUS_KEY`. The environment wins over the file, the file over
//! the defaults. `stratus.example.toml` at the repository root lists every option.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where databases, keys, image files and credentials live.
    pub data_dir: PathBuf,
    /// Host name or address that clients use to reach this cloud; goes into the catalog.
    pub public_host: String,
    /// Region every endpoint is registered in.
    pub region: String,
    pub log: LogConfig,
    pub http: HttpConfig,
    pub identity: IdentityConfig,
    pub image: ImageConfig,
    pub placement: PlacementConfig,
    pub compute: ComputeConfig,
    pub scheduler: SchedulerConfig,
    pub compute_agent: ComputeAgentConfig,
    pub bus: BusConfig,
    pub object_storage: ObjectStorageConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// A tracing filter, e.g. `info` or `stratus=debug,info`.
    pub level: String,
    /// `text` or `json`.
    pub format: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Largest JSON request body any API accepts, in bytes.
    pub max_body_bytes: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IdentityConfig {
    /// Address the identity API listens on.
    pub listen: String,
    /// Database URL; empty means SQLite at `<data_dir>/identity.db`.
    /// MariaDB/MySQL: `mysql://user:password@host:3306/stratus_identity`.
    pub database_url: String,
    /// Fernet key repository; empty means `<data_dir>/fernet-keys`.
    pub key_repository: String,
    /// Keys kept by `stratus fernet rotate` (staged + primary + secondaries).
    pub max_active_keys: u32,
    /// Token lifetime in seconds.
    pub token_expiration: u64,
    /// How long after expiry a service may still validate a token with `allow_expired`.
    pub allow_expired_window: u64,
    /// bcrypt cost for password hashes (keystone's default is 12).
    pub password_hash_rounds: u32,
    /// Failed password attempts before a user is locked out; 0 disables lockout.
    pub lockout_failure_attempts: u32,
    /// Seconds a locked-out user stays locked.
    pub lockout_duration: u64,
    /// Optional policy override file (JSON or oslo.policy YAML).
    pub policy_file: String,
    /// The admin password used by bootstrap; empty means generate one (stored 0600).
    pub admin_password: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImageConfig {
    /// Address the image API listens on.
    pub listen: String,
    /// Database URL; empty means SQLite at `<data_dir>/image.db`.
    pub database_url: String,
    /// Where image data lives (the `file` store); empty means `<data_dir>/images`.
    pub store_dir: String,
    /// Largest image accepted, in bytes (glance's `image_size_cap`, 1 TiB).
    pub max_image_bytes: u64,
    /// Total bytes of image data one project may store; 0 means no limit
    /// (glance's `user_storage_quota`).
    pub project_quota_bytes: u64,
    /// Where new image data goes: `file` (the filesystem store, `store_dir`) or `swift`
    /// (this cloud's object storage, in the `glance` service user's account).
    pub default_store: String,
    /// The container the `swift` store keeps image data in.
    pub swift_container: String,
    /// The object-storage endpoint of the `swift` store; empty means this node's.
    pub swift_url: String,
}

impl Default for ImageConfig {
    fn default() -> Self {
        ImageConfig {
            listen: "0.0.0.0:9292".into(),
            database_url: String::new(),
            store_dir: String::new(),
            max_image_bytes: 1 << 40,
            project_quota_bytes: 0,
            default_store: "file".into(),
            swift_container: "glance".into(),
            swift_url: String::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PlacementConfig {
    /// Address the placement API listens on.
    pub listen: String,
    /// Database URL; empty means SQLite at `<data_dir>/placement.db`.
    pub database_url: String,
}

impl Default for PlacementConfig {
    fn default() -> Self {
        PlacementConfig { listen: "0.0.0.0:8778".into(), database_url: String::new() }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ComputeConfig {
    /// Address the compute API listens on.
    pub listen: String,
    /// Database URL; empty means SQLite at `<data_dir>/compute.db`.
    pub database_url: String,
    /// Seconds without a heartbeat after which a compute service is `down`.
    pub service_down_time: u64,
    /// Seconds after which a resized server is confirmed automatically; 0 never.
    pub resize_confirm_window: u64,
    /// Largest `user_data`, in bytes after base64 decoding.
    pub max_user_data_bytes: u64,
    /// Default quotas of a project (nova's `[quota]` section); -1 is unlimited.
    pub quota_instances: i64,
    pub quota_cores: i64,
    pub quota_ram: i64,
    pub quota_key_pairs: i64,
    pub quota_metadata_items: i64,
    pub quota_server_groups: i64,
    pub quota_server_group_members: i64,
}

impl Default for ComputeConfig {
    fn default() -> Self {
        ComputeConfig {
            listen: "0.0.0.0:8774".into(),
            database_url: String::new(),
            service_down_time: 60,
            resize_confirm_window: 0,
            max_user_data_bytes: 65535,
            quota_instances: 10,
            quota_cores: 20,
            quota_ram: 51200,
            quota_key_pairs: 100,
            quota_metadata_items: 128,
            quota_server_groups: 10,
            quota_server_group_members: 10,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SchedulerConfig {
    /// Filters run in this order, comma-separated (nova's `enabled_filters`).
    pub enabled_filters: String,
    /// Overcommit of the hosts' resources, written into their placement inventories.
    pub cpu_allocation_ratio: f64,
    pub ram_allocation_ratio: f64,
    pub disk_allocation_ratio: f64,
    /// Positive spreads servers over hosts (most free first), negative stacks them.
    pub ram_weight_multiplier: f64,
    pub cpu_weight_multiplier: f64,
    pub disk_weight_multiplier: f64,
    /// Pick at random among this many best hosts (spreads concurrent boots).
    pub host_subset_size: u32,
    /// Hosts tried per boot, the first included (nova's `scheduler_max_attempts`).
    pub max_attempts: u32,
    /// Largest number of candidates asked of placement.
    pub max_placement_results: u32,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            enabled_filters: "RetryFilter,AvailabilityZoneFilter,ComputeFilter,ComputeCapabilitiesFilter,\
                ImagePropertiesFilter,AggregateInstanceExtraSpecsFilter,ServerGroupAntiAffinityFilter,\
                ServerGroupAffinityFilter"
                .into(),
            cpu_allocation_ratio: 16.0,
            ram_allocation_ratio: 1.5,
            disk_allocation_ratio: 1.0,
            ram_weight_multiplier: 1.0,
            cpu_weight_multiplier: 1.0,
            disk_weight_multiplier: 1.0,
            host_subset_size: 1,
            max_attempts: 3,
            max_placement_results: 1000,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ComputeAgentConfig {
    /// The virt driver: `fake` (simulated hosts).
    pub driver: String,
    /// Name of this host; empty means the machine's host name.
    pub host: String,
    /// Availability zone of this host's services.
    pub availability_zone: String,
    /// Simulated hosts `stratus up` runs in-process (`fake1` … `fakeN`); 0 for none.
    pub fake_hosts: u32,
    /// Size of a simulated host.
    pub fake_vcpus: u32,
    pub fake_memory_mb: u64,
    pub fake_disk_gb: u64,
    /// Simulated hosts whose every spawn fails, comma-separated (to watch rescheduling).
    pub fake_failing_hosts: String,
    /// Milliseconds every simulated spawn takes.
    pub fake_spawn_delay_ms: u64,
    /// Seconds between heartbeats and inventory reports.
    pub report_interval: u64,
    /// Seconds between power-state syncs with the hypervisor.
    pub sync_power_state_interval: u64,
    /// For `stratus agent compute` on another host: the identity endpoint
    /// (`http://controller:5000/v3`); empty means this node's identity.
    pub auth_url: String,
    /// The placement endpoint; empty means this node's placement.
    pub placement_url: String,
    /// The file holding the `nova` service user's password (the controller writes it to
    /// `<data_dir>/nova-service-password`); empty means that path in this node's data dir.
    pub password_file: String,
}

impl Default for ComputeAgentConfig {
    fn default() -> Self {
        ComputeAgentConfig {
            driver: "fake".into(),
            host: String::new(),
            availability_zone: "nova".into(),
            fake_hosts: 1,
            fake_vcpus: 8,
            fake_memory_mb: 16384,
            fake_disk_gb: 200,
            fake_failing_hosts: String::new(),
            fake_spawn_delay_ms: 0,
            report_interval: 10,
            sync_power_state_interval: 60,
            auth_url: String::new(),
            placement_url: String::new(),
            password_file: String::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BusConfig {
    /// Empty: the in-process bus (one node). `amqp://user:pass@host:5672/` for RabbitMQ.
    pub transport_url: String,
    /// Seconds an RPC call waits for its answer.
    pub rpc_response_timeout: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ObjectStorageConfig {
    /// Address the object-storage API (swift) listens on.
    pub listen: String,
    /// Where object data and the listing databases live; empty means `<data_dir>/objects`.
    pub root: String,
    /// Partition power of the local ring (2^n partitions), as swift's `part_power`.
    pub part_power: u32,
    /// Seconds between runs of the object expirer (`X-Delete-At`).
    pub expirer_interval: u64,
    /// Largest object accepted without segments, in bytes (swift's `max_file_size`).
    pub max_file_size: u64,
    /// Largest number of segments in one static large object manifest.
    pub max_manifest_segments: u64,
    /// Roles that make a caller the owner of its project's account (keystoneauth's
    /// `operator_roles`), comma-separated.
    pub operator_roles: String,
    /// Roles that may only read their project's account, comma-separated.
    pub reader_roles: String,
    /// Roles that may act on every account (keystoneauth's `reseller_admin_role`).
    pub reseller_admin_roles: String,
}

impl Default for ObjectStorageConfig {
    fn default() -> Self {
        ObjectStorageConfig {
            listen: "0.0.0.0:8080".into(),
            root: String::new(),
            part_power: 10,
            expirer_interval: 30,
            max_file_size: 5 * 1024 * 1024 * 1024 + 2,
            max_manifest_segments: 1000,
            operator_roles: "admin,member".into(),
            reader_roles: "reader".into(),
            reseller_admin_roles: "admin".into(),
        }
    }
}

impl Default for BusConfig {
    fn default() -> Self {
        BusConfig { transport_url: String::new(), rpc_response_timeout: 60 }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: default_data_dir(),
            public_host: "localhost".into(),
            region: "RegionOne".into(),
            log: LogConfig::default(),
            http: HttpConfig::default(),
            identity: IdentityConfig::default(),
            image: ImageConfig::default(),
            placement: PlacementConfig::default(),
            compute: ComputeConfig::default(),
            scheduler: SchedulerConfig::default(),
            compute_agent: ComputeAgentConfig::default(),
            bus: BusConfig::default(),
            object_storage: ObjectStorageConfig::default(),
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig { level: "info".into(), format: "text".into() }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig { max_body_bytes: 1024 * 1024 }
    }
}

impl Default for IdentityConfig {
    fn default() -> Self {
        IdentityConfig {
            listen: "0.0.0.0:5000".into(),
            database_url: String::new(),
            key_repository: String::new(),
            max_active_keys: 3,
            token_expiration: 3600,
            allow_expired_window: 48 * 3600,
            password_hash_rounds: 12,
            lockout_failure_attempts: 0,
            lockout_duration: 1800,
            policy_file: String::new(),
            admin_password: String::new(),
        }
    }
}

/// Root keeps its cloud in /var/lib like every other system service; anyone else in their home.
fn default_data_dir() -> PathBuf {
    match std::env::var("HOME") {
        Ok(home) if !home.is_empty() && !running_as_root() => {
            PathBuf::from(home).join(".local/share/stratus")
        }
        _ => PathBuf::from("/var/lib/stratus"),
    }
}

fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0).unwrap_or(false)
}

impl Config {
    /// Defaults, then the file (if any), then the environment.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Config> {
        Self::load_from(file, |k| std::env::var(k).ok())
    }

    pub fn load_from(file: Option<&Path>, env: impl Fn(&str) -> Option<String>) -> anyhow::Result<Config> {
        let mut value = toml::Value::try_from(Config::default())?;
        if let Some(path) = file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading config file {}", path.display()))?;
            let from_file: toml::Value =
                toml::from_str(&text).with_context(|| format!("parsing config file {}", path.display()))?;
            merge(&mut value, from_file);
        }
        apply_env(&mut value, "STRATUS", &env)?;
        let config: Config = value.try_into().context("invalid configuration")?;
        Ok(config)
    }

    /// Database URL of one service: the configured one, or SQLite in the data dir.
    pub fn database_url(&self, service: &str, configured: &str) -> String {
        if configured.is_empty() {
            format!("sqlite://{}?mode=rwc", self.data_dir.join(format!("{service}.db")).display())
        } else {
            configured.to_string()
        }
    }

    pub fn image_store_dir(&self) -> PathBuf {
        if self.image.store_dir.is_empty() {
            self.data_dir.join("images")
        } else {
            PathBuf::from(&self.image.store_dir)
        }
    }

    pub fn object_storage_root(&self) -> PathBuf {
        if self.object_storage.root.is_empty() {
            self.data_dir.join("objects")
        } else {
            PathBuf::from(&self.object_storage.root)
        }
    }

    pub fn key_repository(&self) -> PathBuf {
        if self.identity.key_repository.is_empty() {
            self.data_dir.join("fernet-keys")
        } else {
            PathBuf::from(&self.identity.key_repository)
        }
    }

    /// The name this host's compute agent registers under.
    pub fn agent_host(&self) -> String {
        if !self.compute_agent.host.is_empty() {
            return self.compute_agent.host.clone();
        }
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|s| s.trim().to_string())
            .ok()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "localhost".into())
    }

    /// Base URL a service of this process reaches another one at: the listen address, with
    /// a wildcard host replaced by loopback.
    pub fn local_url(&self, listen: &str) -> String {
        let (host, port) = listen.rsplit_once(':').unwrap_or((listen, "80"));
        let host = match host {
            "0.0.0.0" | "" => "127.0.0.1",
            "[::]" | "::" => "[::1]",
            h => h,
        };
        format!("http://{host}:{port}")
    }

    /// Base URL clients use for a service on `port`.
    pub fn public_url(&self, listen: &str) -> String {
        let port = listen.rsplit(':').next().unwrap_or("80");
        format!("http://{}:{}", self.public_host, port)
    }
}

fn merge(base: &mut toml::Value, over: toml::Value) {
    match (base, over) {
        (toml::Value::Table(b), toml::Value::Table(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(existing) if existing.is_table() && v.is_table() => merge(existing, v),
                    _ => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

/// Every leaf of the defaults can be replaced by `PREFIX_PATH_TO_KEY`; the new value is parsed
/// as the type the default has, so a typo in a number is an error and not a silent string.
fn apply_env(
    value: &mut toml::Value,
    prefix: &str,
    env: &impl Fn(&str) -> Option<String>,
) -> anyhow::Result<()> {
    let toml::Value::Table(table) = value else { return Ok(()) };
    for (key, v) in table.iter_mut() {
        let name = format!("{prefix}_{}", key.to_uppercase());
        if v.is_table() {
            apply_env(v, &name, env)?;
            continue;
        }
        let Some(raw) = env(&name) else { continue };
        *v = match v {
            toml::Value::String(_) => toml::Value::String(raw),
            toml::Value::Integer(_) => toml::Value::Integer(
                raw.trim().parse().with_context(|| format!("{name} must be an integer"))?,
            ),
            toml::Value::Float(_) => {
                toml::Value::Float(raw.trim().parse().with_context(|| format!("{name} must be a number"))?)
            }
            toml::Value::Boolean(_) => toml::Value::Boolean(match raw.trim() {
                "1" | "true" | "yes" | "on" => true,
                "0" | "false" | "no" | "off" => false,
                _ => bail!("{name} must be true or false"),
            }),
            other => bail!("{name}: cannot set a {} from the environment", other.type_str()),
        };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn environment_overrides_file_and_defaults() {
        let dir = std::env::temp_dir().join(format!("stratus-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("c.toml");
        std::fs::write(&file, "public_host = \"cloud.example\"\n[identity]\ntoken_expiration = 60\n")
            .unwrap();
        let env: HashMap<&str, &str> =
            [("STRATUS_IDENTITY_TOKEN_EXPIRATION", "120"), ("STRATUS_DATA_DIR", "/tmp/x")].into();
        let c = Config::load_from(Some(&file), |k| env.get(k).map(|s| s.to_string())).unwrap();
        assert_eq!(c.public_host, "cloud.example");
        assert_eq!(c.identity.token_expiration, 120);
        assert_eq!(c.data_dir, PathBuf::from("/tmp/x"));
        assert_eq!(c.identity.max_active_keys, 3);
    }

    #[test]
    fn bad_values_are_errors() {
        let env: HashMap<&str, &str> = [("STRATUS_IDENTITY_TOKEN_EXPIRATION", "soon")].into();
        let err = Config::load_from(None, |k| env.get(k).map(|s| s.to_string())).unwrap_err();
        assert!(format!("{err:#}").contains("STRATUS_IDENTITY_TOKEN_EXPIRATION"));
        let dir = std::env::temp_dir().join(format!("stratus-cfg2-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("c.toml");
        std::fs::write(&file, "[identity]\ntoken_expiry = 60\n").unwrap();
        assert!(Config::load_from(Some(&file), |_| None).is_err(), "unknown keys are refused");
    }
}

#[cfg(test)]
mod example_file {
    use super::*;

    /// The documented example must stay loadable and equal to the defaults it claims.
    #[test]
    fn example_config_matches_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../stratus.example.toml");
        let c = Config::load_from(Some(&path), |_| None).expect("stratus.example.toml loads");
        let mut c = c;
        let d = Config::default();
        // The data dir's default depends on who runs the tests.
        c.data_dir = d.data_dir.clone();
        assert_eq!(toml::Value::try_from(&c).unwrap(), toml::Value::try_from(&d).unwrap());
    }
}
