//! Repositories built in code (the test Hub): commits of files held in memory with their
//! real hashes, refs and tags, visibility and grants. Tests change them while the server
//! runs.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, RwLock, RwLockReadGuard};

use sha1::Digest as _;

use super::{FileEntry, RepoSource, RepoView, Visibility, hex};

/// Repositories by (type, id).
pub type RepoMap = HashMap<(String, String), StoredRepo>;

/// The in-memory [`RepoSource`].
#[derive(Debug, Default)]
pub struct MemoryRepos {
    repos: RwLock<RepoMap>,
}

impl MemoryRepos {
    /// A source serving `repos`.
    pub fn new(repos: Vec<StoredRepo>) -> Self {
        Self { repos: RwLock::new(repos.into_iter().map(|r| ((r.kind.clone(), r.id.clone()), r)).collect()) }
    }

    /// The repositories.
    pub fn read(&self) -> RwLockReadGuard<'_, RepoMap> {
        self.repos.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Changes the repositories while serving.
    pub fn update(&self, change: impl FnOnce(&mut RepoMap)) {
        change(&mut self.repos.write().unwrap_or_else(std::sync::PoisonError::into_inner));
    }
}

impl RepoSource for MemoryRepos {
    fn list(&self) -> Vec<RepoView> {
        let mut all: Vec<RepoView> = self.read().values().map(StoredRepo::view).collect();
        all.sort_by(|a, b| (&a.kind, &a.id).cmp(&(&b.kind, &b.id)));
        all
    }

    fn get(&self, kind: &str, id: &str) -> Option<RepoView> {
        self.read().get(&(kind.to_owned(), id.to_owned())).map(StoredRepo::view)
    }

    fn files(&self, repo: &RepoView, commit: &str) -> Arc<BTreeMap<String, FileEntry>> {
        self.read()
            .get(&(repo.kind.clone(), repo.id.clone()))
            .and_then(|r| r.commits.get(commit).cloned())
            .unwrap_or_default()
    }

    fn lfs_object(&self, sha256: &str) -> Option<FileEntry> {
        self.read().values().find_map(|repo| {
            repo.commits
                .values()
                .find_map(|files| files.values().find(|f| f.lfs_sha256.as_deref() == Some(sha256)).cloned())
        })
    }
}

/// A repository.
#[derive(Debug, Clone)]
pub struct StoredRepo {
    /// `model`, `dataset`, `space` or `kernel`.
    pub kind: String,
    /// `namespace/name`.
    pub id: String,
    /// Visibility.
    pub visibility: Visibility,
    /// Users granted access (to a gated or private repo).
    pub granted: Vec<String>,
    /// Branches, tags and `refs/pr/N` → commit.
    pub refs: BTreeMap<String, String>,
    /// The refs that are tags.
    pub tags: BTreeSet<String>,
    /// Commit → path → file.
    pub commits: HashMap<String, Arc<BTreeMap<String, FileEntry>>>,
    /// Commits in creation order (newest last).
    pub history: Vec<String>,
    /// Answer 403 "Access to this resource is disabled."
    pub disabled: bool,
}

impl StoredRepo {
    /// An empty repo with a first commit on `main` holding no files.
    pub fn new(kind: &str, id: &str) -> Self {
        let mut repo = Self {
            kind: kind.to_owned(),
            id: id.to_owned(),
            visibility: Visibility::Public,
            granted: Vec::new(),
            refs: BTreeMap::new(),
            tags: BTreeSet::new(),
            commits: HashMap::new(),
            history: Vec::new(),
            disabled: false,
        };
        repo.commit(BTreeMap::new());
        repo
    }

    /// Adds a commit with `files`, moves `main` to it, and returns its hash (unique across
    /// repos: it is derived from the repo's type, id and position).
    pub fn commit(&mut self, files: BTreeMap<String, FileEntry>) -> String {
        let mut h = sha1::Sha1::new();
        h.update(format!("{}\0{}\0{}", self.kind, self.id, self.history.len()).as_bytes());
        for (path, f) in &files {
            h.update(format!("{path}\0{}\0", f.oid).as_bytes());
        }
        let sha = hex(&h.finalize());
        self.commits.insert(sha.clone(), Arc::new(files));
        self.history.push(sha.clone());
        self.refs.insert("main".to_owned(), sha.clone());
        sha
    }

    /// The files of the newest commit.
    pub fn head_files(&self) -> BTreeMap<String, FileEntry> {
        self.history.last().map(|c| (*self.commits[c]).clone()).unwrap_or_default()
    }

    /// Resolves a branch, tag, `refs/pr/N`, full or short (≥ 7) commit hash.
    pub fn resolve(&self, revision: &str) -> Option<String> {
        self.view().resolve(revision).map(str::to_owned)
    }

    /// The repo as routes see it.
    pub fn view(&self) -> RepoView {
        RepoView {
            kind: self.kind.clone(),
            id: self.id.clone(),
            visibility: self.visibility,
            granted: self.granted.clone(),
            owner: None,
            disabled: self.disabled,
            refs: self.refs.clone(),
            tags: self.tags.clone(),
            history: self.history.clone(),
            ordered: true,
        }
    }

    /// The namespace (owner) of the repo.
    pub fn owner(&self) -> &str {
        self.id.split_once('/').map_or("", |(ns, _)| ns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repos::git_blob_sha1;

    #[test]
    fn hashes_match_git() {
        // `printf 'hello\n' | git hash-object --stdin`
        assert_eq!(git_blob_sha1(b"hello\n"), "ce013625030ba8dba906f756967f9e9ca394464a");
        let f = FileEntry::lfs(b"hello\n".to_vec());
        assert_eq!(f.etag(), "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03");
    }

    #[test]
    fn revisions_resolve() {
        let mut r = StoredRepo::new("model", "a/b");
        let c = r.commit(BTreeMap::from([("x".to_owned(), FileEntry::regular(&b"1"[..]))]));
        r.refs.insert("v1".into(), c.clone());
        assert_eq!(r.resolve("main"), Some(c.clone()));
        assert_eq!(r.resolve("v1"), Some(c.clone()));
        assert_eq!(r.resolve(&c[..7]), Some(c.clone()));
        assert_eq!(r.resolve("nope"), None);
        let other = StoredRepo::new("model", "a/c");
        assert_ne!(other.history[0], r.history[0], "commit hashes are unique across repos");
    }
}
