//! Reading a cache into repos → revisions → files, as huggingface_hub's `scan_cache_dir`
//! does, so that `hf cache ls` of either tool gives the same numbers.
//!
//! Sizes count each blob once per revision, per repo and for the whole cache; refs are read
//! per revision; times are the newest access and modification of the blobs. A repo that is
//! inconsistent (no `snapshots/`, a broken symlink, a ref to a missing commit…) is left out
//! with a warning in huggingface_hub's words; one bad repo never fails the scan. Unlike
//! huggingface_hub, nothing that leads outside the cache is followed (a snapshot file, or a
//! repo, `snapshots/`, `refs/` or `blobs/` folder that is a symlink out): the repo is reported
//! and left out, so that no later deletion can reach outside. Refs are read only from regular
//! files (never a FIFO or a device, which could block or never end) and symlinked folders are
//! never entered, so a link loop cannot make the scan run forever.
//!
//! With huggingface_hub 2.4's shared blob store, per-repo and per-revision sizes stay
//! logical (a repo blob linking into the store counts the entry's size), while the
//! cache-wide total counts each store entry once, unreferenced ones included, as 2.4 does.
//! Partial downloads count the bytes they hold on disk: ours are preallocated sparse files
//! whose length is the final size.
//!
//! Speed: an honest file costs one `statx`. Every folder is opened once and read with
//! `getdents`, and everything below it is looked up relative to it (never by a long path);
//! a repo's `blobs/` is listed once, giving each blob's inode, so a snapshot link is matched
//! to its blob by the identity (device, inode) its followed `statx` reports, with no
//! `readlink`. In a repo whose blobs link into 2.4's shared store, identity cannot tell the
//! first hop (which 2.4 keys blobs by), so each link is read instead and the store entry's
//! `statx` is the one the store listing took. A link that matches nothing (or two blobs)
//! goes the slow way: read, resolved in full, and refused when it leads outside. Repos are
//! scanned on every core.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ffi::{CStr, CString, OsStr};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, RawDir, StatxFlags};

use super::shared::{SharedStore, XetHash};
use crate::repo::RepoType;

/// Names skipped wherever huggingface_hub skips them.
const IGNORED: [&str; 3] = [".DS_Store", "Thumbs.db", "desktop.ini"];

/// A whole cache.
#[derive(Debug, Clone)]
pub struct CacheInfo {
    /// The cache folder.
    pub root: PathBuf,
    /// Readable repos, in folder-name order.
    pub repos: Vec<CachedRepo>,
    /// Bytes of every blob referenced by a snapshot and of every shared store entry, each
    /// counted once.
    pub size_on_disk: u64,
    /// Partial downloads (`*/blobs/*.incomplete`).
    pub incomplete: Vec<IncompleteFile>,
    /// Why some folders were left out, one sentence each.
    pub warnings: Vec<String>,
    /// Blobs of readable repos that no snapshot points to (partial downloads excluded).
    pub orphan_blobs: Vec<IncompleteFile>,
    /// huggingface_hub 2.4's shared blob store, when the cache has a marked one.
    pub store: Option<SharedStore>,
    /// The store's entries and the repo blob links into it, as the scan read them.
    shared: (Vec<super::shared::Entry>, super::shared::Links),
}

/// One repo of the cache.
#[derive(Debug, Clone)]
pub struct CachedRepo {
    /// Its type.
    pub kind: RepoType,
    /// Its id, from the folder name.
    pub id: String,
    /// `models--ns--name`.
    pub path: PathBuf,
    /// Bytes of its distinct blobs.
    pub size_on_disk: u64,
    /// Number of distinct blobs.
    pub nb_files: usize,
    /// Newest access time of its blobs (the folder's when it has none), unix seconds.
    pub last_accessed: f64,
    /// Newest modification time of its blobs (the folder's when it has none).
    pub last_modified: f64,
    /// Its revisions, by commit.
    pub revisions: Vec<CachedRevision>,
}

/// One snapshot.
#[derive(Debug, Clone)]
pub struct CachedRevision {
    /// The commit hash (the snapshot folder's name).
    pub commit: String,
    /// `snapshots/<commit>`.
    pub snapshot_path: PathBuf,
    /// Refs pointing at it.
    pub refs: BTreeSet<String>,
    /// Bytes of its distinct blobs.
    pub size_on_disk: u64,
    /// Its files.
    pub files: Vec<CachedFile>,
    /// Newest modification of its blobs (the folder's when empty).
    pub last_modified: f64,
}

/// One file of a snapshot.
#[derive(Debug, Clone)]
pub struct CachedFile {
    /// Path inside the snapshot.
    pub name: String,
    /// `snapshots/<commit>/<name>`.
    pub path: PathBuf,
    /// The blob it points to (the file itself without symlinks).
    pub blob_path: PathBuf,
    /// Bytes.
    pub size: u64,
}

/// A partial download.
#[derive(Debug, Clone)]
pub struct IncompleteFile {
    /// The file.
    pub path: PathBuf,
    /// Bytes on disk: allocated blocks, at most the length (a preallocated sparse file
    /// holds less than its length says).
    pub size: u64,
}

