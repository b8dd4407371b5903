//! `stratus-bench`: measures a release `stratus` binary from the outside, over loopback HTTP.
//!
//! Each benchmark starts `stratus up` in a fresh temp data dir, loads one of its APIs, samples
//! the server's memory and CPU, stops it and prints a table:
//!
//! - `stratus-bench identity`: first token, token validation and issue, project list.
//! - `stratus-bench image`: 1 GiB upload and download (throughput, RSS while streaming) against
//!   `dd` and `curl` on the same machine, and image list.
//! - `stratus-bench compute`: the compute control plane with fake hosts: agents registering,
//!   servers booted and deleted, scheduler decision time, placement allocation candidates.
//! - `stratus-bench object`: object storage (swift): 4 KiB PUT and GET, container listings of
//!   100,000 objects, a 1 GiB upload and download (RSS while streaming) against dd and curl.
//!
//! See BENCHMARKS.md at the repository root.

mod compute;
mod identity;
mod image;
mod load;
mod object;
mod report;
mod server;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use serde_json::{json, Value};

use server::{Server, Spawn};

#[derive(Parser)]
#[command(name = "stratus-bench", about = "Benchmarks of a release stratus binary")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start `stratus up`, time the first token, load the identity API, print a table.
    Identity(identity::IdentityArgs),
    /// Start `stratus up`, upload and download a 1 GiB image (against dd and curl), list images.
    Image(image::ImageArgs),
    /// Start `stratus up` with 1,000 fake hosts, boot and delete 2,000 servers, time the
    /// scheduler and placement's allocation candidates.
    Compute(compute::ComputeArgs),
    /// Start `stratus up`, PUT and GET 20,000 4 KiB objects, list a container of 100,000
    /// objects, upload and download a 1 GiB object (against dd and curl).
    Object(object::ObjectArgs),
}

/// How the server under test is started: options every benchmark has.
#[derive(clap::Args)]
pub struct ServerArgs {
    /// The stratus binary to run (build it with `cargo build --release -p stratus`).
    /// Default: target/release/stratus, else the stratus next to this binary.
    #[arg(long)]
    pub stratus: Option<PathBuf>,
    /// Longest wait, in seconds, for the first token after spawning the server.
    #[arg(long, default_value_t = 120)]
    pub startup_timeout: u64,
    /// The server's log level (STRATUS_LOG_LEVEL); the log goes to a file in the temp dir.
    #[arg(long, default_value = "info")]
    pub server_log_level: String,
    /// Keep the server's temp data dir (databases, the server log) and print its path.
    #[arg(long)]
    pub keep: bool,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    // `block_on` runs on this (main) thread, so the servers are spawned from it (see PDEATHSIG).
    let outcome = runtime.block_on(async {
        let bench: std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<u8>>>> =
            match cli.command {
                Command::Identity(args) => Box::pin(identity::identity(args)),
                Command::Image(args) => Box::pin(image::image(args)),
                Command::Compute(args) => Box::pin(compute::compute(args)),
                Command::Object(args) => Box::pin(object::object(args)),
            };
        tokio::select! {
            r = bench => r,
            // Dropping the benchmark drops the server guards: SIGTERM, temp dir deleted.
            Ok(()) = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
        }
    });
    runtime.shutdown_timeout(Duration::from_secs(1));
    match outcome {
        Ok(code) => std::process::ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

pub fn find_stratus(given: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    if let Some(p) = given {
        if !p.is_file() {
            bail!("no stratus binary at {}", p.display());
        }
        return Ok(p);
    }
    let mut candidates = vec![PathBuf::from("target/release/stratus")];
    if let Some(dir) = std::env::current_exe().ok().and_then(|e| e.parent().map(Path::to_path_buf)) {
        candidates.push(dir.join("stratus"));
    }
    candidates.into_iter().find(|p| p.is_file()).ok_or_else(|| {
        anyhow::anyhow!(
            "no stratus binary at target/release/stratus nor next to this binary: \
             run `cargo build --release -p stratus` or pass --stratus PATH"
        )
    })
}

pub fn issue_body(password: &str) -> Value {
    json!({"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": "admin", "domain": {"name": "Default"}, "password": password}}},
        "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}},
    }})
}

