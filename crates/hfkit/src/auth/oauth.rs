//! The browser login's tokens on this machine: what the device flow hands out, how it is
//! stored, and its silent refresh — huggingface_hub 2.4's `get_token()` exactly.
//!
//! An OAuth login is stored as a `stored_tokens` section holding `hf_token`, `refresh_token`
//! and `expires_at` (unix seconds). When the token of the token file is such a token and
//! less than a day of validity is left, [`refresh_if_needed`] trades the refresh token for a
//! new pair under `stored_tokens.lock` (re-reading the file inside the lock, so a token that
//! another process — ours or Python — just refreshed is adopted, not refreshed twice), then
//! rewrites the section and, if it still holds the old token, the token file.
//!
//! As in Python the decision is remembered per process (per token file), so a command makes
//! at most one refresh; a failed refresh never fails the caller: the old token is returned
//! and a notice says what happened ([`take_notices`]): a refresh token that is refused
//! (`invalid_grant`) means a new login is needed and is not retried in this process; other
//! failures are retried after five minutes.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use serde::Deserialize;

use super::stored_tokens::{self, StoredToken, StoredTokens};
use super::{ResolvedToken, TokenSource};
use crate::api::HubClient;
use crate::fs::{self as hffs, LockedFile};
use crate::secret::Token;

/// A token is refreshed when less than this much validity is left (one day).
pub const REFRESH_MARGIN_SECS: i64 = 24 * 3600;
/// When no refresh is needed, or one failed for a passing reason, check again after this.
const RECHECK_SECS: i64 = 300;
/// How long to wait for another process refreshing the same token.
const LOCK_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest poll interval or code lifetime taken from a server.
const MAX_SERVER_SECS: u64 = 24 * 3600;

/// A device authorization, checked where it arrives.
#[derive(Debug, Clone)]
pub struct DeviceCode {
    /// The secret the client polls with.
    pub device_code: Token,
    /// What the person enters, escaped for the terminal.
    pub user_code: String,
    /// The page where it is entered.
    pub verification_uri: String,
    /// The page with the code filled in (the plain page when the server gives none).
    pub verification_uri_complete: String,
    /// Time between polls (default 5 s, at least 1 s).
    pub interval: Duration,
    /// Seconds until the code expires (default 900).
    pub expires_in: u64,
}

impl DeviceCode {
    /// Parses `POST /oauth/device`'s JSON, with huggingface_hub's defaults; `Err` says what
    /// is wrong with it.
    pub fn parse(body: &[u8]) -> Result<Self, String> {
        #[derive(Deserialize)]
        struct Raw {
            device_code: String,
            user_code: String,
            verification_uri: String,
            verification_uri_complete: Option<String>,
            interval: Option<u64>,
            expires_in: Option<u64>,
        }
        let raw: Raw = serde_json::from_slice(body).map_err(|e| format!("the answer is not the JSON expected: {e}"))?;
        if !super::is_sendable(&raw.device_code) || raw.device_code.is_empty() {
            return Err("the device code is empty or holds characters that cannot be sent".to_owned());
        }
        let clean = |s: &str| crate::text::escape_line(s).into_owned();
        let uri = clean(&raw.verification_uri);
        let complete =
            raw.verification_uri_complete.filter(|u| !u.is_empty()).map_or_else(|| uri.clone(), |u| clean(&u));
        Ok(Self {
            device_code: Token::new(raw.device_code),
            user_code: clean(&raw.user_code),
            verification_uri: uri,
            verification_uri_complete: complete,
            interval: Duration::from_secs(raw.interval.unwrap_or(5).clamp(1, MAX_SERVER_SECS)),
            expires_in: raw.expires_in.unwrap_or(900).min(MAX_SERVER_SECS),
        })
    }
}

/// Tokens from the token endpoint.
#[derive(Debug, Clone)]
pub struct OAuthTokens {
    /// The access token.
    pub access_token: Token,
    /// The refresh token, if the server gives one.
    pub refresh_token: Option<Token>,
    /// Seconds the access token works, if the server says.
    pub expires_in: Option<u64>,
}

impl OAuthTokens {
    /// The `stored_tokens` entry of these tokens obtained at `now` (unix seconds), as
    /// huggingface_hub writes it: `expires_at = now + expires_in`.
    pub fn stored_entry(&self, now: i64) -> StoredToken {
        let expires_at = self.expires_in.map(|s| now.saturating_add(i64::try_from(s).unwrap_or(i64::MAX)));
        StoredToken::new(&self.access_token).with_oauth(self.refresh_token.as_ref().map(Token::expose), expires_at)
    }

