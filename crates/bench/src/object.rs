//! `stratus-bench object`: the object-storage API (swift v1) of a release `stratus up`.
//!
//! 1. Small objects: `--objects` (20,000) PUTs of 4 KiB objects at concurrency 16, then a GET
//!    of each of them, closed loop, keep-alive: requests/s, p50 / p99 latency, each separately.
//! 2. Listing: a container loaded with `--listing-objects` (100,000) empty objects named
//!    `dir{0..99}/sub{0..9}/obj{0..99}` (so that delimiter listings collapse), then
//!    `--listing-requests` (50) timed requests of each of: a full JSON page (`limit=10000`),
//!    `prefix=dir42/&delimiter=/`, `delimiter=/` (top level) and `prefix=dir42/sub3/`. Every
//!    answer's entry count is checked against what swift would list for those names.
//! 3. Big object: a `--big-mib` (1 GiB) object uploaded from a generated stream (the client holds
//!    1 MiB) and downloaded (counted, discarded), with the server's VmRSS sampled every 100 ms and
//!    its VmHWM read before and after; next to `dd … conv=fsync` writing as much to the data
//!    dir's disk, `curl -T` uploading dd's file and `curl -o /dev/null` downloading the object.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use bytes::Bytes;
use md5::{Digest as _, Md5};
use serde_json::Value;

use crate::load::{self, CpuMeter, CpuUse, PhaseResult, RssSampler, RssUse};
use crate::report::{self, fmt_dur, fmt_rate, fmt_rss, mib};
use crate::{binary_version, find_stratus, start_with, stopped, ServerArgs};

/// Chunk of the big object's generated body (a pseudo-random block, repeated).
const BLOCK: usize = 1 << 20;
/// The container of the small objects, of the listing and of the big object.
const SMALL_CONTAINER: &str = "bench-small";
const LIST_CONTAINER: &str = "bench-list";
const BIG_CONTAINER: &str = "bench-big";
/// swift's `container_listing_limit`: the largest page.
const FULL_PAGE: usize = 10_000;

#[derive(clap::Args)]
pub struct ObjectArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// bcrypt cost of the instance (token issue is not what is measured here).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(4..=31))]
    hash_rounds: u32,
    /// Which parts to run, in this order: small (4 KiB PUT and GET), listing, big (1 GiB
    /// upload and download against dd and curl).
    #[arg(long, value_delimiter = ',', default_values_t = vec![Part::Small, Part::Listing, Part::Big])]
    parts: Vec<Part>,
    /// Small objects PUT (each is then read once by the GET phase).
    #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    objects: u64,
    /// Size of each small object, in bytes.
    #[arg(long, default_value_t = 4096, value_parser = clap::value_parser!(u64).range(0..=16 << 20))]
    object_size: u64,
    /// Closed-loop workers (one keep-alive connection each) of the small-object phases and of
    /// the listing container's load.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..=1024))]
    concurrency: u64,
    /// Longest each small-object phase runs, in seconds (it ends sooner once --objects are done).
    #[arg(long, default_value_t = 120.0)]
    seconds: f64,
    /// Objects loaded (0 bytes each) into the listing container.
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    listing_objects: u64,
    /// Timed requests of each listing query.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    listing_requests: u64,
    /// Workers of the timed listing requests (1: one after the other, the service time).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=1024))]
    listing_concurrency: u64,
    /// Longest each listing query's phase runs, in seconds.
    #[arg(long, default_value_t = 120.0)]
    listing_seconds: f64,
    /// Size of the big object (and of dd's file), in MiB.
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..=5120))]
    big_mib: u64,
    /// Longest a single transfer, dd run or listing request may take, in seconds.
    #[arg(long, default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..=3600))]
    transfer_timeout: u64,
    /// Most the server's RSS may grow during a big transfer, in MB (10^6 bytes): PASS/FAIL.
    #[arg(long, default_value_t = 50)]
    rss_limit_mb: u64,
    /// The curl binary of the reference transfers.
    #[arg(long, default_value = "curl")]
    curl: PathBuf,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Part {
    Small,
    Listing,
    Big,
}

impl std::fmt::Display for Part {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use clap::ValueEnum;
        f.write_str(self.to_possible_value().expect("no skipped variants").get_name())
    }
}

/// The object-storage endpoint under test.
struct Os {
    /// `http://127.0.0.1:PORT`
    root: String,
    /// `http://127.0.0.1:PORT/v1/AUTH_<project>`
    account_url: String,
    token: String,
    pid: u32,
    data_dir: PathBuf,
    /// Setup requests (containers, HEADs, deletes).
    setup: reqwest::Client,
}

impl Os {
    fn url(&self, container: &str, object: Option<&str>) -> String {
        match object {
            Some(o) => format!("{}/{container}/{o}", self.account_url),
            None => format!("{}/{container}", self.account_url),
        }
    }

    async fn create_container(&self, name: &str) -> anyhow::Result<()> {
        let r = self.setup.put(self.url(name, None)).header("X-Auth-Token", &self.token).send().await?;
        let status = r.status().as_u16();
        if status != 201 && status != 202 {
            bail!("creating container {name}: HTTP {status}: {}", r.text().await.unwrap_or_default());
        }
        Ok(())
    }

    /// HEAD of a container: (object count, bytes used).
    async fn container_counts(&self, name: &str) -> anyhow::Result<(u64, u64)> {
        let r = self.setup.head(self.url(name, None)).header("X-Auth-Token", &self.token).send().await?;
        if r.status().as_u16() != 204 {
            bail!("HEAD of container {name}: HTTP {}", r.status());
        }
        let get = |h: &str| r.headers().get(h).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
        Ok((get("x-container-object-count").unwrap_or(0), get("x-container-bytes-used").unwrap_or(0)))
    }

    async fn delete_object(&self, container: &str, object: &str) -> anyhow::Result<()> {
        let r = self
            .setup
            .delete(self.url(container, Some(object)))
            .header("X-Auth-Token", &self.token)
            .send()
            .await?;
        if r.status().as_u16() != 204 {
            bail!("deleting {container}/{object}: HTTP {}", r.status());
        }
        Ok(())
    }

