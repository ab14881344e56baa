//! `.env` files, read as python-dotenv reads them.
//!
//! The guide recommends keeping `HF_TOKEN` in a `.env` file. `hf --env-file PATH` and
//! [`crate::Config::from_env_and_files`] load such files without overriding variables that
//! are already set, which is python-dotenv's default. Accepted lines: `KEY=VALUE`,
//! `export KEY=VALUE`, blank lines and `#` comments; values may be single-quoted (literal),
//! double-quoted (with `\n`, `\t`, `\"`, `\\` escapes, possibly over several lines) or bare
//! (trimmed, with a ` #` comment removed). A line that is none of these is reported with its
//! number instead of being skipped with a warning.

use std::path::{Path, PathBuf};

/// The variables of one `.env` file, in file order.
#[derive(Clone, PartialEq, Eq)]
pub struct EnvFile {
    path: PathBuf,
    vars: Vec<(String, String)>,
}

impl std::fmt::Debug for EnvFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.vars.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("EnvFile").field("path", &self.path).field("names", &names).finish()
    }
}

/// A `.env` file that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum EnvFileError {
    /// The file is missing or unreadable.
    #[error("cannot read the env file `{}`: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A line that is not `KEY=VALUE`.
    #[error("{}:{line}: {reason}\n\nhint: each line must be KEY=VALUE, `export KEY=VALUE`, blank, or a # comment", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
}

impl EnvFile {
    /// Reads and parses a file.
    pub fn load(path: &Path) -> Result<Self, EnvFileError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| EnvFileError::Read { path: path.to_owned(), source })?;
        Self::parse(&text, path)
    }

    /// Parses `.env` text; `path` is only used in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self, EnvFileError> {
        let mut vars = Vec::new();
        let lines: Vec<&str> = text.lines().collect();
        let mut i = 0;
        while i < lines.len() {
            let line_no = i + 1;
            let syntax =
                |reason: &str| EnvFileError::Syntax { path: path.to_owned(), line: line_no, reason: reason.to_owned() };
            // Only the start is trimmed here: a quoted value keeps the spaces at the end of
            // its first line when it goes on over several lines.
            let line = lines[i].trim_start();
            i += 1;
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let line = line.strip_prefix("export ").map_or(line, str::trim_start);
            let Some((key, rest)) = line.split_once('=') else {
                if is_valid_key(line.trim_end()) {
                    // python-dotenv reads a bare name as "no value" and sets nothing.
                    continue;
                }
                return Err(syntax("expected KEY=VALUE"));
            };
            let key = key.trim();
            if !is_valid_key(key) {
                return Err(syntax(&format!("`{key}` is not a valid variable name")));
            }
            let rest = rest.trim_start();
            let value = match rest.chars().next() {
                Some(q @ ('"' | '\'')) => {
                    // The value may run over several lines until the closing quote.
                    let mut body = rest[1..].to_owned();
                    loop {
                        if let Some(end) = closing_quote(&body, q) {
                            let after = body[end + 1..].trim();
                            if !(after.is_empty() || after.starts_with('#')) {
                                return Err(syntax("unexpected text after the closing quote"));
                            }
                            body.truncate(end);
                            break;
                        }
                        let Some(next) = lines.get(i) else {
                            return Err(syntax(&format!("the value opened with {q} is never closed")));
                        };
                        body.push('\n');
                        body.push_str(next);
                        i += 1;
                    }
                    if q == '"' { unescape(&body) } else { body }
                }
                _ => {
                    let bare = rest.find(" #").map_or(rest, |pos| &rest[..pos]);
                    bare.trim().to_owned()
                }
            };
            vars.push((key.to_owned(), value));
        }
        Ok(Self { path: path.to_owned(), vars })
    }

    /// The value the file gives `name` (the last assignment wins, as in python-dotenv).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Names of the variables the file sets.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.vars.iter().map(|(k, _)| k.as_str())
    }
}

fn is_valid_key(key: &str) -> bool {
    !key.is_empty()
        && !key.starts_with(|c: char| c.is_ascii_digit())
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-')
}

fn closing_quote(body: &str, quote: char) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in body.char_indices() {
        match c {
            '\\' if quote == '"' && !escaped => escaped = true,
            c if c == quote && !escaped => return Some(i),
            _ => escaped = false,
        }
    }
    None
}

