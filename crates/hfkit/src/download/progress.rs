//! How downloads report what they are doing. The library never prints: the CLI draws bars
//! from these calls, a program can log them, and [`NoProgress`] ignores them.

use std::path::Path;
use std::time::Duration;

/// Receives download events. Every method has an empty default.
pub trait Progress: Send + Sync {
    /// The files and bytes about to be fetched (cached files excluded).
    fn planned(&self, _files: usize, _bytes: u64) {}
    /// A file transfer starts; `resumed` bytes are already on disk.
    fn file_started(&self, _path: &str, _size: u64, _resumed: u64) {}
    /// `bytes` more bytes of `path` arrived.
    fn advanced(&self, _path: &str, _bytes: u64) {}
    /// Bytes `start..end` of `path` are written to `partial`, this download's own partial
    /// file (parallel chunks report their own runs as they grow): a reader may stream them
    /// while the rest arrives. They are final only once the file is in place (a failed
    /// verification empties the partial file, and the retry begins with `file_started`).
    fn written(&self, _path: &str, _partial: &Path, _start: u64, _end: u64) {}
    /// A file is in place.
    fn file_finished(&self, _path: &str) {}
    /// A request failed and will be tried again after `delay`. `path` is the file, or a phase
    /// in parentheses (`(file listing)`); `reason` is the first line of the failure.
    fn retrying(&self, _path: &str, _attempt: u32, _delay: Duration, _reason: &str) {}
    /// `path` waits for another process (`reason` says which lock), reported once per wait
    /// that lasts longer than a moment.
    fn waiting(&self, _path: &str, _reason: &str) {}
}

/// Ignores every event.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {}
