//! `hf auth check REPO` (ours): before a long download, whether the active token can read the
//! repo and why, with an exit code a script can branch on (see `hf auth check --help`).

use anyhow::Result;
use hfkit::auth::check::Access;
use hfkit::repo::Repo;

use super::auth::{Status, source_label};
use crate::cli::CheckArgs;
use crate::output::opt;
use crate::settings::{self, Context};

pub(crate) fn check(ctx: &Context, args: &CheckArgs) -> Result<Status> {
    let repo = Repo::new(args.repo_type.parse()?, &args.repo_id)?;
    let explicit = ctx.explicit_token(args.token.as_deref(), true)?;
    let hub = ctx.hub(explicit);
    let report = settings::runtime()?.block_on(hub.check_access(&repo, args.write))?;
    let (verdict, code) = match &report.access {
        Access::Public => ("You can read it: it is public.".to_owned(), 0),
        Access::GatedGranted => {
            ("You can read it: it is gated and this account has been granted access.".to_owned(), 0)
        }
        Access::PrivateVisible => ("You can read it: it is private and this account may see it.".to_owned(), 0),
        Access::GatedNotGranted { request_url } => (
            format!(
                "You cannot read its files yet: it is gated and this account has not been granted access. Request it at {request_url}"
            ),
            3,
        ),
        Access::NotFound => (
            "It does not exist, or it is private and this account cannot see it (the Hub gives one answer for both)."
                .to_owned(),
            4,
        ),
        Access::TokenRefused => ("The Hub refused the token itself: it is invalid, expired or revoked.".to_owned(), 5),
    };
    let code = if code == 0 && report.write == Some(false) { 6 } else { code };
    let token = report.token_source.as_ref().map_or_else(|| "none (anonymous)".to_owned(), |s| source_label(ctx, s));
    let fields = [
        ("repo", repo.to_string().into()),
        ("access", report.access.key().into()),
        ("readable", report.access.readable().into()),
        ("writable", report.write.map_or(serde_json::Value::Null, Into::into)),
        ("user", opt(report.user.clone())),
        ("role", opt(report.role.clone())),
        ("token_source", token.into()),
    ];
    ctx.printer.outcome(code == 0, &verdict, &fields);
    if report.write == Some(false) && report.access.readable() {
        ctx.printer.hint("writing needs a write token of the repo's owner (or of a member of its organization)");
    }
    Ok(code)
}
