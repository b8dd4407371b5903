//! `stratus-bench compute`: the compute control plane of a release `stratus up` with simulated
//! (fake driver) hosts.
//!
//! 1. Starts `stratus up` with `--hosts` fake compute agents and waits until every one of them is
//!    an `up` nova-compute service; measures the server's CPU while idle with them.
//! 2. Lifts the admin project's quota, creates a flavor and a 1 MiB image.
//! 3. Boot: first `--serial-servers` one at a time (steps 3 to 5), then `--concurrency` workers
//!    create `--servers` servers, each polled every `--poll-ms` (10 ms) until ACTIVE (or ERROR): POST→ACTIVE
//!    latency, servers/s. As the admin, or as a member of the admin project (`--user`).
//! 4. Scheduler decision time: the `scheduler_select_destinations` event of every server's
//!    `create` action (start to finish, as the conductor records it around each decision).
//! 5. Delete: the same workers delete every server, each polled until 404.
//! 6. Placement: the admin project's usages must be back to zero; then the latency of
//!    `GET /allocation_candidates` at `--hosts` providers and at `--providers-large` (the missing
//!    providers are created through the placement API).
//!
//! The server's RSS is sampled throughout, its CPU counted per phase.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::{json, Value};

use crate::load::{self, percentile, CpuMeter, CpuUse, RssSampler, RssUse};
use crate::report::{self, fmt_dur, fmt_rate, fmt_rss, mib};
use crate::server::{self, Server};
use crate::{binary_version, expect_json, find_stratus, start_with, stopped, ServerArgs};

/// Microversions sent: every compute call, the candidates, the usages check.
const COMPUTE_VERSION: &str = "compute 2.96";
const CANDIDATES_VERSION: &str = "placement 1.39";
const USAGES_VERSION: &str = "placement 1.9";
/// How a booting or deleting server is waited for: polled every `poll`, for at most `timeout`.
#[derive(Clone, Copy)]
struct Wait {
    poll: Duration,
    timeout: Duration,
}
/// How often the service list is polled while the agents register.
const SERVICES_POLL_EVERY: Duration = Duration::from_millis(250);
/// Candidate requests sent before the measured ones.
const CANDIDATE_WARM_UP: u64 = 5;
/// Workers creating the extra resource providers.
const PROVIDER_WORKERS: usize = 16;
/// Size of the image the servers boot from.
const IMAGE_BYTES: usize = 1 << 20;
/// The resources every candidate request asks for (the bench flavor's).
const CANDIDATE_QUERY: &str = "resources=VCPU:1,MEMORY_MB:64,DISK_GB:1&limit=1000";
/// The event the conductor records around each scheduling decision (placement candidates,
/// filters, weighers).
const SELECT_EVENT: &str = "scheduler_select_destinations";
/// `STRATUS_COMPUTE_AGENT_REPORT_INTERVAL`: seconds between an agent's heartbeats and reports.
const REPORT_INTERVAL_S: u64 = 10;
/// Failure messages kept for the report.
const FAILURE_SAMPLES: usize = 10;

/// OpenStack's own figures from the issue (Rally `boot_and_delete_server`, 1,000 fake hosts),
/// not measured here.
mod rally {
    pub const MEAN_BOOT_S: f64 = 6.29;
    pub const BOOT_DELETE_PER_S: f64 = 5.4;
    pub const NOVA_API_RSS_GB: f64 = 7.5;
}

/// The targets.
mod target {
    use std::time::Duration;
    pub const P50_BOOT: Duration = Duration::from_millis(50);
    pub const BOOT_DELETE_PER_S: f64 = 200.0;
    pub const SCHEDULER: Duration = Duration::from_millis(5);
    /// MB = 10^6 bytes.
    pub const RSS_BYTES: u64 = 300_000_000;
}

#[derive(clap::Args)]
pub struct ComputeArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// bcrypt cost of the instance (token issue is not what is measured here).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(4..=31))]
    hash_rounds: u32,
    /// Simulated compute hosts (`STRATUS_COMPUTE_AGENT_FAKE_HOSTS`), each 8 vCPU / 16 GiB / 200 GB.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    hosts: u32,
    /// Servers booted (then deleted).
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    servers: u64,
    /// Workers booting, querying and deleting servers (each with its own keep-alive connection).
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u64).range(1..=1024))]
    concurrency: u64,
    /// Resource providers for the second allocation-candidates measure (the missing ones are
    /// created through the placement API); 0, or not more than --hosts, skips it.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(0..=1_000_000))]
    providers_large: u64,
    /// Sequential `GET /allocation_candidates` measured at each size (after 5 warm-up ones).
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    candidate_requests: u64,
    /// Longest wait, in seconds, for every agent to be an `up` nova-compute service.
    #[arg(long, default_value_t = 600)]
    register_timeout: u64,
    /// Servers booted one at a time (then deleted) before the others: the service time of a boot
    /// and of a scheduling decision without queueing. 0 skips them.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(0..=100_000))]
    serial_servers: u64,
    /// Seconds to measure the server's CPU while idle with every agent running (0 skips).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(0..=3600))]
    idle_seconds: u64,
    /// Who boots, polls and deletes the servers: the admin, or a user with the member role on the
    /// admin project (created by the bench). An admin's `GET /servers/{id}` also reports the
    /// state of the server's host, which a member's does not.
    #[arg(long, value_enum, default_value_t = User::Admin)]
    user: User,
    /// Longest a single server may take to become ACTIVE, or to be gone after its DELETE, in seconds.
    #[arg(long, default_value_t = 120)]
    server_timeout: u64,
    /// How often each worker polls its server while it boots or is deleted, in milliseconds. The
    /// latency is seen to within this; shorter polls cost the server CPU the boots then lack.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    poll_ms: u64,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum User {
    Admin,
    Member,
}

impl std::fmt::Display for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use clap::ValueEnum;
        f.write_str(self.to_possible_value().expect("no skipped variants").get_name())
    }
}

/// Creates `bench-member` with the member role on `project_id` and returns a token of it scoped
/// to that project.
async fn member_token(
    client: &reqwest::Client,
    identity: &str,
    admin_token: &str,
    project_id: &str,
) -> anyhow::Result<String> {
    let r = client
        .get(format!("{identity}/v3/roles?name=member"))
        .header("X-Auth-Token", admin_token)
        .send()
        .await?;
    let roles = expect_json(r, 200, "finding the member role").await?;
    let role_id = roles["roles"][0]["id"].as_str().context("no member role")?.to_string();
    let password = format!("bench-{:x}", std::process::id());
    let body = json!({"user": {"name": "bench-member", "domain_id": "default", "password": password,
                               "default_project_id": project_id}});
    let r = client
        .post(format!("{identity}/v3/users"))
        .header("X-Auth-Token", admin_token)
        .json(&body)
        .send()
        .await?;
    let user = expect_json(r, 201, "creating the member user").await?;
    let user_id = user["user"]["id"].as_str().context("creating the member user: no id")?;
    let r = client
        .put(format!("{identity}/v3/projects/{project_id}/users/{user_id}/roles/{role_id}"))
        .header("X-Auth-Token", admin_token)
        .send()
        .await?;
    if r.status().as_u16() != 204 {
        bail!("granting the member role: HTTP {}: {}", r.status(), r.text().await.unwrap_or_default());
    }
    let body = json!({"auth": {
        "identity": {"methods": ["password"], "password": {"user": {"id": user_id, "password": password}}},
        "scope": {"project": {"id": project_id}},
    }});
    let r = client.post(format!("{identity}/v3/auth/tokens")).json(&body).send().await?;
    let status = r.status();
    match r.headers().get("x-subject-token").and_then(|v| v.to_str().ok()) {
        Some(t) if status.as_u16() == 201 => Ok(t.to_string()),
        _ => bail!("issuing the member's token: HTTP {status}: {}", r.text().await.unwrap_or_default()),
    }
}

