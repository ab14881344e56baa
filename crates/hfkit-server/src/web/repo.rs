//! A repository's page (`/{owner}/{name}`, `/{name}`, `/datasets/{owner}/{name}`): its
//! model card (README.md rendered and sanitized by [`super::markdown`]), files with sizes
//! and LFS marks, revisions, the `hf download` command to copy, and — for a gated repo —
//! where the visitor stands (sign in, the request form, pending, granted) and, for its
//! owner (or the operator, a user marked `admin`), the way to the pending requests. A repo
//! the visitor may not see gets the very page a repo that does not exist gets.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, State};

use super::session::{Viewer, encode_next};
use super::{Nav, Page, PageError, human_size};
use crate::HubState;
use crate::auth::access;
use crate::repos::{RepoView, Visibility};
use crate::store::{RequestStatus, StoreError};

/// Largest README rendered.
const MAX_README_BYTES: u64 = 512 * 1024;

/// Where a visitor stands with a gated repo.
#[derive(Debug)]
pub(super) enum GateState {
    /// The owner or a member: access without asking.
    Insider,
    /// Granted.
    Granted,
    /// A request is waiting.
    Pending,
    /// Not signed in.
    SignIn,
    /// May request (again, after a denial when `rejected`).
    Form { rejected: bool },
}

#[derive(Debug)]
pub(super) struct GateView {
    state: GateState,
    fields: Vec<String>,
    license: Option<String>,
}

#[derive(Debug)]
pub(super) struct FileRow {
    path: String,
    href: String,
    size: String,
    lfs: bool,
}

#[derive(Template)]
#[template(path = "repo/show.html")]
pub(super) struct RepoPage {
    nav: Nav,
    id: String,
    kind: String,
    visibility: &'static str,
    base: String,
    next: String,
    gate: Option<GateView>,
    manager: bool,
    pending: usize,
    command: String,
    commit: Option<String>,
    files: Vec<FileRow>,
    revisions: Vec<(String, String)>,
    card: Option<String>,
}

/// A repo's id from the page's path, checked (`None`: not a repo page).
pub(super) fn repo_key(kind: &str, owner: &str, name: Option<&str>) -> Option<(String, String)> {
    let id = name.map_or_else(|| owner.to_owned(), |name| format!("{owner}/{name}"));
    let parsed: hfkit::repo::RepoType = kind.parse().ok()?;
    let repo = hfkit::repo::Repo::new(parsed, &id).ok()?;
    Some((kind.to_owned(), repo.id.as_str().to_owned()))
}

/// The repo, if the viewer may see it; [`PageError::NotFound`] otherwise, exactly as for a
/// repo that does not exist.
pub(super) fn visible(state: &HubState, viewer: &Viewer, kind: &str, id: &str) -> Result<RepoView, PageError> {
    let view =
        crate::routes::access::find(state, kind, id).map_err(|_| PageError::Internal)?.ok_or(PageError::NotFound)?;
    if !viewer.is_admin() {
        access::can_see(&crate::routes::access::policy(&view), &viewer.caller()).map_err(|_| PageError::NotFound)?;
    }
    Ok(view)
}

/// Whether the viewer manages the repo's access (owner, member, or the operator).
pub(super) fn manages(view: &RepoView, viewer: &Viewer) -> bool {
    viewer.is_admin() || access::can_manage(&crate::routes::access::policy(view), &viewer.caller()).is_ok()
}

/// The page's path (`/{id}`, `/datasets/{id}`).
pub(super) fn base(kind: &str, id: &str) -> String {
    super::home::page_path(kind, id).unwrap_or_else(|| format!("/{id}"))
}

