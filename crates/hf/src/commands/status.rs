//! `hf auth status`: which token is used and why, when a browser login's token expires and
//! whether it renews itself — without the network unless `--check`.

use anyhow::Result;
use hfkit::auth::oauth::OAuthStatus;
use hfkit::auth::status::{self, ChainReport, SourceState};
use hfkit::{ResolvedToken, Token};
use serde_json::json;

use super::auth::Status;
use crate::cli::StatusArgs;
use crate::output::{Format, shown, shown_path};
use crate::settings::{self, Context};

pub(crate) fn status(ctx: &Context, args: &StatusArgs) -> Result<Status> {
    let explicit = ctx.explicit_token(args.token.as_deref(), true)?;
    let cwd = std::env::current_dir()?;
    let report = status::inspect(&ctx.config, explicit.as_ref(), &cwd);
    let check = if args.check { Some(check_winner(ctx, explicit)) } else { None };
    match ctx.printer.format() {
        Format::Json => print_json(ctx, &report, check.as_ref()),
        Format::Quiet => {
            if let Some(w) = report.winning() {
                ctx.printer.data(w.name);
            }
        }
        Format::Human | Format::Agent => print_text(ctx, &report, check.as_ref()),
    }
    let ok = report.winner.is_some() && check.as_ref().is_none_or(Result::is_ok);
    Ok(if ok { 0 } else { 1 })
}

/// The Hub's answer for the winning token: (user, orgs, token name, role), or why not.
type Check = Result<(String, Option<String>, Option<String>, Option<String>), String>;

fn check_winner(ctx: &Context, explicit: Option<Token>) -> Check {
    let hub = ctx.hub(explicit);
    let run = || -> Result<Option<(ResolvedToken, hfkit::WhoAmI)>, anyhow::Error> {
        let rt = settings::runtime()?;
        let Some(found) = rt.block_on(hub.token())? else {
            return Ok(None);
        };
        let who = rt.block_on(hub.whoami_with(&found))?;
        Ok(Some((found, who)))
    };
    match run() {
        Ok(Some((_, who))) => Ok((
            who.name.clone(),
            who.org_names(),
            who.token_display_name().map(str::to_owned),
            who.token_role().map(str::to_owned),
        )),
        Ok(None) => Err("no token to check".to_owned()),
        Err(e) => Err(crate::report::error_text(&e, Some(&ctx.config))),
    }
}

fn print_text(ctx: &Context, report: &ChainReport, check: Option<&Check>) {
    let p = &ctx.printer;
    let mut lines = vec!["Token sources, in the order hf reads them:".to_owned()];
    for (i, s) in report.sources.iter().enumerate() {
        let marker = if report.winner == Some(i) { "→" } else { " " };
        let number = if s.name == "HUGGINGFACE_TOKEN" { "  ".to_owned() } else { format!("{}.", i + 1) };
        let token = s.token.as_ref().map(Token::masked).unwrap_or_default();
        let place = s.path.as_ref().map(|p| format!(" ({})", shown_path(p))).unwrap_or_default();
        lines.push(format!("{marker} {number} {:<24} {:<9} {:<12} {}{place}", s.name, s.state.as_str(), token, s.note));
    }
    lines.push(String::new());
    match report.winning() {
        Some(w) => {
            let token = w.token.as_ref().map_or_else(|| "exchanged at use".to_owned(), Token::masked);
            let stored = report.active_name.as_ref().map(|n| format!(", stored as `{}`", shown(n))).unwrap_or_default();
            lines.push(format!("Active token: {token} from {}{stored}", w.name));
            if let Some(oauth) = &report.oauth {
                lines.push(format!("  {}", expiry_text(oauth)));
            }
            if let Some(location) = &w.location {
                lines.push(format!("  kept in {}", shown(location)));
            }
        }
        None => lines.push("No token: requests are anonymous. Run `hf auth login` or set HF_TOKEN.".to_owned()),
    }
    match check {
        Some(Ok((user, orgs, name, role))) => {
            lines.push(format!("  user: {user}"));
            if let Some(orgs) = orgs {
                lines.push(format!("  orgs: {orgs}"));
            }
            if let Some(name) = name {
                lines.push(format!("  token name: {name}"));
            }
            lines.push(format!("  role: {}", role.as_deref().unwrap_or("unknown")));
        }
        // The reason is printed once, as the error below.
        Some(Err(_)) => lines.push("  check: failed".to_owned()),
        None => {}
    }
    p.data(&lines.join("\n"));
    for w in &report.warnings {
        p.warning(w);
    }
    if let Some(Err(e)) = check {
        p.error(e);
    }
}

/// When a browser login's token expires and whether it renews itself, in words.
fn expiry_text(oauth: &OAuthStatus) -> String {
    let renewal = if oauth.can_refresh {
        "it is refreshed automatically (a refresh token is stored)".to_owned()
    } else if let Some(issuer) = &oauth.issued_elsewhere {
        format!("it is refreshed only with {issuer}, which issued it (HF_ENDPOINT names another Hub)")
    } else {
        "it cannot be refreshed: run `hf auth login` again when it expires".to_owned()
    };
    match oauth.expires_at {
        Some(at) => {
            let left = at - hfkit::time::now_unix();
            let iso = hfkit::time::iso8601(at);
            let when = format!("{} {} UTC", &iso[..10], &iso[11..19]);
            let state = if left <= 0 {
                "expired".to_owned()
            } else if left < 3600 {
                format!("in {} min", (left + 59) / 60)
            } else if left < 2 * 86_400 {
                format!("in {} h", left / 3600)
            } else {
                format!("in {} days", left / 86_400)
            };
            format!("expires: {when} ({state}); {renewal}")
        }
        None => format!("expires: unknown (no expiry stored); {renewal}"),
    }
}

fn print_json(ctx: &Context, report: &ChainReport, check: Option<&Check>) {
    let sources: Vec<_> = report
        .sources
        .iter()
        .map(|s| {
            json!({
                "name": s.name,
                "state": s.state.as_str(),
                "used": s.state == SourceState::Used,
                "token": s.token.as_ref().map(Token::masked),
                "path": s.path.as_ref().map(|p| p.display().to_string()),
                "location": s.location,
                "note": s.note,
            })
        })
        .collect();
    let check = check.map(|c| match c {
        Ok((user, orgs, name, role)) => {
            json!({"ok": true, "user": user, "orgs": orgs, "token_name": name, "role": role})
        }
        Err(e) => json!({"ok": false, "error": e}),
    });
    ctx.printer.json(&json!({
        "sources": sources,
        "winner": report.winning().map(|w| w.name),
        "active_token_location": report.winning().and_then(|w| w.location.as_deref()),
        "active_token_name": report.active_name,
        "implicit_token_disabled": report.implicit_disabled,
        "warnings": report.warnings,
        "expires_at": report.oauth.as_ref().and_then(|o| o.expires_at),
        "can_refresh": report.oauth.as_ref().is_some_and(|o| o.can_refresh),
        "issued_by_another_hub": report.oauth.as_ref().and_then(|o| o.issued_elsewhere.as_deref()),
        "check": check,
    }));
}
