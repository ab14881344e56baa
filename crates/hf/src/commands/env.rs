//! `hf env`: what hf sees of this machine, in the layout of huggingface_hub's `hf env`,
//! plus where the token comes from (masked).

use anyhow::Result;
use hfkit::Config;
use hfkit::auth::{self, AuthStore};

use super::auth::Status;
use super::version::{COMPATIBLE_WITH, VERSION};
use crate::settings::{self, Context};

fn py_bool(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}

pub(crate) fn env(ctx: &Context) -> Result<Status> {
    let c: &Config = &ctx.config;
    let hub = ctx.hub(None);
    let rt = settings::runtime()?;
    let resolved = rt.block_on(hub.token());
    let token_line = match &resolved {
        Ok(Some(found)) => format!("{} ({})", found.source, found.token.masked()),
        Ok(None) => "None".to_owned(),
        Err(e) => format!("error: {}", e.to_string().lines().next().unwrap_or_default()),
    };
    let who = match &resolved {
        Ok(Some(found)) if !c.offline => rt.block_on(hub.whoami_with(found)).ok().map(|w| w.name),
        _ => None,
    };
    let helpers = auth::git_credential_helpers().map(|h| h.join(", ")).unwrap_or_default();
    let has_saved = AuthStore::new(c).active().ok().flatten().is_some();
    let path = |p: &std::path::Path| p.display().to_string();
    let mut lines: Vec<(String, String)> = vec![
        ("hfkit version".into(), VERSION.into()),
        ("huggingface_hub compatibility".into(), COMPATIBLE_WITH.into()),
        ("Platform".into(), format!("{}-{}", std::env::consts::OS, std::env::consts::ARCH)),
        ("Token path ?".into(), path(&c.token_path)),
        ("Has saved token ?".into(), py_bool(has_saved).into()),
        ("Token source ?".into(), token_line),
    ];
    if let Some(name) = who {
        lines.push(("Who am I ?".into(), name));
    }
    lines.extend([
        ("Configured git credential helpers".into(), helpers),
        ("ENDPOINT".into(), c.endpoint.clone()),
        ("HF_HUB_CACHE".into(), path(&c.hub_cache)),
        ("HF_ASSETS_CACHE".into(), path(&c.assets_cache)),
        ("HF_TOKEN_PATH".into(), path(&c.token_path)),
        ("HF_STORED_TOKENS_PATH".into(), path(&c.stored_tokens_path)),
        ("HF_HUB_OFFLINE".into(), py_bool(c.offline).into()),
        ("HF_HUB_DISABLE_TELEMETRY".into(), py_bool(c.disable_telemetry).into()),
        ("HF_HUB_DISABLE_PROGRESS_BARS".into(), c.disable_progress_bars.map_or("None", py_bool).into()),
        ("HF_HUB_DISABLE_SYMLINKS".into(), py_bool(c.disable_symlinks).into()),
        ("HF_HUB_DISABLE_SYMLINKS_WARNING".into(), py_bool(c.disable_symlinks_warning).into()),
        ("HF_HUB_DISABLE_EXPERIMENTAL_WARNING".into(), py_bool(c.disable_experimental_warning).into()),
        ("HF_HUB_DISABLE_IMPLICIT_TOKEN".into(), py_bool(c.disable_implicit_token).into()),
        ("HF_HUB_DISABLE_XET".into(), py_bool(c.disable_xet).into()),
        ("HF_HUB_DISABLE_SHARED_BLOBS".into(), py_bool(c.disable_shared_blobs).into()),
        ("HF_HUB_ETAG_TIMEOUT".into(), c.etag_timeout.as_secs().to_string()),
        ("HF_HUB_DOWNLOAD_TIMEOUT".into(), c.download_timeout.as_secs().to_string()),
        ("HF_XET_HIGH_PERFORMANCE".into(), py_bool(c.xet_high_performance).into()),
    ]);
    let mut text = String::from("\nCopy-and-paste the text below in your GitHub issue.\n\n");
    for (k, v) in lines {
        text.push_str(&format!("- {k}: {v}\n"));
    }
    ctx.printer.data(&text);
    Ok(0)
}
