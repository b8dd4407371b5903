//! The service catalog: `/v3/regions`, `/v3/services`, `/v3/endpoints`.

use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use stratus_core::auth::Authenticated;
use stratus_core::error::{ApiError, ApiResult};
use stratus_core::http::{BaseUrl, Json as JsonBody};
use stratus_core::input::Fields;

use super::{collection_links, links, with_extra, State};
use crate::model::{new_id, Endpoint, Interface, Region, Service};

pub fn routes() -> Router<std::sync::Arc<crate::service::Identity>> {
    Router::new()
        .route("/v3/regions", get(list_regions).post(create_region))
        .route(
            "/v3/regions/{id}",
            get(show_region).put(put_region).patch(update_region).delete(remove_region),
        )
        .route("/v3/services", get(list_services).post(create_service))
        .route("/v3/services/{id}", get(show_service).patch(update_service).delete(remove_service))
        .route("/v3/endpoints", get(list_endpoints).post(create_endpoint))
        .route("/v3/endpoints/{id}", get(show_endpoint).patch(update_endpoint).delete(remove_endpoint))
}

// ---- regions ----

fn render_region(r: &Region, base: &str) -> Value {
    let v = json!({"id": r.id, "description": r.description, "parent_region_id": r.parent_region_id,
                       "links": links(base, &format!("regions/{}", r.id))});
    with_extra(v, &r.extra)
}

async fn load_region(s: &State, id: &str) -> ApiResult<Region> {
    s.store.get_region(id).await?.ok_or_else(|| ApiError::not_found_resource("region", id))
}

#[derive(Deserialize)]
struct RegionQuery {
    parent_region_id: Option<String>,
}

async fn list_regions(
    s: State,
    Authenticated(ctx): Authenticated,
    BaseUrl(base): BaseUrl,
    Query(q): Query<RegionQuery>,
) -> ApiResult<Json<Value>> {
    s.authorize(&ctx, "identity:list_regions", &json!({}))?;
    let items: Vec<Value> = s
        .store
        .list_regions(q.parent_region_id.as_deref())
        .await?
        .iter()
        .map(|r| render_region(r, &base))
        .collect();
    Ok(Json(json!({"regions": items, "links": collection_links(&base, "regions")})))
}

async fn show_region(
    s: State,
    Authenticated(ctx): Authenticated,
    BaseUrl(base): BaseUrl,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    s.authorize(&ctx, "identity:get_region", &json!({}))?;
    Ok(Json(json!({"region": render_region(&load_region(&s, &id).await?, &base)})))
}

async fn new_region(
    s: &State,
    id: String,
    mut f: Fields,
    base: &str,
) -> ApiResult<(StatusCode, Json<Value>)> {
    stratus_core::input::check_name("id", &id, 255)?;
    let parent = f.opt_str("parent_region_id")?;
    if let Some(p) = &parent {
        load_region(s, p).await?;
    }
    let r = Region {
        id,
        description: f.opt_str("description")?.unwrap_or_default(),
        parent_region_id: parent,
        extra: f.rest(),
    };
    s.store.create_region(&r).await?;
    Ok((StatusCode::CREATED, Json(json!({"region": render_region(&r, base)}))))
}

async fn create_region(
    s: State,
    Authenticated(ctx): Authenticated,
    BaseUrl(base): BaseUrl,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    s.authorize(&ctx, "identity:create_region", &json!({}))?;
    let mut f = Fields::from_wrapped(body, "region")?;
    f.forbid(&["links"])?;
    let id = f.opt_str("id")?.unwrap_or_else(new_id);
    new_region(&s, id, f, &base).await
}

async fn put_region(
    s: State,
    Authenticated(ctx): Authenticated,
    BaseUrl(base): BaseUrl,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    s.authorize(&ctx, "identity:create_region", &json!({}))?;
    let mut f = Fields::from_wrapped(body, "region")?;
    f.forbid(&["links"])?;
    if let Some(body_id) = f.opt_str("id")? {
        if body_id != id {
            return Err(ApiError::bad_request("The region id in the body does not match the URL."));
        }
    }
    new_region(&s, id, f, &base).await
}

