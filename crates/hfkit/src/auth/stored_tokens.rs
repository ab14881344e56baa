//! `stored_tokens`: the INI file of named tokens that huggingface_hub keeps beside the
//! active token file.
//!
//! Python writes it with `configparser` (sections sorted by name, `key = value`, a blank
//! line after each section) and reads it with the same parser, so we accept exactly that
//! grammar: `=` or `:` separators, keys in any case, `#`/`;` comment lines, indented
//! continuation lines and a `[DEFAULT]` section merged into every other. One difference is
//! deliberate: where Python logs a parse error and carries on with an empty list (and the
//! next login overwrites the file, losing every token), we stop with the file and line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::fs::{self as hffs, FsError, LockError, LockedFile};
use crate::secret::Token;

/// The key holding the token value in each section.
pub const TOKEN_KEY: &str = "hf_token";
/// The key holding an OAuth refresh token.
pub const REFRESH_TOKEN_KEY: &str = "refresh_token";
/// The key holding an OAuth expiry (unix seconds).
pub const EXPIRES_AT_KEY: &str = "expires_at";
/// The key holding the origin of the Hub that issued an OAuth token (ours, not
/// huggingface_hub's): its refresh token is sent there only. Python keeps the field when it
/// rewrites the file for another entry, and drops it when it refreshes this entry itself
/// (the entry is then refreshed wherever `HF_ENDPOINT` points, as Python does).
pub const ISSUED_BY_KEY: &str = "issued_by";
/// How long to wait for another process to finish writing the file.
const LOCK_TIMEOUT: Duration = Duration::from_secs(30);
/// configparser's special section, merged into every other.
const DEFAULT_SECTION: &str = "DEFAULT";

/// One named entry: its fields in file order (`hf_token`, then OAuth extras if any).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct StoredToken {
    fields: Vec<(String, String)>,
}

impl std::fmt::Debug for StoredToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredToken")
            .field("token", &self.token())
            .field("expires_at", &self.expires_at())
            .finish_non_exhaustive()
    }
}

impl StoredToken {
    /// An entry holding just a token.
    pub fn new(token: &Token) -> Self {
        Self { fields: vec![(TOKEN_KEY.to_owned(), token.expose().to_owned())] }
    }

    /// Adds OAuth refresh data, as huggingface_hub's browser login stores it.
    pub fn with_oauth(mut self, refresh_token: Option<&str>, expires_at: Option<i64>) -> Self {
        if let Some(rt) = refresh_token {
            self.fields.push((REFRESH_TOKEN_KEY.to_owned(), rt.to_owned()));
        }
        if let Some(at) = expires_at {
            self.fields.push((EXPIRES_AT_KEY.to_owned(), at.to_string()));
        }
        self
    }

    /// Records the origin of the Hub that issued this entry's OAuth token.
    pub fn issued_by(mut self, origin: &str) -> Self {
        self.fields.retain(|(k, _)| k != ISSUED_BY_KEY);
        self.fields.push((ISSUED_BY_KEY.to_owned(), origin.to_owned()));
        self
    }

    /// A field's raw value.
    pub fn field(&self, key: &str) -> Option<&str> {
        self.fields.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// The token, cleaned as huggingface_hub cleans it; `None` when absent or blank.
    pub fn token(&self) -> Option<Token> {
        self.field(TOKEN_KEY).and_then(super::clean_token)
    }

    /// The OAuth expiry, when present and a whole number.
    pub fn expires_at(&self) -> Option<i64> {
        self.field(EXPIRES_AT_KEY).and_then(|v| v.parse().ok())
    }
}

/// All named tokens, sorted by name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoredTokens {
    entries: BTreeMap<String, StoredToken>,
}

