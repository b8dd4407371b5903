//! The placement service: an OpenStack Placement-compatible API (microversions 1.0–1.39) —
//! resource providers and their inventories, traits and aggregates, allocations of consumers,
//! usages, and the allocation candidates nova's scheduler asks for.
//!
//! `service` holds the rules and every write (one transaction each); `snapshot` is the
//! in-memory provider graph that `candidates` searches; `query` reads placement's
//! query-string languages; `store` is the only SQL; `api` is HTTP; `client` is the typed REST
//! client other services use.

pub mod api;
pub mod candidates;
pub mod client;
pub mod model;
pub mod policy_defaults;
pub mod query;
pub mod service;
pub mod snapshot;
pub mod standard;
pub mod store;

pub use service::PlacementService;
