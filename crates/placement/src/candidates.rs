//! The search behind `GET /allocation_candidates`, over the in-memory [`Snapshot`].
//!
//! Placement's rules: the unnumbered group may take each resource class from a different
//! provider of one tree (or from a sharing provider — one with MISC_SHARES_VIA_AGGREGATE —
//! that shares an aggregate with the tree), and its required traits must be found on the
//! providers it uses together; every numbered group is satisfied by one provider. An amount
//! fits an inventory when it respects min_unit, max_unit and step_size and the inventory's
//! usage plus the amount stays within `(total - reserved) * allocation_ratio`; amounts that
//! several groups put on one inventory are checked together. `member_of` matches a provider
//! or its root; `group_policy=isolate` puts numbered groups on different providers.
//!
//! When no provider has a parent and none shares, every tree is one provider and the search is
//! one pass over the providers.

use std::collections::{BTreeMap, HashMap, HashSet};

use stratus_core::error::{ApiError, ApiResult};

use crate::query::{CandidateQuery, MemberOf, RequestGroup, Traits};
use crate::snapshot::{Node, Snapshot};

/// The most combinations tried within one tree for the unnumbered group, a bound on the
/// work one request can cause in wide trees.
const MAX_COMBINATIONS_PER_TREE: usize = 10_000;

/// One allocation request as the tree search builds it (owned, so that duplicates can be
/// recognised): consolidated amounts, and which providers satisfied each group.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct AllocationRequest {
    /// (provider id, resource class id, amount), sorted.
    parts: Vec<(u32, u32, i64)>,
    /// Provider ids per group, in group order.
    mappings: Vec<Vec<u32>>,
}

/// The allocation requests found, stored end to end: a thousand of them are a few vectors,
/// not a few thousand small allocations made and freed on every search.
#[derive(Debug, Default)]
pub struct Requests {
    /// The groups' suffixes, in group order: every request maps each group.
    suffixes: Vec<String>,
    /// (provider id, resource class id, amount) of every request, one after the other.
    parts: Vec<(u32, u32, i64)>,
    /// Where each request's parts end.
    parts_end: Vec<u32>,
    /// The providers each group of each request uses, one after the other.
    providers: Vec<u32>,
    /// Where each (request, group) pair's providers end.
    mapping_end: Vec<u32>,
}

/// One allocation request, read from [`Requests`].
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// (provider id, resource class id, amount); one provider's parts are consecutive.
    pub parts: &'a [(u32, u32, i64)],
    suffixes: &'a [String],
    providers: &'a [u32],
    mapping_end: &'a [u32],
    /// Where this request's providers start in `providers`.
    providers_start: u32,
}

impl<'a> Request<'a> {
    /// (group suffix, the providers it uses), in group order.
    pub fn mappings(&self) -> impl Iterator<Item = (&'a str, &'a [u32])> + 'a {
        let (providers, ends) = (self.providers, self.mapping_end);
        let mut start = self.providers_start as usize;
        self.suffixes.iter().zip(ends).map(move |(suffix, &end)| {
            let used = &providers[start..end as usize];
            start = end as usize;
            (suffix.as_str(), used)
        })
    }
}

impl Requests {
    fn new(suffixes: Vec<String>) -> Requests {
        Requests { suffixes, ..Requests::default() }
    }

    pub fn len(&self) -> usize {
        self.parts_end.len()
    }

    pub fn is_empty(&self) -> bool {
        self.parts_end.is_empty()
    }

    pub fn get(&self, i: usize) -> Request<'_> {
        let start = |ends: &[u32], i: usize| if i == 0 { 0 } else { ends[i - 1] as usize };
        let groups = self.suffixes.len();
        let mappings = i * groups..(i + 1) * groups;
        Request {
            parts: &self.parts[start(&self.parts_end, i)..self.parts_end[i] as usize],
            suffixes: &self.suffixes,
            providers: &self.providers,
            mapping_end: &self.mapping_end[mappings.clone()],
            providers_start: start(&self.mapping_end, mappings.start) as u32,
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = Request<'_>> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    /// Every provider id the requests use (with repeats).
    fn used_providers(&self) -> impl Iterator<Item = u32> + '_ {
        self.parts.iter().map(|p| p.0)
    }

