//! Downloads: one file or a whole snapshot, into the cache exactly where huggingface_hub
//! puts them (or into a `local_dir`), verified, parallel, resumable, and offline-aware.
//!
//! ```no_run
//! # async fn demo() -> hfkit::Result<()> {
//! use hfkit::repo::Repo;
//! let hub = hfkit::Hub::from_env()?;
//! let config = hub.repo(Repo::model("acme/tiny")?).download("config.json").await?;
//! let options = hfkit::download::DownloadOptions { include: vec!["*.json".into()], ..Default::default() };
//! let snapshot = hub.repo(Repo::model("acme/tiny")?).snapshot(&options, &hfkit::download::NoProgress).await?;
//! # Ok(()) }
//! ```
//!
//! The order of a file download follows huggingface_hub's `hf_hub_download`: a commit that
//! is cached answers with no request; offline mode answers from `refs/`; otherwise one
//! `HEAD` gives the commit, etag and size, a cached blob is linked, and a missing one is
//! fetched by [`transfer`], verified and placed. If the Hub cannot be asked (network down,
//! 5xx, access refused) and the file is cached, the cached copy is returned.

mod error;
mod filter;
mod local_dir;
mod ordered;
pub mod pacing;
mod partial;
mod progress;
mod retry;
mod transfer;
mod verify;

use std::path::{Path, PathBuf};
use std::time::Instant;

pub use error::{DownloadError, IncompleteSnapshot};
pub use filter::{keep, matches};
pub use progress::{NoProgress, Progress};
pub use verify::{HashKind, Hasher, hash_reader};

use crate::api::{ApiError, TreeEntry};
use crate::auth::ResolvedToken;
use crate::cache::{RepoCache, SharedStore, XetHash};
use crate::error::{Error, Result};
use crate::fs::{FsError, LockError, LockedFile};
use crate::hashes::{CommitHash, Etag};
use crate::hub::Hub;
use crate::repo::{self, Repo};
use partial::OwnedPartial;
use retry::RetryPolicy;
use transfer::{Target, Transfer};

/// How long a lock wait stays silent before it is reported.
const LOCK_NOTICE_AFTER: std::time::Duration = std::time::Duration::from_secs(2);
/// How long to wait for another process downloading the same blob.
const LOCK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3600);

/// Options of a download; `Default` is huggingface_hub's defaults.
#[derive(Debug, Clone)]
pub struct DownloadOptions {
    /// Branch, tag, `refs/pr/N` or commit (default `main`).
    pub revision: String,
    /// Cache folder (default `HF_HUB_CACHE`).
    pub cache_dir: Option<PathBuf>,
    /// Write real files here instead of the cache.
    pub local_dir: Option<PathBuf>,
    /// Fetch even what is cached.
    pub force: bool,
    /// Answer from the cache only (`None`: `HF_HUB_OFFLINE`).
    pub offline: Option<bool>,
    /// Snapshot: only paths matching one of these patterns.
    pub include: Vec<String>,
    /// Snapshot: no path matching one of these patterns.
    pub exclude: Vec<String>,
    /// Plan only: say what would be fetched.
    pub dry_run: bool,
    /// Take huggingface_hub's per-blob locks (turn off only where locks hang).
    pub use_locks: bool,
    /// For one file (`download_file`; a snapshot ignores it): its metadata, already asked of
    /// the Hub at `revision` by the caller (a mirror answering a client asked it a moment
    /// ago), so that the download does not ask again. Its `location` is fetched as given.
    pub metadata: Option<crate::api::FileMetadata>,
}

impl Default for DownloadOptions {
    fn default() -> Self {
        Self {
            revision: "main".to_owned(),
            cache_dir: None,
            local_dir: None,
            force: false,
            offline: None,
            include: Vec::new(),
            exclude: Vec::new(),
            dry_run: false,
            use_locks: true,
            metadata: None,
        }
    }
}

/// A file of a download plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedFile {
    /// Path in the repo.
    pub path: String,
    /// Size in bytes (when known).
    pub size: Option<u64>,
    /// Whether it is already in place (nothing to fetch).
    pub cached: bool,
}

