//! An error as a person reads it: the message once, its causes only where they add
//! something, and a hint where the operating system refused and a setting is the way out.
//!
//! hfkit's errors already name the path and the action and carry the OS error as their
//! source; printing the whole chain as is would show "Permission denied (os error 13)"
//! twice. The hint for a folder hf cannot write names the variable that moves it.

use std::io::ErrorKind;

use hfkit::Config;

/// The text of `error` for [`crate::output::Printer::error`]: the first paragraph, each cause
/// not already in it, then the error's own hint paragraphs and an OS hint when one helps.
pub(crate) fn error_text(error: &anyhow::Error, config: Option<&Config>) -> String {
    let top = error.to_string();
    let (mut head, rest) = match top.split_once("\n\n") {
        Some((head, rest)) => (head.to_owned(), rest.to_owned()),
        None => (top.clone(), String::new()),
    };
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !top.contains(&cause) && !head.contains(&cause) {
            head.push_str(": ");
            head.push_str(&cause);
        }
    }
    let mut paragraphs = vec![head];
    if !rest.is_empty() {
        paragraphs.push(rest);
    }
    if let Some(hint) = config.and_then(|c| os_hint(error, &paragraphs[0], c)) {
        paragraphs.push(hint);
    }
    paragraphs.join("\n\n")
}

/// A hint for a folder hf cannot write: which variable moves it.
fn os_hint(error: &anyhow::Error, message: &str, config: &Config) -> Option<String> {
    let kind = error.chain().find_map(|e| e.downcast_ref::<std::io::Error>()).map(std::io::Error::kind)?;
    if !matches!(
        kind,
        ErrorKind::PermissionDenied | ErrorKind::ReadOnlyFilesystem | ErrorKind::NotADirectory | ErrorKind::StorageFull
    ) {
        return None;
    }
    let names = |path: &std::path::Path| message.contains(&path.display().to_string());
    let home = config.token_path.parent().filter(|p| !p.as_os_str().is_empty());
    if names(&config.hub_cache) {
        Some(format!(
            "hint: the cache folder {} cannot be used; set HF_HUB_CACHE (the cache only) or HF_HOME (the cache and the token) to a folder you can write, or pass --cache-dir",
            config.hub_cache.display()
        ))
    } else if home.is_some_and(names) || names(&config.stored_tokens_path) {
        Some(format!(
            "hint: the folder {} cannot be used; set HF_HOME to a folder you can write (HF_TOKEN_PATH and HF_STORED_TOKENS_PATH move only the token files)",
            home.map_or_else(|| config.token_path.display().to_string(), |h| h.display().to_string())
        ))
    } else {
        None
    }
}
