//! Moving the bytes of one file into its partial file, fast and safely.
//!
//! A file is cut into blocks (the unit of the resume record); workers take runs of
//! consecutive blocks with `Range` requests over one connection pool and write what they
//! receive at its offset with few large vectored writes, so memory stays flat whatever the
//! file size. How many workers and how long their runs adapt to the link (unless
//! `HF_HUB_DOWNLOAD_CONNECTIONS` / `--connections` or the chunk size were set): the round
//! trip to the server (TCP handshakes) says how many connections the link is worth, two on
//! loopback and eight at 40 ms, and that budget is split between the large files in flight,
//! so that the file left last takes every connection; runs shrink near the end so that all
//! connections finish together. A broken or stalled stream (no byte for `stall_timeout`) resumes from
//! the last byte written; spurious failures are retried per [`super::retry`]. Completed
//! blocks are recorded in the partial file's resume record
//! (`.locks/<repo>/<partial>.progress`) at a bounded rate, so a process killed mid-way and
//! run again adopts its partial file and fetches only what is missing.
//!
//! The partial file belongs to this download alone ([`super::partial`]); the bytes written
//! to it are hashed in order from the same buffers ([`super::ordered`]), never read back
//! except what an adopted file already held, and the result is verified against the etag
//! (sha256 or git sha1) before the caller places it.
//!
//! Tokens travel only to the endpoint's origin; a redirect elsewhere (the CDN) is followed
//! without `Authorization`.

use std::collections::HashMap;
use std::collections::{BTreeSet, VecDeque};
use std::fs::File;
use std::io::IoSlice;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::{StatusCode, Url, header};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use super::error::DownloadError;
use super::ordered::{self, OrderedHash};
use super::pacing;
use super::partial::OwnedPartial;
use super::progress::Progress;
use super::retry::{self, RetryPolicy};
use super::verify::HashKind;
use crate::api::headers::ContentRange;
use crate::api::{ApiError, HubClient, authorize, same_origin};
use crate::auth::ResolvedToken;
use crate::config::TransferSettings;
use crate::fs::FsError;

/// What a worker says when it stops because another part of the download failed.
const STOPPED: &str = "stopped: another part of the download failed";
/// Most redirects followed for one request.
const MAX_REDIRECTS: usize = 20;
/// The block (resume record unit) when the engine picks the sizes itself.
const ADAPTIVE_BLOCK: u64 = 1 << 20;
/// The most [`TransferSettings::window`] is taken as, whatever was set.
const MOST_PROCESS_WINDOW: u64 = 1 << 30;
/// Most memory for waiting pieces, per file, whatever was asked.
const MAX_WINDOW: u64 = 16 << 20;
/// Received bytes gathered before one vectored write.
const FLUSH_BYTES: u64 = 256 << 10;
/// Connections open at once for all the files of this process (at least).
const PROCESS_CONNECTIONS: usize = 16;
/// Most buffers in one vectored write (well under every system's `IOV_MAX`).
const FLUSH_PIECES: usize = 128;
/// Least time between two writes of the resume record.
const RECORD_EVERY: Duration = Duration::from_secs(1);
/// Each this much round-trip time to the server is worth one more connection (for all the
/// files of the process together). Measured over the 40 ms link, with the sockets driven
/// by one thread: eight connections moved the 400 MB file 1.3-1.8x faster than four, at
/// 15% more CPU; sixteen (eight per file of the 2 GB repo) lost packets and speed.
const RTT_PER_CONNECTION: Duration = Duration::from_millis(6);
/// Connections when the round trip cannot be measured.
const UNMEASURED_CONNECTIONS: usize = 8;
/// Files of the process being fetched by more than one connection.
static LARGE_FILES: AtomicUsize = AtomicUsize::new(0);
/// Rung when a file's share of connections may have changed (a budget measured, a large
/// file drained, a file stopped).
static SHARES_CHANGED: Notify = Notify::const_new();
/// How long a round-trip probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

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

