//! Where image data lives.
//!
//! Data always arrives in the local **incoming** area first: it streams to a temporary file
//! while md5 and sha512 are computed, is fsynced and inspected (inspection needs a local file),
//! and only then is handed to the [`ImageBackend`] — the store (glance_store's role). The
//! filesystem store keeps it as `<store dir>/<image id>` by an atomic rename; the object-storage
//! store ([`swift::SwiftBackend`]) uploads the verified file. A crash or an interrupted upload
//! never leaves partial data where a reader could find it.

pub mod swift;

use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;

use axum::body::Bytes;
use md5::{Digest as _, Md5};
use sha2::Sha512;
use stratus_core::auth::BoxFuture;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

/// A reader of stored image data.
pub type DataReader = Pin<Box<dyn AsyncRead + Send>>;

/// An image store: keeps verified data, serves it back, forgets it.
pub trait ImageBackend: Send + Sync + 'static {
    /// The store's id in `/v2/info/stores` and an image's `stores`.
    fn id(&self) -> &'static str;
    /// What `/v2/info/stores` says of the store.
    fn description(&self) -> String;
    /// The largest image the store can keep, if it has a limit of its own.
    fn max_size(&self) -> Option<u64> {
        None
    }
    /// Takes the verified local file `data` (whose md5 is `md5`, hex) as the data of image
    /// `id`; the file is consumed.
    fn put<'a>(&'a self, id: &'a str, data: &'a Path, md5: &'a str) -> BoxFuture<'a, io::Result<()>>;
    /// The size of image `id`'s data.
    fn size<'a>(&'a self, id: &'a str) -> BoxFuture<'a, io::Result<u64>>;
    /// Reads `len` bytes of image `id` from `offset`.
    fn open<'a>(&'a self, id: &'a str, offset: u64, len: u64) -> BoxFuture<'a, io::Result<DataReader>>;
    /// Removes image `id`'s data, if any.
    fn delete<'a>(&'a self, id: &'a str) -> BoxFuture<'a, ()>;
}

/// The filesystem store: `<dir>/<image id>`.
#[derive(Debug, Clone)]
pub struct FileBackend {
    dir: PathBuf,
}

impl FileBackend {
    pub fn open(dir: PathBuf) -> io::Result<FileBackend> {
        std::fs::create_dir_all(&dir)?;
        Ok(FileBackend { dir })
    }

    fn path(&self, id: &str) -> PathBuf {
        self.dir.join(id)
    }
}

impl ImageBackend for FileBackend {
    fn id(&self) -> &'static str {
        "file"
    }

    fn description(&self) -> String {
        "Filesystem store under the data dir".into()
    }

    fn put<'a>(&'a self, id: &'a str, data: &'a Path, _md5: &'a str) -> BoxFuture<'a, io::Result<()>> {
        Box::pin(async move {
            let dest = self.path(id);
            if let Err(e) = tokio::fs::rename(data, &dest).await {
                // Another filesystem: copy, fsync, then drop the source.
                if e.raw_os_error() != Some(18) {
                    return Err(e);
                }
                let tmp = self.dir.join(format!(".tmp-{id}-{}", uuid::Uuid::new_v4().simple()));
                tokio::fs::copy(data, &tmp).await?;
                tokio::fs::File::open(&tmp).await?.sync_all().await?;
                tokio::fs::rename(&tmp, &dest).await?;
                tokio::fs::remove_file(data).await.ok();
            }
            if let Ok(d) = tokio::fs::File::open(&self.dir).await {
                d.sync_all().await.ok();
            }
            Ok(())
        })
    }

    fn size<'a>(&'a self, id: &'a str) -> BoxFuture<'a, io::Result<u64>> {
        Box::pin(async move { Ok(tokio::fs::metadata(self.path(id)).await?.len()) })
    }

    fn open<'a>(&'a self, id: &'a str, offset: u64, len: u64) -> BoxFuture<'a, io::Result<DataReader>> {
        Box::pin(async move {
            let mut file = tokio::fs::File::open(self.path(id)).await?;
            if offset > 0 {
                file.seek(io::SeekFrom::Start(offset)).await?;
            }
            Ok(Box::pin(file.take(len)) as DataReader)
        })
    }

    fn delete<'a>(&'a self, id: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            tokio::fs::remove_file(self.path(id)).await.ok();
        })
    }
}

/// What a finished write produced.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredData {
    pub size: u64,
    pub virtual_size: Option<u64>,
    pub md5: String,
    pub sha512: String,
    /// The id of the store that holds the data.
    pub store: &'static str,
}

/// Why a write stopped.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("the image is larger than the {limit} bytes allowed")]
    TooLarge { limit: u64 },
    #[error("the upload was interrupted: {0}")]
    Interrupted(String),
    #[error("image store: {0}")]
    Io(#[from] io::Error),
}

/// A write in progress in the incoming area.
pub struct PendingWrite {
    tmp: PathBuf,
    file: tokio::fs::File,
    md5: Md5,
    sha512: Sha512,
    size: u64,
    limit: u64,
}

impl PendingWrite {
    pub async fn write(&mut self, chunk: Bytes) -> Result<(), WriteError> {
        self.size += chunk.len() as u64;
        if self.size > self.limit {
            return Err(WriteError::TooLarge { limit: self.limit });
        }
        self.md5.update(&chunk);
        self.sha512.update(&chunk);
        self.file.write_all(&chunk).await?;
        Ok(())
    }

    /// The data so far, on local disk, for inspection before commit.
    pub fn path(&self) -> &Path {
        &self.tmp
    }

    /// Flushes and fsyncs the data; the caller inspects it, then commits or aborts.
    pub async fn finish(&mut self) -> Result<(), WriteError> {
        self.file.flush().await?;
        self.file.sync_all().await?;
        Ok(())
    }

