//! Hashing a file in order while its pieces arrive out of order, without reading it back,
//! on other threads than the ones that receive and write.
//!
//! Parallel workers write the pieces of one file at their offsets; the etag is a hash of the
//! whole content in order. [`OrderedHash`] keeps the order: a piece that starts where the
//! bytes handed over so far end goes at once, with every piece kept that follows it, to the
//! file's hashing lane (the same buffers the worker just wrote to the partial file, so the
//! bytes hashed are the bytes written); a piece that arrives early is kept in memory until
//! the prefix reaches it. Memory is bounded by a window over the pieces kept and the pieces
//! queued on the lane: a worker whose piece does not fit waits (and so stops reading its
//! socket) until the lane catches up. Only what an adopted partial file already held, from
//! an earlier run, is read from disk (by the lane, in its turn).
//!
//! A lane is a thread of a small pool shared by the process (one per core, at most
//! [`MAX_LANES`]); each file is given one lane, so its pieces are hashed in the order they
//! were handed over, while the workers go on receiving and writing on their own threads:
//! copies and hashing run on different cores.

use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use bytes::Bytes;
use tokio::sync::Notify;

use super::error::DownloadError;
use super::verify::{HashKind, Hasher};
use crate::fs::FsError;

/// Bytes waiting for the head, over all the workers of one file, by default.
pub(crate) const DEFAULT_WINDOW: usize = 8 << 20;

/// The largest buffer an early piece is copied into (see [`compact`]).
const KEPT_BUFFER: usize = 64 << 10;

/// Bytes read at once when hashing what an adopted file held.
const READ_BACK: usize = 1 << 20;

/// Most hashing threads of the process.
const MAX_LANES: usize = 4;

/// Something to hash at an offset.
enum Piece {
    /// Received bytes, in order.
    Mem(Vec<Bytes>, u64),
    /// Bytes already in the partial file (adopted from an earlier run).
    Disk(u64),
}

impl Piece {
    fn len(&self) -> u64 {
        match self {
            Self::Mem(_, len) | Self::Disk(len) => *len,
        }
    }

    fn held(&self) -> u64 {
        match self {
            Self::Mem(_, len) => *len,
            Self::Disk(_) => 0,
        }
    }
}

struct State {
    /// Where the bytes handed to the lane end.
    next: u64,
    /// Where the bytes the lane has hashed end.
    hashed: u64,
    /// Pieces after `next`, by offset.
    pending: BTreeMap<u64, Piece>,
    /// Bytes of memory in `pending` and on the lane.
    held: u64,
    /// Bytes of memory on the lane, not hashed yet.
    queued: u64,
    /// A worker failed: nobody waits any more.
    failed: bool,
    /// The pieces whose workers wait for room (offset, length), so that they are woken only
    /// when one of them can go on.
    waiting: BTreeMap<u64, u64>,
    /// The first error met while hashing.
    error: Option<DownloadError>,
}

impl State {
    /// Whether a piece at `offset` of `len` bytes may be taken now, within `window`. The
    /// piece at the head may always go once the lane is idle (hashing it is what frees the
    /// window); the others when they fit, or when nothing is held.
    fn fits(&self, offset: u64, len: u64, window: u64) -> bool {
        let room = self.held + len <= window;
        if offset == self.next { self.queued == 0 || room } else { self.held == 0 || room }
    }
}

/// What a file's hashing lane and its workers share.
struct Shared {
    state: Mutex<State>,
    /// Used by the lane only, then taken by [`OrderedHash::finish`].
    hasher: Mutex<Option<Hasher>>,
    room: Notify,
    /// The bytes that may be kept: changed while the download runs (see
    /// [`OrderedHash::set_window`]).
    window: AtomicU64,
    size: u64,
    file: Arc<File>,
    path: PathBuf,
}

/// Work for a lane: hash `piece`, at `start`, into `shared`'s hasher.
struct Work {
    shared: Arc<Shared>,
    start: u64,
    piece: Piece,
}

/// The in-order hash of one file (see the module notes).
pub(crate) struct OrderedHash {
    shared: Arc<Shared>,
    lane: Sender<Work>,
}

