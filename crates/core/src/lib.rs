//! The shared runtime of every Stratus service.
//!
//! Nothing in here knows about a particular service: each service crate brings its own routes,
//! tables and policy defaults and uses these pieces to serve them.

pub mod auth;
pub mod bus;
pub mod bus_amqp;
pub mod config;
pub mod db;
pub mod error;
pub mod http;
pub mod input;
pub mod policy;
pub mod service_auth;
pub mod token;
