//! Objects on a device, in swift's hashed layout:
//! `<device>/objects/<partition>/<last 3 hex of hash>/<hash>/<timestamp>.{data,ts,meta}`.
//!
//! * `.data` — the object's bytes followed by its metadata (JSON) and a 16-byte trailer
//!   (JSON length, magic), so data and metadata become visible together;
//! * `.ts` — a tombstone: the object was deleted at that time;
//! * `.meta` — metadata set by a later POST.
//!
//! The newest `.data` or `.ts` in a hash directory is the object's state. Every file is
//! written under `<device>/tmp`, fsynced, renamed into place and the directory fsynced: a
//! crash leaves either the old state or the new one, never part of a file where a reader
//! looks. Older files are removed after the rename.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};

use crate::ring::{hash_path, ObjectRing};
use crate::timestamp::Timestamp;

const MAGIC: &[u8; 8] = b"STRTOBJ1";
const TRAILER: u64 = 16;
/// Bodies up to this size are kept in memory until the commit (one blocking call per PUT).
const BUFFER_LIMIT: usize = 1 << 20;
/// Objects up to this size are read whole with their metadata (one blocking call per GET).
pub const SMALL_READ: u64 = 64 * 1024;

/// What swift keeps with an object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectMeta {
    /// `/account/container/object`
    pub name: String,
    pub timestamp: Timestamp,
    pub size: u64,
    pub etag: String,
    pub content_type: String,
    /// User metadata (`x-object-meta-*`) and the other headers an object keeps
    /// (`content-disposition`, `content-encoding`, `x-delete-at`, `x-object-manifest`,
    /// `x-static-large-object`, `x-object-sysmeta-*`), lower-case names.
    pub headers: BTreeMap<String, String>,
}

/// Metadata set by a POST: replaces the user metadata, keeps system metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetaUpdate {
    pub timestamp: Timestamp,
    pub content_type: Option<String>,
    pub headers: BTreeMap<String, String>,
}

/// Headers a POST cannot change.
pub fn is_system_header(name: &str) -> bool {
    name.starts_with("x-object-sysmeta-") || name == "x-static-large-object"
}

impl ObjectMeta {
    fn apply(&mut self, update: MetaUpdate) {
        self.headers.retain(|k, _| is_system_header(k));
        self.headers.extend(update.headers.into_iter().filter(|(k, _)| !is_system_header(k)));
        if let Some(ct) = update.content_type {
            self.content_type = ct;
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    /// The unix time after which the object is gone (`X-Delete-At`).
    pub fn delete_at(&self) -> Option<u64> {
        self.header("x-delete-at").and_then(|v| v.parse().ok())
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Tombstone {
    name: String,
}

/// The state of one name on disk.
#[derive(Debug)]
pub enum OnDisk {
    Missing,
    Deleted(Timestamp),
    Present(StoredObject),
}

/// An object found on disk: its metadata and an open data file.
#[derive(Debug)]
pub struct StoredObject {
    pub meta: ObjectMeta,
    pub file: File,
    /// The whole data when the object is small, read in the same call.
    pub small: Option<Bytes>,
}

/// One entry of a scan of the device (repair).
#[derive(Debug)]
pub enum Scanned {
    Present(ObjectMeta),
    Deleted { name: String, timestamp: Timestamp },
}

/// The objects of this node's devices, placed by the ring.
pub struct Disk<R: ObjectRing> {
    ring: R,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn fsync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Creates `dir` and its missing parents, fsyncing each parent of a created directory.
fn create_dirs_durably(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        create_dirs_durably(parent)?;
    }
    match fs::create_dir(dir) {
        Ok(()) => {
            if let Some(parent) = dir.parent() {
                fsync_dir(parent)?;
            }
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

fn file_timestamp(name: &str) -> Option<(Timestamp, &str)> {
    let (ts, ext) = name.rsplit_once('.')?;
    Some((Timestamp::parse(ts)?, ext))
}

/// The files of a hash directory that matter: the newest `.data`/`.ts` and a newer `.meta`.
struct HashDirState {
    newest: Option<(Timestamp, bool, PathBuf)>,
    meta: Option<(Timestamp, PathBuf)>,
    all: Vec<(Timestamp, PathBuf)>,
}

fn read_hash_dir(dir: &Path) -> io::Result<Option<HashDirState>> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut state = HashDirState { newest: None, meta: None, all: vec![] };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some((ts, ext)) = file_timestamp(name) else { continue };
        let path = entry.path();
        match ext {
            "data" | "ts" => {
                if state.newest.as_ref().is_none_or(|(t, _, _)| ts > *t) {
                    state.newest = Some((ts, ext == "data", path.clone()));
                }
            }
            "meta" => {
                if state.meta.as_ref().is_none_or(|(t, _)| ts > *t) {
                    state.meta = Some((ts, path.clone()));
                }
            }
            _ => continue,
        }
        state.all.push((ts, path));
    }
    Ok(Some(state))
}

/// Reads the metadata trailer of a `.data` file; returns it and the data length.
fn read_trailer(file: &mut File) -> io::Result<(ObjectMeta, u64)> {
    let len = file.metadata()?.len();
    if len < TRAILER {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "object file without trailer"));
    }
    file.seek(SeekFrom::Start(len - TRAILER))?;
    let mut tail = [0u8; 16];
    file.read_exact(&mut tail)?;
    if &tail[8..] != MAGIC {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "object file with a bad trailer"));
    }
    let json_len = u64::from_le_bytes(tail[..8].try_into().expect("8 bytes"));
    if json_len + TRAILER > len {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "object file with a bad trailer length"));
    }
    let data_len = len - TRAILER - json_len;
    file.seek(SeekFrom::Start(data_len))?;
    let mut json = vec![0u8; json_len as usize];
    file.read_exact(&mut json)?;
    let meta: ObjectMeta =
        serde_json::from_slice(&json).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    file.seek(SeekFrom::Start(0))?;
    Ok((meta, data_len))
}

