//! Seeding a [`Store`] from an accounts file (`hf serve --accounts FILE`), at every start.
//!
//! The file adds what the store does not know yet: users, organizations and memberships,
//! tokens (hashed here, their values never stored), password hashes, repo settings, gates
//! and grants. What the store
//! already holds wins: a repo's visibility set by the operator, a revoked token or a revoked
//! grant, a password set by the operator, a gate changed on the command line stay as they are when the same file seeds the store again.

use super::{GateSettings, NewToken, RepoSettings, Store, StoreError};
use crate::accounts::Accounts;
use crate::auth::token::{TokenHash, last_four};

/// What seeding added.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Seeded {
    /// Users added.
    pub users: usize,
    /// Tokens added.
    pub tokens: usize,
    /// Repos whose settings were added.
    pub repos: usize,
}

/// Adds what `accounts` holds and `store` does not (the accounts must have passed
/// [`Accounts::check`]).
pub fn seed(store: &dyn Store, accounts: &Accounts) -> Result<Seeded, StoreError> {
    let mut seeded = Seeded::default();
    for org in &accounts.orgs {
        store.add_org(org)?;
    }
    for user in &accounts.users {
        seeded.users += usize::from(store.add_user(user)?);
        if let Some(hash) = &user.password_hash {
            store.seed_password(&user.name, hash)?;
        }
    }
    for token in &accounts.tokens {
        let new = NewToken {
            hash: TokenHash::of(&token.token),
            last_four: last_four(&token.token),
            user: token.user.clone(),
            name: token.name.clone(),
            role: token.role,
        };
        seeded.tokens += usize::from(store.insert_token(&new)?.is_some());
    }
    for repo in &accounts.repos {
        let settings = RepoSettings {
            kind: repo.kind.clone(),
            id: repo.id.clone(),
            visibility: repo.visibility,
            owner: repo.owner.clone(),
        };
        seeded.repos += usize::from(store.seed_repo(&settings)?);
        if repo.has_gate() {
            store.seed_gate(&GateSettings {
                kind: repo.kind.clone(),
                id: repo.id.clone(),
                fields: repo.request_fields.clone(),
                license: repo.license.clone(),
                auto_approve: repo.auto_approve,
            })?;
        }
        for user in &repo.grants {
            store.seed_grant(&repo.kind, &repo.id, user)?;
        }
    }
    Ok(seeded)
}