/// The cache folder cannot be scanned at all.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// It does not exist.
    #[error("Cache directory not found: {}", .0.display())]
    NotFound(PathBuf),
    /// It is not a folder.
    #[error("Scan cache expects a directory but found a file: {}", .0.display())]
    NotADirectory(PathBuf),
}

impl CachedRepo {
    /// `model/acme/tiny`, the id `hf cache ls/rm` use.
    pub fn cache_id(&self) -> String {
        format!("{}/{}", self.kind, self.id)
    }

    /// Every ref of every revision.
    pub fn refs(&self) -> BTreeSet<String> {
        self.revisions.iter().flat_map(|r| r.refs.iter().cloned()).collect()
    }
}

impl CacheInfo {
    /// Scans the cache at `root` (see [`scan`]).
    pub fn scan(root: &Path) -> Result<Self, ScanError> {
        scan(root)
    }

    /// Bytes of partial downloads.
    pub fn incomplete_size(&self) -> u64 {
        self.incomplete.iter().map(|f| f.size).fold(0, u64::saturating_add)
    }

    /// Shared store entries that no repo blob links to, with their sizes (what `hf cache
    /// prune` removes, as huggingface_hub 2.4's `unreferenced_shared_blobs`).
    pub fn unreferenced_shared(&self) -> Vec<(PathBuf, u64)> {
        let (entries, links) = &self.shared;
        self.store.as_ref().map(|s| s.unreferenced_among(entries.clone(), links)).unwrap_or_default()
    }
}

/// Scans the cache at `root`.
pub fn scan(root: &Path) -> Result<CacheInfo, ScanError> {
    let root = std::fs::canonicalize(root).map_err(|_| ScanError::NotFound(root.to_owned()))?;
    if !root.is_dir() {
        return Err(ScanError::NotADirectory(root));
    }
    let root_fd = rustix::fs::open(&root, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|_| ScanError::NotFound(root.clone()))?;
    let mut names: Vec<String> = std::fs::read_dir(&root)
        .map_err(|_| ScanError::NotFound(root.clone()))?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let store = SharedStore::open(&root);
    names.retain(|name| {
        !(IGNORED.contains(&name.as_str())
            || name == ".locks"
            || name == "CACHEDIR.TAG"
            || (name == super::shared::STORE_DIR && store.is_some()))
    });
    let listing = store.as_ref().map(SharedStore::listing).unwrap_or_default();
    let ctx = Ctx {
        root: &root,
        root_fd: root_fd.as_fd(),
        store: store.as_ref(),
        store_ids: listing.iter().map(|e| (e.path.clone(), (e.id, Stat::of_entry(e)))).collect(),
    };
    // Repos are independent: scan them on every core, keeping the folder order.
    let results = scan_all(&ctx, &names);
    let mut repos = Vec::new();
    let mut warnings = Vec::new();
    let mut incomplete = Vec::new();
    let mut orphan_blobs = Vec::new();
    let mut found = Vec::new();
    let mut links = super::shared::Links::new();
    for scanned in results {
        incomplete.extend(scanned.incomplete);
        links.extend(scanned.links);
        match scanned.repo {
            Ok((repo, blobs, orphans)) => {
                found.push(blobs);
                orphan_blobs.extend(orphans);
                repos.push(repo);
            }
            Err(warning) => warnings.push(warning),
        }
    }
    let size_on_disk = physical_size(store.as_ref(), found, &listing);
    Ok(CacheInfo { root, repos, size_on_disk, incomplete, warnings, orphan_blobs, store, shared: (listing, links) })
}

/// Bytes of every distinct physical file: repo blobs that are not links into the store, and
/// every store entry (repo blobs linking into it are counted through their entry, once).
fn physical_size(store: Option<&SharedStore>, found: Vec<Vec<Blob>>, listing: &[super::shared::Entry]) -> u64 {
    let entries = listing.iter().map(|e| (e.path.clone(), e.size));
    let sure = found.iter().flatten().all(|b| b.kind != Kind::Unsure);
    let blobs = found.into_iter().flatten();
    if sure {
        // Each plain blob is a file of its own repo, met once: no two share a path.
        let plain = blobs.filter(|b| b.kind == Kind::Plain).map(|b| b.stat.size);
        return plain.chain(entries.map(|(_, size)| size)).fold(0, u64::saturating_add);
    }
    let mut physical: HashMap<PathBuf, u64> = HashMap::new();
    for blob in blobs {
        let counted = match blob.kind {
            Kind::Plain => true,
            Kind::Store => false,
            Kind::Unsure => store.is_none_or(|s| s.target_of(&blob.path).is_none()),
        };
        if counted {
            physical.insert(blob.path, blob.stat.size);
        }
    }
    physical.extend(entries);
    physical.values().fold(0u64, |a, b| a.saturating_add(*b))
}

/// What every repo scan shares.
struct Ctx<'a> {
    /// The cache folder (canonical).
    root: &'a Path,
    /// It, open.
    root_fd: BorrowedFd<'a>,
    /// huggingface_hub 2.4's shared store, when the cache has one.
    store: Option<&'a SharedStore>,
    /// Its entries, by path, with their device and inode, and what `statx` said of them.
    store_ids: HashMap<PathBuf, ((u64, u64), Stat)>,
}

