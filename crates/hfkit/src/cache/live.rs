//! One repo of a cache read as it is right now, for a server that serves the cache while
//! downloads (ours, huggingface_hub's) keep writing it.
//!
//! [`scan`](super::scan) reads a whole cache and leaves out a repo with any inconsistency;
//! a server needs the opposite: one repo at a time, on each request, serving every entry
//! that is sound and naming the ones that are not. Each function returns what it could
//! read plus one sentence per broken entry (a ref without a snapshot, a snapshot not named
//! by a full commit hash, a link that does not lead to `blobs/<etag>`, a missing blob).
//!
//! Nothing outside the cache is ever read: snapshot links are read, never followed, and
//! must name `<repo>/blobs/<etag>` lexically; blobs are opened without following symlinks
//! (a blob linking into huggingface_hub 2.4's shared store is opened through
//! [`SharedStore::open_linked`]), and only regular files are opened.

use std::collections::BTreeMap;
use std::os::fd::OwnedFd;
use std::path::Path;

use rustix::fs::{Mode, OFlags};

use super::listing::ListedEtags;
use super::shared::{SharedStore, open_regular_at};
use super::{RepoCache, STORE_DIR};
use crate::hashes::{CommitHash, Etag};
use crate::repo::{Repo, RepoType};

/// One file of a snapshot, as a server lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotFile {
    /// Path inside the snapshot (`/`-separated).
    pub name: String,
    /// The blob it links to: the sha256 of an LFS file, the git blob sha1 otherwise.
    pub etag: Etag,
    /// Bytes of the blob.
    pub size: u64,
    /// The snapshot holds the file itself, not a link to a blob (a cache written with
    /// `HF_HUB_DISABLE_SYMLINKS`): `etag` and `size` are what the commit's cached tree
    /// listing says of it, not yet checked against its bytes.
    pub copy: bool,
}

/// Most bytes read of a commit's cached tree listing (a repo of 100,000 files is about 20 MB).
const MAX_TREE_LISTING: u64 = 64 << 20;

/// What could be read, and one sentence per entry that could not.
pub type WithWarnings<T> = (T, Vec<String>);

impl RepoCache {
    /// The refs (`refs/main`, `refs/refs/pr/1`…) that hold a commit with a snapshot folder.
    pub fn refs(&self) -> WithWarnings<BTreeMap<String, CommitHash>> {
        self.refs_among(&self.commits().0)
    }

    /// The refs that hold one of `commits` (the repo's [`Self::commits`], read once by a
    /// caller that needs both).
    pub fn refs_among(&self, commits: &[CommitHash]) -> WithWarnings<BTreeMap<String, CommitHash>> {
        let mut warnings = Vec::new();
        let mut names = Vec::new();
        let base = self.folder().join("refs");
        list_files(&base, &base, &mut names, &mut warnings);
        let mut refs = BTreeMap::new();
        for name in names {
            match self.read_ref(&name) {
                Some(commit) if commits.contains(&commit) => {
                    refs.insert(name, commit);
                }
                Some(commit) => warnings.push(format!(
                    "ref `{name}` of {} points to commit {commit}, which has no snapshot",
                    self.folder().display()
                )),
                None => warnings.push(format!("ref `{name}` of {} holds no commit hash", self.folder().display())),
            }
        }
        (refs, warnings)
    }

