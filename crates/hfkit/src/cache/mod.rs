//! The cache layout huggingface_hub 2.4 uses, so that both tools find each other's files:
//!
//! ```text
//! <cache>/CACHEDIR.TAG
//! <cache>/.locks/models--ns--name/<etag>.lock      (and our resume records, <partial>.progress)
//! <cache>/models--ns--name/blobs/<etag>            (sha256 for LFS files, git sha1 otherwise)
//! <cache>/models--ns--name/blobs/<etag>.<owner>.hfkit.incomplete   (a download in progress, see [`partial`])
//! <cache>/models--ns--name/refs/<revision>         (a commit hash, no newline)
//! <cache>/models--ns--name/snapshots/<commit>/<path> → ../../blobs/<etag> (relative symlink)
//! <cache>/models--ns--name/.no_exist/<commit>/<path> (empty: the file does not exist there)
//! <cache>/blobs/<2 hex>/<xet hash>                   (huggingface_hub 2.4's shared store, see [`shared`])
//! ```
//!
//! Writes go through [`crate::fs::write_atomic`]; symlinks are replaced atomically. Commit
//! hashes and etags arrive as [`CommitHash`] and [`Etag`], checked where they were read, so
//! no value from a server is joined into a path unchecked.

mod delete;
mod kept;
mod listing;
mod live;
pub mod partial;
mod scan;
pub mod shared;
pub mod verify;

use std::path::{Path, PathBuf};

use crate::fs::{self as hffs, FsError};
use crate::hashes::{CommitHash, Etag};
use crate::repo::Repo;

pub use delete::{DeletePlan, PrunePlan, stale_locks};
pub use kept::{KeptCache, RepoStamp, SETTLE};
pub use listing::ListedEtags;
pub use live::{SnapshotFile, WithWarnings, list_repos};
pub use scan::{CacheInfo, CachedFile, CachedRepo, CachedRevision, IncompleteFile, ScanError, scan};
pub use shared::{STORE_DIR, SharedStore, XetHash};

/// The cache-directory tag huggingface_hub writes (<https://bford.info/cachedir/>).
pub const CACHEDIR_TAG: &str = "Signature: 8a477f597d28d172789f06886806bc55\n# This file is a cache directory tag created by huggingface_hub.\n# For information about cache directory tags, see:\n#\thttps://bford.info/cachedir/\n";

/// Mode of refs and other plain cache files.
const FILE_MODE: u32 = 0o644;

/// One repository's folder in a cache.
#[derive(Debug, Clone)]
pub struct RepoCache {
    root: PathBuf,
    folder_name: String,
}

impl RepoCache {
    /// The folder of `repo` in the cache at `root`.
    pub fn new(root: &Path, repo: &Repo) -> Self {
        Self { root: root.to_owned(), folder_name: repo.folder_name() }
    }

    /// The cache root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `<cache>/models--ns--name`.
    pub fn folder(&self) -> PathBuf {
        self.root.join(&self.folder_name)
    }

    /// `blobs/<etag>`.
    pub fn blob(&self, etag: &Etag) -> PathBuf {
        self.folder().join("blobs").join(etag.as_str())
    }

    /// `blobs/`, where blobs and the partial files of downloads in progress live.
    pub fn blobs_dir(&self) -> PathBuf {
        self.folder().join("blobs")
    }

    /// `.locks/<folder>/<etag>.lock`, the lock huggingface_hub takes too.
    pub fn lock(&self, etag: &Etag) -> PathBuf {
        self.locks_dir().join(format!("{etag}.lock"))
    }

    /// `.locks/<folder>`: blob locks, and the resume records of partial files
    /// (`<partial file name>.progress`, see [`partial::record_path`]).
    pub fn locks_dir(&self) -> PathBuf {
        self.root.join(".locks").join(&self.folder_name)
    }

    /// `snapshots/<commit>`.
    pub fn snapshot_dir(&self, commit: &CommitHash) -> PathBuf {
        self.folder().join("snapshots").join(commit.as_str())
    }

    /// `snapshots/<commit>/<path>`.
    pub fn snapshot_file(&self, commit: &CommitHash, path: &str) -> PathBuf {
        self.snapshot_dir(commit).join(path)
    }

