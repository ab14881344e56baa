//! Why a download failed, in words that say what to do next.

use std::path::PathBuf;
use std::time::Duration;

use crate::api::ApiError;
use crate::auth::TokenSource;
use crate::fs::{FsError, LockError};
use crate::repo::{Repo, RepoError};

/// A download that did not complete.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    /// The repo is gated and the token (if any) has not been granted access.
    #[error("Access denied. {} requires approval: accept its license at {endpoint}/{}{}.\n\n{}", .repo.describe(), .repo.kind.url_prefix(), .repo.id, token_note(.token_source.as_ref()))]
    Gated {
        /// The repo.
        repo: Repo,
        /// The endpoint, for the license page.
        endpoint: String,
        /// Where the token sent came from (`None`: no token was sent).
        token_source: Option<TokenSource>,
    },
    /// The repo does not exist, or is private and not visible with this token.
    #[error("{} not found. It may be private, misspelled, or need a login.\n\n{}", .repo.describe(), token_note(.token_source.as_ref()))]
    RepoNotFound {
        /// The repo.
        repo: Repo,
        /// Where the token sent came from.
        token_source: Option<TokenSource>,
    },
    /// The branch, tag or commit does not exist.
    #[error("Revision '{revision}' not found in {} '{}'.\n\nhint: check the branch, tag or commit name", .repo.kind, .repo.id)]
    RevisionNotFound {
        /// The repo.
        repo: Repo,
        /// The revision asked for.
        revision: String,
    },
    /// The file does not exist at that revision.
    #[error("File '{path}' not found in {} '{}' at revision '{revision}'.", .repo.kind, .repo.id)]
    EntryNotFound {
        /// The repo.
        repo: Repo,
        /// The revision.
        revision: String,
        /// The file.
        path: String,
    },
    /// The repo has been disabled by the Hub.
    #[error("{} is disabled: access to this resource is disabled.", .repo.describe())]
    Disabled {
        /// The repo.
        repo: Repo,
    },
    /// Offline mode, and the cache does not have it.
    #[error("{what} of `{}` at `{revision}` is not in the cache ({}), and offline mode (HF_HUB_OFFLINE=1 or --offline) forbids the network.\n\nhint: run the same command once with network access: without --offline, and with HF_HUB_OFFLINE unset", .repo.id, .cache.display())]
    NotCached {
        /// The repo.
        repo: Repo,
        /// The revision.
        revision: String,
        /// `` `config.json` `` or `a snapshot`.
        what: String,
        /// The cache folder searched.
        cache: PathBuf,
    },
    /// The cached snapshot lacks files its cached listing names, and the Hub cannot be asked.
    #[error("The cached snapshot for '{}' (revision '{}', commit {}) is incomplete: {} file(s) are missing ({}). {} Re-run the download with network access to complete the snapshot.\n\nhint: the partial snapshot is at {}", .0.repo.id, .0.revision, .0.commit, .0.missing.len(), sample(&.0.missing), .0.reason, .0.snapshot.display())]
    IncompleteSnapshot(Box<IncompleteSnapshot>),
    /// The content does not match its hash, even after a second try.
    #[error(
        "`{path}` failed verification: expected {algorithm} {expected}, got {actual}. The download was discarded; nothing was placed in the cache.\n\nhint: the server or a proxy sent wrong bytes; try again later"
    )]
    Verification {
        /// The file.
        path: String,
        /// `sha256` or `git-sha1`.
        algorithm: &'static str,
        /// The etag.
        expected: String,
        /// What arrived.
        actual: String,
    },
    /// Not enough free space for what is left to fetch.
    #[error("Not enough disk space in {}: {needed} bytes are needed but only {available} are free.\n\nhint: free some space (`hf cache ls`), or point HF_HUB_CACHE / --cache-dir at a larger disk", .path.display())]
    NoSpace {
        /// The folder written to.
        path: PathBuf,
        /// Bytes left to fetch.
        needed: u64,
        /// Bytes free.
        available: u64,
    },
    /// A request kept failing.
    #[error("Gave up on {url} after {tries} tries over {:.1}s: {last}", .elapsed.as_secs_f64())]
    RetriesExhausted {
        /// The URL.
        url: String,
        /// Tries made.
        tries: u32,
        /// Time spent.
        elapsed: Duration,
        /// The last failure.
        last: String,
    },
    /// The server's answer cannot be used (missing headers, a size that does not match…).
    #[error("{0}")]
    Protocol(String),
    /// A name the server or the user gave is unsafe or invalid.
    #[error(transparent)]
    Name(#[from] RepoError),
    /// A request failed with an answer that is not retried.
    #[error(transparent)]
    Api(Box<ApiError>),
    /// A file operation failed.
    #[error(transparent)]
    Fs(#[from] FsError),
    /// A lock could not be taken.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// The partial file vanished from under its owner before it was placed.
    #[error(
        "the partial file `{}` disappeared before it could be placed (another process took it over, or a cache prune removed it); nothing was placed\n\nhint: run the download again",
        .0.display()
    )]
    PartialLost(PathBuf),
    /// A repo path that a local dir must not receive.
    #[error("`{path}` was not written into `{}`: {reason}", .local.display())]
    Reserved {
        /// The path in the repo.
        path: String,
        /// The local dir.
        local: PathBuf,
        /// Why, as a clause.
        reason: &'static str,
    },
}

impl From<ApiError> for DownloadError {
    fn from(e: ApiError) -> Self {
        Self::Api(Box::new(e))
    }
}

/// What an incomplete snapshot lacks.
#[derive(Debug)]
pub struct IncompleteSnapshot {
    /// The repo.
    pub repo: Repo,
    /// The revision asked for.
    pub revision: String,
    /// Its commit.
    pub commit: crate::hashes::CommitHash,
    /// Missing paths.
    pub missing: Vec<String>,
    /// Why the Hub was not asked.
    pub reason: String,
    /// The snapshot folder.
    pub snapshot: PathBuf,
}

fn sample(missing: &[String]) -> String {
    let mut text = missing.iter().take(3).cloned().collect::<Vec<_>>().join(", ");
    if missing.len() > 3 {
        text.push_str(&format!(", ... ({} more)", missing.len() - 3));
    }
    text
}

fn token_note(source: Option<&TokenSource>) -> String {
    match source {
        Some(source) => format!("A token from {source} was sent; make sure its account has access."),
        None => {
            "No token was sent: run `hf auth login` or set HF_TOKEN (a gated or private repo needs one).".to_owned()
        }
    }
}
