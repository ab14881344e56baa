//! Moving the bytes of one file into its partial file, fast and safely.
//!
//! A file is cut into chunks of `chunk_size` bytes; up to `connections` workers fetch
//! chunks with `Range` requests over one connection pool and write them at their offsets,
//! so memory stays flat whatever the file size. A broken or stalled stream (no byte for
//! `stall_timeout`) resumes from the last byte written; spurious failures are retried per
//! [`super::retry`]. Completed chunks are recorded in the partial file's resume record
//! (`.locks/<repo>/<partial>.progress`), so a process killed mid-way and run again adopts
//! its partial file and fetches only what is missing. The partial file belongs to this
//! download alone ([`super::partial`]); the bytes are hashed from it in order (a single
//! stream as it is written; parallel chunks by a thread that follows the completed prefix,
//! which also re-hashes what an adopted file already held), and the result is verified
//! against the etag (sha256 or git sha1) before the caller places it.
//!
//! Tokens travel only to the endpoint's origin; a redirect elsewhere (the CDN) is followed
//! without `Authorization`.

use std::collections::{BTreeSet, VecDeque};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

use reqwest::{StatusCode, Url, header};
use serde::{Deserialize, Serialize};

use super::error::DownloadError;
use super::partial::OwnedPartial;
use super::progress::Progress;
use super::retry::{self, RetryPolicy};
use super::verify::{HashKind, Hasher};
use crate::api::headers::ContentRange;
use crate::api::{ApiError, HubClient, authorize, same_origin};
use crate::auth::ResolvedToken;
use crate::config::TransferSettings;
use crate::fs::FsError;

/// Most redirects followed for one request.
const MAX_REDIRECTS: usize = 20;

/// One file to fetch.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// Where to start (the resolve URL or a CDN location).
    pub(crate) url: String,
    /// Sent only to `endpoint`'s origin.
    pub(crate) token: Option<ResolvedToken>,
    /// The Hub's origin.
    pub(crate) endpoint: Url,
    /// Expected size.
    pub(crate) size: u64,
    /// Expected hash.
    pub(crate) etag: crate::hashes::Etag,
    /// How the etag is computed.
    pub(crate) kind: HashKind,
    /// The file's path in the repo, for messages and progress.
    pub(crate) display: String,
}

/// The completed chunks of a partial file, as saved between runs.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
struct Record {
    size: u64,
    chunk_size: u64,
    done: BTreeSet<u64>,
}

/// The shared state of one file's workers.
struct Job<'a> {
    target: &'a Target,
    partial: &'a OwnedPartial,
    shared: Arc<Shared>,
    location: Mutex<String>,
    queue: Mutex<VecDeque<u64>>,
    chunk_size: u64,
    chunks: u64,
    /// A single in-order stream hashes as it goes; parallel chunks are hashed by a
    /// thread that follows the completed prefix of the file.
    inline_hash: Mutex<Option<Hasher>>,
}

/// What the workers and the hashing thread share.
struct Shared {
    file: File,
    done: Mutex<BTreeSet<u64>>,
    changed: Condvar,
    failed: AtomicBool,
}

impl Shared {
    fn lock_done(&self) -> std::sync::MutexGuard<'_, BTreeSet<u64>> {
        self.done.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Wakes the hashing thread for good: a worker failed.
    fn abort(&self) {
        self.failed.store(true, Ordering::SeqCst);
        let _guard = self.lock_done();
        self.changed.notify_all();
    }
}

/// Fetches files with one client, one policy and one progress sink.
pub(crate) struct Transfer<'a> {
    pub(crate) client: &'a HubClient,
    pub(crate) settings: &'a TransferSettings,
    pub(crate) progress: &'a dyn Progress,
}

