//! `hf auth login|logout|switch|list|token|whoami`: huggingface_hub's login journey.
//!
//! Messages, their order and their streams follow huggingface_hub 2.4 so that people and
//! scripts see what they know. Where Python does something surprising (reports success for
//! nothing done, crashes with a traceback), we say what happened instead; each such case is
//! listed in `docs/compatibility.md`.

use std::io::Read;

use anyhow::{Result, bail};
use hfkit::api::WhoAmI;
use hfkit::auth::{self, AuthStore, TokenSource};
use hfkit::{Error, Hub, Token};

use crate::cli::LoginArgs;
use crate::output::{Format, Printer, opt, shown};
use crate::settings::{self, Context};

/// Exit status of a command that ran.
pub(crate) type Status = i32;

pub(crate) fn login(ctx: &Context, args: &LoginArgs) -> Result<Status> {
    let p = &ctx.printer;
    let (token, source) = match args.token.as_deref() {
        Some(raw) => (ctx.explicit_token(Some(raw), false)?.expect("a raw token was given"), TokenSource::Explicit),
        None => match token_from_stdin()? {
            Stdin::Token(token) => (token, TokenSource::Stdin),
            stdin => {
                if matches!(p.format(), Format::Json | Format::Quiet) {
                    bail!(
                        "`hf auth login` is interactive and does not support --format json/quiet. Pass --token for a non-interactive login."
                    );
                }
                let hub = ctx.hub(None);
                let rt = settings::runtime()?;
                if rt.block_on(hub.token())?.is_some() {
                    if !args.force {
                        let text = "User is already logged in. Use `hf auth login --force` to force re-login.";
                        if p.format() == Format::Agent {
                            p.data("Already logged in. Use `hf auth login --force` to re-login.");
                        } else {
                            p.info(text);
                        }
                        return Ok(0);
                    }
                    p.info("Note: a token is already saved on this machine. Logging in again will replace the active token.");
                }
                // An agent is never asked anything: it relays the page and code to its user.
                if p.format() == Format::Agent {
                    return device_login(ctx, args);
                }
                if stdin == Stdin::Empty {
                    bail!(
                        "no token to log in with: standard input was empty\n\nhint: pipe the token, for example `printf %s \"$TOKEN\" | hf auth login`, or pass --token"
                    );
                }
                if !settings::interactive() || p.format() != Format::Human {
                    bail!(
                        "no token to log in with: standard input is not a terminal\n\nhint: pass --token, or pipe the token: `printf %s \"$TOKEN\" | hf auth login`"
                    );
                }
                match ask_login_method(p)? {
                    LoginMethod::Browser => return device_login(ctx, args),
                    LoginMethod::Token => (prompt_token(ctx)?, TokenSource::Prompt),
                }
            }
        },
    };
    if !args.add_to_git_credential {
        p.info(
            "The token has not been saved to the git credentials helper. Pass `add_to_git_credential=True` in this function directly or `--add-to-git-credential` if using via `hf`CLI if you want to set the git credential as well.",
        );
    }
    let hub = ctx.hub(None);
    if args.keyring {
        return login_to_keyring(ctx, &hub, token, source, args.add_to_git_credential);
    }
    let login = settings::runtime()?.block_on(hub.login_from(token, source))?;
    report_login(ctx, &hub, &login, args.add_to_git_credential, None);
    Ok(0)
}

/// What a login prints once the token is stored (huggingface_hub's messages, in its order).
fn report_login(ctx: &Context, hub: &Hub, login: &hfkit::Login, add_to_git: bool, note: Option<String>) {
    let p = &ctx.printer;
    match login.who.token_role() {
        Some(role) => p.info(&format!("Token is valid (permission: {role}).")),
        None => p.info("Token is valid."),
    }
    let store = hub.auth_store();
    p.info(&format!(
        "The token `{}` has been saved to {}",
        shown(&login.token_name),
        store.stored_tokens_path().display()
    ));
    if add_to_git {
        save_to_git_credential(ctx, &login.token);
    }
    p.info(&format!("Your token has been saved to {}", store.token_path().display()));
    p.info("Login successful.");
    if let Ok(Some(entry)) = store.keyring() {
        p.notice(&format!(
            "Note: a token is also kept in {entry}; the token file now comes first. `hf auth logout` removes both."
        ));
    }
    login_done(ctx, login, note);
}