    fn meters(&self, give_up: Duration) -> (RssSampler, CpuMeter) {
        (RssSampler::start(self.pid, give_up), CpuMeter::start(self.pid))
    }
}

/// The benchmark: 0; 2 if a request failed or data did not match; 3 if only the streaming
/// memory check failed.
pub async fn object(args: ObjectArgs) -> anyhow::Result<u8> {
    for (name, s) in [("--seconds", args.seconds), ("--listing-seconds", args.listing_seconds)] {
        if !(s > 0.0 && s <= 36_000.0) {
            bail!("{name} must be in (0, 36000]");
        }
    }
    let binary = find_stratus(args.server.stratus.clone())?;
    let version = binary_version(&binary);
    let date = report::utc_now_text();
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    eprintln!("stratus-bench object: {} ({version}), {cpus} CPUs", binary.display());
    let big = args.parts.contains(&Part::Big);
    let curl_version = if big { tool_version(&args.curl).await? } else { String::new() };

    let listen = free_loopback_addr()?;
    let extra_env = vec![("STRATUS_OBJECT_STORAGE_LISTEN".to_string(), listen.clone())];
    eprintln!("starting stratus up (bcrypt {}, object storage on {listen}) …", args.hash_rounds);
    let ready = start_with(&binary, args.hash_rounds, &args.server, &extra_env).await?;
    eprintln!("  first token after {:.0} ms", ready.first_token.as_secs_f64() * 1000.0);
    let setup = load::client_with_timeout(Duration::from_secs(args.transfer_timeout))?;

    // The admin token, its project and the object store's URL from its catalog.
    let crate::AdminToken { token, project_id, body } =
        crate::admin_token(&setup, &ready.server.base_url, &ready.password).await?;
    let root = format!("http://{listen}");
    let built = format!("{root}/v1/AUTH_{project_id}");
    let (account_url, url_source) = match catalog_url(&body["token"]["catalog"], "object-store") {
        Some(u) if u.trim_end_matches('/') == built => (built, "the token's catalog"),
        Some(u) => {
            eprintln!("  the catalog says {u}, not {built}: using the latter");
            (built, "built from the port and project (the catalog differs)")
        }
        None => (built, "built from the port and project (not in the catalog)"),
    };
    wait_for_healthcheck(&ready.server, &root, Duration::from_secs(args.server.startup_timeout)).await?;
    let os = Os {
        root,
        account_url,
        token,
        pid: ready.server.pid,
        data_dir: ready.server.data_dir.clone(),
        setup,
    };
    let r = os.setup.head(&os.account_url).header("X-Auth-Token", &os.token).send().await?;
    if !r.status().is_success() {
        bail!("HEAD of the account {}: HTTP {}", os.account_url, r.status());
    }
    eprintln!("  object store at {} ({url_source})", os.account_url);

    let mut small = None;
    if args.parts.contains(&Part::Small) {
        small = Some(small_objects(&os, &args).await?);
    }
    let mut listing_report = None;
    if args.parts.contains(&Part::Listing) {
        listing_report = Some(listing(&os, &args).await?);
    }
    let mut big_report = None;
    if big {
        big_report = Some(big_object(&os, &args).await?);
    }

    let end_rss = crate::server::rss_bytes(ready.server.pid);
    let end_hwm = proc_status_bytes(ready.server.pid, "VmHWM:");
    let idle_rss = ready.idle_rss;
    let first_token = ready.first_token;
    let exit = stopped(ready.server);

    println!();
    println!("Stratus object storage benchmark, {date}");
    println!(
        "  server: {} ({version}), `stratus up`, SQLite listings and the object files in a fresh temp dir under {}, \
         log level {}, bcrypt {}",
        binary.display(),
        std::env::temp_dir().display(),
        args.server.server_log_level,
        args.hash_rounds
    );
    println!(
        "  client: this process on the same {cpus}-CPU machine, HTTP/1.1 keep-alive over 127.0.0.1, one connection per worker{}",
        if big { format!("; {curl_version}") } else { String::new() }
    );
    println!("  object store: {} ({url_source})", os.account_url);
    println!(
        "  first token {} after spawn, RSS idle after startup {}, RSS at the end {} (high-water mark {}), {exit}",
        fmt_dur(Some(first_token)),
        fmt_rss(idle_rss),
        fmt_rss(end_rss),
        fmt_rss(end_hwm),
    );
    let mut failed = false;
    let mut rss_fail = false;
    if let Some(s) = &small {
        failed |= print_small(&args, s, cpus);
    }
    if let Some(l) = &listing_report {
        failed |= print_listing(&args, l, cpus);
    }
    if let Some(b) = &big_report {
        let (f, r) = print_big(&args, b, cpus);
        failed |= f;
        rss_fail |= r;
    }
    Ok(if failed {
        2
    } else if rss_fail {
        3
    } else {
        0
    })
}

/// A loopback address nobody listens on right now (the server binds it a moment later).
fn free_loopback_addr() -> anyhow::Result<String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free loopback port")?;
    Ok(l.local_addr()?.to_string())
}

/// The public URL of `service_type` in a keystone v3 catalog.
fn catalog_url(catalog: &Value, service_type: &str) -> Option<String> {
    let service = catalog.as_array()?.iter().find(|s| s["type"] == service_type)?;
    let endpoints = service["endpoints"].as_array()?;
    let public = endpoints.iter().find(|e| e["interface"] == "public").or_else(|| endpoints.first())?;
    public["url"].as_str().map(str::to_string)
}

async fn wait_for_healthcheck(
    server: &crate::server::Server,
    root: &str,
    timeout: Duration,
) -> anyhow::Result<()> {
    let client = load::client()?;
    loop {
        match client.get(format!("{root}/healthcheck")).send().await {
            Ok(r) if r.status().is_success() => return Ok(()),
            Ok(r) if server.spawned_at.elapsed() > timeout => {
                bail!("the object store at {root} answers /healthcheck with HTTP {}", r.status())
            }
            Err(e) if server.spawned_at.elapsed() > timeout => {
                bail!("the object store at {root} did not answer within {timeout:?}: {e}")
            }
            _ => tokio::time::sleep(Duration::from_millis(5)).await,
        }
    }
}

