//! Swift-compatible object storage: accounts, containers and objects, with object data on
//! durable local disks in swift's hashed layout and listings in SQLite.

pub mod access;
pub mod acl;
pub mod api;
pub mod bulk;
pub mod constraints;
pub mod cors;
pub mod disk;
pub mod error;
pub mod large;
pub mod listing;
pub mod ring;
pub mod service;
pub mod tempurl;
pub mod timestamp;
pub mod versioning;

pub use service::ObjectStorage;
