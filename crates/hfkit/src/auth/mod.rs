//! Where the token comes from: the chain of sources, and the files that store tokens.
//!
//! The chain is huggingface_hub 2.4's `get_token()`, in order:
//!
//! 1. an explicit token (`--token`, [`crate::HubBuilder::token`]), used exactly as given;
//! 2. the trusted-publisher exchange when `HF_OIDC_RESOURCE` is set (a failure is an error,
//!    never a fallback);
//! 3. `HF_TOKEN`, or `HUGGING_FACE_HUB_TOKEN` when `HF_TOKEN` is unset or empty;
//! 4. the token file (`HF_TOKEN_PATH`, else `$HF_HOME/token`), refreshed first when it is
//!    an OAuth token of the browser login close to expiry ([`oauth`]);
//! 5. the system keyring, only after `hf auth login --keyring` (ours: huggingface_hub has no
//!    such source; see [`keyring`]).
//!
//! Each source answers found, absent or broken; a broken source stops the chain with an
//! error naming it. The answer carries its [`TokenSource`], so commands can say which token
//! was used and why. `HF_HUB_DISABLE_IMPLICIT_TOKEN` does not change the chain: it stops
//! the requests of [`crate::Hub`] from *sending* a token that was not given explicitly.

pub mod check;
mod git_credential;
pub mod keyring;
pub mod oauth;
pub mod oidc;
pub mod status;
mod store;
pub mod stored_tokens;

use std::fmt;
use std::path::{Path, PathBuf};

pub use git_credential::{
    ConfigScope, CredentialRequest, Endpoint, GIT_USER, GitCredentialError, HelperChange, MAX_REQUEST_BYTES,
    RequestError, approve as git_credential_approve, helper_installed, helper_key, helper_value,
    helpers as git_credential_helpers, install_helper, reject as git_credential_reject, uninstall_helper,
};
pub use store::{AuthStore, LogoutOutcome};

use crate::config::Config;
use crate::env_vars as var;
use crate::fs::{self as hffs, FsError};
use crate::secret::Token;

/// Where a token was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// Given explicitly (`--token`, or by the program).
    Explicit,
    /// Exchanged for a CI id token (`HF_OIDC_RESOURCE`).
    Oidc {
        /// The resource the token is scoped to.
        resource: String,
    },
    /// An environment variable (`HF_TOKEN` or `HUGGING_FACE_HUB_TOKEN`).
    Env(&'static str),
    /// The token file.
    File(PathBuf),
    /// The system keyring (`hf auth login --keyring`).
    Keyring {
        /// The entry's account (the token file it stands in for).
        account: String,
    },
    /// Piped to `hf auth login` on standard input.
    Stdin,
    /// Typed at `hf auth login`'s prompt.
    Prompt,
    /// Issued by the browser login (device flow) that is finishing.
    DeviceLogin,
}

impl TokenSource {
    /// A short machine-readable name: `explicit`, `oidc`, `env:HF_TOKEN`, `file`.
    pub fn key(&self) -> String {
        match self {
            Self::Explicit => "explicit".to_owned(),
            Self::Oidc { .. } => "oidc".to_owned(),
            Self::Env(name) => format!("env:{name}"),
            Self::File(_) => "file".to_owned(),
            Self::Keyring { .. } => "keyring".to_owned(),
            Self::Stdin => "stdin".to_owned(),
            Self::Prompt => "prompt".to_owned(),
            Self::DeviceLogin => "browser".to_owned(),
        }
    }
}

impl fmt::Display for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Explicit => f.write_str("the --token option"),
            Self::Oidc { resource } => write!(f, "the OIDC token exchange for `{resource}` (HF_OIDC_RESOURCE)"),
            Self::Env(name) => write!(f, "the {name} environment variable"),
            Self::File(path) => write!(f, "the token file {}", path.display()),
            Self::Keyring { account } => {
                write!(f, "the system keyring (service `{}`, account `{account}`)", keyring::SERVICE)
            }
            Self::Stdin => f.write_str("standard input"),
            Self::Prompt => f.write_str("the login prompt"),
            Self::DeviceLogin => f.write_str("the browser login"),
        }
    }
}

/// A token and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedToken {
    /// The token.
    pub token: Token,
    /// Its source.
    pub source: TokenSource,
}

