//! `GET /api/whoami-v2`: who a token belongs to, in the Hub's JSON shape.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use serde_json::{Value, json};

use super::bearer;
use crate::HubState;
use crate::hub_error::HubError;

pub(super) async fn whoami(State(state): State<Arc<HubState>>, headers: HeaderMap) -> Result<Json<Value>, HubError> {
    let accounts = state.accounts();
    let token = bearer(&headers).and_then(|t| accounts.token(t)).ok_or_else(HubError::invalid_credentials)?;
    let user = accounts.user(&token.user).ok_or_else(HubError::invalid_credentials)?;
    let orgs: Vec<Value> = user
        .orgs
        .iter()
        .map(|name| {
            let fullname = accounts.org(name).and_then(|o| o.fullname.clone()).unwrap_or_else(|| name.clone());
            json!({"type": "org", "id": stable_id(name), "name": name, "fullname": fullname, "email": null,
                   "canPay": false, "periodEnd": null, "avatarUrl": format!("/avatars/{name}.svg"),
                   "roleInOrg": "read", "isEnterprise": false})
        })
        .collect();
    let auth = match &token.name {
        Some(display_name) => json!({
            "type": "access_token",
            "accessToken": {"displayName": display_name, "role": token.role.as_str(),
                            "createdAt": "2025-01-01T00:00:00.000Z"}
        }),
        None => json!({"type": "oauth", "expiresAt": "2099-01-01T00:00:00.000Z"}),
    };
    Ok(Json(json!({
        "type": "user",
        "id": stable_id(&user.name),
        "name": user.name,
        "fullname": user.fullname.clone().unwrap_or_else(|| user.name.clone()),
        "email": user.email,
        "emailVerified": user.email.is_some(),
        "canPay": false,
        "periodEnd": null,
        "isPro": false,
        "avatarUrl": format!("/avatars/{}.svg", user.name),
        "orgs": orgs,
        "auth": auth,
    })))
}

/// A 24-hex id derived from a name, stable across runs (the Hub's ids are Mongo ObjectIds).
fn stable_id(name: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}{:08x}", h.rotate_left(17) as u32)
}