    /// `.no_exist/<commit>/<path>`.
    pub fn no_exist(&self, commit: &CommitHash, path: &str) -> PathBuf {
        self.folder().join(".no_exist").join(commit.as_str()).join(path)
    }

    /// `trees/<commit>.json`, huggingface_hub's cached file listing of a commit.
    pub fn tree_file(&self, commit: &CommitHash) -> PathBuf {
        tree_listing_file(&self.folder(), commit)
    }

    /// Writes the file listing of `commit` into the repo's folder (see [`write_tree_listing`]).
    pub fn write_tree(&self, commit: &CommitHash, entries: &[crate::api::TreeEntry]) -> Result<(), FsError> {
        write_tree_listing(&self.folder(), commit, entries)
    }

    /// The file paths of a cached listing, or `None` when there is none (or it is unreadable).
    pub fn read_tree(&self, commit: &CommitHash) -> Option<Vec<String>> {
        Some(self.tree_listing(commit)?.get("files")?.as_object()?.keys().cloned().collect())
    }

    /// `refs/<revision>` (`refs/pr/1` nests folders); `None` for a revision that is not a
    /// safe relative name (see [`crate::repo::validate_revision`]).
    pub fn ref_file(&self, revision: &str) -> Option<PathBuf> {
        crate::repo::validate_revision(revision).ok()?;
        Some(self.folder().join("refs").join(revision))
    }

    /// The commit a ref points to, if the ref holds one. A trailing newline (which breaks
    /// huggingface_hub) is tolerated here; anything else in the file is not a commit.
    pub fn read_ref(&self, revision: &str) -> Option<CommitHash> {
        read_ref_file(&self.ref_file(revision)?)
    }

    /// Records that `revision` is `commit` (atomically, only when it changes).
    pub fn write_ref(&self, revision: &str, commit: &CommitHash) -> Result<(), FsError> {
        if revision == commit.as_str() || self.read_ref(revision).as_ref() == Some(commit) {
            return Ok(());
        }
        let Some(path) = self.ref_file(revision) else {
            let error = std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a safe revision name");
            return Err(FsError::new("write ref", &self.folder().join("refs"), error));
        };
        create_parent(&path)?;
        hffs::write_atomic(&path, commit.as_str().as_bytes(), FILE_MODE)
    }

    /// The commit `revision` names: itself if it is a hash, else what `refs/` says.
    pub fn resolve_local(&self, revision: &str) -> Option<CommitHash> {
        CommitHash::parse(revision).ok().or_else(|| self.read_ref(revision))
    }

    /// Points `snapshots/<commit>/<path>` at `blobs/<etag>` with a relative symlink.
    pub fn link(&self, commit: &CommitHash, path: &str, etag: &Etag) -> Result<PathBuf, FsError> {
        let link = self.snapshot_file(commit, path);
        self.snapshot_folders(commit, path)?;
        let depth = path.matches('/').count() + 2;
        let target = PathBuf::from(format!("{}blobs/{etag}", "../".repeat(depth)));
        // The common case, one inode creation: the link does not exist yet.
        match std::os::unix::fs::symlink(&target, &link) {
            Ok(()) => return Ok(link),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(FsError::new("create symlink", &link, e)),
        }
        if std::fs::read_link(&link).ok().as_deref() == Some(target.as_path()) {
            return Ok(link);
        }
        // Something else is there: replace it atomically.
        let tmp = link.with_file_name(format!(
            ".{}.{}.link",
            link.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            std::process::id()
        ));
        let _ = std::fs::remove_file(&tmp);
        std::os::unix::fs::symlink(&target, &tmp).map_err(|e| FsError::new("create symlink", &tmp, e))?;
        std::fs::rename(&tmp, &link).map_err(|e| FsError::new("place symlink", &link, e))?;
        Ok(link)
    }

