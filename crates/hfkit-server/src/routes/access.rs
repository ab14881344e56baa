//! Who may see a repository and read its files, answered as the Hub answers.

use axum::http::{HeaderMap, StatusCode};

use super::bearer;
use crate::HubState;
use crate::hub_error::HubError;
use crate::repos::{RepoView, Visibility};

/// The user behind a request: `Ok(None)` when anonymous, an error for an unknown token.
pub(super) fn caller(state: &HubState, headers: &HeaderMap) -> Result<Option<String>, HubError> {
    match bearer(headers) {
        None => Ok(None),
        Some(token) => {
            state.accounts().token(token).map(|t| Some(t.user.clone())).ok_or_else(HubError::invalid_credentials)
        }
    }
}

fn is_member(state: &HubState, repo: &RepoView, user: &str) -> bool {
    user == repo.owner()
        || repo.granted.iter().any(|g| g == user)
        || state.accounts().user(user).is_some_and(|u| u.orgs.iter().any(|o| o == repo.owner()))
}

/// 401 for anonymous callers, 404 otherwise, as the Hub hides repos it will not show.
pub(super) fn repo_not_found(user: Option<&str>) -> HubError {
    let status = if user.is_none() { StatusCode::UNAUTHORIZED } else { StatusCode::NOT_FOUND };
    HubError::new(status, "Repository not found").code("RepoNotFound")
}

/// Whether the caller may see the repo's metadata (private repos are invisible to others).
pub(super) fn check_visible(state: &HubState, repo: &RepoView, user: Option<&str>) -> Result<(), HubError> {
    if repo.visibility == Visibility::Private && !user.is_some_and(|u| is_member(state, repo, u)) {
        return Err(repo_not_found(user));
    }
    Ok(())
}

/// Whether the caller may read the repo's files.
pub(super) fn check_files(state: &HubState, repo: &RepoView, user: Option<&str>) -> Result<(), HubError> {
    check_visible(state, repo, user)?;
    if repo.disabled {
        return Err(HubError::new(StatusCode::FORBIDDEN, "Access to this resource is disabled."));
    }
    if repo.visibility == Visibility::Gated && !user.is_some_and(|u| is_member(state, repo, u)) {
        let (status, message) = match user {
            None => (
                StatusCode::UNAUTHORIZED,
                format!(
                    "Access to {} {} is restricted. You must have access to it and be authenticated to access it. Please log in.",
                    repo.kind, repo.id
                ),
            ),
            Some(_) => (
                StatusCode::FORBIDDEN,
                format!(
                    "Access to {} {} is restricted and you are not in the authorized list. Visit the repository page to ask for access.",
                    repo.kind, repo.id
                ),
            ),
        };
        return Err(HubError::new(status, message).code("GatedRepo"));
    }
    Ok(())
}
