//! Who holds which role where: effective roles of a user on a scope, counting group
//! membership, roles inherited from the domain and parent projects, and implied roles.

use std::collections::{BTreeSet, HashMap};

use stratus_core::error::ApiResult;

use crate::model::{ActorType, TargetType, SYSTEM_ALL};
use crate::store::{AssignmentFilter, Store};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopeRef {
    Project(String),
    Domain(String),
    System,
}

/// Every role and the implication rules, read once per identity generation: what turning
/// direct grants into a token's roles needs.
#[derive(Debug, Default)]
pub struct RoleSnapshot {
    pub roles: std::collections::HashMap<String, crate::model::Role>,
    pub implied: ImpliedRoles,
}

impl RoleSnapshot {
    /// Direct grants → effective global roles (implied added, domain-specific roles left out,
    /// as keystone puts them in no token).
    pub fn effective(&self, direct: BTreeSet<String>) -> BTreeSet<String> {
        self.implied
            .expand(direct)
            .into_iter()
            .filter(|id| self.roles.get(id).is_some_and(|r| r.domain_id.is_none()))
            .collect()
    }
}

/// Role implication rules as a graph: prior → implied.
#[derive(Debug, Default, Clone)]
pub struct ImpliedRoles {
    implies: HashMap<String, Vec<String>>,
}

impl ImpliedRoles {
    pub fn new(rules: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut implies: HashMap<String, Vec<String>> = HashMap::new();
        for (prior, implied) in rules {
            implies.entry(prior).or_default().push(implied);
        }
        ImpliedRoles { implies }
    }

    /// The roles plus every role they imply, transitively (cycles are harmless).
    pub fn expand(&self, roles: impl IntoIterator<Item = String>) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let mut stack: Vec<String> = roles.into_iter().collect();
        while let Some(r) = stack.pop() {
            if out.insert(r.clone()) {
                if let Some(next) = self.implies.get(&r) {
                    stack.extend(next.iter().cloned());
                }
            }
        }
        out
    }

    /// Would adding prior → implied make a cycle?
    pub fn would_cycle(&self, prior: &str, implied: &str) -> bool {
        prior == implied || self.expand([implied.to_string()]).contains(prior)
    }

    pub fn implied_by(&self, prior: &str) -> &[String] {
        self.implies.get(prior).map(Vec::as_slice).unwrap_or(&[])
    }
}

impl Store {
    pub async fn implied_roles(&self) -> ApiResult<ImpliedRoles> {
        Ok(ImpliedRoles::new(self.implied_role_rules().await?))
    }

    /// Role ids from assignments to the user or its groups, before implication.
    pub(crate) async fn direct_role_ids(
        &self,
        user_id: &str,
        scope: &ScopeRef,
    ) -> ApiResult<BTreeSet<String>> {
        let group_ids: Vec<String> = self.groups_of_user(user_id).await?.into_iter().map(|g| g.id).collect();
        let mut actors = vec![user_id.to_string()];
        actors.extend(group_ids);
        let mut roles = BTreeSet::new();
        let mut collect = |assignments: Vec<crate::model::Assignment>| {
            for a in assignments {
                let actor_ok = match a.actor_type {
                    ActorType::User => a.actor_id == user_id,
                    ActorType::Group => actors[1..].contains(&a.actor_id),
                };
                if actor_ok {
                    roles.insert(a.role_id);
                }
            }
        };
        match scope {
            ScopeRef::System => {
                collect(
                    self.list_assignments(&AssignmentFilter {
                        actor_ids: Some(actors.clone()),
                        target_type: Some(TargetType::System),
                        target_ids: Some(vec![SYSTEM_ALL.into()]),
                        ..Default::default()
                    })
                    .await?,
                );
            }
            ScopeRef::Domain(domain_id) => {
                collect(
                    self.list_assignments(&AssignmentFilter {
                        actor_ids: Some(actors.clone()),
                        target_type: Some(TargetType::Domain),
                        target_ids: Some(vec![domain_id.clone()]),
                        inherited: Some(false),
                        ..Default::default()
                    })
                    .await?,
                );
            }
            ScopeRef::Project(project_id) => {
                collect(
                    self.list_assignments(&AssignmentFilter {
                        actor_ids: Some(actors.clone()),
                        target_type: Some(TargetType::Project),
                        target_ids: Some(vec![project_id.clone()]),
                        inherited: Some(false),
                        ..Default::default()
                    })
                    .await?,
                );
                // Inherited from the domain and from every ancestor project.
                let (domain_id, ancestors) = self.project_lineage(project_id).await?;
                if let Some(domain_id) = domain_id {
                    collect(
                        self.list_assignments(&AssignmentFilter {
                            actor_ids: Some(actors.clone()),
                            target_type: Some(TargetType::Domain),
                            target_ids: Some(vec![domain_id]),
                            inherited: Some(true),
                            ..Default::default()
                        })
                        .await?,
                    );
                }
                if !ancestors.is_empty() {
                    collect(
                        self.list_assignments(&AssignmentFilter {
                            actor_ids: Some(actors.clone()),
                            target_type: Some(TargetType::Project),
                            target_ids: Some(ancestors),
                            inherited: Some(true),
                            ..Default::default()
                        })
                        .await?,
                    );
                }
            }
        }
        Ok(roles)
    }

