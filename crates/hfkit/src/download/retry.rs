//! When to try again, and how long to wait.
//!
//! Spurious failures are retried: connection errors, resets, timeouts, stalls (no byte for
//! `stall_timeout`), and the statuses 408, 429, 500, 502, 503 and 504. Anything else (401,
//! 403, 404, a verification failure, a request that could not be built) is an answer, not an
//! accident, and is not retried. Between tries we wait `base × 2^n` (capped at 30 s) times a
//! random factor in [0.5, 1.0] so that parallel workers do not retry in lockstep. A server's
//! `Retry-After: <seconds>` or `RateLimit: …;t=<seconds>` wins over that, up to
//! [`MAX_SERVER_WAIT`] (the Hub's rate-limit window): a server that asks for longer gets an
//! error at once that says so, rather than a process that sleeps for a day. Every wait is
//! reported through [`super::Progress::retrying`], so the user sees what is awaited and for
//! how long. After `retries` retries the error says how many tries were made and over how
//! long. Progress resets the count: a stream that keeps moving is never given up on.

use std::time::Duration;

/// Longest wait between two tries of our own choosing.
const MAX_DELAY: Duration = Duration::from_secs(30);
/// Longest wait a server may ask for (`Retry-After`, `RateLimit`): the Hub's rate-limit window.
pub(crate) const MAX_SERVER_WAIT: Duration = Duration::from_secs(300);

/// The retry policy of one download.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RetryPolicy {
    pub(crate) retries: u32,
    pub(crate) base: Duration,
}

impl RetryPolicy {
    /// The wait before retry number `attempt` (0-based), honouring a server's request; `Err`
    /// with the requested wait when it is beyond [`MAX_SERVER_WAIT`].
    pub(crate) fn delay(&self, attempt: u32, server_wait: Option<Duration>) -> Result<Duration, Duration> {
        if let Some(wait) = server_wait {
            return if wait > MAX_SERVER_WAIT { Err(wait) } else { Ok(wait) };
        }
        let exp = self.base.saturating_mul(1 << attempt.min(16)).min(MAX_DELAY);
        Ok(exp.mul_f64(0.5 + 0.5 * jitter()))
    }
}

/// The sentence for a server that asks to wait longer than [`MAX_SERVER_WAIT`].
pub(crate) fn too_long(url: &str, wait: Duration) -> String {
    format!(
        "{url} asks to wait {} before trying again (Retry-After/RateLimit); hfkit waits at most {} s. Try again later",
        human_duration(wait),
        MAX_SERVER_WAIT.as_secs()
    )
}

fn human_duration(d: Duration) -> String {
    let secs = d.as_secs();
    match secs {
        0..120 => format!("{secs} s"),
        120..7200 => format!("{} min", secs / 60),
        _ => format!("{} h", secs / 3600),
    }
}

/// Whether a status is worth another try.
pub(crate) fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
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
    fn backoff_grows_with_jitter_and_respects_servers_within_a_cap() {
        let p = RetryPolicy { retries: 5, base: Duration::from_millis(100) };
        for attempt in 0..4 {
            let d = p.delay(attempt, None).unwrap();
            let full = Duration::from_millis(100 << attempt);
            assert!(d >= full / 2 && d <= full, "{attempt}: {d:?}");
        }
        assert_eq!(p.delay(0, Some(Duration::from_secs(3))), Ok(Duration::from_secs(3)));
        assert_eq!(p.delay(0, Some(MAX_SERVER_WAIT)), Ok(MAX_SERVER_WAIT));
        let day = Duration::from_secs(86_400);
        assert_eq!(p.delay(0, Some(day)), Err(day));
        assert!(too_long("http://x", day).contains("wait 24 h"));
    }
}
