//! The HTTP client for the Hub's API, and what its answers mean.
//!
//! One [`HubClient`] per process: a connection pool, the user agent, the endpoint, and
//! offline mode, which refuses every request before anything is sent. Failures become
//! [`ApiError`]s that say what went wrong and what to do: a 401 names the token's source and
//! how to replace it, an unreachable endpoint names the URL and `HF_HUB_OFFLINE`, and the
//! Hub's own `X-Error-Message` is always shown.
//!
//! Every answer is outside input, bounded before it is trusted:
//!
//! - **Time.** A metadata request (the `HEAD` of a file, repo info, a tree page, whoami) must
//!   answer within `HF_HUB_ETAG_TIMEOUT` seconds, and each read of its body must come within
//!   that time too, with [`METADATA_BODY_DEADLINE`] for the whole body, so a server that
//!   trickles cannot hold a command for minutes. File transfers have `HF_HUB_DOWNLOAD_TIMEOUT`
//!   to connect and to answer, and per read (see `download::transfer`).
//! - **Size.** A JSON body larger than [`MAX_JSON_BODY`] is refused; of an error body only the
//!   first [`MAX_ERROR_BODY`] bytes are read.
//! - **Values.** Commit hashes, etags, paths and links are parsed into checked types where they
//!   are read ([`crate::hashes`], [`files`]); a bad one is [`ApiError::BadValue`], naming the
//!   URL, the field and the value, escaped.
//! - **Text.** The Hub's messages are kept with their control characters escaped
//!   ([`crate::text`]), so an error can be printed as it is.

mod files;
pub mod headers;
mod network;
mod oauth;

use std::time::{Duration, Instant};

use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::Deserialize;

use crate::auth::oidc::{self, ExchangeRequest, IdTokenSource, OidcError, OidcPlan};
use crate::auth::{ResolvedToken, TokenSource};
use crate::config::Config;
use crate::secret::Token;

pub use files::{FileMetadata, LfsInfo, MAX_FILE_SIZE, RepoInfo, TreeEntry, same_origin};

/// Largest JSON body read (repo info, a page of a tree listing, whoami).
pub const MAX_JSON_BODY: usize = 32 << 20;
/// How much of an error body is read for its message.
pub const MAX_ERROR_BODY: usize = 64 << 10;
/// Longest time the body of a metadata answer may take, however it trickles.
pub const METADATA_BODY_DEADLINE: Duration = Duration::from_secs(60);
/// Longest server message kept for display.
const MAX_MESSAGE_CHARS: usize = 2000;

