//! `--local-dir`: real files in a folder of the user's choice, with huggingface_hub's
//! bookkeeping in `<dir>/.cache/huggingface/` (`download/<path>.metadata` holding the commit,
//! the etag and a timestamp), so either tool skips files that are already up to date.
//!
//! A file whose record is out of date (it was touched after the download) is re-hashed, and
//! kept when its content still matches the etag. Repo paths under the local dir's `.git/`
//! or `.cache/huggingface/` are never written: a repo (or a lying server) could otherwise
//! plant `.git/config` with hooks, or forge the bookkeeping; a snapshot skips them and says
//! so, a single file is refused. huggingface_hub 2.4 writes them.
//!
//! A file the main cache already holds is copied from it instead of downloaded, as
//! huggingface_hub does; the copy is hashed on the way, and a cached blob that does not hash
//! to the etag is passed over (Python copies it as it is).

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::partial::OwnedPartial;
use super::transfer::Target;
use super::verify::{HashKind, hash_reader};
use super::{Ctx, DownloadError, Downloaded, PlannedFile, Skipped, run_bounded};
use crate::api::TreeEntry;
use crate::auth::ResolvedToken;
use crate::error::Result;
use crate::fs::FsError;
use crate::hashes::{CommitHash, Etag};
use crate::repo;

/// `<dir>/.cache/huggingface`.
fn meta_root(local: &Path) -> PathBuf {
    local.join(".cache").join("huggingface")
}

/// `local` as huggingface_hub resolves a `local_dir` before using it: absolute, its links
/// resolved when it exists; the paths a download answers are under it.
pub(super) fn resolved(local: &Path) -> PathBuf {
    local.canonicalize().or_else(|_| std::path::absolute(local)).unwrap_or_else(|_| local.to_owned())
}

fn metadata_path(local: &Path, path: &str) -> PathBuf {
    meta_root(local).join("download").join(format!("{path}.metadata"))
}

/// Creates the bookkeeping folder with its `.gitignore` (`*`) and `CACHEDIR.TAG`.
fn prepare(local: &Path) -> Result<(), FsError> {
    let root = meta_root(local);
    std::fs::create_dir_all(&root).map_err(|e| FsError::new("create folder", &root, e))?;
    let ignore = root.join(".gitignore");
    if !ignore.exists() {
        crate::fs::write_atomic(&ignore, b"*", 0o644)?;
    }
    crate::cache::write_cachedir_tag(&root)
}

/// Why a repo path must not be written into a local dir, if it must not: a folder of it is
/// named `.git` (the local dir's own, or a nested repository's that git would read when run
/// there), or it is under `.cache/huggingface`. Names are compared without case, for
/// case-insensitive file systems.
fn reserved(path: &str) -> Option<&'static str> {
    let parts: Vec<&str> = path.split('/').collect();
    let folders = &parts[..parts.len().saturating_sub(1)];
    if folders.iter().any(|p| p.eq_ignore_ascii_case(".git")) {
        return Some("it is under a `.git/` folder, where a file could change git's configuration or hooks");
    }
    if parts.len() > 2 && parts[0].eq_ignore_ascii_case(".cache") && parts[1].eq_ignore_ascii_case("huggingface") {
        return Some("it is under the local dir's `.cache/huggingface/`, where the download records are kept");
    }
    None
}

/// Whether the local copy of `path` holds `etag`: by its record when current, else (it was
/// touched after the download, or never recorded) by hashing it, as huggingface_hub does
/// for LFS files (we do it for both kinds). A match renews the record when `renew` (not in
/// a dry run).
fn up_to_date(local: &Path, path: &str, commit: &CommitHash, etag: &Etag, size: u64, renew: bool) -> bool {
    let dest = local.join(path);
    if !dest.is_file() {
        return false;
    }
    if recorded_etag(local, path).as_deref() == Some(etag.as_str()) {
        return true;
    }
    let kind = HashKind::of(etag);
    let matches = std::fs::metadata(&dest).is_ok_and(|m| m.len() == size)
        && std::fs::File::open(&dest).and_then(|f| hash_reader(kind, size, std::io::BufReader::new(f))).ok().as_deref()
            == Some(etag.as_str());
    matches && (!renew || write_metadata(local, path, commit, etag).is_ok())
}

