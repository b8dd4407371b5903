//! Issuing and validating tokens: who authenticates how, on which scope, with which roles.
//!
//! One path builds the [`AuthContext`] of a token — used when a token is issued, when it is
//! validated through the API, and when any service resolves `X-Auth-Token` — so the three
//! can never disagree.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use stratus_core::auth::{AuthContext, BoxFuture, NamedRef, ResolveOptions, TokenResolver};
use stratus_core::db::time_string;
use stratus_core::error::{ApiError, ApiResult};
use stratus_core::token::{new_audit_id, RevocationContext, Scope, TokenPayload, ValidatedToken};

use crate::access::ScopeRef;
use crate::model::{Domain, User, DEFAULT_DOMAIN_ID, SYSTEM_ALL};
use crate::password;
use crate::service::Identity;

/// A domain named by id or by name.
#[derive(Debug, Clone)]
pub enum DomainRef {
    Id(String),
    Name(String),
}

#[derive(Debug, Clone)]
pub enum UserRef {
    Id(String),
    Name { name: String, domain: DomainRef },
}

#[derive(Debug, Clone)]
pub enum ProjectRef {
    Id(String),
    Name { name: String, domain: DomainRef },
}

#[derive(Debug, Clone)]
pub enum ScopeRequest {
    /// No scope asked: the user's default project if it has roles there, else unscoped.
    Default,
    Unscoped,
    Project(ProjectRef),
    Domain(DomainRef),
    System,
}

/// How the caller proves who it is.
#[derive(Debug, Clone)]
pub enum Credential {
    Password { user: UserRef, password: String },
    Token { token: String },
    ApplicationCredential { id: Option<String>, name: Option<String>, user: Option<UserRef>, secret: String },
}

#[derive(Debug, Clone)]
pub struct AuthRequest {
    pub credential: Credential,
    pub scope: ScopeRequest,
}

/// Why a token is not valid; callers choose 401 (the caller's own token) or 404 (a subject).
#[derive(Debug, Clone)]
pub struct InvalidToken(pub String);

impl InvalidToken {
    pub fn unauthorized(self) -> ApiError {
        ApiError::unauthorized(format!("The request you have made requires authentication. {}", self.0))
    }
    pub fn not_found(self) -> ApiError {
        ApiError::not_found(format!("Could not find token: {}", self.0))
    }
}

fn bad_credentials() -> ApiError {
    ApiError::unauthorized("Invalid username or password.")
}

