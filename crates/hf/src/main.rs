//! `hf`: the command-line client. Parses arguments, resolves settings once, runs one
//! command, and turns its outcome into output and an exit status:
//! 0 success, 1 a failure (the message says what to do), 2 a usage error.

mod cli;
mod commands;
mod output;
mod report;
mod settings;

use clap::Parser;

use cli::{AuthCommand, CacheCommand, Cli, Command};
use commands::{
    auth, auth_check, cache, cache_rm, cache_verify, completion, download, env, git_credential, scan, serve, status,
    version,
};
use output::{Format, Printer};
use settings::{Context, UsageError};

fn main() {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => with_auth_tip(e).exit(),
    };
    std::process::exit(run(&cli));
}

/// `hf whoami`, `hf login`…, as older guides write them: the usage error says where the
/// command lives now (Python's `hf` rejects them too, without the tip).
fn with_auth_tip(mut error: clap::Error) -> clap::Error {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    const AUTH: [&str; 6] = ["login", "logout", "whoami", "switch", "list", "token"];
    if error.kind() == ErrorKind::InvalidSubcommand
        && let Some(ContextValue::String(name)) = error.get(ContextKind::InvalidSubcommand)
        && AUTH.contains(&name.as_str())
    {
        let tip = format!("the command is `hf auth {name}`");
        error.insert(ContextKind::Suggested, ContextValue::StyledStrs(vec![tip.into()]));
    }
    error
}

fn run(cli: &Cli) -> i32 {
    let ctx = match Context::from_cli(cli) {
        Ok(ctx) => ctx,
        Err(e) => {
            let code = if e.is::<UsageError>() { 2 } else { 1 };
            Printer::new(Format::Human, true).error(&report::error_text(&e, None));
            return code;
        }
    };
    let outcome = match &cli.command {
        Command::Auth(command) => match command {
            AuthCommand::Login(args) => auth::login(&ctx, args),
            AuthCommand::Logout { token_name } => auth::logout(&ctx, token_name.as_deref()),
            AuthCommand::Switch { token_name, add_to_git_credential, .. } => {
                auth::switch(&ctx, token_name.as_deref(), *add_to_git_credential)
            }
            AuthCommand::List => auth::list(&ctx),
            AuthCommand::Token => auth::token(&ctx),
            AuthCommand::Whoami => auth::whoami(&ctx),
            AuthCommand::Status(args) => status::status(&ctx, args),
            AuthCommand::Check(args) => auth_check::check(&ctx, args),
            AuthCommand::Scan(args) => scan::scan(&ctx, args),
            AuthCommand::GitCredential(args) => git_credential::git_credential(&ctx, args),
        },
        Command::Cache(CacheCommand::Ls(args)) => cache::ls(&ctx, args),
        Command::Cache(CacheCommand::Rm(args)) => cache_rm::rm(&ctx, args),
        Command::Cache(CacheCommand::Prune(args)) => cache_rm::prune(&ctx, args),
        Command::Cache(CacheCommand::Verify(args)) => cache_verify::verify(&ctx, args),
        Command::Download(args) => download::download(&ctx, args),
        Command::Env => env::env(&ctx),
        Command::Version => Ok(version::version(&ctx)),
        Command::Completion { shell } => Ok(completion::completion(*shell)),
        Command::Serve(args) => serve::serve(&ctx, args),
    };
    // What the token chain did on the way (an OAuth token refreshed, or not).
    for notice in hfkit::auth::oauth::take_notices() {
        if notice.warning {
            ctx.printer.notice(&notice.text);
        } else {
            ctx.printer.info(&notice.text);
        }
    }
    match outcome {
        Ok(code) => code,
        Err(e) => {
            ctx.printer.error(&report::error_text(&e, Some(&ctx.config)));
            if e.is::<UsageError>() { 2 } else { 1 }
        }
    }
}