impl Transfer<'_> {
    fn policy(&self) -> RetryPolicy {
        RetryPolicy { retries: self.settings.retries, base: self.settings.retry_base }
    }

    /// Fetches `target` into the partial file this download owns and verifies it. On a
    /// hash mismatch the partial file is emptied, its record deleted, and the error says
    /// both hashes.
    pub(crate) async fn fetch(&self, target: &Target, partial: &OwnedPartial) -> Result<(), DownloadError> {
        let chunk_size = self.settings.chunk_size.max(1);
        let chunks = target.size.div_ceil(chunk_size);
        let file = size_partial(partial, target.size)?;
        let mut done = BTreeSet::new();
        if chunks > 1
            && let Some(record) = load_record(partial.record())
            && record.size == target.size
            && record.chunk_size == chunk_size
        {
            done = record.done;
        }
        let resumed = done.len() as u64 * chunk_size;
        self.progress.file_started(&target.display, target.size, resumed.min(target.size));
        for chunk in &done {
            let end = ((chunk + 1) * chunk_size).min(target.size);
            self.progress.written(&target.display, partial.path(), chunk * chunk_size, end);
        }
        let queue: VecDeque<u64> = (0..chunks).filter(|c| !done.contains(c)).collect();
        let workers = self.settings.connections.clamp(1, queue.len().max(1));
        let inline = (chunks <= 1).then(|| Hasher::new(target.kind, target.size));
        let shared =
            Arc::new(Shared { file, done: Mutex::new(done), changed: Condvar::new(), failed: AtomicBool::new(false) });
        let follower = (chunks > 1).then(|| {
            let shared = Arc::clone(&shared);
            let (kind, size, path) = (target.kind, target.size, partial.path().to_owned());
            tokio::task::spawn_blocking(move || hash_following(&shared, kind, size, chunk_size, &path))
        });
        let job = Job {
            target,
            partial,
            shared: Arc::clone(&shared),
            location: Mutex::new(target.url.clone()),
            queue: Mutex::new(queue),
            chunk_size,
            chunks,
            inline_hash: Mutex::new(inline),
        };
        let results = futures_util::future::join_all((0..workers).map(|_| self.worker(&job))).await;
        let failure = results.into_iter().find_map(Result::err);
        if failure.is_some() {
            shared.abort();
        }
        let followed = match follower {
            Some(handle) => Some(handle.await.map_err(|e| DownloadError::Protocol(format!("hashing stopped: {e}")))?),
            None => None,
        };
        if let Some(error) = failure {
            return Err(error);
        }
        let inline = job.inline_hash.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        let actual = match (inline, followed) {
            (Some(hasher), _) => hasher.finish(),
            (None, Some(result)) => result?.ok_or_else(|| DownloadError::Protocol("hashing was interrupted".into()))?,
            (None, None) => Hasher::new(target.kind, target.size).finish(),
        };
        let _ = std::fs::remove_file(partial.record());
        if actual != target.etag.as_str() {
            let _ = partial.file().set_len(0);
            return Err(DownloadError::Verification {
                path: target.display.clone(),
                algorithm: target.kind.name(),
                expected: target.etag.to_string(),
                actual,
            });
        }
        Ok(())
    }

    async fn worker(&self, job: &Job<'_>) -> Result<(), DownloadError> {
        loop {
            let next = job.queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner).pop_front();
            let Some(chunk) = next else { return Ok(()) };
            let start = chunk * job.chunk_size;
            let end = (start + job.chunk_size).min(job.target.size);
            self.fetch_range(job, start, end).await?;
            let mut done = job.shared.lock_done();
            done.insert(chunk);
            job.shared.changed.notify_all();
            if job.chunks > 1 {
                let record = Record { size: job.target.size, chunk_size: job.chunk_size, done: done.clone() };
                save_record(job.partial.record(), &record);
            }
        }
    }

    /// Fetches bytes `[start, end)` into the partial file, resuming and retrying.
    async fn fetch_range(&self, job: &Job<'_>, start: u64, end: u64) -> Result<(), DownloadError> {
        let policy = self.policy();
        let began = Instant::now();
        let mut pos = start;
        let mut failures = 0;
        while pos < end {
            match self.stream_once(job, pos, end).await {
                Ok(reached) => pos = reached,
                Err(Attempt::Fatal(e)) => return Err(e),
                Err(Attempt::Retry { reached, reason, hint }) => {
                    if reached > pos {
                        failures = 0;
                    }
                    pos = reached;
                    failures += 1;
                    if failures > policy.retries {
                        return Err(self.exhausted(job, failures, began, reason));
                    }
                    let delay = match policy.delay(failures - 1, hint) {
                        Ok(delay) => delay,
                        Err(wait) => {
                            let url = job.location.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
                            return Err(DownloadError::Protocol(retry::too_long(&url, wait)));
                        }
                    };
                    self.progress.retrying(&job.target.display, failures, delay, &reason);
                    tokio::time::sleep(delay).await;
                }
            }
        }
        Ok(())
    }

    fn exhausted(&self, job: &Job<'_>, tries: u32, began: Instant, last: String) -> DownloadError {
        let url = job.location.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        DownloadError::RetriesExhausted { url, tries, elapsed: began.elapsed(), last }
    }

    /// One request for `[pos, end)`; returns how far it got.
    async fn stream_once(&self, job: &Job<'_>, pos: u64, end: u64) -> Result<u64, Attempt> {
        let range = format!("bytes={pos}-{}", end - 1);
        let mut response = self.get_following(job, &range).await?;
        let status = response.status();
        let mut cursor = pos;
        // A 200 answers with the whole file: skip what is before `pos`.
        let mut skip = if status == StatusCode::OK { pos } else { 0 };
        if status == StatusCode::PARTIAL_CONTENT {
            let range_sent = response
                .headers()
                .get(header::CONTENT_RANGE)
                .and_then(|v| v.to_str().ok())
                .and_then(ContentRange::parse);
            let fits = range_sent.is_some_and(|r| {
                r.first == pos && r.last < end && r.total.is_none_or(|total| total == job.target.size)
            });
            if !fits {
                return Err(Attempt::Fatal(DownloadError::Protocol(format!(
                    "the server answered `Range: {range}` for `{}` with another range ({:?})",
                    job.target.display,
                    response.headers().get(header::CONTENT_RANGE)
                ))));
            }
        }
        loop {
            let piece = match tokio::time::timeout(self.settings.stall_timeout, response.chunk()).await {
                Err(_) => {
                    let secs = self.settings.stall_timeout.as_secs_f64();
                    return Err(Attempt::Retry {
                        reached: cursor,
                        reason: format!("no data for {secs:.1}s (stalled)"),
                        hint: None,
                    });
                }
                Ok(Err(e)) => {
                    let reason = format!("the transfer broke: {}", describe_body_error(&e));
                    return Err(Attempt::Retry { reached: cursor, reason, hint: None });
                }
                Ok(Ok(None)) if cursor < end => {
                    let reason = "the server closed the connection early".to_owned();
                    return Err(Attempt::Retry { reached: cursor, reason, hint: None });
                }
                Ok(Ok(None)) => return Ok(cursor),
                Ok(Ok(Some(bytes))) => bytes,
            };
            let mut data = &piece[..];
            if skip > 0 {
                let n = skip.min(data.len() as u64) as usize;
                skip -= n as u64;
                data = &data[n..];
            }
            let room = usize::try_from(end - cursor).unwrap_or(usize::MAX);
            let data = &data[..data.len().min(room)];
            if data.is_empty() {
                if cursor >= end {
                    return Ok(cursor);
                }
                continue;
            }
            job.shared
                .file
                .write_all_at(data, cursor)
                .map_err(|e| Attempt::Fatal(DownloadError::Fs(FsError::new("write", job.partial.path(), e))))?;
            if let Some(hasher) = job.inline_hash.lock().unwrap_or_else(std::sync::PoisonError::into_inner).as_mut() {
                hasher.update(data);
            }
            cursor += data.len() as u64;
            self.progress.advanced(&job.target.display, data.len() as u64);
            self.progress.written(&job.target.display, job.partial.path(), pos, cursor);
            if cursor >= end {
                return Ok(cursor);
            }
        }
    }

    /// GETs the current location with `range`, following redirects; the token goes only to
    /// the endpoint's origin. Error statuses become [`Attempt`]s.
    async fn get_following(&self, job: &Job<'_>, range: &str) -> Result<reqwest::Response, Attempt> {
        let mut url = job.location.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        for _ in 0..MAX_REDIRECTS {
            let parsed =
                Url::parse(&url).map_err(|e| Attempt::Fatal(DownloadError::Protocol(format!("bad URL {url}: {e}"))))?;
            let mut request = self.client.http().get(parsed.clone()).header(header::RANGE, range);
            let token = job.target.token.as_ref().filter(|_| same_origin(&parsed, &job.target.endpoint));
            if let Some(token) = token {
                request = authorize(request, token).map_err(|e| Attempt::Fatal(e.into()))?;
            }
            let limit = self.client.download_timeout();
            let response = match tokio::time::timeout(limit, request.send()).await {
                Ok(Ok(r)) => r,
                Ok(Err(e)) => {
                    let error = self.client.transport_error(&url, &e);
                    if matches!(error, ApiError::Request { .. }) {
                        return Err(Attempt::Fatal(error.into()));
                    }
                    let reason = error.to_string().split("\n\n").next().unwrap_or_default().to_owned();
                    return Err(Attempt::Retry { reached: range_start(range), reason, hint: None });
                }
                Err(_) => {
                    let reason = format!("no answer from {url} within {}s (HF_HUB_DOWNLOAD_TIMEOUT)", limit.as_secs());
                    return Err(Attempt::Retry { reached: range_start(range), reason, hint: None });
                }
            };
            let status = response.status();
            if status.is_redirection() {
                let location =
                    response.headers().get(header::LOCATION).and_then(|v| v.to_str().ok()).map(str::to_owned);
                let Some(location) = location else {
                    return Err(Attempt::Fatal(DownloadError::Protocol(format!(
                        "{status} without Location from {url}"
                    ))));
                };
                let next =
                    parsed.join(&location).map_err(|e| Attempt::Fatal(DownloadError::Protocol(e.to_string())))?;
                url = next.to_string();
                *job.location.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = url.clone();
                continue;
            }
            if status.is_success() {
                return Ok(response);
            }
            if retry::is_retryable_status(status.as_u16()) {
                let hint = crate::api::headers::server_wait(status.as_u16(), response.headers());
                return Err(Attempt::Retry {
                    reached: range_start(range),
                    reason: format!("{status} from {url}"),
                    hint,
                });
            }
            let source = token.map(|t| &t.source);
            let error: ApiError = self.client.error_from(response, &url, source).await;
            return Err(Attempt::Fatal(error.into()));
        }
        Err(Attempt::Fatal(DownloadError::Protocol(format!("too many redirects from {url}"))))
    }
}

