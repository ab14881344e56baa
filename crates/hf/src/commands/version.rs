//! `hf version` and `hf --version`.

use super::auth::Status;
use crate::settings::Context;

/// hfkit's version.
pub(crate) const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The huggingface_hub release whose behaviour hf reproduces.
pub(crate) const COMPATIBLE_WITH: &str = "2.4.0";
/// What `hf --version` prints.
pub(crate) const LONG_VERSION: &str =
    concat!(env!("CARGO_PKG_VERSION"), " (hfkit; compatible with huggingface_hub 2.4.0)");

pub(crate) fn version(ctx: &Context) -> Status {
    ctx.printer.result(
        "hf version",
        &[("version", VERSION.into()), ("huggingface_hub_compatibility", COMPATIBLE_WITH.into())],
    );
    0
}
