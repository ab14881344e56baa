//! Pull-through: a file the served cache lacks is fetched from an upstream Hub
//! (huggingface.co, or another `hf serve`) and kept in the cache, so the next client is
//! answered locally and `hf cache ls` on the server shows it.
//!
//! - The fetch is `hfkit::download`, the library's own download: huggingface_hub's lock,
//!   a partial file of its own, verification against the etag (sha256 or git sha1) and an
//!   atomic rename into `blobs/`. Wrong bytes are never kept.
//! - Concurrent requests for one file share one upstream transfer ([`inflight`]) and are
//!   fed as the bytes arrive.
//! - Branch names are resolved upstream and remembered for `ref_ttl`, and so are a file's
//!   metadata at a commit and a repo's visibility ([`memo`]); a commit hash whose file is
//!   cached or being fetched needs no upstream call. When upstream cannot be reached, what is cached
//!   is served and the rest gets `502` with a sentence. Offline, upstream is never called.
//! - A repo takes the visibility the operator gives it; without one, what upstream says
//!   ([`Mirror::upstream_visibility`]): a gated upstream repo stays gated on the mirror until
//!   the operator grants a user, whatever the server's own token may read upstream.
//! - The upstream token is the server's own ([`MirrorConfig::token`]); a client's token is
//!   never sent upstream. Upstream headers are never passed on: a Xet-backed file is
//!   fetched as plain bytes through the upstream's redirect and served as a plain file.

pub mod inflight;
mod memo;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use hfkit::api::{ApiError, FileMetadata};
use hfkit::cache::RepoCache;
use hfkit::config::TransferSettings;
use hfkit::download::DownloadOptions;
use hfkit::hashes::CommitHash;
use hfkit::repo::{Repo, RepoType};
use hfkit::{Config, Hub, Token};

use crate::hub_error::HubError;
use crate::repos::{Content, FileEntry, RepoSource, RepoView, Visibility};
use inflight::InFlight;
use memo::Memo;

/// How long upstream's metadata of a file (its location, perhaps a signed link) is handed
/// to the fetch instead of asking again: far less than any signed link lives.
const FRESH_METADATA: Duration = Duration::from_secs(60);

/// The memory a mirror's upstream fetches may hold ahead of their in-order hash
/// ([`TransferSettings::window`]), twice `hf download`'s: a server can afford it, and each
/// client of a cold file waits for the fetch. One cold client of a 256 MiB file across the
/// 40 ms link (`bench/mirror.py`), medians of 5 alternating runs: 0.88x the direct download
/// with `hf download`'s 24 MiB, 0.97x with 48 MiB.
pub const FETCH_WINDOW: u64 = 48 << 20;

/// A branch name of a repo: `kind`, repo id, revision.
type RefKey = (String, String, String);

/// How a mirror reaches its upstream.
#[derive(Clone)]
pub struct MirrorConfig {
    /// The upstream Hub's base URL (`https://huggingface.co`, or another `hf serve`).
    pub upstream: String,
    /// The server's own token for the upstream (gated and private upstream repos). It is
    /// sent only to the upstream, and never logged.
    pub token: Option<Token>,
    /// Never call upstream: serve the cache only.
    pub offline: bool,
    /// How long a branch name resolved upstream is remembered.
    pub ref_ttl: Duration,
    /// How upstream files are fetched (parallel ranged connections, chunk size, retries).
    pub transfer: TransferSettings,
}

impl std::fmt::Debug for MirrorConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MirrorConfig")
            .field("upstream", &self.upstream)
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .field("offline", &self.offline)
            .field("ref_ttl", &self.ref_ttl)
            .field("transfer", &self.transfer)
            .finish()
    }
}

/// The pull-through side of a served cache.
#[derive(Debug)]
pub struct Mirror {
    upstream: String,
    hub: Hub,
    root: PathBuf,
    offline: bool,
    /// Where upstream's branches point, for `ref_ttl`.
    refs: Memo<RefKey, CommitHash>,
    /// Upstream's visibility of a repo (`kind`, id), for `ref_ttl`.
    visibility: Memo<(String, String), Visibility>,
    /// Upstream's metadata of a file at a commit (it cannot change; kept for `ref_ttl` from
    /// when it was asked, so that a revoked upstream access is noticed).
    files: Memo<inflight::Key, FileMetadata>,
    inflight: Arc<InFlight>,
}