/// Why [`OrderedHash::submit`] gave up: the download failed elsewhere.
#[derive(Debug)]
pub(crate) struct Aborted;

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A lane of the process's hashing pool, in turn; the pool starts with the first file.
fn next_lane() -> Result<Sender<Work>, DownloadError> {
    static LANES: OnceLock<Result<Vec<Sender<Work>>, String>> = OnceLock::new();
    static TURN: AtomicUsize = AtomicUsize::new(0);
    let lanes = LANES.get_or_init(|| {
        let count = std::thread::available_parallelism().map_or(2, usize::from).clamp(1, MAX_LANES);
        (0..count)
            .map(|i| {
                let (tx, rx) = channel::<Work>();
                std::thread::Builder::new()
                    .name(format!("hfkit-hash-{i}"))
                    .spawn(move || rx.into_iter().for_each(Work::run))
                    .map(|_| tx)
                    .map_err(|e| e.to_string())
            })
            .collect()
    });
    match lanes {
        Ok(lanes) => Ok(lanes[TURN.fetch_add(1, Ordering::Relaxed) % lanes.len()].clone()),
        Err(e) => Err(DownloadError::Protocol(format!(
            "could not start a hashing thread ({e}); the system is out of threads or memory: retry when fewer programs run"
        ))),
    }
}

impl Work {
    /// Hashes the piece (unless the download failed), then says how far the hash got.
    fn run(self) {
        let Self { shared, start, piece } = self;
        if lock(&shared.state).failed {
            return;
        }
        let result = {
            let mut hasher = shared.hasher.lock().unwrap_or_else(PoisonError::into_inner);
            match (hasher.as_mut(), &piece) {
                (Some(hasher), Piece::Mem(parts, _)) => {
                    parts.iter().for_each(|p| hasher.update(p));
                    Ok(())
                }
                (Some(hasher), Piece::Disk(len)) => hash_from_file(hasher, &shared.file, start, *len)
                    .map_err(|e| DownloadError::from(FsError::new("read", &shared.path, e))),
                (None, _) => Err(DownloadError::Protocol("the hash was finished before its last piece".to_owned())),
            }
        };
        {
            let mut state = lock(&shared.state);
            state.held -= piece.held();
            state.queued -= piece.held();
            match result {
                Ok(()) => state.hashed += piece.len(),
                Err(e) => {
                    state.failed = true;
                    state.error.get_or_insert(e);
                }
            }
        }
        shared.wake_if_room();
    }
}

impl Shared {
    fn window(&self) -> u64 {
        self.window.load(Ordering::Relaxed)
    }

    /// Wakes the waiting workers when one of them can go on, and [`OrderedHash::finish`]
    /// when the hash is complete or failed: waking them all for every piece hashed would
    /// cost more than the hashing.
    fn wake_if_room(&self) {
        let wake = {
            let state = lock(&self.state);
            state.failed
                || state.hashed == self.size
                || state.waiting.iter().any(|(&offset, &len)| state.fits(offset, len, self.window()))
        };
        if wake {
            self.room.notify_waiters();
        }
    }
}