/// hfkit's version, sent in the user agent.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// A request to the Hub that did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Offline mode forbids the request.
    #[error(
        "Cannot reach {url}: offline mode is enabled (HF_HUB_OFFLINE=1).\n\nhint: unset HF_HUB_OFFLINE to allow network access"
    )]
    Offline {
        /// The URL that would have been requested.
        url: String,
    },
    /// No connection could be made (DNS, refused, TLS, timeout).
    #[error(
        "Cannot reach {url}: {detail}\n\nhint: check your network connection and HF_ENDPOINT ({endpoint}); to use only what is already cached, set HF_HUB_OFFLINE=1"
    )]
    Unreachable {
        /// The URL.
        url: String,
        /// The endpoint in use.
        endpoint: String,
        /// What failed.
        detail: String,
    },
    /// The token was refused (401).
    #[error("{}", unauthorized_message(.token_source.as_ref(), url, server_message.as_deref(), endpoint))]
    Unauthorized {
        /// The URL.
        url: String,
        /// The endpoint, for the "create a token" link.
        endpoint: String,
        /// Where the refused token came from (`None`: no token was sent).
        token_source: Option<TokenSource>,
        /// The Hub's explanation.
        server_message: Option<String>,
    },
    /// Any other error status.
    #[error("{status} for {url}{}{}", details.request_id.as_ref().map(|r| format!(" (Request ID: {r})")).unwrap_or_default(), server_message.as_ref().map(|m| format!("\n\n{m}")).unwrap_or_default())]
    Status {
        /// The HTTP status.
        status: StatusCode,
        /// The URL.
        url: String,
        /// `X-Error-Code`, when sent.
        error_code: Option<String>,
        /// `X-Error-Message` and/or the body's `error`.
        server_message: Option<String>,
        /// What else the answer said.
        details: Box<StatusDetails>,
    },
    /// The answer was not what the Hub sends.
    #[error("unexpected answer from {url}: {detail}")]
    InvalidResponse {
        /// The URL.
        url: String,
        /// What was wrong.
        detail: String,
    },
    /// The server sent a value that cannot be what it claims: a commit that is not a hash, a
    /// path that leaves its folder, a link to another origin. Nothing was written.
    #[error(
        "refused the answer of {url}: its {field} {problem}. Nothing was written.\n\nhint: the server at {endpoint} does not behave like the Hub; check HF_ENDPOINT and any proxy or mirror in between"
    )]
    BadValue {
        /// The URL that answered.
        url: String,
        /// The endpoint in use.
        endpoint: String,
        /// Which part of the answer (`sha`, `X-Repo-Commit` header, `path` of a tree entry…).
        field: String,
        /// What is wrong with it, the value escaped.
        problem: String,
    },
    /// The body is larger than hfkit reads for its kind of answer.
    #[error(
        "refused the answer of {url}: its body is larger than {} MiB, far beyond any Hub answer of this kind.\n\nhint: check HF_ENDPOINT and any proxy or mirror in between",
        limit >> 20
    )]
    TooLarge {
        /// The URL.
        url: String,
        /// The cap, in bytes.
        limit: usize,
    },
    /// The request could not be made on this side (a URL that cannot be built, a header that
    /// cannot be sent). Not a network failure, so not retried.
    #[error("cannot send the request to {url}: {detail}")]
    Request {
        /// The URL.
        url: String,
        /// What was wrong.
        detail: String,
    },
    /// The token cannot be put in a header.
    #[error(
        "the token from {0} contains characters that cannot be sent in an HTTP header\n\nhint: replace it with a token copied from the Hub's token settings"
    )]
    UnsendableToken(TokenSource),
    /// The HTTP client could not be created (for example, a bad CA bundle).
    #[error("cannot set up the HTTP client: {0}")]
    Client(String),
}

fn unauthorized_message(source: Option<&TokenSource>, url: &str, server: Option<&str>, endpoint: &str) -> String {
    let server = server.map(|m| format!(" The Hub says: {m}")).unwrap_or_default();
    let Some(source) = source else {
        return format!(
            "Authentication required for {url} (401 Unauthorized), and no token was sent.{server}\n\nhint: run `hf auth login`, or set HF_TOKEN; tokens are made at {endpoint}/settings/tokens"
        );
    };
    let replace = match source {
        TokenSource::Explicit => "pass a valid token with --token".to_owned(),
        TokenSource::Env(name) => {
            format!("update or unset {name} (it takes precedence over `hf auth login`)")
        }
        TokenSource::File(_) => "run `hf auth login --force` with the new token".to_owned(),
        TokenSource::Keyring { .. } => "run `hf auth login --keyring --force` with the new token".to_owned(),
        TokenSource::Stdin => "pipe the new token to `hf auth login`".to_owned(),
        TokenSource::Prompt => "run `hf auth login` again and paste the new token".to_owned(),
        TokenSource::DeviceLogin => "run `hf auth login` again and approve the new code".to_owned(),
        TokenSource::Oidc { resource } => {
            format!("check the trusted-publisher settings of `{resource}` on the Hub")
        }
    };
    format!(
        "Invalid user token. The token from {source} is invalid or expired (401 Unauthorized from {url}).{server}\n\nhint: create a new token at {endpoint}/settings/tokens, then {replace}"
    )
}

impl ApiError {
    /// How long the server asked to wait before trying again, if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Status { details, .. } => details.retry_after,
            _ => None,
        }
    }

    /// The HTTP status, when the Hub answered.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::Unauthorized { .. } => Some(StatusCode::UNAUTHORIZED),
            Self::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// The less used parts of an error answer (boxed, to keep [`ApiError`] small).