async fn update_region(
    s: State,
    Authenticated(ctx): Authenticated,
    BaseUrl(base): BaseUrl,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Json<Value>> {
    s.authorize(&ctx, "identity:update_region", &json!({}))?;
    let mut r = load_region(&s, &id).await?;
    let mut f = Fields::from_wrapped(body, "region")?;
    f.forbid(&["id", "links"])?;
    if let Some(d) = f.opt_str("description")? {
        r.description = d;
    }
    if f.contains("parent_region_id") {
        let parent = f.opt_str("parent_region_id")?;
        if let Some(p) = &parent {
            load_region(&s, p).await?;
            if p == &id || s.store.region_ancestors(p).await?.contains(&id) {
                return Err(ApiError::bad_request(format!(
                    "The specified parent region {p} would create a circular region hierarchy."
                )));
            }
        }
        r.parent_region_id = parent;
    }
    r.extra.extend(f.rest());
    s.store.update_region(&r).await?;
    Ok(Json(json!({"region": render_region(&r, &base)})))
}

async fn remove_region(
    s: State,
    Authenticated(ctx): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.authorize(&ctx, "identity:delete_region", &json!({}))?;
    load_region(&s, &id).await?;
    if s.store.region_in_use(&id).await? {
        return Err(ApiError::conflict(format!("Region {id} still has endpoints or child regions.")));
    }
    s.store.delete_region(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- services ----

fn render_service(sv: &Service, base: &str) -> Value {
    let v = json!({"id": sv.id, "type": sv.service_type, "name": sv.name, "description": sv.description,
                       "enabled": sv.enabled, "links": links(base, &format!("services/{}", sv.id))});
    with_extra(v, &sv.extra)
}

async fn load_service(s: &State, id: &str) -> ApiResult<Service> {
    s.store.get_service(id).await?.ok_or_else(|| ApiError::not_found_resource("service", id))
}

#[derive(Deserialize)]
struct ServiceQuery {
    name: Option<String>,
    #[serde(rename = "type")]
    service_type: Option<String>,
}

async fn list_services(
    s: State,
    Authenticated(ctx): Authenticated,
    BaseUrl(base): BaseUrl,
    Query(q): Query<ServiceQuery>,
) -> ApiResult<Json<Value>> {
    s.authorize(&ctx, "identity:list_services", &json!({}))?;
    let items: Vec<Value> = s
        .store
        .list_services(q.name.as_deref(), q.service_type.as_deref())
        .await?
        .iter()
        .map(|sv| render_service(sv, &base))
        .collect();
    Ok(Json(json!({"services": items, "links": collection_links(&base, "services")})))
}

async fn show_service(
    s: State,
    Authenticated(ctx): Authenticated,
    BaseUrl(base): BaseUrl,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    s.authorize(&ctx, "identity:get_service", &json!({}))?;
    Ok(Json(json!({"service": render_service(&load_service(&s, &id).await?, &base)})))
}

async fn create_service(
    s: State,
    Authenticated(ctx): Authenticated,
    BaseUrl(base): BaseUrl,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    s.authorize(&ctx, "identity:create_service", &json!({}))?;
    let mut f = Fields::from_wrapped(body, "service")?;
    f.forbid(&["id", "links"])?;
    let sv = Service {
        id: new_id(),
        service_type: f.req_name("type", 255)?,
        name: f.opt_name("name", 255)?,
        description: f.opt_str("description")?,
        enabled: f.opt_bool("enabled")?.unwrap_or(true),
        extra: f.rest(),
    };
    s.store.create_service(&sv).await?;
    Ok((StatusCode::CREATED, Json(json!({"service": render_service(&sv, &base)}))))
}

async fn update_service(
    s: State,
    Authenticated(ctx): Authenticated,
    BaseUrl(base): BaseUrl,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Json<Value>> {
    s.authorize(&ctx, "identity:update_service", &json!({}))?;
    let mut sv = load_service(&s, &id).await?;
    let mut f = Fields::from_wrapped(body, "service")?;
    f.forbid(&["id", "links"])?;
    if let Some(t) = f.opt_name("type", 255)? {
        sv.service_type = t;
    }
    if f.contains("name") {
        sv.name = f.opt_name("name", 255)?;
    }
    if f.contains("description") {
        sv.description = f.opt_str("description")?;
    }
    if let Some(e) = f.opt_bool("enabled")? {
        sv.enabled = e;
    }
    sv.extra.extend(f.rest());
    s.store.update_service(&sv).await?;
    Ok(Json(json!({"service": render_service(&sv, &base)})))
}

async fn remove_service(
    s: State,
    Authenticated(ctx): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.authorize(&ctx, "identity:delete_service", &json!({}))?;
    load_service(&s, &id).await?;
    s.store.delete_service(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- endpoints ----

fn render_endpoint(e: &Endpoint, base: &str) -> Value {
    let v = json!({"id": e.id, "interface": e.interface.as_str(), "region": e.region_id, "region_id": e.region_id,
                       "service_id": e.service_id, "url": e.url, "enabled": e.enabled,
                       "links": links(base, &format!("endpoints/{}", e.id))});
    with_extra(v, &e.extra)
}

async fn load_endpoint(s: &State, id: &str) -> ApiResult<Endpoint> {
    s.store.get_endpoint(id).await?.ok_or_else(|| ApiError::not_found_resource("endpoint", id))
}

fn parse_interface(v: &str) -> ApiResult<Interface> {
    Interface::parse(v).ok_or_else(|| {
        ApiError::bad_request(format!(
            "Invalid input for field 'interface': {v:?} is not one of public, internal, admin"
        ))
    })
}

fn check_url(url: &str) -> ApiResult<()> {
    let ok =
        (url.starts_with("http://") || url.starts_with("https://")) && url.len() > 8 && url.len() <= 1024;
    if !ok {
        return Err(ApiError::bad_request(format!(
            "Invalid input for field 'url': {url:?} is not an http(s) URL"
        )));
    }
    Ok(())
}

#[derive(Deserialize)]
struct EndpointQuery {
    service_id: Option<String>,
    interface: Option<String>,
    region_id: Option<String>,
}

async fn list_endpoints(
    s: State,
    Authenticated(ctx): Authenticated,
    BaseUrl(base): BaseUrl,
    Query(q): Query<EndpointQuery>,
) -> ApiResult<Json<Value>> {
    s.authorize(&ctx, "identity:list_endpoints", &json!({}))?;
    let items: Vec<Value> = s
        .store
        .list_endpoints(q.service_id.as_deref(), q.interface.as_deref(), q.region_id.as_deref())
        .await?
        .iter()
        .map(|e| render_endpoint(e, &base))
        .collect();
    Ok(Json(json!({"endpoints": items, "links": collection_links(&base, "endpoints")})))
}

async fn show_endpoint(
    s: State,
    Authenticated(ctx): Authenticated,
    BaseUrl(base): BaseUrl,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    s.authorize(&ctx, "identity:get_endpoint", &json!({}))?;
    Ok(Json(json!({"endpoint": render_endpoint(&load_endpoint(&s, &id).await?, &base)})))
}

async fn create_endpoint(
    s: State,
    Authenticated(ctx): Authenticated,
    BaseUrl(base): BaseUrl,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    s.authorize(&ctx, "identity:create_endpoint", &json!({}))?;
    let mut f = Fields::from_wrapped(body, "endpoint")?;
    f.forbid(&["id", "links"])?;
    let service_id = f.opt_str("service_id")?.ok_or_else(|| {
        ApiError::bad_request("Invalid input for field 'service_id': 'service_id' is a required property")
    })?;
    let interface = parse_interface(&f.opt_str("interface")?.ok_or_else(|| {
        ApiError::bad_request("Invalid input for field 'interface': 'interface' is a required property")
    })?)?;
    let url = f.opt_str("url")?.ok_or_else(|| {
        ApiError::bad_request("Invalid input for field 'url': 'url' is a required property")
    })?;
    check_url(&url)?;
    let region_id = match (f.opt_str("region_id")?, f.opt_str("region")?) {
        (Some(r), _) | (None, Some(r)) => Some(r),
        _ => None,
    };
    load_service(&s, &service_id)
        .await
        .map_err(|_| ApiError::bad_request(format!("Could not find service: {service_id}.")))?;
    if let Some(r) = &region_id {
        load_region(&s, r)
            .await
            .map_err(|_| ApiError::bad_request(format!("Could not find region: {r}.")))?;
    }
    let e = Endpoint {
        id: new_id(),
        service_id,
        region_id,
        interface,
        url,
        enabled: f.opt_bool("enabled")?.unwrap_or(true),
        extra: f.rest(),
    };
    s.store.create_endpoint(&e).await?;
    Ok((StatusCode::CREATED, Json(json!({"endpoint": render_endpoint(&e, &base)}))))
}

async fn update_endpoint(
    s: State,
    Authenticated(ctx): Authenticated,
    BaseUrl(base): BaseUrl,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Json<Value>> {
    s.authorize(&ctx, "identity:update_endpoint", &json!({}))?;
    let mut e = load_endpoint(&s, &id).await?;
    let mut f = Fields::from_wrapped(body, "endpoint")?;
    f.forbid(&["id", "links"])?;
    if let Some(sid) = f.opt_str("service_id")? {
        load_service(&s, &sid)
            .await
            .map_err(|_| ApiError::bad_request(format!("Could not find service: {sid}.")))?;
        e.service_id = sid;
    }
    if let Some(i) = f.opt_str("interface")? {
        e.interface = parse_interface(&i)?;
    }
    if let Some(u) = f.opt_str("url")? {
        check_url(&u)?;
        e.url = u;
    }
    let region = match (f.opt_str("region_id")?, f.opt_str("region")?) {
        (Some(r), _) | (None, Some(r)) => Some(r),
        _ => None,
    };
    if let Some(r) = region {
        load_region(&s, &r)
            .await
            .map_err(|_| ApiError::bad_request(format!("Could not find region: {r}.")))?;
        e.region_id = Some(r);
    }
    if let Some(en) = f.opt_bool("enabled")? {
        e.enabled = en;
    }
    e.extra.extend(f.rest());
    s.store.update_endpoint(&e).await?;
    Ok(Json(json!({"endpoint": render_endpoint(&e, &base)})))
}

async fn remove_endpoint(
    s: State,
    Authenticated(ctx): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.authorize(&ctx, "identity:delete_endpoint", &json!({}))?;
    load_endpoint(&s, &id).await?;
    s.store.delete_endpoint(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}
