//! The placement schema: portable SQL for SQLite and MariaDB/MySQL.
//!
//! Resource classes and traits are referred to by name (the standard ones are constants, only
//! custom ones have rows). `inventories.used` is the sum of the allocations against the
//! inventory, written in the same transaction as they are. `placement_state.version` is bumped
//! first thing in every write transaction: it orders writers (across processes, too) and tells
//! readers whether their in-memory view is current; `placement_changes` lists what each version
//! touched (a provider uuid, `*` for the custom classes and traits, `-` for nothing), so that a
//! view behind by a few writes of another process catches up without reading everything.

use stratus_core::db::Migration;

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "placement",
        sql: r#"
CREATE TABLE resource_providers (
    uuid VARCHAR(36) PRIMARY KEY,
    name VARCHAR(200) NOT NULL,
    generation BIGINT NOT NULL,
    parent_uuid VARCHAR(36),
    root_uuid VARCHAR(36) NOT NULL,
    created_at VARCHAR(40) NOT NULL,
    updated_at VARCHAR(40) NOT NULL
);
CREATE UNIQUE INDEX resource_providers_name ON resource_providers (name);
CREATE INDEX resource_providers_root ON resource_providers (root_uuid);
CREATE INDEX resource_providers_parent ON resource_providers (parent_uuid);
CREATE INDEX resource_providers_created ON resource_providers (created_at, uuid);
CREATE TABLE inventories (
    provider_uuid VARCHAR(36) NOT NULL,
    resource_class VARCHAR(255) NOT NULL,
    total BIGINT NOT NULL,
    reserved BIGINT NOT NULL,
    min_unit BIGINT NOT NULL,
    max_unit BIGINT NOT NULL,
    step_size BIGINT NOT NULL,
    allocation_ratio DOUBLE NOT NULL,
    used BIGINT NOT NULL,
    created_at VARCHAR(40) NOT NULL,
    updated_at VARCHAR(40) NOT NULL,
    PRIMARY KEY (provider_uuid, resource_class)
);
CREATE INDEX inventories_class ON inventories (resource_class);
CREATE TABLE resource_classes (
    name VARCHAR(255) PRIMARY KEY,
    created_at VARCHAR(40) NOT NULL
);
CREATE TABLE traits (
    name VARCHAR(255) PRIMARY KEY,
    created_at VARCHAR(40) NOT NULL
);
CREATE TABLE provider_traits (
    provider_uuid VARCHAR(36) NOT NULL,
    trait VARCHAR(255) NOT NULL,
    PRIMARY KEY (provider_uuid, trait)
);
CREATE INDEX provider_traits_trait ON provider_traits (trait);
CREATE TABLE provider_aggregates (
    provider_uuid VARCHAR(36) NOT NULL,
    aggregate_uuid VARCHAR(36) NOT NULL,
    PRIMARY KEY (provider_uuid, aggregate_uuid)
);
CREATE INDEX provider_aggregates_aggregate ON provider_aggregates (aggregate_uuid);
CREATE TABLE consumers (
    uuid VARCHAR(36) PRIMARY KEY,
    project_id VARCHAR(255) NOT NULL,
    user_id VARCHAR(255) NOT NULL,
    consumer_type VARCHAR(255),
    generation BIGINT NOT NULL,
    created_at VARCHAR(40) NOT NULL,
    updated_at VARCHAR(40) NOT NULL
);
CREATE INDEX consumers_project ON consumers (project_id, user_id);
CREATE TABLE allocations (
    consumer_uuid VARCHAR(36) NOT NULL,
    provider_uuid VARCHAR(36) NOT NULL,
    resource_class VARCHAR(255) NOT NULL,
    used BIGINT NOT NULL,
    created_at VARCHAR(40) NOT NULL,
    PRIMARY KEY (consumer_uuid, provider_uuid, resource_class)
);
CREATE INDEX allocations_provider ON allocations (provider_uuid, resource_class);
CREATE TABLE placement_state (
    id BIGINT PRIMARY KEY,
    version BIGINT NOT NULL
);
INSERT INTO placement_state (id, version) VALUES (1, 0)
"#,
    },
    Migration {
        version: 2,
        name: "placement change log",
        sql: r#"
CREATE TABLE placement_changes (
    version BIGINT NOT NULL,
    provider_uuid VARCHAR(36) NOT NULL,
    PRIMARY KEY (version, provider_uuid)
)
"#,
    },
];