#[derive(Debug, Clone, Default)]
pub struct StatusDetails {
    /// `X-Request-Id`, when sent.
    pub request_id: Option<String>,
    /// `X-Repo-Commit`, when sent and a commit hash (a missing file at a known commit).
    pub repo_commit: Option<crate::hashes::CommitHash>,
    /// How long the server asked to wait before trying again (`Retry-After`, `RateLimit`).
    pub retry_after: Option<Duration>,
}

/// The answer of `GET /api/whoami-v2`, the fields clients use.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct WhoAmI {
    /// The user name.
    pub name: String,
    /// Display name.
    #[serde(default)]
    pub fullname: Option<String>,
    /// Organizations the user belongs to.
    #[serde(default)]
    pub orgs: Vec<Org>,
    /// What the token is.
    #[serde(default)]
    pub auth: Option<AuthInfo>,
}

/// An organization in [`WhoAmI::orgs`].
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Org {
    /// The organization's name.
    pub name: String,
}

/// The `auth` block of [`WhoAmI`].
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct AuthInfo {
    /// `access_token` or `oauth`.
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// Present for user access tokens.
    #[serde(rename = "accessToken", default)]
    pub access_token: Option<AccessTokenInfo>,
}

/// An access token's name and role.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct AccessTokenInfo {
    /// The name the user gave the token.
    #[serde(rename = "displayName", default)]
    pub display_name: Option<String>,
    /// `read`, `write` or `fineGrained`.
    #[serde(default)]
    pub role: Option<String>,
}

impl WhoAmI {
    /// The same answer with control characters escaped in every name (a server could
    /// otherwise fake lines of `hf auth whoami`, or break the INI of `stored_tokens` with a
    /// token name holding a line break).
    fn made_printable(mut self) -> Self {
        let clean = |text: &mut String| *text = crate::text::escape_line(text).into_owned();
        clean(&mut self.name);
        self.fullname.iter_mut().for_each(clean);
        self.orgs.iter_mut().for_each(|o| clean(&mut o.name));
        if let Some(auth) = &mut self.auth {
            auth.kind.iter_mut().for_each(clean);
            if let Some(access) = &mut auth.access_token {
                access.display_name.iter_mut().for_each(clean);
                access.role.iter_mut().for_each(clean);
            }
        }
        self
    }

    /// The token's display name, if it is a user access token.
    pub fn token_display_name(&self) -> Option<&str> {
        self.auth.as_ref()?.access_token.as_ref()?.display_name.as_deref().filter(|n| !n.is_empty())
    }

    /// The token's role, if the Hub reports one.
    pub fn token_role(&self) -> Option<&str> {
        self.auth.as_ref()?.access_token.as_ref()?.role.as_deref().filter(|r| !r.is_empty())
    }

    /// The name huggingface_hub stores the token under: its display name, else `oauth-<user>`.
    pub fn storage_name(&self) -> String {
        self.token_display_name().map_or_else(|| format!("oauth-{}", self.name), str::to_owned)
    }

    /// Organization names, comma-joined (huggingface_hub's `orgs` field).
    pub fn org_names(&self) -> Option<String> {
        let names: Vec<&str> = self.orgs.iter().map(|o| o.name.as_str()).collect();
        (!names.is_empty()).then(|| names.join(","))
    }
}

/// The Hub's HTTP client.
#[derive(Debug, Clone)]
pub struct HubClient {
    http: reqwest::Client,
    endpoint: String,
    offline: bool,
    ca_bundle: Option<std::path::PathBuf>,
    etag_timeout: Duration,
    download_timeout: Duration,
}

