//! `hf serve`'s settings, resolved once: the command line, over the `--config` TOML file,
//! over the defaults. The file is read here, at the edge, into checked values: a key the
//! server does not know, a value of the wrong type and a value out of range are refused
//! with the file, the line and what is wrong. Relative paths in the file are taken from the
//! file's folder, so a config works from any working folder.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Result, bail};
use serde::Deserialize;
use toml::Spanned;

use crate::cli::ServeArgs;

/// Every option of `hf serve`, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServeSettings {
    /// The accounts file seeding the store.
    pub(crate) accounts: Option<PathBuf>,
    /// The data folder (`None`: state in memory).
    pub(crate) data: Option<PathBuf>,
    /// Refuse requests without a token.
    pub(crate) no_anonymous: bool,
    /// The cache folder served.
    pub(crate) cache: Option<PathBuf>,
    /// The pull-through upstream.
    pub(crate) upstream: Option<String>,
    /// The file holding the upstream token.
    pub(crate) upstream_token_file: Option<PathBuf>,
    /// How long a branch resolved upstream is remembered.
    pub(crate) ref_ttl: Duration,
    /// No upstream call at all.
    pub(crate) offline: bool,
    /// Connections served at once.
    pub(crate) max_connections: usize,
    /// Time a connection may move no byte.
    pub(crate) idle_timeout: Duration,
    /// Time a client has to send a request's headers.
    pub(crate) header_timeout: Duration,
    /// How long a browser-login code waits for approval.
    pub(crate) device_code_lifetime: Duration,
    /// Browser-login codes that may wait at once.
    pub(crate) max_waiting_logins: u64,
    /// The wait between a browser-login client's polls.
    pub(crate) device_poll_interval: Duration,
    /// How long a browser-login access token works.
    pub(crate) oauth_token_lifetime: Duration,
    /// How long a browser-login refresh token can be used.
    pub(crate) refresh_token_lifetime: Duration,
    /// Address to listen on.
    pub(crate) host: String,
    /// Port to listen on.
    pub(crate) port: u16,
}

/// The keys of a config file: one per option, named like its flag.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct FileOptions {
    accounts: Option<Spanned<PathBuf>>,
    data: Option<Spanned<PathBuf>>,
    no_anonymous: Option<bool>,
    cache: Option<Spanned<PathBuf>>,
    upstream: Option<Spanned<String>>,
    upstream_token_file: Option<Spanned<PathBuf>>,
    ref_ttl: Option<u64>,
    offline: Option<bool>,
    max_connections: Option<Spanned<u64>>,
    idle_timeout: Option<Spanned<u64>>,
    header_timeout: Option<Spanned<u64>>,
    device_code_lifetime: Option<Spanned<u64>>,
    max_waiting_logins: Option<Spanned<u64>>,
    device_poll_interval: Option<Spanned<u64>>,
    oauth_token_lifetime: Option<Spanned<u64>>,
    refresh_token_lifetime: Option<Spanned<u64>>,
    host: Option<Spanned<String>>,
    port: Option<u16>,
}

/// A config file being read: its path and text, to say where a problem is.
struct Source<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Source<'_> {
    /// The error for a problem at `span` (a byte range of the text).
    fn error(&self, span: Option<Range<usize>>, detail: &str) -> anyhow::Error {
        let line = span.map_or(1, |s| self.text[..s.start.min(self.text.len())].matches('\n').count() + 1);
        anyhow::anyhow!(
            "the config file `{}` is not valid, line {line}: {}",
            self.path.display(),
            detail.trim().trim_end_matches('.')
        )
    }

    /// A path of the file, from the file's folder when relative.
    fn path(&self, value: Option<Spanned<PathBuf>>) -> Option<PathBuf> {
        let value = value?.into_inner();
        let folder = self.path.parent().unwrap_or_else(|| Path::new(""));
        Some(if value.is_relative() { folder.join(value) } else { value })
    }

    /// A count of at least one.
    fn at_least_one(&self, key: &str, value: Option<Spanned<u64>>) -> Result<Option<u64>> {
        match value {
            Some(v) if *v.get_ref() == 0 => Err(self.error(Some(v.span()), &format!("`{key}` must be at least 1"))),
            v => Ok(v.map(Spanned::into_inner)),
        }
    }
}

/// The options a config file sets, checked, with its paths made absolute.
#[derive(Debug, Default)]
struct FromFile {
    accounts: Option<PathBuf>,
    data: Option<PathBuf>,
    no_anonymous: Option<bool>,
    cache: Option<PathBuf>,
    upstream: Option<String>,
    upstream_token_file: Option<PathBuf>,
    ref_ttl: Option<u64>,
    offline: Option<bool>,
    max_connections: Option<u64>,
    idle_timeout: Option<u64>,
    header_timeout: Option<u64>,
    device_code_lifetime: Option<u64>,
    max_waiting_logins: Option<u64>,
    device_poll_interval: Option<u64>,
    oauth_token_lifetime: Option<u64>,
    refresh_token_lifetime: Option<u64>,
    host: Option<String>,
    port: Option<u16>,
}

