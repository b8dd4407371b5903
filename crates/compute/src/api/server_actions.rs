//! `POST /servers/{id}/action`: one key names the action (`os-stop`, `reboot`, `resize` …).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};
use stratus_compute_agent::rpc::AgentRequest;
use stratus_core::auth::{AuthContext, Authenticated};
use stratus_core::error::{ApiError, ApiResult};
use stratus_core::http::microversion::Version;
use stratus_core::http::{BaseUrl, Json as JsonBody, RequestId};

use super::servers::{check_unlocked, render_one, requester, target, user_token, visible};
use super::State;
use crate::model::{Action, Instance};
use crate::scheduler::RequestSpec;
use crate::store::InstanceUpdate;
use crate::ComputeService;

pub fn routes() -> Router<Arc<ComputeService>> {
    Router::new().route("/servers/{id}/action", post(action))
}

fn accepted() -> Response {
    StatusCode::ACCEPTED.into_response()
}

fn spec_for(i: &Instance, flavor: crate::model::Flavor) -> RequestSpec {
    RequestSpec {
        instance_uuid: i.uuid.clone(),
        project_id: i.project_id.clone(),
        flavor,
        image_properties: i.image.as_ref().map(|m| m.properties.clone()).unwrap_or_default(),
        availability_zone: i.requested_availability_zone.clone(),
        force_host: None,
        ignore_hosts: vec![],
        group: None,
    }
}