impl HubClient {
    /// A client for the endpoint and settings of `config`.
    pub fn new(config: &Config) -> Result<Self, ApiError> {
        let mut user_agent = format!("hfkit/{VERSION}");
        if let Some(origin) = &config.user_agent_origin {
            user_agent.push_str("; origin/");
            user_agent.push_str(origin);
        }
        let mut builder = reqwest::Client::builder()
            .user_agent(user_agent)
            // The tighter limits of each kind of request are applied per request.
            .connect_timeout(config.download_timeout.max(config.etag_timeout))
            .read_timeout(config.download_timeout.max(config.etag_timeout))
            // Redirects are followed by hand so that a token never follows a redirect to
            // another host.
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(64)
            .tcp_nodelay(true)
            .no_proxy();
        builder = network::apply_proxies(builder, &config.network)?;
        if let Some(bundle) = &config.network.ca_bundle {
            builder = network::apply_ca_bundle(builder, bundle)?;
        }
        let http = builder.build().map_err(|e| ApiError::Client(e.to_string()))?;
        Ok(Self {
            http,
            endpoint: config.endpoint.clone(),
            offline: config.offline,
            ca_bundle: config.network.ca_bundle.clone(),
            etag_timeout: config.etag_timeout,
            download_timeout: config.download_timeout,
        })
    }

    /// `HF_HUB_DOWNLOAD_TIMEOUT`: to connect and get an answer for a file transfer.
    pub fn download_timeout(&self) -> Duration {
        self.download_timeout
    }

    /// The underlying HTTP client (its pool is shared by every request).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The endpoint, without a trailing slash.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// `GET /api/whoami-v2` with `token`.
    pub async fn whoami(&self, token: &ResolvedToken) -> Result<WhoAmI, ApiError> {
        let url = format!("{}/api/whoami-v2", self.endpoint);
        let request = self.request(Method::GET, &url)?;
        let response = self.send_metadata(authorize(request, token)?, &url, Some(&token.source)).await?;
        let who: WhoAmI = self.parse_json(response, &url).await?;
        Ok(who.made_printable())
    }

    /// Performs an OIDC exchange, returning the Hub token and its lifetime.
    pub async fn oidc_exchange(&self, plan: &OidcPlan) -> Result<(Token, Duration), OidcError> {
        let subject = match &plan.id_token {
            IdTokenSource::Given(token) => token.clone(),
            IdTokenSource::GitHubActions { request_url, request_token } => {
                self.github_id_token(request_url, request_token).await?
            }
        };
        let url = format!("{}/oauth/token", self.endpoint);
        let body = ExchangeRequest {
            grant_type: oidc::TOKEN_EXCHANGE_GRANT.to_owned(),
            subject_token_type: oidc::ID_TOKEN_TYPE.to_owned(),
            subject_token: subject.expose().to_owned(),
            resource: plan.resource.clone(),
        };
        let request = self.request(Method::POST, &url).map_err(|e| OidcError::Exchange(e.to_string()))?;
        let response = self
            .send_metadata(request.json(&body), &url, None)
            .await
            .map_err(|e| OidcError::Exchange(e.to_string()))?;
        #[derive(Deserialize)]
        struct Answer {
            access_token: String,
            expires_in: Option<u64>,
        }
        let answer: Answer = self.parse_json(response, &url).await.map_err(|e| OidcError::Exchange(e.to_string()))?;
        Ok((Token::new(answer.access_token), Duration::from_secs(answer.expires_in.unwrap_or(3600))))
    }

    async fn github_id_token(&self, request_url: &str, request_token: &Token) -> Result<Token, OidcError> {
        let url = reqwest::Url::parse_with_params(request_url, &[("audience", self.endpoint.as_str())])
            .map_err(|e| OidcError::Exchange(format!("ACTIONS_ID_TOKEN_REQUEST_URL is not a URL: {e}")))?;
        let request = self
            .http
            .get(url.clone())
            .header(reqwest::header::AUTHORIZATION, format!("Bearer {}", request_token.expose()));
        let response = self
            .send_metadata(request, url.as_str(), None)
            .await
            .map_err(|e| OidcError::Exchange(format!("GitHub Actions refused to mint an id token: {e}")))?;
        #[derive(Deserialize)]
        struct Answer {
            value: String,
        }
        let answer: Answer =
            self.parse_json(response, url.as_str()).await.map_err(|e| OidcError::Exchange(e.to_string()))?;
        Ok(Token::new(answer.value))
    }

