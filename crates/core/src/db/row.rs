//! What goes into a statement and what comes out: [`Value`]s bound in order, [`Row`]s of
//! values read by column name or position, the same for SQLite and MariaDB.

use std::sync::Arc;

/// One SQL value. Booleans are stored as integers (0/1), timestamps as text (see the module
/// documentation of [`crate::db`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Float(f64),
    Text(String),
    Blob(Vec<u8>),
}

/// Something that can be bound to a `?` placeholder.
pub trait ToValue {
    fn to_value(&self) -> Value;
}

impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}

impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value {
        self.as_ref().map_or(Value::Null, ToValue::to_value)
    }
}

macro_rules! int_to_value {
    ($($t:ty),*) => {$(
        impl ToValue for $t {
            fn to_value(&self) -> Value {
                Value::Int(*self as i64)
            }
        }
    )*};
}
int_to_value!(i64, i32, i16, u32, u16, u8);

impl ToValue for u64 {
    fn to_value(&self) -> Value {
        Value::Int(i64::try_from(*self).unwrap_or(i64::MAX))
    }
}

impl ToValue for usize {
    fn to_value(&self) -> Value {
        Value::Int(i64::try_from(*self).unwrap_or(i64::MAX))
    }
}

impl ToValue for bool {
    fn to_value(&self) -> Value {
        Value::Int(i64::from(*self))
    }
}

impl ToValue for f64 {
    fn to_value(&self) -> Value {
        Value::Float(*self)
    }
}

impl ToValue for str {
    fn to_value(&self) -> Value {
        Value::Text(self.to_string())
    }
}

impl ToValue for String {
    fn to_value(&self) -> Value {
        Value::Text(self.clone())
    }
}

impl ToValue for [u8] {
    fn to_value(&self) -> Value {
        Value::Blob(self.to_vec())
    }
}

impl ToValue for Vec<u8> {
    fn to_value(&self) -> Value {
        Value::Blob(self.clone())
    }
}

impl ToValue for Value {
    fn to_value(&self) -> Value {
        self.clone()
    }
}

/// A type a column can be read as. Reading NULL as anything but an `Option` is an error, as
/// is reading text as a number (the stores never rely on either).
pub trait FromValue: Sized {
    fn from_value(v: &Value) -> Result<Self, String>;
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: &Value) -> Result<Self, String> {
        match v {
            Value::Null => Ok(None),
            v => T::from_value(v).map(Some),
        }
    }
}

fn mismatch(want: &str, v: &Value) -> String {
    let got = match v {
        Value::Null => "NULL",
        Value::Int(_) => "an integer",
        Value::Float(_) => "a float",
        Value::Text(_) => "text",
        Value::Blob(_) => "a blob",
    };
    format!("expected {want}, found {got}")
}

impl FromValue for i64 {
    fn from_value(v: &Value) -> Result<Self, String> {
        match v {
            Value::Int(i) => Ok(*i),
            v => Err(mismatch("an integer", v)),
        }
    }
}

macro_rules! int_from_value {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            fn from_value(v: &Value) -> Result<Self, String> {
                let i = i64::from_value(v)?;
                <$t>::try_from(i).map_err(|_| format!("{i} is out of range for {}", stringify!($t)))
            }
        }
    )*};
}
int_from_value!(i32, u32, u64, usize);

impl FromValue for bool {
    fn from_value(v: &Value) -> Result<Self, String> {
        i64::from_value(v).map(|i| i != 0)
    }
}

impl FromValue for f64 {
    fn from_value(v: &Value) -> Result<Self, String> {
        match v {
            Value::Float(f) => Ok(*f),
            Value::Int(i) => Ok(*i as f64),
            v => Err(mismatch("a number", v)),
        }
    }
}

/// Text, or a blob holding UTF-8 (MariaDB reports TEXT in a binary collation as a blob).
impl FromValue for String {
    fn from_value(v: &Value) -> Result<Self, String> {
        match v {
            Value::Text(s) => Ok(s.clone()),
            Value::Blob(b) => Ok(String::from_utf8_lossy(b).into_owned()),
            v => Err(mismatch("text", v)),
        }
    }
}

impl FromValue for Vec<u8> {
    fn from_value(v: &Value) -> Result<Self, String> {
        match v {
            Value::Blob(b) => Ok(b.clone()),
            Value::Text(s) => Ok(s.clone().into_bytes()),
            v => Err(mismatch("a blob", v)),
        }
    }
}

/// A column by position (from 0) or by name.
pub trait ColumnIndex: std::fmt::Debug {
    fn index(&self, columns: &[String]) -> Option<usize>;
}

impl ColumnIndex for usize {
    fn index(&self, columns: &[String]) -> Option<usize> {
        (*self < columns.len()).then_some(*self)
    }
}

impl ColumnIndex for &str {
    fn index(&self, columns: &[String]) -> Option<usize> {
        columns.iter().position(|c| c.eq_ignore_ascii_case(self))
    }
}

impl ColumnIndex for &String {
    fn index(&self, columns: &[String]) -> Option<usize> {
        self.as_str().index(columns)
    }
}

/// One result row: its statement's column names (shared by all its rows) and its values.
#[derive(Debug, Clone)]
pub struct Row {
    columns: Arc<[String]>,
    values: Vec<Value>,
}

impl Row {
    pub(crate) fn new(columns: Arc<[String]>, values: Vec<Value>) -> Row {
        Row { columns, values }
    }

    /// The column read as `T`: an error if there is no such column or its value is not a `T`.
    pub fn try_get<T: FromValue, I: ColumnIndex>(&self, index: I) -> Result<T, sqlx::Error> {
        let i =
            index.index(&self.columns).ok_or_else(|| sqlx::Error::ColumnNotFound(format!("{index:?}")))?;
        T::from_value(&self.values[i]).map_err(|source| sqlx::Error::ColumnDecode {
            index: format!("{index:?}"),
            source: source.into(),
        })
    }

    /// The column read as `T`; panics where [`Row::try_get`] fails (a bug in the query, not
    /// in the data).
    pub fn get<T: FromValue, I: ColumnIndex>(&self, index: I) -> T {
        match self.try_get(index) {
            Ok(v) => v,
            Err(e) => panic!("reading a column: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> Row {
        let cols: Arc<[String]> = vec!["id".to_string(), "n".to_string(), "gone".to_string()].into();
        Row::new(cols, vec![Value::Text("a".into()), Value::Int(3), Value::Null])
    }

    #[test]
    fn columns_read_by_name_or_position() {
        let r = row();
        assert_eq!(r.get::<String, _>("id"), "a");
        assert_eq!(r.get::<i64, _>(1), 3);
        assert_eq!(r.get::<f64, _>("N"), 3.0);
        assert!(r.get::<bool, _>("n"));
        assert_eq!(r.get::<Option<String>, _>("gone"), None);
    }

    #[test]
    fn wrong_reads_are_errors() {
        let r = row();
        assert!(r.try_get::<String, _>("gone").is_err());
        assert!(r.try_get::<i64, _>("id").is_err());
        assert!(matches!(r.try_get::<i64, _>("nope"), Err(sqlx::Error::ColumnNotFound(_))));
    }

    #[test]
    fn binds_cover_references_and_options() {
        let s = String::from("x");
        let none: Option<&str> = None;
        let by_ref: &String = &s;
        assert_eq!(ToValue::to_value(&by_ref), Value::Text("x".into()));
        assert_eq!(none.to_value(), Value::Null);
        assert_eq!(Some(5u32).to_value(), Value::Int(5));
        assert_eq!(true.to_value(), Value::Int(1));
    }
}
