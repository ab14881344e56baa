//! `hf serve`: a Hub-compatible server on this machine, until Ctrl-C; with `--upstream`, a
//! pull-through mirror of another Hub (the operator's commands, `hf serve user …`, are in
//! [`super::serve_admin`]).

use std::sync::Arc;

use anyhow::{Context as _, Result};
use hfkit::config::TransferSettings;
use hfkit_server::mirror::FETCH_WINDOW;
use hfkit_server::repos::cache::CacheRepos;
use hfkit_server::{Accounts, HubState, Limits, MemoryRepos, Mirror, MirrorConfig, RepoSource, SqliteStore, Store};

use super::auth::Status;
use super::serve_config::ServeSettings;
use crate::cli::ServeArgs;
use crate::settings::Context;

pub(crate) fn serve(ctx: &Context, args: &ServeArgs) -> Result<Status> {
    if let Some(command) = &args.command {
        return super::serve_admin::run(ctx, command);
    }
    let args = &ServeSettings::resolve(args)?;
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
    let mut mirror = None;
    let repos: Arc<dyn RepoSource> = match &args.cache {
        Some(dir) => {
            let cache =
                CacheRepos::new(dir).with_context(|| format!("cannot serve the cache folder {}", dir.display()))?;
            if let Some(upstream) = &args.upstream {
                let config = MirrorConfig {
                    upstream: upstream.clone(),
                    token: upstream_token(args)?,
                    offline: args.offline,
                    ref_ttl: args.ref_ttl,
                    // The HF_HUB_DOWNLOAD_* settings of `hf download`, with the server's window.
                    transfer: TransferSettings { window: FETCH_WINDOW, ..ctx.config.transfer.clone() },
                };
                let built = Mirror::new(&config, cache.root())
                    .with_context(|| format!("cannot use {upstream} as the upstream"))?;
                mirror = Some(Arc::new(built));
            }
            Arc::new(cache)
        }
        None => Arc::new(MemoryRepos::default()),
    };
    let limits = Limits {
        max_connections: args.max_connections,
        idle_timeout: args.idle_timeout,
        header_timeout: args.header_timeout,
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
        ctx.printer.hint(&format!(
            "web pages at {url}/ (sign in with a password set by `hf serve user passwd NAME --data …`)"
        ));
        // Ctrl-C or SIGTERM (a service manager's stop): stop accepting, let transfers in flight
        // finish for the drain period (`Limits::drain_timeout`), then stop.
        let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        let shutdown = async move {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate.recv() => {}
            }
        };
        let state = HubState::with_store(store, accounts.trusted_publishers, repos);
        state.set_anonymous_access(!args.no_anonymous);
        state.set_mirror(mirror);
        state.set_access_log(true);
        state.set_device_flow(hfkit_server::oauth::DeviceFlowSettings {
            code_lifetime: args.device_code_lifetime,
            interval: args.device_poll_interval,
            access_lifetime: args.oauth_token_lifetime,
            refresh_lifetime: args.refresh_token_lifetime,
            max_waiting: args.max_waiting_logins,
        });
        hfkit_server::serve_with(listener, state, &limits, shutdown).await?;
        ctx.printer.info("Stopped: no new connections were taken, and transfers in flight were given time to finish.");
        Ok(0)
    })
}

/// The environment variable holding the server's upstream token.
const UPSTREAM_TOKEN_VAR: &str = "HF_SERVE_UPSTREAM_TOKEN";

/// The server's token for its upstream: from `--upstream-token-file`, else the environment.
/// Never from the command line, where other users of the machine could read it.
fn upstream_token(args: &ServeSettings) -> Result<Option<hfkit::Token>> {
    let (raw, origin) = match &args.upstream_token_file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the upstream token file {}", path.display()))?;
            (text.trim().to_owned(), format!("the file {}", path.display()))
        }
        None => match std::env::var(UPSTREAM_TOKEN_VAR) {
            Ok(value) if !value.trim().is_empty() => (value.trim().to_owned(), UPSTREAM_TOKEN_VAR.to_owned()),
            _ => return Ok(None),
        },
    };
    let token = hfkit::auth::validate_explicit(&raw)
        .map_err(|e| anyhow::anyhow!("the upstream token from {origin} cannot be used: {e}"))?;
    Ok(Some(token))
}
