//! The object-storage service (swift's proxy and its account, container and object servers
//! in one): the rules of every operation, free of HTTP. Object data goes to the devices the
//! ring names (`disk`), listings to SQLite (`listing`); a write is durable on disk before it
//! is listed, a delete leaves a tombstone before it is unlisted, and a start after a crash
//! reconciles the two (`repair`).

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use stratus_core::config::Config;
use stratus_core::http::Shutdown;

use crate::access::Access;
use crate::disk::{Disk, MetaUpdate, ObjectMeta, OnDisk, Scanned, StoredObject};
use crate::error::{io as io_error, not_found, too_large, unprocessable, SwiftError, SwiftResult};
use crate::listing::{AccountInfo, ContainerInfo, Listings, Metadata, ObjectRow};
use crate::ring::LocalRing;
use crate::timestamp::{unix_now, Timestamp};

const CLEAN_MARKER: &str = "clean-shutdown";

pub struct ObjectStorage {
    pub config: Config,
    pub disk: Arc<Disk<LocalRing>>,
    pub listings: Listings,
    pub access: Access,
    root: PathBuf,
}

/// What a PUT brings besides its body.
#[derive(Debug, Clone, Default)]
pub struct NewObject {
    pub content_type: String,
    /// Headers the object keeps (user metadata, content-disposition …), lower-case.
    pub headers: BTreeMap<String, String>,
    /// The ETag the client computed; a mismatch is 422 and nothing is stored.
    pub etag: Option<String>,
    pub content_length: Option<u64>,
}

/// A stream of body chunks.
pub type BodyStream = std::pin::Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

impl ObjectStorage {
    pub async fn open(config: Config) -> anyhow::Result<Arc<ObjectStorage>> {
        let root = config.object_storage_root();
        std::fs::create_dir_all(&root)?;
        let listings = Listings::open(&root.join("listings.db")).await?;
        let disk = Arc::new(Disk::new(LocalRing::new(root.clone(), config.object_storage.part_power)));
        let access = Access::new(&config.object_storage);
        let service = ObjectStorage { config, disk, listings, access, root };
        let marker = service.root.join(CLEAN_MARKER);
        if marker.exists() {
            std::fs::remove_file(&marker)?;
        } else {
            service.repair().await?;
        }
        Ok(Arc::new(service))
    }

    /// Records a clean shutdown: the next start need not reconcile the listings with the disk.
    pub async fn close(&self) {
        self.listings.close().await;
        if let Err(e) = std::fs::write(self.root.join(CLEAN_MARKER), b"") {
            tracing::warn!(error = %e, "cannot record the clean shutdown of object storage");
        }
    }

    pub fn max_file_size(&self) -> u64 {
        self.config.object_storage.max_file_size
    }

    /// After an unclean stop: every object on disk is listed as it is on disk, every listed
    /// object without data (or with a newer tombstone) is unlisted, counts are recomputed.
    pub async fn repair(&self) -> anyhow::Result<RepairReport> {
        let started = std::time::Instant::now();
        let disk = self.disk.clone();
        let scanned = tokio::task::spawn_blocking(move || disk.scan()).await??;
        let mut listed: HashMap<(String, String, String), ObjectRow> = self
            .listings
            .all_objects()
            .await?
            .into_iter()
            .map(|(a, c, row)| ((a, c, row.name.clone()), row))
            .collect();
        let mut report = RepairReport::default();
        for entry in scanned {
            match entry {
                Scanned::Present(meta) => {
                    let Some((a, c, o)) = split_name(&meta.name) else { continue };
                    let key = (a.to_string(), c.to_string(), o.to_string());
                    let row = row_of(o, &meta);
                    let same = listed.remove(&key).is_some_and(|old| old == row);
                    if !same {
                        if self.listings.container(a, c).await?.is_none() {
                            self.listings.create_container(a, c, &Metadata::new()).await?;
                        }
                        self.listings.put_object(a, c, &row, meta.delete_at()).await?;
                        report.relisted += 1;
                    }
                }
                Scanned::Deleted { name, timestamp } => {
                    let Some((a, c, o)) = split_name(&name) else { continue };
                    let key = (a.to_string(), c.to_string(), o.to_string());
                    if listed.remove(&key).is_some() {
                        self.listings.delete_object(a, c, o, timestamp).await?;
                        report.unlisted += 1;
                    }
                }
            }
        }
        for ((a, c, o), row) in listed {
            self.listings.delete_object(&a, &c, &o, row.timestamp).await?;
            report.unlisted += 1;
        }
        self.listings.recount().await?;
        tracing::info!(
            relisted = report.relisted,
            unlisted = report.unlisted,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "object storage: listings reconciled with the disk"
        );
        Ok(report)
    }

    // ---- accounts and containers ----

    pub async fn account(&self, account: &str) -> SwiftResult<AccountInfo> {
        Ok(self.listings.account(account).await?)
    }

    pub async fn container(&self, account: &str, container: &str) -> SwiftResult<ContainerInfo> {
        self.listings.container(account, container).await?.ok_or_else(not_found)
    }

    // ---- objects ----