#[allow(clippy::too_many_arguments)]
async fn action(
    service: State,
    Authenticated(ctx): Authenticated,
    version: Version,
    axum::extract::Extension(rid): axum::extract::Extension<RequestId>,
    BaseUrl(base): BaseUrl,
    headers: HeaderMap,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Response> {
    let service = service.0;
    let obj = body
        .as_object()
        .filter(|o| o.len() == 1)
        .ok_or_else(|| ApiError::bad_request("The action body must have exactly one key: the action."))?;
    let (name, args) = obj.iter().next().expect("one key");
    let i = visible(&service, &ctx, &id).await?;
    let who = requester(&ctx, &rid);
    let t = target(&i);
    let simple = |rule: &'static str, action: Action| (rule, action);
    let plain = match name.as_str() {
        "os-stop" => Some(simple("os_compute_api:servers:stop", Action::Stop)),
        "os-start" => Some(simple("os_compute_api:servers:start", Action::Start)),
        "pause" => Some(simple("os_compute_api:os-pause-server:pause", Action::Pause)),
        "unpause" => Some(simple("os_compute_api:os-pause-server:unpause", Action::Unpause)),
        "suspend" => Some(simple("os_compute_api:os-suspend-server:suspend", Action::Suspend)),
        "resume" => Some(simple("os_compute_api:os-suspend-server:resume", Action::Resume)),
        "unrescue" => Some(simple("os_compute_api:os-rescue", Action::Unrescue)),
        _ => None,
    };
    if let Some((rule, action)) = plain {
        service.authorize(&ctx, rule, &t)?;
        check_unlocked(&service, &ctx, &i)?;
        service.start_simple(&i, action, &who).await?;
        return Ok(accepted());
    }
    match name.as_str() {
        "reboot" => {
            service.authorize(&ctx, "os_compute_api:servers:reboot", &t)?;
            check_unlocked(&service, &ctx, &i)?;
            let kind = args.get("type").and_then(Value::as_str).unwrap_or("");
            let action = match kind.to_ascii_uppercase().as_str() {
                "SOFT" => Action::Reboot,
                "HARD" => Action::RebootHard,
                _ => {
                    return Err(ApiError::bad_request(
                        "Invalid input for field/attribute type: it must be SOFT or HARD",
                    ))
                }
            };
            service.start_simple(&i, action, &who).await?;
            Ok(accepted())
        }
        "rescue" => {
            service.authorize(&ctx, "os_compute_api:os-rescue", &t)?;
            check_unlocked(&service, &ctx, &i)?;
            service.start_simple(&i, Action::Rescue, &who).await?;
            let pass = args
                .get("adminPass")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string()[..12].to_string());
            Ok((StatusCode::OK, axum::Json(json!({"adminPass": pass}))).into_response())
        }
        "lock" => {
            service.authorize(&ctx, "os_compute_api:os-lock-server:lock", &t)?;
            let reason = if version.at_least(2, 73) {
                args.get("locked_reason").and_then(Value::as_str).map(str::to_string)
            } else {
                None
            };
            if reason.as_ref().is_some_and(|r| r.chars().count() > 255) {
                return Err(ApiError::bad_request("locked_reason is longer than 255 characters"));
            }
            let by = if service.is_admin(&ctx) && ctx.project_id() != Some(i.project_id.as_str()) {
                "admin"
            } else {
                "owner"
            };
            let u = InstanceUpdate { locked: Some((true, Some(by.into()), reason)), ..Default::default() };
            service.store.update_instance(&i.uuid, &Default::default(), &u).await?;
            service.record_action(&i.uuid, "lock", &who).await;
            Ok(accepted())
        }
        "unlock" => {
            service.authorize(&ctx, "os_compute_api:os-lock-server:unlock", &t)?;
            if i.locked_by.as_deref() == Some("admin") && !service.is_admin(&ctx) {
                return Err(ApiError::forbidden(
                    "The server was locked by an admin; only an admin may unlock it.",
                ));
            }
            let u = InstanceUpdate { locked: Some((false, None, None)), ..Default::default() };
            service.store.update_instance(&i.uuid, &Default::default(), &u).await?;
            service.record_action(&i.uuid, "unlock", &who).await;
            Ok(accepted())
        }
        "resize" => {
            service.authorize(&ctx, "os_compute_api:servers:resize", &t)?;
            check_unlocked(&service, &ctx, &i)?;
            let flavor_ref = args
                .get("flavorRef")
                .and_then(|v| v.as_str().map(str::to_string).or_else(|| v.as_i64().map(|n| n.to_string())))
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "Invalid input for field/attribute resize. 'flavorRef' is a required property",
                    )
                })?;
            let flavor =
                service.store.flavor_by_flavorid(&flavor_ref).await?.filter(|f| !f.disabled).ok_or_else(
                    || ApiError::bad_request(format!("Flavor {flavor_ref} could not be found.")),
                )?;
            if flavor.flavorid == i.flavor.flavorid {
                return Err(ApiError::bad_request("When resizing, instances must change flavor!"));
            }
            if flavor.root_gb < i.flavor.root_gb {
                return Err(ApiError::bad_request("Resizing to a smaller disk is not possible."));
            }
            let (dc, dr) = (
                flavor.vcpus as i64 - i.flavor.vcpus as i64,
                flavor.memory_mb as i64 - i.flavor.memory_mb as i64,
            );
            {
                let _guard = service.quota_lock.lock().await;
                crate::quota::check_servers(&service, &i.project_id, 0, dc.max(0), dr.max(0)).await?;
            }
            let spec = spec_for(&i, flavor.clone());
            service.start_migration(&i, Some(flavor), spec, &who).await?;
            Ok(accepted())
        }
        "migrate" => {
            service.authorize(&ctx, "os_compute_api:os-migrate-server:migrate", &t)?;
            let mut spec = spec_for(&i, i.flavor.clone());
            if let Some(h) = args.get("host").and_then(Value::as_str) {
                if !version.at_least(2, 56) {
                    return Err(ApiError::bad_request(
                        "Choosing the host of a migration needs microversion 2.56",
                    ));
                }
                service.authorize(&ctx, "os_compute_api:os-migrate-server:migrate:host", &t)?;
                if service.store.service_by_host(h, "nova-compute").await?.is_none() {
                    return Err(ApiError::bad_request(format!("Compute host {h} could not be found.")));
                }
                spec.force_host = Some(h.to_string());
            }
            service.start_migration(&i, None, spec, &who).await?;
            Ok(accepted())
        }
        "confirmResize" => {
            service.authorize(&ctx, "os_compute_api:servers:confirm_resize", &t)?;
            check_unlocked(&service, &ctx, &i)?;
            service.start_confirm_resize(&i, Some(&who)).await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        "revertResize" => {
            service.authorize(&ctx, "os_compute_api:servers:revert_resize", &t)?;
            check_unlocked(&service, &ctx, &i)?;
            service.start_revert_resize(&i, &who).await?;
            Ok(accepted())
        }
        "rebuild" => {
            service.authorize(&ctx, "os_compute_api:servers:rebuild", &t)?;
            check_unlocked(&service, &ctx, &i)?;
            rebuild(&service, &ctx, version, &base, &headers, &i, args, &who).await
        }
        "createImage" => {
            service.authorize(&ctx, "os_compute_api:servers:create_image", &t)?;
            let name = args.get("name").and_then(Value::as_str).filter(|n| !n.trim().is_empty()).ok_or_else(
                || {
                    ApiError::bad_request(
                        "Invalid input for field/attribute createImage. 'name' is a required property",
                    )
                },
            )?;
            let metadata: BTreeMap<String, String> = match args.get("metadata") {
                Some(m) => serde_json::from_value(m.clone())
                    .map_err(|_| ApiError::bad_request("metadata must map strings to strings"))?,
                None => BTreeMap::new(),
            };
            if let Some(refusal) = Action::CreateImage.refusal(&i.uuid, i.vm_state, i.task_state) {
                return Err(ApiError::conflict(refusal));
            }
            let image_id = service
                .create_snapshot_image(&user_token(&headers), name, i.image.as_ref(), &i.uuid, &metadata)
                .await?;
            if let Err(e) = service.start_snapshot(&i, &image_id, &who).await {
                service.delete_image(&image_id).await;
                return Err(e);
            }
            if version.at_least(2, 45) {
                Ok((StatusCode::ACCEPTED, axum::Json(json!({"image_id": image_id}))).into_response())
            } else {
                let mut r = accepted();
                if let Ok(v) =
                    axum::http::HeaderValue::from_str(&format!("{}/v2/images/{image_id}", service.image_url))
                {
                    r.headers_mut().insert(axum::http::header::LOCATION, v);
                }
                Ok(r)
            }
        }
        "shelve" => {
            service.authorize(&ctx, "os_compute_api:os-shelve:shelve", &t)?;
            check_unlocked(&service, &ctx, &i)?;
            if let Some(refusal) = Action::Shelve.refusal(&i.uuid, i.vm_state, i.task_state) {
                return Err(ApiError::conflict(refusal));
            }
            let name = format!("{}-shelved", i.display_name);
            let image_id = service
                .create_snapshot_image(
                    &user_token(&headers),
                    &name,
                    i.image.as_ref(),
                    &i.uuid,
                    &BTreeMap::new(),
                )
                .await?;
            if let Err(e) = service.start_shelve(&i, &image_id, &who).await {
                service.delete_image(&image_id).await;
                return Err(e);
            }
            Ok(accepted())
        }
        "unshelve" => {
            service.authorize(&ctx, "os_compute_api:os-shelve:unshelve", &t)?;
            check_unlocked(&service, &ctx, &i)?;
            let mut spec = spec_for(&i, i.flavor.clone());
            if let Some(z) = args.as_object().and_then(|o| o.get("availability_zone")).and_then(Value::as_str)
            {
                spec.availability_zone = Some(z.to_string());
            }
            service.start_unshelve(&i, spec, &who).await?;
            Ok(accepted())
        }
        "forceDelete" => {
            service.authorize(&ctx, "os_compute_api:os-deferred-delete:force", &t)?;
            check_unlocked(&service, &ctx, &i)?;
            service.start_delete(&i, &who).await?;
            Ok(accepted())
        }
        "os-getConsoleOutput" => {
            service.authorize(&ctx, "os_compute_api:os-console-output", &t)?;
            let host = i
                .host
                .clone()
                .ok_or_else(|| ApiError::conflict(format!("Instance {} is not ready", i.uuid)))?;
            let length = match args.get("length") {
                None | Some(Value::Null) => None,
                Some(v) => Some(
                    v.as_i64()
                        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                        .filter(|n| *n >= -1)
                        .ok_or_else(|| ApiError::bad_request("length must be an integer"))?,
                ),
            };
            let length = length.filter(|n| *n >= 0).map(|n| n as u32);
            let out = service
                .call_agent(&host, AgentRequest::ConsoleOutput { uuid: i.uuid.clone(), length })
                .await
                .map_err(|e| ApiError::conflict(format!("Console output is not available: {e}")))?;
            Ok(axum::Json(json!({"output": out.as_str().unwrap_or_default()})).into_response())
        }
        other => Err(ApiError::bad_request(format!("There is no such action: {other}"))),
    }
}

