//! Closed-loop load: N workers, each with its own keep-alive client, send one request after the
//! other until the phase's deadline or request budget is spent, recording every latency.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::server::{cpu_time, machine_busy, rss_bytes};

/// Longest a single request may take before it counts as an error (a timeout).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// How often the server's RSS is sampled during a phase.
const RSS_SAMPLE_EVERY: Duration = Duration::from_millis(100);

/// What one request of a phase is.
#[derive(Clone)]
pub enum Op {
    /// `GET /v3/auth/tokens`, always of the same subject token (the server's cache answers).
    Validate { auth_token: String, subject_token: String },
    /// `GET /v3/auth/tokens` of each of these tokens once, in turn (none validated before):
    /// the first validation of a new token. The phase ends early when they run out.
    ValidateEach { auth_token: String, subjects: Arc<Vec<String>>, next: Arc<AtomicUsize> },
    /// `POST /v3/auth/tokens` with this body.
    Issue { body: Arc<serde_json::Value> },
    /// `GET /v3/projects`.
    ListProjects { auth_token: String },
}

#[derive(Clone, Copy)]
pub struct Limits {
    /// No request starts after this long; requests in flight then are waited for.
    pub duration: Duration,
    /// No more than this many requests in all (across the workers).
    pub max_requests: u64,
}

pub fn client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        // Loopback only, whatever HTTP_PROXY says.
        .no_proxy()
        .tcp_nodelay(true)
        .timeout(REQUEST_TIMEOUT)
        .pool_max_idle_per_host(1)
        .build()?)
}

/// What went wrong with one request.
enum Failure {
    Status(u16, String),
    Transport(String),
}

/// The next request of `op`; None when it has no more (ValidateEach out of tokens).
fn request(client: &reqwest::Client, base: &str, op: &Op) -> Option<reqwest::RequestBuilder> {
    Some(match op {
        Op::Validate { auth_token, subject_token } => client
            .get(format!("{base}/v3/auth/tokens"))
            .header("X-Auth-Token", auth_token)
            .header("X-Subject-Token", subject_token),
        Op::ValidateEach { auth_token, subjects, next } => client
            .get(format!("{base}/v3/auth/tokens"))
            .header("X-Auth-Token", auth_token)
            .header("X-Subject-Token", subjects.get(next.fetch_add(1, Ordering::Relaxed))?),
        Op::Issue { body } => client.post(format!("{base}/v3/auth/tokens")).json(body.as_ref()),
        Op::ListProjects { auth_token } => {
            client.get(format!("{base}/v3/projects")).header("X-Auth-Token", auth_token)
        }
    })
}

async fn send(req: reqwest::RequestBuilder) -> Result<(), Failure> {
    let resp = req.send().await.map_err(|e| Failure::Transport(transport_kind(&e)))?;
    let status = resp.status();
    // The whole body is read: the latency is to the last byte, and keep-alive needs it.
    let body = resp.bytes().await.map_err(|e| Failure::Transport(transport_kind(&e)))?;
    if status.is_success() {
        Ok(())
    } else {
        let text = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
        Err(Failure::Status(status.as_u16(), text))
    }
}

fn transport_kind(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timeout".into()
    } else if e.is_connect() {
        "connect error".into()
    } else {
        format!("transport error ({e})")
    }
}

#[derive(Default)]
struct WorkerResult {
    latencies_ns: Vec<u64>,
    errors: BTreeMap<String, u64>,
    error_sample: Option<String>,
}

pub struct PhaseResult {
    pub concurrency: usize,
    pub elapsed: Duration,
    /// Latencies of the successful (2xx) requests, sorted.
    pub latencies_ns: Vec<u64>,
    /// Failed requests by kind (`HTTP 401`, `timeout`, …).
    pub errors: BTreeMap<String, u64>,
    pub error_sample: Option<String>,
    pub peak_rss: Option<u64>,
    pub server_cpu: Option<Duration>,
    pub bench_cpu: Option<Duration>,
    /// CPU time the rest of the machine used meanwhile (other processes, interrupts).
    pub other_cpu: Option<Duration>,
}

