//! The scheduler (nova-scheduler): placement narrows the hosts to those with the resources,
//! the filters remove the ones that cannot take the request, the weighers order the rest.
//!
//! When nothing is left, the answer says why: how many hosts each stage removed and the
//! deciding reason — nova's bare "No valid host was found" is its most-asked question.

pub mod filters;
pub mod weighers;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;
use stratus_core::config::SchedulerConfig;
use stratus_core::error::ApiResult;
use stratus_placement::client::{Allocations, CandidateQuery, CandidateView, PlacementClient};

use crate::expiring::Expiring;
use crate::model::Flavor;
use crate::store::Store;
use filters::Filter;

/// What is being scheduled.
#[derive(Debug, Clone)]
pub struct RequestSpec {
    pub instance_uuid: String,
    pub project_id: String,
    pub flavor: Flavor,
    pub image_properties: BTreeMap<String, String>,
    pub availability_zone: Option<String>,
    /// `--availability-zone zone:host` (admins) pins the host.
    pub force_host: Option<String>,
    /// Hosts already tried (RetryFilter), or the source host of a migration.
    pub ignore_hosts: Vec<String>,
    pub group: Option<GroupSpec>,
}

#[derive(Debug, Clone)]
pub struct GroupSpec {
    pub uuid: String,
    pub policy: String,
    pub max_server_per_host: Option<u32>,
    /// Members already placed, per host.
    pub members_per_host: HashMap<String, u32>,
}

/// What the compute database says of a host, cached between decisions.
#[derive(Debug, Clone)]
pub struct HostFacts {
    pub host: String,
    pub node: String,
    pub rp_uuid: String,
    pub zone: String,
    pub disabled: bool,
    pub hypervisor_type: String,
    pub hypervisor_version: i64,
    pub cpu_arch: String,
    pub vm_modes: Vec<String>,
    pub vcpus: i64,
    pub memory_mb: i64,
    pub local_gb: i64,
    /// Metadata of the host's aggregates: key → the values found.
    pub aggregate_metadata: BTreeMap<String, Vec<String>>,
}

/// One host as the filters and weighers see it during one decision: its facts (borrowed from
/// the cache, so a decision over a thousand candidates copies none), whether its service is
/// up, and its free resources as placement reported them.
#[derive(Debug, Clone, Copy)]
pub struct HostState<'a> {
    pub facts: &'a HostFacts,
    pub up: bool,
    pub free: Free,
}

/// Free amounts (capacity - used) of the resource classes the filters and weighers read, from
/// placement's provider summary; None for a class the host has no inventory of.
#[derive(Debug, Clone, Copy, Default)]
pub struct Free {
    pub vcpu: Option<i64>,
    pub memory_mb: Option<i64>,
    pub disk_gb: Option<i64>,
}

impl Free {
    /// Of provider `k` of candidate `i`.
    fn of(view: &dyn CandidateView, i: usize, k: usize) -> Free {
        let [vcpu, memory_mb, disk_gb] = view.free_common(i, k);
        Free { vcpu, memory_mb, disk_gb }
    }
}

impl std::ops::Deref for HostState<'_> {
    type Target = HostFacts;
    fn deref(&self) -> &HostFacts {
        self.facts
    }
}

impl HostState<'_> {
    /// Free capacity of a resource class (capacity - used), from placement.
    pub fn free(&self, rc: &str) -> Option<i64> {
        match rc {
            "VCPU" => self.free.vcpu,
            "MEMORY_MB" => self.free.memory_mb,
            "DISK_GB" => self.free.disk_gb,
            _ => None,
        }
    }

    /// A capability the ComputeCapabilitiesFilter can match.
    pub fn capability(&self, key: &str) -> Option<String> {
        Some(match key {
            "hypervisor_type" => self.hypervisor_type.clone(),
            "hypervisor_version" => self.hypervisor_version.to_string(),
            "cpu_info:arch" | "cpu_arch" | "arch" => self.cpu_arch.clone(),
            "vcpus" | "vcpus_total" => self.vcpus.to_string(),
            "memory_mb" | "total_usable_ram_mb" => self.memory_mb.to_string(),
            "free_ram_mb" => self.free("MEMORY_MB")?.to_string(),
            "local_gb" => self.local_gb.to_string(),
            "host" | "hypervisor_hostname" => self.host.clone(),
            _ => return None,
        })
    }
}

