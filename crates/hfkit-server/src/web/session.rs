//! Browser sessions, CSRF and sign-in throttling: what every signed-in page relies on.
//!
//! - A session id is 32 random bytes (hex) in the `hfkit_session` cookie; the store keeps
//!   only its SHA-256, with the user, an expiry ([`SESSION_SECS`]) and the session's CSRF
//!   token. Signing in always makes a new id (and ends the session the browser had), so an
//!   id planted before sign-in is worthless; signing out deletes it from the store; setting a
//!   password ends every session of the user.
//! - The cookie is `HttpOnly; SameSite=Lax; Path=/` and `Secure` whenever the browser can
//!   keep a Secure cookie: the request came over https (`X-Forwarded-Proto: https` from a
//!   TLS proxy), or the host is loopback (`localhost`, `127.0.0.0/8`, `[::1]`), which
//!   browsers treat as a secure origin even over plain http. On plain http to a LAN address
//!   the browser would drop a Secure cookie and nobody could sign in, so it is sent without
//!   `Secure`: put a server reached over a network behind TLS (see `docs/compatibility.md`).
//! - Every form carries a CSRF token, compared in constant time: a session's own token on
//!   signed-in forms ([`CsrfForm`]), a double-submit cookie on the sign-in form. A form
//!   whose `Origin` (or `Sec-Fetch-Site`) says another site sent it is refused as well.
//! - Failed sign-ins are counted per user and per client address ([`Throttle`]; behind a
//!   proxy on this machine, the address it forwards, see [`client_address`]): past
//!   [`FREE_FAILURES`], each failure doubles a wait during which attempts are refused
//!   without checking the password.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use serde::de::DeserializeOwned;

use super::{Nav, PageError};
use crate::HubState;
use crate::accounts::User;
use crate::auth::token::TokenHash;
use crate::store::NewSession;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "hfkit_session";
/// The sign-in form's double-submit CSRF cookie.
pub const LOGIN_CSRF_COOKIE: &str = "hfkit_login_csrf";
/// How long a session lasts (7 days).
pub const SESSION_SECS: i64 = 7 * 24 * 3600;
/// Failed sign-ins allowed before waits begin (per user, and per client address).
pub const FREE_FAILURES: u32 = 5;
/// The longest wait after failed sign-ins.
const MAX_WAIT: Duration = Duration::from_secs(15 * 60);
/// Throttle entries kept at most (the oldest are dropped first).
const MAX_THROTTLE_ENTRIES: usize = 10_000;
/// Largest form body read.
const MAX_FORM_BYTES: usize = 64 * 1024;

/// 32 random bytes, hex: a session id or a CSRF token.
pub(crate) fn random_hex() -> Result<String, PageError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| {
        crate::log::line(&format!("page: cannot draw random bytes: {e}"));
        PageError::Internal
    })?;
    Ok(crate::repos::hex(&bytes))
}

/// Compares two strings in constant time (for equal lengths).
pub(crate) fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub(crate) fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// Whether cookies to this request's browser can be `Secure` (see the module's notes).
pub(crate) fn secure_origin(headers: &HeaderMap) -> bool {
    let forwarded_https = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"));
    forwarded_https || headers.get(header::HOST).and_then(|h| h.to_str().ok()).is_some_and(is_loopback_host)
}

fn is_loopback_host(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else {
        host.rsplit_once(':')
            .map_or(host, |(name, port)| if port.bytes().all(|b| b.is_ascii_digit()) { name } else { host })
    };
    let name = name.to_ascii_lowercase();
    name == "localhost"
        || name.ends_with(".localhost")
        || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// A `Set-Cookie` value: `HttpOnly`, `SameSite`, `Path`, `Max-Age`, and `Secure` when it can be.
pub(crate) fn set_cookie(
    headers: &HeaderMap,
    name: &str,
    value: &str,
    path: &str,
    same_site: &str,
    max_age: i64,
) -> String {
    let secure = if secure_origin(headers) { "; Secure" } else { "" };
    format!("{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite={same_site}{secure}")
}

/// Refuses a form another site made the browser send: a foreign `Origin`, or
/// `Sec-Fetch-Site: cross-site`.
pub(crate) fn check_origin(headers: &HeaderMap) -> Result<(), PageError> {
    let refused = || PageError::Forbidden("This form was sent from another site, so it was refused.".to_owned());
    if headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) == Some("cross-site") {
        return Err(refused());
    }
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or_default();
        let origin_host = origin.split_once("://").map_or("", |(_, rest)| rest);
        if origin == "null" || !origin_host.eq_ignore_ascii_case(host) {
            return Err(refused());
        }
    }
    Ok(())
}