    /// Ends the request whose parts were pushed since the last one ended, with each group's
    /// providers.
    fn finish<'p>(&mut self, mappings: impl IntoIterator<Item = &'p [u32]>) {
        self.parts_end.push(self.parts.len() as u32);
        for providers in mappings {
            self.providers.extend_from_slice(providers);
            self.mapping_end.push(self.providers.len() as u32);
        }
        debug_assert_eq!(self.mapping_end.len(), self.parts_end.len() * self.suffixes.len());
    }

    fn push(&mut self, req: &AllocationRequest) {
        self.parts.extend_from_slice(&req.parts);
        self.finish(req.mappings.iter().map(Vec::as_slice));
    }
}

#[derive(Debug, Default)]
pub struct Found {
    pub requests: Requests,
    /// Providers to summarize, in id order.
    pub summaries: Vec<u32>,
    /// Resource class ids asked for (for summaries before 1.27).
    pub requested_rcs: Vec<u32>,
}

/// A group with names resolved against the snapshot. `impossible` when a name no provider has
/// makes it unsatisfiable.
struct Group<'q> {
    suffix: &'q str,
    same_provider: bool,
    resources: Vec<(u32, i64)>,
    required: Vec<Vec<u32>>,
    forbidden: Vec<u32>,
    member_of: Vec<Vec<u32>>,
    forbidden_aggs: Vec<u32>,
    in_tree_root: Option<u32>,
    impossible: bool,
}

fn unknown_traits(snap: &Snapshot, names: &[&String]) -> ApiResult<()> {
    let missing: Vec<&str> = names.iter().filter(|t| !snap.is_trait(t)).map(|t| t.as_str()).collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!("No such trait(s): {}.", missing.join(", "))))
    }
}

/// Resolves the trait part of a filter: unknown trait names are a 400.
fn resolve_traits(snap: &Snapshot, t: &Traits) -> ApiResult<(Vec<Vec<u32>>, Vec<u32>, bool)> {
    unknown_traits(snap, &t.names().collect::<Vec<_>>())?;
    let mut impossible = false;
    let mut required = Vec::new();
    for any in &t.required {
        let ids: Vec<u32> = any.iter().filter_map(|n| snap.traits.get(n)).collect();
        impossible |= ids.is_empty();
        required.push(ids);
    }
    let forbidden = t.forbidden.iter().filter_map(|n| snap.traits.get(n)).collect();
    Ok((required, forbidden, impossible))
}

fn resolve_aggs(snap: &Snapshot, m: &MemberOf) -> (Vec<Vec<u32>>, Vec<u32>, bool) {
    let mut impossible = false;
    let mut required = Vec::new();
    for any in &m.required {
        let ids: Vec<u32> = any.iter().filter_map(|a| snap.aggs.get(a)).collect();
        impossible |= ids.is_empty();
        required.push(ids);
    }
    (required, m.forbidden.iter().filter_map(|a| snap.aggs.get(a)).collect(), impossible)
}

/// Resource classes must exist (400 otherwise); those no provider has make a group impossible.
pub fn resolve_resources(snap: &Snapshot, resources: &[(String, i64)]) -> ApiResult<(Vec<(u32, i64)>, bool)> {
    let mut out = Vec::new();
    let mut impossible = false;
    for (rc, amount) in resources {
        if !snap.is_resource_class(rc) {
            return Err(ApiError::bad_request(format!(
                "Invalid resource class in resources parameter: No such resource class {rc}."
            )));
        }
        match snap.rcs.get(rc) {
            Some(id) => out.push((id, *amount)),
            None => impossible = true,
        }
    }
    Ok((out, impossible))
}

