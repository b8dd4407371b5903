//! `/servers`: create, list, show, update, delete; `/servers/{id}/metadata` and `/tags`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, Query};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::Engine;
use chrono::Utc;
use serde_json::{json, Map, Value};
use stratus_compute_agent::rpc::PowerState;
use stratus_core::auth::{AuthContext, Authenticated};
use stratus_core::error::{ApiError, ApiResult};
use stratus_core::http::microversion::Version;
use stratus_core::http::{BaseUrl, Json as JsonBody, RequestId};
use stratus_core::input::check_name;

use super::server_view::{links, next_page, One, Page, View};
use super::State;
use crate::conductor::{BuildRequest, Requester};
use crate::model::{vm_states_for_status, Action, Instance, TaskState, VmState};
use crate::scheduler::{GroupSpec, RequestSpec};
use crate::store::{InstanceFilter, InstanceUpdate, NewAction};
use crate::ComputeService;

pub fn routes() -> Router<Arc<ComputeService>> {
    Router::new()
        .route("/servers", get(list).post(create))
        .route("/servers/detail", get(list_detail))
        .route("/servers/{id}", get(show).put(update).delete(delete))
        .route("/servers/{id}/metadata", get(metadata_list).put(metadata_replace).post(metadata_merge))
        .route("/servers/{id}/metadata/{key}", get(metadata_show).put(metadata_set).delete(metadata_delete))
        .route("/servers/{id}/tags", get(tags_list).put(tags_replace).delete(tags_clear))
        .route("/servers/{id}/tags/{tag}", get(tag_check).put(tag_add).delete(tag_remove))
}

pub(crate) fn requester(ctx: &AuthContext, request_id: &RequestId) -> Requester {
    Requester {
        request_id: request_id.0.clone(),
        user_id: ctx.user.id.clone(),
        project_id: ctx.project_id().unwrap_or_default().to_string(),
    }
}

/// A server the caller may see (others' servers are 404, as nova does).
pub(crate) async fn visible(service: &ComputeService, ctx: &AuthContext, id: &str) -> ApiResult<Instance> {
    let instance = service.store.instance_or_404(id).await?;
    if instance.project_id.as_str() != ctx.project_id().unwrap_or_default() && !service.is_admin(ctx) {
        return Err(ApiError::not_found(format!("Instance {id} could not be found.")));
    }
    Ok(instance)
}

pub(crate) fn target(i: &Instance) -> Value {
    json!({"project_id": i.project_id, "user_id": i.user_id})
}

/// nova refuses most changes to a locked server, except by admins.
pub(crate) fn check_unlocked(service: &ComputeService, ctx: &AuthContext, i: &Instance) -> ApiResult<()> {
    if i.locked && !service.is_admin(ctx) {
        return Err(ApiError::conflict(format!("Instance {} is locked", i.uuid)));
    }
    Ok(())
}

pub(crate) fn user_token(headers: &HeaderMap) -> String {
    headers.get("x-auth-token").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string()
}

// ---------------------------------------------------------------- create

fn str_map(field: &str, v: &Value) -> ApiResult<BTreeMap<String, String>> {
    let obj = v.as_object().ok_or_else(|| {
        ApiError::bad_request(format!(
            "Invalid input for field/attribute {field}. Value: {v}. {v} is not of type 'object'"
        ))
    })?;
    let mut out = BTreeMap::new();
    for (k, v) in obj {
        let s = v.as_str().ok_or_else(|| {
            ApiError::bad_request(format!(
                "Invalid input for field/attribute {field}. Value for '{k}' must be a string"
            ))
        })?;
        if k.is_empty() || k.len() > 255 || s.len() > 255 {
            return Err(ApiError::bad_request(format!("Invalid input for field/attribute {field}: keys must be 1-255 characters and values at most 255")));
        }
        out.insert(k.clone(), s.to_string());
    }
    Ok(out)
}

fn opt_str(body: &Map<String, Value>, field: &str) -> ApiResult<Option<String>> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(ApiError::bad_request(format!(
            "Invalid input for field/attribute {field}. Value: {other}. {other} is not of type 'string'"
        ))),
    }
}

fn count(body: &Map<String, Value>, field: &str) -> ApiResult<Option<i64>> {
    match body.get(field) {
        None => Ok(None),
        Some(v) => {
            let n = v
                .as_i64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                .filter(|n| *n >= 1)
                .ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "Invalid input for field/attribute {field}. Value: {v}. It must be an integer ≥ 1"
                    ))
                })?;
            Ok(Some(n))
        }
    }
}

