//! [`Hub`]: the entry point of the library: a config, an optional explicit token, and a
//! lazily built HTTP client.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use crate::api::{HubClient, WhoAmI};
use crate::auth::keyring::KeyringEntry;
use crate::auth::stored_tokens::StoredToken;
use crate::auth::{self, AuthStore, ChainOutcome, ResolvedToken, TokenSource};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::secret::Token;

/// A handle on one Hub endpoint, with huggingface_hub's automatic token detection.
///
/// ```no_run
/// # async fn demo() -> hfkit::Result<()> {
/// let hub = hfkit::Hub::from_env()?;
/// if let Some(found) = hub.token().await? {
///     println!("using the token from {}", found.source); // never prints the token itself
/// }
/// let me = hub.whoami().await?;
/// println!("logged in as {}", me.name);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: Config,
    explicit: Option<Token>,
    client: OnceLock<HubClient>,
    oidc: tokio::sync::Mutex<Option<(ResolvedToken, Instant)>>,
    /// The keyring's token, read once per hub (each read is a D-Bus round trip).
    keyring: tokio::sync::OnceCell<ResolvedToken>,
}

/// Builds a [`Hub`] from explicit settings, reading no token from the environment.
///
/// ```
/// let hub = hfkit::Hub::builder()
///     .endpoint("http://127.0.0.1:8080")
///     .hf_home("/tmp/hfkit-example")
///     .token("hf_example_token_value_1234")
///     .build()?;
/// assert_eq!(hub.config().endpoint, "http://127.0.0.1:8080");
/// # Ok::<(), hfkit::Error>(())
/// ```
#[derive(Debug, Default)]
pub struct HubBuilder {
    config: Option<Config>,
    endpoint: Option<String>,
    hf_home: Option<std::path::PathBuf>,
    token: Option<String>,
}

impl HubBuilder {
    /// Starts from a complete [`Config`] (for example [`Config::from_env`]).
    #[must_use]
    pub fn config(mut self, config: Config) -> Self {
        self.config = Some(config);
        self
    }

    /// The Hub's base URL.
    #[must_use]
    pub fn endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// The folder for tokens and the cache (`HF_HOME`).
    #[must_use]
    pub fn hf_home(mut self, hf_home: impl Into<std::path::PathBuf>) -> Self {
        self.hf_home = Some(hf_home.into());
        self
    }

    /// An explicit token: it wins over every other source and is sent as given.
    #[must_use]
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Checks the settings and builds the hub.
    pub fn build(self) -> Result<Hub> {
        let explicit = self.token.as_deref().map(auth::validate_explicit).transpose()?;
        let mut config = match self.config {
            Some(config) => config,
            None => {
                // Paths default under the home folder; no other variable is read.
                let home = std::env::var(crate::env_vars::HOME).ok();
                Config::from_lookup(|name| (name == crate::env_vars::HOME).then(|| home.clone()).flatten())?
            }
        };
        if let Some(home) = self.hf_home {
            config = config.with_hf_home(home);
        }
        if let Some(endpoint) = self.endpoint {
            config.endpoint = endpoint.trim_end_matches('/').to_owned();
        }
        Ok(Hub::new(config, explicit))
    }
}

impl Hub {
    /// A hub configured from the process environment, like huggingface_hub.
    pub fn from_env() -> Result<Self> {
        Ok(Self::new(Config::from_env()?, None))
    }

    /// A builder that reads no token from the environment.
    pub fn builder() -> HubBuilder {
        HubBuilder::default()
    }

    /// A hub for `config`, with an optional explicit token.
    pub fn new(config: Config, explicit: Option<Token>) -> Self {
        Self {
            inner: Arc::new(Inner {
                config,
                explicit,
                client: OnceLock::new(),
                oidc: tokio::sync::Mutex::new(None),
                keyring: tokio::sync::OnceCell::new(),
            }),
        }
    }

    /// The resolved settings.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The token files of this hub's config.
    pub fn auth_store(&self) -> AuthStore {
        AuthStore::new(&self.inner.config)
    }

    /// The HTTP client, built on first use.
    pub fn client(&self) -> Result<&HubClient> {
        if let Some(client) = self.inner.client.get() {
            return Ok(client);
        }
        let client = HubClient::new(&self.inner.config)?;
        Ok(self.inner.client.get_or_init(|| client))
    }

