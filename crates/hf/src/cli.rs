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
    /// Manage the local cache (list, …).
    #[command(subcommand)]
    Cache(CacheCommand),
    /// Download files from the Hub into the cache (or a local folder).
    #[command(after_help = DOWNLOAD_HELP)]
    Download(DownloadArgs),
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
        /// Python's negation of the flag above (the default).
        #[arg(long, hide_short_help = true)]
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
    /// Can the active token read (or write) a repo, and why? Before a long download. [hfkit]
    #[command(after_help = CHECK_HELP)]
    Check(CheckArgs),
    /// Find Hugging Face tokens in files, notebooks, .env files and git history. [hfkit]
    #[command(after_help = SCAN_HELP)]
    Scan(ScanArgs),
    /// A git credential helper that answers with the active token for the endpoint. [hfkit]
    #[command(after_help = GIT_CREDENTIAL_HELP)]
    GitCredential(GitCredentialArgs),
}

const CHECK_HELP: &str = "\
Exit status: 0 the token can read the repo (and write, with --write); 1 the Hub could not be
asked; 3 gated and not granted (request access at the address shown); 4 not found, or private
and not visible to this account; 5 the Hub refused the token itself; 6 readable, not writable.
Example: hf auth check meta-llama/Llama-3.2-1B && hf download meta-llama/Llama-3.2-1B";

const SCAN_HELP: &str = "\
Exit status: 0 no token found, 1 tokens found, 2 the scan could not run.
Tokens are shown masked (hf_****wxyz); --check sends each one only to HF_ENDPOINT's /api/whoami-v2.
A pre-commit hook and a CI example: docs/token-scanning.md";

const GIT_CREDENTIAL_HELP: &str = "\
git runs `hf auth git-credential get|store|erase` itself once the helper is installed:
  hf auth git-credential --install            for every repository (~/.gitconfig)
  hf auth git-credential --install --local    for the current repository only
  hf auth git-credential --uninstall          removes exactly that entry
`get` answers only for HF_ENDPOINT's protocol, host and port, with the token `hf auth status` shows;
`store` and `erase` do nothing (the token lives where `hf auth login` put it).";

#[derive(Debug, Args)]
pub(crate) struct ScanArgs {
    /// Files and folders to scan (default: the current folder).
    pub(crate) paths: Vec<PathBuf>,
    /// Also read files that .gitignore, .ignore and git's excludes skip.
    #[arg(long)]
    pub(crate) no_ignore: bool,
    /// Do not read the git history (only the files as they are).
    #[arg(long)]
    pub(crate) no_history: bool,
    /// Ask the Hub which found tokens are live, and whose they are.
    #[arg(long)]
    pub(crate) check: bool,
    /// Print a SARIF 2.1.0 report on stdout (for code-scanning tools in CI).
    #[arg(long)]
    pub(crate) sarif: bool,
    /// Walker threads (default: one per core).
    #[arg(short = 'j', long, value_name = "N", default_value_t = 0)]
    pub(crate) threads: usize,
}

/// What git asks a credential helper.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum CredentialAction {
    /// Answer with the token for the endpoint.
    Get,
    /// Accepted; does nothing.
    Store,
    /// Accepted; does nothing.
    Erase,
}

#[derive(Debug, Args)]
pub(crate) struct GitCredentialArgs {
    /// The helper action git passes.
    #[arg(value_enum, required_unless_present_any = ["install", "uninstall"])]
    pub(crate) action: Option<CredentialAction>,
    /// Configure git to use this helper for the endpoint.
    #[arg(long, conflicts_with_all = ["uninstall", "action"])]
    pub(crate) install: bool,
    /// Remove the entry --install added (nothing else).
    #[arg(long, conflicts_with = "action")]
    pub(crate) uninstall: bool,
    /// Install in ~/.gitconfig (the default).
    #[arg(long, conflicts_with = "local")]
    pub(crate) global: bool,
    /// Install in the current repository's .git/config.
    #[arg(long)]
    pub(crate) local: bool,
}

