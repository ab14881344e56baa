//! The environment, read once into a [`Config`].
//!
//! huggingface_hub reads its `HF_*` variables at import time; we read them once, here, with
//! the same defaults, truth values and precedence, and hand the result to everything else.
//! After [`Config::from_env`] nothing in hfkit looks at the process environment again, so a
//! program (or a test) can build a `Config` from any set of variables with
//! [`Config::from_lookup`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::env_vars as var;

/// The Hub's public endpoint, used when `HF_ENDPOINT` is unset.
pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";
/// The staging Hub, used when `HUGGINGFACE_CO_STAGING` is true.
pub const STAGING_ENDPOINT: &str = "https://hub-ci.huggingface.co";
/// Default metadata and download timeout, in seconds, as in huggingface_hub.
const DEFAULT_TIMEOUT_SECS: u64 = 10;

/// Everything hfkit takes from the environment, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `HF_HOME`: root of the client's files.
    pub hf_home: PathBuf,
    /// `HF_HUB_CACHE` (or its legacy name): the model/dataset cache.
    pub hub_cache: PathBuf,
    /// `HF_ASSETS_CACHE` (or its legacy name).
    pub assets_cache: PathBuf,
    /// `HF_TOKEN_PATH`: the active token file.
    pub token_path: PathBuf,
    /// `stored_tokens`, always beside the token file (it has no variable of its own).
    pub stored_tokens_path: PathBuf,
    /// `HF_XET_CACHE`, reported only.
    pub xet_cache: PathBuf,
    /// `HF_ENDPOINT` without trailing slashes.
    pub endpoint: String,
    /// `HF_HUB_OFFLINE`, falling back to `TRANSFORMERS_OFFLINE` when unset or empty.
    pub offline: bool,
    /// `HF_HUB_DISABLE_IMPLICIT_TOKEN`.
    pub disable_implicit_token: bool,
    /// `HF_HUB_DISABLE_TELEMETRY`, `DISABLE_TELEMETRY` or `DO_NOT_TRACK`.
    pub disable_telemetry: bool,
    /// `HF_HUB_DISABLE_PROGRESS_BARS`: `None` when unset (the command decides).
    pub disable_progress_bars: Option<bool>,
    /// `HF_HUB_DISABLE_SYMLINKS`.
    pub disable_symlinks: bool,
    /// `HF_HUB_DISABLE_SYMLINKS_WARNING`.
    pub disable_symlinks_warning: bool,
    /// `HF_HUB_DISABLE_EXPERIMENTAL_WARNING`.
    pub disable_experimental_warning: bool,
    /// `HF_HUB_DISABLE_XET`.
    pub disable_xet: bool,
    /// `HF_HUB_DISABLE_SHARED_BLOBS`.
    pub disable_shared_blobs: bool,
    /// `HF_XET_HIGH_PERFORMANCE`.
    pub xet_high_performance: bool,
    /// `HF_HUB_ETAG_TIMEOUT`.
    pub etag_timeout: Duration,
    /// `HF_HUB_DOWNLOAD_TIMEOUT`.
    pub download_timeout: Duration,
    /// `HF_HUB_USER_AGENT_ORIGIN`.
    pub user_agent_origin: Option<String>,
    /// `HF_DEVICE_CODE_OAUTH_CLIENT_ID`: the OAuth client of the browser login and refresh.
    pub device_client_id: String,
    /// `HF_DEBUG`.
    pub debug: bool,
    /// The token-related variables, raw, for the token chain and `hf auth status`.
    pub token_vars: TokenVars,
    /// How downloads transfer bytes.
    pub transfer: TransferSettings,
    /// Proxies and trusted certificates.
    pub network: NetworkSettings,
}

