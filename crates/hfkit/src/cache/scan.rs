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

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::shared::SharedStore;
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
        self.store.as_ref().map(SharedStore::unreferenced).unwrap_or_default()
    }
}

/// Scans the cache at `root`.
pub fn scan(root: &Path) -> Result<CacheInfo, ScanError> {
    let root = std::fs::canonicalize(root).map_err(|_| ScanError::NotFound(root.to_owned()))?;
    if !root.is_dir() {
        return Err(ScanError::NotADirectory(root));
    }
    let mut names: Vec<String> = std::fs::read_dir(&root)
        .map_err(|_| ScanError::NotFound(root.clone()))?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names.retain(|name| {
        !(IGNORED.contains(&name.as_str())
            || name == ".locks"
            || name == "CACHEDIR.TAG"
            || (name == super::shared::STORE_DIR && SharedStore::open(&root).is_some()))
    });
    // Repos are independent: scan them on every core, keeping the folder order.
    let results = scan_all(&root, &names);
    let mut repos = Vec::new();
    let mut warnings = Vec::new();
    let mut incomplete = Vec::new();
    for (result, partial) in results {
        incomplete.extend(partial);
        match result {
            Ok(repo) => repos.push(repo),
            Err(warning) => warnings.push(warning),
        }
    }
    let store = SharedStore::open(&root);
    // Repo blobs linking into the store are counted through their entry, once.
    let mut physical: HashMap<PathBuf, u64> = repos
        .iter()
        .flat_map(|r| r.revisions.iter().flat_map(|v| v.files.iter()))
        .filter(|f| store.as_ref().is_none_or(|s| s.target_of(&f.blob_path).is_none()))
        .map(|f| (f.blob_path.clone(), f.size))
        .collect();
    if let Some(store) = &store {
        for entry in store.entries() {
            let size = std::fs::metadata(&entry).map_or(0, |m| m.len());
            physical.insert(entry, size);
        }
    }
    let size_on_disk = physical.values().fold(0u64, |a, b| a.saturating_add(*b));
    let orphan_blobs = repos.iter().flat_map(|r| orphans(&root, r)).collect();
    Ok(CacheInfo { root, repos, size_on_disk, incomplete, warnings, orphan_blobs, store })
}

/// One folder's scan result and its partial downloads.
type Scanned = (Result<CachedRepo, String>, Vec<IncompleteFile>);

fn scan_all(root: &Path, names: &[String]) -> Vec<Scanned> {
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get).min(names.len().max(1));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let slots: Vec<std::sync::Mutex<Option<Scanned>>> = names.iter().map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(name) = names.get(i) else { break };
                    let path = root.join(name);
                    let mut partial = Vec::new();
                    let result = if leads_out(root, &path) {
                        Err(format!("Repo folder points outside the cache: {}", path.display()))
                    } else {
                        collect_incomplete(root, &path, &mut partial);
                        scan_repo(root, &path, name)
                    };
                    *slots[i].lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some((result, partial));
                }
            });
        }
    });
    slots.into_iter().filter_map(|s| s.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner)).collect()
}

/// Files in a repo's `blobs/` that none of its snapshots points to.
fn orphans(root: &Path, repo: &CachedRepo) -> Vec<IncompleteFile> {
    let used: std::collections::HashSet<&Path> =
        repo.revisions.iter().flat_map(|r| r.files.iter().map(|f| f.blob_path.as_path())).collect();
    let blobs = repo.path.join("blobs");
    if leads_out(root, &blobs) {
        return Vec::new();
    }
    let Ok(entries) = std::fs::read_dir(blobs) else { return Vec::new() };
    let mut out: Vec<IncompleteFile> = entries
        .flatten()
        .filter(|e| !e.file_name().to_string_lossy().ends_with(".incomplete"))
        .filter(|e| !used.contains(e.path().as_path()))
        .map(|e| IncompleteFile { size: e.metadata().map_or(0, |m| m.len()), path: e.path() })
        .collect();
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// Whether `path` exists and resolves (through symlinks) to somewhere outside `root`.
fn leads_out(root: &Path, path: &Path) -> bool {
    std::fs::canonicalize(path).is_ok_and(|real| !real.starts_with(root))
}

fn collect_incomplete(root: &Path, repo: &Path, out: &mut Vec<IncompleteFile>) {
    let blobs = repo.join("blobs");
    if leads_out(root, &blobs) {
        return;
    }
    let Ok(entries) = std::fs::read_dir(blobs) else { return };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().ends_with(".incomplete")
            && let Ok(meta) = entry.metadata()
        {
            out.push(IncompleteFile { path: entry.path(), size: bytes_on_disk(&meta) });
        }
    }
}

