//! `POST /reshaper` (1.30 and later): inventories and allocations moved in one step.

use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use serde_json::Value;
use stratus_core::auth::Authenticated;
use stratus_core::error::{ApiError, ApiResult};
use stratus_core::http::microversion::Version;
use stratus_core::http::Json;

use super::allocations::consumer_write;
use super::inventories::{check_capacity, read_inventory};
use super::{int, invalid, keys, no_content, object, State};
use crate::model::{is_rc_or_trait_name, is_uuid_like};

pub fn routes() -> Router<std::sync::Arc<crate::service::PlacementService>> {
    Router::new().route("/reshaper", post(reshape))
}

async fn reshape(
    s: State,
    Authenticated(ctx): Authenticated,
    v: Version,
    Json(body): Json<Value>,
) -> ApiResult<Response> {
    if !v.at_least(1, 30) {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "The resource could not be found."));
    }
    s.can(&ctx, "placement:reshaper:reshape")?;
    let body = object(body)?;
    keys(&body, &["inventories", "allocations"], &["inventories", "allocations"])?;
    let Value::Object(inv) = &body["inventories"] else {
        return Err(invalid("inventories is not of type 'object'"));
    };
    let mut inventories = Vec::new();
    for (uuid, part) in inv {
        if !is_uuid_like(uuid) {
            return Err(invalid(format!("Additional properties are not allowed ('{uuid}' was unexpected)")));
        }
        let Value::Object(part) = part else {
            return Err(invalid(format!("{part} is not of type 'object' ({uuid})")));
        };
        keys(
            part,
            &["resource_provider_generation", "inventories"],
            &["resource_provider_generation", "inventories"],
        )?;
        let generation = int(&part["resource_provider_generation"], "resource_provider_generation")?;
        let Value::Object(records) = &part["inventories"] else {
            return Err(invalid("inventories is not of type 'object'"));
        };
        let uuid = uuid.to_ascii_lowercase();
        let mut list = Vec::new();
        for (rc, record) in records {
            if !is_rc_or_trait_name(rc) {
                return Err(invalid(format!("'{rc}' does not match any of the regexes: '^[A-Z0-9_]+$'")));
            }
            let Value::Object(m) = record else {
                return Err(invalid(format!("{record} is not of type 'object' ({rc})")));
            };
            let i = read_inventory(rc, m, &["resource_provider_generation"], &["total"])?;
            check_capacity(&uuid, &i, v, "update")?;
            list.push(i);
        }
        inventories.push((uuid, generation, list));
    }
    let Value::Object(allocs) = &body["allocations"] else {
        return Err(invalid("allocations is not of type 'object'"));
    };
    let mut writes = Vec::new();
    for (consumer, part) in allocs {
        if !is_uuid_like(consumer) {
            return Err(invalid(format!(
                "Additional properties are not allowed ('{consumer}' was unexpected)"
            )));
        }
        let Value::Object(m) = part else {
            return Err(invalid(format!("{part} is not of type 'object' ({consumer})")));
        };
        writes.push(consumer_write(consumer.to_ascii_lowercase(), m, v, true)?);
    }
    s.reshape(&inventories, &writes).await?;
    Ok(no_content())
}