    /// The commits that have a snapshot folder (a real folder named by a full commit hash).
    pub fn commits(&self) -> WithWarnings<Vec<CommitHash>> {
        let mut warnings = Vec::new();
        let dir = self.folder().join("snapshots");
        let mut commits = Vec::new();
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
            match CommitHash::parse(&name) {
                Ok(commit) if is_dir => commits.push(commit),
                Ok(_) => warnings.push(format!("snapshot {} is not a folder", entry.path().display())),
                Err(_) => warnings
                    .push(format!("snapshot folder {} is not named by a full commit hash", entry.path().display())),
            }
        }
        commits.sort();
        (commits, warnings)
    }

    /// The blob that `snapshots/<commit>/<path>` links to, read without following anything:
    /// every folder on the way must be a real folder and the file a symlink whose target,
    /// read lexically, is `<repo>/blobs/<etag>`.
    pub fn snapshot_etag(&self, commit: &CommitHash, path: &str) -> Result<Etag, String> {
        crate::repo::validate_path(path).map_err(|e| e.to_string())?;
        let snapshot = self.snapshot_dir(commit);
        let mut at = snapshot.clone();
        let parts: Vec<&str> = path.split('/').collect();
        for part in &parts[..parts.len() - 1] {
            at.push(part);
            let meta = std::fs::symlink_metadata(&at).map_err(|_| format!("no folder {}", at.display()))?;
            if !meta.is_dir() {
                return Err(format!("{} is not a folder", at.display()));
            }
        }
        let link = snapshot.join(path);
        let meta = std::fs::symlink_metadata(&link).map_err(|_| format!("no file {}", link.display()))?;
        if !meta.file_type().is_symlink() {
            return Err(format!("snapshot file {} is not a link to a blob", link.display()));
        }
        let target = std::fs::read_link(&link).map_err(|e| format!("cannot read link {}: {e}", link.display()))?;
        let resolved = super::shared::normalize(&link.parent().unwrap_or(Path::new("/")).join(&target));
        let blobs = self.folder().join("blobs");
        let name = resolved
            .strip_prefix(&blobs)
            .ok()
            .and_then(|rest| rest.to_str())
            .and_then(|rest| Etag::parse(rest).ok())
            .ok_or_else(|| format!("snapshot file {} links to {}, not to a blob", link.display(), target.display()))?;
        Ok(name)
    }

    /// Every file of `snapshots/<commit>` with its blob and size; a file whose link or blob
    /// is broken is left out with a warning. A file that is there itself (a cache written
    /// with `HF_HUB_DISABLE_SYMLINKS`) is listed with what the commit's cached tree listing
    /// says of it, when that names it with its size.
    pub fn snapshot_files(&self, commit: &CommitHash) -> WithWarnings<Vec<SnapshotFile>> {
        self.snapshot_files_with(commit, || std::sync::Arc::new(self.listed_copies(commit).unwrap_or_default()))
    }

    /// [`Self::snapshot_files`], with the etags of the files the snapshot holds itself from
    /// `listing` (called once, and only when there is such a file): a server keeps them.
    pub fn snapshot_files_with(
        &self,
        commit: &CommitHash,
        listing: impl FnOnce() -> std::sync::Arc<ListedEtags>,
    ) -> WithWarnings<Vec<SnapshotFile>> {
        let mut warnings = Vec::new();
        let snapshot = self.snapshot_dir(commit);
        let mut names = Vec::new();
        list_files(&snapshot, &snapshot, &mut names, &mut warnings);
        let mut files = Vec::new();
        let mut listing = Some(listing);
        let mut listed: Option<std::sync::Arc<ListedEtags>> = None;
        for name in names {
            let is_link = std::fs::symlink_metadata(snapshot.join(&name)).is_ok_and(|m| m.file_type().is_symlink());
            if !is_link {
                let listed = listed.get_or_insert_with(|| listing.take().map(|get| get()).unwrap_or_default());
                match self.snapshot_copy(commit, &name, listed) {
                    Ok((file, _)) => files.push(file),
                    Err(warning) => warnings.push(warning),
                }
                continue;
            }
            let checked = self.snapshot_etag(commit, &name).and_then(|etag| {
                let size = self.blob_size(&etag).map_err(|e| {
                    let file = snapshot.join(&name);
                    format!("snapshot file {} links to blob {etag}, which cannot be read: {e}", file.display())
                })?;
                Ok(SnapshotFile { name: name.clone(), etag, size, copy: false })
            });
            match checked {
                Ok(file) => files.push(file),
                Err(warning) => warnings.push(warning),
            }
        }
        files.sort_by(|a, b| a.name.cmp(&b.name));
        (files, warnings)
    }

    /// What the commit's cached tree listing (`trees/<commit>.json`, huggingface_hub's
    /// format) says of the files the snapshot holds itself (not links to blobs): their etags
    /// (the sha256 of an LFS file, the git blob sha1 otherwise) and sizes, what serving them
    /// needs, without keeping a listing of the whole repo. `None` when there is no listing,
    /// or it is not a regular file of at most 64 MiB in that format; entries whose hash is
    /// not well formed are left out.
    pub fn listed_copies(&self, commit: &CommitHash) -> Option<ListedEtags> {
        let snapshot = self.snapshot_dir(commit);
        let (mut names, mut ignored) = (Vec::new(), Vec::new());
        list_files(&snapshot, &snapshot, &mut names, &mut ignored);
        let copies: std::collections::BTreeSet<String> = names
            .into_iter()
            .filter(|name| std::fs::symlink_metadata(snapshot.join(name)).is_ok_and(|m| m.file_type().is_file()))
            .collect();
        if copies.is_empty() {
            return Some(ListedEtags::new());
        }
        super::listing::parse_etags(self.tree_listing_reader(commit)?, &|path| copies.contains(path))
    }

    /// `trees/<commit>.json` to read: a regular file of at most 64 MiB, reached without
    /// following a symlink from the repo's folder, read no further than that (buffered, not
    /// held whole in memory).
    fn tree_listing_reader(&self, commit: &CommitHash) -> Option<impl std::io::Read> {
        use std::io::Read as _;
        let dir_flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let folder = rustix::fs::open(self.folder(), dir_flags, Mode::empty()).ok()?;
        let trees = rustix::fs::openat(&folder, "trees", dir_flags, Mode::empty()).ok()?;
        let file = open_regular_at(&trees, format!("{commit}.json").as_str()).ok()?;
        (file.metadata().ok()?.len() <= MAX_TREE_LISTING).then_some(())?;
        Some(std::io::BufReader::with_capacity(1 << 16, file.take(MAX_TREE_LISTING)))
    }

    /// The commit's cached tree listing as JSON in huggingface_hub's format (version 1), read
    /// as [`Self::tree_listing_reader`] reads it.
    pub(super) fn tree_listing(&self, commit: &CommitHash) -> Option<serde_json::Value> {
        let doc: serde_json::Value = serde_json::from_reader(self.tree_listing_reader(commit)?).ok()?;
        (doc.get("format_version")?.as_u64()? == 1).then_some(doc)
    }

    /// `snapshots/<commit>/<path>` when the snapshot holds the file itself: a regular file,
    /// below real folders, of the size `listing` (the commit's [`Self::listed_copies`]) gives
    /// it (see [`SnapshotFile::copy`]), and the file opened. Its bytes are not checked here
    /// ([`Self::copy_matches`]).
    pub fn snapshot_copy(
        &self,
        commit: &CommitHash,
        path: &str,
        listing: &ListedEtags,
    ) -> Result<(SnapshotFile, std::fs::File), String> {
        let shown = self.snapshot_file(commit, path);
        let unreadable = |e: std::io::Error| format!("snapshot file {} cannot be read: {e}", shown.display());
        let file = self.open_snapshot_copy(commit, path).map_err(unreadable)?;
        let size = file.metadata().map_err(unreadable)?.len();
        match listing.get(path) {
            Some((etag, listed)) if *listed == size => {
                Ok((SnapshotFile { name: path.to_owned(), etag: etag.clone(), size, copy: true }, file))
            }
            Some((_, listed)) => Err(format!(
                "snapshot file {} has {size} bytes where the commit's listing says {listed}",
                shown.display()
            )),
            None => Err(format!(
                "snapshot file {} is not a link to a blob, and the commit's cached listing (trees/{commit}.json) does not name it",
                shown.display()
            )),
        }
    }

    /// Whether the bytes of `file` (a [`SnapshotFile::copy`], opened with
    /// [`Self::open_snapshot_copy`]) are what its etag says: hashed whole (sha256, or git's
    /// blob sha1), then `opened` is put back at its start.
    pub fn copy_matches(file: &SnapshotFile, mut opened: &std::fs::File) -> std::io::Result<bool> {
        use std::io::{Read as _, Seek as _};
        if opened.metadata()?.len() != file.size {
            return Ok(false);
        }
        opened.seek(std::io::SeekFrom::Start(0))?;
        let kind = crate::download::HashKind::of(&file.etag);
        let digest = crate::download::hash_reader(kind, file.size, opened.take(file.size))?;
        opened.seek(std::io::SeekFrom::Start(0))?;
        Ok(digest == file.etag.as_str() && opened.metadata()?.len() == file.size)
    }

    /// Opens `snapshots/<commit>/<path>` for reading when it is a regular file, every folder
    /// on the way (the repo's included) opened without following a symlink.
    pub fn open_snapshot_copy(&self, commit: &CommitHash, path: &str) -> std::io::Result<std::fs::File> {
        crate::repo::validate_path(path)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
        let dir_flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let root: OwnedFd =
            rustix::fs::open(&self.root, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?;
        let mut dir = rustix::fs::openat(&root, self.folder_name.as_str(), dir_flags, Mode::empty())?;
        let parts: Vec<&str> = path.split('/').collect();
        let (name, folders) = parts.split_last().unwrap_or((&"", &[]));
        for folder in ["snapshots", commit.as_str()].iter().chain(folders) {
            dir = rustix::fs::openat(&dir, *folder, dir_flags, Mode::empty())?;
        }
        open_regular_at(&dir, *name)
    }

    /// Opens `blobs/<etag>` for reading without leaving the cache: the repo folder, `blobs/`
    /// and the blob are opened without following symlinks, except a blob that links into
    /// the cache's shared store, which is opened there the same way. Only a regular file is
    /// returned.
    pub fn open_blob(&self, etag: &Etag) -> std::io::Result<std::fs::File> {
        let dir_flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let root: OwnedFd =
            rustix::fs::open(&self.root, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?;
        let folder = rustix::fs::openat(&root, self.folder_name.as_str(), dir_flags, Mode::empty())?;
        let blobs = rustix::fs::openat(&folder, "blobs", dir_flags, Mode::empty())?;
        match open_regular_at(&blobs, etag.as_str()) {
            Err(e) if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) => {
                let store = SharedStore::open(&self.root).ok_or_else(|| {
                    std::io::Error::new(std::io::ErrorKind::InvalidData, "a symlink, and the cache has no shared store")
                })?;
                store.open_linked(&self.blob(etag))
            }
            other => other,
        }
    }

    /// The size of `blobs/<etag>`, opened as [`Self::open_blob`] does.
    pub fn blob_size(&self, etag: &Etag) -> std::io::Result<u64> {
        Ok(self.open_blob(etag)?.metadata()?.len())
    }
}

