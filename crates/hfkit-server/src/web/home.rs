//! `/`: the repositories the visitor may see (private ones only to those who may see
//! them), filtered by `?search=`.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};

use super::session::Viewer;
use super::{Nav, Page, PageError};
use crate::HubState;
use crate::auth::access;
use crate::repos::Visibility;

/// Most repos listed on one page.
const MAX_LISTED: usize = 500;

#[derive(Debug, serde::Deserialize)]
pub(super) struct HomeQuery {
    #[serde(default)]
    search: String,
}

#[derive(Debug)]
pub(super) struct RepoItem {
    id: String,
    kind: String,
    visibility: &'static str,
    href: String,
}

#[derive(Template)]
#[template(path = "home.html")]
pub(super) struct Home {
    nav: Nav,
    repos: Vec<RepoItem>,
}

/// The page path of a repo (`/{id}`, `/datasets/{id}`); `None` for kinds without pages.
pub(super) fn page_path(kind: &str, id: &str) -> Option<String> {
    match kind {
        "model" => Some(format!("/{id}")),
        "dataset" => Some(format!("/datasets/{id}")),
        _ => None,
    }
}

/// `GET /`.
pub(super) async fn home(
    State(state): State<Arc<HubState>>,
    viewer: Viewer,
    Query(query): Query<HomeQuery>,
) -> Result<Page<Home>, PageError> {
    let caller = viewer.caller();
    let search = query.search.trim().chars().take(100).collect::<String>();
    let needle = search.to_lowercase();
    let mut repos = Vec::new();
    for view in state.source().list() {
        if !needle.is_empty() && !view.id.to_lowercase().contains(&needle) {
            continue;
        }
        let Some(href) = page_path(&view.kind, &view.id) else { continue };
        let view = crate::routes::access::settle(&state, view).map_err(|_| PageError::Internal)?;
        if !viewer.is_admin() && access::can_see(&crate::routes::access::policy(&view), &caller).is_err() {
            continue;
        }
        let visibility = match view.visibility {
            Visibility::Public => "",
            Visibility::Private => "private",
            Visibility::Gated => "gated",
        };
        repos.push(RepoItem { id: view.id, kind: view.kind, visibility, href });
    }
    repos.sort_by(|a, b| (&a.kind, &a.id).cmp(&(&b.kind, &b.id)));
    repos.truncate(MAX_LISTED);
    let nav = Nav { search, ..viewer.nav() };
    Ok(Page::ok(Home { nav, repos }))
}
