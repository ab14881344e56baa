//! The web pages of `hf serve`: server-rendered HTML (askama templates, checked at compile
//! time and escaped by default) that works without JavaScript, reads on a phone and can be
//! used with a keyboard alone. One module per family of pages:
//!
//! - [`home`]: `/`, the repos the visitor may see, with search;
//! - [`repo`]: `/{owner}/{name}` and `/datasets/{owner}/{name}`: model card, files, revisions,
//!   the `hf download` command, and a gated repo's access box;
//! - [`gate`]: the access-request form, the owner's page of a repo's requests, and the
//!   pending requests of every repo one manages (`/settings/access-requests`);
//! - [`sign_in`]: `/login` and `/logout`;
//! - [`tokens`], `/settings/tokens`: list, create (shown once), delete;
//! - [`device`], `/device`: approve or deny a terminal's browser login (`hf auth login`);
//! - [`session`]: sessions, the [`session::SignedIn`] extractor, CSRF-checked forms
//!   ([`session::CsrfForm`]) and sign-in throttling;
//! - [`markdown`]: README rendering, sanitized; [`assets`]: the stylesheet and the copy script.
//!
//! Adding a signed-in page: a template extending `base.html`, a struct with a `nav: Nav`
//! field, a handler taking [`session::SignedIn`] (and [`session::CsrfForm`] for a POST) that
//! returns [`Page`], and a line in [`router`].
//!
//! Every page is sent `private, no-store` (pages depend on who asks), with a Content Security
//! Policy that allows our own stylesheet and script only: a README that slipped a script past
//! the sanitizer still would not run.

mod assets;
mod device;
mod gate;
mod home;
pub(crate) mod markdown;
mod repo;
pub mod session;
mod sign_in;
mod tokens;

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use crate::HubState;
use crate::store::StoreError;

/// The page routes (the Hub's API routes are in [`crate::routes`]).
pub(crate) fn router() -> Router<Arc<HubState>> {
    Router::new()
        .route("/", get(home::home))
        .route("/-/static/{file}", get(assets::asset))
        .route("/login", get(sign_in::form).post(sign_in::submit))
        .route("/logout", post(sign_in::logout))
        .route("/settings/tokens", get(tokens::list).post(tokens::create))
        .route("/settings/tokens/delete", post(tokens::delete))
        .route("/settings/access-requests", get(gate::overview))
        .route("/device", get(device::show).post(device::decide))
        .route("/{owner}", get(repo::single))
        .route("/{owner}/{name}", get(repo::model))
        .route("/datasets/{owner}/{name}", get(repo::dataset))
        .route("/{owner}/{name}/ask-access", post(gate::ask_model))
        .route("/datasets/{owner}/{name}/ask-access", post(gate::ask_dataset))
        .route("/{owner}/{name}/access-requests", get(gate::requests_model).post(gate::decide_model))
        .route("/datasets/{owner}/{name}/access-requests", get(gate::requests_dataset).post(gate::decide_dataset))
}

/// What the layout needs: who is signed in (with the CSRF token of the sign-out form) and
/// the search box's text.
#[derive(Debug, Clone, Default)]
pub struct Nav {
    /// The signed-in user's name.
    pub user: Option<String>,
    /// The session's CSRF token (empty when signed out).
    pub csrf: String,
    /// The text of the search box.
    pub search: String,
}

/// A rendered page with its status.
#[derive(Debug)]
pub struct Page<T> {
    status: StatusCode,
    template: T,
}

impl<T: Template> Page<T> {
    /// A `200 OK` page.
    pub fn ok(template: T) -> Self {
        Self { status: StatusCode::OK, template }
    }

    /// A page with another status (a form sent back with its error, say).
    pub fn with_status(status: StatusCode, template: T) -> Self {
        Self { status, template }
    }
}

