//! SQL for the image service; the only code that touches the image database.

mod migrations;

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use stratus_core::db::{int, is_unique_violation, parse_time, query, text, time_string, Db, Row, Tx};
use stratus_core::error::{ApiError, ApiResult};

use crate::model::{Image, ImageStatus, Member, MemberStatus, Visibility};

#[derive(Clone)]
pub struct Store {
    db: Db,
}

/// Which images a list call wants; visibility rules are applied by the caller's query.
#[derive(Debug, Default, Clone)]
pub struct ImageFilter {
    pub name: Option<String>,
    pub status: Option<String>,
    pub visibility: Option<String>,
    pub owner: Option<String>,
    pub disk_format: Option<String>,
    pub container_format: Option<String>,
    pub tags: Vec<String>,
    pub size_min: Option<i64>,
    pub size_max: Option<i64>,
    pub protected: Option<bool>,
    pub os_hidden: Option<bool>,
    /// `(column, operator, time)` for created_at / updated_at comparisons.
    pub times: Vec<(&'static str, &'static str, String)>,
}

fn opt_i64(row: &Row, col: &str) -> Option<i64> {
    row.try_get::<Option<i64>, _>(col).ok().flatten()
}

fn time(row: &Row, col: &str) -> DateTime<Utc> {
    text(row, col).as_deref().and_then(parse_time).unwrap_or_default()
}

fn image_row(row: &Row) -> Image {
    Image {
        id: text(row, "id").unwrap_or_default(),
        name: text(row, "name"),
        status: text(row, "status").as_deref().and_then(ImageStatus::parse).unwrap_or(ImageStatus::Queued),
        visibility: text(row, "visibility")
            .as_deref()
            .and_then(Visibility::parse)
            .unwrap_or(Visibility::Shared),
        protected: int(row, "protected") != 0,
        os_hidden: int(row, "os_hidden") != 0,
        disk_format: text(row, "disk_format"),
        container_format: text(row, "container_format"),
        min_disk: int(row, "min_disk"),
        min_ram: int(row, "min_ram"),
        size: opt_i64(row, "size"),
        virtual_size: opt_i64(row, "virtual_size"),
        checksum: text(row, "checksum"),
        os_hash_algo: text(row, "os_hash_algo"),
        os_hash_value: text(row, "os_hash_value"),
        owner: text(row, "owner"),
        tags: vec![],
        properties: BTreeMap::new(),
        store: text(row, "store"),
        created_at: time(row, "created_at"),
        updated_at: time(row, "updated_at"),
    }
}

fn member_row(row: &Row) -> Member {
    Member {
        image_id: text(row, "image_id").unwrap_or_default(),
        member_id: text(row, "member_id").unwrap_or_default(),
        status: text(row, "status").as_deref().and_then(MemberStatus::parse).unwrap_or(MemberStatus::Pending),
        created_at: time(row, "created_at"),
        updated_at: time(row, "updated_at"),
    }
}

