//! The command line: every command, option and help text, as clap definitions.
//!
//! Names and flags follow huggingface_hub 2.4's `hf` so scripts written for it keep working.
//! Commands that exist only here (`hf auth status`, `hf serve`, `hf completion`) are marked
//! in their help.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Output format of a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum FormatArg {
    /// `agent` when an AI agent runs hf (AI_AGENT or AGENT set), else `human`.
    Auto,
    /// For people: aligned text, colours on a terminal.
    Human,
    /// For programs driven by AI agents: `key=value` and tab-separated lines.
    Agent,
    /// One JSON document on stdout.
    Json,
    /// Only the essential value.
    Quiet,
}

/// hf: a fast Hugging Face Hub client, compatible with huggingface_hub 2.4.
#[derive(Debug, Parser)]
#[command(name = "hf", version = crate::commands::version::LONG_VERSION, disable_version_flag = true)]
#[command(about = "Hugging Face Hub client: log in, download, manage the cache, serve a mirror")]
#[command(subcommand_required = true, arg_required_else_help = true)]
pub(crate) struct Cli {
    /// Output format.
    #[arg(long, global = true, value_enum, value_name = "FORMAT")]
    pub(crate) format: Option<FormatArg>,
    /// Same as `--format json`.
    #[arg(long, global = true)]
    pub(crate) json: bool,
    /// Same as `--format quiet`.
    #[arg(short, long, global = true)]
    pub(crate) quiet: bool,
    /// Do not shorten table cells to the terminal width.
    #[arg(long, global = true)]
    pub(crate) no_truncate: bool,
    /// Load variables from a .env file (repeatable); the real environment wins.
    #[arg(long = "env-file", global = true, value_name = "PATH")]
    pub(crate) env_files: Vec<PathBuf>,
    /// Print the version.
    #[arg(short = 'v', long = "version", action = clap::ArgAction::Version, hide = true)]
    pub(crate) version: Option<bool>,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Manage authentication (login, logout, etc.).
    #[command(subcommand)]
    Auth(AuthCommand),
    /// Print information about the environment.
    Env,
    /// Print the version.
    Version,
    /// Print a shell completion script (bash, zsh or fish). [hfkit]
    Completion {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Serve a Hub-compatible API on this machine. [hfkit]
    Serve(ServeArgs),
}

#[derive(Debug, Subcommand)]
pub(crate) enum AuthCommand {
    /// Log in with a token from huggingface.co/settings/tokens (or piped on stdin).
    Login(LoginArgs),
    /// Log out: all tokens, or one with --token-name.
    Logout {
        /// Name of the token to log out from.
        #[arg(long)]
        token_name: Option<String>,
    },
    /// Switch between stored access tokens.
    Switch {
        /// Name of the token to switch to.
        #[arg(long)]
        token_name: Option<String>,
        /// Also save the token to the git credential helper.
        #[arg(long, overrides_with = "no_add_to_git_credential")]
        add_to_git_credential: bool,
        #[arg(long, hide = true)]
        no_add_to_git_credential: bool,
    },
    /// List all stored access tokens.
    #[command(alias = "ls")]
    List,
    /// Print the current access token to stdout.
    Token,
    /// Find out which account you are logged in as.
    Whoami,
    /// Show every place a token is looked for, which one wins and why. [hfkit]
    Status(StatusArgs),
}

#[derive(Debug, Args)]
pub(crate) struct LoginArgs {
    /// The token (otherwise read from stdin when piped, or asked for on a terminal).
    #[arg(long)]
    pub(crate) token: Option<String>,
    /// Save to git credential helper. Useful only if you plan to run git commands directly.
    #[arg(long, overrides_with = "no_add_to_git_credential")]
    pub(crate) add_to_git_credential: bool,
    #[arg(long, hide = true)]
    pub(crate) no_add_to_git_credential: bool,
    /// Force re-login even if already logged in.
    #[arg(long, overrides_with = "no_force")]
    pub(crate) force: bool,
    #[arg(long, hide = true)]
    pub(crate) no_force: bool,
}

#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    /// Also ask the Hub who the winning token belongs to, and its role.
    #[arg(long)]
    pub(crate) check: bool,
    /// An explicit token, to see that it wins.
    #[arg(long)]
    pub(crate) token: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// JSON file of users, organizations, tokens and trusted publishers.
    #[arg(long, value_name = "FILE")]
    pub(crate) accounts: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub(crate) host: String,
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 8080)]
    pub(crate) port: u16,
}
