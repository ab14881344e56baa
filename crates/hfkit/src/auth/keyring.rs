//! The system keyring as the home of the active token (`hf auth login --keyring`).
//!
//! The token file is plain text: every process of the user, and every backup, reads it.
//! With `--keyring` the token goes into the session's secret store instead — the Secret
//! Service over D-Bus (GNOME Keyring, KWallet, KeePassXC), encrypted at rest and unlocked
//! with the session — and the token file is not written.
//!
//! Opting in leaves a *marker* beside the token file (`<token file>.keyring`, no secret in
//! it) naming the keyring entry. The chain asks the keyring only when that marker exists,
//! so people who never opted in pay nothing (no D-Bus connection at start-up) and see no
//! keyring errors; and someone who did opt in gets an error when the keyring cannot be
//! reached, never a silent fallback to a file or to anonymous requests.
//!
//! Entries carry the attributes `service=hf` and `username=<token file path>`, the
//! convention of libsecret's `secret-tool` and the keyring crates, so
//! `secret-tool lookup service hf username …` finds them too. Python's huggingface_hub never
//! reads the keyring; `hf auth status` says so when the active token lives there.

use std::collections::HashMap;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secret_service::{EncryptionType, SecretService};

use crate::config::Config;
use crate::fs::{self as hffs, FsError};
use crate::secret::Token;

/// The `service` attribute of every entry hf writes.
pub const SERVICE: &str = "hf";

/// How long one keyring operation may take. A locked keyring asks the person for its
/// password, so this leaves time to type it; a keyring that never answers is an error.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// Markers are a few lines; anything larger is not one of ours.
const MARKER_MAX_BYTES: u64 = 4096;

/// A keyring entry that holds (or will hold) the active token, as the marker names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyringEntry {
    account: String,
    name: Option<String>,
    marker: PathBuf,
}