fn resolve<'q>(snap: &Snapshot, g: &'q RequestGroup) -> ApiResult<Group<'q>> {
    let (resources, no_rc) = resolve_resources(snap, &g.resources)?;
    let (required, forbidden, no_trait) = resolve_traits(snap, &g.traits)?;
    let (member_of, forbidden_aggs, no_agg) = resolve_aggs(snap, &g.member_of);
    let (in_tree_root, no_tree) = match &g.in_tree {
        None => (None, false),
        Some(u) => match snap.get(u) {
            Some(id) => (Some(snap.node(id).root), false),
            None => (None, true),
        },
    };
    Ok(Group {
        suffix: &g.suffix,
        same_provider: g.same_provider(),
        resources,
        required,
        forbidden,
        member_of,
        forbidden_aggs,
        in_tree_root,
        impossible: no_rc || no_trait || no_agg || no_tree,
    })
}

/// Aggregates of a provider or of its root.
fn aggs_ok(snap: &Snapshot, node: &Node, member_of: &[Vec<u32>], forbidden: &[u32]) -> bool {
    let root = snap.node(node.root);
    member_of.iter().all(|any| node.in_any(any) || root.in_any(any))
        && (forbidden.is_empty() || !(node.in_any(forbidden) || root.in_any(forbidden)))
}

fn traits_ok(traits: &[u32], required: &[Vec<u32>], forbidden: &[u32]) -> bool {
    let has = |t: &u32| traits.binary_search(t).is_ok();
    required.iter().all(|any| any.iter().any(has)) && !forbidden.iter().any(has)
}

/// Whether one provider alone satisfies a group (resources, its own traits, aggregates).
fn provider_satisfies(snap: &Snapshot, id: u32, g: &Group) -> bool {
    let node = snap.node(id);
    if let Some(root) = g.in_tree_root {
        if node.root != root {
            return false;
        }
    }
    traits_ok(&node.traits, &g.required, &g.forbidden)
        && aggs_ok(snap, node, &g.member_of, &g.forbidden_aggs)
        && g.resources.iter().all(|&(rc, amount)| node.inventory(rc).is_some_and(|i| i.can_take(amount)))
}

/// [`consolidate`] on the tail of `parts` from `start`.
fn consolidate_in_place(snap: &Snapshot, parts: &mut Vec<(u32, u32, i64)>, start: usize) -> bool {
    let mut tail = parts.split_off(start);
    let ok = consolidate(snap, &mut tail);
    parts.append(&mut tail);
    ok
}

/// Merges amounts per (provider, class) and checks the sums against room and max_unit.
fn consolidate(snap: &Snapshot, parts: &mut Vec<(u32, u32, i64)>) -> bool {
    parts.sort_unstable();
    let mut out: Vec<(u32, u32, i64)> = Vec::with_capacity(parts.len());
    for &(p, rc, n) in parts.iter() {
        match out.last_mut() {
            Some(last) if last.0 == p && last.1 == rc => last.2 += n,
            _ => out.push((p, rc, n)),
        }
    }
    let ok = out
        .iter()
        .all(|&(p, rc, n)| snap.node(p).inventory(rc).is_some_and(|i| n <= i.max_unit && i.room_for(n)));
    *parts = out;
    ok
}

fn is_ancestor_or_self(snap: &Snapshot, ancestor: u32, mut id: u32) -> bool {
    loop {
        if id == ancestor {
            return true;
        }
        match snap.node(id).parent {
            Some(p) => id = p,
            None => return false,
        }
    }
}

