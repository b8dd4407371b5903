//! `/v2/images`, `/v2/images/{id}`, actions and tags.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query};
use axum::http::{header, HeaderMap, StatusCode};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use chrono::Utc;
use serde_json::{json, Map, Value};
use stratus_core::auth::{AuthContext, Authenticated};
use stratus_core::error::{ApiError, ApiResult};
use stratus_core::http::Json as JsonBody;

use super::State;
use crate::format::{CONTAINER_FORMATS, DISK_FORMATS};
use crate::model::{Image, ImageStatus, Visibility, CORE_WRITABLE, READ_ONLY};
use crate::service::ImageService;
use crate::store::{ImageFilter, Viewer, SORT_KEYS};

const DEFAULT_LIMIT: usize = 25;
const MAX_LIMIT: usize = 1000;

pub fn routes() -> Router<std::sync::Arc<crate::service::ImageService>> {
    Router::new()
        .route("/v2/images", get(list).post(create))
        .route("/v2/images/{id}", get(show).patch(update).delete(remove))
        .route("/v2/images/{id}/actions/deactivate", post(deactivate))
        .route("/v2/images/{id}/actions/reactivate", post(reactivate))
        .route("/v2/images/{id}/tags/{tag}", put(add_tag).delete(remove_tag))
}

pub(crate) fn glance_time(t: chrono::DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

pub(crate) fn render(i: &Image) -> Value {
    let mut v = json!({
        "id": i.id, "name": i.name, "status": i.status.as_str(), "visibility": i.visibility.as_str(),
        "protected": i.protected, "os_hidden": i.os_hidden, "checksum": i.checksum,
        "os_hash_algo": i.os_hash_algo, "os_hash_value": i.os_hash_value, "owner": i.owner,
        "size": i.size, "virtual_size": i.virtual_size, "min_ram": i.min_ram, "min_disk": i.min_disk,
        "disk_format": i.disk_format, "container_format": i.container_format, "tags": i.tags,
        "created_at": glance_time(i.created_at), "updated_at": glance_time(i.updated_at),
        "self": format!("/v2/images/{}", i.id), "file": format!("/v2/images/{}/file", i.id),
        "schema": "/v2/schemas/image",
    });
    if i.status == ImageStatus::Active {
        v["stores"] = json!(i.store.as_deref().unwrap_or("file"));
    }
    let obj = v.as_object_mut().expect("object");
    for (k, val) in &i.properties {
        obj.entry(k.clone()).or_insert_with(|| json!(val));
    }
    v
}

fn invalid(field: &str, why: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(format!("Invalid value for '{field}': {why}"))
}

/// Sets one attribute of an image from client input, with glance's rules.
fn set_attribute(image: &mut Image, key: &str, value: Value, is_admin: bool) -> ApiResult<()> {
    if READ_ONLY.contains(&key) {
        return Err(ApiError::forbidden(format!("Attribute '{key}' is read-only.")));
    }
    let as_bool = |v: &Value| v.as_bool().ok_or_else(|| invalid(key, "must be a boolean"));
    let as_count = |v: &Value| {
        v.as_i64().filter(|n| *n >= 0).ok_or_else(|| invalid(key, "must be a non-negative integer"))
    };
    let as_opt_str = |v: &Value| match v {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        _ => Err(invalid(key, "must be a string")),
    };
    match key {
        "name" => {
            let name = as_opt_str(&value)?;
            if name.as_ref().is_some_and(|n| n.chars().count() > 255) {
                return Err(invalid(key, "longer than 255 characters"));
            }
            image.name = name;
        }
        "visibility" => {
            let s = value.as_str().ok_or_else(|| invalid(key, "must be a string"))?;
            image.visibility = Visibility::parse(s).ok_or_else(|| {
                invalid(key, format!("{s:?} is not one of public, private, shared, community"))
            })?;
        }
        "protected" => image.protected = as_bool(&value)?,
        "os_hidden" => image.os_hidden = as_bool(&value)?,
        "min_disk" => image.min_disk = as_count(&value)?,
        "min_ram" => image.min_ram = as_count(&value)?,
        "disk_format" => {
            let f = as_opt_str(&value)?;
            if let Some(f) = &f {
                if !DISK_FORMATS.contains(&f.as_str()) {
                    return Err(invalid(key, format!("{f:?} is not one of {}", DISK_FORMATS.join(", "))));
                }
            }
            if image.status != ImageStatus::Queued && f != image.disk_format {
                return Err(ApiError::forbidden(
                    "disk_format can only be changed while the image is queued.",
                ));
            }
            image.disk_format = f;
        }
        "container_format" => {
            let f = as_opt_str(&value)?;
            if let Some(f) = &f {
                if !CONTAINER_FORMATS.contains(&f.as_str()) {
                    return Err(invalid(
                        key,
                        format!("{f:?} is not one of {}", CONTAINER_FORMATS.join(", ")),
                    ));
                }
            }
            if image.status != ImageStatus::Queued && f != image.container_format {
                return Err(ApiError::forbidden(
                    "container_format can only be changed while the image is queued.",
                ));
            }
            image.container_format = f;
        }
        "tags" => {
            let Value::Array(items) = value else { return Err(invalid(key, "must be a list of strings")) };
            let mut tags = Vec::new();
            for t in items {
                let t = t.as_str().ok_or_else(|| invalid(key, "must be a list of strings"))?.to_string();
                check_tag(&t)?;
                if !tags.contains(&t) {
                    tags.push(t);
                }
            }
            image.tags = tags;
        }
        "owner" => {
            if !is_admin {
                return Err(ApiError::forbidden("Only an admin may set an image's owner."));
            }
            image.owner = as_opt_str(&value)?;
        }
        _ => {
            if key.is_empty() || key.len() > 255 {
                return Err(invalid(key, "a property name has 1 to 255 characters"));
            }
            let Value::String(s) = value else {
                return Err(invalid(key, "additional properties must be strings"));
            };
            image.properties.insert(key.to_string(), s);
        }
    }
    Ok(())
}

fn check_tag(t: &str) -> ApiResult<()> {
    if t.is_empty() || t.chars().count() > 255 {
        return Err(invalid("tags", "a tag has 1 to 255 characters"));
    }
    Ok(())
}

/// The rules for publishing an image beyond its project.
fn visibility_rule(v: Visibility) -> Option<&'static str> {
    match v {
        Visibility::Public => Some("publicize_image"),
        Visibility::Community => Some("communitize_image"),
        _ => None,
    }
}