/// How downloads move bytes: parallelism, chunking, retries, stall detection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferSettings {
    /// Parallel ranged connections for one large file: the most when `adaptive`, else
    /// exactly this many.
    pub connections: usize,
    /// Bytes per ranged request: the most when `adaptive`, else exactly this many.
    pub chunk_size: u64,
    /// Whether the engine fits connections and request sizes to the link (false when
    /// `HF_HUB_DOWNLOAD_CONNECTIONS` or `HF_HUB_DOWNLOAD_CHUNK_SIZE` is set).
    pub adaptive: bool,
    /// Memory for received pieces that wait for the in-order hash, for all the large files
    /// of the process together, when `adaptive` (each file takes its share). Each request
    /// costs a round trip, and the window sets how long requests may be, so more keeps a
    /// long link busier, at that much more memory: 24 MiB by default (`hf download` peaks at
    /// about 50 MiB); at 40 ms, the 2 GB repo's large file went from 94.5 MB/s with 12 MiB to
    /// 107.7 MB/s with 24 MiB, and 114 MB/s with 40 MiB.
    pub window: u64,
    /// Files downloaded at once.
    pub workers: usize,
    /// Retries after a failed request.
    pub retries: u32,
    /// First retry delay (doubled each retry, with jitter).
    pub retry_base: Duration,
    /// Time without a byte after which a transfer is cut and resumed.
    pub stall_timeout: Duration,
}

impl Default for TransferSettings {
    fn default() -> Self {
        Self {
            connections: 16,
            chunk_size: 16 * 1024 * 1024,
            adaptive: true,
            window: 24 << 20,
            workers: 16,
            retries: 5,
            retry_base: Duration::from_secs(1),
            stall_timeout: Duration::from_secs(DEFAULT_TIMEOUT_SECS),
        }
    }
}

/// Proxies (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY`, upper or lower case) and a
/// custom CA bundle (`REQUESTS_CA_BUNDLE`, else `SSL_CERT_FILE`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NetworkSettings {
    /// Proxy for https URLs.
    pub https_proxy: Option<String>,
    /// Proxy for http URLs.
    pub http_proxy: Option<String>,
    /// Proxy for both, when the specific one is unset.
    pub all_proxy: Option<String>,
    /// Comma-separated hosts that bypass the proxy.
    pub no_proxy: Option<String>,
    /// PEM file of trusted CAs, replacing the system roots.
    pub ca_bundle: Option<PathBuf>,
}

/// The raw values of every variable that can supply (or hide) a token.
///
/// Kept raw so that `hf auth status` can say "set but ignored" and why; the chain in
/// [`crate::auth`] applies huggingface_hub's cleaning rules.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TokenVars {
    /// `HF_TOKEN`.
    pub hf_token: Option<String>,
    /// `HUGGING_FACE_HUB_TOKEN` (legacy, still honoured).
    pub hugging_face_hub_token: Option<String>,
    /// `HUGGINGFACE_TOKEN` (never honoured by huggingface_hub 2.4).
    pub huggingface_token: Option<String>,
    /// `HF_OIDC_RESOURCE`.
    pub oidc_resource: Option<String>,
    /// `HF_OIDC_ID_TOKEN`.
    pub oidc_id_token: Option<String>,
    /// `GITHUB_ACTIONS == "true"`.
    pub github_actions: bool,
    /// `ACTIONS_ID_TOKEN_REQUEST_URL`.
    pub actions_id_token_request_url: Option<String>,
    /// `ACTIONS_ID_TOKEN_REQUEST_TOKEN`.
    pub actions_id_token_request_token: Option<String>,
}

impl std::fmt::Debug for TokenVars {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set = |v: &Option<String>| if v.is_some() { "<set>" } else { "<unset>" };
        f.debug_struct("TokenVars")
            .field("hf_token", &set(&self.hf_token))
            .field("hugging_face_hub_token", &set(&self.hugging_face_hub_token))
            .field("huggingface_token", &set(&self.huggingface_token))
            .field("oidc_resource", &self.oidc_resource)
            .field("oidc_id_token", &set(&self.oidc_id_token))
            .field("github_actions", &self.github_actions)
            .finish_non_exhaustive()
    }
}

/// A variable whose value cannot be used.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// An integer variable that does not hold a non-negative whole number.
    #[error(
        "{name}={value:?} is not a whole number of seconds\n\nhint: set {name} to a number such as 10, or unset it to use the default"
    )]
    InvalidInteger {
        /// The variable's name.
        name: &'static str,
        /// Its value.
        value: String,
    },
    /// A setting that must be a positive number.
    #[error(
        "{name}={value:?} is not a positive whole number\n\nhint: set {name} to a number such as 8, or unset it to use the default"
    )]
    InvalidNumber {
        /// The variable's name.
        name: &'static str,
        /// Its value.
        value: String,
    },
    /// `HF_ENDPOINT` is not an http(s) URL.
    #[error(
        "HF_ENDPOINT={value:?} is not an http:// or https:// URL\n\nhint: set it to the Hub's base URL, for example https://huggingface.co"
    )]
    InvalidEndpoint {
        /// The variable's value.
        value: String,
    },
}

