//! `stratus-bench image`: the image API (glance v2) of a release `stratus up`.
//!
//! 1. Transfers: a 1 GiB raw image generated on the fly is uploaded (`PUT …/file`, streamed,
//!    never whole in memory) and downloaded (streamed, hashed, discarded) while the server's
//!    RSS is sampled every 100 ms; the md5 the server reports must be the one computed while
//!    sending, and the downloaded data must hash to it too.
//! 2. References on the same machine and disk: `dd` writing (fsync) and reading a 1 GiB file
//!    next to the data dir, and `curl` uploading that file to stratus and downloading it back:
//!    client against client.
//! 3. `GET /v2/images` of 1,000 queued images, with the CLI's page size and with the largest.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use bytes::Bytes;
use md5::{Digest as _, Md5};
use serde_json::{json, Value};

use crate::load::{self, CpuMeter, CpuUse, Limits, Op, PhaseResult, RssSampler, RssUse};
use crate::report::{self, fmt_dur, fmt_rate, fmt_rss, mib};
use crate::server::Server;
use crate::{binary_version, expect_json, find_stratus, issue_token, start, stopped, ServerArgs};

/// Size of the pseudo-random block the uploaded image repeats (and of each chunk sent).
const BLOCK: usize = 1 << 20;
/// Chunks in flight between a transfer and its md5 thread.
const HASH_QUEUE: usize = 64;
/// Workers creating the images to list.
const CREATE_WORKERS: usize = 4;
/// The issue's aim: at least this share of the slower of dd and curl.
const AIM_SHARE: f64 = 0.80;

#[derive(clap::Args)]
pub struct ImageArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// bcrypt cost of the instance (token issue is not what is measured here).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(4..=31))]
    hash_rounds: u32,
    /// Which parts to run, in this order: transfer (upload and download by this bench),
    /// reference (dd and curl), list.
    #[arg(long, value_delimiter = ',', default_values_t = vec![Part::Transfer, Part::Reference, Part::List])]
    parts: Vec<Part>,
    /// Size of the image transferred (and of dd's file), in MiB.
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..=16_384))]
    size_mib: u64,
    /// Rounds of transfers and references (each on new images); the summary takes the median.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=10))]
    repeat: u32,
    /// Longest a single transfer (or dd run) may take, in seconds.
    #[arg(long, default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..=3600))]
    transfer_timeout: u64,
    /// Most the server's RSS may grow during a transfer, in MB (10^6 bytes): PASS/FAIL.
    #[arg(long, default_value_t = 50)]
    rss_limit_mb: u64,
    /// The curl binary of the reference transfers.
    #[arg(long, default_value = "curl")]
    curl: PathBuf,
    /// Images created (queued, no data) before listing them.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    images: u64,
    /// Page sizes listed: one list phase per `?limit=` (25 is the CLI's first page, 1000 the most
    /// the API returns).
    #[arg(long, value_delimiter = ',', default_values_t = vec![25u64, 1000])]
    list_limits: Vec<u64>,
    /// Length of each list phase in seconds (requests in flight at the end are waited for).
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Most requests of each list phase, across all workers.
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..))]
    max_requests: u64,
    /// Concurrency levels of the list phases (closed-loop workers, one connection each).
    #[arg(long, value_delimiter = ',', default_values_t = vec![1usize, 16])]
    concurrency: Vec<usize>,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Part {
    Transfer,
    Reference,
    List,
}

impl std::fmt::Display for Part {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use clap::ValueEnum;
        f.write_str(self.to_possible_value().expect("no skipped variants").get_name())
    }
}

/// What a transfer row is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    BenchUpload,
    BenchDownload,
    BenchDownloadUnhashed,
    CurlUpload,
    CurlDownload,
    DdWrite,
    DdRead,
    DdReadDirect,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::BenchUpload => "upload    stratus-bench (reqwest, streamed)",
            Kind::BenchDownload => "download  stratus-bench (reqwest, streamed)",
            Kind::BenchDownloadUnhashed => "download  stratus-bench, not hashed",
            Kind::CurlUpload => "upload    curl -T dd's file",
            Kind::CurlDownload => "download  curl -o /dev/null",
            Kind::DdWrite => "write     dd bs=1M conv=fsync, same disk",
            Kind::DdRead => "read      dd bs=1M of=/dev/null",
            Kind::DdReadDirect => "read      dd bs=1M iflag=direct (disk)",
        }
    }

    /// Is this a transfer through stratus (whose RSS growth counts)?
    fn through_stratus(self) -> bool {
        !matches!(self, Kind::DdWrite | Kind::DdRead | Kind::DdReadDirect)
    }
}

