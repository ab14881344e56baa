//! Every environment variable hfkit reads, named once.
//!
//! The names and meanings follow huggingface_hub 2.4 so that one environment drives both
//! clients. Nothing outside [`crate::config`] reads the process environment; this list is
//! the single place to look up what a variable does.

/// Root folder for everything the Hub client stores (default `$XDG_CACHE_HOME/huggingface`).
pub const HF_HOME: &str = "HF_HOME";
/// Base for the default `HF_HOME` when `HF_HOME` itself is unset.
pub const XDG_CACHE_HOME: &str = "XDG_CACHE_HOME";
/// Folder of the model/dataset cache (default `$HF_HOME/hub`).
pub const HF_HUB_CACHE: &str = "HF_HUB_CACHE";
/// Legacy name of [`HF_HUB_CACHE`]; loses to it when both are set.
pub const HUGGINGFACE_HUB_CACHE: &str = "HUGGINGFACE_HUB_CACHE";
/// Folder of library assets (default `$HF_HOME/assets`).
pub const HF_ASSETS_CACHE: &str = "HF_ASSETS_CACHE";
/// Legacy name of [`HF_ASSETS_CACHE`].
pub const HUGGINGFACE_ASSETS_CACHE: &str = "HUGGINGFACE_ASSETS_CACHE";
/// OAuth client id sent by the browser login and its refreshes.
pub const HF_DEVICE_CODE_OAUTH_CLIENT_ID: &str = "HF_DEVICE_CODE_OAUTH_CLIENT_ID";
/// Path of the active token file (default `$HF_HOME/token`); `stored_tokens` sits beside it.
pub const HF_TOKEN_PATH: &str = "HF_TOKEN_PATH";
/// Folder of the Xet cache (default `$HF_HOME/xet`); reported only.
pub const HF_XET_CACHE: &str = "HF_XET_CACHE";
/// Base URL of the Hub (default `https://huggingface.co`); a path prefix is kept.
pub const HF_ENDPOINT: &str = "HF_ENDPOINT";
/// Switches endpoint and token path to the staging Hub, as huggingface_hub does.
pub const HUGGINGFACE_CO_STAGING: &str = "HUGGINGFACE_CO_STAGING";
/// Answer from the cache only; no request leaves the machine.
pub const HF_HUB_OFFLINE: &str = "HF_HUB_OFFLINE";
/// Consulted for offline mode when `HF_HUB_OFFLINE` is unset or empty.
pub const TRANSFORMERS_OFFLINE: &str = "TRANSFORMERS_OFFLINE";
/// The access token (first of the environment token variables).
pub const HF_TOKEN: &str = "HF_TOKEN";
/// Legacy token variable, used when `HF_TOKEN` is unset or empty.
pub const HUGGING_FACE_HUB_TOKEN: &str = "HUGGING_FACE_HUB_TOKEN";
/// Named by old guides; huggingface_hub 2.4 ignores it, and so do we (with a warning).
pub const HUGGINGFACE_TOKEN: &str = "HUGGINGFACE_TOKEN";
/// Never send the machine's token unless one is given explicitly.
pub const HF_HUB_DISABLE_IMPLICIT_TOKEN: &str = "HF_HUB_DISABLE_IMPLICIT_TOKEN";
/// Trusted-publisher resource: exchange a CI id token for a Hub token scoped to it.
pub const HF_OIDC_RESOURCE: &str = "HF_OIDC_RESOURCE";
/// The CI id token to exchange (otherwise minted from GitHub Actions).
pub const HF_OIDC_ID_TOKEN: &str = "HF_OIDC_ID_TOKEN";
/// `true` inside GitHub Actions; enables minting an id token there.
pub const GITHUB_ACTIONS: &str = "GITHUB_ACTIONS";
/// GitHub Actions: URL that mints an OIDC id token.
pub const ACTIONS_ID_TOKEN_REQUEST_URL: &str = "ACTIONS_ID_TOKEN_REQUEST_URL";
/// GitHub Actions: bearer token for [`ACTIONS_ID_TOKEN_REQUEST_URL`].
pub const ACTIONS_ID_TOKEN_REQUEST_TOKEN: &str = "ACTIONS_ID_TOKEN_REQUEST_TOKEN";
/// Seconds to wait for file metadata (default 10; 0 means the default).
pub const HF_HUB_ETAG_TIMEOUT: &str = "HF_HUB_ETAG_TIMEOUT";
/// Seconds to wait on a download or OAuth call (default 10; 0 means the default).
pub const HF_HUB_DOWNLOAD_TIMEOUT: &str = "HF_HUB_DOWNLOAD_TIMEOUT";
/// Tri-state: unset lets the command decide; true hides, false forces progress bars.
pub const HF_HUB_DISABLE_PROGRESS_BARS: &str = "HF_HUB_DISABLE_PROGRESS_BARS";
/// Disable telemetry parts of the user agent.
pub const HF_HUB_DISABLE_TELEMETRY: &str = "HF_HUB_DISABLE_TELEMETRY";
/// Generic opt-out of telemetry, honoured like [`HF_HUB_DISABLE_TELEMETRY`].
pub const DISABLE_TELEMETRY: &str = "DISABLE_TELEMETRY";
/// <https://donottrack.sh/>, honoured like [`HF_HUB_DISABLE_TELEMETRY`].
pub const DO_NOT_TRACK: &str = "DO_NOT_TRACK";
/// Store real files instead of symlinks in snapshots.
pub const HF_HUB_DISABLE_SYMLINKS: &str = "HF_HUB_DISABLE_SYMLINKS";
/// Silence the warning about missing symlink support.
pub const HF_HUB_DISABLE_SYMLINKS_WARNING: &str = "HF_HUB_DISABLE_SYMLINKS_WARNING";
/// Silence warnings about experimental features.
pub const HF_HUB_DISABLE_EXPERIMENTAL_WARNING: &str = "HF_HUB_DISABLE_EXPERIMENTAL_WARNING";
/// Treat Xet storage as unavailable.
pub const HF_HUB_DISABLE_XET: &str = "HF_HUB_DISABLE_XET";
/// Disable the cache-wide shared blob store.
pub const HF_HUB_DISABLE_SHARED_BLOBS: &str = "HF_HUB_DISABLE_SHARED_BLOBS";
/// Passed through to Xet; reported by `hf env`.
pub const HF_XET_HIGH_PERFORMANCE: &str = "HF_XET_HIGH_PERFORMANCE";
/// Appended to the user agent as `origin/<value>`.
pub const HF_HUB_USER_AGENT_ORIGIN: &str = "HF_HUB_USER_AGENT_ORIGIN";
/// Verbose diagnostics (never token values).
pub const HF_DEBUG: &str = "HF_DEBUG";
/// Set by AI coding agents; switches `--format auto` to agent output.
pub const AI_AGENT: &str = "AI_AGENT";
/// Set by some AI coding agents; same effect as [`AI_AGENT`].
pub const AGENT: &str = "AGENT";
/// Any non-empty value disables colours.
pub const NO_COLOR: &str = "NO_COLOR";
/// The user's home folder, for `~` expansion.
pub const HOME: &str = "HOME";
/// Parallel connections for one large file (hfkit; default 8).
pub const HF_HUB_DOWNLOAD_CONNECTIONS: &str = "HF_HUB_DOWNLOAD_CONNECTIONS";
/// Bytes per ranged request of a large file (hfkit; default 16 MiB).
pub const HF_HUB_DOWNLOAD_CHUNK_SIZE: &str = "HF_HUB_DOWNLOAD_CHUNK_SIZE";
/// Files downloaded at once (hfkit; default 16; `--max-workers` sets it per command).
pub const HF_HUB_DOWNLOAD_WORKERS: &str = "HF_HUB_DOWNLOAD_WORKERS";
/// Retries after a failed request (hfkit; default 5).
pub const HF_HUB_DOWNLOAD_RETRIES: &str = "HF_HUB_DOWNLOAD_RETRIES";
/// First retry delay in milliseconds, doubled each time (hfkit; default 1000).
pub const HF_HUB_DOWNLOAD_RETRY_BASE_MS: &str = "HF_HUB_DOWNLOAD_RETRY_BASE_MS";
/// Seconds without a byte before a transfer is cut and resumed (hfkit; default 10).
pub const HF_HUB_DOWNLOAD_STALL_TIMEOUT: &str = "HF_HUB_DOWNLOAD_STALL_TIMEOUT";
/// Proxy for https URLs (also lower-case).
pub const HTTPS_PROXY: &str = "HTTPS_PROXY";
/// Proxy for http URLs (also lower-case).
pub const HTTP_PROXY: &str = "HTTP_PROXY";
/// Proxy for every scheme (also lower-case).
pub const ALL_PROXY: &str = "ALL_PROXY";
/// Hosts reached without a proxy (also lower-case).
pub const NO_PROXY: &str = "NO_PROXY";
/// A PEM bundle of trusted certificate authorities (replaces the system's).
pub const SSL_CERT_FILE: &str = "SSL_CERT_FILE";
/// Same as [`SSL_CERT_FILE`], the name Python's requests uses; wins over it.
pub const REQUESTS_CA_BUNDLE: &str = "REQUESTS_CA_BUNDLE";