// ---- the closed loop ----

/// Why one request did not count.
struct Failure {
    kind: String,
    detail: String,
}

type RequestFuture = Pin<Box<dyn Future<Output = Result<(), Failure>> + Send>>;
/// Request number `i` of a phase, sent with this worker's client.
type Request = Arc<dyn Fn(reqwest::Client, u64) -> RequestFuture + Send + Sync>;

/// Reads the whole answer; Ok if its status is `want` and (when given) its body that long.
async fn check_answer(
    resp: Result<reqwest::Response, reqwest::Error>,
    want: u16,
    want_len: Option<u64>,
) -> Result<(), Failure> {
    let transport = |e: reqwest::Error| {
        let kind = load::transport_kind(&e);
        Failure { detail: kind.clone(), kind }
    };
    let resp = resp.map_err(transport)?;
    let status = resp.status().as_u16();
    let body = resp.bytes().await.map_err(transport)?;
    if status != want {
        let text = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
        return Err(Failure { kind: format!("HTTP {status}"), detail: format!("HTTP {status}: {text}") });
    }
    match want_len {
        Some(n) if body.len() as u64 != n => Err(Failure {
            kind: "wrong length".into(),
            detail: format!("{} bytes in the body, wanted {n}", body.len()),
        }),
        _ => Ok(()),
    }
}

/// `concurrency` workers, each with its own keep-alive client (connected before the clock
/// starts), send requests 0, 1, 2 … between them until `total` have started or `duration` has
/// passed. The result and how many requests were started.
async fn closed_loop(
    os: &Os,
    concurrency: u64,
    total: u64,
    duration: Duration,
    timeout: Duration,
    request: Request,
) -> anyhow::Result<(PhaseResult, u64)> {
    let mut clients = Vec::new();
    for _ in 0..concurrency {
        let c = load::client_with_timeout(timeout)?;
        let _ = c.get(format!("{}/healthcheck", os.root)).send().await;
        clients.push(c);
    }
    let next = Arc::new(AtomicU64::new(0));
    let (sampler, cpu) = os.meters(duration + timeout + Duration::from_secs(5));
    let t0 = Instant::now();
    let deadline = t0 + duration;
    let mut workers = Vec::new();
    for client in clients {
        let (next, request) = (next.clone(), request.clone());
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors: BTreeMap<String, u64> = BTreeMap::new();
            let mut sample = None;
            while Instant::now() < deadline {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let t = Instant::now();
                let outcome = request(client.clone(), i).await;
                let dt = t.elapsed().as_nanos() as u64;
                match outcome {
                    Ok(()) => latencies.push(dt),
                    Err(f) => {
                        *errors.entry(f.kind).or_default() += 1;
                        sample.get_or_insert(f.detail);
                    }
                }
            }
            (latencies, errors, sample)
        }));
    }
    let mut result = PhaseResult {
        concurrency: concurrency as usize,
        elapsed: Duration::ZERO,
        latencies_ns: Vec::new(),
        errors: BTreeMap::new(),
        error_sample: None,
        peak_rss: None,
        cpu: CpuUse::default(),
    };
    for w in workers {
        let (latencies, errors, sample) = w.await?;
        result.latencies_ns.extend(latencies);
        for (k, n) in errors {
            *result.errors.entry(k).or_default() += n;
        }
        if result.error_sample.is_none() {
            result.error_sample = sample;
        }
    }
    result.elapsed = t0.elapsed();
    result.cpu = cpu.read();
    result.peak_rss = sampler.finish().await?.peak;
    result.latencies_ns.sort_unstable();
    let started = next.load(Ordering::Relaxed).min(total);
    Ok((result, started))
}

// ---- 1. small objects ----

struct SmallReport {
    put: PhaseResult,
    get: PhaseResult,
    /// The container's object count and bytes after the PUTs.
    counts: (u64, u64),
    puts_started: u64,
}

fn small_name(i: u64) -> String {
    format!("obj{i:08}")
}

async fn small_objects(os: &Os, args: &ObjectArgs) -> anyhow::Result<SmallReport> {
    os.create_container(SMALL_CONTAINER).await?;
    let size = args.object_size;
    let body = Bytes::from(pattern(size as usize, 0x5EED));
    let duration = Duration::from_secs_f64(args.seconds);
    let timeout = load::REQUEST_TIMEOUT;
    let base = os.url(SMALL_CONTAINER, None);

    eprintln!("  PUT of {} objects of {size} bytes, concurrency {} …", args.objects, args.concurrency);
    let put: Request = {
        let (base, token) = (base.clone(), os.token.clone());
        Arc::new(move |client: reqwest::Client, i: u64| {
            let req = client
                .put(format!("{base}/{}", small_name(i)))
                .header("X-Auth-Token", &token)
                .header("Content-Type", "application/octet-stream")
                .body(body.clone());
            Box::pin(async move { check_answer(req.send().await, 201, None).await }) as RequestFuture
        })
    };
    let (put, puts_started) = closed_loop(os, args.concurrency, args.objects, duration, timeout, put).await?;
    let counts = os.container_counts(SMALL_CONTAINER).await?;

    eprintln!("  GET of those {puts_started} objects, concurrency {} …", args.concurrency);
    let get: Request = {
        let (base, token) = (base.clone(), os.token.clone());
        Arc::new(move |client: reqwest::Client, i: u64| {
            let req = client.get(format!("{base}/{}", small_name(i))).header("X-Auth-Token", &token);
            Box::pin(async move { check_answer(req.send().await, 200, Some(size)).await }) as RequestFuture
        })
    };
    let (get, _) = closed_loop(os, args.concurrency, puts_started, duration, timeout, get).await?;
    Ok(SmallReport { put, get, counts, puts_started })
}

