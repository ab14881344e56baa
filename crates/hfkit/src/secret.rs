//! [`Token`]: an access token that cannot leak by accident.
//!
//! A token prints as `hf_****wxyz` through `Debug` and `Display`, so it is safe in logs,
//! errors and panics. The raw value leaves the wrapper only through [`Token::expose`],
//! which is called where the `Authorization` header is built, where a token file is
//! written, and by `hf auth token`.

use std::fmt;

/// An access token. Its `Debug` and `Display` mask it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Token(String);

impl Token {
    /// Wraps a raw token value as it is (no cleaning).
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The raw value. Call it only to send or store the token, never to show it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The masked form shown to people: `hf_****wxyz`.
    pub fn masked(&self) -> String {
        mask(&self.0)
    }

    /// Whether the token is an organization API token (`api_org…`), which cannot log in.
    pub fn is_org_token(&self) -> bool {
        self.0.starts_with("api_org")
    }
}

/// Masks a secret like huggingface_hub's `hf auth list` (first 3 and last 4 characters),
/// except that a value too short to hide anything that way is masked whole.
pub fn mask(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    if chars.len() < 16 {
        return "****".to_owned();
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}****{tail}")
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Token({})", self.masked())
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_mask() {
        let t = Token::new("hf_AbCdEfGhIjKlMnOpQrStUvWxYz1234567890");
        assert_eq!(format!("{t}"), "hf_****7890");
        assert_eq!(format!("{t:?}"), "Token(hf_****7890)");
        assert!(!format!("{t:?}{t}").contains("AbCdEf"));
    }

    #[test]
    fn short_secrets_are_masked_whole() {
        assert_eq!(mask("hf_read_tok"), "****");
        assert_eq!(mask(""), "****");
    }

    #[test]
    fn org_tokens_are_recognised() {
        assert!(Token::new("api_org_abc").is_org_token());
        assert!(!Token::new("hf_abc").is_org_token());
    }
}
