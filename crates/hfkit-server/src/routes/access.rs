//! The routes' side of access control: the request's [`Caller`], the repo as the operator
//! set it (the store's visibility, owner and grants over what the source says), and the
//! policy's refusals ([`crate::auth::access`]) as the Hub answers them.

use axum::http::{HeaderMap, StatusCode, header};

use super::bearer;
use crate::HubState;
use crate::auth::access::{self, Denied, RepoAccess};
use crate::auth::{AuthError, Caller, authenticate};
use crate::hub_error::HubError;
use crate::repos::{RepoView, Visibility};
use crate::store::StoreError;

/// 500 for a store that failed: the details go to the log, not to the client.
pub(super) fn store_failed(e: &StoreError) -> HubError {
    crate::log::line(&format!("store: {e}"));
    HubError::new(StatusCode::INTERNAL_SERVER_ERROR, "The server's database failed; try again in a moment.")
}

/// The caller of a request: anonymous without a token, a 401 for an unknown or revoked one.
/// Without a token, a browser's live session stands for its user (so a signed-in visitor
/// downloads a gated file from its page); an unknown or expired session is anonymous.
pub(super) fn caller(state: &HubState, headers: &HeaderMap) -> Result<Caller, HubError> {
    let token = bearer(headers);
    if token.is_none()
        && let Some(signed_in) = crate::web::session::session_of(state, headers).map_err(|_| {
            HubError::new(StatusCode::INTERNAL_SERVER_ERROR, "The server's database failed; try again in a moment.")
        })?
    {
        return Ok(Caller::signed_in(signed_in.user));
    }
    match authenticate(state.store(), token) {
        Ok(caller) => Ok(caller),
        Err(AuthError::Invalid) => Err(HubError::invalid_credentials()),
        Err(AuthError::Store(e)) => Err(store_failed(&e)),
    }
}

/// The caller of a repository route: also refuses anonymous callers when the server does.
pub(super) fn repo_caller(state: &HubState, headers: &HeaderMap) -> Result<Caller, HubError> {
    let caller = caller(state, headers)?;
    if !access::admits(&caller, state.anonymous_allowed()) {
        return Err(HubError::new(
            StatusCode::UNAUTHORIZED,
            "This server answers only authenticated requests: log in with a token (`hf auth login`, or set HF_TOKEN).",
        ));
    }
    Ok(caller)
}

/// 401 for anonymous callers, 404 otherwise, as the Hub hides repos it will not show.
pub(super) fn repo_not_found(caller: &Caller) -> HubError {
    let status = if caller.user().is_none() { StatusCode::UNAUTHORIZED } else { StatusCode::NOT_FOUND };
    HubError::new(status, "Repository not found").code("RepoNotFound")
}

/// The repo `kind`/`id` with the operator's settings applied, if it exists.
pub(crate) fn find(state: &HubState, kind: &str, id: &str) -> Result<Option<RepoView>, HubError> {
    state.source().get(kind, id).map(|view| settle(state, view)).transpose()
}

/// For a mirror: the repo as the access rules see it, whether or not the cache holds it. The
/// store's settings when the operator set some; else what upstream says (a gated or private
/// upstream repo stays so on the mirror until the operator grants a user); else the cached
/// view as it is. `None`: neither the cache nor the rules know the repo (upstream answers).
pub(super) async fn find_mirrored(
    state: &HubState,
    mirror: &crate::mirror::Mirror,
    kind: &str,
    id: &str,
) -> Result<Option<RepoView>, HubError> {
    let local = state.source().get(kind, id);
    let declared = state.store().repo(kind, id).map_err(|e| store_failed(&e))?.is_some();
    let upstream = if declared {
        None
    } else {
        match mirror.upstream_visibility(kind, id).await {
            Ok(visibility) => visibility,
            // What the cache holds is served by the cache's rules; the rest would go
            // upstream with the mirror's token, unchecked.
            Err(error) if local.is_none() => return Err(error),
            Err(_) => None,
        }
    };
    let mut view = match (local, declared || upstream.is_some_and(|v| v != Visibility::Public)) {
        (Some(view), _) => view,
        (None, true) => RepoView::bare(kind, id),
        (None, false) => return Ok(None),
    };
    if let Some(visibility) = upstream {
        view.visibility = visibility;
    }
    settle(state, view).map(Some)
}

/// Applies the store's visibility, owner and grants to a repo of the source.
pub(crate) fn settle(state: &HubState, mut view: RepoView) -> Result<RepoView, HubError> {
    let store = state.store();
    if let Some(settings) = store.repo(&view.kind, &view.id).map_err(|e| store_failed(&e))? {
        view.visibility = settings.visibility;
        if settings.owner.is_some() {
            view.owner = settings.owner;
        }
    }
    for user in store.grants(&view.kind, &view.id).map_err(|e| store_failed(&e))? {
        if !view.granted.contains(&user) {
            view.granted.push(user);
        }
    }
    Ok(view)
}

/// What the access policy needs of a repo.
pub(crate) fn policy(repo: &RepoView) -> RepoAccess<'_> {
    RepoAccess { visibility: repo.visibility, owner: repo.owner(), grants: &repo.granted, disabled: repo.disabled }
}

/// Whether the caller may see the repo's metadata (private repos are invisible to others).
pub(super) fn check_visible(repo: &RepoView, caller: &Caller) -> Result<(), HubError> {
    access::can_see(&policy(repo), caller).map_err(|_| repo_not_found(caller))
}

/// The page where a gated repo's access is asked for: `http://{host}/[datasets/]{id}`.
fn repo_page(repo: &RepoView, headers: &HeaderMap) -> String {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1");
    let prefix = match repo.kind.as_str() {
        "model" => "",
        "dataset" => "datasets/",
        "space" => "spaces/",
        _ => "kernels/",
    };
    format!("http://{host}/{prefix}{}", repo.id)
}

/// Whether the caller may write to the repo (the Hub's `auth-check/write`).
pub(super) fn check_write(repo: &RepoView, caller: &Caller, headers: &HeaderMap) -> Result<(), HubError> {
    check_files(repo, caller, headers)?;
    access::can_write(&policy(repo), caller).map_err(|_| {
        HubError::new(
            StatusCode::FORBIDDEN,
            format!(
                "You don't have the rights to write to {} {}: a write token of its owner is needed.",
                repo.kind, repo.id
            ),
        )
    })
}

/// Whether the caller may read the repo's files; refusals carry the Hub's messages.
pub(super) fn check_files(repo: &RepoView, caller: &Caller, headers: &HeaderMap) -> Result<(), HubError> {
    match access::can_read_files(&policy(repo), caller) {
        Ok(()) => Ok(()),
        Err(Denied::NotFound | Denied::ReadOnly) => Err(repo_not_found(caller)),
        Err(Denied::Disabled) => Err(HubError::new(StatusCode::FORBIDDEN, "Access to this resource is disabled.")),
        Err(Denied::LogIn) => Err(HubError::new(
            StatusCode::UNAUTHORIZED,
            format!(
                "Access to {} {} is restricted. You must have access to it and be authenticated to access it. Please log in.",
                repo.kind, repo.id
            ),
        )
        .code("GatedRepo")),
        Err(Denied::NotGranted) => Err(HubError::new(
            StatusCode::FORBIDDEN,
            format!(
                "Access to {} {} is restricted and you are not in the authorized list. Visit {} to ask for access.",
                repo.kind,
                repo.id,
                repo_page(repo, headers)
            ),
        )
        .code("GatedRepo")),
    }
}
