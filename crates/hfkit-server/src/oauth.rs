//! The browser login on the server: the OAuth 2.0 device authorization grant (RFC 8628),
//! its tokens and their refresh, as huggingface_hub 2.4's `hf auth login` uses them.
//!
//! A client asks for a device code ([`start`]); a person who is signed in approves or denies
//! its user code ([`decide`] — called by the operator's `hf serve device approve|deny` and by
//! the approval page, which can show the waiting device first with [`pending`]); the client polls ([`poll`]) and, once approved, receives an access
//! token that expires and a refresh token. A refresh ([`refresh`]) spends the refresh token
//! and issues a new pair, so an old refresh token is refused afterwards; a refresh token
//! whose access token was deleted (on the Access Tokens page) is refused too. Every answer the
//! token endpoint can give is an [`OAuthError`] with the RFC's error code.
//!
//! The store keeps only hashes of device codes, user codes and tokens. Times come from the
//! wall clock; the lifetimes are [`DeviceFlowSettings`] (short ones make tests fast).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::accounts::Role;
use crate::auth::token::{self, TokenHash};
use crate::store::{DeviceCodeInsert, DeviceState, NewDeviceCode, NewToken, Store, StoreError};

/// The grant type of a device-code poll.
pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// The grant type of a refresh.
pub const REFRESH_TOKEN_GRANT: &str = "refresh_token";
/// The path of the page where a person enters or confirms a user code.
pub const VERIFICATION_PATH: &str = "/device";
/// Prefix of OAuth access tokens: the `hf_` and 34 letters of every token this server
/// issues, so `hf auth scan` finds a leaked one (the Hub's `hf_oauth_…` is not its shape).
const ACCESS_PREFIX: &str = token::PREFIX;
/// Prefix of refresh tokens.
const REFRESH_PREFIX: &str = "hfr_";
/// Letters of user codes: no vowels (no words), no look-alikes (RFC 8628 §6.1).
const USER_CODE_ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";
/// Letters in a user code (shown as `ABCD-EFGH`).
const USER_CODE_LEN: usize = 8;
/// A poll this much earlier than the interval is still accepted (network jitter).
const POLL_SLACK_MS: i64 = 200;
/// How much `slow_down` adds to the interval (RFC 8628 §3.5).
const SLOW_DOWN_SECS: i64 = 5;

/// Lifetimes of the device flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceFlowSettings {
    /// How long a device code waits for a decision (`expires_in`).
    pub code_lifetime: Duration,
    /// Seconds between polls the client is told to keep (`interval`).
    pub interval: Duration,
    /// How long an access token works.
    pub access_lifetime: Duration,
    /// How long a refresh token can be used.
    pub refresh_lifetime: Duration,
    /// Device codes that may wait at once: past it, a new one is refused (`slow_down`,
    /// 429), so that a flood of `POST /oauth/device` cannot grow the database without end.
    pub max_waiting: u64,
}

impl Default for DeviceFlowSettings {
    fn default() -> Self {
        Self {
            code_lifetime: Duration::from_secs(900),
            interval: Duration::from_secs(5),
            access_lifetime: Duration::from_secs(7 * 86_400),
            refresh_lifetime: Duration::from_secs(90 * 86_400),
            max_waiting: 1_000,
        }
    }
}

/// The answer to a device authorization request.
#[derive(Debug, Clone)]
pub struct DeviceAuthorization {
    /// The client's secret for polling; shown to that client only.
    pub device_code: hfkit::secret::Token,
    /// What the person types or confirms, `ABCD-EFGH`.
    pub user_code: String,
    /// Seconds until the codes expire.
    pub expires_in: u64,
    /// Seconds between polls.
    pub interval: u64,
}

/// Tokens issued by a poll or a refresh.
#[derive(Debug, Clone)]
pub struct IssuedTokens {
    /// The access token.
    pub access_token: hfkit::secret::Token,
    /// The refresh token.
    pub refresh_token: hfkit::secret::Token,
    /// Seconds the access token works.
    pub expires_in: u64,
    /// The user they belong to.
    pub user: String,
}

