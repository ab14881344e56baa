//! Single flight: one upstream fetch per file, however many clients ask for it at once,
//! and every one of them fed from it as the bytes arrive.
//!
//! The first request for a missing file starts a spawned task (so a client that hangs up
//! cancels nothing); later requests join it. The task reports through a `watch` channel
//! which runs of its partial file are written ([`hfkit::download::Progress::written`]:
//! the library fetches large files as parallel chunks, each a run that grows); each client
//! is sent its range from that file as soon as the bytes at its position are there, with
//! `sendfile` from the page cache where the connection can ([`crate::sendfile`]), so ten
//! clients of one transfer cost no read into memory each. The last byte of the file is
//! held back until the library has verified the whole file and placed it: a client never
//! receives a complete body of bytes that failed verification, it gets a cut transfer.
//! The entry is removed when the fetch ends, so a failure is not remembered.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use futures_util::Stream;
use hfkit::cache::RepoCache;
use hfkit::hashes::Etag;
use tokio::sync::watch;

use crate::sendfile::{MAX_PIECE, Sends};

/// Bytes read for one piece of a body (when the connection cannot `sendfile`).
const PIECE: u64 = 256 * 1024;

/// A file being fetched: `kind`, repo id, commit and path.
pub(crate) type Key = (String, String, String, String);

/// What a fetch has done so far.
#[derive(Debug, Clone, Default)]
pub(crate) struct Status {
    /// The partial file being written, once known.
    partial: Option<PathBuf>,
    /// The written runs of `partial`: start → end, disjoint and not touching.
    runs: BTreeMap<u64, u64>,
    /// Transfers started (a failed verification starts the file again).
    attempt: u32,
    /// How the fetch ended: `Ok` once the verified file is in place.
    outcome: Option<Result<(), Arc<str>>>,
}

/// One file on its way from upstream into the cache, shared by every client asking for it.
#[derive(Debug)]
pub struct Download {
    status: watch::Receiver<Status>,
    cache: RepoCache,
    etag: Etag,
    size: u64,
}

/// The fetches in progress.
#[derive(Debug, Default)]
pub(crate) struct InFlight {
    map: Mutex<HashMap<Key, Arc<Download>>>,
    started: AtomicU64,
    intake: Intake,
}

/// Where upstream transfers run: a runtime with a thread of its own, started with the first
/// fetch. Sending a file to many clients keeps the server's threads busy; a transfer on
/// those threads waits behind the sends to the very clients waiting for its bytes, and its
/// link idles (ten clients on one cold 256 MiB file, across the 40 ms link: the shared
/// transfer took 4.34 s on the server's threads, 3.8-4.15 s here; what is left of the
/// slowdown is the clients' own work on the same machine, see `bench/mirror.py`).
///
/// Unlike `hf download`'s runtime it does not pause when the link trickles
/// ([`hfkit::download::pacing`]): this thread is also woken by the clients it feeds, parks
/// far more often with little received, and paused 1,154 times (2.3 s) in a 3.5 s transfer of
/// 256 MiB across the 40 ms link. Without the pause that transfer takes as long as the same
/// download by `hf download` (median of 5: 2.95 s against 3.05 s, with it 3.23 s against 2.83 s).
#[derive(Debug, Default)]
struct Intake(OnceLock<Option<tokio::runtime::Runtime>>);

impl Intake {
    /// Runs `task` on the intake's thread (on the caller's runtime if that thread could not
    /// be started).
    fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        let runtime = self.0.get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("hf-mirror-intake")
                .enable_all()
                .build()
                .ok()
        });
        match runtime {
            Some(runtime) => drop(runtime.spawn(task)),
            None => drop(tokio::spawn(task)),
        }
    }
}

impl Drop for Intake {
    fn drop(&mut self) {
        // Dropped by the server's runtime at shutdown, where waiting is not allowed.
        if let Some(runtime) = self.0.take().flatten() {
            runtime.shutdown_background();
        }
    }
}

/// The progress sink of one fetch: feeds its [`Status`] to the clients.
#[derive(Debug, Clone)]
pub(crate) struct Sink(Arc<watch::Sender<Status>>);

