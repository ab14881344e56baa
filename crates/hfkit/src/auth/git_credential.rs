//! Git's credential store, driven through the real `git credential` command.
//!
//! huggingface_hub saves the token for its endpoint under the user `hf_user` in every
//! configured helper (`git credential approve`) and removes it on every logout
//! (`git credential reject`). We do the same, with the same input, so entries written by
//! either tool are found and removed by the other. Where Python crashes without a `git`
//! binary, we return an error that says so.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::secret::Token;

/// The user name huggingface_hub stores Hub credentials under.
pub(crate) const GIT_USER: &str = "hf_user";

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
    use super::helper_name;

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
