//! One door for writes: atomic replacement and advisory locks.
//!
//! Every file hfkit writes goes through [`write_atomic`]: a temporary file in the same
//! folder, flushed, then renamed over the target, so a reader (or a crash) sees the old
//! content or the new, never half of it. Secrets get mode 0600 from the moment they exist,
//! in a folder set to 0700. [`LockedFile`] serialises read-modify-write cycles between
//! processes, at the same lock paths huggingface_hub uses so that both exclude each other.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Mode of files holding secrets.
pub const SECRET_FILE_MODE: u32 = 0o600;
/// Mode of the folder holding secret files.
pub const SECRET_DIR_MODE: u32 = 0o700;

/// An I/O failure with the path and the action that failed.
#[derive(Debug, thiserror::Error)]
#[error("failed to {action} `{}`: {source}", path.display())]
pub struct FsError {
    /// What was being done ("write", "read", "lock"…).
    pub action: &'static str,
    /// The file or folder.
    pub path: PathBuf,
    /// The operating system's error.
    #[source]
    pub source: io::Error,
}

impl FsError {
    pub(crate) fn new(action: &'static str, path: &Path, source: io::Error) -> Self {
        Self { action, path: path.to_owned(), source }
    }
}

/// Writes `content` to `path` atomically, with `mode` on the new file, and makes it durable.
pub fn write_atomic(path: &Path, content: &[u8], mode: u32) -> Result<(), FsError> {
    replace(path, content, mode, true)
}

/// Writes `content` to `path` atomically (a reader sees the old file or the new one, whole),
/// without waiting for the disk. For records a later run checks before it trusts them, such as
/// a download's resume record: its blocks are hashed again when adopted, so losing it in a
/// crash costs a refetch, while a `fsync` per record would stall the transfer whenever the
/// disk is busy with other writers.
pub fn write_atomic_unsynced(path: &Path, content: &[u8], mode: u32) -> Result<(), FsError> {
    replace(path, content, mode, false)
}

fn replace(path: &Path, content: &[u8], mode: u32, durable: bool) -> Result<(), FsError> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let tmp = temp_sibling(path);
    let result = (|| {
        let mut file = OpenOptions::new().write(true).create_new(true).mode(mode).open(&tmp)?;
        file.write_all(content)?;
        if durable {
            file.sync_all()?;
        }
        // The umask may have narrowed the mode; set it exactly.
        fs::set_permissions(&tmp, fs::Permissions::from_mode(mode))?;
        fs::rename(&tmp, path)
    })();
    if let Err(source) = result {
        let _ = fs::remove_file(&tmp);
        return Err(FsError::new("write", path, source));
    }
    // Make the rename durable; failing to sync a folder is not worth failing the write.
    if durable && let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Writes a secret: creates the parent folder as 0700 if it is missing, then writes the
/// file atomically as 0600.
pub fn write_secret(path: &Path, content: &[u8]) -> Result<(), FsError> {
    ensure_secret_dir(path)?;
    write_atomic(path, content, SECRET_FILE_MODE)
}

/// Creates the folder of a secret file, and any missing parent, with mode 0700.
///
/// A folder that already exists keeps its mode: it is the user's (a shared `HF_HOME`
/// whose cache a group reads, say), and the secret file itself is 0600. huggingface_hub
/// 2.4 sets the folder to 0700 on every login; see docs/compatibility.md.
pub fn ensure_secret_dir(path: &Path) -> Result<(), FsError> {
    let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) else {
        return Ok(());
    };
    if dir.is_dir() {
        return Ok(());
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(SECRET_DIR_MODE)
        .create(dir)
        .map_err(|e| FsError::new("create folder", dir, e))?;
    // The umask may have narrowed the mode; set it exactly on the folder we made.
    fs::set_permissions(dir, fs::Permissions::from_mode(SECRET_DIR_MODE))
        .map_err(|e| FsError::new("set the mode of", dir, e))
}

/// Removes a file; a file that is already gone is not an error.
pub fn remove_if_exists(path: &Path) -> Result<bool, FsError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(FsError::new("remove", path, e)),
    }
}

/// Reads a file to a string; `None` when it does not exist.
pub fn read_optional(path: &Path) -> Result<Option<String>, FsError> {
    match fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes).map(Some).map_err(|_| {
            FsError::new("read", path, io::Error::new(io::ErrorKind::InvalidData, "the file is not valid UTF-8"))
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(FsError::new("read", path, e)),
    }
}