/// The repos of the cache at `root`, from their folder names (`models--ns--name`…); a
/// folder that is not a repo's is left out with a warning.
pub fn list_repos(root: &Path) -> WithWarnings<Vec<Repo>> {
    let mut repos = Vec::new();
    let mut warnings = Vec::new();
    for entry in std::fs::read_dir(root).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name == STORE_DIR || name == "CACHEDIR.TAG" {
            continue;
        }
        let parsed = name.split_once("--").and_then(|(plural, rest)| {
            let kind: RepoType = plural.parse().ok().filter(|k: &RepoType| k.plural() == plural)?;
            Repo::new(kind, &rest.replace("--", "/")).ok()
        });
        match parsed {
            Some(repo) if entry.file_type().is_ok_and(|t| t.is_dir()) => repos.push(repo),
            _ => warnings.push(format!("{} is not a repo folder", entry.path().display())),
        }
    }
    repos.sort();
    (repos, warnings)
}

/// Every non-folder entry below `dir` as a `/`-separated path relative to `base`; folders
/// reached through symlinks are not entered (they are reported).
fn list_files(base: &Path, dir: &Path, out: &mut Vec<String>, warnings: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else { continue };
        if kind.is_dir() {
            list_files(base, &path, out, warnings);
            continue;
        }
        match path.strip_prefix(base).ok().and_then(Path::to_str) {
            Some(rel) => out.push(rel.to_owned()),
            None => warnings.push(format!("{} is not named in UTF-8", path.display())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit(c: char) -> CommitHash {
        CommitHash::parse(&c.to_string().repeat(40)).unwrap()
    }

    #[test]
    fn files_kept_in_the_snapshot_itself_are_listed_by_the_commits_listing_and_checked_by_their_bytes() {
        use sha2::Digest as _;
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        let c = RepoCache::new(&root, &Repo::model("acme/tiny").unwrap());
        c.prepare().unwrap();
        let snapshot = c.snapshot_dir(&commit('a'));
        std::fs::create_dir_all(snapshot.join("sub")).unwrap();
        let weights = b"weights".to_vec();
        let sha256: String = sha2::Sha256::digest(&weights).iter().map(|b| format!("{b:02x}")).collect();
        std::fs::write(snapshot.join("sub/w.bin"), &weights).unwrap();
        std::fs::write(snapshot.join("short.txt"), b"abc").unwrap();
        std::fs::write(snapshot.join("unlisted.txt"), b"x").unwrap();
        let listing = serde_json::json!({"format_version": 1, "files": {
            "sub/w.bin": {"size": 7, "blob_id": "1".repeat(40), "lfs_sha256": sha256, "lfs_size": 7},
            "short.txt": {"size": 10, "blob_id": "2".repeat(40)},
        }});
        std::fs::create_dir_all(c.folder().join("trees")).unwrap();
        std::fs::write(c.tree_file(&commit('a')), listing.to_string()).unwrap();

        let (files, warnings) = c.snapshot_files(&commit('a'));
        let etag = Etag::parse(&sha256).unwrap();
        assert_eq!(files, vec![SnapshotFile { name: "sub/w.bin".into(), etag: etag.clone(), size: 7, copy: true }]);
        assert_eq!(warnings.len(), 2, "{warnings:#?}");
        assert!(warnings.iter().any(|w| w.contains("short.txt") && w.contains("has 3 bytes")), "{warnings:#?}");
        assert!(warnings.iter().any(|w| w.contains("unlisted.txt") && w.contains("does not name it")), "{warnings:#?}");
        let opened = c.open_snapshot_copy(&commit('a'), "sub/w.bin").unwrap();
        assert!(RepoCache::copy_matches(&files[0], &opened).unwrap());
        std::fs::write(snapshot.join("sub/w.bin"), b"WEIGHTS").unwrap();
        let opened = c.open_snapshot_copy(&commit('a'), "sub/w.bin").unwrap();
        assert!(!RepoCache::copy_matches(&files[0], &opened).unwrap(), "same size, other bytes");
        // A folder of the snapshot replaced by a link is not followed.
        std::fs::rename(snapshot.join("sub"), root.join("elsewhere")).unwrap();
        std::os::unix::fs::symlink(root.join("elsewhere"), snapshot.join("sub")).unwrap();
        assert!(c.open_snapshot_copy(&commit('a'), "sub/w.bin").is_err());
        let listed = ListedEtags::from([("sub/w.bin".to_owned(), (etag, 7))]);
        assert!(c.snapshot_copy(&commit('a'), "sub/w.bin", &listed).is_err());
    }

    #[test]
    fn broken_entries_are_named_and_the_rest_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        let repo = Repo::model("acme/tiny").unwrap();
        let c = RepoCache::new(&root, &repo);
        c.prepare().unwrap();
        let good = Etag::parse(&"e".repeat(40)).unwrap();
        std::fs::write(c.blob(&good), b"hello").unwrap();
        c.link(&commit('a'), "ok.txt", &good).unwrap();
        c.link(&commit('a'), "sub/dangling.bin", &Etag::parse(&"f".repeat(64)).unwrap()).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", c.snapshot_file(&commit('a'), "out")).unwrap();
        std::os::unix::fs::symlink("loop", c.snapshot_file(&commit('a'), "loop")).unwrap();
        let zero = Etag::parse(&"d".repeat(40)).unwrap();
        std::os::unix::fs::symlink("/dev/zero", c.blob(&zero)).unwrap();
        c.link(&commit('a'), "zero", &zero).unwrap();
        std::fs::create_dir_all(c.folder().join("snapshots/abc1234")).unwrap();
        c.write_ref("main", &commit('a')).unwrap();
        c.write_ref("gone", &commit('b')).unwrap();

        let (files, warnings) = c.snapshot_files(&commit('a'));
        assert_eq!(files, vec![SnapshotFile { name: "ok.txt".into(), etag: good.clone(), size: 5, copy: false }]);
        assert_eq!(warnings.len(), 4, "{warnings:#?}");
        for name in ["dangling.bin", "out", "loop", "zero"] {
            assert!(warnings.iter().any(|w| w.contains(name)), "{name}: {warnings:#?}");
        }
        let (refs, warnings) = c.refs();
        assert_eq!(refs, BTreeMap::from([("main".to_owned(), commit('a'))]));
        assert!(warnings[0].contains("`gone`"), "{warnings:?}");
        let (commits, warnings) = c.commits();
        assert_eq!(commits, vec![commit('a')]);
        assert!(warnings[0].contains("abc1234"), "{warnings:?}");
        assert!(c.open_blob(&zero).is_err(), "a blob linking to a device is refused");
        let (repos, _) = list_repos(&root);
        assert_eq!(repos, vec![repo]);
    }
}