/// The completed blocks of a partial file, as saved between runs (`chunk_size`: the block).
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
struct Record {
    size: u64,
    chunk_size: u64,
    done: BTreeSet<u64>,
}

/// Which blocks are left, taken and done.
struct Book {
    /// Blocks nobody has taken, in order.
    queue: VecDeque<u64>,
    /// Blocks written whole.
    done: BTreeSet<u64>,
    /// When the record was last written.
    saved: Option<Instant>,
}

/// The shared state of one file's workers.
struct Job<'a> {
    target: &'a Target,
    partial: &'a OwnedPartial,
    file: Arc<File>,
    hash: OrderedHash,
    location: Mutex<String>,
    book: Mutex<Book>,
    block: u64,
    blocks: u64,
    /// Longest run of blocks one request takes.
    max_run: u64,
    /// Memory for waiting pieces: this file's own when the sizes were set by hand (bounds
    /// how far ahead a worker may run), else the process's ([`TransferSettings::window`]),
    /// of which the file takes its part; see [`Job::window`].
    window: u64,
    adaptive: bool,
    /// Most workers (one per future in `fetch`).
    most: usize,
    /// Connections the link is worth for all the files of the process; 0 until the round
    /// trip to the server is known.
    budget: AtomicUsize,
    /// Whether this file counts in [`LARGE_FILES`] (until it is drained or dropped).
    large: AtomicBool,
    /// A worker failed: the others stop.
    stopped: AtomicBool,
}

impl Drop for Job<'_> {
    fn drop(&mut self) {
        self.release_share();
    }
}

