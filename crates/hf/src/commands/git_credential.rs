//! `hf auth git-credential`: git's credential helper, answering with the active token.
//!
//! `git clone https://huggingface.co/org/model` asks its helpers for a user and password.
//! Instead of copying the token into git's plain-text store (what
//! `--add-to-git-credential` does with the `store` helper), git can ask us each time: we
//! answer `get` with the token the chain finds now (so `hf auth switch` and `HF_TOKEN`
//! apply at once), and only when the request's protocol, host and port are the endpoint's.
//! `store` and `erase` read the request and do nothing. `--install`/`--uninstall` add and
//! remove one `credential.<endpoint>.helper` entry through `git config`.

use anyhow::{Context as _, Result, bail};
use hfkit::auth::{self, ConfigScope, CredentialRequest, Endpoint, HelperChange};

use super::auth::Status;
use crate::cli::{CredentialAction, GitCredentialArgs};
use crate::output::shown;
use crate::settings::{self, Context};

pub(crate) fn git_credential(ctx: &Context, args: &GitCredentialArgs) -> Result<Status> {
    let endpoint = Endpoint::parse(&ctx.config.endpoint).with_context(|| {
        format!("the endpoint `{}` is not a URL git can use (scheme://host[:port])", shown(&ctx.config.endpoint))
    })?;
    let scope = if args.local { ConfigScope::Local } else { ConfigScope::Global };
    let place = if args.local { "this repository's git config" } else { "your global git config" };
    if args.install {
        let program = std::env::current_exe().context("cannot find the path of this hf binary")?;
        let key = auth::helper_key(&endpoint);
        match auth::install_helper(scope, &endpoint, &program)? {
            HelperChange::Changed => ctx.printer.info(&format!(
                "git now asks hf for {} credentials ({key} in {place}). Undo with `hf auth git-credential --uninstall{}`.",
                endpoint.base_url(),
                if args.local { " --local" } else { "" }
            )),
            HelperChange::Unchanged => {
                ctx.printer.info(&format!("The helper is already installed ({key} in {place})."));
            }
        }
        return Ok(0);
    }
    if args.uninstall {
        match auth::uninstall_helper(scope, &endpoint)? {
            HelperChange::Changed => {
                ctx.printer
                    .info(&format!("Removed hf's git credential helper for {} from {place}.", endpoint.base_url()));
            }
            HelperChange::Unchanged => {
                ctx.printer.info(&format!("hf's git credential helper is not installed in {place}; nothing changed."));
            }
        }
        return Ok(0);
    }
    let request = CredentialRequest::read(std::io::stdin().lock())?;
    match args.action {
        Some(CredentialAction::Get) => get(ctx, &endpoint, &request),
        // git calls these after a success or a refusal; the token is not git's to keep or delete.
        Some(CredentialAction::Store | CredentialAction::Erase) => Ok(0),
        None => bail!("pass get, store or erase (git does), or --install / --uninstall"),
    }
}

/// Answers `get`: the token for the endpoint's host, nothing for any other.
fn get(ctx: &Context, endpoint: &Endpoint, request: &CredentialRequest) -> Result<Status> {
    if !endpoint.matches(request) {
        return Ok(0);
    }
    let hub = ctx.hub(None);
    let Some(found) = settings::runtime()?.block_on(hub.token())? else {
        return Ok(0);
    };
    let token = found.token.expose();
    if !auth::is_sendable(token) {
        bail!("the token from {} cannot be given to git (it is not printable ASCII)", found.source);
    }
    // The protocol is line-based: a username git sent is not echoed back.
    if request.username.is_none() {
        ctx.printer.data(&format!("username={}", auth::GIT_USER));
    }
    // Besides `hf auth token`, the one place hf writes a token: git asked for it on a pipe.
    ctx.printer.data(&format!("password={token}"));
    Ok(0)
}