/// `hf auth login --keyring`: the token goes to the system keyring, never to a file.
fn login_to_keyring(ctx: &Context, hub: &Hub, token: Token, source: TokenSource, add_to_git: bool) -> Result<Status> {
    let p = &ctx.printer;
    let saved = settings::runtime()?.block_on(hub.login_to_keyring(token, source))?;
    let login = &saved.login;
    match login.who.token_role() {
        Some(role) => p.info(&format!("Token is valid (permission: {role}).")),
        None => p.info("Token is valid."),
    }
    if add_to_git {
        save_to_git_credential(ctx, &login.token);
    }
    p.info(&format!("Your token has been saved to {}", shown(&saved.entry.to_string())));
    if saved.removed_token_file {
        p.info(&format!(
            "The token file {} was removed, so that the keyring's token is the active one.",
            ctx.config.token_path.display()
        ));
    }
    p.info("Login successful.");
    p.notice(
        "Note: Python's huggingface_hub does not read the system keyring and will not see this token; for it, set HF_TOKEN=\"$(hf auth token)\".",
    );
    login_done(ctx, login, None);
    Ok(0)
}

/// The closing lines of a login: which token is active now, and a last `note`.
fn login_done(ctx: &Context, login: &hfkit::Login, note: Option<String>) {
    let p = &ctx.printer;
    match auth::env_token(&ctx.config) {
        Some(env) => p.notice(&format!(
            "Note: Environment variable `{}` is set and is the current active token independently from the token you've just configured.",
            env_name(&env.source)
        )),
        None => p.info(&format!("The current active token is: `{}`", shown(&login.token_name))),
    }
    if let Some(note) = note {
        p.info(&format!("Note: {note}"));
    }
    if p.format() == Format::Agent {
        p.data(&format!(
            "Login successful: logged in as {} (token saved as '{}').",
            shown(&login.who.name),
            shown(&login.token_name)
        ));
    }
}

/// The two ways to log in that `hf auth login` offers on a terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LoginMethod {
    /// The browser (OAuth device flow), the default.
    Browser,
    /// Paste an access token.
    Token,
}

/// huggingface_hub's question, as a numbered menu (Enter picks the browser).
fn ask_login_method(p: &Printer) -> Result<LoginMethod> {
    p.info("? How would you like to log in?");
    p.info("  1. Log in with your browser");
    p.info("  2. Paste an access token");
    loop {
        eprint_prompt("Choice [1]: ");
        let mut answer = String::new();
        if std::io::stdin().read_line(&mut answer)? == 0 {
            bail!(
                "no choice made: standard input was closed\n\nhint: run `hf auth login` again and press Enter to log in with your browser"
            );
        }
        match menu_choice(&answer) {
            Some(1) => return Ok(LoginMethod::Browser),
            Some(2) => return Ok(LoginMethod::Token),
            _ => p.info("Invalid choice. Enter a number between 1 and 2."),
        }
    }
}

/// The option (1 or 2) a line typed at the login menu picks: a number, Enter alone for the
/// first, or arrow keys as someone used to Python's arrow-key menu presses them before Enter
/// (the terminal passes them as escape sequences: down moves to the second, up back).
fn menu_choice(answer: &str) -> Option<u8> {
    let answer = answer.trim_matches(|c| c == '\r' || c == '\n' || c == ' ');
    match answer {
        "" | "1" => return Some(1),
        "2" => return Some(2),
        _ => {}
    }
    let mut choice = 1u8;
    let mut rest = answer;
    while !rest.is_empty() {
        let arrow = ["\u{1b}[", "\u{1b}O"].iter().find_map(|prefix| rest.strip_prefix(prefix))?;
        choice = match arrow.chars().next()? {
            'B' => 2,
            'A' => 1,
            _ => return None,
        };
        rest = &arrow[1..];
    }
    Some(choice)
}