/// A chosen host with the allocation to claim there.
#[derive(Debug, Clone)]
pub struct Selection {
    pub host: String,
    pub node: String,
    pub rp_uuid: String,
    pub zone: String,
    pub allocations: Allocations,
}

/// Static facts of a host (from the compute database), cached between decisions.
#[derive(Debug, Clone)]
struct HostInfo {
    state: HostFacts,
    /// Whether its service was up when the facts were read. A host that comes back
    /// invalidates the cache; one that goes down is seen at the next reload (at most
    /// `HOST_CACHE_TTL` late). Judged at load time, so a cache's age never makes hosts
    /// look down.
    up: bool,
    /// The host's place in name order: equal weights are ordered by it (by name, cheaply).
    rank: u32,
}

pub struct Scheduler {
    config: SchedulerConfig,
    filters: Vec<Box<dyn Filter>>,
    service_down_time: u64,
    store: Store,
    placement: PlacementClient,
    cache: Expiring<Hosts>,
    reloading: tokio::sync::Mutex<()>,
}

/// How long host facts are trusted before a reload; writes that change them invalidate.
const HOST_CACHE_TTL: Duration = Duration::from_secs(5);

/// The host facts of one load, shared by the decisions that use it.
type HostCache = Arc<Hosts>;

/// The hosts' facts, found by their resource provider's uuid, or faster, by the number
/// placement gives the provider (a decision looks up every candidate).
#[derive(Default)]
struct Hosts {
    list: Vec<HostInfo>,
    /// Index in `list` by resource provider uuid.
    by_uuid: HashMap<String, u32, foldhash::fast::RandomState>,
    /// Index in `list` by placement's provider number, learnt from the decisions' lookups by
    /// uuid, for one epoch of numbers (see [`CandidateView::provider_key`]).
    by_key: std::sync::Mutex<Option<(u64, Arc<Vec<u32>>)>>,
}

/// In `Hosts::by_key`: not looked up yet.
const UNKNOWN: u32 = u32::MAX;
/// In `Hosts::by_key`: a provider that is no host the compute database knows.
const NOT_A_HOST: u32 = u32::MAX - 1;

impl Hosts {
    fn new(list: Vec<HostInfo>) -> Hosts {
        let by_uuid = list.iter().enumerate().map(|(i, h)| (h.state.rp_uuid.clone(), i as u32)).collect();
        Hosts { list, by_uuid, by_key: Default::default() }
    }

    fn by_uuid(&self, uuid: &str) -> Option<u32> {
        self.by_uuid.get(uuid).copied()
    }

    /// The numbers learnt so far for `epoch`.
    fn keys(&self, epoch: u64) -> Arc<Vec<u32>> {
        match &*self.by_key.lock().unwrap_or_else(|e| e.into_inner()) {
            Some((e, keys)) if *e == epoch => keys.clone(),
            _ => Arc::default(),
        }
    }

    /// Remembers numbers a decision had to look up by uuid.
    fn learn(&self, epoch: u64, learnt: &[(u32, u32)]) {
        let mut slot = self.by_key.lock().unwrap_or_else(|e| e.into_inner());
        let mut keys = match &*slot {
            Some((e, keys)) if *e == epoch => keys.as_ref().clone(),
            _ => Vec::new(),
        };
        for &(key, index) in learnt {
            let key = key as usize;
            if keys.len() <= key {
                keys.resize(key + 1, UNKNOWN);
            }
            keys[key] = index;
        }
        *slot = Some((epoch, Arc::new(keys)));
    }
}

/// Finds each candidate's host: by the view's provider numbers where it has them (learning
/// those not seen yet), else by uuid.
struct HostFinder<'h> {
    hosts: &'h Hosts,
    epoch: Option<u64>,
    keys: Arc<Vec<u32>>,
    learnt: Vec<(u32, u32)>,
}