/// What the scan keeps of a file's `statx`.
#[derive(Debug, Clone, Copy)]
struct Stat {
    size: u64,
    atime: f64,
    mtime: f64,
    dir: bool,
}

impl Stat {
    fn of_statx(s: &rustix::fs::Statx) -> Self {
        Self {
            size: s.stx_size,
            atime: unix_time(s.stx_atime.tv_sec, i64::from(s.stx_atime.tv_nsec)),
            mtime: unix_time(s.stx_mtime.tv_sec, i64::from(s.stx_mtime.tv_nsec)),
            dir: FileType::from_raw_mode(u32::from(s.stx_mode)) == FileType::Directory,
        }
    }

    fn of_entry(e: &super::shared::Entry) -> Self {
        Self { size: e.size, atime: e.atime, mtime: e.mtime, dir: false }
    }

    fn of_meta(m: &std::fs::Metadata) -> Self {
        Self {
            size: m.len(),
            atime: unix_time(m.atime(), m.atime_nsec()),
            mtime: unix_time(m.mtime(), m.mtime_nsec()),
            dir: m.is_dir(),
        }
    }
}

/// How a blob counts in the cache-wide total.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A file of its own (not a symlink): counted.
    Plain,
    /// A repo blob linking to a shared store entry: counted through the entry.
    Store,
    /// Found the slow way: the store decides.
    Unsure,
}

/// `statx` of `name` in `dir`, with the device and inode of what was reached.
fn statx_at(dir: BorrowedFd<'_>, name: &CStr, follow: bool) -> Option<(Stat, (u64, u64))> {
    let flags = if follow { AtFlags::empty() } else { AtFlags::SYMLINK_NOFOLLOW };
    let mask = StatxFlags::TYPE
        | StatxFlags::SIZE
        | StatxFlags::ATIME
        | StatxFlags::MTIME
        | StatxFlags::INO
        | StatxFlags::BLOCKS;
    let s = rustix::fs::statx(dir, name, flags, mask).ok()?;
    Some((Stat::of_statx(&s), (rustix::fs::makedev(s.stx_dev_major, s.stx_dev_minor), s.stx_ino)))
}

/// The bytes a file holds: its allocated blocks, capped at its length (a file of a few
/// bytes still takes a whole block; a sparse one takes less than its length).
fn statx_bytes_on_disk(dir: BorrowedFd<'_>, name: &CStr) -> Option<u64> {
    let s = rustix::fs::statx(dir, name, AtFlags::SYMLINK_NOFOLLOW, StatxFlags::SIZE | StatxFlags::BLOCKS).ok()?;
    Some(s.stx_size.min(s.stx_blocks.saturating_mul(512)))
}

/// One entry of a folder listing: its name, type and inode.
pub(super) struct Listed {
    pub(super) name: CString,
    pub(super) kind: FileType,
    ino: u64,
}

/// The entries of an open folder (without `.` and `..`), from `getdents` alone: a type the
/// file system does not report is asked for with one `statx`.
pub(super) fn list(dir: BorrowedFd<'_>) -> Vec<Listed> {
    thread_local! {
        static BUF: std::cell::RefCell<Vec<MaybeUninit<u8>>> = std::cell::RefCell::new(vec![MaybeUninit::uninit(); 32 * 1024]);
    }
    BUF.with_borrow_mut(|buf| list_with(dir, buf))
}

fn list_with(dir: BorrowedFd<'_>, buf: &mut [MaybeUninit<u8>]) -> Vec<Listed> {
    let mut out = Vec::new();
    let mut iter = RawDir::new(dir, buf);
    while let Some(Ok(entry)) = iter.next() {
        let name = entry.file_name();
        if name == c"." || name == c".." {
            continue;
        }
        let mut kind = entry.file_type();
        if kind == FileType::Unknown {
            kind = rustix::fs::statx(dir, name, AtFlags::SYMLINK_NOFOLLOW, StatxFlags::TYPE)
                .map_or(FileType::Unknown, |s| FileType::from_raw_mode(u32::from(s.stx_mode)));
        }
        out.push(Listed { name: name.to_owned(), kind, ino: entry.ino() });
    }
    out
}

fn os(name: &CStr) -> &OsStr {
    OsStr::from_bytes(name.to_bytes())
}

/// Opens the folder `name` of `dir` (whose path is `path`): a real folder directly; one
/// reached through a symlink only when it resolves inside the cache (else `Err` with the
/// warning, made by `outside`); `Ok(None)` when there is no folder there.
fn open_folder(
    root: &Path,
    dir: BorrowedFd<'_>,
    path: &Path,
    name: &OsStr,
    outside: impl FnOnce(&Path) -> String,
) -> Result<Option<OwnedFd>, String> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    match rustix::fs::openat(dir, name, flags | OFlags::NOFOLLOW, Mode::empty()) {
        Ok(fd) => Ok(Some(fd)),
        Err(_) => {
            let full = path.join(name);
            if leads_out(root, &full) {
                return Err(outside(&full));
            }
            Ok(rustix::fs::open(&full, flags, Mode::empty()).ok())
        }
    }
}

