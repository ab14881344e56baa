//! Git's credential store, driven through the real `git credential` command.
//!
//! huggingface_hub saves the token for its endpoint under the user `hf_user` in every
//! configured helper (`git credential approve`) and removes it on every logout
//! (`git credential reject`). We do the same, with the same input, so entries written by
//! either tool are found and removed by the other. Where Python crashes without a `git`
//! binary, we return an error that says so.
//!
//! It also holds our own helper (`hf auth git-credential`): [`CredentialRequest`] reads
//! what git asks on standard input (bounded, parsed once), [`Endpoint`] says whether the
//! request is for the Hub's endpoint, and [`install_helper`]/[`uninstall_helper`] add and
//! remove exactly one `credential.<endpoint>.helper` entry through `git config`.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::secret::Token;

/// The user name huggingface_hub stores Hub credentials under.
pub const GIT_USER: &str = "hf_user";

/// `git` could not be run or refused the request.
#[derive(Debug, thiserror::Error)]
pub enum GitCredentialError {
    /// No `git` on `PATH`.
    #[error(
        "`git` was not found on PATH, so the git credential helper could not be updated\n\nhint: install git, or leave out --add-to-git-credential"
    )]
    NotFound,
    /// `git` ran and failed.
    #[error("`git {command}` failed: {stderr}")]
    Failed {
        /// The git subcommand.
        command: String,
        /// What git printed.
        stderr: String,
    },
    /// Could not talk to the child process.
    #[error("could not run `git`: {0}")]
    Io(#[from] std::io::Error),
}

/// The configured helpers (`credential.helper=…` lines of `git config --list`), sorted and
/// deduplicated. URL-scoped helpers are not seen, as in huggingface_hub.
pub fn helpers() -> Result<Vec<String>, GitCredentialError> {
    let output = run(&["config", "--list"], None)?;
    let mut found: Vec<String> = output.lines().filter_map(helper_name).map(str::to_owned).collect();
    found.sort();
    found.dedup();
    Ok(found)
}

/// Saves `token` for `endpoint` in every configured helper.
pub fn approve(endpoint: &str, token: &Token) -> Result<(), GitCredentialError> {
    let input = format!("url={endpoint}\nusername={GIT_USER}\npassword={}\n\n", token.expose());
    run(&["credential", "approve"], Some(&input)).map(drop)
}

/// Removes the credential for `endpoint` from every configured helper.
pub fn reject(endpoint: &str) -> Result<(), GitCredentialError> {
    let input = format!("url={endpoint}\nusername={GIT_USER}\n\n");
    run(&["credential", "reject"], Some(&input)).map(drop)
}

/// The helper name of one `git config --list` line, as huggingface_hub's regex reads it.
fn helper_name(line: &str) -> Option<&str> {
    let line = line.trim_start();
    let (key, value) = line.split_once('=')?;
    if !key.trim_end().eq_ignore_ascii_case("credential.helper") {
        return None;
    }
    let value = value.trim_start();
    let end = value.find(|c: char| !(c.is_alphanumeric() || matches!(c, '_' | '-' | '/'))).unwrap_or(value.len());
    let rest = &value[end..];
    (end > 0 && (rest.is_empty() || rest.starts_with(char::is_whitespace))).then(|| &value[..end])
}

/// Most bytes of a request git sends a helper (it sends a few short lines).
pub const MAX_REQUEST_BYTES: u64 = 64 << 10;

/// What git asks a credential helper: the `key=value` lines of its protocol.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CredentialRequest {
    /// `https`, `http`, …
    pub protocol: Option<String>,
    /// `host` or `host:port`.
    pub host: Option<String>,
    /// The user name git already has, if any.
    pub username: Option<String>,
}

/// A request git sent that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// More than [`MAX_REQUEST_BYTES`].
    #[error("the credential request on standard input is larger than {MAX_REQUEST_BYTES} bytes")]
    TooLarge,
    /// Reading standard input failed.
    #[error("cannot read the credential request: {0}")]
    Io(#[from] std::io::Error),
}

impl CredentialRequest {
    /// Reads `key=value` lines up to a blank line or the end, at most
    /// [`MAX_REQUEST_BYTES`]. Unknown keys and lines without `=` are ignored, as git does.
    pub fn read(input: impl std::io::Read) -> Result<Self, RequestError> {
        use std::io::BufRead;
        let mut reader = std::io::BufReader::new(input.take(MAX_REQUEST_BYTES + 1));
        let mut request = Self::default();
        let mut total = 0u64;
        let mut line = Vec::new();
        loop {
            line.clear();
            let n = reader.read_until(b'\n', &mut line)?;
            total += n as u64;
            if total > MAX_REQUEST_BYTES {
                return Err(RequestError::TooLarge);
            }
            if n == 0 {
                break;
            }
            let text = String::from_utf8_lossy(&line);
            let text = text.trim_end_matches(['\n', '\r']);
            if text.is_empty() {
                break;
            }
            let Some((key, value)) = text.split_once('=') else { continue };
            let value = Some(value.to_owned());
            match key {
                "protocol" => request.protocol = value,
                "host" => request.host = value,
                "username" => request.username = value,
                _ => {}
            }
        }
        Ok(request)
    }
}