/// A host name from a display name, as nova sanitizes it.
fn hostname_of(name: &str) -> String {
    let mut h: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '.' { c.to_ascii_lowercase() } else { '-' })
        .collect();
    h = h.trim_matches(|c| c == '-' || c == '.').to_string();
    h.truncate(63);
    if h.is_empty() {
        "server".into()
    } else {
        h
    }
}

async fn create(
    service: State,
    Authenticated(ctx): Authenticated,
    version: Version,
    axum::extract::Extension(rid): axum::extract::Extension<RequestId>,
    BaseUrl(base): BaseUrl,
    headers: HeaderMap,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Response> {
    let service = service.0;
    let project_id = ctx
        .project_id()
        .ok_or_else(|| ApiError::forbidden("Creating a server needs a project-scoped token."))?
        .to_string();
    service.authorize(
        &ctx,
        "os_compute_api:servers:create",
        &json!({"project_id": project_id, "user_id": ctx.user.id}),
    )?;
    let server = body
        .get("server")
        .and_then(Value::as_object)
        .ok_or_else(|| ApiError::bad_request("Invalid input: the body must be {\"server\": {...}}"))?;

    let name = opt_str(server, "name")?.ok_or_else(|| {
        ApiError::bad_request("Invalid input for field/attribute server. 'name' is a required property")
    })?;
    check_name("name", &name, 255)?;
    let flavor_ref = opt_str(server, "flavorRef")?.ok_or_else(|| {
        ApiError::bad_request("Invalid input for field/attribute server. 'flavorRef' is a required property")
    })?;
    let flavor_id = flavor_ref.rsplit('/').next().unwrap_or(&flavor_ref).to_string();
    let image_ref = opt_str(server, "imageRef")?.filter(|s| !s.is_empty());
    let image_id = image_ref.map(|r| r.rsplit('/').next().unwrap_or(&r).to_string()).ok_or_else(|| {
        ApiError::bad_request("Block device mapping is not supported yet: imageRef is required.")
    })?;

    // Networks: `none` and `auto` until networking lands; at ≥2.37 the field is required.
    match server.get("networks") {
        None if version.at_least(2, 37) => {
            return Err(ApiError::bad_request("Invalid input for field/attribute server. 'networks' is a required property"))
        }
        None | Some(Value::Null) => {}
        Some(Value::String(s)) if s == "none" || s == "auto" => {}
        Some(Value::Array(a)) if a.is_empty() => {}
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "Networks {other} cannot be attached: this cloud has no network service yet; use 'none' or 'auto'."
            )))
        }
    }

    let flavor = service
        .store
        .flavor_by_flavorid(&flavor_id)
        .await?
        .filter(|f| !f.disabled)
        .ok_or_else(|| ApiError::bad_request(format!("Flavor {flavor_id} could not be found.")))?;
    if !service.is_admin(&ctx) && !service.store.flavor_accessible(&flavor, &project_id).await? {
        return Err(ApiError::bad_request(format!("Flavor {flavor_id} could not be found.")));
    }
    let image = service.image_for(&ctx, &user_token(&headers), &image_id).await?;
    if image.status != "active" {
        return Err(ApiError::bad_request(format!("Image {image_id} is not active.")));
    }
    if image.min_ram > flavor.memory_mb {
        return Err(ApiError::bad_request("Flavor's memory is too small for requested image."));
    }
    if flavor.root_gb > 0 && image.min_disk > flavor.root_gb {
        return Err(ApiError::bad_request("Flavor's disk is too small for requested image."));
    }
    if let (Some(size), true) = (image.spec.size, flavor.root_gb > 0) {
        if size > flavor.root_gb << 30 {
            return Err(ApiError::bad_request("Flavor's disk is too small for requested image."));
        }
    }

    let key_name = opt_str(server, "key_name")?;
    let key_data = match &key_name {
        Some(k) => Some(
            service
                .store
                .keypair(&ctx.user.id, k)
                .await?
                .ok_or_else(|| ApiError::bad_request("Invalid key_name provided."))?
                .public_key,
        ),
        None => None,
    };
    let user_data = match opt_str(server, "user_data")? {
        Some(u) => {
            let decoded = base64::engine::general_purpose::STANDARD.decode(u.trim()).map_err(|_| {
                ApiError::bad_request("Invalid input for field/attribute user_data: not valid base64")
            })?;
            if decoded.len() as u64 > service.config.compute.max_user_data_bytes {
                return Err(ApiError::bad_request(format!(
                    "User data too large. User data must be no larger than {} bytes once base64 decoded. Your data is {} bytes",
                    service.config.compute.max_user_data_bytes,
                    decoded.len()
                )));
            }
            Some(u)
        }
        None => None,
    };
    let metadata = match server.get("metadata") {
        Some(m) => str_map("metadata", m)?,
        None => BTreeMap::new(),
    };
    let limits = crate::quota::project_limits(&service.store, &service.config.compute, &project_id).await?;
    crate::quota::metadata_fits(&limits, metadata.len() as i64)?;
    let tags: Vec<String> = match server.get("tags") {
        Some(Value::Array(a)) if version.at_least(2, 52) => {
            let tags: Vec<String> = a.iter().filter_map(|t| t.as_str().map(str::to_string)).collect();
            for t in &tags {
                validate_tag(t)?;
            }
            if tags.len() > 50 {
                return Err(ApiError::bad_request("A server may have at most 50 tags."));
            }
            tags
        }
        Some(_) => return Err(ApiError::bad_request("Invalid input for field/attribute tags")),
        None => vec![],
    };
    let description = if version.at_least(2, 19) { opt_str(server, "description")? } else { None };
    if description.as_ref().is_some_and(|d| d.chars().count() > 255) {
        return Err(ApiError::bad_request(
            "Invalid input for field/attribute description: longer than 255 characters",
        ));
    }

    // Availability zone: "az", "az:host" and "az::node" pin hosts (admins only).
    let (zone, force_host) = match opt_str(server, "availability_zone")? {
        None => (None, None),
        Some(z) => {
            let mut parts = z.splitn(3, ':');
            let az = parts.next().filter(|s| !s.is_empty()).map(str::to_string);
            let host = parts.next().filter(|s| !s.is_empty()).map(str::to_string);
            let node = parts.next().filter(|s| !s.is_empty()).map(str::to_string);
            let host = host.or(node);
            if host.is_some() {
                service.authorize(
                    &ctx,
                    "os_compute_api:servers:create:forced_host",
                    &json!({"project_id": project_id}),
                )?;
            }
            if let Some(az) = &az {
                let zones = service.known_zones().await?;
                if !zones.contains(az) {
                    return Err(ApiError::bad_request(format!(
                        "The requested availability zone is not available: {az}"
                    )));
                }
            }
            (az, host)
        }
    };

    let min = count(server, "min_count")?.unwrap_or(1);
    let max = count(server, "max_count")?.unwrap_or(min);
    if min > max {
        return Err(ApiError::bad_request("min_count must be <= max_count"));
    }

    let hints = body
        .get("os:scheduler_hints")
        .or_else(|| body.get("OS-SCH-HNT:scheduler_hints"))
        .cloned()
        .unwrap_or(json!({}));
    let group = match hints.get("group").and_then(Value::as_str) {
        Some(g) => Some(
            service
                .store
                .server_group(g)
                .await?
                .filter(|sg| sg.project_id == project_id || service.is_admin(&ctx))
                .ok_or_else(|| {
                    ApiError::bad_request(format!("Invalid server group: {g} could not be found."))
                })?,
        ),
        None => None,
    };

    let reservation_id = format!("r-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let who = requester(&ctx, &rid);
    let mut created = Vec::new();
    {
        // Count, check and insert under one lock: concurrent creates cannot together
        // exceed the quota. Without a server limit there is nothing to count.
        let (_guard, n) = if crate::quota::servers_unlimited(&limits) {
            (None, max)
        } else {
            let guard = service.quota_lock.lock().await;
            let limits =
                crate::quota::project_limits(&service.store, &service.config.compute, &project_id).await?;
            let usage = service.store.instance_usage(&project_id).await?;
            let fits = |n: i64| {
                crate::quota::servers_fit(
                    &limits,
                    &usage,
                    n,
                    n * flavor.vcpus as i64,
                    n * flavor.memory_mb as i64,
                )
            };
            // As many as fit between min_count and max_count; the 403 says why min_count does not.
            let n = (min..=max).rev().find(|n| fits(*n).is_ok()).unwrap_or(min);
            fits(n)?;
            (Some(guard), n)
        };
        let now = Utc::now();
        for index in 0..n {
            let display_name = if n > 1 { format!("{name}-{}", index + 1) } else { name.clone() };
            let instance = Instance {
                uuid: uuid::Uuid::new_v4().to_string(),
                hostname: hostname_of(&display_name),
                display_name,
                description: description.clone(),
                project_id: project_id.clone(),
                user_id: ctx.user.id.clone(),
                host: None,
                node: None,
                availability_zone: zone.clone(),
                requested_availability_zone: zone.clone(),
                flavor: flavor.clone(),
                old_flavor: None,
                new_flavor: None,
                image_ref: Some(image_id.clone()),
                image: Some(image.spec.clone()),
                key_name: key_name.clone(),
                key_data: key_data.clone(),
                user_data: user_data.clone(),
                metadata: metadata.clone(),
                tags: tags.clone(),
                vm_state: VmState::Building,
                task_state: Some(TaskState::Scheduling),
                power_state: PowerState::NoState,
                locked: false,
                locked_by: None,
                locked_reason: None,
                access_ip_v4: opt_str(server, "accessIPv4")?,
                access_ip_v6: opt_str(server, "accessIPv6")?,
                config_drive: opt_str(server, "config_drive")?.or_else(|| {
                    server.get("config_drive").and_then(Value::as_bool).map(|b| {
                        if b {
                            "True".into()
                        } else {
                            String::new()
                        }
                    })
                }),
                progress: 0,
                launch_index: index,
                reservation_id: reservation_id.clone(),
                server_group: group.as_ref().map(|g| g.uuid.clone()),
                scheduler_hints: hints.clone(),
                launched_at: None,
                terminated_at: None,
                created_at: now,
                updated_at: now,
                deleted_at: None,
                deleted: false,
            };
            // The server and its create action, in one commit.
            let action = NewAction {
                action: "create",
                request_id: &who.request_id,
                user_id: &who.user_id,
                project_id: &who.project_id,
            };
            let action_id = service.store.create_instance_with_action(&instance, action).await?;
            if let Some(g) = &group {
                service.store.add_group_member(&g.uuid, &instance.uuid).await?;
            }
            created.push((instance, action_id));
        }
    }

    for (instance, action_id) in &created {
        let action_id = action_id.clone();
        let group_spec = match &group {
            Some(g) => Some(service.group_spec(g, &instance.uuid).await?),
            None => None,
        };
        let spec = RequestSpec {
            instance_uuid: instance.uuid.clone(),
            project_id: project_id.clone(),
            flavor: flavor.clone(),
            image_properties: image.spec.properties.clone(),
            availability_zone: zone.clone(),
            force_host: force_host.clone(),
            ignore_hosts: vec![],
            group: group_spec,
        };
        // Servers of one request are built one after another when they share a group, so
        // each sees where the previous went.
        if group.is_some() {
            service.run_build(BuildRequest { instance: instance.clone(), spec, action_id }).await;
        } else {
            service.spawn_build(BuildRequest { instance: instance.clone(), spec, action_id });
        }
    }

    let first = &created[0].0;
    if server.get("return_reservation_id").and_then(Value::as_bool).unwrap_or(false)
        || body.get("return_reservation_id").and_then(Value::as_bool).unwrap_or(false)
    {
        return Ok(
            (StatusCode::ACCEPTED, axum::Json(json!({"reservation_id": reservation_id}))).into_response()
        );
    }
    let admin_pass = opt_str(server, "adminPass")?.unwrap_or_else(random_password);
    let body = json!({"server": {
        "id": first.uuid,
        "links": links(&base, &first.uuid),
        "OS-DCF:diskConfig": "MANUAL",
        "security_groups": [{"name": "default"}],
        "adminPass": admin_pass,
    }});
    let mut resp = (StatusCode::ACCEPTED, axum::Json(body)).into_response();
    if let Ok(v) = axum::http::HeaderValue::from_str(&format!("{base}/v2.1/servers/{}", first.uuid)) {
        resp.headers_mut().insert(axum::http::header::LOCATION, v);
    }
    Ok(resp)
}