    /// huggingface_hub's note on the lifetime of a new login, if the lifetime is known.
    pub fn expiration_note(&self) -> Option<String> {
        let secs = self.expires_in.filter(|s| *s > 0)?;
        Some(if self.refresh_token.is_some() {
            "This token will be refreshed automatically when it expires.".to_owned()
        } else {
            format!("This token expires in {} days. Log in again to renew it.", (secs / 86_400).max(1))
        })
    }
}

/// Why the browser login did not finish (huggingface_hub's `DeviceCodeError` messages).
#[derive(Debug, thiserror::Error)]
pub enum DeviceFlowError {
    /// The device authorization request failed.
    #[error(
        "Failed to request device code from {url}: {detail}\n\nhint: if this Hub does not offer the browser login, log in with a token: `hf auth login --token …`, or choose \"Paste an access token\""
    )]
    Request {
        /// `{endpoint}/oauth/device`.
        url: String,
        /// What went wrong.
        detail: String,
    },
    /// The server says the code expired.
    #[error("Device code expired. Please try again.")]
    Expired,
    /// The code's lifetime passed while polling.
    #[error("Device code expired (timeout). Please try again.")]
    TimedOut,
    /// The person denied the request.
    #[error("Authorization was denied. Please try again.")]
    Denied,
    /// Another OAuth error.
    #[error("OAuth error: {code} - {description}")]
    OAuth {
        /// The OAuth `error`.
        code: String,
        /// Its `error_description`.
        description: String,
    },
}

/// Why a refresh did not happen.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// The refresh token is expired, revoked or used: a new login is needed.
    #[error("invalid_grant - {description}")]
    InvalidGrant {
        /// The server's words.
        description: String,
    },
    /// Anything else (offline, unreachable, a server error): worth trying later.
    #[error("{0}")]
    Failed(String),
}

/// What [`inspect`] knows about the active OAuth token, for `hf auth status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthStatus {
    /// The `stored_tokens` section holding it.
    pub name: String,
    /// When it expires (unix seconds), if stored.
    pub expires_at: Option<i64>,
    /// Whether a refresh token is stored with it (and it can be used from here).
    pub can_refresh: bool,
    /// The Hub that issued it, when our login recorded it and it is not the Hub in use: the
    /// token is refreshed only there.
    pub issued_elsewhere: Option<String>,
}

/// The OAuth details of `token` in `stored_tokens`, if it is stored with any, as seen from
/// the Hub at `endpoint`.
pub fn inspect(stored_tokens_path: &Path, token: &Token, endpoint: &str) -> Option<OAuthStatus> {
    let stored = StoredTokens::load(stored_tokens_path).ok()?;
    let name = stored.name_of(token)?;
    let entry = stored.get(name)?;
    let has_refresh_token = entry.field(stored_tokens::REFRESH_TOKEN_KEY).is_some_and(|v| !v.is_empty());
    let issued_elsewhere =
        entry.field(stored_tokens::ISSUED_BY_KEY).map(origin_of).filter(|issuer| *issuer != origin_of(endpoint));
    (has_refresh_token || entry.field(stored_tokens::EXPIRES_AT_KEY).is_some()).then(|| OAuthStatus {
        name: name.to_owned(),
        expires_at: entry.expires_at(),
        can_refresh: has_refresh_token && issued_elsewhere.is_none(),
        issued_elsewhere,
    })
}

/// The remembered decision for one token file.
#[derive(Debug)]
struct Decision {
    token_path: PathBuf,
    file_token: Token,
    resolved: Token,
    recheck_at: i64,
}

/// Decisions of this process (one per token file), and notices not yet shown.
static DECISIONS: tokio::sync::Mutex<Vec<Decision>> = tokio::sync::Mutex::const_new(Vec::new());
static NOTICES: Mutex<Vec<Notice>> = Mutex::new(Vec::new());

/// Something a refresh did that a person should hear about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// A warning (the refresh failed), or information (it succeeded).
    pub warning: bool,
    /// huggingface_hub's sentence.
    pub text: String,
}

