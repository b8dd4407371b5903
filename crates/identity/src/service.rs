//! The identity service object: its store, keys, policy and caches, and the few rules that
//! every part of it shares (authorization, revocation, cache invalidation).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde_json::Value;
use stratus_core::auth::AuthContext;
use stratus_core::config::Config;
use stratus_core::db::Db;
use stratus_core::error::{ApiError, ApiResult};
use stratus_core::policy::Policy;
use stratus_core::token::keys::KeyRepository;
use stratus_core::token::revoke::{RevocationList, RevokeEvent};
use stratus_core::token::TokenProvider;

use crate::store::Store;

pub struct Identity {
    pub config: Config,
    pub store: Store,
    pub tokens: TokenProvider,
    pub revocations: RevocationList,
    pub policy: Policy,
    /// Bumped by every change that can alter what a token means (roles, users, catalog …);
    /// cached answers of an older generation are recomputed.
    generation: AtomicU64,
    pub(crate) token_cache: RwLock<HashMap<String, (u64, Arc<AuthContext>)>>,
    pub(crate) catalog_cache: RwLock<Option<(u64, Arc<Value>)>>,
    /// A hash at the configured cost, checked when a user does not exist so that a login
    /// takes as long for a missing user as for a wrong password.
    decoy_hash: tokio::sync::OnceCell<String>,
    role_cache: RwLock<Option<(u64, Arc<crate::access::RoleSnapshot>)>>,
}

impl Identity {
    /// Opens the database (migrating it), the key repository and the policy.
    pub async fn open(config: Config) -> anyhow::Result<Arc<Identity>> {
        let url = config.database_url("identity", &config.identity.database_url);
        let db = Db::connect(&url).await?;
        let store = Store::open(db).await?;
        let repo = KeyRepository::new(config.key_repository())
            .with_max_active_keys(config.identity.max_active_keys as usize);
        repo.setup().context("setting up the fernet key repository")?;
        let tokens = TokenProvider::from_repository(&repo).context("loading fernet keys")?;
        let mut policy = Policy::new(crate::policy_defaults::DEFAULTS)?;
        if !config.identity.policy_file.is_empty() {
            policy
                .load_overrides(std::path::Path::new(&config.identity.policy_file))
                .context("loading the identity policy file")?;
        }
        let identity = Identity {
            config,
            store,
            tokens,
            revocations: RevocationList::new(),
            policy,
            generation: AtomicU64::new(1),
            token_cache: RwLock::new(HashMap::new()),
            catalog_cache: RwLock::new(None),
            decoy_hash: tokio::sync::OnceCell::new(),
            role_cache: RwLock::new(None),
        };
        identity.load_revocations().await?;
        Ok(Arc::new(identity))
    }

    pub(crate) async fn decoy_hash(&self) -> ApiResult<String> {
        let rounds = self.config.identity.password_hash_rounds;
        self.decoy_hash
            .get_or_try_init(|| async move {
                crate::password::hash(&crate::password::generate_secret(16), rounds).await
            })
            .await
            .cloned()
    }

    /// Roles and implication rules as of the current generation.
    pub async fn role_snapshot(&self) -> ApiResult<Arc<crate::access::RoleSnapshot>> {
        let generation = self.generation();
        if let Some((g, snap)) = self.role_cache.read().expect("role cache").as_ref() {
            if *g == generation {
                return Ok(snap.clone());
            }
        }
        let snap = Arc::new(crate::access::RoleSnapshot {
            roles: self.store.all_roles().await?.into_iter().map(|r| (r.id.clone(), r)).collect(),
            implied: self.store.implied_roles().await?,
        });
        *self.role_cache.write().expect("role cache") = Some((generation, snap.clone()));
        Ok(snap)
    }

