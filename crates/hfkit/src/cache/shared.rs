//! huggingface_hub 2.4's cache-wide shared blob store, read and written as 2.4 does, so
//! that both tools see the same sizes, free the same bytes and never delete what the other
//! still uses.
//!
//! With `hf_xet` (the default install), 2.4 moves every Xet-backed download into
//! `<cache>/blobs/<2 hex>/<xet hash>` and makes the repo's `blobs/<etag>` a relative symlink
//! to it. Beside each entry, `<xet hash>.refs` lists the repo blobs that link to it (one
//! cache-relative path a line) and `<xet hash>.lock` is the flock under which entries are
//! published, linked and collected. The store is marked by `blobs/.huggingface-shared-blobs`
//! holding `1\n`; an unmarked `blobs/` is not a store.
//!
//! Everything in the store is treated as hostile: a manifest line is only a hint, checked
//! against the file system (2.4's rules); a repo blob counts as a reference only when it is
//! a symlink whose target, read lexically, is the entry. Unlike 2.4, the store and prefix
//! folders are opened without following symlinks and every change is made relative to the
//! prefix folder's descriptor, so that a symlinked prefix folder or a swapped path never
//! leads a deletion (or a lock file) outside the cache. A manifest that cannot be read keeps
//! its entry: data is leaked rather than deleted.

use std::collections::{BTreeSet, HashSet};
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use rustix::fs::{AtFlags, FileType, FlockOperation, Mode, OFlags, StatxFlags};

pub use crate::hashes::XetHash;

/// The store folder, in the cache root (the same name as a repo's `blobs/`).
pub const STORE_DIR: &str = "blobs";
/// The file that marks `blobs/` as a store.
pub const MARKER: &str = ".huggingface-shared-blobs";
/// The marker's content: the layout version.
const MARKER_CONTENT: &[u8] = b"1\n";
/// The repo folder prefixes 2.4 accepts in a reference (`<type>s--…`).
const REPO_PREFIXES: [&str; 4] = ["datasets--", "kernels--", "models--", "spaces--"];

/// A marked shared blob store of one cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedStore {
    /// The cache root (absolute).
    cache: PathBuf,
    /// `<cache>/blobs`.
    dir: PathBuf,
}

/// Repo blobs that are links to store entries, with the entry each names (read lexically).
pub(super) type Links = std::collections::HashMap<PathBuf, XetHash>;

/// A store entry as listed: where it is, its identity (device, inode) and size.
#[derive(Debug, Clone)]
pub(super) struct Entry {
    pub(super) path: PathBuf,
    pub(super) id: (u64, u64),
    pub(super) size: u64,
    /// Last access and modification, unix seconds.
    pub(super) atime: f64,
    pub(super) mtime: f64,
}

/// An open prefix folder of the store: every change is made relative to it.
struct Prefix {
    fd: OwnedFd,
}

impl SharedStore {
    /// The store of the cache at `cache` (an absolute path), when `blobs/` there is a real
    /// folder (not a symlink) holding the marker with layout version 1.
    pub fn open(cache: &Path) -> Option<Self> {
        let dir = cache.join(STORE_DIR);
        let fd = open_dir(&dir).ok()?;
        let marker =
            rustix::fs::openat(&fd, MARKER, OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::empty()).ok()?;
        if !is_regular(&marker) {
            return None;
        }
        let mut content = Vec::new();
        std::fs::File::from(marker).take(16).read_to_end(&mut content).ok()?;
        (content == MARKER_CONTENT).then(|| Self { cache: cache.to_owned(), dir })
    }

    /// `<cache>/blobs`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `<cache>/blobs/<2 hex>/<hash>`.
    pub fn entry_path(&self, hash: &XetHash) -> PathBuf {
        self.dir.join(hash.prefix()).join(hash.as_str())
    }