/// An OAuth error answer of the token endpoint (RFC 6749 §5.2, RFC 8628 §3.5).
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// The RFC's answer: `error` and `error_description`.
    #[error("{code}: {description}")]
    Refused {
        /// `authorization_pending`, `slow_down`, `expired_token`, `access_denied`, `invalid_grant`…
        code: &'static str,
        /// A sentence for people.
        description: String,
    },
    /// Too many device codes wait for a decision already ([`DeviceFlowSettings::max_waiting`]).
    #[error("too many logins are waiting for approval on this server; try again in a few minutes")]
    TooManyWaiting,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The system's random source failed.
    #[error("no random numbers for a new code: {0}")]
    Random(String),
}

fn refused(code: &'static str, description: impl Into<String>) -> OAuthError {
    OAuthError::Refused { code, description: description.into() }
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

fn random_token(prefix: &str) -> Result<hfkit::secret::Token, OAuthError> {
    let raw = token::generate().map_err(|e| OAuthError::Random(e.to_string()))?;
    Ok(hfkit::secret::Token::new(format!("{prefix}{}", &raw.expose()[token::PREFIX.len()..])))
}

fn random_user_code() -> Result<String, OAuthError> {
    let mut code = String::with_capacity(USER_CODE_LEN);
    let mut pool = [0u8; 32];
    while code.len() < USER_CODE_LEN {
        getrandom::fill(&mut pool).map_err(|e| OAuthError::Random(e.to_string()))?;
        // 20 letters: bytes of 240 and above are dropped so every letter is equally likely.
        for &b in pool.iter().filter(|&&b| b < 240) {
            if code.len() == USER_CODE_LEN {
                break;
            }
            code.push(char::from(USER_CODE_ALPHABET[usize::from(b) % USER_CODE_ALPHABET.len()]));
        }
    }
    Ok(code)
}

/// A user code as typed (any case, with or without the dash or spaces), checked: `None`
/// unless it has the shape this server issues. The result is the form that is hashed.
pub fn normalize_user_code(typed: &str) -> Option<String> {
    let code: String = typed.chars().filter(|c| !matches!(c, '-' | ' ')).map(|c| c.to_ascii_uppercase()).collect();
    (code.len() == USER_CODE_LEN && code.bytes().all(|b| USER_CODE_ALPHABET.contains(&b))).then_some(code)
}

/// How a user code is shown: `ABCD-EFGH`.
fn display_user_code(code: &str) -> String {
    format!("{}-{}", &code[..USER_CODE_LEN / 2], &code[USER_CODE_LEN / 2..])
}

/// Issues a device code for `client_id`.
pub fn start(
    store: &dyn Store,
    settings: &DeviceFlowSettings,
    client_id: &str,
) -> Result<DeviceAuthorization, OAuthError> {
    // A clash of two random codes is next to impossible; a few tries make it impossible.
    for _ in 0..5 {
        let device_code = random_token("")?;
        let user_code = random_user_code()?;
        let created_ms = now_ms();
        let lifetime_ms = i64::try_from(settings.code_lifetime.as_millis()).unwrap_or(i64::MAX);
        let added = store.insert_device_code(
            &NewDeviceCode {
                device_hash: TokenHash::of(device_code.expose()),
                user_code_hash: TokenHash::of(&user_code),
                client_id: client_id.to_owned(),
                created_ms,
                expires_ms: created_ms.saturating_add(lifetime_ms),
                interval_secs: secs(settings.interval),
            },
            settings.max_waiting,
        )?;
        match added {
            DeviceCodeInsert::Added => {
                return Ok(DeviceAuthorization {
                    device_code,
                    user_code: display_user_code(&user_code),
                    expires_in: settings.code_lifetime.as_secs(),
                    interval: settings.interval.as_secs(),
                });
            }
            DeviceCodeInsert::Full => return Err(OAuthError::TooManyWaiting),
            DeviceCodeInsert::Taken => {}
        }
    }
    Err(OAuthError::Random("five new device codes in a row were taken".to_owned()))
}

/// Answers one poll of the token endpoint with the device code `device_code`.
pub fn poll(
    store: &dyn Store,
    settings: &DeviceFlowSettings,
    device_code: &str,
    client_id: Option<&str>,
) -> Result<IssuedTokens, OAuthError> {
    let record = store
        .device_code(&TokenHash::of(device_code))?
        .ok_or_else(|| refused("invalid_grant", "this device code is unknown"))?;
    if client_id.is_some_and(|c| c != record.client_id) {
        return Err(refused("invalid_grant", "this device code was issued to another client"));
    }
    let now = now_ms();
    match record.state {
        DeviceState::Denied => return Err(refused("access_denied", "the request was denied")),
        DeviceState::Used => return Err(refused("invalid_grant", "this device code was used already")),
        DeviceState::Pending | DeviceState::Approved => {}
    }
    if now >= record.expires_ms {
        return Err(refused("expired_token", "the device code expired before it was approved"));
    }
    if let Some(last) = record.last_poll_ms
        && now - last < record.interval_secs * 1000 - POLL_SLACK_MS
    {
        let interval = record.interval_secs + SLOW_DOWN_SECS;
        store.record_device_poll(record.id, now, interval)?;
        return Err(refused("slow_down", format!("poll at most every {interval} seconds")));
    }
    store.record_device_poll(record.id, now, record.interval_secs)?;
    let user = match (record.state, record.user) {
        (DeviceState::Approved, Some(user)) if store.consume_device_code(record.id)? => user,
        (DeviceState::Approved, _) => return Err(refused("invalid_grant", "this device code was used already")),
        _ => return Err(refused("authorization_pending", "waiting for the user to approve this device")),
    };
    issue(store, settings, &user)
}

/// Spends `refresh_token` and issues a new access token and a new refresh token.
pub fn refresh(
    store: &dyn Store,
    settings: &DeviceFlowSettings,
    refresh_token: &str,
) -> Result<IssuedTokens, OAuthError> {
    let now = now_ms() / 1000;
    let user = store.use_refresh_token(&TokenHash::of(refresh_token), now)?.ok_or_else(|| {
        refused("invalid_grant", "the refresh token is unknown, expired, revoked or was used already; log in again")
    })?;
    issue(store, settings, &user)
}

fn issue(store: &dyn Store, settings: &DeviceFlowSettings, user: &str) -> Result<IssuedTokens, OAuthError> {
    let now = now_ms() / 1000;
    let access_token = random_token(ACCESS_PREFIX)?;
    let refresh_token = random_token(REFRESH_PREFIX)?;
    let access = store.insert_oauth_token(
        &NewToken {
            hash: TokenHash::of(access_token.expose()),
            last_four: token::last_four(access_token.expose()),
            user: user.to_owned(),
            name: None,
            role: Role::Write,
        },
        now.saturating_add(secs(settings.access_lifetime)),
    )?;
    store.insert_refresh_token(
        &TokenHash::of(refresh_token.expose()),
        user,
        Some(access.id),
        now.saturating_add(secs(settings.refresh_lifetime)),
    )?;
    Ok(IssuedTokens {
        access_token,
        refresh_token,
        expires_in: settings.access_lifetime.as_secs(),
        user: user.to_owned(),
    })
}

/// A person's decision on a user code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Let the device log in as this user.
    Approve {
        /// The signed-in user (must exist).
        user: String,
    },
    /// Refuse the device.
    Deny,
}