fn random_password() -> String {
    use rand::Rng;
    const CHARS: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    (0..12).map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char).collect()
}

impl ComputeService {
    /// Every zone a server may ask for: the default zone of each service and every
    /// aggregate zone.
    pub async fn known_zones(&self) -> ApiResult<Vec<String>> {
        let mut zones: Vec<String> =
            self.store.services().await?.into_iter().map(|s| s.availability_zone).collect();
        zones.extend(crate::zones::host_zones(&self.store).await?.into_values());
        zones.sort();
        zones.dedup();
        Ok(zones)
    }

    /// Where the other members of a server group are.
    pub async fn group_spec(&self, g: &crate::model::ServerGroup, except: &str) -> ApiResult<GroupSpec> {
        let mut members_per_host = std::collections::HashMap::new();
        let filter = InstanceFilter { uuids: Some(g.members.clone()), ..Default::default() };
        for i in self.store.list_instances(&filter, None, None).await? {
            if i.uuid == except {
                continue;
            }
            if let Some(h) = i.host {
                *members_per_host.entry(h).or_insert(0u32) += 1;
            }
        }
        Ok(GroupSpec {
            uuid: g.uuid.clone(),
            policy: g.policy.as_str().to_string(),
            max_server_per_host: g.max_server_per_host,
            members_per_host,
        })
    }
}