impl Identity {
    /// `POST /v3/auth/tokens`: checks the credential, resolves the scope, mints the token.
    pub async fn authenticate(&self, req: AuthRequest) -> ApiResult<(String, Arc<AuthContext>)> {
        let now = Utc::now();
        let lifetime = chrono::Duration::seconds(self.config.identity.token_expiration as i64);
        let (user, methods, expires_at, audit_ids, app_cred, forced_scope) = match req.credential {
            Credential::Password { user, password } => {
                let user = self.check_password(&user, &password).await?;
                (user, vec!["password".to_string()], now + lifetime, vec![new_audit_id()], None, None)
            }
            Credential::Token { token } => {
                let original =
                    self.validate(&token, ResolveOptions::default()).await.map_err(|e| e.unauthorized())?;
                if original.application_credential.is_some() {
                    return Err(ApiError::forbidden(
                        "A token created with an application credential cannot be rescoped.",
                    ));
                }
                let user = self.enabled_user(&original.user.id).await?;
                let mut methods = original.methods.clone();
                if !methods.iter().any(|m| m == "token") {
                    methods.push("token".into());
                }
                let mut audit = vec![new_audit_id()];
                audit.extend(original.audit_ids.last().cloned());
                (user, methods, original.expires_at, audit, None, None)
            }
            Credential::ApplicationCredential { id, name, user, secret } => {
                let cred = self.check_app_cred(id, name, user, &secret).await?;
                let user = self.enabled_user(&cred.user_id).await?;
                let mut expires = now + lifetime;
                if let Some(exp) = cred.expires_at.as_deref().and_then(stratus_core::db::parse_time) {
                    expires = expires.min(exp);
                }
                let project = cred.project_id.clone();
                (
                    user,
                    vec!["application_credential".to_string()],
                    expires,
                    vec![new_audit_id()],
                    Some(cred.id.clone()),
                    Some(ScopeRef::Project(project)),
                )
            }
        };

        let scope = match forced_scope {
            Some(s) => {
                if !matches!(req.scope, ScopeRequest::Default) {
                    let asked = self.resolve_scope(&req.scope, &user).await?;
                    if asked.as_ref() != Some(&s) {
                        return Err(ApiError::unauthorized(
                            "An application credential is scoped to its own project and cannot be rescoped.",
                        ));
                    }
                }
                Some(s)
            }
            None => self.resolve_scope(&req.scope, &user).await?,
        };
        let payload = TokenPayload {
            user_id: user.id.clone(),
            methods,
            scope: match &scope {
                None => Scope::Unscoped,
                Some(ScopeRef::Project(p)) => Scope::Project(p.clone()),
                Some(ScopeRef::Domain(d)) => Scope::Domain(d.clone()),
                Some(ScopeRef::System) => Scope::System(SYSTEM_ALL.into()),
            },
            expires_at,
            audit_ids,
            app_cred_id: app_cred,
        };
        let token = self.tokens.issue(&payload).map_err(ApiError::internal)?;
        let validated = self.tokens.decode(&token).map_err(ApiError::internal)?;
        let ctx = Arc::new(self.context_for(&validated).await.map_err(|e| match e {
            ContextError::Api(e) => e,
            ContextError::Invalid(why) => ApiError::unauthorized(why),
        })?);
        Ok((token, ctx))
    }

    /// The user, if the password is theirs and the account is usable: counts failures,
    /// honours lockout, refuses disabled users. Token issue and password change both use it.
    pub async fn check_password(&self, user_ref: &UserRef, password: &str) -> ApiResult<User> {
        let user = match self.find_user(user_ref).await? {
            Some(u) => u,
            None => {
                // Spend the time a real check would, so a missing user does not show.
                password::verify(password, &self.decoy_hash().await?).await;
                return Err(bad_credentials());
            }
        };
        let cfg = &self.config.identity;
        if cfg.lockout_failure_attempts > 0 && user.failed_auth_count >= cfg.lockout_failure_attempts as i64 {
            let locked_until = user
                .last_failed_auth
                .as_deref()
                .and_then(stratus_core::db::parse_time)
                .map(|t| t + chrono::Duration::seconds(cfg.lockout_duration as i64));
            if locked_until.is_some_and(|t| t > Utc::now()) {
                return Err(ApiError::unauthorized(format!(
                    "The account is locked for user: {}. Try again later.",
                    user.id
                )));
            }
        }
        let ok = match &user.password_hash {
            Some(h) => password::verify(password, h).await,
            None => false,
        };
        if !ok {
            self.store.record_failed_auth(&user.id).await?;
            return Err(bad_credentials());
        }
        if user.failed_auth_count > 0 {
            self.store.reset_failed_auth(&user.id).await?;
        }
        self.ensure_user_usable(&user).await?;
        Ok(user)
    }

    async fn check_app_cred(
        &self,
        id: Option<String>,
        name: Option<String>,
        user: Option<UserRef>,
        secret: &str,
    ) -> ApiResult<crate::model::ApplicationCredential> {
        let cred = match (id, name, user) {
            (Some(id), _, _) => self.store.get_app_cred(&id).await?,
            (None, Some(name), Some(user_ref)) => match self.find_user(&user_ref).await? {
                Some(u) => self.store.list_app_creds(&u.id, Some(&name)).await?.into_iter().next(),
                None => None,
            },
            _ => {
                return Err(ApiError::bad_request(
                    "An application credential is named by its id, or by its name and its user.",
                ))
            }
        };
        let invalid = || ApiError::unauthorized("Invalid application credential or secret.");
        let cred = cred.ok_or_else(invalid)?;
        if !password::verify(secret, &cred.secret_hash).await {
            return Err(invalid());
        }
        if let Some(exp) = cred.expires_at.as_deref().and_then(stratus_core::db::parse_time) {
            if exp <= Utc::now() {
                return Err(ApiError::unauthorized("The application credential has expired."));
            }
        }
        Ok(cred)
    }

