//! Who is asking: a request's bearer token becomes a [`Caller`] once, and [`access`] decides
//! what that caller may do.
//!
//! No token is an anonymous caller; a token the store does not know (never issued, revoked)
//! is refused with the Hub's 401, never treated as anonymous. Tokens are looked up by their
//! SHA-256 on every request, with nothing kept between requests, so a revocation takes
//! effect at once. Within one request the token is checked once ([`once_per_request`]): the
//! access log and the route share the outcome.

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

tokio::task_local! {
    /// The request's token and what checking it gave (`Err`: not valid), once checked.
    static CHECKED: std::cell::RefCell<Option<(Option<String>, Result<Caller, ()>)>>;
}

/// Runs `request` (the handling of one request) so that [`authenticate`] looks its token up
/// in the store once, however many parts of the request ask who is calling.
pub async fn once_per_request<F: std::future::Future>(request: F) -> F::Output {
    CHECKED.scope(std::cell::RefCell::new(None), request).await
}

/// The caller holding `token` (`None`: anonymous); within [`once_per_request`], the outcome
/// of the first check of the same token.
pub fn authenticate(store: &dyn Store, token: Option<&str>) -> Result<Caller, AuthError> {
    let earlier = CHECKED
        .try_with(|checked| {
            checked.borrow().as_ref().filter(|(seen, _)| seen.as_deref() == token).map(|(_, outcome)| outcome.clone())
        })
        .ok()
        .flatten();
    if let Some(outcome) = earlier {
        return outcome.map_err(|()| AuthError::Invalid);
    }
    let outcome = check(store, token);
    let kept = match &outcome {
        Ok(caller) => Some(Ok(caller.clone())),
        Err(AuthError::Invalid) => Some(Err(())),
        Err(AuthError::Store(_)) => None,
    };
    if let Some(kept) = kept {
        let _ = CHECKED.try_with(|checked| *checked.borrow_mut() = Some((token.map(str::to_owned), kept)));
    }
    outcome
}

fn check(store: &dyn Store, token: Option<&str>) -> Result<Caller, AuthError> {
    let Some(value) = token else { return Ok(Caller::Anonymous) };
    let record = find_token(store, value)?.ok_or(AuthError::Invalid)?;
    let user = store.user(&record.user)?.ok_or(AuthError::Invalid)?;
    Ok(Caller::User(CallerUser { name: user.name, orgs: user.orgs, role: record.role, token_id: record.id }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::NewToken;
    use crate::store::sqlite::SqliteStore;

    /// The token is looked up once per request: revoked between two checks of the same
    /// request, it still holds for that request, and the next request is refused.
    #[tokio::test]
    async fn a_token_is_checked_once_per_request_and_again_by_the_next() {
        let store = SqliteStore::in_memory().unwrap();
        store.add_user(&crate::accounts::User::named("alice")).unwrap();
        let value = "hf_onceOnce0000000000000000000000000001";
        let token = NewToken {
            hash: TokenHash::of(value),
            last_four: "0001".into(),
            user: "alice".into(),
            name: Some("desk".into()),
            role: Role::Read,
        };
        store.insert_token(&token).unwrap().unwrap();
        once_per_request(async {
            assert_eq!(authenticate(&store, Some(value)).unwrap().name(), Some("alice"));
            assert_eq!(store.revoke_tokens("alice", None).unwrap(), 1);
            assert_eq!(authenticate(&store, Some(value)).unwrap().name(), Some("alice"), "checked once");
            assert!(
                matches!(authenticate(&store, Some("hf_other")), Err(AuthError::Invalid)),
                "another token is checked"
            );
            assert!(matches!(authenticate(&store, None), Ok(Caller::Anonymous)));
        })
        .await;
        let next = once_per_request(async { authenticate(&store, Some(value)) }).await;
        assert!(matches!(next, Err(AuthError::Invalid)), "the next request sees the revocation");
    }
}
