//! Gated access from the browser: a signed-in user sends the repo's request form (the
//! operator's questions and agreement to the license) and waits; the repo's owner (the
//! user, or a member of the owning org) sees the requests on a page and approves or denies
//! them (so does the operator: a user marked `admin`). Approving grants access in the same store transaction, so the user's token
//! downloads at once. A repo set to approve automatically grants on request.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;

use super::repo::{base, manages, repo_key, visible};
use super::session::{CsrfForm, SignedIn, Viewer};
use super::{Nav, Page, PageError, date, see_other};
use crate::HubState;
use crate::repos::Visibility;
use crate::store::RequestStatus;

/// Longest answer to one question.
const MAX_ANSWER_CHARS: usize = 2000;
/// Who [`crate::store::AccessRequest::decided_by`] names for an automatic approval.
pub(super) const AUTO_APPROVER: &str = "(auto-approve)";

async fn ask(
    state: &HubState,
    kind: &str,
    owner: &str,
    name: &str,
    form: CsrfForm<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let CsrfForm { signed_in, form } = form;
    let (kind, id) = repo_key(kind, owner, Some(name)).ok_or(PageError::NotFound)?;
    let viewer = Viewer(Some(signed_in.clone()));
    let view = visible(state, &viewer, &kind, &id)?;
    let page = base(&kind, &id);
    if view.visibility != Visibility::Gated {
        return Err(PageError::BadRequest(format!("{id} is not gated: there is no access to request.")));
    }
    let user = &signed_in.user.name;
    if manages(&view, &viewer) || view.granted.contains(user) {
        return Ok(see_other(&page));
    }
    let value = |key: &str| form.iter().find(|(k, _)| k == key).map(|(_, v)| v.trim().to_owned());
    if value("agree").as_deref() != Some("yes") {
        return Err(PageError::BadRequest("To request access, tick the box that says you agree.".to_owned()));
    }
    let gate = state.store().gate(&kind, &id)?.unwrap_or_default();
    let mut answers = Vec::with_capacity(gate.fields.len());
    for (i, label) in gate.fields.iter().enumerate() {
        let answer = value(&format!("field-{i}")).unwrap_or_default();
        if answer.is_empty() || answer.chars().count() > MAX_ANSWER_CHARS {
            return Err(PageError::BadRequest(format!(
                "Answer “{label}” (at most {MAX_ANSWER_CHARS} characters), then send the form again."
            )));
        }
        answers.push((label.clone(), answer));
    }
    state.store().request_access(&kind, &id, user, &answers)?;
    if gate.auto_approve {
        state.store().decide_request(&kind, &id, user, true, AUTO_APPROVER)?;
    }
    Ok(see_other(&page))
}

/// `POST /{owner}/{name}/ask-access`.
pub(super) async fn ask_model(
    State(state): State<Arc<HubState>>,
    Path((owner, name)): Path<(String, String)>,
    form: CsrfForm<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    ask(&state, "model", &owner, &name, form).await
}

/// `POST /datasets/{owner}/{name}/ask-access`.
pub(super) async fn ask_dataset(
    State(state): State<Arc<HubState>>,
    Path((owner, name)): Path<(String, String)>,
    form: CsrfForm<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    ask(&state, "dataset", &owner, &name, form).await
}

#[derive(Debug)]
pub(super) struct RequestRow {
    user: String,
    created: String,
    answers: Vec<(String, String)>,
    status: &'static str,
    decided_by: String,
}

#[derive(Template)]
#[template(path = "repo/requests.html")]
pub(super) struct Requests {
    nav: Nav,
    id: String,
    kind: String,
    base: String,
    auto_approve: bool,
    pending: Vec<RequestRow>,
    decided: Vec<RequestRow>,
}

fn requests(
    state: &HubState,
    signed_in: SignedIn,
    kind: &str,
    owner: &str,
    name: &str,
) -> Result<Page<Requests>, PageError> {
    let (kind, id) = repo_key(kind, owner, Some(name)).ok_or(PageError::NotFound)?;
    let viewer = Viewer(Some(signed_in));
    let view = visible(state, &viewer, &kind, &id)?;
    if !manages(&view, &viewer) {
        return Err(PageError::NotFound);
    }
    let auto_approve = state.store().gate(&kind, &id)?.is_some_and(|g| g.auto_approve);
    let (pending, decided): (Vec<_>, Vec<_>) = state
        .store()
        .access_requests(Some((&kind, &id)), None)?
        .into_iter()
        .map(|r| RequestRow {
            user: r.user,
            created: date(r.created_at),
            answers: r.answers,
            status: r.status.as_str(),
            decided_by: r.decided_by.unwrap_or_default(),
        })
        .partition(|r| r.status == RequestStatus::Pending.as_str());
    Ok(Page::ok(Requests { nav: viewer.nav(), base: base(&kind, &id), id, kind, auto_approve, pending, decided }))
}

