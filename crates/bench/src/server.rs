//! One `stratus up` under test: a fresh temp data dir, free loopback ports (identity, image,
//! placement and compute APIs), and a guard that always stops the process (SIGTERM by PID,
//! SIGKILL if it hangs) and deletes the data dir (unless asked to keep it).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

/// How long a stopped server may take to exit before it gets SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(15);

pub struct Server {
    child: Option<Child>,
    pub pid: u32,
    pub data_dir: PathBuf,
    /// The identity API, `http://127.0.0.1:PORT`.
    pub base_url: String,
    /// The image API, `http://127.0.0.1:PORT`.
    pub image_url: String,
    /// The placement API, `http://127.0.0.1:PORT`.
    pub placement_url: String,
    /// The compute API's root, `http://127.0.0.1:PORT` (the API itself is under `/v2.1`).
    pub compute_url: String,
    pub hash_rounds: u32,
    /// When `stratus up` was spawned.
    pub spawned_at: Instant,
    /// Leave the data dir (databases, the server log) in place when stopping.
    keep_data_dir: bool,
}

pub struct Spawn<'a> {
    pub binary: &'a Path,
    pub hash_rounds: u32,
    pub log_level: &'a str,
    /// More settings of the server (`STRATUS_*` names), set after the bench's own.
    pub extra_env: &'a [(String, String)],
    /// Keep the data dir after stopping (its path is printed).
    pub keep_data_dir: bool,
}

impl Server {
    pub fn spawn(opts: &Spawn) -> anyhow::Result<Server> {
        let data_dir = make_temp_dir()?;
        // From here on the guard owns the dir, even if the spawn fails.
        let mut server = Server {
            child: None,
            pid: 0,
            data_dir,
            base_url: String::new(),
            image_url: String::new(),
            placement_url: String::new(),
            compute_url: String::new(),
            hash_rounds: opts.hash_rounds,
            spawned_at: Instant::now(),
            keep_data_dir: opts.keep_data_dir,
        };
        let [listen, image_listen, placement_listen, compute_listen] = free_ports::<4>()?;
        server.base_url = format!("http://{listen}");
        server.image_url = format!("http://{image_listen}");
        server.placement_url = format!("http://{placement_listen}");
        server.compute_url = format!("http://{compute_listen}");
        let log = std::fs::File::create(server.log_path()).context("creating the server log")?;
        let mut cmd = Command::new(opts.binary);
        cmd.arg("up").stdin(Stdio::null()).stdout(log.try_clone()?).stderr(log);
        // Only our settings reach the server: no config file, OS_* or RUST_LOG from this shell.
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy();
            if k.starts_with("STRATUS_") || k.starts_with("OS_") || k == "RUST_LOG" {
                cmd.env_remove(k.as_ref());
            }
        }
        cmd.env("STRATUS_DATA_DIR", &server.data_dir)
            .env("STRATUS_IDENTITY_LISTEN", &listen)
            // Every service `stratus up` runs gets a loopback port (they would otherwise listen
            // on 0.0.0.0:9292, :8778 and :8774).
            .env("STRATUS_IMAGE_LISTEN", &image_listen)
            .env("STRATUS_PLACEMENT_LISTEN", &placement_listen)
            .env("STRATUS_COMPUTE_LISTEN", &compute_listen)
            .env("STRATUS_PUBLIC_HOST", "127.0.0.1")
            .env("STRATUS_IDENTITY_PASSWORD_HASH_ROUNDS", opts.hash_rounds.to_string())
            .env("STRATUS_LOG_LEVEL", opts.log_level);
        for (k, v) in opts.extra_env {
            cmd.env(k, v);
        }
        // Should this bench be killed outright, the server goes too. The signal follows the
        // thread that spawns: `run` spawns from the main thread, which lives until exit.
        unsafe {
            use std::os::unix::process::CommandExt;
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        server.spawned_at = Instant::now();
        let child = cmd.spawn().with_context(|| format!("starting {} up", opts.binary.display()))?;
        server.pid = child.id();
        server.child = Some(child);
        Ok(server)
    }

    pub fn log_path(&self) -> PathBuf {
        self.data_dir.join("bench-server.log")
    }

    pub fn openrc_path(&self) -> PathBuf {
        self.data_dir.join("admin-openrc.sh")
    }

