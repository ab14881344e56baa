//! `hf serve`: a Hub-compatible server on this machine, until Ctrl-C.

use anyhow::{Context as _, Result};
use hfkit_server::{Accounts, HubState};

use super::auth::Status;
use crate::cli::ServeArgs;
use crate::settings::{self, Context};

pub(crate) fn serve(ctx: &Context, args: &ServeArgs) -> Result<Status> {
    let accounts = match &args.accounts {
        Some(path) => Accounts::load(path)?,
        None => Accounts::default(),
    };
    let rt = settings::runtime()?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind((args.host.as_str(), args.port))
            .await
            .with_context(|| format!("cannot listen on {}:{}", args.host, args.port))?;
        let url = hfkit_server::local_url(listener.local_addr()?);
        ctx.printer.result("Serving", &[("url", Some(url.clone()))]);
        ctx.printer.hint(&format!("point clients at it with: export HF_ENDPOINT={url}"));
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        hfkit_server::serve(listener, HubState::new(accounts), shutdown).await?;
        Ok(0)
    })
}
