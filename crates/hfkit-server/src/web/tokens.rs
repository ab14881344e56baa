//! `/settings/tokens`: a signed-in user's access tokens — listed by name, role, masked
//! value, creation and last use (never the value), created (Read or Write; the value shown
//! once, on the page the form answers with, and never again), and deleted. Only a browser
//! session reaches these pages: a token cannot mint tokens.

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse as _, Response};

use super::session::{CsrfForm, SignedIn};
use super::{Nav, Page, PageError, date, see_other};
use crate::HubState;
use crate::accounts::Role;
use crate::auth::token::{IssueError, issue};

/// Longest token name.
const MAX_NAME_CHARS: usize = 64;

#[derive(Debug)]
pub(super) struct TokenRow {
    id: i64,
    name: String,
    role: &'static str,
    masked: String,
    created: String,
    last_used: String,
}

#[derive(Template)]
#[template(path = "settings/tokens.html")]
pub(super) struct Tokens {
    nav: Nav,
    tokens: Vec<TokenRow>,
    new_token: Option<String>,
    new_token_name: String,
    error: Option<String>,
}

fn rows(state: &HubState, user: &str) -> Result<Vec<TokenRow>, PageError> {
    let used = state.store().tokens_last_used(user)?;
    Ok(state
        .store()
        .tokens(Some(user))?
        .into_iter()
        .map(|t| TokenRow {
            id: t.id,
            name: t.name.clone().unwrap_or_else(|| "(browser login)".to_owned()),
            role: t.role.as_str(),
            masked: t.masked(),
            created: date(t.created_at),
            last_used: used.iter().find(|(id, _)| *id == t.id).map_or_else(|| "never".to_owned(), |(_, at)| date(*at)),
        })
        .collect())
}

fn page(
    state: &HubState,
    signed_in: &SignedIn,
    new_token: Option<(String, String)>,
    error: Option<String>,
) -> Result<Tokens, PageError> {
    let (new_token, new_token_name) = new_token.map_or((None, String::new()), |(value, name)| (Some(value), name));
    Ok(Tokens { nav: signed_in.nav(), tokens: rows(state, &signed_in.user.name)?, new_token, new_token_name, error })
}

/// `GET /settings/tokens`.
pub(super) async fn list(State(state): State<Arc<HubState>>, signed_in: SignedIn) -> Result<Page<Tokens>, PageError> {
    Ok(Page::ok(page(&state, &signed_in, None, None)?))
}

#[derive(serde::Deserialize)]
pub(super) struct NewTokenForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
}

/// `POST /settings/tokens`: creates a token and shows its value, this once.
pub(super) async fn create(
    State(state): State<Arc<HubState>>,
    form: CsrfForm<NewTokenForm>,
) -> Result<Response, PageError> {
    let CsrfForm { signed_in, form } = form;
    let user = &signed_in.user.name;
    let name = form.name.trim().to_owned();
    let refuse = |message: String| -> Result<Response, PageError> {
        Ok(Page::with_status(StatusCode::BAD_REQUEST, page(&state, &signed_in, None, Some(message))?).into_response())
    };
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return refuse(format!("A token's name is 1 to {MAX_NAME_CHARS} characters, without control characters."));
    }
    let role = match form.role.as_str() {
        "read" => Role::Read,
        "write" => Role::Write,
        _ => return refuse("Choose the token's role: Read or Write.".to_owned()),
    };
    let value = match issue(state.store(), user, &name, role) {
        Ok(value) => value,
        Err(IssueError::NameTaken { .. }) => {
            return refuse(format!(
                "You have a token named “{name}” already: pick another name, or delete that one first."
            ));
        }
        Err(e) => {
            crate::log::line(&format!("page: cannot issue a token: {e}"));
            return Err(PageError::Internal);
        }
    };
    let shown = page(&state, &signed_in, Some((value.expose().to_owned(), name)), None)?;
    Ok(Page::ok(shown).into_response())
}

#[derive(serde::Deserialize)]
pub(super) struct DeleteForm {
    id: i64,
}

/// `POST /settings/tokens/delete`: revokes one of the user's tokens, at once.
pub(super) async fn delete(
    State(state): State<Arc<HubState>>,
    form: CsrfForm<DeleteForm>,
) -> Result<Response, PageError> {
    if !state.store().revoke_token(&form.signed_in.user.name, form.form.id)? {
        return Err(PageError::BadRequest("You have no such token (was it deleted already?).".to_owned()));
    }
    Ok(see_other("/settings/tokens"))
}
