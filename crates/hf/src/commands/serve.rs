//! `hf serve`: a Hub-compatible server on this machine, until Ctrl-C (the operator's
//! commands, `hf serve user …`, are in [`super::serve_admin`]).

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use hfkit_server::repos::cache::CacheRepos;
use hfkit_server::{Accounts, HubState, Limits, MemoryRepos, RepoSource, SqliteStore, Store};

use super::auth::Status;
use crate::cli::ServeArgs;
use crate::settings::Context;

pub(crate) fn serve(ctx: &Context, args: &ServeArgs) -> Result<Status> {
    if let Some(command) = &args.command {
        return super::serve_admin::run(ctx, command);
    }
    let accounts = match &args.accounts {
        Some(path) => Accounts::load(path)?,
        None => Accounts::default(),
    };
    let store: Arc<dyn Store> = match &args.data {
        Some(dir) => Arc::new(
            SqliteStore::open_dir(dir).with_context(|| format!("cannot open the data folder {}", dir.display()))?,
        ),
        None => Arc::new(SqliteStore::in_memory()?),
    };
    hfkit_server::store::import::seed(store.as_ref(), &accounts).context("cannot seed the server's accounts")?;
    let repos: Arc<dyn RepoSource> = match &args.cache {
        Some(dir) => {
            Arc::new(CacheRepos::new(dir).with_context(|| format!("cannot serve the cache folder {}", dir.display()))?)
        }
        None => Arc::new(MemoryRepos::default()),
    };
    let limits = Limits {
        max_connections: args.max_connections.max(1),
        idle_timeout: Duration::from_secs(args.idle_timeout.max(1)),
        header_timeout: Duration::from_secs(args.header_timeout.max(1)),
        ..Limits::default()
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
        let state = HubState::with_store(store, accounts.trusted_publishers, repos);
        state.set_anonymous_access(!args.no_anonymous);
        state.set_access_log(true);
        hfkit_server::serve_with(listener, state, &limits, shutdown).await?;
        Ok(0)
    })
}