/// One folder's scan: the repo (with its blobs and how they count, and its orphan blobs) or
/// why it was left out, and its partial downloads.
struct Scanned {
    repo: Result<(CachedRepo, Vec<Blob>, Vec<IncompleteFile>), String>,
    incomplete: Vec<IncompleteFile>,
    /// Its repo blobs that link to store entries, with the entry each names.
    links: Vec<(PathBuf, XetHash)>,
}

fn scan_all(ctx: &Ctx<'_>, names: &[String]) -> Vec<Scanned> {
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get).min(names.len().max(1));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let slots: Vec<std::sync::Mutex<Option<Scanned>>> = names.iter().map(|_| std::sync::Mutex::new(None)).collect();
    let work = || {
        loop {
            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some(name) = names.get(i) else { break };
            let scanned = scan_folder(ctx, name);
            *slots[i].lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(scanned);
        }
    };
    std::thread::scope(|scope| {
        for _ in 1..threads {
            scope.spawn(work);
        }
        work();
    });
    slots.into_iter().filter_map(|s| s.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner)).collect()
}

fn scan_folder(ctx: &Ctx<'_>, name: &str) -> Scanned {
    let path = ctx.root.join(name);
    let repo_fd = match open_folder(ctx.root, ctx.root_fd, ctx.root, OsStr::new(name), |_| {
        format!("Repo folder points outside the cache: {}", path.display())
    }) {
        Ok(fd) => fd,
        Err(warning) => return Scanned { repo: Err(warning), incomplete: Vec::new(), links: Vec::new() },
    };
    // The repo's blobs/, listed once: partial downloads, orphans and blob identities.
    let blobs = repo_fd.as_ref().map(|fd| {
        open_folder(ctx.root, fd.as_fd(), &path, OsStr::new("blobs"), |p| {
            format!("Folder points outside the cache: {}", p.display())
        })
    });
    let blobs = match blobs {
        Some(Ok(Some(fd))) => Ok(Some(BlobIndex::new(ctx, path.join("blobs"), fd, name))),
        Some(Ok(None)) | None => Ok(None),
        Some(Err(warning)) => Err(warning),
    };
    let (incomplete, links) = match &blobs {
        Ok(Some(index)) => (index.incomplete(), index.links.clone()),
        _ => (Vec::new(), Vec::new()),
    };
    let repo = match repo_fd {
        None => Err(format!("Repo path is not a directory: {}", path.display())),
        Some(fd) => scan_repo(ctx, fd.as_fd(), &path, name, blobs).map(|(repo, walk, index)| {
            let orphans = index.map(|i| i.orphans(&walk)).unwrap_or_default();
            (repo, walk.found, orphans)
        }),
    };
    Scanned { repo, incomplete, links }
}

/// A repo's `blobs/`, listed once, with the identity (device, inode) of each blob, so that a
/// snapshot file can be matched to its blob with the one `statx` that also gives its size
/// and times, instead of reading every link.
struct BlobIndex {
    /// `<repo>/blobs`.
    dir: PathBuf,
    fd: OwnedFd,
    listed: Vec<Listed>,
    /// Regular blobs (by their own identity) and blobs linking to a shared store entry (by
    /// the entry's): the blob's index in `listed` and how it counts; `None` when two blobs
    /// share one identity (hard links), which leaves the match to the slow way.
    by_id: HashMap<(u64, u64), Option<(usize, Kind)>>,
    /// Blobs that link to a store entry, with the entry's hash.
    links: Vec<(PathBuf, XetHash)>,
    /// When some blobs link to the store: every blob by name, and the entry's `statx` (from
    /// the store listing) and how it counts for those that link.
    by_name: HashMap<Vec<u8>, usize>,
    store_stat: HashMap<usize, (Stat, Kind)>,
}

impl BlobIndex {
    fn new(ctx: &Ctx<'_>, dir: PathBuf, fd: OwnedFd, repo_name: &str) -> Self {
        let listed = list(fd.as_fd());
        let mut by_id = HashMap::with_capacity(listed.len());
        let mut links = Vec::new();
        let mut store_stat = HashMap::new();
        let dev = rustix::fs::fstat(&fd).map(|s| s.st_dev).ok();
        let id_name = repo_name.split_once("--").is_some_and(|(_, id)| !id.is_empty());
        for (i, entry) in listed.iter().enumerate() {
            let found = match entry.kind {
                FileType::RegularFile => dev.map(|dev| ((dev, entry.ino), Kind::Plain)),
                FileType::Symlink if !ctx.store_ids.is_empty() => {
                    rustix::fs::readlinkat(fd.as_fd(), entry.name.as_c_str(), Vec::new()).ok().and_then(|target| {
                        let blob = dir.join(os(&entry.name));
                        let target = super::shared::normalize(&dir.join(OsStr::from_bytes(target.as_bytes())));
                        let (id, stat) = *ctx.store_ids.get(&target)?;
                        let hash = target.file_name().and_then(|n| n.to_str()).and_then(XetHash::parse)?;
                        links.push((blob.clone(), hash));
                        // 2.4 counts a repo blob through its entry only under these names.
                        let named = id_name && ctx.store.is_some_and(|s| s.relative_blob_path(&blob).is_some());
                        let kind = if named { Kind::Store } else { Kind::Unsure };
                        store_stat.insert(i, (stat, kind));
                        Some((id, kind))
                    })
                }
                _ => None,
            };
            if let Some((id, kind)) = found {
                by_id.entry(id).and_modify(|v| *v = None).or_insert(Some((i, kind)));
            }
        }
        let by_name = if links.is_empty() {
            HashMap::new()
        } else {
            listed.iter().enumerate().map(|(i, e)| (e.name.to_bytes().to_vec(), i)).collect()
        };
        Self { dir, fd, listed, by_id, links, by_name, store_stat }
    }

