//! The server's changing state — users, organizations, tokens, repo settings, grants,
//! passwords, browser sessions, gates and access requests, and the device codes and OAuth
//! tokens of the browser login — behind one [`Store`] trait.
//!
//! [`sqlite::SqliteStore`] is the first backend: one file in the data folder (`--data DIR`),
//! shared by the running server and the operator's commands (`hf serve user add …`), so a
//! change made by either is seen by the other at its next query. A server database for
//! several replicas would implement the same trait. The accounts file seeds a store at
//! start ([`import`]); from then on the store is the truth.
//!
//! Every method reads or writes the store as it is now: nothing is cached above it, so a
//! revoked token or grant is refused by the very next request.

pub mod device;
pub mod import;
pub mod model;
pub mod sqlite;

use crate::accounts::{Org, User};
use crate::auth::token::TokenHash;
pub use device::{DeviceCodeRecord, DeviceState, NewDeviceCode};
/// What [`Store::insert_device_code`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceCodeInsert {
    /// Stored.
    Added,
    /// Its device or user code is taken (a clash of random codes).
    Taken,
    /// `max_waiting` codes wait already.
    Full,
}

pub use model::{
    AccessRequest, GateSettings, NewSession, NewToken, RepoSettings, RequestStatus, SessionRecord, TokenRecord,
};

/// A store that could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed (cannot open, locked for too long, disk full…).
    #[error("the server's database failed to {what}: {source}")]
    Backend {
        /// What was being done.
        what: String,
        /// The backend's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The request names something that does not exist or cannot be (an unknown user…).
    #[error("{0}")]
    Invalid(String),
}