impl Job<'_> {
    fn book(&self) -> MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Settles the link's connection budget (once).
    fn decide_budget(&self, budget: usize) {
        if self.budget.compare_exchange(0, budget.max(1), Ordering::SeqCst, Ordering::SeqCst).is_ok() {
            SHARES_CHANGED.notify_waiters();
        }
    }

    /// How many workers of this file should run now (0 while the budget is unknown): see
    /// [`share_of`]; exactly the budget when the sizes were set by hand.
    fn share(&self) -> usize {
        let budget = self.budget.load(Ordering::SeqCst);
        if budget == 0 || !self.adaptive {
            return budget;
        }
        share_of(budget, LARGE_FILES.load(Ordering::SeqCst), self.most)
    }

    /// Leaves the large files in flight (once), so that the others take its share.
    fn release_share(&self) {
        if self.large.swap(false, Ordering::SeqCst) {
            LARGE_FILES.fetch_sub(1, Ordering::SeqCst);
        }
        SHARES_CHANGED.notify_waiters();
    }

    /// Stops every worker of this file (one failed).
    fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        SHARES_CHANGED.notify_waiters();
    }

    /// Waits until worker `index` may take a run; false when there is nothing left for it.
    async fn may_run(&self, index: usize) -> bool {
        loop {
            let notified = SHARES_CHANGED.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.stopped.load(Ordering::SeqCst) || self.book().queue.is_empty() {
                return false;
            }
            if index < self.share() {
                return true;
            }
            notified.await;
        }
    }

    /// The memory this file's waiting pieces may take while `workers` of its workers run:
    /// set by hand, or its part of the process's window as its share of the link's budget
    /// (half of it until the budget is known).
    fn window(&self, workers: u64) -> u64 {
        if !self.adaptive {
            return self.window;
        }
        file_window(self.window, workers, self.budget.load(Ordering::SeqCst) as u64, self.block)
    }

    /// The next run of consecutive blocks to fetch, as a byte range.
    fn take_run(&self) -> Option<(u64, u64)> {
        let workers = self.share().max(1) as u64;
        let window = self.window(workers);
        self.hash.set_window(window);
        let mut book = self.book();
        let first = book.queue.pop_front()?;
        // Near the end, shorter runs, so that every connection finishes about together.
        let fair = (book.queue.len() as u64 + 1).div_ceil(workers);
        // Runs short enough that every worker fits in the window at once.
        let fits = (window / self.block / workers.saturating_sub(1).max(1)).max(1);
        let run = if self.adaptive { self.max_run.min(fits).min(fair).max(1) } else { self.max_run };
        let mut last = first;
        while last + 1 - first < run && book.queue.front() == Some(&(last + 1)) {
            last += 1;
            book.queue.pop_front();
        }
        Some((first * self.block, ((last + 1) * self.block).min(self.target.size)))
    }

    /// Marks the blocks of `[start, end)` done, and writes the record now and then.
    fn completed(&self, start: u64, end: u64) {
        let mut book = self.book();
        let (first, last) = (start / self.block, end.div_ceil(self.block));
        book.done.extend(first..last);
        if self.blocks > 1 && book.saved.is_none_or(|t| t.elapsed() >= RECORD_EVERY) {
            book.saved = Some(Instant::now());
            let record = Record { size: self.target.size, chunk_size: self.block, done: book.done.clone() };
            drop(book);
            save_record(self.partial.record(), &record);
        }
    }

    /// Writes the record of what is done (when a fetch stops early).
    fn save_now(&self) {
        if self.blocks > 1 {
            let done = self.book().done.clone();
            save_record(self.partial.record(), &Record { size: self.target.size, chunk_size: self.block, done });
        }
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
        let adaptive = self.settings.adaptive;
        let ceiling = self.settings.connections.max(1);
        let chunk_size = self.settings.chunk_size.max(1);
        let mut block = if adaptive { ADAPTIVE_BLOCK.min(chunk_size) } else { chunk_size };
        let file = Arc::new(size_partial(partial, target.size)?);
        let mut done = BTreeSet::new();
        if let Some(record) = load_record(partial.record())
            && record.size == target.size
            && record.chunk_size > 0
            && target.size.div_ceil(record.chunk_size) > 1
            // Adaptive runs adopt another unit only while one block fits the memory window
            // (a record written with a 1 GiB chunk size would make each piece that large).
            && (if adaptive { record.chunk_size <= MAX_WINDOW } else { record.chunk_size == block })
        {
            // Resume in the unit the record was written in.
            block = record.chunk_size;
            done = record.done.into_iter().filter(|b| b * block < target.size).collect();
        }
        let blocks = target.size.div_ceil(block);
        let resumed: u64 = done.iter().map(|b| (b * block + block).min(target.size) - b * block).sum();
        self.progress.file_started(&target.display, target.size, resumed);
        for b in &done {
            let start = b * block;
            self.progress.written(&target.display, partial.path(), start, (start + block).min(target.size));
        }
        let queue: VecDeque<u64> = (0..blocks).filter(|c| !done.contains(c)).collect();
        let adopted: Vec<(u64, u64)> =
            done.iter().map(|b| (b * block, (b * block + block).min(target.size) - b * block)).collect();
        let (max_run, window) = if adaptive {
            (chunk_size.div_ceil(block).max(1), self.settings.window)
        } else {
            (1, (block * (ceiling as u64 - 1).max(1)).clamp(ordered::DEFAULT_WINDOW as u64, MAX_WINDOW))
        };
        let hash = OrderedHash::new(
            target.kind,
            target.size,
            // The file's part before the budget is known (see `Job::window`).
            usize::try_from(if adaptive { file_window(window, 1, 0, block) } else { window }).unwrap_or(usize::MAX),
            Arc::clone(&file),
            partial.path().to_owned(),
            adopted,
        )?;
        let most = ceiling.clamp(1, queue.len().max(1));
        let _streaming = (most > 1).then(pacing::large_file);
        let large = adaptive && most > 1;
        if large {
            LARGE_FILES.fetch_add(1, Ordering::SeqCst);
        }
        let job = Job {
            target,
            partial,
            file,
            hash,
            location: Mutex::new(target.url.clone()),
            book: Mutex::new(Book { queue, done, saved: None }),
            block,
            blocks,
            max_run,
            window,
            adaptive,
            most,
            budget: AtomicUsize::new(if large { 0 } else { most }),
            large: AtomicBool::new(large),
            stopped: AtomicBool::new(false),
        };
        let workers = futures_util::future::join_all((0..most).map(|i| self.worker(&job, i)));
        let decide = async {
            if job.budget.load(Ordering::SeqCst) == 0 {
                let rtt = round_trip(&target.url).await;
                job.decide_budget(connections_for(rtt, ceiling));
            }
        };
        let (results, ()) = futures_util::future::join(workers, decide).await;
        let mut errors: Vec<DownloadError> = results.into_iter().filter_map(Result::err).collect();
        if !errors.is_empty() {
            job.hash.abort();
            job.save_now();
            // The failure that stopped the others, not theirs.
            return Err(match errors.iter().position(|e| !matches!(e, DownloadError::Protocol(m) if m == STOPPED)) {
                Some(i) => errors.swap_remove(i),
                None => job.hash.finish().await.err().unwrap_or_else(|| errors.swap_remove(0)),
            });
        }
        let actual = job.hash.finish().await?;
        // A record exists only for a file of several blocks (one block is never resumed).
        if job.blocks > 1 {
            let _ = std::fs::remove_file(partial.record());
        }
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

    /// Worker `index`: the first starts at once; the others take runs while the file's
    /// share of the link's connections (once the round trip to the server is known) counts
    /// them in.
    async fn worker(&self, job: &Job<'_>, index: usize) -> Result<(), DownloadError> {
        let result = async {
            loop {
                if index > 0 && !job.may_run(index).await {
                    return Ok(());
                }
                // A connection of the process's budget for each run, so that files share them.
                let _slot = slots(self.settings.connections).acquire().await;
                let Some((start, end)) = job.take_run() else {
                    job.release_share();
                    return Ok(());
                };
                self.fetch_range(job, start, end).await?;
                job.completed(start, end);
            }
        }
        .await;
        if result.is_err() {
            // Nobody waits for a failed download.
            job.stop();
            job.hash.abort();
        }
        result
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
                            let url = job.location.lock().unwrap_or_else(PoisonError::into_inner).clone();
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
        let url = job.location.lock().unwrap_or_else(PoisonError::into_inner).clone();
        DownloadError::RetriesExhausted { url, tries, elapsed: began.elapsed(), last }
    }

    /// One request for `[pos, end)`; returns how far it got. What arrives is gathered
    /// into batches, each written with one vectored write and then handed to the hash.
    async fn stream_once(&self, job: &Job<'_>, pos: u64, end: u64) -> Result<u64, Attempt> {
        let range = format!("bytes={pos}-{}", end - 1);
        let mut response = self.get_following(job, &range).await?;
        let status = response.status();
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
        let mut batch = Batch::new(pos);
        let mut stall = StallWatch::new(self.settings.stall_timeout);
        loop {
            let next = tokio::select! {
                biased;
                chunk = response.chunk() => Ok(chunk),
                () = stall.expired() => Err(()),
            };
            let failure = match next {
                Err(()) => {
                    let secs = self.settings.stall_timeout.as_secs_f64();
                    Some(format!("no data for {secs:.1}s (stalled)"))
                }
                Ok(Err(e)) => Some(format!("the transfer broke: {}", describe_body_error(&e))),
                Ok(Ok(None)) if batch.end() < end => Some("the server closed the connection early".to_owned()),
                Ok(Ok(None)) => None,
                Ok(Ok(Some(mut bytes))) => {
                    stall.progressed();
                    pacing::received(bytes.len() as u64);
                    if skip > 0 {
                        let n = skip.min(bytes.len() as u64) as usize;
                        skip -= n as u64;
                        bytes = bytes.slice(n..);
                    }
                    let room = usize::try_from(end - batch.end()).unwrap_or(usize::MAX);
                    bytes.truncate(room);
                    batch.push(bytes);
                    if batch.end() < end {
                        if batch.is_full() {
                            batch = self.flush(job, batch).await?;
                        }
                        continue;
                    }
                    None
                }
            };
            // The stream ended (whole, or broken): keep what arrived.
            let batch = self.flush(job, batch).await?;
            return match failure {
                None => Ok(batch.start),
                Some(reason) => Err(Attempt::Retry { reached: batch.start, reason, hint: None }),
            };
        }
    }

    /// Writes a batch at its offset and hands it to the hash; returns the next, empty one.
    async fn flush(&self, job: &Job<'_>, batch: Batch) -> Result<Batch, Attempt> {
        let Batch { start, pieces, len } = batch;
        if len == 0 {
            return Ok(Batch::new(start));
        }
        write_all_at(&job.file, &pieces, start)
            .map_err(|e| Attempt::Fatal(DownloadError::Fs(FsError::new("write", job.partial.path(), e))))?;
        job.hash
            .submit(start, pieces, len)
            .await
            .map_err(|_| Attempt::Fatal(DownloadError::Protocol(STOPPED.to_owned())))?;
        self.progress.advanced(&job.target.display, len);
        self.progress.written(&job.target.display, job.partial.path(), start, start + len);
        Ok(Batch::new(start + len))
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
    let head = if e.is_timeout() { "timed out" } else { "connection error" };
    crate::api::with_causes(head.to_owned(), e)
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
        // Best effort: without the record a later run refetches, which is still correct. Not
        // synced: the partial's bytes are not either, and what a record names is read back and
        // hashed with the rest of the file, so a block lost in a crash fails the whole-file
        // check and the file is fetched again.
        let _ = crate::fs::write_atomic_unsynced(path, &bytes, 0o644);
    }
}