/// Why upstream could not answer.
enum Upstream {
    /// Not reachable, or not answering like a Hub: the cache may still answer.
    Down(String),
    /// A definite answer (not found, gated…), passed on to the client.
    Refused(HubError),
}

impl Mirror {
    /// A mirror of `config.upstream` that keeps what it fetches in the cache at `root`.
    pub fn new(config: &MirrorConfig, root: &Path) -> hfkit::Result<Self> {
        // No environment and no token file of this machine: only the token given.
        let mut settings = Config::isolated(root, &config.upstream);
        settings.disable_implicit_token = true;
        settings.transfer = config.transfer.clone();
        let hub = Hub::new(settings, config.token.clone());
        hub.client()?;
        Ok(Self {
            upstream: config.upstream.trim_end_matches('/').to_owned(),
            hub,
            root: root.to_owned(),
            offline: config.offline,
            refs: Memo::new(config.ref_ttl),
            visibility: Memo::new(config.ref_ttl),
            files: Memo::new(config.ref_ttl),
            inflight: Arc::default(),
        })
    }

    /// How many upstream file transfers were started.
    pub fn fetches_started(&self) -> u64 {
        self.inflight.started()
    }

    /// How many upstream file transfers are running now.
    pub fn fetches_running(&self) -> usize {
        self.inflight.running()
    }

    fn remembered(&self, kind: &str, id: &str, revision: &str) -> Option<CommitHash> {
        self.refs.get(&(kind.to_owned(), id.to_owned(), revision.to_owned()))
    }

    fn remember(&self, kind: &str, id: &str, revision: &str, commit: &CommitHash) {
        self.refs.put((kind.to_owned(), id.to_owned(), revision.to_owned()), commit.clone());
    }

