//! Fewer wake-ups when data trickles in.
//!
//! Over a long link the bytes of every connection arrive a few packets at a time, a few
//! microseconds apart. A runtime that parks as soon as it has read what was there is woken
//! again by the next packets: about 80,000 wake-ups per GB at 40 ms, each one a context
//! switch. `perf` put that switching (`finish_task_switch`) at 16% of the client's samples,
//! and the thread that drives the sockets at 70%, more than the copies and the hash together.
//!
//! [`on_park`] runs just before the runtime's thread parks. When the streams received a
//! little since the previous park ([`TRICKLE`] at most) while a large file streams, the link
//! is trickling: the thread first sleeps for [`PAUSE`], so that the next wake-up finds many
//! packets waiting in the socket buffers (2 ms at 1 Gbit/s is 250 KB, well inside the
//! kernel's receive windows, so the senders never wait). A fast link delivers more than
//! [`TRICKLE`] between two parks and never pauses, and a sleep makes the next round large,
//! so the pause cannot repeat while data pours in. Requests, small files and waits for the
//! server (nothing received) never pause.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

/// Bytes received between two parks below which the link counts as trickling.
const TRICKLE: u64 = 256 * 1024;
/// How long a trickling runtime waits before it parks.
const PAUSE: Duration = Duration::from_millis(2);

/// Bytes received by every stream of the process.
static RECEIVED: AtomicU64 = AtomicU64::new(0);
/// Large files streaming now (those fetched by more than one connection).
static LARGE_STREAMING: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// [`RECEIVED`] when this thread last parked.
    static AT_LAST_PARK: Cell<u64> = const { Cell::new(0) };
}

/// Counts bytes a stream received.
pub(crate) fn received(bytes: u64) {
    RECEIVED.fetch_add(bytes, Ordering::Relaxed);
}

/// Marks a large file as streaming until the guard is dropped.
pub(crate) fn large_file() -> LargeFile {
    LARGE_STREAMING.fetch_add(1, Ordering::Relaxed);
    LargeFile(())
}

/// A large file streaming (see [`large_file`]).
pub(crate) struct LargeFile(());

impl Drop for LargeFile {
    fn drop(&mut self) {
        LARGE_STREAMING.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The hook to give a tokio runtime that downloads
/// ([`tokio::runtime::Builder::on_thread_park`]): sleeps for a moment before parking when
/// the link trickles (see the module notes).
pub fn on_park() {
    let now = RECEIVED.load(Ordering::Relaxed);
    let since = now - AT_LAST_PARK.with(|last| last.replace(now));
    if should_pause(since, LARGE_STREAMING.load(Ordering::Relaxed)) {
        std::thread::sleep(PAUSE);
    }
}

/// Whether a runtime that received `since` bytes since it last parked, while `large` large
/// files stream, should pause before parking.
fn should_pause(since: u64, large: usize) -> bool {
    large > 0 && since > 0 && since <= TRICKLE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_trickle_during_a_large_file_pauses() {
        assert!(should_pause(16 * 1024, 1), "a few packets while a large file streams");
        assert!(!should_pause(0, 1), "nothing arrived: waiting for the server, not trickling");
        assert!(!should_pause(TRICKLE + 1, 1), "a fast link");
        assert!(!should_pause(16 * 1024, 0), "small files and requests never wait");
    }
}
