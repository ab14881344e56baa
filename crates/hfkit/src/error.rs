//! [`Error`]: every way an hfkit operation can fail, each with a message a person can act on.

use crate::api::ApiError;
use crate::auth::oidc::OidcError;
use crate::auth::stored_tokens::StoredTokensError;
use crate::auth::{GitCredentialError, TokenError};
use crate::config::ConfigError;
use crate::envfile::EnvFileError;
use crate::fs::FsError;

/// An hfkit failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An environment variable has an unusable value.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A `.env` file cannot be used.
    #[error(transparent)]
    EnvFile(#[from] EnvFileError),
    /// A token or token source cannot be used.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// The trusted-publisher exchange failed.
    #[error(transparent)]
    Oidc(#[from] OidcError),
    /// `stored_tokens` cannot be read or written.
    #[error(transparent)]
    StoredTokens(#[from] StoredTokensError),
    /// A file operation failed.
    #[error(transparent)]
    Fs(#[from] FsError),
    /// A request to the Hub failed.
    #[error(transparent)]
    Api(Box<ApiError>),
    /// A repo id, type, revision or path that cannot be used.
    #[error(transparent)]
    Repo(#[from] crate::repo::RepoError),
    /// A download did not complete.
    #[error(transparent)]
    Download(Box<crate::download::DownloadError>),
    /// The system keyring could not be used.
    #[error(transparent)]
    Keyring(#[from] crate::auth::keyring::KeyringError),
    /// The git credential helper could not be updated.
    #[error(transparent)]
    GitCredential(#[from] GitCredentialError),
    /// The operation needs a token and none was found.
    #[error(
        "Not logged in. Run `hf auth login` first.\n\nhint: or set HF_TOKEN; `hf auth status` shows every place a token is looked for"
    )]
    NotLoggedIn,
    /// The browser login did not finish.
    #[error("Login failed: {0}")]
    DeviceLogin(#[from] crate::auth::oauth::DeviceFlowError),
    /// Organization tokens cannot be used to log in.
    #[error("You must use your personal account token, not an organization token.")]
    OrgToken,
}

impl From<ApiError> for Error {
    fn from(e: ApiError) -> Self {
        Self::Api(Box::new(e))
    }
}

impl From<crate::download::DownloadError> for Error {
    fn from(e: crate::download::DownloadError) -> Self {
        Self::Download(Box::new(e))
    }
}

/// hfkit's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
