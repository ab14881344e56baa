//! What a Hugging Face token looks like, and finding one in bytes.
//!
//! A user access token is `hf_` followed by 34 random letters; an organization API token
//! (the legacy kind huggingface_hub refuses at login, `api_org…`) is `api_org_` followed by
//! 34. We also accept digits in the 34, as the Hub's alphabet may widen and a false
//! negative costs more than a rare false positive. A match must stand alone: no letter,
//! digit or `_` right before the prefix (except a `\n`-style escape, as in JSON) or right
//! after the 34 characters.
//!
//! Placeholders such as `hf_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx` or `hf_YOURTOKENHEREYOURTOKENHERE…` have
//! the right shape but not a random body: a body without both upper- and lower-case letters,
//! or with fewer than [`MIN_DISTINCT`] distinct characters, is not reported. A random body of
//! 34 letters has about 25 distinct characters and both cases with overwhelming odds.

use memchr::memmem;

/// The characters after the prefix.
pub const BODY_LEN: usize = 34;

/// The fewest distinct characters a real token's body has (see the module notes).
pub const MIN_DISTINCT: usize = 10;

/// The token kinds, by prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenKind {
    /// A user access token, `hf_…`.
    User,
    /// An organization API token, `api_org_…`.
    Org,
}

impl TokenKind {
    /// The prefix that starts this kind.
    pub fn prefix(self) -> &'static str {
        match self {
            Self::User => "hf_",
            Self::Org => "api_org_",
        }
    }

    /// A stable machine name: `hf-user-access-token`, `hf-org-api-token`.
    pub fn rule_id(self) -> &'static str {
        match self {
            Self::User => "hf-user-access-token",
            Self::Org => "hf-org-api-token",
        }
    }

    /// A name in CamelCase, for SARIF rules.
    pub fn rule_name(self) -> &'static str {
        match self {
            Self::User => "HuggingFaceAccessToken",
            Self::Org => "HuggingFaceOrgApiToken",
        }
    }

    /// What a person calls it.
    pub fn describe(self) -> &'static str {
        match self {
            Self::User => "Hugging Face access token",
            Self::Org => "Hugging Face organization API token",
        }
    }
}

/// One token found in a buffer: where it starts and ends (bytes) and its kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Match {
    /// Offset of the first byte of the prefix.
    pub start: usize,
    /// Offset just past the last byte.
    pub end: usize,
    /// Which kind of token.
    pub kind: TokenKind,
}

/// Finds tokens in bytes; build once, use from every thread.
#[derive(Debug, Clone)]
pub struct Matcher {
    user: memmem::Finder<'static>,
    org: memmem::Finder<'static>,
}

impl Default for Matcher {
    fn default() -> Self {
        Self::new()
    }
}

impl Matcher {
    /// The matcher for both token kinds.
    pub fn new() -> Self {
        Self { user: memmem::Finder::new(b"hf_"), org: memmem::Finder::new(b"api_org_") }
    }

    /// Every token in `haystack`, in order of position.
    pub fn find_all(&self, haystack: &[u8]) -> Vec<Match> {
        let mut found: Vec<Match> = Vec::new();
        for (finder, kind) in [(&self.user, TokenKind::User), (&self.org, TokenKind::Org)] {
            for start in finder.find_iter(haystack) {
                if let Some(m) = token_at(haystack, start, kind) {
                    found.push(m);
                }
            }
        }
        if found.len() > 1 {
            found.sort_by_key(|m| m.start);
        }
        found
    }
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The token starting at `start` (where `kind`'s prefix was found), if it is one.
fn token_at(haystack: &[u8], start: usize, kind: TokenKind) -> Option<Match> {
    let body_start = start + kind.prefix().len();
    let end = body_start + BODY_LEN;
    let body = haystack.get(body_start..end)?;
    if !body.iter().all(u8::is_ascii_alphanumeric) {
        return None;
    }
    if haystack.get(end).is_some_and(|b| is_word(*b)) {
        return None;
    }
    if start > 0 && is_word(haystack[start - 1]) {
        // `\nhf_…` inside a JSON or C string: the letter belongs to an escape.
        let escaped = start >= 2 && haystack[start - 2] == b'\\' && matches!(haystack[start - 1], b'n' | b'r' | b't');
        if !escaped {
            return None;
        }
    }
    random_enough(body).then_some(Match { start, end, kind })
}

/// Whether a body looks random rather than typed (see the module notes).
fn random_enough(body: &[u8]) -> bool {
    let upper = body.iter().any(u8::is_ascii_uppercase);
    let lower = body.iter().any(u8::is_ascii_lowercase);
    let mut seen = [false; 128];
    let mut distinct = 0;
    for &b in body {
        if !seen[usize::from(b)] {
            seen[usize::from(b)] = true;
            distinct += 1;
        }
    }
    upper && lower && distinct >= MIN_DISTINCT
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "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";

    fn tokens(text: &str) -> Vec<&str> {
        Matcher::new().find_all(text.as_bytes()).iter().map(|m| &text[m.start..m.end]).collect()
    }

    #[test]
    fn finds_tokens_standing_alone() {
        assert_eq!(TOKEN.len(), 37);
        assert_eq!(tokens(TOKEN), [TOKEN]);
        assert_eq!(tokens(&format!("HF_TOKEN={TOKEN}\n")), [TOKEN]);
        assert_eq!(tokens(&format!("x = \"{TOKEN}\"")), [TOKEN]);
        assert_eq!(tokens(&format!("\"text\": \"a\\n{TOKEN}\\n\"")), [TOKEN]);
        let org = "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";
        assert_eq!(tokens(&format!("{org} and {TOKEN}")), [org, TOKEN]);
    }

    #[test]
    fn look_alikes_are_not_tokens() {
        for text in [
            "hf_hub_download(repo_id)",
            "hf_QmVxTrLpZaWcNbYdKeJfHgUiOsRtAqPlM",   // 33
            "hf_QmVxTrLpZaWcNbYdKeJfHgUiOsRtAqPlMnX", // 35
            "myhf_QmVxTrLpZaWcNbYdKeJfHgUiOsRtAqPlMn",
            "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_x",
            "hf_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            "hf_XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
            "hf_YourTokenHereYourTokenHereYourTok",
            "hf_QmVxTrLpZaWcNbYdKe-fHgUiOsRtAqPlMn",
            "hf_",
            "",
        ] {
            assert_eq!(tokens(text), Vec::<&str>::new(), "{text}");
        }
    }
}