impl Store {
    pub async fn open(db: Db) -> anyhow::Result<Store> {
        db.migrate(migrations::MIGRATIONS).await?;
        Ok(Store { db })
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub async fn create_image(&self, i: &Image) -> ApiResult<()> {
        let mut tx = self.db().begin().await?;
        query(
            "INSERT INTO images (id, name, status, visibility, protected, os_hidden, disk_format, container_format, \
             min_disk, min_ram, size, virtual_size, checksum, os_hash_algo, os_hash_value, owner, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&i.id)
        .bind(&i.name)
        .bind(i.status.as_str())
        .bind(i.visibility.as_str())
        .bind(i.protected as i64)
        .bind(i.os_hidden as i64)
        .bind(&i.disk_format)
        .bind(&i.container_format)
        .bind(i.min_disk)
        .bind(i.min_ram)
        .bind(i.size)
        .bind(i.virtual_size)
        .bind(&i.checksum)
        .bind(&i.os_hash_algo)
        .bind(&i.os_hash_value)
        .bind(&i.owner)
        .bind(time_string(i.created_at))
        .bind(time_string(i.updated_at))
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                ApiError::conflict(format!("An image with identifier {} already exists.", i.id))
            } else {
                e.into()
            }
        })?;
        write_children(&mut tx, i).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Writes every attribute but the status (see [`Store::set_status`]).
    pub async fn update_image(&self, i: &Image) -> ApiResult<()> {
        let mut tx = self.db().begin().await?;
        query(
            "UPDATE images SET name = ?, visibility = ?, protected = ?, os_hidden = ?, disk_format = ?, \
             container_format = ?, min_disk = ?, min_ram = ?, owner = ?, updated_at = ? WHERE id = ?",
        )
        .bind(&i.name)
        .bind(i.visibility.as_str())
        .bind(i.protected as i64)
        .bind(i.os_hidden as i64)
        .bind(&i.disk_format)
        .bind(&i.container_format)
        .bind(i.min_disk)
        .bind(i.min_ram)
        .bind(&i.owner)
        .bind(time_string(Utc::now()))
        .bind(&i.id)
        .execute(&mut *tx)
        .await?;
        query("DELETE FROM image_properties WHERE image_id = ?").bind(&i.id).execute(&mut *tx).await?;
        query("DELETE FROM image_tags WHERE image_id = ?").bind(&i.id).execute(&mut *tx).await?;
        write_children(&mut tx, i).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Moves the image from `from` to `to` if it is still in `from`; false if it was not
    /// (someone else moved it first). The status machine is checked by the caller.
    pub async fn set_status(&self, id: &str, from: ImageStatus, to: ImageStatus) -> ApiResult<bool> {
        let r = query("UPDATE images SET status = ?, updated_at = ? WHERE id = ? AND status = ?")
            .bind(to.as_str())
            .bind(time_string(Utc::now()))
            .bind(id)
            .bind(from.as_str())
            .execute(self.db())
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Records the data of a finished upload and makes the image active, if it is still in `from`.
    pub async fn activate(
        &self,
        id: &str,
        from: ImageStatus,
        data: &crate::backend::StoredData,
    ) -> ApiResult<bool> {
        let r = query(
            "UPDATE images SET status = 'active', size = ?, virtual_size = ?, checksum = ?, os_hash_algo = 'sha512', \
             os_hash_value = ?, store = ?, updated_at = ? WHERE id = ? AND status = ?",
        )
        .bind(data.size as i64)
        .bind(data.virtual_size.map(|v| v as i64))
        .bind(&data.md5)
        .bind(&data.sha512)
        .bind(data.store)
        .bind(time_string(Utc::now()))
        .bind(id)
        .bind(from.as_str())
        .execute(self.db())
        .await?;
        Ok(r.rows_affected() == 1)
    }

    pub async fn get_image(&self, id: &str) -> ApiResult<Option<Image>> {
        let Some(row) = query("SELECT * FROM images WHERE id = ?").bind(id).fetch_optional(self.db()).await?
        else {
            return Ok(None);
        };
        let mut image = image_row(&row);
        self.load_children(std::slice::from_mut(&mut image)).await?;
        Ok(Some(image))
    }

    /// Images matching the filter that `viewer` may see, in the requested order.
    pub async fn list_images(
        &self,
        f: &ImageFilter,
        viewer: &Viewer,
        sort: &[(String, bool)],
        limit: usize,
        marker: Option<&Image>,
    ) -> ApiResult<Vec<Image>> {
        let mut sql = String::from("SELECT * FROM images i WHERE 1 = 1");
        let mut binds: Vec<Bind> = Vec::new();
        let eq = |col: &str, v: &Option<String>, sql: &mut String, binds: &mut Vec<Bind>| {
            if let Some(v) = v {
                sql.push_str(&format!(" AND i.{col} = ?"));
                binds.push(Bind::S(v.clone()));
            }
        };
        eq("name", &f.name, &mut sql, &mut binds);
        eq("status", &f.status, &mut sql, &mut binds);
        eq("owner", &f.owner, &mut sql, &mut binds);
        eq("disk_format", &f.disk_format, &mut sql, &mut binds);
        eq("container_format", &f.container_format, &mut sql, &mut binds);
        if let Some(min) = f.size_min {
            sql.push_str(" AND i.size >= ?");
            binds.push(Bind::I(min));
        }
        if let Some(max) = f.size_max {
            sql.push_str(" AND i.size <= ?");
            binds.push(Bind::I(max));
        }
        if let Some(p) = f.protected {
            sql.push_str(" AND i.protected = ?");
            binds.push(Bind::I(p as i64));
        }
        match f.os_hidden {
            Some(h) => {
                sql.push_str(" AND i.os_hidden = ?");
                binds.push(Bind::I(h as i64));
            }
            None => sql.push_str(" AND i.os_hidden = 0"),
        }
        for (col, op, t) in &f.times {
            sql.push_str(&format!(" AND i.{col} {op} ?"));
            binds.push(Bind::S(t.clone()));
        }
        for tag in &f.tags {
            sql.push_str(" AND EXISTS (SELECT 1 FROM image_tags t WHERE t.image_id = i.id AND t.value = ?)");
            binds.push(Bind::S(tag.clone()));
        }
        viewer.restrict(&mut sql, &mut binds, f.visibility.as_deref());

        // Keyset pagination: rows after the marker in the sort order, the id as tiebreaker.
        let mut keys: Vec<(String, bool)> = sort.to_vec();
        if !keys.iter().any(|(k, _)| k == "id") {
            let dir = keys.last().map(|(_, d)| *d).unwrap_or(false);
            keys.push(("id".into(), dir));
        }
        if let Some(m) = marker {
            let mut ors = Vec::new();
            let mut eq_prefix: Vec<String> = Vec::new();
            let mut prefix_binds: Vec<Bind> = Vec::new();
            for (k, asc) in &keys {
                let op = if *asc { ">" } else { "<" };
                let mut clause = eq_prefix.clone();
                clause.push(format!("i.{k} {op} ?"));
                ors.push(format!("({})", clause.join(" AND ")));
                binds.extend(prefix_binds.iter().cloned());
                binds.push(sort_value(m, k));
                eq_prefix.push(format!("i.{k} = ?"));
                prefix_binds.push(sort_value(m, k));
            }
            sql.push_str(&format!(" AND ({})", ors.join(" OR ")));
        }
        let order: Vec<String> =
            keys.iter().map(|(k, asc)| format!("i.{k} {}", if *asc { "ASC" } else { "DESC" })).collect();
        sql.push_str(&format!(" ORDER BY {} LIMIT {}", order.join(", "), limit));

        let mut q = query(&sql);
        for b in &binds {
            q = match b {
                Bind::S(s) => q.bind(s.clone()),
                Bind::I(i) => q.bind(*i),
            };
        }
        let rows = q.fetch_all(self.db()).await?;
        let mut images: Vec<Image> = rows.iter().map(image_row).collect();
        self.load_children(&mut images).await?;
        Ok(images)
    }

    async fn load_children(&self, images: &mut [Image]) -> ApiResult<()> {
        if images.is_empty() {
            return Ok(());
        }
        let ids: Vec<&str> = images.iter().map(|i| i.id.as_str()).collect();
        let ph = vec!["?"; ids.len()].join(", ");
        let mut props: HashMap<String, BTreeMap<String, String>> = HashMap::new();
        let sql = format!("SELECT image_id, name, value FROM image_properties WHERE image_id IN ({ph})");
        let mut pq = query(&sql);
        for id in &ids {
            pq = pq.bind(*id);
        }
        for r in pq.fetch_all(self.db()).await? {
            props
                .entry(text(&r, "image_id").unwrap_or_default())
                .or_default()
                .insert(text(&r, "name").unwrap_or_default(), text(&r, "value").unwrap_or_default());
        }
        let sql = format!("SELECT image_id, value FROM image_tags WHERE image_id IN ({ph}) ORDER BY value");
        let mut tq = query(&sql);
        for id in &ids {
            tq = tq.bind(*id);
        }
        let mut tags: HashMap<String, Vec<String>> = HashMap::new();
        for r in tq.fetch_all(self.db()).await? {
            tags.entry(text(&r, "image_id").unwrap_or_default())
                .or_default()
                .push(text(&r, "value").unwrap_or_default());
        }
        for i in images.iter_mut() {
            i.properties = props.remove(&i.id).unwrap_or_default();
            i.tags = tags.remove(&i.id).unwrap_or_default();
        }
        Ok(())
    }

    pub async fn delete_image(&self, id: &str) -> ApiResult<()> {
        let mut tx = self.db().begin().await?;
        for sql in [
            "DELETE FROM image_properties WHERE image_id = ?",
            "DELETE FROM image_tags WHERE image_id = ?",
            "DELETE FROM image_members WHERE image_id = ?",
            "DELETE FROM images WHERE id = ?",
        ] {
            query(sql).bind(id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Every image in a status, whoever owns it.
    pub async fn ids_in_status(&self, status: ImageStatus) -> ApiResult<Vec<String>> {
        let rows = query("SELECT id FROM images WHERE status = ?")
            .bind(status.as_str())
            .fetch_all(self.db())
            .await?;
        Ok(rows.iter().filter_map(|r| text(r, "id")).collect())
    }

    /// Bytes of image data a project holds. Summed here rather than with SQL `SUM`, whose
    /// type differs between engines (DECIMAL on MariaDB, which sqlx's Any driver cannot read).
    pub async fn project_usage(&self, owner: &str) -> ApiResult<i64> {
        let rows = query("SELECT size FROM images WHERE owner = ? AND size IS NOT NULL")
            .bind(owner)
            .fetch_all(self.db())
            .await?;
        Ok(rows.iter().map(|r| int(r, "size")).sum())
    }

    // ---- members ----

    pub async fn add_member(&self, m: &Member) -> ApiResult<()> {
        query(
            "INSERT INTO image_members (image_id, member_id, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&m.image_id)
        .bind(&m.member_id)
        .bind(m.status.as_str())
        .bind(time_string(m.created_at))
        .bind(time_string(m.updated_at))
        .execute(self.db())
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                ApiError::conflict(format!("Member {} is already a member of image {}.", m.member_id, m.image_id))
            } else {
                e.into()
            }
        })?;
        Ok(())
    }

    pub async fn get_member(&self, image_id: &str, member_id: &str) -> ApiResult<Option<Member>> {
        let row = query("SELECT * FROM image_members WHERE image_id = ? AND member_id = ?")
            .bind(image_id)
            .bind(member_id)
            .fetch_optional(self.db())
            .await?;
        Ok(row.as_ref().map(member_row))
    }

    pub async fn list_members(&self, image_id: &str) -> ApiResult<Vec<Member>> {
        let rows = query("SELECT * FROM image_members WHERE image_id = ? ORDER BY created_at")
            .bind(image_id)
            .fetch_all(self.db())
            .await?;
        Ok(rows.iter().map(member_row).collect())
    }

    pub async fn set_member_status(
        &self,
        image_id: &str,
        member_id: &str,
        status: MemberStatus,
    ) -> ApiResult<()> {
        query("UPDATE image_members SET status = ?, updated_at = ? WHERE image_id = ? AND member_id = ?")
            .bind(status.as_str())
            .bind(time_string(Utc::now()))
            .bind(image_id)
            .bind(member_id)
            .execute(self.db())
            .await?;
        Ok(())
    }

    pub async fn delete_member(&self, image_id: &str, member_id: &str) -> ApiResult<bool> {
        let r = query("DELETE FROM image_members WHERE image_id = ? AND member_id = ?")
            .bind(image_id)
            .bind(member_id)
            .execute(self.db())
            .await?;
        Ok(r.rows_affected() > 0)
    }
}

async fn write_children(tx: &mut Tx, i: &Image) -> ApiResult<()> {
    for (k, v) in &i.properties {
        query("INSERT INTO image_properties (image_id, name, value) VALUES (?, ?, ?)")
            .bind(&i.id)
            .bind(k)
            .bind(v)
            .execute(&mut **tx)
            .await?;
    }
    for t in &i.tags {
        query("INSERT INTO image_tags (image_id, value) VALUES (?, ?)")
            .bind(&i.id)
            .bind(t)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

#[derive(Debug, Clone)]
pub enum Bind {
    S(String),
    I(i64),
}

fn sort_value(i: &Image, key: &str) -> Bind {
    match key {
        "name" => Bind::S(i.name.clone().unwrap_or_default()),
        "status" => Bind::S(i.status.as_str().into()),
        "visibility" => Bind::S(i.visibility.as_str().into()),
        "disk_format" => Bind::S(i.disk_format.clone().unwrap_or_default()),
        "container_format" => Bind::S(i.container_format.clone().unwrap_or_default()),
        "size" => Bind::I(i.size.unwrap_or(0)),
        "min_disk" => Bind::I(i.min_disk),
        "min_ram" => Bind::I(i.min_ram),
        "owner" => Bind::S(i.owner.clone().unwrap_or_default()),
        "created_at" => Bind::S(time_string(i.created_at)),
        "updated_at" => Bind::S(time_string(i.updated_at)),
        _ => Bind::S(i.id.clone()),
    }
}

/// Columns a list may be sorted by.
pub const SORT_KEYS: &[&str] = &[
    "name",
    "status",
    "visibility",
    "disk_format",
    "container_format",
    "size",
    "min_disk",
    "min_ram",
    "owner",
    "created_at",
    "updated_at",
    "id",
];

/// Whose images a list shows: glance's visibility rules as SQL.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub project_id: Option<String>,
    pub is_admin: bool,
    /// `member_status` filter for shared images (default accepted).
    pub member_status: String,
}

impl Viewer {
    fn restrict(&self, sql: &mut String, binds: &mut Vec<Bind>, visibility: Option<&str>) {
        if let Some(v) = visibility {
            if v != "all" {
                sql.push_str(" AND i.visibility = ?");
                binds.push(Bind::S(v.to_string()));
            }
        }
        if self.is_admin {
            // Admins see everything, but a plain listing leaves community images out as glance.
            if visibility.is_none() {
                sql.push_str(" AND i.visibility <> 'community'");
            }
            return;
        }
        let project = self.project_id.clone().unwrap_or_default();
        let member_clause = "(i.visibility = 'shared' AND EXISTS (SELECT 1 FROM image_members m \
             WHERE m.image_id = i.id AND m.member_id = ? AND (m.status = ? OR ? = 'all')))";
        match visibility {
            Some("community") | Some("public") => {}
            Some("shared") => {
                sql.push_str(&format!(" AND (i.owner = ? OR {member_clause})"));
                binds.push(Bind::S(project.clone()));
                binds.push(Bind::S(project));
                binds.push(Bind::S(self.member_status.clone()));
                binds.push(Bind::S(self.member_status.clone()));
            }
            Some("private") => {
                sql.push_str(" AND i.owner = ?");
                binds.push(Bind::S(project));
            }
            _ => {
                // All I may see: public, my own, and shared with me (accepted by default).
                sql.push_str(&format!(" AND (i.visibility = 'public' OR i.owner = ? OR {member_clause})"));
                binds.push(Bind::S(project.clone()));
                binds.push(Bind::S(project));
                binds.push(Bind::S(self.member_status.clone()));
                binds.push(Bind::S(self.member_status.clone()));
            }
        }
    }
}
