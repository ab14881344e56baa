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

/// A browser session to store: the id is kept only as its hash.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// SHA-256 of the session id (the cookie's value).
    pub hash: TokenHash,
    /// The signed-in user (must exist).
    pub user: String,
    /// The session's CSRF token, sent back in every form.
    pub csrf: String,
    /// When it stops being accepted (seconds since 1970).
    pub expires_at: i64,
}

/// A live browser session.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// The signed-in user.
    pub user: String,
    /// The session's CSRF token.
    pub csrf: String,
    /// When it stops being accepted (seconds since 1970).
    pub expires_at: i64,
}

impl std::fmt::Debug for SessionRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionRecord").field("user", &self.user).field("expires_at", &self.expires_at).finish()
    }
}

/// How a gated repo asks for access: the questions of its request form, the license to
/// agree to, and whether requests are approved at once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GateSettings {
    /// `model`, `dataset`, `space` or `kernel`.
    pub kind: String,
    /// `namespace/name`.
    pub id: String,
    /// The labels of the form's fields (e.g. "Intended use"), each answered in free text.
    pub fields: Vec<String>,
    /// The license text a requester must agree to, if any.
    pub license: Option<String>,
    /// Approve each request as soon as it is made.
    pub auto_approve: bool,
}

/// Where an access request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestStatus {
    /// Waiting for the owner or the operator.
    Pending,
    /// Approved: the user holds a grant.
    Accepted,
    /// Denied.
    Rejected,
}

impl RequestStatus {
    /// `pending`, `accepted` or `rejected`, as stored and printed.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Accepted => "accepted",
            Self::Rejected => "rejected",
        }
    }

    /// The status named `name` (`None` for an unknown name).
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "pending" => Some(Self::Pending),
            "accepted" => Some(Self::Accepted),
            "rejected" => Some(Self::Rejected),
            _ => None,
        }
    }
}

/// A user's request for access to a gated repo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRequest {
    /// The repo's type.
    pub kind: String,
    /// The repo's id.
    pub id: String,
    /// Who asks.
    pub user: String,
    /// The form's answers: (field label, answer).
    pub answers: Vec<(String, String)>,
    /// Where it stands.
    pub status: RequestStatus,
    /// When it was made (seconds since 1970).
    pub created_at: i64,
    /// Who approved or denied it.
    pub decided_by: Option<String>,
}
