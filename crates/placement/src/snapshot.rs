//! An in-memory view of the provider graph (providers, inventories with their usage, traits,
//! aggregates), so that `GET /allocation_candidates` and `GET /resource_providers` answer
//! without a query per provider.
//!
//! The view carries the state version it reflects (`placement_state.version`). Writers in this
//! process bump the version in their transaction and update the view before they let go of
//! the write lock; a reader compares the database's version with the view's and, when another
//! process wrote in between, reads again the providers the change log says were touched (or
//! everything, when the log does not cover the gap).

use std::collections::{BTreeSet, HashMap};

use crate::model::{Inventory, Provider, SHARING_TRAIT};
use crate::store::{self, Conn};

/// Strings numbered in order of first sight.
#[derive(Debug, Default, Clone)]
pub struct Interner {
    ids: HashMap<String, u32>,
    names: Vec<String>,
}

impl Interner {
    pub fn id(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = self.names.len() as u32;
        self.ids.insert(name.to_string(), id);
        self.names.push(name.to_string());
        id
    }

    pub fn get(&self, name: &str) -> Option<u32> {
        self.ids.get(name).copied()
    }

    pub fn name(&self, id: u32) -> &str {
        &self.names[id as usize]
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Inv {
    pub rc: u32,
    pub total: i64,
    pub reserved: i64,
    pub min_unit: i64,
    pub max_unit: i64,
    pub step_size: i64,
    pub ratio: f64,
    pub used: i64,
}

impl Inv {
    /// Whether one more allocation of `amount` can be placed here.
    pub fn can_take(&self, amount: i64) -> bool {
        self.fits(amount) && self.room_for(amount)
    }

    pub fn fits(&self, amount: i64) -> bool {
        amount >= self.min_unit
            && amount <= self.max_unit
            && self.step_size > 0
            && amount % self.step_size == 0
    }

    pub fn room_for(&self, amount: i64) -> bool {
        ((self.used + amount) as f64) <= ((self.total - self.reserved) as f64) * self.ratio
    }

    pub fn capacity(&self) -> i64 {
        crate::model::capacity(self.total, self.reserved, self.ratio)
    }
}

#[derive(Debug, Clone)]
pub struct Node {
    pub uuid: String,
    pub name: String,
    pub generation: i64,
    pub parent_uuid: Option<String>,
    pub root_uuid: String,
    pub parent: Option<u32>,
    pub root: u32,
    /// Sorted by resource class id.
    pub inventories: Vec<Inv>,
    /// Sorted ids.
    pub traits: Vec<u32>,
    /// Sorted ids.
    pub aggregates: Vec<u32>,
}

impl Node {
    pub fn inventory(&self, rc: u32) -> Option<&Inv> {
        self.inventories.iter().find(|i| i.rc == rc)
    }

    pub fn has_trait(&self, t: u32) -> bool {
        self.traits.binary_search(&t).is_ok()
    }

    pub fn in_any(&self, aggs: &[u32]) -> bool {
        aggs.iter().any(|a| self.aggregates.binary_search(a).is_ok())
    }
}

#[derive(Debug, Default)]
pub struct Snapshot {
    /// The state version this view reflects; -1 when it must be reloaded.
    pub version: i64,
    /// Names this snapshot's ids: a provider keeps its id while the snapshot is patched, and
    /// a built snapshot (a full reload) numbers them anew under a new epoch.
    pub epoch: u64,
    /// Indexed by internal id; `None` for deleted providers.
    pub nodes: Vec<Option<Node>>,
    pub by_uuid: HashMap<String, u32>,
    pub rcs: Interner,
    pub traits: Interner,
    pub aggs: Interner,
    pub custom_rcs: BTreeSet<String>,
    pub custom_traits: BTreeSet<String>,
    /// Whether any provider has a parent.
    pub nested: bool,
    /// Providers with MISC_SHARES_VIA_AGGREGATE.
    pub sharing: Vec<u32>,
}

/// A provider's inventories, trait ids and aggregate ids, gathered from rows.
type Parts = (Vec<Inv>, Vec<u32>, Vec<u32>);

/// Rows read for some providers: what [`Snapshot::apply`] installs.
#[derive(Debug, Default)]
pub struct Rows {
    /// The providers asked for; those not found were deleted.
    pub asked: Vec<String>,
    pub providers: Vec<Provider>,
    pub inventories: Vec<(String, Inventory)>,
    pub traits: Vec<(String, String)>,
    pub aggregates: Vec<(String, String)>,
    /// Set when the custom resource classes or traits were read again.
    pub custom_rcs: Option<Vec<String>>,
    pub custom_traits: Option<Vec<String>>,
}

impl Rows {
    /// Reads everything (`uuids` None) or the given providers.
    pub async fn read(c: &mut Conn, uuids: Option<&[String]>, meta: bool) -> Result<Rows, sqlx::Error> {
        let mut rows = Rows { asked: uuids.map(|u| u.to_vec()).unwrap_or_default(), ..Rows::default() };
        if uuids.is_none_or(|u| !u.is_empty()) {
            rows.providers = store::providers(c, uuids).await?;
            rows.inventories = store::inventories_of(c, uuids).await?;
            rows.traits = store::trait_links(c, uuids).await?;
            rows.aggregates = store::aggregate_links(c, uuids).await?;
        }
        if meta || uuids.is_none() {
            rows.custom_rcs = Some(store::custom_resource_classes(c).await?);
            rows.custom_traits = Some(store::custom_traits(c).await?);
        }
        Ok(rows)
    }
}

impl Snapshot {
    /// A whole view from rows read in one transaction at state `version`.
    pub fn build(version: i64, rows: Rows) -> Snapshot {
        static EPOCHS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let epoch = EPOCHS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut s = Snapshot { version, epoch, ..Snapshot::default() };
        s.apply(rows);
        s
    }

    /// Installs the rows of some providers (new, changed or deleted ones).
    pub fn apply(&mut self, rows: Rows) {
        let full = rows.asked.is_empty();
        let mut changed: Vec<u32> = Vec::with_capacity(rows.providers.len() + rows.asked.len());
        // Asked for and not found: deleted.
        for uuid in &rows.asked {
            if !rows.providers.iter().any(|p| p.uuid == *uuid) {
                if let Some(id) = self.by_uuid.remove(uuid) {
                    self.nodes[id as usize] = None;
                    changed.push(id);
                }
            }
        }
        let mut by_provider: HashMap<&str, Parts> = HashMap::new();
        for (p, inv) in &rows.inventories {
            let rc = self.rcs.id(&inv.resource_class);
            by_provider.entry(p.as_str()).or_default().0.push(Inv {
                rc,
                total: inv.total,
                reserved: inv.reserved,
                min_unit: inv.min_unit,
                max_unit: inv.max_unit,
                step_size: inv.step_size,
                ratio: inv.allocation_ratio,
                used: inv.used,
            });
        }
        for (p, t) in &rows.traits {
            let id = self.traits.id(t);
            by_provider.entry(p.as_str()).or_default().1.push(id);
        }
        for (p, a) in &rows.aggregates {
            let id = self.aggs.id(a);
            by_provider.entry(p.as_str()).or_default().2.push(id);
        }
        for p in rows.providers {
            let (mut inventories, mut traits, mut aggregates) =
                by_provider.remove(p.uuid.as_str()).unwrap_or_default();
            inventories.sort_by_key(|i| i.rc);
            traits.sort_unstable();
            aggregates.sort_unstable();
            let node = Node {
                uuid: p.uuid.clone(),
                name: p.name,
                generation: p.generation,
                parent_uuid: p.parent_uuid,
                root_uuid: p.root_uuid,
                parent: None,
                root: 0,
                inventories,
                traits,
                aggregates,
            };
            let id = match self.by_uuid.get(&p.uuid) {
                Some(&id) => id,
                None => {
                    let id = self.nodes.len() as u32;
                    self.nodes.push(None);
                    self.by_uuid.insert(p.uuid, id);
                    id
                }
            };
            self.nodes[id as usize] = Some(node);
            changed.push(id);
        }
        if let Some(rcs) = rows.custom_rcs {
            self.custom_rcs = rcs.into_iter().collect();
        }
        if let Some(traits) = rows.custom_traits {
            self.custom_traits = traits.into_iter().collect();
        }
        if full {
            let all: Vec<u32> = (0..self.nodes.len() as u32).collect();
            self.nested = false;
            self.sharing.clear();
            self.link(&all);
        } else {
            self.link(&changed);
        }
    }

    /// Resolves parents and roots of the given providers to ids, and keeps the sharing list
    /// and the nested flag current. (A provider's parent and root always exist before it,
    /// and a re-parented provider's whole subtree is read again, so only the providers read
    /// need linking.)
    fn link(&mut self, ids: &[u32]) {
        let sharing_trait = self.traits.id(SHARING_TRAIT);
        self.sharing.retain(|s| !ids.contains(s));
        for &i in ids {
            let Some(node) = &self.nodes[i as usize] else { continue };
            let parent = node.parent_uuid.as_ref().and_then(|u| self.by_uuid.get(u)).copied();
            let root = self.by_uuid.get(&node.root_uuid).copied().unwrap_or(i);
            let shares = node.has_trait(sharing_trait);
            let node = self.nodes[i as usize].as_mut().expect("present");
            node.parent = parent;
            node.root = root;
            // Stays set once a provider had a parent: the general search is right for flat
            // clouds too, only slower.
            self.nested |= parent.is_some();
            if shares {
                self.sharing.push(i);
            }
        }
        self.sharing.sort_unstable();
    }

    pub fn node(&self, id: u32) -> &Node {
        self.nodes[id as usize].as_ref().expect("a live provider id")
    }

    pub fn get(&self, uuid: &str) -> Option<u32> {
        self.by_uuid.get(uuid).copied()
    }

    /// Live providers in creation order.
    pub fn live(&self) -> impl Iterator<Item = (u32, &Node)> {
        self.nodes.iter().enumerate().filter_map(|(i, n)| n.as_ref().map(|n| (i as u32, n)))
    }

    /// After an allocation write: new usage of one inventory.
    pub fn set_used(&mut self, uuid: &str, rc: &str, used: i64) {
        let Some(id) = self.get(uuid) else { return };
        let rc = self.rcs.id(rc);
        if let Some(Some(node)) = self.nodes.get_mut(id as usize) {
            if let Some(inv) = node.inventories.iter_mut().find(|i| i.rc == rc) {
                inv.used = used;
            }
        }
    }

    pub fn set_generation(&mut self, uuid: &str, generation: i64) {
        if let Some(id) = self.get(uuid) {
            if let Some(Some(node)) = self.nodes.get_mut(id as usize) {
                node.generation = generation;
            }
        }
    }

    pub fn is_resource_class(&self, name: &str) -> bool {
        crate::standard::is_standard_resource_class(name) || self.custom_rcs.contains(name)
    }

    pub fn is_trait(&self, name: &str) -> bool {
        crate::standard::is_standard_trait(name) || self.custom_traits.contains(name)
    }
}
