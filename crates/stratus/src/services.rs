//! Starting the services this binary serves, in one process.

use std::sync::Arc;

use anyhow::Context;
use stratus_core::auth::SharedResolver;
use stratus_core::config::Config;
use stratus_core::http::{self, ShutdownTrigger};
use stratus_identity::bootstrap::{BootstrapReport, CatalogEntry};
use stratus_identity::tokens::LocalResolver;
use stratus_identity::Identity;
use stratus_object_storage::ObjectStorage;
use stratus_placement::PlacementService;

use stratus_core::bus::SharedBus;

use crate::{compute, credentials, image_store};

/// Every service in the catalog of this node.
pub fn catalog(config: &Config) -> Vec<CatalogEntry> {
    vec![
        CatalogEntry {
            service_type: "identity",
            name: "keystone",
            description: "OpenStack Identity",
            url: format!("{}/v3", config.public_url(&config.identity.listen)),
        },
        CatalogEntry {
            service_type: "image",
            name: "glance",
            description: "OpenStack Image",
            url: config.public_url(&config.image.listen),
        },
        CatalogEntry {
            service_type: "placement",
            name: "placement",
            description: "OpenStack Placement",
            url: config.public_url(&config.placement.listen),
        },
        CatalogEntry {
            service_type: "compute",
            name: "nova",
            description: "OpenStack Compute",
            url: format!("{}/v2.1", config.public_url(&config.compute.listen)),
        },
        CatalogEntry {
            service_type: "object-store",
            name: "swift",
            description: "OpenStack Object Storage",
            url: format!("{}/v1/AUTH_%(project_id)s", config.public_url(&config.object_storage.listen)),
        },
    ]
}

fn prepare_data_dir(config: &Config) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let dir = &config.data_dir;
    std::fs::create_dir_all(dir).with_context(|| format!("creating the data dir {}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).ok();
    Ok(())
}

async fn open_identity(config: &Config) -> anyhow::Result<Arc<Identity>> {
    prepare_data_dir(config)?;
    Identity::open(config.clone()).await
}

async fn bootstrap_with(
    identity: &Identity,
    config: &Config,
    password: Option<String>,
) -> anyhow::Result<BootstrapReport> {
    let password =
        password.or_else(|| Some(config.identity.admin_password.clone()).filter(|p| !p.is_empty()));
    let report = identity.bootstrap(password.as_deref(), &catalog(config)).await?;
    credentials::write(config, &report.admin_password)?;
    Ok(report)
}

pub async fn bootstrap(config: Config, password: Option<String>) -> anyhow::Result<BootstrapReport> {
    let identity = open_identity(&config).await?;
    let report = bootstrap_with(&identity, &config, password).await?;
    println!("Bootstrapped {}", config.data_dir.display());
    print_credentials(&config, &report);
    identity.store.db().close().await;
    Ok(report)
}

fn print_credentials(config: &Config, report: &BootstrapReport) {
    println!("  credentials: {}", credentials::openrc_path(config).display());
    println!("               {}", credentials::clouds_path(config).display());
    if let Some(f) = &report.password_file {
        println!("  admin password: {}", f.display());
    }
}

/// `stratus up` (bootstrap first) and `stratus serve`.
pub async fn up(config: Config, bootstrap_first: bool) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    image_store::check(&config)?;
    let identity = open_identity(&config).await?;
    if bootstrap_first {
        let report = bootstrap_with(&identity, &config, None).await?;
        println!("Stratus is up ({} ms). Data: {}", started.elapsed().as_millis(), config.data_dir.display());
        for entry in catalog(&config) {
            println!("  {:<10} {}", entry.service_type, entry.url);
        }
        print_credentials(&config, &report);
        println!("  try: source {} && openstack token issue", credentials::openrc_path(&config).display());
    }

    let image = image_store::open(&identity, &config).await?;
    let placement = PlacementService::open(config.clone()).await.context("opening the placement service")?;
    let resolver: SharedResolver = Arc::new(LocalResolver(identity.clone()));
    let bus: SharedBus = compute::connect_bus(&config).await?;
    let service_auth = compute::service_auth(&identity, &config).await?;
    let compute =
        compute::open(&config, bus.clone(), service_auth.clone(), placement.clone(), image.clone()).await?;
    let object_storage = ObjectStorage::open(config.clone()).await.context("opening object storage")?;

    let (trigger, shutdown) = ShutdownTrigger::new();
    let identity_listener = http::bind("identity", &config.identity.listen).await?;
    let image_listener = http::bind("image", &config.image.listen).await?;
    let placement_listener = http::bind("placement", &config.placement.listen).await?;
    let compute_listener = http::bind("compute", &config.compute.listen).await?;
    let object_listener = http::bind("object-storage", &config.object_storage.listen).await?;
    identity.spawn_key_watcher(shutdown.clone());
    let servers = [
        tokio::spawn(http::serve(
            "identity",
            identity_listener,
            stratus_identity::api::router(identity.clone()),
            shutdown.clone(),
        )),
        tokio::spawn(http::serve(
            "image",
            image_listener,
            stratus_image::api::router(image.clone(), resolver.clone()),
            shutdown.clone(),
        )),
        tokio::spawn(http::serve(
            "placement",
            placement_listener,
            stratus_placement::api::router(placement.clone(), resolver.clone()),
            shutdown.clone(),
        )),
        tokio::spawn(http::serve(
            "compute",
            compute_listener,
            stratus_compute::api::router(compute.clone(), resolver.clone()),
            shutdown.clone(),
        )),
        tokio::spawn(http::serve(
            "object-storage",
            object_listener,
            stratus_object_storage::api::router(object_storage.clone(), resolver),
            shutdown.clone(),
        )),
    ];
    let mut workers = compute::spawn_fake_agents(&config, &bus, &service_auth, &shutdown);
    workers.push(tokio::spawn(compute.clone().run_conductor(shutdown.clone())));
    workers.push(object_storage.clone().spawn_expirer(shutdown.clone()));

    wait_for_signal().await;
    tracing::info!("shutting down");
    trigger.fire();
    for server in servers {
        server.await.context("server task")??;
    }
    for worker in workers {
        worker.await.context("worker task")??;
    }
    compute.store.db().close().await;
    identity.store.db().close().await;
    image.store.db().close().await;
    placement.store.db().close().await;
    object_storage.close().await;
    Ok(())
}

pub async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
