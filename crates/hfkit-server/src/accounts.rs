//! Who the server knows: users, organizations, access tokens and trusted publishers.
//!
//! Built in code (by `HubFixture` in tests) or loaded from a JSON file for `hf serve`:
//!
//! ```json
//! {
//!   "users":  [{"name": "alice", "fullname": "Alice", "orgs": ["acme"]}],
//!   "orgs":   [{"name": "acme", "fullname": "ACME"}],
//!   "tokens": [{"token": "hf_…", "user": "alice", "name": "laptop", "role": "read"}],
//!   "trusted_publishers": [{"id_token": "…", "resource": "acme/model", "token": "hf_…"}]
//! }
//! ```
//!
//! A token without a `name` is an OAuth token (the Hub reports no display name for those).

use std::path::Path;

use serde::{Deserialize, Serialize};

/// What an access token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Role {
    /// Read public, private (own) and gated (accepted) repos.
    #[default]
    #[serde(rename = "read")]
    Read,
    /// Read and write.
    #[serde(rename = "write")]
    Write,
    /// Fine-grained scopes (reported as `fineGrained`).
    #[serde(rename = "fineGrained")]
    FineGrained,
}

impl Role {
    /// The Hub's name for the role.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::FineGrained => "fineGrained",
        }
    }
}

/// A user account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Login name.
    pub name: String,
    /// Display name.
    #[serde(default)]
    pub fullname: Option<String>,
    /// E-mail address.
    #[serde(default)]
    pub email: Option<String>,
    /// Names of the organizations the user belongs to.
    #[serde(default)]
    pub orgs: Vec<String>,
}

/// An organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Org {
    /// Name.
    pub name: String,
    /// Display name.
    #[serde(default)]
    pub fullname: Option<String>,
}

/// An access token.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessToken {
    /// The secret value.
    pub token: String,
    /// The owner's user name.
    pub user: String,
    /// Display name; `None` for OAuth tokens.
    #[serde(default)]
    pub name: Option<String>,
    /// Role.
    #[serde(default)]
    pub role: Role,
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessToken")
            .field("user", &self.user)
            .field("name", &self.name)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

/// A CI identity allowed to exchange an id token for a Hub token scoped to a resource.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustedPublisher {
    /// The id token the CI presents.
    pub id_token: String,
    /// The resource (`namespace/name`, or a user name) it may ask for.
    pub resource: String,
    /// The Hub token it receives (must be one of the known tokens).
    pub token: String,
}

impl std::fmt::Debug for TrustedPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustedPublisher").field("resource", &self.resource).finish_non_exhaustive()
    }
}

/// Everyone the server knows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accounts {
    /// Users.
    #[serde(default)]
    pub users: Vec<User>,
    /// Organizations.
    #[serde(default)]
    pub orgs: Vec<Org>,
    /// Access tokens.
    #[serde(default)]
    pub tokens: Vec<AccessToken>,
    /// Trusted publishers for the OIDC exchange.
    #[serde(default)]
    pub trusted_publishers: Vec<TrustedPublisher>,
}

/// An accounts file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum AccountsError {
    /// Unreadable.
    #[error("cannot read the accounts file `{path}`: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Not the expected JSON.
    #[error("the accounts file `{path}` is not valid: {detail}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        detail: String,
    },
}

impl Accounts {
    /// Loads and checks an accounts file.
    pub fn load(path: &Path) -> Result<Self, AccountsError> {
        let shown = path.display().to_string();
        let text =
            std::fs::read_to_string(path).map_err(|source| AccountsError::Read { path: shown.clone(), source })?;
        let accounts: Self = serde_json::from_str(&text)
            .map_err(|e| AccountsError::Invalid { path: shown.clone(), detail: e.to_string() })?;
        accounts.check().map_err(|detail| AccountsError::Invalid { path: shown, detail })?;
        Ok(accounts)
    }

    /// Checks that every token and publisher refers to something that exists.
    pub fn check(&self) -> Result<(), String> {
        for t in &self.tokens {
            if self.user(&t.user).is_none() {
                return Err(format!("a token belongs to `{}`, who is not in `users`", t.user));
            }
        }
        for p in &self.trusted_publishers {
            if self.token(&p.token).is_none() {
                return Err(format!("the trusted publisher for `{}` issues a token not in `tokens`", p.resource));
            }
        }
        Ok(())
    }

    /// The user named `name`.
    pub fn user(&self, name: &str) -> Option<&User> {
        self.users.iter().find(|u| u.name == name)
    }

    /// The organization named `name`.
    pub fn org(&self, name: &str) -> Option<&Org> {
        self.orgs.iter().find(|o| o.name == name)
    }

    /// The token whose value is `value`.
    pub fn token(&self, value: &str) -> Option<&AccessToken> {
        self.tokens.iter().find(|t| t.token == value)
    }
}