/// The endpoints and a token.
#[derive(Clone)]
struct Api {
    /// `http://127.0.0.1:PORT/v2.1`.
    compute: String,
    placement: String,
    image: String,
    token: String,
}

impl Api {
    fn compute(
        &self,
        client: &reqwest::Client,
        method: reqwest::Method,
        path: &str,
    ) -> reqwest::RequestBuilder {
        client
            .request(method, format!("{}{path}", self.compute))
            .header("X-Auth-Token", &self.token)
            .header("OpenStack-API-Version", COMPUTE_VERSION)
    }

    fn placement(
        &self,
        client: &reqwest::Client,
        method: reqwest::Method,
        path: &str,
        version: &str,
    ) -> reqwest::RequestBuilder {
        client
            .request(method, format!("{}{path}", self.placement))
            .header("X-Auth-Token", &self.token)
            .header("OpenStack-API-Version", version)
    }
}

/// Failed requests and servers: counts by kind, and the first few messages.
#[derive(Default)]
struct Failures {
    by_kind: BTreeMap<String, u64>,
    samples: Vec<String>,
}

impl Failures {
    fn add(&mut self, f: Failure) {
        *self.by_kind.entry(f.kind).or_default() += 1;
        if self.samples.len() < FAILURE_SAMPLES {
            self.samples.push(f.detail);
        }
    }

    fn count(&self) -> u64 {
        self.by_kind.values().sum()
    }
}

/// One failure: its kind (`boot: ERROR`, `delete: HTTP 409`, …) and what happened.
struct Failure {
    kind: String,
    detail: String,
}

fn failure(kind: impl Into<String>, detail: impl Into<String>) -> Failure {
    Failure { kind: kind.into(), detail: detail.into() }
}

/// A request's answer: status and body, or the transport failure as a `Failure` of `what`.
async fn call(req: reqwest::RequestBuilder, what: &str) -> Result<(u16, bytes::Bytes), Failure> {
    let resp = req
        .send()
        .await
        .map_err(|e| failure(format!("{what}: {}", load::transport_kind(&e)), e.to_string()))?;
    let status = resp.status().as_u16();
    let body = resp
        .bytes()
        .await
        .map_err(|e| failure(format!("{what}: {}", load::transport_kind(&e)), e.to_string()))?;
    Ok((status, body))
}

fn body_text(body: &[u8]) -> String {
    String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned()
}

fn parse(body: &[u8], what: &str) -> Result<Value, Failure> {
    serde_json::from_slice(body).map_err(|_| failure(format!("{what}: not JSON"), body_text(body)))
}

/// What a run of concurrent workers measured besides their own results.
struct Run<T> {
    elapsed: Duration,
    cpu: CpuUse,
    rss: RssUse,
    outputs: Vec<T>,
}

/// Runs `f(client, i)` for every i in 0..n on `concurrency` workers, each with its own client
/// whose connection is opened (a GET of `warm_url`) before the clock starts; samples the
/// server's RSS and counts its CPU meanwhile.
async fn run_concurrently<T, F, Fut>(
    n: usize,
    concurrency: usize,
    warm_url: &str,
    server_pid: u32,
    give_up: Duration,
    f: F,
) -> anyhow::Result<Run<T>>
where
    T: Send + 'static,
    F: Fn(reqwest::Client, usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = T> + Send + 'static,
{
    let f = Arc::new(f);
    let mut clients = Vec::with_capacity(concurrency);
    for _ in 0..concurrency.min(n.max(1)) {
        let c = load::client()?;
        let _ = c.get(warm_url).send().await;
        clients.push(c);
    }
    let next = Arc::new(AtomicUsize::new(0));
    let sampler = RssSampler::start(server_pid, give_up);
    let cpu = CpuMeter::start(server_pid);
    let t0 = Instant::now();
    let mut workers = Vec::with_capacity(clients.len());
    for client in clients {
        let (f, next) = (f.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            let mut out = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return out;
                }
                out.push((i, f(client.clone(), i).await));
            }
        }));
    }
    let mut outputs = Vec::with_capacity(n);
    for w in workers {
        outputs.extend(w.await?);
    }
    let elapsed = t0.elapsed();
    let cpu = cpu.read();
    let rss = sampler.finish().await?;
    outputs.sort_by_key(|(i, _)| *i);
    Ok(Run { elapsed, cpu, rss, outputs: outputs.into_iter().map(|(_, t)| t).collect() })
}

/// One server of the boot phase.
struct Boot {
    /// Its id, once the POST was accepted (it is deleted later whatever became of it).
    id: Option<String>,
    /// How long the POST took to answer 202.
    post: Option<Duration>,
    /// POST sent → GET first said ACTIVE; or why not.
    active: Result<Duration, Failure>,
    /// GETs of the server sent after its POST.
    polls: u64,
}

async fn boot_one(
    client: reqwest::Client,
    api: Arc<Api>,
    prefix: &str,
    i: usize,
    flavor: Arc<str>,
    image: Arc<str>,
    wait: Wait,
) -> Boot {
    let t0 = Instant::now();
    let name = format!("{prefix}-{i}");
    let (id, post) = match post_server(&client, &api, &name, &flavor, &image).await {
        Ok(id) => (id, t0.elapsed()),
        Err(f) => return Boot { id: None, post: None, active: Err(f), polls: 0 },
    };
    let mut polls = 0;
    let active = loop {
        tokio::time::sleep(wait.poll).await;
        polls += 1;
        let server = match show_server(&client, &api, &id, "boot GET").await {
            Ok(Some(v)) => v,
            Ok(None) => break Err(failure("boot GET: HTTP 404", format!("server {name} ({id}) vanished"))),
            Err(f) => break Err(f),
        };
        match server["status"].as_str() {
            Some("ACTIVE") => break Ok(t0.elapsed()),
            Some("ERROR") => {
                let fault = server["fault"]["message"].as_str().unwrap_or("no fault message");
                break Err(failure("boot: ERROR", format!("server {name} ({id}) ERROR: {fault}")));
            }
            _ if t0.elapsed() > wait.timeout => {
                break Err(failure(
                    "boot: not ACTIVE in time",
                    format!("server {name} ({id}) still {} after {:?}", server["status"], wait.timeout),
                ))
            }
            _ => {}
        }
    };
    Boot { id: Some(id), post: Some(post), active, polls }
}