    /// The hash of a path of the form `<cache>/blobs/<2 hex>/<hash>`.
    fn hash_of_entry(&self, entry: &Path) -> Option<XetHash> {
        let rel = entry.strip_prefix(&self.dir).ok()?;
        let parts: Vec<&str> = rel.iter().filter_map(|p| p.to_str()).collect();
        match parts.as_slice() {
            [prefix, name] => XetHash::parse(name).filter(|h| h.prefix() == *prefix),
            _ => None,
        }
    }

    /// The store entry the repo blob `blob` links to (2.4's `shared_blob_target`): `blob` is
    /// `<cache>/<type>s--…/blobs/<name>`, a symlink whose target is, lexically, an entry of
    /// this store, and the entry is a regular file in a real prefix folder.
    pub fn target_of(&self, blob: &Path) -> Option<PathBuf> {
        let hash = self.link_target(blob).ok()??;
        let prefix = self.prefix(&hash).ok()?;
        prefix.stat(hash.as_str()).ok().filter(|s| FileType::from_raw_mode(s.st_mode) == FileType::RegularFile)?;
        Some(self.entry_path(&hash))
    }

    /// 2.4's `_shared_blob_target`: the entry `blob` links to, without checking the entry.
    /// A missing `blob` is `Ok(None)`; other errors are returned.
    fn link_target(&self, blob: &Path) -> std::io::Result<Option<XetHash>> {
        if self.relative_blob_path(blob).is_none() {
            return Ok(None);
        }
        let meta = match std::fs::symlink_metadata(blob) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        if !meta.file_type().is_symlink() {
            return Ok(None);
        }
        let link = match std::fs::read_link(blob) {
            Ok(l) => l,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let target = normalize(&blob.parent().unwrap_or(Path::new("/")).join(link));
        Ok(self.hash_of_entry(&target))
    }

    /// `<type>s--…/blobs/<name>` for a repo blob path of this cache (2.4's
    /// `_relative_blob_path`), else `None`.
    pub(super) fn relative_blob_path(&self, blob: &Path) -> Option<String> {
        let rel = normalize(blob).strip_prefix(&self.cache).ok()?.to_owned();
        let parts: Vec<&str> = rel.iter().map(|p| p.to_str()).collect::<Option<_>>()?;
        is_blob_parts(&parts).then(|| parts.join("/"))
    }

    /// Opens, for reading, the entry the repo blob `blob` links to: the prefix folder and the
    /// entry are opened without following symlinks, and only a regular file is returned (a
    /// FIFO, a device or a socket is refused without blocking).
    pub fn open_linked(&self, blob: &Path) -> std::io::Result<std::fs::File> {
        let not_entry = || std::io::Error::new(std::io::ErrorKind::InvalidData, "not a link to a shared store entry");
        let hash = self.link_target(blob)?.ok_or_else(not_entry)?;
        let prefix = self.prefix(&hash)?;
        open_regular_at(&prefix.fd, hash.as_str())
    }

    /// Opens the prefix folder of `hash` without following symlinks.
    fn prefix(&self, hash: &XetHash) -> std::io::Result<Prefix> {
        let store = open_dir(&self.dir)?;
        let fd = rustix::fs::openat(
            &store,
            hash.prefix(),
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(Prefix { fd })
    }

    /// Every valid entry: `<2 hex>/<hash>` regular files in real prefix folders (2.4's
    /// `shared_store_blob_paths`), sorted.
    pub fn entries(&self) -> Vec<PathBuf> {
        self.listing().into_iter().map(|e| e.path).collect()
    }

    /// [`entries`](Self::entries) with each entry's identity (device, inode) and size: one
    /// `statx` per entry, relative to its prefix folder, so that a scan can recognise an
    /// entry by identity and count it without another look.
    pub(super) fn listing(&self) -> Vec<Entry> {
        let mut out = Vec::new();
        let Ok(store) = open_dir(&self.dir) else { return out };
        for prefix in super::scan::list(store.as_fd()) {
            let Ok(name) = prefix.name.to_str() else { continue };
            let is_hex2 = name.len() == 2 && name.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
            if !is_hex2 || prefix.kind != FileType::Directory {
                continue;
            }
            let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
            let Ok(fd) = rustix::fs::openat(&store, name, flags, Mode::empty()) else { continue };
            for entry in super::scan::list(fd.as_fd()) {
                let Some(hash) = entry.name.to_str().ok().and_then(XetHash::parse) else { continue };
                if hash.prefix() != name || entry.kind != FileType::RegularFile {
                    continue;
                }
                let mask =
                    StatxFlags::TYPE | StatxFlags::SIZE | StatxFlags::INO | StatxFlags::ATIME | StatxFlags::MTIME;
                let Ok(stat) = rustix::fs::statx(&fd, entry.name.as_c_str(), AtFlags::SYMLINK_NOFOLLOW, mask) else {
                    continue;
                };
                if FileType::from_raw_mode(u32::from(stat.stx_mode)) != FileType::RegularFile {
                    continue;
                }
                out.push(Entry {
                    path: self.dir.join(name).join(hash.as_str()),
                    id: (rustix::fs::makedev(stat.stx_dev_major, stat.stx_dev_minor), stat.stx_ino),
                    size: stat.stx_size,
                    atime: stat.stx_atime.tv_sec as f64 + f64::from(stat.stx_atime.tv_nsec) / 1e9,
                    mtime: stat.stx_mtime.tv_sec as f64 + f64::from(stat.stx_mtime.tv_nsec) / 1e9,
                });
            }
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        out
    }

    /// The size of an entry (not following symlinks), when it is a regular file.
    pub fn entry_size(&self, entry: &Path) -> Option<u64> {
        let hash = self.hash_of_entry(entry)?;
        let stat = self.prefix(&hash).ok()?.stat(hash.as_str()).ok()?;
        (FileType::from_raw_mode(stat.st_mode) == FileType::RegularFile).then_some(stat.st_size as u64)
    }

    /// The repo blobs that validly link to `hash` according to its manifest (2.4's
    /// `_read_valid_manifest_references`); `None` when the manifest is missing or unreadable,
    /// which keeps the entry. A repo blob in `known` (a link a scan has just read, with the
    /// entry it names) is not read again.
    fn references(&self, prefix: &Prefix, hash: &XetHash, known: &Links) -> Option<BTreeSet<PathBuf>> {
        let text = prefix.read_manifest(hash).ok()?;
        let mut out = BTreeSet::new();
        for line in python_splitlines(&text) {
            if line.starts_with('/') {
                continue;
            }
            let parts: Vec<&str> = line.split('/').filter(|p| !p.is_empty() && *p != ".").collect();
            if parts.contains(&"..") {
                continue;
            }
            if !is_blob_parts(&parts) {
                continue;
            }
            let mut candidate = self.cache.clone();
            candidate.extend(&parts);
            let target = match known.get(&candidate) {
                Some(target) => Ok(Some(target.clone())),
                None => self.link_target(&candidate),
            };
            match target {
                Ok(Some(target)) if target == *hash => {
                    out.insert(candidate);
                }
                Ok(_) => {}
                Err(_) => return None,
            }
        }
        Some(out)
    }

    /// Bytes freed by removing the entry `entry` once the repo blobs in `deleting` are gone:
    /// its size when every valid reference is among them, else 0 (2.4's
    /// `expected_shared_blob_freed_size`).
    pub fn freed_if_deleted(&self, entry: &Path, deleting: &HashSet<PathBuf>) -> u64 {
        let Some(hash) = self.hash_of_entry(entry) else { return 0 };
        let Ok(prefix) = self.prefix(&hash) else { return 0 };
        match self.references(&prefix, &hash, &Links::new()) {
            Some(refs) if !refs.is_empty() && refs.iter().all(|r| deleting.contains(r)) => {
                self.entry_size(entry).unwrap_or(0)
            }
            _ => 0,
        }
    }

    /// Entries whose manifest is readable and names no valid reference, with their sizes
    /// (2.4's `unreferenced_shared_blobs`).
    pub fn unreferenced(&self) -> Vec<(PathBuf, u64)> {
        self.unreferenced_among(self.listing(), &Links::new())
    }

    /// [`unreferenced`](Self::unreferenced) among the listed `entries`, with the repo blob
    /// links a scan has just read.
    pub(super) fn unreferenced_among(&self, entries: Vec<Entry>, known: &Links) -> Vec<(PathBuf, u64)> {
        // Entries come sorted, so those of one prefix folder follow each other: it is opened
        // once for them.
        let mut open: Option<(String, Prefix)> = None;
        let mut out = Vec::new();
        for entry in entries {
            let Some(hash) = self.hash_of_entry(&entry.path) else { continue };
            if open.as_ref().is_none_or(|(p, _)| p != hash.prefix()) {
                open = self.prefix(&hash).ok().map(|fd| (hash.prefix().to_owned(), fd));
            }
            let Some((_, prefix)) = &open else { continue };
            if self.references(prefix, &hash, known).is_some_and(|refs| refs.is_empty()) {
                out.push((entry.path, entry.size));
            }
        }
        out
    }

    /// Under the entry's lock, rewrites its manifest with the references that are still valid,
    /// or removes the entry and its manifest when none is left; returns the bytes removed
    /// (2.4's `sweep_shared_blob`). A missing or unreadable manifest keeps the entry.
    pub fn sweep(&self, entry: &Path) -> std::io::Result<u64> {
        let Some(hash) = self.hash_of_entry(entry) else { return Ok(0) };
        let prefix = self.prefix(&hash)?;
        let _lock = prefix.lock(&hash)?;
        let Some(refs) = self.references(&prefix, &hash, &Links::new()) else { return Ok(0) };
        let manifest = manifest_name(&hash);
        if !refs.is_empty() {
            let content: String = refs
                .iter()
                .filter_map(|r| r.strip_prefix(&self.cache).ok())
                .map(|r| format!("{}\n", r.to_string_lossy()))
                .collect();
            prefix.replace_file(&manifest, content.as_bytes())?;
            return Ok(0);
        }
        let stat = match prefix.stat(hash.as_str()) {
            Ok(s) if FileType::from_raw_mode(s.st_mode) == FileType::RegularFile => s,
            _ => return Ok(0),
        };
        rustix::fs::unlinkat(&prefix.fd, hash.as_str(), AtFlags::empty())?;
        match rustix::fs::unlinkat(&prefix.fd, manifest.as_str(), AtFlags::empty()) {
            Ok(()) | Err(rustix::io::Errno::NOENT) => {}
            Err(e) => return Err(e.into()),
        }
        Ok(stat.st_size as u64)
    }

    /// Whether the entry of `hash` is a readable regular file of `size` bytes (without
    /// touching the cache; what a dry run reports as cached).
    pub fn has_usable_entry(&self, hash: &XetHash, size: u64) -> bool {
        self.prefix(hash).is_ok_and(|p| p.usable(hash, size))
    }

    /// Makes the repo blob `blob` a relative symlink to the entry of `hash` when the entry is
    /// a readable regular file of `size` bytes, as 2.4's `try_link_from_shared_store`: under
    /// the entry's lock, the reference is appended to the manifest and flushed before the
    /// symlink becomes visible. `false` (and nothing changed) when the entry cannot be used.
    pub fn link_from_store(&self, blob: &Path, hash: &XetHash, size: u64) -> bool {
        let Some(relative) = self.relative_blob_path(blob) else { return false };
        let Ok(prefix) = self.prefix(hash) else { return false };
        let Ok(_lock) = prefix.lock(hash) else { return false };
        let usable = prefix
            .stat(hash.as_str())
            .is_ok_and(|s| FileType::from_raw_mode(s.st_mode) == FileType::RegularFile && s.st_size as u64 == size)
            && rustix::fs::accessat(&prefix.fd, hash.as_str(), rustix::fs::Access::READ_OK, AtFlags::empty()).is_ok();
        if !usable {
            return false;
        }
        let Some(name) = blob.file_name().map(|n| n.to_string_lossy().into_owned()) else { return false };
        let tmp = blob.with_file_name(format!(".{name}.{}.shared", unique_suffix()));
        let target = PathBuf::from(format!("../../{STORE_DIR}/{}/{hash}", hash.prefix()));
        if std::os::unix::fs::symlink(&target, &tmp).is_err() {
            return false;
        }
        let placed = prefix.append_reference(hash, &relative).is_ok() && std::fs::rename(&tmp, blob).is_ok();
        let _ = std::fs::remove_file(&tmp);
        placed
    }
}

impl Prefix {
    /// Whether the entry of `hash` is a readable regular file of `size` bytes.
    fn usable(&self, hash: &XetHash, size: u64) -> bool {
        self.stat(hash.as_str())
            .is_ok_and(|s| FileType::from_raw_mode(s.st_mode) == FileType::RegularFile && s.st_size as u64 == size)
            && rustix::fs::accessat(&self.fd, hash.as_str(), rustix::fs::Access::READ_OK, AtFlags::empty()).is_ok()
    }

    /// `lstat` of a name in the folder.
    fn stat(&self, name: &str) -> std::io::Result<rustix::fs::Stat> {
        Ok(rustix::fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW)?)
    }

    /// 2.4's lock for `hash`: `<hash>.lock`, created without following a planted symlink,
    /// mode 0666 so other users of a shared cache can take it too, then flocked.
    fn lock(&self, hash: &XetHash) -> std::io::Result<OwnedFd> {
        let fd = rustix::fs::openat(
            &self.fd,
            format!("{hash}.lock").as_str(),
            OFlags::WRONLY | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o666),
        )?;
        if !is_regular(&fd) {
            return Err(std::io::Error::other(format!("the shared blob lock of {hash} is not a regular file")));
        }
        let _ = rustix::fs::fchmod(&fd, Mode::from_raw_mode(0o666));
        rustix::fs::flock(&fd, FlockOperation::LockExclusive)?;
        Ok(fd)
    }

    /// The manifest's text; not following a symlink, only a regular file, valid UTF-8.
    fn read_manifest(&self, hash: &XetHash) -> std::io::Result<String> {
        let fd = rustix::fs::openat(
            &self.fd,
            manifest_name(hash).as_str(),
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK,
            Mode::empty(),
        )?;
        if !is_regular(&fd) {
            return Err(std::io::Error::other("not a regular file"));
        }
        let mut text = String::new();
        std::fs::File::from(fd).read_to_string(&mut text)?;
        Ok(text)
    }

    /// Appends `<relative>\n` to the manifest of `hash` and flushes it to disk.
    fn append_reference(&self, hash: &XetHash, relative: &str) -> std::io::Result<()> {
        let fd = rustix::fs::openat(
            &self.fd,
            manifest_name(hash).as_str(),
            OFlags::WRONLY | OFlags::APPEND | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o666),
        )?;
        if !is_regular(&fd) {
            return Err(std::io::Error::other("the shared blob manifest is not a regular file"));
        }
        let _ = rustix::fs::fchmod(&fd, Mode::from_raw_mode(0o666));
        let mut file = std::fs::File::from(fd);
        file.write_all(format!("{relative}\n").as_bytes())?;
        file.sync_all()
    }

