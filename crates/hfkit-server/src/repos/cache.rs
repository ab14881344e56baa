//! A huggingface_hub cache (Python's or ours, shared blob store included) served live:
//! every request sees the repo's folder through `hfkit::cache` as it is now, so a repo
//! downloaded into the cache by anyone, or a ref that moves, is served without a restart.
//!
//! Reading a repo's refs and snapshot folders on every request costs dozens of system
//! calls, so what was read is kept with its [`RepoStamp`] (one `statx` per refs folder, ref
//! file and `snapshots/`) and reused while the stamp is unchanged: a moved ref, a new
//! branch or a new snapshot changes it and the next request reads the repo again. Which
//! blob a snapshot file links to is kept too, per commit (a commit's files never change;
//! a link that no longer opens is read again). Blobs are opened with one `openat2` from the
//! cache folder kept open ([`KeptCache`]).
//!
//! No cache-layout code lives here: refs, snapshots, links and blobs are read by
//! [`RepoCache`], which never follows a link out of the cache and opens only regular files.
//! A broken entry (a ref to a missing commit, a short snapshot name, a dangling link, a
//! loop) is left out and named once in the log; the rest of the repo is served.
//!
//! A cache written with `HF_HUB_DISABLE_SYMLINKS` has the files themselves in its snapshots:
//! their etags come from the commit's cached tree listing, and a file's bytes are hashed
//! against its etag before it is first served and after any change to it (seen as a new
//! inode, size or change time; a write through a shared memory map of an already written
//! page changes none of them, and a change during a send is not seen: the trust a symlink
//! cache's blobs get, which are never hashed).
//!
//! What a cache cannot know: tags versus branches (every ref is a branch), the order of
//! commits, commit titles, and who may see a repo (public here; the operator's settings in
//! the store apply on top). Dates come from the file times: a commit's is the time its
//! snapshot folder last changed (when files of it were last downloaded).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex};

use hfkit::cache::{KeptCache, ListedEtags, RepoCache, RepoStamp, SnapshotFile, list_repos};
use hfkit::hashes::{CommitHash, Etag};
use hfkit::repo::{Repo, RepoType};

use super::{CacheBlob, Content, FileEntry, RepoSource, RepoView};

/// How many distinct warnings are remembered, so each broken entry is logged once.
const MAX_REMEMBERED_WARNINGS: usize = 10_000;

/// How many repos' readings are kept (all are dropped when more are asked for).
const MAX_KEPT_REPOS: usize = 1024;

/// How many snapshot links are remembered per repo (all are dropped past it).
const MAX_KEPT_LINKS: usize = 50_000;

/// The cache-backed [`RepoSource`].
#[derive(Debug)]
pub struct CacheRepos {
    kept: KeptCache,
    warned: Mutex<HashSet<String>>,
    read: Mutex<HashMap<(String, String), Arc<Reading>>>,
    /// Whether the bytes of a snapshot file of a cache written without symlinks are its
    /// etag's, by what identifies the file's state (device, inode, size, change time) and
    /// the etag: each state of a file is hashed once (requests for it while it is hashed
    /// wait for that one hash; other files are hashed meanwhile), whatever the answer.
    checked: Mutex<HashMap<(CopyStamp, Etag), Arc<CopyCheck>>>,
    /// The etags of the files each commit's snapshot holds itself, from its cached tree
    /// listing (a commit's listing never changes), with how many entries they hold in all.
    listings: Mutex<KeptListings>,
}

/// The outcome of hashing one state of a copy: `None` until it is known.
type CopyCheck = Mutex<Option<bool>>;

/// The kept listings by repo folder and commit, and how many entries they hold in all.
#[derive(Debug, Default)]
struct KeptListings {
    by_commit: HashMap<(std::path::PathBuf, CommitHash), Arc<ListedEtags>>,
    entries: usize,
}