/// Notices a stream that brought no byte for `limit`, with one timer for the whole stream
/// instead of one per received buffer: a buffer only notes the time, and the timer, when it
/// fires, is pushed back to `limit` after the last buffer.
struct StallWatch {
    limit: Duration,
    last: tokio::time::Instant,
    timer: std::pin::Pin<Box<tokio::time::Sleep>>,
}

impl StallWatch {
    fn new(limit: Duration) -> Self {
        let last = tokio::time::Instant::now();
        Self { limit, last, timer: Box::pin(tokio::time::sleep_until(last + limit)) }
    }

    /// Something arrived now.
    fn progressed(&mut self) {
        self.last = tokio::time::Instant::now();
    }

    /// Completes once nothing has arrived for `limit`.
    async fn expired(&mut self) {
        loop {
            (&mut self.timer).await;
            let due = self.last + self.limit;
            if tokio::time::Instant::now() >= due {
                return;
            }
            self.timer.as_mut().reset(due);
        }
    }
}

/// Received buffers not yet written: `len` bytes from `start`.
struct Batch {
    start: u64,
    pieces: Vec<Bytes>,
    len: u64,
}

impl Batch {
    fn new(start: u64) -> Self {
        Self { start, pieces: Vec::with_capacity(FLUSH_PIECES), len: 0 }
    }

