//! [`AuthStore`]: the token file and `stored_tokens`, changed the way huggingface_hub
//! changes them, but under a lock and through atomic writes; and the marker of a token kept
//! in the system keyring (`hf auth login --keyring`).

use std::path::{Path, PathBuf};

use super::keyring::{self, KeyringEntry, KeyringError};
use super::stored_tokens::{StoredToken, StoredTokens, StoredTokensError};
use crate::config::Config;
use crate::fs::{self as hffs, FsError};
use crate::secret::Token;

/// The places that hold tokens on this machine: two files, and the keyring's marker.
#[derive(Debug, Clone)]
pub struct AuthStore {
    token_path: PathBuf,
    stored_tokens_path: PathBuf,
    keyring_marker: PathBuf,
}

/// What `logout --token-name` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogoutOutcome {
    /// The name existed and was removed.
    pub removed: bool,
    /// It was the active token, so the token file was deleted too.
    pub was_active: bool,
}

impl AuthStore {
    /// The files named by a config.
    pub fn new(config: &Config) -> Self {
        Self {
            token_path: config.token_path.clone(),
            stored_tokens_path: config.stored_tokens_path.clone(),
            keyring_marker: keyring::marker_path(config),
        }
    }

    /// The keyring entry `hf auth login --keyring` made, if any (read from its marker; the
    /// keyring itself is not asked).
    pub fn keyring(&self) -> Result<Option<KeyringEntry>, KeyringError> {
        KeyringEntry::load_marker(&self.keyring_marker)
    }

    /// The active token file.
    pub fn token_path(&self) -> &Path {
        &self.token_path
    }

    /// The `stored_tokens` file.
    pub fn stored_tokens_path(&self) -> &Path {
        &self.stored_tokens_path
    }

    /// The token in the token file, cleaned.
    pub fn active(&self) -> Result<Option<Token>, FsError> {
        super::read_token_file(&self.token_path)
    }

    /// All stored tokens.
    pub fn stored(&self) -> Result<StoredTokens, StoredTokensError> {
        StoredTokens::load(&self.stored_tokens_path)
    }

    /// Stores `entry` under `name` (replacing any entry of that name) and makes it the
    /// active token, in one locked step.
    pub fn save_and_activate(&self, name: &str, entry: StoredToken) -> Result<Token, StoredTokensError> {
        StoredTokens::update(&self.stored_tokens_path, |tokens| {
            tokens.insert(name, entry)?;
            self.activate_locked(tokens, name)
        })
    }

    /// Makes the stored token `name` active. `Ok(None)` when there is no such token.
    pub fn switch(&self, name: &str) -> Result<Option<Token>, StoredTokensError> {
        StoredTokens::update(&self.stored_tokens_path, |tokens| {
            if tokens.get(name).and_then(StoredToken::token).is_none() {
                return Ok(None);
            }
            self.activate_locked(tokens, name).map(Some)
        })
    }

    fn activate_locked(&self, tokens: &StoredTokens, name: &str) -> Result<Token, StoredTokensError> {
        let token = tokens.get(name).and_then(StoredToken::token).ok_or_else(|| StoredTokensError::InvalidName {
            name: name.to_owned(),
            reason: "the stored entry has no token",
        })?;
        hffs::write_secret(&self.token_path, token.expose().as_bytes())?;
        Ok(token)
    }

    /// Removes the stored token `name`; deletes the token file if it held that token.
    pub fn logout(&self, name: &str) -> Result<LogoutOutcome, StoredTokensError> {
        if !self.stored_tokens_path.exists() {
            return Ok(LogoutOutcome { removed: false, was_active: false });
        }
        StoredTokens::update(&self.stored_tokens_path, |tokens| {
            let Some(entry) = tokens.remove(name) else {
                return Ok(LogoutOutcome { removed: false, was_active: false });
            };
            let active = self.active()?;
            let was_active = active.is_some() && entry.token() == active;
            if was_active {
                hffs::remove_if_exists(&self.token_path)?;
            }
            Ok(LogoutOutcome { removed: true, was_active })
        })
    }

    /// Deletes the token file and `stored_tokens`.
    pub fn logout_all(&self) -> Result<(), FsError> {
        hffs::remove_if_exists(&self.token_path)?;
        hffs::remove_if_exists(&self.stored_tokens_path)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(dir: &Path) -> AuthStore {
        AuthStore::new(&Config::isolated(dir, "http://127.0.0.1:1"))
    }

    #[test]
    fn save_switch_logout() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        s.save_and_activate("a", StoredToken::new(&Token::new("hf_a"))).unwrap();
        s.save_and_activate("b", StoredToken::new(&Token::new("hf_b"))).unwrap();
        assert_eq!(std::fs::read_to_string(s.token_path()).unwrap(), "hf_b");
        assert_eq!(s.switch("a").unwrap().unwrap().expose(), "hf_a");
        assert_eq!(s.switch("nope").unwrap(), None);
        assert_eq!(s.logout("b").unwrap(), LogoutOutcome { removed: true, was_active: false });
        assert_eq!(s.logout("a").unwrap(), LogoutOutcome { removed: true, was_active: true });
        assert!(!s.token_path().exists());
        assert_eq!(std::fs::read_to_string(s.stored_tokens_path()).unwrap(), "");
    }

    #[test]
    fn corrupt_store_is_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        std::fs::write(s.stored_tokens_path(), "[a]\nhf_token = keep\nbroken line\n").unwrap();
        let err = s.save_and_activate("b", StoredToken::new(&Token::new("hf_b"))).unwrap_err();
        assert!(err.to_string().contains("line 3"), "{err}");
        assert!(std::fs::read_to_string(s.stored_tokens_path()).unwrap().contains("keep"));
        assert!(!s.token_path().exists());
    }
}
