//! Flavor extra spec validation, as nova does from microversion 2.86: a key in a namespace
//! nova knows must be one of that namespace's keys and its value must fit; keys of other
//! namespaces (out-of-tree filters, drivers) are taken as they are.

/// What a value may be.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// One of these words.
    OneOf(&'static [&'static str]),
    /// An integer of at least this.
    IntMin(i64),
    /// `true`/`false` in the spellings oslo accepts.
    Bool,
    /// Any text (its format is the driver's business).
    Text,
    /// A page size: `small`, `large`, `any`, or a size such as `2048`, `2MB`, `1GiB`.
    PageSize,
}

/// The keys of nova's `hw:` namespace (libvirt and the scheduler's NUMA/CPU handling).
const HW: &[(&str, Kind)] = &[
    ("hw:cpu_policy", Kind::OneOf(&["dedicated", "shared", "mixed"])),
    ("hw:cpu_thread_policy", Kind::OneOf(&["prefer", "isolate", "require"])),
    ("hw:emulator_threads_policy", Kind::OneOf(&["share", "isolate"])),
    ("hw:cpu_dedicated_mask", Kind::Text),
    ("hw:cpu_realtime", Kind::Bool),
    ("hw:cpu_realtime_mask", Kind::Text),
    ("hw:cpu_sockets", Kind::IntMin(1)),
    ("hw:cpu_cores", Kind::IntMin(1)),
    ("hw:cpu_threads", Kind::IntMin(1)),
    ("hw:cpu_max_sockets", Kind::IntMin(1)),
    ("hw:cpu_max_cores", Kind::IntMin(1)),
    ("hw:cpu_max_threads", Kind::IntMin(1)),
    ("hw:numa_nodes", Kind::IntMin(1)),
    ("hw:mem_page_size", Kind::PageSize),
    ("hw:mem_encryption", Kind::Bool),
    ("hw:locked_memory", Kind::Bool),
    ("hw:pmu", Kind::Bool),
    ("hw:boot_menu", Kind::Bool),
    ("hw:hide_hypervisor_id", Kind::Bool),
    ("hw:vif_multiqueue_enabled", Kind::Bool),
    ("hw:virtio_packed_ring", Kind::Bool),
    ("hw:serial_port_count", Kind::IntMin(0)),
    ("hw:watchdog_action", Kind::OneOf(&["none", "pause", "poweroff", "reset", "disabled"])),
    ("hw:tpm_version", Kind::OneOf(&["1.2", "2.0"])),
    ("hw:tpm_model", Kind::OneOf(&["tpm-tis", "tpm-crb"])),
    ("hw:maxphysaddr_mode", Kind::OneOf(&["passthrough", "emulate"])),
    ("hw:maxphysaddr_bits", Kind::IntMin(1)),
    ("hw:vtpm_secret_security", Kind::OneOf(&["user", "host", "deployment"])),
];

const HW_RNG: &[(&str, Kind)] = &[
    ("hw_rng:allowed", Kind::Bool),
    ("hw_rng:rate_bytes", Kind::IntMin(0)),
    ("hw_rng:rate_period", Kind::IntMin(0)),
];

const HW_VIDEO: &[(&str, Kind)] = &[("hw_video:ram_max_mb", Kind::IntMin(0))];

const OS: &[(&str, Kind)] = &[
    ("os:secure_boot", Kind::OneOf(&["required", "disabled", "optional"])),
    ("os:monitors", Kind::IntMin(1)),
];

const OTHER: &[(&str, Kind)] = &[
    ("group_policy", Kind::OneOf(&["none", "isolate"])),
    ("accel:device_profile", Kind::Text),
    ("pci_passthrough:alias", Kind::Text),
];

/// The `quota:` keys (the libvirt driver's CPU, disk and interface limits): integers ≥ 0.
const QUOTA: &[&str] = &[
    "cpu_shares",
    "cpu_period",
    "cpu_quota",
    "disk_read_bytes_sec",
    "disk_read_iops_sec",
    "disk_write_bytes_sec",
    "disk_write_iops_sec",
    "disk_total_bytes_sec",
    "disk_total_iops_sec",
    "disk_read_bytes_sec_max",
    "disk_read_iops_sec_max",
    "disk_write_bytes_sec_max",
    "disk_write_iops_sec_max",
    "disk_total_bytes_sec_max",
    "disk_total_iops_sec_max",
    "disk_size_iops_sec",
    "vif_inbound_average",
    "vif_inbound_peak",
    "vif_inbound_burst",
    "vif_outbound_average",
    "vif_outbound_peak",
    "vif_outbound_burst",
];

/// Namespaces whose keys are free (their filters match any key).
const FREE: &[&str] = &["aggregate_instance_extra_specs", "capabilities"];

