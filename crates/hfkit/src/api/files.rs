//! The API calls of downloads: file metadata (`HEAD …/resolve/…`), repo info
//! (`/api/{types}/{id}/revision/{rev}`) and recursive tree listings with pagination.
//!
//! Redirects are followed by hand, as huggingface_hub does: a `Location` on the same origin
//! (a renamed repo) is followed with the token; a `Location` on another origin (the CDN)
//! is not followed for metadata, and is requested later without `Authorization`.
//!
//! What the server says is checked here, once: the commit (`X-Repo-Commit`, `sha`) must be a
//! [`CommitHash`], the etag an [`Etag`], every tree path a safe relative path without control
//! characters, and the next page of a listing must be on the endpoint's origin (the token
//! goes there), never seen before, and within [`MAX_TREE_PAGES`].

use std::collections::HashSet;

use reqwest::{Method, StatusCode, Url, header};
use serde::Deserialize;

use super::{ApiError, HubClient, authorize};
use crate::auth::ResolvedToken;
use crate::hashes::{CommitHash, Etag, XetHash};
use crate::repo::{Repo, quote};

/// Most redirects followed before giving up.
const MAX_REDIRECTS: usize = 20;
/// Most pages of one tree listing (the Hub sends 1,000 entries a page, or 50 with `expand`).
pub(crate) const MAX_TREE_PAGES: usize = 100_000;
/// Most entries of one tree listing, all pages together (the largest repos on the Hub hold
/// a few hundred thousand files).
pub(crate) const MAX_TREE_ENTRIES: usize = 1_000_000;
/// Most bytes of one tree listing, all pages together.
pub(crate) const MAX_TREE_BYTES: usize = 512 << 20;
/// Largest size a file may claim (1 PiB): beyond any file on the Hub, and far from the sums
/// that would overflow.
pub const MAX_FILE_SIZE: u64 = 1 << 50;

/// What the metadata HEAD of a file says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileMetadata {
    /// The commit the revision resolved to (`X-Repo-Commit`).
    pub commit: CommitHash,
    /// The blob id: sha256 for LFS files, git blob sha1 otherwise (`X-Linked-Etag`/`ETag`).
    pub etag: Etag,
    /// The size, when the server says (`X-Linked-Size`/`Content-Length`).
    pub size: Option<u64>,
    /// Where the content is (the CDN for LFS files, else the resolve URL itself).
    pub location: String,
    /// The Xet hash of the content (`X-Xet-Hash`), naming its shared store entry; a value
    /// that is not 64 lowercase hex is ignored, as huggingface_hub ignores it.
    pub xet_hash: Option<XetHash>,
}

/// One file or folder of a tree listing, checked: a safe path, and for a file an etag that
/// is a content hash.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RawTreeEntry")]
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
    /// The etag the cache names a file's blob by (`None` for folders).
    #[serde(skip)]
    blob: Option<Etag>,
    /// The Xet hash of Xet-backed files (`xetHash`); an invalid value is ignored.
    pub xet_hash: Option<XetHash>,
}

/// A tree entry as it arrives, before [`TreeEntry`] checks it.
#[derive(Deserialize)]
struct RawTreeEntry {
    #[serde(rename = "type")]
    kind: String,
    path: String,
    #[serde(default)]
    oid: String,
    #[serde(default)]
    size: u64,
    #[serde(default)]
    lfs: Option<LfsInfo>,
    #[serde(default, rename = "xetHash", deserialize_with = "lenient_xet_hash")]
    xet_hash: Option<XetHash>,
}

impl TryFrom<RawTreeEntry> for TreeEntry {
    type Error = String;

    fn try_from(raw: RawTreeEntry) -> Result<Self, String> {
        crate::repo::validate_path(&raw.path).map_err(|e| e.to_string())?;
        let claimed = raw.lfs.as_ref().map_or(raw.size, |l| l.size).max(raw.size);
        if claimed > MAX_FILE_SIZE {
            return Err(format!("the size of {} ({claimed} bytes) is beyond any file", crate::text::quoted(&raw.path)));
        }
        let blob = if raw.kind == "file" {
            let id = raw.lfs.as_ref().map_or(&raw.oid, |l| &l.oid);
            let etag = Etag::parse(id).map_err(|e| format!("the etag of {}: {e}", crate::text::quoted(&raw.path)))?;
            Some(etag)
        } else {
            None
        };
        let RawTreeEntry { kind, path, oid, size, lfs, xet_hash } = raw;
        Ok(Self { kind, path, oid, size, lfs, blob, xet_hash })
    }
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
    /// The etag the cache names a file's blob by; `None` for a folder.
    pub fn etag(&self) -> Option<&Etag> {
        self.blob.as_ref()
    }