    /// The blob reached through a snapshot link, by the identity of what it reached.
    fn find(&self, id: (u64, u64)) -> Option<(usize, Kind)> {
        *self.by_id.get(&id)?
    }

    /// The path of the listed blob `i`.
    fn path(&self, i: usize) -> PathBuf {
        self.dir.join(os(&self.listed[i].name))
    }

    fn is_partial(entry: &Listed) -> bool {
        entry.name.to_bytes().ends_with(b".incomplete")
    }

    /// Partial downloads (`*.incomplete`), with the bytes they hold.
    fn incomplete(&self) -> Vec<IncompleteFile> {
        self.listed
            .iter()
            .filter(|e| Self::is_partial(e))
            .filter_map(|e| {
                let size = statx_bytes_on_disk(self.fd.as_fd(), &e.name)?;
                Some(IncompleteFile { path: self.dir.join(os(&e.name)), size })
            })
            .collect()
    }

    /// Blobs no snapshot points to (partial downloads excluded), sorted, with their sizes.
    fn orphans(&self, walk: &Walk<'_>) -> Vec<IncompleteFile> {
        let used: Option<std::collections::HashSet<&Path>> =
            walk.by_path.as_ref().map(|_| walk.found.iter().map(|b| b.path.as_path()).collect());
        let mut out: Vec<IncompleteFile> = self
            .listed
            .iter()
            .enumerate()
            .filter(|(i, e)| !Self::is_partial(e) && walk.by_listed.get(*i).is_none_or(Option::is_none))
            .map(|(_, e)| self.dir.join(os(&e.name)))
            .filter(|path| used.as_ref().is_none_or(|used| !used.contains(path.as_path())))
            .map(|path| IncompleteFile { size: std::fs::symlink_metadata(&path).map_or(0, |m| m.len()), path })
            .collect();
        out.sort_by(|a, b| a.path.cmp(&b.path));
        out
    }
}

/// Whether `path` exists and resolves (through symlinks) to somewhere outside `root`.
fn leads_out(root: &Path, path: &Path) -> bool {
    std::fs::canonicalize(path).is_ok_and(|real| !real.starts_with(root))
}

fn unix_time(secs: i64, nanos: i64) -> f64 {
    secs as f64 + nanos as f64 / 1e9
}

/// A repo, the walk that found its distinct blobs, and its blob index.
type RepoScan<'a> = (CachedRepo, Walk<'a>, Option<BlobIndex>);