/// The browser login: shows the page and the code (and opens the page where a desktop
/// exists), waits for the decision, then stores the token with its refresh data.
fn device_login(ctx: &Context, args: &LoginArgs) -> Result<Status> {
    let p = &ctx.printer;
    if args.keyring {
        bail!(
            "the browser login keeps a refresh token beside its token in the token files, so it cannot go to the keyring\n\nhint: log in with a token instead: `hf auth login --keyring --token …` (or pipe it)"
        );
    }
    if args.add_to_git_credential {
        p.notice("`add_to_git_credential=True` is only supported when a token is passed directly. It is ignored by the browser-based login.");
    }
    let hub = ctx.hub(None);
    let rt = settings::runtime()?;
    let code = rt.block_on(hub.request_device_code())?;
    let human = p.format() == Format::Human;
    if human {
        p.data(&format!("\n    Open this URL in your browser:\n        {}\n", code.verification_uri_complete));
        p.data(&format!("    And enter the code: {}\n", code.user_code));
        if !args.no_browser && open_browser(&code.verification_uri_complete) {
            p.info("The page was opened in your browser.");
        }
        stdout_progress("    Waiting for authorization");
    } else {
        p.data(&format!(
            "Ask the user to open {} in a browser and enter the code {}. The code expires in {} seconds. Waiting for authorization...",
            code.verification_uri_complete, code.user_code, code.expires_in
        ));
    }
    let mut dot = move || {
        if human {
            stdout_progress(".");
        }
    };
    let finished = rt.block_on(hub.finish_device_login(&code, &mut dot));
    if human {
        stdout_progress("\n"); // after the dots, also on failure
    }
    let (login, tokens) = finished?;
    report_login(ctx, &hub, &login, false, tokens.expiration_note());
    Ok(0)
}

/// Text on stdout without a line break, shown at once (the progress dots).
#[allow(clippy::print_stdout)]
fn stdout_progress(text: &str) {
    use std::io::Write as _;
    print!("{text}");
    let _ = std::io::stdout().flush();
}

/// Opens `url` in the desktop's browser, when there is a desktop: `$BROWSER`, else
/// `xdg-open` under X11 or Wayland (`open` on macOS). Nothing waits for it; `false` when no
/// browser was started.
fn open_browser(url: &str) -> bool {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    // `$BROWSER` may list several commands, separated by `:`; the first is tried.
    let first = var("BROWSER").and_then(|b| b.to_str().and_then(|b| b.split(':').next()).map(std::ffi::OsString::from));
    let program = if let Some(browser) = first.filter(|b| !b.is_empty()) {
        browser
    } else if cfg!(target_os = "macos") {
        "open".into()
    } else if var("DISPLAY").is_some() || var("WAYLAND_DISPLAY").is_some() {
        "xdg-open".into()
    } else {
        return false;
    };
    std::process::Command::new(program)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .is_ok()
}

/// What standard input offers `hf auth login`.
#[derive(Debug, PartialEq, Eq)]
enum Stdin {
    /// A terminal: ask.
    Terminal,
    /// A pipe or file with nothing in it (or `/dev/null`).
    Empty,
    /// A piped token (`printf %s "$T" | hf auth login`).
    Token(Token),
}

fn token_from_stdin() -> Result<Stdin> {
    let stdin = std::io::stdin();
    if settings::interactive() || std::io::IsTerminal::is_terminal(&stdin) {
        return Ok(Stdin::Terminal);
    }
    // A token is a line; whatever is piped is read up to a bound (`< /dev/zero` ends too).
    let mut input = Vec::new();
    stdin.lock().take(MAX_PIPED + 1).read_to_end(&mut input)?;
    let hint = "hint: pipe one token, for example `printf %s \"$TOKEN\" | hf auth login`, or pass --token";
    if input.len() as u64 > MAX_PIPED {
        bail!("standard input holds more than a token (over {} KiB)\n\n{hint}", MAX_PIPED >> 10);
    }
    let Ok(input) = String::from_utf8(input) else {
        bail!("standard input is not a token: it is not text\n\n{hint}");
    };
    // A lone `\r` breaks a line too: Python's cleaning would join the two halves.
    let lines = input.split(['\r', '\n']).filter(|line| !line.trim().is_empty()).count();
    if lines == 0 {
        return Ok(Stdin::Empty);
    }
    if lines > 1 {
        // Python's cleaning would join the lines into one wrong token.
        bail!("standard input holds {lines} lines, and a token is one line\n\n{hint}");
    }
    Ok(Stdin::Token(entered_token(&input, &TokenSource::Stdin)?))
}

/// The most bytes read from a pipe for `hf auth login`: far more than any token.
const MAX_PIPED: u64 = 64 << 10;