    /// The token the chain finds, with its source (huggingface_hub's `get_token()`).
    /// With `HF_OIDC_RESOURCE` set this performs the exchange (once per process and lifetime).
    /// The token file's token, when it is a browser login's token with less than a day left,
    /// is refreshed first (see [`auth::oauth`]; a failed refresh leaves a notice in
    /// [`auth::oauth::take_notices`] and returns the token as it is).
    pub async fn token(&self) -> Result<Option<ResolvedToken>> {
        match auth::resolve_local(&self.inner.config, self.inner.explicit.as_ref())? {
            ChainOutcome::Found(found) if auth::oauth::is_refreshable_source(&found.source) => {
                let config = &self.inner.config;
                Ok(Some(
                    auth::oauth::refresh_if_needed(
                        || self.client(),
                        &config.device_client_id,
                        &config.endpoint,
                        &config.token_path,
                        &config.stored_tokens_path,
                        found,
                    )
                    .await,
                ))
            }
            ChainOutcome::Found(found) => Ok(Some(found)),
            ChainOutcome::NotFound => Ok(None),
            ChainOutcome::NeedsKeyring(entry) => {
                let found = self
                    .inner
                    .keyring
                    .get_or_try_init(|| async {
                        let token = entry.read().await.map_err(auth::TokenError::from)?;
                        Ok::<_, Error>(ResolvedToken {
                            token,
                            source: TokenSource::Keyring { account: entry.account().to_owned() },
                        })
                    })
                    .await?;
                Ok(Some(found.clone()))
            }
            ChainOutcome::NeedsOidcExchange(plan) => {
                let mut cached = self.inner.oidc.lock().await;
                if let Some((found, until)) = cached.as_ref()
                    && Instant::now() < *until
                {
                    return Ok(Some(found.clone()));
                }
                let (token, lifetime) = self.client()?.oidc_exchange(&plan).await?;
                let found = ResolvedToken { token, source: TokenSource::Oidc { resource: plan.resource } };
                *cached = Some((found.clone(), Instant::now() + lifetime));
                Ok(Some(found))
            }
        }
    }

    /// The token to send with a request: [`Hub::token`], unless
    /// `HF_HUB_DISABLE_IMPLICIT_TOKEN` is set and the token was not given explicitly.
    pub async fn request_token(&self) -> Result<Option<ResolvedToken>> {
        if self.inner.config.disable_implicit_token && self.inner.explicit.is_none() {
            return Ok(None);
        }
        self.token().await
    }

    /// Who the chain's token belongs to. Fails with [`Error::NotLoggedIn`] without a token.
    pub async fn whoami(&self) -> Result<WhoAmI> {
        let token = self.token().await?.ok_or(Error::NotLoggedIn)?;
        self.whoami_with(&token).await
    }

    /// Who `token` belongs to.
    pub async fn whoami_with(&self, token: &ResolvedToken) -> Result<WhoAmI> {
        Ok(self.client()?.whoami(token).await?)
    }

    /// Validates `token` with the Hub, stores it under the name the Hub reports, and makes
    /// it the active token. Nothing is written unless the Hub accepts the token.
    pub async fn login(&self, token: Token) -> Result<Login> {
        self.login_from(token, TokenSource::Explicit).await
    }

    /// [`Hub::login`] with a token that came from `source` (standard input, a prompt), so
    /// that a refusal names where the token came from.
    pub async fn login_from(&self, token: Token, source: TokenSource) -> Result<Login> {
        let login = self.validate_login(token, source).await?;
        self.auth_store().save_and_activate(&login.token_name, StoredToken::new(&login.token))?;
        Ok(login)
    }

    /// [`Hub::login_from`], keeping the token in the system keyring instead of the token
    /// file and `stored_tokens` (ours; huggingface_hub has no keyring). The token file, if
    /// there is one, is removed, since it would otherwise shadow the keyring token. Nothing
    /// changes unless both the Hub and the keyring accept the token: a keyring that cannot
    /// be reached is an error, never a fallback to the file.
    pub async fn login_to_keyring(&self, token: Token, source: TokenSource) -> Result<KeyringLogin> {
        let login = self.validate_login(token, source).await?;
        let entry = KeyringEntry::for_config(&self.inner.config, &login.token_name);
        entry.save(&login.token).await?;
        let removed_token_file = crate::fs::remove_if_exists(&self.inner.config.token_path)?;
        Ok(KeyringLogin { login, entry, removed_token_file })
    }

    /// Asks the Hub who `token` belongs to; refuses organization tokens.
    async fn validate_login(&self, token: Token, source: TokenSource) -> Result<Login> {
        if token.is_org_token() {
            return Err(Error::OrgToken);
        }
        let resolved = ResolvedToken { token, source };
        let who = self.whoami_with(&resolved).await?;
        let token_name = who.storage_name();
        Ok(Login { who, token_name, token: resolved.token })
    }
}

