//! Where the server's repositories come from: the [`RepoSource`] trait, the one door every
//! route goes through, and the values it answers with.
//!
//! Two sources implement it: [`memory::MemoryRepos`], repos built in code by tests (the
//! test Hub, with visibility, grants, faults and a CDN), and [`cache::CacheRepos`], a
//! huggingface_hub cache read live through `hfkit::cache` (what `hf serve --cache` serves).
//! A later pull-through mirror wraps a source; accounts decide who sees what on top. Each
//! file knows its git blob id (`oid`, the sha1 of `blob <len>\0<content>`), and LFS files
//! their sha256, exactly as the Hub reports them.

pub mod cache;
pub mod memory;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use hfkit::cache::RepoCache;
use hfkit::hashes::Etag;
use sha1::Digest as _;

/// Repositories as routes see them. Every call reads the source as it is now: a repo
/// added, or a ref moved, is answered by the next request.
pub trait RepoSource: Send + Sync + std::fmt::Debug {
    /// Every repository, for `/api/models` and friends.
    fn list(&self) -> Vec<RepoView>;
    /// The repository of `kind` (`model`, `dataset`…) named `id`.
    fn get(&self, kind: &str, id: &str) -> Option<RepoView>;
    /// The files of `commit` (a commit of `repo.history`), by path.
    fn files(&self, repo: &RepoView, commit: &str) -> Arc<BTreeMap<String, FileEntry>>;
    /// One file of `commit`.
    fn file(&self, repo: &RepoView, commit: &str, path: &str) -> Option<FileEntry> {
        self.files(repo, commit).get(path).cloned()
    }
    /// When `commit` of `repo` was last changed, as far as the source knows (a cache: the
    /// time its snapshot folder last changed); `None` when it does not know.
    fn commit_time(&self, _repo: &RepoView, _commit: &str) -> Option<std::time::SystemTime> {
        None
    }
    /// An LFS object by sha256, for the test CDN (none by default).
    fn lfs_object(&self, _sha256: &str) -> Option<FileEntry> {
        None
    }
}

/// A repository as of one request: who may see it, its refs and its commits.
#[derive(Debug, Clone)]
pub struct RepoView {
    /// `model`, `dataset`, `space` or `kernel`.
    pub kind: String,
    /// `namespace/name`.
    pub id: String,
    /// Visibility.
    pub visibility: Visibility,
    /// Users granted access (to a gated or private repo).
    pub granted: Vec<String>,
    /// The owning user or org, when set by the operator (`None`: the namespace).
    pub owner: Option<String>,
    /// Answer 403 "Access to this resource is disabled."
    pub disabled: bool,
    /// Branches, tags and `refs/pr/N` → commit.
    pub refs: BTreeMap<String, String>,
    /// The refs that are tags (a cache cannot tell, so it has none).
    pub tags: BTreeSet<String>,
    /// Commits, oldest first (a cache knows no order: sorted by hash).
    pub history: Vec<String>,
    /// Whether `history` is the real order of commits (a cache does not know it).
    pub ordered: bool,
}

