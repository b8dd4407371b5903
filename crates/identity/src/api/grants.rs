//! Role grants: `/v3/{projects|domains}/{id}/{users|groups}/{id}/roles[/{role}]`,
//! `/v3/system/{users|groups}/{id}/roles[/{role}]` and their OS-INHERIT forms.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use stratus_core::auth::Authenticated;
use stratus_core::error::{ApiError, ApiResult};
use stratus_core::http::BaseUrl;

use super::{collection_links, State};
use crate::model::{ActorType, Assignment, TargetType, SYSTEM_ALL};

pub fn routes() -> Router<std::sync::Arc<crate::service::Identity>> {
    let mut r = Router::new();
    for (target, tt) in [("projects", TargetType::Project), ("domains", TargetType::Domain)] {
        for (actor, at) in [("users", ActorType::User), ("groups", ActorType::Group)] {
            r = r
                .route(
                    &format!("/v3/{target}/{{target_id}}/{actor}/{{actor_id}}/roles"),
                    get(move |s: State, a: Authenticated, b: BaseUrl, Path((t, id)): Path<(String, String)>| {
                        list(s, a, b, Key { tt, target: t, at, actor: id, role: String::new(), inherited: false })
                    }),
                )
                .route(
                    &format!("/v3/{target}/{{target_id}}/{actor}/{{actor_id}}/roles/{{role_id}}"),
                    get(move |s: State, a: Authenticated, Path((t, id, role)): Path<(String, String, String)>| {
                        check(s, a, Key { tt, target: t, at, actor: id, role, inherited: false })
                    })
                    .put(move |s: State, a: Authenticated, Path((t, id, role)): Path<(String, String, String)>| {
                        grant(s, a, Key { tt, target: t, at, actor: id, role, inherited: false })
                    })
                    .delete(move |s: State, a: Authenticated, Path((t, id, role)): Path<(String, String, String)>| {
                        revoke(s, a, Key { tt, target: t, at, actor: id, role, inherited: false })
                    }),
                )
                .route(
                    &format!("/v3/OS-INHERIT/{target}/{{target_id}}/{actor}/{{actor_id}}/roles/{{role_id}}/inherited_to_projects"),
                    get(move |s: State, a: Authenticated, Path((t, id, role)): Path<(String, String, String)>| {
                        check(s, a, Key { tt, target: t, at, actor: id, role, inherited: true })
                    })
                    .put(move |s: State, a: Authenticated, Path((t, id, role)): Path<(String, String, String)>| {
                        grant(s, a, Key { tt, target: t, at, actor: id, role, inherited: true })
                    })
                    .delete(move |s: State, a: Authenticated, Path((t, id, role)): Path<(String, String, String)>| {
                        revoke(s, a, Key { tt, target: t, at, actor: id, role, inherited: true })
                    }),
                );
        }
    }
    for (actor, at) in [("users", ActorType::User), ("groups", ActorType::Group)] {
        r = r
            .route(
                &format!("/v3/system/{actor}/{{actor_id}}/roles"),
                get(move |s: State, a: Authenticated, b: BaseUrl, Path(id): Path<String>| {
                    list(
                        s,
                        a,
                        b,
                        Key {
                            tt: TargetType::System,
                            target: SYSTEM_ALL.into(),
                            at,
                            actor: id,
                            role: String::new(),
                            inherited: false,
                        },
                    )
                }),
            )
            .route(
                &format!("/v3/system/{actor}/{{actor_id}}/roles/{{role_id}}"),
                get(move |s: State, a: Authenticated, Path((id, role)): Path<(String, String)>| {
                    check(
                        s,
                        a,
                        Key {
                            tt: TargetType::System,
                            target: SYSTEM_ALL.into(),
                            at,
                            actor: id,
                            role,
                            inherited: false,
                        },
                    )
                })
                .put(move |s: State, a: Authenticated, Path((id, role)): Path<(String, String)>| {
                    grant(
                        s,
                        a,
                        Key {
                            tt: TargetType::System,
                            target: SYSTEM_ALL.into(),
                            at,
                            actor: id,
                            role,
                            inherited: false,
                        },
                    )
                })
                .delete(
                    move |s: State, a: Authenticated, Path((id, role)): Path<(String, String)>| {
                        revoke(
                            s,
                            a,
                            Key {
                                tt: TargetType::System,
                                target: SYSTEM_ALL.into(),
                                at,
                                actor: id,
                                role,
                                inherited: false,
                            },
                        )
                    },
                ),
            );
    }
    r
}

struct Key {
    tt: TargetType,
    target: String,
    at: ActorType,
    actor: String,
    role: String,
    inherited: bool,
}

