//! Closed-loop load: N workers, each with its own keep-alive client, send one request after the
//! other until the phase's deadline or request budget is spent, recording every latency. Also
//! the meters every benchmark shares: the server's RSS sampled every 100 ms, and CPU time of the
//! server, of this process and of the rest of the machine.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use crate::server::{cpu_time, machine_busy, rss_bytes};

/// Longest a single request may take before it counts as an error (a timeout).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// How often the server's RSS is sampled during a phase or a transfer.
pub const RSS_SAMPLE_EVERY: Duration = Duration::from_millis(100);

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
    /// `GET /v2/images{query}` on the image API (`query` is empty or starts with `?`).
    ListImages { auth_token: String, query: String },
}

impl Op {
    /// A cheap request to open a worker's connection with before the clock starts (its answer
    /// is ignored): the API's version document.
    fn warm_up_path(&self) -> &'static str {
        match self {
            Op::Validate { .. } | Op::ValidateEach { .. } | Op::Issue { .. } | Op::ListProjects { .. } => {
                "/v3"
            }
            Op::ListImages { .. } => "/versions",
        }
    }
}

#[derive(Clone, Copy)]
pub struct Limits {
    /// No request starts after this long; requests in flight then are waited for.
    pub duration: Duration,
    /// No more than this many requests in all (across the workers).
    pub max_requests: u64,
}

pub fn client() -> anyhow::Result<reqwest::Client> {
    client_with_timeout(REQUEST_TIMEOUT)
}

/// A client whose requests (sending and reading the whole body) time out after `timeout`.
pub fn client_with_timeout(timeout: Duration) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        // Loopback only, whatever HTTP_PROXY says.
        .no_proxy()
        .tcp_nodelay(true)
        .timeout(timeout)
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
        Op::ListImages { auth_token, query } => {
            client.get(format!("{base}/v2/images{query}")).header("X-Auth-Token", auth_token)
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

pub fn transport_kind(e: &reqwest::Error) -> String {
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
    pub cpu: CpuUse,
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
        self.cpu.server.filter(|_| n > 0).map(|c| c / n as u32)
    }
}

/// CPU time used over an interval.
#[derive(Clone, Copy, Debug, Default)]
pub struct CpuUse {
    /// By the server (user + system).
    pub server: Option<Duration>,
    /// By this benchmark process.
    pub bench: Option<Duration>,
    /// By the rest of the machine (other processes, interrupts, steal).
    pub other: Option<Duration>,
}

/// Counts the CPU time of the server, of this process and of the machine from `start` on.
pub struct CpuMeter {
    server_pid: u32,
    before: (Option<Duration>, Option<Duration>, Option<Duration>),
}

impl CpuMeter {
    pub fn start(server_pid: u32) -> CpuMeter {
        CpuMeter { server_pid, before: (cpu_time(Some(server_pid)), cpu_time(None), machine_busy()) }
    }

    /// The CPU used since `start`.
    pub fn read(&self) -> CpuUse {
        let after = (cpu_time(Some(self.server_pid)), cpu_time(None), machine_busy());
        let diff = |a: Option<Duration>, b: Option<Duration>| a.zip(b).map(|(a, b)| b.saturating_sub(a));
        let server = diff(self.before.0, after.0);
        let bench = diff(self.before.1, after.1);
        let machine = diff(self.before.2, after.2);
        let other = machine.zip(server.zip(bench)).map(|(m, (s, b))| m.saturating_sub(s + b));
        CpuUse { server, bench, other }
    }
}

/// The server's RSS over an interval.
#[derive(Clone, Copy, Debug, Default)]
pub struct RssUse {
    /// At the start (taken before `RssSampler::start` returns).
    pub first: Option<u64>,
    /// The highest sample, the first and last included.
    pub peak: Option<u64>,
    /// At the end.
    pub last: Option<u64>,
    pub samples: usize,
}

impl RssUse {
    /// Peak minus start.
    pub fn growth(&self) -> Option<i64> {
        self.first.zip(self.peak).map(|(a, b)| b as i64 - a as i64)
    }
}

/// Samples the server's VmRSS every 100 ms in a task until `finish` (or `give_up` after start,
/// so that it is bounded even if `finish` is never reached).
pub struct RssSampler {
    stop: Arc<AtomicBool>,
    task: Option<JoinHandle<RssUse>>,
}

impl RssSampler {
    pub fn start(server_pid: u32, give_up: Duration) -> RssSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let first = rss_bytes(server_pid);
        let task = {
            let stop = stop.clone();
            tokio::spawn(async move {
                let mut r = RssUse { first, peak: first, last: first, samples: 1 };
                let give_up = Instant::now() + give_up;
                while !stop.load(Ordering::Relaxed) && Instant::now() < give_up {
                    tokio::time::sleep(RSS_SAMPLE_EVERY).await;
                    r.sample(rss_bytes(server_pid));
                }
                r.sample(rss_bytes(server_pid));
                r
            })
        };
        RssSampler { stop, task: Some(task) }
    }

    pub async fn finish(mut self) -> anyhow::Result<RssUse> {
        self.stop.store(true, Ordering::Relaxed);
        let task = self.task.take().expect("finished once");
        Ok(task.await?)
    }
}

impl Drop for RssSampler {
    /// A sampler dropped unfinished (an error) stops at its next tick.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl RssUse {
    fn sample(&mut self, rss: Option<u64>) {
        if rss.is_some() {
            self.samples += 1;
            self.last = rss;
            self.peak = self.peak.max(rss);
        }
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
        let _ = c.get(format!("{base}{}", op.warm_up_path())).send().await;
        clients.push(c);
    }

    let started = Arc::new(AtomicU64::new(0));
    // Bounded like the load: it ends with the phase, or after the longest a phase lasts.
    let sampler = RssSampler::start(server_pid, limits.duration + REQUEST_TIMEOUT + Duration::from_secs(5));
    let cpu = CpuMeter::start(server_pid);
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
        cpu: CpuUse::default(),
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
    result.cpu = cpu.read();
    result.peak_rss = sampler.finish().await?.peak;
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
