//! The Hub's routes, one module per area.

mod oauth;
mod whoami;

use std::sync::Arc;

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::{get, post};

use crate::HubState;
use crate::hub_error::HubError;

pub(crate) fn routes() -> Router<Arc<HubState>> {
    Router::new()
        .route("/api/whoami-v2", get(whoami::whoami))
        .route("/oauth/token", post(oauth::token))
        .fallback(|| async { HubError::not_found("Not Found") })
}

/// The bearer token of a request, if any.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token)
}