/// `POST /servers` → 202: the new server's id.
async fn post_server(
    client: &reqwest::Client,
    api: &Api,
    name: &str,
    flavor: &str,
    image: &str,
) -> Result<String, Failure> {
    let body = json!({"server": {"name": name, "flavorRef": flavor, "imageRef": image, "networks": "none"}});
    let (code, body) =
        call(api.compute(client, reqwest::Method::POST, "/servers").json(&body), "boot POST").await?;
    if code != 202 {
        return Err(failure(format!("boot POST: HTTP {code}"), body_text(&body)));
    }
    parse(&body, "boot POST")?["server"]["id"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| failure("boot POST: no server.id", body_text(&body)))
}

/// `GET /servers/{id}`: the server object, None on 404.
async fn show_server(
    client: &reqwest::Client,
    api: &Api,
    id: &str,
    what: &str,
) -> Result<Option<Value>, Failure> {
    let (code, body) =
        call(api.compute(client, reqwest::Method::GET, &format!("/servers/{id}")), what).await?;
    match code {
        200 => Ok(Some(parse(&body, what)?["server"].take())),
        404 => Ok(None),
        _ => Err(failure(format!("{what}: HTTP {code}"), format!("server {id}: {}", body_text(&body)))),
    }
}

/// DELETE sent → GET first answered 404, and how many GETs that took.
async fn delete_one(
    client: reqwest::Client,
    api: Arc<Api>,
    id: String,
    wait: Wait,
) -> Result<(Duration, u64), Failure> {
    let t0 = Instant::now();
    let path = format!("/servers/{id}");
    match call(api.compute(&client, reqwest::Method::DELETE, &path), "DELETE").await? {
        (204, _) => {}
        (code, body) => {
            return Err(failure(format!("DELETE: HTTP {code}"), format!("server {id}: {}", body_text(&body))))
        }
    }
    let mut polls = 0;
    loop {
        tokio::time::sleep(wait.poll).await;
        polls += 1;
        let Some(server) = show_server(&client, &api, &id, "delete GET").await? else {
            return Ok((t0.elapsed(), polls));
        };
        if server["status"] == "ERROR" {
            let fault = server["fault"]["message"].as_str().unwrap_or("no fault message");
            return Err(failure("delete: ERROR", format!("server {id} ERROR while deleting: {fault}")));
        }
        if t0.elapsed() > wait.timeout {
            return Err(failure(
                "delete: not gone in time",
                format!("server {id} still {} after {:?}", server["status"], wait.timeout),
            ));
        }
    }
}

/// The events of a server's `create` action: (name, finish − start), unfinished ones as None.
async fn create_events(
    client: reqwest::Client,
    api: Arc<Api>,
    id: String,
) -> Result<Vec<(String, Option<Duration>)>, Failure> {
    let path = format!("/servers/{id}/os-instance-actions");
    let (code, body) = call(api.compute(&client, reqwest::Method::GET, &path), "actions list").await?;
    if code != 200 {
        return Err(failure(
            format!("actions list: HTTP {code}"),
            format!("server {id}: {}", body_text(&body)),
        ));
    }
    let list = parse(&body, "actions list")?;
    let request_id = list["instanceActions"]
        .as_array()
        .and_then(|a| a.iter().find(|a| a["action"] == "create"))
        .and_then(|a| a["request_id"].as_str())
        .ok_or_else(|| {
            failure("actions list: no create action", format!("server {id}: {}", body_text(&body)))
        })?
        .to_string();
    let (code, body) =
        call(api.compute(&client, reqwest::Method::GET, &format!("{path}/{request_id}")), "action show")
            .await?;
    if code != 200 {
        return Err(failure(
            format!("action show: HTTP {code}"),
            format!("server {id}: {}", body_text(&body)),
        ));
    }
    let action = parse(&body, "action show")?;
    let events = action["instanceAction"]["events"]
        .as_array()
        .ok_or_else(|| failure("action show: no events", format!("server {id}: {}", body_text(&body))))?;
    Ok(events
        .iter()
        .map(|e| {
            let name = e["event"].as_str().unwrap_or("?").to_string();
            let start = e["start_time"].as_str().and_then(parse_time_us);
            let finish = e["finish_time"].as_str().and_then(parse_time_us);
            let took =
                start.zip(finish).map(|(s, f)| Duration::from_micros(f.saturating_sub(s).max(0) as u64));
            (name, took)
        })
        .collect())
}

/// Microseconds since the epoch of nova's `2026-11-22T09:17:39.457996` (UTC; a trailing `Z`
/// or `+00:00` is ignored).
fn parse_time_us(s: &str) -> Option<i64> {
    let (date, time) = s.split_once('T')?;
    let time = time.trim_end_matches('Z').trim_end_matches("+00:00");
    let mut d = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
    let mut t = hms.splitn(3, ':').map(|p| p.parse::<i64>().ok());
    let (h, mi, sec) = (t.next()??, t.next()??, t.next()??);
    if !frac.bytes().all(|b| b.is_ascii_digit()) || frac.len() > 9 {
        return None;
    }
    let micros: i64 = format!("{frac:0<6}")[..6].parse().ok()?;
    // Howard Hinnant's days_from_civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some((days * 86_400 + h * 3600 + mi * 60 + sec) * 1_000_000 + micros)
}

/// One row of the table: a measured set of latencies with its context.
struct Row {
    label: String,
    /// Workers; None where the figures are the server's own (events).
    conc: Option<usize>,
    ok: u64,
    errors: u64,
    /// Successful operations per second of the phase; None where meaningless.
    rate: Option<f64>,
    /// Sorted, in ns.
    latencies_ns: Vec<u64>,
    /// For the CPU and RSS columns; None for rows that are not a phase of their own.
    phase: Option<(Duration, CpuUse, RssUse)>,
}

impl Row {
    fn pct(&self, p: f64) -> Option<Duration> {
        percentile(&self.latencies_ns, p).map(Duration::from_nanos)
    }

    fn mean(&self) -> Option<Duration> {
        (!self.latencies_ns.is_empty()).then(|| {
            Duration::from_nanos(
                (self.latencies_ns.iter().map(|&n| n as u128).sum::<u128>() / self.latencies_ns.len() as u128)
                    as u64,
            )
        })
    }
}

fn sorted_ns(durations: impl IntoIterator<Item = Duration>) -> Vec<u64> {
    let mut v: Vec<u64> = durations.into_iter().map(|d| d.as_nanos() as u64).collect();
    v.sort_unstable();
    v
}

/// A sequence of allocation-candidates requests at one number of providers.
struct Candidates {
    providers: u64,
    /// Allocation requests and providers in the last answer, its size in bytes.
    answer: (usize, usize, usize),
    row: Row,
}

