//! The browser login's requests (RFC 8628, as huggingface_hub 2.4 sends them): the device
//! authorization, the polls of the token endpoint, and the refresh of an access token. All
//! three are form posts with the OAuth client id, timed by `HF_HUB_DOWNLOAD_TIMEOUT`.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde::Deserialize;

use super::HubClient;
use crate::auth::oauth::{DeviceCode, DeviceFlowError, OAuthTokens, RefreshError};
use crate::secret::Token;

const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// Largest answer read from the OAuth endpoints.
const MAX_OAUTH_BODY: usize = 64 << 10;
/// What a token-endpoint answer may hold.
#[derive(Deserialize)]
struct TokenAnswer {
    access_token: Option<String>,
    refresh_token: Option<String>,
    expires_in: Option<u64>,
    error: Option<String>,
    error_description: Option<String>,
}

/// Whether a token from the server can be written to the token files and sent back as it
/// is: visible ASCII only (no space, line break or escape, which would be trimmed, break a
/// line of `stored_tokens` or reach a terminal).
fn storable(token: &str) -> bool {
    !token.is_empty() && token.bytes().all(|b| b.is_ascii_graphic())
}

impl TokenAnswer {
    /// The tokens of a successful answer (`Ok(None)`: no token in it); `Err` says why tokens
    /// that were given cannot be kept.
    fn tokens(&self) -> Result<Option<OAuthTokens>, String> {
        let Some(access) = self.access_token.as_deref() else { return Ok(None) };
        let refresh = self.refresh_token.as_deref().filter(|t| !t.is_empty());
        if !storable(access) || refresh.is_some_and(|t| !storable(t)) {
            return Err("the server's token holds spaces, line breaks or other characters a token cannot have, so it was not saved".to_owned());
        }
        Ok(Some(OAuthTokens {
            access_token: Token::new(access),
            refresh_token: refresh.map(Token::new),
            expires_in: self.expires_in,
        }))
    }

    fn description(&self) -> String {
        crate::text::escape_line(self.error_description.as_deref().unwrap_or_default()).into_owned()
    }
}

impl HubClient {
    fn oauth_url(&self, path: &str) -> String {
        format!("{}/oauth/{path}", self.endpoint)
    }

    /// `POST /oauth/device`: a device code, a user code and where to enter it.
    pub async fn request_device_code(&self, client_id: &str) -> Result<DeviceCode, DeviceFlowError> {
        let url = self.oauth_url("device");
        let failed = |detail: String| DeviceFlowError::Request { url: url.clone(), detail };
        let request = self.request(Method::POST, &url).map_err(|e| failed(e.to_string()))?;
        let response = request
            .form(&[("client_id", client_id)])
            .timeout(self.download_timeout)
            .send()
            .await
            .map_err(|e| failed(self.transport_error(&url, &e).to_string()))?;
        if !response.status().is_success() {
            return Err(failed(self.error_from(response, &url, None).await.to_string()));
        }
        let body = self.read_body(response, &url, MAX_OAUTH_BODY).await.map_err(|e| failed(e.to_string()))?;
        DeviceCode::parse(&body).map_err(failed)
    }

    /// Polls `POST /oauth/token` until the person approves or denies `code`, or it expires
    /// (RFC 8628 §3.4–3.5): the first poll at once, then one every `interval` seconds, five
    /// more after each `slow_down`. Network failures, server errors and answers that are not
    /// OAuth's are retried until the code expires. `on_pending` runs after each
    /// `authorization_pending`.
    pub async fn poll_device_token(
        &self,
        code: &DeviceCode,
        client_id: &str,
        on_pending: &mut (dyn FnMut() + Send),
    ) -> Result<OAuthTokens, DeviceFlowError> {
        let url = self.oauth_url("token");
        let mut interval = code.interval;
        let deadline = Instant::now() + Duration::from_secs(code.expires_in);
        while Instant::now() < deadline {
            if let Some(answer) = self
                .post_token(
                    &url,
                    &[
                        ("grant_type", DEVICE_CODE_GRANT),
                        ("device_code", code.device_code.expose()),
                        ("client_id", client_id),
                    ],
                )
                .await
            {
                match answer.tokens() {
                    Ok(Some(tokens)) => return Ok(tokens),
                    Ok(None) => {}
                    Err(description) => {
                        return Err(DeviceFlowError::OAuth { code: "invalid_response".to_owned(), description });
                    }
                }
                match answer.error.as_deref() {
                    None => {} // not an OAuth answer (a proxy's page): try again
                    Some("authorization_pending") => on_pending(),
                    Some("slow_down") => interval += Duration::from_secs(5),
                    Some("expired_token") => return Err(DeviceFlowError::Expired),
                    Some("access_denied") => return Err(DeviceFlowError::Denied),
                    Some(other) => {
                        return Err(DeviceFlowError::OAuth {
                            code: crate::text::escape_line(other).into_owned(),
                            description: answer.description(),
                        });
                    }
                }
            }
            tokio::time::sleep(interval.min(deadline.saturating_duration_since(Instant::now()))).await;
        }
        Err(DeviceFlowError::TimedOut)
    }