#[derive(Debug, Args)]
pub(crate) struct LoginArgs {
    /// The token (otherwise read from stdin when piped; on a terminal, log in with your
    /// browser or paste a token).
    #[arg(long)]
    pub(crate) token: Option<String>,
    /// Save to git credential helper. Useful only if you plan to run git commands directly.
    #[arg(long, overrides_with = "no_add_to_git_credential")]
    pub(crate) add_to_git_credential: bool,
    /// Python's negation of the flag above (the default).
    #[arg(long, hide_short_help = true)]
    pub(crate) no_add_to_git_credential: bool,
    /// Force re-login even if already logged in.
    #[arg(long, overrides_with = "no_force")]
    pub(crate) force: bool,
    /// Python's negation of the flag above (the default).
    #[arg(long, hide_short_help = true)]
    pub(crate) no_force: bool,
    /// Browser login: only print the page and the code, do not open a browser. [hfkit]
    #[arg(long)]
    pub(crate) no_browser: bool,
    /// Keep the token in the system keyring (Secret Service) instead of the token file.
    /// hf only: Python's huggingface_hub does not read the keyring.
    #[arg(long)]
    pub(crate) keyring: bool,
}

#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// The repo id (`namespace/name`).
    pub(crate) repo_id: String,
    /// The type of repository.
    #[arg(long = "repo-type", default_value = "model", value_parser = ["model", "dataset", "space", "kernel"])]
    pub(crate) repo_type: String,
    /// Also check write access.
    #[arg(long)]
    pub(crate) write: bool,
    /// A token to check instead of the active one.
    #[arg(long)]
    pub(crate) token: Option<String>,
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
#[command(args_conflicts_with_subcommands = true, after_help = SERVE_HELP)]
pub(crate) struct ServeArgs {
    /// Manage the users, tokens, repo visibility and grants of a server's data folder.
    #[command(subcommand)]
    pub(crate) command: Option<ServeCommand>,
    /// A TOML file setting any option below, a key per option named like its flag
    /// (`max-connections = 256`); the command line wins over the file, and relative paths in
    /// it are relative to the file's folder. Example: `hf serve --config /etc/hf/serve.toml`.
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// JSON file of users, organizations, tokens, trusted publishers and repo settings
    /// (visibility, owner, grants); it seeds the data folder at each start.
    /// Example: `hf serve --accounts accounts.json --data /srv/hf --cache /srv/hf/hub`.
    #[arg(long, value_name = "FILE")]
    pub(crate) accounts: Option<PathBuf>,
    /// Folder of the server's database: users, tokens issued, repo visibility and grants.
    /// The operator's commands (`hf serve user add … --data DIR`) change it while the
    /// server runs. Without it, state lives in memory and is lost at stop.
    /// Example: `hf serve --data /srv/hf`.
    #[arg(long, value_name = "DIR")]
    pub(crate) data: Option<PathBuf>,
    /// Refuse every request without a token (401), not only those for private and gated
    /// repos. Example: `hf serve --data /srv/hf --no-anonymous`.
    #[arg(long)]
    pub(crate) no_anonymous: bool,
    /// A huggingface_hub cache folder to serve as a read-only mirror (repos are public unless
    /// the accounts file or `hf serve repo set` says otherwise).
    /// It is read live: a repo downloaded into it, or a ref that moves, is served at once.
    /// Example: `hf serve --cache ~/.cache/huggingface/hub`.
    #[arg(long, value_name = "DIR")]
    pub(crate) cache: Option<PathBuf>,
    /// Pull-through: fetch what the cache lacks from this Hub (huggingface.co, or another
    /// `hf serve`) once, verify it and keep it in the cache (needs --cache). The server's own
    /// token for it is read from --upstream-token-file or HF_SERVE_UPSTREAM_TOKEN, never from
    /// the command line; clients' tokens are never sent upstream. Fetches use the
    /// HF_HUB_DOWNLOAD_* settings of `hf download` (connections, chunk size, retries).
    /// Example: `hf serve --cache /srv/hf --upstream https://huggingface.co`.
    #[arg(long, value_name = "URL")]
    pub(crate) upstream: Option<String>,
    /// A file holding the token the server sends upstream (for gated and private upstream
    /// repos; needs --upstream). Example: `--upstream-token-file /etc/hf-mirror/token`.
    #[arg(long, value_name = "FILE")]
    pub(crate) upstream_token_file: Option<PathBuf>,
    /// Seconds a branch name resolved upstream is remembered before upstream is asked again
    /// [default: 60]. Example: `--ref-ttl 300`.
    #[arg(long, value_name = "SECS")]
    pub(crate) ref_ttl: Option<u64>,
    /// Make no upstream call at all: serve what is cached (with --upstream, the mirror is
    /// ready to go online again without other changes).
    #[arg(long)]
    pub(crate) offline: bool,
    /// Connections served at once; more are answered 503 and closed [default: 512].
    /// Example: `--max-connections 2048`.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) max_connections: Option<u64>,
    /// Seconds a connection may move no byte, either way, before it is closed (an idle
    /// timeout: a slow but steady download is never cut) [default: 60].
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) idle_timeout: Option<u64>,
    /// Seconds a client has to send a request's headers [default: 20].
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) header_timeout: Option<u64>,
    /// Seconds a browser-login code (`hf auth login`) waits for approval [default: 900].
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) device_code_lifetime: Option<u64>,
    /// Browser-login codes (`hf auth login`) that may wait for approval at once; past it a
    /// new one is refused with `slow_down` (429), so that a flood of requests cannot grow the
    /// data folder without end [default: 1000]. Example: `--max-waiting-logins 200`.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) max_waiting_logins: Option<u64>,
    /// Seconds a browser-login client is told to wait between polls (RFC 8628 `interval`)
    /// [default: 5].
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) device_poll_interval: Option<u64>,
    /// Seconds an access token from the browser login works before it must be refreshed
    /// [default: 604800, 7 days].
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) oauth_token_lifetime: Option<u64>,
    /// Seconds a refresh token of the browser login can be used (each use replaces it)
    /// [default: 7776000, 90 days].
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) refresh_token_lifetime: Option<u64>,
    /// Address to listen on [default: 127.0.0.1]. Example: `--host 0.0.0.0` (every interface).
    #[arg(long)]
    pub(crate) host: Option<String>,
    /// Port to listen on (0 picks a free one) [default: 8080].
    #[arg(long)]
    pub(crate) port: Option<u16>,
}