/// `n` sequential `GET /allocation_candidates` after a few warm-up ones.
async fn measure_candidates(
    api: &Api,
    providers: u64,
    n: u64,
    server_pid: u32,
    failures: &mut Failures,
) -> anyhow::Result<Candidates> {
    let client = load::client()?;
    let path = format!("/allocation_candidates?{CANDIDATE_QUERY}");
    let get = || api.placement(&client, reqwest::Method::GET, &path, CANDIDATES_VERSION);
    for _ in 0..CANDIDATE_WARM_UP {
        let r = get().send().await?;
        expect_json(r, 200, "GET /allocation_candidates (warm-up)").await?;
    }
    let sampler = RssSampler::start(server_pid, load::REQUEST_TIMEOUT * (n as u32).max(1));
    let cpu = CpuMeter::start(server_pid);
    let t0 = Instant::now();
    let mut lat = Vec::with_capacity(n as usize);
    let mut errors = 0;
    let mut last = None;
    for _ in 0..n {
        let t = Instant::now();
        match call(get(), "candidates").await {
            Ok((200, body)) => {
                lat.push(t.elapsed());
                last = Some(body);
            }
            Ok((code, body)) => {
                errors += 1;
                failures.add(failure(format!("candidates: HTTP {code}"), body_text(&body)));
            }
            Err(f) => {
                errors += 1;
                failures.add(f);
            }
        }
    }
    let elapsed = t0.elapsed();
    let cpu = cpu.read();
    let rss = sampler.finish().await?;
    let answer = match last {
        Some(body) => {
            let v: Value = serde_json::from_slice(&body).context("allocation candidates: not JSON")?;
            let requests = v["allocation_requests"].as_array().map(Vec::len).unwrap_or(0);
            let summaries = v["provider_summaries"].as_object().map(|o| o.len()).unwrap_or(0);
            (requests, summaries, body.len())
        }
        None => (0, 0, 0),
    };
    let ok = lat.len() as u64;
    Ok(Candidates {
        providers,
        answer,
        row: Row {
            label: format!("allocation candidates, {providers} RPs"),
            conc: Some(1),
            ok,
            errors,
            rate: Some(ok as f64 / elapsed.as_secs_f64().max(1e-9)),
            latencies_ns: sorted_ns(lat),
            phase: Some((elapsed, cpu, rss)),
        },
    })
}

/// Creates providers `from..to` (name `bench-rp-N`) with an 8 vCPU / 16 GiB / 200 GB inventory.
async fn create_providers(
    api: &Arc<Api>,
    from: u64,
    to: u64,
    server_pid: u32,
) -> anyhow::Result<Run<Result<(), Failure>>> {
    let api2 = api.clone();
    let salt = std::process::id();
    run_concurrently(
        (to - from) as usize,
        PROVIDER_WORKERS,
        &format!("{}/", api.placement),
        server_pid,
        Duration::from_secs(24 * 3600),
        move |client, i| {
            let api = api2.clone();
            async move {
                let n = from + i as u64;
                let uuid = format!("{salt:08x}-b0b0-4000-8000-{n:012x}");
                let body = json!({"name": format!("bench-rp-{n:06}"), "uuid": uuid});
                let (code, answer) = call(
                    api.placement(&client, reqwest::Method::POST, "/resource_providers", CANDIDATES_VERSION)
                        .json(&body),
                    "provider POST",
                )
                .await?;
                if code != 200 && code != 201 {
                    return Err(failure(format!("provider POST: HTTP {code}"), body_text(&answer)));
                }
                let inventories = json!({"resource_provider_generation": 0, "inventories": {
                    "VCPU": {"total": 8}, "MEMORY_MB": {"total": 16384}, "DISK_GB": {"total": 200}}});
                let path = format!("/resource_providers/{uuid}/inventories");
                let (code, answer) = call(
                    api.placement(&client, reqwest::Method::PUT, &path, CANDIDATES_VERSION)
                        .json(&inventories),
                    "inventories PUT",
                )
                .await?;
                if code != 200 {
                    return Err(failure(format!("inventories PUT: HTTP {code}"), body_text(&answer)));
                }
                Ok(())
            }
        },
    )
    .await
}

/// Polls the service list until `hosts` nova-compute services are up: (when, after the spawn;
/// when the first service was listed).
async fn wait_for_agents(
    api: &Api,
    server: &mut Server,
    hosts: u32,
    timeout: Duration,
) -> anyhow::Result<(Duration, Option<Duration>)> {
    let client = load::client()?;
    let started = Instant::now();
    let mut first_listed = None;
    let mut last_report = Instant::now();
    loop {
        server.check_alive()?;
        let r = api.compute(&client, reqwest::Method::GET, "/os-services?binary=nova-compute").send().await?;
        let list = expect_json(r, 200, "GET /os-services").await?;
        let services = list["services"].as_array().cloned().unwrap_or_default();
        let up = services.iter().filter(|s| s["state"] == "up").count();
        if first_listed.is_none() && !services.is_empty() {
            first_listed = Some(server.spawned_at.elapsed());
        }
        if up >= hosts as usize {
            return Ok((server.spawned_at.elapsed(), first_listed));
        }
        if started.elapsed() > timeout {
            bail!(
                "only {up} of {hosts} nova-compute services up ({} listed) after {timeout:?}; the server log ends with:\n{}",
                services.len(),
                server.log_tail(20)
            );
        }
        if last_report.elapsed() > Duration::from_secs(5) {
            eprintln!(
                "    {up} of {hosts} up ({} listed) after {:.1} s",
                services.len(),
                server.spawned_at.elapsed().as_secs_f64()
            );
            last_report = Instant::now();
        }
        tokio::time::sleep(SERVICES_POLL_EVERY).await;
    }
}