    fn end(&self) -> u64 {
        self.start + self.len
    }

    fn push(&mut self, bytes: Bytes) {
        if !bytes.is_empty() {
            self.len += bytes.len() as u64;
            self.pieces.push(bytes);
        }
    }

    fn is_full(&self) -> bool {
        self.len >= FLUSH_BYTES || self.pieces.len() >= FLUSH_PIECES
    }
}

/// Writes `pieces`, one after the other, at `offset`, with as few vectored writes as the
/// system allows.
fn write_all_at(file: &File, pieces: &[Bytes], mut offset: u64) -> std::io::Result<()> {
    let (mut first, mut skip) = (0, 0);
    while first < pieces.len() {
        let slices: Vec<IoSlice<'_>> = pieces[first..]
            .iter()
            .enumerate()
            .map(|(i, p)| IoSlice::new(if i == 0 { &p[skip..] } else { &p[..] }))
            .collect();
        let mut n = rustix::io::pwritev(file, &slices, offset).map_err(std::io::Error::from)?;
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        offset += n as u64;
        while n > 0 && first < pieces.len() {
            let left = pieces[first].len() - skip;
            if n >= left {
                n -= left;
                first += 1;
                skip = 0;
            } else {
                skip += n;
                n = 0;
            }
        }
    }
    Ok(())
}

