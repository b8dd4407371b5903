//! The host filters (nova's `scheduler/filters/`): each says whether a host can take a
//! request, and if not, why, in words an operator understands.

use super::{HostState, RequestSpec};

pub trait Filter: Send + Sync {
    fn name(&self) -> &'static str;
    /// `Err(reason)` removes the host.
    fn check(&self, host: &HostState, spec: &RequestSpec) -> Result<(), String>;
}

/// The filter named in `enabled_filters`.
pub fn by_name(name: &str) -> Option<Box<dyn Filter>> {
    Some(match name {
        "RetryFilter" => Box::new(Retry),
        "AvailabilityZoneFilter" => Box::new(AvailabilityZone),
        "ComputeFilter" => Box::new(Compute),
        "ComputeCapabilitiesFilter" => Box::new(ComputeCapabilities),
        "ImagePropertiesFilter" => Box::new(ImageProperties),
        "AggregateInstanceExtraSpecsFilter" => Box::new(AggregateInstanceExtraSpecs),
        "ServerGroupAntiAffinityFilter" => Box::new(ServerGroupAntiAffinity),
        "ServerGroupAffinityFilter" => Box::new(ServerGroupAffinity),
        _ => return None,
    })
}

/// Hosts already tried for this request (a failed spawn) are not tried again.
struct Retry;

impl Filter for Retry {
    fn name(&self) -> &'static str {
        "RetryFilter"
    }
    fn check(&self, host: &HostState, spec: &RequestSpec) -> Result<(), String> {
        if spec.ignore_hosts.iter().any(|h| h == &host.host) {
            return Err(format!("{} was already tried", host.host));
        }
        if let Some(forced) = &spec.force_host {
            if forced != &host.host {
                return Err(format!("the request is for host {forced}"));
            }
        }
        Ok(())
    }
}

struct AvailabilityZone;

impl Filter for AvailabilityZone {
    fn name(&self) -> &'static str {
        "AvailabilityZoneFilter"
    }
    fn check(&self, host: &HostState, spec: &RequestSpec) -> Result<(), String> {
        match &spec.availability_zone {
            Some(zone) if zone != &host.zone => {
                Err(format!("{} is in availability zone '{}', not '{zone}'", host.host, host.zone))
            }
            _ => Ok(()),
        }
    }
}

/// Only enabled compute services that are up.
struct Compute;

impl Filter for Compute {
    fn name(&self) -> &'static str {
        "ComputeFilter"
    }
    fn check(&self, host: &HostState, _spec: &RequestSpec) -> Result<(), String> {
        if host.disabled {
            return Err(format!("the compute service of {} is disabled", host.host));
        }
        if !host.up {
            return Err(format!("the compute service of {} is down", host.host));
        }
        Ok(())
    }
}

/// Flavor extra specs (`capabilities:KEY` or an unscoped key) against what the host reports.
struct ComputeCapabilities;

impl Filter for ComputeCapabilities {
    fn name(&self) -> &'static str {
        "ComputeCapabilitiesFilter"
    }
    fn check(&self, host: &HostState, spec: &RequestSpec) -> Result<(), String> {
        for (key, req) in &spec.flavor.extra_specs {
            let cap = match key.split_once(':') {
                Some(("capabilities", k)) => k,
                None => key.as_str(),
                Some(_) => continue,
            };
            let Some(actual) = host.capability(cap) else {
                // nova ignores unscoped keys the host knows nothing of only if they are
                // scoped elsewhere; an unknown capability does not match.
                if key.starts_with("capabilities:") {
                    return Err(format!("{} has no capability '{cap}'", host.host));
                }
                continue;
            };
            if !extra_specs_match(&actual, req) {
                return Err(format!(
                    "{}: capability {cap} is '{actual}', the flavor wants '{req}'",
                    host.host
                ));
            }
        }
        Ok(())
    }
}

/// Image properties `architecture` (hw_architecture), `hypervisor_type` (img_hv_type) and
/// `vm_mode` (hw_vm_mode) against what the host's hypervisor supports.
struct ImageProperties;

impl Filter for ImageProperties {
    fn name(&self) -> &'static str {
        "ImagePropertiesFilter"
    }
    fn check(&self, host: &HostState, spec: &RequestSpec) -> Result<(), String> {
        let prop = |names: &[&str]| names.iter().find_map(|n| spec.image_properties.get(*n)).cloned();
        if let Some(arch) = prop(&["hw_architecture", "architecture"]) {
            if !arch.eq_ignore_ascii_case(&host.cpu_arch) {
                return Err(format!(
                    "{} is {}, the image wants architecture {arch}",
                    host.host, host.cpu_arch
                ));
            }
        }
        if let Some(hv) = prop(&["img_hv_type", "hypervisor_type"]) {
            if !hv.eq_ignore_ascii_case(&host.hypervisor_type) {
                return Err(format!(
                    "{} runs {}, the image wants hypervisor_type {hv}",
                    host.host, host.hypervisor_type
                ));
            }
        }
        if let Some(mode) = prop(&["hw_vm_mode", "vm_mode"]) {
            if !host.vm_modes.iter().any(|m| m.eq_ignore_ascii_case(&mode)) {
                return Err(format!("{} does not run vm_mode {mode}", host.host));
            }
        }
        Ok(())
    }
}

