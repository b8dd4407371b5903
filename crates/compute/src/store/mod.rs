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
    ActionEvent, Expect, InstanceAction, InstanceFilter, InstanceUpdate, Migration, MigrationFilter,
    MigrationRow,
};

use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;
use stratus_core::db::{parse_time, text, Db};
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

    /// The next free id of a table with a BIGINT `id` (portable: no AUTOINCREMENT syntax).
    /// Callers insert with it and retry on a unique violation.
    pub async fn next_id(&self, table: &'static str) -> ApiResult<i64> {
        use sqlx::Row;
        let row = sqlx::query(&format!("SELECT COALESCE(MAX(id), 0) + 1 AS n FROM {table}"))
            .fetch_one(self.db.pool())
            .await?;
        Ok(row.try_get::<i64, _>("n").unwrap_or(1))
    }
}

pub(crate) fn time(row: &AnyRow, col: &str) -> DateTime<Utc> {
    text(row, col).as_deref().and_then(parse_time).unwrap_or_default()
}

pub(crate) fn opt_time(row: &AnyRow, col: &str) -> Option<DateTime<Utc>> {
    text(row, col).as_deref().and_then(parse_time)
}
