//! `hf cache verify`: recompute every file's hash (sha256 for LFS files, git sha1 for the
//! others) and compare with the Hub's listing, as huggingface_hub's `verify_repo_checksums`
//! does, hashing several files at once.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::api::TreeEntry;
use crate::download::{HashKind, hash_reader};

/// A file whose hash differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// Path in the repo.
    pub path: String,
    /// The Hub's hash.
    pub expected: String,
    /// The local file's hash.
    pub actual: String,
    /// `sha256` or `git-sha1`.
    pub algorithm: &'static str,
}

/// The result of a verification.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verification {
    /// Files present on both sides (and hashed).
    pub checked: usize,
    /// Files whose hashes differ, by path.
    pub mismatches: Vec<Mismatch>,
    /// Remote files missing locally.
    pub missing: Vec<String>,
    /// Local files unknown to the remote.
    pub extra: Vec<String>,
}

/// Where to verify: the snapshot of a cached revision (with its commit), chosen as
/// huggingface_hub chooses it: a commit hash, else `refs/<revision>`, else `refs/main`, else
/// the only snapshot.
pub fn cached_snapshot(repo_folder: &Path, revision: Option<&str>) -> Result<(PathBuf, String), String> {
    if let Some(rev) = revision {
        crate::repo::validate_revision(rev).map_err(|e| e.to_string())?;
    }
    if !repo_folder.exists() {
        return Err(format!(
            "Repo is not present in cache: {}. Use 'hf download' first or pass --local-dir.",
            repo_folder.display()
        ));
    }
    let refs = repo_folder.join("refs");
    let snapshots = repo_folder.join("snapshots");
    let commit = match revision {
        Some(rev) if crate::repo::is_commit_hash(rev) => rev.to_owned(),
        Some(rev) => {
            let path = refs.join(rev);
            super::read_ref_file(&path).map(|c| c.as_str().to_owned()).ok_or_else(|| {
                format!("Revision '{rev}' could not be resolved in cache (expected file '{}').", path.display())
            })?
        }
        None => match super::read_ref_file(&refs.join("main")) {
            Some(commit) => commit.as_str().to_owned(),
            None => {
                let Ok(entries) = std::fs::read_dir(&snapshots) else {
                    return Err(format!(
                        "Cache repo is missing snapshots directory: {}. Provide --revision explicitly.",
                        snapshots.display()
                    ));
                };
                let candidates: Vec<String> = entries
                    .flatten()
                    .filter(|e| e.path().is_dir())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| crate::repo::is_commit_hash(n))
                    .collect();
                match candidates.as_slice() {
                    [one] => one.clone(),
                    _ => {
                        return Err("Ambiguous cached revision: multiple snapshots found and no refs to disambiguate. Please pass --revision.".to_owned());
                    }
                }
            }
        },
    };
    let dir = snapshots.join(&commit);
    if !dir.is_dir() {
        return Err(format!("Snapshot directory does not exist for revision '{commit}': {}.", dir.display()));
    }
    Ok((dir, commit))
}

/// Every file below `root` by repo path (symlinks followed), without `.git/` and
/// `.cache/huggingface/`.
pub fn local_files(root: &Path) -> BTreeMap<String, PathBuf> {
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out.retain(|path, _| {
        !(path.starts_with(".git/") || path.contains("/.git/") || path.starts_with(".cache/huggingface/"))
    });
    out
}

fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            walk(base, &path, out);
        } else if path.is_file() {
            out.insert(path.strip_prefix(base).unwrap_or(&path).to_string_lossy().into_owned(), path);
        }
    }
}

/// Compares local files with the remote listing, hashing with `threads` threads.
pub fn verify(local: &BTreeMap<String, PathBuf>, remote: &[TreeEntry], threads: usize) -> Verification {
    let remote: BTreeMap<&str, &TreeEntry> =
        remote.iter().filter(|e| e.kind == "file").map(|e| (e.path.as_str(), e)).collect();
    let missing = remote.keys().filter(|p| !local.contains_key(**p)).map(|p| (*p).to_owned()).collect();
    let extra = local.keys().filter(|p| !remote.contains_key(p.as_str())).cloned().collect();
    let both: Vec<(&str, &PathBuf, &TreeEntry)> =
        local.iter().filter_map(|(p, path)| remote.get(p.as_str()).map(|e| (p.as_str(), path, *e))).collect();
    let next = Mutex::new(0usize);
    let found = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..threads.clamp(1, both.len().max(1)) {
            scope.spawn(|| {
                loop {
                    let i = {
                        let mut n = next.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                        let i = *n;
                        *n += 1;
                        i
                    };
                    let Some((path, file, entry)) = both.get(i) else { break };
                    let (kind, expected) = match &entry.lfs {
                        Some(lfs) => (HashKind::Sha256, lfs.oid.to_lowercase()),
                        None => (HashKind::GitSha1, entry.oid.to_lowercase()),
                    };
                    let size = std::fs::metadata(file).map_or(0, |m| m.len());
                    let actual = std::fs::File::open(file)
                        .and_then(|f| hash_reader(kind, size, std::io::BufReader::new(f)))
                        .unwrap_or_else(|e| format!("<unreadable: {e}>"));
                    if actual != expected {
                        let m = Mismatch { path: (*path).to_owned(), expected, actual, algorithm: kind.name() };
                        found.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(m);
                    }
                }
            });
        }
    });
    let mut mismatches = found.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    mismatches.sort_by(|a, b| a.path.cmp(&b.path));
    Verification { checked: both.len(), mismatches, missing, extra }
}