impl RepoView {
    /// A repo known only by name (a mirror's repo not cached yet): public, no refs.
    pub fn bare(kind: &str, id: &str) -> Self {
        Self {
            kind: kind.to_owned(),
            id: id.to_owned(),
            visibility: Visibility::Public,
            granted: Vec::new(),
            owner: None,
            disabled: false,
            refs: BTreeMap::new(),
            tags: BTreeSet::new(),
            history: Vec::new(),
            ordered: false,
        }
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

    /// The owner of the repo: the one the operator set, else the namespace.
    pub fn owner(&self) -> &str {
        self.owner.as_deref().unwrap_or_else(|| self.id.split_once('/').map_or("", |(ns, _)| ns))
    }

    /// The commits reachable from `commit`, newest first (just `commit` when the order of
    /// commits is not known).
    pub fn ancestry(&self, commit: &str) -> Vec<String> {
        if !self.ordered {
            return vec![commit.to_owned()];
        }
        let at = self.history.iter().position(|c| c == commit).map_or(0, |i| i + 1);
        self.history[..at].iter().rev().cloned().collect()
    }
}

/// Where a file's bytes are.
#[derive(Clone)]
pub enum Content {
    /// In memory.
    Bytes(bytes::Bytes),
    /// A blob of a served cache, opened (safely) when it is served.
    Blob(Arc<CacheBlob>),
    /// A file on its way from a mirror's upstream, read as it arrives.
    Growing(Arc<crate::mirror::inflight::Download>),
}

/// A blob of a served cache: opened through [`RepoCache::open_blob`], which never leaves
/// the cache and opens only regular files.
#[derive(Debug)]
pub struct CacheBlob {
    /// The repo's folder in the cache.
    pub cache: RepoCache,
    /// The blob's checked name.
    pub etag: Etag,
    /// Where the bytes are when they are not `blobs/<etag>`: the snapshot file itself
    /// (commit, path) of a cache written without symlinks.
    pub copy: Option<(hfkit::hashes::CommitHash, String)>,
    /// The blob, when it was already opened to learn its size (one open per request).
    pub opened: std::sync::Mutex<Option<std::fs::File>>,
}

impl CacheBlob {
    /// The blob opened: the file opened earlier for this answer, else opened now.
    pub fn open(&self) -> std::io::Result<std::fs::File> {
        let earlier = self.opened.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        earlier.map_or_else(
            || match &self.copy {
                Some((commit, path)) => self.cache.open_snapshot_copy(commit, path),
                None => self.cache.open_blob(&self.etag),
            },
            Ok,
        )
    }
}

impl std::fmt::Debug for Content {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            Self::Blob(b) => write!(f, "Blob({})", b.etag),
            Self::Growing(_) => write!(f, "Growing"),
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

    /// A file known by its etag (as a cache names its blobs): a sha256 makes it an LFS
    /// file, a git blob id a regular one.
    pub fn from_etag(etag: &Etag, size: u64, content: Content) -> Self {
        let (oid, lfs_sha256) = if etag.is_sha256() {
            (git_blob_sha1(lfs_pointer(etag.as_str(), size).as_bytes()), Some(etag.as_str().to_owned()))
        } else {
            (etag.as_str().to_owned(), None)
        };
        Self { size, oid, lfs_sha256, xet_hash: None, content }
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

impl FileEntry {
    /// The whole content if it is at most `max` bytes (a README shown on a page): `None`
    /// for a larger file, a file still arriving from upstream, or a blob that cannot be read.
    pub async fn read_small(&self, max: u64) -> Option<bytes::Bytes> {
        if self.size > max {
            return None;
        }
        match &self.content {
            Content::Bytes(b) => Some(b.clone()),
            Content::Growing(_) => None,
            Content::Blob(blob) => {
                let blob = Arc::clone(blob);
                tokio::task::spawn_blocking(move || {
                    use std::io::Read as _;
                    let file = blob.open().ok()?;
                    let mut out = Vec::new();
                    file.take(max + 1).read_to_end(&mut out).ok()?;
                    (out.len() as u64 <= max).then(|| bytes::Bytes::from(out))
                })
                .await
                .ok()
                .flatten()
            }
        }
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

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Who may read a repo beyond its owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    /// Everyone.
    #[default]
    Public,
    /// The owner (user, or members of the owning org) and granted users only; others get 404.
    Private,
    /// Metadata is public; files need an accepted license (granted users, owner, members).
    Gated,
}

impl Visibility {
    /// `public`, `private` or `gated`, as the accounts file and the operator's commands say.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Private => "private",
            Self::Gated => "gated",
        }
    }
}

impl std::str::FromStr for Visibility {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "public" => Ok(Self::Public),
            "private" => Ok(Self::Private),
            "gated" => Ok(Self::Gated),
            other => Err(format!("unknown visibility `{other}`: expected public, private or gated")),
        }
    }
}