    /// A request to `url`, refused up front in offline mode.
    pub fn request(&self, method: Method, url: &str) -> Result<RequestBuilder, ApiError> {
        if self.offline {
            return Err(ApiError::Offline { url: url.to_owned() });
        }
        Ok(self.http.request(method, url).header("x-amzn-trace-id", trace_id()))
    }

    /// Sends a metadata request: its answer must come within `HF_HUB_ETAG_TIMEOUT`.
    pub async fn send_metadata(
        &self,
        request: RequestBuilder,
        url: &str,
        source: Option<&TokenSource>,
    ) -> Result<Response, ApiError> {
        let limit = self.etag_timeout;
        match tokio::time::timeout(limit, self.send(request, url, source)).await {
            Ok(result) => result,
            Err(_) => Err(ApiError::Unreachable {
                url: url.to_owned(),
                endpoint: self.endpoint.clone(),
                detail: format!("no answer within {}s (HF_HUB_ETAG_TIMEOUT)", limit.as_secs()),
            }),
        }
    }

    /// Reads a metadata body of at most `limit` bytes: each read within
    /// `HF_HUB_ETAG_TIMEOUT`, the whole within [`METADATA_BODY_DEADLINE`].
    pub async fn read_body(&self, mut response: Response, url: &str, limit: usize) -> Result<Vec<u8>, ApiError> {
        if response.content_length().is_some_and(|n| n > limit as u64) {
            return Err(ApiError::TooLarge { url: url.to_owned(), limit });
        }
        let deadline = Instant::now() + METADATA_BODY_DEADLINE.max(self.etag_timeout);
        let mut body = Vec::new();
        loop {
            let wait = self.etag_timeout.min(deadline.saturating_duration_since(Instant::now()));
            let piece = match tokio::time::timeout(wait, response.chunk()).await {
                Ok(Ok(Some(piece))) => piece,
                Ok(Ok(None)) => return Ok(body),
                Ok(Err(e)) => {
                    return Err(ApiError::Unreachable {
                        url: url.to_owned(),
                        endpoint: self.endpoint.clone(),
                        detail: format!("the answer broke off: {}", describe(&e)),
                    });
                }
                Err(_) => {
                    let detail = if Instant::now() >= deadline {
                        format!("the answer took longer than {}s", METADATA_BODY_DEADLINE.as_secs())
                    } else {
                        format!("the answer stalled for {}s (HF_HUB_ETAG_TIMEOUT)", self.etag_timeout.as_secs())
                    };
                    return Err(ApiError::Unreachable { url: url.to_owned(), endpoint: self.endpoint.clone(), detail });
                }
            };
            if body.len() + piece.len() > limit {
                return Err(ApiError::TooLarge { url: url.to_owned(), limit });
            }
            body.extend_from_slice(&piece);
        }
    }

    /// Reads a JSON answer of at most [`MAX_JSON_BODY`] bytes.
    pub(crate) async fn parse_json<T: serde::de::DeserializeOwned>(
        &self,
        response: Response,
        url: &str,
    ) -> Result<T, ApiError> {
        let bytes = self.read_body(response, url, MAX_JSON_BODY).await?;
        serde_json::from_slice(&bytes).map_err(|e| ApiError::InvalidResponse {
            url: url.to_owned(),
            detail: crate::text::escape_line(&format!("not the JSON expected: {e}")).into_owned(),
        })
    }

    /// A [`ApiError::BadValue`] for `field` of the answer of `url`.
    pub(crate) fn bad_value(&self, url: &str, field: &str, problem: impl std::fmt::Display) -> ApiError {
        ApiError::BadValue {
            url: url.to_owned(),
            endpoint: self.endpoint.clone(),
            field: field.to_owned(),
            problem: problem.to_string(),
        }
    }

    /// Sends a request and turns error statuses into [`ApiError`]s. `source` is the origin of
    /// the token sent, if any, so that a 401 can name it.
    pub async fn send(
        &self,
        request: RequestBuilder,
        url: &str,
        source: Option<&TokenSource>,
    ) -> Result<Response, ApiError> {
        let response = request.send().await.map_err(|e| self.transport_error(url, &e))?;
        let status = response.status();
        if status.is_success() || status.is_redirection() {
            return Ok(response);
        }
        Err(self.error_from(response, url, source).await)
    }