/// Reads and checks a config file.
fn read_file(path: &Path) -> Result<FromFile> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read the config file `{}`: {e}", path.display()))?;
    let source = Source { path, text: &text };
    let options: FileOptions =
        toml::from_str(&text).map_err(|e| source.error(e.span(), &unknown_key_hint(e.message())))?;
    if let Some(upstream) = &options.upstream
        && !(upstream.get_ref().starts_with("http://") || upstream.get_ref().starts_with("https://"))
    {
        return Err(source.error(Some(upstream.span()), "`upstream` must be an http:// or https:// URL"));
    }
    if let Some(host) = &options.host
        && host.get_ref().trim().is_empty()
    {
        return Err(source.error(Some(host.span()), "`host` is empty"));
    }
    Ok(FromFile {
        max_connections: source.at_least_one("max-connections", options.max_connections)?,
        idle_timeout: source.at_least_one("idle-timeout", options.idle_timeout)?,
        header_timeout: source.at_least_one("header-timeout", options.header_timeout)?,
        device_code_lifetime: source.at_least_one("device-code-lifetime", options.device_code_lifetime)?,
        max_waiting_logins: source.at_least_one("max-waiting-logins", options.max_waiting_logins)?,
        device_poll_interval: source.at_least_one("device-poll-interval", options.device_poll_interval)?,
        oauth_token_lifetime: source.at_least_one("oauth-token-lifetime", options.oauth_token_lifetime)?,
        refresh_token_lifetime: source.at_least_one("refresh-token-lifetime", options.refresh_token_lifetime)?,
        accounts: source.path(options.accounts),
        data: source.path(options.data),
        no_anonymous: options.no_anonymous,
        cache: source.path(options.cache),
        upstream: options.upstream.map(Spanned::into_inner),
        upstream_token_file: source.path(options.upstream_token_file),
        ref_ttl: options.ref_ttl,
        offline: options.offline,
        host: options.host.map(Spanned::into_inner),
        port: options.port,
    })
}

/// toml's message for an unknown key, with the way out for the one key people try.
fn unknown_key_hint(message: &str) -> String {
    if message.contains("unknown field `upstream-token`") {
        return "`upstream-token` is not read from a config file (it would sit in a file others may read \
                among other settings): put the token alone in a file named by `upstream-token-file`, or in \
                HF_SERVE_UPSTREAM_TOKEN"
            .to_owned();
    }
    message.to_owned()
}

impl ServeSettings {
    /// The command line over the config file (if any) over the defaults.
    pub(crate) fn resolve(args: &ServeArgs) -> Result<Self> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None => FromFile::default(),
        };
        let secs =
            |cli: Option<u64>, file: Option<u64>, default: u64| Duration::from_secs(cli.or(file).unwrap_or(default));
        let settings = Self {
            accounts: args.accounts.clone().or(file.accounts),
            data: args.data.clone().or(file.data),
            no_anonymous: args.no_anonymous || file.no_anonymous.unwrap_or(false),
            cache: args.cache.clone().or(file.cache),
            upstream: args.upstream.clone().or(file.upstream),
            upstream_token_file: args.upstream_token_file.clone().or(file.upstream_token_file),
            ref_ttl: secs(args.ref_ttl, file.ref_ttl, 60),
            offline: args.offline || file.offline.unwrap_or(false),
            max_connections: usize::try_from(args.max_connections.or(file.max_connections).unwrap_or(512))
                .unwrap_or(usize::MAX),
            idle_timeout: secs(args.idle_timeout, file.idle_timeout, 60),
            header_timeout: secs(args.header_timeout, file.header_timeout, 20),
            device_code_lifetime: secs(args.device_code_lifetime, file.device_code_lifetime, 900),
            max_waiting_logins: args
                .max_waiting_logins
                .or(file.max_waiting_logins)
                .unwrap_or(hfkit_server::oauth::DeviceFlowSettings::default().max_waiting),
            device_poll_interval: secs(args.device_poll_interval, file.device_poll_interval, 5),
            oauth_token_lifetime: secs(args.oauth_token_lifetime, file.oauth_token_lifetime, 7 * 86_400),
            refresh_token_lifetime: secs(args.refresh_token_lifetime, file.refresh_token_lifetime, 90 * 86_400),
            host: args.host.clone().or(file.host).unwrap_or_else(|| "127.0.0.1".to_owned()),
            port: args.port.or(file.port).unwrap_or(8080),
        };
        if settings.upstream.is_some() && settings.cache.is_none() {
            bail!("--upstream needs --cache: the folder where what is fetched upstream is kept");
        }
        if settings.upstream_token_file.is_some() && settings.upstream.is_none() {
            bail!("--upstream-token-file is only used with --upstream");
        }
        Ok(settings)
    }
}