#[allow(clippy::too_many_arguments)]
async fn rebuild(
    service: &Arc<ComputeService>,
    ctx: &AuthContext,
    version: Version,
    base: &str,
    headers: &HeaderMap,
    i: &Instance,
    args: &Value,
    who: &crate::conductor::Requester,
) -> ApiResult<Response> {
    let image_ref = args.get("imageRef").and_then(Value::as_str).ok_or_else(|| {
        ApiError::bad_request("Invalid input for field/attribute rebuild. 'imageRef' is a required property")
    })?;
    let image_id = image_ref.rsplit('/').next().unwrap_or(image_ref);
    let image = service.image_for(ctx, &user_token(headers), image_id).await?;
    if image.status != "active" {
        return Err(ApiError::bad_request(format!("Image {image_id} is not active.")));
    }
    if image.min_ram > i.flavor.memory_mb {
        return Err(ApiError::bad_request("Flavor's memory is too small for requested image."));
    }
    let mut changes = InstanceUpdate::default();
    if let Some(n) = args.get("name").and_then(Value::as_str) {
        stratus_core::input::check_name("name", n, 255)?;
        changes.display_name = Some(n.to_string());
    }
    if let Some(m) = args.get("metadata") {
        let m: BTreeMap<String, String> = serde_json::from_value(m.clone())
            .map_err(|_| ApiError::bad_request("metadata must map strings to strings"))?;
        changes.metadata = Some(m);
    }
    if version.at_least(2, 19) {
        if let Some(d) = args.get("description") {
            changes.description = Some(d.as_str().map(str::to_string));
        }
    }
    let rebuilt = service.start_rebuild(i, image.spec, changes, who).await?;
    // Before 2.75 the answer also carries a new admin password.
    let admin_pass =
        (!version.at_least(2, 75)).then(|| uuid::Uuid::new_v4().simple().to_string()[..12].to_string());
    let mut resp = render_one(service, ctx, version, base, &rebuilt, admin_pass).await?;
    *resp.status_mut() = StatusCode::ACCEPTED;
    Ok(resp)
}