/// The search. `nested_aware` is false before microversion 1.29: allocation requests may then
/// use one provider per tree only.
pub fn search(snap: &Snapshot, q: &CandidateQuery, nested_aware: bool) -> ApiResult<Found> {
    let groups = q.groups.iter().map(|g| resolve(snap, g)).collect::<ApiResult<Vec<_>>>()?;
    let root_names: Vec<&String> = q.root_required.iter().chain(q.root_forbidden.iter()).collect();
    unknown_traits(snap, &root_names)?;
    let root_required: Vec<Vec<u32>> =
        q.root_required.iter().map(|t| snap.traits.get(t).into_iter().collect()).collect();
    let root_forbidden: Vec<u32> = q.root_forbidden.iter().filter_map(|t| snap.traits.get(t)).collect();
    let mut requested_rcs: Vec<u32> = groups.iter().flat_map(|g| g.resources.iter().map(|r| r.0)).collect();
    requested_rcs.sort_unstable();
    requested_rcs.dedup();
    let suffixes = groups.iter().map(|g| g.suffix.to_string()).collect();
    let mut found = Found { requests: Requests::new(suffixes), requested_rcs, ..Found::default() };
    if groups.iter().any(|g| g.impossible) || root_required.iter().any(|a| a.is_empty()) {
        return Ok(found);
    }
    let limit = q.limit.unwrap_or(usize::MAX);
    let root_ok = |root: &Node| traits_ok(&root.traits, &root_required, &root_forbidden);

    if !snap.nested && snap.sharing.is_empty() {
        flat(snap, q, &groups, limit, &root_ok, &mut found);
    } else {
        trees(snap, q, &groups, limit, nested_aware, &root_ok, &mut found);
    }

    // Summaries: every provider of the trees the requests use (or, before 1.29 with trees,
    // only the providers they use).
    if !nested_aware || !snap.nested {
        let mut used: Vec<u32> = found.requests.used_providers().collect();
        used.sort_unstable();
        used.dedup();
        found.summaries = used;
    } else {
        let roots: HashSet<u32> = found.requests.used_providers().map(|p| snap.node(p).root).collect();
        found.summaries = snap.live().filter(|(_, n)| roots.contains(&n.root)).map(|(id, _)| id).collect();
    }
    Ok(found)
}

/// Every tree is a single provider: one pass.
fn flat(
    snap: &Snapshot,
    q: &CandidateQuery,
    groups: &[Group],
    limit: usize,
    root_ok: &dyn Fn(&Node) -> bool,
    found: &mut Found,
) {
    for (id, node) in snap.live() {
        if found.requests.len() >= limit {
            break;
        }
        single(snap, q, groups, id, node, root_ok, found);
    }
}

/// A tree of one provider with no sharing provider beside it: it alone satisfies every
/// group, or nothing does.
fn single(
    snap: &Snapshot,
    q: &CandidateQuery,
    groups: &[Group],
    id: u32,
    node: &Node,
    root_ok: &dyn Fn(&Node) -> bool,
    found: &mut Found,
) {
    if q.isolate && groups.iter().filter(|g| g.same_provider).count() > 1 {
        return;
    }
    if !root_ok(node) || !groups.iter().all(|g| provider_satisfies(snap, id, g)) {
        return;
    }
    let requests = &mut found.requests;
    let start = requests.parts.len();
    requests.parts.extend(groups.iter().flat_map(|g| g.resources.iter().map(move |&(rc, n)| (id, rc, n))));
    if groups.len() > 1 && !consolidate_in_place(snap, &mut requests.parts, start) {
        requests.parts.truncate(start);
        return;
    }
    requests.finish(groups.iter().map(|_| std::slice::from_ref(&id)));
}

/// One way of satisfying one group within a tree.
#[derive(Clone)]
struct Choice {
    parts: Vec<(u32, u32, i64)>,
    providers: Vec<u32>,
}