// ---------------------------------------------------------------- list / show

async fn list(
    service: State,
    Authenticated(ctx): Authenticated,
    version: Version,
    BaseUrl(base): BaseUrl,
    Query(q): Query<Vec<(String, String)>>,
) -> ApiResult<Response> {
    list_servers(&service.0, &ctx, version, &base, q, false).await
}

async fn list_detail(
    service: State,
    Authenticated(ctx): Authenticated,
    version: Version,
    BaseUrl(base): BaseUrl,
    Query(q): Query<Vec<(String, String)>>,
) -> ApiResult<Response> {
    list_servers(&service.0, &ctx, version, &base, q, true).await
}

async fn list_servers(
    service: &Arc<ComputeService>,
    ctx: &AuthContext,
    version: Version,
    base: &str,
    q: Vec<(String, String)>,
    detail: bool,
) -> ApiResult<Response> {
    let project_id = ctx.project_id().unwrap_or_default().to_string();
    service.authorize(
        ctx,
        if detail { "os_compute_api:servers:detail" } else { "os_compute_api:servers:index" },
        &json!({"project_id": project_id}),
    )?;
    let admin = service.is_admin(ctx);
    let get = |k: &str| q.iter().rev().find(|(key, _)| key == k).map(|(_, v)| v.clone());
    let mut f = InstanceFilter { project_id: Some(project_id.clone()), ..Default::default() };
    let all = get("all_tenants")
        .is_some_and(|v| !matches!(v.to_lowercase().as_str(), "0" | "false" | "off" | "no"));
    if admin {
        if all {
            f.project_id = None;
        }
        if let Some(p) = get("project_id").or_else(|| get("tenant_id")) {
            f.project_id = Some(p);
        }
        f.host = get("host").or_else(|| get("node"));
        if get("deleted").is_some_and(|v| v == "true" || v == "True") {
            f.include_deleted = true;
        }
    } else if all {
        service.authorize(ctx, "os_compute_api:servers:index:get_all_tenants", &json!({}))?;
    }
    f.user_id = get("user_id");
    if let Some(s) = get("status") {
        f.vm_states = Some(
            vm_states_for_status(&s)
                .ok_or_else(|| ApiError::bad_request(format!("Invalid status value: {s}")))?,
        );
    }
    f.flavor_id = get("flavor");
    f.image_ref = get("image").map(|i| i.rsplit('/').next().unwrap_or(&i).to_string());
    f.reservation_id = get("reservation_id");
    f.availability_zone = get("availability_zone");
    if let Some(l) = get("locked") {
        f.locked = stratus_core::input::query_bool("locked", Some(&l))?;
    }
    for (key, field) in [("changes-since", &mut f.changes_since), ("changes-before", &mut f.changes_before)] {
        if let Some(t) = get(key) {
            *field = Some(stratus_core::input::parse_iso_time(&t).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "Invalid input for field/attribute {key}: '{t}' is not a date-time"
                ))
            })?);
        }
    }
    let name_re = match get("name") {
        Some(n) => Some(
            regex::Regex::new(&n)
                .map_err(|e| ApiError::bad_request(format!("Invalid regular expression in name: {e}")))?,
        ),
        None => None,
    };
    let limit = match get("limit") {
        Some(l) => Some(
            l.parse::<usize>().map_err(|_| ApiError::bad_request("limit must be a non-negative integer"))?,
        ),
        None => None,
    };
    let marker = match get("marker") {
        Some(m) => Some(
            service
                .store
                .instance_any(&m)
                .await?
                .ok_or_else(|| ApiError::bad_request(format!("marker [{m}] not found")))?,
        ),
        None => None,
    };
    let tags: Vec<String> =
        get("tags").map(|t| t.split(',').map(str::to_string).collect()).unwrap_or_default();
    let tags_any: Vec<String> =
        get("tags-any").map(|t| t.split(',').map(str::to_string).collect()).unwrap_or_default();

    let post_filter = name_re.is_some() || !tags.is_empty() || !tags_any.is_empty();
    let fetch_limit = if post_filter { None } else { limit };
    let mut servers = service.store.list_instances(&f, fetch_limit, marker.as_ref()).await?;
    if let Some(re) = &name_re {
        servers.retain(|i| re.is_match(&i.display_name));
    }
    if !tags.is_empty() {
        servers.retain(|i| tags.iter().all(|t| i.tags.contains(t)));
    }
    if !tags_any.is_empty() {
        servers.retain(|i| tags_any.iter().any(|t| i.tags.contains(t)));
    }
    if let Some(l) = limit {
        servers.truncate(l);
    }
    let host_up = if admin && detail && version.at_least(2, 16) {
        Some(service.liveness.get(&service.store).await?)
    } else {
        None
    };
    let view = View { base, version, admin, host_up: host_up.as_deref() };
    let next = match (limit, servers.last()) {
        (Some(l), Some(last)) if servers.len() == l && l > 0 => {
            Some(next_page(base, if detail { "servers/detail" } else { "servers" }, l, &last.uuid))
        }
        _ => None,
    };
    Ok(if detail {
        let uuids: Vec<String> =
            servers.iter().filter(|i| i.vm_state == VmState::Error).map(|i| i.uuid.clone()).collect();
        let faults = service.store.latest_faults(&uuids).await?;
        let servers = servers.iter().map(|i| view.detail(i, faults.get(&i.uuid))).collect();
        axum::Json(Page { servers, servers_links: next }).into_response()
    } else {
        let servers = servers.iter().map(|i| view.brief(i)).collect();
        axum::Json(Page { servers, servers_links: next }).into_response()
    })
}