/// The scheme, host and port of the Hub endpoint, to compare git's requests with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    scheme: String,
    host: String,
    port: Option<u16>,
}

impl Endpoint {
    /// Parses `scheme://host[:port][/path]`; `None` for anything else.
    pub fn parse(url: &str) -> Option<Self> {
        let (scheme, rest) = url.split_once("://")?;
        let authority = rest.split(['/', '?', '#']).next()?;
        let authority = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
        Self::from_parts(scheme, authority)
    }

    fn from_parts(scheme: &str, authority: &str) -> Option<Self> {
        let scheme = scheme.to_ascii_lowercase();
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) if !host.is_empty() && !port.contains(']') => (host, Some(port.parse::<u16>().ok()?)),
            _ => (authority, None),
        };
        if host.is_empty() || host.contains(|c: char| c.is_whitespace() || c.is_control()) {
            return None;
        }
        let default = match scheme.as_str() {
            "https" => Some(443),
            "http" => Some(80),
            _ => None,
        };
        let port = port.filter(|p| Some(*p) != default);
        Some(Self { scheme, host: host.to_ascii_lowercase(), port })
    }

    /// Whether git's request is for this endpoint: same protocol, host and port.
    pub fn matches(&self, request: &CredentialRequest) -> bool {
        match (&request.protocol, &request.host) {
            (Some(protocol), Some(host)) => Self::from_parts(protocol, host).is_some_and(|asked| asked == *self),
            _ => false,
        }
    }

    /// `scheme://host[:port]`, the URL a `credential.<url>.helper` entry is scoped to.
    pub fn base_url(&self) -> String {
        match self.port {
            Some(port) => format!("{}://{}:{port}", self.scheme, self.host),
            None => format!("{}://{}", self.scheme, self.host),
        }
    }
}

/// Which git configuration file an install goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigScope {
    /// `~/.gitconfig` (`git config --global`).
    Global,
    /// The current repository's `.git/config` (`git config --local`).
    Local,
}

impl ConfigScope {
    fn flag(self) -> &'static str {
        match self {
            Self::Global => "--global",
            Self::Local => "--local",
        }
    }
}

/// What an install or uninstall did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HelperChange {
    /// The entry was added or removed.
    Changed,
    /// Nothing to do: already installed, or not installed.
    Unchanged,
}

/// The `credential.<url>.helper` key for `endpoint`.
pub fn helper_key(endpoint: &Endpoint) -> String {
    format!("credential.{}.helper", endpoint.base_url())
}

/// The helper value that runs `program auth git-credential` (git appends the action).
pub fn helper_value(program: &std::path::Path) -> String {
    let path = program.display().to_string().replace('\'', "'\\''");
    format!("!'{path}' {HELPER_ARGS}")
}

/// The arguments every value we install ends with; how our entries are recognised.
const HELPER_ARGS: &str = "auth git-credential";

/// Adds our helper for `endpoint` to git's configuration (once).
///
/// When the endpoint has no helper of its own yet, an empty entry goes first: git's way to
/// reset the helpers inherited from `credential.helper` for this URL, so that a general
/// `store` (which Python's login suggests) is not handed the token to write in plain text
/// each time git approves it.
pub fn install_helper(
    scope: ConfigScope,
    endpoint: &Endpoint,
    program: &std::path::Path,
) -> Result<HelperChange, GitCredentialError> {
    let key = helper_key(endpoint);
    let value = helper_value(program);
    let values = current_values(scope, &key)?;
    if values.contains(&value) {
        return Ok(HelperChange::Unchanged);
    }
    if values.is_empty() {
        run(&["config", scope.flag(), "--add", &key, ""], None)?;
    }
    run(&["config", scope.flag(), "--add", &key, &value], None)?;
    Ok(HelperChange::Changed)
}