    pub async fn find_domain(&self, d: &DomainRef) -> ApiResult<Option<Domain>> {
        match d {
            DomainRef::Id(id) => self.store.get_domain(id).await,
            DomainRef::Name(name) => self.store.get_domain_by_name(name).await,
        }
    }

    async fn find_user(&self, u: &UserRef) -> ApiResult<Option<User>> {
        match u {
            UserRef::Id(id) => self.store.get_user(id).await,
            UserRef::Name { name, domain } => match self.find_domain(domain).await? {
                Some(d) => self.store.get_user_by_name(&d.id, name).await,
                None => Ok(None),
            },
        }
    }

    async fn enabled_user(&self, id: &str) -> ApiResult<User> {
        let user = self.store.get_user(id).await?.ok_or_else(bad_credentials)?;
        self.ensure_user_usable(&user).await?;
        Ok(user)
    }

    async fn ensure_user_usable(&self, user: &User) -> ApiResult<()> {
        if !user.enabled {
            return Err(ApiError::unauthorized(format!("The account is disabled for user: {}.", user.id)));
        }
        match self.store.get_domain(&user.domain_id).await? {
            Some(d) if d.enabled => Ok(()),
            _ => Err(ApiError::unauthorized(format!(
                "The account is disabled for user: {} (its domain is disabled).",
                user.id
            ))),
        }
    }

    /// Turns a scope request into a scope the user may have; None is unscoped.
    async fn resolve_scope(&self, req: &ScopeRequest, user: &User) -> ApiResult<Option<ScopeRef>> {
        match req {
            ScopeRequest::Unscoped => Ok(None),
            ScopeRequest::Default => {
                let Some(pid) = &user.default_project_id else { return Ok(None) };
                let usable = match self.store.get_project(pid).await? {
                    Some(p) if p.enabled => {
                        !self.effective_role_ids(&user.id, &ScopeRef::Project(p.id.clone())).await?.is_empty()
                    }
                    _ => false,
                };
                Ok(usable.then(|| ScopeRef::Project(pid.clone())))
            }
            ScopeRequest::System => Ok(Some(ScopeRef::System)),
            ScopeRequest::Domain(d) => {
                let domain = self.find_domain(d).await?.ok_or_else(|| {
                    ApiError::unauthorized(format!("Could not find domain: {}.", domain_ref_text(d)))
                })?;
                Ok(Some(ScopeRef::Domain(domain.id)))
            }
            ScopeRequest::Project(ProjectRef::Id(id)) => {
                let p = self
                    .store
                    .get_project(id)
                    .await?
                    .ok_or_else(|| ApiError::unauthorized(format!("Could not find project: {id}.")))?;
                Ok(Some(ScopeRef::Project(p.id)))
            }
            ScopeRequest::Project(ProjectRef::Name { name, domain }) => {
                let d = self.find_domain(domain).await?.ok_or_else(|| {
                    ApiError::unauthorized(format!("Could not find domain: {}.", domain_ref_text(domain)))
                })?;
                let p = self
                    .store
                    .get_project_by_name(&d.id, name)
                    .await?
                    .ok_or_else(|| ApiError::unauthorized(format!("Could not find project: {name}.")))?;
                Ok(Some(ScopeRef::Project(p.id)))
            }
        }
    }