    /// The file `path` of `id` at `revision`: from the cache when it has it, else from
    /// upstream (a `HEAD` answers from upstream's metadata alone; a `GET` joins or starts
    /// the one fetch of the file). Answers the commit and the file.
    pub(crate) async fn file(
        &self,
        source: &dyn RepoSource,
        kind: &str,
        id: &str,
        revision: &str,
        path: &str,
        head: bool,
    ) -> Result<(String, FileEntry), HubError> {
        let repo = kind
            .parse::<RepoType>()
            .ok()
            .and_then(|k| Repo::new(k, id).ok())
            .ok_or_else(|| HubError::not_found("Repository not found").code("RepoNotFound"))?;
        let local = source.get(kind, id);
        let cached = |commit: &str| -> Option<(String, FileEntry)> {
            let view = source.get(kind, id)?;
            source.file(&view, commit, path).map(|f| (commit.to_owned(), f))
        };
        let pinned = CommitHash::parse(revision).ok();
        if let Some(found) = pinned.as_ref().and_then(|c| cached(c.as_str())) {
            return Ok(found);
        }
        if self.offline {
            return local_only(local.as_ref(), revision, &cached)
                .ok_or_else(|| not_cached(&repo, revision, path, "the mirror is offline (it makes no upstream call)"));
        }
        let remembered = if pinned.is_none() { self.remembered(kind, id, revision) } else { None };
        if let Some(found) = remembered.as_ref().and_then(|c| cached(c.as_str())) {
            return Ok(found);
        }
        let key_at = |commit: &CommitHash| -> inflight::Key {
            (kind.to_owned(), id.to_owned(), commit.as_str().to_owned(), path.to_owned())
        };
        let commit = pinned.as_ref().or(remembered.as_ref());
        if let Some(found) = commit.and_then(|c| self.in_flight(&key_at(c), c, head)) {
            return Ok(found);
        }
        let at = remembered.clone().map_or_else(|| revision.to_owned(), |c| c.as_str().to_owned());
        let meta = match commit.and_then(|c| self.files.learned(&key_at(c))) {
            Some(learned) => Ok(learned),
            None => self.head(&repo, &at, path).await.map(|meta| {
                self.files.put(key_at(&meta.commit), meta.clone());
                (meta, Instant::now())
            }),
        };
        let (meta, asked) = match meta {
            Ok(learned) => learned,
            Err(Upstream::Refused(error)) => return Err(error),
            Err(Upstream::Down(why)) => {
                crate::log::line(&format!("mirror: upstream {} cannot be reached: {why}", self.upstream));
                return local_only(local.as_ref(), revision, &cached).ok_or_else(|| {
                    HubError::new(
                        StatusCode::BAD_GATEWAY,
                        format!(
                            "The upstream {} cannot be reached ({why}); this mirror serves only what it has cached, and `{path}` of {} at `{revision}` is not cached. Try again later.",
                            self.upstream, repo.id
                        ),
                    )
                });
            }
        };
        let branch = (pinned.is_none() && revision != meta.commit.as_str()).then(|| revision.to_owned());
        if remembered.is_none()
            && let Some(branch) = &branch
        {
            self.remember(kind, id, branch, &meta.commit);
        }
        let cache = RepoCache::new(&self.root, &repo);
        if let Some(found) = cached(meta.commit.as_str()) {
            if let Some(branch) = &branch {
                let _ = cache.write_ref(branch, &meta.commit);
            }
            return Ok(found);
        }
        let size = meta
            .size
            .ok_or_else(|| Upstream::Down(format!("it did not say the size of `{path}`")).into_error(&self.upstream))?;
        let content = if head {
            Content::Bytes(bytes::Bytes::new())
        } else {
            let key = key_at(&meta.commit);
            // Where upstream said the bytes are may be a signed link that expires: handed to
            // the fetch only while fresh, else the fetch asks again.
            let fresh = (asked.elapsed() < FRESH_METADATA).then(|| meta.clone());
            let fetch = self.fetch(repo, meta.commit.clone(), path.to_owned(), branch, fresh);
            Content::Growing(self.inflight.join_or_start(key, cache, meta.etag.clone(), size, fetch))
        };
        Ok((meta.commit.as_str().to_owned(), FileEntry::from_etag(&meta.etag, size, content)))
    }

    /// The file `key` (at `commit`) while its fetch runs, joined without asking
    /// upstream: a client that downloads in parallel ranges asks for each range with the
    /// commit, and each upstream `HEAD` cost it a round trip to upstream before its bytes
    /// (seventeen of them for one 256 MiB file across the 40 ms link).
    fn in_flight(&self, key: &inflight::Key, commit: &CommitHash, head: bool) -> Option<(String, FileEntry)> {
        let download = self.inflight.fetching(key)?;
        let (etag, size) = (download.etag().clone(), download.size());
        let content = if head { Content::Bytes(bytes::Bytes::new()) } else { Content::Growing(download) };
        Some((commit.as_str().to_owned(), FileEntry::from_etag(&etag, size, content)))
    }

    /// The fetch of one file into the cache, by the library's download; `branch`, if the
    /// request named one, is pointed at the commit once the file is in place.
    fn fetch(
        &self,
        repo: Repo,
        commit: CommitHash,
        path: String,
        branch: Option<String>,
        metadata: Option<FileMetadata>,
    ) -> impl FnOnce(inflight::Sink) -> std::pin::Pin<Box<dyn Future<Output = Result<(), String>> + Send>> {
        let (hub, root, upstream) = (self.hub.clone(), self.root.clone(), self.upstream.clone());
        move |sink| {
            Box::pin(async move {
                let options = DownloadOptions {
                    revision: commit.as_str().to_owned(),
                    cache_dir: Some(root.clone()),
                    offline: Some(false),
                    metadata,
                    ..DownloadOptions::default()
                };
                let started = Instant::now();
                match hub.repo(repo.clone()).download_file(&path, &options, &sink).await {
                    Ok(_) => {
                        if let Some(branch) = branch {
                            let _ = RepoCache::new(&root, &repo).write_ref(&branch, &commit);
                        }
                        let secs = started.elapsed().as_secs_f64();
                        crate::log::line(&format!("mirror: fetched {} {path} at {commit} in {secs:.1}s", repo.id));
                        Ok(())
                    }
                    Err(e) => {
                        let why = e.to_string().lines().next().unwrap_or_default().to_owned();
                        crate::log::line(&format!(
                            "mirror: fetching {} {path} at {commit} from {upstream} failed: {why}",
                            repo.id
                        ));
                        Err(why)
                    }
                }
            })
        }
    }

