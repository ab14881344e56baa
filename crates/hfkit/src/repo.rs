//! What a repository is called: [`RepoType`], [`RepoId`], revisions and file paths, checked
//! before any request is made, and the URL and cache-folder names built from them.
//!
//! The rules are huggingface_hub 2.4's: a repo id is `name` or `namespace/name` of ASCII
//! letters, digits, `-`, `_` and `.`, each part starting and ending with a letter, digit or
//! `_`, at most 96 characters, without `--`, `..` or a `.git` ending. A file path inside a repo
//! is relative, has no `..` segment and no backslash or drive prefix, so a path from the
//! server can never escape the folder it is written to.

use std::fmt;
use std::str::FromStr;

/// The kind of repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RepoType {
    /// A model (the default).
    Model,
    /// A dataset.
    Dataset,
    /// A Space.
    Space,
    /// A kernel.
    Kernel,
}

impl RepoType {
    /// Singular name: `model`, `dataset`, `space`, `kernel`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Model => "model",
            Self::Dataset => "dataset",
            Self::Space => "space",
            Self::Kernel => "kernel",
        }
    }

    /// Plural name, used in API URLs and cache folders: `models`, `datasets`…
    pub fn plural(self) -> &'static str {
        match self {
            Self::Model => "models",
            Self::Dataset => "datasets",
            Self::Space => "spaces",
            Self::Kernel => "kernels",
        }
    }

    /// The prefix of `/resolve/` URLs: empty for models, `datasets/` and so on otherwise.
    pub fn url_prefix(self) -> &'static str {
        match self {
            Self::Model => "",
            Self::Dataset => "datasets/",
            Self::Space => "spaces/",
            Self::Kernel => "kernels/",
        }
    }

    /// Capitalised name for messages: `Model`, `Dataset`…
    pub fn label(self) -> &'static str {
        match self {
            Self::Model => "Model",
            Self::Dataset => "Dataset",
            Self::Space => "Space",
            Self::Kernel => "Kernel",
        }
    }

    /// Every type, for parsing URL prefixes.
    pub const ALL: [Self; 4] = [Self::Model, Self::Dataset, Self::Space, Self::Kernel];
}

impl fmt::Display for RepoType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RepoType {
    type Err = RepoError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == s || t.plural() == s)
            .ok_or_else(|| RepoError::InvalidType(s.to_owned()))
    }
}

/// A name that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RepoError {
    /// Not `name` or `namespace/name`, or bad characters.
    #[error(
        "Invalid repo id '{id}': {reason}.\n\nhint: a repo id looks like `namespace/name` (letters, digits, '-', '_' and '.'); pass the type with --repo-type, not in the id"
    )]
    InvalidId {
        /// The id.
        id: String,
        /// Why.
        reason: &'static str,
    },
    /// Not a repo type.
    #[error("Invalid repo type '{0}': expected one of model, dataset, space, kernel")]
    InvalidType(String),
    /// A path that could escape its folder, or is empty.
    #[error("Invalid file path {} in the repository: {reason}", crate::text::quoted(.path))]
    InvalidPath {
        /// The path.
        path: String,
        /// Why.
        reason: &'static str,
    },
    /// A revision that cannot be used.
    #[error(
        "Invalid revision {}: a revision is a branch, tag or commit name, without control characters or empty, '.' or '..' segments",
        crate::text::quoted(.0)
    )]
    InvalidRevision(String),
}

/// A validated repository id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RepoId(String);