    /// One post to the token endpoint: its JSON answer when the status is below 500.
    async fn post_token(&self, url: &str, form: &[(&str, &str)]) -> Option<TokenAnswer> {
        let request = self.request(Method::POST, url).ok()?;
        let response = request.form(form).timeout(self.download_timeout).send().await.ok()?;
        if response.status().is_server_error() {
            return None;
        }
        let body = self.read_body(response, url, MAX_OAUTH_BODY).await.ok()?;
        serde_json::from_slice(&body).ok()
    }

    /// `POST /oauth/token` with the refresh-token grant: a new access token (and, when the
    /// server rotates them, a new refresh token).
    pub async fn refresh_access_token(
        &self,
        refresh_token: &Token,
        client_id: &str,
    ) -> Result<OAuthTokens, RefreshError> {
        let url = self.oauth_url("token");
        let request = self.request(Method::POST, &url).map_err(|e| RefreshError::Failed(e.to_string()))?;
        let response = request
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token.expose()),
                ("client_id", client_id),
            ])
            .timeout(self.download_timeout)
            .send()
            .await
            .map_err(|e| RefreshError::Failed(self.transport_error(&url, &e).to_string()))?;
        let status = response.status();
        let body =
            self.read_body(response, &url, MAX_OAUTH_BODY).await.map_err(|e| RefreshError::Failed(e.to_string()))?;
        let answer: TokenAnswer = serde_json::from_slice(&body).map_err(|_| {
            RefreshError::Failed(format!("the answer of {url} (status {}) is not the JSON expected", status.as_u16()))
        })?;
        if let Some(tokens) = answer.tokens().map_err(|e| RefreshError::Failed(format!("{url} answered, but {e}")))? {
            return Ok(tokens);
        }
        match answer.error.as_deref() {
            Some("invalid_grant") => Err(RefreshError::InvalidGrant { description: answer.description() }),
            Some(code) => {
                Err(RefreshError::Failed(format!("{} - {}", crate::text::escape_line(code), answer.description())))
            }
            None => Err(RefreshError::Failed(format!("{url} answered {} without a token", status.as_u16()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::TokenAnswer;

    fn answer(json: &str) -> TokenAnswer {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn tokens_with_spaces_or_control_characters_are_not_kept() {
        let good =
            answer(r#"{"access_token":"hf_a","refresh_token":"hfr_b","expires_in":5}"#).tokens().unwrap().unwrap();
        assert_eq!((good.access_token.expose(), good.expires_in), ("hf_a", Some(5)));
        assert!(answer(r#"{"error":"authorization_pending"}"#).tokens().unwrap().is_none());
        for bad in [
            r#"{"access_token":"hf_a b"}"#,
            r#"{"access_token":""}"#,
            r#"{"access_token":"hf_a\u001b[2J"}"#,
            r#"{"access_token":"hf_a","refresh_token":"r\n[x]"}"#,
            r#"{"access_token":"hf_\u00e9"}"#,
        ] {
            let refused = answer(bad).tokens().unwrap_err();
            assert!(!refused.contains("hf_a") && !refused.contains('\u{1b}'), "{refused}");
        }
    }
}
