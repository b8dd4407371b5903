//! `stratus-bench identity`: the identity API (tokens, projects) of a release `stratus up`.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;
use serde_json::json;

use crate::load::{self, Limits, Op, PhaseResult};
use crate::report::{self, fmt_dur, fmt_rate, fmt_rss, mib};
use crate::server;
use crate::{
    binary_version, expect_json, find_stratus, issue_body, issue_token, start, stopped, Ready, ServerArgs,
};

#[derive(clap::Args)]
pub struct IdentityArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// bcrypt cost of the instance under test (keystone's and stratus's default is 12).
    #[arg(long, default_value_t = 12, value_parser = clap::value_parser!(u32).range(4..=31))]
    hash_rounds: u32,
    /// bcrypt cost of the second instance, whose token issue approximates the cost of issuing
    /// a token outside the password hash. Equal to --hash-rounds: no second instance.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(4..=31))]
    cheap_hash_rounds: u32,
    /// Length of each phase in seconds (requests in flight at the end are waited for).
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Most requests of each phase, across all workers: a phase ends at whichever comes first.
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..))]
    max_requests: u64,
    /// Concurrency levels (closed-loop workers, each with its own keep-alive connection).
    #[arg(long, value_delimiter = ',', default_values_t = vec![1usize, 16])]
    concurrency: Vec<usize>,
    /// Which phases to run, in this order: validate (one token, again and again: the server's
    /// cache answers), validate-new (each token validated for the first time), issue, list.
    #[arg(long, value_delimiter = ',', default_values_t = vec![PhaseKind::Validate, PhaseKind::ValidateNew, PhaseKind::Issue, PhaseKind::List])]
    phases: Vec<PhaseKind>,
    /// Tokens validated by each validate-new run (one run per concurrency level): each is
    /// issued beforehand (rescoped from a token, no bcrypt) and validated once.
    #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    new_tokens: u64,
    /// Projects to create before listing them.
    #[arg(long, default_value_t = 100)]
    projects: usize,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum PhaseKind {
    Validate,
    ValidateNew,
    Issue,
    List,
}

impl PhaseKind {
    fn label(self) -> &'static str {
        match self {
            PhaseKind::Validate => "validate token      GET /v3/auth/tokens",
            PhaseKind::ValidateNew => "validate new token  GET /v3/auth/tokens",
            PhaseKind::Issue => "issue token         POST /v3/auth/tokens",
            PhaseKind::List => "list projects       GET /v3/projects",
        }
    }
}

impl std::fmt::Display for PhaseKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use clap::ValueEnum;
        f.write_str(self.to_possible_value().expect("no skipped variants").get_name())
    }
}

/// Reference figures of OpenStack keystone on this kind of machine, from the issue (not measured
/// here): concurrency 16.
mod keystone {
    pub const VALIDATE_RPS: f64 = 130.0;
    pub const VALIDATE_P50_MS: f64 = 108.0;
    pub const LIST_PROJECTS_RPS: f64 = 93.0;
    pub const ISSUE_RPS: f64 = 4.0;
    pub const RSS_MIB: f64 = 280.0;
    pub const FIRST_TOKEN_S: f64 = 7.0;
}

/// The validation target: at least this many times keystone's rate, with a p50 below 1 ms.
const TARGET_RATIO: f64 = 100.0;
const TARGET_P50: Duration = Duration::from_millis(1);

/// Creates the projects to list; returns how many projects the admin then lists.
async fn seed_projects(client: &reqwest::Client, base: &str, token: &str, n: usize) -> anyhow::Result<usize> {
    for i in 0..n {
        let body = json!({"project": {"name": format!("bench-{i:04}"), "domain_id": "default",
                                      "description": "created by stratus-bench"}});
        let r = client
            .post(format!("{base}/v3/projects"))
            .header("X-Auth-Token", token)
            .json(&body)
            .send()
            .await?;
        expect_json(r, 201, "creating a project").await?;
    }
    let r = client.get(format!("{base}/v3/projects")).header("X-Auth-Token", token).send().await?;
    let list = expect_json(r, 200, "listing projects").await?;
    Ok(list["projects"].as_array().map(Vec::len).unwrap_or(0))
}

