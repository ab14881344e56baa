//! "Can my token read this repo, and why?" — asked before a long download, answered from the
//! Hub's own checks: the repo's info (is it there for me, private, gated?) and
//! `/api/{types}/{id}/auth-check` (huggingface_hub's `auth_check`: may I read its files?),
//! with `/write` for write access, and whoami for the token's role.
//!
//! The answer is an [`Access`] a script can branch on; the CLI maps each to an exit code.

use serde::Deserialize;

use crate::api::ApiError;
use crate::auth::{ResolvedToken, TokenSource};
use crate::error::Result;
use crate::hub::Hub;
use crate::repo::Repo;

/// What the active token may do with a repo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// A public repo: anyone may read it.
    Public,
    /// A gated repo whose license this account has been granted.
    GatedGranted,
    /// A gated repo this account has not been granted (or no token was sent).
    GatedNotGranted {
        /// Where access is requested.
        request_url: String,
    },
    /// A private repo this account may see.
    PrivateVisible,
    /// The repo does not exist, or is private and invisible to this account.
    NotFound,
    /// The Hub refused the token itself (invalid, expired, revoked).
    TokenRefused,
}

impl Access {
    /// Whether the files can be read.
    pub fn readable(&self) -> bool {
        matches!(self, Self::Public | Self::GatedGranted | Self::PrivateVisible)
    }

    /// A short stable name: `public`, `gated-granted`, `gated-not-granted`, `private-visible`,
    /// `not-found`, `token-refused`.
    pub fn key(&self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::GatedGranted => "gated-granted",
            Self::GatedNotGranted { .. } => "gated-not-granted",
            Self::PrivateVisible => "private-visible",
            Self::NotFound => "not-found",
            Self::TokenRefused => "token-refused",
        }
    }
}

/// The answer of [`Hub::check_access`].
#[derive(Debug, Clone)]
pub struct AccessReport {
    /// What the token may do.
    pub access: Access,
    /// Whether it may write (asked only with `write`).
    pub write: Option<bool>,
    /// Where the token came from (`None`: no token was sent).
    pub token_source: Option<TokenSource>,
    /// The account, when the Hub says.
    pub user: Option<String>,
    /// The token's role (`read`, `write`, `fineGrained`), when the Hub says.
    pub role: Option<String>,
}

impl Hub {
    /// Asks the Hub what the active token may do with `repo` (and whether it may write, with
    /// `write`). Network failures are errors; refusals are answers.
    pub async fn check_access(&self, repo: &Repo, write: bool) -> Result<AccessReport> {
        let token = self.request_token().await?;
        let who = match &token {
            Some(t) => match self.whoami_with(t).await {
                Ok(who) => Some(who),
                Err(crate::Error::Api(e)) if matches!(*e, ApiError::Unauthorized { .. }) => {
                    return Ok(report(Access::TokenRefused, None, token.as_ref(), None));
                }
                Err(_) => None,
            },
            None => None,
        };
        let client = self.client()?;
        let base = format!("{}/api/{}/{}", self.config().endpoint, repo.kind.plural(), repo.id);
        #[derive(Deserialize)]
        struct Info {
            #[serde(default)]
            private: bool,
            #[serde(default)]
            gated: serde_json::Value,
        }
        let info: Info = match client.get_json(&base, token.as_ref()).await {
            Ok(response) => client.parse_json(response, &base).await?,
            Err(e) if refused_as_missing(&e) => return Ok(report(Access::NotFound, None, token.as_ref(), who)),
            Err(e) => return Err(e.into()),
        };
        let gated = !matches!(info.gated, serde_json::Value::Bool(false) | serde_json::Value::Null);
        let access = match client.get_json(&format!("{base}/auth-check"), token.as_ref()).await {
            Ok(_) if gated => Access::GatedGranted,
            Ok(_) if info.private => Access::PrivateVisible,
            Ok(_) => Access::Public,
            Err(e) if is_gated(&e) || gated => Access::GatedNotGranted {
                request_url: format!("{}/{}{}", self.config().endpoint, repo.kind.url_prefix(), repo.id),
            },
            Err(e) if refused_as_missing(&e) => Access::NotFound,
            Err(e) => return Err(e.into()),
        };
        let write = if write && access.readable() {
            Some(client.get_json(&format!("{base}/auth-check/write"), token.as_ref()).await.is_ok())
        } else {
            write.then_some(false)
        };
        Ok(report(access, write, token.as_ref(), who))
    }
}

fn report(
    access: Access,
    write: Option<bool>,
    token: Option<&ResolvedToken>,
    who: Option<crate::api::WhoAmI>,
) -> AccessReport {
    AccessReport {
        access,
        write,
        token_source: token.map(|t| t.source.clone()),
        role: who.as_ref().and_then(|w| w.token_role().map(str::to_owned)),
        user: who.map(|w| w.name),
    }
}

fn code(error: &ApiError) -> Option<&str> {
    match error {
        ApiError::Status { error_code, .. } => error_code.as_deref(),
        _ => None,
    }
}

fn is_gated(error: &ApiError) -> bool {
    code(error) == Some("GatedRepo")
}

/// The Hub's answer for a repo that is not there for this caller: `RepoNotFound`, or a bare
/// 401/404 without a code.
fn refused_as_missing(error: &ApiError) -> bool {
    code(error) == Some("RepoNotFound")
        || matches!(error.status().map(|s| s.as_u16()), Some(401 | 404)) && code(error).is_none()
}
