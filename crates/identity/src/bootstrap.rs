//! `stratus bootstrap`, like `keystone-manage bootstrap`: idempotently creates the default
//! domain, the admin and service projects, the admin/member/reader roles (admin ⇒ member ⇒
//! reader) and the service role, the admin user with admin on its project and on the system,
//! the region, and the catalog entries of every service this node serves.

use std::path::{Path, PathBuf};

use anyhow::Context;
use stratus_core::error::ApiResult;

use crate::model::*;
use crate::password;
use crate::service::Identity;

/// A service to list in the catalog, with the URL of all three interfaces.
#[derive(Debug, Clone)]
pub struct CatalogEntry {
    pub service_type: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub url: String,
}

pub struct BootstrapReport {
    pub admin_password: String,
    /// Where a generated password was stored.
    pub password_file: Option<PathBuf>,
}

pub const ADMIN_PASSWORD_FILE: &str = "admin-password";

impl Identity {
    pub async fn bootstrap(
        &self,
        password: Option<&str>,
        catalog: &[CatalogEntry],
    ) -> anyhow::Result<BootstrapReport> {
        self.ensure_domain(DEFAULT_DOMAIN_ID, "Default", "The default domain").await?;
        let admin_project =
            self.ensure_project("admin", "Bootstrap project for initializing the cloud.").await?;
        self.ensure_project("service", "Service Project").await?;

        let admin = self.ensure_role("admin").await?;
        let member = self.ensure_role("member").await?;
        let reader = self.ensure_role("reader").await?;
        self.ensure_role("service").await?;
        self.store.add_implied_role(&admin, &member).await?;
        self.store.add_implied_role(&member, &reader).await?;

        let password_path = self.config.data_dir.join(ADMIN_PASSWORD_FILE);
        let (admin_password, password_file) = self.ensure_admin_user(password, &password_path).await?;
        let admin_user = self
            .store
            .get_user_by_name(DEFAULT_DOMAIN_ID, "admin")
            .await?
            .context("admin user vanished during bootstrap")?;
        for (target_type, target_id) in
            [(TargetType::Project, admin_project.clone()), (TargetType::System, SYSTEM_ALL.to_string())]
        {
            self.store
                .grant(&Assignment {
                    actor_type: ActorType::User,
                    actor_id: admin_user.id.clone(),
                    target_type,
                    target_id,
                    role_id: admin.clone(),
                    inherited: false,
                })
                .await?;
        }

        let region = self.config.region.clone();
        if self.store.get_region(&region).await?.is_none() {
            self.store
                .create_region(&Region {
                    id: region.clone(),
                    description: String::new(),
                    parent_region_id: None,
                    extra: Default::default(),
                })
                .await?;
        }
        for entry in catalog {
            self.ensure_catalog_entry(entry, &region).await?;
        }
        self.changed();
        Ok(BootstrapReport { admin_password, password_file })
    }

    async fn ensure_domain(&self, id: &str, name: &str, description: &str) -> ApiResult<()> {
        if self.store.get_domain(id).await?.is_none() {
            self.store
                .create_domain(&Domain {
                    id: id.into(),
                    name: name.into(),
                    description: Some(description.into()),
                    enabled: true,
                    extra: Default::default(),
                })
                .await?;
        }
        Ok(())
    }

    async fn ensure_project(&self, name: &str, description: &str) -> ApiResult<String> {
        if let Some(p) = self.store.get_project_by_name(DEFAULT_DOMAIN_ID, name).await? {
            return Ok(p.id);
        }
        let p = Project {
            id: new_id(),
            name: name.into(),
            domain_id: DEFAULT_DOMAIN_ID.into(),
            parent_id: None,
            description: Some(description.into()),
            enabled: true,
            tags: vec![],
            extra: Default::default(),
        };
        self.store.create_project(&p).await?;
        Ok(p.id)
    }

    async fn ensure_role(&self, name: &str) -> ApiResult<String> {
        if let Some(r) = self.store.get_global_role_by_name(name).await? {
            return Ok(r.id);
        }
        let r = Role {
            id: new_id(),
            name: name.into(),
            domain_id: None,
            description: None,
            extra: Default::default(),
        };
        self.store.create_role(&r).await?;
        Ok(r.id)
    }