fn scan_repo<'a>(
    ctx: &Ctx<'a>,
    repo_fd: BorrowedFd<'_>,
    path: &Path,
    name: &str,
    blobs: Result<Option<BlobIndex>, String>,
) -> Result<RepoScan<'a>, String> {
    let display = path.display();
    let Some((prefix, rest)) = name.split_once("--") else {
        return Err(format!("Repo path is not a valid HuggingFace cache directory: {display}"));
    };
    let kind = match prefix {
        "models" => RepoType::Model,
        "datasets" => RepoType::Dataset,
        "spaces" => RepoType::Space,
        "kernels" => RepoType::Kernel,
        _ => {
            return Err(format!(
                "Repo type must be one of ['datasets', 'kernels', 'models', 'spaces'], found `{prefix}` ({display})."
            ));
        }
    };
    let outside = |p: &Path| format!("Folder points outside the cache: {}", p.display());
    let snapshots_fd = open_folder(ctx.root, repo_fd, path, OsStr::new("snapshots"), outside)?;
    let refs_fd = open_folder(ctx.root, repo_fd, path, OsStr::new("refs"), outside)?;
    let blobs = blobs?;
    let snapshots = path.join("snapshots");
    let Some(snapshots_fd) = snapshots_fd else {
        return Err(format!("Snapshots dir doesn't exist in cached repo: {}", snapshots.display()));
    };
    let refs_dir = path.join("refs");
    let mut refs_by_commit: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    if refs_fd.is_none() && refs_dir.is_file() {
        return Err(format!("Refs directory cannot be a file: {}", refs_dir.display()));
    }
    if let Some(fd) = &refs_fd {
        read_refs(fd.as_fd(), "", &mut refs_by_commit);
    }

    let mut walk = Walk {
        root: ctx.root,
        by_listed: vec![None; blobs.as_ref().map_or(0, |b| b.listed.len())],
        found: Vec::new(),
        by_path: None,
        real_dirs: HashMap::new(),
        link_buf: Vec::new(),
    };
    let mut revisions = Vec::new();
    let mut commits: Vec<Listed> = list(snapshots_fd.as_fd())
        .into_iter()
        .filter(|e| !IGNORED.contains(&os(&e.name).to_string_lossy().as_ref()))
        .collect();
    commits.sort_by(|a, b| a.name.cmp(&b.name));
    for entry in commits {
        let revision_path = snapshots.join(os(&entry.name));
        let is_file = match entry.kind {
            FileType::Directory => false,
            FileType::Symlink => true, // a symlinked snapshot folder could lead anywhere: never entered
            _ => revision_path.is_file(),
        };
        if is_file {
            return Err(format!("Snapshots folder corrupted. Found a file: {}", revision_path.display()));
        }
        let mut cached = Vec::new();
        let mut used = Vec::new();
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        if let Ok(fd) = rustix::fs::openat(snapshots_fd.as_fd(), entry.name.as_c_str(), flags, Mode::empty()) {
            walk.walk(blobs.as_ref(), fd.as_fd(), &revision_path, &mut String::new(), &mut cached, &mut used)?;
        }
        let commit = os(&entry.name).to_string_lossy().into_owned();
        used.sort_unstable();
        used.dedup();
        let distinct = used.iter().map(|&i| walk.found[i].stat);
        let size_on_disk = distinct.clone().map(|s| s.size).fold(0, u64::saturating_add);
        let last_modified = if cached.is_empty() {
            std::fs::metadata(&revision_path).map_or(0.0, |m| unix_time(m.mtime(), m.mtime_nsec()))
        } else {
            distinct.map(|s| s.mtime).fold(f64::MIN, f64::max)
        };
        let refs = refs_by_commit.remove(&commit).unwrap_or_default();
        revisions.push(CachedRevision {
            commit,
            snapshot_path: revision_path,
            refs,
            size_on_disk,
            files: cached,
            last_modified,
        });
    }
    if !refs_by_commit.is_empty() {
        let missing: Vec<String> = refs_by_commit
            .iter()
            .map(|(commit, refs)| {
                let refs: Vec<String> = refs.iter().map(|r| format!("'{r}'")).collect();
                format!("'{commit}': {{{}}}", refs.join(", "))
            })
            .collect();
        return Err(format!("Reference(s) refer to missing commit hashes: {{{}}} ({display}).", missing.join(", ")));
    }
    let blob_stats: Vec<Stat> = walk.found.iter().map(|b| b.stat).collect();
    let (last_accessed, last_modified) = if blob_stats.is_empty() {
        let m = std::fs::metadata(path).map_err(|e| e.to_string())?;
        (unix_time(m.atime(), m.atime_nsec()), unix_time(m.mtime(), m.mtime_nsec()))
    } else {
        (
            blob_stats.iter().map(|s| s.atime).fold(f64::MIN, f64::max),
            blob_stats.iter().map(|s| s.mtime).fold(f64::MIN, f64::max),
        )
    };
    let repo = CachedRepo {
        kind,
        id: rest.replace("--", "/"),
        path: path.to_owned(),
        size_on_disk: blob_stats.iter().map(|s| s.size).fold(0, u64::saturating_add),
        nb_files: blob_stats.len(),
        last_accessed,
        last_modified,
        revisions,
    };
    Ok((repo, walk, blobs))
}

/// A distinct blob of a repo.
struct Blob {
    /// Where it is (the first link hop, as huggingface_hub keys blobs).
    path: PathBuf,
    stat: Stat,
    kind: Kind,
}

/// The walk of a repo's snapshots, collecting each distinct blob once.
struct Walk<'a> {
    root: &'a Path,
    /// The distinct blobs, in the order met.
    found: Vec<Blob>,
    /// For each listed blob of the repo, its index in `found` once met.
    by_listed: Vec<Option<usize>>,
    /// Every found blob by path, kept only once a file needed the slow way (its path may
    /// name a blob also met by identity).
    by_path: Option<HashMap<PathBuf, usize>>,
    /// Real paths of folders met on the slow way.
    real_dirs: HashMap<PathBuf, Option<PathBuf>>,
    /// A buffer for link targets, reused.
    link_buf: Vec<u8>,
}