/// Percent-encodes a path for `?next=`.
pub(crate) fn encode_next(path: &str) -> String {
    path.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Where to go after signing in: a path on this server only (never `//host` or a URL).
/// Only visible ASCII is kept: browsers drop tabs and line breaks from a `Location`, so
/// `/<TAB>/evil.example` would become `//evil.example`, and a line break cannot be a header.
pub(crate) fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.contains('\\')
                && !n.contains("://")
                && n.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            n.to_owned()
        }
        _ => "/".to_owned(),
    }
}

/// A signed-in visitor: the user and their session.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The user, as the store has them now.
    pub user: User,
    /// The session's CSRF token, for the forms of the page.
    pub csrf: String,
    /// The hash of the session id (to end it).
    pub(crate) session: TokenHash,
}

impl SignedIn {
    /// The layout's view of this visitor.
    pub fn nav(&self) -> Nav {
        Nav { user: Some(self.user.name.clone()), csrf: self.csrf.clone(), search: String::new() }
    }
}

/// The visitor of a page: signed in or not (an unknown or expired session is "not").
#[derive(Debug, Clone)]
pub struct Viewer(pub Option<SignedIn>);

impl Viewer {
    /// The layout's view of this visitor.
    pub fn nav(&self) -> Nav {
        self.0.as_ref().map(SignedIn::nav).unwrap_or_default()
    }

    /// Whether the visitor is the operator (sees every repo, decides every request).
    pub fn is_admin(&self) -> bool {
        self.0.as_ref().is_some_and(|s| s.user.admin)
    }

    /// The caller the access policy sees.
    pub fn caller(&self) -> crate::auth::Caller {
        self.0.as_ref().map_or(crate::auth::Caller::Anonymous, |s| crate::auth::Caller::signed_in(s.user.clone()))
    }
}

/// The session named by the request's cookie, if it is live and its user exists.
pub(crate) fn session_of(state: &HubState, headers: &HeaderMap) -> Result<Option<SignedIn>, PageError> {
    let Some(id) = cookie(headers, SESSION_COOKIE) else { return Ok(None) };
    if id.len() != 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    let hash = TokenHash::of(id);
    let Some(record) = state.store().session(&hash)? else { return Ok(None) };
    let Some(user) = state.store().user(&record.user)? else { return Ok(None) };
    Ok(Some(SignedIn { user, csrf: record.csrf, session: hash }))
}

impl FromRequestParts<Arc<HubState>> for Viewer {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<HubState>) -> Result<Self, PageError> {
        session_of(state, &parts.headers).map(Viewer)
    }
}

impl FromRequestParts<Arc<HubState>> for SignedIn {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<HubState>) -> Result<Self, PageError> {
        let next = parts.uri.path_and_query().map_or("/", axum::http::uri::PathAndQuery::as_str);
        session_of(state, &parts.headers)?.ok_or_else(|| PageError::SignIn { next: next.to_owned() })
    }
}

/// Starts a session for `user` (ending `previous`, the browser's old one): the
/// `Set-Cookie` value to send.
pub(crate) fn start(
    state: &HubState,
    headers: &HeaderMap,
    user: &str,
    previous: Option<&TokenHash>,
) -> Result<String, PageError> {
    if let Some(old) = previous {
        state.store().delete_session(old)?;
    }
    let id = random_hex()?;
    let now = hfkit::time::now_unix();
    state.store().insert_session(&NewSession {
        hash: TokenHash::of(&id),
        user: user.to_owned(),
        csrf: random_hex()?,
        expires_at: now + SESSION_SECS,
    })?;
    Ok(set_cookie(headers, SESSION_COOKIE, &id, "/", "Lax", SESSION_SECS))
}

/// A form posted by a signed-in user from one of our pages: the origin checked, the
/// session's CSRF token (field `csrf`) compared in constant time, then the fields parsed
/// into `T`.
#[derive(Debug)]
pub struct CsrfForm<T> {
    /// Who sent it.
    pub signed_in: SignedIn,
    /// The form's fields.
    pub form: T,
}

#[derive(serde::Deserialize)]
struct CsrfField {
    #[serde(default)]
    csrf: String,
}

/// Reads a form body (at most [`MAX_FORM_BYTES`]) after checking its origin.
pub(crate) async fn read_form(request: Request) -> Result<(Parts, bytes::Bytes), PageError> {
    let (parts, body) = request.into_parts();
    check_origin(&parts.headers)?;
    let bytes = axum::body::to_bytes(body, MAX_FORM_BYTES)
        .await
        .map_err(|_| PageError::BadRequest("The form is too large.".to_owned()))?;
    Ok((parts, bytes))
}

/// Parses a form body into `T`.
pub(crate) fn parse_form<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, PageError> {
    serde_urlencoded::from_bytes(bytes).map_err(|e| PageError::BadRequest(format!("The form could not be read: {e}.")))
}

impl<T: DeserializeOwned + Send> FromRequest<Arc<HubState>> for CsrfForm<T> {
    type Rejection = PageError;

