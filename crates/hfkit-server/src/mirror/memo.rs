//! What a mirror learned from upstream, remembered for a while.
//!
//! A mirror asks upstream where a branch points, whether a repo is gated and what a file's
//! etag and size are; each answer costs a round trip to upstream before the client gets a
//! byte. [`Memo`] keeps such answers for the mirror's `--ref-ttl` (nothing when it is zero),
//! at most [`MAX_ENTRIES`] at once: past that the expired ones go, and if that is not
//! enough, all of them (a flood of distinct names cannot grow the server's memory).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Most answers remembered at once, per kind of answer.
const MAX_ENTRIES: usize = 10_000;

/// Answers by key, each for `ttl` after it was learned.
#[derive(Debug)]
pub(crate) struct Memo<K, V> {
    ttl: Duration,
    known: Mutex<HashMap<K, (V, Instant)>>,
}

impl<K: Eq + Hash, V: Clone> Memo<K, V> {
    pub(crate) fn new(ttl: Duration) -> Self {
        Self { ttl, known: Mutex::default() }
    }

    /// The answer for `key`, if it was learned less than the TTL ago.
    pub(crate) fn get(&self, key: &K) -> Option<V> {
        self.learned(key).map(|(value, _)| value)
    }

    /// The answer for `key` and when it was learned, if less than the TTL ago.
    pub(crate) fn learned(&self, key: &K) -> Option<(V, Instant)> {
        let known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        let (value, at) = known.get(key)?;
        (at.elapsed() < self.ttl).then(|| (value.clone(), *at))
    }

    /// Remembers `value` for `key` from now on (nothing when the TTL is zero).
    pub(crate) fn put(&self, key: K, value: V) {
        if self.ttl.is_zero() {
            return;
        }
        let mut known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        if known.len() >= MAX_ENTRIES {
            known.retain(|_, (_, at)| at.elapsed() < self.ttl);
            if known.len() >= MAX_ENTRIES {
                known.clear();
            }
        }
        known.insert(key, (value, Instant::now()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_expire_and_a_zero_ttl_remembers_nothing() {
        let memo = Memo::new(Duration::from_millis(50));
        memo.put("main", 1);
        assert_eq!(memo.get(&"main"), Some(1));
        assert_eq!(memo.get(&"dev"), None);
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(memo.get(&"main"), None, "expired");
        let off = Memo::new(Duration::ZERO);
        off.put("main", 1);
        assert_eq!(off.get(&"main"), None);
    }

    #[test]
    fn a_flood_of_keys_stays_bounded() {
        let memo = Memo::new(Duration::from_secs(60));
        for i in 0..MAX_ENTRIES + 5 {
            memo.put(i, i);
        }
        let kept = memo.known.lock().unwrap().len();
        assert!(kept <= MAX_ENTRIES, "{kept}");
        assert_eq!(memo.get(&(MAX_ENTRIES + 4)), Some(MAX_ENTRIES + 4), "the newest is kept");
    }
}