impl hfkit::download::Progress for Sink {
    fn file_started(&self, _path: &str, _size: u64, _resumed: u64) {
        self.0.send_modify(|s| {
            s.attempt += 1;
            s.runs.clear();
        });
    }

    fn written(&self, _path: &str, partial: &Path, start: u64, end: u64) {
        self.0.send_modify(|s| {
            if s.partial.as_deref() != Some(partial) {
                s.partial = Some(partial.to_owned());
            }
            add_run(&mut s.runs, start, end);
        });
    }
}

/// Adds `start..end` to `runs`, merging what overlaps or touches it.
fn add_run(runs: &mut BTreeMap<u64, u64>, mut start: u64, mut end: u64) {
    if start >= end {
        return;
    }
    if let Some((&s, &e)) = runs.range(..=start).next_back()
        && e >= start
    {
        start = s;
        end = end.max(e);
        runs.remove(&s);
    }
    while let Some((&s, &e)) = runs.range(start..=end).next() {
        end = end.max(e);
        runs.remove(&s);
    }
    runs.insert(start, end);
}

/// Where the written run holding `pos` ends (`pos` itself when `pos` is not written).
fn run_end(runs: &BTreeMap<u64, u64>, pos: u64) -> u64 {
    runs.range(..=pos).next_back().map_or(pos, |(_, &end)| end.max(pos))
}

/// Removes a finished fetch from the map, even if its task panicked.
struct Finished(Arc<InFlight>, Key);

impl Drop for Finished {
    fn drop(&mut self) {
        self.0.map.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&self.1);
    }
}

impl InFlight {
    /// How many fetches were started.
    pub(crate) fn started(&self) -> u64 {
        self.started.load(Ordering::Relaxed)
    }

    /// How many fetches are running now.
    pub(crate) fn running(&self) -> usize {
        self.map.lock().unwrap_or_else(std::sync::PoisonError::into_inner).len()
    }

    /// The fetch of `key` running now, if any: its etag and size answer for the file without
    /// asking upstream again (a commit's file never changes).
    pub(crate) fn fetching(&self, key: &Key) -> Option<Arc<Download>> {
        self.map.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(key).cloned()
    }

    /// The fetch of `key`: the one in progress, or a new one that runs `fetch` in a spawned
    /// task. `fetch` reports to the sink it is given and answers why it failed.
    pub(crate) fn join_or_start<F, Fut>(
        self: &Arc<Self>,
        key: Key,
        cache: RepoCache,
        etag: Etag,
        size: u64,
        fetch: F,
    ) -> Arc<Download>
    where
        F: FnOnce(Sink) -> Fut,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        let mut map = self.map.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(download) = map.get(&key) {
            return Arc::clone(download);
        }
        let (tx, rx) = watch::channel(Status::default());
        let download = Arc::new(Download { status: rx, cache, etag, size });
        map.insert(key.clone(), Arc::clone(&download));
        drop(map);
        self.started.fetch_add(1, Ordering::Relaxed);
        let sink = Sink(Arc::new(tx));
        let running = fetch(sink.clone());
        let finished = Finished(Arc::clone(self), key);
        self.intake.spawn(async move {
            let outcome = running.await;
            // Out of the map first: a request from now on finds the file in the cache, or
            // (after a failure) starts afresh.
            drop(finished);
            sink.0.send_modify(|s| s.outcome = Some(outcome.map_err(Arc::from)));
        });
        download
    }
}

/// A client's view of a [`Download`]: bytes `[pos, end)`, read as they become final.
struct Reader {
    download: Arc<Download>,
    /// The connection's `sendfile` queue: bytes go from the file to the socket unread.
    sends: Option<Arc<Sends>>,
    status: watch::Receiver<Status>,
    file: Option<Arc<std::fs::File>>,
    attempt: Option<u32>,
    pos: u64,
    end: u64,
}

impl Download {
    /// The file's etag (sha256 or git sha1), as upstream announced it.
    pub(crate) fn etag(&self) -> &Etag {
        &self.etag
    }