/// huggingface_hub's truth values: `1`, `ON`, `YES`, `TRUE` in any case, nothing trimmed.
pub fn is_true(value: Option<&str>) -> bool {
    value.is_some_and(|v| matches!(v.to_ascii_uppercase().as_str(), "1" | "ON" | "YES" | "TRUE"))
}

/// huggingface_hub 2.4's OAuth client id for the device-code login.
pub const DEFAULT_DEVICE_CLIENT_ID: &str = "26be6b09-91c5-47da-9861-d2d2bb7a7e36";

impl Config {
    /// Whether downloads may link from huggingface_hub 2.4's shared blob store: neither
    /// `HF_HUB_DISABLE_SHARED_BLOBS` nor `HF_HUB_DISABLE_XET` is set (2.4's
    /// `shared_blobs_enabled`).
    pub fn shared_blobs_enabled(&self) -> bool {
        !self.disable_shared_blobs && !self.disable_xet
    }

    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the process environment, then the given `.env` files for what it lacks.
    ///
    /// A variable set in the real environment always wins, as python-dotenv does by default;
    /// among files, the first one that sets a variable wins.
    pub fn from_env_and_files(files: &[crate::envfile::EnvFile]) -> Result<Self, ConfigError> {
        Self::from_lookup(|name| {
            std::env::var(name).ok().or_else(|| files.iter().find_map(|f| f.get(name).map(str::to_owned)))
        })
    }

    /// Builds a config from any variable lookup (the process environment, a test's map…).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name);
        let flag = |name: &str| is_true(get(name).as_deref());
        let home = get(var::HOME).unwrap_or_default();
        let expand = |raw: &str| expand_path(raw, &home, &lookup);

        let staging = flag(var::HUGGINGFACE_CO_STAGING);
        let endpoint = if staging {
            STAGING_ENDPOINT.to_owned()
        } else {
            let raw = get(var::HF_ENDPOINT).unwrap_or_else(|| DEFAULT_ENDPOINT.to_owned());
            let trimmed = raw.trim_end_matches('/').to_owned();
            if !(trimmed.starts_with("http://") || trimmed.starts_with("https://")) {
                return Err(ConfigError::InvalidEndpoint { value: raw });
            }
            trimmed
        };

        let hf_home = expand(&get(var::HF_HOME).unwrap_or_else(|| {
            let xdg = get(var::XDG_CACHE_HOME).unwrap_or_else(|| format!("{home}/.cache"));
            format!("{xdg}/huggingface")
        }));
        let hub_cache = match get(var::HF_HUB_CACHE).or_else(|| get(var::HUGGINGFACE_HUB_CACHE)) {
            Some(raw) => expand(&raw),
            None => hf_home.join("hub"),
        };
        let assets_cache = match get(var::HF_ASSETS_CACHE).or_else(|| get(var::HUGGINGFACE_ASSETS_CACHE)) {
            Some(raw) => expand(&raw),
            None => hf_home.join("assets"),
        };
        let token_path = match get(var::HF_TOKEN_PATH) {
            Some(raw) => expand(&raw),
            None => hf_home.join("token"),
        };
        // huggingface_hub derives `stored_tokens` before applying staging, so staging moves
        // the token file but not the stored tokens.
        let stored_tokens_path = token_path.parent().unwrap_or(Path::new("")).join("stored_tokens");
        let token_path = if staging { expand("~/.cache/huggingface_staging/token") } else { token_path };
        let xet_cache = get(var::HF_XET_CACHE).map_or_else(|| hf_home.join("xet"), PathBuf::from);

        let hub_offline = get(var::HF_HUB_OFFLINE).filter(|v| !v.is_empty());
        let offline = is_true(hub_offline.or_else(|| get(var::TRANSFORMERS_OFFLINE)).as_deref());

