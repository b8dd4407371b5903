//! `stratus`: one binary for the whole cloud.

mod compute;
mod credentials;
mod image_store;
mod services;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use stratus_core::config::Config;

/// mimalloc instead of glibc's allocator: the API, scheduler and databases make many small
/// allocations freed on other threads than made them, glibc's slow path (see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "stratus", version, about = "An OpenStack-compatible cloud in one binary")]
struct Cli {
    /// Configuration file (TOML); every option can also be set as STRATUS_<SECTION>_<KEY>.
    #[arg(long, global = true, env = "STRATUS_CONFIG")]
    config: Option<PathBuf>,
    /// Where databases, keys and credentials live (default /var/lib/stratus for root,
    /// ~/.local/share/stratus otherwise).
    #[arg(long, global = true, env = "STRATUS_DATA_DIR")]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Bootstrap on first run, then serve every service in this process.
    Up {
        #[command(flatten)]
        hosts: FakeHosts,
    },
    /// Serve every service without bootstrapping (the data dir must be bootstrapped).
    Serve {
        #[command(flatten)]
        hosts: FakeHosts,
    },
    /// Create the default domain, admin user, roles, region and catalog (idempotent).
    Bootstrap {
        /// The admin password; generated and stored 0600 in the data dir when not given.
        #[arg(long, env = "STRATUS_ADMIN_PASSWORD")]
        password: Option<String>,
    },
    /// Run an agent of this node in its own process (on a compute host).
    Agent {
        #[command(subcommand)]
        kind: AgentKind,
    },
    /// Manage the Fernet key repository.
    Fernet {
        #[command(subcommand)]
        action: FernetAction,
    },
}

#[derive(Subcommand)]
enum AgentKind {
    /// A compute agent (nova-compute): registers this host, runs its instances.
    Compute {
        /// The controller's RabbitMQ (`bus.transport_url`), e.g. amqp://user:pw@controller:5672/.
        #[arg(long, env = "STRATUS_BUS_TRANSPORT_URL")]
        transport_url: Option<String>,
        /// The name this host registers as (`compute_agent.host`; default: the host name).
        #[arg(long)]
        host: Option<String>,
    },
}

#[derive(clap::Args)]
struct FakeHosts {
    /// Simulated compute hosts to run in-process (`compute_agent.fake_hosts`).
    #[arg(long)]
    fake_hosts: Option<u32>,
}

impl FakeHosts {
    fn apply(&self, config: &mut Config) {
        if let Some(n) = self.fake_hosts {
            config.compute_agent.fake_hosts = n;
        }
    }
}

#[derive(Subcommand)]
enum FernetAction {
    /// Create the key repository if it has no keys (a staged and a primary key).
    Setup,
    /// Promote the staged key to primary, stage a new key, drop the oldest beyond max_active_keys.
    Rotate,
}

fn load_config(cli: &Cli) -> anyhow::Result<Config> {
    let mut config = Config::load(cli.config.as_deref())?;
    if let Some(dir) = &cli.data_dir {
        config.data_dir = dir.clone();
    }
    Ok(config)
}

fn init_logging(config: &Config) {
    use tracing_subscriber::EnvFilter;
    // lapin logs every returned (unroutable) message whole at WARN; the bus reports those
    // itself as "no one listens on …".
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("{},lapin=error", config.log.level)));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if config.log.format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut config = load_config(&cli)?;
    match &cli.command {
        Command::Up { hosts } | Command::Serve { hosts } => hosts.apply(&mut config),
        Command::Agent { kind: AgentKind::Compute { transport_url, host } } => {
            if let Some(url) = transport_url {
                config.bus.transport_url = url.clone();
            }
            if let Some(host) = host {
                config.compute_agent.host = host.clone();
            }
        }
        _ => {}
    }
    init_logging(&config);
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the runtime")?;
    runtime.block_on(async move {
        match cli.command {
            Command::Up { .. } => services::up(config, true).await,
            Command::Serve { .. } => services::up(config, false).await,
            Command::Bootstrap { password } => services::bootstrap(config, password).await.map(|_| ()),
            Command::Agent { kind: AgentKind::Compute { .. } } => compute::run_agent(config).await,
            Command::Fernet { action } => fernet(config, action),
        }
    })
}

fn fernet(config: Config, action: FernetAction) -> anyhow::Result<()> {
    use stratus_core::token::KeyRepository;
    let repo = KeyRepository::new(config.key_repository())
        .with_max_active_keys(config.identity.max_active_keys as usize);
    match action {
        FernetAction::Setup => {
            let outcome = repo.setup()?;
            println!("{outcome:?}: {}", config.key_repository().display());
        }
        FernetAction::Rotate => {
            let report = repo.rotate()?;
            println!("{report:?}");
        }
    }
    println!("keys: {:?}", repo.key_indexes()?);
    Ok(())
}