impl<'h> HostFinder<'h> {
    fn new(hosts: &'h Hosts, view: &dyn CandidateView) -> HostFinder<'h> {
        let epoch = view.key_epoch();
        let keys = epoch.map(|e| hosts.keys(e)).unwrap_or_default();
        HostFinder { hosts, epoch, keys, learnt: Vec::new() }
    }

    /// The host of request `i`'s provider `k`, if the compute database knows it.
    fn find(&mut self, view: &dyn CandidateView, i: usize, k: usize) -> Option<&'h HostInfo> {
        let index = match view.provider_key(i, k).filter(|_| self.epoch.is_some()) {
            Some(key) => match self.keys.get(key as usize).copied().unwrap_or(UNKNOWN) {
                UNKNOWN => {
                    let index = self.hosts.by_uuid(view.provider(i, k));
                    self.learnt.push((key, index.unwrap_or(NOT_A_HOST)));
                    index
                }
                NOT_A_HOST => None,
                index => Some(index),
            },
            None => self.hosts.by_uuid(view.provider(i, k)),
        };
        index.map(|i| &self.hosts.list[i as usize])
    }

    /// Keeps what was learnt for the next decisions.
    fn finish(self) {
        if let (Some(epoch), false) = (self.epoch, self.learnt.is_empty()) {
            self.hosts.learn(epoch, &self.learnt);
        }
    }
}

/// What the filters and weighers made of one candidates answer.
enum Outcome {
    Chosen(Vec<Selection>),
    /// Nothing passed: the counts `explain` needs.
    Rejected {
        candidates: usize,
        unknown: usize,
        removed: Vec<(&'static str, usize, String)>,
    },
}

/// One decision: the hosts chosen (best first) and where the time went.
pub struct Decision {
    pub selections: Vec<Selection>,
    pub placement_time: Duration,
    pub filter_time: Duration,
}

impl Scheduler {
    pub fn new(
        config: SchedulerConfig,
        service_down_time: u64,
        store: Store,
        placement: PlacementClient,
    ) -> anyhow::Result<Scheduler> {
        let mut filters = Vec::new();
        for name in config.enabled_filters.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match filters::by_name(name) {
                Some(f) => filters.push(f),
                None => anyhow::bail!("scheduler.enabled_filters: unknown filter {name}"),
            }
        }
        Ok(Scheduler {
            config,
            filters,
            service_down_time,
            store,
            placement,
            cache: Expiring::new(HOST_CACHE_TTL),
            reloading: tokio::sync::Mutex::new(()),
        })
    }

    pub fn max_attempts(&self) -> usize {
        self.config.max_attempts.max(1) as usize
    }

    /// Host facts changed (a service registered, was disabled, an aggregate changed).
    pub fn invalidate(&self) {
        self.cache.invalidate();
    }

    async fn hosts(&self) -> ApiResult<HostCache> {
        if let Some(hosts) = self.cache.fresh() {
            return Ok(hosts);
        }
        // One decision reloads; the others wait for its facts rather than reload too. (They
        // must not use the expired ones: a host's liveness in them may be older than
        // `service_down_time`, and every host would look down.)
        let _reloading = self.reloading.lock().await;
        if let Some(hosts) = self.cache.fresh() {
            return Ok(hosts);
        }
        self.cache.reload(|| self.load_hosts()).await
    }