impl Key {
    fn assignment(&self) -> Assignment {
        Assignment {
            actor_type: self.at,
            actor_id: self.actor.clone(),
            target_type: self.tt,
            target_id: self.target.clone(),
            role_id: self.role.clone(),
            inherited: self.inherited,
        }
    }

    /// keystone names system grant rules per actor kind: `identity:<op>_system_grant[s]_for_<actor>`.
    fn rule(
        &self,
        system_user: &'static str,
        system_group: &'static str,
        other: &'static str,
    ) -> &'static str {
        match (self.tt, self.at) {
            (TargetType::System, ActorType::User) => system_user,
            (TargetType::System, ActorType::Group) => system_group,
            _ => other,
        }
    }
}

/// Checks that everything named exists and builds the policy target keystone uses.
async fn resolve(s: &State, k: &Key) -> ApiResult<Value> {
    let mut target = json!({});
    match k.tt {
        TargetType::Project => {
            let p = super::projects::load(s, &k.target).await?;
            target["project"] = json!({"id": p.id, "domain_id": p.domain_id});
        }
        TargetType::Domain => {
            let d = super::domains::load(s, &k.target).await?;
            target["domain"] = json!({"id": d.id});
        }
        TargetType::System => {}
    }
    match k.at {
        ActorType::User => {
            let u = super::users::load(s, &k.actor).await?;
            target["user"] = json!({"id": u.id, "domain_id": u.domain_id});
        }
        ActorType::Group => {
            let g = super::groups::load(s, &k.actor).await?;
            target["group"] = json!({"id": g.id, "domain_id": g.domain_id});
        }
    }
    if !k.role.is_empty() {
        let r = super::roles::load(s, &k.role).await?;
        target["role"] = json!({"id": r.id, "domain_id": r.domain_id, "name": r.name});
    }
    Ok(json!({ "target": target }))
}

async fn list(
    s: State,
    Authenticated(ctx): Authenticated,
    BaseUrl(base): BaseUrl,
    k: Key,
) -> ApiResult<Json<Value>> {
    let t = resolve(&s, &k).await?;
    s.authorize(
        &ctx,
        k.rule(
            "identity:list_system_grants_for_user",
            "identity:list_system_grants_for_group",
            "identity:list_grants",
        ),
        &t,
    )?;
    let assignments = s
        .store
        .list_assignments(&crate::store::AssignmentFilter {
            actor_type: Some(k.at),
            actor_ids: Some(vec![k.actor.clone()]),
            target_type: Some(k.tt),
            target_ids: Some(vec![k.target.clone()]),
            inherited: Some(false),
            ..Default::default()
        })
        .await?;
    let mut roles = Vec::new();
    for a in assignments {
        if let Some(r) = s.store.get_role(&a.role_id).await? {
            roles.push(super::roles::render(&r, &base));
        }
    }
    Ok(Json(json!({"roles": roles, "links": collection_links(&base, "roles")})))
}

async fn check(s: State, Authenticated(ctx): Authenticated, k: Key) -> ApiResult<StatusCode> {
    let t = resolve(&s, &k).await?;
    s.authorize(
        &ctx,
        k.rule(
            "identity:check_system_grant_for_user",
            "identity:check_system_grant_for_group",
            "identity:check_grant",
        ),
        &t,
    )?;
    if s.store.assignment_exists(&k.assignment()).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("Could not find role assignment with role: {}.", k.role)))
    }
}

async fn grant(s: State, Authenticated(ctx): Authenticated, k: Key) -> ApiResult<StatusCode> {
    let t = resolve(&s, &k).await?;
    s.authorize(
        &ctx,
        k.rule(
            "identity:create_system_grant_for_user",
            "identity:create_system_grant_for_group",
            "identity:create_grant",
        ),
        &t,
    )?;
    s.store.grant(&k.assignment()).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn revoke(s: State, Authenticated(ctx): Authenticated, k: Key) -> ApiResult<StatusCode> {
    let t = resolve(&s, &k).await?;
    s.authorize(
        &ctx,
        k.rule(
            "identity:revoke_system_grant_for_user",
            "identity:revoke_system_grant_for_group",
            "identity:revoke_grant",
        ),
        &t,
    )?;
    if !s.store.revoke(&k.assignment()).await? {
        return Err(ApiError::not_found(format!("Could not find role assignment with role: {}.", k.role)));
    }
    let users = match k.at {
        ActorType::User => vec![k.actor.clone()],
        ActorType::Group => s.store.group_member_ids(&k.actor).await?,
    };
    s.revoke_users(&users).await?;
    Ok(StatusCode::NO_CONTENT)
}