/// The only door to accounts, tokens, repo settings and grants.
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Adds a user (and their memberships in `user.orgs`); `false` if the name was taken
    /// (the memberships are still added).
    fn add_user(&self, user: &User) -> Result<bool, StoreError>;
    /// The user named `name`, with their organizations.
    fn user(&self, name: &str) -> Result<Option<User>, StoreError>;
    /// Every user, by name.
    fn users(&self) -> Result<Vec<User>, StoreError>;
    /// Adds an organization; `false` if the name was taken.
    fn add_org(&self, org: &Org) -> Result<bool, StoreError>;
    /// The organization named `name`.
    fn org(&self, name: &str) -> Result<Option<Org>, StoreError>;
    /// Makes `user` (who must exist) a member of `org`; `false` if already one.
    fn add_member(&self, org: &str, user: &str) -> Result<bool, StoreError>;

    /// Stores a token for an existing user; `None` if a token with that hash was ever
    /// stored (a revoked token stays revoked when the accounts file seeds it again).
    fn insert_token(&self, token: &NewToken) -> Result<Option<TokenRecord>, StoreError>;
    /// The live (not revoked) token with this hash.
    fn token_by_hash(&self, hash: &TokenHash) -> Result<Option<TokenRecord>, StoreError>;
    /// The live tokens of `user` (of everyone with `None`), oldest first; OAuth tokens
    /// past their expiry are not live.
    fn tokens(&self, user: Option<&str>) -> Result<Vec<TokenRecord>, StoreError>;
    /// Revokes `user`'s token named `name` (every token of the user with `None`, refresh
    /// tokens of the browser login included); returns how many access tokens were revoked.
    fn revoke_tokens(&self, user: &str, name: Option<&str>) -> Result<usize, StoreError>;

    /// Sets a repo's visibility and owner (replacing earlier settings).
    fn set_repo(&self, settings: &RepoSettings) -> Result<(), StoreError>;
    /// Sets a repo's settings unless it has some already; `false` if it had.
    fn seed_repo(&self, settings: &RepoSettings) -> Result<bool, StoreError>;
    /// The settings of a repo, if the operator gave it any.
    fn repo(&self, kind: &str, id: &str) -> Result<Option<RepoSettings>, StoreError>;
    /// Every repo with settings.
    fn repos(&self) -> Result<Vec<RepoSettings>, StoreError>;

    /// Grants `user` (who must exist) access to a repo; `false` if already granted.
    fn grant(&self, kind: &str, id: &str, user: &str) -> Result<bool, StoreError>;
    /// Grants access unless a grant was ever made or revoked (so the accounts file does not
    /// bring back a revoked grant); `false` if nothing changed.
    fn seed_grant(&self, kind: &str, id: &str, user: &str) -> Result<bool, StoreError>;
    /// Revokes a grant; `false` if there was none.
    fn revoke_grant(&self, kind: &str, id: &str, user: &str) -> Result<bool, StoreError>;
    /// The users granted a repo, by name.
    fn grants(&self, kind: &str, id: &str) -> Result<Vec<String>, StoreError>;

    // --- Web sign-in: passwords, browser sessions, token use ---

    /// Sets `user`'s password hash (an argon2 PHC string) and ends their sessions.
    fn set_password(&self, user: &str, hash: &str) -> Result<(), StoreError>;
    /// Makes `user` the operator on the web pages (or not).
    fn set_admin(&self, user: &str, admin: bool) -> Result<(), StoreError>;
    /// Sets `user`'s password hash unless one is set; `false` if it was.
    fn seed_password(&self, user: &str, hash: &str) -> Result<bool, StoreError>;
    /// `user`'s password hash, if a password was set.
    fn password_hash(&self, user: &str) -> Result<Option<String>, StoreError>;
    /// Stores a new session (and forgets sessions that have expired).
    fn insert_session(&self, session: &NewSession) -> Result<(), StoreError>;
    /// The live (unexpired) session whose id has this hash.
    fn session(&self, hash: &TokenHash) -> Result<Option<SessionRecord>, StoreError>;
    /// Ends a session; `false` if there was none.
    fn delete_session(&self, hash: &TokenHash) -> Result<bool, StoreError>;
    /// Records that the token `id` was just used (at most once a minute is written).
    fn touch_token(&self, id: i64) -> Result<(), StoreError>;
    /// Revokes `user`'s live token `id`; `false` if they have no such token.
    fn revoke_token(&self, user: &str, id: i64) -> Result<bool, StoreError>;
    /// When each live token of `user` was last used: (token id, seconds since 1970).
    fn tokens_last_used(&self, user: &str) -> Result<Vec<(i64, i64)>, StoreError>;

    // --- Gated access: gates and access requests ---

    /// Sets a repo's gate (replacing an earlier one).
    fn set_gate(&self, gate: &GateSettings) -> Result<(), StoreError>;
    /// Sets a repo's gate unless it has one; `false` if it had.
    fn seed_gate(&self, gate: &GateSettings) -> Result<bool, StoreError>;
    /// A repo's gate, if the operator set one.
    fn gate(&self, kind: &str, id: &str) -> Result<Option<GateSettings>, StoreError>;
    /// Records `user`'s request (pending) with its answers, replacing an earlier request
    /// that was decided; a pending one is left as it is. Returns the request as stored.
    fn request_access(
        &self,
        kind: &str,
        id: &str,
        user: &str,
        answers: &[(String, String)],
    ) -> Result<AccessRequest, StoreError>;
    /// `user`'s request for a repo.
    fn access_request(&self, kind: &str, id: &str, user: &str) -> Result<Option<AccessRequest>, StoreError>;
    /// The requests for one repo (`Some((kind, id))`) or every repo, with `status` or any,
    /// oldest first.
    fn access_requests(
        &self,
        repo: Option<(&str, &str)>,
        status: Option<RequestStatus>,
    ) -> Result<Vec<AccessRequest>, StoreError>;
    /// Approves (granting access, in the same transaction) or denies (revoking any grant)
    /// `user`'s request, as `by`; `false` if there is no request.
    fn decide_request(&self, kind: &str, id: &str, user: &str, accept: bool, by: &str) -> Result<bool, StoreError>;

    // ---- Browser login: device codes, OAuth access and refresh tokens (RFC 8628) ----

    /// Stores a new device code (forgetting codes expired for a day), unless `max_waiting`
    /// codes already wait for a decision (pending, not expired), in one step with the count.
    fn insert_device_code(&self, code: &NewDeviceCode, max_waiting: u64) -> Result<DeviceCodeInsert, StoreError>;
    /// The device code with this hash.
    fn device_code(&self, device_hash: &TokenHash) -> Result<Option<DeviceCodeRecord>, StoreError>;
    /// The device code whose normalized user code has this hash.
    fn device_code_by_user_code(&self, user_code_hash: &TokenHash) -> Result<Option<DeviceCodeRecord>, StoreError>;
    /// Records a poll at `at_ms`, and the interval the client must keep from now on.
    fn record_device_poll(&self, id: i64, at_ms: i64, interval_secs: i64) -> Result<(), StoreError>;
    /// Approves (for `user`, who must exist) or denies (`None`) a device code that is still
    /// pending and not expired at `now_ms`; `false` if it was not.
    fn decide_device_code(&self, id: i64, user: Option<&str>, now_ms: i64) -> Result<bool, StoreError>;
    /// Marks an approved device code used; `true` for the one caller that did (so its
    /// tokens are issued once).
    fn consume_device_code(&self, id: i64) -> Result<bool, StoreError>;
    /// Stores an OAuth access token (no display name) that is refused from `expires_at`
    /// (seconds since 1970) on.
    fn insert_oauth_token(&self, token: &NewToken, expires_at: i64) -> Result<TokenRecord, StoreError>;
    /// When an OAuth access token expires; `None` for other tokens.
    fn oauth_token_expiry(&self, token_id: i64) -> Result<Option<i64>, StoreError>;
    /// Stores a refresh token of `user`, usable once until `expires_at`, issued with the
    /// access token `token_id` (revoking that token ends the refresh token too).
    fn insert_refresh_token(
        &self,
        hash: &TokenHash,
        user: &str,
        token_id: Option<i64>,
        expires_at: i64,
    ) -> Result<(), StoreError>;
    /// Spends a refresh token: its user if it was unused, not expired at `now` and its access
    /// token not revoked, and it is never accepted again (rotation).
    fn use_refresh_token(&self, hash: &TokenHash, now: i64) -> Result<Option<String>, StoreError>;
}
