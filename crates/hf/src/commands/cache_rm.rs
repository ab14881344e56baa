//! `hf cache rm` and `hf cache prune`: huggingface_hub's deletions, messages and exit codes,
//! computed as a plan first (dry run, confirmation), then executed.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Result, bail};
use hfkit::cache::{CacheInfo, CachedRepo, DeletePlan, PrunePlan, scan};
use hfkit::repo::HfUri;

use super::auth::Status;
use super::download::human_size;
use crate::cli::{CachePruneArgs, CacheRmArgs, DeleteFlags};
use crate::output::{Field, Format, shown};
use crate::settings::{self, Context, UsageError};

/// Selected revisions per repo (by index into the scan).
type Selection = BTreeMap<usize, BTreeSet<String>>;

pub(crate) fn rm(ctx: &Context, args: &CacheRmArgs) -> Result<Status> {
    let p = &ctx.printer;
    let info = scan(&args.delete.cache_dir.clone().unwrap_or_else(|| ctx.config.hub_cache.clone()))?;
    let mut targets: Vec<String> = args.targets.iter().map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()).collect();
    if targets.is_empty() {
        if !(settings::interactive() && p.format() == Format::Human) {
            return Err(UsageError(
                "Missing argument 'TARGETS...': name repos (model/acme/tiny), hf:// URIs or revision hashes.".into(),
            )
            .into());
        }
        targets = pick_repos(ctx, &info)?;
        if targets.is_empty() {
            p.text("Nothing to delete.");
            return Ok(0);
        }
    }
    let mut missing = Vec::new();
    let mut files: Vec<(usize, String)> = Vec::new();
    let mut selection = Selection::new();
    let uris: Vec<&String> = targets.iter().filter(|t| t.starts_with("hf://")).collect();
    for target in &targets {
        if let Some(uri) = parse_uri(target) {
            let (cache_id, path) = uri?;
            match (find_repo(&info, &cache_id), path) {
                (None, _) => missing.push(target.clone()),
                (Some(i), Some(path)) => {
                    if info.repos[i].revisions.iter().any(|r| r.files.iter().any(|f| f.name == path)) {
                        files.push((i, path));
                    } else {
                        missing.push(target.clone());
                    }
                }
                (Some(i), None) => {
                    selection.entry(i).or_default().extend(info.repos[i].revisions.iter().map(|r| r.commit.clone()));
                }
            }
        } else if target.len() == 40 && target.bytes().all(|b| b.is_ascii_hexdigit()) {
            let commit = target.to_lowercase();
            match info.repos.iter().position(|r| r.revisions.iter().any(|v| v.commit.to_lowercase() == commit)) {
                Some(i) => {
                    let found =
                        info.repos[i].revisions.iter().find(|v| v.commit.to_lowercase() == commit).expect("found");
                    selection.entry(i).or_default().insert(found.commit.clone());
                }
                None => missing.push(target.clone()),
            }
        } else {
            match find_repo(&info, target) {
                Some(i) => {
                    selection.entry(i).or_default().extend(info.repos[i].revisions.iter().map(|r| r.commit.clone()));
                }
                None => missing.push(target.clone()),
            }
        }
    }
    let file_uri_count = uris.iter().filter(|u| matches!(parse_uri(u), Some(Ok((_, Some(_)))))).count();
    if file_uri_count > 0 && file_uri_count != targets.iter().collect::<BTreeSet<_>>().len() {
        bail!("File targets cannot be mixed with repository or revision targets.");
    }
    if !missing.is_empty() {
        let details: Vec<String> = missing.iter().map(|m| format!("  - {}", shown(m))).collect();
        p.warning(&format!("Could not find in cache:\n{}", details.join("\n")));
    }
    if !files.is_empty() {
        return rm_files(ctx, &info, &files, args);
    }
    if selection.is_empty() {
        p.text("Nothing to delete.");
        return Ok(0);
    }
    let mut plan = DeletePlan::new(&info);
    for (i, commits) in &selection {
        plan.add_revisions(&info.repos[*i], commits);
    }
    let (repos, partial, total) = counts(&info, &selection);
    let mut parts = Vec::new();
    if repos > 0 {
        parts.push(format!("{repos} repo(s)"));
    }
    if partial > 0 {
        parts.push(format!("{partial} revision(s)"));
    }
    if parts.is_empty() {
        parts.push(format!("{total} revision(s)"));
    }
    p.text(&format!("About to delete {} totalling {}.", parts.join(" and "), human_size(plan.freed)));
    print_selection(ctx, &info, &selection);
    let freed = human_size(plan.freed);
    conclude(
        ctx,
        &args.delete,
        "Proceed with deletion?",
        &plan,
        &[
            ("dry_run", true.into()),
            ("repos", repos.into()),
            ("revisions", total.into()),
            ("size", freed.clone().into()),
        ],
        &format!("Deleted {repos} repo(s) and {total} revision(s); freed {freed}."),
        &[("repos_deleted", repos.into()), ("revisions_deleted", total.into()), ("freed", freed.clone().into())],
    )
}