    /// The [`ApiError`] of an error response: 401 names the token's source; the Hub's
    /// `X-Error-Code`, `X-Error-Message` and JSON `error` are kept.
    pub async fn error_from(&self, response: Response, url: &str, source: Option<&TokenSource>) -> ApiError {
        let status = response.status();
        let header = |name: &str| {
            response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned).filter(|v| !v.is_empty())
        };
        let error_code = header("x-error-code");
        let header_message = header("x-error-message");
        let request_id = header("x-request-id").map(|r| crate::text::escape_line(&r).into_owned());
        let repo_commit = header("x-repo-commit").and_then(|c| crate::hashes::CommitHash::parse(&c).ok());
        let retry_after = headers::server_wait(status.as_u16(), response.headers());
        let body = read_error_body(response).await;
        let clean = |m: String| crate::text::escape_line(&truncate_chars(&m, MAX_MESSAGE_CHARS)).into_owned();
        let server_message =
            merge_messages(header_message.map(clean), body_message(&String::from_utf8_lossy(&body)).map(clean));
        if status == StatusCode::UNAUTHORIZED && error_code.is_none() {
            return ApiError::Unauthorized {
                url: url.to_owned(),
                endpoint: self.endpoint.clone(),
                token_source: source.cloned(),
                server_message,
            };
        }
        let error_code = error_code.map(|c| crate::text::escape_line(&c).into_owned());
        let details = Box::new(StatusDetails { request_id, repo_commit, retry_after });
        ApiError::Status { status, url: url.to_owned(), error_code, server_message, details }
    }

    /// Turns a failure to connect (refused, DNS, TLS, timeout) into an error naming the
    /// URL, and for TLS the host and the CA file in use.
    pub fn transport_error(&self, url: &str, error: &reqwest::Error) -> ApiError {
        if error.is_builder() {
            return ApiError::Request { url: url.to_owned(), detail: error_chain(error) };
        }
        let mut detail = with_causes(describe(error), error);
        let lower = detail.to_lowercase();
        if lower.contains("certificate") || lower.contains("tls") || lower.contains("handshake") {
            let host = reqwest::Url::parse(url).ok().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_default();
            let cas = self.ca_bundle.as_ref().map_or_else(
                || {
                    "the system's trusted roots (set SSL_CERT_FILE or REQUESTS_CA_BUNDLE to use another CA file)"
                        .to_owned()
                },
                |p| format!("the CA file {}", p.display()),
            );
            detail = format!("the TLS certificate of {host} could not be verified against {cas}: {detail}");
        }
        ApiError::Unreachable { url: url.to_owned(), endpoint: self.endpoint.clone(), detail }
    }
}

/// What kind of transport failure `error` is, without its URL (the caller adds it).
fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "the request timed out".to_owned()
    } else if error.is_connect() {
        "could not connect".to_owned()
    } else {
        "the request failed".to_owned()
    }
}

/// Adds `Authorization: Bearer …`, refusing tokens that cannot be sent.
pub fn authorize(request: RequestBuilder, token: &ResolvedToken) -> Result<RequestBuilder, ApiError> {
    if !crate::auth::is_sendable(token.token.expose()) {
        return Err(ApiError::UnsendableToken(token.source.clone()));
    }
    let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {}", token.token.expose()))
        .map_err(|_| ApiError::UnsendableToken(token.source.clone()))?;
    value.set_sensitive(true);
    Ok(request.header(reqwest::header::AUTHORIZATION, value))
}

/// The first [`MAX_ERROR_BODY`] bytes of an error body (what is left is not read).
async fn read_error_body(mut response: Response) -> Vec<u8> {
    let mut body = Vec::new();
    let read = async {
        while body.len() < MAX_ERROR_BODY
            && let Ok(Some(piece)) = response.chunk().await
        {
            body.extend_from_slice(&piece[..piece.len().min(MAX_ERROR_BODY - body.len())]);
        }
    };
    // An error body is a courtesy: a stalled one is not waited for.
    let _ = tokio::time::timeout(Duration::from_secs(5), read).await;
    body
}

