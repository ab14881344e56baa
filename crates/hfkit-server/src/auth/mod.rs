//! Who is asking: a request's bearer token becomes a [`Caller`] once, and [`access`] decides
//! what that caller may do.
//!
//! No token is an anonymous caller; a token the store does not know (never issued, revoked)
//! is refused with the Hub's 401, never treated as anonymous. Tokens are looked up by their
//! SHA-256 on every request, with nothing cached, so a revocation takes effect at once.

pub mod access;
pub mod password;
pub mod token;

use crate::accounts::Role;
use crate::store::{Store, StoreError, TokenRecord};
use token::TokenHash;

/// The user behind a valid token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerUser {
    /// Login name.
    pub name: String,
    /// Organizations the user belongs to.
    pub orgs: Vec<String>,
    /// The token's role.
    pub role: Role,
    /// The token's id in the store (for logs: never the token itself).
    pub token_id: i64,
}

/// Who sent a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// No token.
    Anonymous,
    /// A valid token.
    User(CallerUser),
}

impl Caller {
    /// The user, unless anonymous.
    pub fn user(&self) -> Option<&CallerUser> {
        match self {
            Self::Anonymous => None,
            Self::User(user) => Some(user),
        }
    }

    /// The user's name, unless anonymous.
    pub fn name(&self) -> Option<&str> {
        self.user().map(|u| u.name.as_str())
    }
}

/// Why a token was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Unknown or revoked.
    #[error("invalid credentials")]
    Invalid,
    /// The store could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The live token whose value is `value`: looked up by its hash, which is then compared in
/// constant time. A token found is recorded as used (its "last used" on the tokens page).
pub fn find_token(store: &dyn Store, value: &str) -> Result<Option<TokenRecord>, StoreError> {
    let hash = TokenHash::of(value);
    let found = store.token_by_hash(&hash)?.filter(|record| record.hash.matches(&hash));
    if let Some(record) = &found {
        store.touch_token(record.id)?;
    }
    Ok(found)
}

impl Caller {
    /// The caller signed in to the web pages as `user` (through a session, not a token: it
    /// reads as a read token would, and its `token_id` is 0, which no stored token has).
    pub fn signed_in(user: crate::accounts::User) -> Self {
        Self::User(CallerUser { name: user.name, orgs: user.orgs, role: Role::Read, token_id: 0 })
    }
}

/// The caller holding `token` (`None`: anonymous).
pub fn authenticate(store: &dyn Store, token: Option<&str>) -> Result<Caller, AuthError> {
    let Some(value) = token else { return Ok(Caller::Anonymous) };
    let record = find_token(store, value)?.ok_or(AuthError::Invalid)?;
    let user = store.user(&record.user)?.ok_or(AuthError::Invalid)?;
    Ok(Caller::User(CallerUser { name: user.name, orgs: user.orgs, role: record.role, token_id: record.id }))
}
