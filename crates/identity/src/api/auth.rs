//! `/v3/auth/*`: issuing, validating and revoking tokens; what a token may reach.

use axum::extract::Query;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use stratus_core::auth::{Authenticated, ResolveOptions};
use stratus_core::error::{ApiError, ApiResult};
use stratus_core::http::{BaseUrl, Json as JsonBody};
use stratus_core::input::query_flag;
use stratus_core::token::revoke::RevokeEvent;

use super::{links, State};
use crate::model::SYSTEM_ALL;
use crate::tokens::{AuthRequest, Credential, DomainRef, ProjectRef, ScopeRequest, UserRef};

pub fn routes() -> Router<std::sync::Arc<crate::service::Identity>> {
    Router::new()
        .route("/v3/auth/tokens", get(validate).post(issue).delete(revoke))
        .route("/v3/auth/catalog", get(catalog))
        .route("/v3/auth/projects", get(projects))
        .route("/v3/auth/domains", get(domains))
        .route("/v3/auth/system", get(system))
        .route("/v3/OS-REVOKE/events", get(revoke_events))
}

#[derive(Deserialize, Default)]
struct IssueQuery {
    nocatalog: Option<String>,
}

async fn issue(
    s: State,
    Query(q): Query<IssueQuery>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Response> {
    let req = parse_auth(body)?;
    let (token, ctx) = s.authenticate(req).await?;
    let body = s.token_body(&ctx, !query_flag(q.nocatalog.as_deref())).await?;
    let mut resp = (StatusCode::CREATED, Json(body)).into_response();
    resp.headers_mut().insert("x-subject-token", HeaderValue::from_str(&token).map_err(ApiError::internal)?);
    Ok(resp)
}

#[derive(Deserialize, Default)]
struct ValidateQuery {
    nocatalog: Option<String>,
    allow_expired: Option<String>,
}

fn subject_token(headers: &HeaderMap) -> ApiResult<&str> {
    headers
        .get("x-subject-token")
        .and_then(|v| v.to_str().ok())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::bad_request("The X-Subject-Token header is required."))
}

/// GET validates (`identity:validate_token`), HEAD only checks (`identity:check_token`).
async fn validate(
    s: State,
    Authenticated(caller): Authenticated,
    method: axum::http::Method,
    headers: HeaderMap,
    Query(q): Query<ValidateQuery>,
) -> ApiResult<Response> {
    let subject = subject_token(&headers)?;
    let opts = ResolveOptions { allow_expired: query_flag(q.allow_expired.as_deref()) };
    let ctx = s.validate(subject, opts).await.map_err(|e| e.not_found())?;
    let rule =
        if method == axum::http::Method::HEAD { "identity:check_token" } else { "identity:validate_token" };
    s.authorize(&caller, rule, &json!({"target": {"token": {"user_id": ctx.user.id}}}))?;
    let body = s.token_body(&ctx, !query_flag(q.nocatalog.as_deref())).await?;
    let mut resp = Json(body).into_response();
    resp.headers_mut().insert("x-subject-token", HeaderValue::from_str(subject).map_err(ApiError::internal)?);
    Ok(resp)
}