        let number = |name: &'static str, default: u64| -> Result<u64, ConfigError> {
            match get(name) {
                None => Ok(default),
                Some(raw) => raw
                    .trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or(ConfigError::InvalidNumber { name, value: raw }),
            }
        };
        let defaults = TransferSettings::default();
        let download_timeout = timeout(var::HF_HUB_DOWNLOAD_TIMEOUT, get(var::HF_HUB_DOWNLOAD_TIMEOUT))?;
        let as_usize = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        let transfer = TransferSettings {
            connections: as_usize(number(var::HF_HUB_DOWNLOAD_CONNECTIONS, defaults.connections as u64)?),
            chunk_size: number(var::HF_HUB_DOWNLOAD_CHUNK_SIZE, defaults.chunk_size)?,
            adaptive: get(var::HF_HUB_DOWNLOAD_CONNECTIONS).is_none() && get(var::HF_HUB_DOWNLOAD_CHUNK_SIZE).is_none(),
            window: defaults.window,
            workers: as_usize(number(var::HF_HUB_DOWNLOAD_WORKERS, defaults.workers as u64)?),
            retries: match get(var::HF_HUB_DOWNLOAD_RETRIES) {
                None => defaults.retries,
                Some(raw) => raw
                    .trim()
                    .parse()
                    .map_err(|_| ConfigError::InvalidNumber { name: var::HF_HUB_DOWNLOAD_RETRIES, value: raw })?,
            },
            retry_base: Duration::from_millis(number(var::HF_HUB_DOWNLOAD_RETRY_BASE_MS, 1000)?),
            stall_timeout: Duration::from_secs(number(var::HF_HUB_DOWNLOAD_STALL_TIMEOUT, download_timeout.as_secs())?),
        };
        let either_case = |name: &str| get(name).or_else(|| get(&name.to_lowercase())).filter(|v| !v.is_empty());
        let network = NetworkSettings {
            https_proxy: either_case(var::HTTPS_PROXY),
            http_proxy: either_case(var::HTTP_PROXY),
            all_proxy: either_case(var::ALL_PROXY),
            no_proxy: either_case(var::NO_PROXY),
            ca_bundle: get(var::REQUESTS_CA_BUNDLE)
                .or_else(|| get(var::SSL_CERT_FILE))
                .filter(|v| !v.is_empty())
                .map(|v| expand(&v)),
        };

        Ok(Self {
            transfer,
            network,
            hf_home,
            hub_cache,
            assets_cache,
            token_path,
            stored_tokens_path,
            xet_cache,
            endpoint,
            offline,
            disable_implicit_token: flag(var::HF_HUB_DISABLE_IMPLICIT_TOKEN),
            disable_telemetry: flag(var::HF_HUB_DISABLE_TELEMETRY)
                || flag(var::DISABLE_TELEMETRY)
                || flag(var::DO_NOT_TRACK),
            disable_progress_bars: get(var::HF_HUB_DISABLE_PROGRESS_BARS).map(|v| is_true(Some(&v))),
            disable_symlinks: flag(var::HF_HUB_DISABLE_SYMLINKS),
            disable_symlinks_warning: flag(var::HF_HUB_DISABLE_SYMLINKS_WARNING),
            disable_experimental_warning: flag(var::HF_HUB_DISABLE_EXPERIMENTAL_WARNING),
            disable_xet: flag(var::HF_HUB_DISABLE_XET),
            disable_shared_blobs: flag(var::HF_HUB_DISABLE_SHARED_BLOBS),
            xet_high_performance: flag(var::HF_XET_HIGH_PERFORMANCE),
            etag_timeout: timeout(var::HF_HUB_ETAG_TIMEOUT, get(var::HF_HUB_ETAG_TIMEOUT))?,
            download_timeout,
            user_agent_origin: get(var::HF_HUB_USER_AGENT_ORIGIN),
            device_client_id: get(var::HF_DEVICE_CODE_OAUTH_CLIENT_ID)
                .unwrap_or_else(|| DEFAULT_DEVICE_CLIENT_ID.to_owned()),
            debug: flag(var::HF_DEBUG),
            token_vars: TokenVars {
                hf_token: get(var::HF_TOKEN),
                hugging_face_hub_token: get(var::HUGGING_FACE_HUB_TOKEN),
                huggingface_token: get(var::HUGGINGFACE_TOKEN),
                oidc_resource: get(var::HF_OIDC_RESOURCE),
                oidc_id_token: get(var::HF_OIDC_ID_TOKEN),
                github_actions: get(var::GITHUB_ACTIONS).as_deref() == Some("true"),
                actions_id_token_request_url: get(var::ACTIONS_ID_TOKEN_REQUEST_URL),
                actions_id_token_request_token: get(var::ACTIONS_ID_TOKEN_REQUEST_TOKEN),
            },
        })
    }

    /// A config rooted at `hf_home` with every other setting at its default, reading no
    /// environment. For programs that manage their own folders, and for tests.
    pub fn isolated(hf_home: impl Into<PathBuf>, endpoint: &str) -> Self {
        let mut config = Self::from_lookup(|_| None).expect("defaults are valid").with_hf_home(hf_home);
        config.endpoint = endpoint.trim_end_matches('/').to_owned();
        config
    }

    /// This config with `hf_home` and every path derived from it moved there.
    #[must_use]
    pub fn with_hf_home(mut self, hf_home: impl Into<PathBuf>) -> Self {
        let hf_home = hf_home.into();
        self.hub_cache = hf_home.join("hub");
        self.assets_cache = hf_home.join("assets");
        self.token_path = hf_home.join("token");
        self.stored_tokens_path = hf_home.join("stored_tokens");
        self.xet_cache = hf_home.join("xet");
        self.hf_home = hf_home;
        self
    }

    /// Whether the endpoint is the public Hub (huggingface_hub then omits it from output).
    pub fn is_default_endpoint(&self) -> bool {
        self.endpoint == DEFAULT_ENDPOINT
    }
}

