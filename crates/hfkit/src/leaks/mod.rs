//! Token leak scanning: find Hugging Face tokens in a tree of files and in a git history.
//!
//! The guide says "never commit a token"; this module checks it. [`scan`] walks the given
//! paths on every core with the `ignore` crate (ripgrep's walker, so `.gitignore`,
//! `.ignore` and `.git/info/exclude` are honoured exactly as `rg` honours them, unless
//! [`ScanOptions::no_ignore`]), reads every text file (a file with a NUL byte is binary and
//! skipped, as ripgrep does), and reports each token with its place. Hidden files are read:
//! a `.env` that git does not ignore is exactly what leaks. Notebooks are read as text (a
//! token in a cell output is in the JSON), then the cell is named. With
//! [`ScanOptions::history`], every commit reachable from any ref of each git repository
//! met is read too, through the real `git` binary (see [`history`]).
//!
//! A [`Finding`] holds the token as a [`Token`], which prints masked; the raw value is
//! never part of a report. Nothing here prints or talks to the network.

pub mod history;
mod notebook;
pub mod pattern;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use ignore::{WalkBuilder, WalkState};
use sha2::{Digest, Sha256};

pub use pattern::{Match, Matcher, TokenKind};

use crate::secret::Token;

/// Bytes read before deciding whether a file is binary.
const SNIFF: usize = 8 << 10;

/// What to scan and how.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Files and folders to scan.
    pub paths: Vec<PathBuf>,
    /// Read files that `.gitignore`, `.ignore` and git's excludes would skip.
    pub no_ignore: bool,
    /// Also read every commit of every ref of the git repositories the paths are in.
    pub history: bool,
    /// Walker threads (0: one per core).
    pub threads: usize,
}

/// Where a token was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A file in the tree.
    File,
    /// A `.env` file in the tree (one git does not ignore, unless `no_ignore`).
    EnvFile,
    /// A Jupyter notebook; the cell (0-based) and whether the token is in its outputs.
    Notebook {
        /// The cell's index, when the notebook could be read as JSON.
        cell: Option<usize>,
        /// Whether the token is in the cell's outputs (else in its source).
        output: bool,
    },
    /// A commit of the git history.
    History {
        /// The commit's full hash.
        commit: String,
    },
}

impl Source {
    /// A short machine name: `file`, `env`, `notebook`, `history`.
    pub fn key(&self) -> &'static str {
        match self {
            Self::File => "file",
            Self::EnvFile => "env",
            Self::Notebook { .. } => "notebook",
            Self::History { .. } => "history",
        }
    }
}

/// One token in one place.
#[derive(Debug, Clone)]
pub struct Finding {
    /// The token (prints masked).
    pub token: Token,
    /// Its kind.
    pub kind: TokenKind,
    /// File path as walked (for history: the path inside the repository).
    pub path: PathBuf,
    /// 1-based line.
    pub line: u64,
    /// 1-based column, in characters.
    pub column: u64,
    /// Where it was found.
    pub source: Source,
}

impl Finding {
    /// A stable identifier of the token that does not reveal it: the first 16 hex digits of
    /// its SHA-256 (a 34-character random body cannot be recovered from it).
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.token)
    }
}