    /// The current version of an object (404 when missing, deleted or expired).
    pub async fn get_object(
        &self,
        account: &str,
        container: &str,
        object: &str,
    ) -> SwiftResult<StoredObject> {
        let (a, c, o) = (account.to_string(), container.to_string(), object.to_string());
        let disk = self.disk_handle();
        let found = tokio::task::spawn_blocking(move || disk.open(&a, &c, &o))
            .await
            .map_err(SwiftError::internal)?
            .map_err(io_error)?;
        match found {
            OnDisk::Present(obj) if obj.meta.delete_at().is_none_or(|at| at > unix_now()) => Ok(obj),
            _ => Err(not_found()),
        }
    }

    fn disk_handle(&self) -> Arc<Disk<LocalRing>> {
        self.disk.clone()
    }

    /// Stores an object: streamed to disk, checked (size, ETag, quotas), made durable, listed.
    /// A versioned container first keeps the version it replaces.
    pub async fn put_object(
        &self,
        account: &str,
        container: &str,
        object: &str,
        new: NewObject,
        body: BodyStream,
    ) -> SwiftResult<ObjectMeta> {
        self.store(account, container, object, new, body, true).await
    }

    /// [`put_object`](Self::put_object), with or without versioning.
    pub async fn store(
        &self,
        account: &str,
        container: &str,
        object: &str,
        new: NewObject,
        mut body: BodyStream,
        versioned: bool,
    ) -> SwiftResult<ObjectMeta> {
        let cont = self.container(account, container).await?;
        let max = self.max_file_size();
        if new.content_length.is_some_and(|len| len > max) {
            return Err(too_large(format!("Your request is too large; max object size is {max} bytes.")));
        }
        if let Some(len) = new.content_length {
            self.check_quotas(account, &cont, len).await?;
        }
        let mut writer = self.disk.writer(account, container, object);
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| {
                SwiftError::new(
                    axum::http::StatusCode::REQUEST_TIMEOUT,
                    format!("The upload did not finish: {e}"),
                )
            })?;
            if writer.size() + chunk.len() as u64 > max {
                return Err(too_large(format!("Your request is too large; max object size is {max} bytes.")));
            }
            writer.write(&chunk).await.map_err(io_error)?;
        }
        if let Some(len) = new.content_length {
            if writer.size() != len {
                return Err(SwiftError::new(
                    axum::http::StatusCode::REQUEST_TIMEOUT,
                    "The body was shorter than its Content-Length.",
                ));
            }
        }
        let etag = writer.etag();
        if let Some(expected) = &new.etag {
            if !expected.trim_matches('"').eq_ignore_ascii_case(&etag) {
                return Err(unprocessable("The ETag you sent does not match the MD5 of the data received."));
            }
        }
        if new.content_length.is_none() {
            self.check_quotas(account, &cont, writer.size()).await?;
        }
        if versioned {
            crate::versioning::before_overwrite(self, account, &cont, object).await?;
        }
        let meta = ObjectMeta {
            name: format!("/{account}/{container}/{object}"),
            timestamp: Timestamp::now(),
            size: writer.size(),
            etag,
            content_type: new.content_type,
            headers: new.headers,
        };
        writer.commit(&meta).await.map_err(io_error)?;
        self.listings.put_object(account, container, &row_of(object, &meta), meta.delete_at()).await?;
        Ok(meta)
    }

    async fn check_quotas(&self, account: &str, cont: &ContainerInfo, adding: u64) -> SwiftResult<()> {
        let exceeded = || too_large("Upload exceeds quota.");
        let quota = |m: &Metadata, k: &str| m.get(k).and_then(|v| v.parse::<u64>().ok());
        if let Some(q) = quota(&cont.metadata, "x-container-meta-quota-bytes") {
            if cont.bytes_used + adding > q {
                return Err(exceeded());
            }
        }
        if let Some(q) = quota(&cont.metadata, "x-container-meta-quota-count") {
            if cont.object_count + 1 > q {
                return Err(exceeded());
            }
        }
        // The account's totals are summed only when it has a quota.
        let metadata = self.listings.account_metadata(account).await?;
        if let Some(q) = quota(&metadata, "x-account-meta-quota-bytes") {
            if self.listings.account(account).await?.bytes_used + adding > q {
                return Err(exceeded());
            }
        }
        Ok(())
    }

    /// Replaces an object's metadata (swift's POST).
    pub async fn post_object(
        &self,
        account: &str,
        container: &str,
        object: &str,
        content_type: Option<String>,
        headers: BTreeMap<String, String>,
    ) -> SwiftResult<()> {
        let current = self.get_object(account, container, object).await?;
        let update = MetaUpdate { timestamp: Timestamp::now(), content_type, headers };
        let (a, c, o, u) = (account.to_string(), container.to_string(), object.to_string(), update.clone());
        let disk = self.disk_handle();
        tokio::task::spawn_blocking(move || disk.post(&a, &c, &o, &u))
            .await
            .map_err(SwiftError::internal)?
            .map_err(io_error)?;
        let delete_at = update.headers.get("x-delete-at").and_then(|v| v.parse().ok());
        let mut row = row_of(object, &current.meta);
        if let Some(ct) = &update.content_type {
            row.content_type = ct.clone();
        }
        self.listings.put_object(account, container, &row, delete_at).await?;
        Ok(())
    }

    /// Deletes an object (404 when there is none); versioned containers keep or restore
    /// versions first.
    pub async fn delete_object(&self, account: &str, container: &str, object: &str) -> SwiftResult<()> {
        let cont = self.listings.container(account, container).await?;
        if let Some(cont) = &cont {
            if crate::versioning::on_delete(self, account, cont, object).await? {
                return Ok(());
            }
        }
        self.remove_object(account, container, object).await
    }

    /// Deletes the current version, without versioning.
    pub async fn remove_object(&self, account: &str, container: &str, object: &str) -> SwiftResult<()> {
        let (a, c, o) = (account.to_string(), container.to_string(), object.to_string());
        let disk = self.disk_handle();
        let ts = Timestamp::now();
        let existed = tokio::task::spawn_blocking(move || -> io::Result<bool> {
            let existed = matches!(disk.open(&a, &c, &o)?, OnDisk::Present(_));
            if existed {
                disk.delete(&a, &c, &o, ts)?;
            }
            Ok(existed)
        })
        .await
        .map_err(SwiftError::internal)?
        .map_err(io_error)?;
        if !existed {
            // Unlist anything stale, then say so.
            self.listings.delete_object(account, container, object, ts).await?;
            return Err(not_found());
        }
        self.listings.delete_object(account, container, object, ts).await?;
        Ok(())
    }

    /// The object expirer: deletes objects whose `X-Delete-At` has passed.
    pub async fn expire_due(&self) -> anyhow::Result<usize> {
        let mut removed = 0;
        loop {
            let due = self.listings.due(unix_now(), 500).await?;
            if due.is_empty() {
                return Ok(removed);
            }
            for (at, a, c, o) in due {
                let disk = self.disk_handle();
                let (a2, c2, o2) = (a.clone(), c.clone(), o.clone());
                let still = match tokio::task::spawn_blocking(move || disk.open(&a2, &c2, &o2)).await {
                    Ok(Ok(OnDisk::Present(obj))) => obj.meta.delete_at() == Some(at),
                    _ => false,
                };
                if still && self.remove_object(&a, &c, &o).await.is_ok() {
                    removed += 1;
                }
                self.listings.forget_expiring(at, &a, &c, &o).await?;
            }
        }
    }

    pub fn spawn_expirer(self: Arc<Self>, shutdown: Shutdown) -> tokio::task::JoinHandle<anyhow::Result<()>> {
        let every = std::time::Duration::from_secs(self.config.object_storage.expirer_interval.max(1));
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = shutdown.clone().wait() => return Ok(()),
                    _ = tokio::time::sleep(every) => {}
                }
                match self.expire_due().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(objects = n, "object expirer removed expired objects"),
                    Err(e) => tracing::warn!(error = %e, "object expirer"),
                }
            }
        })
    }
}

