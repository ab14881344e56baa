//! `hf cache verify`: huggingface_hub's command and output, hashing files in parallel.

use anyhow::{Result, anyhow};
use hfkit::cache::RepoCache;
use hfkit::cache::verify::{cached_snapshot, local_files, verify as compare};
use hfkit::repo::Repo;

use super::auth::Status;
use crate::cli::CacheVerifyArgs;
use crate::output::{shown, shown_path};
use crate::settings::{self, Context, UsageError};

pub(crate) fn verify(ctx: &Context, args: &CacheVerifyArgs) -> Result<Status> {
    let p = &ctx.printer;
    if args.local_dir.is_some() && args.cache_dir.is_some() {
        return Err(UsageError("Cannot pass both --local-dir and --cache-dir. Use one or the other.".into()).into());
    }
    let repo = Repo::new(args.repo_type.parse()?, &args.repo_id)?;
    let (root, revision) = match &args.local_dir {
        Some(dir) => {
            let root = std::fs::canonicalize(dir).ok().filter(|r| r.is_dir()).ok_or_else(|| {
                anyhow!("Invalid value. Local directory does not exist or is not a directory: {}", dir.display())
            })?;
            (root, args.revision.clone().unwrap_or_else(|| "main".to_owned()))
        }
        None => {
            let cache_root = args.cache_dir.clone().unwrap_or_else(|| ctx.config.hub_cache.clone());
            let cache_root = std::fs::canonicalize(&cache_root).unwrap_or(cache_root);
            let folder = RepoCache::new(&cache_root, &repo).folder();
            cached_snapshot(&folder, args.revision.as_deref()).map_err(|e| anyhow!("Invalid value. {e}"))?
        }
    };
    let explicit = ctx.explicit_token(args.token.as_deref(), true)?;
    let hub = ctx.hub(explicit);
    let remote = settings::runtime()?.block_on(async {
        let token = hub.request_token().await?;
        Ok::<_, anyhow::Error>(hub.client()?.list_tree(&repo, &revision, token.as_ref()).await?)
    })?;
    let threads = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    let result = compare(&local_files(&root), &remote, threads);
    let mut failed = false;
    if !result.mismatches.is_empty() {
        let details: Vec<String> = result
            .mismatches
            .iter()
            .map(|m| format!("  - {}: expected {} ({}), got {}", shown(&m.path), m.expected, m.algorithm, m.actual))
            .collect();
        p.text(&format!("❌ Checksum verification failed for the following file(s):\n{}", details.join("\n")));
        failed = true;
    }
    for (paths, flag, title, warning) in [
        (
            &result.missing,
            args.fail_on_missing_files,
            "Missing files (present remotely, absent locally)",
            "remote file(s) are missing locally. Use --fail-on-missing-files for details.",
        ),
        (
            &result.extra,
            args.fail_on_extra_files,
            "Extra files (present locally, absent remotely)",
            "local file(s) do not exist on the remote repo. Use --fail-on-extra-files for details.",
        ),
    ] {
        if paths.is_empty() {
            continue;
        }
        if flag {
            let details: Vec<String> = paths.iter().map(|p| format!("  - {}", shown(p))).collect();
            p.text(&format!("❌ {title}:\n{}", details.join("\n")));
            failed = true;
        } else {
            p.warning(&format!("{} {warning}", paths.len()));
        }
    }
    if failed {
        p.error(&format!(
            "Verification failed for '{}' ({}) in {}.\n  Revision: {revision}",
            args.repo_id,
            repo.kind,
            shown_path(&root)
        ));
        return Ok(1);
    }
    p.result(
        &format!("Verified {} file(s) for {} '{}'. All checksums match.", result.checked, repo.kind, args.repo_id),
        &[
            ("repo_id", args.repo_id.clone().into()),
            ("repo_type", repo.kind.as_str().into()),
            ("checked", result.checked.into()),
            ("path", root.display().to_string().into()),
        ],
    );
    Ok(0)
}
