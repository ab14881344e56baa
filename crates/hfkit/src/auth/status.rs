//! "Which token is used, and why": the whole chain, inspected without the network.
//!
//! [`inspect`] walks every source in order and says whether it is set, whether it is used,
//! and if not, why not (empty, shadowed by an earlier source, or a variable huggingface_hub
//! never reads). It also collects warnings a person should act on: token files others can
//! read, variables that are set but ignored, and a `.env` holding a token that git would
//! commit. `hf auth status` prints it; programs can use it as data.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::keyring::{self, KeyringEntry};
use super::oidc::{IdTokenSource, OidcPlan};
use super::stored_tokens::StoredTokens;
use super::{clean_token, env_token, read_token_file};
use crate::config::Config;
use crate::env_vars as var;
use crate::envfile::EnvFile;
use crate::secret::Token;

/// One source of the chain and what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceReport {
    /// Stable name: `--token`, `HF_OIDC_RESOURCE`, `HF_TOKEN`, `HUGGING_FACE_HUB_TOKEN`,
    /// `token file`, `keyring`, `HUGGINGFACE_TOKEN`.
    pub name: &'static str,
    /// Where it is, for files (for the keyring: its marker).
    pub path: Option<PathBuf>,
    /// Where its token lives, in words, for the sources that keep one (file, keyring).
    pub location: Option<String>,
    /// What it holds.
    pub state: SourceState,
    /// The token it holds (cleaned), to show masked.
    pub token: Option<Token>,
    /// Why it is or is not used, in words.
    pub note: String,
}

/// The state of one source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceState {
    /// Nothing there.
    NotSet,
    /// This source provides the token.
    Used,
    /// Holds a token, but an earlier source wins.
    Shadowed,
    /// Set, but not a token (empty, blank) or never read.
    Ignored,
    /// Cannot be used (unreadable file, OIDC without an id token).
    Broken,
}

impl SourceState {
    /// Lower-case name for JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotSet => "not set",
            Self::Used => "used",
            Self::Shadowed => "shadowed",
            Self::Ignored => "ignored",
            Self::Broken => "broken",
        }
    }
}

/// The whole chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    /// Every source, in chain order.
    pub sources: Vec<SourceReport>,
    /// The index of the source that wins, if any.
    pub winner: Option<usize>,
    /// The stored token name whose value equals the winning token.
    pub active_name: Option<String>,
    /// `HF_HUB_DISABLE_IMPLICIT_TOKEN` is set: the winner is not sent unless explicit.
    pub implicit_disabled: bool,
    /// Things to fix.
    pub warnings: Vec<String>,
    /// The winning token's expiry and refresh data, when it is a browser login's token
    /// (only the token file's token is refreshed, so `can_refresh` is false for others).
    pub oauth: Option<super::oauth::OAuthStatus>,
}

impl ChainReport {
    /// The winning source.
    pub fn winning(&self) -> Option<&SourceReport> {
        self.winner.map(|i| &self.sources[i])
    }
}