async fn revoke(s: State, Authenticated(caller): Authenticated, headers: HeaderMap) -> ApiResult<StatusCode> {
    let subject = subject_token(&headers)?;
    let ctx = s.validate(subject, ResolveOptions::default()).await.map_err(|e| e.not_found())?;
    s.authorize(&caller, "identity:revoke_token", &json!({"target": {"token": {"user_id": ctx.user.id}}}))?;
    let now = chrono::Utc::now();
    if let Some(audit_id) = ctx.audit_ids.first() {
        s.revoke(RevokeEvent::for_audit_id(audit_id.clone(), now)).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn catalog(s: State, Authenticated(caller): Authenticated) -> ApiResult<Json<Value>> {
    s.authorize(&caller, "identity:get_auth_catalog", &json!({}))?;
    if caller.project.is_none() && caller.domain.is_none() && caller.system.is_none() {
        return Err(ApiError::forbidden("The service catalog is given to scoped tokens only."));
    }
    let catalog = s.catalog_for(&caller).await?;
    Ok(Json(json!({"catalog": catalog, "links": {"self": null, "previous": null, "next": null}})))
}

/// Projects the caller can scope to.
async fn projects(
    s: State,
    Authenticated(caller): Authenticated,
    BaseUrl(base): BaseUrl,
) -> ApiResult<Json<Value>> {
    s.authorize(&caller, "identity:get_auth_projects", &json!({}))?;
    let list = s.scopable_projects(&caller.user.id).await?;
    let items: Vec<Value> = list.iter().map(|p| super::projects::render(p, &base)).collect();
    Ok(Json(json!({"projects": items, "links": super::collection_links(&base, "auth/projects")})))
}

async fn domains(
    s: State,
    Authenticated(caller): Authenticated,
    BaseUrl(base): BaseUrl,
) -> ApiResult<Json<Value>> {
    s.authorize(&caller, "identity:get_auth_domains", &json!({}))?;
    let list = s.scopable_domains(&caller.user.id).await?;
    let items: Vec<Value> = list.iter().map(|d| super::domains::render(d, &base)).collect();
    Ok(Json(json!({"domains": items, "links": super::collection_links(&base, "auth/domains")})))
}

async fn system(
    s: State,
    Authenticated(caller): Authenticated,
    BaseUrl(base): BaseUrl,
) -> ApiResult<Json<Value>> {
    s.authorize(&caller, "identity:get_auth_system", &json!({}))?;
    let roles = s.effective_role_ids(&caller.user.id, &crate::access::ScopeRef::System).await?;
    let system: Vec<Value> = if roles.is_empty() { vec![] } else { vec![json!({"all": true})] };
    Ok(Json(json!({"system": system, "links": links(&base, "auth/system")})))
}

async fn revoke_events(s: State, Authenticated(caller): Authenticated) -> ApiResult<Json<Value>> {
    s.authorize(&caller, "identity:list_revoke_events", &json!({}))?;
    let events: Vec<Value> =
        s.store.list_revocations(None).await?.iter().filter_map(|e| serde_json::from_str(e).ok()).collect();
    Ok(Json(json!({"events": events, "links": {"self": null, "previous": null, "next": null}})))
}

// ---- the auth request body ----

fn obj<'a>(v: &'a Value, field: &str) -> ApiResult<&'a Map<String, Value>> {
    v.as_object()
        .ok_or_else(|| ApiError::bad_request(format!("Invalid input for field '{field}': must be an object")))
}

fn opt_string(m: &Map<String, Value>, key: &str, field: &str) -> ApiResult<Option<String>> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::bad_request(format!("Invalid input for field '{field}': must be a string"))),
    }
}

fn parse_domain(v: &Value, field: &str) -> ApiResult<DomainRef> {
    let m = obj(v, field)?;
    if let Some(id) = opt_string(m, "id", &format!("{field}.id"))? {
        return Ok(DomainRef::Id(id));
    }
    if let Some(name) = opt_string(m, "name", &format!("{field}.name"))? {
        return Ok(DomainRef::Name(name));
    }
    Err(ApiError::bad_request(format!("Invalid input for field '{field}': an id or a name is required")))
}

fn parse_user(v: &Value, field: &str) -> ApiResult<UserRef> {
    let m = obj(v, field)?;
    if let Some(id) = opt_string(m, "id", &format!("{field}.id"))? {
        return Ok(UserRef::Id(id));
    }
    let name = opt_string(m, "name", &format!("{field}.name"))?.ok_or_else(|| {
        ApiError::bad_request(format!("Invalid input for field '{field}': an id or a name is required"))
    })?;
    let domain = m.get("domain").ok_or_else(|| {
        ApiError::bad_request(format!(
            "Invalid input for field '{field}.domain': a user named by name needs its domain"
        ))
    })?;
    Ok(UserRef::Name { name, domain: parse_domain(domain, &format!("{field}.domain"))? })
}

