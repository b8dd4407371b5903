//! The compute schema: portable SQL for SQLite and MariaDB/MySQL.

use stratus_core::db::Migration;

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "compute",
        sql: r#"
CREATE TABLE instances (
    uuid VARCHAR(36) PRIMARY KEY,
    display_name VARCHAR(255) NOT NULL,
    hostname VARCHAR(255) NOT NULL,
    description TEXT,
    project_id VARCHAR(64) NOT NULL,
    user_id VARCHAR(64) NOT NULL,
    host VARCHAR(255),
    node VARCHAR(255),
    availability_zone VARCHAR(255),
    requested_availability_zone VARCHAR(255),
    flavor TEXT NOT NULL,
    old_flavor TEXT,
    new_flavor TEXT,
    vcpus BIGINT NOT NULL,
    memory_mb BIGINT NOT NULL,
    root_gb BIGINT NOT NULL,
    image_ref VARCHAR(64),
    image TEXT,
    key_name VARCHAR(255),
    key_data TEXT,
    user_data TEXT,
    metadata TEXT NOT NULL,
    tags TEXT NOT NULL,
    vm_state VARCHAR(32) NOT NULL,
    task_state VARCHAR(64),
    power_state BIGINT NOT NULL,
    locked BIGINT NOT NULL,
    locked_by VARCHAR(16),
    locked_reason TEXT,
    access_ip_v4 VARCHAR(64),
    access_ip_v6 VARCHAR(64),
    config_drive VARCHAR(16),
    progress BIGINT NOT NULL,
    launch_index BIGINT NOT NULL,
    reservation_id VARCHAR(32) NOT NULL,
    server_group VARCHAR(36),
    scheduler_hints TEXT NOT NULL,
    launched_at VARCHAR(40),
    terminated_at VARCHAR(40),
    created_at VARCHAR(40) NOT NULL,
    updated_at VARCHAR(40) NOT NULL,
    deleted_at VARCHAR(40),
    deleted BIGINT NOT NULL
);
CREATE INDEX instances_project ON instances (project_id, deleted);
CREATE INDEX instances_host ON instances (host, deleted);
CREATE INDEX instances_created ON instances (created_at, uuid);
CREATE INDEX instances_updated ON instances (updated_at);

CREATE TABLE instance_faults (
    instance_uuid VARCHAR(36) NOT NULL,
    code BIGINT NOT NULL,
    message TEXT NOT NULL,
    details TEXT,
    host VARCHAR(255),
    created_at VARCHAR(40) NOT NULL
);
CREATE INDEX instance_faults_instance ON instance_faults (instance_uuid);

CREATE TABLE instance_actions (
    id VARCHAR(36) PRIMARY KEY,
    request_id VARCHAR(64) NOT NULL,
    instance_uuid VARCHAR(36) NOT NULL,
    action VARCHAR(64) NOT NULL,
    user_id VARCHAR(64),
    project_id VARCHAR(64),
    message TEXT,
    start_time VARCHAR(40) NOT NULL,
    finish_time VARCHAR(40),
    updated_at VARCHAR(40) NOT NULL
);
CREATE INDEX instance_actions_instance ON instance_actions (instance_uuid, start_time);

CREATE TABLE instance_action_events (
    action_id VARCHAR(36) NOT NULL,
    event VARCHAR(255) NOT NULL,
    host VARCHAR(255),
    result VARCHAR(32),
    traceback TEXT,
    details TEXT,
    start_time VARCHAR(40) NOT NULL,
    finish_time VARCHAR(40)
);
CREATE INDEX instance_action_events_action ON instance_action_events (action_id);

CREATE TABLE migrations (
    id BIGINT PRIMARY KEY,
    uuid VARCHAR(36) NOT NULL,
    instance_uuid VARCHAR(36) NOT NULL,
    migration_type VARCHAR(16) NOT NULL,
    source_compute VARCHAR(255),
    dest_compute VARCHAR(255),
    source_node VARCHAR(255),
    dest_node VARCHAR(255),
    old_flavor_id VARCHAR(255),
    new_flavor_id VARCHAR(255),
    status VARCHAR(32) NOT NULL,
    user_id VARCHAR(64),
    project_id VARCHAR(64),
    created_at VARCHAR(40) NOT NULL,
    updated_at VARCHAR(40) NOT NULL
);
CREATE INDEX migrations_instance ON migrations (instance_uuid);

CREATE TABLE services (
    id BIGINT PRIMARY KEY,
    uuid VARCHAR(36) NOT NULL,
    host VARCHAR(255) NOT NULL,
    service_binary VARCHAR(64) NOT NULL,
    topic VARCHAR(64) NOT NULL,
    availability_zone VARCHAR(255) NOT NULL,
    disabled BIGINT NOT NULL,
    disabled_reason TEXT,
    forced_down BIGINT NOT NULL,
    report_count BIGINT NOT NULL,
    last_seen_up VARCHAR(40),
    created_at VARCHAR(40) NOT NULL,
    updated_at VARCHAR(40) NOT NULL,
    UNIQUE (host, service_binary)
);