/// At most `max` characters of `text`, with `…` when cut.
fn truncate_chars(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// The error and its causes, joined with `: `.
fn error_chain(error: &dyn std::error::Error) -> String {
    with_causes(error.to_string(), error)
}

/// `head` followed by the causes of `error`, each after `: `.
pub(crate) fn with_causes(head: String, error: &dyn std::error::Error) -> String {
    let mut text = head;
    let mut source = error.source();
    while let Some(inner) = source {
        text = format!("{text}: {inner}");
        source = inner.source();
    }
    text
}

/// The `error` (and `error_description`) of a JSON error body; a short plain-text body as is.
fn body_message(body: &str) -> Option<String> {
    let body = body.trim();
    if body.is_empty() {
        return None;
    }
    match serde_json::from_str::<serde_json::Value>(body) {
        Ok(json) => {
            let error = json.get("error").and_then(|e| e.as_str())?;
            match json.get("error_description").and_then(|d| d.as_str()) {
                Some(desc) => Some(format!("{error}: {desc}")),
                None => Some(error.to_owned()),
            }
        }
        Err(_) if !body.starts_with('<') && body.len() < 500 => Some(body.to_owned()),
        Err(_) => None,
    }
}

/// Joins the header message and the body message, dropping a repeat.
fn merge_messages(header: Option<String>, body: Option<String>) -> Option<String> {
    match (header, body) {
        (Some(h), Some(b)) if !h.to_lowercase().contains(&b.to_lowercase()) => Some(format!("{h}\n{b}")),
        (Some(h), _) => Some(h),
        (None, b) => b,
    }
}

/// A random id in the form of a UUID v4, for `x-amzn-trace-id`.
fn trace_id() -> String {
    use std::hash::{BuildHasher, RandomState};
    let a = RandomState::new().hash_one(std::time::SystemTime::now());
    let b = RandomState::new().hash_one(a);
    let hex = format!("{a:016x}{b:016x}");
    format!("{}-{}-4{}-a{}-{}", &hex[..8], &hex[8..12], &hex[13..16], &hex[17..20], &hex[20..32])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_messages_are_merged_without_repeats() {
        assert_eq!(merge_messages(Some("Bad".into()), Some("bad".into())), Some("Bad".into()));
        assert_eq!(merge_messages(Some("A".into()), Some("B".into())), Some("A\nB".into()));
        assert_eq!(body_message(r#"{"error":"x","error_description":"y"}"#), Some("x: y".into()));
        assert_eq!(body_message("<html>"), None);
    }

    #[test]
    fn trace_ids_look_like_uuids() {
        let id = trace_id();
        assert_eq!(id.len(), 36);
        assert_ne!(id, trace_id());
    }

    #[test]
    fn whoami_names_cannot_fake_lines() {
        let w: WhoAmI = serde_json::from_str(
            r#"{"name":"alice\n  role: admin","orgs":[{"name":"a\u001b[2J"}],"auth":{"type":"access_token","accessToken":{"displayName":"x\ny","role":"read\rwrite"}}}"#,
        )
        .unwrap();
        let w = w.made_printable();
        assert_eq!(w.name, "alice\\n  role: admin");
        assert_eq!(w.org_names().as_deref(), Some("a\\x1b[2J"));
        assert_eq!(w.storage_name(), "x\\ny");
        assert_eq!(w.token_role(), Some("read\\rwrite"));
    }

    #[test]
    fn whoami_names() {
        let w: WhoAmI = serde_json::from_str(
            r#"{"name":"alice","orgs":[{"name":"acme"},{"name":"umbrella"}],"auth":{"type":"access_token","accessToken":{"displayName":"my-read","role":"read"}}}"#,
        )
        .unwrap();
        assert_eq!(w.storage_name(), "my-read");
        assert_eq!(w.org_names().as_deref(), Some("acme,umbrella"));
        let w: WhoAmI = serde_json::from_str(r#"{"name":"bob","auth":{"type":"oauth"}}"#).unwrap();
        assert_eq!(w.storage_name(), "oauth-bob");
        assert_eq!(w.org_names(), None);
    }
}