impl OrderedHash {
    /// A hash of `size` bytes of `kind`; `file` (at `path`) is read only for the ranges
    /// `adopted` names (start, length), which an earlier run wrote.
    pub(crate) fn new(
        kind: HashKind,
        size: u64,
        window: usize,
        file: Arc<File>,
        path: PathBuf,
        adopted: impl IntoIterator<Item = (u64, u64)>,
    ) -> Result<Self, DownloadError> {
        let pending: BTreeMap<u64, Piece> =
            adopted.into_iter().filter(|(_, len)| *len > 0).map(|(start, len)| (start, Piece::Disk(len))).collect();
        let state = State {
            next: 0,
            hashed: 0,
            pending,
            held: 0,
            queued: 0,
            failed: false,
            waiting: BTreeMap::new(),
            error: None,
        };
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            hasher: Mutex::new(Some(Hasher::new(kind, size))),
            room: Notify::new(),
            window: AtomicU64::new(window as u64),
            size,
            file,
            path,
        });
        let hash = Self { shared, lane: next_lane()? };
        // What an adopted file holds at its head is hashed before the first byte arrives.
        hash.hand_over(&mut lock(&hash.shared.state));
        Ok(hash)
    }

    /// Hands the pieces at the head to the lane, in order (under the state lock, so that
    /// the order on the lane is the order in the file).
    fn hand_over(&self, state: &mut State) {
        loop {
            let start = state.next;
            let Some(piece) = state.pending.remove(&start) else { return };
            state.next += piece.len();
            state.queued += piece.held();
            let work = Work { shared: Arc::clone(&self.shared), start, piece };
            if self.lane.send(work).is_err() {
                state.failed = true;
                state.error.get_or_insert(DownloadError::Protocol("the hashing thread stopped".to_owned()));
                return;
            }
        }
    }

    /// Hands over `pieces` (in order, `len` bytes in all), written at `offset`: queued for
    /// hashing now when they are at the head, else kept, waiting while the window is full.
    pub(crate) async fn submit(&self, offset: u64, pieces: Vec<Bytes>, len: u64) -> Result<(), Aborted> {
        if len == 0 {
            return Ok(());
        }
        let early = lock(&self.shared.state).next != offset;
        let mut pieces = Some(if early { compact(&pieces) } else { pieces });
        loop {
            let notified = self.shared.room.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut state = lock(&self.shared.state);
                state.waiting.remove(&offset);
                if state.failed {
                    return Err(Aborted);
                }
                if state.fits(offset, len, self.shared.window()) {
                    state.held += len;
                    state.pending.insert(offset, Piece::Mem(pieces.take().unwrap_or_default(), len));
                    self.hand_over(&mut state);
                    return Ok(());
                }
                state.waiting.insert(offset, len);
            }
            notified.await;
        }
    }

    /// Makes the window `window` bytes from now on: a wider one lets the waiting workers
    /// that now fit go on; a narrower one holds back new pieces until the kept ones drain
    /// below it (what is kept already stays).
    pub(crate) fn set_window(&self, window: u64) {
        if self.shared.window.swap(window, Ordering::Relaxed) < window {
            self.shared.wake_if_room();
        }
    }

    /// Wakes every waiting worker for good: the download failed.
    pub(crate) fn abort(&self) {
        lock(&self.shared.state).failed = true;
        self.shared.room.notify_waiters();
    }

    /// The hex digest, once every byte was handed over (the workers are done) and hashed.
    pub(crate) async fn finish(&self) -> Result<String, DownloadError> {
        loop {
            let notified = self.shared.room.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut state = lock(&self.shared.state);
                if let Some(error) = state.error.take() {
                    return Err(error);
                }
                if state.failed || state.next < self.shared.size {
                    return Err(DownloadError::Protocol(format!(
                        "hashing stopped at byte {} of {} (a piece is missing)",
                        state.next, self.shared.size
                    )));
                }
                if state.hashed == self.shared.size {
                    drop(state);
                    let hasher = self.shared.hasher.lock().unwrap_or_else(PoisonError::into_inner).take();
                    return hasher.map(Hasher::finish).ok_or_else(|| {
                        DownloadError::Protocol("the hash of this download was already taken".to_owned())
                    });
                }
            }
            notified.await;
        }
    }

    /// Bytes kept in memory, waiting for the head or for the lane.
    #[cfg(test)]
    fn held(&self) -> u64 {
        lock(&self.shared.state).held
    }
}

/// Copies `pieces` into buffers of at most [`KEPT_BUFFER`] bytes, each exactly as large as
/// what it holds. An early piece may wait long for the head, and the buffers it arrived in
/// are larger than the bytes they hold (the HTTP client reads into growing buffers and hands
/// out slices of them); kept as they are, they took more than the window counts and, being
/// of every size, fragmented the heap: with a 24 MiB window the 400 MB file at 40 ms peaked
/// at 55-63 MiB kept as received, 50-52 MiB copied, for no measurable CPU.
fn compact(pieces: &[Bytes]) -> Vec<Bytes> {
    let mut left: usize = pieces.iter().map(Bytes::len).sum();
    let mut kept = Vec::with_capacity(left.div_ceil(KEPT_BUFFER));
    let mut want = left.min(KEPT_BUFFER);
    let mut buffer = Vec::with_capacity(want);
    for piece in pieces {
        let mut piece = &piece[..];
        while !piece.is_empty() {
            let take = piece.len().min(want - buffer.len());
            buffer.extend_from_slice(&piece[..take]);
            piece = &piece[take..];
            if buffer.len() == want {
                left -= want;
                want = left.min(KEPT_BUFFER);
                kept.push(Bytes::from(std::mem::replace(&mut buffer, Vec::with_capacity(want))));
            }
        }
    }
    kept
}