/// `GET /{owner}/{name}/access-requests`: the owner's list.
pub(super) async fn requests_model(
    State(state): State<Arc<HubState>>,
    signed_in: SignedIn,
    Path((owner, name)): Path<(String, String)>,
) -> Result<Page<Requests>, PageError> {
    requests(&state, signed_in, "model", &owner, &name)
}

/// `GET /datasets/{owner}/{name}/access-requests`.
pub(super) async fn requests_dataset(
    State(state): State<Arc<HubState>>,
    signed_in: SignedIn,
    Path((owner, name)): Path<(String, String)>,
) -> Result<Page<Requests>, PageError> {
    requests(&state, signed_in, "dataset", &owner, &name)
}

#[derive(Debug)]
pub(super) struct PendingRow {
    repo: String,
    href: String,
    user: String,
    created: String,
    answers: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "settings/access_requests.html")]
pub(super) struct Overview {
    nav: Nav,
    admin: bool,
    pending: Vec<PendingRow>,
}

/// `GET /settings/access-requests`: the pending requests of every repo the visitor manages
/// (every repo, for the operator).
pub(super) async fn overview(
    State(state): State<Arc<HubState>>,
    signed_in: SignedIn,
) -> Result<Page<Overview>, PageError> {
    let viewer = Viewer(Some(signed_in));
    let mut pending = Vec::new();
    for request in state.store().access_requests(None, Some(RequestStatus::Pending))? {
        let Some(view) =
            crate::routes::access::find(&state, &request.kind, &request.id).map_err(|_| PageError::Internal)?
        else {
            continue;
        };
        if !manages(&view, &viewer) {
            continue;
        }
        pending.push(PendingRow {
            href: base(&request.kind, &request.id),
            repo: request.id,
            user: request.user,
            created: date(request.created_at),
            answers: request.answers,
        });
    }
    Ok(Page::ok(Overview { nav: viewer.nav(), admin: viewer.is_admin(), pending }))
}

#[derive(serde::Deserialize)]
pub(super) struct Decision {
    user: String,
    decision: String,
}

fn decide(
    state: &HubState,
    kind: &str,
    owner: &str,
    name: &str,
    form: CsrfForm<Decision>,
) -> Result<Response, PageError> {
    let CsrfForm { signed_in, form } = form;
    let (kind, id) = repo_key(kind, owner, Some(name)).ok_or(PageError::NotFound)?;
    let by = signed_in.user.name.clone();
    let viewer = Viewer(Some(signed_in));
    let view = visible(state, &viewer, &kind, &id)?;
    if !manages(&view, &viewer) {
        return Err(PageError::NotFound);
    }
    let accept = match form.decision.as_str() {
        "approve" => true,
        "deny" => false,
        _ => return Err(PageError::BadRequest("Choose Approve or Deny.".to_owned())),
    };
    if !state.store().decide_request(&kind, &id, &form.user, accept, &by)? {
        return Err(PageError::BadRequest(format!("{} has not requested access to {id}.", form.user)));
    }
    Ok(see_other(&format!("{}/access-requests", base(&kind, &id))))
}

/// `POST /{owner}/{name}/access-requests`: approve or deny one request.
pub(super) async fn decide_model(
    State(state): State<Arc<HubState>>,
    Path((owner, name)): Path<(String, String)>,
    form: CsrfForm<Decision>,
) -> Result<Response, PageError> {
    decide(&state, "model", &owner, &name, form)
}

/// `POST /datasets/{owner}/{name}/access-requests`.
pub(super) async fn decide_dataset(
    State(state): State<Arc<HubState>>,
    Path((owner, name)): Path<(String, String)>,
    form: CsrfForm<Decision>,
) -> Result<Response, PageError> {
    decide(&state, "dataset", &owner, &name, form)
}