const SERVE_HELP: &str = "\
A config file (--config FILE) sets the same options, a key per flag; the command line wins:
  # /etc/hf/serve.toml
  accounts = \"accounts.json\"          # relative paths: from the file's folder
  data = \"/srv/hf/data\"
  cache = \"/srv/hf/hub\"
  upstream = \"https://huggingface.co\"
  ref-ttl = 300
  host = \"0.0.0.0\"
  port = 8080
  max-connections = 1024
  no-anonymous = true
Try it: hf serve --config examples/serve.toml

Operator commands (each takes --data DIR, the folder of a running or stopped server;
changes take effect at once on a server using that folder):
  hf serve user add alice --org acme --data DIR          add a user (and memberships)
  hf serve org add acme --data DIR                       add an organization
  hf serve token issue alice --name laptop --data DIR    issue a token (shown once)
  hf serve token revoke alice --name laptop --data DIR   revoke it (--all: every token)
  hf serve repo set acme/llm --visibility gated --data DIR
  hf serve access grant acme/llm alice --data DIR        let alice read a gated repo
  hf serve access revoke acme/llm alice --data DIR
  hf serve user passwd alice --data DIR                  set alice's web password (prompted, or on stdin)
  hf serve repo gate acme/llm --field 'Intended use' --license-file LICENSE --data DIR
  hf serve access requests acme/llm --data DIR           list access requests (pending by default)
  hf serve access approve acme/llm alice --data DIR      approve alice's request (deny: refuse it)
  hf serve device approve BCDF-GHJK --user alice --data DIR   let a browser login finish
  hf serve device deny BCDF-GHJK --data DIR                   refuse it";

/// The data folder an operator's command works on.
#[derive(Debug, Args)]
pub(crate) struct DataArg {
    /// The server's data folder (as given to `hf serve --data`).
    #[arg(long, value_name = "DIR")]
    pub(crate) data: PathBuf,
}

