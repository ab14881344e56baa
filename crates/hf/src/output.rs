//! The printer: every byte hf shows goes through here.
//!
//! Results and tables go to stdout; notes, warnings, errors and hints go to stderr, so a
//! pipe gets only data. Formats follow huggingface_hub's `hf`: `human` (a `✓` line and
//! `key: value` lines), `agent` (`key=value`), `json` (one document, `null` kept) and
//! `quiet` (the first value only). Colours are used only on a terminal and never with
//! `NO_COLOR`. A closed pipe ends the program quietly with status 0.
//!
//! Nothing reaches the terminal raw: every line is passed through
//! [`hfkit::text::escape_text`] before the printer adds its own colours, so a server's
//! message or a file name cannot clear, recolour or rewrite the user's terminal. Values from
//! outside that are placed inside a message go through [`shown`] (or [`shown_path`]) so that
//! their newlines cannot fake a line either.

use std::borrow::Cow;
use std::io::{self, IsTerminal, Write};
use std::path::Path;

use hfkit::text::{escape_line, escape_text};

/// A value from outside (a name, a server's message) as one safe line, to place in a message.
pub(crate) fn shown(text: &str) -> Cow<'_, str> {
    escape_line(text)
}

/// A path from outside (the cache, a server's listing) as one safe line.
pub(crate) fn shown_path(path: &Path) -> String {
    escape_line(&path.display().to_string()).into_owned()
}

/// A resolved output format (`auto` is decided before this point).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Human,
    Agent,
    Json,
    Quiet,
}

/// A value in a result: shown as Python shows it; `null` is left out outside JSON.
pub(crate) type Field<'a> = (&'a str, serde_json::Value);

/// A result value from optional text (`None` becomes `null`).
pub(crate) fn opt(value: Option<String>) -> serde_json::Value {
    value.map_or(serde_json::Value::Null, serde_json::Value::String)
}

#[derive(Debug, Clone)]
pub(crate) struct Printer {
    format: Format,
    color_out: bool,
    color_err: bool,
    /// Terminal width for tables (`None`: never shorten cells).
    width: Option<usize>,
}

/// A table cell: text, or a list (joined with `, ` for people, a Python list for agents).
#[derive(Debug, Clone)]
pub(crate) enum Cell {
    Text(String),
    List(Vec<String>),
}

/// A table as huggingface_hub's `out.table` prints it.
#[derive(Debug)]
pub(crate) struct Table<'a> {
    /// Column keys (lower case; shown in SCREAMING_SNAKE for people).
    pub(crate) headers: &'a [&'a str],
    pub(crate) rows: Vec<Vec<Cell>>,
    /// Columns aligned right.
    pub(crate) right: &'a [&'a str],
    /// The column printed in quiet mode.
    pub(crate) id: &'a str,
    /// The JSON items (every key, not only the displayed ones).
    pub(crate) json: Vec<serde_json::Value>,
}

const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const RED_BOLD: &str = "\x1b[1;31m";
const GRAY: &str = "\x1b[90m";
const RESET: &str = "\x1b[0m";

impl Printer {
    pub(crate) fn new(format: Format, no_color: bool) -> Self {
        let human = format == Format::Human && !no_color;
        Self {
            format,
            color_out: human && io::stdout().is_terminal(),
            color_err: human && io::stderr().is_terminal(),
            width: Some(80),
        }
    }

    /// Sets the width tables are shortened to (`None` with `--no-truncate`).
    pub(crate) fn with_width(mut self, width: Option<usize>) -> Self {
        self.width = width;
        self
    }

    /// A table in the current format: padded columns shortened to the terminal (human),
    /// tab-separated raw values (agent), a JSON array (json), the id column (quiet).
    pub(crate) fn out_table(&self, table: Table<'_>) {
        if table.rows.is_empty() {
            match self.format {
                Format::Human | Format::Agent => self.data("No results found."),
                Format::Json => self.data("[]"),
                Format::Quiet => {}
            }
            return;
        }
        let column = |key: &str| table.headers.iter().position(|h| *h == key);
        match self.format {
            Format::Json => self.data(&py_json(&serde_json::Value::Array(table.json))),
            Format::Quiet => {
                let id = column(table.id).unwrap_or(0);
                for row in &table.rows {
                    self.data(&human_cell(&row[id]));
                }
            }
            Format::Agent => {
                let mut lines = vec![table.headers.join("\t")];
                lines.extend(table.rows.iter().map(|row| row.iter().map(agent_cell).collect::<Vec<_>>().join("\t")));
                self.data(&lines.join("\n"));
            }
            Format::Human => {
                let headers: Vec<String> = table.headers.iter().map(|h| h.to_uppercase()).collect();
                let mut rows: Vec<Vec<String>> =
                    table.rows.iter().map(|r| r.iter().map(human_cell).collect()).collect();
                let truncated = self.width.is_some_and(|w| truncate_columns(&headers, &mut rows, w));
                let right: Vec<bool> = table.headers.iter().map(|h| table.right.contains(h)).collect();
                self.data(&tabulate(&headers, &rows, &right));
                if truncated {
                    self.hint("Use `--no-truncate` or `--format json` to display full values.");
                }
            }
        }
    }

