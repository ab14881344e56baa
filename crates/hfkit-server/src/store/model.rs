//! The records the [`Store`](super::Store) keeps, beyond the users and organizations of
//! [`crate::accounts`]: tokens (hashed), repo settings and grants.

use crate::accounts::Role;
use crate::auth::token::TokenHash;
use crate::repos::Visibility;

/// A token as stored: its hash and last four characters, never its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// The store's id for it.
    pub id: i64,
    /// SHA-256 of the value.
    pub hash: TokenHash,
    /// The last four characters of the value (shown as `hf_****wxyz`).
    pub last_four: String,
    /// The owner.
    pub user: String,
    /// Display name; `None` for OAuth tokens.
    pub name: Option<String>,
    /// Read, write or fine-grained.
    pub role: Role,
    /// When it was issued (seconds since 1970).
    pub created_at: i64,
}

impl TokenRecord {
    /// How the token is shown: `hf_****wxyz`.
    pub fn masked(&self) -> String {
        format!("hf_****{}", self.last_four)
    }
}

/// A token to store.
#[derive(Debug, Clone)]
pub struct NewToken {
    /// SHA-256 of the value.
    pub hash: TokenHash,
    /// Its last four characters.
    pub last_four: String,
    /// The owner (must exist).
    pub user: String,
    /// Display name; `None` for OAuth tokens.
    pub name: Option<String>,
    /// Role.
    pub role: Role,
}

/// What the operator set for one repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoSettings {
    /// `model`, `dataset`, `space` or `kernel`.
    pub kind: String,
    /// `namespace/name`.
    pub id: String,
    /// Public, private or gated.
    pub visibility: Visibility,
    /// The owning user or org; `None`: the namespace.
    pub owner: Option<String>,
}