    /// Creates the folders of `snapshots/<commit>/<path>` below the repo's folder, refusing
    /// any that is a symlink: a link planted there (in a shared cache, say) would otherwise
    /// take the repo's files, named by the repo, wherever it points.
    pub fn snapshot_folders(&self, commit: &CommitHash, path: &str) -> Result<PathBuf, FsError> {
        let mut dir = self.folder();
        // The repo's folder itself may be a link (a repo moved to another disk by hand).
        std::fs::create_dir_all(&dir).map_err(|e| FsError::new("create folder", &dir, e))?;
        let parts = path.split('/').collect::<Vec<_>>();
        let below = ["snapshots", commit.as_str()].into_iter().chain(parts[..parts.len() - 1].iter().copied());
        for part in below {
            dir.push(part);
            match std::fs::symlink_metadata(&dir) {
                Ok(meta) if meta.is_dir() => continue,
                Ok(_) => {
                    let refused =
                        std::io::Error::other("it is not a folder (a symlink?); remove it and download again");
                    return Err(FsError::new("use folder", &dir, refused));
                }
                Err(_) => match std::fs::create_dir(&dir) {
                    Ok(()) => {}
                    // Made by another process meanwhile: checked again on the next use.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() && !dir.is_symlink() => {}
                    Err(e) => return Err(FsError::new("create folder", &dir, e)),
                },
            }
        }
        Ok(dir)
    }

    /// Records that `path` does not exist at `commit`.
    pub fn mark_missing(&self, commit: &CommitHash, path: &str) -> Result<(), FsError> {
        let marker = self.no_exist(commit, path);
        create_parent(&marker)?;
        std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&marker)
            .map(drop)
            .map_err(|e| FsError::new("create", &marker, e))
    }

    /// Removes the repo's folder when it holds no content: no blob, and no partial file with
    /// a byte in it. A download that created the folder and then failed (a gated repo, a
    /// refusal) calls this, so that nothing is left for `hf cache ls` to list.
    pub fn discard_if_unused(&self) {
        use std::os::unix::fs::MetadataExt;
        let folder = self.folder();
        let blobs = std::fs::read_dir(folder.join("blobs")).into_iter().flatten().flatten();
        let holds_content = blobs.into_iter().any(|entry| {
            let partial = entry.file_name().to_string_lossy().ends_with(".incomplete");
            !partial || entry.metadata().is_ok_and(|m| m.blocks() > 0)
        });
        if !holds_content {
            let _ = std::fs::remove_dir_all(&folder);
        }
    }

    /// Creates `blobs/`, and `CACHEDIR.TAG` in the cache root.
    pub fn prepare(&self) -> Result<(), FsError> {
        let blobs = self.folder().join("blobs");
        std::fs::create_dir_all(&blobs).map_err(|e| FsError::new("create folder", &blobs, e))?;
        write_cachedir_tag(&self.root)
    }
}

/// `folder/trees/<commit>.json`.
fn tree_listing_file(folder: &Path, commit: &CommitHash) -> PathBuf {
    folder.join("trees").join(format!("{commit}.json"))
}

/// Writes the file listing of `commit` into `folder/trees/<commit>.json` as
/// huggingface_hub's `snapshot_download` does (`{"format_version": 1, "files": {…}}`, indent
/// 1, mode 0600), unless it is there: a repo's folder in the cache, or a local dir's
/// `.cache/huggingface/`. Its offline mode uses it to tell a complete snapshot from a partial one.
pub fn write_tree_listing(
    folder: &Path,
    commit: &CommitHash,
    entries: &[crate::api::TreeEntry],
) -> Result<(), FsError> {
    let path = tree_listing_file(folder, commit);
    if path.exists() {
        return Ok(());
    }
    let mut files: Vec<&crate::api::TreeEntry> = entries.iter().filter(|e| e.kind == "file").collect();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let mut map = serde_json::Map::new();
    for e in files {
        let mut info = serde_json::Map::new();
        info.insert("size".into(), e.size.into());
        info.insert("blob_id".into(), e.oid.clone().into());
        if let Some(lfs) = &e.lfs {
            info.insert("lfs_sha256".into(), lfs.oid.clone().into());
            info.insert("lfs_size".into(), lfs.size.into());
        }
        map.insert(e.path.clone(), info.into());
    }
    let doc = serde_json::json!({"format_version": 1, "files": map});
    create_parent(&path)?;
    hffs::write_atomic(&path, crate::pyjson::dumps_indent(&doc, 1).as_bytes(), 0o600)
}

