//! The image service: a Glance v2-compatible API with real image storage.
//!
//! `service` holds the rules (visibility, the upload/stage/import flows, quotas); `backend` is
//! where data lives; `format` inspects disk images; `store` is the only SQL; `api` is HTTP.

pub mod api;
pub mod backend;
pub mod format;
pub mod model;
pub mod policy_defaults;
pub mod service;
pub mod store;

pub use service::ImageService;
