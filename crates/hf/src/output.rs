//! The printer: every byte hf shows goes through here.
//!
//! Results and tables go to stdout; notes, warnings, errors and hints go to stderr, so a
//! pipe gets only data. Formats follow huggingface_hub's `hf`: `human` (a `✓` line and
//! `key: value` lines), `agent` (`key=value`), `json` (one document, `null` kept) and
//! `quiet` (the first value only). Colours are used only on a terminal and never with
//! `NO_COLOR`. A closed pipe ends the program quietly with status 0.

use std::io::{self, IsTerminal, Write};

/// A resolved output format (`auto` is decided before this point).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Human,
    Agent,
    Json,
    Quiet,
}

/// A value in a result: text, or JSON `null` (omitted outside JSON).
pub(crate) type Field<'a> = (&'a str, Option<String>);

#[derive(Debug, Clone)]
pub(crate) struct Printer {
    format: Format,
    color_out: bool,
    color_err: bool,
}

const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const RED_BOLD: &str = "\x1b[1;31m";
const GRAY: &str = "\x1b[90m";
const RESET: &str = "\x1b[0m";

impl Printer {
    pub(crate) fn new(format: Format, no_color: bool) -> Self {
        let human = format == Format::Human && !no_color;
        Self { format, color_out: human && io::stdout().is_terminal(), color_err: human && io::stderr().is_terminal() }
    }

    pub(crate) fn format(&self) -> Format {
        self.format
    }

    fn paint(color: bool, code: &str, text: &str) -> String {
        if color { format!("{code}{text}{RESET}") } else { text.to_owned() }
    }

    /// A line of data on stdout, in every format.
    pub(crate) fn data(&self, line: &str) {
        write_or_exit(&mut io::stdout().lock(), line);
    }

    /// A success summary (huggingface_hub's `out.result`).
    pub(crate) fn result(&self, message: &str, fields: &[Field<'_>]) {
        let text = match self.format {
            Format::Human => {
                let mut lines = vec![Self::paint(self.color_out, GREEN, &format!("✓ {message}"))];
                lines.extend(fields.iter().filter_map(|(k, v)| v.as_ref().map(|v| format!("  {k}: {v}"))));
                lines.join("\n")
            }
            Format::Agent => {
                let pairs: Vec<String> =
                    fields.iter().filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}"))).collect();
                if pairs.is_empty() { message.to_owned() } else { pairs.join(" ") }
            }
            Format::Json => json_object(fields),
            Format::Quiet => match fields.first() {
                Some((_, Some(v))) => v.clone(),
                Some((_, None)) => "None".to_owned(),
                None => return,
            },
        };
        self.data(&text);
    }

    /// A table (huggingface_hub's `tabulate`): padded columns under a dashed rule.
    pub(crate) fn table(&self, headers: &[&str], rows: &[Vec<String>]) {
        let widths: Vec<usize> = headers
            .iter()
            .enumerate()
            .map(|(i, h)| rows.iter().map(|r| r[i].chars().count()).chain([h.chars().count()]).max().unwrap_or(0))
            .collect();
        let line = |cells: Vec<&str>| -> String {
            let padded: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
            padded.join(" ")
        };
        let mut out = vec![line(headers.to_vec())];
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        out.push(line(rule.iter().map(String::as_str).collect()));
        for row in rows {
            out.push(line(row.iter().map(String::as_str).collect()));
        }
        self.data(&out.join("\n"));
    }

    /// A JSON value on stdout.
    pub(crate) fn json(&self, value: &serde_json::Value) {
        self.data(&value.to_string());
    }

    /// A note on stderr (huggingface_hub's INFO log lines); silent in quiet mode.
    pub(crate) fn info(&self, message: &str) {
        if self.format != Format::Quiet {
            write_or_exit(&mut io::stderr().lock(), message);
        }
    }

    /// A plain notice on stderr, in every format (huggingface_hub's WARNING log lines,
    /// which carry no prefix).
    pub(crate) fn notice(&self, message: &str) {
        write_or_exit(&mut io::stderr().lock(), message);
    }

    /// A warning on stderr, in every format.
    pub(crate) fn warning(&self, message: &str) {
        let text = format!("Warning: {message}");
        write_or_exit(&mut io::stderr().lock(), &Self::paint(self.color_err, YELLOW, &text));
    }

    /// A hint on stderr; silent in quiet mode.
    pub(crate) fn hint(&self, message: &str) {
        if self.format != Format::Quiet {
            let text = format!("Hint: {message}");
            write_or_exit(&mut io::stderr().lock(), &Self::paint(self.color_err, GRAY, &text));
        }
    }

    /// An error on stderr: the first paragraph after `Error: `, then any `hint:` lines.
    pub(crate) fn error(&self, message: &str) {
        let (head, rest) = message.split_once("\n\n").unwrap_or((message, ""));
        let mut text = Self::paint(self.color_err, RED_BOLD, &format!("Error: {head}"));
        if !rest.is_empty() {
            text.push_str("\n\n");
            text.push_str(rest);
        }
        write_or_exit(&mut io::stderr().lock(), &text);
    }
}

/// `json.dumps(dict)` of huggingface_hub: `{"k": "v", "n": null}`.
fn json_object(fields: &[Field<'_>]) -> String {
    let parts: Vec<String> = fields
        .iter()
        .map(|(k, v)| {
            let value =
                v.as_ref().map_or_else(|| "null".to_owned(), |v| serde_json::Value::from(v.as_str()).to_string());
            format!("{}: {value}", serde_json::Value::from(*k))
        })
        .collect();
    format!("{{{}}}", parts.join(", "))
}

/// Writes a line; a closed pipe ends the program with status 0, as a pipe reader expects.
fn write_or_exit(out: &mut impl Write, line: &str) {
    let result = writeln!(out, "{line}").and_then(|()| out.flush());
    if let Err(e) = result
        && e.kind() == io::ErrorKind::BrokenPipe
    {
        std::process::exit(0);
    }
}

#[cfg(test)]
mod tests {
    use super::json_object;

    #[test]
    fn json_matches_python_dumps() {
        let fields = [("user", Some("alice".to_owned())), ("orgs", None)];
        assert_eq!(json_object(&fields), r#"{"user": "alice", "orgs": null}"#);
    }
}
