//! The placement service object and its rules: every write, in one transaction each.
//!
//! # How writes stay safe
//!
//! Every write runs in a [`Write`]: it holds the in-process write lock (one async mutex, so
//! writers in this process queue without touching the database) and a transaction whose
//! first statement bumps `placement_state.version` (so writers in *other* processes queue on
//! that row — or on SQLite's write lock — and every writer reads data no one else is changing).
//! On top of that the data itself is guarded: provider generations, consumer generations and
//! inventory usage are updated conditionally on the values read (`… WHERE generation = ?`), so
//! a writer that somehow raced is refused instead of overwriting.
//!
//! Allocation writes check every inventory they touch — min_unit, max_unit, step_size, and
//! usage within `(total - reserved) * allocation_ratio` — and move `inventories.used` in the
//! same transaction, so concurrent claims can never oversubscribe.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};

use serde_json::{json, Value};
use stratus_core::auth::AuthContext;
use stratus_core::config::Config;
use stratus_core::db::{now_string, Db, Tx};
use stratus_core::error::{ApiError, ApiResult};
use stratus_core::policy::Policy;
use tokio::sync::{Mutex, MutexGuard};

use crate::model::{
    is_custom_name, AllocationMap, Consumer, ConsumerWrite, Inventory, Provider, INCOMPLETE_CONSUMER_ID,
};
use crate::snapshot::{Rows, Snapshot};
use crate::store::{self, AllocationRow, Conn, Store};

/// Error codes of placement's error bodies.
pub mod code {
    pub const CONCURRENT_UPDATE: &str = "placement.concurrent_update";
    pub const INVENTORY_INUSE: &str = "placement.inventory.inuse";
    pub const DUPLICATE_NAME: &str = "placement.duplicate_name";
    pub const PROVIDER_IN_USE: &str = "placement.resource_provider.inuse";
    pub const CANNOT_DELETE_PARENT: &str = "placement.resource_provider.cannot_delete_parent";
}

/// How often a write is tried again when the database reports a deadlock or a busy lock.
const WRITE_ATTEMPTS: usize = 5;

pub struct PlacementService {
    pub config: Config,
    pub store: Store,
    pub policy: Policy,
    write_lock: Mutex<()>,
    view: RwLock<Snapshot>,
    /// Whole-view reloads since start (the first included), for tests and diagnostics.
    reloads: std::sync::atomic::AtomicU64,
    /// The state version a writer of this process is committing, between its commit and its
    /// update of the view (else -1): a reader that finds the database one version ahead of the
    /// view for that reason alone can read the view as it is (see `fresh`).
    committing: std::sync::atomic::AtomicI64,
}

fn conflict(message: impl Into<String>) -> ApiError {
    ApiError::conflict(message).with_kind(code::CONCURRENT_UPDATE)
}

fn provider_not_found(uuid: &str) -> ApiError {
    ApiError::not_found(format!("No resource provider with uuid {uuid} found"))
}

/// Deadlocks and busy locks: worth another try.
fn retryable(e: &sqlx::Error) -> bool {
    let msg = e.to_string();
    msg.contains("Deadlock")
        || msg.contains("deadlock")
        || msg.contains("database is locked")
        || msg.contains("Lock wait timeout")
}

/// A write transaction; see the module documentation. Dropping it without [`Write::commit`]
/// rolls everything back.
pub struct Write<'a> {
    svc: &'a PlacementService,
    _guard: MutexGuard<'a, ()>,
    tx: Tx,
    version: i64,
    /// Providers to read again into the view after the write.
    refresh: BTreeSet<String>,
    /// Custom resource classes or traits changed.
    meta: bool,
    /// Usage and generation changes to patch into the view.
    used: Vec<(String, String, i64)>,
    generations: Vec<(String, i64)>,
}

/// Providers' generations and inventories (with usage), by provider uuid.
type ViewOfProviders = (HashMap<String, i64>, HashMap<(String, String), Inventory>);

impl Write<'_> {
    pub fn conn(&mut self) -> &mut Conn {
        &mut self.tx
    }

    /// Nothing written yet in this transaction (besides the version bump).
    fn untouched(&self) -> bool {
        self.refresh.is_empty() && !self.meta && self.used.is_empty() && self.generations.is_empty()
    }

    pub fn touch(&mut self, uuid: &str) {
        self.refresh.insert(uuid.to_string());
    }

    pub async fn commit(mut self) -> ApiResult<()> {
        // What this version touched, for views of other processes to catch up with.
        let mut touched: BTreeSet<String> = self.refresh.clone();
        touched.extend(self.used.iter().map(|(p, _, _)| p.clone()));
        touched.extend(self.generations.iter().map(|(p, _)| p.clone()));
        if self.meta {
            touched.insert(META_CHANGE.to_string());
        }
        if touched.is_empty() {
            touched.insert(NO_CHANGE.to_string());
        }
        store::record_changes(&mut self.tx, self.version, &touched.into_iter().collect::<Vec<_>>()).await?;
        let rows = if !self.refresh.is_empty() || self.meta {
            let uuids: Vec<String> = self.refresh.iter().cloned().collect();
            Some(Rows::read(&mut self.tx, Some(&uuids), self.meta).await?)
        } else {
            None
        };
        self.svc.committing.store(self.version, Ordering::SeqCst);
        let committed = self.tx.commit().await;
        let mut view = self.svc.view.write().unwrap_or_else(|e| e.into_inner());
        self.svc.committing.store(-1, Ordering::SeqCst);
        committed?;
        // Patch the view only if it was current before this write; otherwise the next reader
        // catches up from the change log, this write included.
        if view.version == self.version - 1 {
            for (p, rc, used) in &self.used {
                view.set_used(p, rc, *used);
            }
            for (p, generation) in &self.generations {
                view.set_generation(p, *generation);
            }
            if let Some(rows) = rows {
                view.apply(rows);
            }
            view.version = self.version;
        }
        Ok(())
    }
}

/// Change-log entries that are not provider uuids.
const META_CHANGE: &str = "*";
const NO_CHANGE: &str = "-";

