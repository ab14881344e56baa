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

use std::collections::{BTreeSet, HashSet};
use std::path::PathBuf;

use super::scan::{CacheInfo, CachedRepo};

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
    /// Bytes freed.
    pub freed: u64,
}

impl DeletePlan {
    /// Deletes revisions (`commits` of `repo`); the whole repo folder when all go.
    pub fn add_revisions(&mut self, repo: &CachedRepo, commits: &BTreeSet<String>) {
        if repo.revisions.iter().all(|r| commits.contains(&r.commit)) {
            self.repos.push(repo.path.clone());
            self.freed += repo.size_on_disk;
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
            self.freed += size;
        }
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
                if !kept.contains(&file.blob_path) && file.blob_path != file.path {
                    freed.insert((&file.blob_path, file.size));
                } else if file.blob_path == file.path {
                    self.freed += file.size;
                }
            }
        }
        for (blob, size) in freed {
            if !self.blobs.contains(blob) {
                self.blobs.push(blob.clone());
                self.freed += size;
            }
        }
        removed
    }

    /// Deletes everything planned. Paths already gone are skipped; other failures are
    /// returned as sentences, and the rest still goes.
    pub fn execute(&self) -> Vec<String> {
        let mut problems = Vec::new();
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
    /// Bytes freed (revisions and partial downloads).
    pub freed: u64,
}

impl PrunePlan {
    /// Plans a prune of `info`.
    pub fn new(info: &CacheInfo) -> Self {
        let mut out = Self::default();
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
        out.freed = out.plan.freed + info.incomplete_size();
        out
    }

    /// Whether there is nothing to prune.
    pub fn is_empty(&self) -> bool {
        self.revisions == 0 && self.incomplete == 0 && self.stale_locks == 0
    }
}

/// Stale lock files: `.locks/**/*.lock` that no process holds, resume records whose
/// partial file is gone, and repos an interrupted deletion left in `.locks/.deleting-*`.
pub fn stale_locks(info: &CacheInfo) -> Vec<PathBuf> {
    let mut stale = Vec::new();
    // Only real folders and regular files: a `.locks` that links out of the cache, or a FIFO
    // named like a lock (opening it would block), is not ours to touch.
    let locks = info.root.join(".locks");
    if !std::fs::symlink_metadata(&locks).is_ok_and(|m| m.is_dir()) {
        return stale;
    }
    let Ok(folders) = std::fs::read_dir(locks) else { return stale };
    for folder in folders.flatten() {
        if !folder.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        if folder.file_name().to_string_lossy().starts_with(".deleting-") {
            stale.push(folder.path());
            continue;
        }
        let Ok(entries) = std::fs::read_dir(folder.path()) else { continue };
        let repo = info.root.join(folder.file_name());
        for entry in entries.flatten().filter(|e| e.file_type().is_ok_and(|t| t.is_file())) {
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
