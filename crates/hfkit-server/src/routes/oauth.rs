//! `POST /oauth/device` and `POST /oauth/token`: the browser login of huggingface_hub 2.4
//! (RFC 8628 device authorization, the device-code and refresh-token grants, with form
//! bodies) and the trusted-publisher token exchange for CI jobs (RFC 8693, a JSON body), on
//! one token endpoint. The protocol itself is [`crate::oauth`]; this module reads the
//! requests and writes the RFC's answers: `200` with the tokens, or `400` with `error` and
//! `error_description` (`401` for a refused exchange, as before).

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::HubState;
use crate::hub_error::HubError;
use crate::oauth::{self, OAuthError};

const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ID_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:id_token";
/// Lifetime reported for exchanged tokens.
const EXCHANGED_TOKEN_LIFETIME_SECS: u64 = 3600;
/// Longest value of one field of a request (codes and tokens are far shorter).
const MAX_FIELD_CHARS: usize = 4096;

/// The fields of a request body, JSON or form-encoded; only string values count.
fn fields(headers: &HeaderMap, body: &[u8]) -> Result<HashMap<String, String>, HubError> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let map: HashMap<String, String> = if content_type.starts_with("application/json") {
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| HubError::oauth(StatusCode::BAD_REQUEST, "invalid_request", format!("invalid JSON: {e}")))?;
        value
            .as_object()
            .map(|o| o.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned()))).collect())
            .unwrap_or_default()
    } else {
        serde_urlencoded::from_bytes(body).map_err(|e| {
            HubError::oauth(StatusCode::BAD_REQUEST, "invalid_request", format!("invalid form body: {e}"))
        })?
    };
    if map.values().any(|v| v.chars().count() > MAX_FIELD_CHARS) {
        return Err(HubError::oauth(StatusCode::BAD_REQUEST, "invalid_request", "a field is too long"));
    }
    Ok(map)
}

fn required<'a>(fields: &'a HashMap<String, String>, name: &str) -> Result<&'a str, HubError> {
    fields.get(name).map(String::as_str).filter(|v| !v.is_empty()).ok_or_else(|| {
        HubError::oauth(StatusCode::BAD_REQUEST, "invalid_request", format!("the field `{name}` is required"))
    })
}

/// The answer of a refused grant, or 500 when the server itself failed.
fn refused(error: &OAuthError) -> HubError {
    match error {
        OAuthError::Refused { code, description } => {
            HubError::oauth(StatusCode::BAD_REQUEST, code, description.clone())
        }
        OAuthError::TooManyWaiting => HubError::oauth(StatusCode::TOO_MANY_REQUESTS, "slow_down", error.to_string()),
        other => HubError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("the server failed: {other}")),
    }
}

/// A JSON answer that caches must not keep (RFC 6749 §5.1).
fn no_store(body: Value) -> Response {
    let mut response = Json(body).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The server's base URL as the client reached it: the verification page is on it.
fn base_url(headers: &HeaderMap) -> String {
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("127.0.0.1");
    let https = headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()) == Some("https");
    format!("{}://{host}", if https { "https" } else { "http" })
}

pub(super) async fn device(
    State(state): State<Arc<HubState>>,
    parts: axum::http::request::Parts,
    body: Bytes,
) -> Result<Response, HubError> {
    let headers = &parts.headers;
    let fields = fields(headers, &body)?;
    let client_id = required(&fields, "client_id")?;
    // Each client address has a few codes for free, then waits longer and longer (the
    // sign-in throttle): one client cannot take every waiting place of `max_waiting`.
    let keys = [format!("device-code:{}", crate::web::session::client_address(&parts))];
    if let Some(seconds) = state.sign_in_throttle().wait(&keys) {
        return Err(HubError::oauth(
            StatusCode::TOO_MANY_REQUESTS,
            "slow_down",
            format!("too many logins were started from this address; try again in {seconds} seconds"),
        )
        .header("retry-after", &seconds.to_string()));
    }
    state.sign_in_throttle().fail(&keys);
    let settings = state.device_flow();
    let auth = oauth::start(state.store(), &settings, client_id).map_err(|e| refused(&e))?;
    let uri = format!("{}{}", base_url(headers), oauth::VERIFICATION_PATH);
    Ok(no_store(json!({
        "device_code": auth.device_code.expose(),
        "user_code": auth.user_code,
        "verification_uri": uri,
        "verification_uri_complete": format!("{uri}?user_code={}", auth.user_code),
        "expires_in": auth.expires_in,
        "interval": auth.interval,
    })))
}

pub(super) async fn token(
    State(state): State<Arc<HubState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, HubError> {
    let fields = fields(&headers, &body)?;
    let settings = state.device_flow();
    let issued = match fields.get("grant_type").map(String::as_str) {
        Some(TOKEN_EXCHANGE) => return exchange(&state, &fields),
        Some(oauth::DEVICE_CODE_GRANT) => oauth::poll(
            state.store(),
            &settings,
            required(&fields, "device_code")?,
            fields.get("client_id").map(String::as_str),
        ),
        Some(oauth::REFRESH_TOKEN_GRANT) => {
            oauth::refresh(state.store(), &settings, required(&fields, "refresh_token")?)
        }
        _ => {
            return Err(HubError::oauth(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "expected the device code, refresh token or token exchange grant",
            ));
        }
    };
    let issued = issued.map_err(|e| refused(&e))?;
    Ok(no_store(json!({
        "access_token": issued.access_token.expose(),
        "token_type": "bearer",
        "expires_in": issued.expires_in,
        "refresh_token": issued.refresh_token.expose(),
    })))
}

/// The trusted-publisher exchange: a known id token, for the resource it is registered
/// for, receives its Hub token.
fn exchange(state: &HubState, fields: &HashMap<String, String>) -> Result<Response, HubError> {
    if fields.get("subject_token_type").map(String::as_str) != Some(ID_TOKEN_TYPE) {
        return Err(HubError::oauth(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "subject_token_type must be an id_token",
        ));
    }
    let (Some(subject), Some(resource)) = (fields.get("subject_token"), fields.get("resource")) else {
        return Err(HubError::oauth(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "subject_token and resource are required",
        ));
    };
    let publishers = state.publishers();
    let publisher = publishers.iter().find(|p| &p.id_token == subject && &p.resource == resource).ok_or_else(|| {
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
    }))
    .into_response())
}
