//! Access tokens as the server keeps them: a new token is `hf_` and 34 random alphanumerics,
//! shown once to whoever issued it; the server stores only its SHA-256 and its last four
//! characters (so lists and logs can say `hf_****wxyz`), and compares hashes in constant time.

use sha2::Digest as _;

/// The prefix of every token this server issues.
pub const PREFIX: &str = "hf_";
/// Random characters after the prefix (34 alphanumerics: more than 200 bits).
const RANDOM_CHARS: usize = 34;
const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// The SHA-256 of a token's value: all the server ever keeps of it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    /// Hashes a token's value.
    pub fn of(value: &str) -> Self {
        Self(sha2::Sha256::digest(value.as_bytes()).into())
    }

    /// A stored hash (`None` unless 32 bytes).
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }

    /// The 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Compares in constant time: the time taken says nothing about where two hashes differ.
    pub fn matches(&self, other: &Self) -> bool {
        self.0.iter().zip(other.0.iter()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    }
}

impl std::fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenHash(…)")
    }
}

/// A new random token. Its value leaves the wrapper only to be shown once.
pub fn generate() -> Result<hfkit::secret::Token, getrandom::Error> {
    let mut value = String::with_capacity(PREFIX.len() + RANDOM_CHARS);
    value.push_str(PREFIX);
    let mut pool = [0u8; 64];
    while value.len() < PREFIX.len() + RANDOM_CHARS {
        getrandom::fill(&mut pool)?;
        // 62 letters: bytes of 248 and above are dropped so every letter is equally likely.
        for &b in pool.iter().filter(|&&b| b < 248) {
            if value.len() == PREFIX.len() + RANDOM_CHARS {
                break;
            }
            value.push(char::from(ALPHABET[usize::from(b) % ALPHABET.len()]));
        }
    }
    Ok(hfkit::secret::Token::new(value))
}

/// Why [`issue`] made no token.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    /// The user has a live token of that name.
    #[error("`{user}` has a live token named `{name}` already: pick another name, or revoke it first")]
    NameTaken {
        /// The user.
        user: String,
        /// The name asked for.
        name: String,
    },
    /// No random bytes.
    #[error("cannot draw random bytes for a token: {0}")]
    Random(#[from] getrandom::Error),
    /// The store refused (an unknown user, say) or failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The new value was stored before (never in practice: 62^34 values).
    #[error("a token with this value exists already (try again)")]
    Collision,
}

/// Issues a token named `name` of `role` to `user`: the value, to be shown once; only its hash
/// and last four characters are stored. The one way tokens are made, by the operator's
/// command (`hf serve token issue`) and by the Access Tokens page.
pub fn issue(
    store: &dyn crate::Store,
    user: &str,
    name: &str,
    role: crate::Role,
) -> Result<hfkit::secret::Token, IssueError> {
    if store.tokens(Some(user))?.iter().any(|t| t.name.as_deref() == Some(name)) {
        return Err(IssueError::NameTaken { user: user.to_owned(), name: name.to_owned() });
    }
    let value = generate()?;
    let new = crate::store::NewToken {
        hash: TokenHash::of(value.expose()),
        last_four: last_four(value.expose()),
        user: user.to_owned(),
        name: Some(name.to_owned()),
        role,
    };
    store.insert_token(&new)?.ok_or(IssueError::Collision)?;
    Ok(value)
}

/// The last four characters, kept to tell tokens apart (`hf_****wxyz`).
pub fn last_four(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    chars[chars.len().saturating_sub(4)..].iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_are_prefixed_random_and_long_enough() {
        let a = generate().unwrap();
        let b = generate().unwrap();
        assert_ne!(a, b);
        assert!(a.expose().starts_with("hf_"));
        assert_eq!(a.expose().len(), 37);
        assert!(a.expose()[3..].bytes().all(|c| c.is_ascii_alphanumeric()));
        assert!(!format!("{a:?}").contains(&a.expose()[3..]), "Debug masks it");
    }

    #[test]
    fn hashes_match_only_themselves() {
        let h = TokenHash::of("hf_abc");
        assert!(h.matches(&TokenHash::of("hf_abc")));
        assert!(!h.matches(&TokenHash::of("hf_abd")));
        assert_eq!(TokenHash::from_slice(h.as_bytes()), Some(h));
        assert_eq!(TokenHash::from_slice(&[0; 31]), None);
        assert_eq!(last_four("hf_abcdwxyz"), "wxyz");
        assert_eq!(last_four("ab"), "ab");
    }
}