/// Removes every helper entry of ours for `endpoint` (any `hf` path), and the
/// `[credential "<url>"]` section if it is left empty; other entries stay as they were.
pub fn uninstall_helper(scope: ConfigScope, endpoint: &Endpoint) -> Result<HelperChange, GitCredentialError> {
    let key = helper_key(endpoint);
    let ours: Vec<String> =
        current_values(scope, &key)?.into_iter().filter(|v| v.starts_with('!') && v.ends_with(HELPER_ARGS)).collect();
    if ours.is_empty() {
        return Ok(HelperChange::Unchanged);
    }
    for value in &ours {
        run(&["config", scope.flag(), "--fixed-value", "--unset-all", &key, value], None)?;
    }
    // The reset that install put first, when nothing but it is left.
    if current_values(scope, &key)?.iter().all(String::is_empty) {
        let _ = run(&["config", scope.flag(), "--unset-all", &key, "^$"], None);
    }
    let section = format!("credential.{}", endpoint.base_url());
    let prefix = format!("{section}.");
    let names = run(&["config", scope.flag(), "--name-only", "--list"], None)?;
    if !names.lines().any(|name| name.starts_with(&prefix)) {
        // Only an empty section is left; a failure here leaves an empty header, which git ignores.
        let _ = run(&["config", scope.flag(), "--remove-section", &section], None);
    }
    Ok(HelperChange::Changed)
}

/// Whether git, run here, asks hf for `endpoint`'s credentials (our helper is installed in
/// any scope git reads).
pub fn helper_installed(endpoint: &Endpoint) -> Result<bool, GitCredentialError> {
    let values = config_values(None, &helper_key(endpoint))?;
    Ok(values.iter().any(|v| v.starts_with('!') && v.ends_with(HELPER_ARGS)))
}

/// Values of `key` in `scope` (none when the key or the file is absent).
fn current_values(scope: ConfigScope, key: &str) -> Result<Vec<String>, GitCredentialError> {
    config_values(Some(scope), key)
}

/// Values of `key` in `scope`, or in every scope git reads (none when it is not set).
fn config_values(scope: Option<ConfigScope>, key: &str) -> Result<Vec<String>, GitCredentialError> {
    let mut args = vec!["config"];
    args.extend(scope.map(ConfigScope::flag));
    args.extend(["--get-all", key]);
    match run(&args, None) {
        Ok(out) => Ok(out.lines().map(str::to_owned).collect()),
        // Exit status 1: the key is not set.
        Err(GitCredentialError::Failed { stderr, .. }) if stderr.is_empty() => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

fn run(args: &[&str], stdin: Option<&str>) -> Result<String, GitCredentialError> {
    let mut child = match Command::new("git")
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(GitCredentialError::NotFound);
        }
        Err(e) => return Err(e.into()),
    };
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(input.as_bytes())?;
    }
    let output = child.wait_with_output()?;
    if !output.status.success() {
        return Err(GitCredentialError::Failed {
            command: args.join(" "),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_match_only_the_endpoint() {
        let hub = Endpoint::parse("https://huggingface.co").unwrap();
        let ask = |text: &str| CredentialRequest::read(text.as_bytes()).unwrap();
        assert!(hub.matches(&ask("protocol=https\nhost=huggingface.co\n\n")));
        assert!(hub.matches(&ask("protocol=https\nhost=HuggingFace.co:443\nusername=bob\n")));
        assert!(!hub.matches(&ask("protocol=http\nhost=huggingface.co\n")));
        assert!(!hub.matches(&ask("protocol=https\nhost=huggingface.co.evil.example\n")));
        assert!(!hub.matches(&ask("protocol=https\nhost=huggingface.co:8443\n")));
        assert!(!hub.matches(&ask("protocol=https\n\nhost=huggingface.co\n")), "input ends at the blank line");
        let local = Endpoint::parse("http://127.0.0.1:8080/mirror").unwrap();
        assert_eq!(local.base_url(), "http://127.0.0.1:8080");
        assert!(local.matches(&ask("protocol=http\nhost=127.0.0.1:8080\n")));
        assert!(!local.matches(&ask("protocol=http\nhost=127.0.0.1\n")));
        let big = "x".repeat(usize::try_from(MAX_REQUEST_BYTES).unwrap() + 1);
        assert!(matches!(CredentialRequest::read(big.as_bytes()), Err(RequestError::TooLarge)));
    }

    #[test]
    fn helper_value_quotes_the_path() {
        assert_eq!(helper_value(std::path::Path::new("/o'k/hf")), "!'/o'\\''k/hf' auth git-credential");
    }

    #[test]
    fn reads_helper_lines_like_python() {
        assert_eq!(helper_name("credential.helper=store"), Some("store"));
        assert_eq!(helper_name("credential.helper=cache --timeout 30"), Some("cache"));
        assert_eq!(helper_name("credential.helper=/usr/bin/x"), Some("/usr/bin/x"));
        assert_eq!(helper_name("credential.https://h.helper=store"), None);
        assert_eq!(helper_name("user.name=bob"), None);
        assert_eq!(helper_name("credential.helper=!f() { x; }"), None);
    }
}