/// The etag recorded for `path`, if the record is current (the file was not modified after
/// it, with huggingface_hub's one second of slack).
fn recorded_etag(local: &Path, path: &str) -> Option<String> {
    let text = std::fs::read_to_string(metadata_path(local, path)).ok()?;
    let mut lines = text.lines();
    let (_commit, etag, stamp) = (lines.next()?, lines.next()?, lines.next()?);
    let stamp: f64 = stamp.trim().parse().ok()?;
    let modified = std::fs::metadata(local.join(path)).ok()?.modified().ok()?;
    let modified = modified.duration_since(UNIX_EPOCH).ok()?.as_secs_f64();
    (modified <= stamp + 1.0).then(|| etag.trim().to_owned())
}

fn write_metadata(local: &Path, path: &str, commit: &CommitHash, etag: &Etag) -> Result<(), FsError> {
    let meta = metadata_path(local, path);
    if let Some(dir) = meta.parent() {
        std::fs::create_dir_all(dir).map_err(|e| FsError::new("create folder", dir, e))?;
    }
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
    crate::fs::write_atomic(&meta, format!("{commit}\n{etag}\n{now}\n").as_bytes(), 0o644)
}

/// A file to bring into the local dir.
struct Remote<'a> {
    commit: &'a CommitHash,
    path: &'a str,
    etag: &'a Etag,
    size: u64,
    url: String,
}

/// Fetches one file into the local dir unless it is already there, holding huggingface_hub's
/// lock for it (`.cache/huggingface/download/<path>.lock`).
async fn fetch_into(ctx: &Ctx<'_>, local: &Path, remote: Remote<'_>, token: Option<ResolvedToken>) -> Result<()> {
    let Remote { commit, path, etag, size, url } = remote;
    let dest = local.join(path);
    if !ctx.options.force && up_to_date(local, path, commit, etag, size, true) {
        return Ok(());
    }
    let target: Target = ctx.target(path, etag, size, url, token);
    let meta = metadata_path(local, path);
    let dir = meta.parent().unwrap_or(local).to_owned();
    let name = meta.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let stem = name.strip_suffix(".metadata").unwrap_or(&name);
    std::fs::create_dir_all(&dir).map_err(|e| FsError::new("create folder", &dir, e))?;
    let _lock = ctx.lock(&dir.join(format!("{stem}.lock")), path).await?;
    super::check_space(local, size, &dest)?;
    let adopt = size > ctx.hub.config().transfer.chunk_size;
    let partial = OwnedPartial::claim(&dir, &format!("{stem}.{etag}"), &dir, adopt, ctx.options.use_locks)?;
    let partial = ctx.copied_or_fetched(&target, partial).await?;
    if let Some(dir) = dest.parent() {
        std::fs::create_dir_all(dir).map_err(|e| FsError::new("create folder", dir, e))?;
    }
    partial.place(&dest)?;
    write_metadata(local, path, commit, etag)?;
    ctx.progress.file_finished(path);
    Ok(())
}