    /// The file's size in bytes.
    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    /// Bytes `start..start + length` of the file, as a body stream that waits for them;
    /// sent with `sendfile` through `sends` when the connection has it.
    pub(crate) fn stream(
        self: &Arc<Self>,
        start: u64,
        length: u64,
        sends: Option<Arc<Sends>>,
    ) -> impl Stream<Item = std::io::Result<bytes::Bytes>> + Send + use<> {
        let reader = Reader {
            download: Arc::clone(self),
            sends,
            status: self.status.clone(),
            file: None,
            attempt: None,
            pos: start,
            end: start.saturating_add(length).min(self.size),
        };
        futures_util::stream::unfold(reader, |mut r| async move {
            if r.pos >= r.end {
                return None;
            }
            match r.next().await {
                Ok(piece) => Some((Ok(piece), r)),
                Err(e) => {
                    r.pos = r.end;
                    Some((Err(e), r))
                }
            }
        })
    }
}

impl Reader {
    async fn next(&mut self) -> std::io::Result<bytes::Bytes> {
        loop {
            let status = self.status.borrow_and_update().clone();
            let limit = match &status.outcome {
                Some(Err(why)) => {
                    return Err(std::io::Error::other(format!("the upstream transfer failed: {why}")));
                }
                Some(Ok(())) => {
                    if self.file.is_none() {
                        self.file = Some(Arc::new(self.download.cache.open_blob(&self.download.etag)?));
                    }
                    self.download.size
                }
                None => {
                    if self.attempt.is_some_and(|a| a != status.attempt) {
                        return Err(std::io::Error::other("the upstream transfer started over"));
                    }
                    if self.file.is_none()
                        && let Some(partial) = &status.partial
                    {
                        // Renamed into place meanwhile: the outcome will say so.
                        self.file = std::fs::File::open(partial).ok().map(Arc::new);
                    }
                    // The last byte waits for the verification of the whole file.
                    run_end(&status.runs, self.pos).min(self.download.size.saturating_sub(1))
                }
            };
            if limit > self.pos
                && let Some(file) = &self.file
            {
                if status.outcome.is_none() {
                    self.attempt = Some(status.attempt);
                }
                let most = if self.sends.is_some() { MAX_PIECE as u64 } else { PIECE };
                let want = (limit.min(self.end) - self.pos).min(most);
                if let Some(sends) = &self.sends {
                    // Final bytes of this attempt: the connection sends them from the page cache.
                    let piece = sends.announce(file, self.pos, usize::try_from(want).unwrap_or(MAX_PIECE));
                    self.pos += want;
                    return Ok(piece);
                }
                let (file, at) = (Arc::clone(file), self.pos);
                let piece = tokio::task::spawn_blocking(move || {
                    let mut buf = vec![0; usize::try_from(want).unwrap_or(0)];
                    file.read_exact_at(&mut buf, at).map(|()| buf)
                })
                .await
                .map_err(std::io::Error::other)??;
                self.pos += want;
                return Ok(bytes::Bytes::from(piece));
            }
            if self.status.changed().await.is_err() && self.status.borrow().outcome.is_none() {
                return Err(std::io::Error::other("the upstream transfer stopped"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::{add_run, run_end};

    proptest! {
        #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

        /// Runs added in any order describe exactly the bytes covered, as disjoint runs.
        #[test]
        fn prop_runs_cover_what_was_written(writes in prop::collection::vec((0u64..200, 0u64..40), 0..30)) {
            let mut runs = BTreeMap::new();
            let mut covered = [false; 240];
            for (start, len) in writes {
                add_run(&mut runs, start, start + len);
                covered[start as usize..(start + len) as usize].iter_mut().for_each(|c| *c = true);
            }
            let mut last_end = None;
            for (&s, &e) in &runs {
                prop_assert!(s < e);
                prop_assert!(last_end.is_none_or(|l| l < s), "runs touch or overlap: {runs:?}");
                last_end = Some(e);
            }
            for pos in 0..240u64 {
                let expected = (pos..240).find(|&p| !covered[p as usize]).unwrap_or(240);
                prop_assert_eq!(run_end(&runs, pos), expected, "at {} in {:?}", pos, runs);
            }
        }
    }
}