fn gate_view(state: &HubState, view: &RepoView, viewer: &Viewer, manager: bool) -> Result<GateView, StoreError> {
    let settings = state.store().gate(&view.kind, &view.id)?.unwrap_or_default();
    let gate_state = match &viewer.0 {
        None => GateState::SignIn,
        Some(_) if manager => GateState::Insider,
        Some(s) if view.granted.contains(&s.user.name) => GateState::Granted,
        Some(s) => match state.store().access_request(&view.kind, &view.id, &s.user.name)?.map(|r| r.status) {
            Some(RequestStatus::Pending) => GateState::Pending,
            Some(RequestStatus::Rejected) => GateState::Form { rejected: true },
            _ => GateState::Form { rejected: false },
        },
    };
    Ok(GateView { state: gate_state, fields: settings.fields, license: settings.license })
}

async fn show(
    state: &HubState,
    viewer: Viewer,
    kind: &str,
    owner: &str,
    name: Option<&str>,
) -> Result<Page<RepoPage>, PageError> {
    let (kind, id) = repo_key(kind, owner, name).ok_or(PageError::NotFound)?;
    let view = visible(state, &viewer, &kind, &id)?;
    let base = base(&kind, &id);
    let manager = manages(&view, &viewer);
    let gate =
        if view.visibility == Visibility::Gated { Some(gate_view(state, &view, &viewer, manager)?) } else { None };
    let pending = if manager {
        state.store().access_requests(Some((&kind, &id)), Some(RequestStatus::Pending))?.len()
    } else {
        0
    };
    let commit = view.resolve("main").or_else(|| view.refs.values().next().map(String::as_str)).map(str::to_owned);
    let mut files = Vec::new();
    let mut card = None;
    if let Some(commit) = &commit {
        let listing = state.source().files(&view, commit);
        let resolve = format!("{base}/resolve/{commit}/");
        for (path, entry) in listing.iter() {
            files.push(FileRow {
                path: path.clone(),
                href: format!("{resolve}{}", encode_next(path)),
                size: human_size(entry.size),
                lfs: entry.lfs_sha256.is_some(),
            });
        }
        if let Some(readme) = listing.get("README.md")
            && let Some(bytes) = readme.read_small(MAX_README_BYTES).await
        {
            card = Some(super::markdown::render(&String::from_utf8_lossy(&bytes), &resolve));
        }
    }
    let command =
        if kind == "dataset" { format!("hf download {id} --repo-type dataset") } else { format!("hf download {id}") };
    let visibility = match view.visibility {
        Visibility::Public => "",
        Visibility::Private => "private",
        Visibility::Gated => "gated",
    };
    Ok(Page::ok(RepoPage {
        nav: viewer.nav(),
        next: encode_next(&base),
        id,
        kind,
        visibility,
        base,
        gate,
        manager,
        pending,
        command,
        commit,
        files,
        revisions: view.refs.iter().map(|(r, c)| (r.clone(), c.clone())).collect(),
        card,
    }))
}

/// `GET /{name}`: a model whose id has one part.
pub(super) async fn single(
    State(state): State<Arc<HubState>>,
    viewer: Viewer,
    Path(owner): Path<String>,
) -> Result<Page<RepoPage>, PageError> {
    show(&state, viewer, "model", &owner, None).await
}

/// `GET /{owner}/{name}` (and `/datasets/{name}`, a dataset whose id has one part).
pub(super) async fn model(
    State(state): State<Arc<HubState>>,
    viewer: Viewer,
    Path((owner, name)): Path<(String, String)>,
) -> Result<Page<RepoPage>, PageError> {
    match owner.as_str() {
        "datasets" => show(&state, viewer, "dataset", &name, None).await,
        "spaces" | "kernels" | "api" | "settings" => Err(PageError::NotFound),
        _ => show(&state, viewer, "model", &owner, Some(&name)).await,
    }
}

/// `GET /datasets/{owner}/{name}`.
pub(super) async fn dataset(
    State(state): State<Arc<HubState>>,
    viewer: Viewer,
    Path((owner, name)): Path<(String, String)>,
) -> Result<Page<RepoPage>, PageError> {
    show(&state, viewer, "dataset", &owner, Some(&name)).await
}