/// Why the keyring could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    /// No Secret Service answers in this session.
    #[error(
        "cannot reach the system keyring (the Secret Service on the D-Bus session bus): {detail}\n\nhint: start and unlock a keyring in this session (GNOME Keyring, KWallet and KeePassXC provide the Secret Service), or keep the token in the token file instead: `hf auth login` without --keyring (after `hf auth logout` if the active token is in the keyring)"
    )]
    Unavailable {
        /// What the D-Bus layer said.
        detail: String,
    },
    /// The keyring is locked and was not unlocked (the prompt was dismissed).
    #[error(
        "the system keyring is locked and was not unlocked: {detail}\n\nhint: unlock it (for example by logging in to the desktop session, or `gnome-keyring-daemon --unlock`) and run the command again"
    )]
    Locked {
        /// What the keyring said.
        detail: String,
    },
    /// The keyring did not answer in time.
    #[error(
        "the system keyring did not answer within {} seconds (it may be waiting for its password)\n\nhint: unlock the keyring and run the command again",
        TIMEOUT.as_secs()
    )]
    TimedOut,
    /// The marker names an entry the keyring does not have.
    #[error(
        "the system keyring has no token for `{account}`, although {} says `hf auth login --keyring` put one there (it was removed outside hf)\n\nhint: run `hf auth login --keyring` again, or `hf auth logout` to stop looking for it",
        marker.display()
    )]
    Missing {
        /// The entry's account.
        account: String,
        /// The marker file.
        marker: PathBuf,
    },
    /// The entry holds something that cannot be sent as a token.
    #[error(
        "the token in the system keyring for `{account}` is not a token that can be sent (empty, not UTF-8, or not printable ASCII)\n\nhint: run `hf auth login --keyring --force` with a token copied from the Hub"
    )]
    NotAToken {
        /// The entry's account.
        account: String,
    },
    /// Any other refusal of the Secret Service.
    #[error("the system keyring could not {action}: {detail}")]
    Failed {
        /// What was being done.
        action: &'static str,
        /// What the keyring said.
        detail: String,
    },
    /// The marker is not one hf wrote.
    #[error(
        "{}: {problem}\n\nhint: this file records that `hf auth login --keyring` keeps the token in the system keyring; delete it, then log in again",
        path.display()
    )]
    BadMarker {
        /// The marker file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// The marker cannot be read or written.
    #[error(transparent)]
    Fs(#[from] FsError),
}

/// Where the marker for `config`'s token file is: `<token file>.keyring`.
pub fn marker_path(config: &Config) -> PathBuf {
    let mut name = config.token_path.file_name().map(std::ffi::OsStr::to_os_string).unwrap_or_default();
    name.push(".keyring");
    config.token_path.with_file_name(name)
}

impl KeyringEntry {
    /// The entry for `config`'s token file, to save a token named `name` into.
    pub fn for_config(config: &Config, name: &str) -> Self {
        let printable = !name.is_empty() && !name.chars().any(char::is_control);
        Self {
            account: config.token_path.display().to_string(),
            name: printable.then(|| name.to_owned()),
            marker: marker_path(config),
        }
    }

    /// The entry the marker names, or `None` when `hf auth login --keyring` was not used.
    pub fn load(config: &Config) -> Result<Option<Self>, KeyringError> {
        Self::load_marker(&marker_path(config))
    }

    /// [`KeyringEntry::load`] from a marker file.
    pub fn load_marker(marker: &Path) -> Result<Option<Self>, KeyringError> {
        let marker = marker.to_owned();
        let text = match std::fs::File::open(&marker) {
            Ok(file) => {
                let mut text = String::new();
                file.take(MARKER_MAX_BYTES + 1)
                    .read_to_string(&mut text)
                    .map_err(|e| FsError::new("read", &marker, e))?;
                text
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(FsError::new("read", &marker, e).into()),
        };
        Self::parse(&text, marker).map(Some)
    }

    fn parse(text: &str, marker: PathBuf) -> Result<Self, KeyringError> {
        let bad = |problem: String| KeyringError::BadMarker { path: marker.clone(), problem };
        if text.len() as u64 > MARKER_MAX_BYTES {
            return Err(bad(format!("larger than {MARKER_MAX_BYTES} bytes")));
        }
        let mut fields: HashMap<&str, &str> = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                return Err(bad(format!("line {} is not `key = value`", i + 1)));
            };
            fields.insert(key.trim(), value.trim());
        }
        match fields.get("service") {
            Some(&SERVICE) => {}
            Some(other) => return Err(bad(format!("names the keyring service `{other}`, not `{SERVICE}`"))),
            None => return Err(bad("names no keyring service".to_owned())),
        }
        let account = match fields.get("account") {
            Some(account) if !account.is_empty() => (*account).to_owned(),
            _ => return Err(bad("names no keyring account".to_owned())),
        };
        let name = fields.get("name").filter(|n| !n.is_empty()).map(|n| (*n).to_owned());
        Ok(Self { account, name, marker })
    }

    fn marker_text(&self) -> String {
        let mut text = format!(
            "# The active Hugging Face token is kept in the system keyring, not in a file.\n# Written by `hf auth login --keyring`; `hf auth logout` removes it and the keyring entry.\nservice = {SERVICE}\naccount = {}\n",
            self.account
        );
        if let Some(name) = &self.name {
            text.push_str(&format!("name = {name}\n"));
        }
        text
    }

    /// The entry's `username` attribute (the token file it stands in for).
    pub fn account(&self) -> &str {
        &self.account
    }

    /// The token's name on the Hub, when it was known at login.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The marker file.
    pub fn marker(&self) -> &Path {
        &self.marker
    }

    fn attributes(&self) -> HashMap<&str, &str> {
        HashMap::from([("service", SERVICE), ("username", self.account.as_str())])
    }

    fn label(&self) -> String {
        match &self.name {
            Some(name) => format!("Hugging Face token `{name}` (hf)"),
            None => "Hugging Face token (hf)".to_owned(),
        }
    }

    /// Stores `token` in the keyring, then writes the marker. Nothing is written when the
    /// keyring refuses.
    pub async fn save(&self, token: &Token) -> Result<(), KeyringError> {
        within_timeout(async {
            let ss = connect().await?;
            let collection =
                ss.get_default_collection().await.map_err(|e| failure("open the default collection", e))?;
            collection.ensure_unlocked().await.map_err(|e| failure("unlock the default collection", e))?;
            collection
                .create_item(&self.label(), self.attributes(), token.expose().as_bytes(), true, "text/plain")
                .await
                .map_err(|e| failure("store the token", e))?;
            Ok(())
        })
        .await?;
        hffs::write_secret(&self.marker, self.marker_text().as_bytes())?;
        Ok(())
    }

    /// The token in the keyring.
    pub async fn read(&self) -> Result<Token, KeyringError> {
        let secret = within_timeout(async {
            let ss = connect().await?;
            let found = ss.search_items(self.attributes()).await.map_err(|e| failure("search for the token", e))?;
            if let Some(item) = found.unlocked.first() {
                return item.get_secret().await.map(Some).map_err(|e| failure("read the token", e));
            }
            let Some(item) = found.locked.first() else {
                return Ok(None);
            };
            item.unlock().await.map_err(|e| failure("unlock the token", e))?;
            item.get_secret().await.map(Some).map_err(|e| failure("read the token", e))
        })
        .await?;
        let Some(secret) = secret else {
            return Err(KeyringError::Missing { account: self.account.clone(), marker: self.marker.clone() });
        };
        String::from_utf8(secret)
            .ok()
            .and_then(|text| super::clean_token(&text))
            .filter(|token| super::is_sendable(token.expose()))
            .ok_or_else(|| KeyringError::NotAToken { account: self.account.clone() })
    }

    /// Deletes the keyring entry (already gone is fine), then the marker.
    pub async fn delete(&self) -> Result<(), KeyringError> {
        within_timeout(async {
            let ss = connect().await?;
            let found = ss.search_items(self.attributes()).await.map_err(|e| failure("search for the token", e))?;
            for item in found.unlocked.iter().chain(&found.locked) {
                item.delete().await.map_err(|e| failure("delete the token", e))?;
            }
            Ok(())
        })
        .await?;
        hffs::remove_if_exists(&self.marker)?;
        Ok(())
    }
}

