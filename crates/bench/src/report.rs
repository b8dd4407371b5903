//! Formatting shared by the benchmarks' reports.

use std::time::Duration;

use crate::load::PhaseResult;

/// Share of a core used by the rest of the machine during a phase above which the phase is
/// flagged as disturbed (on a quiet machine it stays under 10 %).
pub const NOISY_OTHER_CPU: f64 = 0.35;

pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

pub fn fmt_rss(b: Option<u64>) -> String {
    b.map(|b| format!("{:.1} MiB", mib(b))).unwrap_or_else(|| "?".into())
}

pub fn fmt_dur(d: Option<Duration>) -> String {
    match d {
        None => "-".into(),
        Some(d) => {
            let ms = d.as_secs_f64() * 1000.0;
            if ms < 10.0 {
                format!("{ms:.3} ms")
            } else if ms < 1000.0 {
                format!("{ms:.1} ms")
            } else {
                format!("{:.2} s", ms / 1000.0)
            }
        }
    }
}

pub fn fmt_rate(r: f64) -> String {
    if r >= 100.0 {
        format!("{r:.0}")
    } else {
        format!("{r:.1}")
    }
}

pub fn pct(cpu: Option<Duration>, over: Duration) -> String {
    cpu.map(|c| format!("{:.0}", 100.0 * c.as_secs_f64() / over.as_secs_f64().max(1e-9)))
        .unwrap_or_else(|| "?".into())
}

/// The columns of a load phase after its label: header, then one row per phase.
pub fn phase_header() -> String {
    format!(
        "{:>8} {:>6} {:>9} {:>10} {:>10} {:>11} {:>12} {:>10}",
        "ok", "errors", "req/s", "p50", "p99", "srv CPU/req", "CPU s/b/o %", "peak RSS"
    )
}

pub fn phase_columns(p: &PhaseResult) -> String {
    format!(
        "{:>8} {:>6} {:>9} {:>10} {:>10} {:>11} {:>12} {:>10}",
        p.ok(),
        p.error_count(),
        fmt_rate(p.rate()),
        fmt_dur(p.percentile(50.0)),
        fmt_dur(p.percentile(99.0)),
        fmt_dur(p.server_cpu_per_request()),
        cpu_split(&p.cpu, p.elapsed),
        fmt_rss(p.peak_rss),
    )
}

/// `server/bench/other` CPU in % of one core over `over`.
pub fn cpu_split(cpu: &crate::load::CpuUse, over: Duration) -> String {
    format!("{}/{}/{}", pct(cpu.server, over), pct(cpu.bench, over), pct(cpu.other, over))
}

/// The legend below a phase table.
pub fn print_phase_legend(cpus: usize) {
    println!("  ok = 2xx responses; req/s counts only those. errors = any non-2xx answer, timeout or transport error.");
    println!("  srv CPU/req = server CPU time (user+sys) / requests.");
    println!(
        "  CPU s/b/o % = CPU used by the server / this bench / everything else (other processes, interrupts), \
         100 = one core of {cpus}."
    );
}

/// The NOTE line of a phase during which the machine was busy with something else (`what`
/// names the phase: kind, concurrency, …).
pub fn print_phase_note(what: &str, p: &PhaseResult) {
    let other = p.cpu.other.map(|o| o.as_secs_f64() / p.elapsed.as_secs_f64().max(1e-9));
    if other.is_some_and(|o| o > NOISY_OTHER_CPU) {
        println!(
            "  NOTE: the machine was not quiet during {what}: something else used {:.0}% CPU; that row is pessimistic.",
            100.0 * other.unwrap_or(0.0)
        );
    }
}

/// The ERRORS line of a phase with failed requests.
pub fn print_phase_errors(what: &str, p: &PhaseResult) {
    if p.error_count() > 0 {
        println!("  ERRORS in {what}: {:?}; first: {}", p.errors, p.error_sample.as_deref().unwrap_or("?"));
    }
}

/// Now as `YYYY-MM-DD HH:MM UTC`, without a date crate.
pub fn utc_now_text() -> String {
    let secs =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02} UTC", rem / 3600, (rem % 3600) / 60)
}

#[cfg(test)]
mod tests {
    #[test]
    fn date_text_is_plausible() {
        let t = super::utc_now_text();
        assert!(t.starts_with("20") && t.ends_with(" UTC") && t.len() == 20, "{t}");
    }
}