CREATE TABLE compute_nodes (
    id BIGINT PRIMARY KEY,
    uuid VARCHAR(36) NOT NULL UNIQUE,
    host VARCHAR(255) NOT NULL,
    hypervisor_hostname VARCHAR(255) NOT NULL,
    hypervisor_type VARCHAR(64) NOT NULL,
    hypervisor_version BIGINT NOT NULL,
    vcpus BIGINT NOT NULL,
    memory_mb BIGINT NOT NULL,
    local_gb BIGINT NOT NULL,
    cpu_arch VARCHAR(32) NOT NULL,
    vm_modes VARCHAR(255) NOT NULL,
    host_ip VARCHAR(64) NOT NULL,
    created_at VARCHAR(40) NOT NULL,
    updated_at VARCHAR(40) NOT NULL
);

CREATE TABLE flavors (
    id BIGINT PRIMARY KEY,
    flavorid VARCHAR(255) NOT NULL UNIQUE,
    name VARCHAR(255) NOT NULL UNIQUE,
    vcpus BIGINT NOT NULL,
    memory_mb BIGINT NOT NULL,
    root_gb BIGINT NOT NULL,
    ephemeral_gb BIGINT NOT NULL,
    swap BIGINT NOT NULL,
    rxtx_factor DOUBLE PRECISION NOT NULL,
    is_public BIGINT NOT NULL,
    disabled BIGINT NOT NULL,
    description TEXT,
    created_at VARCHAR(40) NOT NULL,
    updated_at VARCHAR(40) NOT NULL
);

CREATE TABLE flavor_extra_specs (
    flavor_id BIGINT NOT NULL,
    spec_key VARCHAR(255) NOT NULL,
    spec_value TEXT NOT NULL,
    PRIMARY KEY (flavor_id, spec_key)
);

CREATE TABLE flavor_projects (
    flavor_id BIGINT NOT NULL,
    project_id VARCHAR(64) NOT NULL,
    PRIMARY KEY (flavor_id, project_id)
);

CREATE TABLE key_pairs (
    user_id VARCHAR(64) NOT NULL,
    name VARCHAR(255) NOT NULL,
    fingerprint VARCHAR(255) NOT NULL,
    public_key TEXT NOT NULL,
    key_type VARCHAR(16) NOT NULL,
    created_at VARCHAR(40) NOT NULL,
    PRIMARY KEY (user_id, name)
);

CREATE TABLE quotas (
    project_id VARCHAR(64) NOT NULL,
    resource VARCHAR(64) NOT NULL,
    hard_limit BIGINT NOT NULL,
    PRIMARY KEY (project_id, resource)
);

CREATE TABLE aggregates (
    id BIGINT PRIMARY KEY,
    uuid VARCHAR(36) NOT NULL UNIQUE,
    name VARCHAR(255) NOT NULL,
    created_at VARCHAR(40) NOT NULL,
    updated_at VARCHAR(40) NOT NULL
);

CREATE TABLE aggregate_hosts (
    aggregate_id BIGINT NOT NULL,
    host VARCHAR(255) NOT NULL,
    PRIMARY KEY (aggregate_id, host)
);

CREATE TABLE aggregate_metadata (
    aggregate_id BIGINT NOT NULL,
    meta_key VARCHAR(255) NOT NULL,
    meta_value TEXT NOT NULL,
    PRIMARY KEY (aggregate_id, meta_key)
);

CREATE TABLE server_groups (
    uuid VARCHAR(36) PRIMARY KEY,
    name VARCHAR(255) NOT NULL,
    project_id VARCHAR(64) NOT NULL,
    user_id VARCHAR(64) NOT NULL,
    policy VARCHAR(64) NOT NULL,
    rules TEXT NOT NULL,
    created_at VARCHAR(40) NOT NULL
);

CREATE TABLE server_group_members (
    group_uuid VARCHAR(36) NOT NULL,
    instance_uuid VARCHAR(36) NOT NULL,
    PRIMARY KEY (group_uuid, instance_uuid)
);
"#,
    },
    Migration {
        version: 2,
        name: "instance system metadata",
        sql: r#"
CREATE TABLE instance_system_metadata (
    instance_uuid VARCHAR(36) NOT NULL,
    meta_key VARCHAR(255) NOT NULL,
    meta_value TEXT,
    PRIMARY KEY (instance_uuid, meta_key)
);
"#,
    },
    Migration {
        version: 3,
        name: "instance usage index",
        // A project's usage (quota checks, limits) read from the index alone.
        sql: r#"
CREATE INDEX instances_usage ON instances (project_id, deleted, vcpus, memory_mb);
"#,
    },
    Migration {
        version: 4,
        name: "quota classes",
        sql: r#"
CREATE TABLE quota_classes (
    class_name VARCHAR(255) NOT NULL,
    resource VARCHAR(255) NOT NULL,
    hard_limit BIGINT NOT NULL,
    PRIMARY KEY (class_name, resource)
);
"#,
    },
    Migration {
        version: 5,
        name: "drop instances_project",
        // A prefix of instances_usage, which serves the same lookups: one index less to
        // write on every insert and delete.
        sql: r#"
DROP INDEX instances_project ON instances;
"#,
    },
];