    /// A line of text in human and agent modes only (huggingface_hub's `out.text`).
    pub(crate) fn text(&self, line: &str) {
        if matches!(self.format, Format::Human | Format::Agent) {
            self.data(line);
        }
    }

    pub(crate) fn format(&self) -> Format {
        self.format
    }

    /// `text` made safe, then coloured when `color` is set.
    fn paint(color: bool, code: &str, text: &str) -> String {
        let text = escape_text(text);
        if color { format!("{code}{text}{RESET}") } else { text.into_owned() }
    }

    /// A line of data on stdout, in every format.
    pub(crate) fn data(&self, line: &str) {
        write_or_exit(&mut io::stdout().lock(), &escape_text(line));
    }

    /// A success summary (huggingface_hub's `out.result`): `✓ message` and `key: value` lines
    /// (human), `key=value` (agent), a JSON object (json), the first value (quiet). Null
    /// values are left out except in JSON; booleans print as Python's `True`/`False`.
    pub(crate) fn result(&self, message: &str, fields: &[Field<'_>]) {
        self.outcome(true, message, fields);
    }

    /// A summary like [`Self::result`] that may be a refusal: `✗ message` in red (human) when
    /// not `ok`; the other formats are the same as for a success.
    pub(crate) fn outcome(&self, ok: bool, message: &str, fields: &[Field<'_>]) {
        let shown = |v: &serde_json::Value| match v {
            serde_json::Value::Null => None,
            serde_json::Value::Bool(b) => Some(if *b { "True" } else { "False" }.to_owned()),
            // A value is one line: a server's name cannot add lines to the result.
            serde_json::Value::String(s) => Some(escape_line(s).into_owned()),
            other => Some(other.to_string()),
        };
        let text = match self.format {
            Format::Human => {
                let mark = if ok {
                    Self::paint(self.color_out, GREEN, &format!("✓ {message}"))
                } else {
                    Self::paint(self.color_out, RED_BOLD, &format!("✗ {message}"))
                };
                let mut lines = vec![mark];
                lines.extend(
                    fields
                        .iter()
                        .filter_map(|(k, v)| shown(v).map(|v| escape_text(&format!("  {k}: {v}")).into_owned())),
                );
                write_or_exit(&mut io::stdout().lock(), &lines.join("\n"));
                return;
            }
            Format::Agent => {
                let pairs: Vec<String> =
                    fields.iter().filter_map(|(k, v)| shown(v).map(|v| format!("{k}={v}"))).collect();
                if pairs.is_empty() { message.to_owned() } else { pairs.join(" ") }
            }
            Format::Json => {
                let map: serde_json::Map<String, serde_json::Value> =
                    fields.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect();
                py_json(&serde_json::Value::Object(map))
            }
            Format::Quiet => match fields.first() {
                Some((_, v)) => shown(v).unwrap_or_else(|| "None".to_owned()),
                None => return,
            },
        };
        self.data(&text);
    }

    /// Asks a yes/no question on the terminal (default no), as click's `confirm` does.
    pub(crate) fn confirm(&self, question: &str) -> bool {
        matches!(self.ask(&format!("{question} [y/N]: ")).to_lowercase().as_str(), "y" | "yes")
    }

    /// Prints `prompt` on stdout without a newline and reads one line (trimmed) from stdin.
    pub(crate) fn ask(&self, prompt: &str) -> String {
        let mut out = io::stdout().lock();
        let _ = write!(out, "{}", escape_text(prompt));
        let _ = out.flush();
        drop(out);
        let mut answer = String::new();
        let _ = io::stdin().read_line(&mut answer);
        answer.trim().to_owned()
    }

    /// A table (huggingface_hub's `tabulate`): padded columns under a dashed rule.
    pub(crate) fn table(&self, headers: &[&str], rows: &[Vec<String>]) {
        let headers: Vec<String> = headers.iter().map(|h| (*h).to_owned()).collect();
        let rows: Vec<Vec<String>> = rows.iter().map(|r| r.iter().map(|c| single_line(c)).collect()).collect();
        self.data(&tabulate(&headers, &rows, &vec![false; headers.len()]));
    }

    /// A JSON value on stdout, spaced like Python's `json.dumps`.
    pub(crate) fn json(&self, value: &serde_json::Value) {
        self.data(&py_json(value));
    }

    /// A note on stderr (huggingface_hub's INFO log lines); silent in quiet mode.
    pub(crate) fn info(&self, message: &str) {
        if self.format != Format::Quiet {
            write_or_exit(&mut io::stderr().lock(), &escape_text(message));
        }
    }

    /// A plain notice on stderr, in every format (huggingface_hub's WARNING log lines,
    /// which carry no prefix).
    pub(crate) fn notice(&self, message: &str) {
        write_or_exit(&mut io::stderr().lock(), &escape_text(message));
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
            text.push_str(&escape_text(rest));
        }
        write_or_exit(&mut io::stderr().lock(), &text);
    }
}

fn human_cell(cell: &Cell) -> String {
    match cell {
        Cell::Text(t) => single_line(t),
        Cell::List(items) => items.iter().map(|i| single_line(i)).collect::<Vec<_>>().join(", "),
    }
}

fn agent_cell(cell: &Cell) -> String {
    match cell {
        Cell::Text(t) => single_line(t),
        Cell::List(items) => {
            let quoted: Vec<String> = items
                .iter()
                .map(|i| format!("'{}'", single_line(i).replace('\\', "\\\\").replace('\'', "\\'")))
                .collect();
            format!("[{}]", quoted.join(", "))
        }
    }
}

/// Escapes control and bidi characters (line breaks included), so cells cannot break the
/// layout or the terminal.
fn single_line(text: &str) -> String {
    escape_line(text).into_owned()
}

/// huggingface_hub's `tabulate`: header row, dashes, space-separated padded columns.
pub(crate) fn tabulate(headers: &[String], rows: &[Vec<String>], right: &[bool]) -> String {
    let widths: Vec<usize> = (0..headers.len())
        .map(|i| rows.iter().map(|r| r[i].chars().count()).chain([headers[i].chars().count()]).max().unwrap_or(0))
        .collect();
    let line = |cells: Vec<&str>| -> String {
        let padded: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| if right[i] { format!("{c:>w$}", w = widths[i]) } else { format!("{c:<w$}", w = widths[i]) })
            .collect();
        padded.join(" ")
    };
    let mut out = vec![line(headers.iter().map(String::as_str).collect())];
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    out.push(line(rule.iter().map(String::as_str).collect()));
    out.extend(rows.iter().map(|r| line(r.iter().map(String::as_str).collect())));
    out.join("\n")
}

