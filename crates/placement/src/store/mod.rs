//! SQL of the placement service; the only code that touches its database.
//!
//! Functions take a connection (`&mut Conn`): a transaction's, for the writes that
//! `service` composes, or one acquired from the database for plain reads.

mod migrations;

use stratus_core::db::{int, now_string, query, text, Db, Row};

use crate::model::{Consumer, Inventory, Provider};

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

pub type Conn = stratus_core::db::Conn;
type Result<T> = std::result::Result<T, sqlx::Error>;

/// `?, ?, ?` for an IN list of `n` values (at least one, so the SQL stays valid).
fn marks(n: usize) -> String {
    vec!["?"; n.max(1)].join(", ")
}

/// The rows of `select` (`SELECT … FROM table`), only those with `col IN (values)` when
/// `values` is given (none for an empty list), in `order` (`ORDER BY …` or empty).
async fn select_in(
    c: &mut Conn,
    select: &str,
    col: &str,
    values: Option<&[String]>,
    order: &str,
) -> Result<Vec<Row>> {
    match values {
        None => query(format!("{select} {order}")).fetch_all(&mut *c).await,
        Some([]) => Ok(vec![]),
        Some(values) => {
            let sql = format!("{select} WHERE {col} IN ({}) {order}", marks(values.len()));
            let mut q = query(&sql);
            for v in values {
                q = q.bind(v);
            }
            q.fetch_all(&mut *c).await
        }
    }
}

fn float(row: &Row, col: &str) -> f64 {
    row.try_get::<f64, _>(col).or_else(|_| row.try_get::<i64, _>(col).map(|v| v as f64)).unwrap_or(1.0)
}

fn provider_row(row: &Row) -> Provider {
    Provider {
        uuid: text(row, "uuid").unwrap_or_default(),
        name: text(row, "name").unwrap_or_default(),
        generation: int(row, "generation"),
        parent_uuid: text(row, "parent_uuid"),
        root_uuid: text(row, "root_uuid").unwrap_or_default(),
        created_at: text(row, "created_at").unwrap_or_default(),
        updated_at: text(row, "updated_at").unwrap_or_default(),
    }
}

fn inventory_row(row: &Row) -> Inventory {
    Inventory {
        resource_class: text(row, "resource_class").unwrap_or_default(),
        total: int(row, "total"),
        reserved: int(row, "reserved"),
        min_unit: int(row, "min_unit"),
        max_unit: int(row, "max_unit"),
        step_size: int(row, "step_size"),
        allocation_ratio: float(row, "allocation_ratio"),
        used: int(row, "used"),
    }
}

const PROVIDER_COLS: &str = "uuid, name, generation, parent_uuid, root_uuid, created_at, updated_at";
const INVENTORY_COLS: &str =
    "provider_uuid, resource_class, total, reserved, min_unit, max_unit, step_size, allocation_ratio, used";

// ---- the state version ----

/// Bumps the state version: the first statement of every write transaction, so that writers
/// queue here (a row lock on MariaDB, the write lock on SQLite) and then read fresh data.
pub async fn bump_state(c: &mut Conn) -> Result<i64> {
    query("UPDATE placement_state SET version = version + 1 WHERE id = 1").execute(&mut *c).await?;
    state_version(c).await
}

pub async fn state_version(c: &mut Conn) -> Result<i64> {
    let row = query("SELECT version FROM placement_state WHERE id = 1").fetch_one(&mut *c).await?;
    Ok(int(&row, "version"))
}

/// Records what the write at `version` touched (see the migrations), and forgets entries
/// far behind.
pub async fn record_changes(c: &mut Conn, version: i64, touched: &[String]) -> Result<()> {
    for t in touched {
        query("INSERT INTO placement_changes (version, provider_uuid) VALUES (?, ?)")
            .bind(version)
            .bind(t)
            .execute(&mut *c)
            .await?;
    }
    if version % 100 == 0 {
        query("DELETE FROM placement_changes WHERE version < ?")
            .bind(version - 1000)
            .execute(&mut *c)
            .await?;
    }
    Ok(())
}