/// One timed transfer.
struct Transfer {
    kind: Kind,
    bytes: u64,
    /// As the client measured it: the request's send to the response's end (bench), curl's
    /// `time_total`, dd's own figure.
    elapsed: Duration,
    /// Uploads by the bench: when its body stream handed over its last chunk.
    last_byte_sent: Option<Duration>,
    cpu: CpuUse,
    /// Uploads and downloads through stratus: the server's RSS during the transfer.
    rss: Option<RssUse>,
    /// What was verified, or what did not match.
    check: String,
    ok: bool,
}

impl Transfer {
    fn mb_per_s(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// One page of the list, fetched before its phase.
struct Page {
    limit: u64,
    images: usize,
    next: bool,
    bytes: usize,
}

struct ListRow {
    limit: u64,
    result: PhaseResult,
}

/// The benchmark: 0, 2 if a request failed or data did not match, 3 if only the streaming
/// memory check failed.
pub async fn image(args: ImageArgs) -> anyhow::Result<u8> {
    if !(args.seconds > 0.0 && args.seconds <= 3600.0) {
        bail!("--seconds must be in (0, 3600]");
    }
    if args.concurrency.is_empty() || args.concurrency.iter().any(|&c| c == 0 || c > 1024) {
        bail!("--concurrency: levels from 1 to 1024");
    }
    if args.list_limits.is_empty() || args.list_limits.iter().any(|&l| l == 0 || l > 1000) {
        bail!("--list-limits: page sizes from 1 to 1000");
    }
    let binary = find_stratus(args.server.stratus.clone())?;
    let version = binary_version(&binary);
    let date = report::utc_now_text();
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    eprintln!("stratus-bench image: {} ({version}), {cpus} CPUs", binary.display());
    let reference = args.parts.contains(&Part::Reference);
    let curl_version = if reference { tool_version(&args.curl).await? } else { String::new() };

    eprintln!("starting stratus up (bcrypt {}) …", args.hash_rounds);
    let ready = start(&binary, args.hash_rounds, &args.server).await?;
    eprintln!("  first token after {:.0} ms", ready.first_token.as_secs_f64() * 1000.0);
    let setup = load::client()?;
    let token = issue_token(&setup, &ready.server.base_url, &ready.password).await?;
    let bench = Bench {
        server: &ready.server,
        token: &token,
        setup: &setup,
        transfer: load::client_with_timeout(Duration::from_secs(args.transfer_timeout))?,
        size: args.size_mib << 20,
        timeout: Duration::from_secs(args.transfer_timeout),
        curl: &args.curl,
    };

    let mut rounds: Vec<Vec<Transfer>> = Vec::new();
    let mut zeros_md5 = None;
    if args.parts.contains(&Part::Transfer) || reference {
        for round in 1..=args.repeat {
            let mut rows = Vec::new();
            if args.parts.contains(&Part::Transfer) {
                eprintln!("  round {round}: upload and download of {} MiB by this bench …", args.size_mib);
                bench.own_transfers(&mut rows).await?;
            }
            if reference {
                if zeros_md5.is_none() {
                    zeros_md5 = Some(md5_of_zeros(bench.size).await?);
                }
                eprintln!("  round {round}: dd and curl …");
                bench.references(zeros_md5.as_deref().unwrap_or_default(), &mut rows).await?;
            }
            rounds.push(rows);
        }
    }

    let mut lists = Vec::new();
    let mut list_info = None;
    if args.parts.contains(&Part::List) {
        eprintln!("  creating {} images …", args.images);
        let created = Instant::now();
        create_images(&ready.server.image_url, &token, args.images).await?;
        let create_time = created.elapsed();
        let mut per_page = Vec::new();
        for &limit in &args.list_limits {
            let r = setup
                .get(format!("{}/v2/images?limit={limit}", ready.server.image_url))
                .header("X-Auth-Token", &token)
                .send()
                .await?;
            let status = r.status();
            let body = r.bytes().await?;
            if status.as_u16() != 200 {
                bail!("listing images: HTTP {status}: {}", String::from_utf8_lossy(&body));
            }
            let page: Value = serde_json::from_slice(&body).context("listing images: not JSON")?;
            let n = page["images"].as_array().map(Vec::len).unwrap_or(0);
            per_page.push(Page { limit, images: n, next: page.get("next").is_some(), bytes: body.len() });
        }
        list_info = Some((create_time, per_page));
        let op_limits =
            Limits { duration: Duration::from_secs_f64(args.seconds), max_requests: args.max_requests };
        for &limit in &args.list_limits {
            for &c in &args.concurrency {
                eprintln!("  GET /v2/images?limit={limit}, concurrency {c} …");
                let op = Op::ListImages { auth_token: token.clone(), query: format!("?limit={limit}") };
                let result =
                    load::run_phase(&ready.server.image_url, &op, c, op_limits, ready.server.pid).await?;
                if result.error_count() > 0 {
                    eprintln!("    {} errors: {:?}", result.error_count(), result.errors);
                }
                lists.push(ListRow { limit, result });
            }
        }
    }

    let end_rss = crate::server::rss_bytes(ready.server.pid);
    let idle_rss = ready.idle_rss;
    let first_token = ready.first_token;
    let exit = stopped(ready.server);

    println!();
    println!("Stratus image benchmark, {date}");
    println!(
        "  server: {} ({version}), `stratus up`, SQLite and the file store in a fresh temp dir under {}, \
         log level {}, bcrypt {}",
        binary.display(),
        std::env::temp_dir().display(),
        args.server.server_log_level,
        args.hash_rounds
    );
    println!(
        "  client: this process on the same {cpus}-CPU machine, HTTP/1.1 over 127.0.0.1{}",
        if reference { format!("; {curl_version}") } else { String::new() }
    );
    println!(
        "  first token {} after spawn, RSS idle after startup {}, RSS at the end {}, {exit}",
        fmt_dur(Some(first_token)),
        fmt_rss(idle_rss),
        fmt_rss(end_rss)
    );
    let mut failed = false;
    let mut rss_fail = false;
    if !rounds.is_empty() {
        let (f, r) = print_transfers(&args, &rounds, cpus);
        failed |= f;
        rss_fail |= r;
    }
    if let Some((create_time, per_page)) = &list_info {
        print_lists(&args, &lists, *create_time, per_page, cpus);
        failed |= lists.iter().any(|r| r.result.error_count() > 0);
        failed |= per_page.iter().any(|p| (p.images as u64) < p.limit.min(args.images));
    }
    Ok(if failed {
        2
    } else if rss_fail {
        3
    } else {
        0
    })
}

/// What the transfers share.
struct Bench<'a> {
    server: &'a Server,
    token: &'a str,
    /// For small requests (create, show, delete).
    setup: &'a reqwest::Client,
    /// For the transfers: a longer timeout.
    transfer: reqwest::Client,
    size: u64,
    timeout: Duration,
    curl: &'a Path,
}

impl Bench<'_> {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.image_url)
    }

    async fn create(&self, name: &str) -> anyhow::Result<String> {
        let body = json!({"name": name, "disk_format": "raw", "container_format": "bare"});
        let r = self
            .setup
            .post(self.url("/v2/images"))
            .header("X-Auth-Token", self.token)
            .json(&body)
            .send()
            .await?;
        let image = expect_json(r, 201, "creating an image").await?;
        image["id"].as_str().map(str::to_string).context("creating an image: no id")
    }

    async fn show(&self, id: &str) -> anyhow::Result<Value> {
        let r = self
            .setup
            .get(self.url(&format!("/v2/images/{id}")))
            .header("X-Auth-Token", self.token)
            .send()
            .await?;
        expect_json(r, 200, "showing an image").await
    }

    async fn delete(&self, id: &str) -> anyhow::Result<()> {
        let r = self
            .setup
            .delete(self.url(&format!("/v2/images/{id}")))
            .header("X-Auth-Token", self.token)
            .send()
            .await?;
        if r.status().as_u16() != 204 {
            bail!("deleting image {id}: HTTP {}: {}", r.status(), r.text().await.unwrap_or_default());
        }
        Ok(())
    }

    /// Checks an image after an upload: active, the right size, the right md5.
    async fn check_stored(&self, id: &str, md5: &str, md5_source: &str) -> anyhow::Result<(String, bool)> {
        let image = self.show(id).await?;
        let (status, size, checksum) = (&image["status"], &image["size"], image["checksum"].as_str());
        Ok(if status == "active" && size.as_u64() == Some(self.size) && checksum == Some(md5) {
            (format!("active, size and md5 ok (server checksum = {md5_source})"), true)
        } else {
            (
                format!(
                    "MISMATCH: status {status}, size {size} (sent {}), checksum {} ({md5_source} {md5})",
                    self.size,
                    checksum.unwrap_or("none")
                ),
                false,
            )
        })
    }

    fn meters(&self) -> (RssSampler, CpuMeter) {
        let give_up = self.timeout + Duration::from_secs(5);
        (RssSampler::start(self.server.pid, give_up), CpuMeter::start(self.server.pid))
    }

    /// Upload then download of a new image by this bench; the image is deleted afterwards.
    async fn own_transfers(&self, rows: &mut Vec<Transfer>) -> anyhow::Result<()> {
        let id = self.create("stratus-bench transfer").await?;
        // Upload: the body is generated chunk by chunk and hashed (in another thread) as it goes.
        let block = Bytes::from(pattern_block());
        let (tx, hasher) = Md5Thread::start();
        let last_sent: Arc<Mutex<Option<Instant>>> = Arc::default();
        let size = self.size;
        let stream = {
            let last_sent = last_sent.clone();
            futures_util::stream::unfold((0u64, tx), move |(sent, tx)| {
                let (block, last_sent) = (block.clone(), last_sent.clone());
                async move {
                    if sent >= size {
                        return None; // drops tx: the hasher ends
                    }
                    let chunk = block.slice(..(size - sent).min(block.len() as u64) as usize);
                    let n = chunk.len() as u64;
                    if tx.send(chunk.clone()).await.is_err() {
                        let e = std::io::Error::other("the md5 thread stopped");
                        return Some((Err(e), (size, tx)));
                    }
                    if sent + n == size {
                        // hyper may not ask for more once Content-Length bytes are out.
                        *last_sent.lock().expect("not poisoned") = Some(Instant::now());
                    }
                    Some((Ok::<Bytes, std::io::Error>(chunk), (sent + n, tx)))
                }
            })
        };
        let (sampler, cpu) = self.meters();
        let t0 = Instant::now();
        let resp = self
            .transfer
            .put(self.url(&format!("/v2/images/{id}/file")))
            .header("X-Auth-Token", self.token)
            .header("Content-Type", "application/octet-stream")
            .header("Content-Length", size)
            .body(reqwest::Body::wrap_stream(stream))
            .send()
            .await;
        let elapsed = t0.elapsed();
        let (cpu, rss) = (cpu.read(), sampler.finish().await?);
        let resp = resp.map_err(|e| anyhow::anyhow!("uploading: {}", load::transport_kind(&e)))?;
        let status = resp.status();
        let body = resp.text().await.unwrap_or_default();
        if status.as_u16() != 204 {
            bail!("uploading: HTTP {status}: {body}");
        }
        let (sent, md5) = hasher.finish().await?;
        if sent != size {
            bail!("uploading: hashed {sent} bytes, meant to send {size}");
        }
        let last_byte_sent = last_sent.lock().expect("not poisoned").map(|t| t.saturating_duration_since(t0));
        let (check, ok) = self.check_stored(&id, &md5, "the md5 computed while sending").await?;
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

        // Download: streamed, hashed in another thread, discarded; then once more without
        // hashing, as curl does (the md5 can take a core of its own on the client).
        rows.push(self.download(&id, Some(&md5)).await?);
        rows.push(self.download(&id, None).await?);
        self.delete(&id).await
    }

    /// `GET …/file` of image `id`, streamed and discarded; with `md5`, hashed in another thread
    /// and compared with it and with the Content-MD5 header.
    async fn download(&self, id: &str, md5: Option<&str>) -> anyhow::Result<Transfer> {
        let (tx, hasher) = match md5 {
            Some(_) => {
                let (tx, hasher) = Md5Thread::start();
                (Some(tx), Some(hasher))
            }
            None => (None, None),
        };
        let (sampler, cpu) = self.meters();
        let t0 = Instant::now();
        let mut got = 0u64;
        let received = async {
            let mut resp = self
                .transfer
                .get(self.url(&format!("/v2/images/{id}/file")))
                .header("X-Auth-Token", self.token)
                .send()
                .await?;
            let status = resp.status();
            let header_md5 =
                resp.headers().get("content-md5").and_then(|v| v.to_str().ok()).map(str::to_string);
            if status.as_u16() != 200 {
                return Ok((status, header_md5, resp.text().await.unwrap_or_default()));
            }
            while let Some(chunk) = resp.chunk().await? {
                got += chunk.len() as u64;
                if let Some(tx) = &tx {
                    if tx.send(chunk).await.is_err() {
                        break;
                    }
                }
            }
            Ok::<_, reqwest::Error>((status, header_md5, String::new()))
        }
        .await;
        let elapsed = t0.elapsed();
        drop(tx);
        let (cpu, rss) = (cpu.read(), sampler.finish().await?);
        let (status, header_md5, body) =
            received.map_err(|e| anyhow::anyhow!("downloading: {}", load::transport_kind(&e)))?;
        if status.as_u16() != 200 {
            bail!("downloading: HTTP {status}: {body}");
        }
        let (kind, ok, check) = match (md5, hasher) {
            (Some(md5), Some(hasher)) => {
                let (hashed, got_md5) = hasher.finish().await?;
                let ok =
                    got == self.size && hashed == got && got_md5 == md5 && header_md5.as_deref() == Some(md5);
                let check = if ok {
                    "size and md5 ok (= uploaded data, = Content-MD5)".to_string()
                } else {
                    format!(
                        "MISMATCH: {got} bytes, md5 {got_md5}, Content-MD5 {}, uploaded {md5}",
                        header_md5.as_deref().unwrap_or("none")
                    )
                };
                (Kind::BenchDownload, ok, check)
            }
            _ => {
                let ok = got == self.size;
                let check =
                    if ok { "size ok (not hashed)".to_string() } else { format!("MISMATCH: {got} bytes") };
                (Kind::BenchDownloadUnhashed, ok, check)
            }
        };
        Ok(Transfer { kind, bytes: got, elapsed, last_byte_sent: None, cpu, rss: Some(rss), check, ok })
    }

    /// dd writing and reading a file next to the data dir, curl uploading it to a new image
    /// and downloading that back. The file and the image are deleted afterwards.
    async fn references(&self, zeros_md5: &str, rows: &mut Vec<Transfer>) -> anyhow::Result<()> {
        let file = self.server.data_dir.join("bench-dd.bin");
        let mib = (self.size >> 20).to_string();
        let of = format!("of={}", file.display());
        let if_ = format!("if={}", file.display());
        for (kind, dd_args) in [
            (
                Kind::DdWrite,
                vec!["if=/dev/zero", of.as_str(), "bs=1M", &format!("count={mib}"), "conv=fsync"],
            ),
            // From the page cache, as the downloads right after an upload are.
            (Kind::DdRead, vec![if_.as_str(), "of=/dev/null", "bs=1M"]),
            // From the disk: what a download of data no longer cached can hope for.
            (Kind::DdReadDirect, vec![if_.as_str(), "of=/dev/null", "bs=1M", "iflag=direct"]),
        ] {
            let cpu = CpuMeter::start(self.server.pid);
            let (bytes, elapsed) = self.dd(&dd_args).await?;
            let ok = bytes == self.size;
            let check = if ok {
                "dd's own figures".to_string()
            } else {
                format!("MISMATCH: dd copied {bytes} bytes")
            };
            let cpu = cpu.read();
            rows.push(Transfer { kind, bytes, elapsed, last_byte_sent: None, cpu, rss: None, check, ok });
        }

        let id = self.create("stratus-bench curl").await?;
        let url = self.url(&format!("/v2/images/{id}/file"));
        let token = format!("X-Auth-Token: {}", self.token);
        let file_arg = file.display().to_string();
        let (sampler, cpu) = self.meters();
        let up = self
            .curl(&[
                "-T",
                &file_arg,
                "-H",
                &token,
                "-H",
                "Content-Type: application/octet-stream",
                // As reqwest, python-requests and this bench: no 100-continue round trip.
                "-H",
                "Expect:",
                &url,
            ])
            .await;
        let (cpu, rss) = (cpu.read(), sampler.finish().await?);
        let up = up?;
        if up.code != 204 {
            bail!("curl upload: HTTP {}", up.code);
        }
        let (check, ok) = self.check_stored(&id, zeros_md5, "md5 of the zeros dd wrote").await?;
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
        tokio::fs::remove_file(&file).await.ok();

        let (sampler, cpu) = self.meters();
        let down = self.curl(&["-H", &token, &url]).await;
        let (cpu, rss) = (cpu.read(), sampler.finish().await?);
        let down = down?;
        if down.code != 200 {
            bail!("curl download: HTTP {}", down.code);
        }
        let ok = down.downloaded == self.size;
        let check = if ok {
            "size ok (curl does not hash)".to_string()
        } else {
            format!("MISMATCH: {} bytes", down.downloaded)
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
        self.delete(&id).await
    }

    /// Runs dd; the bytes it copied and the seconds it reports.
    async fn dd(&self, args: &[&str]) -> anyhow::Result<(u64, Duration)> {
        let t0 = Instant::now();
        let out = tokio::time::timeout(
            self.timeout,
            tokio::process::Command::new("dd")
                .args(args)
                .env("LC_ALL", "C")
                .stdin(std::process::Stdio::null())
                .kill_on_drop(true)
                .output(),
        )
        .await
        .map_err(|_| anyhow::anyhow!("dd {} took longer than {:?}", args.join(" "), self.timeout))?
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

    /// Runs curl quietly against stratus, discarding the response body.
    async fn curl(&self, args: &[&str]) -> anyhow::Result<CurlOut> {
        let max_time = self.timeout.as_secs().to_string();
        let out = tokio::time::timeout(
            self.timeout + Duration::from_secs(10),
            tokio::process::Command::new(self.curl)
                .args(["-sS", "-o", "/dev/null", "--noproxy", "*", "--max-time", &max_time, "-w"])
                .arg("%{http_code} %{size_upload} %{size_download} %{time_total}")
                .args(args)
                .stdin(std::process::Stdio::null())
                .kill_on_drop(true)
                .output(),
        )
        .await
        .map_err(|_| anyhow::anyhow!("curl did not finish"))?
        .with_context(|| format!("running {}", self.curl.display()))?;
        let text = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            bail!("curl: {}: {}", out.status, String::from_utf8_lossy(&out.stderr).trim());
        }
        parse_curl(&text).with_context(|| format!("curl: unexpected -w output: {text}"))
    }
}