/// `n` new project-scoped tokens, rescoped from `token` (the token method: no bcrypt).
async fn rescoped_tokens(base: &str, token: &str, n: usize) -> anyhow::Result<Vec<String>> {
    let body = Arc::new(json!({"auth": {
        "identity": {"methods": ["token"], "token": {"id": token}},
        "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}},
    }}));
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (base, body, next) = (base.to_string(), body.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let client = load::client()?;
            let mut out = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < n {
                let r = client.post(format!("{base}/v3/auth/tokens")).json(body.as_ref()).send().await?;
                let status = r.status();
                match r.headers().get("x-subject-token").and_then(|v| v.to_str().ok()) {
                    Some(t) if status.as_u16() == 201 => out.push(t.to_string()),
                    _ => bail!("rescoping a token: HTTP {status}: {}", r.text().await.unwrap_or_default()),
                }
            }
            anyhow::Ok(out)
        }));
    }
    let mut tokens = Vec::with_capacity(n);
    for t in tasks {
        tokens.extend(t.await??);
    }
    Ok(tokens)
}

struct Row {
    kind: PhaseKind,
    rounds: u32,
    result: PhaseResult,
}

struct Instance {
    rounds: u32,
    first_token: Duration,
    idle_rss: Option<u64>,
    exit: String,
}

async fn run_phases(
    ready: &Ready,
    phases: &[(PhaseKind, Op)],
    args: &IdentityArgs,
    rows: &mut Vec<Row>,
) -> anyhow::Result<()> {
    for (kind, op) in phases {
        let mut limits =
            Limits { duration: Duration::from_secs_f64(args.seconds), max_requests: args.max_requests };
        if *kind == PhaseKind::ValidateNew {
            // Each run takes its share of the tokens, so none is validated twice.
            limits.max_requests = limits.max_requests.min(args.new_tokens);
        }
        for &c in &args.concurrency {
            eprintln!("  {}, concurrency {c}, bcrypt {} …", kind.label(), ready.server.hash_rounds);
            let result = load::run_phase(&ready.server.base_url, op, c, limits, ready.server.pid).await?;
            if result.error_count() > 0 {
                eprintln!("    {} errors: {:?}", result.error_count(), result.errors);
            }
            rows.push(Row { kind: *kind, rounds: ready.server.hash_rounds, result });
        }
    }
    Ok(())
}

/// The benchmark; Ok(false) when some request failed.
pub async fn identity(args: IdentityArgs) -> anyhow::Result<u8> {
    if !(args.seconds > 0.0 && args.seconds <= 3600.0) {
        bail!("--seconds must be in (0, 3600]");
    }
    if args.concurrency.is_empty() || args.concurrency.iter().any(|&c| c == 0 || c > 1024) {
        bail!("--concurrency: levels from 1 to 1024");
    }
    let binary = find_stratus(args.server.stratus.clone())?;
    let version = binary_version(&binary);
    let date = report::utc_now_text();
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    eprintln!("stratus-bench identity: {} ({version}), {cpus} CPUs", binary.display());

    let mut rows = Vec::new();
    let mut instances = Vec::new();

    // The instance under test.
    eprintln!("starting stratus up (bcrypt {}) …", args.hash_rounds);
    let ready = start(&binary, args.hash_rounds, &args.server).await?;
    eprintln!("  first token after {:.0} ms", ready.first_token.as_secs_f64() * 1000.0);
    let base = ready.server.base_url.clone();
    let setup = load::client()?;
    let admin_token = issue_token(&setup, &base, &ready.password).await?;
    let subject_token = issue_token(&setup, &base, &ready.password).await?;
    eprintln!("  creating {} projects …", args.projects);
    let listed = seed_projects(&setup, &base, &admin_token, args.projects).await?;
    let check = setup
        .get(format!("{base}/v3/auth/tokens"))
        .header("X-Auth-Token", &admin_token)
        .header("X-Subject-Token", &subject_token)
        .send()
        .await?;
    let checked = expect_json(check, 200, "validating a token").await?;
    if checked["token"]["project"]["name"] != "admin" {
        bail!("validating a token: not the admin project's token: {checked}");
    }
    let mut phases = Vec::new();
    for kind in &args.phases {
        phases.push(match kind {
            PhaseKind::Validate => (
                PhaseKind::Validate,
                Op::Validate { auth_token: admin_token.clone(), subject_token: subject_token.clone() },
            ),
            PhaseKind::ValidateNew => {
                let n = args.new_tokens as usize * args.concurrency.len();
                eprintln!("  issuing {n} tokens (rescoped, no bcrypt) to validate once each …");
                let tokens = rescoped_tokens(&base, &admin_token, n).await?;
                let op = Op::ValidateEach {
                    auth_token: admin_token.clone(),
                    subjects: Arc::new(tokens),
                    next: Arc::new(AtomicUsize::new(0)),
                };
                (PhaseKind::ValidateNew, op)
            }
            PhaseKind::Issue => (PhaseKind::Issue, Op::Issue { body: Arc::new(issue_body(&ready.password)) }),
            PhaseKind::List => (PhaseKind::List, Op::ListProjects { auth_token: admin_token.clone() }),
        });
    }
    run_phases(&ready, &phases, &args, &mut rows).await?;
    let end_rss = server::rss_bytes(ready.server.pid);
    instances.push(Instance {
        rounds: ready.server.hash_rounds,
        first_token: ready.first_token,
        idle_rss: ready.idle_rss,
        exit: stopped(ready.server),
    });

    // The same token issue with a cheap hash: what issuing costs besides bcrypt.
    if args.cheap_hash_rounds != args.hash_rounds && args.phases.contains(&PhaseKind::Issue) {
        eprintln!("starting stratus up (bcrypt {}) …", args.cheap_hash_rounds);
        let cheap = start(&binary, args.cheap_hash_rounds, &args.server).await?;
        eprintln!("  first token after {:.0} ms", cheap.first_token.as_secs_f64() * 1000.0);
        let phases = [(PhaseKind::Issue, Op::Issue { body: Arc::new(issue_body(&cheap.password)) })];
        run_phases(&cheap, &phases, &args, &mut rows).await?;
        instances.push(Instance {
            rounds: cheap.server.hash_rounds,
            first_token: cheap.first_token,
            idle_rss: cheap.idle_rss,
            exit: stopped(cheap.server),
        });
    }

    print_report(&args, &binary, &version, &date, cpus, listed, &rows, &instances, end_rss);
    Ok(if rows.iter().all(|r| r.result.error_count() == 0) { 0 } else { 2 })
}