/// A unique temporary name beside `path` (`.<name>.<pid>.<n>.tmp`).
fn temp_sibling(path: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.{n}{nanos:x}.tmp", std::process::id()))
}

/// How often a held lock is tried again.
pub const LOCK_POLL: Duration = Duration::from_millis(20);

/// An exclusive advisory lock (`flock`) on a lock file, released on drop.
#[derive(Debug)]
pub struct LockedFile {
    _file: File,
    path: PathBuf,
}

/// Why a lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// The lock file could not be opened or locked.
    #[error(transparent)]
    Io(#[from] FsError),
    /// Another process held the lock for longer than the timeout.
    #[error("timed out after {}s waiting for the lock `{}`; another hf process is holding it\n\nhint: if no other process is running, delete the lock file and try again", timeout.as_secs(), path.display())]
    Timeout {
        /// The lock file.
        path: PathBuf,
        /// How long we waited.
        timeout: Duration,
    },
}

impl LockedFile {
    /// Takes the lock at `path`, creating the file (and its folder) if needed, waiting at
    /// most `timeout`.
    pub fn acquire(path: &Path, timeout: Duration) -> Result<Self, LockError> {
        let start = Instant::now();
        loop {
            if let Some(lock) = Self::try_acquire(path)? {
                return Ok(lock);
            }
            if start.elapsed() >= timeout {
                return Err(LockError::Timeout { path: path.to_owned(), timeout });
            }
            std::thread::sleep(LOCK_POLL);
        }
    }

    /// Takes the lock at `path` if no one holds it (`None` if someone does), creating the
    /// file and its folder if needed. As huggingface_hub's `filelock`: a new lock file is
    /// made mode 0664 (group-writable, whatever the umask, so users sharing a cache can
    /// wait on each other's locks), and the file is left in place on release so that every
    /// waiter locks the same inode.
    pub fn try_acquire(path: &Path) -> Result<Option<Self>, LockError> {
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(|e| FsError::new("create folder", dir, e))?;
        }
        let open = |create_new: bool| {
            let mut options = OpenOptions::new();
            options.read(true).write(true).mode(0o664);
            if create_new {
                options.create_new(true);
            }
            options.open(path)
        };
        let file = match open(true) {
            Ok(file) => {
                let _ = file.set_permissions(fs::Permissions::from_mode(0o664));
                file
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => match open(false) {
                Ok(file) => file,
                // Removed between the two opens (a prune): make it again.
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Self::try_acquire(path),
                Err(e) => return Err(FsError::new("open lock", path, e).into()),
            },
            Err(e) => return Err(FsError::new("open lock", path, e).into()),
        };
        match file.try_lock() {
            Ok(()) => Ok(Some(Self { _file: file, path: path.to_owned() })),
            Err(fs::TryLockError::WouldBlock) => Ok(None),
            Err(fs::TryLockError::Error(e)) => Err(FsError::new("lock", path, e).into()),
        }
    }

    /// The lock file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_files_are_private_and_replaced_whole() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("hf");
        let path = home.join("token");
        write_secret(&path, b"one").unwrap();
        write_secret(&path, b"two").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "two");
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(fs::metadata(&home).unwrap().permissions().mode() & 0o777, 0o700);
        let leftovers: Vec<_> = fs::read_dir(&home).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file is left behind");
    }

    #[test]
    fn a_folder_the_user_made_keeps_its_mode() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("hf");
        fs::create_dir(&home).unwrap();
        fs::set_permissions(&home, fs::Permissions::from_mode(0o750)).unwrap();
        write_secret(&home.join("token"), b"one").unwrap();
        assert_eq!(fs::metadata(&home).unwrap().permissions().mode() & 0o777, 0o750);
        assert_eq!(fs::metadata(home.join("token")).unwrap().permissions().mode() & 0o777, 0o600);
        let nested = dir.path().join("a/b/token");
        write_secret(&nested, b"two").unwrap();
        for made in ["a", "a/b"] {
            assert_eq!(fs::metadata(dir.path().join(made)).unwrap().permissions().mode() & 0o777, 0o700, "{made}");
        }
    }

    #[test]
    fn lock_times_out_while_held() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.lock");
        let held = LockedFile::acquire(&path, Duration::from_secs(1)).unwrap();
        let err = LockedFile::acquire(&path, Duration::from_millis(50)).unwrap_err();
        assert!(err.to_string().contains("x.lock"), "{err}");
        drop(held);
        LockedFile::acquire(&path, Duration::from_millis(50)).unwrap();
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o664, "huggingface_hub's mode");
    }
}