    /// What upstream says of the repo's visibility (`private`, `gated` in its repo info),
    /// remembered for the ref TTL; `None` when offline or when upstream refuses the mirror
    /// the repo (it will refuse its files too). An error when upstream does not answer: then
    /// nothing of the repo may be passed on unchecked (the cache's rules answer for what it
    /// holds).
    pub(crate) async fn upstream_visibility(&self, kind: &str, id: &str) -> Result<Option<Visibility>, HubError> {
        if self.offline {
            return Ok(None);
        }
        let key = (kind.to_owned(), id.to_owned());
        if let Some(visibility) = self.visibility.get(&key) {
            return Ok(Some(visibility));
        }
        let info = match self.call_api(&format!("/api/{kind}s/{id}"), None, Identity::Server).await {
            Ok((info, _)) => info,
            Err(Upstream::Refused(_)) => return Ok(None),
            Err(Upstream::Down(why)) => {
                crate::log::line(&format!("mirror: upstream {} cannot be reached: {why}", self.upstream));
                return Err(HubError::new(
                    StatusCode::BAD_GATEWAY,
                    format!(
                        "The upstream {} did not say who may see {id} ({why}); this mirror serves only what it has cached of it. Try again later.",
                        self.upstream
                    ),
                ));
            }
        };
        let gated = info.get("gated").is_some_and(|g| g.as_bool() != Some(false) && !g.is_null());
        let visibility = if info.get("private").and_then(serde_json::Value::as_bool) == Some(true) {
            Visibility::Private
        } else if gated {
            Visibility::Gated
        } else {
            Visibility::Public
        };
        self.visibility.put(key, visibility);
        Ok(Some(visibility))
    }

    /// Upstream's answer to the repo API call `path` (path and query, `/api/…`), passed on
    /// as JSON without Xet hashes, its `Link` (pagination) pointed at `own` (this server's
    /// base URL). `Ok(None)` when offline or when upstream cannot answer: the cache
    /// answers then. Upstream refusals (not found, gated…) are passed on.
    pub(crate) async fn api(&self, path: &str, own: Option<&str>) -> Result<Option<Response>, HubError> {
        self.answer(path, None, own).await
    }

    /// Upstream's answer to a `POST` of the form `form` to the repo API call `path`
    /// (`…/paths-info/{rev}`), as [`Mirror::api`] passes on a `GET`'s.
    pub(crate) async fn api_post(&self, path: &str, form: String) -> Result<Option<Response>, HubError> {
        self.answer(path, Some(form), None).await
    }

    async fn answer(&self, path: &str, form: Option<String>, own: Option<&str>) -> Result<Option<Response>, HubError> {
        Ok(self.json(path, form, own, Identity::Server).await?.map(|(body, link)| {
            let mut response = axum::Json(body).into_response();
            if let Some(link) = link {
                response.headers_mut().insert(header::LINK, link);
            }
            response
        }))
    }