/// Why `stored_tokens` could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StoredTokensError {
    /// The file does not follow the INI grammar.
    #[error("`{}` is corrupt at line {line}: {reason}\n\nhint: fix or remove that line; hfkit will not overwrite the file while it cannot read it, so no stored token is lost", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong there.
        reason: String,
    },
    /// A token name that cannot be written as an INI section.
    #[error("a token cannot be stored under the name {name:?}: {reason}")]
    InvalidName {
        /// The name.
        name: String,
        /// Why.
        reason: &'static str,
    },
    /// Reading or writing failed.
    #[error(transparent)]
    Fs(#[from] FsError),
    /// Another process kept the file locked.
    #[error(transparent)]
    Lock(#[from] LockError),
}

impl StoredTokens {
    /// Reads the file; a missing file is an empty list.
    pub fn load(path: &Path) -> Result<Self, StoredTokensError> {
        match hffs::read_optional(path)? {
            Some(text) => Self::parse(&text, path),
            None => Ok(Self::default()),
        }
    }

    /// Reads, changes and writes the file under its lock (`stored_tokens.lock`, the path
    /// huggingface_hub locks when it refreshes a token), so concurrent logins lose nothing.
    pub fn update<R>(
        path: &Path,
        change: impl FnOnce(&mut Self) -> Result<R, StoredTokensError>,
    ) -> Result<R, StoredTokensError> {
        hffs::ensure_secret_dir(path)?;
        let _lock = LockedFile::acquire(&lock_path(path), LOCK_TIMEOUT)?;
        let mut tokens = Self::load(path)?;
        let result = change(&mut tokens)?;
        hffs::write_secret(path, tokens.render().as_bytes())?;
        Ok(result)
    }

    /// Parses configparser syntax. `path` is only used in error messages.
    pub fn parse(text: &str, path: &Path) -> Result<Self, StoredTokensError> {
        let corrupt = |line: usize, reason: String| StoredTokensError::Corrupt { path: path.to_owned(), line, reason };
        // Sections in file order; continuation lines extend the last value.
        let mut sections: Vec<(String, RawFields)> = Vec::new();
        let mut current: Option<usize> = None;
        let mut last_key: Option<usize> = None;
        let mut indent_level = usize::MAX;

        for (index, raw_line) in text.split('\n').enumerate() {
            let line_no = index + 1;
            let line = raw_line.strip_suffix('\r').unwrap_or(raw_line);
            let trimmed = line.trim();
            let is_comment = trimmed.starts_with('#') || trimmed.starts_with(';');
            if trimmed.is_empty() || is_comment {
                // A blank line inside a multi-line value belongs to it; a comment ends nothing.
                if trimmed.is_empty()
                    && let (Some(s), Some(k)) = (current, last_key)
                {
                    sections[s].1[k].1.push(String::new());
                }
                continue;
            }
            let indent = line.len() - line.trim_start().len();
            if let (Some(s), Some(k)) = (current, last_key)
                && indent > indent_level
            {
                sections[s].1[k].1.push(trimmed.to_owned());
                continue;
            }
            indent_level = indent;
            if let Some(header) = section_header(trimmed) {
                if sections.iter().any(|(name, _)| name == header) {
                    return Err(corrupt(line_no, format!("section [{header}] appears twice")));
                }
                sections.push((header.to_owned(), Vec::new()));
                current = Some(sections.len() - 1);
                last_key = None;
                continue;
            }
            let Some(s) = current else {
                return Err(corrupt(line_no, "a line before the first [section] header".to_owned()));
            };
            let Some(sep) = trimmed.find(['=', ':']) else {
                return Err(corrupt(line_no, "expected `name = value` or a [section] header".to_owned()));
            };
            let key = trimmed[..sep].trim_end().to_lowercase();
            if key.is_empty() {
                return Err(corrupt(line_no, "a value without a name".to_owned()));
            }
            let fields = &mut sections[s].1;
            if fields.iter().any(|(k, _)| *k == key) {
                return Err(corrupt(line_no, format!("`{key}` appears twice in [{}]", sections[s].0)));
            }
            fields.push((key, vec![trimmed[sep + 1..].trim().to_owned()]));
            last_key = Some(fields.len() - 1);
        }

        let join = |fields: RawFields| -> Vec<(String, String)> {
            fields.into_iter().map(|(k, v)| (k, v.join("\n").trim_end().to_owned())).collect()
        };
        let mut defaults = Vec::new();
        let mut entries = BTreeMap::new();
        for (name, fields) in sections {
            if name == DEFAULT_SECTION {
                defaults = join(fields);
            } else {
                entries.insert(name, join(fields));
            }
        }
        let entries = entries
            .into_iter()
            .map(|(name, mut fields)| {
                for (k, v) in &defaults {
                    if !fields.iter().any(|(fk, _)| fk == k) {
                        fields.push((k.clone(), v.clone()));
                    }
                }
                (name, StoredToken { fields })
            })
            .collect();
        Ok(Self { entries })
    }

    /// The file's text as configparser writes it: sorted sections, `key = value`, a blank
    /// line after each section; nothing at all when there are no tokens.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (name, entry) in &self.entries {
            out.push('[');
            out.push_str(name);
            out.push_str("]\n");
            for (key, value) in &entry.fields {
                out.push_str(key);
                out.push_str(" = ");
                out.push_str(&value.replace('\n', "\n\t"));
                out.push('\n');
            }
            out.push('\n');
        }
        out
    }

    /// The entry named `name`.
    pub fn get(&self, name: &str) -> Option<&StoredToken> {
        self.entries.get(name)
    }

    /// Adds or wholly replaces the entry `name` (as huggingface_hub does on re-login).
    pub fn insert(&mut self, name: &str, entry: StoredToken) -> Result<(), StoredTokensError> {
        validate_name(name)?;
        self.entries.insert(name.to_owned(), entry);
        Ok(())
    }

    /// Removes the entry `name`, returning it.
    pub fn remove(&mut self, name: &str) -> Option<StoredToken> {
        self.entries.remove(name)
    }

    /// Entries in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &StoredToken)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The name of the first entry whose token equals `token`.
    pub fn name_of(&self, token: &Token) -> Option<&str> {
        self.iter().find(|(_, e)| e.token().as_ref() == Some(token)).map(|(n, _)| n)
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }
}

