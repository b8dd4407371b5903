//! `GET /v3/role_assignments`

use std::collections::HashMap;

use axum::extract::Query;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use stratus_core::auth::Authenticated;
use stratus_core::error::{ApiError, ApiResult};
use stratus_core::http::BaseUrl;
use stratus_core::input::query_flag;

use super::{collection_links, State};
use crate::access::{AssignmentQuery, AssignmentView};
use crate::model::{ActorType, TargetType};

pub fn routes() -> Router<std::sync::Arc<crate::service::Identity>> {
    Router::new().route("/v3/role_assignments", get(list))
}

async fn list(
    s: State,
    Authenticated(ctx): Authenticated,
    BaseUrl(base): BaseUrl,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let get = |k: &str| q.get(k).cloned();
    let query = AssignmentQuery {
        user_id: get("user.id"),
        group_id: get("group.id"),
        role_id: get("role.id"),
        project_id: get("scope.project.id"),
        domain_id: get("scope.domain.id"),
        system: get("scope.system").is_some(),
        inherited_only: get("scope.OS-INHERIT:inherited_to").is_some(),
        effective: q.contains_key("effective") && query_flag(q.get("effective").map(String::as_str)),
        include_subtree: query_flag(q.get("include_subtree").map(String::as_str)),
    };
    if query.effective && query.group_id.is_some() {
        return Err(ApiError::bad_request("The effective and group.id filters cannot be combined."));
    }
    if query.user_id.is_some() && query.group_id.is_some() {
        return Err(ApiError::bad_request("Specify a user or a group, not both."));
    }
    if query.include_subtree && query.project_id.is_none() {
        return Err(ApiError::bad_request("include_subtree needs scope.project.id."));
    }
    let rule = if query.include_subtree {
        "identity:list_role_assignments_for_tree"
    } else {
        "identity:list_role_assignments"
    };
    let domain_of_project = match &query.project_id {
        Some(p) => s.store.get_project(p).await?.map(|p| p.domain_id),
        None => None,
    };
    let mut target = json!({"target": {}});
    if let Some(d) = &query.domain_id {
        target["domain_id"] = json!(d);
        target["target"]["domain_id"] = json!(d);
    }
    if let Some(p) = &query.project_id {
        target["project_id"] = json!(p);
        target["target"]["project"] = json!({"id": p});
        if let Some(d) = &domain_of_project {
            target["target"]["project"]["domain_id"] = json!(d);
            if query.include_subtree {
                target["target"]["domain_id"] = json!(d);
            }
        }
    }
    s.authorize(&ctx, rule, &target)?;
    let names = query_flag(q.get("include_names").map(String::as_str));
    let views = s.store.role_assignments(&query).await?;
    let mut namer = Namer { s: &s, cache: HashMap::new() };
    let mut items = Vec::with_capacity(views.len());
    for v in &views {
        items.push(render(v, &base, names, &mut namer).await?);
    }
    Ok(Json(json!({"role_assignments": items, "links": collection_links(&base, "role_assignments")})))
}

/// Looks names up once per id.
struct Namer<'a> {
    s: &'a State,
    cache: HashMap<(char, String), Value>,
}

impl Namer<'_> {
    async fn domain(&mut self, id: &str) -> ApiResult<Value> {
        if let Some(v) = self.cache.get(&('d', id.to_string())) {
            return Ok(v.clone());
        }
        let name = self.s.store.get_domain(id).await?.map(|d| d.name);
        let v = json!({"id": id, "name": name});
        self.cache.insert(('d', id.to_string()), v.clone());
        Ok(v)
    }

    async fn named(&mut self, kind: char, id: &str) -> ApiResult<Value> {
        if let Some(v) = self.cache.get(&(kind, id.to_string())) {
            return Ok(v.clone());
        }
        let v = match kind {
            'u' => match self.s.store.get_user(id).await? {
                Some(u) => json!({"id": id, "name": u.name, "domain": self.domain(&u.domain_id).await?}),
                None => json!({"id": id}),
            },
            'g' => match self.s.store.get_group(id).await? {
                Some(g) => json!({"id": id, "name": g.name, "domain": self.domain(&g.domain_id).await?}),
                None => json!({"id": id}),
            },
            'p' => match self.s.store.get_project(id).await? {
                Some(p) => json!({"id": id, "name": p.name, "domain": self.domain(&p.domain_id).await?}),
                None => json!({"id": id}),
            },
            'r' => match self.s.store.get_role(id).await? {
                Some(r) => match &r.domain_id {
                    Some(d) => json!({"id": id, "name": r.name, "domain": self.domain(d).await?}),
                    None => json!({"id": id, "name": r.name}),
                },
                None => json!({"id": id}),
            },
            _ => self.domain(id).await?,
        };
        self.cache.insert((kind, id.to_string()), v.clone());
        Ok(v)
    }
}

async fn render(v: &AssignmentView, base: &str, names: bool, namer: &mut Namer<'_>) -> ApiResult<Value> {
    let a = &v.assignment;
    let plain = |id: &str| json!({"id": id});
    let actor = match (a.actor_type, names) {
        (ActorType::User, true) => namer.named('u', &a.actor_id).await?,
        (ActorType::Group, true) => namer.named('g', &a.actor_id).await?,
        _ => plain(&a.actor_id),
    };
    let role = if names { namer.named('r', &a.role_id).await? } else { plain(&a.role_id) };
    let mut scope = match a.target_type {
        TargetType::Project => {
            json!({"project": if names { namer.named('p', &a.target_id).await? } else { plain(&a.target_id) }})
        }
        TargetType::Domain => {
            json!({"domain": if names { namer.domain(&a.target_id).await? } else { plain(&a.target_id) }})
        }
        TargetType::System => json!({"system": {"all": true}}),
    };
    // An inherited grant, or (in effective mode) one landed on a project below it, links to
    // the grant on the domain or project it is inherited from, as keystone does.
    let inherited = a.inherited || v.inherited_from.is_some();
    if inherited {
        scope["OS-INHERIT:inherited_to"] = json!("projects");
    }
    let (source_type, source_id) = match &v.inherited_from {
        Some((tt, id)) => (*tt, id.as_str()),
        None => (a.target_type, a.target_id.as_str()),
    };
    let target_path = match source_type {
        TargetType::Project => format!("projects/{source_id}"),
        TargetType::Domain => format!("domains/{source_id}"),
        TargetType::System => "system".to_string(),
    };
    let actor_key = a.actor_type.as_str();
    let grant_path = match v.via_group.as_ref() {
        Some(g) => format!("{target_path}/groups/{g}/roles/{}", v.prior_role.as_ref().unwrap_or(&a.role_id)),
        None => format!(
            "{target_path}/{actor_key}s/{}/roles/{}",
            a.actor_id,
            v.prior_role.as_ref().unwrap_or(&a.role_id)
        ),
    };
    let assignment = if inherited {
        format!("{base}/v3/OS-INHERIT/{grant_path}/inherited_to_projects")
    } else {
        format!("{base}/v3/{grant_path}")
    };
    let mut links = json!({ "assignment": assignment });
    if let Some(g) = &v.via_group {
        links["membership"] = json!(format!("{base}/v3/groups/{g}/users/{}", a.actor_id));
    }
    if let Some(p) = &v.prior_role {
        links["prior_role"] = json!(format!("{base}/v3/roles/{p}"));
    }
    let mut out = json!({"role": role, "scope": scope, "links": links});
    out[actor_key] = actor;
    Ok(out)
}