/// Inspects the chain for `config`. `cwd` is checked for a `.env` holding a token.
///
/// After `hf auth login --keyring` this asks the keyring over D-Bus on a private runtime,
/// so call it outside an async runtime.
pub fn inspect(config: &Config, explicit: Option<&Token>, cwd: &Path) -> ChainReport {
    let vars = &config.token_vars;
    let mut sources = Vec::new();
    let mut warnings = Vec::new();
    let mut taken = false;
    let mut winner = None;
    let mut push = |sources: &mut Vec<SourceReport>, mut report: SourceReport| {
        if report.state == SourceState::Used {
            if taken {
                report.state = SourceState::Shadowed;
                report.note = "holds a token, but an earlier source wins".to_owned();
            } else {
                taken = true;
                winner = Some(sources.len());
            }
        }
        sources.push(report);
    };
    let report = |name, state, token: Option<Token>, note: &str| SourceReport {
        name,
        path: None,
        location: None,
        state,
        token,
        note: note.to_owned(),
    };

    push(
        &mut sources,
        match explicit {
            Some(t) => report("--token", SourceState::Used, Some(t.clone()), "given on the command line"),
            None => report("--token", SourceState::NotSet, None, "not given"),
        },
    );

    let oidc = match OidcPlan::from_config(config) {
        Ok(None) => report(var::HF_OIDC_RESOURCE, SourceState::NotSet, None, "not set"),
        Ok(Some(plan)) => {
            let from = match plan.id_token {
                IdTokenSource::Given(_) => "HF_OIDC_ID_TOKEN",
                IdTokenSource::GitHubActions { .. } => "GitHub Actions",
            };
            let note = format!("a token for `{}` will be exchanged for the id token from {from}", plan.resource);
            report(var::HF_OIDC_RESOURCE, SourceState::Used, None, &note)
        }
        Err(e) => report(var::HF_OIDC_RESOURCE, SourceState::Broken, None, first_line(&e.to_string())),
    };
    let oidc_broken = oidc.state == SourceState::Broken;
    push(&mut sources, oidc);

    let env = env_token(config);
    let env_source = env.as_ref().map(|r| r.source.key());
    let hf_token = match vars.hf_token.as_deref() {
        None => report(var::HF_TOKEN, SourceState::NotSet, None, "not set"),
        Some("") => {
            report(var::HF_TOKEN, SourceState::Ignored, None, "set but empty, so HUGGING_FACE_HUB_TOKEN is consulted")
        }
        Some(raw) => match clean_token(raw) {
            Some(t) => report(var::HF_TOKEN, SourceState::Used, Some(t), "set"),
            None => report(
                var::HF_TOKEN,
                SourceState::Ignored,
                None,
                "set but blank; HUGGING_FACE_HUB_TOKEN is not consulted, the token file is",
            ),
        },
    };
    push(&mut sources, hf_token);
    let legacy = match vars.hugging_face_hub_token.as_deref() {
        None => report(var::HUGGING_FACE_HUB_TOKEN, SourceState::NotSet, None, "not set"),
        Some(raw) => {
            let token = clean_token(raw);
            if env_source.as_deref() == Some("env:HUGGING_FACE_HUB_TOKEN") {
                report(var::HUGGING_FACE_HUB_TOKEN, SourceState::Used, token, "set (legacy name, still honoured)")
            } else if vars.hf_token.as_deref().is_some_and(|v| !v.is_empty()) {
                report(
                    var::HUGGING_FACE_HUB_TOKEN,
                    SourceState::Ignored,
                    token,
                    "set but not read, because HF_TOKEN is set",
                )
            } else {
                report(var::HUGGING_FACE_HUB_TOKEN, SourceState::Ignored, None, "set but blank")
            }
        }
    };
    if legacy.state == SourceState::Ignored && legacy.token.is_some() {
        warnings.push("HUGGING_FACE_HUB_TOKEN is set but ignored: HF_TOKEN is set and is read instead".to_owned());
    }
    push(&mut sources, legacy);

    let mut file = match read_token_file(&config.token_path) {
        Ok(Some(t)) => report("token file", SourceState::Used, Some(t), "saved by `hf auth login`"),
        Ok(None) if config.token_path.exists() => {
            report("token file", SourceState::Ignored, None, "exists but is blank")
        }
        Ok(None) => report("token file", SourceState::NotSet, None, "not found"),
        Err(e) => report("token file", SourceState::Broken, None, &e.to_string()),
    };
    file.path = Some(config.token_path.clone());
    file.location = Some(format!("the token file {}", config.token_path.display()));
    push(&mut sources, file);

    let keyring = match KeyringEntry::load(config) {
        Ok(None) => {
            report("keyring", SourceState::NotSet, None, "not used (`hf auth login --keyring` puts the token there)")
        }
        Ok(Some(entry)) => {
            let mut found = match keyring::block_on(entry.read()) {
                Ok(t) => report(
                    "keyring",
                    SourceState::Used,
                    Some(t),
                    "saved by `hf auth login --keyring` (hf only: Python's huggingface_hub does not read it)",
                ),
                Err(e) => report("keyring", SourceState::Broken, None, first_line(&e.to_string())),
            };
            found.path = Some(entry.marker().to_owned());
            found.location = Some(entry.to_string());
            found
        }
        Err(e) => report("keyring", SourceState::Broken, None, first_line(&e.to_string())),
    };
    push(&mut sources, keyring);

    let guide_var = match vars.huggingface_token.as_deref() {
        Some(raw) if !raw.is_empty() => {
            warnings.push(
                "HUGGINGFACE_TOKEN is set but huggingface_hub 2.4 (and hf) never read it; rename it to HF_TOKEN"
                    .to_owned(),
            );
            report(var::HUGGINGFACE_TOKEN, SourceState::Ignored, clean_token(raw), "never read (not a token variable)")
        }
        _ => report(var::HUGGINGFACE_TOKEN, SourceState::NotSet, None, "not set (never read anyway)"),
    };
    sources.push(guide_var);

    // A broken OIDC source stops the chain: nothing after it is used.
    if oidc_broken {
        winner = None;
    }

    for path in [&config.token_path, &config.stored_tokens_path] {
        if let Some(w) = permission_warning(path) {
            warnings.push(w);
        }
    }
    if let Some(w) = dotenv_warning(cwd) {
        warnings.push(w);
    }
    let implicit_disabled = config.disable_implicit_token;
    if implicit_disabled && explicit.is_none() && winner.is_some() {
        warnings.push(
            "HF_HUB_DISABLE_IMPLICIT_TOKEN is set: this token is shown by `hf auth token` but not sent with downloads unless given with --token".to_owned(),
        );
    }
    if winner.is_some_and(|i| sources[i].name == "keyring") {
        warnings.push(
            "the active token is in the system keyring, which only hf reads: Python's huggingface_hub (and tools that read only HF_TOKEN or the token file) will not see it; give it to them with HF_TOKEN=\"$(hf auth token)\"".to_owned(),
        );
    }
    let winning_token = winner.and_then(|i| sources[i].token.clone());
    let oauth = winning_token
        .as_ref()
        .and_then(|t| super::oauth::inspect(&config.stored_tokens_path, t, &config.endpoint))
        .map(|mut o| {
            o.can_refresh &= winner.is_some_and(|i| sources[i].name == "token file");
            o
        });
    let active_name = winning_token.and_then(|t| {
        StoredTokens::load(&config.stored_tokens_path).ok().and_then(|s| s.name_of(&t).map(str::to_owned))
    });
    ChainReport { sources, winner, active_name, implicit_disabled, warnings, oauth }
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or(text)
}