/// How many connections the link is worth at round-trip time `rtt` (`None`: unknown), at
/// most `most`, for all the large files in flight together: two where the server is near
/// (more would only cost CPU), one more per [`RTT_PER_CONNECTION`] beyond, as one TCP
/// stream fills less of a long link.
fn connections_for(rtt: Option<Duration>, most: usize) -> usize {
    let wanted = match rtt {
        Some(rtt) => 2 + usize::try_from(rtt.as_micros() / RTT_PER_CONNECTION.as_micros()).unwrap_or(usize::MAX),
        None => UNMEASURED_CONNECTIONS,
    };
    wanted.clamp(1, most.max(1))
}

/// A file's part of the process's `window` while `workers` of the link's `budget` of
/// connections are its own: half of it while the budget is unknown (0), never less than one
/// `block` nor more than the whole.
fn file_window(window: u64, workers: u64, budget: u64, block: u64) -> u64 {
    let window = window.min(MOST_PROCESS_WINDOW);
    let part = window.saturating_mul(workers).checked_div(budget).unwrap_or(window / 2);
    part.clamp(block.min(window), window)
}

/// A large file's share of the link's `budget` of connections while `large` large files are
/// in flight, at least one and at most `most`: two files on loopback take one connection
/// each, and the last one left takes them all.
fn share_of(budget: usize, large: usize, most: usize) -> usize {
    (budget / large.max(1)).clamp(1, most.max(1))
}

/// Measured round trips by host and port (`None`: could not be measured).
type RoundTrips = HashMap<(String, u16), Option<Duration>>;

/// The round-trip time to the host of `url`: the fastest of three TCP handshakes (the
/// kernel answers them, so a busy server does not make it look far), measured once per
/// host and port for the life of the process. `None` when it cannot be measured.
async fn round_trip(url: &str) -> Option<Duration> {
    static KNOWN: OnceLock<Mutex<RoundTrips>> = OnceLock::new();
    let parsed = Url::parse(url).ok()?;
    let key = (parsed.host_str()?.to_owned(), parsed.port_or_known_default()?);
    let known = KNOWN.get_or_init(Mutex::default);
    if let Some(rtt) = known.lock().unwrap_or_else(PoisonError::into_inner).get(&key) {
        return *rtt;
    }
    let probe_key = key.clone();
    let rtt = tokio::task::spawn_blocking(move || {
        use std::net::ToSocketAddrs as _;
        let addr = (probe_key.0.as_str(), probe_key.1).to_socket_addrs().ok()?.next()?;
        let mut best: Option<Duration> = None;
        for _ in 0..3 {
            let began = Instant::now();
            // One failure is enough: a proxy or a firewall is in the way.
            std::net::TcpStream::connect_timeout(&addr, PROBE_TIMEOUT).ok()?;
            best = Some(best.map_or(began.elapsed(), |b| b.min(began.elapsed())));
        }
        best
    })
    .await
    .ok()
    .flatten();
    known.lock().unwrap_or_else(PoisonError::into_inner).insert(key, rtt);
    rtt
}