fn rm_files(ctx: &Context, info: &CacheInfo, files: &[(usize, String)], args: &CacheRmArgs) -> Result<Status> {
    let p = &ctx.printer;
    let mut plan = DeletePlan::new(info);
    let mut labels = Vec::new();
    for (i, path) in files {
        let repo = &info.repos[*i];
        for commit in plan.add_file(repo, path) {
            labels.push(shown(&format!("{}@{commit}/{path}", repo.cache_id())).into_owned());
        }
    }
    labels.sort();
    let size = human_size(plan.freed);
    p.text(&format!("About to delete {} file(s) totalling {size}.", labels.len()));
    for label in &labels {
        p.text(&format!("  - {label}"));
    }
    conclude(
        ctx,
        &args.delete,
        "Proceed with deletion?",
        &plan,
        &[("dry_run", true.into()), ("files", labels.len().into()), ("size", size.clone().into())],
        &format!("Deleted {} file(s); freed {size}.", labels.len()),
        &[("files_deleted", labels.len().into()), ("freed", size.clone().into())],
    )
}

pub(crate) fn prune(ctx: &Context, args: &CachePruneArgs) -> Result<Status> {
    let p = &ctx.printer;
    let info = scan(&args.delete.cache_dir.clone().unwrap_or_else(|| ctx.config.hub_cache.clone()))?;
    let prune = PrunePlan::new(&info);
    if !prune.in_use.is_empty() {
        // Deleting them would break downloads in progress (huggingface_hub 2.4 deletes them).
        p.hint(&format!("Kept {} incomplete download(s) that a running process is writing.", prune.in_use.len()));
    }
    if prune.is_empty() {
        p.text("No unreferenced revisions, incomplete downloads or shared blobs found. Nothing to prune.");
        return Ok(0);
    }
    let (revisions, total) = (prune.revisions, prune.freed);
    let mut parts = Vec::new();
    if revisions > 0 {
        parts.push(format!("{revisions} unreferenced revision(s)"));
    }
    if prune.incomplete > 0 {
        parts.push(format!("{} incomplete download(s)", prune.incomplete));
    }
    if prune.shared > 0 {
        parts.push(format!("{} unreferenced shared blob(s)", prune.shared));
    }
    if prune.stale_locks > 0 {
        parts.push(format!("{} stale lock(s)", prune.stale_locks));
    }
    let summary = match parts.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => parts.join(""),
    };
    p.text(&format!("About to delete {summary} ({} total).", human_size(total)));
    print_selection(ctx, &info, &prune.detached);
    let freed = human_size(total);
    let mut dry_run: Vec<Field<'_>> = vec![
        ("dry_run", true.into()),
        ("revisions", revisions.into()),
        ("incomplete", prune.incomplete.into()),
        ("shared_blobs", prune.shared.into()),
    ];
    let mut done: Vec<Field<'_>> = vec![
        ("revisions_deleted", revisions.into()),
        ("incomplete_deleted", prune.incomplete.into()),
        ("shared_blobs_deleted", prune.shared.into()),
    ];
    // Python has no such field: it appears only when there are stale locks.
    if prune.stale_locks > 0 {
        dry_run.push(("stale_locks", prune.stale_locks.into()));
        done.push(("stale_locks_deleted", prune.stale_locks.into()));
    }
    dry_run.push(("size", freed.clone().into()));
    done.push(("freed", freed.clone().into()));
    conclude(ctx, &args.delete, "Proceed?", &prune.plan, &dry_run, &format!("Deleted {summary}; freed {freed}."), &done)
}