/// Why a decision was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum DecideError {
    /// Not the shape of a user code.
    #[error("`{0}` is not a device code: it has 8 letters, like BCDF-GHJK")]
    Malformed(String),
    /// No such code (never issued, or forgotten a day after it expired).
    #[error("no device is waiting with the code {0}: check the code shown by `hf auth login`")]
    Unknown(String),
    /// Expired before the decision.
    #[error("the code {0} expired; run `hf auth login` again for a new code")]
    Expired(String),
    /// Approved or denied already.
    #[error("the code {0} was already {1}")]
    Decided(String, &'static str),
    /// The store failed, or the user does not exist.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A device waiting for a decision, as the approval page shows it before asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingDevice {
    /// The user code, `BCDF-GHJK`.
    pub user_code: String,
    /// The OAuth client that asked (huggingface_hub's is `26be6b09-…`).
    pub client_id: String,
    /// Seconds left before the code expires.
    pub expires_in: u64,
    /// The store's id for it.
    id: i64,
}

/// The device waiting with `user_code` (typed in any case, with or without its dash), if it
/// still waits: the same refusals as [`decide`], without deciding.
pub fn pending(store: &dyn Store, user_code: &str) -> Result<PendingDevice, DecideError> {
    let code = normalize_user_code(user_code).ok_or_else(|| DecideError::Malformed(user_code.to_owned()))?;
    let shown = display_user_code(&code);
    let record =
        store.device_code_by_user_code(&TokenHash::of(&code))?.ok_or_else(|| DecideError::Unknown(shown.clone()))?;
    let left_ms = record.expires_ms - now_ms();
    match record.state {
        DeviceState::Pending if left_ms <= 0 => Err(DecideError::Expired(shown)),
        DeviceState::Pending => Ok(PendingDevice {
            user_code: shown,
            client_id: record.client_id,
            expires_in: u64::try_from(left_ms / 1000).unwrap_or(0),
            id: record.id,
        }),
        DeviceState::Approved | DeviceState::Used => Err(DecideError::Decided(shown, "approved")),
        DeviceState::Denied => Err(DecideError::Decided(shown, "denied")),
    }
}