/// Warns when a token file is readable or writable by group or others.
fn permission_warning(path: &Path) -> Option<String> {
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
    (mode & 0o077 != 0).then(|| {
        format!("{} has mode {mode:o}: other users may read it; run `chmod 600 {}`", path.display(), path.display())
    })
}

/// Warns when `cwd/.env` holds a Hub token and git would not ignore it.
fn dotenv_warning(cwd: &Path) -> Option<String> {
    let path = cwd.join(".env");
    let text = std::fs::read_to_string(&path).ok()?;
    let holds_token = match EnvFile::parse(&text, &path) {
        Ok(file) => [var::HF_TOKEN, var::HUGGING_FACE_HUB_TOKEN, var::HUGGINGFACE_TOKEN]
            .iter()
            .any(|name| file.get(name).is_some_and(|v| !v.trim().is_empty())),
        Err(_) => false,
    } || looks_like_token(&text);
    if !holds_token {
        return None;
    }
    // exit 0: ignored; 1: not ignored; anything else: not a git repository (nothing to commit).
    let status = Command::new("git")
        .args(["check-ignore", "-q", ".env"])
        .current_dir(cwd)
        .stderr(std::process::Stdio::null())
        .status()
        .ok()?;
    (status.code() == Some(1)).then(|| {
        format!(
            "{} holds a Hub token and is not ignored by git; add `.env` to .gitignore before you commit",
            path.display()
        )
    })
}

/// Whether text contains something shaped like a Hub user token (`hf_` + 30 or more letters).
pub fn looks_like_token(text: &str) -> bool {
    text.match_indices("hf_").any(|(i, _)| {
        let before_ok = i == 0 || !text.as_bytes()[i - 1].is_ascii_alphanumeric();
        let run = text[i + 3..].bytes().take_while(u8::is_ascii_alphanumeric).count();
        before_ok && run >= 30
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(dir: &Path, vars: &[(&str, &str)]) -> Config {
        let mut map: HashMap<String, String> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        map.insert("HF_HOME".into(), dir.display().to_string());
        Config::from_lookup(|k| map.get(k).cloned()).unwrap()
    }

    fn state(r: &ChainReport, name: &str) -> SourceState {
        r.sources.iter().find(|s| s.name == name).unwrap().state
    }

    #[test]
    fn env_wins_over_file_and_legacy_is_reported_ignored() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("token"), "hf_file").unwrap();
        let c = config(
            dir.path(),
            &[("HF_TOKEN", "hf_env"), ("HUGGING_FACE_HUB_TOKEN", "hf_old"), ("HUGGINGFACE_TOKEN", "x")],
        );
        let r = inspect(&c, None, dir.path());
        assert_eq!(r.winning().unwrap().name, "HF_TOKEN");
        assert_eq!(state(&r, "HUGGING_FACE_HUB_TOKEN"), SourceState::Ignored);
        assert_eq!(state(&r, "token file"), SourceState::Shadowed);
        assert_eq!(state(&r, "HUGGINGFACE_TOKEN"), SourceState::Ignored);
        assert!(r.warnings.iter().any(|w| w.contains("HUGGINGFACE_TOKEN is set")));
        assert!(r.warnings.iter().any(|w| w.contains("mode 644")), "{:?}", r.warnings);
    }

    #[test]
    fn blank_hf_token_falls_to_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("token"), "hf_file").unwrap();
        let c = config(dir.path(), &[("HF_TOKEN", "  "), ("HUGGING_FACE_HUB_TOKEN", "hf_old")]);
        let r = inspect(&c, None, dir.path());
        assert_eq!(r.winning().unwrap().name, "token file");
        assert_eq!(state(&r, "HF_TOKEN"), SourceState::Ignored);
    }

    #[test]
    fn broken_oidc_stops_the_chain() {
        let dir = tempfile::tempdir().unwrap();
        let c = config(dir.path(), &[("HF_TOKEN", "hf_env"), ("HF_OIDC_RESOURCE", "acme/m")]);
        let r = inspect(&c, None, dir.path());
        assert_eq!(r.winner, None);
        assert_eq!(state(&r, "HF_OIDC_RESOURCE"), SourceState::Broken);
    }

    #[test]
    fn token_shapes() {
        assert!(looks_like_token("X=hf_AbCdEfGhIjKlMnOpQrStUvWxYz1234567890"));
        assert!(!looks_like_token("hf_short"));
        assert!(!looks_like_token("xhf_AbCdEfGhIjKlMnOpQrStUvWxYz1234567890"));
    }
}
