//! `/flavors`, `/flavors/detail`, `/flavors/{id}`, flavor access (`/flavors/{id}/action`,
//! `/flavors/{id}/os-flavor-access`) and extra specs (`/flavors/{id}/os-extra_specs`).
//!
//! Everyone lists and shows flavors (there is no policy for it); non-admins see public
//! flavors and the private ones shared with their project. Creating, changing and sharing
//! flavors is admin-only by policy.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Map, Value};
use stratus_core::auth::{AuthContext, Authenticated};
use stratus_core::error::{ApiError, ApiResult};
use stratus_core::http::microversion::Version;
use stratus_core::http::{BaseUrl, Json as JsonBody};
use stratus_core::input::Fields;

use super::common::{
    self, check_name, invalid_field, no_more_fields, parse_bool, validate_integer, QueryParams,
};
use super::State;
use crate::model::Flavor;
use crate::store::{FlavorFilter, FLAVOR_SORT_KEYS};
use crate::ComputeService;

const MAX_INT: i64 = 0x7FFF_FFFF;
const LIST_PARAMS: &[&str] = &["limit", "marker", "is_public", "minRam", "minDisk", "sort_key", "sort_dir"];

pub fn routes() -> Router<Arc<ComputeService>> {
    Router::new()
        .route("/flavors", get(index).post(create))
        .route("/flavors/detail", get(detail))
        .route("/flavors/{id}", get(show).put(update).delete(remove))
        .route("/flavors/{id}/action", post(action))
        .route("/flavors/{id}/os-flavor-access", get(access_list))
        .route("/flavors/{id}/os-extra_specs", get(specs_index).post(specs_create))
        .route("/flavors/{id}/os-extra_specs/{key}", get(spec_show).put(spec_update).delete(spec_delete))
}

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("Flavor {id} could not be found."))
}

/// The flavor, if the caller may see it: admins see all, others public flavors and the
/// private ones shared with their project.
async fn visible_flavor(s: &ComputeService, ctx: &AuthContext, id: &str) -> ApiResult<Flavor> {
    let flavor = s.store.flavor_by_flavorid(id).await?.ok_or_else(|| not_found(id))?;
    if s.is_admin(ctx) {
        return Ok(flavor);
    }
    match ctx.project_id() {
        Some(p) if s.store.flavor_accessible(&flavor, p).await? => Ok(flavor),
        _ => Err(not_found(id)),
    }
}

/// Whether bodies at this version carry `extra_specs` (2.61, and the caller may read them).
fn shows_extra_specs(s: &ComputeService, ctx: &AuthContext, version: Version) -> bool {
    version.at_least(2, 61)
        && s.authorize(ctx, "os_compute_api:os-flavor-extra-specs:index", &ComputeService::own_target(ctx))
            .is_ok()
}

fn render_brief(f: &Flavor, version: Version, base: &str) -> Value {
    let mut v =
        json!({"id": f.flavorid, "name": f.name, "links": common::links(base, "flavors", &f.flavorid)});
    if version.at_least(2, 55) {
        v["description"] = json!(f.description);
    }
    v
}

pub(crate) fn render(f: &Flavor, version: Version, base: &str, extra_specs: bool) -> Value {
    let swap = if f.swap == 0 && !version.at_least(2, 75) { json!("") } else { json!(f.swap) };
    let mut v = json!({
        "id": f.flavorid,
        "name": f.name,
        "ram": f.memory_mb,
        "disk": f.root_gb,
        "swap": swap,
        "OS-FLV-EXT-DATA:ephemeral": f.ephemeral_gb,
        "OS-FLV-DISABLED:disabled": f.disabled,
        "vcpus": f.vcpus,
        "os-flavor-access:is_public": f.is_public,
        "rxtx_factor": f.rxtx_factor,
        "links": common::links(base, "flavors", &f.flavorid),
    });
    if version.at_least(2, 55) {
        v["description"] = json!(f.description);
    }
    if extra_specs {
        v["extra_specs"] = json!(f.extra_specs);
    }
    v
}

/// nova's `is_public` list filter: absent is public only, `none` is all, else a boolean.
fn parse_is_public(v: Option<&str>) -> ApiResult<Option<bool>> {
    match v.map(|s| s.to_ascii_lowercase()) {
        None => Ok(Some(true)),
        Some(s) if s == "none" => Ok(None),
        Some(s) if matches!(s.as_str(), "1" | "t" | "true" | "on" | "y" | "yes") => Ok(Some(true)),
        Some(s) if matches!(s.as_str(), "0" | "f" | "false" | "off" | "n" | "no") => Ok(Some(false)),
        Some(_) => {
            Err(ApiError::bad_request(format!("Invalid is_public filter [{}]", v.unwrap_or_default())))
        }
    }
}