impl Walk<'_> {
    /// Every file below the open folder `dir` (at `path`, `rel` inside the snapshot), with
    /// the index of its blob in `used`: folders are entered only when real; a link to a
    /// folder is dropped.
    fn walk(
        &mut self,
        blobs: Option<&BlobIndex>,
        dir: BorrowedFd<'_>,
        path: &Path,
        rel: &mut String,
        out: &mut Vec<CachedFile>,
        used: &mut Vec<usize>,
    ) -> Result<(), String> {
        let base = rel.len();
        for entry in list(dir) {
            let name = os(&entry.name);
            let file_path = path.join(name);
            rel.truncate(base);
            rel.push_str(&name.to_string_lossy());
            if entry.kind == FileType::Directory {
                let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
                if let Ok(fd) = rustix::fs::openat(dir, entry.name.as_c_str(), flags, Mode::empty()) {
                    rel.push('/');
                    self.walk(blobs, fd.as_fd(), &file_path, rel, out, used)?;
                }
                continue;
            }
            // How many folders below the repo the file sits: what 2.4's `../`s climb.
            let depth = 2 + rel.matches('/').count();
            if let Some(i) = self.file(blobs, dir, &entry, &file_path, depth)? {
                let blob = &self.found[i];
                out.push(CachedFile {
                    name: rel.clone(),
                    path: file_path,
                    blob_path: blob.path.clone(),
                    size: blob.stat.size,
                });
                used.push(i);
            }
        }
        rel.truncate(base);
        Ok(())
    }

    /// The index of `path`'s blob in `found`, adding it (with `stat`, `kind`, and its index
    /// in the listing when matched by identity) when new.
    fn intern(&mut self, path: PathBuf, listed: Option<usize>, stat: Stat, kind: Kind) -> usize {
        if let Some(i) = listed.and_then(|l| self.by_listed[l]) {
            return i;
        }
        if let Some(by_path) = &mut self.by_path {
            if let Some(&i) = by_path.get(&path) {
                if let Some(l) = listed {
                    self.by_listed[l] = Some(i);
                }
                return i;
            }
            by_path.insert(path.clone(), self.found.len());
        }
        if let Some(l) = listed {
            self.by_listed[l] = Some(self.found.len());
        }
        self.found.push(Blob { path, stat, kind });
        self.found.len() - 1
    }

    /// The blob of one snapshot file, as an index in `found` (`None` for a link to a
    /// folder). An honest file costs one `statx`: a file that is not a link is its own blob
    /// (every folder on the way is real, so it is inside); a link whose target is, by
    /// identity, a regular blob of the repo is that blob (a link reaching the store through
    /// a repo blob also has its first hop read). Anything else is read and resolved in full,
    /// and refused when it leads outside.
    fn file(
        &mut self,
        blobs: Option<&BlobIndex>,
        dir: BorrowedFd<'_>,
        entry: &Listed,
        file_path: &Path,
        depth: usize,
    ) -> Result<Option<usize>, String> {
        let missing = |p: &Path| format!("Blob missing (broken symlink): {}", p.display());
        if entry.kind != FileType::Symlink {
            let (stat, _) = statx_at(dir, &entry.name, false).ok_or_else(|| missing(file_path))?;
            if stat.dir {
                return Ok(None);
            }
            return Ok(Some(self.intern(file_path.to_owned(), None, stat, Kind::Plain)));
        }
        if let Some(blobs) = blobs
            && !blobs.links.is_empty()
        {
            // Some blobs link to the shared store, where identity says nothing of the first
            // hop: the link is read (one `readlink`), and its blob's `statx` is taken once
            // (for a link into the store, from the store listing).
            let target = rustix::fs::readlinkat(dir, entry.name.as_c_str(), std::mem::take(&mut self.link_buf));
            let listed = target.as_ref().ok().and_then(|target| match canonical_blob_name(target.to_bytes(), depth) {
                Some(name) => blobs.by_name.get(name).copied(),
                None => {
                    let hop = hop_of(file_path, target)?;
                    let name = hop.file_name().filter(|_| hop.parent() == Some(blobs.dir.as_path()))?;
                    blobs.by_name.get(name.as_bytes()).copied()
                }
            });
            if let Ok(target) = target {
                self.link_buf = target.into_bytes();
            }
            if let Some(l) = listed {
                if let Some(i) = self.by_listed[l] {
                    return Ok(Some(i));
                }
                let hop = blobs.path(l);
                let found = match blobs.listed[l].kind {
                    FileType::RegularFile => statx_at(blobs.fd.as_fd(), &blobs.listed[l].name, false)
                        .filter(|(s, _)| !s.dir)
                        .map(|(s, _)| (s, Kind::Plain)),
                    _ => blobs.store_stat.get(&l).copied(),
                };
                if let Some((stat, kind)) = found {
                    return Ok(Some(self.intern(hop, Some(l), stat, kind)));
                }
            }
        } else if let Some((stat, id)) = statx_at(dir, &entry.name, true)
            && let Some(blobs) = blobs
            && let Some((l, kind)) = blobs.find(id)
            // A match through a repo blob that is itself a link (to the shared store) holds
            // only when the file links to that repo blob, not straight to the entry.
            && (blobs.listed[l].kind != FileType::Symlink || first_hop(dir, entry, file_path) == Some(blobs.path(l)))
        {
            if let Some(i) = self.by_listed[l] {
                return Ok(Some(i));
            }
            return Ok(Some(self.intern(blobs.path(l), Some(l), stat, kind)));
        }
        if self.by_path.is_none() {
            self.by_path = Some(self.found.iter().enumerate().map(|(i, b)| (b.path.clone(), i)).collect());
        }
        let blob_path = first_hop(dir, entry, file_path).unwrap_or_else(|| file_path.to_owned());
        if !blob_path.starts_with(self.root) {
            return Err(format!(
                "Snapshot file points outside the cache: {} -> {}",
                file_path.display(),
                blob_path.display()
            ));
        }
        if let Some(&i) = self.by_path.as_ref().and_then(|m| m.get(&blob_path)) {
            return Ok(Some(i));
        }
        // The target may itself be a link (Python's shared store): where it really is must
        // be inside too.
        let (real, meta) = resolve(&blob_path, &mut self.real_dirs).ok_or_else(|| missing(&blob_path))?;
        if !real.starts_with(self.root) {
            return Err(format!(
                "Snapshot file points outside the cache: {} -> {}",
                file_path.display(),
                real.display()
            ));
        }
        let stat = Stat::of_meta(&meta);
        if stat.dir {
            return Ok(None); // a link to a folder is not a file
        }
        Ok(Some(self.intern(blob_path, None, stat, Kind::Unsure)))
    }
}