/// The admin's project-scoped token and its project id, with the token body.
pub async fn admin_token(
    client: &reqwest::Client,
    base_url: &str,
    password: &str,
) -> anyhow::Result<AdminToken> {
    let r = client.post(format!("{base_url}/v3/auth/tokens")).json(&issue_body(password)).send().await?;
    let token = r.headers().get("x-subject-token").and_then(|v| v.to_str().ok()).map(str::to_string);
    let body = expect_json(r, 201, "issuing the admin token").await?;
    let token = token.context("issuing the admin token: no X-Subject-Token")?;
    let project_id =
        body["token"]["project"]["id"].as_str().context("the admin token has no project id")?.to_string();
    Ok(AdminToken { token, project_id, body })
}

pub struct AdminToken {
    pub token: String,
    pub project_id: String,
    pub body: Value,
}

/// A started server that has issued its first token.
pub struct Ready {
    pub server: Server,
    pub first_token: Duration,
    pub password: String,
    pub idle_rss: Option<u64>,
}

/// Spawns `stratus up` and polls `POST /v3/auth/tokens` until a token is issued, then waits
/// for the image API to answer too.
pub async fn start(binary: &Path, rounds: u32, args: &ServerArgs) -> anyhow::Result<Ready> {
    start_with(binary, rounds, args, &[]).await
}

/// `start` with more `STRATUS_*` settings for the server.
pub async fn start_with(
    binary: &Path,
    rounds: u32,
    args: &ServerArgs,
    extra_env: &[(String, String)],
) -> anyhow::Result<Ready> {
    let mut server = Server::spawn(&Spawn {
        binary,
        hash_rounds: rounds,
        log_level: &args.server_log_level,
        extra_env,
        keep_data_dir: args.keep,
    })?;
    let client = load::client()?;
    let timeout = Duration::from_secs(args.startup_timeout);
    let mut last = String::from("no answer yet");
    let (first_token, password) = loop {
        server.check_alive()?;
        if server.spawned_at.elapsed() > timeout {
            bail!(
                "no token within {timeout:?} of starting stratus (last: {last}); its log ends with:\n{}",
                server.log_tail(20)
            );
        }
        if let Some(password) = server::read_admin_password(&server.openrc_path()) {
            match client
                .post(format!("{}/v3/auth/tokens", server.base_url))
                .json(&issue_body(&password))
                .send()
                .await
            {
                Ok(r) if r.status().as_u16() == 201 && r.headers().contains_key("x-subject-token") => {
                    break (server.spawned_at.elapsed(), password);
                }
                Ok(r) => last = format!("HTTP {}", r.status()),
                Err(e) => last = e.to_string(),
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    // Both listeners are bound before either serves, so this is normally answered at once.
    loop {
        server.check_alive()?;
        match client.get(format!("{}/versions", server.image_url)).send().await {
            Ok(_) => break,
            Err(e) if server.spawned_at.elapsed() > timeout => {
                bail!("the image API at {} did not answer within {timeout:?}: {e}", server.image_url)
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
        }
    }
    // Let the startup settle (the blocking pool's bcrypt thread, allocator) before sampling.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle_rss = server::rss_bytes(server.pid);
    Ok(Ready { server, first_token, password, idle_rss })
}

pub async fn issue_token(client: &reqwest::Client, base: &str, password: &str) -> anyhow::Result<String> {
    let r = client.post(format!("{base}/v3/auth/tokens")).json(&issue_body(password)).send().await?;
    let status = r.status();
    let token = r.headers().get("x-subject-token").and_then(|v| v.to_str().ok()).map(str::to_string);
    match token {
        Some(t) if status.as_u16() == 201 => Ok(t),
        _ => bail!("issuing a token: HTTP {status}: {}", r.text().await.unwrap_or_default()),
    }
}

pub async fn expect_json(resp: reqwest::Response, want: u16, what: &str) -> anyhow::Result<Value> {
    let status = resp.status();
    let text = resp.text().await?;
    if status.as_u16() != want {
        bail!("{what}: HTTP {status} (wanted {want}): {text}");
    }
    serde_json::from_str(&text).with_context(|| format!("{what}: not JSON"))
}

/// `stratus --version`, or empty.
pub fn binary_version(binary: &Path) -> String {
    std::process::Command::new(binary)
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

pub fn stopped(mut server: Server) -> String {
    let after =
        |t: Option<Duration>| t.map(|t| format!(" after {}", report::fmt_dur(Some(t)))).unwrap_or_default();
    match server.stop() {
        Some((s, t)) if s.success() => format!("exited 0 on SIGTERM{}", after(t)),
        Some((s, t)) => format!("did NOT exit cleanly on SIGTERM: {s}{}", after(t)),
        None => "exit status unknown".into(),
    }
}