/// The commit hash the ref file at `path` holds (a trailing newline tolerated); `None` for
/// anything else. Only a regular file is read, and no more than a ref can hold: the file is
/// opened without blocking and checked on the open handle, so a FIFO, a device or a huge file
/// planted as a ref can neither hang nor flood the reader.
pub fn read_ref_file(path: &Path) -> Option<CommitHash> {
    use std::io::Read as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits().cast_signed())
        .open(path)
        .ok()?;
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    let mut text = String::new();
    file.take(64).read_to_string(&mut text).ok()?;
    CommitHash::parse(text.trim()).ok()
}

/// Writes `CACHEDIR.TAG` in `dir` unless it is there.
pub fn write_cachedir_tag(dir: &Path) -> Result<(), FsError> {
    let tag = dir.join("CACHEDIR.TAG");
    if tag.exists() {
        return Ok(());
    }
    std::fs::create_dir_all(dir).map_err(|e| FsError::new("create folder", dir, e))?;
    hffs::write_atomic(&tag, CACHEDIR_TAG.as_bytes(), FILE_MODE)
}

fn create_parent(path: &Path) -> Result<(), FsError> {
    match path.parent() {
        Some(dir) => std::fs::create_dir_all(dir).map_err(|e| FsError::new("create folder", dir, e)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_folders_are_made_below_the_repo_and_a_planted_link_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let c = RepoCache::new(root.path(), &Repo::new(crate::repo::RepoType::Model, "acme/tiny").unwrap());
        let commit = CommitHash::parse(&"a".repeat(40)).unwrap();
        let made = c.snapshot_folders(&commit, "sub/dir/file.txt").unwrap();
        assert_eq!(made, c.snapshot_dir(&commit).join("sub/dir"));
        assert!(made.is_dir());
        // A folder of another commit planted as a link elsewhere.
        let victim = root.path().join("victim");
        std::fs::create_dir(&victim).unwrap();
        let other = CommitHash::parse(&"b".repeat(40)).unwrap();
        std::os::unix::fs::symlink(&victim, c.snapshot_dir(&other)).unwrap();
        let refused = c.snapshot_folders(&other, "f.txt").unwrap_err();
        assert!(refused.to_string().contains("not a folder"), "{refused}");
        let etag = Etag::parse(&"c".repeat(64)).unwrap();
        assert!(c.link(&other, "f.txt", &etag).is_err());
        assert_eq!(std::fs::read_dir(&victim).unwrap().count(), 0, "nothing was written through the link");
    }

    #[test]
    fn layout_matches_python() {
        let dir = tempfile::tempdir().unwrap();
        let c = RepoCache::new(dir.path(), &Repo::model("acme/tiny").unwrap());
        c.prepare().unwrap();
        let commit = CommitHash::parse(&"a".repeat(40)).unwrap();
        c.write_ref("refs/pr/1", &commit).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("models--acme--tiny/refs/refs/pr/1")).unwrap(),
            commit.as_str()
        );
        let etag = Etag::parse(&"e".repeat(40)).unwrap();
        let link = c.link(&commit, "sub/dir/data.txt", &etag).unwrap();
        assert_eq!(std::fs::read_link(link).unwrap(), PathBuf::from(format!("../../../../blobs/{etag}")));
        assert!(c.write_ref("../../../escape", &commit).is_err());
        assert!(!dir.path().join("escape").exists());
        assert_eq!(std::fs::read_to_string(dir.path().join("CACHEDIR.TAG")).unwrap().len(), 191);
    }

    #[test]
    fn refs_that_are_not_regular_files_are_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let c = RepoCache::new(dir.path(), &Repo::model("acme/tiny").unwrap());
        let refs = c.folder().join("refs");
        std::fs::create_dir_all(&refs).unwrap();
        let fifo = refs.join("fifo");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        assert_eq!(c.read_ref("fifo"), None, "a FIFO is neither waited on nor read");
        std::os::unix::fs::symlink("/dev/zero", refs.join("zero")).unwrap();
        assert_eq!(c.read_ref("zero"), None);
        std::fs::write(refs.join("long"), format!("{}\n{}", "a".repeat(40), "b".repeat(1 << 20))).unwrap();
        assert_eq!(c.read_ref("long"), None, "only what a ref can hold is read");
        std::fs::write(refs.join("main"), format!("{}\n", "a".repeat(40))).unwrap();
        assert_eq!(c.read_ref("main").map(|h| h.to_string()), Some("a".repeat(40)));
    }
}
