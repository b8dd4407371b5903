//! The image service's stores, as `[image] default_store` asks: the file store alone, or the
//! swift store too, keeping image data in object storage as glance_store's swift driver does
//! in single-tenant mode: all of it in the account of the `glance` service user's project
//! (`AUTH_<service project id>`), container `[image] swift_container`.

use std::sync::Arc;

use anyhow::{bail, Context};
use stratus_core::config::Config;
use stratus_core::service_auth::{PasswordAuth, ServiceCredentials};
use stratus_identity::model::DEFAULT_DOMAIN_ID;
use stratus_identity::Identity;
use stratus_image::backend::swift::{SwiftBackend, SwiftOptions, DEFAULT_MAX_OBJECT_SIZE};
use stratus_image::backend::ImageBackend;
use stratus_image::ImageService;

/// The service user the image service keeps data in object storage as.
pub const SERVICE_USER: &str = "glance";
/// The project of the service users; it owns the swift store's account.
const SERVICE_PROJECT: &str = "service";

/// Refuses a `default_store` this build does not have (before anything starts).
pub fn check(config: &Config) -> anyhow::Result<()> {
    match config.image.default_store.as_str() {
        "file" | "swift" => Ok(()),
        other => bail!(
            "unknown image store {other:?} in [image] default_store (STRATUS_IMAGE_DEFAULT_STORE): \
             use \"file\" or \"swift\""
        ),
    }
}

/// Opens the image service with the stores its configuration names.
pub async fn open(identity: &Identity, config: &Config) -> anyhow::Result<Arc<ImageService>> {
    check(config)?;
    let others = match config.image.default_store.as_str() {
        "swift" => vec![swift_store(identity, config).await.context("setting up the swift image store")?],
        _ => vec![],
    };
    ImageService::open_with_backends(config.clone(), others).await.context("opening the image service")
}

/// The swift store, authenticated as the `glance` service user (created here if missing, with
/// the admin role on the service project, which makes it the owner of that project's account).
async fn swift_store(identity: &Identity, config: &Config) -> anyhow::Result<Arc<dyn ImageBackend>> {
    let password =
        identity.ensure_service_user(SERVICE_USER).await.context("creating the glance service user")?;
    let project = identity
        .store
        .get_project_by_name(DEFAULT_DOMAIN_ID, SERVICE_PROJECT)
        .await?
        .context("the service project does not exist")?;
    let auth = PasswordAuth::new(ServiceCredentials {
        auth_url: format!("{}/v3", config.local_url(&config.identity.listen)),
        username: SERVICE_USER.into(),
        password,
        project_name: SERVICE_PROJECT.into(),
        user_domain_id: DEFAULT_DOMAIN_ID.into(),
        project_domain_id: DEFAULT_DOMAIN_ID.into(),
    });
    // This node's object storage, whose limit we know; another endpoint is assumed to have
    // swift's default limit.
    let (endpoint, max_object_size) = if config.image.swift_url.is_empty() {
        (config.local_url(&config.object_storage.listen), config.object_storage.max_file_size)
    } else {
        (config.image.swift_url.clone(), DEFAULT_MAX_OBJECT_SIZE)
    };
    let options = SwiftOptions {
        endpoint,
        project_id: project.id,
        container: config.image.swift_container.clone(),
        max_object_size,
    };
    Ok(Arc::new(SwiftBackend::new(options, auth)?))
}