/// Flavor extra specs `aggregate_instance_extra_specs:KEY` (or unscoped) against the
/// metadata of the host's aggregates.
struct AggregateInstanceExtraSpecs;

impl Filter for AggregateInstanceExtraSpecs {
    fn name(&self) -> &'static str {
        "AggregateInstanceExtraSpecsFilter"
    }
    fn check(&self, host: &HostState, spec: &RequestSpec) -> Result<(), String> {
        for (key, req) in &spec.flavor.extra_specs {
            let k = match key.split_once(':') {
                Some(("aggregate_instance_extra_specs", k)) => k,
                None => key.as_str(),
                Some(_) => continue,
            };
            let Some(values) = host.aggregate_metadata.get(k) else {
                return Err(format!("{} is in no aggregate with {k}", host.host));
            };
            if !values.iter().any(|v| extra_specs_match(v, req)) {
                return Err(format!("{}: aggregate {k} is {values:?}, the flavor wants '{req}'", host.host));
            }
        }
        Ok(())
    }
}

struct ServerGroupAntiAffinity;

impl Filter for ServerGroupAntiAffinity {
    fn name(&self) -> &'static str {
        "ServerGroupAntiAffinityFilter"
    }
    fn check(&self, host: &HostState, spec: &RequestSpec) -> Result<(), String> {
        let Some(g) = &spec.group else { return Ok(()) };
        if g.policy != "anti-affinity" {
            return Ok(());
        }
        let on_host = g.members_per_host.get(&host.host).copied().unwrap_or(0);
        let max = g.max_server_per_host.unwrap_or(1);
        if on_host >= max {
            return Err(format!(
                "{} already has {on_host} member(s) of anti-affinity group {}",
                host.host, g.uuid
            ));
        }
        Ok(())
    }
}

struct ServerGroupAffinity;

impl Filter for ServerGroupAffinity {
    fn name(&self) -> &'static str {
        "ServerGroupAffinityFilter"
    }
    fn check(&self, host: &HostState, spec: &RequestSpec) -> Result<(), String> {
        let Some(g) = &spec.group else { return Ok(()) };
        if g.policy != "affinity" || g.members_per_host.is_empty() {
            return Ok(());
        }
        if !g.members_per_host.contains_key(&host.host) {
            let hosts: Vec<&String> = g.members_per_host.keys().collect();
            return Err(format!("affinity group {} lives on {hosts:?}", g.uuid));
        }
        Ok(())
    }
}

/// nova's `extra_specs_ops`: `= 4` (at least), `== 4`, `!= 4`, `>= 4`, `<= 4`, `s== x`,
/// `s!= x`, `s>= x`, `s<= x`, `<in> sub`, `<all-in> a b`, `<or> a <or> b`; anything else is
/// string equality.
pub fn extra_specs_match(actual: &str, req: &str) -> bool {
    let req = req.trim();
    let num = |s: &str| s.trim().parse::<f64>().ok();
    if let Some(rest) = req.strip_prefix("<or>") {
        return rest.split("<or>").any(|alt| alt.trim() == actual);
    }
    let (op, operand) = match req.split_once(' ') {
        Some((op, operand)) => (op, operand.trim()),
        None => return actual == req,
    };
    match op {
        "=" => matches!((num(actual), num(operand)), (Some(a), Some(b)) if a >= b),
        "==" => matches!((num(actual), num(operand)), (Some(a), Some(b)) if a == b),
        "!=" => matches!((num(actual), num(operand)), (Some(a), Some(b)) if a != b),
        ">=" => matches!((num(actual), num(operand)), (Some(a), Some(b)) if a >= b),
        "<=" => matches!((num(actual), num(operand)), (Some(a), Some(b)) if a <= b),
        "s==" => actual == operand,
        "s!=" => actual != operand,
        "s>=" => actual >= operand,
        "s<=" => actual <= operand,
        "s>" => actual > operand,
        "s<" => actual < operand,
        "<in>" => actual.contains(operand),
        "<all-in>" => operand.split_whitespace().all(|w| actual.split_whitespace().any(|a| a == w)),
        _ => actual == req,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_specs_operators() {
        assert!(extra_specs_match("8", "= 4"));
        assert!(!extra_specs_match("2", "= 4"));
        assert!(extra_specs_match("x86_64", "s== x86_64"));
        assert!(extra_specs_match("fake", "<or> qemu <or> fake"));
        assert!(extra_specs_match("ssd", "ssd"));
        assert!(!extra_specs_match("hdd", "ssd"));
        assert!(extra_specs_match("avx avx2 sse", "<all-in> avx2 sse"));
    }
}