/// The headers every page carries: no caching, a strict CSP, no sniffing, no framing.
fn page_headers(headers: &mut HeaderMap) {
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' https: data:; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}

impl<T: Template> IntoResponse for Page<T> {
    fn into_response(self) -> Response {
        match self.template.render() {
            Ok(html) => {
                let mut response = (self.status, html).into_response();
                page_headers(response.headers_mut());
                response
            }
            Err(e) => {
                crate::log::line(&format!("page: cannot render a template: {e}"));
                PageError::Internal.into_response()
            }
        }
    }
}

/// Why a page cannot be shown, each with its way out.
#[derive(Debug)]
pub enum PageError {
    /// Nothing here (or nothing this visitor may see: the same answer).
    NotFound,
    /// The page needs a signed-in user: go to the sign-in page, then come back to `next`.
    SignIn {
        /// Where to return after signing in.
        next: String,
    },
    /// A form that was not sent by our page (CSRF token or origin wrong).
    Forbidden(String),
    /// A form with a wrong value.
    BadRequest(String),
    /// Too many failed sign-ins: wait this many seconds.
    TooMany(u64),
    /// The server failed (details go to the log).
    Internal,
}

impl From<StoreError> for PageError {
    fn from(e: StoreError) -> Self {
        crate::log::line(&format!("page: store: {e}"));
        Self::Internal
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    nav: Nav,
    title: &'static str,
    message: String,
    way_out: &'static str,
    way_out_href: &'static str,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, title, message, way_out, way_out_href) = match self {
            Self::SignIn { next } => return Redirect::to(&format!("/login?next={}", session::encode_next(&next))).into_response(),
            Self::NotFound => (
                StatusCode::NOT_FOUND,
                "Not found",
                "There is nothing at this address, or you may not see it. If it is private, sign in as a user who may see it."
                    .to_owned(),
                "Sign in",
                "/login",
            ),
            Self::Forbidden(message) => (StatusCode::FORBIDDEN, "Refused", message, "Back to the home page", "/"),
            Self::BadRequest(message) => (StatusCode::BAD_REQUEST, "Not accepted", message, "Back to the home page", "/"),
            Self::TooMany(seconds) => {
                let page = ErrorPage {
                    nav: Nav::default(),
                    title: "Too many attempts",
                    message: format!("Too many failed sign-ins: wait {seconds} seconds, then try again."),
                    way_out: "Sign in",
                    way_out_href: "/login",
                };
                let mut response = Page::with_status(StatusCode::TOO_MANY_REQUESTS, page).into_response();
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
                return response;
            }
            Self::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Server error",
                "The server failed to answer; try again in a moment. Its log says more.".to_owned(),
                "Back to the home page",
                "/",
            ),
        };
        let page = ErrorPage { nav: Nav::default(), title, message, way_out, way_out_href };
        match page.render() {
            Ok(html) => {
                let mut response = (status, html).into_response();
                page_headers(response.headers_mut());
                response
            }
            Err(_) => (status, title).into_response(),
        }
    }
}

/// A `303 See Other` to `to` (after a form), never cached.
fn see_other(to: &str) -> Response {
    let mut response = Redirect::to(to).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    response
}

/// `2026-12-01 12:34 UTC` for seconds since 1970.
fn date(secs: i64) -> String {
    let rem = secs.rem_euclid(86_400);
    format!("{} {:02}:{:02} UTC", hfkit::time::date(secs), rem / 3600, rem % 3600 / 60)
}

/// `1.2 MB` for a size in bytes.
fn human_size(size: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    #[allow(clippy::cast_precision_loss)]
    let mut value = size as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 { format!("{size} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}

#[cfg(test)]
mod tests {
    use super::{date, human_size};

    #[test]
    fn dates_and_sizes_read_as_people_write_them() {
        assert_eq!(date(0), "1970-01-01 00:00 UTC");
        assert_eq!(date(1_796_127_240), "2026-12-01 12:14 UTC");
        assert_eq!(date(951_782_400), "2000-02-29 00:00 UTC");
        assert_eq!(human_size(999), "999 B");
        assert_eq!(human_size(1_234_567), "1.2 MB");
    }
}
