//! Where image data lives. [`ImageBackend`] is the store interface (glance_store's role); the
//! filesystem store is the default, and an object-storage store can implement the same trait.
//!
//! Writes stream to a temporary file beside the final one while computing md5 and sha512, are
//! fsynced, inspected, and only then atomically renamed into place: a crash or an interrupted
//! upload never leaves a partial image where a reader could find it.

use std::path::{Path, PathBuf};

use axum::body::Bytes;
use md5::{Digest as _, Md5};
use sha2::Sha512;
use tokio::io::AsyncWriteExt;

/// What a finished write produced.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredData {
    pub size: u64,
    pub virtual_size: Option<u64>,
    pub md5: String,
    pub sha512: String,
}

/// Why a write stopped.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("the image is larger than the {limit} bytes allowed")]
    TooLarge { limit: u64 },
    #[error("the upload was interrupted: {0}")]
    Interrupted(String),
    #[error("{0}")]
    BadData(String),
    #[error("image store: {0}")]
    Io(#[from] std::io::Error),
}

/// A write in progress: data goes to a temporary file until [`PendingWrite::commit`].
pub struct PendingWrite {
    tmp: PathBuf,
    dest: PathBuf,
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

    pub fn size(&self) -> u64 {
        self.size
    }

    /// The data so far, on disk, for inspection before commit.
    pub fn path(&self) -> &Path {
        &self.tmp
    }

    /// Flushes and fsyncs the data; the caller inspects it, then commits or aborts.
    pub async fn finish(&mut self) -> Result<(), WriteError> {
        self.file.flush().await?;
        self.file.sync_all().await?;
        Ok(())
    }

    /// Moves the data into place and returns what was stored.
    pub async fn commit(self, virtual_size: Option<u64>) -> Result<StoredData, WriteError> {
        let PendingWrite { tmp, dest, file, md5, sha512, size, .. } = self;
        drop(file);
        tokio::fs::rename(&tmp, &dest).await?;
        if let Some(dir) = dest.parent() {
            if let Ok(d) = tokio::fs::File::open(dir).await {
                d.sync_all().await.ok();
            }
        }
        Ok(StoredData { size, virtual_size, md5: hex(&md5.finalize()), sha512: hex(&sha512.finalize()) })
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

/// The filesystem store: `<dir>/<image id>`; temporary files are `<dir>/.tmp-<id>-<random>`.
#[derive(Debug, Clone)]
pub struct FileStore {
    dir: PathBuf,
}

/// Where staged data (interoperable import) waits: `<dir>/staging/<id>`.
const STAGING: &str = "staging";

impl FileStore {
    pub fn open(dir: PathBuf) -> std::io::Result<FileStore> {
        std::fs::create_dir_all(dir.join(STAGING))?;
        let store = FileStore { dir };
        store.remove_leftovers();
        Ok(store)
    }

    /// Temporary files of writes that never finished (a crash) are removed at start.
    fn remove_leftovers(&self) {
        for dir in [self.dir.clone(), self.dir.join(STAGING)] {
            if let Ok(entries) = std::fs::read_dir(&dir) {
                for e in entries.flatten() {
                    if e.file_name().to_string_lossy().starts_with(".tmp-") {
                        std::fs::remove_file(e.path()).ok();
                    }
                }
            }
        }
    }

    pub fn path(&self, id: &str) -> PathBuf {
        self.dir.join(id)
    }

    pub fn staged_path(&self, id: &str) -> PathBuf {
        self.dir.join(STAGING).join(id)
    }

    async fn begin_at(&self, dir: PathBuf, id: &str, limit: u64) -> Result<PendingWrite, WriteError> {
        let tmp = dir.join(format!(".tmp-{id}-{}", uuid::Uuid::new_v4().simple()));
        let file = tokio::fs::OpenOptions::new().write(true).create_new(true).open(&tmp).await?;
        Ok(PendingWrite {
            tmp,
            dest: dir.join(id),
            file,
            md5: Md5::new(),
            sha512: Sha512::new(),
            size: 0,
            limit,
        })
    }

    /// Starts writing the data of image `id`, refusing more than `limit` bytes.
    pub async fn begin(&self, id: &str, limit: u64) -> Result<PendingWrite, WriteError> {
        self.begin_at(self.dir.clone(), id, limit).await
    }

    /// Starts staging data for an import.
    pub async fn begin_staging(&self, id: &str, limit: u64) -> Result<PendingWrite, WriteError> {
        self.begin_at(self.dir.join(STAGING), id, limit).await
    }

    pub async fn delete(&self, id: &str) {
        tokio::fs::remove_file(self.path(id)).await.ok();
        tokio::fs::remove_file(self.staged_path(id)).await.ok();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir() -> PathBuf {
        std::env::temp_dir().join(format!("stratus-store-{}", uuid::Uuid::new_v4().simple()))
    }

    #[tokio::test]
    async fn write_hash_and_commit() {
        let dir = temp_dir();
        let store = FileStore::open(dir.clone()).unwrap();
        let mut w = store.begin("img", 1024).await.unwrap();
        w.write(Bytes::from_static(b"hello ")).await.unwrap();
        w.write(Bytes::from_static(b"world")).await.unwrap();
        assert!(!store.path("img").exists(), "nothing visible before commit");
        w.finish().await.unwrap();
        let data = w.commit(None).await.unwrap();
        assert_eq!(data.size, 11);
        assert_eq!(data.md5, "5eb63bbbe01eeed093cb22bb8f5acdc3");
        assert!(data.sha512.starts_with("309ecc489c12d6eb4cc40f50c902f2b4d0ed77ee511a7c7a9bcd3ca86d4cd86f"));
        assert_eq!(std::fs::read(store.path("img")).unwrap(), b"hello world");
        std::fs::remove_dir_all(dir).ok();
    }

    #[tokio::test]
    async fn limits_and_aborts_leave_nothing() {
        let dir = temp_dir();
        let store = FileStore::open(dir.clone()).unwrap();
        let mut w = store.begin("big", 4).await.unwrap();
        assert!(matches!(
            w.write(Bytes::from_static(b"12345")).await,
            Err(WriteError::TooLarge { limit: 4 })
        ));
        w.abort().await;
        let names: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("staging")], "no partial file left");
        // A crash leftover is removed when the store opens again.
        std::fs::write(dir.join(".tmp-x-123"), b"partial").unwrap();
        FileStore::open(dir.clone()).unwrap();
        assert!(!dir.join(".tmp-x-123").exists());
        std::fs::remove_dir_all(dir).ok();
    }
}