async fn create(
    s: State,
    Authenticated(ctx): Authenticated,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<(StatusCode, [(&'static str, &'static str); 2], Json<Value>)> {
    let Value::Object(fields) = body else {
        return Err(ApiError::bad_request("The request body must be a JSON object."));
    };
    let now = Utc::now();
    let is_admin = s.is_admin(&ctx);
    let mut image = Image {
        id: uuid::Uuid::new_v4().to_string(),
        name: None,
        status: ImageStatus::Queued,
        visibility: Visibility::Shared,
        protected: false,
        os_hidden: false,
        disk_format: None,
        container_format: None,
        min_disk: 0,
        min_ram: 0,
        size: None,
        virtual_size: None,
        checksum: None,
        os_hash_algo: None,
        os_hash_value: None,
        owner: ctx.project_id().map(str::to_string),
        tags: vec![],
        properties: Default::default(),
        store: None,
        created_at: now,
        updated_at: now,
    };
    for (k, v) in fields {
        if k == "id" {
            let id = v.as_str().ok_or_else(|| invalid("id", "must be a string"))?;
            uuid::Uuid::parse_str(id).map_err(|_| invalid("id", "must be a UUID"))?;
            image.id = id.to_string();
            continue;
        }
        set_attribute(&mut image, &k, v, is_admin)?;
    }
    let target = s.target(&ctx, &image).await?;
    s.authorize(&ctx, "add_image", &target)?;
    if let Some(rule) = visibility_rule(image.visibility) {
        s.authorize(&ctx, rule, &target)?;
    }
    s.store.create_image(&image).await?;
    // As glance: clients learn how data may be imported from these headers.
    let headers =
        [("openstack-image-import-methods", "glance-direct"), ("openstack-image-store-ids", "file")];
    Ok((StatusCode::CREATED, headers, Json(render(&image))))
}

async fn show(s: State, Authenticated(ctx): Authenticated, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    Ok(Json(show_image(&s, &ctx, &id).await?))
}

/// `GET /v2/images/{id}` for `ctx`, without HTTP: the image as the API renders it (also
/// what another service in this process reads instead of calling the API).
pub async fn show_image(s: &ImageService, ctx: &AuthContext, id: &str) -> ApiResult<Value> {
    let image = s.load_visible(ctx, id).await?;
    s.authorize(ctx, "get_image", &s.target(ctx, &image).await?)?;
    Ok(render(&image))
}

/// Applies a JSON-patch (`application/openstack-images-v2.1-json-patch`).
async fn update(
    s: State,
    Authenticated(ctx): Authenticated,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let ctype = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !ctype.starts_with("application/openstack-images-v2.1-json-patch")
        && !ctype.starts_with("application/openstack-images-v2.0-json-patch")
    {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Use Content-Type: application/openstack-images-v2.1-json-patch for image updates.",
        ));
    }
    let ops: Vec<Value> = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("Malformed JSON-patch: {e}")))?;
    let mut image = s.load_visible(&ctx, &id).await?;
    let before = image.clone();
    s.authorize(&ctx, "modify_image", &s.target(&ctx, &image).await?)?;
    let is_admin = s.is_admin(&ctx);
    for op in ops {
        apply_op(&mut image, &op, is_admin)?;
    }
    if image.visibility != before.visibility {
        if let Some(rule) = visibility_rule(image.visibility) {
            s.authorize(&ctx, rule, &s.target(&ctx, &image).await?)?;
        }
    }
    s.store.update_image(&image).await?;
    let image = s
        .store
        .get_image(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("No image found with ID {id}")))?;
    Ok(Json(render(&image)))
}

