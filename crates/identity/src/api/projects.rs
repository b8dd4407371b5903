//! `/v3/projects` and project tags.

use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use stratus_core::auth::Authenticated;
use stratus_core::error::{ApiError, ApiResult};
use stratus_core::http::{BaseUrl, Json as JsonBody};
use stratus_core::input::{check_name, query_bool, Fields};

use super::{collection_links, links, owning_domain, with_extra, State};
use crate::model::{new_id, Project};
use crate::policy_glue::domain_filter_target;
use crate::store::ProjectFilter;

const MAX_TAGS: usize = 80;

pub fn routes() -> Router<std::sync::Arc<crate::service::Identity>> {
    Router::new()
        .route("/v3/projects", get(list).post(create))
        .route("/v3/projects/{id}", get(show).patch(update).delete(remove))
        .route("/v3/projects/{id}/tags", get(list_tags).put(replace_tags).delete(clear_tags))
        .route("/v3/projects/{id}/tags/{tag}", get(check_tag).put(add_tag).delete(remove_tag))
}

pub(crate) fn render(p: &Project, base: &str) -> Value {
    let v = json!({
        "id": p.id, "name": p.name, "domain_id": p.domain_id,
        "description": p.description.clone().unwrap_or_default(),
        "enabled": p.enabled, "is_domain": false,
        "parent_id": p.parent_id.clone().unwrap_or_else(|| p.domain_id.clone()),
        "tags": p.tags, "options": p.extra.get("options").cloned().unwrap_or(json!({})),
        "links": links(base, &format!("projects/{}", p.id)),
    });
    with_extra(v, &p.extra)
}

pub(crate) async fn load(s: &State, id: &str) -> ApiResult<Project> {
    s.store.get_project(id).await?.ok_or_else(|| ApiError::not_found_resource("project", id))
}

fn target(p: &Project) -> Value {
    json!({"target": {"project": {"id": p.id, "domain_id": p.domain_id}}, "project_id": p.id, "domain_id": p.domain_id})
}

#[derive(Deserialize, Default)]
struct ListQuery {
    name: Option<String>,
    domain_id: Option<String>,
    parent_id: Option<String>,
    enabled: Option<String>,
    is_domain: Option<String>,
    tags: Option<String>,
    #[serde(rename = "tags-any")]
    tags_any: Option<String>,
    #[serde(rename = "not-tags")]
    not_tags: Option<String>,
    #[serde(rename = "not-tags-any")]
    not_tags_any: Option<String>,
}

fn split_tags(v: Option<String>) -> Vec<String> {
    v.map(|s| s.split(',').filter(|t| !t.is_empty()).map(str::to_string).collect()).unwrap_or_default()
}