impl RepoId {
    /// Validates `id` as huggingface_hub does.
    pub fn new(id: &str) -> Result<Self, RepoError> {
        let invalid = |reason| Err(RepoError::InvalidId { id: id.to_owned(), reason });
        let parts: Vec<&str> = id.split('/').collect();
        if parts.len() > 2 {
            return invalid("it must be 'name' or 'namespace/name'");
        }
        for part in &parts {
            let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
            if part.is_empty() || part.len() > 96 {
                return invalid("each part must have 1 to 96 characters");
            }
            if !part.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) {
                return invalid("only letters, digits, '-', '_' and '.' are allowed");
            }
            if !edge_ok(part.chars().next()) || !edge_ok(part.chars().last()) {
                return invalid("a part cannot start or end with '-' or '.'");
            }
        }
        if id.contains("--") || id.contains("..") {
            return invalid("it cannot contain '--' or '..'");
        }
        if id.ends_with(".git") {
            return invalid("it cannot end with '.git'");
        }
        Ok(Self(id.to_owned()))
    }

    /// The id as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RepoId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A repository: its type and id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Repo {
    /// The type.
    pub kind: RepoType,
    /// The id.
    pub id: RepoId,
}

impl Repo {
    /// A repository of `kind` named `id` (validated).
    pub fn new(kind: RepoType, id: &str) -> Result<Self, RepoError> {
        Ok(Self { kind, id: RepoId::new(id)? })
    }

    /// A model repository.
    pub fn model(id: &str) -> Result<Self, RepoError> {
        Self::new(RepoType::Model, id)
    }

    /// The cache folder name: `models--acme--tiny`.
    pub fn folder_name(&self) -> String {
        format!("{}--{}", self.kind.plural(), self.id.as_str().replace('/', "--"))
    }

    /// `Model 'acme/tiny'`, for messages.
    pub fn describe(&self) -> String {
        format!("{} '{}'", self.kind.label(), self.id)
    }
}

impl fmt::Display for Repo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.kind.url_prefix(), self.id)
    }
}

/// An `hf://[<type>s/]<namespace>/<name>[@<revision>][/<path>]` URI, as huggingface_hub's
/// CLI accepts it. The type defaults to model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HfUri {
    /// The repo.
    pub repo: Repo,
    /// `@revision` (with `%2F` decoded), if any.
    pub revision: Option<String>,
    /// A path inside the repo, if any (a trailing `/` removed).
    pub path: Option<String>,
}

impl HfUri {
    /// Parses a URI that starts with `hf://`; `None` for anything else.
    pub fn parse(raw: &str) -> Option<Result<Self, RepoError>> {
        let rest = raw.strip_prefix("hf://")?;
        let (kind, rest) = split_type_prefix(rest);
        let mut parts = rest.splitn(3, '/');
        let (ns, name_rev) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
        let path = parts.next().map(|p| p.trim_end_matches('/').to_owned()).filter(|p| !p.is_empty());
        let (name, revision) = match name_rev.split_once('@') {
            Some((n, r)) => (n, Some(r.replace("%2F", "/").replace("%2f", "/"))),
            None => (name_rev, None),
        };
        Some(Repo::new(kind.unwrap_or(RepoType::Model), &format!("{ns}/{name}")).map(|repo| Self {
            repo,
            revision,
            path,
        }))
    }
}

/// Splits a `models/`, `datasets/`, `spaces/` or `kernels/` prefix off a repo reference.
pub fn split_type_prefix(s: &str) -> (Option<RepoType>, &str) {
    for kind in RepoType::ALL {
        if let Some(rest) = s.strip_prefix(kind.plural()).and_then(|r| r.strip_prefix('/')) {
            return (Some(kind), rest);
        }
    }
    (None, s)
}

