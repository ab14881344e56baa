//! Text from outside shown safely on a terminal.
//!
//! A server's error message, a file name in the cache or a token name in `stored_tokens` is
//! chosen by someone else. Printed raw, an escape sequence in it could clear or recolour the
//! user's terminal, a carriage return or newline could fake a line ("✓ verified"), and a
//! bidi override (U+202E) could make a name read backwards. Such characters are shown as
//! visible escapes instead: `\x1b`, `\r`, `\n`, `\u{202e}`. The library applies this where a
//! server's words enter an error; the CLI's printer applies it to everything it writes.

use std::borrow::Cow;

/// Whether a character must not reach a terminal raw: C0 controls, DEL, C1 controls, and
/// the invisible characters that reorder or hide text (bidi embeddings, overrides and
/// isolates, zero-width and line/paragraph separators).
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{200b}'..='\u{200f}'   // zero-width space/joiners, LRM, RLM
            | '\u{2028}'..='\u{202e}' // line/paragraph separators, bidi embeddings and overrides
            | '\u{2066}'..='\u{2069}' // bidi isolates
            | '\u{061c}'              // Arabic letter mark
            | '\u{feff}'              // zero-width no-break space
        )
}

/// How one unsafe character is shown.
fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if u32::from(c) < 0x100 => out.push_str(&format!("\\x{:02x}", u32::from(c))),
        c => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
    }
}

fn escape_where(text: &str, keep: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !text.chars().any(|c| is_unsafe(c) && !keep(c)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_unsafe(c) && !keep(c) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Outside text as one safe line: every control and bidi character escaped, newlines
/// included. Use it for a value (a name, a path, a server's message) placed in a message.
pub fn escape_line(text: &str) -> Cow<'_, str> {
    escape_where(text, |_| false)
}

/// A whole message made safe for a terminal, keeping its own line breaks and tabs: every
/// other control and bidi character escaped. The CLI's printer passes all output through
/// this, so no escape sequence reaches the terminal unless the printer adds it.
pub fn escape_text(text: &str) -> Cow<'_, str> {
    escape_where(text, |c| c == '\n' || c == '\t')
}

/// Outside text as a quoted value for an error message (`"../x\x1b"`): one safe line, with
/// its quotes escaped so the value's end is unambiguous.
pub fn quoted(text: &str) -> String {
    format!("\"{}\"", escape_line(text).replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_bidi_are_escaped() {
        assert_eq!(escape_line("plain ✓ text"), "plain ✓ text");
        assert!(matches!(escape_line("plain"), Cow::Borrowed(_)));
        assert_eq!(escape_line("a\x1b[2Jb\nc\rd"), "a\\x1b[2Jb\\nc\\rd");
        assert_eq!(escape_line("x\u{7f}\u{9b}y"), "x\\x7f\\x9by");
        assert_eq!(escape_line("evil\u{202e}txt.exe"), "evil\\u{202e}txt.exe");
        assert_eq!(escape_text("one\n\ttwo\x1b]0;title\x07"), "one\n\ttwo\\x1b]0;title\\x07");
        assert_eq!(escape_text("a\r\nb"), "a\\r\nb");
        assert_eq!(quoted("../x\x1b\"y"), "\"../x\\x1b\\\"y\"");
    }
}
