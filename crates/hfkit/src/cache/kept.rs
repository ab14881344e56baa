//! A cache folder kept open by a server that answers many requests a second from it.
//!
//! [`RepoCache`] opens the cache from its path on every call (four opens to reach a blob)
//! and re-reads a repo's refs and snapshot folders each time: right for a command, too much
//! work per request for a server. [`KeptCache`] holds the cache folder open, opens a blob
//! with one `openat2` that cannot leave it (no symlink followed, nothing outside the cache
//! reached), and gives a [`RepoStamp`] of a repo's refs and `snapshots/` folders: identity,
//! size and times of each folder and ref file, read with one `statx` apiece, so a server can
//! keep what it read while the stamp is unchanged and still see a moved ref at once.
//!
//! A stamp with an entry modified within [`SETTLE`] of when it was taken is never
//! "unchanged": file times advance in ticks (a few milliseconds, a second on some file
//! systems), so a second write in the tick of the first would leave an equal stamp behind
//! (git's "racy clean" problem). Such a repo is simply read again on every request until it
//! settles. A later write always moves the modification time past an older one, and the
//! change time (compared too) moves with any change, including a time set back by hand.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rustix::fs::{AtFlags, Mode, OFlags, ResolveFlags, StatxFlags};

use super::RepoCache;
use crate::hashes::{CommitHash, Etag};

/// How long after its last change an entry must be left alone before equal stamps are
/// trusted to mean "unchanged".
pub const SETTLE: Duration = Duration::from_secs(2);

/// The cache folder, held open (see the module documentation).
#[derive(Debug)]
pub struct KeptCache {
    root: PathBuf,
    fd: OwnedFd,
}

/// One entry's identity, size, and change and modification times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct EntryStamp {
    dev: (u32, u32),
    ino: u64,
    size: u64,
    mtime: (i64, u32),
    ctime: (i64, u32),
}

/// What a repo's `snapshots/` folder, `refs/` folder, the folders below it and each ref file
/// looked like (see [`KeptCache::stamp`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoStamp {
    /// Paths below the cache folder, and what each was (`None`: absent).
    entries: Vec<(String, Option<EntryStamp>)>,
    /// Whether every entry had been left alone for [`SETTLE`] when the stamp was taken.
    settled: bool,
}