pub(crate) async fn render_one(
    service: &ComputeService,
    ctx: &AuthContext,
    version: Version,
    base: &str,
    i: &Instance,
    admin_pass: Option<String>,
) -> ApiResult<Response> {
    let admin = service.is_admin(ctx);
    let host_up = if admin && version.at_least(2, 16) {
        Some(service.liveness.get(&service.store).await?)
    } else {
        None
    };
    // A fault is shown only for ERROR and DELETED servers (`View::detail`): others need no read.
    let faults = if matches!(i.vm_state, VmState::Error | VmState::Deleted) {
        service.store.latest_faults(std::slice::from_ref(&i.uuid)).await?
    } else {
        Default::default()
    };
    let view = View { base, version, admin, host_up: host_up.as_deref() };
    let mut server = view.detail(i, faults.get(&i.uuid));
    server.admin_pass = admin_pass;
    Ok(axum::Json(One { server }).into_response())
}

async fn show(
    service: State,
    Authenticated(ctx): Authenticated,
    version: Version,
    BaseUrl(base): BaseUrl,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let i = visible(&service, &ctx, &id).await?;
    service.authorize(&ctx, "os_compute_api:servers:show", &target(&i))?;
    render_one(&service, &ctx, version, &base, &i, None).await
}

async fn update(
    service: State,
    Authenticated(ctx): Authenticated,
    version: Version,
    BaseUrl(base): BaseUrl,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Response> {
    let i = visible(&service, &ctx, &id).await?;
    service.authorize(&ctx, "os_compute_api:servers:update", &target(&i))?;
    check_unlocked(&service, &ctx, &i)?;
    let server = body
        .get("server")
        .and_then(Value::as_object)
        .ok_or_else(|| ApiError::bad_request("Invalid input: the body must be {\"server\": {...}}"))?;
    let mut u = InstanceUpdate::default();
    for key in server.keys() {
        match key.as_str() {
            "name" => {
                let n = opt_str(server, "name")?.unwrap_or_default();
                check_name("name", &n, 255)?;
                u.display_name = Some(n);
            }
            "description" if version.at_least(2, 19) => {
                let d = opt_str(server, "description")?;
                if d.as_ref().is_some_and(|d| d.chars().count() > 255) {
                    return Err(ApiError::bad_request("Invalid input for field/attribute description: longer than 255 characters"));
                }
                u.description = Some(d);
            }
            "hostname" if version.at_least(2, 90) => {
                let h = opt_str(server, "hostname")?.unwrap_or_default();
                if h.is_empty() || h.len() > 63 || !h.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.') {
                    return Err(ApiError::bad_request(format!("Invalid input for field/attribute hostname: '{h}'")));
                }
                u.hostname = Some(h);
            }
            "accessIPv4" => u.access_ip_v4 = Some(opt_str(server, "accessIPv4")?),
            "accessIPv6" => u.access_ip_v6 = Some(opt_str(server, "accessIPv6")?),
            other => {
                return Err(ApiError::bad_request(format!(
                    "Invalid input for field/attribute server. Additional properties are not allowed ('{other}' was unexpected)"
                )))
            }
        }
    }
    service.store.update_instance(&i.uuid, &Default::default(), &u).await?;
    let i = service.store.instance_or_404(&i.uuid).await?;
    render_one(&service, &ctx, version, &base, &i, None).await
}