fn print_small(args: &ObjectArgs, s: &SmallReport, cpus: usize) -> bool {
    println!();
    println!(
        "Small objects: {} objects of {} bytes PUT into one container, then each GET once; concurrency {}, \
         closed loop, at most {} s per phase",
        args.objects, args.object_size, args.concurrency, args.seconds
    );
    println!(
        "  container after the PUTs: {} objects, {} bytes ({} PUTs started)",
        s.counts.0, s.counts.1, s.puts_started
    );
    println!();
    let header = format!("{:<44} {:>4} {}", "phase", "conc", report::phase_header());
    println!("{header}");
    println!("{}", "-".repeat(header.len()));
    let kib = args.object_size as f64 / 1024.0;
    let rows = [
        (format!("PUT {kib:.0} KiB object  PUT …/{SMALL_CONTAINER}/objN"), &s.put),
        (format!("GET {kib:.0} KiB object  GET …/{SMALL_CONTAINER}/objN"), &s.get),
    ];
    for (label, r) in &rows {
        println!("{label:<44} {:>4} {}", r.concurrency, report::phase_columns(r));
    }
    println!();
    report::print_phase_legend(cpus);
    for (label, r) in &rows {
        report::print_phase_note(label.split("  ").next().unwrap_or(""), r);
        report::print_phase_errors(label.split("  ").next().unwrap_or(""), r);
    }
    let failed = s.put.error_count() > 0 || s.get.error_count() > 0 || s.get.ok() < s.puts_started;
    let expected_bytes = s.put.ok() * args.object_size;
    if s.counts.0 != s.put.ok() || s.counts.1 != expected_bytes {
        println!(
            "  CHECK FAILED: the container lists {} objects / {} bytes after {} successful PUTs ({expected_bytes} bytes)",
            s.counts.0,
            s.counts.1,
            s.put.ok()
        );
        return true;
    }
    failed
}

// ---- 2. listings ----

/// The name of listing object `i`: `dir{i%100}/sub{(i/100)%10}/obj{i/1000}`; 100,000 names fill
/// dir00..dir99 × sub0..sub9 × obj00..obj99.
fn listing_name(i: u64) -> String {
    format!("dir{:02}/sub{}/obj{:02}", i % 100, (i / 100) % 10, i / 1000)
}

struct ListQuery {
    label: &'static str,
    query: &'static str,
    prefix: &'static str,
    delimiter: Option<char>,
    limit: usize,
}

const LIST_QUERIES: [ListQuery; 4] = [
    ListQuery {
        label: "full page",
        query: "?format=json&limit=10000",
        prefix: "",
        delimiter: None,
        limit: FULL_PAGE,
    },
    ListQuery {
        label: "prefix + delimiter",
        query: "?format=json&prefix=dir42/&delimiter=/",
        prefix: "dir42/",
        delimiter: Some('/'),
        limit: FULL_PAGE,
    },
    ListQuery {
        label: "delimiter, top level",
        query: "?format=json&delimiter=/",
        prefix: "",
        delimiter: Some('/'),
        limit: FULL_PAGE,
    },
    ListQuery {
        label: "prefix",
        query: "?format=json&prefix=dir42/sub3/",
        prefix: "dir42/sub3/",
        delimiter: None,
        limit: FULL_PAGE,
    },
];

/// What swift lists for `names` (sorted): (objects, subdirs) of the first page.
fn expected_listing(names: &[String], q: &ListQuery) -> (usize, usize) {
    let mut entries: BTreeSet<(String, bool)> = BTreeSet::new();
    for n in names.iter().filter(|n| n.starts_with(q.prefix)) {
        let rest = &n[q.prefix.len()..];
        match q.delimiter.and_then(|d| rest.find(d).map(|p| (d, p))) {
            Some((d, p)) => entries.insert((n[..q.prefix.len() + p + d.len_utf8()].to_string(), true)),
            None => entries.insert((n.clone(), false)),
        };
    }
    let page: Vec<bool> = entries.into_iter().take(q.limit).map(|(_, dir)| dir).collect();
    let dirs = page.iter().filter(|d| **d).count();
    (page.len() - dirs, dirs)
}

struct ListRow {
    label: &'static str,
    query: &'static str,
    /// Objects and subdirs in the answer, and what was expected.
    got: (usize, usize),
    want: (usize, usize),
    bytes: usize,
    /// The untimed first request.
    first: Duration,
    result: PhaseResult,
}

struct ListingReport {
    load: PhaseResult,
    counts: (u64, u64),
    rows: Vec<ListRow>,
}

async fn listing(os: &Os, args: &ObjectArgs) -> anyhow::Result<ListingReport> {
    os.create_container(LIST_CONTAINER).await?;
    let n = args.listing_objects;
    eprintln!("  loading {n} empty objects into {LIST_CONTAINER}, concurrency {} …", args.concurrency);
    let base = os.url(LIST_CONTAINER, None);
    let put: Request = {
        let (base, token) = (base.clone(), os.token.clone());
        Arc::new(move |client: reqwest::Client, i: u64| {
            let req = client
                .put(format!("{base}/{}", listing_name(i)))
                .header("X-Auth-Token", &token)
                .header("Content-Type", "application/octet-stream")
                .body(Bytes::new());
            Box::pin(async move { check_answer(req.send().await, 201, None).await }) as RequestFuture
        })
    };
    // No time limit on the load: every listing below needs all of it.
    let (load, _) =
        closed_loop(os, args.concurrency, n, Duration::from_secs(24 * 3600), load::REQUEST_TIMEOUT, put)
            .await?;
    if load.error_count() > 0 {
        bail!(
            "loading the listing container: {} PUTs failed ({:?}); first: {}",
            load.error_count(),
            load.errors,
            load.error_sample.as_deref().unwrap_or("?")
        );
    }
    let counts = os.container_counts(LIST_CONTAINER).await?;
    eprintln!("    {n} objects in {:.1} s ({} PUT/s)", load.elapsed.as_secs_f64(), fmt_rate(load.rate()));

    let mut names: Vec<String> = (0..n).map(listing_name).collect();
    names.sort_unstable();
    let timeout = Duration::from_secs(args.transfer_timeout);
    let mut rows = Vec::new();
    for q in &LIST_QUERIES {
        eprintln!("  GET …/{LIST_CONTAINER}{}: {} requests …", q.query, args.listing_requests);
        let url = format!("{base}{}", q.query);
        // One untimed request: what the answer holds (checked), and the first one's time.
        let t = Instant::now();
        let r = os.setup.get(&url).header("X-Auth-Token", &os.token).send().await?;
        let status = r.status();
        let body = r.bytes().await?;
        let first = t.elapsed();
        if status.as_u16() != 200 {
            bail!("listing {}: HTTP {status}: {}", q.query, String::from_utf8_lossy(&body));
        }
        let entries: Value =
            serde_json::from_slice(&body).with_context(|| format!("listing {}: not JSON", q.query))?;
        let entries = entries.as_array().with_context(|| format!("listing {}: not a JSON array", q.query))?;
        let dirs = entries.iter().filter(|e| e.get("subdir").is_some()).count();
        let got = (entries.len() - dirs, dirs);
        let want = expected_listing(&names, q);
        let len = body.len() as u64;
        let request: Request = {
            let (url, token) = (url.clone(), os.token.clone());
            Arc::new(move |client: reqwest::Client, _| {
                let req = client.get(&url).header("X-Auth-Token", &token);
                Box::pin(async move { check_answer(req.send().await, 200, Some(len)).await }) as RequestFuture
            })
        };
        let (result, _) = closed_loop(
            os,
            args.listing_concurrency,
            args.listing_requests,
            Duration::from_secs_f64(args.listing_seconds),
            timeout,
            request,
        )
        .await?;
        rows.push(ListRow { label: q.label, query: q.query, got, want, bytes: body.len(), first, result });
    }
    Ok(ListingReport { load, counts, rows })
}