    /// Replaces `name` with `content` atomically (a fresh temporary file, mode 0666, flushed).
    fn replace_file(&self, name: &str, content: &[u8]) -> std::io::Result<()> {
        let tmp = format!("{name}.{}.tmp", unique_suffix());
        let fd = rustix::fs::openat(
            &self.fd,
            tmp.as_str(),
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o666),
        )?;
        let _ = rustix::fs::fchmod(&fd, Mode::from_raw_mode(0o666));
        let mut file = std::fs::File::from(fd);
        let written = file.write_all(content).and_then(|()| file.sync_all());
        let result = written.and_then(|()| Ok(rustix::fs::renameat(&self.fd, tmp.as_str(), &self.fd, name)?));
        if result.is_err() {
            let _ = rustix::fs::unlinkat(&self.fd, tmp.as_str(), AtFlags::empty());
        }
        result
    }
}

/// Whether the cache-relative `parts` name a repo blob as 2.4 accepts one:
/// `<type>s--<id>/blobs/<name>`, with no line break.
fn is_blob_parts(parts: &[&str]) -> bool {
    let shape = match parts {
        [repo, "blobs", name] => {
            !name.is_empty() && REPO_PREFIXES.iter().any(|p| repo.len() > p.len() && repo.starts_with(p))
        }
        _ => false,
    };
    shape && !parts.iter().any(|p| p.contains(['\n', '\r']))
}