    /// Upstream's list of repos (`path`: `/api/{types}?…`) as anyone may see it there, asked
    /// without the server's token, at most [`MAX_LISTED`] of them, and its next page's link
    /// pointed at `own`. `Ok(None)` (the cache's list answers) when offline, or when upstream
    /// cannot answer, refuses, or answers with something that is not a list. Not the token:
    /// upstream would add the private repos the token sees, and a list asked with `expand`
    /// need not say which ones are private.
    pub(crate) async fn public_list(
        &self,
        path: &str,
        own: Option<&str>,
    ) -> Option<(Vec<serde_json::Value>, Option<HeaderValue>)> {
        if self.offline {
            return None;
        }
        let not_used = |why: &str| {
            crate::log::line(&format!("mirror: the list of {} answers from the cache: {why}", self.upstream));
            None
        };
        let (body, link) = match self.call_api_bytes(path, None, Identity::Anonymous).await {
            Ok(answer) => answer,
            Err(Upstream::Down(why)) => return not_used(&why),
            Err(Upstream::Refused(_)) => return not_used("upstream refused to answer it without a token"),
        };
        let Ok(Listed(mut items)) = serde_json::from_slice::<Listed>(&body) else {
            return not_used("upstream's answer is not a JSON list");
        };
        items.iter_mut().for_each(strip_xet);
        Some((items, link.and_then(|next| self.pointed_here(&next, own?))))
    }

    async fn json(
        &self,
        path: &str,
        form: Option<String>,
        own: Option<&str>,
        identity: Identity,
    ) -> Result<Option<(serde_json::Value, Option<HeaderValue>)>, HubError> {
        if self.offline {
            return Ok(None);
        }
        match self.call_api(path, form, identity).await {
            Ok((body, next)) => Ok(Some((body, next.zip(own).and_then(|(next, own)| self.pointed_here(&next, own))))),
            Err(Upstream::Refused(error)) => Err(error),
            Err(Upstream::Down(why)) => {
                crate::log::line(&format!("mirror: upstream {} cannot be reached: {why}", self.upstream));
                Ok(None)
            }
        }
    }

    /// Upstream's JSON answer to `path`: a `GET`, or a `POST` of `form` when given.
    async fn call_api(
        &self,
        path: &str,
        form: Option<String>,
        identity: Identity,
    ) -> Result<(serde_json::Value, Option<url::Url>), Upstream> {
        let (body, link) = self.call_api_bytes(path, form, identity).await?;
        let mut json: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| Upstream::Down(format!("not JSON: {e}")))?;
        strip_xet(&mut json);
        Ok((json, link))
    }

    /// An upstream answer's next page (its `Link: <…>; rel="next"`, as the client reads it)
    /// pointed at `own` (this server's base URL): only a page on upstream's own origin, below
    /// its base path, is passed on (a lying upstream could name another host, where clients
    /// would send their token).
    fn pointed_here(&self, next: &url::Url, own: &str) -> Option<HeaderValue> {
        let upstream = url::Url::parse(&self.upstream).ok()?;
        if next.origin() != upstream.origin() || !next.username().is_empty() || next.password().is_some() {
            return None;
        }
        let base = upstream.path().trim_end_matches('/');
        let rest = next.path().strip_prefix(base).filter(|r| r.starts_with('/'))?;
        let query = next.query().map(|q| format!("?{q}")).unwrap_or_default();
        HeaderValue::from_str(&format!("<{own}{rest}{query}>; rel=\"next\"")).ok()
    }

    /// Upstream's answer to `path` as bytes (at most [`hfkit::api::MAX_JSON_BODY`]), and its
    /// next page (a `Link` that is not a URL is no next page).
    async fn call_api_bytes(
        &self,
        path: &str,
        form: Option<String>,
        identity: Identity,
    ) -> Result<(Vec<u8>, Option<url::Url>), Upstream> {
        let down =
            |e: &dyn std::fmt::Display| Upstream::Down(e.to_string().lines().next().unwrap_or_default().to_owned());
        let client = self.hub.client().map_err(|e| down(&e))?;
        let token = match identity {
            Identity::Server => self.hub.request_token().await.map_err(|e| down(&e))?,
            Identity::Anonymous => None,
        };
        let url = format!("{}{path}", self.upstream);
        let response = match form {
            Some(form) => client.post_form_json(&url, form, token.as_ref()).await,
            None => client.get_json(&url, token.as_ref()).await,
        }
        .map_err(|e| classify(e, "this repository"))?;
        let next = url::Url::parse(&url)
            .ok()
            .and_then(|requested| hfkit::api::headers::next_link(response.headers(), &requested).ok().flatten());
        let body = client.read_body(response, &url, hfkit::api::MAX_JSON_BODY).await.map_err(|e| down(&e))?;
        Ok((body, next))
    }

    /// Upstream's metadata of `path` at `revision`, asked with the server's token only.
    async fn head(&self, repo: &Repo, revision: &str, path: &str) -> Result<FileMetadata, Upstream> {
        let client = self.hub.client().map_err(|e| Upstream::Down(e.to_string()))?;
        let token = self.hub.request_token().await.map_err(|e| Upstream::Down(e.to_string()))?;
        client.file_metadata(repo, revision, path, token.as_ref()).await.map_err(|e| classify(e, repo.id.as_str()))
    }
}

