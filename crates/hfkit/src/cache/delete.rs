//! Deletion plans over a scanned cache: what goes, what stays, and how many bytes it frees.
//!
//! A plan is computed first (for `--dry-run` and confirmation) and executed after, in an
//! order where every intermediate state is a cache both tools read without complaint:
//! files; whole repos, each first renamed out of sight into `.locks/` (atomic) and then
//! removed; refs before their snapshots (huggingface_hub deletes snapshots first, so an
//! interruption can leave refs to missing commits, which makes the repo "corrupt"); then
//! blobs that nothing kept points to. A blob shared with a revision (or file) that stays is
//! kept. Paths come from the scan, which never leaves the cache, and folders are removed
//! without following symlinks.
//!
//! With huggingface_hub 2.4's shared blob store, a repo blob that links into the store frees
//! its entry's bytes only when every valid reference to the entry goes with the plan; after
//! the deletion, the entries the removed links pointed to are swept under 2.4's lock
//! (manifest rewritten, entry removed when nothing links to it any more), as 2.4 does.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};

use super::scan::{CacheInfo, CachedRepo};
use super::shared::SharedStore;

/// What a deletion removes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeletePlan {
    /// Snapshot files (file targets).
    pub files: Vec<PathBuf>,
    /// Whole repo folders.
    pub repos: Vec<PathBuf>,
    /// Snapshot folders.
    pub snapshots: Vec<PathBuf>,
    /// Ref files pointing to deleted snapshots.
    pub refs: Vec<PathBuf>,
    /// Blobs nothing kept points to.
    pub blobs: Vec<PathBuf>,
    /// Other files (partial downloads, stale locks).
    pub extra: Vec<PathBuf>,
    /// Shared store entries to sweep after the deletion (unreferenced ones, for prune).
    pub sweep: Vec<PathBuf>,
    /// Bytes freed.
    pub freed: u64,
    /// Every blob path the plan unlinks, with its size.
    unlinked: BTreeMap<PathBuf, u64>,
    /// Bytes of the unlinked blobs that are not links into the shared store.
    plain: u64,
    /// The shared store entries unlinked blobs point to.
    entries: BTreeSet<PathBuf>,
    /// The cache's shared store, when it has one.
    store: Option<SharedStore>,
}

impl DeletePlan {
    /// An empty plan over the cache `info` describes.
    pub fn new(info: &CacheInfo) -> Self {
        Self { store: info.store.clone(), ..Self::default() }
    }

    /// Records that `blob` (of `size` bytes) is unlinked: a plain blob frees its size; a link
    /// into the shared store is noted with its entry (see [`Self::settle`]).
    fn unlink(&mut self, blob: &Path, size: u64) {
        if self.unlinked.insert(blob.to_owned(), size).is_some() {
            return;
        }
        match self.store.as_ref().and_then(|s| s.target_of(blob)) {
            Some(entry) => {
                self.entries.insert(entry);
            }
            None => self.plain += size,
        }
    }

    /// Recomputes the bytes freed: the plain blobs, plus each store entry whose every valid
    /// reference is unlinked, once (huggingface_hub 2.4's accounting).
    fn settle(&mut self) {
        let Some(store) = &self.store else {
            self.freed = self.plain;
            return;
        };
        let deleting: HashSet<PathBuf> = self.unlinked.keys().cloned().collect();
        self.freed = self.plain + self.entries.iter().map(|e| store.freed_if_deleted(e, &deleting)).sum::<u64>();
    }