async fn delete(
    service: State,
    Authenticated(ctx): Authenticated,
    axum::extract::Extension(rid): axum::extract::Extension<RequestId>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let i = visible(&service, &ctx, &id).await?;
    service.authorize(&ctx, "os_compute_api:servers:delete", &target(&i))?;
    check_unlocked(&service, &ctx, &i)?;
    if let Some(refusal) = Action::Delete.refusal(&i.uuid, i.vm_state, i.task_state) {
        return Err(ApiError::conflict(refusal));
    }
    service.0.start_delete(&i, &requester(&ctx, &rid)).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------- metadata

async fn meta_target(
    service: &ComputeService,
    ctx: &AuthContext,
    id: &str,
    rule: &str,
    write: bool,
) -> ApiResult<Instance> {
    let i = visible(service, ctx, id).await?;
    service.authorize(ctx, rule, &target(&i))?;
    if write {
        check_unlocked(service, ctx, &i)?;
        if matches!(i.task_state, Some(TaskState::Deleting)) {
            return Err(ApiError::conflict(format!(
                "Cannot 'update metadata' instance {id} while it is in task_state deleting"
            )));
        }
    }
    Ok(i)
}

async fn save_metadata(
    service: &ComputeService,
    i: &Instance,
    metadata: BTreeMap<String, String>,
) -> ApiResult<()> {
    crate::quota::check_metadata_items(service, &i.project_id, metadata.len() as i64).await?;
    let u = InstanceUpdate { metadata: Some(metadata), ..Default::default() };
    service.store.update_instance(&i.uuid, &Default::default(), &u).await?;
    Ok(())
}

async fn metadata_list(
    service: State,
    Authenticated(ctx): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<Value>> {
    let i = meta_target(&service, &ctx, &id, "os_compute_api:server-metadata:index", false).await?;
    Ok(axum::Json(json!({"metadata": i.metadata})))
}

async fn metadata_replace(
    service: State,
    Authenticated(ctx): Authenticated,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<axum::Json<Value>> {
    let i = meta_target(&service, &ctx, &id, "os_compute_api:server-metadata:update_all", true).await?;
    let m = str_map("metadata", body.get("metadata").unwrap_or(&Value::Null))?;
    save_metadata(&service, &i, m.clone()).await?;
    Ok(axum::Json(json!({"metadata": m})))
}

async fn metadata_merge(
    service: State,
    Authenticated(ctx): Authenticated,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<axum::Json<Value>> {
    let i = meta_target(&service, &ctx, &id, "os_compute_api:server-metadata:create", true).await?;
    let m = str_map("metadata", body.get("metadata").unwrap_or(&Value::Null))?;
    let mut all = i.metadata.clone();
    all.extend(m);
    save_metadata(&service, &i, all.clone()).await?;
    Ok(axum::Json(json!({"metadata": all})))
}

async fn metadata_show(
    service: State,
    Authenticated(ctx): Authenticated,
    Path((id, key)): Path<(String, String)>,
) -> ApiResult<axum::Json<Value>> {
    let i = meta_target(&service, &ctx, &id, "os_compute_api:server-metadata:show", false).await?;
    let v = i.metadata.get(&key).ok_or_else(|| ApiError::not_found("Metadata item was not found"))?;
    Ok(axum::Json(json!({"meta": {key: v}})))
}

async fn metadata_set(
    service: State,
    Authenticated(ctx): Authenticated,
    Path((id, key)): Path<(String, String)>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<axum::Json<Value>> {
    let i = meta_target(&service, &ctx, &id, "os_compute_api:server-metadata:update", true).await?;
    let m = str_map("meta", body.get("meta").unwrap_or(&Value::Null))?;
    if m.len() != 1 || !m.contains_key(&key) {
        return Err(ApiError::bad_request("Request body and URI mismatch"));
    }
    let mut all = i.metadata.clone();
    all.extend(m.clone());
    save_metadata(&service, &i, all).await?;
    Ok(axum::Json(json!({"meta": m})))
}

async fn metadata_delete(
    service: State,
    Authenticated(ctx): Authenticated,
    Path((id, key)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let i = meta_target(&service, &ctx, &id, "os_compute_api:server-metadata:delete", true).await?;
    let mut all = i.metadata.clone();
    all.remove(&key).ok_or_else(|| ApiError::not_found("Metadata item was not found"))?;
    save_metadata(&service, &i, all).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------- tags

fn validate_tag(t: &str) -> ApiResult<()> {
    if t.is_empty() || t.chars().count() > 60 || t.contains('/') || t.contains(',') {
        return Err(ApiError::bad_request(format!("Invalid tag '{t}': 1-60 characters, no '/' or ','")));
    }
    Ok(())
}

async fn save_tags(service: &ComputeService, i: &Instance, tags: Vec<String>) -> ApiResult<()> {
    if tags.len() > 50 {
        return Err(ApiError::bad_request("A server may have at most 50 tags."));
    }
    let u = InstanceUpdate { tags: Some(tags), ..Default::default() };
    service.store.update_instance(&i.uuid, &Default::default(), &u).await?;
    Ok(())
}

fn need_tags(v: Version) -> ApiResult<()> {
    if v.at_least(2, 26) {
        Ok(())
    } else {
        Err(ApiError::not_found("The resource could not be found."))
    }
}

async fn tags_list(
    service: State,
    Authenticated(ctx): Authenticated,
    v: Version,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<Value>> {
    need_tags(v)?;
    let i = meta_target(&service, &ctx, &id, "os_compute_api:os-server-tags:index", false).await?;
    Ok(axum::Json(json!({"tags": i.tags})))
}

async fn tags_replace(
    service: State,
    Authenticated(ctx): Authenticated,
    v: Version,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<axum::Json<Value>> {
    need_tags(v)?;
    let i = meta_target(&service, &ctx, &id, "os_compute_api:os-server-tags:update_all", true).await?;
    let tags: Vec<String> = body
        .get("tags")
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::bad_request("Invalid input for field/attribute tags"))?
        .iter()
        .map(|t| t.as_str().map(str::to_string).ok_or_else(|| ApiError::bad_request("tags must be strings")))
        .collect::<ApiResult<_>>()?;
    for t in &tags {
        validate_tag(t)?;
    }
    let mut unique = tags.clone();
    unique.dedup();
    save_tags(&service, &i, unique.clone()).await?;
    Ok(axum::Json(json!({"tags": unique})))
}

async fn tags_clear(
    service: State,
    Authenticated(ctx): Authenticated,
    v: Version,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    need_tags(v)?;
    let i = meta_target(&service, &ctx, &id, "os_compute_api:os-server-tags:delete_all", true).await?;
    save_tags(&service, &i, vec![]).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn tag_check(
    service: State,
    Authenticated(ctx): Authenticated,
    v: Version,
    Path((id, tag)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    need_tags(v)?;
    let i = meta_target(&service, &ctx, &id, "os_compute_api:os-server-tags:show", false).await?;
    if i.tags.contains(&tag) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("Tag {tag} could not be found.")))
    }
}

async fn tag_add(
    service: State,
    Authenticated(ctx): Authenticated,
    v: Version,
    BaseUrl(base): BaseUrl,
    Path((id, tag)): Path<(String, String)>,
) -> ApiResult<Response> {
    need_tags(v)?;
    validate_tag(&tag)?;
    let i = meta_target(&service, &ctx, &id, "os_compute_api:os-server-tags:update", true).await?;
    if i.tags.contains(&tag) {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let mut tags = i.tags.clone();
    tags.push(tag.clone());
    save_tags(&service, &i, tags).await?;
    let mut resp = StatusCode::CREATED.into_response();
    if let Ok(v) = axum::http::HeaderValue::from_str(&format!("{base}/v2.1/servers/{id}/tags/{tag}")) {
        resp.headers_mut().insert(axum::http::header::LOCATION, v);
    }
    Ok(resp)
}

async fn tag_remove(
    service: State,
    Authenticated(ctx): Authenticated,
    v: Version,
    Path((id, tag)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    need_tags(v)?;
    let i = meta_target(&service, &ctx, &id, "os_compute_api:os-server-tags:delete", true).await?;
    if !i.tags.contains(&tag) {
        return Err(ApiError::not_found(format!("Tag {tag} could not be found.")));
    }
    let tags = i.tags.iter().filter(|t| **t != tag).cloned().collect();
    save_tags(&service, &i, tags).await?;
    Ok(StatusCode::NO_CONTENT)
}
