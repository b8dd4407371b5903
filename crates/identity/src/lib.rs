//! The identity service: a Keystone v3-compatible API.
//!
//! `service` holds the service object; `tokens` issues and validates tokens; `access` works
//! out effective roles; `store` is the only code that touches the identity database; `api`
//! is HTTP only.

pub mod access;
pub mod api;
pub mod bootstrap;
pub mod model;
pub mod password;
pub mod policy_defaults;
mod policy_glue;
pub mod service;
pub mod store;
pub mod tokens;

pub use service::Identity;
