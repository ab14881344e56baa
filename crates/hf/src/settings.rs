//! Raw flags and environment, resolved once into the [`Context`] every command receives.
//!
//! This is the only place the CLI reads the process environment (through
//! [`hfkit::Config`]); commands see resolved values.

use std::io::IsTerminal;

use anyhow::{Context as _, Result, bail};
use hfkit::envfile::EnvFile;
use hfkit::{Config, Hub, Token, env_vars};

use crate::cli::{Cli, FormatArg};
use crate::output::{Format, Printer};

/// What every command needs.
#[derive(Debug)]
pub(crate) struct Context {
    pub(crate) printer: Printer,
    pub(crate) config: Config,
}

/// A usage error (exit status 2), like clap's own.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct UsageError(pub(crate) String);

impl Context {
    pub(crate) fn from_cli(cli: &Cli) -> Result<Self> {
        let chosen: Vec<&str> =
            [cli.format.map(|_| "--format"), cli.json.then_some("--json"), cli.quiet.then_some("-q")]
                .into_iter()
                .flatten()
                .collect();
        if chosen.len() > 1 {
            return Err(UsageError(format!("'{}' and '{}' are mutually exclusive.", chosen[0], chosen[1])).into());
        }
        let format_arg = if cli.json {
            FormatArg::Json
        } else if cli.quiet {
            FormatArg::Quiet
        } else {
            cli.format.unwrap_or(FormatArg::Auto)
        };
        let env_files = cli.env_files.iter().map(|path| EnvFile::load(path)).collect::<Result<Vec<_>, _>>()?;
        let env = |name: &str| {
            std::env::var(name).ok().or_else(|| env_files.iter().find_map(|f| f.get(name).map(str::to_owned)))
        };
        let format = match format_arg {
            FormatArg::Auto if is_agent(&env) => Format::Agent,
            FormatArg::Auto | FormatArg::Human => Format::Human,
            FormatArg::Agent => Format::Agent,
            FormatArg::Json => Format::Json,
            FormatArg::Quiet => Format::Quiet,
        };
        let no_color = env(env_vars::NO_COLOR).is_some_and(|v| !v.is_empty());
        // Like Python's shutil.get_terminal_size: $COLUMNS, then the terminal, then 80.
        let width = if cli.no_truncate {
            None
        } else {
            let columns = env("COLUMNS").and_then(|c| c.trim().parse::<usize>().ok()).filter(|c| *c > 0);
            let terminal = terminal_size::terminal_size().map(|(w, _)| usize::from(w.0));
            Some(columns.or(terminal).unwrap_or(80))
        };
        let printer = Printer::new(format, no_color).with_width(width);
        let config = Config::from_env_and_files(&env_files).context("the environment is not usable")?;
        Ok(Self { printer, config })
    }

    /// A hub for this config, with an optional explicit token.
    pub(crate) fn hub(&self, explicit: Option<Token>) -> Hub {
        Hub::new(self.config.clone(), explicit)
    }

    /// Validates an explicit `--token` and warns that it leaks into shell history.
    pub(crate) fn explicit_token(&self, raw: Option<&str>, warn_about_argv: bool) -> Result<Option<Token>> {
        let Some(raw) = raw else { return Ok(None) };
        let token = hfkit::auth::validate_explicit(raw)?;
        if warn_about_argv {
            self.printer.warning(
                "`--token <value>` leaves your token in your shell history and in process listings. Run `hf auth login` once, or export `HF_TOKEN`, and drop the flag.",
            );
        }
        Ok(Some(token))
    }
}

/// Whether an AI agent runs hf: the standard variables of huggingface_hub's detection.
fn is_agent(env: &impl Fn(&str) -> Option<String>) -> bool {
    [env_vars::AI_AGENT, env_vars::AGENT].iter().any(|name| env(name).is_some_and(|v| !v.is_empty()))
}

/// A runtime for the commands that talk to the network; commands that do not, never build one.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .on_thread_park(hfkit::download::pacing::on_park)
        .build()?)
}

/// Whether both stdin and stderr are a terminal (a person can answer a prompt).
pub(crate) fn interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// Fails unless the format allows prompting.
pub(crate) fn require_human(printer: &Printer, what: &str) -> Result<()> {
    if printer.format() != Format::Human {
        bail!("{what}");
    }
    Ok(())
}