fn write_trailer(file: &mut File, meta: &ObjectMeta) -> io::Result<()> {
    let json = serde_json::to_vec(meta).map_err(io::Error::other)?;
    file.write_all(&json)?;
    file.write_all(&(json.len() as u64).to_le_bytes())?;
    file.write_all(MAGIC)
}

fn read_meta_file(path: &Path) -> io::Result<MetaUpdate> {
    serde_json::from_slice(&fs::read(path)?).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

impl<R: ObjectRing> Disk<R> {
    pub fn new(ring: R) -> Disk<R> {
        Disk { ring }
    }

    pub fn ring(&self) -> &R {
        &self.ring
    }

    fn device_root(&self, hash: &[u8; 16]) -> (u32, PathBuf) {
        let part = self.ring.partition(hash);
        let root = self.ring.devices(part).first().map(|d| d.root.clone()).expect("a ring has a device");
        (part, root)
    }

    fn hash_dir(&self, account: &str, container: &str, object: &str) -> (PathBuf, PathBuf) {
        let hash = hash_path(account, container, object);
        let (part, root) = self.device_root(&hash);
        let h = hex(&hash);
        let dir = root.join("objects").join(part.to_string()).join(&h[29..]).join(&h);
        (root, dir)
    }

    fn tmp_dir(root: &Path) -> PathBuf {
        root.join("tmp")
    }

    /// Every device's root (for the scan).
    fn roots(&self) -> Vec<PathBuf> {
        let mut roots: Vec<PathBuf> = vec![];
        for part in 0..(1u32 << self.ring.part_power()) {
            for d in self.ring.devices(part) {
                if !roots.contains(&d.root) {
                    roots.push(d.root.clone());
                }
            }
            if part > 0 && roots.len() == 1 {
                break;
            }
        }
        roots
    }

    /// Starts a write; data goes to memory, then to a temporary file once it is large.
    pub fn writer(&self, account: &str, container: &str, object: &str) -> ObjectWriter {
        let (root, dir) = self.hash_dir(account, container, object);
        ObjectWriter {
            tmp_dir: Self::tmp_dir(&root),
            dir,
            buf: Vec::new(),
            spill: None,
            md5: Md5::new(),
            size: 0,
        }
    }

    /// The current state of an object.
    pub fn open(&self, account: &str, container: &str, object: &str) -> io::Result<OnDisk> {
        let (_, dir) = self.hash_dir(account, container, object);
        let Some(state) = read_hash_dir(&dir)? else { return Ok(OnDisk::Missing) };
        let Some((ts, is_data, path)) = state.newest else { return Ok(OnDisk::Missing) };
        if !is_data {
            return Ok(OnDisk::Deleted(ts));
        }
        let mut file = match File::open(&path) {
            Ok(f) => f,
            // Replaced between the listing and the open: read again.
            Err(e) if e.kind() == io::ErrorKind::NotFound => return self.open(account, container, object),
            Err(e) => return Err(e),
        };
        let (mut meta, data_len) = read_trailer(&mut file)?;
        meta.size = data_len;
        if let Some((mts, mpath)) = state.meta {
            if mts > ts {
                if let Ok(update) = read_meta_file(&mpath) {
                    meta.apply(update);
                }
            }
        }
        let small = if data_len <= SMALL_READ {
            let mut buf = vec![0u8; data_len as usize];
            file.read_exact(&mut buf)?;
            file.seek(SeekFrom::Start(0))?;
            Some(Bytes::from(buf))
        } else {
            None
        };
        Ok(OnDisk::Present(StoredObject { meta, file, small }))
    }

    /// Marks an object deleted at `ts` (a tombstone), unless a newer state exists.
    pub fn delete(&self, account: &str, container: &str, object: &str, ts: Timestamp) -> io::Result<()> {
        let (root, dir) = self.hash_dir(account, container, object);
        let name = format!("/{account}/{container}/{object}");
        let body = serde_json::to_vec(&Tombstone { name }).map_err(io::Error::other)?;
        place_file(&Self::tmp_dir(&root), &dir, &format!("{}.ts", ts.normal()), &body)?;
        cleanup(&dir, ts)
    }

    /// Records a POST's metadata; fails with NotFound when the object does not exist.
    pub fn post(&self, account: &str, container: &str, object: &str, update: &MetaUpdate) -> io::Result<()> {
        let (root, dir) = self.hash_dir(account, container, object);
        let body = serde_json::to_vec(update).map_err(io::Error::other)?;
        place_file(&Self::tmp_dir(&root), &dir, &format!("{}.meta", update.timestamp.normal()), &body)?;
        // Older .meta files are superseded.
        if let Some(state) = read_hash_dir(&dir)? {
            for (ts, path) in state.all {
                if ts < update.timestamp && path.extension().is_some_and(|e| e == "meta") {
                    fs::remove_file(path).ok();
                }
            }
        }
        Ok(())
    }

    /// Every object and tombstone on this node's devices; removes stale temporary files.
    pub fn scan(&self) -> io::Result<Vec<Scanned>> {
        let mut out = vec![];
        for root in self.roots() {
            if let Ok(entries) = fs::read_dir(Self::tmp_dir(&root)) {
                for e in entries.flatten() {
                    fs::remove_file(e.path()).ok();
                }
            }
            let objects = root.join("objects");
            let Ok(parts) = fs::read_dir(&objects) else { continue };
            for part in parts.flatten() {
                let Ok(suffixes) = fs::read_dir(part.path()) else { continue };
                for suffix in suffixes.flatten() {
                    let Ok(hashes) = fs::read_dir(suffix.path()) else { continue };
                    for hash in hashes.flatten() {
                        if let Some(s) = scan_hash_dir(&hash.path())? {
                            out.push(s);
                        }
                    }
                }
            }
        }
        Ok(out)
    }
}

fn scan_hash_dir(dir: &Path) -> io::Result<Option<Scanned>> {
    let Some(state) = read_hash_dir(dir)? else { return Ok(None) };
    let Some((ts, is_data, path)) = state.newest else { return Ok(None) };
    if is_data {
        let mut file = File::open(&path)?;
        match read_trailer(&mut file) {
            Ok((mut meta, len)) => {
                meta.size = len;
                if let Some((mts, mpath)) = state.meta {
                    if mts > ts {
                        if let Ok(update) = read_meta_file(&mpath) {
                            meta.apply(update);
                        }
                    }
                }
                Ok(Some(Scanned::Present(meta)))
            }
            Err(e) => {
                // Cannot happen through this code (files are complete before the rename);
                // a damaged file is quarantined, as swift's auditor does.
                tracing::warn!(path = %path.display(), error = %e, "quarantining a damaged object file");
                fs::rename(&path, path.with_extension("quarantined")).ok();
                Ok(None)
            }
        }
    } else {
        let tomb: Tombstone = match fs::read(&path).map(|b| serde_json::from_slice(&b)) {
            Ok(Ok(t)) => t,
            _ => return Ok(None),
        };
        Ok(Some(Scanned::Deleted { name: tomb.name, timestamp: ts }))
    }
}

/// Writes `body` to `dir/name` durably: temporary file, fsync, rename, fsync of the directory.
fn place_file(tmp_dir: &Path, dir: &Path, name: &str, body: &[u8]) -> io::Result<()> {
    create_dirs_durably(tmp_dir)?;
    let tmp = tmp_dir.join(format!("{}.tmp", uuid::Uuid::new_v4().simple()));
    let result = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(body)?;
        f.sync_all()?;
        create_dirs_durably(dir)?;
        fs::rename(&tmp, dir.join(name))?;
        fsync_dir(dir)
    })();
    if result.is_err() {
        fs::remove_file(&tmp).ok();
    }
    result
}