fn manifest_name(hash: &XetHash) -> String {
    format!("{hash}.refs")
}

fn open_dir(path: &Path) -> std::io::Result<OwnedFd> {
    Ok(rustix::fs::open(path, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::empty())?)
}

/// Opens `name` in the folder `dir` for reading: never through a symlink, never blocking on a
/// FIFO, and only when it is a regular file.
pub(super) fn open_regular_at(dir: impl AsFd, name: impl rustix::path::Arg) -> std::io::Result<std::fs::File> {
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let fd = rustix::fs::openat(dir, name, flags, Mode::empty())?;
    if !is_regular(&fd) {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "not a regular file"));
    }
    // Reads of a regular file never block; clear the flag anyway so the descriptor is plain.
    let _ = rustix::fs::fcntl_setfl(&fd, OFlags::empty());
    Ok(std::fs::File::from(fd))
}

fn is_regular(fd: impl AsFd) -> bool {
    rustix::fs::fstat(fd).is_ok_and(|s| FileType::from_raw_mode(s.st_mode) == FileType::RegularFile)
}

/// Eight hex characters that differ between processes and calls.
fn unique_suffix() -> String {
    static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{:08x}", nanos ^ std::process::id().rotate_left(16) ^ n.wrapping_mul(0x9e37_79b9))
}