/// A repo named on the command line.
#[derive(Debug, Args)]
pub(crate) struct RepoArg {
    /// The repo id (`namespace/name`).
    pub(crate) repo_id: String,
    /// The repo type.
    #[arg(long = "type", value_name = "TYPE", default_value = "model", value_parser = ["model", "dataset", "space", "kernel"])]
    pub(crate) kind: String,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ServeCommand {
    /// Users: add, list, passwd, admin.
    #[command(subcommand)]
    User(ServeUserCommand),
    /// Organizations: add.
    #[command(subcommand)]
    Org(ServeOrgCommand),
    /// Access tokens: issue (shown once), revoke, list.
    #[command(subcommand)]
    Token(ServeTokenCommand),
    /// Repo settings: visibility and owner; a gated repo's request form.
    #[command(subcommand)]
    Repo(ServeRepoCommand),
    /// Grants of gated and private repos (grant, revoke, list) and access requests
    /// (requests, approve, deny).
    #[command(subcommand)]
    Access(ServeAccessCommand),
    /// Browser logins (`hf auth login`) waiting for a decision: approve, deny.
    #[command(subcommand)]
    Device(ServeDeviceCommand),
}

#[derive(Debug, Subcommand)]
pub(crate) enum ServeDeviceCommand {
    /// Let the device showing USER_CODE log in as a user; its `hf auth login` finishes.
    /// Example: `hf serve device approve BCDF-GHJK --user alice --data /srv/hf`.
    Approve {
        /// The code the device shows (any case, with or without the dash).
        user_code: String,
        /// The user the device logs in as.
        #[arg(long)]
        user: String,
        #[command(flatten)]
        data: DataArg,
    },
    /// Refuse the device showing USER_CODE; its `hf auth login` fails.
    /// Example: `hf serve device deny BCDF-GHJK --data /srv/hf`.
    Deny {
        /// The code the device shows.
        user_code: String,
        #[command(flatten)]
        data: DataArg,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum ServeUserCommand {
    /// Add a user. Example: `hf serve user add alice --org acme --data /srv/hf`.
    Add {
        /// Login name.
        name: String,
        /// Display name.
        #[arg(long)]
        fullname: Option<String>,
        /// E-mail address.
        #[arg(long)]
        email: Option<String>,
        /// An organization the user belongs to (repeatable).
        #[arg(long = "org", value_name = "ORG")]
        orgs: Vec<String>,
        /// The operator's web account: sees every repo and decides every access request.
        #[arg(long)]
        admin: bool,
        #[command(flatten)]
        data: DataArg,
    },
    /// Give a user the operator's rights on the web pages (every repo, every access
    /// request), or take them back. Example: `hf serve user admin alice --data /srv/hf`.
    Admin {
        /// The user.
        name: String,
        /// Take the rights back.
        #[arg(long)]
        remove: bool,
        #[command(flatten)]
        data: DataArg,
    },
    /// List users and their organizations.
    #[command(alias = "ls")]
    List {
        #[command(flatten)]
        data: DataArg,
    },
    /// Set a user's password for the web pages (ends their browser sessions). It is asked
    /// for without echo on a terminal, or read from the first line of stdin when piped;
    /// never taken from the command line. Example: `hf serve user passwd alice --data /srv/hf`.
    Passwd {
        /// The user.
        name: String,
        #[command(flatten)]
        data: DataArg,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum ServeOrgCommand {
    /// Add an organization. Example: `hf serve org add acme --member alice --data /srv/hf`.
    Add {
        /// Name.
        name: String,
        /// Display name.
        #[arg(long)]
        fullname: Option<String>,
        /// A user who belongs to it (repeatable; the user must exist).
        #[arg(long = "member", value_name = "USER")]
        members: Vec<String>,
        #[command(flatten)]
        data: DataArg,
    },
}

/// A token's role, as the operator gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum RoleArg {
    /// Read public, granted and own repos.
    Read,
    /// Read and write.
    Write,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ServeTokenCommand {
    /// Issue a token for a user; it is printed once and never again.
    /// Example: `hf serve token issue alice --name laptop --role read --data /srv/hf`.
    Issue {
        /// The user.
        user: String,
        /// The token's name (unique among the user's live tokens).
        #[arg(long)]
        name: String,
        /// What the token may do.
        #[arg(long, value_enum, default_value = "read")]
        role: RoleArg,
        #[command(flatten)]
        data: DataArg,
    },
    /// Revoke a user's token by name (or all of them); a server refuses it at once.
    /// Example: `hf serve token revoke alice --name laptop --data /srv/hf`.
    Revoke {
        /// The user.
        user: String,
        /// The token's name.
        #[arg(long, required_unless_present = "all", conflicts_with = "all")]
        name: Option<String>,
        /// Every token of the user.
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        data: DataArg,
    },
    /// List live tokens (masked: hf_****wxyz).
    #[command(alias = "ls")]
    List {
        /// Only this user's tokens.
        user: Option<String>,
        #[command(flatten)]
        data: DataArg,
    },
}

/// A repo's visibility, as the operator gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum VisibilityArg {
    /// Everyone sees it and reads its files.
    Public,
    /// Only its owner (and members of the owning org) and granted users see it.
    Private,
    /// Everyone sees its metadata; files need a grant.
    Gated,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ServeRepoCommand {
    /// Set a repo's visibility (and owner).
    /// Example: `hf serve repo set meta-llama/Llama-3.2-1B --visibility gated --data /srv/hf`.
    Set {
        #[command(flatten)]
        repo: RepoArg,
        /// Who may see it.
        #[arg(long, value_enum)]
        visibility: VisibilityArg,
        /// The owning user or organization (default: the namespace).
        #[arg(long)]
        owner: Option<String>,
        #[command(flatten)]
        data: DataArg,
    },
    /// List repos with settings.
    #[command(alias = "ls")]
    List {
        #[command(flatten)]
        data: DataArg,
    },
    /// Set a gated repo's access request form: the questions, the license to agree to, and
    /// whether requests are approved at once (replacing the earlier form).
    /// Example: `hf serve repo gate acme/llm --field 'Intended use' --license-file LICENSE --data /srv/hf`.
    Gate {
        #[command(flatten)]
        repo: RepoArg,
        /// A question of the form, answered in free text (repeatable, in order).
        #[arg(long = "field", value_name = "LABEL")]
        fields: Vec<String>,
        /// A file holding the license text a requester agrees to.
        #[arg(long, value_name = "FILE")]
        license_file: Option<PathBuf>,
        /// Approve every request as soon as it is made.
        #[arg(long)]
        auto_approve: bool,
        #[command(flatten)]
        data: DataArg,
    },
}

/// Which access requests to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum RequestStatusArg {
    /// Waiting for a decision.
    Pending,
    /// Approved.
    Accepted,
    /// Denied.
    Rejected,
    /// All of them.
    All,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ServeAccessCommand {
    /// Let a user read a gated (or see a private) repo; effective at once.
    /// Example: `hf serve access grant meta-llama/Llama-3.2-1B alice --data /srv/hf`.
    Grant {
        #[command(flatten)]
        repo: RepoArg,
        /// The user.
        user: String,
        #[command(flatten)]
        data: DataArg,
    },
    /// Take a grant back; effective at once.
    Revoke {
        #[command(flatten)]
        repo: RepoArg,
        /// The user.
        user: String,
        #[command(flatten)]
        data: DataArg,
    },
    /// List the users granted a repo.
    #[command(alias = "ls")]
    List {
        #[command(flatten)]
        repo: RepoArg,
        #[command(flatten)]
        data: DataArg,
    },
    /// List access requests (of one repo, or of every repo), pending ones by default.
    /// Example: `hf serve access requests acme/llm --data /srv/hf`.
    Requests {
        /// The repo id (default: every repo).
        repo_id: Option<String>,
        /// The repo type.
        #[arg(long = "type", value_name = "TYPE", default_value = "model", value_parser = ["model", "dataset", "space", "kernel"])]
        kind: String,
        /// Which requests.
        #[arg(long, value_enum, default_value = "pending")]
        status: RequestStatusArg,
        #[command(flatten)]
        data: DataArg,
    },
    /// Approve a user's access request: the user is granted access at once.
    Approve {
        #[command(flatten)]
        repo: RepoArg,
        /// The user who asked.
        user: String,
        #[command(flatten)]
        data: DataArg,
    },
    /// Deny a user's access request (and take back access approved earlier).
    Deny {
        #[command(flatten)]
        repo: RepoArg,
        /// The user who asked.
        user: String,
        #[command(flatten)]
        data: DataArg,
    },
}

const DOWNLOAD_HELP: &str = "\
Transfer settings (environment):
  HF_HUB_DOWNLOAD_CONNECTIONS     parallel ranged connections for one large file (default: fitted
                                  to the link, at most 16; --connections)
  HF_HUB_DOWNLOAD_CHUNK_SIZE      bytes per ranged request (default: fitted, at most 16777216)
  HF_HUB_DOWNLOAD_WORKERS         files downloaded at once (default 16; --max-workers)
  HF_HUB_DOWNLOAD_RETRIES         retries of a failed request (default 5)
  HF_HUB_DOWNLOAD_RETRY_BASE_MS   first retry delay, doubled each time (default 1000)
  HF_HUB_DOWNLOAD_STALL_TIMEOUT   seconds without data before a transfer is resumed (default 10)
  HF_HUB_OFFLINE=1                answer from the cache only
  HF_HUB_DISABLE_PROGRESS_BARS=1  no progress bars
  HTTPS_PROXY, HTTP_PROXY, NO_PROXY, SSL_CERT_FILE, REQUESTS_CA_BUNDLE are honoured.

Every file is verified (sha256 for LFS files, git sha1 otherwise) before it is placed.";

#[derive(Debug, Args)]
pub(crate) struct DownloadArgs {
    /// The repository: `namespace/name`, `datasets/namespace/name`, or an hf:// URI.
    pub(crate) repo_id: String,
    /// Files to download (all files when none; a name ending in `/` is a folder).
    pub(crate) filenames: Vec<String>,
    /// Type of the repository.
    #[arg(long = "repo-type", visible_alias = "type", value_name = "TYPE", value_parser = ["model", "dataset", "space", "kernel"])]
    pub(crate) repo_type: Option<String>,
    /// Branch, tag, `refs/pr/N` or commit (default `main`).
    #[arg(long)]
    pub(crate) revision: Option<String>,
    /// Glob patterns of files to download (repeatable).
    #[arg(long)]
    pub(crate) include: Vec<String>,
    /// Glob patterns of files to skip (repeatable).
    #[arg(long)]
    pub(crate) exclude: Vec<String>,
    /// Cache folder (default HF_HUB_CACHE).
    #[arg(long)]
    pub(crate) cache_dir: Option<PathBuf>,
    /// Write real files into this folder instead of the cache.
    #[arg(long)]
    pub(crate) local_dir: Option<PathBuf>,
    /// Download even files that are cached.
    #[arg(long, overrides_with = "no_force_download")]
    pub(crate) force_download: bool,
    /// Python's negation of the flag above (the default).
    #[arg(long, hide_short_help = true)]
    pub(crate) no_force_download: bool,
    /// Only say what would be downloaded.
    #[arg(long, overrides_with = "no_dry_run")]
    pub(crate) dry_run: bool,
    /// Python's negation of the flag above (the default).
    #[arg(long, hide_short_help = true)]
    pub(crate) no_dry_run: bool,
    /// A token (prefer `hf auth login` or HF_TOKEN).
    #[arg(long)]
    pub(crate) token: Option<String>,
    /// Files downloaded at once.
    #[arg(long)]
    pub(crate) max_workers: Option<usize>,
    /// Parallel connections for one large file.
    #[arg(long)]
    pub(crate) connections: Option<usize>,
    /// Bytes per ranged request.
    #[arg(long)]
    pub(crate) chunk_size: Option<u64>,
    /// Answer from the cache only, like HF_HUB_OFFLINE=1.
    #[arg(long)]
    pub(crate) offline: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum CacheCommand {
    /// List cached repositories or revisions.
    #[command(alias = "list")]
    Ls(CacheLsArgs),
    /// Remove cached repositories, revisions or files (a picker on a terminal without targets).
    Rm(CacheRmArgs),
    /// Remove detached revisions, incomplete downloads and stale locks.
    Prune(CachePruneArgs),
    /// Verify checksums of a cached revision or a local directory against the Hub.
    Verify(CacheVerifyArgs),
}

#[derive(Debug, Args)]
pub(crate) struct CacheVerifyArgs {
    /// The repository id.
    pub(crate) repo_id: String,
    /// Type of the repository.
    #[arg(long = "repo-type", visible_alias = "type", default_value = "model", value_parser = ["model", "dataset", "space", "kernel"])]
    pub(crate) repo_type: String,
    /// Revision to verify (default: refs/main, or the only snapshot).
    #[arg(long)]
    pub(crate) revision: Option<String>,
    /// Cache directory (defaults to HF_HUB_CACHE).
    #[arg(long)]
    pub(crate) cache_dir: Option<PathBuf>,
    /// Verify files under this directory instead of the cache.
    #[arg(long)]
    pub(crate) local_dir: Option<PathBuf>,
    /// Fail if some files exist on the remote but are missing locally.
    #[arg(long)]
    pub(crate) fail_on_missing_files: bool,
    /// Fail if some files exist locally but not on the remote revision.
    #[arg(long)]
    pub(crate) fail_on_extra_files: bool,
    /// A token (prefer `hf auth login` or HF_TOKEN).
    #[arg(long)]
    pub(crate) token: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct CacheRmArgs {
    /// Repo ids (model/acme/tiny), hf:// URIs (repo or file), or revision hashes.
    pub(crate) targets: Vec<String>,
    #[command(flatten)]
    pub(crate) delete: DeleteFlags,
}

#[derive(Debug, Args)]
pub(crate) struct CachePruneArgs {
    #[command(flatten)]
    pub(crate) delete: DeleteFlags,
}

/// The options every deleting cache command takes.
#[derive(Debug, Args)]
pub(crate) struct DeleteFlags {
    /// Cache directory (defaults to HF_HUB_CACHE).
    #[arg(long)]
    pub(crate) cache_dir: Option<PathBuf>,
    /// Skip the confirmation prompt.
    #[arg(short, long)]
    pub(crate) yes: bool,
    /// Show what would be deleted, delete nothing.
    #[arg(long, overrides_with = "no_dry_run")]
    pub(crate) dry_run: bool,
    /// Python's negation of --dry-run (the default).
    #[arg(long, hide_short_help = true)]
    pub(crate) no_dry_run: bool,
}

#[derive(Debug, Args)]
pub(crate) struct CacheLsArgs {
    /// Cache directory to scan (defaults to HF_HUB_CACHE).
    #[arg(long)]
    pub(crate) cache_dir: Option<PathBuf>,
    /// Include revisions in the output instead of aggregated repositories.
    #[arg(long, overrides_with = "no_revisions")]
    pub(crate) revisions: bool,
    /// Python's negation of --revisions (the default).
    #[arg(long, hide_short_help = true)]
    pub(crate) no_revisions: bool,
    /// Filter entries (e.g. 'size>1GB', 'type=model', 'accessed>7d'); repeatable, all must match.
    #[arg(short, long = "filter", value_name = "EXPR")]
    pub(crate) filters: Vec<String>,
    /// Sort by accessed, modified, name or size, with :asc or :desc (default: name asc, others desc).
    #[arg(long, value_name = "KEY[:ORDER]")]
    pub(crate) sort: Option<String>,
    /// Show only the first N entries (after sorting).
    #[arg(long, allow_negative_numbers = true)]
    pub(crate) limit: Option<i64>,
    /// Show every cache inconsistency.
    #[arg(long, overrides_with = "no_show_warnings")]
    pub(crate) show_warnings: bool,
    /// Python's negation of --show-warnings (the default).
    #[arg(long, hide_short_help = true)]
    pub(crate) no_show_warnings: bool,
}