impl fmt::Display for KeyringEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the system keyring (service `{SERVICE}`, account `{}`)", self.account)
    }
}

/// Runs a keyring operation to completion on a private runtime, for code that is not
/// async (`hf auth status`, `hf auth logout`). Must not be called from inside a runtime.
pub fn block_on<T>(operation: impl Future<Output = Result<T, KeyringError>>) -> Result<T, KeyringError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| KeyringError::Failed { action: "start", detail: e.to_string() })?
        .block_on(operation)
}

async fn within_timeout<T>(operation: impl Future<Output = Result<T, KeyringError>>) -> Result<T, KeyringError> {
    tokio::time::timeout(TIMEOUT, operation).await.map_err(|_| KeyringError::TimedOut)?
}

async fn connect() -> Result<SecretService<'static>, KeyringError> {
    SecretService::connect(EncryptionType::Dh).await.map_err(|e| KeyringError::Unavailable { detail: describe(&e) })
}

fn failure(action: &'static str, e: secret_service::Error) -> KeyringError {
    match e {
        secret_service::Error::Locked | secret_service::Error::Prompt | secret_service::Error::PromptDisconnected => {
            KeyringError::Locked { detail: describe(&e) }
        }
        secret_service::Error::Unavailable => KeyringError::Unavailable { detail: describe(&e) },
        _ => KeyringError::Failed { action, detail: describe(&e) },
    }
}

/// The error and its causes on one line (a Secret Service error never holds the secret).
/// zbus quotes its causes in its own messages, so a cause already in the text is skipped
/// (unlike [`crate::api::with_causes`], which appends every one).
fn describe(e: &secret_service::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let line = cause.to_string();
        if !text.contains(&line) {
            text = format!("{text}: {line}");
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<KeyringEntry, KeyringError> {
        KeyringEntry::parse(text, PathBuf::from("/h/token.keyring"))
    }

    #[test]
    fn marker_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::isolated(dir.path(), "http://127.0.0.1:1");
        let entry = KeyringEntry::for_config(&config, "laptop");
        assert_eq!(entry.marker(), dir.path().join("token.keyring"));
        let back = parse(&entry.marker_text()).unwrap();
        assert_eq!((back.account(), back.name()), (entry.account(), Some("laptop")));
        // A name that would break the format is not recorded.
        assert_eq!(KeyringEntry::for_config(&config, "a\nservice = x").name(), None);
    }

    #[test]
    fn markers_hf_did_not_write_are_refused() {
        for (text, problem) in [
            ("account = /t\n", "names no keyring service"),
            ("service = other\naccount = /t\n", "not `hf`"),
            ("service = hf\n", "names no keyring account"),
            ("service = hf\naccount = /t\njunk\n", "line 3"),
        ] {
            let err = parse(text).unwrap_err().to_string();
            assert!(err.contains(problem), "{text:?}: {err}");
        }
        assert!(parse(&"#".repeat(5000)).unwrap_err().to_string().contains("larger than"));
    }
}
