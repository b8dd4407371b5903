//! Fernet key repositories in keystone's on-disk layout (keystone `common/fernet_utils.py`).
//!
//! A repository is a directory of files named by a non-negative integer, each holding one
//! urlsafe-base64 32-byte Fernet key. Key `0` is the *staged* key: it decrypts but never
//! encrypts, and becomes the next primary on rotation. The highest index is the *primary* key,
//! used to encrypt. Every other index is a *secondary* key, kept to decrypt tokens issued
//! before the last rotations. Files with other names, and empty files, are ignored.
//!
//! Because every node decrypts with the staged key too, a rotated repository can be copied to
//! the other nodes at leisure: tokens from the node that rotated first still validate
//! everywhere. Rotating twice without syncing breaks that, as with keystone.
//!
//! Rotation is not safe to run concurrently with itself on one directory (neither is
//! `keystone-manage fernet_rotate`).

use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use fernet::Fernet;

use super::TokenError;

/// Keystone's default `[fernet_tokens] max_active_keys`.
pub const DEFAULT_MAX_ACTIVE_KEYS: usize = 3;

/// Index of the staged key.
pub const STAGED_KEY: u64 = 0;

/// Where a new staged key is written before it is renamed into place.
const TMP_KEY_FILE: &str = "0.tmp";

/// A key file is 44 bytes; anything much larger is not a key.
const MAX_KEY_FILE_LEN: u64 = 4096;

/// A Fernet key repository directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRepository {
    pub dir: PathBuf,
    /// How many keys rotation keeps, the staged key included (keystone's
    /// `[fernet_tokens] max_active_keys`, default 3, minimum 1).
    pub max_active_keys: usize,
}

/// What [`KeyRepository::setup`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetupOutcome {
    /// Keys 0 (staged) and 1 (primary) were created.
    Created,
    /// Key 0 already existed; nothing was touched.
    AlreadyInitialized,
}

/// What [`KeyRepository::rotate`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RotationReport {
    /// The primary before rotation.
    pub previous_primary: u64,
    /// The former staged key's new index, now the primary.
    pub new_primary: u64,
    /// Indexes of the secondary keys deleted, oldest first.
    pub purged: Vec<u64>,
    /// Indexes left in the repository, primary first, the new staged key `0` last.
    pub active: Vec<u64>,
}

/// One key read from a repository. Its key material is never printed.
#[derive(Clone)]
pub struct LoadedKey {
    index: u64,
    fernet: Fernet,
}

impl LoadedKey {
    /// The key's file name as a number.
    pub fn index(&self) -> u64 {
        self.index
    }

    pub(crate) fn fernet(&self) -> &Fernet {
        &self.fernet
    }
}

impl std::fmt::Debug for LoadedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedKey").field("index", &self.index).finish_non_exhaustive()
    }
}

