//! SQL for the compute service; the only code that touches the compute database. One file
//! per table family.

mod aggregates;
mod flavors;
mod host_aggregates;
mod instances;
mod keypairs;
mod migrations;
mod quotas;
mod server_groups;
mod services;

pub use aggregates::Aggregate;
pub use flavors::{FlavorFilter, FLAVOR_SORT_KEYS};
pub use instances::{
    ActionEvent, EventWrite, Expect, InstanceAction, InstanceFilter, InstanceUpdate, Migration,
    MigrationFilter, MigrationRow, NewAction,
};

use chrono::{DateTime, Utc};
use stratus_core::db::{parse_time, query, text, Db, Row, Tx};
use stratus_core::error::ApiResult;

#[derive(Clone)]
pub struct Store {
    db: Db,
}

impl Store {
    pub async fn open(db: Db) -> anyhow::Result<Store> {
        db.migrate(migrations::MIGRATIONS).await?;
        Ok(Store { db })
    }

    pub fn db(&self) -> &Db {
        &self.db
    }
}

/// The next free id of a table with a BIGINT `id` (portable: no AUTOINCREMENT syntax), read
/// in the transaction that inserts with it: on SQLite that serializes the inserts (no two
/// read the same id); on MariaDB callers still retry on a unique violation.
pub(crate) async fn next_id(tx: &mut Tx, table: &'static str) -> ApiResult<i64> {
    let row = query(format!("SELECT COALESCE(MAX(id), 0) + 1 AS n FROM {table}")).fetch_one(tx).await?;
    Ok(row.try_get::<i64, _>("n").unwrap_or(1))
}

pub(crate) fn time(row: &Row, col: &str) -> DateTime<Utc> {
    text(row, col).as_deref().and_then(parse_time).unwrap_or_default()
}

pub(crate) fn opt_time(row: &Row, col: &str) -> Option<DateTime<Utc>> {
    text(row, col).as_deref().and_then(parse_time)
}