    /// The size of the content (the LFS size for LFS files).
    pub fn content_size(&self) -> u64 {
        self.lfs.as_ref().map_or(self.size, |l| l.size)
    }
}

/// The fields of repo info that downloads use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoInfo {
    /// The repo id as the Hub names it.
    pub id: String,
    /// The commit of the requested revision.
    pub sha: CommitHash,
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
            let response = self.send_metadata(request, &url, token.map(|t| &t.source)).await?;
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
            let commit = CommitHash::parse(&commit).map_err(|e| self.bad_value(&url, "X-Repo-Commit header", e))?;
            let (etag_header, etag) = match get("x-linked-etag") {
                Some(etag) => ("X-Linked-Etag header", etag),
                None => (
                    "ETag header",
                    get("etag").ok_or_else(|| {
                        invalid(&url, "the response has no ETag, so the file cannot be identified reliably")
                    })?,
                ),
            };
            let etag = Etag::from_header(&etag).map_err(|e| self.bad_value(&url, etag_header, e))?;
            let size_header = get("x-linked-size").or_else(|| if is_redirect { None } else { get("content-length") });
            let size = match size_header {
                Some(s) => Some(s.trim().parse::<u64>().ok().filter(|n| *n <= MAX_FILE_SIZE).ok_or_else(|| {
                    self.bad_value(&url, "size header", format!("{} is not a file size", crate::text::quoted(&s)))
                })?),
                None => None,
            };
            let location = match location {
                Some(loc) if is_redirect => Url::parse(&url)
                    .and_then(|u| u.join(&loc))
                    .map_err(|_| {
                        self.bad_value(&url, "Location header", format!("{} is not a URL", crate::text::quoted(&loc)))
                    })?
                    .to_string(),
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
        #[derive(Deserialize)]
        struct Raw {
            id: String,
            sha: String,
        }
        let raw: Raw = self.parse_json(response, &url).await?;
        let sha = CommitHash::parse(&raw.sha).map_err(|e| self.bad_value(&url, "sha", e))?;
        Ok(RepoInfo { id: raw.id, sha })
    }

    /// Every file and folder of `revision` (a commit, for downloads), following `Link: rel="next"` pages on the
    /// endpoint's origin.
    pub async fn list_tree(
        &self,
        repo: &Repo,
        revision: &str,
        token: Option<&ResolvedToken>,
    ) -> Result<Vec<TreeEntry>, ApiError> {
        let first = format!(
            "{}/api/{}/{}/tree/{}?recursive=true&expand=false",
            self.endpoint(),
            repo.kind.plural(),
            repo.id,
            quote(revision, false)
        );
        let endpoint = Url::parse(self.endpoint()).map_err(|e| invalid(self.endpoint(), &e.to_string()))?;
        let mut url = Some(Url::parse(&first).map_err(|e| invalid(&first, &e.to_string()))?);
        let mut seen = HashSet::new();
        let mut entries = Vec::new();
        let mut bytes = 0;
        while let Some(current) = url.take() {
            if !seen.insert(current.clone()) {
                return Err(self.bad_value(
                    current.as_str(),
                    "Link header",
                    "points back to a page already read (a loop)",
                ));
            }
            if seen.len() > MAX_TREE_PAGES {
                return Err(self.bad_value(
                    current.as_str(),
                    "Link header",
                    format!("leads past {MAX_TREE_PAGES} pages"),
                ));
            }
            let response = self.get_json(current.as_str(), token).await?;
            let next = super::headers::next_link(response.headers(), &current).map_err(|raw| {
                self.bad_value(current.as_str(), "Link header", format!("{} is not a URL", crate::text::quoted(&raw)))
            })?;
            if let Some(next) = &next
                && !same_origin(next, &endpoint)
            {
                return Err(self.bad_value(
                    current.as_str(),
                    "Link header",
                    format!(
                        "points to another origin ({}); the token is only sent to {}",
                        crate::text::quoted(next.as_str()),
                        self.endpoint()
                    ),
                ));
            }
            let body = self.read_body(response, current.as_str(), super::MAX_JSON_BODY).await?;
            bytes += body.len();
            let page: Vec<TreeEntry> = serde_json::from_slice(&body).map_err(|e| {
                let detail = crate::text::escape_line(&e.to_string()).into_owned();
                self.bad_value(current.as_str(), "tree listing", format!("has an entry that cannot be used: {detail}"))
            })?;
            entries.extend(page);
            if entries.len() > MAX_TREE_ENTRIES || bytes > MAX_TREE_BYTES {
                return Err(self.bad_value(
                    current.as_str(),
                    "tree listing",
                    format!(
                        "goes past {MAX_TREE_ENTRIES} entries or {} MiB, beyond any repo on the Hub",
                        MAX_TREE_BYTES >> 20
                    ),
                ));
            }
            url = next;
        }
        Ok(entries)
    }

    /// A metadata `GET` of `url` with `token` (if any), answered `200 OK` within
    /// `HF_HUB_ETAG_TIMEOUT`; any other status is an error.
    pub async fn get_json(&self, url: &str, token: Option<&ResolvedToken>) -> Result<reqwest::Response, ApiError> {
        let mut request = self.request(Method::GET, url)?;
        if let Some(token) = token {
            request = authorize(request, token)?;
        }
        let response = self.send_metadata(request, url, token.map(|t| &t.source)).await?;
        if response.status() != StatusCode::OK {
            return Err(invalid(url, &format!("unexpected status {}", response.status())));
        }
        Ok(response)
    }

    /// A metadata `POST` of the form `form` (`key=value&…`) to `url`, as
    /// [`HubClient::get_json`] sends a `GET` (`get_paths_info`'s request).
    pub async fn post_form_json(
        &self,
        url: &str,
        form: String,
        token: Option<&ResolvedToken>,
    ) -> Result<reqwest::Response, ApiError> {
        let mut request = self
            .request(Method::POST, url)?
            .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(form);
        if let Some(token) = token {
            request = authorize(request, token)?;
        }
        let response = self.send_metadata(request, url, token.map(|t| &t.source)).await?;
        if response.status() != StatusCode::OK {
            return Err(invalid(url, &format!("unexpected status {}", response.status())));
        }
        Ok(response)
    }
}