async fn list(
    s: &ComputeService,
    ctx: &AuthContext,
    q: &QueryParams,
    version: Version,
) -> ApiResult<Vec<Flavor>> {
    q.only(version, LIST_PARAMS)?;
    let sort_key = q.get("sort_key").filter(|k| !k.is_empty()).unwrap_or("flavorid");
    let sort_column = FLAVOR_SORT_KEYS.iter().find(|(k, _)| *k == sort_key).map(|(_, c)| *c).ok_or_else(|| {
        let keys: Vec<&str> = FLAVOR_SORT_KEYS.iter().map(|(k, _)| *k).collect();
        ApiError::bad_request(format!(
            "Invalid input for query parameters sort_key. Value: {sort_key}. '{sort_key}' is not one of {keys:?}"
        ))
    })?;
    let descending = match q.get("sort_dir").filter(|d| !d.is_empty()).unwrap_or("asc") {
        "asc" => false,
        "desc" => true,
        d => {
            return Err(ApiError::bad_request(format!(
                "Invalid input for query parameters sort_dir. Value: {d}. '{d}' is not one of ['asc', 'desc']"
            )))
        }
    };
    let (limit, marker) = q.limit_marker()?;
    let admin = s.is_admin(ctx);
    let is_public = if admin { parse_is_public(q.get("is_public"))? } else { Some(true) };
    let int_filter = |name: &str| -> ApiResult<Option<i64>> {
        match q.get(name) {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse::<i64>()
                .map(Some)
                .map_err(|_| ApiError::bad_request(format!("Invalid {name} filter [{v}]"))),
        }
    };
    let filter = FlavorFilter {
        is_public,
        project_id: ctx.project_id().map(str::to_string),
        enabled_only: !admin,
        restricted: !admin,
        min_memory_mb: int_filter("minRam")?,
        min_root_gb: int_filter("minDisk")?,
        sort_column,
        descending,
        limit,
        marker,
    };
    s.store.list_flavors(&filter).await
}

fn list_body(
    flavors: Vec<Value>,
    last: Option<&str>,
    count: usize,
    base: &str,
    collection: &str,
    q: &QueryParams,
) -> Value {
    let mut body = json!({ "flavors": flavors });
    if let Some(links) = common::collection_links(base, collection, q, count, last) {
        body["flavors_links"] = links;
    }
    body
}

async fn index(
    s: State,
    Authenticated(ctx): Authenticated,
    version: Version,
    BaseUrl(base): BaseUrl,
    q: QueryParams,
) -> ApiResult<Json<Value>> {
    let flavors = list(&s, &ctx, &q, version).await?;
    let last = flavors.last().map(|f| f.flavorid.clone());
    let items: Vec<Value> = flavors.iter().map(|f| render_brief(f, version, &base)).collect();
    Ok(Json(list_body(items, last.as_deref(), flavors.len(), &base, "flavors", &q)))
}

async fn detail(
    s: State,
    Authenticated(ctx): Authenticated,
    version: Version,
    BaseUrl(base): BaseUrl,
    q: QueryParams,
) -> ApiResult<Json<Value>> {
    let flavors = list(&s, &ctx, &q, version).await?;
    let specs = shows_extra_specs(&s, &ctx, version);
    let last = flavors.last().map(|f| f.flavorid.clone());
    let items: Vec<Value> = flavors.iter().map(|f| render(f, version, &base, specs)).collect();
    Ok(Json(list_body(items, last.as_deref(), flavors.len(), &base, "flavors/detail", &q)))
}

async fn show(
    s: State,
    Authenticated(ctx): Authenticated,
    version: Version,
    BaseUrl(base): BaseUrl,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let flavor = visible_flavor(&s, &ctx, &id).await?;
    let specs = shows_extra_specs(&s, &ctx, version);
    Ok(Json(json!({"flavor": render(&flavor, version, &base, specs)})))
}