/// The bytes `[start, start + len)` of a stored object as a stream (the whole object for
/// `None`).
pub fn body_of(obj: StoredObject, range: Option<(u64, u64)>) -> BodyStream {
    let (start, len) = range.unwrap_or((0, obj.meta.size));
    if let Some(small) = obj.small {
        let end = (start + len).min(small.len() as u64) as usize;
        let part = small.slice(start.min(end as u64) as usize..end);
        return Box::pin(futures_util::stream::once(async move { Ok(part) }));
    }
    let file = obj.file;
    Box::pin(
        futures_util::stream::once(async move {
            use tokio::io::{AsyncReadExt, AsyncSeekExt};
            let mut file = tokio::fs::File::from_std(file);
            file.seek(io::SeekFrom::Start(start)).await?;
            Ok::<_, io::Error>(tokio_util::io::ReaderStream::with_capacity(file.take(len), 256 * 1024))
        })
        .map(|r| match r {
            Ok(s) => s.left_stream(),
            Err(e) => futures_util::stream::once(async move { Err(e) }).right_stream(),
        })
        .flatten(),
    )
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct RepairReport {
    pub relisted: usize,
    pub unlisted: usize,
}

/// `/account/container/object` → its three parts.
pub fn split_name(name: &str) -> Option<(&str, &str, &str)> {
    let mut parts = name.strip_prefix('/')?.splitn(3, '/');
    Some((parts.next()?, parts.next()?, parts.next()?))
}

pub fn row_of(object: &str, meta: &ObjectMeta) -> ObjectRow {
    ObjectRow {
        name: object.to_string(),
        timestamp: meta.timestamp,
        size: meta.header("x-object-sysmeta-slo-size").and_then(|s| s.parse().ok()).unwrap_or(meta.size),
        etag: listed_etag(meta),
        content_type: meta.content_type.clone(),
    }
}

/// The ETag a listing shows: a static large object's is that of its segments' ETags.
fn listed_etag(meta: &ObjectMeta) -> String {
    meta.header("x-object-sysmeta-slo-etag").map(str::to_string).unwrap_or_else(|| meta.etag.clone())
}
