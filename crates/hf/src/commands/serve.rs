//! `hf serve`: a Hub-compatible server on this machine, until Ctrl-C.

use anyhow::{Context as _, Result};
use hfkit_server::{Accounts, HubState};

use super::auth::Status;
use crate::cli::ServeArgs;
use crate::settings::Context;

pub(crate) fn serve(ctx: &Context, args: &ServeArgs) -> Result<Status> {
    let accounts = match &args.accounts {
        Some(path) => Accounts::load(path)?,
        None => Accounts::default(),
    };
    let repos = match &args.cache {
        Some(dir) => hfkit_server::repos::load_cache(dir)
            .with_context(|| format!("cannot read the cache folder {}", dir.display()))?,
        None => Vec::new(),
    };
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind((args.host.as_str(), args.port))
            .await
            .with_context(|| format!("cannot listen on {}:{}", args.host, args.port))?;
        let url = hfkit_server::local_url(listener.local_addr()?);
        ctx.printer.result("Serving", &[("url", url.clone().into())]);
        ctx.printer.hint(&format!("point clients at it with: export HF_ENDPOINT={url}"));
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        hfkit_server::serve(listener, HubState::with_repos(accounts, repos), shutdown).await?;
        Ok(0)
    })
}
