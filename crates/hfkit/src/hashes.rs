//! The identifiers a server sends that become file names in the cache: a commit hash
//! (`snapshots/<commit>`, `refs/*`, `.no_exist/<commit>`, `trees/<commit>.json`), a blob's
//! etag (`blobs/<etag>`, its lock and partial file), and a Xet hash (an entry of
//! huggingface_hub's shared blob store, `blobs/<2 hex>/<xet hash>`).
//!
//! A lying server could otherwise answer `sha = "../../home/user"` and have the cache write
//! outside itself. Both are parsed once, where they enter (the API layer, a ref file, a
//! user's argument), into [`CommitHash`] and [`Etag`]; the cache layer takes only these
//! types, so nothing unchecked reaches a path join. A refusal says which value was wrong,
//! escaped so that it prints safely.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::text::quoted;

/// A value that is not the identifier it claims to be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} is not {expected}", quoted(.value))]
pub struct InvalidHash {
    /// The value received (kept raw; printed escaped).
    pub value: String,
    /// What was expected.
    pub expected: &'static str,
}

fn is_lower_hex(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A full git commit hash: 40 lowercase hexadecimal digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CommitHash(String);

impl CommitHash {
    /// Checks `value`.
    pub fn parse(value: &str) -> Result<Self, InvalidHash> {
        if value.len() == 40 && is_lower_hex(value) {
            Ok(Self(value.to_owned()))
        } else {
            Err(InvalidHash { value: value.to_owned(), expected: "a commit hash (40 lowercase hex digits)" })
        }
    }

    /// The hash.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The content id the Hub names a file by: the sha256 of an LFS file (64 lowercase hex
/// digits) or the git blob sha1 of any other file (40).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Etag(String);

impl Etag {
    /// Checks `value` as it stands (no quotes, no `W/`).
    pub fn parse(value: &str) -> Result<Self, InvalidHash> {
        if matches!(value.len(), 40 | 64) && is_lower_hex(value) {
            Ok(Self(value.to_owned()))
        } else {
            Err(InvalidHash {
                value: value.to_owned(),
                expected: "a sha256 or git sha1 content hash, so the file could not be verified",
            })
        }
    }

    /// Parses an `ETag`/`X-Linked-Etag` header value: a weak `W/` prefix and the quotes are
    /// dropped first, as huggingface_hub does.
    pub fn from_header(raw: &str) -> Result<Self, InvalidHash> {
        let bare = raw.strip_prefix("W/").unwrap_or(raw);
        let bare = bare.strip_prefix('"').and_then(|s| s.strip_suffix('"')).unwrap_or(bare);
        Self::parse(bare)
    }

    /// Whether this is an LFS sha256 (else a git blob sha1).
    pub fn is_sha256(&self) -> bool {
        self.0.len() == 64
    }

    /// The etag.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A Xet file hash: 64 lowercase hex characters, the name of a store entry.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct XetHash(String);

impl XetHash {
    /// Checks `value`; anything but 64 lowercase hex characters is `None` (2.4 ignores it too).
    pub fn parse(value: &str) -> Option<Self> {
        (value.len() == 64 && value.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
            .then(|| Self(value.to_owned()))
    }

    /// The hash.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The two-character prefix folder of its entry.
    pub(crate) fn prefix(&self) -> &str {
        &self.0[..2]
    }
}

impl std::fmt::Display for XetHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

macro_rules! string_like {
    ($ty:ty) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<std::path::Path> for $ty {
            fn as_ref(&self) -> &std::path::Path {
                std::path::Path::new(&self.0)
            }
        }

        impl PartialEq<str> for $ty {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $ty {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let raw = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
                Self::parse(&raw).map_err(serde::de::Error::custom)
            }
        }
    };
}

string_like!(CommitHash);
string_like!(Etag);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_are_forty_lowercase_hex() {
        CommitHash::parse(&"a".repeat(40)).unwrap();
        for bad in ["../../home/user", &"A".repeat(40), &"a".repeat(41), "", "main"] {
            assert!(CommitHash::parse(bad).is_err(), "{bad:?}");
        }
        let err = CommitHash::parse("../x\x1b[2J").unwrap_err().to_string();
        assert!(err.starts_with("\"../x\\x1b[2J\" is not a commit hash"), "{err}");
    }

    #[test]
    fn etags_are_content_hashes() {
        let sha1 = "ce013625030ba8dba906f756967f9e9ca394464a";
        assert_eq!(Etag::from_header(&format!("W/\"{sha1}\"")).unwrap().as_str(), sha1);
        assert!(!Etag::parse(sha1).unwrap().is_sha256());
        assert!(Etag::parse(&"b".repeat(64)).unwrap().is_sha256());
        for bad in ["\"abc\"", "../../x", &"G".repeat(64), &format!("{sha1}/..")] {
            assert!(Etag::from_header(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn serde_checks_on_the_way_in() {
        let ok: CommitHash = serde_json::from_str(&format!("\"{}\"", "c".repeat(40))).unwrap();
        assert_eq!(serde_json::to_string(&ok).unwrap(), format!("\"{}\"", "c".repeat(40)));
        assert!(serde_json::from_str::<CommitHash>("\"../../etc\"").is_err());
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        fn lower_hex(s: &str) -> bool {
            s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        }

        proptest! {
            #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

            /// Exactly 40 lowercase hex digits are a commit; what is refused prints on one line.
            #[test]
            fn prop_commit_hash_is_exactly_forty_hex(raw in "[0-9a-fA-F./\\x00-\\x1f]{0,44}|[0-9a-f]{40}") {
                match CommitHash::parse(&raw) {
                    Ok(commit) => {
                        prop_assert!(raw.len() == 40 && lower_hex(&raw));
                        prop_assert_eq!(commit.as_str(), raw.as_str());
                    }
                    Err(e) => {
                        prop_assert!(!(raw.len() == 40 && lower_hex(&raw)));
                        prop_assert!(!e.to_string().chars().any(char::is_control));
                    }
                }
            }

            /// An etag header in any dress (weak, quoted) gives the hash; whatever is accepted is
            /// a bare hash, so it can never climb out of `blobs/`.
            #[test]
            fn prop_etag_headers(hash in "[0-9a-f]{40}|[0-9a-f]{64}", raw in "[ -~]{0,70}") {
                for dressed in [hash.clone(), format!("\"{hash}\""), format!("W/\"{hash}\"")] {
                    let etag = Etag::from_header(&dressed).unwrap();
                    prop_assert_eq!(etag.as_str(), hash.as_str());
                }
                if let Ok(etag) = Etag::from_header(&raw) {
                    prop_assert!(matches!(etag.as_str().len(), 40 | 64) && lower_hex(etag.as_str()));
                }
            }
        }
    }
}