    /// The admin user with a password: the one given, else the stored one, else a new one.
    async fn ensure_admin_user(
        &self,
        given: Option<&str>,
        path: &Path,
    ) -> anyhow::Result<(String, Option<PathBuf>)> {
        let stored =
            std::fs::read_to_string(path).ok().map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        let (password, file) = match (given, stored) {
            (Some(p), _) => (p.to_string(), None),
            (None, Some(p)) => (p, Some(path.to_path_buf())),
            (None, None) => {
                let p = password::generate_secret(24);
                write_private(path, &format!("{p}\n"))?;
                (p, Some(path.to_path_buf()))
            }
        };
        let rounds = self.config.identity.password_hash_rounds;
        match self.store.get_user_by_name(DEFAULT_DOMAIN_ID, "admin").await? {
            None => {
                let u = User {
                    id: new_id(),
                    name: "admin".into(),
                    domain_id: DEFAULT_DOMAIN_ID.into(),
                    enabled: true,
                    default_project_id: None,
                    password_hash: Some(password::hash(&password, rounds).await?),
                    failed_auth_count: 0,
                    last_failed_auth: None,
                    extra: Default::default(),
                };
                self.store.create_user(&u).await?;
            }
            Some(u) => {
                // As keystone-manage bootstrap: the given password is made current.
                let current = match &u.password_hash {
                    Some(h) => password::verify(&password, h).await,
                    None => false,
                };
                if given.is_some() && !current {
                    self.store.set_password_hash(&u.id, &password::hash(&password, rounds).await?).await?;
                }
                if !u.enabled {
                    let mut u = u.clone();
                    u.enabled = true;
                    self.store.update_user(&u).await?;
                }
            }
        }
        Ok((password, file))
    }

    /// A service user (`nova` …) with admin and service roles on the service project, as
    /// deployment guides create for every OpenStack service. Its password lives in
    /// `<data_dir>/<name>-service-password` (0600), generated on first use; the user's hash
    /// is brought back to it if they differ. Returns the password.
    pub async fn ensure_service_user(&self, name: &str) -> anyhow::Result<String> {
        let path = self.config.data_dir.join(format!("{name}-service-password"));
        let password = match std::fs::read_to_string(&path).ok().map(|s| s.trim().to_string()) {
            Some(p) if !p.is_empty() => p,
            _ => {
                let p = password::generate_secret(24);
                write_private(&path, &format!("{p}\n"))?;
                p
            }
        };
        let rounds = self.config.identity.password_hash_rounds;
        let user_id = match self.store.get_user_by_name(DEFAULT_DOMAIN_ID, name).await? {
            Some(u) => {
                let current = match &u.password_hash {
                    Some(h) => password::verify(&password, h).await,
                    None => false,
                };
                if !current {
                    self.store.set_password_hash(&u.id, &password::hash(&password, rounds).await?).await?;
                }
                u.id
            }
            None => {
                let u = User {
                    id: new_id(),
                    name: name.into(),
                    domain_id: DEFAULT_DOMAIN_ID.into(),
                    enabled: true,
                    default_project_id: None,
                    password_hash: Some(password::hash(&password, rounds).await?),
                    failed_auth_count: 0,
                    last_failed_auth: None,
                    extra: Default::default(),
                };
                self.store.create_user(&u).await?;
                u.id
            }
        };
        let project = self.ensure_project("service", "Service Project").await?;
        for role in ["admin", "service"] {
            let role_id = self.ensure_role(role).await?;
            self.store
                .grant(&Assignment {
                    actor_type: ActorType::User,
                    actor_id: user_id.clone(),
                    target_type: TargetType::Project,
                    target_id: project.clone(),
                    role_id,
                    inherited: false,
                })
                .await?;
        }
        self.changed();
        Ok(password)
    }

    async fn ensure_catalog_entry(&self, e: &CatalogEntry, region: &str) -> ApiResult<()> {
        let existing = self.store.list_services(Some(e.name), Some(e.service_type)).await?.into_iter().next();
        let service_id = match existing {
            Some(s) => s.id,
            None => {
                let s = Service {
                    id: new_id(),
                    service_type: e.service_type.into(),
                    name: Some(e.name.into()),
                    description: Some(e.description.into()),
                    enabled: true,
                    extra: Default::default(),
                };
                self.store.create_service(&s).await?;
                s.id
            }
        };
        let endpoints = self.store.list_endpoints(Some(&service_id), None, Some(region)).await?;
        for interface in Interface::ALL {
            match endpoints.iter().find(|ep| ep.interface == interface) {
                Some(ep) if ep.url == e.url => {}
                Some(ep) => {
                    let mut ep = ep.clone();
                    ep.url = e.url.clone();
                    self.store.update_endpoint(&ep).await?;
                }
                None => {
                    self.store
                        .create_endpoint(&Endpoint {
                            id: new_id(),
                            service_id: service_id.clone(),
                            region_id: Some(region.into()),
                            interface,
                            url: e.url.clone(),
                            enabled: true,
                            extra: Default::default(),
                        })
                        .await?;
                }
            }
        }
        Ok(())
    }
}

/// Writes a file readable by its owner only (0600), replacing it atomically.
pub fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("writing {}", tmp.display()))?;
    f.write_all(contents.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
