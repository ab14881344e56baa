//! The partial file one download owns: created `O_EXCL` under a unique name (or adopted from
//! a process that is gone), written only by its owner, hashed by its owner, and renamed into
//! place by its owner. The naming and the liveness rules are [`crate::cache::partial`]'s.

use std::fs::File;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::error::DownloadError;
use crate::cache::partial;
use crate::fs::FsError;

/// A partial file this process owns (its `flock` held while locks are in use).
#[derive(Debug)]
pub(crate) struct OwnedPartial {
    path: PathBuf,
    file: File,
    record: PathBuf,
}

impl OwnedPartial {
    /// Adopts an abandoned partial file `<stem>.<owner>.hfkit.incomplete` of `dir` when
    /// `adopt` (with its resume record, kept in `records`), else creates a new one.
    /// `locks_work` false means `flock` is not trusted (nor taken).
    pub(crate) fn claim(
        dir: &Path,
        stem: &str,
        records: &Path,
        adopt: bool,
        locks_work: bool,
    ) -> Result<Self, DownloadError> {
        std::fs::create_dir_all(dir).map_err(|e| FsError::new("create folder", dir, e))?;
        if adopt && let Some(found) = Self::adopt(dir, stem, records, locks_work) {
            return Ok(found);
        }
        loop {
            let path = dir.join(partial::new_name(stem));
            let file = match std::fs::OpenOptions::new().read(true).write(true).create_new(true).mode(0o644).open(&path)
            {
                Ok(file) => file,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(FsError::new("create", &path, e).into()),
            };
            if locks_work {
                // Blocking: `hf cache prune` may test the lock for an instant.
                file.lock().map_err(|e| FsError::new("lock", &path, e))?;
            }
            let record = partial::record_path(records, &path);
            return Ok(Self { path, file, record });
        }
    }

    /// Renames the first abandoned partial file of `stem` to a name of ours.
    fn adopt(dir: &Path, stem: &str, records: &Path, locks_work: bool) -> Option<Self> {
        let entries = std::fs::read_dir(dir).ok()?;
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if partial::parse_name(name).is_none_or(|(s, _)| s != stem) {
                continue;
            }
            let old = entry.path();
            let Some(file) = partial::claim_abandoned(&old, locks_work) else { continue };
            let path = dir.join(partial::new_name(stem));
            // The rename is the claim: of several adopters, one wins; the others find nothing.
            if std::fs::rename(&old, &path).is_err() {
                continue;
            }
            let same = match (file.metadata(), std::fs::symlink_metadata(&path)) {
                (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
                _ => false,
            };
            if !same {
                continue;
            }
            let record = partial::record_path(records, &path);
            if std::fs::rename(partial::record_path(records, &old), &record).is_err() {
                // No record: what it holds is unknown, so it is rewritten whole.
                let _ = file.set_len(0);
            }
            return Some(Self { path, file, record });
        }
        None
    }

    /// Where it is.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The open file.
    pub(crate) fn file(&self) -> &File {
        &self.file
    }

    /// Its resume record.
    pub(crate) fn record(&self) -> &Path {
        &self.record
    }

    /// Renames the verified file to `dest`. A file that is no longer under our name was
    /// taken over (we were believed gone) or deleted (huggingface_hub's prune deletes every
    /// partial file): what the open handle holds may since have been changed by its new
    /// owner, so it is not placed.
    pub(crate) fn place(self, dest: &Path) -> Result<(), DownloadError> {
        let _ = std::fs::remove_file(&self.record);
        match std::fs::rename(&self.path, dest) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && dest.exists() => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(DownloadError::PartialLost(self.path.clone())),
            Err(e) => Err(FsError::new("place", dest, e).into()),
        }
    }

    /// Removes the file and its record (what it holds is known to be wrong).
    pub(crate) fn discard(self) {
        let _ = std::fs::remove_file(&self.record);
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A dead owner's name: this machine (taken from a fresh name), a pid that cannot run.
    fn dead_name(stem: &str) -> String {
        let fresh = partial::new_name(stem);
        let (_, me) = partial::parse_name(&fresh).unwrap();
        format!("{stem}.{}-4294967295-1{}", me.host, partial::SUFFIX)
    }

    #[test]
    fn writers_never_share_a_partial_file_even_when_locks_lie() {
        let dir = tempfile::tempdir().unwrap();
        for locks_work in [true, false] {
            let a = OwnedPartial::claim(dir.path(), "e", dir.path(), true, locks_work).unwrap();
            let b = OwnedPartial::claim(dir.path(), "e", dir.path(), true, locks_work).unwrap();
            assert_ne!(a.path(), b.path(), "a live writer's file is never adopted");
            assert!(a.path().exists() && b.path().exists());
            a.discard();
            b.discard();
        }
    }

    #[test]
    fn an_abandoned_partial_is_adopted_with_its_record_and_only_once() {
        let dir = tempfile::tempdir().unwrap();
        let records = dir.path().join("records");
        std::fs::create_dir_all(&records).unwrap();
        let old = dir.path().join(dead_name("e"));
        std::fs::write(&old, b"half").unwrap();
        std::fs::write(partial::record_path(&records, &old), b"{}").unwrap();
        let mine = OwnedPartial::claim(dir.path(), "e", &records, true, true).unwrap();
        assert!(!old.exists(), "renamed to the adopter's name");
        assert_eq!(std::fs::read(mine.path()).unwrap(), b"half");
        assert_eq!(std::fs::read(mine.record()).unwrap(), b"{}", "the record came along");
        let next = OwnedPartial::claim(dir.path(), "e", &records, true, true).unwrap();
        assert_ne!(next.path(), mine.path());
        assert_eq!(std::fs::read(next.path()).unwrap(), b"", "a fresh file, not the adopted one");
        // Without adoption, nothing is taken.
        let dead = dir.path().join(dead_name("f"));
        std::fs::write(&dead, b"x").unwrap();
        let fresh = OwnedPartial::claim(dir.path(), "f", &records, false, true).unwrap();
        assert!(dead.exists() && fresh.path() != dead);
    }

    #[test]
    fn a_partial_file_taken_away_is_not_placed() {
        let dir = tempfile::tempdir().unwrap();
        let mine = OwnedPartial::claim(dir.path(), "e", dir.path(), false, true).unwrap();
        std::fs::rename(mine.path(), dir.path().join("elsewhere")).unwrap();
        let dest = dir.path().join("blob");
        assert!(matches!(mine.place(&dest), Err(DownloadError::PartialLost(_))));
        assert!(!dest.exists());
    }
}
