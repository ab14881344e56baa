//! A huggingface_hub cache (Python's or ours, shared blob store included) served live:
//! every request reads the repo's folder through `hfkit::cache` as it is now, so a repo
//! downloaded into the cache by anyone, or a ref that moves, is served without a restart.
//!
//! No cache-layout code lives here: refs, snapshots, links and blobs are read by
//! [`RepoCache`], which never follows a link out of the cache and opens only regular files.
//! A broken entry (a ref to a missing commit, a short snapshot name, a dangling link, a
//! loop) is left out and named once in the log; the rest of the repo is served.
//!
//! What a cache cannot know: tags versus branches (every ref is a branch), the order of
//! commits, commit titles, and who may see a repo (public here; the operator's settings in
//! the store apply on top). Dates come from the file times: a commit's is the time its
//! snapshot folder last changed (when files of it were last downloaded).

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use hfkit::cache::{RepoCache, list_repos};
use hfkit::hashes::CommitHash;
use hfkit::repo::{Repo, RepoType};

use super::{CacheBlob, Content, FileEntry, RepoSource, RepoView};

/// How many distinct warnings are remembered, so each broken entry is logged once.
const MAX_REMEMBERED_WARNINGS: usize = 10_000;

/// The cache-backed [`RepoSource`].
#[derive(Debug)]
pub struct CacheRepos {
    root: PathBuf,
    warned: Mutex<HashSet<String>>,
}

impl CacheRepos {
    /// Serves the cache at `root` (which must exist).
    pub fn new(root: &Path) -> std::io::Result<Self> {
        let root = std::fs::canonicalize(root)?;
        if !root.is_dir() {
            return Err(std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a folder"));
        }
        Ok(Self { root, warned: Mutex::default() })
    }

    /// The cache folder served.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Logs each warning the first time it is seen.
    fn warn(&self, warnings: Vec<String>) {
        if warnings.is_empty() {
            return;
        }
        let mut seen = self.warned.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for warning in warnings {
            if seen.len() >= MAX_REMEMBERED_WARNINGS {
                seen.clear();
            }
            if seen.insert(warning.clone()) {
                crate::log::line(&format!("cache: skipped {warning}"));
            }
        }
    }

    fn repo_cache(&self, kind: &str, id: &str) -> Option<RepoCache> {
        let kind: RepoType = kind.parse().ok()?;
        let repo = Repo::new(kind, id).ok()?;
        let cache = RepoCache::new(&self.root, &repo);
        std::fs::symlink_metadata(cache.folder()).ok().filter(std::fs::Metadata::is_dir)?;
        Some(cache)
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
    let blob = CacheBlob { cache: cache.clone(), etag: etag.clone(), opened: Mutex::new(opened) };
    FileEntry::from_etag(&etag, size, Content::Blob(Arc::new(blob)))
}

impl RepoSource for CacheRepos {
    fn list(&self) -> Vec<RepoView> {
        let (repos, warnings) = list_repos(&self.root);
        self.warn(warnings);
        repos
            .iter()
            .map(|repo| {
                let cache = RepoCache::new(&self.root, repo);
                self.view(repo.kind.as_str(), repo.id.as_str(), &cache)
            })
            .filter(|view| !view.history.is_empty())
            .collect()
    }

    fn get(&self, kind: &str, id: &str) -> Option<RepoView> {
        let cache = self.repo_cache(kind, id)?;
        let view = self.view(kind, id, &cache);
        (!view.history.is_empty()).then_some(view)
    }

    fn files(&self, repo: &RepoView, commit: &str) -> Arc<BTreeMap<String, FileEntry>> {
        let (Some(cache), Ok(commit)) = (self.repo_cache(&repo.kind, &repo.id), CommitHash::parse(commit)) else {
            return Arc::default();
        };
        let (files, warnings) = cache.snapshot_files(&commit);
        self.warn(warnings);
        Arc::new(files.into_iter().map(|f| (f.name.clone(), entry(&cache, f.etag, f.size, None))).collect())
    }

    fn commit_time(&self, repo: &RepoView, commit: &str) -> Option<std::time::SystemTime> {
        let cache = self.repo_cache(&repo.kind, &repo.id)?;
        let commit = CommitHash::parse(commit).ok()?;
        // The snapshot folder itself, not what a link there points to.
        let meta = std::fs::symlink_metadata(cache.snapshot_dir(&commit)).ok().filter(std::fs::Metadata::is_dir)?;
        meta.modified().ok()
    }

    fn file(&self, repo: &RepoView, commit: &str, path: &str) -> Option<FileEntry> {
        hfkit::repo::validate_path(path).ok()?;
        let cache = self.repo_cache(&repo.kind, &repo.id)?;
        let commit = CommitHash::parse(commit).ok()?;
        // The blob is opened once: for its size here, then for its bytes by the answer.
        let checked = cache.snapshot_etag(&commit, path).and_then(|etag| {
            let unreadable = |e: std::io::Error| format!("blob {etag} of {path} cannot be read: {e}");
            let blob = cache.open_blob(&etag).map_err(unreadable)?;
            let size = blob.metadata().map_err(unreadable)?.len();
            Ok(entry(&cache, etag, size, Some(blob)))
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
