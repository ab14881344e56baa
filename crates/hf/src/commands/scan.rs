//! `hf auth scan`: report Hugging Face tokens left in files and in git history.
//!
//! The scan itself is [`hfkit::leaks`]; this module turns its report into lines for people,
//! one JSON document, or SARIF 2.1.0 for code-scanning systems, and with `--check` asks the
//! Hub (`/api/whoami-v2`, through the library's client, so each token goes only to the
//! endpoint) which tokens still work and whose they are. Tokens are always shown masked.
//! Exit status: 0 nothing found, 1 tokens found, 2 the scan could not run.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::Result;
use hfkit::leaks::{self, Finding, ScanOptions, ScanReport, Source, TokenKind};
use hfkit::{Error, ResolvedToken, Token, TokenSource};
use serde_json::{Value, json};

use super::auth::Status;
use crate::cli::ScanArgs;
use crate::output::{Format, shown, shown_path};
use crate::settings::{self, Context, UsageError};

/// What the Hub said about one token.
#[derive(Debug, Clone)]
enum Liveness {
    /// It works: its owner, the token's name and role.
    Live { owner: String, name: Option<String>, role: Option<String> },
    /// 401: revoked, expired or never valid.
    Dead,
    /// The Hub could not be asked (the reason).
    Unknown(String),
}

pub(crate) fn scan(ctx: &Context, args: &ScanArgs) -> Result<Status> {
    let paths = if args.paths.is_empty() { vec![PathBuf::from(".")] } else { args.paths.clone() };
    let options = ScanOptions { paths, no_ignore: args.no_ignore, history: !args.no_history, threads: args.threads };
    let report = match leaks::scan(&options) {
        Ok(report) => report,
        Err(e) => return Err(UsageError(e.to_string()).into()),
    };
    let checks = if args.check { check(ctx, &report.findings)? } else { HashMap::new() };
    if args.sarif {
        ctx.printer.json(&sarif(&report, &checks));
    } else {
        match ctx.printer.format() {
            Format::Json => ctx.printer.json(&json_report(&report, &checks)),
            Format::Quiet => {
                for f in &report.findings {
                    ctx.printer.data(&location(f));
                }
            }
            Format::Human | Format::Agent => print_text(ctx, &report, &checks),
        }
    }
    for problem in &report.problems {
        ctx.printer.warning(&shown(problem));
    }
    Ok(if report.findings.is_empty() { 0 } else { 1 })
}

/// Asks the Hub about each distinct token once.
fn check(ctx: &Context, findings: &[Finding]) -> Result<HashMap<String, Liveness>> {
    let mut checks = HashMap::new();
    if findings.is_empty() {
        return Ok(checks);
    }
    let hub = ctx.hub(None);
    let rt = settings::runtime()?;
    for f in findings {
        let fingerprint = f.fingerprint();
        if checks.contains_key(&fingerprint) {
            continue;
        }
        let asked = ResolvedToken { token: f.token.clone(), source: TokenSource::Explicit };
        let liveness = match rt.block_on(hub.whoami_with(&asked)) {
            Ok(who) => Liveness::Live {
                owner: who.name.clone(),
                name: who.token_display_name().map(str::to_owned),
                role: who.token_role().map(str::to_owned),
            },
            Err(Error::Api(e)) if e.status().is_some_and(|s| s.as_u16() == 401) => Liveness::Dead,
            Err(e) => Liveness::Unknown(e.to_string().split("\n\n").next().unwrap_or_default().to_owned()),
        };
        checks.insert(fingerprint, liveness);
    }
    Ok(checks)
}

/// `path:line:column`, or `commit <hash> path:line:column` for history.
fn location(f: &Finding) -> String {
    let place = format!("{}:{}:{}", shown_path(&f.path), f.line, f.column);
    match &f.source {
        Source::History { commit } => format!("commit {} {place}", &commit[..commit.len().min(12)]),
        _ => place,
    }
}

/// Where, in words: `.env file`, `notebook cell 3 output`, ….
fn where_found(f: &Finding) -> String {
    match &f.source {
        Source::File => "file".to_owned(),
        Source::EnvFile => ".env file".to_owned(),
        Source::Notebook { cell: Some(cell), output } => {
            format!("notebook cell {}{}", cell + 1, if *output { " output" } else { " source" })
        }
        Source::Notebook { cell: None, .. } => "notebook".to_owned(),
        Source::History { .. } => "git history".to_owned(),
    }
}

fn liveness_text(l: &Liveness) -> String {
    match l {
        Liveness::Live { owner, name, role } => {
            let mut text = format!("LIVE, belongs to {}", shown(owner));
            if let Some(name) = name {
                text.push_str(&format!(", token \"{}\"", shown(name)));
            }
            if let Some(role) = role {
                text.push_str(&format!(", role {}", shown(role)));
            }
            text
        }
        Liveness::Dead => "revoked or invalid".to_owned(),
        Liveness::Unknown(why) => format!("not checked: {}", shown(why)),
    }
}