    /// Err if the server has exited (with the end of its log).
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        if let Some(child) = self.child.as_mut() {
            if let Some(status) = child.try_wait()? {
                self.child = None;
                bail!("stratus exited early ({status}); its log ends with:\n{}", self.log_tail(20));
            }
        }
        Ok(())
    }

    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// SIGTERM, wait (SIGKILL after a grace period), delete the data dir (or say where it was
    /// kept). Idempotent. The exit status, and how long after SIGTERM the server exited (None if
    /// it had already).
    pub fn stop(&mut self) -> Option<(ExitStatus, Option<Duration>)> {
        let status = self.child.take().and_then(|mut child| {
            // Only signal a child not yet reaped, so the PID cannot belong to anyone else.
            if let Ok(Some(status)) = child.try_wait() {
                return Some((status, None));
            }
            unsafe {
                libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
            }
            let signalled = Instant::now();
            let deadline = signalled + STOP_GRACE;
            loop {
                match child.try_wait() {
                    Ok(Some(status)) => return Some((status, Some(signalled.elapsed()))),
                    Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
                    _ => {
                        eprintln!("stratus (pid {}) ignored SIGTERM for {STOP_GRACE:?}: SIGKILL", self.pid);
                        let _ = child.kill();
                        return child.wait().ok().map(|s| (s, Some(signalled.elapsed())));
                    }
                }
            }
        });
        if self.keep_data_dir {
            // Said once: only the first stop has a status.
            if status.is_some() {
                eprintln!(
                    "kept the data dir {} (the server log: {})",
                    self.data_dir.display(),
                    self.log_path().display()
                );
            }
        } else if !self.data_dir.as_os_str().is_empty() && self.data_dir.exists() {
            if let Err(e) = std::fs::remove_dir_all(&self.data_dir) {
                eprintln!("could not delete {}: {e}", self.data_dir.display());
            }
        }
        status
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

fn make_temp_dir() -> anyhow::Result<PathBuf> {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.subsec_nanos();
    for attempt in 0..100u32 {
        let dir = std::env::temp_dir().join(format!(
            "stratus-bench-{}-{:08x}",
            std::process::id(),
            nanos.wrapping_add(attempt)
        ));
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e).with_context(|| format!("creating {}", dir.display())),
        }
    }
    bail!("could not create a temp dir in {}", std::env::temp_dir().display())
}

/// N distinct free loopback addresses (every listener is held until all ports are known).
fn free_ports<const N: usize>() -> anyhow::Result<[String; N]> {
    let mut listeners = Vec::with_capacity(N);
    for _ in 0..N {
        listeners.push(TcpListener::bind("127.0.0.1:0").context("finding a free loopback port")?);
    }
    let addrs =
        listeners.iter().map(|l| Ok(l.local_addr()?.to_string())).collect::<anyhow::Result<Vec<_>>>()?;
    Ok(addrs.try_into().expect("N addresses"))
}

/// The admin password from `admin-openrc.sh`, once the server has written it (atomically).
pub fn read_admin_password(openrc: &Path) -> Option<String> {
    let text = std::fs::read_to_string(openrc).ok()?;
    let line = text.lines().find_map(|l| l.trim().strip_prefix("export OS_PASSWORD="))?;
    let quoted = line.strip_prefix('\'')?.strip_suffix('\'')?;
    Some(quoted.replace(r"'\''", "'"))
}

/// Resident set size of a process in bytes (VmRSS), None once it is gone.
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// User + system CPU time a process has used so far.
pub fn cpu_time(pid: Option<u32>) -> Option<Duration> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/stat"),
        None => "/proc/self/stat".to_string(),
    };
    let stat = std::fs::read_to_string(path).ok()?;
    // Fields after the command name (which may hold spaces) start at the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let hz = if hz > 0 { hz as u64 } else { 100 };
    Some(Duration::from_nanos(ticks * 1_000_000_000 / hz))
}

/// CPU time all CPUs of the machine spent busy so far (everything but idle and iowait).
pub fn machine_busy() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<u64> = stat
        .lines()
        .next()?
        .strip_prefix("cpu ")?
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    let busy: u64 =
        fields.iter().take(8).enumerate().filter(|(i, _)| *i != 3 && *i != 4).map(|(_, v)| v).sum();
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let hz = if hz > 0 { hz as u64 } else { 100 };
    Some(Duration::from_nanos(busy * 1_000_000_000 / hz))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_quoted_password() {
        let dir = make_temp_dir().unwrap();
        let f = dir.join("admin-openrc.sh");
        std::fs::write(&f, "# x\nexport OS_USERNAME=admin\nexport OS_PASSWORD='a'\\''b c'\n").unwrap();
        assert_eq!(read_admin_password(&f).as_deref(), Some("a'b c"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn reads_own_rss_and_cpu() {
        assert!(rss_bytes(std::process::id()).unwrap() > 0);
        assert!(cpu_time(None).is_some());
        assert!(cpu_time(Some(std::process::id())).is_some());
        assert!(machine_busy().is_some());
    }
}
