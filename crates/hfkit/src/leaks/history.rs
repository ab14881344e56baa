//! Tokens in a git history: every commit reachable from any ref, not only the checkout.
//!
//! A token committed and then deleted is still in the repository, and in every clone and
//! fork of it; deleting the file does not help, revoking the token does. We ask the real
//! `git` for `log --all -p -U0` (each commit's added lines, with no context) and read the
//! added lines as they stream, so memory stays flat on a long history. Each token is
//! reported once per commit that adds it, with the path and line in that commit.
//!
//! What `git log -p` does not show is not read: merge commits' own changes (a token typed
//! while resolving a conflict), commits reachable only from the reflog, and files git
//! treats as binary (a NUL byte, or `-diff` in `.gitattributes`). Repository settings that
//! would run programs (external diff, textconv, fsmonitor, pager) are switched off.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::{Finding, Matcher, Source, locate};

/// A git repository found around a scanned path.
#[derive(Debug, Clone)]
pub struct Repository {
    /// The `.git` folder (absolute).
    pub git_dir: PathBuf,
    /// The top of the work tree (absolute).
    pub top: PathBuf,
}

/// `git` could not read a history.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// No `git` on `PATH`.
    #[error(
        "`git` was not found on PATH, so git histories were not scanned\n\nhint: install git, or pass --no-history"
    )]
    GitNotFound,
    /// `git` ran and failed.
    #[error("`git {command}` failed in {}: {stderr}", .dir.display())]
    Failed {
        /// The subcommand.
        command: String,
        /// Where it ran.
        dir: PathBuf,
        /// What git said.
        stderr: String,
    },
    /// Could not talk to `git`.
    #[error("could not run `git`: {0}")]
    Io(#[from] std::io::Error),
}

fn git(dir: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.current_dir(dir)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_PAGER", "cat")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .args(["-c", "core.fsmonitor=false", "-c", "core.quotePath=false", "--no-pager"]);
    cmd
}

fn spawn_error(e: std::io::Error) -> HistoryError {
    if e.kind() == std::io::ErrorKind::NotFound { HistoryError::GitNotFound } else { e.into() }
}

/// The repository `path` is in, if any.
pub fn repository_of(path: &Path) -> Result<Option<Repository>, HistoryError> {
    let dir = if path.is_dir() {
        path
    } else {
        path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."))
    };
    let output = git(dir)
        .args(["rev-parse", "--absolute-git-dir", "--show-toplevel"])
        .stdin(Stdio::null())
        .output()
        .map_err(spawn_error)?;
    if !output.status.success() {
        return Ok(None);
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let mut lines = text.lines();
    match (lines.next(), lines.next()) {
        (Some(git_dir), Some(top)) => Ok(Some(Repository { git_dir: PathBuf::from(git_dir), top: PathBuf::from(top) })),
        // A bare repository has no work tree.
        _ => Ok(None),
    }
}

/// Every token added by any commit of `repo` under `path`; also the number of commits read.
pub fn scan(repo: &Repository, path: &Path) -> Result<(Vec<Finding>, u64), HistoryError> {
    let absolute = std::fs::canonicalize(path)?;
    let top = std::fs::canonicalize(&repo.top)?;
    let pathspec = absolute.strip_prefix(&top).ok().filter(|p| !p.as_os_str().is_empty()).map(Path::to_owned);
    let mut cmd = git(&top);
    cmd.args([
        "log",
        "--all",
        "-p",
        "-U0",
        "--no-color",
        "--no-ext-diff",
        "--no-textconv",
        "--no-renames",
        "--no-show-signature",
        "--format=%x01%H",
    ]);
    if let Some(spec) = &pathspec {
        cmd.arg("--").arg(format!(":(literal){}", spec.display()));
    }
    let mut child =
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().map_err(spawn_error)?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let err_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let parsed = parse_log(BufReader::new(stdout));
    let status = child.wait()?;
    let stderr = err_reader.join().unwrap_or_default();
    let (findings, commits) = parsed?;
    if !status.success() {
        // An empty repository (no commit yet) has nothing to read.
        if stderr.contains("does not have any commits") || commits == 0 && stderr.trim().is_empty() {
            return Ok((Vec::new(), 0));
        }
        return Err(HistoryError::Failed {
            command: "log --all -p".into(),
            dir: top,
            stderr: stderr.trim().to_owned(),
        });
    }
    Ok((findings, commits))
}

/// Where the reader is in `git log -p` output.
enum State {
    /// Between files: headers until `@@`.
    Header,
    /// Inside a hunk, with the old and new lines still to come.
    Hunk { old: u64, new: u64 },
}

fn parse_log(mut reader: impl BufRead) -> Result<(Vec<Finding>, u64), HistoryError> {
    let matcher = Matcher::new();
    let mut findings = Vec::new();
    let mut commits = 0u64;
    let mut commit = String::new();
    let mut path: Option<PathBuf> = None;
    let mut next_line = 0u64;
    let mut state = State::Header;
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        let text = line.strip_suffix(b"\n").unwrap_or(&line);
        if let State::Hunk { old, new } = &mut state {
            match text.first() {
                Some(b'+') => {
                    if let Some(p) = &path {
                        for (token, kind, _, column) in locate(&matcher, &text[1..]) {
                            findings.push(Finding {
                                token,
                                kind,
                                path: p.clone(),
                                line: next_line,
                                column,
                                source: Source::History { commit: commit.clone() },
                            });
                        }
                    }
                    next_line += 1;
                    *new = new.saturating_sub(1);
                }
                Some(b'-') => *old = old.saturating_sub(1),
                Some(b' ') => {
                    next_line += 1;
                    *old = old.saturating_sub(1);
                    *new = new.saturating_sub(1);
                }
                _ => {} // `\ No newline at end of file`
            }
            if *old == 0 && *new == 0 {
                state = State::Header;
            }
            continue;
        }
        if let Some(hash) = text.strip_prefix(b"\x01") {
            commits += 1;
            commit = String::from_utf8_lossy(hash).into_owned();
            path = None;
        } else if text.starts_with(b"diff --git ") {
            path = None;
        } else if let Some(name) = text.strip_prefix(b"+++ ") {
            path = new_path(name);
        } else if let Some((old, new, start)) = text.strip_prefix(b"@@ ").and_then(hunk_header) {
            next_line = start;
            if old > 0 || new > 0 {
                state = State::Hunk { old, new };
            }
        }
    }
    Ok((findings, commits))
}