impl KeptCache {
    /// Opens the cache folder at `root` (an absolute path, as [`RepoCache::root`] gives).
    pub fn open(root: &Path) -> std::io::Result<Self> {
        let fd = rustix::fs::open(root, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?;
        Ok(Self { root: root.to_owned(), fd })
    }

    /// The cache folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Opens `blobs/<etag>` of `cache` (a repo of this cache) for reading, as
    /// [`RepoCache::open_blob`] does, and gives its size: one `openat2` beneath the kept
    /// folder that follows no symlink, and one `fstat`; a blob that is a link (into the
    /// shared store) and a kernel without `openat2` take [`RepoCache::open_blob`]'s way. Only
    /// a regular file is returned (opened without blocking, so a FIFO cannot hold it up; the
    /// flag is left set, as reads of a regular file never block).
    pub fn open_blob(&self, cache: &RepoCache, etag: &Etag) -> std::io::Result<(std::fs::File, u64)> {
        let path = format!("{}/blobs/{etag}", cache.folder_name);
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
        let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
        match rustix::fs::openat2(&self.fd, path.as_str(), flags, Mode::empty(), resolve) {
            Ok(fd) => {
                let stat = rustix::fs::fstat(&fd)?;
                if rustix::fs::FileType::from_raw_mode(stat.st_mode) != rustix::fs::FileType::RegularFile {
                    return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "not a regular file"));
                }
                Ok((std::fs::File::from(fd), u64::try_from(stat.st_size).unwrap_or(0)))
            }
            Err(rustix::io::Errno::LOOP | rustix::io::Errno::NOSYS | rustix::io::Errno::PERM) => {
                let file = cache.open_blob(etag)?;
                let size = file.metadata()?.len();
                Ok((file, size))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The time `snapshots/<commit>` of `cache` last changed (the folder itself, not what a
    /// link there points to); `None` when it is not a folder.
    pub fn snapshot_time(&self, cache: &RepoCache, commit: &CommitHash) -> Option<SystemTime> {
        let path = format!("{}/snapshots/{commit}", cache.folder_name);
        let stat =
            rustix::fs::statx(&self.fd, path.as_str(), AtFlags::SYMLINK_NOFOLLOW, StatxFlags::BASIC_STATS).ok()?;
        if rustix::fs::FileType::from_raw_mode(stat.stx_mode.into()) != rustix::fs::FileType::Directory {
            return None;
        }
        let secs = u64::try_from(stat.stx_mtime.tv_sec).ok()?;
        Some(SystemTime::UNIX_EPOCH + Duration::new(secs, stat.stx_mtime.tv_nsec))
    }

    /// The stamp of `cache`'s refs and snapshots, taken now: take it before reading them, and
    /// keep what was read while [`Self::unchanged`] says so.
    pub fn stamp(&self, cache: &RepoCache) -> RepoStamp {
        let now = SystemTime::now();
        let folder = &cache.folder_name;
        let mut paths = vec![format!("{folder}/snapshots"), format!("{folder}/refs")];
        walk_refs(&cache.folder().join("refs"), &format!("{folder}/refs"), &mut paths);
        let entries: Vec<_> = paths.into_iter().map(|path| (self.entry(&path), path)).map(|(s, p)| (p, s)).collect();
        let settled = entries.iter().flat_map(|(_, s)| s).all(|s| {
            // Whole seconds, rounded up: a coarse file system's tick is at most a second.
            let modified =
                SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(s.mtime.0 + 1).unwrap_or(u64::MAX));
            modified + SETTLE <= now
        });
        RepoStamp { entries, settled }
    }

    /// Whether `stamp` still describes the repo: every entry is as it was (one `statx`
    /// each) and the stamp was settled when taken.
    pub fn unchanged(&self, stamp: &RepoStamp) -> bool {
        stamp.settled && stamp.entries.iter().all(|(path, was)| self.entry(path) == *was)
    }

    fn entry(&self, path: &str) -> Option<EntryStamp> {
        let s = rustix::fs::statx(&self.fd, path, AtFlags::SYMLINK_NOFOLLOW, StatxFlags::BASIC_STATS).ok()?;
        Some(EntryStamp {
            dev: (s.stx_dev_major, s.stx_dev_minor),
            ino: s.stx_ino,
            size: s.stx_size,
            mtime: (s.stx_mtime.tv_sec, s.stx_mtime.tv_nsec),
            ctime: (s.stx_ctime.tv_sec, s.stx_ctime.tv_nsec),
        })
    }
}

/// Every folder and file below `dir` (not through symlinks), as `prefix/…` paths.
fn walk_refs(dir: &Path, prefix: &str, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else { continue };
        let path = format!("{prefix}/{name}");
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            walk_refs(&entry.path(), &path, out);
        }
        out.push(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::Repo;

    fn aged(path: &Path) {
        let old = SystemTime::now() - Duration::from_secs(3600);
        std::fs::File::open(path).unwrap().set_modified(old).unwrap();
    }

    #[test]
    fn a_stamp_sees_a_moved_ref_and_an_unsettled_one_is_never_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        let c = RepoCache::new(&root, &Repo::model("acme/tiny").unwrap());
        c.prepare().unwrap();
        let a = CommitHash::parse(&"a".repeat(40)).unwrap();
        let b = CommitHash::parse(&"b".repeat(40)).unwrap();
        let blob = Etag::parse(&"e".repeat(40)).unwrap();
        std::fs::write(c.blob(&blob), b"hi").unwrap();
        c.link(&a, "x", &blob).unwrap();
        c.write_ref("main", &a).unwrap();
        let kept = KeptCache::open(&root).unwrap();
        let fresh = kept.stamp(&c);
        assert!(!kept.unchanged(&fresh), "entries changed just now are not trusted");
        assert_eq!(kept.open_blob(&c, &blob).unwrap().1, 2);
        assert!(kept.snapshot_time(&c, &a).is_some());
        assert!(kept.snapshot_time(&c, &b).is_none());
        for entry in ["snapshots", "refs", "refs/main"] {
            aged(&c.folder().join(entry));
        }
        let stamp = kept.stamp(&c);
        assert_eq!(stamp.entries.len(), 3, "{stamp:?}");
        assert!(kept.unchanged(&stamp), "{stamp:?}");
        std::fs::write(c.folder().join("refs/main"), b.as_str()).unwrap();
        assert!(!kept.unchanged(&stamp), "a rewritten ref is seen at once");
        aged(&c.folder().join("refs/main"));
        assert!(!kept.unchanged(&stamp), "even with its time set back");
        let stamp = kept.stamp(&c);
        std::fs::create_dir_all(c.folder().join("refs/refs/pr")).unwrap();
        assert!(!kept.unchanged(&stamp), "a new ref folder is seen");
        // A blob that is a symlink out of the cache is refused.
        let out = Etag::parse(&"f".repeat(40)).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", c.blob(&out)).unwrap();
        assert!(kept.open_blob(&c, &out).is_err());
    }
}