fn print_listing(args: &ObjectArgs, l: &ListingReport, cpus: usize) -> bool {
    let n = args.listing_objects;
    println!();
    println!(
        "Container listing: {n} empty objects named dir{{00..99}}/sub{{0..9}}/obj{{NN}} loaded by {} workers in {:.1} s \
         ({} PUT/s, p50 {}, p99 {}); container HEAD: {} objects",
        args.concurrency,
        l.load.elapsed.as_secs_f64(),
        fmt_rate(l.load.rate()),
        fmt_dur(l.load.percentile(50.0)),
        fmt_dur(l.load.percentile(99.0)),
        l.counts.0
    );
    println!(
        "  each query: one untimed request (checked: entries as swift lists them), then {} timed requests, \
         concurrency {}, at most {} s",
        args.listing_requests, args.listing_concurrency, args.listing_seconds
    );
    println!();
    let header = format!(
        "{:<60} {:>7} {:>6} {:>9} {:>9} {}",
        "GET …/bench-list?…",
        "objects",
        "dirs",
        "KiB",
        "first",
        report::phase_header()
    );
    println!("{header}");
    println!("{}", "-".repeat(header.len()));
    for r in &l.rows {
        println!(
            "{:<60} {:>7} {:>6} {:>9.1} {:>9} {}",
            format!("{:<21} {}", r.label, r.query),
            r.got.0,
            r.got.1,
            r.bytes as f64 / 1024.0,
            fmt_dur(Some(r.first)),
            report::phase_columns(&r.result)
        );
    }
    println!();
    println!("  objects / dirs: entries of the answer (JSON objects and `subdir` entries); KiB: its size; first: the untimed first request.");
    report::print_phase_legend(cpus);
    let mut failed = l.counts.0 != n;
    if failed {
        println!("  CHECK FAILED: the container lists {} objects after {n} PUTs", l.counts.0);
    }
    for r in &l.rows {
        report::print_phase_note(r.label, &r.result);
        report::print_phase_errors(r.label, &r.result);
        failed |= r.result.error_count() > 0;
        if r.got != r.want {
            println!(
                "  CHECK FAILED: {}: {} objects and {} subdirs, swift lists {} and {}",
                r.query, r.got.0, r.got.1, r.want.0, r.want.1
            );
            failed = true;
        }
    }
    failed
}

// ---- 3. the big object ----

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    BenchUpload,
    BenchDownload,
    DdWrite,
    CurlUpload,
    CurlDownload,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::BenchUpload => "upload    stratus-bench (reqwest, streamed)",
            Kind::BenchDownload => "download  stratus-bench (streamed, discarded)",
            Kind::DdWrite => "write     dd bs=1M conv=fsync, same disk",
            Kind::CurlUpload => "upload    curl -T dd's file",
            Kind::CurlDownload => "download  curl -o /dev/null",
        }
    }
}

struct Transfer {
    kind: Kind,
    bytes: u64,
    elapsed: Duration,
    /// Uploads by the bench: when the body stream handed over its last chunk.
    last_byte_sent: Option<Duration>,
    cpu: CpuUse,
    rss: Option<RssUse>,
    check: String,
    ok: bool,
}