impl KeyRepository {
    /// A repository at `dir` with keystone's default `max_active_keys` of 3.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into(), max_active_keys: DEFAULT_MAX_ACTIVE_KEYS }
    }

    pub fn with_max_active_keys(mut self, max_active_keys: usize) -> Self {
        self.max_active_keys = max_active_keys;
        self
    }

    /// Create the directory (mode 0700) if needed and bootstrap it with a staged key `0` and
    /// a primary key `1`. Like `keystone-manage fernet_setup`, this does nothing when key `0`
    /// already exists, so it is safe to run on every start.
    pub fn setup(&self) -> Result<SetupOutcome, TokenError> {
        self.check_config()?;
        if !self.dir.exists() {
            create_private_dir(&self.dir)?;
            tracing::info!(dir = %self.dir.display(), "created Fernet key repository");
        }
        if self.key_path(STAGED_KEY).exists() {
            return Ok(SetupOutcome::AlreadyInitialized);
        }
        self.write_tmp_key()?;
        self.promote_tmp_key()?;
        self.rotate()?;
        Ok(SetupOutcome::Created)
    }

    /// Rotate like `keystone-manage fernet_rotate`: the staged key `0` becomes the primary
    /// under index `max + 1`, a fresh staged key `0` is created, and the oldest secondary keys
    /// are deleted until `max_active_keys` keys remain (with `max_active_keys = 1` keystone
    /// keeps only the new staged key, and so does this).
    pub fn rotate(&self) -> Result<RotationReport, TokenError> {
        self.check_config()?;
        let mut indexes = self.key_indexes()?;
        if indexes.is_empty() {
            return Err(TokenError::NoKeys(self.dir.clone()));
        }
        if indexes.first() != Some(&STAGED_KEY) {
            return Err(TokenError::Repository {
                path: self.dir.clone(),
                reason: "there is no staged key 0 to promote; run setup first".into(),
            });
        }
        let previous_primary = *indexes.last().expect("not empty");
        let new_primary = previous_primary.checked_add(1).ok_or_else(|| TokenError::Repository {
            path: self.dir.clone(),
            reason: "key index overflow".into(),
        })?;

        // Write the next staged key first so that a failure leaves the repository as it was.
        self.write_tmp_key()?;
        let staged = self.key_path(STAGED_KEY);
        let promoted = self.key_path(new_primary);
        fs::rename(&staged, &promoted).map_err(|e| io_error(&promoted, e))?;
        self.promote_tmp_key()?;

        // Keep the newest `max_active_keys - 1` non-staged keys.
        indexes.remove(0);
        indexes.push(new_primary);
        let keep = self.max_active_keys - 1;
        let excess = indexes.len().saturating_sub(keep);
        let purged: Vec<u64> = indexes.drain(..excess).collect();
        for index in &purged {
            let path = self.key_path(*index);
            fs::remove_file(&path).map_err(|e| io_error(&path, e))?;
        }
        sync_dir(&self.dir);

        let mut active: Vec<u64> = indexes.into_iter().rev().collect();
        active.push(STAGED_KEY);
        tracing::info!(
            dir = %self.dir.display(),
            previous_primary,
            new_primary,
            ?purged,
            "rotated Fernet keys"
        );
        Ok(RotationReport { previous_primary, new_primary, purged, active })
    }

    /// Read every key, primary (highest index) first and the staged key `0` last.
    pub fn load(&self) -> Result<Vec<LoadedKey>, TokenError> {
        warn_if_world_accessible(&self.dir);
        let mut keys = Vec::new();
        for index in self.key_indexes()?.into_iter().rev() {
            let path = self.key_path(index);
            let text = read_key_file(&path)?;
            let fernet = Fernet::new(text.trim()).ok_or(TokenError::BadKey(path))?;
            keys.push(LoadedKey { index, fernet });
        }
        if keys.is_empty() {
            return Err(TokenError::NoKeys(self.dir.clone()));
        }
        Ok(keys)
    }

    /// Indexes of the non-empty key files, ascending.
    pub fn key_indexes(&self) -> Result<Vec<u64>, TokenError> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(TokenError::NoKeys(self.dir.clone()))
            }
            Err(e) => return Err(io_error(&self.dir, e)),
        };
        let mut indexes = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| io_error(&self.dir, e))?;
            let Some(index) = entry.file_name().to_str().and_then(parse_index) else {
                continue;
            };
            // Follows symlinks, as keystone's os.path.isfile does.
            let Ok(meta) = fs::metadata(entry.path()) else {
                continue;
            };
            if !meta.is_file() {
                continue;
            }
            if meta.len() == 0 {
                tracing::warn!(path = %entry.path().display(), "ignoring empty Fernet key file");
                continue;
            }
            indexes.push(index);
        }
        indexes.sort_unstable();
        Ok(indexes)
    }

    fn key_path(&self, index: u64) -> PathBuf {
        self.dir.join(index.to_string())
    }

    fn check_config(&self) -> Result<(), TokenError> {
        if self.max_active_keys == 0 {
            return Err(TokenError::Repository {
                path: self.dir.clone(),
                reason: "max_active_keys must be at least 1".into(),
            });
        }
        Ok(())
    }

    /// Write a fresh key to `0.tmp`, mode 0600.
    fn write_tmp_key(&self) -> Result<(), TokenError> {
        let path = self.dir.join(TMP_KEY_FILE);
        // A leftover from an interrupted run may have other permissions: start afresh.
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_error(&path, e)),
        }
        let key = Fernet::generate_key();
        let write = || -> std::io::Result<()> {
            let mut options = OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(&path)?;
            set_mode(&path, 0o600)?;
            file.write_all(key.as_bytes())?;
            file.sync_all()
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&path);
            io_error(&path, e)
        })
    }

    fn promote_tmp_key(&self) -> Result<(), TokenError> {
        let from = self.dir.join(TMP_KEY_FILE);
        let to = self.key_path(STAGED_KEY);
        fs::rename(&from, &to).map_err(|e| io_error(&to, e))?;
        sync_dir(&self.dir);
        Ok(())
    }
}