    /// Effective role ids of a user on a scope (groups, inheritance, implied roles).
    pub async fn effective_role_ids(
        &self,
        user_id: &str,
        scope: &crate::access::ScopeRef,
    ) -> ApiResult<std::collections::BTreeSet<String>> {
        let direct = self.store.direct_role_ids(user_id, scope).await?;
        if direct.is_empty() {
            return Ok(direct);
        }
        Ok(self.role_snapshot().await?.effective(direct))
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Something changed that cached token answers may depend on.
    pub fn changed(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.token_cache.write().expect("token cache").clear();
    }

    /// Checks the caller against a policy rule; 403 in keystone's words when it fails.
    pub fn authorize(&self, ctx: &AuthContext, rule: &str, target: &Value) -> ApiResult<()> {
        if self.allowed(ctx, rule, target) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "You are not authorized to perform the requested action: {rule}."
            )))
        }
    }

    /// Like [`authorize`] but answers yes/no, for filtering lists.
    pub fn allowed(&self, ctx: &AuthContext, rule: &str, target: &Value) -> bool {
        self.policy.enforce(rule, &ctx.credentials(), target)
    }

    // ---- revocation ----

    /// Events older than any token that could still be presented (its lifetime plus the
    /// allow_expired window) can never match again.
    fn revocation_horizon(&self) -> DateTime<Utc> {
        let cfg = &self.config.identity;
        Utc::now() - chrono::Duration::seconds((cfg.token_expiration + cfg.allow_expired_window) as i64)
    }

    async fn load_revocations(&self) -> anyhow::Result<()> {
        let cutoff = stratus_core::db::time_string(self.revocation_horizon());
        self.store.prune_revocations(&cutoff).await?;
        let events: Vec<RevokeEvent> = self
            .store
            .list_revocations(None)
            .await?
            .iter()
            .filter_map(|s| serde_json::from_str(s).ok())
            .collect();
        self.revocations.replace_all(events);
        Ok(())
    }

    /// Records a revocation event: persisted, applied at once, caches dropped.
    pub async fn revoke(&self, event: RevokeEvent) -> ApiResult<()> {
        let json = serde_json::to_string(&event).map_err(ApiError::internal)?;
        self.store
            .add_revocation(&crate::model::new_id(), &stratus_core::db::time_string(event.revoked_at), &json)
            .await?;
        self.revocations.add(event);
        let horizon = self.revocation_horizon();
        if self.revocations.prune(horizon) > 0 {
            self.store.prune_revocations(&stratus_core::db::time_string(horizon)).await?;
        }
        self.changed();
        Ok(())
    }

    /// Revokes every token matching `event` issued up to now. Fernet timestamps have whole
    /// seconds, so the event covers the current second and the call returns only once that
    /// second is over: a token issued after the caller sees the change is never caught by it.
    pub async fn revoke_issued_before_now(&self, event: RevokeEvent) -> ApiResult<()> {
        self.revoke_all_issued_before_now(vec![event]).await
    }

    pub async fn revoke_all_issued_before_now(&self, events: Vec<RevokeEvent>) -> ApiResult<()> {
        if events.is_empty() {
            return Ok(());
        }
        let now = Utc::now();
        let this_second = DateTime::from_timestamp(now.timestamp(), 0).expect("valid time");
        for mut event in events {
            event.issued_before = this_second;
            event.revoked_at = now;
            self.revoke(event).await?;
        }
        let next = this_second + chrono::Duration::seconds(1);
        if let Ok(wait) = (next - Utc::now()).to_std() {
            tokio::time::sleep(wait + std::time::Duration::from_millis(5)).await;
        }
        Ok(())
    }

    pub async fn revoke_user(&self, user_id: &str) -> ApiResult<()> {
        self.revoke_issued_before_now(RevokeEvent::for_user(user_id, Utc::now())).await
    }

    pub async fn revoke_project(&self, project_id: &str) -> ApiResult<()> {
        self.revoke_issued_before_now(RevokeEvent {
            project_id: Some(project_id.into()),
            ..RevokeEvent::new(Utc::now())
        })
        .await
    }

    pub async fn revoke_domain(&self, domain_id: &str) -> ApiResult<()> {
        self.revoke_issued_before_now(RevokeEvent {
            domain_id: Some(domain_id.into()),
            ..RevokeEvent::new(Utc::now())
        })
        .await
    }
}

