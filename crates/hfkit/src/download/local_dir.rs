//! `--local-dir`: real files in a folder of the user's choice, with huggingface_hub's
//! bookkeeping in `<dir>/.cache/huggingface/` (`download/<path>.metadata` holding the commit,
//! the etag and a timestamp), so either tool skips files that are already up to date.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::transfer::Target;
use super::{Ctx, DownloadError, Downloaded, PlannedFile, place, run_bounded};
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

/// Fetches one file into the local dir unless its recorded etag already matches.
async fn fetch_into(ctx: &Ctx<'_>, local: &Path, remote: Remote<'_>, token: Option<ResolvedToken>) -> Result<()> {
    let Remote { commit, path, etag, size, url } = remote;
    let dest = local.join(path);
    if !ctx.options.force && dest.exists() && recorded_etag(local, path).as_deref() == Some(etag.as_str()) {
        return Ok(());
    }
    let mut target: Target = ctx.target(path, etag, size, url, token);
    let partial = meta_root(local).join("download").join(format!("{path}.{etag}.hfkit.incomplete"));
    if let Some(dir) = partial.parent() {
        std::fs::create_dir_all(dir).map_err(|e| FsError::new("create folder", dir, e))?;
    }
    let mut record = partial.clone().into_os_string();
    record.push(".progress");
    target.partial = partial.clone();
    target.record = Some(PathBuf::from(record));
    super::check_space(local, size, &partial)?;
    ctx.fetch_verified(&target).await?;
    if let Some(dir) = dest.parent() {
        std::fs::create_dir_all(dir).map_err(|e| FsError::new("create folder", dir, e))?;
    }
    place(&partial, &dest)?;
    write_metadata(local, path, commit, etag)?;
    ctx.progress.file_finished(path);
    Ok(())
}

pub(super) async fn download_file(ctx: &Ctx<'_>, local: &Path, path: &str) -> Result<Downloaded> {
    let dest = local.join(path);
    let done = |commit: Option<CommitHash>, cached| Downloaded {
        path: dest.clone(),
        commit,
        files: vec![PlannedFile { path: path.to_owned(), size: None, cached }],
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
    let current =
        !ctx.options.force && dest.exists() && recorded_etag(local, path).as_deref() == Some(meta.etag.as_str());
    if ctx.options.dry_run || current {
        return Ok(done(Some(meta.commit), current));
    }
    prepare(local)?;
    let size = meta.size.ok_or_else(|| DownloadError::Protocol(format!("the Hub did not say the size of `{path}`")))?;
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
    token: Option<ResolvedToken>,
) -> Result<Downloaded> {
    let plan: Vec<PlannedFile> = files
        .iter()
        .map(|e| PlannedFile {
            path: e.path.clone(),
            size: Some(e.content_size()),
            cached: !ctx.options.force
                && local.join(&e.path).exists()
                && recorded_etag(local, &e.path).as_deref() == e.etag().map(Etag::as_str),
        })
        .collect();
    let result = Downloaded { path: local.to_owned(), commit: Some(commit.clone()), files: plan.clone() };
    if ctx.options.dry_run {
        return Ok(result);
    }
    prepare(local)?;
    let todo: Vec<&TreeEntry> = files.iter().zip(&plan).filter(|(_, p)| !p.cached).map(|(e, _)| e).collect();
    ctx.progress.planned(todo.len(), todo.iter().map(|e| e.content_size()).sum());
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