/// Provider trees and sharing providers.
fn trees(
    snap: &Snapshot,
    q: &CandidateQuery,
    groups: &[Group],
    limit: usize,
    nested_aware: bool,
    root_ok: &dyn Fn(&Node) -> bool,
    found: &mut Found,
) {
    // Members of each tree, in id order; roots in order of first appearance.
    let mut members: HashMap<u32, Vec<u32>> = HashMap::new();
    let mut roots = Vec::new();
    for (id, node) in snap.live() {
        let m = members.entry(node.root).or_default();
        if m.is_empty() {
            roots.push(node.root);
        }
        m.push(id);
    }
    roots.sort_unstable();
    // Sharing providers anchored to each tree: those sharing an aggregate with one of its
    // providers.
    let mut anchored: HashMap<u32, Vec<u32>> = HashMap::new();
    if !snap.sharing.is_empty() {
        let mut sharers: HashMap<u32, Vec<u32>> = HashMap::new();
        for &s in &snap.sharing {
            for &a in &snap.node(s).aggregates {
                sharers.entry(a).or_default().push(s);
            }
        }
        for (_, node) in snap.live() {
            for a in &node.aggregates {
                if let Some(ss) = sharers.get(a) {
                    let list = anchored.entry(node.root).or_default();
                    for &s in ss {
                        if snap.node(s).root != node.root && !list.contains(&s) {
                            list.push(s);
                        }
                    }
                }
            }
        }
    }
    let mut seen: HashSet<AllocationRequest> = HashSet::new();
    'tree: for root in roots {
        if found.requests.len() >= limit {
            break;
        }
        if !root_ok(snap.node(root)) {
            continue;
        }
        if members[&root].len() == 1 && !anchored.contains_key(&root) {
            single(snap, q, groups, root, snap.node(root), root_ok, found);
            continue;
        }
        let mut avail: Vec<u32> = members[&root].clone();
        if let Some(shared) = anchored.get(&root) {
            avail.extend(shared.iter().copied());
        }
        let mut choices: Vec<Vec<Choice>> = Vec::with_capacity(groups.len());
        for g in groups {
            let c = group_choices(snap, g, &avail);
            if c.is_empty() {
                continue 'tree;
            }
            choices.push(c);
        }
        // The product of the groups' choices (an odometer over their indices).
        let mut idx = vec![0usize; choices.len()];
        loop {
            if found.requests.len() >= limit {
                break 'tree;
            }
            let pick: Vec<&Choice> = idx.iter().zip(&choices).map(|(&i, c)| &c[i]).collect();
            if let Some(req) = combine(snap, q, groups, &pick, nested_aware) {
                if !seen.contains(&req) {
                    found.requests.push(&req);
                    seen.insert(req);
                }
            }
            // Next index.
            let mut k = choices.len();
            loop {
                if k == 0 {
                    continue 'tree;
                }
                k -= 1;
                idx[k] += 1;
                if idx[k] < choices[k].len() {
                    break;
                }
                idx[k] = 0;
            }
        }
    }
}

/// The ways one group can be satisfied by the providers available to a tree.
fn group_choices(snap: &Snapshot, g: &Group, avail: &[u32]) -> Vec<Choice> {
    if g.same_provider || g.resources.is_empty() {
        return avail
            .iter()
            .filter(|&&p| provider_satisfies(snap, p, g))
            .map(|&p| Choice {
                parts: g.resources.iter().map(|&(rc, n)| (p, rc, n)).collect(),
                providers: vec![p],
            })
            .collect();
    }
    // Unnumbered group: each class from any provider that can take it.
    let mut per_rc: Vec<Vec<u32>> = Vec::with_capacity(g.resources.len());
    for &(rc, amount) in &g.resources {
        let ps: Vec<u32> = avail
            .iter()
            .copied()
            .filter(|&p| {
                let node = snap.node(p);
                g.in_tree_root.is_none_or(|r| node.root == r)
                    && node.inventory(rc).is_some_and(|i| i.can_take(amount))
                    && aggs_ok(snap, node, &g.member_of, &g.forbidden_aggs)
            })
            .collect();
        if ps.is_empty() {
            return vec![];
        }
        per_rc.push(ps);
    }
    let mut out = Vec::new();
    let mut idx = vec![0usize; per_rc.len()];
    let mut tried = 0;
    loop {
        tried += 1;
        let mut providers: Vec<u32> = idx.iter().zip(&per_rc).map(|(&i, ps)| ps[i]).collect();
        let parts: Vec<(u32, u32, i64)> =
            providers.iter().zip(&g.resources).map(|(&p, &(rc, n))| (p, rc, n)).collect();
        providers.sort_unstable();
        providers.dedup();
        // Required traits collectively, forbidden on none.
        let mut traits: Vec<u32> =
            providers.iter().flat_map(|&p| snap.node(p).traits.iter().copied()).collect();
        traits.sort_unstable();
        traits.dedup();
        let forbidden_hit = providers.iter().any(|&p| g.forbidden.iter().any(|t| snap.node(p).has_trait(*t)));
        if !forbidden_hit && traits_ok(&traits, &g.required, &[]) {
            out.push(Choice { parts, providers });
        }
        if tried >= MAX_COMBINATIONS_PER_TREE {
            break;
        }
        let mut k = per_rc.len();
        loop {
            if k == 0 {
                return out;
            }
            k -= 1;
            idx[k] += 1;
            if idx[k] < per_rc[k].len() {
                break;
            }
            idx[k] = 0;
        }
    }
    out
}