/// Python's `str.splitlines()`: every line boundary Python knows, no trailing empty line.
fn python_splitlines(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let end = match c {
            '\r' if chars.peek().is_some_and(|(_, n)| *n == '\n') => {
                chars.next();
                i + 2
            }
            '\n' | '\r' | '\x0b' | '\x0c' | '\x1c' | '\x1d' | '\x1e' | '\u{85}' | '\u{2028}' | '\u{2029}' => {
                i + c.len_utf8()
            }
            _ => continue,
        };
        out.push(&text[start..i]);
        start = end;
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

/// `os.path.abspath` of an absolute path: resolves `.` and `..` without following symlinks.
pub(super) fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xet_hashes_are_64_lowercase_hex() {
        assert!(XetHash::parse(&"a".repeat(64)).is_some());
        assert!(XetHash::parse(&"A".repeat(64)).is_none());
        assert!(XetHash::parse(&"a".repeat(63)).is_none());
        assert!(XetHash::parse(&format!("../{}", "a".repeat(61))).is_none());
    }

    #[test]
    fn lines_split_like_python() {
        assert_eq!(python_splitlines("a\nb\r\nc\rd\u{2028}e\n"), vec!["a", "b", "c", "d", "e"]);
        assert_eq!(python_splitlines("a\n\nb"), vec!["a", "", "b"]);
        assert!(python_splitlines("").is_empty());
    }
}