    /// Deletes revisions (`commits` of `repo`); the whole repo folder when all go.
    pub fn add_revisions(&mut self, repo: &CachedRepo, commits: &BTreeSet<String>) {
        if repo.revisions.iter().all(|r| commits.contains(&r.commit)) {
            self.repos.push(repo.path.clone());
            for file in repo.revisions.iter().flat_map(|r| &r.files) {
                self.unlink(&file.blob_path, file.size);
            }
            self.settle();
            return;
        }
        let kept: HashSet<&PathBuf> = repo
            .revisions
            .iter()
            .filter(|r| !commits.contains(&r.commit))
            .flat_map(|r| r.files.iter().map(|f| &f.blob_path))
            .collect();
        let mut freed_blobs: BTreeSet<(&PathBuf, u64)> = BTreeSet::new();
        for revision in repo.revisions.iter().filter(|r| commits.contains(&r.commit)) {
            self.snapshots.push(revision.snapshot_path.clone());
            for name in &revision.refs {
                self.refs.push(repo.path.join("refs").join(name));
            }
            for file in &revision.files {
                if !kept.contains(&file.blob_path) {
                    freed_blobs.insert((&file.blob_path, file.size));
                }
            }
        }
        for (blob, size) in freed_blobs {
            self.blobs.push(blob.clone());
            self.unlink(blob, size);
        }
        self.settle();
    }

    /// Deletes the snapshot file `name` in every revision of `repo` that has it; a blob is
    /// freed when no remaining file points to it. Returns the `(commit, name)` pairs.
    pub fn add_file(&mut self, repo: &CachedRepo, name: &str) -> Vec<String> {
        let mut removed = Vec::new();
        let targets: HashSet<&PathBuf> =
            repo.revisions.iter().flat_map(|r| r.files.iter().filter(|f| f.name == name).map(|f| &f.path)).collect();
        let kept: HashSet<&PathBuf> = repo
            .revisions
            .iter()
            .flat_map(|r| r.files.iter().filter(|f| !targets.contains(&f.path)).map(|f| &f.blob_path))
            .collect();
        let mut freed: BTreeSet<(&PathBuf, u64)> = BTreeSet::new();
        for revision in &repo.revisions {
            for file in revision.files.iter().filter(|f| f.name == name) {
                self.files.push(file.path.clone());
                removed.push(revision.commit.clone());
                if !kept.contains(&file.blob_path) {
                    freed.insert((&file.blob_path, file.size));
                }
            }
        }
        for (blob, size) in freed {
            // A file stored in the snapshot itself goes with the snapshot entry.
            if !targets.contains(blob) && !self.blobs.contains(blob) {
                self.blobs.push(blob.clone());
            }
            self.unlink(blob, size);
        }
        self.settle();
        removed
    }

    /// Deletes everything planned. Paths already gone are skipped; other failures are
    /// returned as sentences, and the rest still goes.
    pub fn execute(&self) -> Vec<String> {
        let mut problems = Vec::new();
        // The store entries the removed links point to, read before the links go.
        let mut entries: BTreeSet<PathBuf> = BTreeSet::new();
        if let Some(store) = &self.store {
            let repo_blobs = self
                .repos
                .iter()
                .filter_map(|r| std::fs::read_dir(r.join("blobs")).ok())
                .flat_map(|d| d.flatten().map(|e| e.path()).collect::<Vec<_>>());
            for blob in self.blobs.iter().cloned().chain(repo_blobs) {
                entries.extend(store.target_of(&blob));
            }
            entries.extend(self.sweep.iter().cloned());
        }
        let mut remove = |path: &PathBuf, dir: bool| {
            let result = if dir { std::fs::remove_dir_all(path) } else { std::fs::remove_file(path) };
            match result {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => problems.push(format!("Could not delete {}: {e}", path.display())),
            }
        };
        for p in &self.files {
            remove(p, false);
        }
        for (n, p) in self.repos.iter().enumerate() {
            // Out of the cache's sight in one step, then removed at leisure.
            let hidden = p.parent().zip(p.file_name()).map(|(root, name)| {
                root.join(".locks").join(format!(".deleting-{}-{n}-{}", std::process::id(), name.to_string_lossy()))
            });
            match hidden {
                Some(hidden)
                    if hidden.parent().is_some_and(|d| std::fs::create_dir_all(d).is_ok())
                        && std::fs::rename(p, &hidden).is_ok() =>
                {
                    remove(&hidden, true);
                    // Leave no empty `.locks/` behind that was made only for this.
                    if let Some(locks) = hidden.parent() {
                        let _ = std::fs::remove_dir(locks);
                    }
                }
                _ => remove(p, true),
            }
        }
        for p in &self.refs {
            remove(p, false);
        }
        for p in &self.snapshots {
            remove(p, true);
        }
        for p in &self.blobs {
            remove(p, false);
        }
        for p in &self.extra {
            let is_dir = std::fs::symlink_metadata(p).is_ok_and(|m| m.is_dir());
            remove(p, is_dir);
        }
        if let Some(store) = &self.store {
            for entry in &entries {
                if let Err(e) = store.sweep(entry) {
                    problems.push(format!("Could not collect shared blob {}: {e}", entry.display()));
                }
            }
        }
        problems
    }
}

