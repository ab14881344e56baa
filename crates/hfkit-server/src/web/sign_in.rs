//! `/login` and `/logout`: a user name and password (set by the operator with `hf serve
//! user passwd`), checked with argon2 on a blocking thread, slowed down after repeated
//! failures per user and per client address; success starts a new session.

use std::sync::Arc;

use askama::Template;
use axum::extract::{FromRequestParts as _, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::session::{self, CsrfForm, LOGIN_CSRF_COOKIE, SESSION_COOKIE, Viewer};
use super::{Nav, Page, PageError, see_other};
use crate::HubState;
use crate::auth::password;

#[derive(Debug, serde::Deserialize)]
pub(super) struct NextQuery {
    next: Option<String>,
}

#[derive(Template)]
#[template(path = "auth/login.html")]
pub(super) struct Login {
    nav: Nav,
    csrf: String,
    next: String,
    username: String,
    error: Option<String>,
}

/// The sign-in form, with a fresh double-submit CSRF cookie.
fn login_page(
    headers: &HeaderMap,
    status: StatusCode,
    next: String,
    username: String,
    error: Option<String>,
) -> Result<Response, PageError> {
    let csrf = session::random_hex()?;
    let cookie = session::set_cookie(headers, LOGIN_CSRF_COOKIE, &csrf, "/login", "Strict", 3600);
    let mut response =
        Page::with_status(status, Login { nav: Nav::default(), csrf, next, username, error }).into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    Ok(response)
}

/// `GET /login`.
pub(super) async fn form(headers: HeaderMap, Query(query): Query<NextQuery>) -> Result<Response, PageError> {
    login_page(&headers, StatusCode::OK, session::safe_next(query.next.as_deref()), String::new(), None)
}

#[derive(serde::Deserialize)]
struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    next: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

/// `POST /login`.
pub(super) async fn submit(State(state): State<Arc<HubState>>, request: Request) -> Result<Response, PageError> {
    let (mut parts, body) = session::read_form(request).await?;
    let form: LoginForm = session::parse_form(&body)?;
    let expected = session::cookie(&parts.headers, LOGIN_CSRF_COOKIE).unwrap_or_default();
    if expected.is_empty() || !session::same_secret(&form.csrf, expected) {
        return Err(PageError::Forbidden(
            "The sign-in form's security token is missing or out of date: reload the sign-in page and try again."
                .to_owned(),
        ));
    }
    let next = session::safe_next(Some(&form.next));
    let username = form.username.trim().to_owned();
    let keys = [format!("user:{}", username.to_lowercase()), format!("ip:{}", session::client_address(&parts))];
    if let Some(seconds) = state.sign_in_throttle().wait(&keys) {
        return Err(PageError::TooMany(seconds));
    }
    let hash = if username.is_empty() { None } else { state.store().password_hash(&username)? };
    let password = form.password;
    let ok = tokio::task::spawn_blocking(move || match hash {
        Some(hash) => password::verify(&password, &hash),
        None => {
            password::verify_nothing(&password);
            false
        }
    })
    .await
    .map_err(|_| PageError::Internal)?;
    if !ok {
        state.sign_in_throttle().fail(&keys);
        crate::log::line(&format!(
            "sign-in: failed for {:?} from {}",
            username.chars().take(64).collect::<String>(),
            session::client_address(&parts)
        ));
        return login_page(
            &parts.headers,
            StatusCode::UNAUTHORIZED,
            next,
            username,
            Some("Wrong user name or password.".to_owned()),
        );
    }
    state.sign_in_throttle().forgive(&keys);
    let Viewer(previous) = Viewer::from_request_parts(&mut parts, &state).await?;
    let cookie = session::start(&state, &parts.headers, &username, previous.as_ref().map(|p| &p.session))?;
    let mut response = see_other(&next);
    let clear = session::set_cookie(&parts.headers, LOGIN_CSRF_COOKIE, "", "/login", "Strict", 0);
    for value in [cookie, clear] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    Ok(response)
}

#[derive(serde::Deserialize)]
pub(super) struct Empty {}

/// `POST /logout`: ends the session here and in the store.
pub(super) async fn logout(
    State(state): State<Arc<HubState>>,
    headers: HeaderMap,
    form: CsrfForm<Empty>,
) -> Result<Response, PageError> {
    state.store().delete_session(&form.signed_in.session)?;
    let mut response = see_other("/");
    let clear = session::set_cookie(&headers, SESSION_COOKIE, "", "/", "Lax", 0);
    if let Ok(value) = HeaderValue::from_str(&clear) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    Ok(response)
}