fn invalid(url: &str, detail: &str) -> ApiError {
    ApiError::InvalidResponse { url: url.to_owned(), detail: detail.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_entries_are_checked_as_they_are_read() {
        let sha1 = "ce013625030ba8dba906f756967f9e9ca394464a";
        let ok: TreeEntry =
            serde_json::from_str(&format!(r#"{{"type":"file","path":"a/b.txt","oid":"{sha1}","size":6}}"#)).unwrap();
        assert_eq!(ok.etag().map(Etag::as_str), Some(sha1));
        let dir: TreeEntry = serde_json::from_str(r#"{"type":"directory","path":"a","oid":"x","size":0}"#).unwrap();
        assert_eq!(dir.etag(), None);
        for bad in [
            format!(r#"{{"type":"file","path":"../x","oid":"{sha1}"}}"#),
            format!(r#"{{"type":"file","path":"a[2Jb","oid":"{sha1}"}}"#),
            r#"{"type":"file","path":"a","oid":"../../etc"}"#.to_owned(),
            format!(r#"{{"type":"file","path":"a","oid":"{sha1}","lfs":{{"oid":"nope","size":1}}}}"#),
        ] {
            assert!(serde_json::from_str::<TreeEntry>(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn xet_hashes_in_listings_are_checked() {
        let good = "a".repeat(64);
        let entries: Vec<TreeEntry> = serde_json::from_str(&format!(
            r#"[{{"type":"file","path":"a","oid":"{o}","xetHash":"{good}"}},{{"type":"file","path":"b","oid":"{o}","xetHash":"../x"}},
               {{"type":"file","path":"c","oid":"{o}","xetHash":7}},{{"type":"file","path":"d","oid":"{o}"}}]"#,
            o = "e".repeat(40)
        ))
        .unwrap();
        let hashes: Vec<Option<&str>> = entries.iter().map(|e| e.xet_hash.as_ref().map(XetHash::as_str)).collect();
        assert_eq!(hashes, vec![Some(good.as_str()), None, None, None]);
    }
}
