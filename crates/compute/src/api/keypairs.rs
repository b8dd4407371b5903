//! `/os-keypairs` and `/os-keypairs/{name}`: a user's SSH key pairs (or x509
//! certificates), imported or generated here.
//!
//! Key pairs belong to a user; from 2.10 an admin may name another user with `user_id`.
//! Generating a key pair (no `public_key`) returns its private key once; from 2.92 only
//! imports are allowed.

use std::sync::Arc;

use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use chrono::Utc;
use serde_json::{json, Value};
use stratus_core::auth::{AuthContext, Authenticated};
use stratus_core::error::{ApiError, ApiResult};
use stratus_core::http::microversion::Version;
use stratus_core::http::{BaseUrl, Json as JsonBody};
use stratus_core::input::Fields;

use super::common::{self, invalid_field, no_more_fields, nova_time, QueryParams};
use super::State;
use crate::keys;
use crate::model::KeyPair;
use crate::ComputeService;

pub fn routes() -> Router<Arc<ComputeService>> {
    Router::new()
        .route("/os-keypairs", get(index).post(create))
        .route("/os-keypairs/{name}", get(show).delete(remove))
}

/// The user whose key pairs a call is about: the `user_id` query parameter from 2.10 (the
/// policy decides who may name another user), else the caller.
fn target_user(ctx: &AuthContext, q: &QueryParams, version: Version) -> String {
    match q.get("user_id") {
        Some(u) if version.at_least(2, 10) => u.to_string(),
        _ => ctx.user.id.clone(),
    }
}

fn user_target(user_id: &str) -> Value {
    json!({ "user_id": user_id })
}

fn not_found(name: &str, user_id: &str) -> ApiError {
    ApiError::not_found(format!("Keypair {name} not found for user {user_id}"))
}

fn render_brief(k: &KeyPair, version: Version) -> Value {
    let mut v = json!({"name": k.name, "public_key": k.public_key, "fingerprint": k.fingerprint});
    if version.at_least(2, 2) {
        v["type"] = json!(k.key_type);
    }
    json!({ "keypair": v })
}

async fn index(
    s: State,
    Authenticated(ctx): Authenticated,
    version: Version,
    BaseUrl(base): BaseUrl,
    q: QueryParams,
) -> ApiResult<Json<Value>> {
    q.only(version, &["user_id", "limit", "marker"])?;
    let user_id = target_user(&ctx, &q, version);
    s.authorize(&ctx, "os_compute_api:os-keypairs:index", &user_target(&user_id))?;
    let paged = version.at_least(2, 35);
    let (limit, marker) = if paged { q.limit_marker()? } else { (common::MAX_LIMIT, None) };
    let keypairs = s.store.keypairs(&user_id, paged.then_some(limit), marker.as_deref()).await?;
    let mut body = json!({"keypairs": keypairs.iter().map(|k| render_brief(k, version)).collect::<Vec<_>>()});
    if paged {
        let last = keypairs.last().map(|k| k.name.as_str());
        if let Some(links) = common::collection_links(&base, "os-keypairs", &q, keypairs.len(), last) {
            body["keypairs_links"] = links;
        }
    }
    Ok(Json(body))
}

async fn show(
    s: State,
    Authenticated(ctx): Authenticated,
    version: Version,
    Path(name): Path<String>,
    q: QueryParams,
) -> ApiResult<Json<Value>> {
    q.only(version, &["user_id"])?;
    let user_id = target_user(&ctx, &q, version);
    s.authorize(&ctx, "os_compute_api:os-keypairs:show", &user_target(&user_id))?;
    let k = s.store.keypair(&user_id, &name).await?.ok_or_else(|| not_found(&name, &user_id))?;
    let mut v = json!({
        "name": k.name,
        "public_key": k.public_key,
        "fingerprint": k.fingerprint,
        "user_id": k.user_id,
        "created_at": nova_time(k.created_at),
        "updated_at": null,
        "deleted": false,
        "deleted_at": null,
        "id": keys::display_id(&k),
    });
    if version.at_least(2, 2) {
        v["type"] = json!(k.key_type);
    }
    Ok(Json(json!({ "keypair": v })))
}