fn prompt_token(ctx: &Context) -> Result<Token> {
    ctx.printer.info(&format!(
        "    To log in, `hf` requires a token generated from {}/settings/tokens .",
        ctx.config.endpoint
    ));
    let raw = rpassword::prompt_password("Enter your token (input will not be visible): ")?;
    if raw.trim().is_empty() {
        bail!(
            "no token was entered at the prompt\n\nhint: copy a token from {}/settings/tokens, run `hf auth login` again and paste it, then press Enter",
            ctx.config.endpoint
        );
    }
    entered_token(&raw, &TokenSource::Prompt)
}

/// A token read from stdin or the prompt: line breaks and surrounding spaces dropped (as
/// huggingface_hub cleans stored tokens), then refused if it still cannot be sent.
fn entered_token(raw: &str, source: &TokenSource) -> Result<Token> {
    let token = auth::clean_token(raw).expect("the caller checked that the input is not blank");
    if !auth::is_sendable(token.expose()) {
        return Err(auth::TokenError::Unsendable { source_desc: source.to_string() }.into());
    }
    Ok(token)
}

fn save_to_git_credential(ctx: &Context, token: &Token) {
    let p = &ctx.printer;
    // With our helper installed, git asks hf and hands approvals to hf alone (a no-op):
    // copying the token into other helpers would neither happen nor be needed.
    if let Some(endpoint) = auth::Endpoint::parse(&ctx.config.endpoint)
        && auth::helper_installed(&endpoint).unwrap_or(false)
    {
        p.info(&format!(
            "git asks hf for {} credentials (`hf auth git-credential` is installed), so the token was not copied into git's credential helpers.",
            endpoint.base_url()
        ));
        return;
    }
    match auth::git_credential_helpers() {
        Ok(helpers) if !helpers.is_empty() => match auth::git_credential_approve(&ctx.config.endpoint, token) {
            Ok(()) => p.info(&format!(
                "Your token has been saved in your configured git credential helpers ({}).",
                helpers.join(",")
            )),
            Err(e) => p.warning(&format!("Token has not been saved to git credential helper: {e}")),
        },
        Ok(_) => {
            p.data(
                "Cannot authenticate through git-credential as no helper is defined on your machine.\nYou might have to re-authenticate when pushing to the Hugging Face Hub.\nRun the following command in your terminal in case you want to set the 'store' credential helper as default.\n\ngit config --global credential.helper store\n\nRead https://git-scm.com/book/en/v2/Git-Tools-Credential-Storage for more details.",
            );
            p.notice("Token has not been saved to git credential helper.");
        }
        Err(e) => p.warning(&format!("Token has not been saved to git credential helper: {e}")),
    }
}

fn env_name(source: &TokenSource) -> &'static str {
    match source {
        TokenSource::Env(name) => name,
        _ => hfkit::env_vars::HF_TOKEN,
    }
}

/// Removes the Hub credential from git's helpers; a missing git is only a warning.
fn reject_git_credential(ctx: &Context) {
    match auth::git_credential_reject(&ctx.config.endpoint) {
        Ok(()) => {}
        Err(auth::GitCredentialError::NotFound) => {
            ctx.printer.warning("`git` was not found, so no git credential was removed.");
        }
        Err(e) => ctx.printer.warning(&format!("could not remove the git credential: {e}")),
    }
}

pub(crate) fn logout(ctx: &Context, token_name: Option<&str>) -> Result<Status> {
    let p = &ctx.printer;
    let store = AuthStore::new(&ctx.config);
    let keyring = store.keyring()?;
    match token_name.filter(|n| !n.is_empty()) {
        None => {
            let has_active = store.active()?.is_some() || keyring.is_some() || auth::env_token(&ctx.config).is_some();
            let has_stored =
                store.stored_tokens_path().exists() && !store.stored().map(|s| s.is_empty()).unwrap_or(false);
            if !has_active && !has_stored {
                p.notice("Not logged in!");
                return Ok(0);
            }
            store.logout_all()?;
            if let Some(entry) = &keyring {
                forget_keyring(ctx, entry)?;
            }
            p.info("Successfully logged out from all access tokens.");
            reject_git_credential(ctx);
        }
        Some(name) => {
            let mut outcome = store.logout(name)?;
            if let Some(entry) = keyring.as_ref().filter(|e| e.name() == Some(name)) {
                forget_keyring(ctx, entry)?;
                outcome.removed = true;
                outcome.was_active |= store.active()?.is_none();
            }
            if !outcome.removed {
                p.warning(&format!(
                    "No stored token is named `{name}` in {}; nothing was changed.",
                    store.stored_tokens_path().display()
                ));
                return Ok(0);
            }
            if outcome.was_active {
                p.notice(&format!("Active token '{name}' has been deleted."));
                reject_git_credential(ctx);
            }
            p.info(&format!("Successfully logged out from access token: {name}."));
        }
    }
    if let Some(env) = auth::env_token(&ctx.config) {
        bail!(
            "Token has been deleted from your machine but you are still logged in: {} is set.\nTo log out, you must clear out both `HF_TOKEN` and `HUGGING_FACE_HUB_TOKEN` environment variables.",
            env.source
        );
    }
    Ok(0)
}