async fn list(
    s: State,
    Authenticated(ctx): Authenticated,
    BaseUrl(base): BaseUrl,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Value>> {
    let (target, domain) = domain_filter_target(&ctx, q.domain_id.as_deref());
    s.authorize(&ctx, "identity:list_projects", &target)?;
    if query_bool("is_domain", q.is_domain.as_deref())? == Some(true) {
        return Ok(Json(json!({"projects": [], "links": collection_links(&base, "projects")})));
    }
    let f = ProjectFilter {
        name: q.name,
        domain_id: domain,
        parent_id: q.parent_id,
        enabled: query_bool("enabled", q.enabled.as_deref())?,
        tags: split_tags(q.tags),
        tags_any: split_tags(q.tags_any),
        not_tags: split_tags(q.not_tags),
        not_tags_any: split_tags(q.not_tags_any),
        ids: None,
    };
    let items: Vec<Value> = s.store.list_projects(&f).await?.iter().map(|p| render(p, &base)).collect();
    Ok(Json(json!({"projects": items, "links": collection_links(&base, "projects")})))
}

async fn show(
    s: State,
    Authenticated(ctx): Authenticated,
    BaseUrl(base): BaseUrl,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let p = load(&s, &id).await?;
    s.authorize(&ctx, "identity:get_project", &target(&p))?;
    Ok(Json(json!({"project": render(&p, &base)})))
}

async fn create(
    s: State,
    Authenticated(ctx): Authenticated,
    BaseUrl(base): BaseUrl,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let mut f = Fields::from_wrapped(body, "project")?;
    f.forbid(&["id", "links"])?;
    if f.opt_bool("is_domain")? == Some(true) {
        return Err(ApiError::not_implemented(
            "Projects acting as domains are not supported; create a domain.",
        ));
    }
    let name = f.req_name("name", 64)?;
    let mut domain_id = f.opt_str("domain_id")?;
    let parent_id = f.opt_str("parent_id")?;
    let mut parent = None;
    if let Some(pid) = &parent_id {
        if let Some(pp) = s.store.get_project(pid).await? {
            if domain_id.as_ref().is_some_and(|d| d != &pp.domain_id) {
                return Err(ApiError::bad_request("A project's parent must be in the same domain."));
            }
            if s.branch_disabled(&pp.id).await? {
                return Err(ApiError::bad_request(format!(
                    "Cannot create a project in a branch containing a disabled project: {pid}."
                )));
            }
            domain_id = Some(pp.domain_id.clone());
            parent = Some(pp.id);
        } else if s.store.get_domain(pid).await?.is_some() {
            // A parent_id naming the domain means a top-level project.
            if domain_id.as_ref().is_some_and(|d| d != pid) {
                return Err(ApiError::bad_request("A project's parent must be in the same domain."));
            }
            domain_id = Some(pid.clone());
        } else {
            return Err(ApiError::not_found_resource("parent project", pid));
        }
    }
    let domain_id = owning_domain(&ctx, domain_id);
    if s.store.get_domain(&domain_id).await?.is_none() {
        return Err(ApiError::not_found_resource("domain", &domain_id));
    }
    let tags = read_tags(f.opt_str_list("tags")?.unwrap_or_default())?;
    let p = Project {
        id: new_id(),
        name,
        domain_id,
        parent_id: parent,
        description: f.opt_str("description")?,
        enabled: f.opt_bool("enabled")?.unwrap_or(true),
        tags,
        extra: f.rest(),
    };
    s.authorize(&ctx, "identity:create_project", &target(&p))?;
    s.store.create_project(&p).await?;
    Ok((StatusCode::CREATED, Json(json!({"project": render(&p, &base)}))))
}

fn read_tags(tags: Vec<String>) -> ApiResult<Vec<String>> {
    if tags.len() > MAX_TAGS {
        return Err(ApiError::bad_request(format!("A project has at most {MAX_TAGS} tags.")));
    }
    let mut out: Vec<String> = Vec::new();
    for t in tags {
        check_tag_text(&t)?;
        if !out.contains(&t) {
            out.push(t);
        }
    }
    Ok(out)
}

fn check_tag_text(t: &str) -> ApiResult<()> {
    check_name("tags", t, 255)?;
    if t.contains(',') || t.contains('/') {
        return Err(ApiError::bad_request(
            "Invalid input for field 'tags': a tag may not contain ',' or '/'",
        ));
    }
    Ok(())
}

async fn update(
    s: State,
    Authenticated(ctx): Authenticated,
    BaseUrl(base): BaseUrl,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Json<Value>> {
    let mut p = load(&s, &id).await?;
    s.authorize(&ctx, "identity:update_project", &target(&p))?;
    let mut f = Fields::from_wrapped(body, "project")?;
    f.forbid(&["id", "links", "domain_id", "parent_id", "is_domain"])?;
    if let Some(name) = f.opt_name("name", 64)? {
        p.name = name;
    }
    if f.contains("description") {
        p.description = f.opt_str("description")?;
    }
    let was_enabled = p.enabled;
    if let Some(e) = f.opt_bool("enabled")? {
        p.enabled = e;
    }
    if let Some(tags) = f.opt_str_list("tags")? {
        p.tags = read_tags(tags)?;
    }
    p.extra.extend(f.rest());
    if !was_enabled && p.enabled {
        if let Some(parent) = &p.parent_id {
            if s.branch_disabled(parent).await? {
                return Err(ApiError::forbidden(format!(
                    "Cannot enable project {id} since it has disabled parents."
                )));
            }
        }
    }
    if was_enabled && !p.enabled && s.subtree_enabled(&id).await? {
        return Err(ApiError::forbidden(format!(
            "Cannot disable project {id} since its subtree contains enabled projects."
        )));
    }
    s.store.update_project(&p).await?;
    if was_enabled && !p.enabled {
        s.revoke_project(&id).await?;
    }
    Ok(Json(json!({"project": render(&p, &base)})))
}

async fn remove(
    s: State,
    Authenticated(ctx): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let p = load(&s, &id).await?;
    s.authorize(&ctx, "identity:delete_project", &target(&p))?;
    if s.store.project_has_children(&id).await? {
        return Err(ApiError::forbidden(format!("Cannot delete project {id}: it has child projects.")));
    }
    s.store.delete_project(&id).await?;
    s.revoke_project(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- tags ----

async fn list_tags(
    s: State,
    Authenticated(ctx): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let p = load(&s, &id).await?;
    s.authorize(&ctx, "identity:list_project_tags", &target(&p))?;
    Ok(Json(json!({"tags": p.tags})))
}

async fn replace_tags(
    s: State,
    Authenticated(ctx): Authenticated,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Json<Value>> {
    let mut p = load(&s, &id).await?;
    s.authorize(&ctx, "identity:update_project_tags", &target(&p))?;
    let mut f = Fields::new(
        body.as_object()
            .cloned()
            .ok_or_else(|| ApiError::bad_request("The request body must be a JSON object."))?,
    );
    p.tags = read_tags(f.opt_str_list("tags")?.unwrap_or_default())?;
    s.store.update_project(&p).await?;
    Ok(Json(json!({"tags": p.tags})))
}

async fn clear_tags(
    s: State,
    Authenticated(ctx): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let mut p = load(&s, &id).await?;
    s.authorize(&ctx, "identity:delete_project_tags", &target(&p))?;
    p.tags.clear();
    s.store.update_project(&p).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn check_tag(
    s: State,
    Authenticated(ctx): Authenticated,
    Path((id, tag)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let p = load(&s, &id).await?;
    s.authorize(&ctx, "identity:get_project_tag", &target(&p))?;
    if p.tags.contains(&tag) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("Tag {tag} not found on project {id}.")))
    }
}

async fn add_tag(
    s: State,
    Authenticated(ctx): Authenticated,
    Path((id, tag)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let mut p = load(&s, &id).await?;
    s.authorize(&ctx, "identity:create_project_tag", &target(&p))?;
    check_tag_text(&tag)?;
    if !p.tags.contains(&tag) {
        p.tags.push(tag);
        p.tags = read_tags(p.tags)?;
        s.store.update_project(&p).await?;
    }
    Ok(StatusCode::CREATED)
}

async fn remove_tag(
    s: State,
    Authenticated(ctx): Authenticated,
    Path((id, tag)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let mut p = load(&s, &id).await?;
    s.authorize(&ctx, "identity:delete_project_tag", &target(&p))?;
    let before = p.tags.len();
    p.tags.retain(|t| t != &tag);
    if p.tags.len() == before {
        return Err(ApiError::not_found(format!("Tag {tag} not found on project {id}.")));
    }
    s.store.update_project(&p).await?;
    Ok(StatusCode::NO_CONTENT)
}
