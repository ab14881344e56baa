//! `hf env`: what hf sees of this machine, in the layout of huggingface_hub's `hf env`,
//! plus where the token comes from (masked). `--format json` gives the same values as one
//! JSON object (Python prints the text whatever the format).

use anyhow::Result;
use hfkit::Config;
use hfkit::auth::{self, AuthStore};

use serde_json::{Value, json};

use super::auth::Status;
use super::version::{COMPATIBLE_WITH, VERSION};
use crate::output::Format;
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
        Ok(Some(found)) => json!(format!("{} ({})", found.source, found.token.masked())),
        Ok(None) => Value::Null,
        Err(e) => json!(format!("error: {}", e.to_string().lines().next().unwrap_or_default())),
    };
    let who = match &resolved {
        Ok(Some(found)) if !c.offline => rt.block_on(hub.whoami_with(found)).ok().map(|w| w.name),
        _ => None,
    };
    let helpers = auth::git_credential_helpers().map(|h| h.join(", ")).unwrap_or_default();
    let has_saved = AuthStore::new(c).active().ok().flatten().is_some();
    let path = |p: &std::path::Path| json!(p.display().to_string());
    // (label shown to people, key in JSON, value).
    let mut lines: Vec<(&str, &str, Value)> = vec![
        ("hfkit version", "hfkit_version", json!(VERSION)),
        ("huggingface_hub compatibility", "huggingface_hub_compatibility", json!(COMPATIBLE_WITH)),
        ("Platform", "platform", json!(format!("{}-{}", std::env::consts::OS, std::env::consts::ARCH))),
        ("Token path ?", "token_path", path(&c.token_path)),
        ("Has saved token ?", "has_saved_token", json!(has_saved)),
        ("Token source ?", "token_source", token_line),
    ];
    if let Some(name) = who {
        lines.push(("Who am I ?", "who_am_i", json!(name)));
    }
    lines.extend([
        ("Configured git credential helpers", "configured_git_credential_helpers", json!(helpers)),
        ("ENDPOINT", "ENDPOINT", json!(c.endpoint)),
        ("HF_HUB_CACHE", "HF_HUB_CACHE", path(&c.hub_cache)),
        ("HF_ASSETS_CACHE", "HF_ASSETS_CACHE", path(&c.assets_cache)),
        ("HF_TOKEN_PATH", "HF_TOKEN_PATH", path(&c.token_path)),
        ("HF_STORED_TOKENS_PATH", "HF_STORED_TOKENS_PATH", path(&c.stored_tokens_path)),
        ("HF_HUB_OFFLINE", "HF_HUB_OFFLINE", json!(c.offline)),
        ("HF_HUB_DISABLE_TELEMETRY", "HF_HUB_DISABLE_TELEMETRY", json!(c.disable_telemetry)),
        ("HF_HUB_DISABLE_PROGRESS_BARS", "HF_HUB_DISABLE_PROGRESS_BARS", json!(c.disable_progress_bars)),
        ("HF_HUB_DISABLE_SYMLINKS", "HF_HUB_DISABLE_SYMLINKS", json!(c.disable_symlinks)),
        ("HF_HUB_DISABLE_SYMLINKS_WARNING", "HF_HUB_DISABLE_SYMLINKS_WARNING", json!(c.disable_symlinks_warning)),
        (
            "HF_HUB_DISABLE_EXPERIMENTAL_WARNING",
            "HF_HUB_DISABLE_EXPERIMENTAL_WARNING",
            json!(c.disable_experimental_warning),
        ),
        ("HF_HUB_DISABLE_IMPLICIT_TOKEN", "HF_HUB_DISABLE_IMPLICIT_TOKEN", json!(c.disable_implicit_token)),
        ("HF_HUB_DISABLE_XET", "HF_HUB_DISABLE_XET", json!(c.disable_xet)),
        ("HF_HUB_DISABLE_SHARED_BLOBS", "HF_HUB_DISABLE_SHARED_BLOBS", json!(c.disable_shared_blobs)),
        ("HF_HUB_ETAG_TIMEOUT", "HF_HUB_ETAG_TIMEOUT", json!(c.etag_timeout.as_secs())),
        ("HF_HUB_DOWNLOAD_TIMEOUT", "HF_HUB_DOWNLOAD_TIMEOUT", json!(c.download_timeout.as_secs())),
        ("HF_XET_HIGH_PERFORMANCE", "HF_XET_HIGH_PERFORMANCE", json!(c.xet_high_performance)),
    ]);
    if ctx.printer.format() == Format::Json {
        let map: serde_json::Map<String, Value> = lines.into_iter().map(|(_, k, v)| (k.to_owned(), v)).collect();
        ctx.printer.json(&Value::Object(map));
        return Ok(0);
    }
    // Other formats print huggingface_hub's text, as Python does whatever the format.
    let mut text = String::from("\nCopy-and-paste the text below in your GitHub issue.\n\n");
    for (label, _, value) in lines {
        let shown = match value {
            Value::Bool(b) => py_bool(b).to_owned(),
            Value::Null => "None".to_owned(),
            Value::String(s) => s,
            other => other.to_string(),
        };
        text.push_str(&format!("- {label}: {shown}\n"));
    }
    ctx.printer.data(&text);
    Ok(0)
}