/// The outcome of a failed request.
enum Attempt {
    /// Worth another try, resuming at `reached`.
    Retry { reached: u64, reason: String, hint: Option<std::time::Duration> },
    /// Not worth another try.
    Fatal(DownloadError),
}

fn range_start(range: &str) -> u64 {
    range.trim_start_matches("bytes=").split('-').next().and_then(|s| s.parse().ok()).unwrap_or(0)
}

fn describe_body_error(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() { "timed out".to_owned() } else { "connection error".to_owned() };
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        text = format!("{text}: {inner}");
        source = inner.source();
    }
    text
}

/// A handle on the owned partial file, sized to `size` (what is there is kept).
fn size_partial(partial: &OwnedPartial, size: u64) -> Result<File, DownloadError> {
    let path = partial.path();
    let file = partial.file().try_clone().map_err(|e| FsError::new("open", path, e))?;
    let len = file.metadata().map_err(|e| FsError::new("inspect", path, e))?.len();
    if len != size {
        file.set_len(size).map_err(|e| FsError::new("size", path, e))?;
    }
    Ok(file)
}

fn load_record(path: &Path) -> Option<Record> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

fn save_record(path: &Path, record: &Record) {
    if let Ok(bytes) = serde_json::to_vec(record) {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        // Best effort: without the record a later run refetches, which is still correct.
        let _ = crate::fs::write_atomic(path, &bytes, 0o644);
    }
}

/// Hashes the partial file in order, chunk by chunk, as workers complete them (or as an
/// adopted file already held them), reading through the open handle. `Ok(None)` when the
/// workers failed.
fn hash_following(
    shared: &Shared,
    kind: HashKind,
    size: u64,
    chunk_size: u64,
    path: &Path,
) -> Result<Option<String>, DownloadError> {
    let mut hasher = Hasher::new(kind, size);
    let mut buf = vec![0; 4 << 20];
    let chunks = size.div_ceil(chunk_size);
    for chunk in 0..chunks {
        let mut done = shared.lock_done();
        while !done.contains(&chunk) {
            if shared.failed.load(Ordering::SeqCst) {
                return Ok(None);
            }
            done = shared.changed.wait(done).unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        drop(done);
        let (start, end) = (chunk * chunk_size, ((chunk + 1) * chunk_size).min(size));
        let mut offset = start;
        while offset < end {
            let want = usize::try_from((end - offset).min(buf.len() as u64)).unwrap_or(buf.len());
            shared.file.read_exact_at(&mut buf[..want], offset).map_err(|e| FsError::new("read", path, e))?;
            hasher.update(&buf[..want]);
            offset += want as u64;
        }
    }
    Ok(Some(hasher.finish()))
}