/// Whether `revision` is a full commit hash (40 lowercase hex digits).
pub fn is_commit_hash(revision: &str) -> bool {
    revision.len() == 40 && revision.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Checks a revision: it becomes a file name under `refs/`, so it is not empty and has no
/// control characters, backslashes, or empty, `.` or `..` segments.
pub fn validate_revision(revision: &str) -> Result<(), RepoError> {
    let bad = revision.is_empty()
        || revision.chars().any(crate::text::is_unsafe)
        || revision.contains('\\')
        || revision.split('/').any(|s| s == ".." || s == "." || s.is_empty());
    if bad { Err(RepoError::InvalidRevision(revision.to_owned())) } else { Ok(()) }
}

/// Checks a path inside a repository: relative, `/`-separated, no `.`/`..`/empty segments,
/// no backslash, no drive or UNC prefix, no control characters (NUL, line breaks, escapes,
/// bidi overrides). Refuses what could escape a folder or rewrite a terminal.
pub fn validate_path(path: &str) -> Result<(), RepoError> {
    let invalid = |reason| Err(RepoError::InvalidPath { path: path.to_owned(), reason });
    if path.is_empty() {
        return invalid("it is empty");
    }
    if path.starts_with('/') {
        return invalid("it is absolute");
    }
    if path.contains('\\') {
        return invalid("it contains a backslash");
    }
    if path.chars().any(crate::text::is_unsafe) {
        return invalid("it contains a control character");
    }
    if path.as_bytes().get(1) == Some(&b':') {
        return invalid("it starts with a drive letter");
    }
    if path.split('/').any(|s| s.is_empty() || s == "." || s == "..") {
        return invalid("it has an empty, '.' or '..' segment");
    }
    Ok(())
}

/// Percent-encodes every byte but unreserved characters (`A-Z a-z 0-9 - . _ ~`), and keeps
/// `/` when `keep_slash`: Python's `quote(s, safe="")` for revisions, `quote(s)` for paths.
pub fn quote(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') || (keep_slash && b == b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The `/resolve/` URL of a file.
pub fn resolve_url(endpoint: &str, repo: &Repo, revision: &str, path: &str) -> String {
    format!("{endpoint}/{repo}/resolve/{}/{}", quote(revision, false), quote(path, true))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn repo_ids_follow_python() {
        for ok in ["foo", "foo/bar", "123", "Foo-BAR_foo.bar123", "_a/_b"] {
            RepoId::new(ok).unwrap();
        }
        for bad in ["datasets/foo/bar", ".repo_id", "foo--bar", "foo.git", "a..b", "-a", "a-", "café", "", "a/", "a b"]
        {
            assert!(RepoId::new(bad).is_err(), "{bad:?}");
        }
        assert!(RepoId::new(&"a".repeat(97)).is_err());
    }

    #[test]
    fn folder_names() {
        assert_eq!(Repo::model("acme/tiny").unwrap().folder_name(), "models--acme--tiny");
        assert_eq!(Repo::model("gpt2").unwrap().folder_name(), "models--gpt2");
        assert_eq!(Repo::new(RepoType::Dataset, "acme/ds").unwrap().folder_name(), "datasets--acme--ds");
    }

    #[test]
    fn urls_encode_like_python() {
        let repo = Repo::model("acme/tiny").unwrap();
        assert_eq!(
            resolve_url("http://h", &repo, "refs/pr/1", "weird dir/a b+c#d%e?.txt"),
            "http://h/acme/tiny/resolve/refs%2Fpr%2F1/weird%20dir/a%20b%2Bc%23d%25e%3F.txt"
        );
        let ds = Repo::new(RepoType::Dataset, "acme/ds").unwrap();
        assert_eq!(resolve_url("http://h/m", &ds, "main", "x"), "http://h/m/datasets/acme/ds/resolve/main/x");
    }

    #[test]
    fn paths_cannot_escape() {
        for bad in ["../x", "a/../../x", "/etc/passwd", "a\\b", "C:/x", "a//b", "./a", "", "a/."] {
            assert!(validate_path(bad).is_err(), "{bad:?}");
        }
        // Found by prop_validated_path_cannot_escape: control characters were accepted.
        for bad in ["a\nb", "x\u{1b}[2J", "a\u{7f}", "\u{9b}31m", "a\tb", "nul\0"] {
            assert!(validate_path(bad).is_err(), "{bad:?}");
        }
        validate_path("sub/dir/file.bin").unwrap();
        validate_path(".gitattributes").unwrap();
    }

    #[test]
    fn hf_uris() {
        let u = HfUri::parse("hf://datasets/acme/ds@refs%2Fpr%2F1/data/train.csv").unwrap().unwrap();
        assert_eq!((u.repo.kind, u.repo.id.as_str()), (RepoType::Dataset, "acme/ds"));
        assert_eq!(u.revision.as_deref(), Some("refs/pr/1"));
        assert_eq!(u.path.as_deref(), Some("data/train.csv"));
        let u = HfUri::parse("hf://acme/tiny").unwrap().unwrap();
        assert_eq!((u.repo.kind, u.revision, u.path), (RepoType::Model, None, None));
        assert!(HfUri::parse("acme/tiny").is_none());
        assert!(HfUri::parse("hf://a--b/c").unwrap().is_err());
    }

    #[test]
    fn commit_hashes() {
        assert!(is_commit_hash(&"a".repeat(40)));
        assert!(!is_commit_hash(&"A".repeat(40)));
        assert!(!is_commit_hash("main"));
    }

    /// huggingface_hub 2.4's rule, written independently: its regex
    /// `(\b[\w\-.]{1,96}\b/)?\b[\w\-.]{1,96}\b` over ASCII, then the `--`, `..` and `.git` checks.
    fn python_accepts(id: &str) -> bool {
        let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
        let part_ok = |p: &str| {
            (1..=96).contains(&p.len())
                && p.chars().all(|c| word(c) || c == '-' || c == '.')
                && p.starts_with(word)
                && p.ends_with(word)
        };
        let parts: Vec<&str> = id.split('/').collect();
        parts.len() <= 2
            && parts.iter().all(|p| part_ok(p))
            && !id.contains("--")
            && !id.contains("..")
            && !id.ends_with(".git")
    }

    /// Strings near the edge of the repo-id grammar.
    fn id_like() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z0-9._/-]{0,12}",
            "[a-zA-Z0-9_][a-zA-Z0-9._-]{0,8}[a-zA-Z0-9_](/[a-zA-Z0-9_][a-zA-Z0-9._-]{0,8}[a-zA-Z0-9_])?",
            "[a-z]{90,100}",
            "\\PC{0,10}",
        ]
    }

    /// A valid repo id: `namespace/name`.
    fn repo_id() -> impl Strategy<Value = RepoId> {
        "[a-zA-Z0-9_]([a-zA-Z0-9._-]{0,8}[a-zA-Z0-9_])?/[a-zA-Z0-9_]([a-zA-Z0-9._-]{0,8}[a-zA-Z0-9_])?"
            .prop_filter_map("a valid id", |id| RepoId::new(&id).ok())
    }

    fn repo_type() -> impl Strategy<Value = RepoType> {
        prop::sample::select(RepoType::ALL.to_vec())
    }

    /// Paths as servers and users send them, hostile ones included.
    fn path_like() -> impl Strategy<Value = String> {
        prop_oneof![
            "([a-z.]{1,3}|\\.\\.|\\.)(/([a-z.]{1,3}|\\.\\.|\\.)){0,4}/?",
            "[a-z./\\\\:\\x00-\\x1f\\x7f\\u{85}\\u{9b}]{0,12}",
            "\\PC{0,12}",
            any::<String>(),
        ]
    }

    /// A valid path inside a repo, from the alphabet of real file names.
    fn repo_path() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9 _.+#%@=-]{1,6}(/[a-zA-Z0-9 _.+#%@=-]{1,6}){0,3}".prop_filter("valid", |p| validate_path(p).is_ok())
    }

    /// A valid revision: a branch, tag or PR name (no `%`, which the URI form decodes).
    fn revision() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9_.-]{1,8}(/[a-zA-Z0-9_.-]{1,8}){0,2}".prop_filter("valid", |r| validate_revision(r).is_ok())
    }

    proptest! {
        // Generators filter out a few invalid values; long runs must not stop at proptest's
        // fixed budget of rejections.
        #![proptest_config(ProptestConfig {
            failure_persistence: None,
            max_local_rejects: u32::MAX,
            ..ProptestConfig::default()
        })]

        /// Our repo-id check agrees with huggingface_hub's.
        #[test]
        fn prop_repo_id_agrees_with_python(id in id_like()) {
            prop_assert_eq!(RepoId::new(&id).is_ok(), python_accepts(&id), "{:?}", id);
        }

        /// A repo id round-trips through its cache folder name, and the folder name is one
        /// path segment that cannot climb out of the cache.
        #[test]
        fn prop_repo_folder_name_round_trip(kind in repo_type(), id in repo_id()) {
            let repo = Repo { kind, id };
            let folder = repo.folder_name();
            prop_assert!(!folder.contains('/') && folder != "." && folder != "..");
            let (plural, rest) = folder.split_once("--").expect("a type prefix");
            let kind_back = RepoType::from_str(plural).expect("a plural type");
            let back = Repo::new(kind_back, &rest.replace("--", "/")).expect("a valid id");
            prop_assert_eq!(back, repo);
        }

        /// An `hf://` URI formatted from its parts parses back to the same parts.
        #[test]
        fn prop_hf_uri_round_trip(
            kind in repo_type(),
            id in repo_id(),
            revision in prop::option::of(revision()),
            path in prop::option::of(repo_path()),
            slash in any::<bool>(),
        ) {
            let mut uri = format!("hf://{}/{id}", kind.plural());
            if let Some(rev) = &revision {
                uri.push('@');
                uri.push_str(&rev.replace('/', "%2F"));
            }
            if let Some(path) = &path {
                uri.push('/');
                uri.push_str(path);
                if slash {
                    uri.push('/');
                }
            }
            let parsed = HfUri::parse(&uri).expect("an hf:// URI").expect("valid parts");
            prop_assert_eq!(parsed, HfUri { repo: Repo { kind, id }, revision, path });
        }

        /// Any `hf://` text is parsed or refused; what is accepted is a valid repo.
        #[test]
        fn prop_hf_uri_total(rest in "[a-z@%2F/._-]{0,24}|\\PC{0,24}") {
            if let Some(Ok(uri)) = HfUri::parse(&format!("hf://{rest}")) {
                prop_assert!(RepoId::new(uri.repo.id.as_str()).is_ok());
            }
        }

        /// A path that passes validation can be joined under a folder safely: no `..`, `.` or
        /// empty segment, not absolute, no backslash, drive or control character.
        #[test]
        fn prop_validated_path_cannot_escape(path in path_like()) {
            if validate_path(&path).is_ok() {
                prop_assert!(!path.is_empty() && !path.starts_with('/'));
                prop_assert!(path.split('/').all(|s| !s.is_empty() && s != "." && s != ".."));
                prop_assert!(!path.contains('\\') && !path.chars().any(char::is_control));
                let joined = std::path::Path::new("/cache/snapshot").join(&path);
                prop_assert!(joined.components().all(|c| matches!(c, std::path::Component::RootDir | std::path::Component::Normal(_))));
                prop_assert!(joined.starts_with("/cache/snapshot/"));
            }
        }

        /// A validated revision is a safe file name below `refs/`: no `..`, `.` or empty
        /// segment, not absolute, no line break or NUL.
        #[test]
        fn prop_validated_revision_cannot_escape(rev in path_like()) {
            if validate_revision(&rev).is_ok() {
                prop_assert!(!rev.starts_with('/') && !rev.contains(['\n', '\r', '\0']));
                prop_assert!(rev.split('/').all(|s| !s.is_empty() && s != "." && s != ".."));
            }
        }

        /// Quoting leaves only URL-safe bytes, and percent-decoding gives the text back.
        #[test]
        fn prop_quote_round_trip(s in any::<String>(), keep_slash in any::<bool>()) {
            let q = quote(&s, keep_slash);
            prop_assert!(q.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~%/".contains(&b)));
            prop_assert_eq!(q.contains('/'), keep_slash && s.contains('/'));
            let mut bytes = Vec::new();
            let mut rest = q.as_bytes();
            while let Some((&b, tail)) = rest.split_first() {
                if b == b'%' {
                    let hex = std::str::from_utf8(&tail[..2]).expect("ascii");
                    bytes.push(u8::from_str_radix(hex, 16).expect("hex"));
                    rest = &tail[2..];
                } else {
                    bytes.push(b);
                    rest = tail;
                }
            }
            prop_assert_eq!(String::from_utf8(bytes).expect("utf-8"), s);
        }
    }
}