/// One choice per group → an allocation request, if the choices go together.
fn combine(
    snap: &Snapshot,
    q: &CandidateQuery,
    groups: &[Group],
    pick: &[&Choice],
    nested_aware: bool,
) -> Option<AllocationRequest> {
    if q.isolate {
        let mut used: Vec<u32> = groups
            .iter()
            .zip(pick)
            .filter(|(g, _)| g.same_provider)
            .flat_map(|(_, c)| c.providers.clone())
            .collect();
        let n = used.len();
        used.sort_unstable();
        used.dedup();
        if used.len() != n {
            return None;
        }
    }
    for set in &q.same_subtrees {
        let providers: Vec<u32> = groups
            .iter()
            .zip(pick)
            .filter(|(g, _)| set.iter().any(|s| s == g.suffix))
            .flat_map(|(_, c)| c.providers.iter().copied())
            .collect();
        let ok = providers.iter().any(|&top| providers.iter().all(|&p| is_ancestor_or_self(snap, top, p)));
        if !ok {
            return None;
        }
    }
    let mut parts: Vec<(u32, u32, i64)> = pick.iter().flat_map(|c| c.parts.iter().copied()).collect();
    if !consolidate(snap, &mut parts) {
        return None;
    }
    if !nested_aware {
        // One provider per tree.
        let mut by_root: BTreeMap<u32, u32> = BTreeMap::new();
        for &(p, _, _) in &parts {
            if *by_root.entry(snap.node(p).root).or_insert(p) != p {
                return None;
            }
        }
    }
    let mappings = pick.iter().map(|c| c.providers.clone()).collect();
    Some(AllocationRequest { parts, mappings })
}

/// `GET /resource_providers` filters, on one provider.
pub struct ProviderFilter {
    pub resources: Vec<(u32, i64)>,
    pub required: Vec<Vec<u32>>,
    pub forbidden: Vec<u32>,
    pub member_of: Vec<Vec<u32>>,
    pub forbidden_aggs: Vec<u32>,
    pub impossible: bool,
}

impl ProviderFilter {
    pub fn new(
        snap: &Snapshot,
        resources: &[(String, i64)],
        traits: &Traits,
        member_of: &MemberOf,
    ) -> ApiResult<ProviderFilter> {
        let (resources, no_rc) = resolve_resources(snap, resources)?;
        let (required, forbidden, no_trait) = resolve_traits(snap, traits).map_err(|e| {
            ApiError::bad_request(format!("Invalid trait(s) in \"required\" parameter: {}", e.message))
        })?;
        let (member_of, forbidden_aggs, no_agg) = resolve_aggs(snap, member_of);
        Ok(ProviderFilter {
            resources,
            required,
            forbidden,
            member_of,
            forbidden_aggs,
            impossible: no_rc || no_trait || no_agg,
        })
    }

    pub fn matches(&self, snap: &Snapshot, node: &Node) -> bool {
        !self.impossible
            && traits_ok(&node.traits, &self.required, &self.forbidden)
            && aggs_ok(snap, node, &self.member_of, &self.forbidden_aggs)
            && self.resources.iter().all(|&(rc, n)| node.inventory(rc).is_some_and(|i| i.can_take(n)))
    }
}
