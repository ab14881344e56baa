//! Trusted publishers: a CI job trades its OIDC id token for a short-lived Hub token.
//!
//! Enabled only by `HF_OIDC_RESOURCE`, as in huggingface_hub 2.4. The id token comes from
//! `HF_OIDC_ID_TOKEN`, or is minted from GitHub Actions when running there. The exchange is
//! `POST {endpoint}/oauth/token` with a JSON token-exchange body. Any failure is an error:
//! opting into OIDC is explicit, so it never silently falls back to another token.

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::secret::Token;

/// The OAuth grant type of a token exchange (RFC 8693).
pub const TOKEN_EXCHANGE_GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// The subject token type of an OIDC id token.
pub const ID_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:id_token";

/// Where the id token to exchange comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdTokenSource {
    /// `HF_OIDC_ID_TOKEN`.
    Given(Token),
    /// Minted by GitHub Actions' token service.
    GitHubActions {
        /// `ACTIONS_ID_TOKEN_REQUEST_URL`.
        request_url: String,
        /// `ACTIONS_ID_TOKEN_REQUEST_TOKEN`.
        request_token: Token,
    },
}

/// An exchange to perform: the resource to scope the token to and the id token source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcPlan {
    /// `HF_OIDC_RESOURCE`.
    pub resource: String,
    /// Where the id token comes from.
    pub id_token: IdTokenSource,
}

/// The exchange cannot happen or failed.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// Nothing to exchange.
    #[error(
        "OIDC Exchange failed. HF_OIDC_RESOURCE is set but no OIDC id token is available: not running in a supported CI provider (github) and HF_OIDC_ID_TOKEN is not set.\n\nhint: set HF_OIDC_ID_TOKEN to the id token minted by your CI provider, or unset HF_OIDC_RESOURCE"
    )]
    NoIdToken,
    /// In GitHub Actions without the id-token permission.
    #[error(
        "OIDC Exchange failed. Cannot request an OIDC id token from GitHub Actions: ACTIONS_ID_TOKEN_REQUEST_URL or ACTIONS_ID_TOKEN_REQUEST_TOKEN is missing.\n\nhint: make sure the workflow job sets `permissions: id-token: write`"
    )]
    GitHubPermission,
    /// The Hub or the CI provider refused, or answered something unusable.
    #[error("OIDC Exchange failed. {0}")]
    Exchange(String),
}

impl OidcPlan {
    /// The plan, when `HF_OIDC_RESOURCE` is set (non-empty).
    pub fn from_config(config: &Config) -> Result<Option<Self>, OidcError> {
        let vars = &config.token_vars;
        let Some(resource) = vars.oidc_resource.clone().filter(|r| !r.is_empty()) else {
            return Ok(None);
        };
        let id_token = if let Some(given) = vars.oidc_id_token.as_deref().filter(|t| !t.is_empty()) {
            IdTokenSource::Given(Token::new(given))
        } else if vars.github_actions {
            match (&vars.actions_id_token_request_url, &vars.actions_id_token_request_token) {
                (Some(url), Some(token)) if !url.is_empty() && !token.is_empty() => {
                    IdTokenSource::GitHubActions { request_url: url.clone(), request_token: Token::new(token.clone()) }
                }
                _ => return Err(OidcError::GitHubPermission),
            }
        } else {
            return Err(OidcError::NoIdToken);
        };
        Ok(Some(Self { resource, id_token }))
    }
}

/// The JSON body of the exchange request.
#[derive(Debug, Serialize, Deserialize)]
pub struct ExchangeRequest {
    /// Always [`TOKEN_EXCHANGE_GRANT`].
    pub grant_type: String,
    /// Always [`ID_TOKEN_TYPE`].
    pub subject_token_type: String,
    /// The id token.
    pub subject_token: String,
    /// The resource to scope the token to.
    pub resource: String,
}