/// The lock path guarding `stored_tokens` (shared with huggingface_hub's refresh).
pub fn lock_path(stored_tokens: &Path) -> PathBuf {
    let mut name = stored_tokens.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// A section's fields while parsing: each value as its lines.
type RawFields = Vec<(String, Vec<String>)>;

/// configparser's `\[(?P<header>.+)\]`, matched at the start of the stripped line.
fn section_header(line: &str) -> Option<&str> {
    let rest = line.strip_prefix('[')?;
    let end = rest.rfind(']')?;
    (end > 0).then(|| &rest[..end])
}

fn validate_name(name: &str) -> Result<(), StoredTokensError> {
    let reason = if name.is_empty() {
        Some("the name is empty")
    } else if name == DEFAULT_SECTION {
        Some("DEFAULT is reserved in the INI format")
    } else if name.contains(['\n', '\r']) {
        Some("it contains a line break")
    } else if name.contains(']') {
        Some("it contains `]`")
    } else if name.trim() != name {
        Some("it starts or ends with whitespace")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(StoredTokensError::InvalidName { name: name.to_owned(), reason }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn parse(text: &str) -> Result<StoredTokens, StoredTokensError> {
        StoredTokens::parse(text, Path::new("/x/stored_tokens"))
    }

    #[test]
    fn renders_like_configparser() {
        let mut t = StoredTokens::default();
        t.insert("my-read", StoredToken::new(&Token::new("hf_read_tok"))).unwrap();
        t.insert("fine one", StoredToken::new(&Token::new("hf_fg_tok"))).unwrap();
        assert_eq!(t.render(), "[fine one]\nhf_token = hf_fg_tok\n\n[my-read]\nhf_token = hf_read_tok\n\n");
        assert_eq!(StoredTokens::default().render(), "");
    }

    #[test]
    fn oauth_fields_round_trip() {
        let mut t = StoredTokens::default();
        let e = StoredToken::new(&Token::new("hf_o")).with_oauth(Some("rt_1"), Some(1_900_000_000));
        t.insert("oauth-alice", e).unwrap();
        let text = t.render();
        assert_eq!(text, "[oauth-alice]\nhf_token = hf_o\nrefresh_token = rt_1\nexpires_at = 1900000000\n\n");
        assert_eq!(parse(&text).unwrap(), t);
    }

    #[test]
    fn reads_configparser_variants() {
        let t = parse("; comment\n[a]\nHF_TOKEN: tok_a\n# c\n[b]\n  hf_token =   tok_b  \n").unwrap();
        assert_eq!(t.get("a").unwrap().token().unwrap().expose(), "tok_a");
        assert_eq!(t.get("b").unwrap().token().unwrap().expose(), "tok_b");
    }

    #[test]
    fn continuation_lines_join_and_clean() {
        let t = parse("[a]\nhf_token = hf_ab\n  cd\n").unwrap();
        assert_eq!(t.get("a").unwrap().field("hf_token"), Some("hf_ab\ncd"));
        assert_eq!(t.get("a").unwrap().token().unwrap().expose(), "hf_abcd");
    }

    #[test]
    fn default_section_is_merged() {
        let t = parse("[DEFAULT]\nhf_token = shared\n[a]\n[b]\nhf_token = own\n").unwrap();
        assert_eq!(t.get("a").unwrap().field("hf_token"), Some("shared"));
        assert_eq!(t.get("b").unwrap().field("hf_token"), Some("own"));
        assert!(t.get("DEFAULT").is_none());
    }

    #[test]
    fn corrupt_files_name_the_line() {
        for (text, line) in [
            ("hf_token = x\n", 1),
            ("[a]\nhf_token = x\ngarbage\n", 3),
            ("[a]\n[a]\n", 2),
            ("[a]\nhf_token = 1\nHF_TOKEN = 2\n", 3),
            ("[a]\n = x\n", 2),
        ] {
            match parse(text) {
                Err(StoredTokensError::Corrupt { line: l, .. }) => assert_eq!(l, line, "{text:?}"),
                other => panic!("{text:?} gave {other:?}"),
            }
        }
    }

    /// Lines built from the pieces of the INI grammar, so that generated files reach every
    /// branch of the parser (headers, separators, comments, continuations, line ends).
    fn ini_text() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just("[DEFAULT]".to_owned()),
            Just("hf_token".to_owned()),
            Just("\n".to_owned()),
            Just("\n\t".to_owned()),
            "[\\[\\]=:#; \t\ra-cA-C\n\u{e9}\u{85}\u{b}\u{1c}]{1,4}",
        ];
        prop::collection::vec(piece, 0..40).prop_map(|p| p.concat())
    }

    /// A name `insert` accepts: INI punctuation and odd characters, but no `]`, line break
    /// or surrounding whitespace (which `validate_name` refuses).
    fn entry_name() -> impl Strategy<Value = String> {
        "[a-z0-9_#;=:\\[\u{e9}\u{1c}-]([a-z0-9 _#;=:\\[\t\u{e9}\u{1c}-]{0,10}[a-z0-9_#;=:\\[\u{e9}\u{1c}-])?"
            .prop_filter("a valid name", |n| validate_name(n).is_ok())
    }

    /// A value as tokens come in: visible ASCII, inner spaces, no surrounding whitespace.
    fn token_value() -> impl Strategy<Value = String> {
        "[!-~]([ -~]{0,30}[!-~])?"
    }

    proptest! {
        // Generators filter out a few invalid values; long runs must not stop at proptest's
        // fixed budget of rejections.
        #![proptest_config(ProptestConfig {
            failure_persistence: None,
            max_local_rejects: u32::MAX,
            ..ProptestConfig::default()
        })]

        /// Any text either is refused with a line number inside the file, or parses to
        /// entries that the writer renders to a text that parses back to the same entries.
        #[test]
        fn prop_stored_tokens_parse_render_idempotent(text in ini_text()) {
            match parse(&text) {
                Ok(tokens) => {
                    let rendered = tokens.render();
                    prop_assert_eq!(parse(&rendered).expect("rendered text parses"), tokens);
                }
                Err(StoredTokensError::Corrupt { line, .. }) => {
                    prop_assert!(line >= 1 && line <= text.split('\n').count());
                }
                Err(other) => prop_assert!(false, "unexpected error {other:?}"),
            }
        }

        /// What the writer writes, the reader reads back: same names, tokens and OAuth fields.
        #[test]
        fn prop_stored_tokens_round_trip(
            entries in prop::collection::btree_map(
                entry_name(),
                (token_value(), prop::option::of(token_value()), prop::option::of(any::<i64>())),
                0..6,
            )
        ) {
            let mut tokens = StoredTokens::default();
            for (name, (token, refresh, expires)) in &entries {
                let entry = StoredToken::new(&Token::new(token)).with_oauth(refresh.as_deref(), *expires);
                tokens.insert(name, entry).expect("a valid name");
            }
            let back = parse(&tokens.render()).expect("the writer's output parses");
            prop_assert_eq!(&back, &tokens);
            for (name, (token, _, expires)) in &entries {
                let entry = back.get(name).expect("entry kept");
                prop_assert_eq!(entry.token().map(|t| t.expose().to_owned()), Some(token.clone()));
                prop_assert_eq!(entry.expires_at(), *expires);
            }
        }
    }

    #[test]
    fn names_that_cannot_round_trip_are_refused() {
        let mut t = StoredTokens::default();
        for bad in ["", "DEFAULT", "a\nb", "a]b", " a"] {
            assert!(t.insert(bad, StoredToken::new(&Token::new("x"))).is_err(), "{bad:?}");
        }
    }
}
