//! When to try again, and how long to wait.
//!
//! Spurious failures are retried: connection errors, resets, timeouts, stalls (no byte for
//! `stall_timeout`), and the statuses 408, 429, 500, 502, 503 and 504. Anything else (401,
//! 403, 404, a verification failure) is an answer, not an accident, and is not retried.
//! Between tries we wait `base × 2^n` (capped at 30 s) times a random factor in [0.5, 1.0]
//! so that parallel workers do not retry in lockstep; a server's `Retry-After: <seconds>`
//! or `RateLimit: …;t=<seconds>` wins over that. After `retries` retries the error says how
//! many tries were made and over how long. Progress resets the count: a stream that keeps
//! moving is never given up on.

use std::time::Duration;

use reqwest::header::HeaderMap;

/// Longest wait between two tries.
const MAX_DELAY: Duration = Duration::from_secs(30);

/// The retry policy of one download.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RetryPolicy {
    pub(crate) retries: u32,
    pub(crate) base: Duration,
}

impl RetryPolicy {
    /// The wait before retry number `attempt` (0-based), honouring a server's hint.
    pub(crate) fn delay(&self, attempt: u32, server_hint: Option<Duration>) -> Duration {
        if let Some(hint) = server_hint {
            return hint.min(MAX_DELAY * 4);
        }
        let exp = self.base.saturating_mul(1 << attempt.min(16)).min(MAX_DELAY);
        exp.mul_f64(0.5 + 0.5 * jitter())
    }
}

/// Whether a status is worth another try.
pub(crate) fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

/// The server's requested wait: `RateLimit: "…";r=0;t=<n>` or `Retry-After: <n>` seconds.
pub(crate) fn server_hint(headers: &HeaderMap) -> Option<Duration> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(limit) = text("ratelimit") {
        let reset = limit.split(';').find_map(|p| p.trim().strip_prefix("t=")).and_then(|t| t.parse::<u64>().ok());
        if let Some(t) = reset {
            return Some(Duration::from_secs(t));
        }
    }
    text("retry-after").and_then(|v| v.trim().parse::<u64>().ok()).map(Duration::from_secs)
}

/// A number in [0, 1) that differs between calls and processes.
fn jitter() -> f64 {
    use std::hash::{BuildHasher, RandomState};
    let x = RandomState::new().hash_one(std::time::SystemTime::now());
    (x >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_respects_hints() {
        let p = RetryPolicy { retries: 5, base: Duration::from_millis(100) };
        for attempt in 0..4 {
            let d = p.delay(attempt, None);
            let full = Duration::from_millis(100 << attempt);
            assert!(d >= full / 2 && d <= full, "{attempt}: {d:?}");
        }
        assert_eq!(p.delay(0, Some(Duration::from_secs(3))), Duration::from_secs(3));
        let mut h = HeaderMap::new();
        h.insert("retry-after", "7".parse().unwrap());
        assert_eq!(server_hint(&h), Some(Duration::from_secs(7)));
        h.insert("ratelimit", "\"api\";r=0;t=12".parse().unwrap());
        assert_eq!(server_hint(&h), Some(Duration::from_secs(12)));
    }
}