    /// Validates a token: signature, expiry, revocation, and that its user, scope and roles
    /// still stand. Answers from a cache that any identity change clears.
    pub async fn validate(
        &self,
        token: &str,
        opts: ResolveOptions,
    ) -> Result<Arc<AuthContext>, InvalidToken> {
        let now = Utc::now();
        let generation = self.generation();
        if let Some((g, ctx)) = self.token_cache.read().expect("token cache").get(token) {
            if *g == generation && self.usable_at(ctx.expires_at, now, opts) {
                return Ok(ctx.clone());
            }
        }
        let validated = self.tokens.decode(token).map_err(|e| InvalidToken(e.to_string()))?;
        if !self.usable_at(validated.payload.expires_at, now, opts) {
            return Err(InvalidToken("The token has expired.".into()));
        }
        let ctx = match self.context_for(&validated).await {
            Ok(ctx) => Arc::new(ctx),
            Err(ContextError::Invalid(why)) => return Err(InvalidToken(why)),
            Err(ContextError::Api(e)) => return Err(InvalidToken(e.message)),
        };
        let role_ids: Vec<String> = ctx.roles.iter().map(|r| r.id.clone()).collect();
        let facts = RevocationContext {
            user_domain_id: Some(&ctx.user_domain.id),
            project_domain_id: ctx.project_domain.as_ref().map(|d| d.id.as_str()),
            role_ids: &role_ids,
        };
        if self.revocations.is_revoked(&validated, &facts) {
            return Err(InvalidToken("The token has been revoked.".into()));
        }
        let mut cache = self.token_cache.write().expect("token cache");
        if cache.len() >= TOKEN_CACHE_ENTRIES {
            // Expired answers go first; if that is not enough, start over (misses are cheap).
            cache.retain(|_, (_, c)| c.expires_at > now);
            if cache.len() >= TOKEN_CACHE_ENTRIES {
                cache.clear();
            }
        }
        if self.generation() == generation {
            cache.insert(token.to_string(), (generation, ctx.clone()));
        }
        Ok(ctx)
    }

    /// Unexpired, or (when the caller allows it) expired less than `allow_expired_window` ago.
    fn usable_at(&self, expires: DateTime<Utc>, now: DateTime<Utc>, opts: ResolveOptions) -> bool {
        let window = chrono::Duration::seconds(self.config.identity.allow_expired_window as i64);
        expires > now || (opts.allow_expired && now < expires + window)
    }