/// What the local part of the chain found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainOutcome {
    /// A token, ready to use.
    Found(ResolvedToken),
    /// `HF_OIDC_RESOURCE` is set: the token must be obtained by an exchange over the network.
    NeedsOidcExchange(oidc::OidcPlan),
    /// `hf auth login --keyring` keeps the token in the system keyring: it must be read
    /// from there (over D-Bus, so asynchronously).
    NeedsKeyring(keyring::KeyringEntry),
    /// No source has a token.
    NotFound,
}

/// A token or token source that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// An explicit token with surrounding whitespace, control characters or nothing in it.
    #[error(
        "the token given with --token {problem}\n\nhint: pass the token exactly as shown on the Hub, for example --token \"$HF_TOKEN\" with no spaces or line breaks around it"
    )]
    InvalidExplicit {
        /// What is wrong with it.
        problem: &'static str,
    },
    /// A token from the environment or a file that cannot go into an HTTP header.
    #[error(
        "the token from {source_desc} contains characters that cannot be sent to the Hub (only printable ASCII is allowed)\n\nhint: replace it with a token copied from the Hub's token settings"
    )]
    Unsendable {
        /// Where the token came from.
        source_desc: String,
    },
    /// The token file exists but cannot be read.
    #[error("cannot read the token file: {0}")]
    File(#[from] FsError),
    /// OIDC is enabled but has no id token to exchange.
    #[error(transparent)]
    Oidc(#[from] oidc::OidcError),
    /// The token is kept in the system keyring, and the keyring cannot give it.
    #[error(transparent)]
    Keyring(#[from] keyring::KeyringError),
}

/// huggingface_hub's `_clean_token`: drop every `\r` and `\n`, trim, and treat an empty
/// result as no token.
pub fn clean_token(raw: &str) -> Option<Token> {
    let without_breaks: String = raw.chars().filter(|c| *c != '\r' && *c != '\n').collect();
    let trimmed = without_breaks.trim();
    (!trimmed.is_empty()).then(|| Token::new(trimmed))
}

/// Accepts an explicit token only if it can be sent as it is.
///
/// huggingface_hub never cleans explicit tokens, and then crashes in its HTTP layer on
/// whitespace; we refuse such a token up front with a sentence that says what to fix.
pub fn validate_explicit(raw: &str) -> Result<Token, TokenError> {
    let problem = if raw.is_empty() {
        Some("is empty")
    } else if raw.contains(['\n', '\r']) {
        Some("contains a line break")
    } else if raw.trim() != raw {
        Some("starts or ends with whitespace")
    } else if !is_sendable(raw) {
        Some("contains characters that cannot be sent in an HTTP header")
    } else {
        None
    };
    match problem {
        Some(problem) => Err(TokenError::InvalidExplicit { problem }),
        None => Ok(Token::new(raw)),
    }
}

/// Whether a token can be sent in an `Authorization` header.
pub fn is_sendable(token: &str) -> bool {
    token.bytes().all(|b| (0x20..0x7f).contains(&b))
}

/// The environment's token: the first non-empty of `HF_TOKEN` and `HUGGING_FACE_HUB_TOKEN`,
/// then cleaned. A whitespace-only `HF_TOKEN` therefore hides the legacy variable.
pub fn env_token(config: &Config) -> Option<ResolvedToken> {
    let vars = &config.token_vars;
    let (name, raw) = match (&vars.hf_token, &vars.hugging_face_hub_token) {
        (Some(v), _) if !v.is_empty() => (var::HF_TOKEN, v),
        (_, Some(v)) if !v.is_empty() => (var::HUGGING_FACE_HUB_TOKEN, v),
        _ => return None,
    };
    clean_token(raw).map(|token| ResolvedToken { token, source: TokenSource::Env(name) })
}

/// The token file's token, cleaned; `None` when the file is missing or blank.
pub fn read_token_file(path: &Path) -> Result<Option<Token>, FsError> {
    Ok(hffs::read_optional(path)?.as_deref().and_then(clean_token))
}

/// Runs the chain as far as it can go without the network.
pub fn resolve_local(config: &Config, explicit: Option<&Token>) -> Result<ChainOutcome, TokenError> {
    if let Some(token) = explicit {
        return Ok(ChainOutcome::Found(ResolvedToken { token: token.clone(), source: TokenSource::Explicit }));
    }
    if let Some(plan) = oidc::OidcPlan::from_config(config)? {
        return Ok(ChainOutcome::NeedsOidcExchange(plan));
    }
    if let Some(found) = env_token(config) {
        return Ok(ChainOutcome::Found(found));
    }
    if let Some(token) = read_token_file(&config.token_path)? {
        return Ok(ChainOutcome::Found(ResolvedToken { token, source: TokenSource::File(config.token_path.clone()) }));
    }
    match keyring::KeyringEntry::load(config)? {
        Some(entry) => Ok(ChainOutcome::NeedsKeyring(entry)),
        None => Ok(ChainOutcome::NotFound),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(dir: &Path, vars: &[(&str, &str)]) -> Config {
        let mut map: HashMap<String, String> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        map.insert("HF_HOME".into(), dir.display().to_string());
        Config::from_lookup(|k| map.get(k).cloned()).unwrap()
    }

    fn found(outcome: ChainOutcome) -> (String, String) {
        match outcome {
            ChainOutcome::Found(r) => (r.token.expose().to_owned(), r.source.key()),
            other => panic!("expected a token, got {other:?}"),
        }
    }

    #[test]
    fn cleaning_matches_python() {
        assert_eq!(clean_token("  hf_ab\ncd \r\n").unwrap().expose(), "hf_abcd");
        assert_eq!(clean_token("hf a b").unwrap().expose(), "hf a b");
        assert!(clean_token(" \n ").is_none());
    }

    #[test]
    fn explicit_tokens_with_whitespace_are_refused() {
        for bad in ["", " hf_x", "hf_x ", "hf_x\n", "hf\u{7}x", "hf_é"] {
            assert!(validate_explicit(bad).is_err(), "{bad:?}");
        }
        assert_eq!(validate_explicit("hf_x").unwrap().expose(), "hf_x");
    }

    #[test]
    fn chain_order() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("token"), "hf_file\n").unwrap();
        let explicit = Token::new("hf_explicit");
        let all = [("HF_TOKEN", "hf_env"), ("HUGGING_FACE_HUB_TOKEN", "hf_legacy")];
        let c = config(dir.path(), &all);
        assert_eq!(found(resolve_local(&c, Some(&explicit)).unwrap()).1, "explicit");
        assert_eq!(found(resolve_local(&c, None).unwrap()), ("hf_env".into(), "env:HF_TOKEN".into()));
        let c = config(dir.path(), &[("HUGGING_FACE_HUB_TOKEN", "hf_legacy")]);
        assert_eq!(found(resolve_local(&c, None).unwrap()).1, "env:HUGGING_FACE_HUB_TOKEN");
        let c = config(dir.path(), &[("HF_TOKEN", ""), ("HUGGING_FACE_HUB_TOKEN", "hf_legacy")]);
        assert_eq!(found(resolve_local(&c, None).unwrap()).0, "hf_legacy");
        // Whitespace-only HF_TOKEN hides the legacy variable and falls to the file.
        let c = config(dir.path(), &[("HF_TOKEN", "   "), ("HUGGING_FACE_HUB_TOKEN", "hf_legacy")]);
        assert_eq!(found(resolve_local(&c, None).unwrap()), ("hf_file".into(), "file".into()));
        // HUGGINGFACE_TOKEN is not a token variable.
        let c = config(dir.path(), &[("HUGGINGFACE_TOKEN", "hf_guide")]);
        assert_eq!(found(resolve_local(&c, None).unwrap()).0, "hf_file");
    }

    #[test]
    fn oidc_beats_environment() {
        let dir = tempfile::tempdir().unwrap();
        let c =
            config(dir.path(), &[("HF_TOKEN", "hf_env"), ("HF_OIDC_RESOURCE", "acme/m"), ("HF_OIDC_ID_TOKEN", "jwt")]);
        assert!(matches!(resolve_local(&c, None).unwrap(), ChainOutcome::NeedsOidcExchange(_)));
        let c = config(dir.path(), &[("HF_TOKEN", "hf_env"), ("HF_OIDC_RESOURCE", "acme/m")]);
        assert!(resolve_local(&c, None).is_err(), "OIDC without an id token is an error, not a fallback");
    }

    #[test]
    fn nothing_found() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(resolve_local(&config(dir.path(), &[]), None).unwrap(), ChainOutcome::NotFound);
        std::fs::write(dir.path().join("token"), "\n  \n").unwrap();
        assert_eq!(resolve_local(&config(dir.path(), &[]), None).unwrap(), ChainOutcome::NotFound);
    }
}