/// Removes the files older than `ts` once a newer `.data` or `.ts` is in place.
fn cleanup(dir: &Path, ts: Timestamp) -> io::Result<()> {
    if let Some(state) = read_hash_dir(dir)? {
        for (t, path) in state.all {
            if t < ts {
                fs::remove_file(path).ok();
            }
        }
    }
    Ok(())
}

/// An object being written.
pub struct ObjectWriter {
    tmp_dir: PathBuf,
    dir: PathBuf,
    buf: Vec<u8>,
    spill: Option<(PathBuf, tokio::fs::File)>,
    md5: Md5,
    size: u64,
}

impl ObjectWriter {
    pub fn size(&self) -> u64 {
        self.size
    }

    pub async fn write(&mut self, chunk: &[u8]) -> io::Result<()> {
        use tokio::io::AsyncWriteExt;
        self.md5.update(chunk);
        self.size += chunk.len() as u64;
        if self.spill.is_none() && self.buf.len() + chunk.len() <= BUFFER_LIMIT {
            self.buf.extend_from_slice(chunk);
            return Ok(());
        }
        if self.spill.is_none() {
            let tmp_dir = self.tmp_dir.clone();
            let tmp = tmp_dir.join(format!("{}.tmp", uuid::Uuid::new_v4().simple()));
            let path = tmp.clone();
            let file = tokio::task::spawn_blocking(move || {
                create_dirs_durably(&tmp_dir)?;
                File::create(&path)
            })
            .await
            .map_err(io::Error::other)??;
            let mut file = tokio::fs::File::from_std(file);
            file.write_all(&std::mem::take(&mut self.buf)).await?;
            self.spill = Some((tmp, file));
        }
        let (_, file) = self.spill.as_mut().expect("spilled");
        file.write_all(chunk).await
    }