/// Creates a public raw image with `IMAGE_BYTES` of data and waits until it is active.
async fn create_image(client: &reqwest::Client, api: &Api) -> anyhow::Result<String> {
    let body = json!({"name": "bench-image", "disk_format": "raw", "container_format": "bare", "visibility": "public"});
    let r = client
        .post(format!("{}/v2/images", api.image))
        .header("X-Auth-Token", &api.token)
        .json(&body)
        .send()
        .await?;
    let image = expect_json(r, 201, "creating the image").await?;
    let id = image["id"].as_str().context("creating the image: no id")?.to_string();
    let data: Vec<u8> = (0..IMAGE_BYTES).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let r = client
        .put(format!("{}/v2/images/{id}/file", api.image))
        .header("X-Auth-Token", &api.token)
        .header("Content-Type", "application/octet-stream")
        .body(data)
        .send()
        .await?;
    if r.status().as_u16() != 204 {
        bail!("uploading the image: HTTP {}: {}", r.status(), r.text().await.unwrap_or_default());
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = client
            .get(format!("{}/v2/images/{id}", api.image))
            .header("X-Auth-Token", &api.token)
            .send()
            .await?;
        let image = expect_json(r, 200, "showing the image").await?;
        match image["status"].as_str() {
            Some("active") => return Ok(id),
            Some("killed" | "deleted") => bail!("the image went {}", image["status"]),
            _ if Instant::now() > deadline => bail!("the image is still {} after 60 s", image["status"]),
            _ => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

/// Lines of the server log at WARN or ERROR level: (how many, the first few).
fn log_warnings(server: &Server) -> (usize, Vec<String>) {
    let text = strip_ansi(&std::fs::read_to_string(server.log_path()).unwrap_or_default());
    let hits: Vec<&str> = text.lines().filter(|l| l.contains(" WARN ") || l.contains(" ERROR ")).collect();
    (hits.len(), hits.iter().take(5).map(|l| l.chars().take(300).collect()).collect())
}

/// The text without its terminal colour codes (`ESC [ … m`: the server's log has them).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // Up to and including the final letter of the sequence.
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// What every phase of servers needs.
#[derive(Clone)]
struct Ctx {
    /// As the user who boots, polls and deletes the servers (`--user`).
    api: Arc<Api>,
    /// As the admin: reads the instance actions (their events are the admin's to see).
    admin: Arc<Api>,
    flavor: Arc<str>,
    image: Arc<str>,
    pid: u32,
    wait: Wait,
    /// `http://127.0.0.1:PORT/`: the compute API's version document, to open connections with.
    compute_root: String,
}

/// No run of concurrent requests is sampled longer than this.
const PHASE_GIVE_UP: Duration = Duration::from_secs(24 * 3600);

/// A boot phase: the POST→ACTIVE row, the POST→202 row, every server created (to delete).
struct BootPhase {
    boot: Row,
    post: Row,
    ids: Vec<String>,
    polls: u64,
    elapsed: Duration,
}

/// Boots `n` servers named `{prefix}-N` with `conc` workers.
async fn boot_phase(
    ctx: &Ctx,
    n: u64,
    conc: usize,
    prefix: &'static str,
    failures: &mut Failures,
) -> anyhow::Result<BootPhase> {
    eprintln!("  booting {n} servers, {conc} workers …");
    let c = ctx.clone();
    let run =
        run_concurrently(n as usize, conc, &ctx.compute_root, ctx.pid, PHASE_GIVE_UP, move |client, i| {
            boot_one(client, c.api.clone(), prefix, i, c.flavor.clone(), c.image.clone(), c.wait)
        })
        .await?;
    let (mut ids, mut active, mut post, mut polls) = (Vec::new(), Vec::new(), Vec::new(), 0);
    for b in run.outputs {
        post.extend(b.post);
        polls += b.polls;
        match b.active {
            Ok(d) => active.push(d),
            Err(f) => failures.add(f),
        }
        ids.extend(b.id);
    }
    let ok = active.len() as u64;
    eprintln!("    {ok} ACTIVE, {} failed, in {:.2} s", n - ok, run.elapsed.as_secs_f64());
    Ok(BootPhase {
        boot: Row {
            label: "boot    POST /servers → ACTIVE".into(),
            conc: Some(conc),
            ok,
            errors: n - ok,
            rate: Some(ok as f64 / run.elapsed.as_secs_f64().max(1e-9)),
            latencies_ns: sorted_ns(active),
            phase: Some((run.elapsed, run.cpu, run.rss)),
        },
        post: Row {
            label: "  of which POST /servers → 202".into(),
            conc: Some(conc),
            ok: post.len() as u64,
            errors: n - post.len() as u64,
            rate: None,
            latencies_ns: sorted_ns(post),
            phase: None,
        },
        ids,
        polls,
        elapsed: run.elapsed,
    })
}

/// The events of the servers' create actions: the scheduler's row, then the others.
struct EventsPhase {
    scheduler: Row,
    others: Vec<Row>,
}

/// Reads the create actions of `ids` with `conc` workers; `boot_conc` labels the rows.
async fn events_phase(
    ctx: &Ctx,
    ids: &[String],
    conc: usize,
    boot_conc: usize,
    failures: &mut Failures,
) -> anyhow::Result<EventsPhase> {
    eprintln!("  reading the create actions of {} servers …", ids.len());
    let (api, ids) = (ctx.admin.clone(), Arc::new(ids.to_vec()));
    let n = ids.len();
    let run = run_concurrently(n, conc, &ctx.compute_root, ctx.pid, PHASE_GIVE_UP, move |client, i| {
        create_events(client, api.clone(), ids[i].clone())
    })
    .await?;
    let mut by_event: BTreeMap<String, (Vec<Duration>, u64)> = BTreeMap::new();
    for e in run.outputs {
        match e {
            Ok(list) => {
                for (name, took) in list {
                    let entry = by_event.entry(name).or_default();
                    match took {
                        Some(d) => entry.0.push(d),
                        None => entry.1 += 1,
                    }
                }
            }
            Err(f) => failures.add(f),
        }
    }
    let event_row = |name: &str, (durations, unfinished): (Vec<Duration>, u64)| Row {
        label: format!("event   {name}"),
        conc: Some(boot_conc),
        ok: durations.len() as u64,
        errors: unfinished,
        rate: None,
        latencies_ns: sorted_ns(durations),
        phase: None,
    };
    let scheduler = event_row(SELECT_EVENT, by_event.remove(SELECT_EVENT).unwrap_or_default());
    if scheduler.ok == 0 && n > 0 {
        failures.add(failure(
            "no scheduler event",
            format!("no create action had a finished {SELECT_EVENT} event"),
        ));
    }
    let others = by_event.into_iter().map(|(name, v)| event_row(&name, v)).collect();
    Ok(EventsPhase { scheduler, others })
}

struct DeletePhase {
    row: Row,
    polls: u64,
    elapsed: Duration,
}

/// Deletes `ids` with `conc` workers, each server polled until 404.
async fn delete_phase(
    ctx: &Ctx,
    ids: &[String],
    conc: usize,
    failures: &mut Failures,
) -> anyhow::Result<DeletePhase> {
    eprintln!("  deleting {} servers, {conc} workers …", ids.len());
    let (c, ids) = (ctx.clone(), Arc::new(ids.to_vec()));
    let n = ids.len();
    let run = run_concurrently(n, conc, &ctx.compute_root, ctx.pid, PHASE_GIVE_UP, move |client, i| {
        delete_one(client, c.api.clone(), ids[i].clone(), c.wait)
    })
    .await?;
    let (mut lat, mut polls) = (Vec::new(), 0);
    for d in run.outputs {
        match d {
            Ok((d, p)) => {
                lat.push(d);
                polls += p;
            }
            Err(f) => failures.add(f),
        }
    }
    let ok = lat.len() as u64;
    eprintln!("    {ok} deleted in {:.2} s", run.elapsed.as_secs_f64());
    Ok(DeletePhase {
        row: Row {
            label: "delete  DELETE /servers/{id} → 404".into(),
            conc: Some(conc),
            ok,
            errors: n as u64 - ok,
            rate: Some(ok as f64 / run.elapsed.as_secs_f64().max(1e-9)),
            latencies_ns: sorted_ns(lat),
            phase: Some((run.elapsed, run.cpu, run.rss)),
        },
        polls,
        elapsed: run.elapsed,
    })
}

/// One group of servers booted, looked at and deleted at one concurrency.
struct Servers {
    boot: BootPhase,
    events: EventsPhase,
    delete: DeletePhase,
}

impl Servers {
    /// Servers booted and deleted per second of the two phases.
    fn boot_delete_rate(&self) -> f64 {
        self.boot.boot.ok.min(self.delete.row.ok) as f64
            / (self.boot.elapsed + self.delete.elapsed).as_secs_f64().max(1e-9)
    }
}

/// What the report needs besides the rows.
struct Outcome {
    first_token: Duration,
    agents_up: Duration,
    agents_first_listed: Option<Duration>,
    /// Server CPU from the spawn to every agent up.
    cpu_agents: Option<Duration>,
    /// Server CPU while idle with the agents running, and over how long.
    idle_cpu: Option<(Duration, CpuUse)>,
    rss_idle: Option<u64>,
    rss_agents: Option<u64>,
    rss_boot_end: Option<u64>,
    rss_after_delete: Option<u64>,
    rss_end: Option<u64>,
    rss_overall: RssUse,
    cpu_total: Option<Duration>,
    wall_total: Duration,
    /// The servers booted one at a time, if any.
    serial: Option<Servers>,
    main: Servers,
    usages: Value,
    usages_nonzero: bool,
    candidates: Vec<Candidates>,
    provider_creation: Option<(u64, Duration, u64)>,
    log_warnings: (usize, Vec<String>),
    exit: String,
}

pub async fn compute(args: ComputeArgs) -> anyhow::Result<u8> {
    let binary = find_stratus(args.server.stratus.clone())?;
    let version = binary_version(&binary);
    let date = report::utc_now_text();
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let concurrency = args.concurrency as usize;
    eprintln!("stratus-bench compute: {} ({version}), {cpus} CPUs", binary.display());

    let extra_env = vec![
        ("STRATUS_COMPUTE_AGENT_FAKE_HOSTS".to_string(), args.hosts.to_string()),
        ("STRATUS_COMPUTE_AGENT_REPORT_INTERVAL".to_string(), REPORT_INTERVAL_S.to_string()),
    ];
    eprintln!("starting stratus up with {} fake hosts …", args.hosts);
    let ready = start_with(&binary, args.hash_rounds, &args.server, &extra_env).await?;
    let mut server = ready.server;
    let pid = server.pid;
    eprintln!("  first token after {:.0} ms", ready.first_token.as_secs_f64() * 1000.0);
    let overall = RssSampler::start(pid, PHASE_GIVE_UP);
    let setup = load::client()?;

    // The admin token and its project.
    let crate::AdminToken { token, project_id, .. } =
        crate::admin_token(&setup, &server.base_url, &ready.password).await?;
    let api = Arc::new(Api {
        compute: format!("{}/v2.1", server.compute_url),
        placement: server.placement_url.clone(),
        image: server.image_url.clone(),
        token,
    });

    eprintln!("  waiting for {} nova-compute services to be up …", args.hosts);
    let (agents_up, agents_first_listed) =
        wait_for_agents(&api, &mut server, args.hosts, Duration::from_secs(args.register_timeout)).await?;
    eprintln!("  {} agents up {:.2} s after spawn", args.hosts, agents_up.as_secs_f64());
    // The server's CPU from its start: bootstrap and the agents' registration.
    let cpu_agents = server::cpu_time(Some(pid));
    // Let the registration settle (the agents' first reports) before sampling.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_agents = server::rss_bytes(pid);
    let idle_cpu = if args.idle_seconds > 0 {
        eprintln!("  idle for {} s (the agents' own work) …", args.idle_seconds);
        let meter = CpuMeter::start(pid);
        let t0 = Instant::now();
        tokio::time::sleep(Duration::from_secs(args.idle_seconds)).await;
        Some((t0.elapsed(), meter.read()))
    } else {
        None
    };

    // Quota, flavor, image.
    let r = api
        .compute(&setup, reqwest::Method::PUT, &format!("/os-quota-sets/{project_id}"))
        .json(&json!({"quota_set": {"instances": -1, "cores": -1, "ram": -1}}))
        .send()
        .await?;
    expect_json(r, 200, "lifting the admin project's quota").await?;
    let r = api
        .compute(&setup, reqwest::Method::POST, "/flavors")
        .json(&json!({"flavor": {"name": "bench.tiny", "ram": 64, "vcpus": 1, "disk": 1}}))
        .send()
        .await?;
    let flavor = expect_json(r, 200, "creating the flavor").await?;
    let flavor: Arc<str> = flavor["flavor"]["id"].as_str().context("creating the flavor: no id")?.into();
    let image: Arc<str> = create_image(&setup, &api).await?.into();
    let user_api = match args.user {
        User::Admin => api.clone(),
        User::Member => {
            let token = member_token(&setup, &server.base_url, &api.token, &project_id).await?;
            Arc::new(Api { token, ..Api::clone(&api) })
        }
    };
    let ctx = Ctx {
        api: user_api,
        admin: api.clone(),
        flavor,
        image,
        pid,
        wait: Wait {
            poll: Duration::from_millis(args.poll_ms),
            timeout: Duration::from_secs(args.server_timeout),
        },
        compute_root: format!("{}/", server.compute_url),
    };

    let mut failures = Failures::default();
    // One at a time first: the service time of a boot, without queueing.
    let serial = if args.serial_servers > 0 {
        let boot = boot_phase(&ctx, args.serial_servers, 1, "s", &mut failures).await?;
        let events = events_phase(&ctx, &boot.ids, concurrency, 1, &mut failures).await?;
        let delete = delete_phase(&ctx, &boot.ids, 1, &mut failures).await?;
        Some(Servers { boot, events, delete })
    } else {
        None
    };
    let boot = boot_phase(&ctx, args.servers, concurrency, "b", &mut failures).await?;
    let rss_boot_end = server::rss_bytes(pid);
    let events = events_phase(&ctx, &boot.ids, concurrency, concurrency, &mut failures).await?;
    let delete = delete_phase(&ctx, &boot.ids, concurrency, &mut failures).await?;
    let main = Servers { boot, events, delete };
    let rss_after_delete = server::rss_bytes(pid);

    // Placement: nothing left allocated to the project.
    let r = api
        .placement(&setup, reqwest::Method::GET, &format!("/usages?project_id={project_id}"), USAGES_VERSION)
        .send()
        .await?;
    let usages = expect_json(r, 200, "GET /usages").await?;
    let nonzero: Vec<String> = usages["usages"]
        .as_object()
        .map(|o| o.iter().filter(|(_, v)| v.as_i64() != Some(0)).map(|(k, v)| format!("{k}={v}")).collect())
        .unwrap_or_else(|| vec![format!("no usages object: {usages}")]);
    for n in &nonzero {
        failures.add(failure("placement usage left after the deletes", n.clone()));
    }

    // Allocation candidates at --hosts providers, then at --providers-large.
    let mut candidates = Vec::new();
    eprintln!("  {} GET /allocation_candidates at {} providers …", args.candidate_requests, args.hosts);
    candidates.push(
        measure_candidates(&api, args.hosts as u64, args.candidate_requests, pid, &mut failures).await?,
    );
    let mut provider_creation = None;
    if args.providers_large > args.hosts as u64 {
        let (from, to) = (args.hosts as u64, args.providers_large);
        eprintln!("  creating {} resource providers ({PROVIDER_WORKERS} workers) …", to - from);
        let run = create_providers(&api, from, to, pid).await?;
        let mut errors = 0;
        for r in run.outputs {
            if let Err(f) = r {
                errors += 1;
                failures.add(f);
            }
        }
        eprintln!("    done in {:.1} s", run.elapsed.as_secs_f64());
        provider_creation = Some((to - from, run.elapsed, errors));
        eprintln!("  {} GET /allocation_candidates at {to} providers …", args.candidate_requests);
        candidates.push(measure_candidates(&api, to, args.candidate_requests, pid, &mut failures).await?);
    }

    let rss_end = server::rss_bytes(pid);
    let cpu_total = server::cpu_time(Some(pid));
    let wall_total = server.spawned_at.elapsed();
    let rss_overall = overall.finish().await?;
    let warnings = log_warnings(&server);
    let exit = stopped(server);

    let outcome = Outcome {
        first_token: ready.first_token,
        agents_up,
        agents_first_listed,
        cpu_agents,
        idle_cpu,
        rss_idle: ready.idle_rss,
        rss_agents,
        rss_boot_end,
        rss_after_delete,
        rss_end,
        rss_overall,
        cpu_total,
        wall_total,
        serial,
        main,
        usages,
        usages_nonzero: !nonzero.is_empty(),
        candidates,
        provider_creation,
        log_warnings: warnings,
        exit,
    };
    print_report(&args, &binary, &version, &date, cpus, &outcome, &failures);
    Ok(if failures.count() == 0 { 0 } else { 2 })
}

fn row_line(r: &Row) -> String {
    let (cpu, split, rss) = match &r.phase {
        Some((elapsed, cpu, rss)) => (
            cpu.server.map(|c| format!("{:.2} s", c.as_secs_f64())).unwrap_or_else(|| "?".into()),
            report::cpu_split(cpu, *elapsed),
            fmt_rss(rss.peak),
        ),
        None => ("-".into(), "-".into(), "-".into()),
    };
    format!(
        "{:<44} {:>4} {:>6} {:>6} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8} {:>12} {:>10}",
        r.label,
        r.conc.map(|c| c.to_string()).unwrap_or_else(|| "-".into()),
        r.ok,
        r.errors,
        r.rate.map(fmt_rate).unwrap_or_else(|| "-".into()),
        fmt_dur(r.mean()),
        fmt_dur(r.pct(50.0)),
        fmt_dur(r.pct(90.0)),
        fmt_dur(r.pct(99.0)),
        fmt_dur(r.pct(100.0)),
        cpu,
        split,
        rss
    )
}

fn met(ok: bool) -> &'static str {
    if ok {
        "MET"
    } else {
        "NOT MET"
    }
}

fn secs_opt(d: Option<Duration>) -> String {
    d.map(|d| format!("{:.2} s", d.as_secs_f64())).unwrap_or_else(|| "?".into())
}

/// The rows of one group of servers.
fn print_servers(s: &Servers) {
    println!("{}", row_line(&s.boot.boot));
    println!("{}", row_line(&s.boot.post));
    println!("{}", row_line(&s.delete.row));
    println!("{}", row_line(&s.events.scheduler));
    for r in &s.events.others {
        println!("{}", row_line(r));
    }
}

/// The lines below the table about one group of servers.
fn print_servers_notes(what: &str, s: &Servers) {
    let (boot, delete) = (&s.boot, &s.delete);
    println!(
        "  {what}: boot {:.2} s, delete {:.2} s: boot+delete {} per s; server CPU per server: boot {}, delete {}; \
         GETs polled per server: boot {:.1}, delete {:.1}",
        boot.elapsed.as_secs_f64(),
        delete.elapsed.as_secs_f64(),
        fmt_rate(s.boot_delete_rate()),
        per_server(boot.boot.phase.as_ref(), boot.ids.len()),
        per_server(delete.row.phase.as_ref(), delete.row.ok as usize),
        boot.polls as f64 / boot.ids.len().max(1) as f64,
        delete.polls as f64 / delete.row.ok.max(1) as f64,
    );
}

fn per_server(phase: Option<&(Duration, CpuUse, RssUse)>, n: usize) -> String {
    fmt_dur(phase.and_then(|p| p.1.server).filter(|_| n > 0).map(|c| c / n as u32))
}

#[allow(clippy::too_many_arguments)]
fn print_report(
    args: &ComputeArgs,
    binary: &std::path::Path,
    version: &str,
    date: &str,
    cpus: usize,
    o: &Outcome,
    failures: &Failures,
) {
    let main = &o.main;
    println!();
    println!("Stratus compute control plane benchmark, {date}");
    println!(
        "  server: {} ({version}), `stratus up`, SQLite in a fresh temp dir, in-process bus, log level {}, bcrypt {}",
        binary.display(),
        args.server.server_log_level,
        args.hash_rounds
    );
    println!(
        "  compute driver: fake (in-process simulated hosts): {} hosts of 8 vCPU / 16 GiB / 200 GB, \
         report interval {REPORT_INTERVAL_S} s",
        args.hosts
    );
    println!(
        "  client: this process on the same {cpus}-CPU machine, HTTP/1.1 keep-alive over 127.0.0.1, one connection \
         per worker; compute calls with OpenStack-API-Version: {COMPUTE_VERSION}"
    );
    println!(
        "  load: {} servers one at a time, then {} servers with {} workers, as the {} user; flavor bench.tiny \
         (1 vCPU, 64 MB, 1 GB), 1 MiB raw image, networks none; each server polled every {} ms",
        args.serial_servers,
        args.servers,
        args.concurrency,
        args.user,
        args.poll_ms
    );
    println!();
    println!(
        "  first token {} after spawn; {} nova-compute services up {} after spawn (first listed after {}); \
         server CPU until then {}",
        fmt_dur(Some(o.first_token)),
        args.hosts,
        fmt_dur(Some(o.agents_up)),
        fmt_dur(o.agents_first_listed),
        secs_opt(o.cpu_agents)
    );
    if let Some((over, cpu)) = &o.idle_cpu {
        println!(
            "  idle with {} agents (no request, {:.0} s): server CPU {} % of one core",
            args.hosts,
            over.as_secs_f64(),
            report::pct(cpu.server, *over)
        );
    }
    println!(
        "  RSS: idle after startup {}, agents registered {}, end of boot ({} servers live) {}, after the deletes {}, \
         at the end {}; highest sample of the run {}",
        fmt_rss(o.rss_idle),
        fmt_rss(o.rss_agents),
        main.boot.boot.ok,
        fmt_rss(o.rss_boot_end),
        fmt_rss(o.rss_after_delete),
        fmt_rss(o.rss_end),
        fmt_rss(o.rss_overall.peak)
    );
    println!(
        "  server CPU: {} over the {:.1} s from spawn to the end of the last phase; {}",
        o.cpu_total.map(|c| format!("{:.1} s", c.as_secs_f64())).unwrap_or_else(|| "?".into()),
        o.wall_total.as_secs_f64(),
        o.exit
    );
    println!();

    let header = format!(
        "{:<44} {:>4} {:>6} {:>6} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8} {:>12} {:>10}",
        "phase",
        "conc",
        "ok",
        "errors",
        "per s",
        "mean",
        "p50",
        "p90",
        "p99",
        "max",
        "srv CPU",
        "CPU s/b/o %",
        "peak RSS"
    );
    println!("{header}");
    println!("{}", "-".repeat(header.len()));
    if let Some(s) = &o.serial {
        print_servers(s);
    }
    print_servers(main);
    for c in &o.candidates {
        println!("{}", row_line(&c.row));
    }
    println!();
    println!(
        "  boot: POST sent → first GET saying ACTIVE; per s = ACTIVE servers / phase wall time. \
         delete: DELETE sent → first GET answering 404."
    );
    println!(
        "  event rows: finish − start of the events of each server's `create` action (os-instance-actions), \
         conc = that of the boots; errors = events without a finish time."
    );
    if let Some(s) = &o.serial {
        print_servers_notes("one at a time", s);
    }
    print_servers_notes(&format!("{} workers", args.concurrency), main);
    for c in &o.candidates {
        println!(
            "  candidates at {} RPs: GET /allocation_candidates?{CANDIDATE_QUERY} ({CANDIDATES_VERSION}), \
             sequential, after {CANDIDATE_WARM_UP} warm-up; last answer {} allocation requests, {} provider \
             summaries, {:.1} KiB",
            c.providers,
            c.answer.0,
            c.answer.1,
            c.answer.2 as f64 / 1024.0
        );
    }
    if let Some((n, took, errors)) = o.provider_creation {
        println!(
            "  created {n} resource providers (POST /resource_providers + PUT inventories, {PROVIDER_WORKERS} \
             workers) in {:.1} s: {} per s{}",
            took.as_secs_f64(),
            fmt_rate(n as f64 / took.as_secs_f64().max(1e-9)),
            if errors > 0 { format!(", {errors} failed") } else { String::new() }
        );
    }
    println!(
        "  placement usages of the admin project after the deletes ({USAGES_VERSION}): {} — {}",
        o.usages["usages"],
        if o.usages_nonzero { "NOT all zero" } else { "all zero" }
    );
    println!(
        "  srv CPU = server CPU time (user+sys) during the phase; CPU s/b/o % = server / this bench / everything \
         else, 100 = one core of {cpus}."
    );
    let (n_warn, first_warn) = &o.log_warnings;
    if *n_warn > 0 {
        println!("  the server log has {n_warn} WARN/ERROR lines; the first:");
        for l in first_warn {
            println!("    {l}");
        }
    }
    let phases = o.serial.iter().chain([main]).flat_map(|s| {
        [
            (format!("boot at {}", s.boot.boot.conc.unwrap_or(0)), &s.boot.boot),
            (format!("delete at {}", s.delete.row.conc.unwrap_or(0)), &s.delete.row),
        ]
    });
    for (what, r) in
        phases.chain(o.candidates.iter().map(|c| (format!("candidates at {}", c.providers), &c.row)))
    {
        if let Some((elapsed, cpu, _)) = &r.phase {
            let other = cpu.other.map(|x| x.as_secs_f64() / elapsed.as_secs_f64().max(1e-9));
            if other.is_some_and(|x| x > report::NOISY_OTHER_CPU) {
                println!(
                    "  NOTE: the machine was not quiet during {what}: something else used {:.0}% CPU; that row is \
                     pessimistic.",
                    100.0 * other.unwrap_or(0.0)
                );
            }
        }
    }
    if failures.count() > 0 {
        println!("  FAILURES ({}): {:?}", failures.count(), failures.by_kind);
        for s in &failures.samples {
            println!("    {s}");
        }
    }

    // Targets and OpenStack's reference.
    println!();
    println!(
        "targets (from the issue) and OpenStack's reference (Rally boot_and_delete_server, 1,000 fake hosts; not \
         measured here):"
    );
    let p50 = main.boot.boot.pct(50.0);
    let rate = main.boot_delete_rate();
    let rss = main.boot.boot.phase.as_ref().and_then(|p| p.2.peak);
    let mut lines = vec![
        (
            format!("p50 POST → ACTIVE, {} workers", args.concurrency),
            format!("{} (mean {})", fmt_dur(p50), fmt_dur(main.boot.boot.mean())),
            "< 50 ms",
            p50.is_some_and(|p| p < target::P50_BOOT),
            format!("{:.2} s mean boot", rally::MEAN_BOOT_S),
        ),
        (
            format!("boot+delete per second, {} workers", args.concurrency),
            format!("{}/s", fmt_rate(rate)),
            "> 200/s",
            rate > target::BOOT_DELETE_PER_S,
            format!("{}/s", rally::BOOT_DELETE_PER_S),
        ),
    ];
    for s in o.serial.iter().chain([main]) {
        let p50 = s.events.scheduler.pct(50.0);
        lines.push((
            format!("scheduler p50, {} hosts, boots at {}", args.hosts, s.boot.boot.conc.unwrap_or(0)),
            format!("{} (p99 {})", fmt_dur(p50), fmt_dur(s.events.scheduler.pct(99.0))),
            "< 5 ms",
            p50.is_some_and(|p| p < target::SCHEDULER),
            "-".into(),
        ));
    }
    lines.push((
        format!("peak RSS during boot ({} servers)", main.boot.boot.ok),
        rss.map(|b| format!("{:.0} MB ({:.1} MiB)", b as f64 / 1e6, mib(b))).unwrap_or_else(|| "?".into()),
        "< 300 MB",
        rss.is_some_and(|b| b < target::RSS_BYTES),
        format!("nova-api {} GB", rally::NOVA_API_RSS_GB),
    ));
    println!("  {:<42} {:>26} {:>9} {:>8}   OpenStack", "", "stratus", "target", "");
    for (what, ours, goal, ok, theirs) in lines {
        println!("  {what:<42} {ours:>26} {goal:>9} {:>8}   {theirs}", met(ok));
    }
    if let Some(mean) = main.boot.boot.mean() {
        println!(
            "  stratus vs OpenStack: mean boot {:.1}× faster, boot+delete {:.1}× the rate",
            rally::MEAN_BOOT_S / mean.as_secs_f64().max(1e-9),
            rate / rally::BOOT_DELETE_PER_S
        );
    }
    if args.hosts != 1000 || args.servers != 2000 {
        println!(
            "  (the targets are stated for 1,000 hosts and 2,000 servers; this run had {} and {})",
            args.hosts, args.servers
        );
    }
}

#[cfg(test)]
mod tests {
    use super::parse_time_us;

    #[test]
    fn parses_nova_times() {
        let a = parse_time_us("2026-11-22T09:17:39.457996").unwrap();
        let b = parse_time_us("2026-11-22T09:17:40.000001").unwrap();
        assert_eq!(b - a, 542_005);
        // Across midnight and a month end.
        let c = parse_time_us("2026-11-30T23:59:59.999999").unwrap();
        let d = parse_time_us("2026-12-01T00:00:00").unwrap();
        assert_eq!(d - c, 1);
        assert_eq!(parse_time_us("1970-01-01T00:00:01.5"), Some(1_500_000));
        assert_eq!(parse_time_us("2000-03-01T00:00:00Z"), Some(951_868_800_000_000));
        assert!(parse_time_us("yesterday").is_none());
    }

    #[test]
    fn strips_colours() {
        assert_eq!(super::strip_ansi("\u{1b}[2mt\u{1b}[0m \u{1b}[33m WARN\u{1b}[0m x"), "t  WARN x");
    }
}