/// Deletes the keyring's token and its marker. A keyring that cannot be reached keeps the
/// marker (the token may still be in it) and fails the command with what to do.
fn forget_keyring(ctx: &Context, entry: &auth::keyring::KeyringEntry) -> Result<()> {
    match auth::keyring::block_on(entry.delete()) {
        Ok(()) => {
            ctx.printer.info(&format!("The token in {} has been deleted.", shown(&entry.to_string())));
            Ok(())
        }
        Err(e) => bail!(
            "the token in {} could not be deleted: {}\n\nhint: run `hf auth logout` again once the keyring is available; to stop hf from looking for that token without deleting it, remove {}",
            shown(&entry.to_string()),
            e.to_string().lines().next().unwrap_or_default(),
            entry.marker().display()
        ),
    }
}

pub(crate) fn switch(ctx: &Context, token_name: Option<&str>, add_to_git: bool) -> Result<Status> {
    let p = &ctx.printer;
    let store = AuthStore::new(&ctx.config);
    let name = match token_name {
        Some(name) => name.to_owned(),
        None => {
            let stored = store.stored()?;
            if stored.is_empty() {
                bail!("No stored tokens found. Please login first with `hf auth login`.");
            }
            settings::require_human(p, "Use --token-name to select a token in non-interactive mode.")?;
            if !settings::interactive() {
                bail!("Use --token-name to select a token in non-interactive mode.");
            }
            let names: Vec<String> = stored.iter().map(|(n, _)| n.to_owned()).collect();
            pick(p, "Select a token to switch to:", &names)?
        }
    };
    let Some(token) = store.switch(&name)? else {
        bail!("Invalid value. Access token {name} not found in {}", store.stored_tokens_path().display());
    };
    if add_to_git {
        save_to_git_credential(ctx, &token);
    }
    p.info(&format!("Your token has been saved to {}", store.token_path().display()));
    p.info(&format!("The current active token is: {name}"));
    if let Some(env) = auth::env_token(&ctx.config)
        && env.token != token
    {
        p.notice(&format!(
            "The environment variable `{}` is set and will override the access token you've just switched to.",
            env_name(&env.source)
        ));
    }
    Ok(0)
}

/// A numbered menu on stderr, answered on the terminal; plain lines a screen reader reads.
fn pick(p: &Printer, title: &str, choices: &[String]) -> Result<String> {
    p.info(title);
    for (i, choice) in choices.iter().enumerate() {
        p.info(&format!("  {}) {}", i + 1, shown(choice)));
    }
    loop {
        eprint_prompt(&format!("Enter a number (1-{}): ", choices.len()));
        let mut answer = String::new();
        if std::io::stdin().read_line(&mut answer)? == 0 {
            bail!("no choice made");
        }
        if let Ok(n) = answer.trim().parse::<usize>()
            && (1..=choices.len()).contains(&n)
        {
            return Ok(choices[n - 1].clone());
        }
        p.info("Please enter one of the numbers shown.");
    }
}

#[allow(clippy::print_stderr)] // a prompt stays on the line where the answer is typed
fn eprint_prompt(text: &str) {
    eprint!("{text}");
}