/// Parses a timeout variable like huggingface_hub (`0` and unset mean the default), but
/// refuses what Python would crash on at import.
fn timeout(name: &'static str, raw: Option<String>) -> Result<Duration, ConfigError> {
    let Some(raw) = raw else {
        return Ok(Duration::from_secs(DEFAULT_TIMEOUT_SECS));
    };
    let secs: u64 = raw.trim().parse().map_err(|_| ConfigError::InvalidInteger { name, value: raw.clone() })?;
    Ok(Duration::from_secs(if secs == 0 { DEFAULT_TIMEOUT_SECS } else { secs }))
}

/// `os.path.expandvars(os.path.expanduser(raw))`: a leading `~` becomes the home folder,
/// then `$NAME` and `${NAME}` are replaced by known variables (unknown ones stay as written).
fn expand_path(raw: &str, home: &str, lookup: &impl Fn(&str) -> Option<String>) -> PathBuf {
    let user_expanded = match raw.strip_prefix('~') {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => format!("{home}{rest}"),
        _ => raw.to_owned(),
    };
    PathBuf::from(expand_vars(&user_expanded, lookup))
}

fn expand_vars(input: &str, lookup: &impl Fn(&str) -> Option<String>) -> String {
    let is_name_char = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        let (name, consumed) = if let Some(braced) = after.strip_prefix('{') {
            match braced.find('}') {
                Some(end) => (&braced[..end], end + 2),
                None => ("", 0),
            }
        } else {
            let end = after.find(|c: char| !is_name_char(c)).unwrap_or(after.len());
            (&after[..end], end)
        };
        match lookup(name).filter(|_| !name.is_empty()) {
            Some(value) => out.push_str(&value),
            None => out.push_str(&rest[pos..=pos + consumed]),
        }
        rest = &rest[pos + 1 + consumed..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Config {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        Config::from_lookup(|k| map.get(k).cloned()).unwrap()
    }

    #[test]
    fn defaults_follow_home() {
        let c = config(&[("HOME", "/home/bob")]);
        assert_eq!(c.hf_home, PathBuf::from("/home/bob/.cache/huggingface"));
        assert_eq!(c.hub_cache, PathBuf::from("/home/bob/.cache/huggingface/hub"));
        assert_eq!(c.token_path, PathBuf::from("/home/bob/.cache/huggingface/token"));
        assert_eq!(c.stored_tokens_path, PathBuf::from("/home/bob/.cache/huggingface/stored_tokens"));
        assert_eq!(c.endpoint, "https://huggingface.co");
        assert_eq!(c.etag_timeout, Duration::from_secs(10));
        assert!(!c.offline);
        assert_eq!(c.disable_progress_bars, None);
    }

    #[test]
    fn xdg_only_matters_without_hf_home() {
        let c = config(&[("HOME", "/h"), ("XDG_CACHE_HOME", "/xdg")]);
        assert_eq!(c.hf_home, PathBuf::from("/xdg/huggingface"));
        let c = config(&[("HOME", "/h"), ("XDG_CACHE_HOME", "/xdg"), ("HF_HOME", "/hf")]);
        assert_eq!(c.hf_home, PathBuf::from("/hf"));
    }

    #[test]
    fn hub_cache_beats_legacy_and_hf_home() {
        let c = config(&[("HF_HOME", "/hf"), ("HUGGINGFACE_HUB_CACHE", "/legacy"), ("HF_HUB_CACHE", "/new")]);
        assert_eq!(c.hub_cache, PathBuf::from("/new"));
        let c = config(&[("HF_HOME", "/hf"), ("HUGGINGFACE_HUB_CACHE", "/legacy")]);
        assert_eq!(c.hub_cache, PathBuf::from("/legacy"));
    }

    #[test]
    fn paths_expand_tilde_and_variables() {
        let c = config(&[("HOME", "/home/bob"), ("USER", "bob"), ("HF_HOME", "~/x/$USER/${USER}/$NOPE")]);
        assert_eq!(c.hf_home, PathBuf::from("/home/bob/x/bob/bob/$NOPE"));
    }

    #[test]
    fn stored_tokens_follow_token_path() {
        let c = config(&[("HF_TOKEN_PATH", "/tmp/x2/alt/mytok")]);
        assert_eq!(c.stored_tokens_path, PathBuf::from("/tmp/x2/alt/stored_tokens"));
    }

    #[test]
    fn truth_values_are_pythons() {
        for yes in ["1", "true", "TRUE", "yes", "On"] {
            assert!(is_true(Some(yes)), "{yes}");
        }
        for no in [" 1", "y", "2", "auto", "", "0", "false"] {
            assert!(!is_true(Some(no)), "{no}");
        }
        assert!(!is_true(None));
    }

    #[test]
    fn offline_falls_back_to_transformers_only_when_unset_or_empty() {
        assert!(config(&[("TRANSFORMERS_OFFLINE", "1")]).offline);
        assert!(config(&[("HF_HUB_OFFLINE", ""), ("TRANSFORMERS_OFFLINE", "1")]).offline);
        assert!(!config(&[("HF_HUB_OFFLINE", "0"), ("TRANSFORMERS_OFFLINE", "1")]).offline);
    }

    #[test]
    fn endpoint_keeps_path_prefix_and_drops_trailing_slashes() {
        let c = config(&[("HF_ENDPOINT", "http://127.0.0.1:8080/mirror//")]);
        assert_eq!(c.endpoint, "http://127.0.0.1:8080/mirror");
        assert!(Config::from_lookup(|k| (k == "HF_ENDPOINT").then(|| "ftp://x".into())).is_err());
    }

    #[test]
    fn timeouts_zero_means_default_and_garbage_is_an_error() {
        assert_eq!(config(&[("HF_HUB_ETAG_TIMEOUT", "0")]).etag_timeout, Duration::from_secs(10));
        assert_eq!(config(&[("HF_HUB_DOWNLOAD_TIMEOUT", "30")]).download_timeout, Duration::from_secs(30));
        let err = Config::from_lookup(|k| (k == "HF_HUB_ETAG_TIMEOUT").then(|| "1.5".into())).unwrap_err();
        assert!(err.to_string().contains("HF_HUB_ETAG_TIMEOUT"));
    }

    #[test]
    fn progress_bars_are_tri_state() {
        assert_eq!(config(&[("HF_HUB_DISABLE_PROGRESS_BARS", "1")]).disable_progress_bars, Some(true));
        assert_eq!(config(&[("HF_HUB_DISABLE_PROGRESS_BARS", "0")]).disable_progress_bars, Some(false));
    }

    #[test]
    fn staging_moves_endpoint_and_token_but_not_stored_tokens() {
        let c = config(&[("HOME", "/h"), ("HF_HOME", "/hf"), ("HUGGINGFACE_CO_STAGING", "1")]);
        assert_eq!(c.endpoint, STAGING_ENDPOINT);
        assert_eq!(c.token_path, PathBuf::from("/h/.cache/huggingface_staging/token"));
        assert_eq!(c.stored_tokens_path, PathBuf::from("/hf/stored_tokens"));
    }
}
