//! The API calls of downloads: file metadata (`HEAD …/resolve/…`), repo info
//! (`/api/{types}/{id}/revision/{rev}`) and recursive tree listings with pagination.
//!
//! Redirects are followed by hand, as huggingface_hub does: a `Location` on the same origin
//! (a renamed repo) is followed with the token; a `Location` on another origin (the CDN)
//! is not followed for metadata, and is requested later without `Authorization`.

use reqwest::{Method, StatusCode, Url, header};
use serde::Deserialize;

use super::{ApiError, HubClient, authorize};
use crate::auth::ResolvedToken;
use crate::cache::XetHash;
use crate::repo::{Repo, quote};

/// Most redirects followed before giving up.
const MAX_REDIRECTS: usize = 20;

/// What the metadata HEAD of a file says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileMetadata {
    /// The commit the revision resolved to (`X-Repo-Commit`).
    pub commit: String,
    /// The blob id: sha256 for LFS files, git blob sha1 otherwise (`X-Linked-Etag`/`ETag`).
    pub etag: String,
    /// The size, when the server says (`X-Linked-Size`/`Content-Length`).
    pub size: Option<u64>,
    /// Where the content is (the CDN for LFS files, else the resolve URL itself).
    pub location: String,
    /// The Xet hash of the content (`X-Xet-Hash`), naming its shared store entry; a value
    /// that is not 64 lowercase hex is ignored, as huggingface_hub ignores it.
    pub xet_hash: Option<XetHash>,
}

/// One file of a tree listing.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TreeEntry {
    /// `file` or `directory`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Path in the repo.
    pub path: String,
    /// Git blob id.
    #[serde(default)]
    pub oid: String,
    /// Size in bytes.
    #[serde(default)]
    pub size: u64,
    /// LFS details, for LFS files.
    #[serde(default)]
    pub lfs: Option<LfsInfo>,
    /// The Xet hash of Xet-backed files (`xetHash`); an invalid value is ignored.
    #[serde(default, rename = "xetHash", deserialize_with = "lenient_xet_hash")]
    pub xet_hash: Option<XetHash>,
}

/// `xetHash` as a checked [`XetHash`]; anything else (not a string, not 64 lowercase hex)
/// is `None`: the hash is only a hint to reuse a local copy.
fn lenient_xet_hash<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<XetHash>, D::Error> {
    let value = serde_json::Value::deserialize(deserializer)?;
    Ok(value.as_str().and_then(XetHash::parse))
}

/// The `lfs` block of a tree entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct LfsInfo {
    /// sha256 of the content.
    pub oid: String,
    /// Size of the content.
    pub size: u64,
}

impl TreeEntry {
    /// The etag the cache names the blob by.
    pub fn etag(&self) -> &str {
        self.lfs.as_ref().map_or(&self.oid, |l| &l.oid)
    }
}

/// The fields of repo info that downloads use.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RepoInfo {
    /// The repo id as the Hub names it.
    pub id: String,
    /// The commit of the requested revision.
    pub sha: String,
}

/// Whether two URLs share scheme, host and port.
pub fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme() && a.host_str() == b.host_str() && a.port_or_known_default() == b.port_or_known_default()
}

impl HubClient {
    /// `HEAD` the resolve URL and read the file's metadata.
    pub async fn file_metadata(
        &self,
        repo: &Repo,
        revision: &str,
        path: &str,
        token: Option<&ResolvedToken>,
    ) -> Result<FileMetadata, ApiError> {
        let mut url = crate::repo::resolve_url(self.endpoint(), repo, revision, path);
        for _ in 0..MAX_REDIRECTS {
            let mut request = self.request(Method::HEAD, &url)?.header(header::ACCEPT_ENCODING, "identity");
            if let Some(token) = token {
                request = authorize(request, token)?;
            }
            let response = self.send(request, &url, token.map(|t| &t.source)).await?;
            let headers = response.headers();
            let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
            let location = get("location");
            let is_redirect = response.status().is_redirection();
            if is_redirect && let Some(loc) = &location {
                let current = Url::parse(&url).map_err(|e| invalid(&url, &e.to_string()))?;
                let next = current.join(loc).map_err(|e| invalid(&url, &e.to_string()))?;
                if same_origin(&current, &next) && get("x-repo-commit").is_none() {
                    url = next.to_string();
                    continue;
                }
            }
            let commit = get("x-repo-commit").ok_or_else(|| {
                invalid(&url, "the 'X-Repo-Commit' header is missing, so it does not seem to be served by a Hugging Face Hub endpoint")
            })?;
            let etag = get("x-linked-etag")
                .or_else(|| get("etag"))
                .map(|e| normalize_etag(&e))
                .ok_or_else(|| invalid(&url, "the response has no ETag, so the file cannot be identified reliably"))?;
            let size = get("x-linked-size")
                .or_else(|| if is_redirect { None } else { get("content-length") })
                .and_then(|s| s.parse().ok());
            let location = match location {
                Some(loc) if is_redirect => Url::parse(&url).and_then(|u| u.join(&loc)).map_or(loc, |u| u.to_string()),
                _ => url.clone(),
            };
            let xet_hash = get("x-xet-hash").as_deref().and_then(XetHash::parse);
            return Ok(FileMetadata { commit, etag, size, location, xet_hash });
        }
        Err(invalid(&url, "too many redirects"))
    }