/// Notices about refreshes since the last call (a token refreshed, a refresh token refused,
/// a refresh that failed and will be retried), for the program to show; the library prints
/// nothing.
pub fn take_notices() -> Vec<Notice> {
    std::mem::take(&mut *NOTICES.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
}

fn notice(warning: bool, text: String) {
    let mut notices = NOTICES.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let notice = Notice { warning, text };
    if !notices.contains(&notice) {
        notices.push(notice);
    }
}

/// The origin (`scheme://host[:port]`) of a Hub endpoint, as a login records its issuer
/// ([`stored_tokens::ISSUED_BY_KEY`]); the endpoint itself, escaped for one line, if it is
/// not a URL (the value may come from a file, and is shown in messages).
pub fn origin_of(endpoint: &str) -> String {
    reqwest::Url::parse(endpoint.trim())
        .ok()
        .map(|url| url.origin().ascii_serialization())
        .filter(|origin| origin != "null")
        .unwrap_or_else(|| crate::text::escape_line(endpoint.trim().trim_end_matches('/')).into_owned())
}

/// The token of the token file, refreshed first if it is an OAuth token close to expiry.
/// Never fails: when no refresh can be made the token is returned as it is. A token whose
/// login recorded another Hub than `endpoint` is not refreshed: its refresh token goes only
/// to the Hub that issued it (Python would send it to `endpoint`).
pub async fn refresh_if_needed<'c>(
    client: impl FnOnce() -> crate::Result<&'c HubClient>,
    client_id: &str,
    endpoint: &str,
    token_path: &Path,
    stored_tokens_path: &Path,
    found: ResolvedToken,
) -> ResolvedToken {
    let mut decisions = DECISIONS.lock().await;
    let now = crate::time::now_unix();
    let remembered = decisions.iter().position(|d| d.token_path == token_path);
    if let Some(d) = remembered.map(|i| &decisions[i])
        && d.file_token == found.token
        && now < d.recheck_at
    {
        return ResolvedToken { token: d.resolved.clone(), source: found.source };
    }
    let mut remember = |file_token: &Token, resolved: &Token, recheck_at: i64| {
        let decision = Decision {
            token_path: token_path.to_owned(),
            file_token: file_token.clone(),
            resolved: resolved.clone(),
            recheck_at,
        };
        match remembered {
            Some(i) => decisions[i] = decision,
            None => decisions.push(decision),
        }
    };
    // A file that does not parse holds no refresh data: the token is used as it is.
    let stored = StoredTokens::load(stored_tokens_path).unwrap_or_default();
    let entry = stored.iter().find(|(_, e)| e.token().as_ref() == Some(&found.token));
    let refreshable = entry.and_then(|(name, e)| {
        let refresh = e.field(stored_tokens::REFRESH_TOKEN_KEY).and_then(super::clean_token)?;
        Some((name.to_owned(), refresh, e.expires_at()?, e.field(stored_tokens::ISSUED_BY_KEY).map(origin_of)))
    });
    let Some((name, refresh_token, expires_at, issuer)) = refreshable else {
        // Not a refreshable OAuth token; or another process refreshed it a moment ago, and
        // the token file already holds the new one: use that, without remembering.
        if let Ok(Some(current)) = super::read_token_file(token_path)
            && current != found.token
        {
            return ResolvedToken { token: current, source: found.source };
        }
        remember(&found.token, &found.token, now + RECHECK_SECS);
        return found;
    };
    if expires_at - REFRESH_MARGIN_SECS > now {
        remember(&found.token, &found.token, expires_at - REFRESH_MARGIN_SECS);
        return found;
    }
    let here = origin_of(endpoint);
    if let Some(issuer) = issuer.filter(|issuer| *issuer != here) {
        notice(
            true,
            format!(
                "Your Hugging Face access token `{name}`{} and was not refreshed: it was issued by {issuer}, and the Hub in use is {here} (HF_ENDPOINT). Its refresh token is sent only to the Hub that issued it. Set HF_ENDPOINT={issuer} to refresh it, or run `hf auth login` to log in to {here}.",
                if expires_at <= now { " has expired" } else { " expires soon" }
            ),
        );
        remember(&found.token, &found.token, now + RECHECK_SECS);
        return found;
    }
    let refreshed = match client() {
        Ok(client) => {
            refresh_locked(client, client_id, token_path, stored_tokens_path, &name, &found.token, &refresh_token).await
        }
        Err(e) => Err(RefreshError::Failed(e.to_string())),
    };
    match refreshed {
        Ok((token, new_expires_at, by_us)) => {
            if by_us {
                notice(false, format!("Access token `{name}` has been refreshed."));
            }
            let recheck = (now + RECHECK_SECS).max(new_expires_at.map_or(0, |at| at - REFRESH_MARGIN_SECS));
            remember(&token, &token, recheck);
            ResolvedToken { token, source: found.source }
        }
        Err(RefreshError::InvalidGrant { description }) => {
            notice(
                true,
                format!(
                    "Your Hugging Face access token{} and could not be refreshed (session expired or revoked). Run `hf auth login` to re-authenticate. (Failed to refresh access token: invalid_grant - {description})",
                    if expires_at <= now { " has expired" } else { " expires soon" }
                ),
            );
            remember(&found.token, &found.token, i64::MAX);
            found
        }
        Err(RefreshError::Failed(detail)) => {
            notice(true, format!("Could not refresh your Hugging Face access token: {detail}. Will retry later."));
            remember(&found.token, &found.token, now + RECHECK_SECS);
            found
        }
    }
}