    /// The full meaning of a decoded token as things stand now.
    async fn context_for(&self, t: &ValidatedToken) -> Result<AuthContext, ContextError> {
        let p = &t.payload;
        let user = self
            .store
            .get_user(&p.user_id)
            .await?
            .ok_or_else(|| ContextError::Invalid(format!("Could not find user: {}.", p.user_id)))?;
        if !user.enabled {
            return Err(ContextError::Invalid(format!("The account is disabled for user: {}.", user.id)));
        }
        let user_domain = self.enabled_domain(&user.domain_id).await?;
        let mut ctx = AuthContext {
            user: NamedRef { id: user.id.clone(), name: user.name.clone() },
            user_domain: NamedRef { id: user_domain.id.clone(), name: user_domain.name.clone() },
            project: None,
            project_domain: None,
            domain: None,
            system: None,
            roles: vec![],
            methods: p.methods.clone(),
            audit_ids: p.audit_ids.clone(),
            issued_at: t.issued_at,
            expires_at: p.expires_at,
            application_credential: None,
            is_admin_project: false,
        };
        let scope = match &p.scope {
            Scope::Unscoped => None,
            Scope::System(s) => {
                if s != SYSTEM_ALL {
                    return Err(ContextError::Invalid(format!("Unknown system scope: {s}.")));
                }
                ctx.system = Some(s.clone());
                Some(ScopeRef::System)
            }
            Scope::Domain(d) => {
                let domain = self.enabled_domain(d).await?;
                ctx.domain = Some(NamedRef { id: domain.id.clone(), name: domain.name });
                Some(ScopeRef::Domain(domain.id))
            }
            Scope::Project(pid) => {
                let project = self
                    .store
                    .get_project(pid)
                    .await?
                    .ok_or_else(|| ContextError::Invalid(format!("Could not find project: {pid}.")))?;
                if !project.enabled {
                    return Err(ContextError::Invalid(format!("Project {pid} is disabled.")));
                }
                let pd = self.enabled_domain(&project.domain_id).await?;
                ctx.is_admin_project = project.name == "admin" && pd.id == DEFAULT_DOMAIN_ID;
                ctx.project = Some(NamedRef { id: project.id.clone(), name: project.name });
                ctx.project_domain = Some(NamedRef { id: pd.id, name: pd.name });
                Some(ScopeRef::Project(project.id))
            }
        };
        if let Some(scope) = &scope {
            let snapshot = self.role_snapshot().await?;
            let mut role_ids = self.effective_role_ids(&user.id, scope).await?;
            if let Some(cred_id) = &p.app_cred_id {
                let cred =
                    self.store.get_app_cred(cred_id).await?.filter(|c| c.user_id == user.id).ok_or_else(
                        || ContextError::Invalid("The application credential no longer exists.".into()),
                    )?;
                let granted: BTreeSet<String> = snapshot.implied.expand(cred.role_ids.iter().cloned());
                role_ids = role_ids.intersection(&granted).cloned().collect();
                ctx.application_credential = Some(NamedRef { id: cred.id, name: cred.name });
            }
            if role_ids.is_empty() {
                return Err(ContextError::Invalid(match scope {
                    ScopeRef::Project(p) => format!("User {} has no access to project {p}.", user.id),
                    ScopeRef::Domain(d) => format!("User {} has no access to domain {d}.", user.id),
                    ScopeRef::System => format!("User {} has no access to the system.", user.id),
                }));
            }
            for id in role_ids {
                if let Some(role) = snapshot.roles.get(&id) {
                    ctx.roles.push(NamedRef { id: role.id.clone(), name: role.name.clone() });
                }
            }
        }
        Ok(ctx)
    }

    async fn enabled_domain(&self, id: &str) -> Result<Domain, ContextError> {
        match self.store.get_domain(id).await? {
            Some(d) if d.enabled => Ok(d),
            Some(_) => Err(ContextError::Invalid(format!("Domain {id} is disabled."))),
            None => Err(ContextError::Invalid(format!("Could not find domain: {id}."))),
        }
    }

    /// The catalog: every enabled service with its enabled endpoints.
    pub async fn catalog(&self) -> ApiResult<Arc<Value>> {
        let generation = self.generation();
        if let Some((g, c)) = self.catalog_cache.read().expect("catalog cache").as_ref() {
            if *g == generation {
                return Ok(c.clone());
            }
        }
        let endpoints = self.store.list_endpoints(None, None, None).await?;
        let mut entries = Vec::new();
        for s in self.store.list_services(None, None).await? {
            if !s.enabled {
                continue;
            }
            let eps: Vec<Value> = endpoints
                .iter()
                .filter(|e| e.service_id == s.id && e.enabled)
                .map(|e| {
                    json!({"id": e.id, "interface": e.interface.as_str(), "region": e.region_id,
                           "region_id": e.region_id, "url": e.url})
                })
                .collect();
            entries.push(json!({"endpoints": eps, "id": s.id, "type": s.service_type, "name": s.name.clone().unwrap_or_default()}));
        }
        let catalog = Arc::new(Value::Array(entries));
        *self.catalog_cache.write().expect("catalog cache") = Some((generation, catalog.clone()));
        Ok(catalog)
    }