impl PhaseResult {
    pub fn ok(&self) -> u64 {
        self.latencies_ns.len() as u64
    }

    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    /// Successful requests per second.
    pub fn rate(&self) -> f64 {
        self.ok() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Exact nearest-rank percentile of the recorded latencies.
    pub fn percentile(&self, p: f64) -> Option<Duration> {
        percentile(&self.latencies_ns, p).map(Duration::from_nanos)
    }

    /// Server CPU time per request (successful or not).
    pub fn server_cpu_per_request(&self) -> Option<Duration> {
        let n = self.ok() + self.error_count();
        self.server_cpu.filter(|_| n > 0).map(|c| c / n as u32)
    }
}

/// Nearest rank: the smallest recorded value with at least p % of the values at or below it.
pub fn percentile(sorted: &[u64], p: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

pub async fn run_phase(
    base: &str,
    op: &Op,
    concurrency: usize,
    limits: Limits,
    server_pid: u32,
) -> anyhow::Result<PhaseResult> {
    // Every worker gets its own client and opens its connection before the clock starts.
    let mut clients = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let c = client()?;
        let _ = c.get(format!("{base}/v3")).send().await.and_then(|r| r.error_for_status());
        clients.push(c);
    }

    let started = Arc::new(AtomicU64::new(0));
    let stop_sampling = Arc::new(AtomicBool::new(false));
    let sampler = {
        let stop = stop_sampling.clone();
        tokio::spawn(async move {
            let mut peak = rss_bytes(server_pid);
            // Bounded like the load: it ends with the phase, or after the longest a phase lasts.
            let give_up = Instant::now() + limits.duration + REQUEST_TIMEOUT + Duration::from_secs(5);
            while !stop.load(Ordering::Relaxed) && Instant::now() < give_up {
                tokio::time::sleep(RSS_SAMPLE_EVERY).await;
                peak = peak.max(rss_bytes(server_pid));
            }
            peak.max(rss_bytes(server_pid))
        })
    };

    let cpu_before = (cpu_time(Some(server_pid)), cpu_time(None), machine_busy());
    let t0 = Instant::now();
    let deadline = t0 + limits.duration;
    let mut workers = Vec::with_capacity(concurrency);
    for client in clients {
        let (base, op, started) = (base.to_string(), op.clone(), started.clone());
        workers.push(tokio::spawn(async move {
            let mut r = WorkerResult::default();
            while Instant::now() < deadline && started.fetch_add(1, Ordering::Relaxed) < limits.max_requests {
                let Some(req) = request(&client, &base, &op) else { break };
                let t = Instant::now();
                let outcome = send(req).await;
                let dt = t.elapsed().as_nanos() as u64;
                match outcome {
                    Ok(()) => r.latencies_ns.push(dt),
                    Err(Failure::Status(code, body)) => {
                        *r.errors.entry(format!("HTTP {code}")).or_default() += 1;
                        r.error_sample.get_or_insert(format!("HTTP {code}: {body}"));
                    }
                    Err(Failure::Transport(kind)) => {
                        r.error_sample.get_or_insert(kind.clone());
                        *r.errors.entry(kind).or_default() += 1;
                    }
                }
            }
            r
        }));
    }

    let mut result = PhaseResult {
        concurrency,
        elapsed: Duration::ZERO,
        latencies_ns: Vec::new(),
        errors: BTreeMap::new(),
        error_sample: None,
        peak_rss: None,
        server_cpu: None,
        bench_cpu: None,
        other_cpu: None,
    };
    for w in workers {
        let r = w.await?;
        result.latencies_ns.extend(r.latencies_ns);
        for (k, n) in r.errors {
            *result.errors.entry(k).or_default() += n;
        }
        if result.error_sample.is_none() {
            result.error_sample = r.error_sample;
        }
    }
    result.elapsed = t0.elapsed();
    let cpu_after = (cpu_time(Some(server_pid)), cpu_time(None), machine_busy());
    stop_sampling.store(true, Ordering::Relaxed);
    result.peak_rss = sampler.await?;
    result.server_cpu = cpu_before.0.zip(cpu_after.0).map(|(a, b)| b.saturating_sub(a));
    result.bench_cpu = cpu_before.1.zip(cpu_after.1).map(|(a, b)| b.saturating_sub(a));
    let machine = cpu_before.2.zip(cpu_after.2).map(|(a, b)| b.saturating_sub(a));
    result.other_cpu =
        machine.zip(result.server_cpu.zip(result.bench_cpu)).map(|(m, (s, b))| m.saturating_sub(s + b));
    result.latencies_ns.sort_unstable();
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn nearest_rank() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), Some(50));
        assert_eq!(percentile(&v, 99.0), Some(99));
        assert_eq!(percentile(&v, 100.0), Some(100));
        assert_eq!(percentile(&[7], 99.0), Some(7));
        assert_eq!(percentile(&[1, 2], 50.0), Some(1));
        assert_eq!(percentile(&[], 50.0), None);
    }
}