/// The connection budget of the process: `PROCESS_CONNECTIONS`, or more when a file was
/// asked for more (sized at first use).
fn slots(connections: usize) -> &'static tokio::sync::Semaphore {
    static SLOTS: OnceLock<tokio::sync::Semaphore> = OnceLock::new();
    SLOTS.get_or_init(|| tokio::sync::Semaphore::new(connections.max(PROCESS_CONNECTIONS)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_follow_the_round_trip() {
        assert_eq!(connections_for(Some(Duration::from_micros(80)), 16), 2, "loopback");
        assert_eq!(connections_for(Some(Duration::from_millis(10)), 16), 3);
        assert_eq!(connections_for(Some(Duration::from_millis(40)), 16), 8, "the 40 ms link");
        assert_eq!(connections_for(Some(Duration::from_millis(400)), 16), 16, "a very long link, capped");
        assert_eq!(connections_for(Some(Duration::from_millis(40)), 3), 3);
        assert_eq!(connections_for(None, 16), UNMEASURED_CONNECTIONS);
        assert_eq!(connections_for(None, 1), 1);
    }

    #[test]
    fn a_file_takes_the_part_of_the_window_its_connections_are_of_the_budget() {
        const MIB: u64 = 1 << 20;
        // Alone on the eight connections of a 40 ms link, then one of two files.
        assert_eq!(file_window(24 * MIB, 8, 8, MIB), 24 * MIB);
        assert_eq!(file_window(24 * MIB, 4, 8, MIB), 12 * MIB);
        // A server's larger window (`hf serve`'s fetches) gives each file more.
        assert_eq!(file_window(48 * MIB, 4, 8, MIB), 24 * MIB);
        // Before the round trip is measured: half.
        assert_eq!(file_window(24 * MIB, 1, 0, MIB), 12 * MIB);
        // Never below one block, never above the whole.
        assert_eq!(file_window(2 * MIB, 1, 16, MIB), MIB);
        assert_eq!(file_window(24 * MIB, 16, 8, MIB), 24 * MIB);
        // A window set beyond reason is taken as the most there is, without overflow.
        assert_eq!(file_window(u64::MAX, 8, 8, MIB), MOST_PROCESS_WINDOW);
    }

    #[test]
    fn the_link_budget_is_split_between_the_large_files_in_flight() {
        assert_eq!(share_of(2, 2, 16), 1, "loopback, two large files: one connection each");
        assert_eq!(share_of(2, 1, 16), 2, "the last one left takes both");
        assert_eq!(share_of(8, 2, 16), 4, "40 ms, two large files");
        assert_eq!(share_of(8, 1, 16), 8);
        assert_eq!(share_of(8, 20, 16), 1, "never less than one");
        assert_eq!(share_of(8, 1, 3), 3, "never more workers than runs");
        assert_eq!(share_of(8, 0, 16), 8, "a file not counted yet");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_round_trip_is_measured_by_handshakes_and_unreachable_is_unknown() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/x", listener.local_addr().unwrap());
        let rtt = round_trip(&url).await.expect("a listening port answers the handshake");
        assert!(rtt < Duration::from_secs(1), "{rtt:?}");
        drop(listener);
        assert_eq!(round_trip(&url).await, Some(rtt), "measured once per host and port");
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/x", closed.local_addr().unwrap());
        drop(closed);
        assert_eq!(round_trip(&url).await, None, "nobody listens");
    }

    #[test]
    fn vectored_writes_land_every_piece_at_its_offset() {
        let file = tempfile::tempfile().unwrap();
        let pieces: Vec<Bytes> =
            (0..300u32).map(|i| Bytes::from(vec![(i % 251) as u8; (i as usize % 7) + 1])).collect();
        write_all_at(&file, &pieces, 5).unwrap();
        let want: Vec<u8> = pieces.iter().flat_map(|p| p.iter().copied()).collect();
        let mut got = vec![0; want.len()];
        std::os::unix::fs::FileExt::read_exact_at(&file, &mut got, 5).unwrap();
        assert_eq!(got, want);
    }
}