fn hash_from_file(hasher: &mut Hasher, file: &File, start: u64, len: u64) -> std::io::Result<()> {
    let mut buf = vec![0; READ_BACK.min(usize::try_from(len).unwrap_or(READ_BACK))];
    let (mut offset, end) = (start, start + len);
    while offset < end {
        let want = usize::try_from((end - offset).min(buf.len() as u64)).unwrap_or(buf.len());
        file.read_exact_at(&mut buf[..want], offset)?;
        hasher.update(&buf[..want]);
        offset += want as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 % 251) as u8).collect()
    }

    fn expected(bytes: &[u8]) -> String {
        let mut h = Hasher::new(HashKind::Sha256, bytes.len() as u64);
        h.update(bytes);
        h.finish()
    }

    fn hash_over(file: File, size: u64, window: usize, adopted: Vec<(u64, u64)>) -> Arc<OrderedHash> {
        let path = PathBuf::from("test");
        Arc::new(OrderedHash::new(HashKind::Sha256, size, window, Arc::new(file), path, adopted).unwrap())
    }

    fn empty_file() -> File {
        tempfile::tempfile().unwrap()
    }

    fn piece(bytes: &[u8], start: usize, end: usize) -> (u64, Vec<Bytes>, u64) {
        let mid = start + (end - start) / 2;
        let parts = vec![Bytes::copy_from_slice(&bytes[start..mid]), Bytes::copy_from_slice(&bytes[mid..end])];
        (start as u64, parts, (end - start) as u64)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pieces_out_of_order_hash_as_the_whole() {
        let bytes = data(10_000);
        let hash = hash_over(empty_file(), 10_000, 1 << 20, vec![]);
        // Reverse order: everything waits for the head, then the head drains it all.
        for (start, end) in [(7000, 10_000), (4000, 7000), (1000, 4000)] {
            let (o, p, l) = piece(&bytes, start, end);
            hash.submit(o, p, l).await.unwrap();
        }
        assert_eq!(hash.held(), 9000, "kept in memory until the head arrives");
        let (o, p, l) = piece(&bytes, 0, 1000);
        hash.submit(o, p, l).await.unwrap();
        assert_eq!(hash.finish().await.unwrap(), expected(&bytes));
        assert_eq!(hash.held(), 0, "all hashed, nothing kept");
    }

    /// 4,000 bytes under a window of 1,500: bytes 1000-2000 kept, and a worker waiting with
    /// 2000-4000 (which does not fit); the head (0-1000) not there yet.
    async fn one_kept_one_waiting(bytes: &[u8]) -> (Arc<OrderedHash>, tokio::task::JoinHandle<Result<(), Aborted>>) {
        let hash = hash_over(empty_file(), 4000, 1500, vec![]);
        let (o, p, l) = piece(bytes, 1000, 2000);
        hash.submit(o, p, l).await.unwrap();
        let early = {
            let hash = Arc::clone(&hash);
            let (o, p, l) = piece(bytes, 2000, 4000);
            tokio::spawn(async move { hash.submit(o, p, l).await })
        };
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(!early.is_finished(), "the window (1500) cannot take 1000 + 2000 bytes");
        (hash, early)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_window_holds_back_the_early_pieces_until_the_head_catches_up() {
        let bytes = data(4000);
        let (hash, early) = one_kept_one_waiting(&bytes).await;
        let (o, p, l) = piece(&bytes, 0, 1000);
        hash.submit(o, p, l).await.unwrap();
        early.await.unwrap().unwrap();
        assert_eq!(hash.finish().await.unwrap(), expected(&bytes));
        assert_eq!(hash.held(), 0);
    }

    #[test]
    fn early_pieces_are_copied_into_buffers_of_their_own_size() {
        let bytes = data(200_000);
        let cuts = [0, 1, 70_000, 70_001, 150_000, 200_000];
        let pieces: Vec<Bytes> = cuts.windows(2).map(|w| Bytes::copy_from_slice(&bytes[w[0]..w[1]])).collect();
        let kept = compact(&pieces);
        assert_eq!(kept.concat(), bytes);
        let sizes: Vec<usize> = kept.iter().map(Bytes::len).collect();
        assert_eq!(sizes, [65_536, 65_536, 65_536, 3_392]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_wider_window_lets_a_waiting_worker_go_on() {
        let bytes = data(4000);
        let (hash, early) = one_kept_one_waiting(&bytes).await;
        hash.set_window(3000);
        tokio::time::timeout(std::time::Duration::from_secs(5), early).await.expect("woken").unwrap().unwrap();
        assert_eq!(hash.held(), 3000, "both early pieces kept, the head still missing");
        let (o, p, l) = piece(&bytes, 0, 1000);
        hash.submit(o, p, l).await.unwrap();
        assert_eq!(hash.finish().await.unwrap(), expected(&bytes));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_workers_in_any_order_give_the_right_hash() {
        let bytes = Arc::new(data(1 << 20));
        let hash = hash_over(empty_file(), 1 << 20, 64 << 10, vec![]);
        let workers = 8;
        let chunk = (1 << 20) / workers;
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                let (hash, bytes) = (Arc::clone(&hash), Arc::clone(&bytes));
                tokio::spawn(async move {
                    let mut at = w * chunk;
                    while at < (w + 1) * chunk {
                        let end = (at + 1000 + w * 7).min((w + 1) * chunk);
                        let (o, p, l) = piece(&bytes, at, end);
                        hash.submit(o, p, l).await.unwrap();
                        at = end;
                        tokio::task::yield_now().await;
                    }
                })
            })
            .collect();
        for h in handles {
            h.await.unwrap();
        }
        assert_eq!(hash.finish().await.unwrap(), expected(&bytes));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_worker_failing_mid_chunk_resumes_where_it_stopped_or_aborts_the_rest() {
        let bytes = data(3000);
        // Resumed: the piece before the break was handed over; the retry starts after it.
        let hash = hash_over(empty_file(), 3000, 1 << 20, vec![]);
        for (start, end) in [(2000, 3000), (0, 700), (700, 2000)] {
            let (o, p, l) = piece(&bytes, start, end);
            hash.submit(o, p, l).await.unwrap();
        }
        assert_eq!(hash.finish().await.unwrap(), expected(&bytes));
        // Failed for good: a waiting worker is released, and there is no digest.
        let hash = hash_over(empty_file(), 3000, 500, vec![]);
        let (o, p, l) = piece(&bytes, 1000, 2000);
        hash.submit(o, p, l).await.unwrap();
        let waiting = {
            let hash = Arc::clone(&hash);
            let (o, p, l) = piece(&bytes, 2000, 3000);
            tokio::spawn(async move { hash.submit(o, p, l).await })
        };
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        hash.abort();
        assert!(waiting.await.unwrap().is_err(), "the waiting worker gives up");
        assert!(hash.finish().await.is_err(), "no digest of a file with a hole");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn adopted_ranges_are_read_from_the_file_and_only_they() {
        use std::io::Write as _;
        let bytes = data(5000);
        let mut file = empty_file();
        // On disk: the adopted ranges are right; the rest is garbage that must not be read.
        let mut disk = vec![0xee; 5000];
        disk[..1000].copy_from_slice(&bytes[..1000]);
        disk[3000..4000].copy_from_slice(&bytes[3000..4000]);
        file.write_all(&disk).unwrap();
        let hash = hash_over(file, 5000, 1 << 20, vec![(0, 1000), (3000, 1000)]);
        for (start, end) in [(4000, 5000), (1000, 3000)] {
            let (o, p, l) = piece(&bytes, start, end);
            hash.submit(o, p, l).await.unwrap();
        }
        assert_eq!(hash.finish().await.unwrap(), expected(&bytes));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_wrong_byte_anywhere_changes_the_digest() {
        let bytes = data(3000);
        let good = expected(&bytes);
        for (at, adopted) in [(0, false), (1499, false), (2999, false), (10, true)] {
            let mut wrong = bytes.clone();
            wrong[at] ^= 1;
            let hash = if adopted {
                use std::io::Write as _;
                let mut file = empty_file();
                file.write_all(&wrong).unwrap();
                let hash = hash_over(file, 3000, 1 << 20, vec![(0, 1000)]);
                for (start, end) in [(2000, 3000), (1000, 2000)] {
                    let (o, p, l) = piece(&bytes, start, end);
                    hash.submit(o, p, l).await.unwrap();
                }
                hash
            } else {
                let hash = hash_over(empty_file(), 3000, 1 << 20, vec![]);
                for (start, end) in [(1000, 3000), (0, 1000)] {
                    let (o, p, l) = piece(&wrong, start, end);
                    hash.submit(o, p, l).await.unwrap();
                }
                hash
            };
            assert_ne!(hash.finish().await.unwrap(), good, "byte {at} (adopted: {adopted})");
        }
    }
}