    /// The MD5 of what was written, hex.
    pub fn etag(&self) -> String {
        hex(&self.md5.clone().finalize())
    }

    /// Makes the object durable and visible with `meta`; older versions are removed.
    pub async fn commit(mut self, meta: &ObjectMeta) -> io::Result<()> {
        use tokio::io::AsyncWriteExt;
        let spill = match self.spill.take() {
            Some((path, mut file)) => {
                file.flush().await?;
                Some((path, file.into_std().await))
            }
            None => None,
        };
        let meta = meta.clone();
        let buf = std::mem::take(&mut self.buf);
        let tmp_dir = self.tmp_dir.clone();
        let dir = self.dir.clone();
        tokio::task::spawn_blocking(move || {
            let (tmp, mut file) = match spill {
                Some(s) => s,
                None => {
                    create_dirs_durably(&tmp_dir)?;
                    let tmp = tmp_dir.join(format!("{}.tmp", uuid::Uuid::new_v4().simple()));
                    let mut f = File::create(&tmp)?;
                    f.write_all(&buf)?;
                    (tmp, f)
                }
            };
            let result = (|| {
                write_trailer(&mut file, &meta)?;
                file.sync_all()?;
                drop(file);
                create_dirs_durably(&dir)?;
                fs::rename(&tmp, dir.join(format!("{}.data", meta.timestamp.normal())))?;
                fsync_dir(&dir)?;
                cleanup(&dir, meta.timestamp)
            })();
            if result.is_err() {
                fs::remove_file(&tmp).ok();
            }
            result
        })
        .await
        .map_err(io::Error::other)?
    }
}