/// The end of every deletion: the dry-run summary; or the confirmation, the deletion, its
/// problems as warnings, and the result.
fn conclude(
    ctx: &Context,
    flags: &DeleteFlags,
    question: &str,
    plan: &DeletePlan,
    dry_run: &[Field<'_>],
    done: &str,
    done_fields: &[Field<'_>],
) -> Result<Status> {
    if flags.dry_run {
        ctx.printer.result("Dry run: no files were deleted.", dry_run);
        return Ok(0);
    }
    if !confirmed(ctx, question, flags.yes)? {
        return Ok(1);
    }
    for problem in plan.execute() {
        ctx.printer.warning(&shown(&problem));
    }
    ctx.printer.result(done, done_fields);
    Ok(0)
}

/// (whole repos, revisions of partly deleted repos, all revisions).
fn counts(info: &CacheInfo, selection: &Selection) -> (usize, usize, usize) {
    let mut repos = 0;
    let mut in_full = 0;
    let mut total = 0;
    for (i, commits) in selection {
        total += commits.len();
        if commits.len() == info.repos[*i].revisions.len() {
            repos += 1;
            in_full += commits.len();
        }
    }
    (repos, total - in_full, total)
}

fn print_selection(ctx: &Context, info: &CacheInfo, selection: &Selection) {
    let mut repos: Vec<(&CachedRepo, &BTreeSet<String>)> =
        selection.iter().map(|(i, c)| (&info.repos[*i], c)).collect();
    repos.sort_by_key(|(r, _)| (r.kind, r.id.to_lowercase()));
    for (repo, commits) in repos {
        if commits.len() == repo.revisions.len() {
            ctx.printer.text(&format!("  - {} (entire repo)", shown(&repo.cache_id())));
            continue;
        }
        ctx.printer.text(&format!("  - {}:", shown(&repo.cache_id())));
        for revision in repo.revisions.iter().filter(|r| commits.contains(&r.commit)) {
            let refs = if revision.refs.is_empty() {
                "(detached)".to_owned()
            } else {
                revision.refs.iter().map(|r| shown(r).into_owned()).collect::<Vec<_>>().join(" ")
            };
            ctx.printer.text(&format!("      {} [{refs}] {}", revision.commit, human_size(revision.size_on_disk)));
        }
    }
}

/// `-y`, or a `[y/N]` answer on a terminal; outside human mode the question is an error.
fn confirmed(ctx: &Context, question: &str, yes: bool) -> Result<bool> {
    if yes {
        return Ok(true);
    }
    if ctx.printer.format() != Format::Human {
        bail!("{question} Use --yes to skip confirmation.");
    }
    if ctx.printer.confirm(question) {
        return Ok(true);
    }
    ctx.printer.notice("Aborted!");
    Ok(false)
}

/// The repo of a cache id (`model/acme/tiny`, any case).
fn find_repo(info: &CacheInfo, cache_id: &str) -> Option<usize> {
    let wanted = cache_id.to_lowercase();
    info.repos.iter().position(|r| r.cache_id().to_lowercase() == wanted)
}

/// The cache id and path of an hf:// URI target (`None` when it is not a URI).
fn parse_uri(target: &str) -> Option<Result<(String, Option<String>)>> {
    let uri = HfUri::parse(target)?;
    Some(match uri {
        Err(e) => Err(e.into()),
        Ok(u) if u.revision.is_some() => Err(anyhow::anyhow!(
            "Revisions in hf:// URIs are not supported by `hf cache rm`. Pass the revision hash instead."
        )),
        Ok(u) => Ok((format!("{}/{}", u.repo.kind, u.repo.id), u.path)),
    })
}

/// A numbered list of cached repos, answered with numbers; plain lines a screen reader reads.
fn pick_repos(ctx: &Context, info: &CacheInfo) -> Result<Vec<String>> {
    let mut repos: Vec<&CachedRepo> = info.repos.iter().collect();
    repos.sort_by_key(|r| r.cache_id());
    if repos.is_empty() {
        return Ok(Vec::new());
    }
    ctx.printer.text("Cached repositories:");
    for (i, repo) in repos.iter().enumerate() {
        ctx.printer.text(&format!(
            "  {}) {}, {}, {} revision(s)",
            i + 1,
            shown(&repo.cache_id()),
            human_size(repo.size_on_disk),
            repo.revisions.len()
        ));
    }
    loop {
        let answer = ctx.printer.ask("Numbers of the repos to delete (for example 1 3), or Enter to cancel: ");
        let picked: Result<Vec<usize>, _> =
            answer.split([' ', ',']).filter(|s| !s.is_empty()).map(str::parse::<usize>).collect();
        match picked {
            Ok(numbers) if numbers.iter().all(|n| (1..=repos.len()).contains(n)) => {
                return Ok(numbers.into_iter().map(|n| repos[n - 1].cache_id()).collect());
            }
            _ => ctx.printer.text("Please enter numbers from the list, separated by spaces."),
        }
    }
}
