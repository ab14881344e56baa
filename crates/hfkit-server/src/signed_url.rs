//! Signed CDN links: the stand-in CDN serves an LFS object only through a link the Hub routes
//! handed out after their access check, as the Hub's CDN serves only signed URLs.
//!
//! Without this, a gated or private object was served to anyone who knew its sha256. A link
//! carries its expiry and an HMAC-SHA256 of `<sha256>:<expiry>` under a key drawn at start-up
//! (never stored, never logged); the CDN checks both before serving. Links live an hour, long
//! enough for a resumed multi-gigabyte download, and a restart invalidates them all.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

/// How long a signed link is honoured.
const LIFETIME: Duration = Duration::from_secs(3600);

/// The key links are signed with.
pub(crate) struct SigningKey([u8; 32]);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(****)")
    }
}

impl SigningKey {
    /// A fresh random key.
    pub(crate) fn generate() -> Self {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).expect("the operating system's random source");
        Self(key)
    }

    /// The query string (`expires=…&signature=…`) that lets the CDN serve `sha256`.
    pub(crate) fn sign(&self, sha256: &str) -> String {
        let expires = now() + LIFETIME.as_secs();
        format!("expires={expires}&signature={}", hex(&self.mac(sha256, expires)))
    }

    /// Whether `query` is a valid, unexpired signature for `sha256`.
    pub(crate) fn verify(&self, sha256: &str, query: &str) -> bool {
        let field = |name: &str| query.split('&').find_map(|p| p.strip_prefix(name)?.strip_prefix('='));
        let Some(expires) = field("expires").and_then(|e| e.parse::<u64>().ok()) else { return false };
        let Some(signature) = field("signature") else { return false };
        let expected = hex(&self.mac(sha256, expires));
        // Compared in full whatever differs first, so timing tells nothing.
        let same = expected.len() == signature.len()
            && expected.bytes().zip(signature.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
        same && expires >= now()
    }

    /// HMAC-SHA256 (RFC 2104) of `<sha256>:<expires>`.
    fn mac(&self, sha256: &str, expires: u64) -> [u8; 32] {
        let pad = |byte: u8| -> [u8; 64] {
            let mut block = [byte; 64];
            block.iter_mut().zip(self.0).for_each(|(b, k)| *b ^= k);
            block
        };
        let inner = Sha256::new().chain_update(pad(0x36)).chain_update(format!("{sha256}:{expires}")).finalize();
        Sha256::new().chain_update(pad(0x5c)).chain_update(inner).finalize().into()
    }
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_links_we_signed_open_the_cdn() {
        let key = SigningKey::generate();
        let sha = "a".repeat(64);
        let query = key.sign(&sha);
        assert!(key.verify(&sha, &query));
        assert!(!key.verify(&"b".repeat(64), &query), "a link opens only its own object");
        assert!(!SigningKey::generate().verify(&sha, &query), "a restart invalidates links");
        assert!(!key.verify(&sha, ""));
        let expires: u64 = query.split('&').next().unwrap().trim_start_matches("expires=").parse().unwrap();
        let later = query.replace(&expires.to_string(), &(expires + 1).to_string());
        assert!(!key.verify(&sha, &later), "the expiry is signed too");
        let stale = format!("expires=1&signature={}", hex(&key.mac(&sha, 1)));
        assert!(!key.verify(&sha, &stale), "an expired link is refused");
    }

    #[test]
    fn the_mac_is_hmac_sha256() {
        // Python: hmac.new(bytes(32), b"x:1", hashlib.sha256).hexdigest()
        let key = SigningKey([0; 32]);
        assert_eq!(hex(&key.mac("x", 1)), "24182bc3aae20e3b3276ad66c3345c5063404bf162c31cee066e4f7810256fe5");
    }
}