/// Reads `{"auth": {"identity": …, "scope": …}}` as keystone does.
pub(crate) fn parse_auth(body: Value) -> ApiResult<AuthRequest> {
    let auth = body.get("auth").ok_or_else(|| {
        ApiError::bad_request("Invalid input for field 'auth': 'auth' is a required property")
    })?;
    let auth = obj(auth, "auth")?;
    let identity = auth.get("identity").ok_or_else(|| {
        ApiError::bad_request("Invalid input for field 'auth.identity': 'identity' is a required property")
    })?;
    let identity = obj(identity, "auth.identity")?;
    let methods: Vec<String> = match identity.get("methods") {
        Some(Value::Array(a)) if !a.is_empty() => {
            a.iter().map(|m| m.as_str().map(str::to_string)).collect::<Option<Vec<_>>>().ok_or_else(|| {
                ApiError::bad_request(
                    "Invalid input for field 'auth.identity.methods': must be a list of strings",
                )
            })?
        }
        _ => {
            return Err(ApiError::bad_request(
                "Invalid input for field 'auth.identity.methods': a non-empty list is required",
            ))
        }
    };
    let method = methods[0].as_str();
    if methods.len() > 1 && !methods.iter().all(|m| m == method) {
        return Err(ApiError::unauthorized("Authenticating with several methods at once is not supported."));
    }
    let section = identity.get(method).ok_or_else(|| {
        ApiError::bad_request(format!(
            "Invalid input for field 'auth.identity.{method}': it is required by methods"
        ))
    })?;
    let credential = match method {
        "password" => {
            let user = obj(section, "auth.identity.password")?.get("user").ok_or_else(|| {
                ApiError::bad_request("Invalid input for field 'auth.identity.password.user': it is required")
            })?;
            let m = obj(user, "auth.identity.password.user")?;
            let password =
                opt_string(m, "password", "auth.identity.password.user.password")?.ok_or_else(|| {
                    ApiError::bad_request(
                        "Invalid input for field 'auth.identity.password.user.password': it is required",
                    )
                })?;
            Credential::Password { user: parse_user(user, "auth.identity.password.user")?, password }
        }
        "token" => {
            let m = obj(section, "auth.identity.token")?;
            let token = opt_string(m, "id", "auth.identity.token.id")?.ok_or_else(|| {
                ApiError::bad_request("Invalid input for field 'auth.identity.token.id': it is required")
            })?;
            Credential::Token { token }
        }
        "application_credential" => {
            let m = obj(section, "auth.identity.application_credential")?;
            let secret = opt_string(m, "secret", "auth.identity.application_credential.secret")?.ok_or_else(|| {
                ApiError::bad_request("Invalid input for field 'auth.identity.application_credential.secret': it is required")
            })?;
            let user = match m.get("user") {
                Some(u) => Some(parse_user(u, "auth.identity.application_credential.user")?),
                None => None,
            };
            Credential::ApplicationCredential {
                id: opt_string(m, "id", "auth.identity.application_credential.id")?,
                name: opt_string(m, "name", "auth.identity.application_credential.name")?,
                user,
                secret,
            }
        }
        other => {
            return Err(ApiError::unauthorized(format!(
                "Attempted to authenticate with an unsupported method: {other}."
            )))
        }
    };
    let scope = match auth.get("scope") {
        None | Some(Value::Null) => ScopeRequest::Default,
        Some(Value::String(s)) if s == "unscoped" => ScopeRequest::Unscoped,
        Some(scope) => {
            let m = obj(scope, "auth.scope")?;
            if let Some(p) = m.get("project") {
                let pm = obj(p, "auth.scope.project")?;
                if let Some(id) = opt_string(pm, "id", "auth.scope.project.id")? {
                    ScopeRequest::Project(ProjectRef::Id(id))
                } else {
                    let name = opt_string(pm, "name", "auth.scope.project.name")?.ok_or_else(|| {
                        ApiError::bad_request(
                            "Invalid input for field 'auth.scope.project': an id or a name is required",
                        )
                    })?;
                    let domain = pm.get("domain").ok_or_else(|| {
                        ApiError::bad_request("Invalid input for field 'auth.scope.project.domain': a project named by name needs its domain")
                    })?;
                    ScopeRequest::Project(ProjectRef::Name {
                        name,
                        domain: parse_domain(domain, "auth.scope.project.domain")?,
                    })
                }
            } else if let Some(d) = m.get("domain") {
                ScopeRequest::Domain(parse_domain(d, "auth.scope.domain")?)
            } else if let Some(sys) = m.get("system") {
                if sys.get(SYSTEM_ALL) == Some(&Value::Bool(true)) {
                    ScopeRequest::System
                } else {
                    return Err(ApiError::bad_request(
                        "Invalid input for field 'auth.scope.system': only {\"all\": true} exists",
                    ));
                }
            } else if m.contains_key("OS-TRUST:trust") {
                return Err(ApiError::not_implemented("Trusts are not supported."));
            } else {
                return Err(ApiError::bad_request(
                    "Invalid input for field 'auth.scope': it names a project, a domain or the system",
                ));
            }
        }
    };
    Ok(AuthRequest { credential, scope })
}
