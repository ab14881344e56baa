//! `POST /oauth/token`: the trusted-publisher token exchange (RFC 8693) for CI jobs.
//!
//! The body is JSON, as huggingface_hub sends it. Known id tokens, for the resource they
//! are registered for, receive their Hub token; anything else gets the OAuth error answers
//! (`invalid_request` 400, `invalid_grant` 401, `unsupported_grant_type` 400).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::HubState;
use crate::hub_error::HubError;

const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ID_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:id_token";
/// Lifetime reported for exchanged tokens.
const EXCHANGED_TOKEN_LIFETIME_SECS: u64 = 3600;

#[derive(Deserialize)]
struct ExchangeBody {
    grant_type: Option<String>,
    subject_token_type: Option<String>,
    subject_token: Option<String>,
    resource: Option<String>,
}

pub(super) async fn token(
    State(state): State<Arc<HubState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, HubError> {
    let is_json = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !is_json {
        return Err(HubError::oauth(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "this server supports only the token exchange grant, with a JSON body",
        ));
    }
    let request: ExchangeBody = serde_json::from_slice(&body)
        .map_err(|e| HubError::oauth(StatusCode::BAD_REQUEST, "invalid_request", format!("invalid JSON: {e}")))?;
    if request.grant_type.as_deref() != Some(TOKEN_EXCHANGE) {
        return Err(HubError::oauth(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "expected the token exchange grant",
        ));
    }
    if request.subject_token_type.as_deref() != Some(ID_TOKEN_TYPE) {
        return Err(HubError::oauth(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "subject_token_type must be an id_token",
        ));
    }
    let (Some(subject), Some(resource)) = (request.subject_token, request.resource) else {
        return Err(HubError::oauth(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "subject_token and resource are required",
        ));
    };
    let publishers = state.publishers();
    let publisher = publishers.iter().find(|p| p.id_token == subject && p.resource == resource).ok_or_else(|| {
        HubError::oauth(
            StatusCode::UNAUTHORIZED,
            "invalid_grant",
            format!("no trusted publisher of `{resource}` matches this id token"),
        )
    })?;
    Ok(Json(json!({
        "access_token": publisher.token,
        "token_type": "bearer",
        "expires_in": EXCHANGED_TOKEN_LIFETIME_SECS,
        "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
    })))
}