/// The refresh itself, under `stored_tokens.lock`: adopts another process's refresh, or
/// makes one and writes both files. Returns the new token, its expiry, and whether this
/// process made the refresh.
async fn refresh_locked(
    client: &HubClient,
    client_id: &str,
    token_path: &Path,
    stored_tokens_path: &Path,
    name: &str,
    old: &Token,
    refresh_token: &Token,
) -> Result<(Token, Option<i64>, bool), RefreshError> {
    let failed = |e: &dyn std::fmt::Display| RefreshError::Failed(e.to_string());
    hffs::ensure_secret_dir(stored_tokens_path).map_err(|e| failed(&e))?;
    let lock_path = stored_tokens::lock_path(stored_tokens_path);
    let _lock = tokio::task::spawn_blocking(move || LockedFile::acquire(&lock_path, LOCK_TIMEOUT))
        .await
        .map_err(|e| failed(&e))?
        .map_err(|e| failed(&e))?;
    let mut stored = StoredTokens::load(stored_tokens_path).map_err(|e| failed(&e))?;
    let entry = stored.get(name).cloned().unwrap_or_default();
    if entry.token().as_ref() != Some(old) {
        // Another process refreshed it while we waited for the lock.
        return Ok((entry.token().unwrap_or_else(|| old.clone()), entry.expires_at(), false));
    }
    let now = crate::time::now_unix();
    let mut tokens = client.refresh_access_token(refresh_token, client_id).await?;
    // A server that does not rotate refresh tokens keeps the old one working.
    tokens.refresh_token = tokens.refresh_token.or_else(|| Some(refresh_token.clone()));
    let mut new_entry = tokens.stored_entry(now);
    if let Some(issuer) = entry.field(stored_tokens::ISSUED_BY_KEY) {
        new_entry = new_entry.issued_by(issuer);
    }
    let expires_at = new_entry.expires_at();
    stored.insert(name, new_entry).map_err(|e| failed(&e))?;
    hffs::write_secret(stored_tokens_path, stored.render().as_bytes()).map_err(|e| failed(&e))?;
    if super::read_token_file(token_path).ok().flatten().as_ref() == Some(old) {
        hffs::write_secret(token_path, tokens.access_token.expose().as_bytes()).map_err(|e| failed(&e))?;
    }
    Ok((tokens.access_token, expires_at, true))
}

/// Whether a resolved token may be refreshed: only the token file's.
pub fn is_refreshable_source(source: &TokenSource) -> bool {
    matches!(source, TokenSource::File(_))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_codes_get_python_defaults_and_are_checked() {
        let code =
            DeviceCode::parse(br#"{"device_code":"d","user_code":"AB\u001b[2J","verification_uri":"http://h/device"}"#)
                .unwrap();
        assert_eq!(code.interval, Duration::from_secs(5));
        assert_eq!(code.expires_in, 900);
        assert_eq!(code.verification_uri_complete, "http://h/device");
        assert!(!code.user_code.contains('\u{1b}'), "escaped: {}", code.user_code);
        assert!(DeviceCode::parse(br#"{"device_code":"a b\n","user_code":"x","verification_uri":"u"}"#).is_err());
        assert!(DeviceCode::parse(b"<html>").is_err());
    }

    #[test]
    fn a_hub_is_known_by_its_origin() {
        assert_eq!(origin_of("https://huggingface.co/"), "https://huggingface.co");
        assert_eq!(origin_of(" https://HuggingFace.co:443/api "), "https://huggingface.co");
        assert_eq!(origin_of("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
        assert_ne!(origin_of("http://127.0.0.1:8080"), origin_of("http://127.0.0.1:8081"));
        assert_ne!(origin_of("http://huggingface.co"), origin_of("https://huggingface.co"));
        // Not a URL (a hand-edited file): kept, on one line, with no control character.
        let odd = origin_of("mirror\u{1b}[2J\nnext");
        assert!(!odd.chars().any(char::is_control), "{odd:?}");
    }

    #[test]
    fn notes_follow_python() {
        let t = |refresh: bool, secs| OAuthTokens {
            access_token: Token::new("hf_x"),
            refresh_token: refresh.then(|| Token::new("r")),
            expires_in: secs,
        };
        assert_eq!(
            t(true, Some(60)).expiration_note().unwrap(),
            "This token will be refreshed automatically when it expires."
        );
        assert_eq!(
            t(false, Some(60)).expiration_note().unwrap(),
            "This token expires in 1 days. Log in again to renew it."
        );
        assert_eq!(
            t(false, Some(3 * 86_400)).expiration_note().unwrap(),
            "This token expires in 3 days. Log in again to renew it."
        );
        assert_eq!(t(true, None).expiration_note(), None);
        let entry = t(true, Some(10)).stored_entry(100);
        assert_eq!(entry.expires_at(), Some(110));
        assert_eq!(entry.field("refresh_token"), Some("r"));
    }
}