async fn remove(
    s: State,
    Authenticated(ctx): Authenticated,
    version: Version,
    Path(name): Path<String>,
    q: QueryParams,
) -> ApiResult<StatusCode> {
    q.only(version, &["user_id"])?;
    let user_id = target_user(&ctx, &q, version);
    s.authorize(&ctx, "os_compute_api:os-keypairs:delete", &user_target(&user_id))?;
    if !s.store.delete_keypair(&user_id, &name).await? {
        return Err(not_found(&name, &user_id));
    }
    Ok(if version.at_least(2, 2) { StatusCode::NO_CONTENT } else { StatusCode::ACCEPTED })
}

/// A key pair name: 1 to 255 of letters, digits, `_`, `-` and spaces (from 2.92 also `@`
/// and `.`), not starting or ending with a space.
fn check_keypair_name(name: &str, version: Version) -> ApiResult<()> {
    common::check_name("name", name, 255, &[])?;
    let extra: &[char] = if version.at_least(2, 92) { &['_', '-', ' ', '@', '.'] } else { &['_', '-', ' '] };
    if let Some(c) = name.chars().find(|c| !c.is_ascii_alphanumeric() && !extra.contains(c)) {
        let allowed = if version.at_least(2, 92) {
            "a-z, A-Z, 0-9, '_', '-', '@', '.' and spaces"
        } else {
            "a-z, A-Z, 0-9, '_', '-' and spaces"
        };
        return Err(invalid_field(
            "name",
            &format!("{c:?} is not allowed: key pair names may hold {allowed}."),
        ));
    }
    Ok(())
}

async fn create(
    s: State,
    Authenticated(ctx): Authenticated,
    version: Version,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let mut fields = Fields::from_wrapped(body, "keypair")?;
    let name = match fields.take("name") {
        Some(Value::String(n)) => n,
        Some(_) => return Err(invalid_field("name", "It must be a string.")),
        None => return Err(invalid_field("keypair", "'name' is a required property")),
    };
    check_keypair_name(&name, version)?;
    let key_type = if version.at_least(2, 2) {
        match fields.take("type") {
            None => "ssh".to_string(),
            Some(Value::String(t)) if keys::KEY_TYPES.contains(&t.as_str()) => t,
            Some(_) => return Err(invalid_field("type", "It must be one of 'ssh', 'x509'.")),
        }
    } else {
        "ssh".to_string()
    };
    let public_key = match fields.take("public_key") {
        None => None,
        Some(Value::String(k)) => Some(k),
        Some(_) => return Err(invalid_field("public_key", "It must be a string.")),
    };
    if public_key.is_none() && version.at_least(2, 92) {
        return Err(invalid_field("keypair", "'public_key' is a required property"));
    }
    let user_id = if version.at_least(2, 10) {
        match fields.take("user_id") {
            None => None,
            Some(Value::String(u)) => Some(u),
            Some(_) => return Err(invalid_field("user_id", "It must be a string.")),
        }
    } else {
        None
    };
    no_more_fields(&fields.rest())?;
    let user_id = user_id.unwrap_or_else(|| ctx.user.id.clone());
    s.authorize(&ctx, "os_compute_api:os-keypairs:create", &user_target(&user_id))?;

    let (public_key, fingerprint, private_key) = match public_key {
        Some(pk) => {
            let fp = keys::fingerprint(&key_type, &pk).map_err(ApiError::bad_request)?;
            (pk, fp, None)
        }
        None if key_type == "x509" => {
            return Err(ApiError::bad_request(
                "Generating x509 key pairs is not supported: import a certificate with public_key.",
            ))
        }
        None => {
            let g = tokio::task::spawn_blocking(keys::generate_rsa)
                .await
                .map_err(ApiError::internal)?
                .map_err(ApiError::internal)?;
            (g.public_key, g.fingerprint, Some(g.private_key))
        }
    };
    let keypair = KeyPair {
        user_id,
        name: name.trim().to_string(),
        fingerprint,
        public_key,
        key_type,
        created_at: Utc::now(),
    };
    {
        let _quota = s.quota_lock.lock().await;
        crate::quota::check_keypairs(&s, ctx.project_id().unwrap_or_default(), &keypair.user_id).await?;
        s.store.create_keypair(&keypair).await?;
    }

    let mut v = json!({
        "name": keypair.name,
        "public_key": keypair.public_key,
        "fingerprint": keypair.fingerprint,
        "user_id": keypair.user_id,
    });
    if let Some(pk) = private_key {
        v["private_key"] = json!(pk);
    }
    if version.at_least(2, 2) {
        v["type"] = json!(keypair.key_type);
    }
    let status = if version.at_least(2, 2) { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(json!({ "keypair": v }))))
}