/// What `prune` removes: detached revisions (no ref points to them), partial downloads and
/// stale locks.
#[derive(Debug, Clone, Default)]
pub struct PrunePlan {
    /// The deletion.
    pub plan: DeletePlan,
    /// Detached revisions per repo (index into [`CacheInfo::repos`]).
    pub detached: std::collections::BTreeMap<usize, BTreeSet<String>>,
    /// Number of detached revisions.
    pub revisions: usize,
    /// Number of partial downloads.
    pub incomplete: usize,
    /// Number of stale locks and resume records.
    pub stale_locks: usize,
    /// Number of shared store entries no repo blob links to.
    pub shared: usize,
    /// Bytes freed (revisions and partial downloads).
    pub freed: u64,
}

impl PrunePlan {
    /// Plans a prune of `info`.
    pub fn new(info: &CacheInfo) -> Self {
        let mut out = Self { plan: DeletePlan::new(info), ..Self::default() };
        for (i, repo) in info.repos.iter().enumerate() {
            let detached: BTreeSet<String> =
                repo.revisions.iter().filter(|r| r.refs.is_empty()).map(|r| r.commit.clone()).collect();
            if !detached.is_empty() {
                out.revisions += detached.len();
                out.plan.add_revisions(repo, &detached);
                out.detached.insert(i, detached);
            }
        }
        out.plan.extra.extend(info.incomplete.iter().map(|f| f.path.clone()));
        out.incomplete = info.incomplete.len();
        let locks = stale_locks(info);
        out.stale_locks = locks.len();
        out.plan.extra.extend(locks);
        let unreferenced = info.unreferenced_shared();
        out.shared = unreferenced.len();
        let shared_bytes: u64 = unreferenced.iter().map(|(_, size)| size).sum();
        out.plan.sweep = unreferenced.into_iter().map(|(entry, _)| entry).collect();
        out.freed = out.plan.freed + info.incomplete_size() + shared_bytes;
        out
    }

    /// Whether there is nothing to prune.
    pub fn is_empty(&self) -> bool {
        self.revisions == 0 && self.incomplete == 0 && self.stale_locks == 0 && self.shared == 0
    }
}

/// Stale lock files: `.locks/**/*.lock` that no process holds, resume records whose
/// partial file is gone, and repos an interrupted deletion left in `.locks/.deleting-*`.
pub fn stale_locks(info: &CacheInfo) -> Vec<PathBuf> {
    let mut stale = Vec::new();
    let Ok(folders) = std::fs::read_dir(info.root.join(".locks")) else { return stale };
    for folder in folders.flatten() {
        if folder.file_name().to_string_lossy().starts_with(".deleting-") {
            stale.push(folder.path());
            continue;
        }
        let Ok(entries) = std::fs::read_dir(folder.path()) else { continue };
        let repo = info.root.join(folder.file_name());
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(etag) = name.strip_suffix(".progress") {
                if !repo.join("blobs").join(format!("{etag}.hfkit.incomplete")).exists() {
                    stale.push(path);
                }
            } else if name.ends_with(".lock")
                && let Ok(file) = std::fs::File::open(&path)
                && file.try_lock().is_ok()
            {
                stale.push(path);
            }
        }
    }
    stale.sort();
    stale
}