impl Transfer {
    fn mb_per_s(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

struct BigReport {
    rows: Vec<Transfer>,
    /// The server's VmRSS and VmHWM before the first transfer and after the last.
    rss_before: Option<u64>,
    hwm_before: Option<u64>,
    rss_after: Option<u64>,
    hwm_after: Option<u64>,
}

async fn big_object(os: &Os, args: &ObjectArgs) -> anyhow::Result<BigReport> {
    os.create_container(BIG_CONTAINER).await?;
    let size = args.big_mib << 20;
    let timeout = Duration::from_secs(args.transfer_timeout);
    let transfer = load::client_with_timeout(timeout)?;
    let block = Bytes::from(pattern(BLOCK, 0x9E37_79B9_7F4A_7C15));
    // The md5 of the body (the block repeated), computed before and outside any timing, so that
    // the client does not hash while it sends.
    let md5 = {
        let block = block.clone();
        tokio::task::spawn_blocking(move || md5_of_repeated(&block, size)).await?
    };
    let give_up = timeout + Duration::from_secs(5);
    let rss_before = crate::server::rss_bytes(os.pid);
    let hwm_before = proc_status_bytes(os.pid, "VmHWM:");
    let mut rows = Vec::new();

    // Upload: 1 MiB chunks, all the same block; Content-Length set.
    eprintln!("  upload of {} MiB by this bench …", args.big_mib);
    let url = os.url(BIG_CONTAINER, Some("big"));
    let last_sent: Arc<Mutex<Option<Instant>>> = Arc::default();
    let stream = {
        let last_sent = last_sent.clone();
        futures_util::stream::unfold(0u64, move |sent| {
            let (block, last_sent) = (block.clone(), last_sent.clone());
            async move {
                if sent >= size {
                    return None;
                }
                let chunk = block.slice(..(size - sent).min(block.len() as u64) as usize);
                let n = chunk.len() as u64;
                if sent + n == size {
                    *last_sent.lock().expect("not poisoned") = Some(Instant::now());
                }
                Some((Ok::<Bytes, std::io::Error>(chunk), sent + n))
            }
        })
    };
    let (sampler, cpu) = os.meters(give_up);
    let t0 = Instant::now();
    let resp = transfer
        .put(&url)
        .header("X-Auth-Token", &os.token)
        .header("Content-Type", "application/octet-stream")
        .header("Content-Length", size)
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await;
    let elapsed = t0.elapsed();
    let (cpu, rss) = (cpu.read(), sampler.finish().await?);
    let resp = resp.map_err(|e| anyhow::anyhow!("uploading: {}", load::transport_kind(&e)))?;
    let status = resp.status();
    let etag = header(&resp, "etag");
    let text = resp.text().await.unwrap_or_default();
    if status.as_u16() != 201 {
        bail!("uploading: HTTP {status}: {text}");
    }
    let last_byte_sent = last_sent.lock().expect("not poisoned").map(|t| t.saturating_duration_since(t0));
    let ok = etag.as_deref() == Some(md5.as_str());
    let check = if ok {
        "201, ETag = md5 of the body sent".to_string()
    } else {
        format!("MISMATCH: ETag {}, sent md5 {md5}", etag.as_deref().unwrap_or("none"))
    };
    rows.push(Transfer {
        kind: Kind::BenchUpload,
        bytes: size,
        elapsed,
        last_byte_sent,
        cpu,
        rss: Some(rss),
        check,
        ok,
    });

    // Download: streamed, counted, discarded.
    eprintln!("  download of it by this bench …");
    let (sampler, cpu) = os.meters(give_up);
    let t0 = Instant::now();
    let mut got = 0u64;
    let received = async {
        let mut resp = transfer.get(&url).header("X-Auth-Token", &os.token).send().await?;
        let status = resp.status();
        let etag = header(&resp, "etag");
        if status.as_u16() != 200 {
            return Ok((status, etag, resp.text().await.unwrap_or_default()));
        }
        while let Some(chunk) = resp.chunk().await? {
            got += chunk.len() as u64;
        }
        Ok::<_, reqwest::Error>((status, etag, String::new()))
    }
    .await;
    let elapsed = t0.elapsed();
    let (cpu, rss) = (cpu.read(), sampler.finish().await?);
    let (status, etag, text) =
        received.map_err(|e| anyhow::anyhow!("downloading: {}", load::transport_kind(&e)))?;
    if status.as_u16() != 200 {
        bail!("downloading: HTTP {status}: {text}");
    }
    let ok = got == size && etag.as_deref() == Some(md5.as_str());
    let check = if ok {
        "size ok, ETag = md5 sent (not hashed here)".to_string()
    } else {
        format!("MISMATCH: {got} bytes, ETag {}", etag.as_deref().unwrap_or("none"))
    };
    rows.push(Transfer {
        kind: Kind::BenchDownload,
        bytes: got,
        elapsed,
        last_byte_sent: None,
        cpu,
        rss: Some(rss),
        check,
        ok,
    });
    let rss_after = crate::server::rss_bytes(os.pid);
    let hwm_after = proc_status_bytes(os.pid, "VmHWM:");

    // References: dd writing to the data dir's disk, curl uploading dd's file, curl downloading
    // the bench's object.
    eprintln!("  dd and curl …");
    let file = os.data_dir.join("bench-dd.bin");
    let of = format!("of={}", file.display());
    let count = format!("count={}", args.big_mib);
    let cpu = CpuMeter::start(os.pid);
    let dd = run_dd(&["if=/dev/zero", &of, "bs=1M", &count, "conv=fsync"], timeout).await;
    let cpu = cpu.read();
    let (bytes, elapsed) = match dd {
        Ok(r) => r,
        Err(e) => {
            tokio::fs::remove_file(&file).await.ok();
            return Err(e);
        }
    };
    let ok = bytes == size;
    let check =
        if ok { "dd's own figures".to_string() } else { format!("MISMATCH: dd copied {bytes} bytes") };
    rows.push(Transfer {
        kind: Kind::DdWrite,
        bytes,
        elapsed,
        last_byte_sent: None,
        cpu,
        rss: None,
        check,
        ok,
    });

    let token_header = format!("X-Auth-Token: {}", os.token);
    let curl_url = os.url(BIG_CONTAINER, Some("curl-upload"));
    let file_arg = file.display().to_string();
    let (sampler, cpu) = os.meters(give_up);
    let up = curl(
        &args.curl,
        timeout,
        &[
            "-T",
            &file_arg,
            "-H",
            &token_header,
            "-H",
            "Content-Type: application/octet-stream",
            // As reqwest and this bench: no 100-continue round trip.
            "-H",
            "Expect:",
            &curl_url,
        ],
    )
    .await;
    let (cpu, rss) = (cpu.read(), sampler.finish().await?);
    tokio::fs::remove_file(&file).await.ok();
    let up = up?;
    let ok = up.code == 201 && up.uploaded == size;
    let check = if ok {
        "201, size ok".to_string()
    } else {
        format!("MISMATCH: HTTP {}, {} bytes sent", up.code, up.uploaded)
    };
    rows.push(Transfer {
        kind: Kind::CurlUpload,
        bytes: up.uploaded,
        elapsed: up.total,
        last_byte_sent: None,
        cpu,
        rss: Some(rss),
        check,
        ok,
    });
    if up.code == 201 {
        os.delete_object(BIG_CONTAINER, "curl-upload").await?;
    }

    let (sampler, cpu) = os.meters(give_up);
    let down = curl(&args.curl, timeout, &["-H", &token_header, &url]).await;
    let (cpu, rss) = (cpu.read(), sampler.finish().await?);
    let down = down?;
    let ok = down.code == 200 && down.downloaded == size;
    let check = if ok {
        format!("200, size ok; curl's speed_download {:.1} MB/s", down.speed / 1e6)
    } else {
        format!("MISMATCH: HTTP {}, {} bytes", down.code, down.downloaded)
    };
    rows.push(Transfer {
        kind: Kind::CurlDownload,
        bytes: down.downloaded,
        elapsed: down.total,
        last_byte_sent: None,
        cpu,
        rss: Some(rss),
        check,
        ok,
    });
    os.delete_object(BIG_CONTAINER, "big").await?;
    Ok(BigReport { rows, rss_before, hwm_before, rss_after, hwm_after })
}

fn header(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers().get(name).and_then(|v| v.to_str().ok()).map(|v| v.trim_matches('"').to_string())
}

fn print_big(args: &ObjectArgs, b: &BigReport, cpus: usize) -> (bool, bool) {
    let size = args.big_mib << 20;
    println!();
    println!(
        "Big object: {} MiB ({size} bytes) over 127.0.0.1; MB = 10^6 bytes; the server's VmRSS sampled every {} ms",
        args.big_mib,
        load::RSS_SAMPLE_EVERY.as_millis()
    );
    println!();
    let header = format!(
        "{:<46} {:>8} {:>8} {:>8} {:>12} {:>10} {:>10} {:>10} {:>10}  {}",
        "transfer",
        "MB/s",
        "time",
        "srv CPU",
        "CPU s/b/o %",
        "RSS before",
        "peak RSS",
        "RSS after",
        "growth",
        "check"
    );
    println!("{header}");
    println!("{}", "-".repeat(header.len() + 20));
    for t in &b.rows {
        let (before, peak, after, growth) = match &t.rss {
            Some(r) => (fmt_rss(r.first), fmt_rss(r.peak), fmt_rss(r.last), fmt_growth(r.growth())),
            None => ("-".into(), "-".into(), "-".into(), "-".into()),
        };
        println!(
            "{:<46} {:>8.1} {:>8} {:>8} {:>12} {:>10} {:>10} {:>10} {:>10}  {}",
            t.kind.label(),
            t.mb_per_s(),
            secs(Some(t.elapsed)),
            secs(t.cpu.server),
            report::cpu_split(&t.cpu, t.elapsed),
            before,
            peak,
            after,
            growth,
            t.check
        );
    }
    for t in &b.rows {
        if let Some(last) = t.last_byte_sent {
            println!(
                "  upload: last byte handed to the connection after {:.2} s, answer {:.2} s later \
                 (the server's fsync of the data, rename, listing)",
                last.as_secs_f64(),
                t.elapsed.saturating_sub(last).as_secs_f64()
            );
        }
    }
    println!();
    println!("  time: from sending the request to the last byte of the answer (bench), curl's time_total, dd's own figure.");
    println!(
        "  srv CPU: server CPU time (user+sys) during the transfer. CPU s/b/o %: server / this bench / everything \
         else (curl, dd, kernel threads), 100 = one core of {cpus}."
    );
    println!("  RSS before / after: the server's VmRSS when the transfer started and ended; peak: highest sample; growth = peak - before.");
    println!(
        "  server VmRSS before the first transfer {}, after the bench's download {}; VmHWM (high-water mark since start) {} → {}",
        fmt_rss(b.rss_before),
        fmt_rss(b.rss_after),
        fmt_rss(b.hwm_before),
        fmt_rss(b.hwm_after)
    );

    let failed = b.rows.iter().any(|t| !t.ok);
    let limit = args.rss_limit_mb * 1_000_000;
    let worst = b
        .rows
        .iter()
        .filter_map(|t| t.rss.as_ref().and_then(RssUse::growth).map(|g| (g, t.kind)))
        .max_by_key(|(g, _)| *g);
    let rss_fail = worst.is_some_and(|(g, _)| g >= limit as i64);
    println!();
    match worst {
        Some((g, kind)) => println!(
            "streaming memory (server RSS growth during every transfer through stratus < {} MB = {:.1} MiB): {} — \
             largest growth {} ({})",
            args.rss_limit_mb,
            mib(limit),
            if rss_fail { "FAIL" } else { "PASS" },
            fmt_growth(Some(g)),
            kind.label().split_whitespace().collect::<Vec<_>>().join(" ")
        ),
        None => println!("streaming memory: not measured"),
    }
    let rate = |k: Kind| b.rows.iter().find(|t| t.kind == k).map(Transfer::mb_per_s);
    let pct = |a: Option<f64>, b: Option<f64>| match a.zip(b) {
        Some((a, b)) if b > 0.0 => format!("{:.0}%", 100.0 * a / b),
        _ => "?".into(),
    };
    let mbs = |v: Option<f64>| v.map(|v| format!("{v:.1} MB/s")).unwrap_or_else(|| "?".into());
    println!(
        "  upload    stratus-bench {}: {} of dd's fsynced write ({}), {} of curl's upload ({})",
        mbs(rate(Kind::BenchUpload)),
        pct(rate(Kind::BenchUpload), rate(Kind::DdWrite)),
        mbs(rate(Kind::DdWrite)),
        pct(rate(Kind::BenchUpload), rate(Kind::CurlUpload)),
        mbs(rate(Kind::CurlUpload)),
    );
    println!(
        "  download  stratus-bench {}: {} of curl's download ({})",
        mbs(rate(Kind::BenchDownload)),
        pct(rate(Kind::BenchDownload), rate(Kind::CurlDownload)),
        mbs(rate(Kind::CurlDownload)),
    );
    for t in b.rows.iter().filter(|t| !t.ok) {
        println!("  CHECK FAILED: {}: {}", t.kind.label(), t.check);
    }
    (failed, rss_fail)
}

// ---- helpers ----

/// `len` pseudo-random bytes (xorshift64* from `seed`).
fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        v.extend_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    v.truncate(len);
    v
}

/// md5 (hex) of `block` repeated up to `size` bytes (the last copy cut short).
fn md5_of_repeated(block: &[u8], size: u64) -> String {
    let mut md5 = Md5::new();
    let mut left = size;
    while left > 0 {
        let n = left.min(block.len() as u64) as usize;
        md5.update(&block[..n]);
        left -= n as u64;
    }
    md5.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// A `kB` line of `/proc/PID/status` (`VmRSS:`, `VmHWM:`) in bytes.
fn proc_status_bytes(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix(field))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

fn fmt_growth(g: Option<i64>) -> String {
    match g {
        Some(g) => format!("{}{:.1} MiB", if g < 0 { "-" } else { "+" }, mib(g.unsigned_abs())),
        None => "?".into(),
    }
}

fn secs(d: Option<Duration>) -> String {
    d.map(|d| format!("{:.2} s", d.as_secs_f64())).unwrap_or_else(|| "?".into())
}

/// Runs dd; the bytes it copied and the seconds it reports (its wall time if it does not say).
async fn run_dd(args: &[&str], timeout: Duration) -> anyhow::Result<(u64, Duration)> {
    let t0 = Instant::now();
    let out = tokio::time::timeout(
        timeout,
        tokio::process::Command::new("dd")
            .args(args)
            .env("LC_ALL", "C")
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .map_err(|_| anyhow::anyhow!("dd {} took longer than {timeout:?}", args.join(" ")))?
    .context("running dd")?;
    let wall = t0.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        bail!("dd {}: {}: {}", args.join(" "), out.status, stderr.trim());
    }
    parse_dd(&stderr)
        .map(|(bytes, secs)| (bytes, secs.unwrap_or(wall)))
        .with_context(|| format!("dd {}: unexpected output: {}", args.join(" "), stderr.trim()))
}

/// From dd's last line (`N bytes (…) copied, S s, R MB/s`): N, and S when it is there.
fn parse_dd(stderr: &str) -> Option<(u64, Option<Duration>)> {
    let line = stderr.lines().rev().find(|l| l.contains(" bytes"))?;
    let bytes = line.split_whitespace().next()?.parse().ok()?;
    let secs = line
        .split(", ")
        .find_map(|part| part.trim().strip_suffix(" s")?.parse::<f64>().ok())
        .filter(|s| *s > 0.0)
        .map(Duration::from_secs_f64);
    Some((bytes, secs))
}

struct CurlOut {
    code: u16,
    uploaded: u64,
    downloaded: u64,
    total: Duration,
    /// curl's own `speed_download`, bytes per second.
    speed: f64,
}

fn parse_curl(text: &str) -> Option<CurlOut> {
    let f: Vec<&str> = text.split_whitespace().collect();
    let [code, up, down, total, speed] = f.as_slice() else { return None };
    Some(CurlOut {
        code: code.parse().ok()?,
        uploaded: up.parse().ok()?,
        downloaded: down.parse().ok()?,
        total: Duration::from_secs_f64(total.parse::<f64>().ok()?),
        speed: speed.parse().ok()?,
    })
}

/// Runs curl quietly, discarding the response body.
async fn curl(curl: &Path, timeout: Duration, args: &[&str]) -> anyhow::Result<CurlOut> {
    let max_time = timeout.as_secs().to_string();
    let out = tokio::time::timeout(
        timeout + Duration::from_secs(10),
        tokio::process::Command::new(curl)
            .args(["-sS", "-o", "/dev/null", "--noproxy", "*", "--max-time", &max_time, "-w"])
            .arg("%{http_code} %{size_upload} %{size_download} %{time_total} %{speed_download}")
            .args(args)
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .map_err(|_| anyhow::anyhow!("curl did not finish"))?
    .with_context(|| format!("running {}", curl.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!("curl: {}: {}", out.status, String::from_utf8_lossy(&out.stderr).trim());
    }
    parse_curl(&text).with_context(|| format!("curl: unexpected -w output: {text}"))
}

/// `curl --version`'s first words.
async fn tool_version(curl: &Path) -> anyhow::Result<String> {
    let out = tokio::process::Command::new(curl)
        .arg("--version")
        .kill_on_drop(true)
        .output()
        .await
        .with_context(|| format!("running {} (install curl, or pass --curl PATH)", curl.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text.lines().next().unwrap_or("curl").split(" (").next().unwrap_or("curl").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_collapse_as_intended() {
        assert_eq!(listing_name(0), "dir00/sub0/obj00");
        assert_eq!(listing_name(99_999), "dir99/sub9/obj99");
        let mut names: Vec<String> = (0..100_000).map(listing_name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 100_000);
        let want: Vec<(usize, usize)> = LIST_QUERIES.iter().map(|q| expected_listing(&names, q)).collect();
        assert_eq!(want, vec![(10_000, 0), (0, 10), (0, 100), (100, 0)]);
    }

    #[test]
    fn parses_curl_and_dd() {
        let c = parse_curl("200 0 1073741824 0.5 2147483648.000\n").unwrap();
        assert_eq!((c.code, c.uploaded, c.downloaded), (200, 0, 1 << 30));
        assert_eq!(c.total, Duration::from_millis(500));
        assert!(parse_curl("200 1 2").is_none());
        let dd = "1024+0 records out\n1073741824 bytes (1.1 GB, 1.0 GiB) copied, 2.5 s, 430 MB/s\n";
        assert_eq!(parse_dd(dd), Some((1 << 30, Some(Duration::from_millis(2500)))));
    }

    #[test]
    fn md5_and_catalog() {
        assert_eq!(md5_of_repeated(b"hello world", 11), "5eb63bbbe01eeed093cb22bb8f5acdc3");
        assert_eq!(md5_of_repeated(b"ab", 3), md5_of_repeated(b"aba", 3));
        assert_eq!(pattern(100, 7).len(), 100);
        let catalog = serde_json::json!([
            {"type": "identity", "endpoints": [{"interface": "public", "url": "http://x/v3"}]},
            {"type": "object-store", "endpoints": [
                {"interface": "internal", "url": "http://i/v1/AUTH_p"},
                {"interface": "public", "url": "http://p/v1/AUTH_p"}]},
        ]);
        assert_eq!(catalog_url(&catalog, "object-store").as_deref(), Some("http://p/v1/AUTH_p"));
        assert_eq!(catalog_url(&catalog, "volume"), None);
    }
}