/// Checks one extra spec; the error is nova's kind of message for a 400.
pub fn validate(key: &str, value: &str) -> Result<(), String> {
    let (namespace, name) = match key.split_once(':') {
        Some((ns, name)) => (ns, name),
        None => ("", key),
    };
    // trait:NAME and traitN:NAME (granular request groups).
    if namespace.strip_prefix("trait").is_some_and(group_suffix) {
        if !is_upper_name(name) {
            return Err(format!("Validation failed; extra spec '{key}': '{name}' is not a trait name."));
        }
        return one_of(key, value, &["required", "forbidden"]);
    }
    // resources:CLASS and resourcesN:CLASS.
    if namespace.strip_prefix("resources").is_some_and(group_suffix) {
        if !is_upper_name(name) {
            return Err(format!("Validation failed; extra spec '{key}': '{name}' is not a resource class."));
        }
        return check(key, value, Kind::IntMin(0));
    }
    if FREE.contains(&namespace) {
        return Ok(());
    }
    if namespace == "quota" {
        if !QUOTA.contains(&name) {
            return Err(unknown(key));
        }
        return check(key, value, Kind::IntMin(0));
    }
    let table = match namespace {
        "hw" => HW,
        "hw_rng" => HW_RNG,
        "hw_video" => HW_VIDEO,
        "os" => OS,
        "accel" | "pci_passthrough" | "" => OTHER,
        // A namespace nova does not know: someone else's.
        _ => return Ok(()),
    };
    // hw:numa_cpus.N and hw:numa_mem.N (per guest NUMA node).
    if namespace == "hw" {
        if let Some(n) = name.strip_prefix("numa_cpus.").or_else(|| name.strip_prefix("numa_mem.")) {
            if n.parse::<u32>().is_err() {
                return Err(unknown(key));
            }
            let kind = if name.starts_with("numa_mem.") { Kind::IntMin(1) } else { Kind::Text };
            return check(key, value, kind);
        }
    }
    match table.iter().find(|(k, _)| *k == key) {
        Some((_, kind)) => check(key, value, *kind),
        // Keys without a namespace are the operator's own (AggregateInstanceExtraSpecsFilter).
        None if namespace.is_empty() => Ok(()),
        None => Err(unknown(key)),
    }
}

fn unknown(key: &str) -> String {
    format!("Validation failed; extra spec '{key}' is not a known key of its namespace.")
}

/// `""` or a request group number (`trait1`, `resources_gpu`: digits or `_` and a suffix).
fn group_suffix(rest: &str) -> bool {
    rest.is_empty()
        || rest.chars().all(|c| c.is_ascii_digit())
        || rest.strip_prefix('_').is_some_and(|s| {
            !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        })
}

fn is_upper_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

fn one_of(key: &str, value: &str, allowed: &[&str]) -> Result<(), String> {
    if allowed.contains(&value) {
        return Ok(());
    }
    Err(format!(
        "Validation failed; extra spec '{key}' does not support the value '{value}': use one of {}.",
        allowed.join(", ")
    ))
}

fn check(key: &str, value: &str, kind: Kind) -> Result<(), String> {
    match kind {
        Kind::OneOf(allowed) => one_of(key, value, allowed),
        Kind::Text => Ok(()),
        Kind::Bool => {
            let v = value.to_ascii_lowercase();
            if ["true", "false", "1", "0", "yes", "no", "on", "off", "y", "n", "t", "f"].contains(&v.as_str())
            {
                Ok(())
            } else {
                Err(format!("Validation failed; extra spec '{key}' must be a boolean, not '{value}'."))
            }
        }
        Kind::IntMin(min) => match value.trim().parse::<i64>() {
            Ok(n) if n >= min => Ok(()),
            _ => Err(format!(
                "Validation failed; extra spec '{key}' must be an integer of at least {min}, not '{value}'."
            )),
        },
        Kind::PageSize => {
            let v = value.to_ascii_lowercase();
            let number_end = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
            let (digits, unit) = v.split_at(number_end);
            let sized = !digits.is_empty()
                && ["", "k", "kb", "kib", "m", "mb", "mib", "g", "gb", "gib"].contains(&unit.trim());
            if ["small", "large", "any"].contains(&v.as_str()) || sized {
                Ok(())
            } else {
                Err(format!(
                    "Validation failed; extra spec '{key}' must be small, large, any or a page size, not '{value}'."
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::validate;

    #[test]
    fn known_keys_are_checked() {
        assert!(validate("hw:cpu_policy", "dedicated").is_ok());
        assert!(validate("hw:cpu_policy", "bogus").unwrap_err().contains("dedicated, shared, mixed"));
        assert!(validate("hw:cpu_polcy", "dedicated").unwrap_err().contains("not a known key"));
        assert!(validate("hw:numa_nodes", "2").is_ok());
        assert!(validate("hw:numa_nodes", "0").is_err());
        assert!(validate("hw:numa_cpus.0", "0-3").is_ok());
        assert!(validate("hw:numa_mem.x", "512").is_err());
        assert!(validate("hw:mem_page_size", "2MB").is_ok());
        assert!(validate("hw:mem_page_size", "large").is_ok());
        assert!(validate("hw:mem_page_size", "huge").is_err());
        assert!(validate("hw_rng:allowed", "True").is_ok());
        assert!(validate("hw_rng:allowed", "maybe").is_err());
        assert!(validate("quota:disk_read_iops_sec", "100").is_ok());
        assert!(validate("quota:disk_read_iops_sec", "-1").is_err());
        assert!(validate("quota:nonsense", "1").is_err());
        assert!(validate("group_policy", "isolate").is_ok());
        assert!(validate("group_policy", "spread").is_err());
    }

    #[test]
    fn traits_and_resources() {
        assert!(validate("trait:HW_CPU_X86_AVX2", "required").is_ok());
        assert!(validate("trait1:CUSTOM_FAST", "forbidden").is_ok());
        assert!(validate("trait:CUSTOM_FAST", "preferred").unwrap_err().contains("required, forbidden"));
        assert!(validate("trait:lowercase", "required").is_err());
        assert!(validate("resources:VCPU", "2").is_ok());
        assert!(validate("resources1:CUSTOM_GPU", "1").is_ok());
        assert!(validate("resources:VCPU", "two").is_err());
    }

    #[test]
    fn other_namespaces_and_plain_keys_pass() {
        assert!(validate("aggregate_instance_extra_specs:ssd", "true").is_ok());
        assert!(validate("capabilities:cpu_info:arch", "x86_64").is_ok());
        assert!(validate("mydriver:anything", "goes").is_ok());
        assert!(validate("ssd", "true").is_ok());
    }
}