/// `(version, touched)` of the writes after `after`, up to `upto`.
pub async fn changes(c: &mut Conn, after: i64, upto: i64) -> Result<Vec<(i64, String)>> {
    let rows = query(
        "SELECT version, provider_uuid FROM placement_changes WHERE version > ? AND version <= ? ORDER BY version",
    )
    .bind(after)
    .bind(upto)
    .fetch_all(&mut *c)
    .await?;
    Ok(rows.iter().map(|r| (int(r, "version"), text(r, "provider_uuid").unwrap_or_default())).collect())
}

// ---- providers ----

pub async fn get_provider(c: &mut Conn, uuid: &str) -> Result<Option<Provider>> {
    let row = query(format!("SELECT {PROVIDER_COLS} FROM resource_providers WHERE uuid = ?"))
        .bind(uuid)
        .fetch_optional(&mut *c)
        .await?;
    Ok(row.as_ref().map(provider_row))
}

pub async fn provider_by_name(c: &mut Conn, name: &str) -> Result<Option<Provider>> {
    let row = query(format!("SELECT {PROVIDER_COLS} FROM resource_providers WHERE name = ?"))
        .bind(name)
        .fetch_optional(&mut *c)
        .await?;
    Ok(row.as_ref().map(provider_row))
}

/// Providers by uuid; `None` means all of them. In creation order.
pub async fn providers(c: &mut Conn, uuids: Option<&[String]>) -> Result<Vec<Provider>> {
    let select = format!("SELECT {PROVIDER_COLS} FROM resource_providers");
    let rows = select_in(c, &select, "uuid", uuids, "ORDER BY created_at, uuid").await?;
    Ok(rows.iter().map(provider_row).collect())
}

pub async fn insert_provider(c: &mut Conn, p: &Provider) -> Result<()> {
    query(format!("INSERT INTO resource_providers ({PROVIDER_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?)"))
        .bind(&p.uuid)
        .bind(&p.name)
        .bind(p.generation)
        .bind(&p.parent_uuid)
        .bind(&p.root_uuid)
        .bind(&p.created_at)
        .bind(&p.updated_at)
        .execute(&mut *c)
        .await?;
    Ok(())
}

pub async fn update_provider(
    c: &mut Conn,
    uuid: &str,
    name: &str,
    parent: Option<&str>,
    root: &str,
) -> Result<()> {
    query(
        "UPDATE resource_providers SET name = ?, parent_uuid = ?, root_uuid = ?, updated_at = ? WHERE uuid = ?",
    )
    .bind(name)
    .bind(parent)
    .bind(root)
    .bind(now_string())
    .bind(uuid)
    .execute(&mut *c)
    .await?;
    Ok(())
}

pub async fn set_roots(c: &mut Conn, uuids: &[String], root: &str) -> Result<()> {
    if uuids.is_empty() {
        return Ok(());
    }
    let sql = format!("UPDATE resource_providers SET root_uuid = ? WHERE uuid IN ({})", marks(uuids.len()));
    let mut q = query(&sql).bind(root);
    for u in uuids {
        q = q.bind(u);
    }
    q.execute(&mut *c).await?;
    Ok(())
}

/// Every provider below `uuid` (not itself).
pub async fn descendants(c: &mut Conn, uuid: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut frontier = vec![uuid.to_string()];
    while !frontier.is_empty() {
        let sql =
            format!("SELECT uuid FROM resource_providers WHERE parent_uuid IN ({})", marks(frontier.len()));
        let mut q = query(&sql);
        for u in &frontier {
            q = q.bind(u);
        }
        let rows = q.fetch_all(&mut *c).await?;
        frontier = rows.iter().filter_map(|r| text(r, "uuid")).collect();
        out.extend(frontier.iter().cloned());
        if out.len() > 100_000 {
            break;
        }
    }
    Ok(out)
}

