//! `/device`: where a signed-in user lets a terminal log in (the browser login of
//! `hf auth login`, RFC 8628). The terminal shows a code and this page's address (with the
//! code filled in); the user checks the code, then approves or denies. The decision is
//! recorded by [`crate::oauth::decide`], and the terminal's next poll gets its tokens or
//! `access_denied`.
//!
//! A user code is 8 letters and lives 15 minutes, so wrong codes are counted per user and per
//! client address with the sign-in throttle (RFC 8628 §5.1): guessing a waiting code is
//! slowed down as guessing a password is. Only a code the visitor opened as a page is looked
//! up and counted: an `<img src="/device?user_code=…">` in a README, or another site's link,
//! could otherwise spend a visitor's allowance and lock them out of approving their device.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::request::Parts;
use serde::Deserialize;

use super::session::{CsrfForm, SignedIn, client_address};
use super::{Nav, Page, PageError};
use crate::HubState;
use crate::oauth::{self, DecideError, Decision};

/// What the page shows.
#[derive(Debug)]
pub(super) enum DeviceStep {
    /// A field for the code (after a wrong one, with why).
    Enter { error: Option<String> },
    /// The waiting device and the two buttons.
    Confirm { user_code: String, client: String, minutes_left: u64 },
    /// The decision, recorded.
    Done { approved: bool, message: String },
}

#[derive(Template)]
#[template(path = "auth/device.html")]
pub(super) struct Device {
    nav: Nav,
    step: DeviceStep,
}

#[derive(Debug, Deserialize)]
pub(super) struct CodeQuery {
    user_code: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct DecisionForm {
    #[serde(default)]
    user_code: String,
    #[serde(default)]
    decision: String,
}

/// The throttle key of wrong codes typed by `user`.
fn user_key(user: &str) -> String {
    format!("device-user:{user}")
}

/// Counts a wrong code; other refusals (expired, decided) are not guesses.
fn count_if_guess(state: &HubState, keys: &[String], error: &DecideError) {
    if matches!(error, DecideError::Malformed(_) | DecideError::Unknown(_)) {
        state.sign_in_throttle().fail(keys);
    }
}

fn refusal(error: &DecideError) -> Result<String, PageError> {
    match error {
        DecideError::Store(e) => {
            crate::log::line(&format!("page: device: {e}"));
            Err(PageError::Internal)
        }
        other => Ok(format!("{}.", other.to_string().trim_end_matches('.'))),
    }
}

/// Whether a code in the address was opened as a page by the visitor (typed, followed from
/// our own form, or opened from the terminal), not fetched as an image or sent by another
/// site: browsers say so in `Sec-Fetch-Dest` and `Sec-Fetch-Site`; clients without them
/// (scripts, `curl`) are taken at their word.
fn typed_here(parts: &Parts) -> bool {
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    header("sec-fetch-dest").is_none_or(|d| d == "document") && header("sec-fetch-site") != Some("cross-site")
}

/// `GET /device[?user_code=…]`: the code field, or the waiting device to approve.
pub(super) async fn show(
    State(state): State<Arc<HubState>>,
    signed_in: SignedIn,
    parts: Parts,
    Query(query): Query<CodeQuery>,
) -> Result<Page<Device>, PageError> {
    let nav = signed_in.nav();
    let Some(typed) = query.user_code.filter(|c| !c.trim().is_empty()) else {
        return Ok(Page::ok(Device { nav, step: DeviceStep::Enter { error: None } }));
    };
    if !typed_here(&parts) {
        // An image in a README, or another site's link: no lookup, nothing counted, so
        // neither can spend the visitor's wrong-code allowance and lock them out.
        return Ok(Page::ok(Device { nav, step: DeviceStep::Enter { error: None } }));
    }
    let keys = [user_key(&signed_in.user.name), format!("device-ip:{}", client_address(&parts))];
    if let Some(seconds) = state.sign_in_throttle().wait(&keys) {
        return Err(PageError::TooMany(seconds));
    }
    let step = match oauth::pending(state.store(), &typed) {
        Ok(device) => DeviceStep::Confirm {
            user_code: device.user_code,
            client: if device.client_id == hfkit::config::DEFAULT_DEVICE_CLIENT_ID {
                "huggingface_hub or hf".to_owned()
            } else {
                format!("client {}", device.client_id)
            },
            minutes_left: device.expires_in.div_ceil(60),
        },
        Err(e) => {
            count_if_guess(&state, &keys, &e);
            DeviceStep::Enter { error: Some(refusal(&e)?) }
        }
    };
    Ok(Page::ok(Device { nav, step }))
}

/// `POST /device`: approve or deny the device waiting with the code.
pub(super) async fn decide(
    State(state): State<Arc<HubState>>,
    CsrfForm { signed_in, form }: CsrfForm<DecisionForm>,
) -> Result<Page<Device>, PageError> {
    let nav = signed_in.nav();
    let keys = [user_key(&signed_in.user.name)];
    if let Some(seconds) = state.sign_in_throttle().wait(&keys) {
        return Err(PageError::TooMany(seconds));
    }
    let (decision, approved) = match form.decision.as_str() {
        "approve" => (Decision::Approve { user: signed_in.user.name.clone() }, true),
        "deny" => (Decision::Deny, false),
        _ => return Err(PageError::BadRequest("Choose Approve or Deny.".to_owned())),
    };
    let step = match oauth::decide(state.store(), &form.user_code, &decision) {
        Ok(()) if approved => DeviceStep::Done {
            approved,
            message: "✓ Device approved: return to your terminal, the login finishes by itself.".to_owned(),
        },
        Ok(()) => {
            DeviceStep::Done { approved, message: "Login denied: the device was refused and gets no token.".to_owned() }
        }
        Err(e) => {
            count_if_guess(&state, &keys, &e);
            DeviceStep::Enter { error: Some(refusal(&e)?) }
        }
    };
    Ok(Page::ok(Device { nav, step }))
}