/// Only canonical decimal names count (`0`, `17`; not `017` or `+1`).
fn parse_index(name: &str) -> Option<u64> {
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if name.len() > 1 && name.starts_with('0') {
        return None;
    }
    name.parse().ok()
}

fn read_key_file(path: &Path) -> Result<String, TokenError> {
    let meta = fs::metadata(path).map_err(|e| io_error(path, e))?;
    if meta.len() > MAX_KEY_FILE_LEN {
        return Err(TokenError::BadKey(path.to_path_buf()));
    }
    let bytes = fs::read(path).map_err(|e| io_error(path, e))?;
    String::from_utf8(bytes).map_err(|_| TokenError::BadKey(path.to_path_buf()))
}

fn io_error(path: &Path, source: std::io::Error) -> TokenError {
    TokenError::Io { path: path.to_path_buf(), source }
}

fn create_private_dir(dir: &Path) -> Result<(), TokenError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|e| io_error(dir, e))?;
    set_mode(dir, 0o700).map_err(|e| io_error(dir, e))
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> std::io::Result<()> {
    Ok(())
}

/// Make renames and deletions durable; best effort.
fn sync_dir(dir: &Path) {
    if let Ok(handle) = File::open(dir) {
        let _ = handle.sync_all();
    }
}

fn warn_if_world_accessible(dir: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        if let Ok(meta) = fs::metadata(dir) {
            if meta.permissions().mode() & 0o005 != 0 {
                tracing::warn!(dir = %dir.display(), "Fernet key repository is world readable");
            }
        }
    }
    #[cfg(not(unix))]
    let _ = dir;
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "stratus-keys-{name}-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    fn read(repo: &KeyRepository, index: u64) -> String {
        fs::read_to_string(repo.dir.join(index.to_string())).unwrap()
    }

    #[test]
    fn setup_creates_staged_and_primary_and_is_idempotent() {
        let dir = temp_dir("setup");
        let repo = KeyRepository::new(dir.join("nested/keys"));
        assert_eq!(repo.setup().unwrap(), SetupOutcome::Created);
        assert_eq!(repo.key_indexes().unwrap(), vec![0, 1]);
        let (k0, k1) = (read(&repo, 0), read(&repo, 1));
        assert_ne!(k0, k1);
        assert_eq!(k0.len(), 44);
        assert!(Fernet::new(&k0).is_some());
        assert!(!repo.dir.join(TMP_KEY_FILE).exists());

        assert_eq!(repo.setup().unwrap(), SetupOutcome::AlreadyInitialized);
        assert_eq!(repo.key_indexes().unwrap(), vec![0, 1]);
        assert_eq!((read(&repo, 0), read(&repo, 1)), (k0, k1));

        let loaded = repo.load().unwrap();
        let order: Vec<u64> = loaded.iter().map(LoadedKey::index).collect();
        assert_eq!(order, vec![1, 0]);
        assert!(!format!("{loaded:?}").contains(&read(&repo, 1)));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn file_modes() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = temp_dir("modes");
        let repo = KeyRepository::new(&dir);
        repo.setup().unwrap();
        repo.rotate().unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        for index in repo.key_indexes().unwrap() {
            assert_eq!(mode(&repo.key_path(index)), 0o600, "key {index}");
        }
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn rotate_promotes_staged_and_keeps_max_active_keys() {
        let dir = temp_dir("rotate");
        let repo = KeyRepository::new(&dir);
        repo.setup().unwrap();
        let staged = read(&repo, 0);

        let report = repo.rotate().unwrap();
        assert_eq!(report.previous_primary, 1);
        assert_eq!(report.new_primary, 2);
        assert_eq!(report.purged, Vec::<u64>::new());
        assert_eq!(report.active, vec![2, 1, 0]);
        assert_eq!(read(&repo, 2), staged, "the staged key became the primary");
        assert_ne!(read(&repo, 0), staged);

        let report = repo.rotate().unwrap();
        assert_eq!(report.new_primary, 3);
        assert_eq!(report.purged, vec![1]);
        assert_eq!(report.active, vec![3, 2, 0]);
        assert_eq!(repo.key_indexes().unwrap(), vec![0, 2, 3]);

        let repo5 = repo.clone().with_max_active_keys(5);
        for _ in 0..4 {
            repo5.rotate().unwrap();
        }
        assert_eq!(repo5.key_indexes().unwrap(), vec![0, 4, 5, 6, 7]);
        // Lowering the limit purges several keys at once, oldest first.
        let report = repo.rotate().unwrap();
        assert_eq!(report.purged, vec![4, 5, 6]);
        assert_eq!(repo.key_indexes().unwrap(), vec![0, 7, 8]);

        // keystone's min of 1 keeps only the staged key.
        let report = repo.clone().with_max_active_keys(1).rotate().unwrap();
        assert_eq!(report.purged, vec![7, 8, 9]);
        assert_eq!(report.active, vec![0]);
        assert!(repo.clone().with_max_active_keys(0).rotate().is_err());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn ignores_foreign_and_empty_files_and_reports_bad_keys() {
        let dir = temp_dir("foreign");
        let repo = KeyRepository::new(&dir);
        repo.setup().unwrap();
        fs::write(dir.join("README"), "not a key").unwrap();
        fs::write(dir.join("0.tmp"), "leftover").unwrap();
        fs::write(dir.join("05"), "not canonical").unwrap();
        fs::write(dir.join("7"), "").unwrap();
        fs::create_dir(dir.join("9")).unwrap();
        assert_eq!(repo.key_indexes().unwrap(), vec![0, 1]);
        assert_eq!(repo.load().unwrap().len(), 2);
        // A trailing newline (an operator's editor) is fine.
        let k1 = read(&repo, 1);
        fs::write(dir.join("1"), format!("{k1}\n")).unwrap();
        assert_eq!(repo.load().unwrap().len(), 2);

        let rotated = repo.rotate().unwrap();
        assert_eq!(rotated.new_primary, 2, "empty key 7 does not count");
        assert!(!dir.join("0.tmp").exists());

        fs::write(dir.join("3"), "this is not a fernet key").unwrap();
        let err = repo.load().unwrap_err();
        assert!(matches!(err, TokenError::BadKey(ref p) if p.ends_with("3")), "{err}");
        assert!(!err.to_string().contains("this is not"));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn missing_repository_and_missing_staged_key() {
        let dir = temp_dir("missing");
        let repo = KeyRepository::new(&dir);
        assert!(matches!(repo.load(), Err(TokenError::NoKeys(_))));
        assert!(matches!(repo.rotate(), Err(TokenError::NoKeys(_))));
        fs::create_dir_all(&dir).unwrap();
        assert!(matches!(repo.load(), Err(TokenError::NoKeys(_))));
        fs::write(dir.join("4"), Fernet::generate_key()).unwrap();
        assert!(matches!(repo.rotate(), Err(TokenError::Repository { .. })));
        assert_eq!(repo.key_indexes().unwrap(), vec![4], "a failed rotate changes nothing");
        // Like keystone's fernet_setup, setup bootstraps a repository that lacks key 0.
        assert_eq!(repo.setup().unwrap(), SetupOutcome::Created);
        assert_eq!(repo.key_indexes().unwrap(), vec![0, 4, 5]);
        fs::remove_dir_all(&dir).unwrap();
    }
}