/// The provider's generation goes up by one if it still is `expected`; false if it was not.
pub async fn bump_generation(c: &mut Conn, uuid: &str, expected: i64) -> Result<bool> {
    let done = query(
        "UPDATE resource_providers SET generation = generation + 1, updated_at = ? WHERE uuid = ? AND generation = ?",
    )
    .bind(now_string())
    .bind(uuid)
    .bind(expected)
    .execute(&mut *c)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn has_children(c: &mut Conn, uuid: &str) -> Result<bool> {
    let row = query("SELECT uuid FROM resource_providers WHERE parent_uuid = ? LIMIT 1")
        .bind(uuid)
        .fetch_optional(&mut *c)
        .await?;
    Ok(row.is_some())
}

pub async fn has_allocations(c: &mut Conn, uuid: &str) -> Result<bool> {
    let row = query("SELECT consumer_uuid FROM allocations WHERE provider_uuid = ? LIMIT 1")
        .bind(uuid)
        .fetch_optional(&mut *c)
        .await?;
    Ok(row.is_some())
}

/// Removes a provider with its inventories, traits and aggregate links.
pub async fn delete_provider(c: &mut Conn, uuid: &str) -> Result<bool> {
    for table in ["inventories", "provider_traits", "provider_aggregates"] {
        query(format!("DELETE FROM {table} WHERE provider_uuid = ?")).bind(uuid).execute(&mut *c).await?;
    }
    let done = query("DELETE FROM resource_providers WHERE uuid = ?").bind(uuid).execute(&mut *c).await?;
    Ok(done.rows_affected() == 1)
}

// ---- inventories ----

pub async fn inventories(c: &mut Conn, uuid: &str) -> Result<Vec<Inventory>> {
    let rows = query(format!(
        "SELECT {INVENTORY_COLS} FROM inventories WHERE provider_uuid = ? ORDER BY resource_class"
    ))
    .bind(uuid)
    .fetch_all(&mut *c)
    .await?;
    Ok(rows.iter().map(inventory_row).collect())
}

/// `(provider uuid, inventory)` of the given providers, or of all.
pub async fn inventories_of(c: &mut Conn, uuids: Option<&[String]>) -> Result<Vec<(String, Inventory)>> {
    let select = format!("SELECT {INVENTORY_COLS} FROM inventories");
    let rows = select_in(c, &select, "provider_uuid", uuids, "").await?;
    Ok(rows.iter().map(|r| (text(r, "provider_uuid").unwrap_or_default(), inventory_row(r))).collect())
}

pub async fn insert_inventory(c: &mut Conn, uuid: &str, i: &Inventory) -> Result<()> {
    let now = now_string();
    query(format!(
        "INSERT INTO inventories ({INVENTORY_COLS}, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    ))
    .bind(uuid)
    .bind(&i.resource_class)
    .bind(i.total)
    .bind(i.reserved)
    .bind(i.min_unit)
    .bind(i.max_unit)
    .bind(i.step_size)
    .bind(i.allocation_ratio)
    .bind(i.used)
    .bind(&now)
    .bind(&now)
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// Changes the settings of an inventory (never its `used`).
pub async fn update_inventory(c: &mut Conn, uuid: &str, i: &Inventory) -> Result<bool> {
    let done = query(
        "UPDATE inventories SET total = ?, reserved = ?, min_unit = ?, max_unit = ?, step_size = ?, \
         allocation_ratio = ?, updated_at = ? WHERE provider_uuid = ? AND resource_class = ?",
    )
    .bind(i.total)
    .bind(i.reserved)
    .bind(i.min_unit)
    .bind(i.max_unit)
    .bind(i.step_size)
    .bind(i.allocation_ratio)
    .bind(now_string())
    .bind(uuid)
    .bind(&i.resource_class)
    .execute(&mut *c)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn delete_inventory(c: &mut Conn, uuid: &str, rc: &str) -> Result<bool> {
    let done = query("DELETE FROM inventories WHERE provider_uuid = ? AND resource_class = ?")
        .bind(uuid)
        .bind(rc)
        .execute(&mut *c)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Sets `used` of an inventory if it still is `expected` (the database-level guard against
/// a writer in another process); false if it was not.
/// [`set_used`] for several resource classes of one provider in one statement: each
/// `(resource_class, expected, used)`. False unless every one matched.
pub async fn set_used_many(c: &mut Conn, uuid: &str, changes: &[(String, i64, i64)]) -> Result<bool> {
    if let [(rc, expected, used)] = changes {
        return set_used(c, uuid, rc, *expected, *used).await;
    }
    let cases = "WHEN ? THEN ? ".repeat(changes.len());
    let marks = vec!["?"; changes.len()].join(", ");
    let sql = format!(
        "UPDATE inventories SET used = CASE resource_class {cases}END \
         WHERE provider_uuid = ? AND resource_class IN ({marks}) AND used = CASE resource_class {cases}END"
    );
    let mut q = query(&sql);
    for (rc, _, used) in changes {
        q = q.bind(rc.as_str()).bind(*used);
    }
    q = q.bind(uuid);
    for (rc, _, _) in changes {
        q = q.bind(rc.as_str());
    }
    for (rc, expected, _) in changes {
        q = q.bind(rc.as_str()).bind(*expected);
    }
    // When only some matched, those changed: the caller rolls the transaction back.
    Ok(q.execute(&mut *c).await?.rows_affected() == changes.len() as u64)
}

pub async fn set_used(c: &mut Conn, uuid: &str, rc: &str, expected: i64, used: i64) -> Result<bool> {
    let done =
        query("UPDATE inventories SET used = ? WHERE provider_uuid = ? AND resource_class = ? AND used = ?")
            .bind(used)
            .bind(uuid)
            .bind(rc)
            .bind(expected)
            .execute(&mut *c)
            .await?;
    Ok(done.rows_affected() == 1)
}

// ---- resource classes and traits (custom ones) ----

pub async fn custom_resource_classes(c: &mut Conn) -> Result<Vec<String>> {
    let rows = query("SELECT name FROM resource_classes ORDER BY name").fetch_all(&mut *c).await?;
    Ok(rows.iter().filter_map(|r| text(r, "name")).collect())
}

pub async fn insert_resource_class(c: &mut Conn, name: &str) -> Result<()> {
    query("INSERT INTO resource_classes (name, created_at) VALUES (?, ?)")
        .bind(name)
        .bind(now_string())
        .execute(&mut *c)
        .await?;
    Ok(())
}

pub async fn delete_resource_class(c: &mut Conn, name: &str) -> Result<bool> {
    let done = query("DELETE FROM resource_classes WHERE name = ?").bind(name).execute(&mut *c).await?;
    Ok(done.rows_affected() == 1)
}

/// Renames a custom class everywhere it is used (microversions before 1.7).
pub async fn rename_resource_class(c: &mut Conn, from: &str, to: &str) -> Result<()> {
    query("UPDATE resource_classes SET name = ? WHERE name = ?").bind(to).bind(from).execute(&mut *c).await?;
    for table in ["inventories", "allocations"] {
        query(format!("UPDATE {table} SET resource_class = ? WHERE resource_class = ?"))
            .bind(to)
            .bind(from)
            .execute(&mut *c)
            .await?;
    }
    Ok(())
}

pub async fn resource_class_in_use(c: &mut Conn, name: &str) -> Result<bool> {
    let row = query("SELECT provider_uuid FROM inventories WHERE resource_class = ? LIMIT 1")
        .bind(name)
        .fetch_optional(&mut *c)
        .await?;
    Ok(row.is_some())
}

pub async fn custom_traits(c: &mut Conn) -> Result<Vec<String>> {
    let rows = query("SELECT name FROM traits ORDER BY name").fetch_all(&mut *c).await?;
    Ok(rows.iter().filter_map(|r| text(r, "name")).collect())
}

pub async fn insert_trait(c: &mut Conn, name: &str) -> Result<()> {
    query("INSERT INTO traits (name, created_at) VALUES (?, ?)")
        .bind(name)
        .bind(now_string())
        .execute(&mut *c)
        .await?;
    Ok(())
}

pub async fn delete_trait(c: &mut Conn, name: &str) -> Result<bool> {
    let done = query("DELETE FROM traits WHERE name = ?").bind(name).execute(&mut *c).await?;
    Ok(done.rows_affected() == 1)
}

pub async fn trait_in_use(c: &mut Conn, name: &str) -> Result<bool> {
    let row = query("SELECT provider_uuid FROM provider_traits WHERE trait = ? LIMIT 1")
        .bind(name)
        .fetch_optional(&mut *c)
        .await?;
    Ok(row.is_some())
}

/// Traits associated with any provider.
pub async fn associated_traits(c: &mut Conn) -> Result<Vec<String>> {
    let rows = query("SELECT DISTINCT trait FROM provider_traits").fetch_all(&mut *c).await?;
    Ok(rows.iter().filter_map(|r| text(r, "trait")).collect())
}

/// `(provider, name)` rows of a link table (`provider_traits` / `provider_aggregates`), for
/// the given providers or all.
async fn links(
    c: &mut Conn,
    table: &str,
    col: &str,
    uuids: Option<&[String]>,
) -> Result<Vec<(String, String)>> {
    let select = format!("SELECT provider_uuid, {col} FROM {table}");
    let rows = select_in(c, &select, "provider_uuid", uuids, &format!("ORDER BY {col}")).await?;
    Ok(rows
        .iter()
        .map(|r| (text(r, "provider_uuid").unwrap_or_default(), text(r, col).unwrap_or_default()))
        .collect())
}

pub async fn trait_links(c: &mut Conn, uuids: Option<&[String]>) -> Result<Vec<(String, String)>> {
    links(c, "provider_traits", "trait", uuids).await
}

pub async fn aggregate_links(c: &mut Conn, uuids: Option<&[String]>) -> Result<Vec<(String, String)>> {
    links(c, "provider_aggregates", "aggregate_uuid", uuids).await
}

pub async fn provider_traits(c: &mut Conn, uuid: &str) -> Result<Vec<String>> {
    Ok(trait_links(c, Some(&[uuid.to_string()])).await?.into_iter().map(|(_, t)| t).collect())
}

pub async fn provider_aggregates(c: &mut Conn, uuid: &str) -> Result<Vec<String>> {
    Ok(aggregate_links(c, Some(&[uuid.to_string()])).await?.into_iter().map(|(_, a)| a).collect())
}

async fn replace_links(c: &mut Conn, table: &str, col: &str, uuid: &str, values: &[String]) -> Result<()> {
    query(format!("DELETE FROM {table} WHERE provider_uuid = ?")).bind(uuid).execute(&mut *c).await?;
    let mut seen = std::collections::BTreeSet::new();
    for v in values {
        if seen.insert(v) {
            query(format!("INSERT INTO {table} (provider_uuid, {col}) VALUES (?, ?)"))
                .bind(uuid)
                .bind(v)
                .execute(&mut *c)
                .await?;
        }
    }
    Ok(())
}

pub async fn set_provider_traits(c: &mut Conn, uuid: &str, traits: &[String]) -> Result<()> {
    replace_links(c, "provider_traits", "trait", uuid, traits).await
}

pub async fn set_provider_aggregates(c: &mut Conn, uuid: &str, aggregates: &[String]) -> Result<()> {
    replace_links(c, "provider_aggregates", "aggregate_uuid", uuid, aggregates).await
}

// ---- consumers and allocations ----

fn consumer_row(row: &Row) -> Consumer {
    Consumer {
        uuid: text(row, "uuid").unwrap_or_default(),
        project_id: text(row, "project_id").unwrap_or_default(),
        user_id: text(row, "user_id").unwrap_or_default(),
        consumer_type: text(row, "consumer_type"),
        generation: int(row, "generation"),
    }
}

pub async fn consumers(c: &mut Conn, uuids: &[String]) -> Result<Vec<Consumer>> {
    let select = "SELECT uuid, project_id, user_id, consumer_type, generation FROM consumers";
    Ok(select_in(c, select, "uuid", Some(uuids), "").await?.iter().map(consumer_row).collect())
}

pub async fn insert_consumer(c: &mut Conn, k: &Consumer) -> Result<()> {
    let now = now_string();
    query(
        "INSERT INTO consumers (uuid, project_id, user_id, consumer_type, generation, created_at, updated_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&k.uuid)
    .bind(&k.project_id)
    .bind(&k.user_id)
    .bind(&k.consumer_type)
    .bind(k.generation)
    .bind(&now)
    .bind(&now)
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// Writes a consumer's project, user and type and bumps its generation, if the generation
/// still is `expected`.
pub async fn update_consumer(c: &mut Conn, k: &Consumer, expected: i64) -> Result<bool> {
    let done = query(
        "UPDATE consumers SET project_id = ?, user_id = ?, consumer_type = ?, generation = generation + 1, \
         updated_at = ? WHERE uuid = ? AND generation = ?",
    )
    .bind(&k.project_id)
    .bind(&k.user_id)
    .bind(&k.consumer_type)
    .bind(now_string())
    .bind(&k.uuid)
    .bind(expected)
    .execute(&mut *c)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn delete_consumer(c: &mut Conn, uuid: &str) -> Result<()> {
    query("DELETE FROM consumers WHERE uuid = ?").bind(uuid).execute(&mut *c).await?;
    Ok(())
}

/// One allocation row.
#[derive(Debug, Clone, PartialEq)]
pub struct AllocationRow {
    pub consumer: String,
    pub provider: String,
    pub resource_class: String,
    pub used: i64,
}

fn allocation_row(r: &Row) -> AllocationRow {
    AllocationRow {
        consumer: text(r, "consumer_uuid").unwrap_or_default(),
        provider: text(r, "provider_uuid").unwrap_or_default(),
        resource_class: text(r, "resource_class").unwrap_or_default(),
        used: int(r, "used"),
    }
}

pub async fn allocations_of_consumers(c: &mut Conn, consumers: &[String]) -> Result<Vec<AllocationRow>> {
    let select = "SELECT consumer_uuid, provider_uuid, resource_class, used FROM allocations";
    let order = "ORDER BY consumer_uuid, provider_uuid, resource_class";
    Ok(select_in(c, select, "consumer_uuid", Some(consumers), order)
        .await?
        .iter()
        .map(allocation_row)
        .collect())
}

pub async fn allocations_of_provider(c: &mut Conn, provider: &str) -> Result<Vec<AllocationRow>> {
    let rows = query(
        "SELECT consumer_uuid, provider_uuid, resource_class, used FROM allocations WHERE provider_uuid = ? \
         ORDER BY consumer_uuid, resource_class",
    )
    .bind(provider)
    .fetch_all(&mut *c)
    .await?;
    Ok(rows.iter().map(allocation_row).collect())
}

pub async fn delete_allocations_of(c: &mut Conn, consumer: &str) -> Result<()> {
    query("DELETE FROM allocations WHERE consumer_uuid = ?").bind(consumer).execute(&mut *c).await?;
    Ok(())
}

/// Inserts allocation rows, in one statement.
pub async fn insert_allocations(c: &mut Conn, rows: &[AllocationRow]) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO allocations (consumer_uuid, provider_uuid, resource_class, used, created_at) VALUES {}",
        vec!["(?, ?, ?, ?, ?)"; rows.len()].join(", ")
    );
    let now = now_string();
    let mut q = query(&sql);
    for a in rows {
        q = q.bind(&a.consumer).bind(&a.provider).bind(&a.resource_class).bind(a.used).bind(now.clone());
    }
    q.execute(&mut *c).await?;
    Ok(())
}

/// `(consumer type, consumer, resource class, used)` of a project's (and user's) allocations,
/// summed by the caller (no SQL aggregates: MariaDB's SUM is a DECIMAL).
pub async fn project_allocations(
    c: &mut Conn,
    project_id: &str,
    user_id: Option<&str>,
) -> Result<Vec<(Option<String>, String, String, i64)>> {
    let mut sql = String::from(
        "SELECT c.consumer_type AS consumer_type, a.consumer_uuid AS consumer_uuid, \
         a.resource_class AS resource_class, a.used AS used \
         FROM allocations a JOIN consumers c ON c.uuid = a.consumer_uuid WHERE c.project_id = ?",
    );
    if user_id.is_some() {
        sql.push_str(" AND c.user_id = ?");
    }
    let mut q = query(&sql).bind(project_id);
    if let Some(u) = user_id {
        q = q.bind(u);
    }
    let rows = q.fetch_all(&mut *c).await?;
    Ok(rows
        .iter()
        .map(|r| {
            (
                text(r, "consumer_type"),
                text(r, "consumer_uuid").unwrap_or_default(),
                text(r, "resource_class").unwrap_or_default(),
                int(r, "used"),
            )
        })
        .collect())
}
