//! The compute HTTP API (nova v2.1 with microversions): one file per resource, named after
//! its URL. Handlers parse, authorize, call the service, render.

mod aggregates;
mod availability_zones;
pub(crate) mod common;
mod flavors;
mod hypervisors;
mod instance_actions;
mod keypairs;
mod limits;
mod migrations;
mod quota_classes;
mod quotas;
mod server_actions;
mod server_groups;
mod server_view;
mod servers;
mod services;
mod versions;

use std::sync::Arc;

use axum::{Extension, Router};
use stratus_core::auth::SharedResolver;
use stratus_core::error::ErrorStyle;
use stratus_core::http::microversion::{self, Version, Versions};

use crate::ComputeService;

pub type State = axum::extract::State<Arc<ComputeService>>;

/// The microversions this API implements.
pub const VERSIONS: Versions = Versions {
    service_type: "compute",
    legacy_header: Some("x-openstack-nova-api-version"),
    min: Version::new(2, 1),
    max: Version::new(2, 96),
};

/// The compute API, served under `/v2.1` (the catalog URL), discovery at `/`.
pub fn router(service: Arc<ComputeService>, resolver: SharedResolver) -> Router {
    let max_body = service.config.http.max_body_bytes;
    let api = Router::new()
        .merge(servers::routes())
        .merge(server_actions::routes())
        .merge(instance_actions::routes())
        .merge(flavors::routes())
        .merge(keypairs::routes())
        .merge(services::routes())
        .merge(hypervisors::routes())
        .merge(availability_zones::routes())
        .merge(aggregates::routes())
        .merge(quotas::routes())
        .merge(quota_classes::routes())
        .merge(limits::routes())
        .merge(migrations::routes())
        .merge(server_groups::routes())
        .merge(versions::v21_routes())
        .layer(axum::middleware::from_fn_with_state(VERSIONS, microversion::layer));
    let routes = Router::new()
        .nest("/v2.1", api)
        .merge(versions::root_routes())
        .with_state(service)
        .layer(Extension(resolver));
    stratus_core::http::finish(routes, "compute", ErrorStyle::Compute, max_body)
}
