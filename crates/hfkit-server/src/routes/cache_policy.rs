//! Which answers a browser, a proxy or a CDN in front of the server may keep, and for how
//! long: the `Cache-Control` of every successful answer, named once here (docs.rs's
//! `CachePolicy`, as `SERVER.md` proposes). The Hub's own values are not recorded in the
//! spec, so the policies follow what the content allows:
//!
//! - a file of a public repo by full commit hash never changes: [`CachePolicy::Immutable`];
//! - a file by branch or tag, and the metadata of a public repo, may change at any moment:
//!   kept but revalidated ([`CachePolicy::Revalidate`]; files carry their etag, and
//!   `If-None-Match` gets `304`);
//! - whatever depends on who asks (a private or gated repo, a server refusing anonymous
//!   callers, `whoami`): [`CachePolicy::Private`];
//! - tokens (the token exchange): [`CachePolicy::NoStore`], as OAuth 2.0 requires.
//!
//! Errors get none: they are answered as the Hub answers them.

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;

use crate::HubState;
use crate::repos::{RepoView, Visibility};

/// How long an immutable answer may be kept: a year, the longest RFC 9111 suggests.
const IMMUTABLE_MAX_AGE: u32 = 31_536_000;

/// A cache policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CachePolicy {
    /// Anyone may keep it for a year without asking again.
    Immutable,
    /// Anyone may keep it, and must ask again (with its etag) before each use.
    Revalidate,
    /// Only the caller's own client may use it, and nothing keeps it.
    Private,
    /// Nothing keeps it.
    NoStore,
}

impl CachePolicy {
    /// The policy of an answer about `repo` (`None`: a repo only upstream knows, public as
    /// far as the server is told), `pinned` when it names a full commit hash.
    pub(crate) fn for_repo(state: &HubState, repo: Option<&RepoView>, pinned: bool) -> Self {
        let shared = state.anonymous_allowed() && repo.is_none_or(|r| r.visibility == Visibility::Public);
        match (shared, pinned) {
            (false, _) => Self::Private,
            (true, true) => Self::Immutable,
            (true, false) => Self::Revalidate,
        }
    }

    /// The policy of a list that depends on the caller (`/api/models`): shared only when it
    /// is the anonymous answer of a server that admits anonymous callers.
    pub(crate) fn for_caller(state: &HubState, anonymous: bool) -> Self {
        if anonymous && state.anonymous_allowed() { Self::Revalidate } else { Self::Private }
    }

    /// The `Cache-Control` value.
    pub(crate) fn value(self) -> HeaderValue {
        match self {
            Self::Immutable => {
                HeaderValue::from_str(&format!("public, max-age={IMMUTABLE_MAX_AGE}, immutable")).expect("ascii")
            }
            Self::Revalidate => HeaderValue::from_static("no-cache"),
            Self::Private => HeaderValue::from_static("private, no-store"),
            Self::NoStore => HeaderValue::from_static("no-store"),
        }
    }

    /// Sets the header on a successful (or `304`) answer that has none.
    pub(crate) fn apply(self, mut response: Response) -> Response {
        let status = response.status();
        if (status.is_success() || status == axum::http::StatusCode::NOT_MODIFIED)
            && !response.headers().contains_key(header::CACHE_CONTROL)
        {
            response.headers_mut().insert(header::CACHE_CONTROL, self.value());
        }
        response
    }

    /// Sets the header among `headers` (those of a file answer being built).
    pub(crate) fn insert(self, headers: &mut HeaderMap) {
        headers.insert(header::CACHE_CONTROL, self.value());
    }
}

/// Whether a revision names a commit by its full hash (not a branch, a tag or a prefix).
pub(crate) fn is_full_commit(revision: &str, commit: &str) -> bool {
    revision.len() == 40 && revision.eq_ignore_ascii_case(commit)
}