/// What a download produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downloaded {
    /// The file (single download) or the snapshot folder / local dir.
    pub path: PathBuf,
    /// The commit the revision resolved to (`None`: a local dir answered offline, and its
    /// files do not say).
    pub commit: Option<CommitHash>,
    /// The files considered, with what had to be fetched.
    pub files: Vec<PlannedFile>,
    /// Files of the repo that were deliberately not written, and why.
    pub skipped: Vec<Skipped>,
}

/// A repo file a download did not write, on purpose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// Path in the repo.
    pub path: String,
    /// Why, as a clause ("it is under the local dir's `.git/`, …").
    pub reason: String,
}

/// One repository of a [`Hub`], to download from.
#[derive(Debug, Clone)]
pub struct RepoHandle {
    hub: Hub,
    repo: Repo,
}

impl Hub {
    /// A handle to download from `repo`.
    pub fn repo(&self, repo: Repo) -> RepoHandle {
        RepoHandle { hub: self.clone(), repo }
    }
}

/// Everything one download needs, resolved once.
struct Ctx<'a> {
    hub: &'a Hub,
    repo: &'a Repo,
    options: &'a DownloadOptions,
    cache: RepoCache,
    progress: &'a dyn Progress,
}

impl RepoHandle {
    /// Downloads one file from `main` into the cache and returns its snapshot path.
    pub async fn download(&self, path: &str) -> Result<PathBuf> {
        Ok(self.download_file(path, &DownloadOptions::default(), &NoProgress).await?.path)
    }

    /// Downloads one file (huggingface_hub's `hf_hub_download`).
    pub async fn download_file(
        &self,
        path: &str,
        options: &DownloadOptions,
        progress: &dyn Progress,
    ) -> Result<Downloaded> {
        repo::validate_path(path).map_err(DownloadError::from)?;
        repo::validate_revision(&options.revision).map_err(DownloadError::from)?;
        let ctx = self.ctx(options, progress);
        if let Some(local) = &options.local_dir {
            return local_dir::download_file(&ctx, &local_dir::resolved(local), path).await;
        }
        let fresh = !ctx.cache.folder().exists();
        let result = ctx.download_file(path).await;
        if fresh && result.as_ref().is_err_and(is_refusal) {
            ctx.cache.discard_if_unused();
        }
        result
    }

    /// Downloads a snapshot (huggingface_hub's `snapshot_download`): every file of the
    /// revision that passes `include`/`exclude`, several at once.
    pub async fn snapshot(&self, options: &DownloadOptions, progress: &dyn Progress) -> Result<Downloaded> {
        repo::validate_revision(&options.revision).map_err(DownloadError::from)?;
        let ctx = self.ctx(options, progress);
        let fresh = !ctx.cache.folder().exists();
        let result = ctx.snapshot().await;
        // A refusal (a gated repo, say) must not leave an empty repo that `hf cache ls` lists.
        if fresh && result.as_ref().is_err_and(is_refusal) {
            ctx.cache.discard_if_unused();
        }
        result
    }

    fn ctx<'a>(&'a self, options: &'a DownloadOptions, progress: &'a dyn Progress) -> Ctx<'a> {
        let root = options.cache_dir.clone().unwrap_or_else(|| self.hub.config().hub_cache.clone());
        Ctx { hub: &self.hub, repo: &self.repo, options, cache: RepoCache::new(&root, &self.repo), progress }
    }
}

