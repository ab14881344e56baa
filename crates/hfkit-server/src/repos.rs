//! The repositories the server holds: commits of files with their real hashes, refs,
//! visibility (public, private, gated) and who may read them.
//!
//! Files live in memory (built in code by tests) or on disk (a huggingface_hub cache turned
//! into a mirror by `hf serve --cache`). Each file knows its git blob id (`oid`, the sha1 of
//! `blob <len>\0<content>`), and LFS files their sha256, exactly as the Hub reports them.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha1::Digest as _;

/// Where a file's bytes are.
#[derive(Clone)]
pub enum Content {
    /// In memory.
    Bytes(bytes::Bytes),
    /// In a file on disk.
    File(PathBuf),
}

impl std::fmt::Debug for Content {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            Self::File(p) => write!(f, "File({})", p.display()),
        }
    }
}

/// One file of a commit.
#[derive(Debug, Clone)]
pub struct FileEntry {
    /// Size of the content.
    pub size: u64,
    /// Git blob id (of the content, or of the LFS pointer for LFS files).
    pub oid: String,
    /// sha256 of the content, for LFS files.
    pub lfs_sha256: Option<String>,
    /// The Xet hash sent as `X-Xet-Hash` and `xetHash`, for Xet-backed files.
    pub xet_hash: Option<String>,
    /// The bytes.
    pub content: Content,
}

impl FileEntry {
    /// A regular (git) file.
    pub fn regular(content: impl Into<bytes::Bytes>) -> Self {
        let content = content.into();
        Self {
            size: content.len() as u64,
            oid: git_blob_sha1(&content),
            lfs_sha256: None,
            xet_hash: None,
            content: Content::Bytes(content),
        }
    }

    /// An LFS file.
    pub fn lfs(content: impl Into<bytes::Bytes>) -> Self {
        let content = content.into();
        let sha256 = hex(&sha2::Sha256::digest(&content));
        let size = content.len() as u64;
        Self {
            size,
            oid: git_blob_sha1(lfs_pointer(&sha256, size).as_bytes()),
            lfs_sha256: Some(sha256),
            xet_hash: None,
            content: Content::Bytes(content),
        }
    }

    /// A Xet-backed LFS file. Its Xet hash stands in for the real one (a merkle hash the
    /// test Hub does not compute): the sha256 of `xet:` and the content.
    pub fn xet(content: impl Into<bytes::Bytes>) -> Self {
        let content = content.into();
        let mut h = sha2::Sha256::new();
        sha2::Digest::update(&mut h, b"xet:");
        sha2::Digest::update(&mut h, &content);
        let xet = hex(&h.finalize());
        Self { xet_hash: Some(xet), ..Self::lfs(content) }
    }

    /// The etag the Hub sends: sha256 for LFS files, the git blob id otherwise.
    pub fn etag(&self) -> &str {
        self.lfs_sha256.as_deref().unwrap_or(&self.oid)
    }

    /// The size of the LFS pointer file.
    pub fn pointer_size(&self) -> Option<u64> {
        self.lfs_sha256.as_ref().map(|s| lfs_pointer(s, self.size).len() as u64)
    }
}

/// The text of a git-lfs pointer file.
pub fn lfs_pointer(sha256: &str, size: u64) -> String {
    format!("version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n")
}