    /// Hands the verified data to the store as image `id`.
    pub async fn commit(
        self,
        backend: &dyn ImageBackend,
        id: &str,
        virtual_size: Option<u64>,
    ) -> Result<StoredData, WriteError> {
        let PendingWrite { tmp, file, md5, sha512, size, .. } = self;
        drop(file);
        let data = StoredData {
            size,
            virtual_size,
            md5: hex(&md5.finalize()),
            sha512: hex(&sha512.finalize()),
            store: backend.id(),
        };
        if let Err(e) = backend.put(id, &tmp, &data.md5).await {
            tokio::fs::remove_file(&tmp).await.ok();
            return Err(e.into());
        }
        Ok(data)
    }

    /// Keeps the data at `dest` in the incoming area (staged data waiting for an import).
    pub async fn commit_local(self, dest: &Path) -> Result<(), WriteError> {
        drop(self.file);
        tokio::fs::rename(&self.tmp, dest).await?;
        Ok(())
    }

    /// Throws the partial data away.
    pub async fn abort(self) {
        drop(self.file);
        tokio::fs::remove_file(&self.tmp).await.ok();
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The local incoming area: temporary files of writes in flight (`.tmp-<id>-<random>`) and
/// staged data of interoperable imports (`staging/<id>`).
#[derive(Debug, Clone)]
pub struct Incoming {
    dir: PathBuf,
}

impl Incoming {
    pub fn open(dir: PathBuf) -> io::Result<Incoming> {
        std::fs::create_dir_all(dir.join("staging"))?;
        let incoming = Incoming { dir };
        incoming.remove_leftovers();
        Ok(incoming)
    }

    /// Temporary files of writes that never finished (a crash) are removed at start.
    fn remove_leftovers(&self) {
        for dir in [self.dir.clone(), self.dir.join("staging")] {
            if let Ok(entries) = std::fs::read_dir(&dir) {
                for e in entries.flatten() {
                    if e.file_name().to_string_lossy().starts_with(".tmp-") {
                        std::fs::remove_file(e.path()).ok();
                    }
                }
            }
        }
    }

    pub fn staged_path(&self, id: &str) -> PathBuf {
        self.dir.join("staging").join(id)
    }

    async fn begin_in(&self, dir: PathBuf, id: &str, limit: u64) -> Result<PendingWrite, WriteError> {
        let tmp = dir.join(format!(".tmp-{id}-{}", uuid::Uuid::new_v4().simple()));
        let file = tokio::fs::OpenOptions::new().write(true).create_new(true).open(&tmp).await?;
        Ok(PendingWrite { tmp, file, md5: Md5::new(), sha512: Sha512::new(), size: 0, limit })
    }

    /// Starts receiving data for image `id`, refusing more than `limit` bytes.
    pub async fn begin(&self, id: &str, limit: u64) -> Result<PendingWrite, WriteError> {
        self.begin_in(self.dir.clone(), id, limit).await
    }

    /// Starts staging data for an import.
    pub async fn begin_staging(&self, id: &str, limit: u64) -> Result<PendingWrite, WriteError> {
        self.begin_in(self.dir.join("staging"), id, limit).await
    }

    pub async fn delete_staged(&self, id: &str) {
        tokio::fs::remove_file(self.staged_path(id)).await.ok();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir() -> PathBuf {
        std::env::temp_dir().join(format!("stratus-store-{}", uuid::Uuid::new_v4().simple()))
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[tokio::test]
    async fn write_hash_commit_and_read_back() {
        let dir = temp_dir();
        let incoming = Incoming::open(dir.join("incoming")).unwrap();
        let store = FileBackend::open(dir.clone()).unwrap();
        let mut w = incoming.begin("img", 1024).await.unwrap();
        w.write(Bytes::from_static(b"hello ")).await.unwrap();
        w.write(Bytes::from_static(b"world")).await.unwrap();
        assert!(store.size("img").await.is_err(), "nothing in the store before commit");
        w.finish().await.unwrap();
        let data = w.commit(&store, "img", None).await.unwrap();
        assert_eq!(data.size, 11);
        assert_eq!(data.store, "file");
        assert_eq!(data.md5, "5eb63bbbe01eeed093cb22bb8f5acdc3");
        assert!(data.sha512.starts_with("309ecc489c12d6eb4cc40f50c902f2b4d0ed77ee511a7c7a9bcd3ca86d4cd86f"));
        assert_eq!(store.size("img").await.unwrap(), 11);
        let mut part = String::new();
        store.open("img", 6, 5).await.unwrap().read_to_string(&mut part).await.unwrap();
        assert_eq!(part, "world");
        assert_eq!(names(&dir.join("incoming")), vec!["staging"], "nothing left in the incoming area");
        store.delete("img").await;
        assert!(store.size("img").await.is_err());
        std::fs::remove_dir_all(dir).ok();
    }

    #[tokio::test]
    async fn limits_and_aborts_leave_nothing() {
        let dir = temp_dir();
        let incoming = Incoming::open(dir.clone()).unwrap();
        let mut w = incoming.begin("big", 4).await.unwrap();
        assert!(matches!(
            w.write(Bytes::from_static(b"12345")).await,
            Err(WriteError::TooLarge { limit: 4 })
        ));
        w.abort().await;
        assert_eq!(names(&dir), vec!["staging"], "no partial file left");
        // A crash leftover is removed when the area opens again.
        std::fs::write(dir.join(".tmp-x-123"), b"partial").unwrap();
        Incoming::open(dir.clone()).unwrap();
        assert!(!dir.join(".tmp-x-123").exists());
        std::fs::remove_dir_all(dir).ok();
    }
}
