//! The identity schema. Portable SQL: it runs unchanged on SQLite and MariaDB/MySQL.

use stratus_core::db::Migration;

pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "identity",
    sql: r#"
CREATE TABLE domains (
    id VARCHAR(64) PRIMARY KEY,
    name VARCHAR(64) NOT NULL,
    description TEXT,
    enabled BIGINT NOT NULL,
    extra TEXT NOT NULL,
    created_at VARCHAR(40) NOT NULL,
    UNIQUE (name)
);
CREATE TABLE projects (
    id VARCHAR(64) PRIMARY KEY,
    name VARCHAR(64) NOT NULL,
    domain_id VARCHAR(64) NOT NULL,
    parent_id VARCHAR(64),
    description TEXT,
    enabled BIGINT NOT NULL,
    extra TEXT NOT NULL,
    created_at VARCHAR(40) NOT NULL,
    UNIQUE (domain_id, name)
);
CREATE INDEX projects_parent ON projects (parent_id);
CREATE TABLE project_tags (
    project_id VARCHAR(64) NOT NULL,
    tag VARCHAR(255) NOT NULL,
    PRIMARY KEY (project_id, tag)
);
CREATE TABLE users (
    id VARCHAR(64) PRIMARY KEY,
    name VARCHAR(255) NOT NULL,
    domain_id VARCHAR(64) NOT NULL,
    enabled BIGINT NOT NULL,
    default_project_id VARCHAR(64),
    password_hash TEXT,
    password_created_at VARCHAR(40),
    failed_auth_count BIGINT NOT NULL,
    last_failed_auth VARCHAR(40),
    extra TEXT NOT NULL,
    created_at VARCHAR(40) NOT NULL,
    UNIQUE (domain_id, name)
);
CREATE TABLE user_groups (
    id VARCHAR(64) PRIMARY KEY,
    name VARCHAR(64) NOT NULL,
    domain_id VARCHAR(64) NOT NULL,
    description TEXT,
    extra TEXT NOT NULL,
    created_at VARCHAR(40) NOT NULL,
    UNIQUE (domain_id, name)
);
CREATE TABLE group_members (
    group_id VARCHAR(64) NOT NULL,
    user_id VARCHAR(64) NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members (user_id);
CREATE TABLE roles (
    id VARCHAR(64) PRIMARY KEY,
    name VARCHAR(255) NOT NULL,
    domain_id VARCHAR(64) NOT NULL,
    description TEXT,
    extra TEXT NOT NULL,
    UNIQUE (name, domain_id)
);
CREATE TABLE implied_roles (
    prior_role_id VARCHAR(64) NOT NULL,
    implied_role_id VARCHAR(64) NOT NULL,
    PRIMARY KEY (prior_role_id, implied_role_id)
);
CREATE TABLE assignments (
    actor_type VARCHAR(8) NOT NULL,
    actor_id VARCHAR(64) NOT NULL,
    target_type VARCHAR(8) NOT NULL,
    target_id VARCHAR(64) NOT NULL,
    role_id VARCHAR(64) NOT NULL,
    inherited BIGINT NOT NULL,
    PRIMARY KEY (actor_type, actor_id, target_type, target_id, role_id, inherited)
);
CREATE INDEX assignments_target ON assignments (target_type, target_id);
CREATE INDEX assignments_role ON assignments (role_id);
CREATE TABLE regions (
    id VARCHAR(255) PRIMARY KEY,
    description TEXT NOT NULL,
    parent_region_id VARCHAR(255),
    extra TEXT NOT NULL
);
CREATE TABLE services (
    id VARCHAR(64) PRIMARY KEY,
    type VARCHAR(255) NOT NULL,
    name VARCHAR(255),
    description TEXT,
    enabled BIGINT NOT NULL,
    extra TEXT NOT NULL
);
CREATE TABLE endpoints (
    id VARCHAR(64) PRIMARY KEY,
    service_id VARCHAR(64) NOT NULL,
    region_id VARCHAR(255),
    interface VARCHAR(8) NOT NULL,
    url TEXT NOT NULL,
    enabled BIGINT NOT NULL,
    extra TEXT NOT NULL
);
CREATE TABLE application_credentials (
    id VARCHAR(64) PRIMARY KEY,
    name VARCHAR(255) NOT NULL,
    user_id VARCHAR(64) NOT NULL,
    project_id VARCHAR(64) NOT NULL,
    secret_hash TEXT NOT NULL,
    description TEXT,
    expires_at VARCHAR(40),
    unrestricted BIGINT NOT NULL,
    roles TEXT NOT NULL,
    created_at VARCHAR(40) NOT NULL,
    UNIQUE (user_id, name)
);
CREATE TABLE revocation_events (
    id VARCHAR(64) PRIMARY KEY,
    revoked_at VARCHAR(40) NOT NULL,
    event TEXT NOT NULL
);
CREATE INDEX revocation_events_time ON revocation_events (revoked_at)
"#,
}];
