//! SQL for the identity service. Only this module touches the identity database, and nothing
//! here knows about HTTP or policy.

mod app_creds;
mod assignments;
mod catalog;
mod groups;
pub mod migrations;
mod projects;
mod revocations;
mod roles;
mod users;

use serde_json::Value;
use stratus_core::db::{is_unique_violation, query, Db, Row};
use stratus_core::error::{ApiError, ApiResult};

use crate::model::Extra;

pub use assignments::AssignmentFilter;
pub use projects::ProjectFilter;

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

fn flag(b: bool) -> i64 {
    b as i64
}

fn get_flag(row: &Row, col: &str) -> bool {
    stratus_core::db::int(row, col) != 0
}

fn get_opt(row: &Row, col: &str) -> Option<String> {
    stratus_core::db::text(row, col)
}

fn get_str(row: &Row, col: &str) -> String {
    stratus_core::db::text(row, col).unwrap_or_default()
}

fn extra_json(extra: &Extra) -> String {
    Value::Object(extra.clone()).to_string()
}

fn parse_extra(row: &Row) -> Extra {
    get_opt(row, "extra")
        .and_then(|s| serde_json::from_str::<Value>(&s).ok())
        .and_then(|v| match v {
            Value::Object(m) => Some(m),
            _ => None,
        })
        .unwrap_or_default()
}

/// Maps a unique-constraint failure to keystone's 409 wording; anything else is a 500.
fn conflict_or(err: stratus_core::db::sqlx::Error, what: &str, detail: impl FnOnce() -> String) -> ApiError {
    if is_unique_violation(&err) {
        ApiError::conflict(format!(
            "Conflict occurred attempting to store {what} - Duplicate entry found with {}.",
            detail()
        ))
    } else {
        ApiError::from(err)
    }
}

type StoreResult<T> = ApiResult<T>;