/// huggingface_hub's `_truncate_columns`: shrink the widest column one character at a time
/// (never below its header or 4) until the table fits, then cut cells with `...`.
fn truncate_columns(headers: &[String], rows: &mut [Vec<String>], width: usize) -> bool {
    let n = headers.len();
    let natural: Vec<usize> = (0..n)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).chain([headers[c].chars().count()]).max().unwrap_or(0))
        .collect();
    let budget = width.saturating_sub(n.saturating_sub(1));
    if natural.iter().sum::<usize>() <= budget {
        return false;
    }
    let mut caps = natural.clone();
    let floors: Vec<usize> = headers.iter().map(|h| h.chars().count().max(4)).collect();
    while caps.iter().sum::<usize>() > budget {
        let widest = (0..n).filter(|&i| caps[i] > floors[i]).max_by_key(|&i| (caps[i], std::cmp::Reverse(i)));
        let Some(i) = widest else { break };
        caps[i] -= 1;
    }
    let mut truncated = false;
    for row in rows.iter_mut() {
        for (c, cell) in row.iter_mut().enumerate() {
            if cell.chars().count() > caps[c] {
                truncated = true;
                *cell = format!("{}...", cell.chars().take(caps[c].saturating_sub(3)).collect::<String>());
            }
        }
    }
    truncated
}

/// `json.dumps(value)` (see [`hfkit::pyjson`]).
pub(crate) fn py_json(value: &serde_json::Value) -> String {
    hfkit::pyjson::dumps(value)
}

/// Writes a line that is already safe (the only raw write); a closed pipe ends the program with status 0, as a pipe reader expects.
fn write_or_exit(out: &mut impl Write, line: &str) {
    let result = writeln!(out, "{line}").and_then(|()| out.flush());
    if let Err(e) = result
        && e.kind() == io::ErrorKind::BrokenPipe
    {
        std::process::exit(0);
    }
}