fn unescape(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn parse(text: &str) -> Result<EnvFile, EnvFileError> {
        EnvFile::parse(text, Path::new(".env"))
    }

    #[test]
    fn reads_dotenv_forms() {
        let f = parse(
            "# c\n\nHF_TOKEN=hf_abc\nexport A = 'x #y'\nB=\"l1\\nl2\"\nC=bare value # note\nD=\"multi\nline\"\nBARE\n",
        )
        .unwrap();
        assert_eq!(f.get("HF_TOKEN"), Some("hf_abc"));
        assert_eq!(f.get("A"), Some("x #y"));
        assert_eq!(f.get("B"), Some("l1\nl2"));
        assert_eq!(f.get("C"), Some("bare value"));
        assert_eq!(f.get("D"), Some("multi\nline"));
        assert_eq!(f.get("BARE"), None);
    }

    #[test]
    fn quoted_values_keep_spaces_before_a_line_break() {
        // Found by prop_envfile_round_trip: the first line was trimmed before the quote was read.
        assert_eq!(parse("A='\t\n'\n").unwrap().get("A"), Some("\t\n"));
        assert_eq!(parse("B=\"x  \ny\"  \n").unwrap().get("B"), Some("x  \ny"));
        assert_eq!(parse("C = bare  \nD\t\n").unwrap().get("C"), Some("bare"));
    }

    #[test]
    fn bad_lines_are_reported_with_their_number() {
        let err = parse("A=1\nthis is not valid\n").unwrap_err();
        assert!(err.to_string().starts_with(".env:2:"), "{err}");
        let err = parse("A=1\nB=\"open\n").unwrap_err();
        assert!(err.to_string().contains(":2:"), "{err}");
    }

    /// A variable name python-dotenv accepts.
    fn key() -> impl Strategy<Value = String> {
        "[A-Za-z_][A-Za-z0-9_.-]{0,10}"
    }

    /// How a value is written in the file: `(text, value the reader must see)`.
    fn written_value() -> impl Strategy<Value = (String, String)> {
        prop_oneof![
            // Bare: trimmed, no ` #` comment, no quote at the start.
            "[A-Za-z0-9_./:@+=-]([A-Za-z0-9_./:@+= -]{0,20}[A-Za-z0-9_./:@+=-])?".prop_map(|v| (v.clone(), v)),
            // Single-quoted: literal, over several lines too.
            "[^'\r]{0,20}".prop_map(|v| (format!("'{v}'"), v)),
            // Double-quoted: escapes for backslash, quote and line breaks.
            any::<String>().prop_map(|v| (format!("\"{}\"", escape(&v)), v)),
        ]
    }

    /// The double-quoted form of `value`, the way a writer of `.env` files quotes it.
    fn escape(value: &str) -> String {
        let mut out = String::new();
        for c in value.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c => out.push(c),
            }
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

        /// Any text is read or refused with a line number inside the file; never a panic.
        #[test]
        fn prop_envfile_total(text in "[A-Za-z_=#'\" \\\\\n\r\te]{0,60}|\\PC{0,60}") {
            match parse(&text) {
                Ok(file) => prop_assert!(file.names().all(is_valid_key)),
                Err(EnvFileError::Syntax { line, .. }) => prop_assert!(line >= 1 && line <= text.lines().count()),
                Err(other) => prop_assert!(false, "unexpected error {other:?}"),
            }
        }

        /// Writing assignments (with `export`, comments and blank lines between) and reading
        /// them back gives each name the value of its last assignment.
        #[test]
        fn prop_envfile_round_trip(
            assignments in prop::collection::vec((key(), written_value(), any::<bool>(), any::<bool>()), 0..8)
        ) {
            let mut text = String::new();
            for (key, (written, _), export, comment) in &assignments {
                if *comment {
                    text.push_str("# a comment\n\n");
                }
                let prefix = if *export { "export " } else { "" };
                text.push_str(&format!("{prefix}{key}={written}\n"));
            }
            let file = parse(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
            for (key, _, _, _) in &assignments {
                let last = assignments.iter().rev().find(|(k, ..)| k == key).map(|(_, (_, v), ..)| v.as_str());
                prop_assert_eq!(file.get(key), last);
            }
        }
    }
}
