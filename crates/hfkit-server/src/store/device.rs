//! The records of the browser login (OAuth 2.0 device authorization grant, RFC 8628) that
//! the [`Store`](super::Store) keeps: device codes waiting for a person's decision, the
//! expiry of OAuth access tokens, and refresh tokens. Codes and tokens are kept as SHA-256
//! hashes only, like access tokens.

use crate::auth::token::TokenHash;

/// Where a device code stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceState {
    /// Waiting for a signed-in person to approve or deny it.
    Pending,
    /// Approved: the next poll receives the tokens.
    Approved,
    /// Denied: polls are answered `access_denied`.
    Denied,
    /// Its tokens were issued; it cannot be used again.
    Used,
}

impl DeviceState {
    /// The name kept in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Denied => "denied",
            Self::Used => "used",
        }
    }

    /// The state named `name` (an unknown name reads as used: never issues a token).
    pub fn parse(name: &str) -> Self {
        match name {
            "pending" => Self::Pending,
            "approved" => Self::Approved,
            "denied" => Self::Denied,
            _ => Self::Used,
        }
    }
}

/// A device code to store.
#[derive(Debug, Clone)]
pub struct NewDeviceCode {
    /// SHA-256 of the device code (the client's secret).
    pub device_hash: TokenHash,
    /// SHA-256 of the normalized user code (what the person types).
    pub user_code_hash: TokenHash,
    /// The OAuth client that asked.
    pub client_id: String,
    /// When it was issued (milliseconds since 1970).
    pub created_ms: i64,
    /// When it expires (milliseconds since 1970).
    pub expires_ms: i64,
    /// Seconds the client must wait between polls.
    pub interval_secs: i64,
}

/// A device code as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceCodeRecord {
    /// The store's id for it.
    pub id: i64,
    /// The OAuth client that asked.
    pub client_id: String,
    /// When it expires (milliseconds since 1970).
    pub expires_ms: i64,
    /// Seconds the client must now wait between polls (grows by 5 with each `slow_down`).
    pub interval_secs: i64,
    /// When the client last polled (milliseconds since 1970).
    pub last_poll_ms: Option<i64>,
    /// Pending, approved, denied or used.
    pub state: DeviceState,
    /// Who approved it.
    pub user: Option<String>,
}