/// The bytes a file holds: its allocated blocks, capped at its length (a file of a few
/// bytes still takes a whole block; a sparse one takes less than its length).
pub(super) fn bytes_on_disk(meta: &std::fs::Metadata) -> u64 {
    meta.len().min(meta.blocks().saturating_mul(512))
}

fn unix_time(secs: i64, nanos: i64) -> f64 {
    secs as f64 + nanos as f64 / 1e9
}

fn scan_repo(root: &Path, path: &Path, name: &str) -> Result<CachedRepo, String> {
    let display = path.display();
    if !path.is_dir() {
        return Err(format!("Repo path is not a directory: {display}"));
    }
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
    let snapshots = path.join("snapshots");
    for sub in ["snapshots", "refs", "blobs"] {
        if leads_out(root, &path.join(sub)) {
            return Err(format!("Folder points outside the cache: {}", path.join(sub).display()));
        }
    }
    if !snapshots.is_dir() {
        return Err(format!("Snapshots dir doesn't exist in cached repo: {}", snapshots.display()));
    }
    let refs_dir = path.join("refs");
    let mut refs_by_commit: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    if refs_dir.is_file() {
        return Err(format!("Refs directory cannot be a file: {}", refs_dir.display()));
    }
    read_refs(&refs_dir, &refs_dir, &mut refs_by_commit);

    let mut blob_stats: HashMap<PathBuf, std::fs::Metadata> = HashMap::new();
    let mut real_dirs = HashMap::new();
    let mut revisions = Vec::new();
    let mut commits: Vec<PathBuf> = std::fs::read_dir(&snapshots)
        .map_err(|e| format!("Cannot read {}: {e}", snapshots.display()))?
        .flatten()
        .filter(|e| !IGNORED.contains(&e.file_name().to_string_lossy().as_ref()))
        .map(|e| e.path())
        .collect();
    commits.sort();
    for revision_path in commits {
        let is_link = std::fs::symlink_metadata(&revision_path).is_ok_and(|m| m.file_type().is_symlink());
        if revision_path.is_file() || is_link {
            // A symlinked snapshot folder could lead anywhere: it is never entered.
            return Err(format!("Snapshots folder corrupted. Found a file: {}", revision_path.display()));
        }
        let mut files = Vec::new();
        walk_files(&revision_path, &revision_path, &mut files);
        let mut cached = Vec::new();
        for (rel, file_path, is_link) in files {
            let blob_path = match is_link.then(|| std::fs::read_link(&file_path)) {
                Some(Ok(target)) => {
                    super::shared::normalize(&file_path.parent().unwrap_or(Path::new("/")).join(target))
                }
                _ => file_path.clone(),
            };
            if !blob_path.starts_with(root) {
                return Err(format!(
                    "Snapshot file points outside the cache: {} -> {}",
                    file_path.display(),
                    blob_path.display()
                ));
            }
            if !blob_stats.contains_key(&blob_path) {
                // The target may itself be a link (Python's shared store): where it really
                // is must be inside too.
                let (real, meta) = resolve(&blob_path, &mut real_dirs)
                    .ok_or_else(|| format!("Blob missing (broken symlink): {}", blob_path.display()))?;
                if !real.starts_with(root) {
                    return Err(format!(
                        "Snapshot file points outside the cache: {} -> {}",
                        file_path.display(),
                        real.display()
                    ));
                }
                blob_stats.insert(blob_path.clone(), meta);
            }
            if blob_stats[&blob_path].is_dir() {
                blob_stats.remove(&blob_path); // a link to a folder is not a file
                continue;
            }
            let size = blob_stats[&blob_path].len();
            cached.push(CachedFile { name: rel, path: file_path, blob_path, size });
        }
        let commit = revision_path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let distinct: BTreeSet<&PathBuf> = cached.iter().map(|f| &f.blob_path).collect();
        let size_on_disk = distinct.iter().map(|b| blob_stats[*b].len()).fold(0, u64::saturating_add);
        let last_modified = if cached.is_empty() {
            std::fs::metadata(&revision_path).map_or(0.0, |m| unix_time(m.mtime(), m.mtime_nsec()))
        } else {
            distinct
                .iter()
                .map(|b| unix_time(blob_stats[*b].mtime(), blob_stats[*b].mtime_nsec()))
                .fold(f64::MIN, f64::max)
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
    let (last_accessed, last_modified) = if blob_stats.is_empty() {
        let m = std::fs::metadata(path).map_err(|e| e.to_string())?;
        (unix_time(m.atime(), m.atime_nsec()), unix_time(m.mtime(), m.mtime_nsec()))
    } else {
        (
            blob_stats.values().map(|m| unix_time(m.atime(), m.atime_nsec())).fold(f64::MIN, f64::max),
            blob_stats.values().map(|m| unix_time(m.mtime(), m.mtime_nsec())).fold(f64::MIN, f64::max),
        )
    };
    Ok(CachedRepo {
        kind,
        id: rest.replace("--", "/"),
        path: path.to_owned(),
        size_on_disk: blob_stats.values().map(std::fs::Metadata::len).fold(0, u64::saturating_add),
        nb_files: blob_stats.len(),
        last_accessed,
        last_modified,
        revisions,
    })
}

/// Where `path` really is, and its metadata. A file that is not a link is its folder's real
/// path (resolved once per folder, in `real_dirs`) joined with its name, so an honest cache
/// costs one `lstat` per blob; a link is resolved in full.
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

/// Every ref file below `dir`, by the commit it holds (read raw, as huggingface_hub does).
/// Only real folders are entered and only regular files read: a symlink, FIFO or device
/// among the refs is skipped.
fn read_refs(base: &Path, dir: &Path, out: &mut BTreeMap<String, BTreeSet<String>>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else { continue };
        if kind.is_dir() {
            read_refs(base, &path, out);
        } else if kind.is_file()
            && !IGNORED.contains(&entry.file_name().to_string_lossy().as_ref())
            && let Some(commit) = read_small(&path)
        {
            let name = path.strip_prefix(base).unwrap_or(&path).to_string_lossy().into_owned();
            out.entry(commit).or_default().insert(name);
        }
    }
}

/// A ref file's text, read raw as huggingface_hub reads it, but no more than a ref can hold
/// (a commit hash, a stray newline): a huge file is cut, so the scan stays small.
fn read_small(path: &Path) -> Option<String> {
    let mut text = Vec::new();
    std::io::Read::read_to_end(&mut std::io::Read::take(std::fs::File::open(path).ok()?, 256), &mut text).ok()?;
    String::from_utf8(text).ok()
}

/// Every non-folder entry below `dir`, with whether it is a symlink (folders reached through
/// symlinks are not entered; the caller drops links to folders).
fn walk_files(base: &Path, dir: &Path, out: &mut Vec<(String, PathBuf, bool)>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else { continue };
        if kind.is_dir() {
            walk_files(base, &path, out);
        } else {
            let rel = path.strip_prefix(base).unwrap_or(&path).to_string_lossy().into_owned();
            out.push((rel, path, kind.is_symlink()));
        }
    }
}
