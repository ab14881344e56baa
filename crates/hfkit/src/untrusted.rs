//! Printing what outsiders wrote: a server's message, a file name from a tree listing or a
//! cache, a value a server sent. Such text may carry escape sequences that clear, recolour or
//! fake lines on the user's terminal; these helpers make it inert. The CLI's printer uses the
//! same predicate, so there is one definition of what is unsafe.

/// `text` with control characters (C0, DEL, C1) and bidirectional overrides escaped, quoted:
/// safe to print on a terminal, whatever a server or a file name put in it.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if is_unsafe_char(c) => out.extend(c.escape_default()),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `text` with control characters and bidirectional overrides escaped, not quoted: for
/// messages shown as prose (the Hub's `X-Error-Message`). Line breaks are escaped too, so a
/// server cannot fake a line of ours.
pub fn sanitize(text: &str) -> String {
    if !text.chars().any(is_unsafe_char) {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_unsafe_char(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Characters that can move the cursor, recolour, or reorder what a terminal shows.
pub fn is_unsafe_char(c: char) -> bool {
    c.is_control() || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_defuses_terminals() {
        assert_eq!(escape("a\nb\x1b[31m\u{202e}"), "\"a\\nb\\u{1b}[31m\\u{202e}\"");
        assert_eq!(escape("plain/path.txt"), "\"plain/path.txt\"");
        assert_eq!(sanitize("ok\x1b]0;pwned\x07"), "ok\\u{1b}]0;pwned\\u{7}");
    }
}