fn apply_op(image: &mut Image, op: &Value, is_admin: bool) -> ApiResult<()> {
    let obj: &Map<String, Value> =
        op.as_object().ok_or_else(|| ApiError::bad_request("Each patch operation must be an object."))?;
    let kind = obj
        .get("op")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::bad_request("A patch operation needs 'op'."))?;
    let path = obj
        .get("path")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::bad_request("A patch operation needs 'path'."))?;
    let key = path
        .strip_prefix('/')
        .filter(|k| !k.is_empty() && !k.contains('/'))
        .ok_or_else(|| ApiError::bad_request(format!("Invalid JSON pointer for this resource: '{path}'")))?
        .replace("~1", "/")
        .replace("~0", "~");
    if READ_ONLY.contains(&key.as_str()) {
        return Err(ApiError::forbidden(format!("Attribute '{key}' is read-only.")));
    }
    let is_core = CORE_WRITABLE.contains(&key.as_str());
    match kind {
        "add" | "replace" => {
            let value =
                obj.get("value").cloned().ok_or_else(|| ApiError::bad_request("'value' is required."))?;
            if kind == "replace" && !is_core && !image.properties.contains_key(&key) {
                return Err(ApiError::conflict(format!("Property {key} does not exist.")));
            }
            set_attribute(image, &key, value, is_admin)
        }
        "remove" => {
            if is_core {
                return Err(ApiError::forbidden(format!(
                    "Attribute '{key}' is reserved and cannot be removed."
                )));
            }
            if image.properties.remove(&key).is_none() {
                return Err(ApiError::conflict(format!("Property {key} does not exist.")));
            }
            Ok(())
        }
        other => Err(ApiError::bad_request(format!("Unsupported patch operation: {other}"))),
    }
}

async fn remove(
    s: State,
    Authenticated(ctx): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let image = s.load_visible(&ctx, &id).await?;
    s.authorize(&ctx, "delete_image", &s.target(&ctx, &image).await?)?;
    if image.protected {
        return Err(ApiError::forbidden(format!("Image {id} is protected and cannot be deleted.")));
    }
    s.store.delete_image(&id).await?;
    match s.backend_of(&image) {
        Ok(backend) => backend.delete(&id).await,
        Err(e) => {
            tracing::warn!(image = %id, error = %e, "image data left in a store this service does not have")
        }
    }
    if image.store.is_none() && s.backend.id() != "file" {
        // No data recorded, but an upload may be in flight towards the default store.
        s.backend.delete(&id).await;
    }
    s.incoming.delete_staged(&id).await;
    Ok(StatusCode::NO_CONTENT)
}