impl Upstream {
    fn into_error(self, upstream: &str) -> HubError {
        match self {
            Self::Refused(error) => error,
            Self::Down(why) => {
                HubError::new(StatusCode::BAD_GATEWAY, format!("The upstream {upstream} did not answer usably: {why}"))
            }
        }
    }
}

/// Most repos of upstream's list passed on per request (the Hub's largest page); more are
/// read past, not kept, so that a lying upstream's list costs its bytes and no more.
pub(crate) const MAX_LISTED: usize = 1000;

/// Upstream's list of repos: its first [`MAX_LISTED`] entries.
struct Listed(Vec<serde_json::Value>);

impl<'de> serde::Deserialize<'de> for Listed {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries;
        impl<'de> serde::de::Visitor<'de> for Entries {
            type Value = Listed;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a list of repos")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Listed, A::Error> {
                let mut kept = Vec::new();
                while kept.len() < MAX_LISTED {
                    match seq.next_element()? {
                        Some(entry) => kept.push(entry),
                        None => return Ok(Listed(kept)),
                    }
                }
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(Listed(kept))
            }
        }
        deserializer.deserialize_seq(Entries)
    }
}

/// Who the mirror is when it asks upstream.
#[derive(Debug, Clone, Copy)]
enum Identity {
    /// With the server's upstream token (if it has one).
    Server,
    /// With no token: what anyone may see upstream.
    Anonymous,
}

/// What an upstream failure means for the client.
fn classify(error: ApiError, what: &str) -> Upstream {
    match error {
        ApiError::Unauthorized { .. } => Upstream::Refused(
            HubError::not_found(format!(
                "Repository not found: the upstream refused the mirror access to {what} (the mirror's operator can set an upstream token)"
            ))
            .code("RepoNotFound"),
        ),
        ApiError::Status { status, error_code, server_message, details, .. } if status.is_client_error() => {
            let code = match error_code.as_deref() {
                Some("GatedRepo") => Some("GatedRepo"),
                Some("RepoNotFound") => Some("RepoNotFound"),
                Some("RevisionNotFound") => Some("RevisionNotFound"),
                Some("EntryNotFound") => Some("EntryNotFound"),
                _ => None,
            };
            let status = StatusCode::from_u16(status.as_u16()).unwrap_or(StatusCode::NOT_FOUND);
            let mut answer = HubError::new(status, server_message.unwrap_or_else(|| "Not Found".to_owned()));
            if let Some(code) = code {
                answer = answer.code(code);
            }
            if let Some(commit) = &details.repo_commit {
                answer = answer.header("x-repo-commit", commit.as_str());
            }
            Upstream::Refused(answer)
        }
        other => Upstream::Down(other.to_string().lines().next().unwrap_or_default().to_owned()),
    }
}

/// Removes every `xetHash` of an upstream answer, so clients fetch through the mirror.
fn strip_xet(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            map.remove("xetHash");
            map.values_mut().for_each(strip_xet);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(strip_xet),
        _ => {}
    }
}

/// The cached file of `revision` as the cache's own refs resolve it.
fn local_only(
    local: Option<&RepoView>,
    revision: &str,
    cached: &dyn Fn(&str) -> Option<(String, FileEntry)>,
) -> Option<(String, FileEntry)> {
    cached(local?.resolve(revision)?)
}