pub(super) async fn download_file(ctx: &Ctx<'_>, local: &Path, path: &str) -> Result<Downloaded> {
    if let Some(reason) = reserved(path) {
        return Err(DownloadError::Reserved { path: path.to_owned(), local: local.to_owned(), reason }.into());
    }
    let dest = local.join(path);
    let done = |commit: Option<CommitHash>, cached| Downloaded {
        path: dest.clone(),
        commit,
        files: vec![PlannedFile { path: path.to_owned(), size: None, cached }],
        skipped: Vec::new(),
    };
    if ctx.offline() {
        return if dest.exists() { Ok(done(None, true)) } else { Err(ctx.not_cached(format!("`{path}`"))) };
    }
    let token = ctx.hub.request_token().await?;
    let meta = match ctx.head(path, token.as_ref(), !dest.exists()).await {
        Ok(meta) => meta,
        Err(e) if !e.is_definitive() && dest.exists() => return Ok(done(None, true)),
        Err(e) => return Err(e.into_error()),
    };
    let size = meta.size.ok_or_else(|| DownloadError::Protocol(format!("the Hub did not say the size of `{path}`")))?;
    if !ctx.options.dry_run {
        prepare(local)?;
    }
    let current = !ctx.options.force && up_to_date(local, path, &meta.commit, &meta.etag, size, !ctx.options.dry_run);
    if ctx.options.dry_run || current {
        return Ok(done(Some(meta.commit), current));
    }
    ctx.progress.planned(1, size);
    let remote = Remote { commit: &meta.commit, path, etag: &meta.etag, size, url: meta.location.clone() };
    fetch_into(ctx, local, remote, token).await?;
    Ok(done(Some(meta.commit), false))
}

pub(super) async fn snapshot(
    ctx: &Ctx<'_>,
    local: &Path,
    commit: &CommitHash,
    files: Vec<TreeEntry>,
    listing: &[TreeEntry],
    token: Option<ResolvedToken>,
) -> Result<Downloaded> {
    let (files, skipped): (Vec<TreeEntry>, Vec<TreeEntry>) =
        files.into_iter().partition(|e| reserved(&e.path).is_none());
    let skipped: Vec<Skipped> = skipped
        .into_iter()
        .map(|e| Skipped { reason: reserved(&e.path).unwrap_or_default().to_owned(), path: e.path })
        .collect();
    let plan: Vec<PlannedFile> = files
        .iter()
        .map(|e| PlannedFile {
            path: e.path.clone(),
            size: Some(e.content_size()),
            cached: !ctx.options.force
                && e.etag().is_some_and(|etag| {
                    up_to_date(local, &e.path, commit, etag, e.content_size(), !ctx.options.dry_run)
                }),
        })
        .collect();
    let result = Downloaded { path: local.to_owned(), commit: Some(commit.clone()), files: plan.clone(), skipped };
    if ctx.options.dry_run {
        return Ok(result);
    }
    prepare(local)?;
    crate::cache::write_tree_listing(&meta_root(local), commit, listing)?;
    let todo: Vec<&TreeEntry> = files.iter().zip(&plan).filter(|(_, p)| !p.cached).map(|(e, _)| e).collect();
    ctx.progress.planned(todo.len(), todo.iter().map(|e| e.content_size()).fold(0, u64::saturating_add));
    let endpoint = ctx.hub.config().endpoint.clone();
    let results = run_bounded(
        ctx.hub.config().transfer.workers.max(1),
        todo.iter().filter_map(|e| Some((e, e.etag()?))).map(|(e, etag)| {
            let url = repo::resolve_url(&endpoint, ctx.repo, commit.as_str(), &e.path);
            let token = token.clone();
            let remote = Remote { commit, path: &e.path, etag, size: e.content_size(), url };
            async move { fetch_into(ctx, local, remote, token).await }
        }),
    )
    .await;
    results.into_iter().collect::<Result<Vec<()>>>()?;
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::reserved;

    #[test]
    fn git_folders_and_the_records_are_reserved() {
        for path in [
            ".git/config",
            ".GIT/hooks/pre-commit",
            "sub/.git/config",
            ".cache/huggingface/x",
            ".Cache/HuggingFace/d/x",
        ] {
            assert!(reserved(path).is_some(), "{path}");
        }
        for path in
            [".gitattributes", ".gitignore", ".git", "sub/.git", ".cache/other/x", "cache/huggingface/x", "a.git/x"]
        {
            assert_eq!(reserved(path), None, "{path}");
        }
    }
}