/// Where the link `entry` of `dir` (at `file_path`) points, read lexically.
fn first_hop(dir: BorrowedFd<'_>, entry: &Listed, file_path: &Path) -> Option<PathBuf> {
    let target = rustix::fs::readlinkat(dir, entry.name.as_c_str(), Vec::new()).ok()?;
    hop_of(file_path, &target)
}

/// Where a link at `file_path` holding `target` points, read lexically.
fn hop_of(file_path: &Path, target: &CStr) -> Option<PathBuf> {
    let parent = file_path.parent()?;
    Some(super::shared::normalize(&parent.join(OsStr::from_bytes(target.to_bytes()))))
}

/// The blob name in a link written as huggingface_hub writes one from `depth` folders below
/// the repo (`../` × depth, `blobs/`, a name), which leads to `<repo>/blobs/<name>` without
/// building a path; `None` for any other spelling.
fn canonical_blob_name(target: &[u8], depth: usize) -> Option<&[u8]> {
    let mut rest = target;
    for _ in 0..depth {
        rest = rest.strip_prefix(b"../")?;
    }
    let name = rest.strip_prefix(b"blobs/")?;
    (!name.is_empty() && !name.contains(&b'/') && name != b"." && name != b"..").then_some(name)
}

/// Where `path` really is, and its metadata. A file that is not a link is its folder's real
/// path (resolved once per folder, in `real_dirs`) joined with its name; a link is resolved
/// in full.
fn resolve(path: &Path, real_dirs: &mut HashMap<PathBuf, Option<PathBuf>>) -> Option<(PathBuf, std::fs::Metadata)> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    if meta.file_type().is_symlink() {
        let real = std::fs::canonicalize(path).ok()?;
        let meta = std::fs::metadata(&real).ok()?;
        return Some((real, meta));
    }
    let parent = path.parent()?;
    let real_parent = real_dirs.entry(parent.to_owned()).or_insert_with(|| std::fs::canonicalize(parent).ok());
    Some((real_parent.as_ref()?.join(path.file_name()?), meta))
}

/// Every ref file below the open folder `dir` (`rel` inside `refs/`), by the commit it holds
/// (read raw, as huggingface_hub does). Only real folders are entered and only regular files
/// read, opened without following links or blocking: a symlink, FIFO or device among the
/// refs is skipped.
fn read_refs(dir: BorrowedFd<'_>, rel: &str, out: &mut BTreeMap<String, BTreeSet<String>>) {
    for entry in list(dir) {
        let name = os(&entry.name).to_string_lossy();
        if entry.kind == FileType::Directory {
            let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
            if let Ok(fd) = rustix::fs::openat(dir, entry.name.as_c_str(), flags, Mode::empty()) {
                read_refs(fd.as_fd(), &format!("{rel}{name}/"), out);
            }
        } else if entry.kind == FileType::RegularFile
            && !IGNORED.contains(&name.as_ref())
            && let Some(commit) = read_small(dir, &entry.name)
        {
            out.entry(commit).or_default().insert(format!("{rel}{name}"));
        }
    }
}

/// A ref file's text, read raw as huggingface_hub reads it, but no more than a ref can hold
/// (a commit hash, a stray newline): a huge file is cut, so the scan stays small.
fn read_small(dir: BorrowedFd<'_>, name: &CStr) -> Option<String> {
    let file = super::shared::open_regular_at(dir, name).ok()?;
    let mut text = Vec::new();
    std::io::Read::read_to_end(&mut std::io::Read::take(file, 256), &mut text).ok()?;
    String::from_utf8(text).ok()
}

#[cfg(test)]
mod tests {
    use super::canonical_blob_name;

    #[test]
    fn only_links_spelled_as_huggingface_hub_writes_them_skip_the_path() {
        assert_eq!(canonical_blob_name(b"../../blobs/abc", 2), Some(&b"abc"[..]));
        assert_eq!(canonical_blob_name(b"../../../blobs/abc", 3), Some(&b"abc"[..]));
        let others: [(&[u8], usize); 8] = [
            (b"../../blobs/abc", 3),
            (b"../../../blobs/abc", 2),
            (b"../../blobs/..", 2),
            (b"../../blobs/.", 2),
            (b"../../blobs/a/b", 2),
            (b"../../blobs/", 2),
            (b"../.././blobs/abc", 2),
            (b"/cache/models--a--b/blobs/abc", 0),
        ];
        for (target, depth) in others {
            assert_eq!(canonical_blob_name(target, depth), None, "{target:?} at depth {depth}");
        }
    }
}