fn print_text(ctx: &Context, report: &ScanReport, checks: &HashMap<String, Liveness>) {
    let p = &ctx.printer;
    let lines: Vec<String> = report
        .findings
        .iter()
        .map(|f| {
            let mut line = format!("{}: {} ({}, {})", location(f), f.token.masked(), kind_name(f.kind), where_found(f));
            if let Some(l) = checks.get(&f.fingerprint()) {
                line.push_str(&format!(" — {}", liveness_text(l)));
            }
            line
        })
        .collect();
    if !lines.is_empty() {
        p.data(&lines.join("\n"));
    }
    let scanned = format!(
        "{} file{}, {} commit{} read; {} binary file{} skipped",
        report.files_scanned,
        plural(report.files_scanned),
        report.commits_scanned,
        plural(report.commits_scanned),
        report.binary_skipped,
        plural(report.binary_skipped)
    );
    if report.findings.is_empty() {
        p.info(&format!("No Hugging Face token found ({scanned})."));
        return;
    }
    let distinct = distinct_tokens(&report.findings);
    p.notice(&format!(
        "\nFound {} Hugging Face token{} in {} place{} ({scanned}).",
        distinct,
        plural(distinct as u64),
        report.findings.len(),
        plural(report.findings.len() as u64)
    ));
    // After --check, the lines above already say which are live.
    let check_tip = if checks.is_empty() { "; `hf auth scan --check` tells which are still live" } else { "" };
    p.hint(&format!(
        "a token in a file or a commit is public to everyone who can read it, in every clone. Revoke it at {}/settings/tokens, then remove it (from history too: git filter-repo){check_tip}.",
        shown(&ctx.config.endpoint)
    ));
}

fn kind_name(kind: TokenKind) -> &'static str {
    match kind {
        TokenKind::User => "access token",
        TokenKind::Org => "organization API token",
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn distinct_tokens(findings: &[Finding]) -> usize {
    let mut seen: Vec<&Token> = findings.iter().map(|f| &f.token).collect();
    seen.sort_by(|a, b| a.expose().cmp(b.expose()));
    seen.dedup();
    seen.len()
}

fn liveness_json(l: Option<&Liveness>) -> Value {
    match l {
        None => Value::Null,
        Some(Liveness::Live { owner, name, role }) => {
            json!({"live": true, "owner": owner, "token_name": name, "role": role})
        }
        Some(Liveness::Dead) => json!({"live": false}),
        Some(Liveness::Unknown(why)) => json!({"live": null, "error": why}),
    }
}

fn json_report(report: &ScanReport, checks: &HashMap<String, Liveness>) -> Value {
    let findings: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            let (cell, in_output) = match &f.source {
                Source::Notebook { cell, output } => (cell.map(|c| c + 1), Some(*output)),
                _ => (None, None),
            };
            let commit = match &f.source {
                Source::History { commit } => Some(commit.clone()),
                _ => None,
            };
            let fingerprint = f.fingerprint();
            json!({
                "path": f.path.display().to_string(),
                "line": f.line,
                "column": f.column,
                "source": f.source.key(),
                "commit": commit,
                "cell": cell,
                "in_output": in_output,
                "kind": f.kind.rule_id(),
                "token": f.token.masked(),
                "fingerprint": fingerprint,
                "check": liveness_json(checks.get(&fingerprint)),
            })
        })
        .collect();
    json!({
        "findings": findings,
        "tokens": distinct_tokens(&report.findings),
        "files_scanned": report.files_scanned,
        "binary_skipped": report.binary_skipped,
        "commits_scanned": report.commits_scanned,
        "problems": report.problems,
    })
}

/// A path as a SARIF artifact URI: relative paths stay relative (resolved against the
/// checkout by CI), absolute ones become `file://` URIs; unsafe bytes are percent-encoded.
fn artifact_uri(path: &Path) -> String {
    let text = path.display().to_string();
    let text = text.strip_prefix("./").unwrap_or(&text);
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if path.is_absolute() { format!("file://{out}") } else { out }
}

fn sarif(report: &ScanReport, checks: &HashMap<String, Liveness>) -> Value {
    let kinds = [TokenKind::User, TokenKind::Org];
    let rules: Vec<Value> = kinds
        .iter()
        .map(|k| {
            json!({
                "id": k.rule_id(),
                "name": k.rule_name(),
                "shortDescription": {"text": format!("{} committed", k.describe())},
                "fullDescription": {"text": format!("A {} is in the repository; anyone who can read it can act as its owner.", k.describe())},
                "help": {"text": "Revoke the token in the Hub's token settings, then remove it from the files and the git history. Use `hf auth login` or HF_TOKEN from a secret store instead of writing tokens into files."},
                "defaultConfiguration": {"level": "error"},
            })
        })
        .collect();
    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            let fingerprint = f.fingerprint();
            let mut message = format!("{} {} in {}", f.kind.describe(), f.token.masked(), where_found(f));
            if let Source::History { commit } = &f.source {
                message.push_str(&format!(" (commit {commit})"));
            }
            let check = checks.get(&fingerprint);
            if let Some(l) = check {
                message.push_str(&format!(": {}", liveness_text(l)));
            }
            let end_column = f.column + (f.kind.prefix().len() + leaks::pattern::BODY_LEN) as u64;
            let mut result = json!({
                "ruleId": f.kind.rule_id(),
                "ruleIndex": kinds.iter().position(|k| *k == f.kind).unwrap_or(0),
                "level": "error",
                "message": {"text": message},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": artifact_uri(&f.path)},
                        "region": {"startLine": f.line, "startColumn": f.column, "endColumn": end_column},
                    }
                }],
                "partialFingerprints": {"hfTokenSha256/v1": fingerprint},
                "properties": {"source": f.source.key(), "token": f.token.masked(), "check": liveness_json(check)},
            });
            if let Source::History { commit } = &f.source {
                result["properties"]["commit"] = json!(commit);
            }
            result
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "hf auth scan",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://github.com/hfkit/hfkit/blob/main/docs/token-scanning.md",
                "rules": rules,
            }},
            "results": results,
        }],
    })
}