    /// The host facts as the compute database has them now.
    async fn load_hosts(&self) -> ApiResult<Hosts> {
        let services = self.store.services().await?;
        let now = chrono::Utc::now();
        let nodes = self.store.compute_nodes().await?;
        let zones = crate::zones::host_zones(&self.store).await?;
        let metadata = self.store.host_aggregate_metadata().await?;
        let services: HashMap<&str, _> =
            services.iter().filter(|s| s.binary == "nova-compute").map(|s| (s.host.as_str(), s)).collect();
        let mut out = Vec::new();
        for n in nodes {
            let Some(svc) = services.get(n.host.as_str()) else {
                continue;
            };
            let zone = zones.get(&n.host).cloned().unwrap_or_else(|| svc.availability_zone.clone());
            let state = HostFacts {
                host: n.host.clone(),
                node: n.hypervisor_hostname.clone(),
                rp_uuid: n.uuid.clone(),
                zone,
                disabled: svc.disabled,
                hypervisor_type: n.hypervisor_type.clone(),
                hypervisor_version: n.hypervisor_version,
                cpu_arch: n.cpu_arch.clone(),
                vm_modes: n.vm_modes.clone(),
                vcpus: n.vcpus,
                memory_mb: n.memory_mb,
                local_gb: n.local_gb,
                aggregate_metadata: metadata.get(&n.host).cloned().unwrap_or_default(),
            };
            out.push(HostInfo { state, up: svc.is_up(now, self.service_down_time), rank: 0 });
        }
        out.sort_by(|a, b| a.state.host.cmp(&b.state.host));
        for (rank, info) in out.iter_mut().enumerate() {
            info.rank = rank as u32;
        }
        Ok(Hosts::new(out))
    }

    /// Picks a host for `spec` and up to `max_attempts - 1` alternates, best first.
    pub async fn select(&self, spec: &RequestSpec) -> Result<Decision, SchedulingError> {
        let started = Instant::now();
        let hosts = self.hosts().await?;
        let mut query = CandidateQuery {
            resources: spec.flavor.resources(),
            limit: Some(self.config.max_placement_results),
            ..Default::default()
        };
        for (k, v) in &spec.flavor.extra_specs {
            if let Some(t) = k.strip_prefix("trait:") {
                match v.as_str() {
                    "required" => query.required.push(t.to_string()),
                    "forbidden" => query.forbidden.push(t.to_string()),
                    _ => {}
                }
            }
        }
        let (placement_time, outcome) = self
            .placement
            .with_allocation_candidates(&query, |view| (started.elapsed(), self.decide(spec, &hosts, view)))
            .await
            .map_err(|e| SchedulingError::Internal(format!("asking placement for candidates: {e}")))?;
        match outcome {
            Outcome::Chosen(selections) => {
                Ok(Decision { selections, placement_time, filter_time: started.elapsed() - placement_time })
            }
            Outcome::Rejected { candidates, unknown, removed } => {
                let message = self
                    .explain(spec, &hosts, candidates, unknown, &removed)
                    .await
                    .unwrap_or_else(|e| format!("No valid host was found. ({e})"));
                Err(SchedulingError::NoValidHost(message))
            }
        }
    }