    /// The commit of `revision` (`GET /api/{types}/{id}/revision/{rev}`).
    pub async fn repo_info(
        &self,
        repo: &Repo,
        revision: &str,
        token: Option<&ResolvedToken>,
    ) -> Result<RepoInfo, ApiError> {
        let url =
            format!("{}/api/{}/{}/revision/{}", self.endpoint(), repo.kind.plural(), repo.id, quote(revision, false));
        let response = self.get_json(&url, token).await?;
        super::parse_json(response, &url).await
    }

    /// Every file and folder of `commit`, following `Link: rel="next"` pages.
    pub async fn list_tree(
        &self,
        repo: &Repo,
        commit: &str,
        token: Option<&ResolvedToken>,
    ) -> Result<Vec<TreeEntry>, ApiError> {
        let mut url = Some(format!(
            "{}/api/{}/{}/tree/{}?recursive=true&expand=false",
            self.endpoint(),
            repo.kind.plural(),
            repo.id,
            quote(commit, false)
        ));
        let mut entries = Vec::new();
        while let Some(current) = url.take() {
            let response = self.get_json(&current, token).await?;
            url = next_link(response.headers());
            let page: Vec<TreeEntry> = super::parse_json(response, &current).await?;
            entries.extend(page);
        }
        Ok(entries)
    }

    async fn get_json(&self, url: &str, token: Option<&ResolvedToken>) -> Result<reqwest::Response, ApiError> {
        let mut request = self.request(Method::GET, url)?;
        if let Some(token) = token {
            request = authorize(request, token)?;
        }
        let response = self.send(request, url, token.map(|t| &t.source)).await?;
        if response.status() != StatusCode::OK {
            return Err(invalid(url, &format!("unexpected status {}", response.status())));
        }
        Ok(response)
    }
}

fn invalid(url: &str, detail: &str) -> ApiError {
    ApiError::InvalidResponse { url: url.to_owned(), detail: detail.to_owned() }
}

/// huggingface_hub's etag normalisation: drop a weak `W/` prefix and surrounding quotes.
pub fn normalize_etag(raw: &str) -> String {
    raw.trim_start_matches(['W', '/']).trim_matches('"').to_owned()
}

/// The URL of `Link: <url>; rel="next"`.
fn next_link(headers: &header::HeaderMap) -> Option<String> {
    let link = headers.get(header::LINK)?.to_str().ok()?;
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        params.contains("rel=\"next\"").then(|| target.trim().trim_start_matches('<').trim_end_matches('>').to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_normalize_like_python() {
        assert_eq!(normalize_etag("W/\"abc\""), "abc");
        assert_eq!(normalize_etag("\"abc\""), "abc");
    }

    #[test]
    fn xet_hashes_in_listings_are_checked() {
        let good = "a".repeat(64);
        let entries: Vec<TreeEntry> = serde_json::from_str(&format!(
            r#"[{{"type":"file","path":"a","xetHash":"{good}"}},{{"type":"file","path":"b","xetHash":"../x"}},
               {{"type":"file","path":"c","xetHash":7}},{{"type":"file","path":"d"}}]"#
        ))
        .unwrap();
        let hashes: Vec<Option<&str>> = entries.iter().map(|e| e.xet_hash.as_ref().map(XetHash::as_str)).collect();
        assert_eq!(hashes, vec![Some(good.as_str()), None, None, None]);
    }

    #[test]
    fn link_next() {
        let mut h = header::HeaderMap::new();
        h.insert(header::LINK, "<http://x/a?cursor=2>; rel=\"next\"".parse().unwrap());
        assert_eq!(next_link(&h).as_deref(), Some("http://x/a?cursor=2"));
    }
}