/// The answer for a file neither cached nor fetchable.
fn not_cached(repo: &Repo, revision: &str, path: &str, why: &str) -> HubError {
    HubError::not_found(format!("`{path}` of {} at `{revision}` is not in this mirror's cache, and {why}.", repo.id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mirror_of(upstream: &str) -> Mirror {
        let config = MirrorConfig {
            upstream: upstream.to_owned(),
            token: None,
            offline: false,
            ref_ttl: Duration::from_secs(60),
            transfer: TransferSettings::default(),
        };
        Mirror::new(&config, Path::new("/nonexistent")).unwrap()
    }

    /// What `mirror` passes on of an upstream answer to `requested` with `Link: link`.
    fn passed_on(mirror: &Mirror, requested: &str, link: &str, own: &str) -> Option<String> {
        let mut headers = axum::http::HeaderMap::new();
        headers.insert(header::LINK, HeaderValue::from_str(link).unwrap());
        let requested = url::Url::parse(requested).unwrap();
        let next = hfkit::api::headers::next_link(&headers, &requested).ok().flatten()?;
        mirror.pointed_here(&next, own).map(|v| v.to_str().unwrap().to_owned())
    }

    #[test]
    fn only_a_next_page_of_upstreams_own_origin_is_pointed_at_the_mirror() {
        let m = mirror_of("http://127.0.0.1:41521");
        let next = |link: &str| passed_on(&m, "http://127.0.0.1:41521/api/models", link, "http://hub.corp");
        assert_eq!(
            next(r#"<http://127.0.0.1:41521/api/models?cursor=abc&limit=2>; rel="next""#).as_deref(),
            Some(r#"<http://hub.corp/api/models?cursor=abc&limit=2>; rel="next""#)
        );
        // Another host, however it is spelled, is never passed on.
        for hostile in [
            r#"<http://127.0.0.1:41521.evil.example/api/models?cursor=2>; rel="next""#,
            r#"<http://127.0.0.1:41521@evil.example/api/models>; rel="next""#,
            r#"<http://user:pw@127.0.0.1:41521/api/models>; rel="next""#,
            r#"<https://127.0.0.1:41521/api/models>; rel="next""#,
            r#"<http://127.0.0.1:41522/api/models>; rel="next""#,
            r#"<http://127.0.0.1:41521/api/models>; rel="prev""#,
        ] {
            assert_eq!(next(hostile), None, "{hostile}");
        }
        // A relative target is upstream's own page, as clients read it.
        assert_eq!(
            next(r#"</api/models?cursor=2>; rel="next""#).as_deref(),
            Some(r#"<http://hub.corp/api/models?cursor=2>; rel="next""#)
        );
        // Of several link-values, the next page's alone.
        assert_eq!(
            next(r#"<https://evil/x>; rel="prev", <http://127.0.0.1:41521/api/models?cursor=3>; rel="next""#)
                .as_deref(),
            Some(r#"<http://hub.corp/api/models?cursor=3>; rel="next""#)
        );
        // Below the upstream's base path only.
        let based = mirror_of("http://127.0.0.1:41521/hub");
        let next = |link: &str| passed_on(&based, "http://127.0.0.1:41521/hub/api/models", link, "http://m");
        assert_eq!(
            next(r#"<http://127.0.0.1:41521/hub/api/models?cursor=1>; rel="next""#).as_deref(),
            Some(r#"<http://m/api/models?cursor=1>; rel="next""#)
        );
        assert_eq!(next(r#"<http://127.0.0.1:41521/hubx/api/models>; rel="next""#), None);
    }

    #[test]
    fn a_list_keeps_its_first_thousand_entries_and_reads_past_the_rest() {
        let body = format!("[{}]", vec![r#"{"id":"a/b"}"#; MAX_LISTED + 500].join(","));
        let Listed(items) = serde_json::from_str(&body).unwrap();
        assert_eq!(items.len(), MAX_LISTED);
        assert!(serde_json::from_str::<Listed>(r#"{"id":"a/b"}"#).is_err(), "not a list");
    }
}