async fn deactivate(
    s: State,
    Authenticated(ctx): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    switch_activation(&s, &ctx, &id, "deactivate", ImageStatus::Deactivated).await
}

async fn reactivate(
    s: State,
    Authenticated(ctx): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    switch_activation(&s, &ctx, &id, "reactivate", ImageStatus::Active).await
}

/// Deactivation and reactivation: policy rule `action`, then `active ⇄ deactivated`
/// (already there is fine; any other status is refused, as glance).
async fn switch_activation(
    s: &State,
    ctx: &AuthContext,
    id: &str,
    action: &str,
    to: ImageStatus,
) -> ApiResult<StatusCode> {
    let image = s.load_visible(ctx, id).await?;
    s.authorize(ctx, action, &s.target(ctx, &image).await?)?;
    if image.status != to {
        s.transition(&image, to).await.map_err(|_| {
            ApiError::forbidden(format!(
                "Not allowed to {action} image in status '{}'",
                image.status.as_str()
            ))
        })?;
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn add_tag(
    s: State,
    Authenticated(ctx): Authenticated,
    Path((id, tag)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let mut image = s.load_visible(&ctx, &id).await?;
    s.authorize(&ctx, "modify_image", &s.target(&ctx, &image).await?)?;
    check_tag(&tag)?;
    if !image.tags.contains(&tag) {
        image.tags.push(tag);
        s.store.update_image(&image).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn remove_tag(
    s: State,
    Authenticated(ctx): Authenticated,
    Path((id, tag)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let mut image = s.load_visible(&ctx, &id).await?;
    s.authorize(&ctx, "modify_image", &s.target(&ctx, &image).await?)?;
    let before = image.tags.len();
    image.tags.retain(|t| t != &tag);
    if image.tags.len() == before {
        return Err(ApiError::not_found(format!("Tag {tag} not found on image {id}.")));
    }
    s.store.update_image(&image).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- listing ----

async fn list(
    s: State,
    Authenticated(ctx): Authenticated,
    Query(q): Query<Vec<(String, String)>>,
) -> ApiResult<Json<Value>> {
    s.authorize(&ctx, "get_images", &json!({"project_id": ctx.project_id(), "owner": ctx.project_id()}))?;
    let mut params: HashMap<&str, Vec<&str>> = HashMap::new();
    for (k, v) in &q {
        params.entry(k.as_str()).or_default().push(v.as_str());
    }
    let one = |k: &str| params.get(k).and_then(|v| v.first()).map(|s| s.to_string());
    let limit = match one("limit") {
        Some(l) => {
            l.parse::<usize>().map_err(|_| invalid("limit", "must be a non-negative integer"))?.min(MAX_LIMIT)
        }
        None => DEFAULT_LIMIT,
    };
    let mut filter = ImageFilter {
        name: one("name"),
        status: one("status"),
        visibility: one("visibility"),
        owner: one("owner"),
        disk_format: one("disk_format"),
        container_format: one("container_format"),
        tags: params.get("tag").map(|v| v.iter().map(|s| s.to_string()).collect()).unwrap_or_default(),
        size_min: parse_int("size_min", one("size_min"))?,
        size_max: parse_int("size_max", one("size_max"))?,
        protected: parse_bool("protected", one("protected"))?,
        os_hidden: parse_bool("os_hidden", one("os_hidden"))?,
        times: vec![],
    };
    if let Some(v) = &filter.visibility {
        if !matches!(v.as_str(), "public" | "private" | "shared" | "community" | "all") {
            return Err(invalid(
                "visibility",
                format!("{v:?} is not one of public, private, shared, community, all"),
            ));
        }
    }
    for col in ["created_at", "updated_at"] {
        if let Some(expr) = one(col) {
            filter.times.push(time_filter(col, &expr)?);
        }
    }
    let member_status = one("member_status").unwrap_or_else(|| "accepted".into());
    if !matches!(member_status.as_str(), "accepted" | "pending" | "rejected" | "all") {
        return Err(invalid("member_status", "must be accepted, pending, rejected or all"));
    }
    let viewer = Viewer {
        project_id: ctx.project_id().map(str::to_string),
        is_admin: s.is_admin(&ctx),
        member_status,
    };
    let sort = parse_sort(&params)?;
    let marker = match one("marker") {
        Some(m) => Some(load_marker(&s, &ctx, &m).await?),
        None => None,
    };
    let images = s.store.list_images(&filter, &viewer, &sort, limit + 1, marker.as_ref()).await?;
    let more = images.len() > limit;
    let page = &images[..images.len().min(limit)];
    let mut body = json!({
        "images": page.iter().map(render).collect::<Vec<_>>(),
        "schema": "/v2/schemas/images",
        "first": "/v2/images",
    });
    if more {
        if let Some(last) = page.last() {
            let mut next: Vec<String> = q
                .iter()
                .filter(|(k, _)| k != "marker")
                .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
                .collect();
            next.push(format!("marker={}", last.id));
            if one("limit").is_none() {
                next.push(format!("limit={limit}"));
            }
            body["next"] = json!(format!("/v2/images?{}", next.join("&")));
        }
    }
    Ok(Json(body))
}

async fn load_marker(s: &State, ctx: &AuthContext, id: &str) -> ApiResult<Image> {
    s.load_visible(ctx, id)
        .await
        .map_err(|_| ApiError::bad_request(format!("Invalid marker. Image {id} could not be found.")))
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b':' | b',' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn parse_int(field: &str, v: Option<String>) -> ApiResult<Option<i64>> {
    v.map(|s| s.parse::<i64>().map_err(|_| invalid(field, "must be an integer"))).transpose()
}

fn parse_bool(field: &str, v: Option<String>) -> ApiResult<Option<bool>> {
    stratus_core::input::query_bool(field, v.as_deref())
}

/// `created_at=gt:2024-01-01T00:00:00Z` (operators gt, gte, lt, lte, eq, neq; none means eq).
fn time_filter(col: &'static str, expr: &str) -> ApiResult<(&'static str, &'static str, String)> {
    let (op, value) = match expr.split_once(':') {
        Some((op @ ("gt" | "gte" | "lt" | "lte" | "eq" | "neq"), rest)) => (op, rest),
        _ => ("eq", expr),
    };
    let t = stratus_core::input::parse_iso_time(value)
        .ok_or_else(|| invalid(col, format!("{value:?} is not an ISO 8601 time")))?;
    let sql_op = match op {
        "gt" => ">",
        "gte" => ">=",
        "lt" => "<",
        "lte" => "<=",
        "neq" => "<>",
        _ => "=",
    };
    Ok((col, sql_op, stratus_core::db::time_string(t)))
}

/// `sort=name:asc,created_at` or `sort_key=name&sort_dir=asc` (repeatable); default created_at desc.
fn parse_sort(params: &HashMap<&str, Vec<&str>>) -> ApiResult<Vec<(String, bool)>> {
    let check = |k: &str| -> ApiResult<String> {
        if SORT_KEYS.contains(&k) {
            Ok(k.to_string())
        } else {
            Err(invalid("sort_key", format!("{k:?} is not one of {}", SORT_KEYS.join(", "))))
        }
    };
    let dir = |d: &str| -> ApiResult<bool> {
        match d {
            "asc" => Ok(true),
            "desc" => Ok(false),
            other => Err(invalid("sort_dir", format!("{other:?} is not asc or desc"))),
        }
    };
    let mut out = Vec::new();
    if let Some(sort) = params.get("sort").and_then(|v| v.first()) {
        if params.contains_key("sort_key") || params.contains_key("sort_dir") {
            return Err(ApiError::bad_request("Use either sort or sort_key/sort_dir, not both."));
        }
        for part in sort.split(',').filter(|p| !p.is_empty()) {
            let (k, d) = part.split_once(':').unwrap_or((part, "desc"));
            out.push((check(k)?, dir(d)?));
        }
    } else if let Some(keys) = params.get("sort_key") {
        let dirs = params.get("sort_dir").cloned().unwrap_or_default();
        for (i, k) in keys.iter().enumerate() {
            let d = dirs.get(i).or(dirs.last()).copied().unwrap_or("desc");
            out.push((check(k)?, dir(d)?));
        }
    }
    if out.is_empty() {
        out.push(("created_at".into(), false));
    }
    Ok(out)
}