/// `sha1("blob <len>\0" + content)`, git's id of a file.
pub fn git_blob_sha1(content: &[u8]) -> String {
    let mut h = sha1::Sha1::new();
    h.update(format!("blob {}\0", content.len()).as_bytes());
    h.update(content);
    hex(&h.finalize())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Who may read a repo beyond its owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Visibility {
    /// Everyone.
    #[default]
    Public,
    /// The owner (user, or members of the owning org) and granted users only; others get 404.
    Private,
    /// Metadata is public; files need an accepted license (granted users, owner, members).
    Gated,
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
    pub fn resolve(&self, revision: &str) -> Option<&str> {
        if let Some(commit) = self.refs.get(revision) {
            return Some(commit);
        }
        if revision.len() >= 7 && revision.len() <= 40 && revision.bytes().all(|b| b.is_ascii_hexdigit()) {
            let lower = revision.to_ascii_lowercase();
            let mut matches = self.history.iter().filter(|c| c.starts_with(&lower));
            if let (Some(one), None) = (matches.next(), matches.next()) {
                return Some(one);
            }
        }
        None
    }

    /// The namespace (owner) of the repo.
    pub fn owner(&self) -> &str {
        self.id.split_once('/').map_or("", |(ns, _)| ns)
    }
}

/// Loads a huggingface_hub cache folder (`models--ns--name/…`) as repositories, without
/// reading file contents: etags come from blob names, sizes from the files.
pub fn load_cache(root: &Path) -> std::io::Result<Vec<StoredRepo>> {
    let mut repos = Vec::new();
    for entry in std::fs::read_dir(root)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some((plural, rest)) = name.split_once("--") else { continue };
        let kind = match plural {
            "models" => "model",
            "datasets" => "dataset",
            "spaces" => "space",
            "kernels" => "kernel",
            _ => continue,
        };
        let mut repo = StoredRepo::new(kind, &rest.replace("--", "/"));
        repo.commits.clear();
        repo.history.clear();
        repo.refs.clear();
        let snapshots = entry.path().join("snapshots");
        let Ok(commits) = std::fs::read_dir(&snapshots) else { continue };
        for commit in commits.flatten() {
            let sha = commit.file_name().to_string_lossy().into_owned();
            let mut files = BTreeMap::new();
            collect_snapshot(&commit.path(), "", &mut files)?;
            repo.commits.insert(sha.clone(), Arc::new(files));
            repo.history.push(sha);
        }
        if let Ok(refs) = std::fs::read_dir(entry.path().join("refs")) {
            collect_refs(&entry.path().join("refs"), refs, &mut repo.refs)?;
        }
        repos.push(repo);
    }
    Ok(repos)
}

fn collect_refs(base: &Path, dir: std::fs::ReadDir, refs: &mut BTreeMap<String, String>) -> std::io::Result<()> {
    for entry in dir.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_refs(base, std::fs::read_dir(&path)?, refs)?;
        } else if let Ok(commit) = std::fs::read_to_string(&path) {
            let name = path.strip_prefix(base).unwrap_or(&path).to_string_lossy().into_owned();
            refs.insert(name, commit.trim().to_owned());
        }
    }
    Ok(())
}

fn collect_snapshot(dir: &Path, prefix: &str, files: &mut BTreeMap<String, FileEntry>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let rel = if prefix.is_empty() { name.clone() } else { format!("{prefix}/{name}") };
        let path = entry.path();
        let meta = std::fs::metadata(&path)?; // follows the snapshot symlink to the blob
        if meta.is_dir() {
            collect_snapshot(&path, &rel, files)?;
            continue;
        }
        let blob = std::fs::read_link(&path).ok().and_then(|t| t.file_name().map(|n| n.to_string_lossy().into_owned()));
        let size = meta.len();
        let file = match blob {
            Some(etag) if etag.len() == 64 => FileEntry {
                size,
                oid: git_blob_sha1(lfs_pointer(&etag, size).as_bytes()),
                lfs_sha256: Some(etag),
                xet_hash: None,
                content: Content::File(path),
            },
            Some(etag) if etag.len() == 40 => {
                FileEntry { size, oid: etag, lfs_sha256: None, xet_hash: None, content: Content::File(path) }
            }
            _ => {
                // A real file (no symlinks in this cache): hash it once.
                let bytes = std::fs::read(&path)?;
                let mut f = FileEntry::regular(bytes);
                f.content = Content::File(path);
                f
            }
        };
        files.insert(rel, file);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(r.resolve("main"), Some(c.as_str()));
        assert_eq!(r.resolve("v1"), Some(c.as_str()));
        assert_eq!(r.resolve(&c[..7]), Some(c.as_str()));
        assert_eq!(r.resolve("nope"), None);
        let other = StoredRepo::new("model", "a/c");
        assert_ne!(other.history[0], r.history[0], "commit hashes are unique across repos");
    }
}