/// Most entries of tree listings kept, all commits together (all are dropped past it).
const MAX_KEPT_LISTED: usize = 200_000;

/// What identifies the state of a file: a change to its bytes changes its ctime.
type CopyStamp = (u64, u64, u64, i64, i64);

/// A repo as read under `stamp`: its refs and commits, and the blobs of the snapshot files
/// served since (by commit and path).
#[derive(Debug)]
struct Reading {
    stamp: RepoStamp,
    view: RepoView,
    links: Mutex<HashMap<(CommitHash, String), Etag>>,
}

impl Reading {
    fn link(&self, commit: &CommitHash, path: &str) -> Option<Etag> {
        lock(&self.links).get(&(commit.clone(), path.to_owned())).cloned()
    }

    fn remember(&self, commit: &CommitHash, path: &str, etag: Option<Etag>) {
        let mut links = lock(&self.links);
        let key = (commit.clone(), path.to_owned());
        match etag {
            Some(etag) => {
                if links.len() >= MAX_KEPT_LINKS {
                    links.clear();
                }
                links.insert(key, etag);
            }
            None => {
                links.remove(&key);
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl CacheRepos {
    /// Serves the cache at `root` (which must exist).
    pub fn new(root: &Path) -> std::io::Result<Self> {
        let root = std::fs::canonicalize(root)?;
        if !root.is_dir() {
            return Err(std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a folder"));
        }
        Ok(Self {
            kept: KeptCache::open(&root)?,
            warned: Mutex::default(),
            read: Mutex::default(),
            checked: Mutex::default(),
            listings: Mutex::default(),
        })
    }

    /// The cache folder served.
    pub fn root(&self) -> &Path {
        self.kept.root()
    }

    /// Logs each warning the first time it is seen.
    fn warn(&self, warnings: Vec<String>) {
        if warnings.is_empty() {
            return;
        }
        let mut seen = lock(&self.warned);
        for warning in warnings {
            if seen.len() >= MAX_REMEMBERED_WARNINGS {
                seen.clear();
            }
            if seen.insert(warning.clone()) {
                crate::log::line(&format!("cache: skipped {warning}"));
            }
        }
    }

    /// The repo's folder in the cache (not checked: see [`Self::checked`]).
    fn repo_cache(&self, kind: &str, id: &str) -> Option<RepoCache> {
        let kind: RepoType = kind.parse().ok()?;
        let repo = Repo::new(kind, id).ok()?;
        Some(RepoCache::new(self.root(), &repo))
    }

    /// `cache` when its folder is a real folder (not a link).
    fn checked(cache: RepoCache) -> Option<RepoCache> {
        std::fs::symlink_metadata(cache.folder()).ok().filter(std::fs::Metadata::is_dir)?;
        Some(cache)
    }

    /// The repo as read now: kept from an earlier request while its stamp is unchanged,
    /// read again (and kept, once settled) otherwise.
    fn reading(&self, kind: &str, id: &str) -> Option<Arc<Reading>> {
        let key = (kind.to_owned(), id.to_owned());
        let earlier = lock(&self.read).get(&key).cloned();
        if let Some(reading) = earlier.filter(|r| self.kept.unchanged(&r.stamp)) {
            return Some(reading);
        }
        let Some(cache) = self.repo_cache(kind, id).and_then(Self::checked) else {
            lock(&self.read).remove(&key);
            return None;
        };
        let stamp = self.kept.stamp(&cache);
        let view = self.view(kind, id, &cache);
        let reading = Arc::new(Reading { stamp, view, links: Mutex::default() });
        let mut read = lock(&self.read);
        if read.len() >= MAX_KEPT_REPOS {
            read.clear();
        }
        read.insert(key, Arc::clone(&reading));
        Some(reading)
    }

    /// The blob `etag` opened, as a file of `cache`.
    fn opened(&self, cache: &RepoCache, etag: Etag) -> Result<FileEntry, String> {
        let unreadable = |e: std::io::Error| format!("blob {etag} cannot be read: {e}");
        let (blob, size) = self.kept.open_blob(cache, &etag).map_err(unreadable)?;
        Ok(entry(cache, etag, size, Some(blob)))
    }

    /// The etags of the files the commit's snapshot holds itself, from its cached tree
    /// listing, read once it is there (empty while it is not: a later `snapshot_download`
    /// may write it). Read where it does not hold up a runtime's other tasks.
    fn listing(&self, cache: &RepoCache, commit: &CommitHash) -> Arc<ListedEtags> {
        let key = (cache.folder(), commit.clone());
        if let Some(listing) = lock(&self.listings).by_commit.get(&key) {
            return Arc::clone(listing);
        }
        let Some(listing) = blocking(|| cache.listed_copies(commit)).map(Arc::new) else { return Arc::default() };
        let mut listings = lock(&self.listings);
        if listings.entries + listing.len() > MAX_KEPT_LISTED {
            *listings = KeptListings::default();
        }
        listings.entries += listing.len();
        listings.by_commit.insert(key, Arc::clone(&listing));
        listing
    }

    /// The snapshot file `path` of `commit` when it is the file itself: served once its
    /// bytes are found to be the etag the commit's cached listing gives it (hashed on first
    /// use and after any change to the file); else left out and named in the log.
    fn copy(&self, cache: &RepoCache, commit: &CommitHash, path: &str) -> Option<FileEntry> {
        let shown = cache.snapshot_file(commit, path);
        let checked = cache.snapshot_copy(commit, path, &self.listing(cache, commit)).and_then(|(file, opened)| {
            let unreadable = |e: std::io::Error| format!("snapshot file {} cannot be read: {e}", shown.display());
            let stamp = {
                use std::os::unix::fs::MetadataExt as _;
                let m = opened.metadata().map_err(unreadable)?;
                (m.dev(), m.ino(), m.size(), m.ctime(), m.ctime_nsec())
            };
            let cell = {
                let mut checked = lock(&self.checked);
                if checked.len() >= MAX_KEPT_LINKS {
                    checked.clear();
                }
                Arc::clone(checked.entry((stamp, file.etag.clone())).or_default())
            };
            // Waiting for this file's hash, and hashing, hold no runtime thread.
            let matches = blocking(|| {
                let mut outcome = lock(&cell);
                if outcome.is_none() {
                    *outcome = Some(RepoCache::copy_matches(&file, &opened).map_err(unreadable)?);
                }
                Ok::<_, String>(*outcome == Some(true))
            })?;
            if !matches {
                return Err(format!(
                    "snapshot file {} is not what the commit's listing says (its {} is not {})",
                    shown.display(),
                    hfkit::download::HashKind::of(&file.etag).name(),
                    file.etag
                ));
            }
            Ok(copy_entry(cache, commit, file, Some(opened)))
        });
        match checked {
            Ok(entry) => Some(entry),
            Err(warning) => {
                self.warn(vec![warning]);
                None
            }
        }
    }

    fn view(&self, kind: &str, id: &str, cache: &RepoCache) -> RepoView {
        let (commits, mut warnings) = cache.commits();
        let (refs, ref_warnings) = cache.refs_among(&commits);
        warnings.extend(ref_warnings);
        self.warn(warnings);
        RepoView {
            refs: refs.into_iter().map(|(name, commit)| (name, commit.as_str().to_owned())).collect(),
            history: commits.iter().map(|c| c.as_str().to_owned()).collect(),
            ..RepoView::bare(kind, id)
        }
    }
}

/// A file of the cache whose blob is `etag`; `opened` is the blob when it is already open.
fn entry(cache: &RepoCache, etag: hfkit::hashes::Etag, size: u64, opened: Option<std::fs::File>) -> FileEntry {
    let blob = CacheBlob { cache: cache.clone(), etag: etag.clone(), copy: None, opened: Mutex::new(opened) };
    FileEntry::from_etag(&etag, size, Content::Blob(Arc::new(blob)))
}

/// A snapshot file that is the file itself (see [`SnapshotFile::copy`]).
fn copy_entry(cache: &RepoCache, commit: &CommitHash, file: SnapshotFile, opened: Option<std::fs::File>) -> FileEntry {
    let copy = Some((commit.clone(), file.name));
    let blob = CacheBlob { cache: cache.clone(), etag: file.etag.clone(), copy, opened: Mutex::new(opened) };
    FileEntry::from_etag(&file.etag, file.size, Content::Blob(Arc::new(blob)))
}

/// Runs `work`, which may read a large file, where it does not hold up a runtime's other tasks.
fn blocking<T>(work: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(work)
        }
        _ => work(),
    }
}

impl RepoSource for CacheRepos {
    fn list(&self) -> Vec<RepoView> {
        let (repos, warnings) = list_repos(self.root());
        self.warn(warnings);
        repos
            .iter()
            .map(|repo| {
                let cache = RepoCache::new(self.root(), repo);
                self.view(repo.kind.as_str(), repo.id.as_str(), &cache)
            })
            .filter(|view| !view.history.is_empty())
            .collect()
    }

    fn get(&self, kind: &str, id: &str) -> Option<RepoView> {
        let reading = self.reading(kind, id)?;
        (!reading.view.history.is_empty()).then(|| reading.view.clone())
    }

    fn files(&self, repo: &RepoView, commit: &str) -> Arc<BTreeMap<String, FileEntry>> {
        let cache = self.repo_cache(&repo.kind, &repo.id).and_then(Self::checked);
        let (Some(cache), Ok(commit)) = (cache, CommitHash::parse(commit)) else {
            return Arc::default();
        };
        let (files, warnings) = cache.snapshot_files_with(&commit, || self.listing(&cache, &commit));
        self.warn(warnings);
        // A copy is listed with what the commit's listing says; its bytes are checked when
        // it is asked for (`file`).
        Arc::new(
            files
                .into_iter()
                .map(|f| {
                    let name = f.name.clone();
                    let entry =
                        if f.copy { copy_entry(&cache, &commit, f, None) } else { entry(&cache, f.etag, f.size, None) };
                    (name, entry)
                })
                .collect(),
        )
    }

    fn commit_time(&self, repo: &RepoView, commit: &str) -> Option<std::time::SystemTime> {
        let cache = self.repo_cache(&repo.kind, &repo.id)?;
        let commit = CommitHash::parse(commit).ok()?;
        self.kept.snapshot_time(&cache, &commit)
    }

    fn file(&self, repo: &RepoView, commit: &str, path: &str) -> Option<FileEntry> {
        hfkit::repo::validate_path(path).ok()?;
        let cache = self.repo_cache(&repo.kind, &repo.id)?;
        let commit = CommitHash::parse(commit).ok()?;
        // The blob is opened once: for its size here, then for its bytes by the answer.
        // What the request's `get` just read (its links are per commit: never stale).
        let reading = lock(&self.read).get(&(repo.kind.clone(), repo.id.clone())).cloned();
        if let Some(reading) = &reading
            && let Some(etag) = reading.link(&commit, path)
        {
            match self.opened(&cache, etag) {
                Ok(file) => return Some(file),
                Err(_) => reading.remember(&commit, path, None),
            }
        }
        let cache = Self::checked(cache)?;
        // Not a link (and there): the file itself, in a cache written without symlinks.
        if cache.snapshot_file(&commit, path).symlink_metadata().is_ok_and(|m| !m.file_type().is_symlink()) {
            return self.copy(&cache, &commit, path);
        }
        let checked = cache.snapshot_etag(&commit, path).and_then(|etag| {
            let file = self.opened(&cache, etag.clone()).map_err(|e| format!("{e} (file {path})"))?;
            if let Some(reading) = &reading {
                reading.remember(&commit, path, Some(etag));
            }
            Ok(file)
        });
        match checked {
            Ok(file) => Some(file),
            Err(warning) => {
                // A path that simply is not in the snapshot is not worth a log line.
                if cache.snapshot_file(&commit, path).symlink_metadata().is_ok() {
                    self.warn(vec![warning]);
                }
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;

    fn commit(c: char) -> CommitHash {
        CommitHash::parse(&c.to_string().repeat(40)).unwrap()
    }

    /// Sets `path`'s modification time an hour back, so its stamp is settled at once.
    fn aged(path: &Path) {
        let old = SystemTime::now() - Duration::from_secs(3600);
        std::fs::File::open(path).unwrap().set_modified(old).unwrap();
    }

    fn kept(repos: &CacheRepos) -> bool {
        let read = lock(&repos.read);
        read.get(&("model".to_owned(), "acme/tiny".to_owned())).is_some_and(|r| repos.kept.unchanged(&r.stamp))
    }

    #[test]
    fn a_kept_repo_follows_a_moved_ref_a_new_branch_a_new_snapshot_and_a_removed_blob_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        let c = RepoCache::new(&root, &Repo::model("acme/tiny").unwrap());
        c.prepare().unwrap();
        let (one, two) = (Etag::parse(&"1".repeat(40)).unwrap(), Etag::parse(&"2".repeat(40)).unwrap());
        std::fs::write(c.blob(&one), b"one").unwrap();
        std::fs::write(c.blob(&two), b"two!").unwrap();
        c.link(&commit('a'), "sub/f.txt", &one).unwrap();
        c.link(&commit('b'), "sub/f.txt", &two).unwrap();
        c.write_ref("main", &commit('a')).unwrap();
        for entry in ["snapshots", "refs", "refs/main"] {
            aged(&c.folder().join(entry));
        }
        let repos = CacheRepos::new(&root).unwrap();
        let view = repos.get("model", "acme/tiny").unwrap();
        assert_eq!(view.resolve("main"), Some(commit('a').as_str()));
        assert!(kept(&repos), "a settled repo is kept");
        assert_eq!(repos.file(&view, commit('a').as_str(), "sub/f.txt").unwrap().size, 3);
        assert_eq!(repos.get("model", "acme/tiny").unwrap().refs, view.refs, "read from what was kept");

        std::fs::write(c.folder().join("refs/main"), commit('b').as_str()).unwrap();
        let view = repos.get("model", "acme/tiny").unwrap();
        assert_eq!(view.resolve("main"), Some(commit('b').as_str()), "a moved ref is served at once");
        assert_eq!(repos.file(&view, commit('b').as_str(), "sub/f.txt").unwrap().size, 4);

        aged(&c.folder().join("refs/main"));
        repos.get("model", "acme/tiny").unwrap();
        assert!(kept(&repos));
        c.write_ref("refs/pr/1", &commit('a')).unwrap();
        let view = repos.get("model", "acme/tiny").unwrap();
        assert_eq!(view.resolve("refs/pr/1"), Some(commit('a').as_str()), "a new ref in a new folder is seen");

        for entry in ["refs", "refs/refs", "refs/refs/pr", "refs/refs/pr/1"] {
            aged(&c.folder().join(entry));
        }
        assert!(repos.get("model", "acme/tiny").unwrap().resolve("cccccccc").is_none());
        c.link(&commit('c'), "g.txt", &one).unwrap();
        let view = repos.get("model", "acme/tiny").unwrap();
        assert_eq!(view.resolve("cccccccc"), Some(commit('c').as_str()), "a new snapshot is seen");

        // A remembered link whose blob is gone is read again, and answers nothing.
        std::fs::remove_file(c.blob(&one)).unwrap();
        assert!(repos.file(&view, commit('a').as_str(), "sub/f.txt").is_none());
    }
}
