//! `HEAD|GET [/{types}]/{id}/resolve/{rev}/{path}`: file content and the metadata headers
//! clients rely on (`X-Repo-Commit`, `ETag`/`X-Linked-Etag`, sizes, `X-Xet-Hash`), and the
//! stand-in CDN.
//!
//! Regular files are answered directly with their git blob id as `ETag` (and `304` to an
//! `If-None-Match` naming it), with the `Cache-Control` of [`super::cache_policy`]. LFS files are
//! redirected (302) to the CDN listener, on another port, as the Hub redirects to its CDN;
//! without a CDN they are answered directly with their sha256 as etag. A renamed repo
//! answers 307 with a relative `Location`, like the Hub.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::access::{check_files, find, find_mirrored, repo_caller, repo_not_found};
use super::cache_policy::{CachePolicy, is_full_commit};
use super::{decode, split_repo};
use crate::HubState;
use crate::body::file_response;
use crate::hub_error::HubError;

pub(super) async fn handle(
    state: &HubState,
    headers: &HeaderMap,
    segments: &[&str],
    head: bool,
    sends: Option<Arc<crate::sendfile::Sends>>,
) -> Result<Response, HubError> {
    let Some((kind, id, rest)) = split_repo(segments, "resolve") else {
        return Err(HubError::not_found("Not Found"));
    };
    let Some((raw_rev, raw_path)) = rest.split_first().filter(|(_, p)| !p.is_empty()) else {
        return Err(HubError::not_found("Not Found"));
    };
    let caller = repo_caller(state, headers)?;
    if let Some(new_id) = state.renamed(kind, &id) {
        let prefix = segments.len() - rest.len() - 1 - id.split('/').count();
        let location = format!(
            "/{}{new_id}/resolve/{raw_rev}/{}",
            segments[..prefix].iter().map(|s| format!("{s}/")).collect::<String>(),
            raw_path.join("/")
        );
        return Ok((StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, location)]).into_response());
    }
    let revision = decode(raw_rev);
    let path: Vec<String> = raw_path.iter().map(|s| decode(s)).collect();
    let path = path.join("/");
    let (repo, commit, file) = if let Some(mirror) = state.mirror() {
        // The operator's rules, or upstream's visibility, hold for cached and uncached repos.
        let repo = find_mirrored(state, &mirror, kind, &id).await?;
        if let Some(repo) = &repo {
            check_files(repo, &caller, headers)?;
        }
        if hfkit::repo::validate_path(&path).is_err() || hfkit::repo::validate_revision(&revision).is_err() {
            return Err(HubError::not_found("Entry not found").code("EntryNotFound"));
        }
        let (commit, file) = mirror.file(state.source(), kind, &id, &revision, &path, head).await?;
        (repo, commit, file)
    } else {
        let repo = find(state, kind, &id)?.ok_or_else(|| repo_not_found(&caller))?;
        check_files(&repo, &caller, headers)?;
        let commit = repo
            .resolve(&revision)
            .ok_or_else(|| HubError::not_found(format!("Invalid rev id: {revision}")).code("RevisionNotFound"))?
            .to_owned();
        let found = hfkit::repo::validate_path(&path).ok().and_then(|()| state.source().file(&repo, &commit, &path));
        let Some(file) = found else {
            return Err(HubError::not_found("Entry not found").code("EntryNotFound").header("x-repo-commit", &commit));
        };
        (Some(repo), commit, file)
    };
    let mut extra = HeaderMap::new();
    CachePolicy::for_repo(state, repo.as_ref(), is_full_commit(&revision, &commit)).insert(&mut extra);
    extra.insert("x-repo-commit", HeaderValue::from_str(&commit).expect("hex"));
    let quoted = |s: &str| HeaderValue::from_str(&format!("\"{s}\"")).expect("hex");
    if let Some(xet) = &file.xet_hash {
        extra.insert("x-xet-hash", HeaderValue::from_str(xet).expect("hex"));
    }
    if let Some(sha256) = &file.lfs_sha256 {
        extra.insert("x-linked-etag", quoted(sha256));
        extra.insert("x-linked-size", HeaderValue::from(file.size));
        let growing = matches!(file.content, crate::repos::Content::Growing(_));
        if let Some(cdn) = state.cdn_url().filter(|_| !growing) {
            // Only this signed link opens the object on the CDN: the access check was above.
            let location = format!("{cdn}/lfs/{sha256}?{}", state.cdn_key().sign(sha256));
            extra.insert(header::LOCATION, HeaderValue::from_str(&location).expect("ascii"));
            extra.insert(header::ETAG, quoted(&file.oid));
            let mut response = Response::new(axum::body::Body::empty());
            *response.status_mut() = StatusCode::FOUND;
            *response.headers_mut() = extra;
            return Ok(response);
        }
    }
    extra.insert(header::ETAG, quoted(file.etag()));
    let fault = if head { None } else { state.take_fault(&path) };
    Ok(file_response(&file.content, file.size, headers, extra, head, fault, sends))
}

/// The stand-in CDN: LFS content by sha256, with ranges and faults, only through a link the
/// Hub routes signed after their access check (see [`crate::signed_url`]).
pub(crate) fn cdn_routes() -> Router<Arc<HubState>> {
    Router::new().route("/lfs/{sha256}", get(cdn_get).head(cdn_head))
}

async fn cdn_get(state: State<Arc<HubState>>, sha: Path<String>, uri: Uri, headers: HeaderMap) -> Response {
    cdn(&state, &sha, uri.query().unwrap_or_default(), &headers, false)
}

async fn cdn_head(state: State<Arc<HubState>>, sha: Path<String>, uri: Uri, headers: HeaderMap) -> Response {
    cdn(&state, &sha, uri.query().unwrap_or_default(), &headers, true)
}

fn cdn(state: &HubState, sha256: &str, query: &str, headers: &HeaderMap, head: bool) -> Response {
    if !state.cdn_key().verify(sha256, query) {
        return HubError::new(StatusCode::FORBIDDEN, "Request has expired or its signature is not valid.")
            .code("AccessDenied")
            .into_response();
    }
    let Some(file) = state.lfs_file(sha256) else {
        return HubError::not_found("Not Found").into_response();
    };
    let mut extra = HeaderMap::new();
    extra.insert(header::ETAG, HeaderValue::from_str(&format!("\"{sha256}\"")).expect("hex"));
    let fault = if head { None } else { state.take_fault(&format!("/lfs/{sha256}")) };
    file_response(&file.content, file.size, headers, extra, head, fault, None)
}