/// The path of a `+++ b/path` line (`None` for `/dev/null`); C-quoted names are unquoted.
fn new_path(name: &[u8]) -> Option<PathBuf> {
    let name = if name.first() == Some(&b'"') { unquote(name)? } else { name.to_vec() };
    let rest = name.strip_prefix(b"b/")?;
    let text = String::from_utf8_lossy(rest).into_owned();
    Some(PathBuf::from(text))
}

/// Git's C-style quoting: `"a\tb\303\251"`.
fn unquote(quoted: &[u8]) -> Option<Vec<u8>> {
    let inner = quoted.strip_prefix(b"\"")?.strip_suffix(b"\"")?;
    let mut out = Vec::with_capacity(inner.len());
    let mut bytes = inner.iter().copied();
    while let Some(b) = bytes.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        match bytes.next()? {
            b'n' => out.push(b'\n'),
            b't' => out.push(b'\t'),
            b'r' => out.push(b'\r'),
            b'a' => out.push(7),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'v' => out.push(11),
            d @ b'0'..=b'7' => {
                let d2 = bytes.next()?;
                let d3 = bytes.next()?;
                let value =
                    u32::from(d - b'0') * 64 + u32::from(d2.checked_sub(b'0')?) * 8 + u32::from(d3.checked_sub(b'0')?);
                out.push(u8::try_from(value).ok()?);
            }
            other => out.push(other),
        }
    }
    Some(out)
}

/// `-a[,b] +c[,d] @@…` → (old lines, new lines, first new line).
fn hunk_header(header: &[u8]) -> Option<(u64, u64, u64)> {
    let text = std::str::from_utf8(header).ok()?;
    let mut parts = text.split(' ');
    let old = parts.next()?.strip_prefix('-')?;
    let new = parts.next()?.strip_prefix('+')?;
    let count = |range: &str| -> Option<(u64, u64)> {
        match range.split_once(',') {
            Some((start, len)) => Some((start.parse().ok()?, len.parse().ok()?)),
            None => Some((range.parse().ok()?, 1)),
        }
    };
    let (_, old_len) = count(old)?;
    let (new_start, new_len) = count(new)?;
    Some((old_len, new_len, new_start))
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "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";

    #[test]
    fn reads_added_lines_with_their_place() {
        let log = format!(
            "\x01aaaa\n\ndiff --git a/x b/x\nnew file mode 100644\n--- /dev/null\n+++ b/x\n@@ -0,0 +1,2 @@\n+one\n+k={T}\n\
             \x01bbbb\n\ndiff --git a/x b/x\n--- a/x\n+++ /dev/null\n@@ -1,2 +0,0 @@\n-one\n-k={T}\n\
             \x01cccc\n\ndiff --git a/\"we\\303\\251\" b/\"we\\303\\251\"\n--- /dev/null\n+++ \"b/we\\303\\251\"\n@@ -0,0 +1 @@\n++++ {T}\n"
        );
        let (found, commits) = parse_log(log.as_bytes()).unwrap();
        assert_eq!(commits, 3);
        let places: Vec<(String, String, u64, u64)> = found
            .iter()
            .map(|f| {
                let Source::History { commit } = &f.source else { panic!() };
                (commit.clone(), f.path.display().to_string(), f.line, f.column)
            })
            .collect();
        assert_eq!(places, [("aaaa".into(), "x".into(), 2, 3), ("cccc".into(), "weé".into(), 1, 5)]);
    }
}
