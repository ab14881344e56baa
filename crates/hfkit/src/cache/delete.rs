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

/// What `prune` removes: detached revisions (no ref points to them), partial downloads no
/// process is writing (see [`super::partial::in_use`]) with their resume records, and stale
/// locks. A partial file being written is kept: deleting it would break that download.
#[derive(Debug, Clone, Default)]
pub struct PrunePlan {
    /// The deletion.
    pub plan: DeletePlan,
    /// Detached revisions per repo (index into [`CacheInfo::repos`]).
    pub detached: std::collections::BTreeMap<usize, BTreeSet<String>>,
    /// Number of detached revisions.
    pub revisions: usize,
    /// Number of partial downloads removed.
    pub incomplete: usize,
    /// Partial downloads kept because a live process is writing them.
    pub in_use: Vec<PathBuf>,
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
        let mut partial_bytes = 0;
        let mut records = Vec::new();
        for file in &info.incomplete {
            if super::partial::in_use(&info.root, &file.path) {
                out.in_use.push(file.path.clone());
                continue;
            }
            out.plan.extra.push(file.path.clone());
            out.incomplete += 1;
            partial_bytes += file.size;
            if let Some(record) = record_of(&info.root, &file.path).filter(|r| r.exists()) {
                records.push(record);
            }
        }
        let mut locks = stale_locks(info);
        locks.extend(records);
        locks.sort();
        locks.dedup();
        out.stale_locks = locks.len();
        out.plan.extra.extend(locks);
        let unreferenced = info.unreferenced_shared();
        out.shared = unreferenced.len();
        let shared_bytes: u64 = unreferenced.iter().map(|(_, size)| *size).fold(0, u64::saturating_add);
        out.plan.sweep = unreferenced.into_iter().map(|(entry, _)| entry).collect();
        out.freed = out.plan.freed + partial_bytes + shared_bytes;
        out
    }

    /// Whether there is nothing to prune.
    pub fn is_empty(&self) -> bool {
        self.revisions == 0 && self.incomplete == 0 && self.stale_locks == 0 && self.shared == 0
    }
}

/// Leftovers in `.locks/`: resume records whose partial file is gone, and repos an
/// interrupted deletion left in `.locks/.deleting-*`. Lock files themselves are kept, as
/// huggingface_hub keeps them: every download leaves one, and deleting one that a process has
/// opened but not yet locked would let two processes hold "the same" lock.
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
            if let Some(partial) = name.strip_suffix(".progress") {
                // `<partial file>.progress`; before partial files had owners, `<etag>.progress`.
                let partial = if partial.ends_with(".incomplete") {
                    partial.to_owned()
                } else {
                    format!("{partial}{}", super::partial::SUFFIX)
                };
                if !repo.join("blobs").join(partial).exists() {
                    stale.push(path);
                }
            }
        }
    }
    stale.sort();
    stale
}

/// The resume record of the partial file at `<cache>/<repo>/blobs/<name>` (for a partial
/// file of hfkit before partial files had owners, `<etag>.hfkit.incomplete`, it was
/// `<etag>.progress`).
fn record_of(root: &std::path::Path, partial: &std::path::Path) -> Option<PathBuf> {
    let repo = partial.parent()?.parent()?.file_name()?;
    let records = root.join(".locks").join(repo);
    let name = partial.file_name()?.to_str()?;
    if super::partial::parse_name(name).is_none()
        && let Some(etag) = name.strip_suffix(super::partial::SUFFIX)
    {
        return Some(records.join(format!("{etag}.progress")));
    }
    Some(super::partial::record_path(&records, partial))
}

#[cfg(test)]
mod tests {
    use super::super::partial;
    use super::*;

    /// An abandoned partial file goes with its resume record; one a live process writes
    /// stays, with its record; a record whose partial file is gone is stale.
    #[test]
    fn prune_takes_abandoned_partials_with_their_records_and_keeps_live_ones() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let blobs = root.join("models--a--b/blobs");
        let locks = root.join(".locks/models--a--b");
        std::fs::create_dir_all(&blobs).unwrap();
        std::fs::create_dir_all(&locks).unwrap();
        let live = blobs.join(partial::new_name("e1"));
        let (_, me) = partial::parse_name(live.file_name().unwrap().to_str().unwrap()).unwrap();
        // This machine, a pid that cannot run.
        let dead = blobs.join(format!("e2.{}-4294967295-1{}", me.host, partial::SUFFIX));
        for p in [&live, &dead] {
            std::fs::write(p, vec![0; 10]).unwrap();
            std::fs::write(partial::record_path(&locks, p), "{}").unwrap();
        }
        let orphan_record = locks.join(format!("e3.{}-1-1{}.progress", me.host, partial::SUFFIX));
        std::fs::write(&orphan_record, "{}").unwrap();
        // Left by hfkit before partial files had owners.
        let legacy = blobs.join(format!("e4{}", partial::SUFFIX));
        std::fs::write(&legacy, vec![0; 5]).unwrap();
        std::fs::write(locks.join("e4.progress"), "{}").unwrap();
        let info = super::super::scan(root).unwrap();
        let prune = PrunePlan::new(&info);
        assert_eq!(prune.in_use, vec![live.clone()]);
        assert_eq!(prune.incomplete, 2);
        assert_eq!(prune.freed, 15);
        let mut extra = prune.plan.extra.clone();
        extra.sort();
        let mut want =
            vec![dead.clone(), partial::record_path(&locks, &dead), orphan_record, legacy, locks.join("e4.progress")];
        want.sort();
        assert_eq!(extra, want);
        assert!(prune.plan.execute().is_empty());
        assert!(live.exists() && partial::record_path(&locks, &live).exists());
    }
}