    async fn from_request(request: Request, state: &Arc<HubState>) -> Result<Self, PageError> {
        let (parts, bytes) = read_form(request).await?;
        let signed_in = session_of(state, &parts.headers)?.ok_or_else(|| PageError::SignIn { next: "/".to_owned() })?;
        let sent: CsrfField = parse_form(&bytes)?;
        if !same_secret(&sent.csrf, &signed_in.csrf) {
            return Err(PageError::Forbidden(
                "This form's security token is missing or out of date: reload the page and send it again.".to_owned(),
            ));
        }
        Ok(Self { signed_in, form: parse_form(&bytes)? })
    }
}

/// The client's address, when the server knows it (`unknown` in tests that skip sockets).
/// Behind a TLS proxy on this machine every browser arrives from loopback, so one client's
/// failures would slow down everyone: for a loopback peer, the address the proxy appended
/// last to `X-Forwarded-For` is the client's (entries before it are the client's own words).
pub(crate) fn client_address(parts: &Parts) -> String {
    let Some(peer) = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip()) else {
        return "unknown".to_owned();
    };
    let forwarded = || {
        let last = parts.headers.get_all("x-forwarded-for").iter().next_back()?.to_str().ok()?;
        last.rsplit(',').next()?.trim().parse::<std::net::IpAddr>().ok()
    };
    match forwarded() {
        Some(client) if peer.is_loopback() => client.to_string(),
        _ => peer.to_string(),
    }
}

/// Failed sign-ins per key (`user:NAME`, `ip:ADDR`), in memory: a restart forgives them.
#[derive(Debug, Default)]
pub struct Throttle {
    entries: Mutex<HashMap<String, Failures>>,
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
    blocked_until: Option<Instant>,
}

impl Throttle {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Failures>> {
        self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The seconds to wait before `keys` may try again (`None`: go ahead).
    pub fn wait(&self, keys: &[String]) -> Option<u64> {
        let now = Instant::now();
        let entries = self.lock();
        keys.iter()
            .filter_map(|k| entries.get(k)?.blocked_until)
            .filter(|until| *until > now)
            .map(|until| (until - now).as_secs() + 1)
            .max()
    }

    /// Counts a failure for each of `keys`.
    pub fn fail(&self, keys: &[String]) {
        let now = Instant::now();
        let mut entries = self.lock();
        entries.retain(|_, f| now.duration_since(f.last) < MAX_WAIT);
        if entries.len() >= MAX_THROTTLE_ENTRIES
            && let Some(oldest) = entries.iter().min_by_key(|(_, f)| f.last).map(|(k, _)| k.clone())
        {
            entries.remove(&oldest);
        }
        for key in keys {
            let f = entries.entry(key.clone()).or_insert(Failures { count: 0, last: now, blocked_until: None });
            f.count += 1;
            f.last = now;
            if f.count > FREE_FAILURES {
                let doublings = (f.count - FREE_FAILURES - 1).min(20);
                let wait = Duration::from_secs(1u64 << doublings).min(MAX_WAIT);
                f.blocked_until = Some(now + wait);
            }
        }
    }

    /// Forgets the failures of `keys` (after a successful sign-in).
    pub fn forgive(&self, keys: &[String]) {
        let mut entries = self.lock();
        for key in keys {
            entries.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_are_secure_origins() {
        for host in ["localhost", "localhost:8080", "127.0.0.1:5000", "127.3.4.5", "[::1]:80", "app.localhost"] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in ["10.0.0.5:8080", "hub.example.org", "localhost.example.org", "[fe80::1]:80"] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    #[test]
    fn next_stays_on_this_server() {
        assert_eq!(safe_next(Some("/settings/tokens")), "/settings/tokens");
        for bad in [
            "//evil.example/x",
            "https://evil.example",
            "/\\evil.example",
            "relative",
            "/\t/evil.example",
            "/\n/evil.example",
            "/\r\nSet-Cookie: a=b",
            "/ /x",
            "/caf\u{e9}",
        ] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad}");
        }
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn failures_past_the_free_ones_make_a_growing_wait() {
        let throttle = Throttle::default();
        let keys = ["user:alice".to_owned()];
        for _ in 0..FREE_FAILURES {
            throttle.fail(&keys);
        }
        assert_eq!(throttle.wait(&keys), None, "the free failures cost nothing");
        throttle.fail(&keys);
        assert!(throttle.wait(&keys).is_some());
        assert_eq!(throttle.wait(&["user:bob".to_owned()]), None, "others are not slowed");
        throttle.forgive(&keys);
        assert_eq!(throttle.wait(&keys), None);
    }

    #[test]
    fn secrets_compare_equal_only_when_equal() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "ab"));
        assert!(!same_secret("", "a"));
    }
}