impl Hub {
    /// Starts the browser login: a device code and the page where a person approves it.
    pub async fn request_device_code(&self) -> Result<auth::oauth::DeviceCode> {
        Ok(self.client()?.request_device_code(&self.inner.config.device_client_id).await?)
    }

    /// Waits for the person's decision on `code` (polling as RFC 8628 says), then validates
    /// the access token with the Hub and stores it with its refresh data, as huggingface_hub
    /// does (`oauth-<user>`), and makes it the active token. `on_pending` runs after each
    /// "not yet" answer.
    pub async fn finish_device_login(
        &self,
        code: &auth::oauth::DeviceCode,
        on_pending: &mut (dyn FnMut() + Send),
    ) -> Result<(Login, auth::oauth::OAuthTokens)> {
        let tokens = self.client()?.poll_device_token(code, &self.inner.config.device_client_id, on_pending).await?;
        let resolved = ResolvedToken { token: tokens.access_token.clone(), source: TokenSource::DeviceLogin };
        let who = self.whoami_with(&resolved).await?;
        let token_name = who.storage_name();
        let entry = tokens
            .stored_entry(crate::time::now_unix())
            .issued_by(&auth::oauth::origin_of(&self.inner.config.endpoint));
        self.auth_store().save_and_activate(&token_name, entry)?;
        Ok((Login { who, token_name, token: resolved.token }, tokens))
    }
}

/// The result of [`Hub::login_to_keyring`].
#[derive(Debug, Clone)]
pub struct KeyringLogin {
    /// The validated token and its account.
    pub login: Login,
    /// Where the token now is.
    pub entry: KeyringEntry,
    /// A token file was there and was removed.
    pub removed_token_file: bool,
}

/// The result of [`Hub::login`].
#[derive(Debug, Clone)]
pub struct Login {
    /// The Hub's account information for the token.
    pub who: WhoAmI,
    /// The name it was stored under.
    pub token_name: String,
    /// The token.
    pub token: Token,
}

/// A blocking shell over [`Hub`], for programs without an async runtime. It runs the same
/// code on a private single-threaded runtime.
pub mod blocking {
    use super::{Login, ResolvedToken, Result, Token, WhoAmI};
    use crate::download::{DownloadOptions, Downloaded, Progress};
    use crate::repo::Repo;

    /// The blocking [`Hub`](super::Hub).
    ///
    /// ```no_run
    /// let hub = hfkit::blocking::Hub::from_env()?;
    /// println!("{}", hub.whoami()?.name);
    /// # Ok::<(), hfkit::Error>(())
    /// ```
    #[derive(Debug)]
    pub struct Hub {
        inner: super::Hub,
        runtime: tokio::runtime::Runtime,
    }

    impl Hub {
        /// See [`super::Hub::from_env`].
        pub fn from_env() -> Result<Self> {
            Ok(Self::new(super::Hub::from_env()?))
        }

        /// Wraps an async hub.
        pub fn new(inner: super::Hub) -> Self {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .on_thread_park(crate::download::pacing::on_park)
                .build()
                .expect("a single-threaded tokio runtime can always be built");
            Self { inner, runtime }
        }

        /// The async hub inside.
        pub fn inner(&self) -> &super::Hub {
            &self.inner
        }

        /// See [`super::Hub::token`].
        pub fn token(&self) -> Result<Option<ResolvedToken>> {
            self.runtime.block_on(self.inner.token())
        }

        /// See [`super::Hub::whoami`].
        pub fn whoami(&self) -> Result<WhoAmI> {
            self.runtime.block_on(self.inner.whoami())
        }

        /// See [`super::Hub::login`].
        pub fn login(&self, token: Token) -> Result<Login> {
            self.runtime.block_on(self.inner.login(token))
        }

        /// Downloads one file; see [`crate::download::RepoHandle::download_file`].
        pub fn download_file(
            &self,
            repo: Repo,
            path: &str,
            options: &DownloadOptions,
            progress: &dyn Progress,
        ) -> Result<Downloaded> {
            self.runtime.block_on(self.inner.repo(repo).download_file(path, options, progress))
        }

        /// Downloads a snapshot; see [`crate::download::RepoHandle::snapshot`].
        pub fn snapshot(&self, repo: Repo, options: &DownloadOptions, progress: &dyn Progress) -> Result<Downloaded> {
            self.runtime.block_on(self.inner.repo(repo).snapshot(options, progress))
        }
    }
}