impl Identity {
    /// Whether the project or a project above it is disabled. As keystone: nothing is created
    /// or enabled below a disabled project.
    pub async fn branch_disabled(&self, project_id: &str) -> ApiResult<bool> {
        let (_, ancestors) = self.store.project_lineage(project_id).await?;
        for id in std::iter::once(project_id.to_string()).chain(ancestors) {
            if self.store.get_project(&id).await?.is_some_and(|p| !p.enabled) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Whether a project below this one is enabled. As keystone: a project is disabled only
    /// once its whole subtree is.
    pub async fn subtree_enabled(&self, project_id: &str) -> ApiResult<bool> {
        let mut frontier = vec![project_id.to_string()];
        let mut seen = std::collections::BTreeSet::new();
        while let Some(parent) = frontier.pop() {
            let filter = crate::store::ProjectFilter { parent_id: Some(parent), ..Default::default() };
            for child in self.store.list_projects(&filter).await? {
                if child.enabled {
                    return Ok(true);
                }
                if seen.insert(child.id.clone()) {
                    frontier.push(child.id);
                }
            }
        }
        Ok(false)
    }

    pub async fn scopable_projects(&self, user_id: &str) -> ApiResult<Vec<crate::model::Project>> {
        self.store.projects_with_access(user_id).await
    }

    pub async fn scopable_domains(&self, user_id: &str) -> ApiResult<Vec<crate::model::Domain>> {
        self.store.domains_with_access(user_id).await
    }
}

impl Identity {
    /// Users holding the role anywhere, directly or through a group.
    pub async fn role_holders(&self, role_id: &str) -> ApiResult<Vec<String>> {
        use crate::model::ActorType;
        let assignments = self
            .store
            .list_assignments(&crate::store::AssignmentFilter {
                role_id: Some(role_id.into()),
                ..Default::default()
            })
            .await?;
        let mut users = std::collections::BTreeSet::new();
        for a in assignments {
            match a.actor_type {
                ActorType::User => {
                    users.insert(a.actor_id);
                }
                ActorType::Group => users.extend(self.store.group_member_ids(&a.actor_id).await?),
            }
        }
        Ok(users.into_iter().collect())
    }

    /// Revokes the tokens of several users at once (one wait for the second to pass).
    pub async fn revoke_users(&self, user_ids: &[String]) -> ApiResult<()> {
        let events = user_ids.iter().map(|u| RevokeEvent::for_user(u.clone(), Utc::now())).collect();
        self.revoke_all_issued_before_now(events).await
    }
}

impl Identity {
    /// Picks up `stratus fernet rotate` (or keys distributed from another node) without a
    /// restart: checks the repository every few seconds and reloads when its keys changed.
    pub fn spawn_key_watcher(self: &Arc<Self>, shutdown: stratus_core::http::Shutdown) {
        let identity = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(KEY_CHECK_INTERVAL);
            let stop = shutdown.wait();
            tokio::pin!(stop);
            loop {
                tokio::select! {
                    _ = &mut stop => return,
                    _ = tick.tick() => {}
                }
                let Some(identity) = identity.upgrade() else { return };
                let on_disk = match identity.tokens.repository().key_indexes() {
                    Ok(mut keys) => {
                        keys.sort_unstable();
                        keys
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot read the fernet key repository");
                        continue;
                    }
                };
                let mut loaded = identity.tokens.key_indexes();
                loaded.sort_unstable();
                if on_disk != loaded {
                    match identity.tokens.reload() {
                        Ok(()) => {
                            tracing::info!(keys = ?identity.tokens.key_indexes(), "reloaded fernet keys")
                        }
                        Err(e) => tracing::warn!(error = %e, "keeping the current fernet keys"),
                    }
                }
            }
        });
    }
}

const KEY_CHECK_INTERVAL: std::time::Duration = std::time::Duration::from_secs(2);
