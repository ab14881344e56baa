//! Who the server knows: users, organizations, access tokens and trusted publishers.
//!
//! Built in code (by `HubFixture` in tests) or loaded from a JSON file for `hf serve`:
//!
//! ```json
//! {
//!   "users":  [{"name": "alice", "fullname": "Alice", "orgs": ["acme"],
//!               "password_hash": "$argon2id$v=19$…", "admin": false}],
//!   "orgs":   [{"name": "acme", "fullname": "ACME"}],
//!   "tokens": [{"token": "hf_…", "user": "alice", "name": "laptop", "role": "read"}],
//!   "trusted_publishers": [{"id_token": "…", "resource": "acme/model", "token": "hf_…"}],
//!   "repos":  [{"id": "meta-llama/Llama-3.2-1B", "type": "model", "visibility": "gated",
//!               "owner": "meta-llama", "grants": ["alice"],
//!               "request_fields": ["Intended use"], "license": "…", "auto_approve": false}]
//! }
//! ```
//!
//! A token without a `name` is an OAuth token (the Hub reports no display name for those).
//! A repo's `type` defaults to `model`, its `visibility` to `public` and its `owner` to its
//! namespace. `request_fields`, `license` and `auto_approve` set a gated repo's access
//! request form. A user's `password_hash` (from `hf serve user passwd`) lets them sign in on
//! the web pages; `admin` makes them the operator there. The file seeds the server's [`Store`](crate::store::Store) at start
//! ([`crate::store::import`]); a file that cannot be used is refused with its path, the line
//! and what is wrong.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::repos::Visibility;

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
    /// Seeds the user's web password: an argon2 hash in PHC form (`$argon2id$…`), as
    /// `hf serve user passwd` stores it; never a plain password. Not read back from a store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_hash: Option<String>,
    /// The operator's web account: sees every repo's pages and decides every repo's access
    /// requests (`hf serve user admin NAME`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub admin: bool,
}

impl User {
    /// A user with only a name: no display name, e-mail, organization, password or operator
    /// rights (fill in more with `User { orgs, ..User::named(name) }`).
    pub fn named(name: &str) -> Self {
        Self { name: name.to_owned(), fullname: None, email: None, orgs: Vec::new(), password_hash: None, admin: false }
    }
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
    /// Repos with a visibility, an owner or grants (the others are public).
    #[serde(default)]
    pub repos: Vec<RepoEntry>,
}

fn model() -> String {
    "model".to_owned()
}

/// One repo's settings in the accounts file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepoEntry {
    /// `namespace/name`.
    pub id: String,
    /// `model` (default), `dataset`, `space` or `kernel`.
    #[serde(rename = "type", default = "model")]
    pub kind: String,
    /// `public` (default), `private` or `gated`.
    #[serde(default)]
    pub visibility: Visibility,
    /// The owning user or organization (default: the namespace).
    #[serde(default)]
    pub owner: Option<String>,
    /// Users granted access.
    #[serde(default)]
    pub grants: Vec<String>,
    /// A gated repo's request form: the label of each question (e.g. "Intended use").
    #[serde(default)]
    pub request_fields: Vec<String>,
    /// The license text a requester agrees to.
    #[serde(default)]
    pub license: Option<String>,
    /// Approve access requests at once.
    #[serde(default)]
    pub auto_approve: bool,
}

impl RepoEntry {
    /// Whether the entry sets a gate (request fields, a license or auto-approval).
    pub fn has_gate(&self) -> bool {
        !self.request_fields.is_empty() || self.license.is_some() || self.auto_approve
    }
}

/// What is wrong in an accounts file, and the value to point at (to find its line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The section (`tokens`, `repos`…) the value is in.
    pub section: &'static str,
    /// The offending value, as it is written in the file.
    pub value: String,
    /// What is wrong.
    pub detail: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.detail)
    }
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
    /// Not the expected JSON, or naming something that does not exist.
    #[error("the accounts file `{path}` is not valid, line {line}: {detail}")]
    Invalid {
        /// The file.
        path: String,
        /// The line (1-based).
        line: usize,
        /// What is wrong.
        detail: String,
    },
}