pub(crate) fn list(ctx: &Context) -> Result<Status> {
    let p = &ctx.printer;
    let hub = ctx.hub(None);
    let current = settings::runtime()?.block_on(hub.token())?;
    let current = current.map(|r| r.token);
    let stored = AuthStore::new(&ctx.config).stored()?;
    let env = auth::env_token(&ctx.config);
    if p.format() == Format::Json {
        let items: Vec<serde_json::Value> = stored
            .iter()
            .map(|(name, entry)| {
                let token = entry.token();
                serde_json::json!({
                    "name": name,
                    "token": token.as_ref().map(Token::masked),
                    "active": token.is_some() && token == current,
                    "expires_at": entry.expires_at(),
                })
            })
            .collect();
        p.json(&serde_json::Value::Array(items));
        return Ok(0);
    }
    if stored.is_empty() {
        if env.is_some() {
            p.info("No stored access tokens found.");
            p.notice("Note: Environment variable `HF_TOKEN` is set and is the current active token.");
        } else {
            p.info("No access tokens found.");
        }
        return Ok(0);
    }
    let show_expires = stored.iter().any(|(_, e)| e.field("expires_at").is_some());
    let mut headers = vec![" ", "name", "token"];
    if show_expires {
        headers.push("expires");
    }
    let mut any_active = false;
    let rows: Vec<Vec<String>> = stored
        .iter()
        .map(|(name, entry)| {
            let token = entry.token();
            let active = token.is_some() && token == current;
            any_active |= active;
            let mut row = vec![
                if active { "*" } else { "" }.to_owned(),
                name.to_owned(),
                token.as_ref().map_or_else(|| "<not set>".to_owned(), Token::masked),
            ];
            if show_expires {
                row.push(entry.expires_at().map(format_expiry).unwrap_or_default());
            }
            row
        })
        .collect();
    p.table(&headers, &rows);
    if env.is_some() {
        p.notice("\nNote: Environment variable `HF_TOKEN` is set and is the current active token independently from the stored tokens listed above.");
    } else if !any_active {
        p.notice("\nNote: No active token is set and no environment variable `HF_TOKEN` is found. Use `hf auth login` to log in.");
    }
    Ok(0)
}

/// `YYYY-MM-DD` (UTC) of a unix time, with ` (expired)` when past.
fn format_expiry(at: i64) -> String {
    let expired = hfkit::time::now_unix() > at;
    format!("{}{}", hfkit::time::date(at), if expired { " (expired)" } else { "" })
}

pub(crate) fn token(ctx: &Context) -> Result<Status> {
    let hub = ctx.hub(None);
    let Some(found) = settings::runtime()?.block_on(hub.token())? else {
        return Err(Error::NotLoggedIn.into());
    };
    // The one place hf prints a token in full: the user asked for it.
    ctx.printer.data(found.token.expose());
    ctx.printer.hint("Run `hf auth whoami` to see which account this token belongs to.");
    Ok(0)
}

pub(crate) fn whoami(ctx: &Context) -> Result<Status> {
    let hub = ctx.hub(None);
    let rt = settings::runtime()?;
    let Some(found) = rt.block_on(hub.token())? else {
        return Err(Error::NotLoggedIn.into());
    };
    let who = rt.block_on(hub.whoami_with(&found))?;
    print_whoami(ctx, &hub, &who, &found.source);
    Ok(0)
}

fn print_whoami(ctx: &Context, hub: &Hub, who: &WhoAmI, source: &TokenSource) {
    let endpoint = (!hub.config().is_default_endpoint()).then(|| hub.config().endpoint.clone());
    ctx.printer.result(
        "Logged in",
        &[
            ("user", who.name.clone().into()),
            ("orgs", opt(who.org_names())),
            ("endpoint", opt(endpoint)),
            ("token_name", opt(who.token_display_name().map(str::to_owned))),
            ("role", opt(who.token_role().map(str::to_owned))),
            ("token_source", source_label(ctx, source).into()),
        ],
    );
}

/// How a source is shown: words for people, a short key for programs.
pub(crate) fn source_label(ctx: &Context, source: &TokenSource) -> String {
    match ctx.printer.format() {
        Format::Human => source.to_string(),
        _ => source.key(),
    }
}

#[cfg(test)]
mod tests {
    use super::menu_choice;

    #[test]
    fn the_login_menu_takes_numbers_enter_and_arrow_keys() {
        assert_eq!(menu_choice("\n"), Some(1));
        assert_eq!(menu_choice("2\n"), Some(2));
        assert_eq!(menu_choice("\u{1b}[B\n"), Some(2), "down");
        assert_eq!(menu_choice("\u{1b}OB\n"), Some(2), "down, in application mode");
        assert_eq!(menu_choice("\u{1b}[B\u{1b}[A\n"), Some(1), "down, then up");
        assert_eq!(menu_choice("\u{1b}[B\u{1b}[B"), Some(2), "past the last stays there");
        for wrong in ["3", "x", "\u{1b}[C", "\u{1b}[", "2 2"] {
            assert_eq!(menu_choice(wrong), None, "{wrong:?}");
        }
    }
}