impl Ctx<'_> {
    fn offline(&self) -> bool {
        self.options.offline.unwrap_or(self.hub.config().offline)
    }

    fn policy(&self) -> RetryPolicy {
        let t = &self.hub.config().transfer;
        RetryPolicy { retries: t.retries, base: t.retry_base }
    }

    fn not_cached(&self, what: String) -> Error {
        DownloadError::NotCached {
            repo: self.repo.clone(),
            revision: self.options.revision.clone(),
            what,
            cache: self.cache.root().to_owned(),
        }
        .into()
    }

    /// The cached copy of `path` at the revision, if any.
    fn cached_file(&self, path: &str) -> Option<(CommitHash, PathBuf)> {
        let commit = self.cache.resolve_local(&self.options.revision)?;
        let file = self.cache.snapshot_file(&commit, path);
        file.exists().then_some((commit, file))
    }

    async fn download_file(&self, path: &str) -> Result<Downloaded> {
        let rev = &self.options.revision;
        let single = |commit: CommitHash, file: PathBuf, size, cached| Downloaded {
            path: file,
            commit: Some(commit),
            files: vec![PlannedFile { path: path.to_owned(), size, cached }],
            skipped: Vec::new(),
        };
        if let Ok(commit) = CommitHash::parse(rev)
            && !self.options.force
            && !self.options.dry_run
        {
            let file = self.cache.snapshot_file(&commit, path);
            if file.exists() {
                return Ok(single(commit, file, None, true));
            }
        }
        if self.offline() {
            return match self.cached_file(path) {
                Some((commit, file)) => Ok(single(commit, file, None, true)),
                None => Err(self.not_cached(format!("`{path}`"))),
            };
        }
        let token = self.hub.request_token().await?;
        // With a cached copy to fall back on, one try is enough (as in huggingface_hub).
        let patient = self.options.force || self.cached_file(path).is_none();
        let asked = match self.options.metadata.clone() {
            Some(meta) => Ok(meta),
            None => self.head(path, token.as_ref(), patient).await,
        };
        let meta = match asked {
            Ok(meta) => meta,
            Err(e) => {
                if !self.options.force
                    && !e.is_definitive()
                    && let Some((commit, file)) = self.cached_file(path)
                {
                    return Ok(single(commit, file, None, true));
                }
                return Err(e.into_error());
            }
        };
        let pointer = self.cache.snapshot_file(&meta.commit, path);
        let cached = pointer.exists() && !self.options.force;
        if self.options.dry_run {
            let in_store = || {
                meta.xet_hash.as_ref().zip(meta.size).is_some_and(|(hash, size)| {
                    self.shared_store().is_some_and(|store| store.has_usable_entry(hash, size))
                })
            };
            let cached = cached || (!self.options.force && (self.cache.blob(&meta.etag).exists() || in_store()));
            return Ok(single(meta.commit, pointer, meta.size, cached));
        }
        self.cache.prepare()?;
        self.cache.write_ref(rev, &meta.commit)?;
        if cached {
            return Ok(single(meta.commit, pointer, meta.size, true));
        }
        let size = meta.size.ok_or_else(|| {
            DownloadError::Protocol(format!("the Hub did not say the size of `{path}`, so it cannot be verified"))
        })?;
        self.progress.planned(1, size);
        let target = self.target(path, &meta.etag, size, meta.location.clone(), token);
        if !self.cache.blob(&target.etag).exists() || self.options.force {
            check_space(self.cache.root(), size, &self.cache.blob(&target.etag))?;
        }
        self.fetch_and_place(&meta.commit, path, target, meta.xet_hash.as_ref()).await?;
        Ok(single(meta.commit, pointer, Some(size), false))
    }

    /// Runs a metadata request, retrying spurious failures (none unless `patient`: with a
    /// cached copy to fall back on, one try is enough, as in huggingface_hub) and reporting
    /// each wait as `what`.
    async fn with_retries<T, F, Fut>(&self, what: &str, patient: bool, mut request: F) -> Result<T, Failed>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, ApiError>>,
    {
        let policy = if patient { self.policy() } else { RetryPolicy { retries: 0, ..self.policy() } };
        let began = Instant::now();
        let mut attempt = 0;
        loop {
            let error = match request().await {
                Ok(found) => return Ok(found),
                Err(e) => e,
            };
            if !is_spurious(&error) || attempt >= policy.retries {
                return Err(Failed { error, tries: attempt + 1, began, refused_wait: None });
            }
            let delay = match policy.delay(attempt, error.retry_after()) {
                Ok(delay) => delay,
                Err(wait) => return Err(Failed { error, tries: attempt + 1, began, refused_wait: Some(wait) }),
            };
            let reason = error.to_string();
            self.progress.retrying(what, attempt + 1, delay, reason.lines().next().unwrap_or_default());
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    /// What a metadata request that failed for good becomes: the error with the repo's
    /// context, or, after retries, how many tries over how long.
    fn metadata_failure(
        &self,
        failed: Failed,
        url: String,
        path: Option<&str>,
        token: Option<&ResolvedToken>,
    ) -> HeadError {
        let Failed { error, tries, began, refused_wait } = failed;
        if let Some(wait) = refused_wait {
            return HeadError::Other(DownloadError::Protocol(retry::too_long(&url, wait)).into());
        }
        let spurious = is_spurious(&error);
        let error = self.classify(error, path, token);
        if spurious && tries > 1 {
            // The last failure whole: its first line says why, its hint what to do.
            let last = error.to_string();
            return HeadError::Other(
                DownloadError::RetriesExhausted { url, tries, elapsed: began.elapsed(), last }.into(),
            );
        }
        HeadError::Classified(error)
    }

    /// The metadata HEAD of `path`, retried while the failure is spurious (when `patient`).
    async fn head(
        &self,
        path: &str,
        token: Option<&ResolvedToken>,
        patient: bool,
    ) -> Result<crate::api::FileMetadata, HeadError> {
        let client = self.hub.client().map_err(HeadError::Other)?;
        let rev = &self.options.revision;
        let result = self.with_retries(path, patient, || client.file_metadata(self.repo, rev, path, token)).await;
        result.map_err(|failed| {
            if let ApiError::Status { error_code: Some(code), details, .. } = &failed.error
                && let Some(commit) = &details.repo_commit
                && code == "EntryNotFound"
            {
                let _ = self.cache.mark_missing(commit, path);
                let _ = self.cache.write_ref(rev, commit);
            }
            let url = repo::resolve_url(&self.hub.config().endpoint, self.repo, rev, path);
            self.metadata_failure(failed, url, Some(path), token)
        })
    }

    /// Turns an API error into a download error with the repo's context.
    fn classify(&self, error: ApiError, path: Option<&str>, token: Option<&ResolvedToken>) -> DownloadError {
        let token_source = token.map(|t| t.source.clone());
        let repo = self.repo.clone();
        let revision = self.options.revision.clone();
        if let ApiError::Status { error_code: Some(code), .. } = &error {
            match code.as_str() {
                "GatedRepo" => {
                    return DownloadError::Gated { repo, endpoint: self.hub.config().endpoint.clone(), token_source };
                }
                "RepoNotFound" => return DownloadError::RepoNotFound { repo, token_source },
                "RevisionNotFound" => return DownloadError::RevisionNotFound { repo, revision },
                "EntryNotFound" => {
                    return DownloadError::EntryNotFound { repo, revision, path: path.unwrap_or_default().to_owned() };
                }
                _ => {}
            }
        }
        if let ApiError::Status { server_message: Some(m), .. } = &error
            && m.starts_with("Access to this resource is disabled.")
        {
            return DownloadError::Disabled { repo };
        }
        DownloadError::from(error)
    }

    /// What to fetch for `path` (the etag, checked where it was read, says how to verify it).
    fn target(&self, path: &str, etag: &Etag, size: u64, url: String, token: Option<ResolvedToken>) -> Target {
        let endpoint = reqwest::Url::parse(&self.hub.config().endpoint).expect("the endpoint was validated");
        Target { url, token, endpoint, size, etag: etag.clone(), kind: HashKind::of(etag), display: path.to_owned() }
    }

    /// huggingface_hub 2.4's shared blob store of this cache, when the environment allows it
    /// and the cache has a marked one.
    fn shared_store(&self) -> Option<SharedStore> {
        if !self.hub.config().shared_blobs_enabled() {
            return None;
        }
        let root = std::fs::canonicalize(self.cache.root()).ok()?;
        SharedStore::open(&root)
    }

    /// Links `blob` from the shared store entry `xet` names, when it is usable (a readable
    /// regular file of the right size), as 2.4 does instead of downloading.
    fn link_from_store(&self, blob: &Path, xet: Option<&XetHash>, size: u64) -> bool {
        // Most files name no Xet hash: then nothing is looked up on disk.
        let Some(hash) = xet else { return false };
        let Some(store) = self.shared_store() else { return false };
        let Some(blob) = std::fs::canonicalize(self.cache.folder().join("blobs"))
            .ok()
            .zip(blob.file_name())
            .map(|(dir, name)| dir.join(name))
        else {
            return false;
        };
        store.link_from_store(&blob, hash, size)
    }

    /// Fetches a blob (unless present, or linked from the shared store), then links the
    /// snapshot to it. The caller has checked the free space for it.
    ///
    /// Every fetch holds huggingface_hub's blob lock, so that neither tool fetches a blob
    /// the other is fetching; correctness does not rest on it: the bytes go to a partial
    /// file of this download's own, are hashed from it, and only then renamed into `blobs/`.
    async fn fetch_and_place(
        &self,
        commit: &CommitHash,
        path: &str,
        target: Target,
        xet: Option<&XetHash>,
    ) -> Result<()> {
        if self.hub.config().disable_symlinks {
            return self.fetch_real_file(commit, path, &target).await;
        }
        let blob = self.cache.blob(&target.etag);
        if !blob.exists() || self.options.force {
            let _lock = self.lock(&self.cache.lock(&target.etag), path).await?;
            // Another process may have placed it while we waited for the lock.
            let linked = || !self.options.force && self.link_from_store(&blob, xet, target.size);
            if (!blob.exists() || self.options.force) && !linked() {
                let adopt = target.size > self.hub.config().transfer.chunk_size;
                let partial = OwnedPartial::claim(
                    &self.cache.blobs_dir(),
                    target.etag.as_str(),
                    &self.cache.locks_dir(),
                    adopt,
                    self.options.use_locks,
                )?;
                self.fetch_verified(&target, partial).await?.place(&blob)?;
            }
        }
        self.cache.link(commit, path, &target.etag)?;
        self.progress.file_finished(path);
        Ok(())
    }

    /// `HF_HUB_DISABLE_SYMLINKS`, as huggingface_hub does it: the snapshot holds the file
    /// itself. A blob the cache holds is copied there (hashed on the way); else the file is
    /// fetched and moved there, so `blobs/` does not keep it.
    async fn fetch_real_file(&self, commit: &CommitHash, path: &str, target: &Target) -> Result<()> {
        let dest = self.cache.snapshot_file(commit, path);
        self.cache.snapshot_folders(commit, path)?;
        let _lock = self.lock(&self.cache.lock(&target.etag), path).await?;
        let adopt = target.size > self.hub.config().transfer.chunk_size;
        let blobs = self.cache.blobs_dir();
        let partial =
            OwnedPartial::claim(&blobs, target.etag.as_str(), &self.cache.locks_dir(), adopt, self.options.use_locks)?;
        self.copied_or_fetched(target, partial).await?.place(&dest)?;
        self.progress.file_finished(path);
        Ok(())
    }

    /// `partial` filled with `target`'s bytes: copied from the main cache's blob when it holds
    /// a good one (and `--force` was not given), else fetched; verified either way.
    async fn copied_or_fetched(&self, target: &Target, partial: OwnedPartial) -> Result<OwnedPartial> {
        if !self.options.force && self.copy_cached_blob(&partial, &target.etag, target.size).await {
            return Ok(partial);
        }
        self.fetch_verified(target, partial).await
    }

    /// Fills `partial` with the main cache's blob of `etag`, hashing it on the way; false (and
    /// `partial` emptied) when the cache has no such blob, or one of another size or content.
    /// The blob is opened without leaving the cache and only as a regular file
    /// ([`crate::cache::RepoCache::open_blob`]).
    async fn copy_cached_blob(&self, partial: &OwnedPartial, etag: &Etag, size: u64) -> bool {
        use std::io::{Read as _, Seek as _, Write as _};
        let Ok(blob) = self.cache.open_blob(etag) else { return false };
        // A blob of another size is passed over before anything is touched.
        if blob.metadata().map(|m| m.len()).ok() != Some(size) {
            return false;
        }
        let Ok(out) = partial.file().try_clone() else { return false };
        // What an earlier run left is replaced: its resume record goes first.
        let _ = std::fs::remove_file(partial.record());
        let etag = etag.clone();
        let copied = tokio::task::spawn_blocking(move || -> std::io::Result<bool> {
            let mut hasher = verify::Hasher::new(verify::HashKind::of(&etag), size);
            out.set_len(0)?;
            (&out).seek(std::io::SeekFrom::Start(0))?;
            let (mut reader, mut writer) = (blob.take(size), std::io::BufWriter::with_capacity(1 << 20, &out));
            let mut buf = vec![0; 1 << 20];
            loop {
                let n = reader.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
                writer.write_all(&buf[..n])?;
            }
            writer.flush()?;
            Ok(hasher.finish() == etag.as_str())
        })
        .await;
        let ok = matches!(copied, Ok(Ok(true)));
        if !ok {
            let _ = partial.file().set_len(0);
        }
        ok
    }

    /// huggingface_hub's lock at `path` for the file `display` (none when locks are turned
    /// off), waited for without holding up the other downloads of a snapshot. A wait of more
    /// than [`LOCK_NOTICE_AFTER`] is reported, so that a long one is never silent.
    async fn lock(&self, path: &Path, display: &str) -> Result<Option<LockedFile>, DownloadError> {
        if !self.options.use_locks {
            return Ok(None);
        }
        let start = Instant::now();
        let mut told = false;
        loop {
            if let Some(lock) = LockedFile::try_acquire(path)? {
                return Ok(Some(lock));
            }
            if !told && start.elapsed() >= LOCK_NOTICE_AFTER {
                told = true;
                let reason = format!("another process is downloading it (it holds {})", path.display());
                self.progress.waiting(display, &reason);
            }
            if start.elapsed() >= LOCK_TIMEOUT {
                return Err(LockError::Timeout { path: path.to_owned(), timeout: LOCK_TIMEOUT }.into());
            }
            tokio::time::sleep(crate::fs::LOCK_POLL).await;
        }
    }

    /// Fetches into `partial`; a verification failure is retried once from scratch, and
    /// a second one discards the partial file. Refusals (gated, not found…) get the repo's
    /// context, as for the metadata request.
    async fn fetch_verified(&self, target: &Target, partial: OwnedPartial) -> Result<OwnedPartial> {
        let client = self.hub.client()?;
        let transfer = Transfer { client, settings: &self.hub.config().transfer, progress: self.progress };
        let outcome = match transfer.fetch(target, &partial).await {
            Err(DownloadError::Verification { .. }) => transfer.fetch(target, &partial).await,
            other => other,
        };
        match outcome {
            Ok(()) => Ok(partial),
            Err(e @ DownloadError::Verification { .. }) => {
                partial.discard();
                Err(e.into())
            }
            Err(DownloadError::Api(api)) => {
                Err(self.classify(*api, Some(&target.display), target.token.as_ref()).into())
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn snapshot(&self) -> Result<Downloaded> {
        let rev = self.options.revision.clone();
        let snapshot_result = |commit: CommitHash, dir: PathBuf, files| Downloaded {
            path: dir,
            commit: Some(commit),
            files,
            skipped: Vec::new(),
        };
        if self.offline() {
            return match self.cache.resolve_local(&rev) {
                Some(commit) if self.cache.snapshot_dir(&commit).is_dir() => {
                    self.check_complete(&commit, "Outgoing traffic is disabled (offline mode).")?;
                    let dir = self.cache.snapshot_dir(&commit);
                    Ok(snapshot_result(commit, dir, Vec::new()))
                }
                _ => Err(self.not_cached("a snapshot".to_owned())),
            };
        }
        let token = self.hub.request_token().await?;
        let cached = self.cache.resolve_local(&rev).is_some_and(|c| self.cache.snapshot_dir(&c).is_dir());
        let listing = self.list(token.as_ref(), self.options.force || !cached).await;
        let (commit, entries) = match listing {
            Ok(found) => found,
            Err(e) => {
                // Like huggingface_hub: when the Hub cannot be asked, a cached snapshot answers.
                if !e.is_definitive()
                    && !self.options.force
                    && let Some(commit) = self.cache.resolve_local(&rev)
                    && self.cache.snapshot_dir(&commit).is_dir()
                {
                    let reason = format!("The Hub could not be reached ({}).", e.first_line());
                    self.check_complete(&commit, &reason)?;
                    let dir = self.cache.snapshot_dir(&commit);
                    return Ok(snapshot_result(commit, dir, Vec::new()));
                }
                return Err(e.into_error());
            }
        };
        // Entries were checked as they were read: safe paths, and content hashes for files.
        let files: Vec<TreeEntry> = entries
            .iter()
            .filter(|e| e.etag().is_some() && keep(&e.path, &self.options.include, &self.options.exclude))
            .cloned()
            .collect();
        if let Some(local) = &self.options.local_dir {
            // As huggingface_hub: the branch is recorded in the cache, the listing in the local
            // dir, so that its offline mode can tell whether the local dir is complete.
            self.cache.write_ref(&rev, &commit).ok();
            return local_dir::snapshot(self, &local_dir::resolved(local), &commit, files, &entries, token).await;
        }
        let plan: Vec<PlannedFile> = files
            .iter()
            .map(|e| PlannedFile {
                path: e.path.clone(),
                size: Some(e.content_size()),
                cached: !self.options.force && self.cache.snapshot_file(&commit, &e.path).exists(),
            })
            .collect();
        if self.options.dry_run {
            self.cache.write_ref(&rev, &commit).ok();
            return Ok(snapshot_result(commit.clone(), self.cache.snapshot_dir(&commit), plan));
        }
        self.cache.prepare()?;
        self.cache.write_ref(&rev, &commit)?;
        self.cache.write_tree(&commit, &entries)?;
        std::fs::create_dir_all(self.cache.snapshot_dir(&commit))
            .map_err(|e| FsError::new("create folder", &self.cache.snapshot_dir(&commit), e))?;
        let mut todo: Vec<&TreeEntry> = files.iter().zip(&plan).filter(|(_, p)| !p.cached).map(|(e, _)| e).collect();
        // The biggest first, so that the longest transfer does not start last and end alone.
        todo.sort_by_key(|e| std::cmp::Reverse(e.content_size()));
        let missing_bytes: u64 = todo
            .iter()
            .filter_map(|e| e.etag().map(|etag| (e, etag)))
            .filter(|(_, etag)| self.options.force || !self.cache.blob(etag).exists())
            .map(|(e, _)| e.content_size())
            .fold(0, u64::saturating_add);
        check_space(self.cache.root(), missing_bytes, &self.cache.folder())?;
        self.progress.planned(todo.len(), todo.iter().map(|e| e.content_size()).fold(0, u64::saturating_add));
        let endpoint = self.hub.config().endpoint.clone();
        let workers = self.hub.config().transfer.workers.max(1);
        let results = run_bounded(
            workers,
            todo.iter().filter_map(|entry| Some((entry, entry.etag()?))).map(|(entry, etag)| {
                let url = repo::resolve_url(&endpoint, self.repo, commit.as_str(), &entry.path);
                let target = self.target(&entry.path, etag, entry.content_size(), url, token.clone());
                let commit = commit.clone();
                async move { self.fetch_and_place(&commit, &entry.path, target, entry.xet_hash.as_ref()).await }
            }),
        )
        .await;
        results.into_iter().collect::<Result<Vec<()>>>()?;
        Ok(snapshot_result(commit.clone(), self.cache.snapshot_dir(&commit), plan))
    }

    /// Fails when the cached listing of `commit` names wanted files the snapshot lacks (as
    /// huggingface_hub's `IncompleteSnapshotError`); without a cached listing, nothing is known.
    fn check_complete(&self, commit: &CommitHash, reason: &str) -> Result<()> {
        let Some(paths) = self.cache.read_tree(commit) else { return Ok(()) };
        let missing: Vec<String> = paths
            .into_iter()
            .filter(|p| keep(p, &self.options.include, &self.options.exclude))
            .filter(|p| !self.cache.snapshot_file(commit, p).exists())
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        Err(DownloadError::IncompleteSnapshot(Box::new(error::IncompleteSnapshot {
            repo: self.repo.clone(),
            revision: self.options.revision.clone(),
            commit: commit.clone(),
            missing,
            reason: reason.to_owned(),
            snapshot: self.cache.snapshot_dir(commit),
        }))
        .into())
    }

    /// The commit of the revision and its files, retried while failures are spurious (when
    /// `patient`; with a cached snapshot to fall back on, one try is enough).
    async fn list(
        &self,
        token: Option<&ResolvedToken>,
        patient: bool,
    ) -> Result<(CommitHash, Vec<TreeEntry>), HeadError> {
        let client = self.hub.client().map_err(HeadError::Other)?;
        let rev = &self.options.revision;
        let result = self
            .with_retries("(file listing)", patient, || async {
                let commit = match CommitHash::parse(rev) {
                    Ok(commit) => commit,
                    Err(_) => client.repo_info(self.repo, rev, token).await?.sha,
                };
                let entries = client.list_tree(self.repo, commit.as_str(), token).await?;
                Ok((commit, entries))
            })
            .await;
        result.map_err(|failed| {
            let url = format!("{}/api/{}/{}", self.hub.config().endpoint, self.repo.kind.plural(), self.repo.id);
            self.metadata_failure(failed, url, None, token)
        })
    }
}

/// A metadata request that failed for good.
struct Failed {
    error: ApiError,
    tries: u32,
    began: Instant,
    /// The server asked to wait longer than we do.
    refused_wait: Option<std::time::Duration>,
}

/// A metadata failure, with whether the cache may still answer.
enum HeadError {
    Classified(DownloadError),
    Other(Error),
}

impl HeadError {
    /// Revision and entry errors are answers about what exists: the cache must not hide them.
    /// So are values a server had no business sending: the user must hear of a lying server.
    fn is_definitive(&self) -> bool {
        match self {
            Self::Classified(DownloadError::RevisionNotFound { .. } | DownloadError::EntryNotFound { .. }) => true,
            Self::Classified(DownloadError::Api(api)) => {
                matches!(**api, ApiError::BadValue { .. } | ApiError::TooLarge { .. })
            }
            _ => false,
        }
    }

    fn first_line(&self) -> String {
        let text = match self {
            Self::Classified(e) => e.to_string(),
            Self::Other(e) => e.to_string(),
        };
        text.lines().next().unwrap_or_default().to_owned()
    }

    fn into_error(self) -> Error {
        match self {
            Self::Classified(e) => e.into(),
            Self::Other(e) => e,
        }
    }
}

/// Whether a download failed because access was refused (gated, private or missing repo,
/// disabled, a token refused): nothing it created in the cache is worth keeping.
fn is_refusal(error: &Error) -> bool {
    let Error::Download(download) = error else { return false };
    match &**download {
        DownloadError::Gated { .. } | DownloadError::RepoNotFound { .. } | DownloadError::Disabled { .. } => true,
        DownloadError::Api(api) => matches!(**api, ApiError::Unauthorized { .. }),
        _ => false,
    }
}

/// Network failures and retryable statuses.
fn is_spurious(error: &ApiError) -> bool {
    match error {
        ApiError::Unreachable { .. } => true,
        ApiError::Status { status, .. } => retry::is_retryable_status(status.as_u16()),
        _ => false,
    }
}

/// Fails before downloading when the disk cannot hold what is left to fetch.
fn check_space(root: &Path, needed: u64, near: &Path) -> Result<(), DownloadError> {
    if needed == 0 {
        return Ok(());
    }
    let _ = std::fs::create_dir_all(root);
    // Bytes already in a partial file do not need new space.
    let present = std::fs::metadata(near).map(|m| if m.is_file() { m.len() } else { 0 }).unwrap_or(0);
    let needed = needed.saturating_sub(present.min(needed));
    let Ok(available) = fs4::available_space(root) else { return Ok(()) };
    if available < needed {
        return Err(DownloadError::NoSpace { path: root.to_owned(), needed, available });
    }
    Ok(())
}

/// Runs futures with at most `limit` at a time, keeping their order in the results.
async fn run_bounded<F: std::future::Future>(limit: usize, futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    use futures_util::StreamExt;
    futures_util::stream::iter(futures).buffered(limit).collect().await
}