/// The line of the first `"value"` after the `"section"` key (else of `"value"` anywhere,
/// else 1).
fn line_of(text: &str, section: &str, value: &str) -> usize {
    let quoted = serde_json::to_string(value).unwrap_or_default();
    let start = text.find(&format!("\"{section}\"")).unwrap_or(0);
    let at = text[start..].find(&quoted).map(|i| start + i).or_else(|| text.find(&quoted)).unwrap_or(0);
    text[..at].matches('\n').count() + 1
}

impl Accounts {
    /// Loads and checks an accounts file.
    pub fn load(path: &Path) -> Result<Self, AccountsError> {
        let shown = path.display().to_string();
        let text =
            std::fs::read_to_string(path).map_err(|source| AccountsError::Read { path: shown.clone(), source })?;
        let accounts: Self = serde_json::from_str(&text).map_err(|e| {
            let message = e.to_string();
            let detail = message.rsplit_once(" at line ").map_or(message.as_str(), |(m, _)| m).to_owned();
            AccountsError::Invalid { path: shown.clone(), line: e.line(), detail }
        })?;
        accounts.check().map_err(|p| AccountsError::Invalid {
            path: shown,
            line: line_of(&text, p.section, &p.value),
            detail: p.detail,
        })?;
        Ok(accounts)
    }

    /// Checks that every name is valid and every token, publisher, repo owner and grant
    /// refers to something that exists.
    pub fn check(&self) -> Result<(), Problem> {
        let problem = |section, value: &str, detail: String| Problem { section, value: value.to_owned(), detail };
        for u in &self.users {
            if let Some(hash) = &u.password_hash {
                crate::auth::password::check_hash(hash).map_err(|why| {
                    problem("users", &u.name, format!("the password_hash of `{}` is not usable: {why}", u.name))
                })?;
            }
        }
        for t in &self.tokens {
            if t.token.trim().is_empty() || t.token != t.token.trim() {
                return Err(problem("tokens", &t.user, format!("a token of `{}` is empty or has spaces", t.user)));
            }
            if self.user(&t.user).is_none() {
                return Err(problem(
                    "tokens",
                    &t.user,
                    format!("a token belongs to `{}`, who is not in `users`", t.user),
                ));
            }
        }
        for p in &self.trusted_publishers {
            if self.token(&p.token).is_none() {
                let detail = format!("the trusted publisher for `{}` issues a token not in `tokens`", p.resource);
                return Err(problem("trusted_publishers", &p.resource, detail));
            }
        }
        let mut seen = std::collections::HashSet::new();
        for r in &self.repos {
            let kind: hfkit::repo::RepoType = r.kind.parse().map_err(|_| {
                let detail = format!("repo `{}` has type `{}`: expected model, dataset, space or kernel", r.id, r.kind);
                problem("repos", &r.kind, detail)
            })?;
            hfkit::repo::Repo::new(kind, &r.id)
                .map_err(|e| problem("repos", &r.id, format!("repo id `{}` is not valid: {e}", r.id)))?;
            if !seen.insert((kind.as_str(), r.id.as_str())) {
                return Err(problem("repos", &r.id, format!("repo `{}` ({}) is listed twice", r.id, r.kind)));
            }
            if let Some(owner) = &r.owner
                && self.user(owner).is_none()
                && self.org(owner).is_none()
            {
                let detail = format!("repo `{}` is owned by `{owner}`, who is not in `users` or `orgs`", r.id);
                return Err(problem("repos", owner, detail));
            }
            for g in &r.grants {
                if self.user(g).is_none() {
                    return Err(problem(
                        "repos",
                        g,
                        format!("repo `{}` is granted to `{g}`, who is not in `users`", r.id),
                    ));
                }
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