    /// The catalog as `ctx` sees it: `%(project_id)s` (or `%(tenant_id)s`, `$(project_id)s`)
    /// in endpoint URLs becomes the token's project, as keystone does; endpoints that need a
    /// project are left out of the catalog of a token without one.
    pub async fn catalog_for(&self, ctx: &AuthContext) -> ApiResult<Value> {
        let catalog = self.catalog().await?;
        let mut out = (*catalog).clone();
        let templated = |url: &str| {
            ["%(project_id)s", "%(tenant_id)s", "$(project_id)s", "$(tenant_id)s"]
                .iter()
                .any(|t| url.contains(t))
        };
        for entry in out.as_array_mut().into_iter().flatten() {
            let Some(eps) = entry.get_mut("endpoints").and_then(Value::as_array_mut) else { continue };
            eps.retain_mut(|ep| {
                let Some(url) = ep.get("url").and_then(Value::as_str).map(str::to_string) else {
                    return true;
                };
                if !templated(&url) {
                    return true;
                }
                let Some(project) = ctx.project_id() else { return false };
                let mut url = url;
                for t in ["%(project_id)s", "%(tenant_id)s", "$(project_id)s", "$(tenant_id)s"] {
                    url = url.replace(t, project);
                }
                ep["url"] = json!(url);
                true
            });
        }
        Ok(out)
    }

    /// The `{"token": …}` body of an issued or validated token.
    pub async fn token_body(&self, ctx: &AuthContext, with_catalog: bool) -> ApiResult<Value> {
        let mut t = json!({
            "methods": ctx.methods,
            "user": {
                "id": ctx.user.id, "name": ctx.user.name,
                "domain": {"id": ctx.user_domain.id, "name": ctx.user_domain.name},
                "password_expires_at": null,
            },
            "audit_ids": ctx.audit_ids,
            "expires_at": time_string(ctx.expires_at),
            "issued_at": time_string(ctx.issued_at),
        });
        let obj = t.as_object_mut().expect("object");
        if let (Some(p), Some(d)) = (&ctx.project, &ctx.project_domain) {
            obj.insert(
                "project".into(),
                json!({"id": p.id, "name": p.name, "domain": {"id": d.id, "name": d.name}}),
            );
            obj.insert("is_domain".into(), json!(false));
            obj.insert("is_admin_project".into(), json!(ctx.is_admin_project));
        }
        if let Some(d) = &ctx.domain {
            obj.insert("domain".into(), json!({"id": d.id, "name": d.name}));
        }
        if ctx.system.is_some() {
            obj.insert("system".into(), json!({"all": true}));
        }
        if ctx.project.is_some() || ctx.domain.is_some() || ctx.system.is_some() {
            obj.insert(
                "roles".into(),
                json!(ctx.roles.iter().map(|r| json!({"id": r.id, "name": r.name})).collect::<Vec<_>>()),
            );
            if with_catalog {
                obj.insert("catalog".into(), self.catalog_for(ctx).await?);
            }
        }
        if let Some(ac) = &ctx.application_credential {
            obj.insert(
                "application_credential".into(),
                json!({"id": ac.id, "name": ac.name, "restricted": true}),
            );
        }
        Ok(json!({ "token": t }))
    }
}

/// At about 2 KiB an answer, the cache stays under ~20 MiB.
const TOKEN_CACHE_ENTRIES: usize = 10_000;

fn domain_ref_text(d: &DomainRef) -> &str {
    match d {
        DomainRef::Id(s) | DomainRef::Name(s) => s,
    }
}

enum ContextError {
    Invalid(String),
    Api(ApiError),
}

impl From<ApiError> for ContextError {
    fn from(e: ApiError) -> Self {
        ContextError::Api(e)
    }
}

/// Any service in this process resolves tokens through the identity service directly.
pub struct LocalResolver(pub Arc<Identity>);

impl TokenResolver for LocalResolver {
    fn resolve<'a>(
        &'a self,
        token: &'a str,
        opts: ResolveOptions,
    ) -> BoxFuture<'a, Result<Arc<AuthContext>, ApiError>> {
        Box::pin(async move { self.0.validate(token, opts).await.map_err(InvalidToken::unauthorized) })
    }
}
