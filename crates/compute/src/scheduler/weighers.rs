//! The weighers (nova's `scheduler/weights/`): RAM, CPU and disk. Each raw value (free
//! amount) is normalized over the candidate hosts to 0..1 and multiplied by its multiplier:
//! positive prefers the emptiest hosts (spreading), negative the fullest (stacking).

use stratus_core::config::SchedulerConfig;

use super::HostState;

/// The total weight of each host, in the order given.
pub fn weigh(config: &SchedulerConfig, hosts: &[&HostState<'_>]) -> Vec<f64> {
    let mut total = vec![0.0; hosts.len()];
    for (rc, multiplier) in [
        ("MEMORY_MB", config.ram_weight_multiplier),
        ("VCPU", config.cpu_weight_multiplier),
        ("DISK_GB", config.disk_weight_multiplier),
    ] {
        if multiplier == 0.0 {
            continue;
        }
        let raw: Vec<f64> = hosts.iter().map(|h| h.free(rc).unwrap_or(0) as f64).collect();
        for (t, w) in total.iter_mut().zip(normalize(&raw)) {
            *t += multiplier * w;
        }
    }
    total
}

/// nova's `normalize`: min → 0, max → 1; all equal → all 0.
fn normalize(values: &[f64]) -> Vec<f64> {
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if values.is_empty() || max <= min {
        return vec![0.0; values.len()];
    }
    values.iter().map(|v| (v - min) / (max - min)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::tests::facts;
    use crate::scheduler::Free;

    fn ram(free: i64) -> Free {
        Free { memory_mb: Some(free), ..Default::default() }
    }

    #[test]
    fn positive_spreads_negative_stacks() {
        let (fa, fb, ra, rb) = (facts("a"), facts("b"), ram(1000), ram(8000));
        let a = HostState { facts: &fa, up: true, free: ra };
        let b = HostState { facts: &fb, up: true, free: rb };
        let mut c =
            SchedulerConfig { cpu_weight_multiplier: 0.0, disk_weight_multiplier: 0.0, ..Default::default() };
        let w = weigh(&c, &[&a, &b]);
        assert!(w[1] > w[0], "spreading prefers the host with more free RAM");
        c.ram_weight_multiplier = -1.0;
        let w = weigh(&c, &[&a, &b]);
        assert!(w[0] > w[1], "stacking prefers the fuller host");
    }
}