    /// The project's domain and its ancestor projects, nearest first.
    pub async fn project_lineage(&self, project_id: &str) -> ApiResult<(Option<String>, Vec<String>)> {
        let Some(project) = self.get_project(project_id).await? else { return Ok((None, vec![])) };
        let mut ancestors = Vec::new();
        let mut parent = project.parent_id.clone();
        while let Some(pid) = parent {
            if ancestors.contains(&pid) || ancestors.len() > 64 {
                break;
            }
            ancestors.push(pid.clone());
            parent = self.get_project(&pid).await?.and_then(|p| p.parent_id);
        }
        Ok((Some(project.domain_id), ancestors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn implication_is_transitive_and_cycle_safe() {
        let g = ImpliedRoles::new([
            ("admin".to_string(), "member".to_string()),
            ("member".to_string(), "reader".to_string()),
        ]);
        let all: Vec<_> = g.expand(["admin".to_string()]).into_iter().collect();
        assert_eq!(all, vec!["admin", "member", "reader"]);
        assert!(g.would_cycle("reader", "admin"));
        assert!(!g.would_cycle("admin", "reader"));
        let cyclic =
            ImpliedRoles::new([("a".to_string(), "b".to_string()), ("b".to_string(), "a".to_string())]);
        assert_eq!(cyclic.expand(["a".to_string()]).len(), 2);
    }
}

impl Store {
    /// Enabled projects where the user holds some role (directly, through a group, or
    /// inherited from a domain or a parent project).
    pub async fn projects_with_access(&self, user_id: &str) -> ApiResult<Vec<crate::model::Project>> {
        let mut actors = vec![user_id.to_string()];
        actors.extend(self.groups_of_user(user_id).await?.into_iter().map(|g| g.id));
        let assignments = self
            .list_assignments(&AssignmentFilter { actor_ids: Some(actors), ..Default::default() })
            .await?;
        let all = self.list_projects(&crate::store::ProjectFilter::default()).await?;
        let mut ids = BTreeSet::new();
        for a in &assignments {
            match (a.target_type, a.inherited) {
                (TargetType::Project, false) => {
                    ids.insert(a.target_id.clone());
                }
                (TargetType::Domain, true) => {
                    ids.extend(all.iter().filter(|p| p.domain_id == a.target_id).map(|p| p.id.clone()));
                }
                (TargetType::Project, true) => {
                    // Every project below the target.
                    let mut frontier = vec![a.target_id.clone()];
                    while let Some(parent) = frontier.pop() {
                        for p in all.iter().filter(|p| p.parent_id.as_deref() == Some(parent.as_str())) {
                            if ids.insert(p.id.clone()) {
                                frontier.push(p.id.clone());
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(all.into_iter().filter(|p| p.enabled && ids.contains(&p.id)).collect())
    }

    /// Enabled domains where the user holds some role directly or through a group.
    pub async fn domains_with_access(&self, user_id: &str) -> ApiResult<Vec<crate::model::Domain>> {
        let mut actors = vec![user_id.to_string()];
        actors.extend(self.groups_of_user(user_id).await?.into_iter().map(|g| g.id));
        let assignments = self
            .list_assignments(&AssignmentFilter {
                actor_ids: Some(actors),
                target_type: Some(TargetType::Domain),
                inherited: Some(false),
                ..Default::default()
            })
            .await?;
        let ids: BTreeSet<String> = assignments.into_iter().map(|a| a.target_id).collect();
        Ok(self.list_domains(None, Some(true)).await?.into_iter().filter(|d| ids.contains(&d.id)).collect())
    }
}

/// One line of `GET /v3/role_assignments`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssignmentView {
    pub assignment: crate::model::Assignment,
    /// In effective mode, the group through which a user holds the role.
    pub via_group: Option<String>,
    /// In effective mode, the role whose implication produced this one.
    pub prior_role: Option<String>,
    /// In effective mode, the domain or project the role was inherited from.
    pub inherited_from: Option<(TargetType, String)>,
}

#[derive(Debug, Default, Clone)]
pub struct AssignmentQuery {
    pub user_id: Option<String>,
    pub group_id: Option<String>,
    pub role_id: Option<String>,
    pub project_id: Option<String>,
    pub domain_id: Option<String>,
    pub system: bool,
    pub inherited_only: bool,
    pub effective: bool,
    pub include_subtree: bool,
}

impl Store {
    /// Role assignments as keystone lists them; in effective mode group grants become the
    /// members' grants, inherited grants land on the projects below, and implied roles appear.
    pub async fn role_assignments(&self, q: &AssignmentQuery) -> ApiResult<Vec<AssignmentView>> {
        use crate::model::Assignment;
        let raw = self.list_assignments(&AssignmentFilter::default()).await?;
        let mut views: Vec<AssignmentView> = raw
            .into_iter()
            .map(|a| AssignmentView {
                assignment: a,
                via_group: None,
                prior_role: None,
                inherited_from: None,
            })
            .collect();

        if q.effective {
            let projects = self.list_projects(&crate::store::ProjectFilter::default()).await?;
            let mut out = Vec::new();
            for v in views {
                let a = &v.assignment;
                // Groups become their members.
                let mut expanded: Vec<AssignmentView> = match a.actor_type {
                    ActorType::Group => self
                        .group_member_ids(&a.actor_id)
                        .await?
                        .into_iter()
                        .map(|uid| AssignmentView {
                            assignment: Assignment {
                                actor_type: ActorType::User,
                                actor_id: uid,
                                ..a.clone()
                            },
                            via_group: Some(a.actor_id.clone()),
                            prior_role: None,
                            inherited_from: None,
                        })
                        .collect(),
                    ActorType::User => vec![v.clone()],
                };
                // Inherited grants land on the projects below their target.
                let mut landed = Vec::new();
                for e in expanded.drain(..) {
                    if !e.assignment.inherited {
                        landed.push(e);
                        continue;
                    }
                    let below: Vec<String> = match e.assignment.target_type {
                        TargetType::Domain => projects
                            .iter()
                            .filter(|p| p.domain_id == e.assignment.target_id)
                            .map(|p| p.id.clone())
                            .collect(),
                        TargetType::Project => descendants(&projects, &e.assignment.target_id),
                        TargetType::System => vec![],
                    };
                    for pid in below {
                        landed.push(AssignmentView {
                            assignment: Assignment {
                                target_type: TargetType::Project,
                                target_id: pid,
                                inherited: false,
                                ..e.assignment.clone()
                            },
                            inherited_from: Some((e.assignment.target_type, e.assignment.target_id.clone())),
                            ..e.clone()
                        });
                    }
                }
                out.extend(landed);
            }
            // Implied roles.
            let graph = self.implied_roles().await?;
            let mut with_implied = Vec::new();
            for v in out {
                let implied = graph.expand([v.assignment.role_id.clone()]);
                for role in implied {
                    if role == v.assignment.role_id {
                        continue;
                    }
                    with_implied.push(AssignmentView {
                        assignment: Assignment { role_id: role, ..v.assignment.clone() },
                        prior_role: Some(v.assignment.role_id.clone()),
                        ..v.clone()
                    });
                }
                with_implied.push(v);
            }
            views = with_implied;
            views.dedup();
        }

        let subtree: Option<Vec<String>> = match (&q.project_id, q.include_subtree) {
            (Some(p), true) => {
                let projects = self.list_projects(&crate::store::ProjectFilter::default()).await?;
                let mut ids = descendants(&projects, p);
                ids.push(p.clone());
                Some(ids)
            }
            _ => None,
        };
        views.retain(|v| {
            let a = &v.assignment;
            let actor_ok = match (&q.user_id, &q.group_id) {
                (Some(u), _) => a.actor_type == ActorType::User && &a.actor_id == u,
                (None, Some(g)) => a.actor_type == ActorType::Group && &a.actor_id == g,
                (None, None) => true,
            };
            let role_ok = q.role_id.as_ref().is_none_or(|r| &a.role_id == r);
            let target_ok = if let Some(ids) = &subtree {
                a.target_type == TargetType::Project && ids.contains(&a.target_id)
            } else if let Some(p) = &q.project_id {
                a.target_type == TargetType::Project && &a.target_id == p
            } else if let Some(d) = &q.domain_id {
                a.target_type == TargetType::Domain && &a.target_id == d
            } else if q.system {
                a.target_type == TargetType::System
            } else {
                true
            };
            let inherit_ok = !q.inherited_only || a.inherited;
            actor_ok && role_ok && target_ok && inherit_ok
        });
        Ok(views)
    }
}

fn descendants(projects: &[crate::model::Project], root: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut frontier = vec![root.to_string()];
    while let Some(parent) = frontier.pop() {
        for p in projects.iter().filter(|p| p.parent_id.as_deref() == Some(parent.as_str())) {
            if !out.contains(&p.id) {
                out.push(p.id.clone());
                frontier.push(p.id.clone());
            }
        }
    }
    out
}