/// A flavor id as nova accepts it: a string of letters, digits, `.`, `_`, `-` and inner
/// spaces, or a number; absent, null or `auto` for a generated UUID.
fn parse_flavor_id(v: Option<Value>) -> ApiResult<String> {
    let id = match v {
        None | Some(Value::Null) => return Ok(uuid::Uuid::new_v4().to_string()),
        Some(Value::String(s)) if s == "auto" => return Ok(uuid::Uuid::new_v4().to_string()),
        Some(Value::String(s)) => {
            let ok_chars = s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ' ' | '_' | '-'));
            if s.is_empty() || s.len() > 255 || !ok_chars || s.starts_with(' ') || s.ends_with(' ') {
                return Err(invalid_field(
                    "id",
                    &format!("Value: {s}. It must have 1 to 255 of the characters a-z, A-Z, 0-9, '.', '_', '-' and inner spaces."),
                ));
            }
            s
        }
        Some(Value::Number(n)) => n.to_string(),
        Some(_) => return Err(invalid_field("id", "It must be a string, a number or null.")),
    };
    Ok(id)
}

fn parse_rxtx(v: Option<Value>) -> ApiResult<f64> {
    let bad = || invalid_field("rxtx_factor", "It must be a number greater than 0 and at most 3.40282e+38.");
    let f = match v {
        None => return Ok(1.0),
        Some(Value::Number(n)) => n.as_f64().ok_or_else(bad)?,
        Some(Value::String(s)) => {
            let well_formed = match s.split_once('.') {
                Some((a, b)) => {
                    !a.is_empty() && !b.is_empty() && (a.to_string() + b).bytes().all(|c| c.is_ascii_digit())
                }
                None => !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()),
            };
            if !well_formed {
                return Err(bad());
            }
            s.parse::<f64>().map_err(|_| bad())?
        }
        Some(_) => return Err(bad()),
    };
    if f <= 0.0 || f > 3.40282e38 {
        return Err(bad());
    }
    Ok(f)
}

/// A description: null, or up to 65535 printable characters.
fn parse_description(v: Option<Value>) -> ApiResult<Option<String>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            if s.chars().count() > 65535 || !s.chars().all(common::is_printable) {
                return Err(invalid_field("description", "It must be at most 65535 printable characters."));
            }
            Ok(Some(s))
        }
        Some(_) => Err(invalid_field("description", "It must be a string or null.")),
    }
}

fn required(fields: &mut Fields, name: &str) -> ApiResult<Value> {
    fields.take(name).ok_or_else(|| invalid_field("flavor", &format!("'{name}' is a required property")))
}

fn count(v: Option<Value>, name: &str, min: i64) -> ApiResult<u64> {
    match v {
        None => Ok(0),
        Some(v) => validate_integer(&v, name, min, MAX_INT).map(|n| n as u64),
    }
}