    /// Filters and weighs placement's candidates where they lie; copies out only the chosen
    /// hosts' allocations.
    fn decide(&self, spec: &RequestSpec, hosts: &Hosts, view: &dyn CandidateView) -> Outcome {
        let mut passing: Vec<(HostState<'_>, usize, u32)> = Vec::with_capacity(view.len());
        let mut unknown = 0usize;
        let mut per_filter: Vec<(usize, Option<String>)> = vec![(0, None); self.filters.len()];
        let mut finder = HostFinder::new(hosts, view);
        for i in 0..view.len() {
            // The compute node is the request's provider the compute database knows (others
            // would be sharing providers).
            let Some((k, info)) = (0..view.providers(i)).find_map(|k| Some((k, finder.find(view, i, k)?)))
            else {
                unknown += 1;
                continue;
            };
            let state = HostState { facts: &info.state, up: info.up, free: Free::of(view, i, k) };
            let mut ok = true;
            for (f, (n, reason)) in self.filters.iter().zip(per_filter.iter_mut()) {
                if let Err(why) = f.check(&state, spec) {
                    *n += 1;
                    reason.get_or_insert(why);
                    ok = false;
                    break;
                }
            }
            if ok {
                passing.push((state, i, info.rank));
            }
        }
        finder.finish();
        if passing.is_empty() {
            let removed = per_filter
                .into_iter()
                .zip(&self.filters)
                .filter(|((n, _), _)| *n > 0)
                .map(|((n, reason), f)| (f.name(), n, reason.unwrap_or_default()))
                .collect();
            return Outcome::Rejected { candidates: view.len(), unknown, removed };
        }

        let weights = weighers::weigh(&self.config, &passing.iter().map(|(h, _, _)| h).collect::<Vec<_>>());
        let mut order: Vec<usize> = (0..passing.len()).collect();
        // Heaviest first; equal weights by host name.
        let best_first = |a: &usize, b: &usize| {
            weights[*b].total_cmp(&weights[*a]).then_with(|| passing[*a].2.cmp(&passing[*b].2))
        };
        // Only the best few are used (the subset to pick from, the alternates): find them
        // without sorting the rest.
        let subset = (self.config.host_subset_size.max(1) as usize).min(order.len());
        let wanted = subset.max(self.max_attempts()).min(order.len());
        if wanted < order.len() {
            order.select_nth_unstable_by(wanted, best_first);
            order.truncate(wanted);
        }
        order.sort_by(best_first);
        // host_subset_size: pick the first at random among the best N.
        if subset > 1 {
            let pick = rand::thread_rng().gen_range(0..subset);
            order.swap(0, pick);
        }
        let selections = order
            .into_iter()
            .take(self.max_attempts())
            .map(|p| {
                let (h, i, _) = &passing[p];
                Selection {
                    host: h.host.clone(),
                    node: h.node.clone(),
                    rp_uuid: h.rp_uuid.clone(),
                    zone: h.zone.clone(),
                    allocations: view.allocations(*i),
                }
            })
            .collect();
        Outcome::Chosen(selections)
    }

    /// Why nothing is left, stage by stage.
    async fn explain(
        &self,
        spec: &RequestSpec,
        hosts: &Hosts,
        candidates: usize,
        unknown: usize,
        removed: &[(&'static str, usize, String)],
    ) -> ApiResult<String> {
        let total = hosts.list.len();
        let mut parts = Vec::new();
        if total == 0 {
            return Ok(
                "No valid host was found. There are no compute hosts: is a compute agent running?".into()
            );
        }
        let lacking = total.saturating_sub(candidates.saturating_sub(unknown));
        if lacking > 0 {
            let why = self.resource_shortage(spec, hosts).await?;
            parts.push(format!("placement removed {lacking} for lack of resources ({why})"));
        }
        for (name, n, reason) in removed {
            parts.push(format!("{name} removed {n} ({reason})"));
        }
        Ok(format!("No valid host was found. {total} host(s): {}; 0 left.", parts.join(", ")))
    }

    /// For each resource the flavor asks for: the largest free amount on any enabled host.
    async fn resource_shortage(&self, spec: &RequestSpec, hosts: &Hosts) -> ApiResult<String> {
        let used = self.store.host_usage().await?;
        let need = spec.flavor.resources();
        let ratio = |rc: &str| match rc {
            "VCPU" => self.config.cpu_allocation_ratio,
            "MEMORY_MB" => self.config.ram_allocation_ratio,
            _ => self.config.disk_allocation_ratio,
        };
        let unit = |rc: &str| match rc {
            "VCPU" => "vCPU",
            "MEMORY_MB" => "MB",
            _ => "GB",
        };
        let name = |rc: &str| match rc {
            "MEMORY_MB" => "RAM".to_string(),
            "VCPU" => "vCPU".to_string(),
            "DISK_GB" => "disk".to_string(),
            other => other.to_string(),
        };
        let mut out = Vec::new();
        for (rc, amount) in &need {
            let physical = |h: &HostFacts| match rc.as_str() {
                "VCPU" => h.vcpus,
                "MEMORY_MB" => h.memory_mb,
                _ => h.local_gb,
            };
            // Placement's max_unit is a host's physical size: no overcommit makes one server
            // bigger than its host.
            let largest = hosts.list.iter().map(|i| physical(&i.state)).max().unwrap_or(0);
            if (*amount as i64) > largest {
                out.push(format!(
                    "{}: need {amount} {u}, the largest host has {largest} {u} (a server cannot be bigger than its host)",
                    name(rc),
                    u = unit(rc)
                ));
                continue;
            }
            let mut best: Option<(i64, &str)> = None;
            for info in &hosts.list {
                let h = &info.state;
                let total = physical(h);
                let u = used.get(&h.host).map(|u| match rc.as_str() {
                    "VCPU" => u.0,
                    "MEMORY_MB" => u.1,
                    _ => u.2,
                });
                let free = (total as f64 * ratio(rc)) as i64 - u.unwrap_or(0);
                if best.is_none_or(|(b, _)| free > b) {
                    best = Some((free, &h.host));
                }
            }
            if let Some((free, host)) = best {
                if free < *amount as i64 {
                    out.push(format!(
                        "{}: need {amount} {u}, largest free {f} {u} on {host}",
                        name(rc),
                        u = unit(rc),
                        f = free.max(0)
                    ));
                }
            }
        }
        if out.is_empty() {
            out.push("no single host has all of the flavor's resources free together".into());
        }
        Ok(out.join("; "))
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum SchedulingError {
    #[error("{0}")]
    NoValidHost(String),
    #[error("{0}")]
    Internal(String),
}

impl From<stratus_core::error::ApiError> for SchedulingError {
    fn from(e: stratus_core::error::ApiError) -> Self {
        SchedulingError::Internal(e.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Candidates of one provider each, numbered as placement would number them.
    struct View {
        epoch: u64,
        /// (number, uuid) per candidate.
        providers: Vec<(u32, &'static str)>,
    }

    impl CandidateView for View {
        fn len(&self) -> usize {
            self.providers.len()
        }
        fn providers(&self, _i: usize) -> usize {
            1
        }
        fn provider(&self, i: usize, _k: usize) -> &str {
            self.providers[i].1
        }
        fn free(&self, _i: usize, _k: usize, _rc: &str) -> Option<i64> {
            None
        }
        fn allocations(&self, _i: usize) -> Allocations {
            Allocations::new()
        }
        fn provider_key(&self, i: usize, _k: usize) -> Option<u32> {
            Some(self.providers[i].0)
        }
        fn key_epoch(&self) -> Option<u64> {
            Some(self.epoch)
        }
    }

    /// A default fake host's facts, its provider named after it.
    pub(crate) fn facts(name: &str) -> HostFacts {
        HostFacts {
            host: name.into(),
            node: name.into(),
            rp_uuid: name.into(),
            zone: "nova".into(),
            disabled: false,
            hypervisor_type: "fake".into(),
            hypervisor_version: 1,
            cpu_arch: "x86_64".into(),
            vm_modes: vec![],
            vcpus: 8,
            memory_mb: 8192,
            local_gb: 100,
            aggregate_metadata: BTreeMap::new(),
        }
    }

    fn host(name: &str, rp_uuid: &str) -> HostInfo {
        HostInfo { state: HostFacts { rp_uuid: rp_uuid.into(), ..facts(name) }, up: true, rank: 0 }
    }

    fn found(hosts: &Hosts, view: &View) -> Vec<Option<String>> {
        let mut finder = HostFinder::new(hosts, view);
        let names = (0..view.len()).map(|i| finder.find(view, i, 0).map(|h| h.state.host.clone())).collect();
        finder.finish();
        names
    }

    #[test]
    fn hosts_are_found_by_number_within_an_epoch_only() {
        let hosts = Hosts::new(vec![host("a", "rp-a"), host("b", "rp-b")]);
        let first = View { epoch: 7, providers: vec![(0, "rp-a"), (1, "rp-b"), (2, "rp-shared")] };
        let want = vec![Some("a".to_string()), Some("b".to_string()), None];
        assert_eq!(found(&hosts, &first), want, "looked up by uuid");
        assert_eq!(found(&hosts, &first), want, "by the numbers learnt");
        assert_eq!(*hosts.keys(7), vec![0, 1, NOT_A_HOST]);
        // A reloaded placement numbers its providers anew: the old numbers mean nothing.
        let reloaded = View { epoch: 8, providers: vec![(0, "rp-b"), (1, "rp-shared"), (2, "rp-a")] };
        let want = vec![Some("b".to_string()), None, Some("a".to_string())];
        assert_eq!(found(&hosts, &reloaded), want);
        assert_eq!(found(&hosts, &reloaded), want);
    }
}