impl Drop for ObjectWriter {
    fn drop(&mut self) {
        // An abandoned write (client gone, bad ETag, over quota) leaves nothing behind.
        if let Some((path, _)) = self.spill.take() {
            fs::remove_file(path).ok();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ring::LocalRing;

    fn disk(name: &str) -> (Disk<LocalRing>, PathBuf) {
        let root = std::env::temp_dir().join(format!("stratus-disk-{name}-{}", std::process::id()));
        fs::remove_dir_all(&root).ok();
        (Disk::new(LocalRing::new(root.clone(), 4)), root)
    }

    fn meta(name: &str, ts: Timestamp, etag: String) -> ObjectMeta {
        ObjectMeta {
            name: name.into(),
            timestamp: ts,
            size: 0,
            etag,
            content_type: "text/plain".into(),
            headers: BTreeMap::from([("x-object-meta-a".to_string(), "1".to_string())]),
        }
    }

    async fn put(d: &Disk<LocalRing>, obj: &str, data: &[u8]) -> Timestamp {
        let mut w = d.writer("AUTH_a", "c", obj);
        for chunk in data.chunks(300_000) {
            w.write(chunk).await.unwrap();
        }
        let ts = Timestamp::now();
        let m = meta(&format!("/AUTH_a/c/{obj}"), ts, w.etag());
        w.commit(&m).await.unwrap();
        ts
    }

    #[tokio::test]
    async fn write_read_overwrite_delete() {
        let (d, root) = disk("rw");
        put(&d, "o", b"hello").await;
        let OnDisk::Present(o) = d.open("AUTH_a", "c", "o").unwrap() else { panic!("missing") };
        assert_eq!(o.small.as_deref(), Some(&b"hello"[..]));
        assert_eq!(o.meta.size, 5);
        assert_eq!(o.meta.etag, "5d41402abc4b2a76b9719d911017c592");

        // Large: spilled to a temporary file, the trailer after it.
        let big = vec![7u8; 3 * 1024 * 1024 + 5];
        let ts = put(&d, "o", &big).await;
        let OnDisk::Present(mut o) = d.open("AUTH_a", "c", "o").unwrap() else { panic!("missing") };
        assert!(o.small.is_none());
        assert_eq!(o.meta.size, big.len() as u64);
        let mut back = vec![0u8; big.len()];
        o.file.read_exact(&mut back).unwrap();
        assert_eq!(back, big);
        // One file in the hash dir, nothing left in tmp.
        let (_, dir) = d.hash_dir("AUTH_a", "c", "o");
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
        assert_eq!(fs::read_dir(root.join("tmp")).unwrap().count(), 0);

        let update = MetaUpdate {
            timestamp: Timestamp::now(),
            content_type: Some("image/png".into()),
            headers: BTreeMap::from([("x-object-meta-b".to_string(), "2".to_string())]),
        };
        d.post("AUTH_a", "c", "o", &update).unwrap();
        let OnDisk::Present(o) = d.open("AUTH_a", "c", "o").unwrap() else { panic!("missing") };
        assert_eq!(o.meta.content_type, "image/png");
        assert_eq!(o.meta.header("x-object-meta-b"), Some("2"));
        assert_eq!(o.meta.header("x-object-meta-a"), None, "a POST replaces user metadata");
        assert_eq!(o.meta.timestamp, ts);

        let del = Timestamp::now();
        d.delete("AUTH_a", "c", "o", del).unwrap();
        assert!(matches!(d.open("AUTH_a", "c", "o").unwrap(), OnDisk::Deleted(t) if t == del));
        let scanned = d.scan().unwrap();
        assert!(matches!(&scanned[..], [Scanned::Deleted { name, .. }] if name == "/AUTH_a/c/o"));
        fs::remove_dir_all(root).ok();
    }

    #[tokio::test]
    async fn abandoned_writes_leave_nothing() {
        let (d, root) = disk("abandon");
        let mut w = d.writer("AUTH_a", "c", "o");
        w.write(&vec![1u8; 2 * 1024 * 1024]).await.unwrap();
        assert_eq!(fs::read_dir(root.join("tmp")).unwrap().count(), 1);
        drop(w);
        assert_eq!(fs::read_dir(root.join("tmp")).unwrap().count(), 0);
        assert!(matches!(d.open("AUTH_a", "c", "o").unwrap(), OnDisk::Missing));
        fs::remove_dir_all(root).ok();
    }

    #[tokio::test]
    async fn scan_finds_objects_and_drops_temporary_files() {
        let (d, root) = disk("scan");
        put(&d, "a", b"1").await;
        put(&d, "b/c", b"22").await;
        fs::write(root.join("tmp").join("leftover.tmp"), b"partial").unwrap();
        let mut names: Vec<(String, u64)> = d
            .scan()
            .unwrap()
            .into_iter()
            .filter_map(|s| match s {
                Scanned::Present(m) => Some((m.name, m.size)),
                _ => None,
            })
            .collect();
        names.sort();
        assert_eq!(names, vec![("/AUTH_a/c/a".to_string(), 1), ("/AUTH_a/c/b/c".to_string(), 2)]);
        assert_eq!(fs::read_dir(root.join("tmp")).unwrap().count(), 0);
        fs::remove_dir_all(root).ok();
    }
}