struct CurlOut {
    code: u16,
    uploaded: u64,
    downloaded: u64,
    total: Duration,
}

fn parse_curl(text: &str) -> Option<CurlOut> {
    let f: Vec<&str> = text.split_whitespace().collect();
    let [code, up, down, total] = f.as_slice() else { return None };
    Some(CurlOut {
        code: code.parse().ok()?,
        uploaded: up.parse().ok()?,
        downloaded: down.parse().ok()?,
        total: Duration::from_secs_f64(total.parse::<f64>().ok()?),
    })
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

/// `curl --version`'s first line.
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

/// A fixed pseudo-random block (xorshift64*): the image's content, repeated. No disk format
/// signature (the server's format inspection sees raw data).
fn pattern_block() -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut v = Vec::with_capacity(BLOCK);
    while v.len() < BLOCK {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        v.extend_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    v.truncate(BLOCK);
    v
}

/// md5 of `size` zero bytes (what dd wrote), computed outside any timing.
async fn md5_of_zeros(size: u64) -> anyhow::Result<String> {
    Ok(tokio::task::spawn_blocking(move || {
        let zeros = vec![0u8; BLOCK];
        let mut md5 = Md5::new();
        let mut left = size;
        while left > 0 {
            let n = left.min(BLOCK as u64) as usize;
            md5.update(&zeros[..n]);
            left -= n as u64;
        }
        hex(&md5.finalize())
    })
    .await?)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// md5 in a thread of its own, fed through a bounded queue, so that hashing overlaps the
/// transfer instead of pausing it.
struct Md5Thread {
    thread: std::thread::JoinHandle<(u64, String)>,
}

impl Md5Thread {
    fn start() -> (tokio::sync::mpsc::Sender<Bytes>, Md5Thread) {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(HASH_QUEUE);
        let thread = std::thread::spawn(move || {
            let mut md5 = Md5::new();
            let mut n = 0u64;
            // Ends when every sender is dropped.
            while let Some(chunk) = rx.blocking_recv() {
                n += chunk.len() as u64;
                md5.update(&chunk);
            }
            (n, hex(&md5.finalize()))
        });
        (tx, Md5Thread { thread })
    }

    /// Bytes hashed and their md5, once every sender is gone.
    async fn finish(self) -> anyhow::Result<(u64, String)> {
        tokio::task::spawn_blocking(move || self.thread.join())
            .await?
            .map_err(|_| anyhow::anyhow!("the md5 thread panicked"))
    }
}

/// Creates `n` queued images (no data) with a few workers.
async fn create_images(base: &str, token: &str, n: u64) -> anyhow::Result<()> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..CREATE_WORKERS {
        let (base, token, next) = (base.to_string(), token.to_string(), next.clone());
        tasks.push(tokio::spawn(async move {
            let client = load::client()?;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed) as u64;
                if i >= n {
                    return anyhow::Ok(());
                }
                let body = json!({"name": format!("bench-{i:05}"), "disk_format": "raw", "container_format": "bare"});
                let r = client.post(format!("{base}/v2/images")).header("X-Auth-Token", &token).json(&body).send().await?;
                expect_json(r, 201, "creating an image").await?;
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(())
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    Some(if v.len() % 2 == 1 { v[m] } else { (v[m - 1] + v[m]) / 2.0 })
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

/// Prints the transfer tables and the summary; (something failed, RSS check failed).
fn print_transfers(args: &ImageArgs, rounds: &[Vec<Transfer>], cpus: usize) -> (bool, bool) {
    let size = args.size_mib << 20;
    println!();
    println!(
        "Transfers of a {} MiB raw image ({size} bytes) over 127.0.0.1; MB = 10^6 bytes; RSS of the server sampled every {} ms",
        args.size_mib,
        load::RSS_SAMPLE_EVERY.as_millis()
    );
    let header = format!(
        "{:<42} {:>8} {:>8} {:>8} {:>12} {:>10} {:>10} {:>10}  {}",
        "transfer", "MB/s", "time", "srv CPU", "CPU s/b/o %", "RSS before", "peak RSS", "growth", "check"
    );
    for (i, rows) in rounds.iter().enumerate() {
        println!();
        if rounds.len() > 1 {
            println!("round {} of {}", i + 1, rounds.len());
        }
        println!("{header}");
        println!("{}", "-".repeat(header.len() + 20));
        for t in rows {
            let (before, peak, growth) = match &t.rss {
                Some(r) => (fmt_rss(r.first), fmt_rss(r.peak), fmt_growth(r.growth())),
                None => ("-".into(), "-".into(), "-".into()),
            };
            println!(
                "{:<42} {:>8.1} {:>8} {:>8} {:>12} {:>10} {:>10} {:>10}  {}",
                t.kind.label(),
                t.mb_per_s(),
                secs(Some(t.elapsed)),
                secs(t.cpu.server),
                report::cpu_split(&t.cpu, t.elapsed),
                before,
                peak,
                growth,
                t.check
            );
        }
        for t in rows {
            if let Some(last) = t.last_byte_sent {
                println!(
                    "  {}: last byte handed to the connection after {:.2} s, answer {:.2} s later \
                     (the server's fsync, inspection, commit)",
                    t.kind.label().split_whitespace().next().unwrap_or(""),
                    last.as_secs_f64(),
                    t.elapsed.saturating_sub(last).as_secs_f64()
                );
            }
        }
    }
    println!();
    println!("  time: from sending the request to the last byte of the answer (bench), curl's time_total, dd's own figure.");
    println!(
        "  srv CPU: server CPU time (user+sys) during the transfer. CPU s/b/o %: server / this bench / everything \
         else (curl, dd, kernel threads), 100 = one core of {cpus}."
    );
    println!("  RSS before: the server's RSS when the transfer started; growth = peak - before.");

    let all: Vec<&Transfer> = rounds.iter().flatten().collect();
    let failed = all.iter().any(|t| !t.ok);
    let limit = args.rss_limit_mb * 1_000_000;
    let worst = all
        .iter()
        .filter(|t| t.kind.through_stratus())
        .filter_map(|t| t.rss.as_ref().and_then(RssUse::growth).map(|g| (g, t.kind)))
        .max_by_key(|(g, _)| *g);
    let rss_fail = match worst {
        Some((g, _)) => g >= limit as i64,
        None => false,
    };
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
    let med = |kind: Kind| median(all.iter().filter(|t| t.kind == kind).map(|t| t.mb_per_s()).collect());
    // Who the limit was: CPU of the server and of this bench, in % of one core (medians).
    let share = |kind: Kind, f: fn(&CpuUse) -> Option<Duration>| {
        median(
            all.iter()
                .filter(|t| t.kind == kind)
                .filter_map(|t| {
                    f(&t.cpu).map(|c| 100.0 * c.as_secs_f64() / t.elapsed.as_secs_f64().max(1e-9))
                })
                .collect(),
        )
    };
    let what =
        if rounds.len() > 1 { format!("medians of {} rounds", rounds.len()) } else { "one round".into() };
    println!("throughput ({what}; aim: ours ≥ {:.0}% of the slower of dd and curl):", AIM_SHARE * 100.0);
    for (name, ours, dd, curl) in [
        ("upload", Kind::BenchUpload, Kind::DdWrite, Kind::CurlUpload),
        ("download", Kind::BenchDownload, Kind::DdRead, Kind::CurlDownload),
        ("download, not hashed", Kind::BenchDownloadUnhashed, Kind::DdRead, Kind::CurlDownload),
    ] {
        let (o, d, c) = (med(ours), med(dd), med(curl));
        let Some(o) = o else { continue };
        let mut parts = vec![format!("  {name:<21} stratus-bench {o:.1} MB/s")];
        if let Some(d) = d {
            parts.push(format!("{:.0}% of dd ({d:.1} MB/s)", 100.0 * o / d));
        }
        if let Some(c) = c {
            parts.push(format!("{:.0}% of curl ({c:.1} MB/s)", 100.0 * o / c));
        }
        let line = parts.join(", ");
        match d.zip(c) {
            Some((d, c)) => {
                let slower = d.min(c);
                let share = o / slower;
                println!(
                    "{line}; of the slower: {:.0}% — {}",
                    100.0 * share,
                    if share >= AIM_SHARE { "MET" } else { "NOT MET" }
                );
            }
            None => println!("{line}"),
        }
        let pct = |v: Option<f64>| v.map(|v| format!("{v:.0}%")).unwrap_or_else(|| "?".into());
        let mut cpu = format!(
            "{:<23} CPU meanwhile, in % of one core: server {}, this bench {}",
            "",
            pct(share(ours, |c| c.server)),
            pct(share(ours, |c| c.bench))
        );
        if c.is_some() {
            cpu.push_str(&format!("; with curl: server {}", pct(share(curl, |c| c.server))));
        }
        println!("{cpu}");
    }
    for t in all.iter().filter(|t| !t.ok) {
        println!("  CHECK FAILED: {}: {}", t.kind.label(), t.check);
    }
    (failed, rss_fail)
}

fn print_lists(args: &ImageArgs, rows: &[ListRow], create_time: Duration, per_page: &[Page], cpus: usize) {
    println!();
    println!(
        "Image list: {} queued images created by the bench in {:.1} s ({} creates/s, {CREATE_WORKERS} workers); \
         {} s per phase (at most {} requests), closed loop, keep-alive",
        args.images,
        create_time.as_secs_f64(),
        fmt_rate(args.images as f64 / create_time.as_secs_f64().max(1e-9)),
        args.seconds,
        args.max_requests
    );
    for p in per_page {
        println!(
            "  ?limit={}: {} images per response ({:.1} KiB of JSON){}",
            p.limit,
            p.images,
            p.bytes as f64 / 1024.0,
            if p.next { ", with a next link" } else { ", no next link" }
        );
    }
    println!();
    let header = format!("{:<40} {:>4} {}", "phase", "conc", report::phase_header());
    println!("{header}");
    println!("{}", "-".repeat(header.len()));
    let label = |r: &ListRow| format!("list images  GET /v2/images?limit={}", r.limit);
    for r in rows {
        println!("{:<40} {:>4} {}", label(r), r.result.concurrency, report::phase_columns(&r.result));
    }
    println!();
    report::print_phase_legend(cpus);
    let what = |r: &ListRow| format!("list ?limit={} (concurrency {})", r.limit, r.result.concurrency);
    for r in rows {
        report::print_phase_note(&what(r), &r.result);
    }
    for r in rows {
        report::print_phase_errors(&what(r), &r.result);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dd_and_curl() {
        let dd = "1024+0 records in\n1024+0 records out\n1073741824 bytes (1.1 GB, 1.0 GiB) copied, 1.23456 s, 870 MB/s\n";
        let (bytes, secs) = parse_dd(dd).unwrap();
        assert_eq!(bytes, 1 << 30);
        assert_eq!(secs, Some(Duration::from_secs_f64(1.23456)));
        let c = parse_curl("204 1073741824 0 3.5\n").unwrap();
        assert_eq!((c.code, c.uploaded, c.downloaded), (204, 1 << 30, 0));
        assert_eq!(c.total, Duration::from_secs_f64(3.5));
        assert!(parse_curl("204 x").is_none());
    }

    #[test]
    fn pattern_is_fixed_and_not_a_partition_table() {
        let a = pattern_block();
        assert_eq!(a.len(), BLOCK);
        assert_eq!(a, pattern_block());
        assert_ne!(&a[510..512], &[0x55, 0xAA]);
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0]), Some(2.5));
    }

    #[tokio::test]
    async fn md5_thread_and_zeros() {
        let (tx, t) = Md5Thread::start();
        tx.send(Bytes::from_static(b"hello ")).await.unwrap();
        tx.send(Bytes::from_static(b"world")).await.unwrap();
        drop(tx);
        assert_eq!(t.finish().await.unwrap(), (11, "5eb63bbbe01eeed093cb22bb8f5acdc3".to_string()));
        // md5 of 1 MiB of zeros.
        assert_eq!(md5_of_zeros(1 << 20).await.unwrap(), "b6d81b360a5672d80c27430f39153e2c");
    }
}
