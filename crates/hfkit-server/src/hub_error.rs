//! Error answers shaped like the Hub's: a status, `X-Error-Code` when the Hub sends one,
//! `X-Error-Message`, and a JSON body `{"error": …}`.

use axum::Json;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// An error answer.
#[derive(Debug)]
pub(crate) struct HubError {
    status: StatusCode,
    code: Option<&'static str>,
    message: String,
    description: Option<String>,
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl HubError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, code: None, message: message.into(), description: None, headers: Vec::new() }
    }

    /// An OAuth error body (`error` + `error_description`), as `/oauth/token` answers.
    pub(crate) fn oauth(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        Self { description: Some(description.into()), ..Self::new(status, error) }
    }

    /// 401 for an unknown token, as the Hub answers it.
    pub(crate) fn invalid_credentials() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "Invalid credentials in Authorization header")
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// Sets `X-Error-Code`.
    pub(crate) fn code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }

    /// Adds a header.
    pub(crate) fn header(mut self, name: &'static str, value: &str) -> Self {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.headers.push((HeaderName::from_static(name), v));
        }
        self
    }
}

impl IntoResponse for HubError {
    fn into_response(self) -> Response {
        let body = match &self.description {
            Some(d) => serde_json::json!({"error": self.message, "error_description": d}),
            None => serde_json::json!({"error": self.message}),
        };
        let mut response = (self.status, Json(body)).into_response();
        let headers = response.headers_mut();
        if let Some(code) = self.code {
            headers.insert("x-error-code", HeaderValue::from_static(code));
        }
        if self.description.is_none()
            && let Ok(v) = HeaderValue::from_str(&self.message)
        {
            headers.insert("x-error-message", v);
        }
        for (name, value) in self.headers {
            headers.insert(name, value);
        }
        response
    }
}