#[allow(clippy::too_many_arguments)]
fn print_report(
    args: &IdentityArgs,
    binary: &Path,
    version: &str,
    date: &str,
    cpus: usize,
    listed: usize,
    rows: &[Row],
    instances: &[Instance],
    end_rss: Option<u64>,
) {
    println!();
    println!("Stratus identity benchmark, {date}");
    println!(
        "  server: {} ({version}), `stratus up`, SQLite in a fresh temp dir, log level {}",
        binary.display(),
        args.server.server_log_level
    );
    println!(
        "  client: this process on the same {cpus}-CPU machine, HTTP/1.1 keep-alive over 127.0.0.1, one connection per worker"
    );
    println!(
        "  phases: {} s each (at most {} requests), closed loop; latency = send to last body byte",
        args.seconds, args.max_requests
    );
    println!("  project list: {listed} projects per response ({} created by the bench)", args.projects);
    println!();
    for i in instances {
        println!(
            "  bcrypt {:>2}: first token {:>8} after spawn, RSS idle after startup {}, {}",
            i.rounds,
            fmt_dur(Some(i.first_token)),
            fmt_rss(i.idle_rss),
            i.exit
        );
    }
    if let Some(first) = instances.first() {
        println!("  bcrypt {:>2}: RSS after all its phases {}", first.rounds, fmt_rss(end_rss));
    }
    println!();

    let header = format!("{:<40} {:>4} {:>6} {}", "phase", "conc", "bcrypt", report::phase_header());
    println!("{header}");
    println!("{}", "-".repeat(header.len()));
    for r in rows {
        println!(
            "{:<40} {:>4} {:>6} {}",
            r.kind.label(),
            r.result.concurrency,
            r.rounds,
            report::phase_columns(&r.result)
        );
    }
    println!();
    report::print_phase_legend(cpus);
    let what = |r: &Row| format!("{} (concurrency {}, bcrypt {})", r.kind, r.result.concurrency, r.rounds);
    for r in rows {
        report::print_phase_note(&what(r), &r.result);
    }
    for r in rows {
        report::print_phase_errors(&what(r), &r.result);
    }

    // Issue overhead beyond the password hash.
    let find = |kind: PhaseKind, rounds: u32, conc: usize| {
        rows.iter().find(|r| r.kind == kind && r.rounds == rounds && r.result.concurrency == conc)
    };
    if args.cheap_hash_rounds != args.hash_rounds {
        for &c in &args.concurrency {
            let Some(cheap) = find(PhaseKind::Issue, args.cheap_hash_rounds, c) else { continue };
            let cheap_p50 = cheap.result.percentile(50.0);
            println!(
                "  token issue overhead besides bcrypt ≈ p50 at bcrypt {} (concurrency {c}): {}",
                args.cheap_hash_rounds,
                fmt_dur(cheap_p50)
            );
            // p50(r) ≈ overhead + k·2^r: two costs give both terms (meaningful without queueing).
            let full_p50 =
                find(PhaseKind::Issue, args.hash_rounds, c).and_then(|r| r.result.percentile(50.0));
            if let (1, Some(lo), Some(hi)) = (c, cheap_p50, full_p50) {
                let (lo, hi) = (lo.as_secs_f64(), hi.as_secs_f64());
                let (wl, wh) = (2f64.powi(args.cheap_hash_rounds as i32), 2f64.powi(args.hash_rounds as i32));
                let k = (hi - lo) / (wh - wl);
                let overhead = lo - k * wl;
                println!(
                    "    fitting p50 = overhead + k·2^cost to bcrypt {} and {} at concurrency 1: overhead {:.3} ms, \
                     one bcrypt verify {:.3} ms at cost {} and {:.1} ms at cost {}",
                    args.cheap_hash_rounds,
                    args.hash_rounds,
                    overhead * 1000.0,
                    k * wl * 1000.0,
                    args.cheap_hash_rounds,
                    k * wh * 1000.0,
                    args.hash_rounds
                );
            }
        }
    }

    // The comparison with keystone, at concurrency 16 (the reference's level).
    let at16 = |kind: PhaseKind| find(kind, args.hash_rounds, 16);
    let peak_rss =
        rows.iter().filter(|r| r.rounds == args.hash_rounds).filter_map(|r| r.result.peak_rss).max();
    println!();
    println!(
        "keystone (reference figures from the issue for this machine kind, not measured here): validate {}/s @16 \
         (p50 {} ms), list projects {}/s, issue {}/s, {} MiB RSS, {} s to first token",
        keystone::VALIDATE_RPS,
        keystone::VALIDATE_P50_MS,
        keystone::LIST_PROJECTS_RPS,
        keystone::ISSUE_RPS,
        keystone::RSS_MIB,
        keystone::FIRST_TOKEN_S
    );
    let mut line = Vec::new();
    if let Some(v) = at16(PhaseKind::Validate) {
        line.push(format!(
            "validate {:.1}× ({}/s, p50 {})",
            v.result.rate() / keystone::VALIDATE_RPS,
            fmt_rate(v.result.rate()),
            fmt_dur(v.result.percentile(50.0))
        ));
    }
    if let Some(v) = at16(PhaseKind::ValidateNew) {
        line.push(format!(
            "validate new token {:.1}× ({}/s, p50 {})",
            v.result.rate() / keystone::VALIDATE_RPS,
            fmt_rate(v.result.rate()),
            fmt_dur(v.result.percentile(50.0))
        ));
    }
    if let Some(l) = at16(PhaseKind::List) {
        line.push(format!("list projects {:.1}×", l.result.rate() / keystone::LIST_PROJECTS_RPS));
    }
    if let Some(i) = at16(PhaseKind::Issue) {
        line.push(format!(
            "issue {:.1}× (bcrypt {})",
            i.result.rate() / keystone::ISSUE_RPS,
            args.hash_rounds
        ));
    }
    if let Some(rss) = peak_rss {
        line.push(format!("peak RSS {:.2}× ({:.1} MiB)", mib(rss) / keystone::RSS_MIB, mib(rss)));
    }
    if let Some(first) = instances.first() {
        line.push(format!(
            "first token {:.1}× sooner ({})",
            keystone::FIRST_TOKEN_S / first.first_token.as_secs_f64().max(1e-9),
            fmt_dur(Some(first.first_token))
        ));
    }
    if !line.is_empty() {
        println!("stratus vs keystone @16: {}", line.join(", "));
    }
    match at16(PhaseKind::Validate) {
        Some(v) => {
            let ratio = v.result.rate() / keystone::VALIDATE_RPS;
            let p50 = v.result.percentile(50.0);
            let met =
                ratio >= TARGET_RATIO && p50.is_some_and(|p| p < TARGET_P50) && v.result.error_count() == 0;
            println!(
                "validation target (≥{TARGET_RATIO}× keystone at concurrency 16, p50 < 1 ms, no errors): {} — {ratio:.1}×, p50 {}",
                if met { "MET" } else { "NOT MET" },
                fmt_dur(p50)
            );
        }
        None => println!("validation target: not measured (no validate phase at concurrency 16)"),
    }
}
