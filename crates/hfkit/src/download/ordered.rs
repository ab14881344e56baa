//! Hashing a file in order while its pieces arrive out of order, without reading it back.
//!
//! Parallel workers write the pieces of one file at their offsets; the etag is a hash of the
//! whole content in order. [`OrderedHash`] keeps the hash at the head of the file: a piece
//! that starts where the hashed prefix ends is hashed at once by the worker that received
//! it (the same buffer it just wrote to the partial file, so the bytes hashed are the bytes
//! written), and a piece that arrives early is kept in memory, within a bounded window,
//! until the prefix reaches it; a worker whose piece would overflow the window waits (and so
//! stops reading its socket) until the head catches up. Only what an adopted partial file
//! already held, from an earlier run, is read from disk.

use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use tokio::sync::Notify;

use super::error::DownloadError;
use super::verify::{HashKind, Hasher};
use crate::fs::FsError;

/// Bytes waiting for the head, over all the workers of one file, by default.
pub(crate) const DEFAULT_WINDOW: usize = 8 << 20;

/// Bytes read at once when hashing what an adopted file held.
const READ_BACK: usize = 1 << 20;

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
    /// `None` while some worker is hashing.
    hasher: Option<Hasher>,
    /// Where the bytes handed to a hasher end.
    next: u64,
    /// Pieces after `next`, by offset.
    pending: BTreeMap<u64, Piece>,
    /// Bytes of memory in `pending`.
    held: u64,
    /// A worker failed: nobody waits any more.
    failed: bool,
    /// The pieces whose workers wait for room (offset, length), so that they are woken only
    /// when one of them can go on.
    waiting: BTreeMap<u64, u64>,
    /// The first error met while hashing.
    error: Option<DownloadError>,
}

/// The in-order hash of one file (see the module notes).
pub(crate) struct OrderedHash {
    state: Mutex<State>,
    room: Notify,
    window: u64,
    size: u64,
    file: Arc<File>,
    path: PathBuf,
}

