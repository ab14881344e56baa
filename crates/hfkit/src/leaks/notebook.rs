//! Naming the notebook cell a token sits in.
//!
//! A notebook is JSON; the token is found in its text like in any file, so a notebook that
//! does not parse still reports its tokens (with a line, without a cell). When it parses,
//! each finding gets the index of the first cell whose outputs (the usual leak: a printed
//! `HF_TOKEN` or a login widget's echo) or source hold it.

use serde_json::Value;

use super::{Finding, Source};

/// Most cells a notebook is read for.
const MAX_CELLS: usize = 100_000;

/// Fills in the cell of each finding of one notebook.
pub(super) fn name_cells(text: &[u8], findings: &mut [Finding]) {
    let Ok(notebook) = serde_json::from_slice::<Value>(text) else { return };
    let Some(cells) = notebook.get("cells").and_then(Value::as_array) else { return };
    let rendered: Vec<(String, String)> = cells
        .iter()
        .take(MAX_CELLS)
        .map(|cell| {
            let source = cell.get("source").map(flatten).unwrap_or_default();
            let outputs = cell.get("outputs").map(Value::to_string).unwrap_or_default();
            (source, outputs)
        })
        .collect();
    for finding in findings {
        let value = finding.token.expose();
        let place = rendered.iter().enumerate().find_map(|(i, (source, outputs))| {
            if outputs.contains(value) {
                Some((i, true))
            } else if source.contains(value) {
                Some((i, false))
            } else {
                None
            }
        });
        if let Some((cell, output)) = place {
            finding.source = Source::Notebook { cell: Some(cell), output };
        }
    }
}

/// A cell source: a string, or a list of strings.
fn flatten(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
        other => other.to_string(),
    }
}
