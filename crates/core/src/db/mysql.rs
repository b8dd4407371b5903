//! MariaDB/MySQL through sqlx's `Any` driver: a [`Query`]'s values bound in order, rows
//! read into [`Row`]s.

use std::sync::Arc;

use futures_util::TryStreamExt;
use sqlx::any::{AnyRow, AnyTypeInfoKind};
use sqlx::{AnyConnection, Column, Either, Executor, Row as _, ValueRef as _};

use super::row::{Row, Value};
use super::Output;

pub(crate) async fn run(conn: &mut AnyConnection, sql: &str, args: &[Value]) -> Result<Output, sqlx::Error> {
    let mut q = sqlx::query(sql);
    for a in args {
        q = match a {
            Value::Null => q.bind(None::<String>),
            Value::Int(v) => q.bind(*v),
            Value::Float(v) => q.bind(*v),
            Value::Text(v) => q.bind(v.clone()),
            Value::Blob(v) => q.bind(v.clone()),
        };
    }
    let mut out = Output { rows: Vec::new(), rows_affected: 0, last_insert_id: 0 };
    let mut columns: Option<Arc<[String]>> = None;
    let mut results = conn.fetch_many(q);
    while let Some(item) = results.try_next().await? {
        match item {
            Either::Left(done) => {
                out.rows_affected += done.rows_affected();
                if let Some(id) = done.last_insert_id() {
                    out.last_insert_id = id;
                }
            }
            Either::Right(row) => {
                let cols = columns
                    .get_or_insert_with(|| row.columns().iter().map(|c| c.name().to_string()).collect())
                    .clone();
                out.rows.push(Row::new(cols, values(&row)?));
            }
        }
    }
    Ok(out)
}

fn values(row: &AnyRow) -> Result<Vec<Value>, sqlx::Error> {
    (0..row.len())
        .map(|i| {
            let raw = row.try_get_raw(i)?;
            if raw.is_null() {
                return Ok(Value::Null);
            }
            let kind = raw.type_info().kind();
            Ok(match kind {
                AnyTypeInfoKind::Null => Value::Null,
                AnyTypeInfoKind::Bool => Value::Int(i64::from(row.try_get::<bool, _>(i)?)),
                AnyTypeInfoKind::SmallInt | AnyTypeInfoKind::Integer | AnyTypeInfoKind::BigInt => {
                    Value::Int(row.try_get::<i64, _>(i)?)
                }
                AnyTypeInfoKind::Real | AnyTypeInfoKind::Double => Value::Float(row.try_get::<f64, _>(i)?),
                AnyTypeInfoKind::Text => Value::Text(row.try_get::<String, _>(i)?),
                AnyTypeInfoKind::Blob => Value::Blob(row.try_get::<Vec<u8>, _>(i)?),
            })
        })
        .collect()
}