/// Why [`OrderedHash::submit`] gave up: the download failed elsewhere.
#[derive(Debug)]
pub(crate) struct Aborted;

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
    ) -> Self {
        let pending: BTreeMap<u64, Piece> =
            adopted.into_iter().filter(|(_, len)| *len > 0).map(|(start, len)| (start, Piece::Disk(len))).collect();
        let state = State {
            hasher: Some(Hasher::new(kind, size)),
            next: 0,
            pending,
            held: 0,
            failed: false,
            waiting: BTreeMap::new(),
            error: None,
        };
        Self { state: Mutex::new(state), room: Notify::new(), window: window as u64, size, file, path }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Hands over `pieces` (in order, `len` bytes in all), written at `offset`: hashed now
    /// when they are at the head, else kept, waiting while the window is full.
    pub(crate) async fn submit(&self, offset: u64, pieces: Vec<Bytes>, len: u64) -> Result<(), Aborted> {
        if len == 0 {
            return Ok(());
        }
        let mut pieces = Some(pieces);
        loop {
            let notified = self.room.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let hasher = {
                let mut state = self.lock();
                state.waiting.remove(&offset);
                if state.failed {
                    return Err(Aborted);
                }
                let at_head = offset == state.next;
                match state.hasher.take_if(|_| at_head) {
                    Some(hasher) => {
                        state.next += len;
                        Some(hasher)
                    }
                    // The head piece is always taken (the one hashing will reach it); others
                    // within the window, or alone.
                    None if at_head || state.held == 0 || state.held + len <= self.window => {
                        state.held += len;
                        state.pending.insert(offset, Piece::Mem(pieces.take().unwrap_or_default(), len));
                        return Ok(());
                    }
                    None => {
                        state.waiting.insert(offset, len);
                        None
                    }
                }
            };
            if let Some(hasher) = hasher {
                self.run(hasher, offset, Piece::Mem(pieces.take().unwrap_or_default(), len)).await;
                return Ok(());
            }
            notified.await;
        }
    }

    /// Hashes what is at the head and is not being hashed (what an adopted file held
    /// before the first byte arrives); the workers do the rest.
    pub(crate) async fn kick(&self) {
        let taken = {
            let mut state = self.lock();
            let next = state.next;
            if state.hasher.is_some()
                && let Some(piece) = state.pending.remove(&next)
            {
                state.next += piece.len();
                state.held -= piece.held();
                state.hasher.take().map(|hasher| (hasher, next, piece))
            } else {
                None
            }
        };
        if let Some((hasher, start, piece)) = taken {
            self.wake_if_room();
            self.run(hasher, start, piece).await;
        }
    }

    /// Wakes the waiting workers when one of them can go on (its piece is at the head, or
    /// fits in the window): waking them all for every piece hashed would cost more than the
    /// hashing.
    fn wake_if_room(&self) {
        let wake = {
            let state = self.lock();
            state.waiting.contains_key(&state.next)
                || state.waiting.values().any(|len| state.held == 0 || state.held + len <= self.window)
        };
        if wake {
            self.room.notify_waiters();
        }
    }

    /// Hashes `piece` (at `start`) and every piece that follows it, then puts the hasher back.
    async fn run(&self, mut hasher: Hasher, mut start: u64, mut piece: Piece) {
        loop {
            match piece {
                Piece::Mem(parts, _) => parts.iter().for_each(|p| hasher.update(p)),
                Piece::Disk(len) => {
                    let (file, path) = (Arc::clone(&self.file), self.path.clone());
                    let read = tokio::task::spawn_blocking(move || {
                        let result = hash_from_file(&mut hasher, &file, start, len)
                            .map_err(|e| DownloadError::from(FsError::new("read", &path, e)));
                        (hasher, result)
                    })
                    .await;
                    match read {
                        Ok((back, result)) => {
                            hasher = back;
                            if let Err(e) = result {
                                self.fail_with(e);
                                return;
                            }
                        }
                        Err(e) => {
                            self.fail_with(DownloadError::Protocol(format!("hashing stopped: {e}")));
                            return;
                        }
                    }
                }
            }
            let following = {
                let mut state = self.lock();
                let next = state.next;
                match state.pending.remove(&next) {
                    Some(following) => {
                        state.next += following.len();
                        state.held -= following.held();
                        (next, following)
                    }
                    None => {
                        state.hasher = Some(hasher);
                        drop(state);
                        self.wake_if_room();
                        return;
                    }
                }
            };
            self.wake_if_room();
            (start, piece) = following;
        }
    }

    fn fail_with(&self, error: DownloadError) {
        {
            let mut state = self.lock();
            state.failed = true;
            state.error.get_or_insert(error);
        }
        self.room.notify_waiters();
    }

    /// Wakes every waiting worker for good: the download failed.
    pub(crate) fn abort(&self) {
        self.lock().failed = true;
        self.room.notify_waiters();
    }

    /// The hex digest, once every byte was handed over and hashed.
    pub(crate) async fn finish(&self) -> Result<String, DownloadError> {
        self.kick().await;
        let mut state = self.lock();
        if let Some(error) = state.error.take() {
            return Err(error);
        }
        match state.hasher.take() {
            Some(hasher) if state.next == self.size && state.pending.is_empty() => Ok(hasher.finish()),
            _ => Err(DownloadError::Protocol(format!(
                "hashing stopped at byte {} of {} (a piece is missing)",
                state.next, self.size
            ))),
        }
    }

    /// Bytes kept in memory, waiting for the head.
    #[cfg(test)]
    fn held(&self) -> u64 {
        self.lock().held
    }
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
        Arc::new(OrderedHash::new(HashKind::Sha256, size, window, Arc::new(file), path, adopted))
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
        assert_eq!(hash.held(), 0);
        assert_eq!(hash.finish().await.unwrap(), expected(&bytes));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_window_holds_back_the_early_pieces_until_the_head_catches_up() {
        let bytes = data(4000);
        let hash = hash_over(empty_file(), 4000, 1500, vec![]);
        let (o, p, l) = piece(&bytes, 1000, 2000);
        hash.submit(o, p, l).await.unwrap();
        let early = {
            let hash = Arc::clone(&hash);
            let (o, p, l) = piece(&bytes, 2000, 4000);
            tokio::spawn(async move { hash.submit(o, p, l).await })
        };
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(!early.is_finished(), "the window (1500) cannot take 1000 + 2000 bytes");
        let (o, p, l) = piece(&bytes, 0, 1000);
        hash.submit(o, p, l).await.unwrap();
        early.await.unwrap().unwrap();
        assert_eq!(hash.finish().await.unwrap(), expected(&bytes));
        assert_eq!(hash.held(), 0);
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
        hash.kick().await;
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