impl PlacementService {
    pub async fn open(config: Config) -> anyhow::Result<Arc<PlacementService>> {
        let url = config.database_url("placement", &config.placement.database_url);
        let store = Store::open(Db::connect(&url).await?).await?;
        let policy = Policy::new(crate::policy_defaults::DEFAULTS)?;
        let svc = PlacementService {
            config,
            store,
            policy,
            write_lock: Mutex::new(()),
            view: RwLock::new(Snapshot { version: -1, ..Snapshot::default() }),
            reloads: Default::default(),
            committing: std::sync::atomic::AtomicI64::new(-1),
        };
        svc.reload().await?;
        Ok(Arc::new(svc))
    }

    pub fn authorize(&self, ctx: &AuthContext, rule: &str, target: &Value) -> ApiResult<()> {
        if self.policy.enforce(rule, &ctx.credentials(), target) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!("Policy does not allow {rule} to be performed.")))
        }
    }

    /// Authorizes with placement's default target (the caller's own project and user).
    pub fn can(&self, ctx: &AuthContext, rule: &str) -> ApiResult<()> {
        let target = json!({"project_id": ctx.project_id(), "user_id": ctx.user.id});
        self.authorize(ctx, rule, &target)
    }

    /// A connection for reads outside a write (they need not wait for the writers).
    async fn conn(&self) -> ApiResult<Conn> {
        Ok(self.store.db().acquire_for_reads().await?)
    }

    pub async fn begin(&self) -> ApiResult<Write<'_>> {
        let guard = self.write_lock.lock().await;
        let mut tx = self.store.db().begin().await?;
        let version = store::bump_state(&mut tx).await?;
        Ok(Write {
            svc: self,
            _guard: guard,
            tx,
            version,
            refresh: BTreeSet::new(),
            meta: false,
            used: vec![],
            generations: vec![],
        })
    }

    /// Reads the whole view again, consistently with a state version.
    async fn reload(&self) -> ApiResult<()> {
        let mut tx = self.store.db().begin().await?;
        let version = store::state_version(&mut tx).await?;
        let rows = Rows::read(&mut tx, None, true).await?;
        tx.commit().await?;
        let snap = Snapshot::build(version, rows);
        *self.view.write().unwrap_or_else(|e| e.into_inner()) = snap;
        self.reloads.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// How often the whole view was read from the database (once at start, then only when
    /// the change log could not bring it up to date).
    pub fn reloads(&self) -> u64 {
        self.reloads.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Makes sure the view reflects the database's current state.
    pub async fn fresh(&self) -> ApiResult<()> {
        let current = store::state_version(&mut self.conn().await?).await?;
        let have = self.view_version();
        if have == current {
            return Ok(());
        }
        // A write of this process committed and is about to patch the view: the view is the
        // state just before that write, which a reader racing with it may see. (Waiting for
        // the lock would queue this reader behind every writer waiting for it.)
        if have == current - 1 && self.committing.load(Ordering::SeqCst) == current {
            return Ok(());
        }
        // Writers of this process update the view before they let go of the lock: take it,
        // and catch up only if the view is still behind.
        let _guard = self.write_lock.lock().await;
        let current = store::state_version(&mut self.conn().await?).await?;
        let have = self.view_version();
        if have == current {
            return Ok(());
        }
        if have >= 0 && self.catch_up(have).await? {
            return Ok(());
        }
        tracing::debug!(have, current, "placement view is behind the database; reloading it");
        self.reload().await
    }

    /// Reads again only what the writes since `have` touched; false when the change log does
    /// not cover them all (then everything is read again).
    async fn catch_up(&self, have: i64) -> ApiResult<bool> {
        let mut tx = self.store.db().begin().await?;
        let current = store::state_version(&mut tx).await?;
        let changes = store::changes(&mut tx, have, current).await?;
        let versions: BTreeSet<i64> = changes.iter().map(|(v, _)| *v).collect();
        if versions.len() as i64 != current - have || versions.len() > 500 {
            return Ok(false);
        }
        let meta = changes.iter().any(|(_, p)| p == META_CHANGE);
        let uuids: Vec<String> = changes
            .into_iter()
            .map(|(_, p)| p)
            .filter(|p| p != META_CHANGE && p != NO_CHANGE)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let rows = Rows::read(&mut tx, Some(&uuids), meta).await?;
        tx.commit().await?;
        let mut view = self.view.write().unwrap_or_else(|e| e.into_inner());
        if view.version == have {
            view.apply(rows);
            view.version = current;
        }
        Ok(true)
    }

    fn view_version(&self) -> i64 {
        self.view.read().unwrap_or_else(|e| e.into_inner()).version
    }

    /// Runs `f` on the current view (call [`PlacementService::fresh`] first).
    pub fn with_view<R>(&self, f: impl FnOnce(&Snapshot) -> R) -> R {
        let view = self.view.read().unwrap_or_else(|e| e.into_inner());
        f(&view)
    }

    // ---- providers ----

    pub async fn provider(&self, uuid: &str) -> ApiResult<Provider> {
        store::get_provider(&mut self.conn().await?, uuid).await?.ok_or_else(|| provider_not_found(uuid))
    }

    pub async fn create_provider(
        &self,
        uuid: String,
        name: String,
        parent: Option<String>,
    ) -> ApiResult<Provider> {
        let mut w = self.begin().await?;
        let mut duplicates = Vec::new();
        if store::get_provider(w.conn(), &uuid).await?.is_some() {
            duplicates.push(format!("uuid: {uuid}"));
        }
        if store::provider_by_name(w.conn(), &name).await?.is_some() {
            duplicates.push(format!("name: {name}"));
        }
        if !duplicates.is_empty() {
            return Err(ApiError::conflict(format!(
                "Conflicting resource provider {} already exists.",
                duplicates.join(", ")
            ))
            .with_kind(code::DUPLICATE_NAME));
        }
        let bad = |reason: &str| {
            ApiError::bad_request(format!(
                "Unable to create resource provider \"{name}\", {uuid}: Object action create failed because: {reason}"
            ))
        };
        let root = match &parent {
            None => uuid.clone(),
            Some(p) if *p == uuid => {
                return Err(bad(
                    "parent provider UUID cannot be same as UUID. Please set parent provider UUID to \
                                None if there is no parent.",
                ))
            }
            Some(p) => match store::get_provider(w.conn(), p).await? {
                Some(parent) => parent.root_uuid,
                None => return Err(bad("parent provider UUID does not exist.")),
            },
        };
        let now = now_string();
        let provider = Provider {
            uuid: uuid.clone(),
            name,
            generation: 0,
            parent_uuid: parent,
            root_uuid: root,
            created_at: now.clone(),
            updated_at: now,
        };
        store::insert_provider(w.conn(), &provider).await?;
        w.touch(&uuid);
        w.commit().await?;
        Ok(provider)
    }

    /// `parent`: None leaves it; Some(None) un-parents; Some(Some(p)) sets it.
    pub async fn update_provider(
        &self,
        uuid: &str,
        name: Option<String>,
        parent: Option<Option<String>>,
        allow_reparenting: bool,
    ) -> ApiResult<Provider> {
        let mut w = self.begin().await?;
        let mut p = store::get_provider(w.conn(), uuid).await?.ok_or_else(|| provider_not_found(uuid))?;
        let bad = |reason: &str| {
            ApiError::bad_request(format!(
                "Unable to save resource provider {uuid}: Object action update failed because: {reason}"
            ))
        };
        if let Some(name) = name {
            if name != p.name {
                if store::provider_by_name(w.conn(), &name).await?.is_some() {
                    return Err(ApiError::conflict(format!(
                        "Conflicting resource provider {name} already exists."
                    ))
                    .with_kind(code::DUPLICATE_NAME));
                }
                p.name = name;
            }
        }
        let mut moved: Option<(Vec<String>, String)> = None;
        if let Some(new_parent) = parent {
            match new_parent {
                Some(np) if Some(&np) != p.parent_uuid.as_ref() => {
                    let Some(parent) = store::get_provider(w.conn(), &np).await? else {
                        return Err(ApiError::bad_request(format!(
                            "Unable to save resource provider {uuid}: Object action create failed because: \
                             parent provider UUID does not exist."
                        )));
                    };
                    if p.parent_uuid.is_some() && !allow_reparenting {
                        return Err(bad("re-parenting a provider is not currently allowed."));
                    }
                    let below = store::descendants(w.conn(), uuid).await?;
                    if np == uuid || below.contains(&np) {
                        return Err(bad("creating loop in the provider tree is not allowed."));
                    }
                    p.parent_uuid = Some(np);
                    p.root_uuid = parent.root_uuid.clone();
                    moved = Some((below, parent.root_uuid));
                }
                None if p.parent_uuid.is_some() => {
                    if !allow_reparenting {
                        return Err(bad("un-parenting a provider is not currently allowed."));
                    }
                    let below = store::descendants(w.conn(), uuid).await?;
                    p.parent_uuid = None;
                    p.root_uuid = uuid.to_string();
                    moved = Some((below, uuid.to_string()));
                }
                _ => {}
            }
        }
        store::update_provider(w.conn(), uuid, &p.name, p.parent_uuid.as_deref(), &p.root_uuid).await?;
        if let Some((below, root)) = moved {
            store::set_roots(w.conn(), &below, &root).await?;
            for b in &below {
                w.touch(b);
            }
        }
        w.touch(uuid);
        let p = store::get_provider(w.conn(), uuid).await?.ok_or_else(|| provider_not_found(uuid))?;
        w.commit().await?;
        Ok(p)
    }

    pub async fn delete_provider(&self, uuid: &str) -> ApiResult<()> {
        let mut w = self.begin().await?;
        if store::get_provider(w.conn(), uuid).await?.is_none() {
            return Err(ApiError::not_found(format!(
                "No resource provider with uuid {uuid} found for delete"
            )));
        }
        if store::has_children(w.conn(), uuid).await? {
            return Err(ApiError::conflict(format!(
                "Unable to delete parent resource provider {uuid}: It has child resource providers."
            ))
            .with_kind(code::CANNOT_DELETE_PARENT));
        }
        if store::has_allocations(w.conn(), uuid).await? {
            return Err(ApiError::conflict(format!(
                "Unable to delete resource provider {uuid}: Resource provider has allocations."
            ))
            .with_kind(code::PROVIDER_IN_USE));
        }
        store::delete_provider(w.conn(), uuid).await?;
        w.touch(uuid);
        w.commit().await
    }

    /// Bumps a provider's generation from `expected`, or 409.
    async fn bump(&self, w: &mut Write<'_>, uuid: &str, expected: i64) -> ApiResult<i64> {
        if !store::bump_generation(w.conn(), uuid, expected).await? {
            return Err(conflict(
                "Another thread concurrently updated the resource provider data. Please retry your update",
            ));
        }
        w.touch(uuid);
        Ok(expected + 1)
    }

    /// The provider at the generation the caller saw, or 404 / 409.
    async fn provider_at(
        &self,
        w: &mut Write<'_>,
        uuid: &str,
        generation: Option<i64>,
    ) -> ApiResult<Provider> {
        let p = store::get_provider(w.conn(), uuid).await?.ok_or_else(|| provider_not_found(uuid))?;
        if let Some(g) = generation {
            if g != p.generation {
                return Err(conflict("resource provider generation conflict"));
            }
        }
        Ok(p)
    }

    // ---- inventories ----

    pub async fn inventories(&self, uuid: &str) -> ApiResult<(Provider, Vec<Inventory>)> {
        let mut c = self.conn().await?;
        let p = store::get_provider(&mut c, uuid).await?.ok_or_else(|| provider_not_found(uuid))?;
        let inv = store::inventories(&mut c, uuid).await?;
        Ok((p, inv))
    }

    async fn check_classes(&self, w: &mut Write<'_>, uuid: &str, classes: &[&str]) -> ApiResult<()> {
        let custom: BTreeSet<String> = store::custom_resource_classes(w.conn()).await?.into_iter().collect();
        for rc in classes {
            if !crate::standard::is_standard_resource_class(rc) && !custom.contains(*rc) {
                return Err(ApiError::bad_request(format!(
                    "Unknown resource class in inventory for resource provider {uuid}: No such resource class {rc}."
                )));
            }
        }
        Ok(())
    }

    /// `PUT /resource_providers/{uuid}/inventories`: replaces all inventories.
    pub async fn set_inventories(
        &self,
        uuid: &str,
        generation: i64,
        new: Vec<Inventory>,
    ) -> ApiResult<(i64, Vec<Inventory>)> {
        let mut w = self.begin().await?;
        let p = self.provider_at(&mut w, uuid, Some(generation)).await?;
        self.check_classes(&mut w, uuid, &new.iter().map(|i| i.resource_class.as_str()).collect::<Vec<_>>())
            .await?;
        let existing = store::inventories(w.conn(), uuid).await?;
        let in_use: Vec<&str> = existing
            .iter()
            .filter(|e| e.used > 0 && !new.iter().any(|n| n.resource_class == e.resource_class))
            .map(|e| e.resource_class.as_str())
            .collect();
        if !in_use.is_empty() {
            return Err(ApiError::conflict(format!(
                "update conflict: Inventory for '{}' on resource provider '{uuid}' in use.",
                in_use.join(", ")
            ))
            .with_kind(code::INVENTORY_INUSE));
        }
        for e in &existing {
            if !new.iter().any(|n| n.resource_class == e.resource_class) {
                store::delete_inventory(w.conn(), uuid, &e.resource_class).await?;
            }
        }
        let mut out = Vec::new();
        for mut n in new {
            match existing.iter().find(|e| e.resource_class == n.resource_class) {
                Some(e) => {
                    n.used = e.used;
                    if n.capacity() < e.used {
                        tracing::warn!(provider = uuid, class = %n.resource_class, "resource provider is now over capacity");
                    }
                    store::update_inventory(w.conn(), uuid, &n).await?;
                }
                None => {
                    n.used = 0;
                    store::insert_inventory(w.conn(), uuid, &n).await?;
                }
            }
            out.push(n);
        }
        let generation = self.bump(&mut w, uuid, p.generation).await?;
        w.commit().await?;
        out.sort_by(|a, b| a.resource_class.cmp(&b.resource_class));
        Ok((generation, out))
    }

    /// `PUT …/inventories/{rc}` (generation given) and `POST …/inventories` (create).
    pub async fn put_inventory(
        &self,
        uuid: &str,
        generation: Option<i64>,
        mut inv: Inventory,
        create: bool,
    ) -> ApiResult<(i64, Inventory)> {
        let mut w = self.begin().await?;
        let p = self.provider_at(&mut w, uuid, generation).await?;
        let rc = inv.resource_class.clone();
        let existing = store::inventories(w.conn(), uuid).await?.into_iter().find(|e| e.resource_class == rc);
        if create {
            if existing.is_some() {
                return Err(conflict(format!("Update conflict: An inventory of class {rc} already exists.")));
            }
            let custom: BTreeSet<String> =
                store::custom_resource_classes(w.conn()).await?.into_iter().collect();
            if !crate::standard::is_standard_resource_class(&rc) && !custom.contains(&rc) {
                return Err(ApiError::bad_request(format!(
                    "Unable to create inventory for resource provider {uuid}: No such resource class {rc}."
                )));
            }
            inv.used = 0;
            store::insert_inventory(w.conn(), uuid, &inv).await?;
        } else {
            let Some(e) = existing else {
                return Err(ApiError::bad_request(format!(
                    "No inventory record with resource class for resource provider {uuid}: No inventory of class \
                     {rc} found."
                )));
            };
            inv.used = e.used;
            if inv.capacity() < e.used {
                tracing::warn!(provider = uuid, class = %rc, "resource provider is now over capacity");
            }
            store::update_inventory(w.conn(), uuid, &inv).await?;
        }
        let generation = self.bump(&mut w, uuid, p.generation).await?;
        w.commit().await?;
        Ok((generation, inv))
    }

    /// `DELETE …/inventories/{rc}` (one class) or `DELETE …/inventories` (all, `rc` None).
    pub async fn delete_inventory(&self, uuid: &str, rc: Option<&str>) -> ApiResult<()> {
        let mut w = self.begin().await?;
        let p = self.provider_at(&mut w, uuid, None).await?;
        let existing = store::inventories(w.conn(), uuid).await?;
        match rc {
            Some(rc) => {
                let Some(e) = existing.iter().find(|e| e.resource_class == rc) else {
                    return Err(ApiError::not_found(format!(
                        "No inventory of class {rc} found for delete: No inventory of class {rc} found for delete"
                    )));
                };
                if e.used > 0 {
                    // Placement reports this one with the concurrent-update code.
                    return Err(conflict(format!(
                        "Unable to delete inventory of class {rc}: Inventory for '{rc}' on resource provider \
                         '{uuid}' in use."
                    )));
                }
                store::delete_inventory(w.conn(), uuid, rc).await?;
            }
            None => {
                let in_use: Vec<&str> =
                    existing.iter().filter(|e| e.used > 0).map(|e| e.resource_class.as_str()).collect();
                if !in_use.is_empty() {
                    return Err(ApiError::conflict(format!(
                        "Inventory for '{}' on resource provider '{uuid}' in use.",
                        in_use.join(", ")
                    ))
                    .with_kind(code::INVENTORY_INUSE));
                }
                for e in &existing {
                    store::delete_inventory(w.conn(), uuid, &e.resource_class).await?;
                }
            }
        }
        self.bump(&mut w, uuid, p.generation).await?;
        w.commit().await
    }

    // ---- traits and aggregates of a provider ----

    pub async fn provider_traits(&self, uuid: &str) -> ApiResult<(Provider, Vec<String>)> {
        let mut c = self.conn().await?;
        let p = store::get_provider(&mut c, uuid).await?.ok_or_else(|| provider_not_found(uuid))?;
        let traits = store::provider_traits(&mut c, uuid).await?;
        Ok((p, traits))
    }

    pub async fn set_provider_traits(
        &self,
        uuid: &str,
        generation: Option<i64>,
        traits: &[String],
    ) -> ApiResult<i64> {
        let mut w = self.begin().await?;
        let p = store::get_provider(w.conn(), uuid).await?.ok_or_else(|| provider_not_found(uuid))?;
        if generation.is_some_and(|g| g != p.generation) {
            return Err(conflict(
                "Resource provider's generation already changed. Please update the generation and try again.",
            ));
        }
        let custom: BTreeSet<String> = store::custom_traits(w.conn()).await?.into_iter().collect();
        let missing: Vec<&str> = traits
            .iter()
            .filter(|t| !crate::standard::is_standard_trait(t) && !custom.contains(*t))
            .map(|t| t.as_str())
            .collect();
        if !missing.is_empty() {
            return Err(ApiError::bad_request(format!("No such trait {}", missing.join(", "))));
        }
        store::set_provider_traits(w.conn(), uuid, traits).await?;
        let generation = self.bump(&mut w, uuid, p.generation).await?;
        w.commit().await?;
        Ok(generation)
    }

    pub async fn provider_aggregates(&self, uuid: &str) -> ApiResult<(Provider, Vec<String>)> {
        let mut c = self.conn().await?;
        let p = store::get_provider(&mut c, uuid).await?.ok_or_else(|| provider_not_found(uuid))?;
        let aggs = store::provider_aggregates(&mut c, uuid).await?;
        Ok((p, aggs))
    }

    /// With a generation (1.19+) it is checked and bumped; without, neither.
    pub async fn set_provider_aggregates(
        &self,
        uuid: &str,
        generation: Option<i64>,
        aggregates: &[String],
    ) -> ApiResult<i64> {
        let mut w = self.begin().await?;
        let p = store::get_provider(w.conn(), uuid).await?.ok_or_else(|| provider_not_found(uuid))?;
        if generation.is_some_and(|g| g != p.generation) {
            return Err(conflict(
                "Resource provider's generation already changed. Please update the generation and try again.",
            ));
        }
        store::set_provider_aggregates(w.conn(), uuid, aggregates).await?;
        let generation = match generation {
            Some(_) => self.bump(&mut w, uuid, p.generation).await?,
            None => {
                w.touch(uuid);
                p.generation
            }
        };
        w.commit().await?;
        Ok(generation)
    }

    // ---- resource classes and traits ----

    pub async fn resource_classes(&self) -> ApiResult<Vec<String>> {
        let custom = store::custom_resource_classes(&mut self.conn().await?).await?;
        Ok(crate::standard::RESOURCE_CLASSES.iter().map(|s| s.to_string()).chain(custom).collect())
    }

    pub async fn resource_class_exists(&self, name: &str) -> ApiResult<bool> {
        Ok(crate::standard::is_standard_resource_class(name)
            || store::custom_resource_classes(&mut self.conn().await?).await?.iter().any(|c| c == name))
    }

    /// Creates a custom class; Ok(false) when it already existed (and `exists_ok`).
    pub async fn create_resource_class(&self, name: &str, exists_ok: bool) -> ApiResult<bool> {
        let mut w = self.begin().await?;
        let exists = crate::standard::is_standard_resource_class(name)
            || store::custom_resource_classes(w.conn()).await?.iter().any(|c| c == name);
        if exists {
            if exists_ok {
                return Ok(false);
            }
            return Err(ApiError::conflict(format!("Conflicting resource class already exists: {name}")));
        }
        if !is_custom_name(name) {
            return Err(ApiError::bad_request(format!(
                "JSON does not validate: '{name}' does not match '^CUSTOM_[A-Z0-9_]+$'"
            )));
        }
        store::insert_resource_class(w.conn(), name).await?;
        w.meta = true;
        w.commit().await?;
        Ok(true)
    }

    /// Before 1.7: renames a custom class.
    pub async fn rename_resource_class(&self, from: &str, to: &str) -> ApiResult<()> {
        let mut w = self.begin().await?;
        if crate::standard::is_standard_resource_class(from) {
            return Err(ApiError::bad_request(format!("Cannot update standard resource class {from}")));
        }
        let custom = store::custom_resource_classes(w.conn()).await?;
        if !custom.iter().any(|c| c == from) {
            return Err(ApiError::not_found(format!("No such resource class {from}.")));
        }
        if crate::standard::is_standard_resource_class(to) || custom.iter().any(|c| c == to) {
            return Err(ApiError::conflict(format!("Resource class already exists: {to}")));
        }
        store::rename_resource_class(w.conn(), from, to).await?;
        w.meta = true;
        let holders: Vec<String> = store::inventories_of(w.conn(), None)
            .await?
            .into_iter()
            .filter(|(_, i)| i.resource_class == to)
            .map(|(p, _)| p)
            .collect();
        for h in holders {
            w.touch(&h);
        }
        w.commit().await
    }

    pub async fn delete_resource_class(&self, name: &str) -> ApiResult<()> {
        let mut w = self.begin().await?;
        if crate::standard::is_standard_resource_class(name) {
            return Err(ApiError::bad_request(format!(
                "Error in delete resource class: Cannot delete standard resource class {name}."
            )));
        }
        if !store::custom_resource_classes(w.conn()).await?.iter().any(|c| c == name) {
            return Err(ApiError::not_found(format!("No such resource class {name}.")));
        }
        if store::resource_class_in_use(w.conn(), name).await? {
            return Err(ApiError::conflict(format!(
                "Error in delete resource class: Cannot delete resource class {name}. Class is in use in inventory."
            )));
        }
        store::delete_resource_class(w.conn(), name).await?;
        w.meta = true;
        w.commit().await
    }

    /// Trait names, optionally filtered as `GET /traits` does.
    pub async fn traits(
        &self,
        names_in: Option<&[String]>,
        prefix: Option<&str>,
        associated: Option<bool>,
    ) -> ApiResult<Vec<String>> {
        let mut c = self.conn().await?;
        let custom = store::custom_traits(&mut c).await?;
        let mut all: Vec<String> =
            crate::standard::TRAITS.iter().map(|s| s.to_string()).chain(custom).collect();
        all.sort();
        if let Some(names) = names_in {
            all.retain(|t| names.contains(t));
        }
        if let Some(prefix) = prefix {
            all.retain(|t| t.starts_with(prefix));
        }
        if let Some(associated) = associated {
            let used: BTreeSet<String> = store::associated_traits(&mut c).await?.into_iter().collect();
            all.retain(|t| used.contains(t) == associated);
        }
        Ok(all)
    }

    pub async fn trait_exists(&self, name: &str) -> ApiResult<bool> {
        Ok(crate::standard::is_standard_trait(name)
            || store::custom_traits(&mut self.conn().await?).await?.iter().any(|t| t == name))
    }

    /// `PUT /traits/{name}`: true when created.
    pub async fn create_trait(&self, name: &str) -> ApiResult<bool> {
        if crate::standard::is_standard_trait(name) {
            return Ok(false);
        }
        let mut w = self.begin().await?;
        if store::custom_traits(w.conn()).await?.iter().any(|t| t == name) {
            return Ok(false);
        }
        store::insert_trait(w.conn(), name).await?;
        w.meta = true;
        w.commit().await?;
        Ok(true)
    }

    pub async fn delete_trait(&self, name: &str) -> ApiResult<()> {
        let mut w = self.begin().await?;
        let custom = store::custom_traits(w.conn()).await?;
        if crate::standard::is_standard_trait(name) {
            return Err(ApiError::bad_request(format!("Cannot delete standard trait {name}.")));
        }
        if !custom.iter().any(|t| t == name) {
            return Err(ApiError::not_found(format!("No such trait(s): {name}.")));
        }
        if store::trait_in_use(w.conn(), name).await? {
            return Err(ApiError::conflict(format!("The trait {name} is in use by a resource provider.")));
        }
        store::delete_trait(w.conn(), name).await?;
        w.meta = true;
        w.commit().await
    }

    // ---- allocations ----

    /// A consumer's allocations with the generation of each provider, and the consumer.
    pub async fn consumer_allocations(
        &self,
        consumer: &str,
    ) -> ApiResult<(Vec<AllocationRow>, HashMap<String, i64>, Option<Consumer>)> {
        let mut c = self.conn().await?;
        let rows = store::allocations_of_consumers(&mut c, &[consumer.to_string()]).await?;
        if rows.is_empty() {
            return Ok((rows, HashMap::new(), None));
        }
        let uuids: Vec<String> =
            rows.iter().map(|r| r.provider.clone()).collect::<BTreeSet<_>>().into_iter().collect();
        let gens = store::providers(&mut c, Some(&uuids))
            .await?
            .into_iter()
            .map(|p| (p.uuid, p.generation))
            .collect();
        let k = store::consumers(&mut c, &[consumer.to_string()]).await?.into_iter().next();
        Ok((rows, gens, k))
    }

    /// The allocations against one provider, with each consumer's generation.
    pub async fn provider_allocations(
        &self,
        uuid: &str,
    ) -> ApiResult<(Provider, Vec<AllocationRow>, HashMap<String, i64>)> {
        let mut c = self.conn().await?;
        let p = store::get_provider(&mut c, uuid).await?.ok_or_else(|| {
            ApiError::not_found(format!(
                "Resource provider '{uuid}' not found: No resource provider with uuid {uuid} found"
            ))
        })?;
        let rows = store::allocations_of_provider(&mut c, uuid).await?;
        let consumers: Vec<String> =
            rows.iter().map(|r| r.consumer.clone()).collect::<BTreeSet<_>>().into_iter().collect();
        let gens = if consumers.is_empty() {
            HashMap::new()
        } else {
            store::consumers(&mut c, &consumers).await?.into_iter().map(|k| (k.uuid, k.generation)).collect()
        };
        Ok((p, rows, gens))
    }

    /// Replaces the allocations of each consumer (an empty map removes them), checking
    /// capacity and generations, all in one transaction. With `require_existing`, a consumer
    /// without allocations is a 404 (`DELETE /allocations/{consumer}`).
    pub async fn replace_allocations(
        &self,
        writes: &[ConsumerWrite],
        require_existing: bool,
    ) -> ApiResult<()> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut w = self.begin().await?;
            match self.write_allocations(&mut w, writes, require_existing, false).await {
                Ok(()) => match w.commit().await {
                    Ok(()) => return Ok(()),
                    Err(e) => return Err(e),
                },
                Err(Failure::Api(e)) => return Err(e),
                Err(Failure::Retry(why)) if attempt < WRITE_ATTEMPTS => {
                    tracing::debug!(attempt, why, "allocation write conflicted; trying again");
                    drop(w);
                    tokio::time::sleep(std::time::Duration::from_millis(5 * attempt as u64)).await;
                }
                Err(Failure::Retry(why)) => {
                    tracing::warn!(why, "allocation write kept conflicting");
                    return Err(conflict(
                        "Inventory and/or allocations changed while attempting to allocate: Another thread \
                         concurrently updated the resource provider data. Please retry your update",
                    ));
                }
            }
        }
    }

    async fn write_allocations(
        &self,
        w: &mut Write<'_>,
        writes: &[ConsumerWrite],
        require_existing: bool,
        reshaping: bool,
    ) -> Result<(), Failure> {
        let uuids: Vec<String> = writes.iter().map(|cw| cw.consumer.clone()).collect();
        let existing: HashMap<String, Consumer> =
            store::consumers(w.conn(), &uuids).await?.into_iter().map(|k| (k.uuid.clone(), k)).collect();
        for cw in writes {
            if !cw.check_generation {
                continue;
            }
            match existing.get(&cw.consumer) {
                Some(k) if Some(k.generation) != cw.generation => {
                    return Err(Failure::Api(conflict(format!(
                        "consumer generation conflict - expected {} but got {}",
                        k.generation,
                        cw.generation.map(|g| g.to_string()).unwrap_or_else(|| "None".into())
                    ))))
                }
                None if cw.generation.is_some() => {
                    return Err(Failure::Api(conflict(format!(
                        "consumer generation conflict - expected null but got {}",
                        cw.generation.unwrap_or_default()
                    ))))
                }
                _ => {}
            }
        }
        // Allocations exist only with their consumer's row (written together below).
        let old = if existing.is_empty() {
            Vec::new()
        } else {
            store::allocations_of_consumers(w.conn(), &uuids).await?
        };
        if require_existing && old.is_empty() {
            return Err(Failure::Api(ApiError::not_found(format!(
                "No allocations for consumer '{}'",
                uuids.first().cloned().unwrap_or_default()
            ))));
        }
        // Every provider involved, before and after.
        let mut involved: BTreeSet<String> = old.iter().map(|a| a.provider.clone()).collect();
        let mut wanted: BTreeSet<&String> = BTreeSet::new();
        for cw in writes {
            wanted.extend(cw.allocations.keys());
        }
        involved.extend(wanted.iter().map(|s| s.to_string()));
        let involved: Vec<String> = involved.into_iter().collect();
        // The providers' generations and inventories: from the view when it is exactly the
        // state this transaction started from, else from the database.
        let (generations, inventories) = match self.exact_view_of(w, &involved) {
            Some(found) => found,
            None if involved.is_empty() => (HashMap::new(), HashMap::new()),
            None => {
                let generations: HashMap<String, i64> = store::providers(w.conn(), Some(&involved))
                    .await?
                    .into_iter()
                    .map(|p| (p.uuid, p.generation))
                    .collect();
                let inventories: HashMap<(String, String), Inventory> =
                    store::inventories_of(w.conn(), Some(&involved))
                        .await?
                        .into_iter()
                        .map(|(p, i)| ((p, i.resource_class.clone()), i))
                        .collect();
                (generations, inventories)
            }
        };
        for p in &wanted {
            if !generations.contains_key(*p) {
                return Err(Failure::Api(ApiError::bad_request(format!(
                    "Allocation for resource provider '{p}' that does not exist."
                ))));
            }
        }
        // Only custom classes need reading (most writes use standard ones only).
        let any_custom = writes
            .iter()
            .flat_map(|cw| cw.allocations.values().flat_map(|m| m.keys()))
            .any(|rc| !crate::standard::is_standard_resource_class(rc));
        let custom: BTreeSet<String> = if any_custom {
            store::custom_resource_classes(w.conn()).await?.into_iter().collect()
        } else {
            BTreeSet::new()
        };
        for cw in writes {
            for rc in cw.allocations.values().flat_map(|m| m.keys()) {
                if !crate::standard::is_standard_resource_class(rc) && !custom.contains(rc) {
                    return Err(Failure::Api(ApiError::bad_request(format!(
                        "Unable to allocate inventory for consumer {}: No such resource class {rc}.",
                        cw.consumer
                    ))));
                }
            }
        }
        // What changes on each inventory.
        let mut delta: BTreeMap<(String, String), i64> = BTreeMap::new();
        for a in &old {
            *delta.entry((a.provider.clone(), a.resource_class.clone())).or_default() -= a.used;
        }
        for cw in writes {
            for (p, resources) in &cw.allocations {
                for (rc, &amount) in resources {
                    let key = (p.clone(), rc.clone());
                    let Some(inv) = inventories.get(&key) else {
                        return Err(Failure::Api(ApiError::conflict(format!(
                            "Unable to allocate inventory: Inventory for '{rc}' on resource provider '{p}' invalid."
                        ))));
                    };
                    if !inv.fits_constraints(amount) {
                        return Err(Failure::Api(ApiError::conflict(format!(
                            "Unable to allocate inventory: Unable to create allocation for '{rc}' on resource \
                             provider '{p}'. The requested amount would violate inventory constraints."
                        ))));
                    }
                    *delta.entry(key).or_default() += amount;
                }
            }
        }
        let mut new_used = Vec::new();
        for ((p, rc), d) in &delta {
            if *d == 0 {
                continue;
            }
            let Some(inv) = inventories.get(&(p.clone(), rc.clone())) else {
                if reshaping && *d < 0 {
                    // The reshape removed this inventory and the allocations on it.
                    continue;
                }
                return Err(Failure::Retry("an inventory vanished"));
            };
            // Growing usage must fit; shrinking is always allowed (even when over capacity).
            if *d > 0 && !inv.has_room(*d) {
                return Err(Failure::Api(ApiError::conflict(format!(
                    "Unable to allocate inventory: Unable to create allocation for '{rc}' on resource provider \
                     '{p}'. The requested amount would exceed the capacity."
                ))));
            }
            new_used.push((p.clone(), rc.clone(), inv.used, inv.used + d));
        }
        // Write.
        for cw in writes {
            if old.iter().any(|a| a.consumer == cw.consumer) {
                store::delete_allocations_of(w.conn(), &cw.consumer).await?;
            }
            let rows: Vec<AllocationRow> = cw
                .allocations
                .iter()
                .flat_map(|(p, resources)| {
                    resources.iter().map(|(rc, &amount)| AllocationRow {
                        consumer: cw.consumer.clone(),
                        provider: p.clone(),
                        resource_class: rc.clone(),
                        used: amount,
                    })
                })
                .collect();
            store::insert_allocations(w.conn(), &rows).await?;
        }
        // One conditional update per provider for all its resource classes.
        let mut by_provider: BTreeMap<String, Vec<(String, i64, i64)>> = BTreeMap::new();
        for (p, rc, was, now) in new_used {
            by_provider.entry(p).or_default().push((rc, was, now));
        }
        for (p, changes) in by_provider {
            if !store::set_used_many(w.conn(), &p, &changes).await? {
                return Err(Failure::Retry("inventory usage changed"));
            }
            for (rc, _, now) in changes {
                w.used.push((p.clone(), rc, now));
            }
        }
        for p in &involved {
            let Some(current) = generations.get(p).copied() else {
                return Err(Failure::Retry("a provider vanished"));
            };
            if !store::bump_generation(w.conn(), p, current).await? {
                return Err(Failure::Retry("provider generation changed"));
            }
            w.generations.push((p.clone(), current + 1));
        }
        for cw in writes {
            let keep = !cw.allocations.is_empty();
            match existing.get(&cw.consumer) {
                Some(k) if !keep => store::delete_consumer(w.conn(), &k.uuid).await?,
                Some(k) => {
                    let updated = Consumer {
                        project_id: cw.project_id.clone(),
                        user_id: cw.user_id.clone(),
                        consumer_type: cw.consumer_type.clone().or_else(|| k.consumer_type.clone()),
                        ..k.clone()
                    };
                    if !store::update_consumer(w.conn(), &updated, k.generation).await? {
                        return Err(Failure::Api(conflict(
                            "Inventory and/or allocations changed while attempting to allocate: Another thread \
                             concurrently updated the data. Please retry your update",
                        )));
                    }
                }
                None if keep => {
                    let k = Consumer {
                        uuid: cw.consumer.clone(),
                        project_id: cw.project_id.clone(),
                        user_id: cw.user_id.clone(),
                        consumer_type: cw.consumer_type.clone(),
                        generation: 1,
                    };
                    if let Err(e) = store::insert_consumer(w.conn(), &k).await {
                        if stratus_core::db::is_unique_violation(&e) {
                            return Err(Failure::Api(conflict(format!(
                                "consumer generation conflict - the consumer {} was created concurrently",
                                cw.consumer
                            ))));
                        }
                        return Err(e.into());
                    }
                }
                None => {}
            }
        }
        Ok(())
    }

    /// The generations and inventories of `uuids` as the view has them, if the view is
    /// exactly the state `w` started from: no other writer came between the view and this
    /// transaction, and `w` has written nothing yet. (The write lock keeps it so until `w`
    /// commits.) None otherwise: read the database.
    fn exact_view_of(&self, w: &Write<'_>, uuids: &[String]) -> Option<ViewOfProviders> {
        if !w.untouched() {
            return None;
        }
        self.with_view(|view| {
            if view.version != w.version - 1 {
                return None;
            }
            let mut generations = HashMap::new();
            let mut inventories = HashMap::new();
            for uuid in uuids {
                let Some(node) = view.by_uuid.get(uuid).and_then(|&id| view.nodes[id as usize].as_ref())
                else {
                    continue;
                };
                generations.insert(uuid.clone(), node.generation);
                for inv in &node.inventories {
                    let rc = view.rcs.name(inv.rc).to_string();
                    let row = Inventory {
                        resource_class: rc.clone(),
                        total: inv.total,
                        reserved: inv.reserved,
                        min_unit: inv.min_unit,
                        max_unit: inv.max_unit,
                        step_size: inv.step_size,
                        allocation_ratio: inv.ratio,
                        used: inv.used,
                    };
                    inventories.insert((uuid.clone(), rc), row);
                }
            }
            Some((generations, inventories))
        })
    }

    /// `POST /reshaper`: replaces the inventories of some providers and the allocations of
    /// some consumers at once (inventory moving from a provider to a new child, with the
    /// allocations on it). Nothing may be left allocated on inventory that is gone.
    pub async fn reshape(
        &self,
        inventories: &[(String, i64, Vec<Inventory>)],
        writes: &[ConsumerWrite],
    ) -> ApiResult<()> {
        let mut w = self.begin().await?;
        for (uuid, generation, new) in inventories {
            let p = self.provider_at(&mut w, uuid, Some(*generation)).await.map_err(|e| {
                if e.status == axum::http::StatusCode::NOT_FOUND {
                    ApiError::bad_request(format!("Resource provider '{uuid}' in inventories not found"))
                } else {
                    e
                }
            })?;
            self.check_classes(
                &mut w,
                uuid,
                &new.iter().map(|i| i.resource_class.as_str()).collect::<Vec<_>>(),
            )
            .await?;
            let existing = store::inventories(w.conn(), uuid).await?;
            for e in &existing {
                if !new.iter().any(|n| n.resource_class == e.resource_class) {
                    store::delete_inventory(w.conn(), uuid, &e.resource_class).await?;
                }
            }
            for n in new {
                match existing.iter().find(|e| e.resource_class == n.resource_class) {
                    Some(_) => {
                        store::update_inventory(w.conn(), uuid, n).await?;
                    }
                    None => {
                        store::insert_inventory(w.conn(), uuid, &Inventory { used: 0, ..n.clone() }).await?
                    }
                }
            }
            self.bump(&mut w, uuid, p.generation).await?;
        }
        match self.write_allocations(&mut w, writes, false, true).await {
            Ok(()) => {}
            Err(Failure::Api(e)) => return Err(e),
            Err(Failure::Retry(why)) => {
                return Err(conflict(format!("Unable to reshape: the data changed meanwhile ({why})")))
            }
        }
        for (uuid, _, new) in inventories {
            let left: BTreeSet<String> = store::allocations_of_provider(w.conn(), uuid)
                .await?
                .into_iter()
                .map(|a| a.resource_class)
                .filter(|rc| !new.iter().any(|n| n.resource_class == *rc))
                .collect();
            if !left.is_empty() {
                return Err(ApiError::conflict(format!(
                    "Inventory for '{}' on resource provider '{uuid}' in use.",
                    left.into_iter().collect::<Vec<_>>().join(", ")
                ))
                .with_kind(code::INVENTORY_INUSE));
            }
        }
        w.commit().await
    }

    // ---- usages ----

    /// `GET /usages`: (consumer type or None, resource class) → used, and consumers per type.
    pub async fn project_usages(
        &self,
        project_id: &str,
        user_id: Option<&str>,
    ) -> ApiResult<Vec<(Option<String>, String, String, i64)>> {
        Ok(store::project_allocations(&mut self.conn().await?, project_id, user_id).await?)
    }
}

/// Why an allocation write stopped: an answer for the caller, or a race worth retrying.
enum Failure {
    Api(ApiError),
    Retry(&'static str),
}

impl From<sqlx::Error> for Failure {
    fn from(e: sqlx::Error) -> Self {
        if retryable(&e) {
            Failure::Retry("the database reported a lock conflict")
        } else {
            Failure::Api(e.into())
        }
    }
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        Failure::Api(e)
    }
}

/// Allocations as a map (for rendering).
pub fn allocation_map(rows: &[AllocationRow]) -> AllocationMap {
    let mut out = AllocationMap::new();
    for r in rows {
        out.entry(r.provider.clone()).or_default().insert(r.resource_class.clone(), r.used);
    }
    out
}

/// The project and user recorded for allocations written before microversion 1.8.
pub fn incomplete_consumer() -> (String, String) {
    (INCOMPLETE_CONSUMER_ID.to_string(), INCOMPLETE_CONSUMER_ID.to_string())
}
