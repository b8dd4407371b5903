//! The image schema: portable SQL for SQLite and MariaDB/MySQL.

use stratus_core::db::Migration;

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "image",
        sql: r#"
CREATE TABLE images (
    id VARCHAR(64) PRIMARY KEY,
    name VARCHAR(255),
    status VARCHAR(16) NOT NULL,
    visibility VARCHAR(16) NOT NULL,
    protected BIGINT NOT NULL,
    os_hidden BIGINT NOT NULL,
    disk_format VARCHAR(16),
    container_format VARCHAR(16),
    min_disk BIGINT NOT NULL,
    min_ram BIGINT NOT NULL,
    size BIGINT,
    virtual_size BIGINT,
    checksum VARCHAR(32),
    os_hash_algo VARCHAR(16),
    os_hash_value VARCHAR(128),
    owner VARCHAR(64),
    created_at VARCHAR(40) NOT NULL,
    updated_at VARCHAR(40) NOT NULL
);
CREATE INDEX images_owner ON images (owner);
CREATE INDEX images_created ON images (created_at, id);
CREATE INDEX images_name ON images (name);
CREATE TABLE image_properties (
    image_id VARCHAR(64) NOT NULL,
    name VARCHAR(255) NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (image_id, name)
);
CREATE TABLE image_tags (
    image_id VARCHAR(64) NOT NULL,
    value VARCHAR(255) NOT NULL,
    PRIMARY KEY (image_id, value)
);
CREATE INDEX image_tags_value ON image_tags (value);
CREATE TABLE image_members (
    image_id VARCHAR(64) NOT NULL,
    member_id VARCHAR(255) NOT NULL,
    status VARCHAR(16) NOT NULL,
    created_at VARCHAR(40) NOT NULL,
    updated_at VARCHAR(40) NOT NULL,
    PRIMARY KEY (image_id, member_id)
);
CREATE INDEX image_members_member ON image_members (member_id)
"#,
    },
    // The store that holds an image's data (glance records it in the image's locations);
    // NULL for images stored before there was a choice, which are all in the file store.
    Migration { version: 2, name: "image_store", sql: "ALTER TABLE images ADD COLUMN store VARCHAR(16)" },
];
