//! Who is calling: the token from `X-Auth-Token`, resolved to an [`AuthContext`].
//!
//! Services never ask the identity API per request. A [`TokenResolver`] decrypts the Fernet
//! token locally, checks expiry and revocations, and supplies the roles (in one process, the
//! identity service's own resolver; on another host, one that caches the identity answers).
//! Handlers take the [`Authenticated`] extractor; the resolver reaches it as a request extension
//! that the service's router installs.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::error::ApiError;

pub const AUTH_TOKEN_HEADER: &str = "x-auth-token";

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct NamedRef {
    pub id: String,
    pub name: String,
}

/// Everything a service needs to know about the caller.
#[derive(Debug, Clone, Serialize)]
pub struct AuthContext {
    pub user: NamedRef,
    pub user_domain: NamedRef,
    /// Set for a project-scoped token.
    pub project: Option<NamedRef>,
    pub project_domain: Option<NamedRef>,
    /// Set for a domain-scoped token.
    pub domain: Option<NamedRef>,
    /// `Some("all")` for a system-scoped token.
    pub system: Option<String>,
    /// Effective roles on the scope (implied roles included).
    pub roles: Vec<NamedRef>,
    pub methods: Vec<String>,
    pub audit_ids: Vec<String>,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub application_credential: Option<NamedRef>,
    /// Whether the scope is the cloud admin project (keystone's `is_admin_project`).
    pub is_admin_project: bool,
}

impl AuthContext {
    pub fn has_role(&self, name: &str) -> bool {
        self.roles.iter().any(|r| r.name.eq_ignore_ascii_case(name))
    }

    pub fn project_id(&self) -> Option<&str> {
        self.project.as_ref().map(|p| p.id.as_str())
    }

    pub fn role_names(&self) -> Vec<String> {
        self.roles.iter().map(|r| r.name.clone()).collect()
    }

    /// The caller as the policy engine sees it (oslo.context's policy values).
    pub fn credentials(&self) -> crate::policy::Credentials {
        crate::policy::Credentials {
            user_id: Some(self.user.id.clone()),
            user_domain_id: Some(self.user_domain.id.clone()),
            project_id: self.project.as_ref().map(|p| p.id.clone()),
            project_domain_id: self.project_domain.as_ref().map(|d| d.id.clone()),
            domain_id: self.domain.as_ref().map(|d| d.id.clone()),
            system_scope: self.system.clone(),
            roles: self.role_names(),
            is_admin_project: self.is_admin_project,
            ..Default::default()
        }
    }
}

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

#[derive(Debug, Clone, Copy, Default)]
pub struct ResolveOptions {
    /// Accept a token that expired less than the configured window ago (service users).
    pub allow_expired: bool,
}

pub trait TokenResolver: Send + Sync + 'static {
    /// The caller behind `token`, or a 401/404 ApiError saying why not.
    fn resolve<'a>(
        &'a self,
        token: &'a str,
        opts: ResolveOptions,
    ) -> BoxFuture<'a, Result<Arc<AuthContext>, ApiError>>;
}

/// The resolver as installed in a router: `router.layer(Extension(resolver))`.
pub type SharedResolver = Arc<dyn TokenResolver>;

/// Extractor for handlers that need an authenticated caller.
pub struct Authenticated(pub Arc<AuthContext>);

impl<S: Send + Sync> FromRequestParts<S> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        if let Some(ctx) = parts.extensions.get::<Arc<AuthContext>>() {
            return Ok(Authenticated(ctx.clone()));
        }
        let token = parts
            .headers
            .get(AUTH_TOKEN_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ApiError::unauthorized("The request you have made requires authentication."))?;
        let resolver = parts
            .extensions
            .get::<SharedResolver>()
            .ok_or_else(|| ApiError::internal("no token resolver installed on this router"))?
            .clone();
        let ctx = resolver.resolve(token, ResolveOptions::default()).await?;
        parts.extensions.insert(ctx.clone());
        Ok(Authenticated(ctx))
    }
}