async fn create(
    s: State,
    Authenticated(ctx): Authenticated,
    version: Version,
    BaseUrl(base): BaseUrl,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Json<Value>> {
    s.authorize(&ctx, "os_compute_api:os-flavor-manage:create", &json!({}))?;
    let mut fields = Fields::from_wrapped(body, "flavor")?;
    let name = match required(&mut fields, "name")? {
        Value::String(n) => n,
        _ => return Err(invalid_field("name", "It must be a string.")),
    };
    check_name("name", &name, 255, &[])?;
    let flavorid = parse_flavor_id(fields.take("id"))?;
    let memory_mb = count(Some(required(&mut fields, "ram")?), "ram", 1)?;
    let vcpus = count(Some(required(&mut fields, "vcpus")?), "vcpus", 1)?;
    let root_gb = count(Some(required(&mut fields, "disk")?), "disk", 0)?;
    let ephemeral_gb = count(fields.take("OS-FLV-EXT-DATA:ephemeral"), "ephemeral", 0)?;
    let swap = count(fields.take("swap"), "swap", 0)?;
    let rxtx_factor = parse_rxtx(fields.take("rxtx_factor"))?;
    let is_public = match fields.take("os-flavor-access:is_public") {
        None => true,
        Some(v) => parse_bool(&v, "os-flavor-access:is_public")?,
    };
    let description =
        if version.at_least(2, 55) { parse_description(fields.take("description"))? } else { None };
    no_more_fields(&fields.rest())?;

    let flavor = Flavor {
        id: 0,
        flavorid,
        name: name.trim().to_string(),
        vcpus: vcpus as u32,
        memory_mb,
        root_gb,
        ephemeral_gb,
        swap,
        rxtx_factor,
        is_public,
        disabled: false,
        description,
        extra_specs: BTreeMap::new(),
    };
    let flavor = s.store.create_flavor(&flavor).await?;
    let specs = shows_extra_specs(&s, &ctx, version);
    Ok(Json(json!({"flavor": render(&flavor, version, &base, specs)})))
}

async fn update(
    s: State,
    Authenticated(ctx): Authenticated,
    version: Version,
    BaseUrl(base): BaseUrl,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Json<Value>> {
    if !version.at_least(2, 55) {
        return Err(ApiError::not_found("The resource could not be found."));
    }
    s.authorize(&ctx, "os_compute_api:os-flavor-manage:update", &json!({}))?;
    let mut fields = Fields::from_wrapped(body, "flavor")?;
    let description = parse_description(Some(required(&mut fields, "description")?))?;
    no_more_fields(&fields.rest())?;
    let mut flavor = s.store.flavor_by_flavorid(&id).await?.ok_or_else(|| not_found(&id))?;
    s.store.set_flavor_description(flavor.id, description.as_deref()).await?;
    flavor.description = description;
    let specs = shows_extra_specs(&s, &ctx, version);
    Ok(Json(json!({"flavor": render(&flavor, version, &base, specs)})))
}

async fn remove(
    s: State,
    Authenticated(ctx): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.authorize(&ctx, "os_compute_api:os-flavor-manage:delete", &json!({}))?;
    if !s.store.delete_flavor(&id).await? {
        return Err(not_found(&id));
    }
    Ok(StatusCode::ACCEPTED)
}

// ---- Flavor access.

async fn access_body(s: &ComputeService, flavor: &Flavor) -> ApiResult<Json<Value>> {
    let projects = s.store.flavor_projects(flavor.id).await?;
    let list: Vec<Value> =
        projects.iter().map(|p| json!({"flavor_id": flavor.flavorid, "tenant_id": p})).collect();
    Ok(Json(json!({ "flavor_access": list })))
}

async fn access_list(
    s: State,
    Authenticated(ctx): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    s.authorize(&ctx, "os_compute_api:os-flavor-access", &ComputeService::own_target(&ctx))?;
    let flavor = visible_flavor(&s, &ctx, &id).await?;
    if flavor.is_public {
        return Err(ApiError::not_found("Access list not available for public flavors."));
    }
    access_body(&s, &flavor).await
}

/// The `tenant` of `addTenantAccess` / `removeTenantAccess`.
fn tenant(action: &str, body: Value) -> ApiResult<String> {
    let Value::Object(map) = body else {
        return Err(invalid_field(action, "It must be an object."));
    };
    let mut fields = Fields::new(map);
    let tenant = match fields.take("tenant") {
        Some(Value::String(t)) if !t.is_empty() && t.chars().count() <= 255 => t,
        Some(_) => return Err(invalid_field("tenant", "It must be a string of 1 to 255 characters.")),
        None => return Err(invalid_field(action, "'tenant' is a required property")),
    };
    no_more_fields(&fields.rest())?;
    Ok(tenant)
}

async fn action(
    s: State,
    Authenticated(ctx): Authenticated,
    version: Version,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Json<Value>> {
    let (name, args) = common::action(body)?;
    match name.as_str() {
        "addTenantAccess" => {
            s.authorize(&ctx, "os_compute_api:os-flavor-access:add_tenant_access", &json!({}))?;
            let project = tenant(&name, args)?;
            let flavor = visible_flavor(&s, &ctx, &id).await?;
            if version.at_least(2, 7) && flavor.is_public {
                return Err(ApiError::conflict("Can not add access to a public flavor."));
            }
            if !s.store.add_flavor_access(flavor.id, &project).await? {
                return Err(ApiError::conflict(format!(
                    "Flavor access already exists for flavor {id} and project {project} combination."
                )));
            }
            access_body(&s, &flavor).await
        }
        "removeTenantAccess" => {
            s.authorize(&ctx, "os_compute_api:os-flavor-access:remove_tenant_access", &json!({}))?;
            let project = tenant(&name, args)?;
            let flavor = visible_flavor(&s, &ctx, &id).await?;
            if !s.store.remove_flavor_access(flavor.id, &project).await? {
                return Err(ApiError::not_found(format!(
                    "Flavor access not found for {id} / {project} combination."
                )));
            }
            access_body(&s, &flavor).await
        }
        other => Err(ApiError::bad_request(format!("There is no such action: {other}"))),
    }
}

// ---- Extra specs.

/// Extra specs from a body object: keys of letters, digits, `-_:.` and spaces (1 to 255),
/// values strings or numbers (kept as their text), at most 255 characters.
fn parse_specs(map: &Map<String, Value>) -> ApiResult<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for (k, v) in map {
        let key_ok = !k.is_empty()
            && k.len() <= 255
            && k.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.' | ' '));
        if !key_ok {
            return Err(invalid_field(
                "extra_specs",
                &format!("Key '{k}': keys have 1 to 255 of the characters a-z, A-Z, 0-9, '-', '_', ':', '.' and space."),
            ));
        }
        let value = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => {
                return Err(invalid_field(
                    "extra_specs",
                    &format!("The value of '{k}' must be a string or a number."),
                ))
            }
        };
        if value.chars().count() > 255 {
            return Err(invalid_field(
                "extra_specs",
                &format!("The value of '{k}' is longer than 255 characters."),
            ));
        }
        out.insert(k.clone(), value);
    }
    Ok(out)
}

/// From 2.86 the keys and values of namespaces nova knows are validated.
fn validate_specs(specs: &BTreeMap<String, String>, version: Version) -> ApiResult<()> {
    if !version.at_least(2, 86) {
        return Ok(());
    }
    for (k, v) in specs {
        crate::extra_specs::validate(k, v).map_err(ApiError::bad_request)?;
    }
    Ok(())
}

fn no_spec(id: &str, key: &str) -> ApiError {
    ApiError::not_found(format!("Flavor {id} has no extra specs with key {key}."))
}

fn project_target(ctx: &AuthContext) -> Value {
    json!({ "project_id": ctx.project_id() })
}

async fn specs_index(
    s: State,
    Authenticated(ctx): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    s.authorize(&ctx, "os_compute_api:os-flavor-extra-specs:index", &project_target(&ctx))?;
    let flavor = visible_flavor(&s, &ctx, &id).await?;
    Ok(Json(json!({ "extra_specs": flavor.extra_specs })))
}

async fn specs_create(
    s: State,
    Authenticated(ctx): Authenticated,
    version: Version,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Json<Value>> {
    s.authorize(&ctx, "os_compute_api:os-flavor-extra-specs:create", &json!({}))?;
    let Value::Object(outer) = &body else {
        return Err(ApiError::bad_request("The request body must be a JSON object."));
    };
    let mut rest = outer.clone();
    let specs = match rest.remove("extra_specs") {
        Some(Value::Object(m)) => parse_specs(&m)?,
        Some(_) => return Err(invalid_field("extra_specs", "It must be an object.")),
        None => return Err(invalid_field("extra_specs", "'extra_specs' is a required property")),
    };
    no_more_fields(&rest)?;
    validate_specs(&specs, version)?;
    let flavor = visible_flavor(&s, &ctx, &id).await?;
    s.store.set_flavor_extra_specs(flavor.id, &specs).await?;
    Ok(Json(body))
}

async fn spec_update(
    s: State,
    Authenticated(ctx): Authenticated,
    version: Version,
    Path((id, key)): Path<(String, String)>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Json<Value>> {
    s.authorize(&ctx, "os_compute_api:os-flavor-extra-specs:update", &json!({}))?;
    let Value::Object(map) = &body else {
        return Err(ApiError::bad_request("The request body must be a JSON object."));
    };
    if map.len() != 1 {
        return Err(invalid_field("extra_specs", "The body must hold exactly one extra spec."));
    }
    let specs = parse_specs(map)?;
    if !specs.contains_key(&key) {
        return Err(ApiError::bad_request("Request body and URI mismatch"));
    }
    validate_specs(&specs, version)?;
    let flavor = visible_flavor(&s, &ctx, &id).await?;
    s.store.set_flavor_extra_specs(flavor.id, &specs).await?;
    Ok(Json(body))
}

async fn spec_show(
    s: State,
    Authenticated(ctx): Authenticated,
    Path((id, key)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    s.authorize(&ctx, "os_compute_api:os-flavor-extra-specs:show", &project_target(&ctx))?;
    let flavor = visible_flavor(&s, &ctx, &id).await?;
    let value = flavor.extra_specs.get(&key).ok_or_else(|| no_spec(&id, &key))?;
    Ok(Json(json!({ key.clone(): value })))
}

async fn spec_delete(
    s: State,
    Authenticated(ctx): Authenticated,
    Path((id, key)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    s.authorize(&ctx, "os_compute_api:os-flavor-extra-specs:delete", &json!({}))?;
    let flavor = visible_flavor(&s, &ctx, &id).await?;
    if !s.store.delete_flavor_extra_spec(flavor.id, &key).await? {
        return Err(no_spec(&id, &key));
    }
    Ok(StatusCode::OK)
}