/// [`Finding::fingerprint`] of a token.
pub fn fingerprint(token: &Token) -> String {
    let digest = Sha256::digest(token.expose().as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// What a scan saw.
#[derive(Debug, Default)]
pub struct ScanReport {
    /// Every token found, ordered by place.
    pub findings: Vec<Finding>,
    /// Text files read.
    pub files_scanned: u64,
    /// Binary files skipped.
    pub binary_skipped: u64,
    /// Commits read from git histories.
    pub commits_scanned: u64,
    /// Paths or repositories that could not be read, with the reason (the scan goes on).
    pub problems: Vec<String>,
}

/// A scan that could not start.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// A path given to scan does not exist.
    #[error("{} does not exist\n\nhint: pass files or folders that exist, or no path to scan the current folder", .0.display())]
    Missing(PathBuf),
}

/// Scans the paths of `options`; see the module notes.
pub fn scan(options: &ScanOptions) -> Result<ScanReport, ScanError> {
    for path in &options.paths {
        if std::fs::symlink_metadata(path).is_err() {
            return Err(ScanError::Missing(path.clone()));
        }
    }
    let mut report = scan_tree(options);
    if options.history {
        let mut seen = Vec::new();
        for path in &options.paths {
            match history::repository_of(path) {
                Ok(Some(repo)) => {
                    if seen.contains(&repo.git_dir) {
                        continue;
                    }
                    seen.push(repo.git_dir.clone());
                    match history::scan(&repo, path) {
                        Ok((findings, commits)) => {
                            report.findings.extend(findings);
                            report.commits_scanned += commits;
                        }
                        Err(e) => report.problems.push(e.to_string()),
                    }
                }
                Ok(None) => {}
                Err(e) => report.problems.push(e.to_string()),
            }
        }
    }
    report.findings.sort_by(|a, b| {
        let history = |f: &Finding| matches!(f.source, Source::History { .. });
        (history(a), &a.path, a.line, a.column).cmp(&(history(b), &b.path, b.line, b.column))
    });
    Ok(report)
}

fn scan_tree(options: &ScanOptions) -> ScanReport {
    let mut paths = options.paths.iter();
    let Some(first) = paths.next() else { return ScanReport::default() };
    let mut builder = WalkBuilder::new(first);
    for path in paths {
        builder.add(path);
    }
    builder
        .hidden(false)
        .ignore(!options.no_ignore)
        .git_ignore(!options.no_ignore)
        .git_global(!options.no_ignore)
        .git_exclude(!options.no_ignore)
        .parents(!options.no_ignore)
        .threads(options.threads)
        .filter_entry(|entry| entry.file_name() != ".git");
    let matcher = Matcher::new();
    let findings = Mutex::new(Vec::new());
    let problems = Mutex::new(Vec::new());
    let files = AtomicU64::new(0);
    let binary = AtomicU64::new(0);
    builder.build_parallel().run(|| {
        let matcher = &matcher;
        let (findings, problems, files, binary) = (&findings, &problems, &files, &binary);
        let mut buf = Vec::new();
        Box::new(move |entry| {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    problems.lock().expect("no panic while holding the lock").push(e.to_string());
                    return WalkState::Continue;
                }
            };
            if !entry.file_type().is_some_and(|t| t.is_file()) {
                return WalkState::Continue;
            }
            match scan_file(matcher, entry.path(), &mut buf) {
                Ok(FileScan::Binary) => {
                    binary.fetch_add(1, Ordering::Relaxed);
                }
                Ok(FileScan::Text(found)) => {
                    files.fetch_add(1, Ordering::Relaxed);
                    if !found.is_empty() {
                        findings.lock().expect("no panic while holding the lock").extend(found);
                    }
                }
                Err(e) => problems
                    .lock()
                    .expect("no panic while holding the lock")
                    .push(format!("cannot read {}: {e}", entry.path().display())),
            }
            WalkState::Continue
        })
    });
    ScanReport {
        findings: findings.into_inner().expect("workers are done"),
        files_scanned: files.into_inner(),
        binary_skipped: binary.into_inner(),
        commits_scanned: 0,
        problems: problems.into_inner().expect("workers are done"),
    }
}

enum FileScan {
    Binary,
    Text(Vec<Finding>),
}

/// Reads one file into `buf` and finds its tokens, unless it is binary.
fn scan_file(matcher: &Matcher, path: &Path, buf: &mut Vec<u8>) -> std::io::Result<FileScan> {
    use std::io::Read;
    buf.clear();
    let file = std::fs::File::open(path)?;
    let mut file = file.take(SNIFF as u64);
    file.read_to_end(buf)?;
    if memchr::memchr(0, buf).is_some() {
        return Ok(FileScan::Binary);
    }
    let sniffed = buf.len();
    if sniffed == SNIFF {
        file.into_inner().read_to_end(buf)?;
        if memchr::memchr(0, &buf[sniffed..]).is_some() {
            return Ok(FileScan::Binary);
        }
    }
    let source = file_source(path);
    // `./x` when the walk started at `.`, shown as `x` (as `rg` does with no path).
    let path = path.strip_prefix(".").unwrap_or(path);
    let mut found: Vec<Finding> = locate(matcher, buf)
        .into_iter()
        .map(|(token, kind, line, column)| Finding {
            token,
            kind,
            path: path.to_owned(),
            line,
            column,
            source: source.clone(),
        })
        .collect();
    if matches!(source, Source::Notebook { .. }) && !found.is_empty() {
        notebook::name_cells(buf, &mut found);
    }
    Ok(FileScan::Text(found))
}

fn file_source(path: &Path) -> Source {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    if path.extension().is_some_and(|e| e == "ipynb") {
        Source::Notebook { cell: None, output: false }
    } else if name == ".env" || name.starts_with(".env.") || name.ends_with(".env") {
        Source::EnvFile
    } else {
        Source::File
    }
}

/// Every token in `text` with its 1-based line and column (in UTF-16 units, as SARIF
/// counts by default; the same as characters outside the astral planes).
pub fn locate(matcher: &Matcher, text: &[u8]) -> Vec<(Token, TokenKind, u64, u64)> {
    let mut line = 1u64;
    let mut counted = 0usize;
    let mut line_start = 0usize;
    matcher
        .find_all(text)
        .into_iter()
        .map(|m| {
            for nl in memchr::memchr_iter(b'\n', &text[counted..m.start]) {
                line += 1;
                line_start = counted + nl + 1;
            }
            counted = m.start;
            let prefix = String::from_utf8_lossy(&text[line_start..m.start]);
            let column = prefix.encode_utf16().count() as u64 + 1;
            let value = std::str::from_utf8(&text[m.start..m.end]).expect("a match is ASCII");
            (Token::new(value), m.kind, line, column)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_columns() {
        let text = "a\nbé 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\n\nx=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";
        let found = locate(&Matcher::new(), text.as_bytes());
        let places: Vec<(u64, u64)> = found.iter().map(|f| (f.2, f.3)).collect();
        assert_eq!(places, [(2, 4), (4, 3)]);
        assert_eq!(found[0].0.masked(), "hf_****PlMn");
    }
}