/// Records `decision` on the device waiting with `user_code` (typed in any case, with or
/// without its dash). The device's next poll gets its tokens, or `access_denied`.
pub fn decide(store: &dyn Store, user_code: &str, decision: &Decision) -> Result<(), DecideError> {
    let device = pending(store, user_code)?;
    let user = match decision {
        Decision::Approve { user } => Some(user.as_str()),
        Decision::Deny => None,
    };
    if store.decide_device_code(device.id, user, now_ms())? {
        Ok(())
    } else {
        // Decided or expired between the read and the write.
        Err(DecideError::Expired(device.user_code))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SqliteStore;
    use crate::accounts::User;

    fn store() -> SqliteStore {
        let store = SqliteStore::in_memory().unwrap();
        store.add_user(&User::named("alice")).unwrap();
        store
    }

    fn code(e: OAuthError) -> &'static str {
        match e {
            OAuthError::Refused { code, .. } => code,
            other => panic!("{other}"),
        }
    }

    #[test]
    fn user_codes_are_checked_and_normalized() {
        assert_eq!(normalize_user_code("bcdf-ghjk").as_deref(), Some("BCDFGHJK"));
        assert_eq!(normalize_user_code(" BCDF GHJK ").as_deref(), Some("BCDFGHJK"));
        for bad in ["", "BCDF-GHJ", "ABCD-EFGH", "BCDF-GHJKL", "BCDF/GHJK"] {
            assert_eq!(normalize_user_code(bad), None, "{bad}");
        }
        let c = random_user_code().unwrap();
        assert_eq!(normalize_user_code(&display_user_code(&c)), Some(c));
    }

    #[test]
    fn approve_then_poll_issues_once_and_refresh_rotates() {
        let s = store();
        let settings = DeviceFlowSettings { interval: Duration::from_secs(0), ..DeviceFlowSettings::default() };
        let auth = start(&s, &settings, "cli").unwrap();
        assert_eq!(code(poll(&s, &settings, auth.device_code.expose(), None).unwrap_err()), "authorization_pending");
        let waiting = pending(&s, &auth.user_code.replace('-', " ")).unwrap();
        assert_eq!((waiting.user_code.as_str(), waiting.client_id.as_str()), (auth.user_code.as_str(), "cli"));
        assert!((899..=900).contains(&waiting.expires_in), "{}", waiting.expires_in);
        decide(&s, &auth.user_code.to_lowercase(), &Decision::Approve { user: "alice".into() }).unwrap();
        assert!(matches!(pending(&s, &auth.user_code), Err(DecideError::Decided(_, "approved"))));
        assert!(matches!(decide(&s, &auth.user_code, &Decision::Deny), Err(DecideError::Decided(_, "approved"))));
        let issued = poll(&s, &settings, auth.device_code.expose(), Some("cli")).unwrap();
        assert!(hfkit::leaks::pattern::Matcher::new().find_all(issued.access_token.expose().as_bytes()).len() == 1);
        assert_eq!(code(poll(&s, &settings, auth.device_code.expose(), None).unwrap_err()), "invalid_grant");
        let record = crate::auth::find_token(&s, issued.access_token.expose()).unwrap().unwrap();
        assert!(s.oauth_token_expiry(record.id).unwrap().is_some());
        let again = refresh(&s, &settings, issued.refresh_token.expose()).unwrap();
        assert_ne!(again.refresh_token, issued.refresh_token);
        assert_eq!(code(refresh(&s, &settings, issued.refresh_token.expose()).unwrap_err()), "invalid_grant");
        refresh(&s, &settings, again.refresh_token.expose()).unwrap();
    }

    #[test]
    fn device_codes_waiting_at_once_are_bounded() {
        let s = store();
        let settings = DeviceFlowSettings { max_waiting: 2, ..DeviceFlowSettings::default() };
        start(&s, &settings, "cli").unwrap();
        let second = start(&s, &settings, "cli").unwrap();
        assert!(matches!(start(&s, &settings, "cli"), Err(OAuthError::TooManyWaiting)));
        // A code used (logged in) no longer waits.
        decide(&s, &second.user_code, &Decision::Approve { user: "alice".into() }).unwrap();
        let instant = DeviceFlowSettings { interval: Duration::ZERO, ..settings };
        poll(&s, &instant, second.device_code.expose(), None).unwrap();
        start(&s, &settings, "cli").unwrap();
        assert!(matches!(start(&s, &settings, "cli"), Err(OAuthError::TooManyWaiting)));
        // Nor does a denied one.
        let s2 = store();
        let one = DeviceFlowSettings { max_waiting: 1, ..DeviceFlowSettings::default() };
        let first = start(&s2, &one, "cli").unwrap();
        assert!(matches!(start(&s2, &one, "cli"), Err(OAuthError::TooManyWaiting)));
        decide(&s2, &first.user_code, &Decision::Deny).unwrap();
        start(&s2, &one, "cli").unwrap();
        // Nor does an expired one.
        let s = store();
        let brief = DeviceFlowSettings { code_lifetime: Duration::ZERO, ..settings };
        for _ in 0..3 {
            start(&s, &brief, "cli").unwrap();
        }
        start(&s, &settings, "cli").unwrap();
    }

    #[test]
    fn denied_expired_and_fast_polls() {
        let s = store();
        let settings = DeviceFlowSettings { interval: Duration::from_secs(1), ..DeviceFlowSettings::default() };
        let auth = start(&s, &settings, "cli").unwrap();
        let device = auth.device_code.expose();
        assert_eq!(code(poll(&s, &settings, device, None).unwrap_err()), "authorization_pending");
        assert_eq!(code(poll(&s, &settings, device, None).unwrap_err()), "slow_down");
        assert_eq!(s.device_code(&TokenHash::of(device)).unwrap().unwrap().interval_secs, 6);
        decide(&s, &auth.user_code, &Decision::Deny).unwrap();
        assert_eq!(code(poll(&s, &settings, device, None).unwrap_err()), "access_denied");
        let gone = DeviceFlowSettings { code_lifetime: Duration::ZERO, ..settings };
        let auth = start(&s, &gone, "cli").unwrap();
        assert_eq!(code(poll(&s, &gone, auth.device_code.expose(), None).unwrap_err()), "expired_token");
        assert!(matches!(decide(&s, &auth.user_code, &Decision::Deny), Err(DecideError::Expired(_))));
        assert!(matches!(decide(&s, "BCDF-GHJK", &Decision::Deny), Err(DecideError::Unknown(_))));
        assert_eq!(code(poll(&s, &settings, "nope", None).unwrap_err()), "invalid_grant");
    }

    #[test]
    fn expired_access_tokens_are_refused() {
        let s = store();
        let settings = DeviceFlowSettings {
            interval: Duration::ZERO,
            access_lifetime: Duration::ZERO,
            ..DeviceFlowSettings::default()
        };
        let auth = start(&s, &settings, "cli").unwrap();
        decide(&s, &auth.user_code, &Decision::Approve { user: "alice".into() }).unwrap();
        let issued = poll(&s, &settings, auth.device_code.expose(), None).unwrap();
        assert!(crate::auth::find_token(&s, issued.access_token.expose()).unwrap().is_none());
    }
}
