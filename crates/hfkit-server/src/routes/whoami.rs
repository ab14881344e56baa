//! `GET /api/whoami-v2`: who a token belongs to, in the Hub's JSON shape.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use serde_json::{Value, json};

use super::access::store_failed;
use super::bearer;
use crate::HubState;
use crate::auth::find_token;
use crate::hub_error::HubError;

pub(super) async fn whoami(State(state): State<Arc<HubState>>, headers: HeaderMap) -> Result<Json<Value>, HubError> {
    let store = state.store();
    let value = bearer(&headers).ok_or_else(HubError::invalid_credentials)?;
    let token = find_token(store, value).map_err(|e| store_failed(&e))?.ok_or_else(HubError::invalid_credentials)?;
    let user = store.user(&token.user).map_err(|e| store_failed(&e))?.ok_or_else(HubError::invalid_credentials)?;
    let mut orgs: Vec<Value> = Vec::new();
    for name in &user.orgs {
        let org = store.org(name).map_err(|e| store_failed(&e))?;
        let fullname = org.and_then(|o| o.fullname).unwrap_or_else(|| name.clone());
        orgs.push(json!({"type": "org", "id": stable_id(name), "name": name, "fullname": fullname, "email": null,
               "canPay": false, "periodEnd": null, "avatarUrl": format!("/avatars/{name}.svg"),
               "roleInOrg": "read", "isEnterprise": false}));
    }
    let auth = match &token.name {
        Some(display_name) => json!({
            "type": "access_token",
            "accessToken": {"displayName": display_name, "role": token.role.as_str(),
                            "createdAt": "2025-01-01T00:00:00.000Z"}
        }),
        // OAuth tokens (the browser login) carry no accessToken block: clients store them as
        // `oauth-<user>`. Tokens seeded without an expiry are reported as never expiring.
        None => {
            let expires = store.oauth_token_expiry(token.id).map_err(|e| store_failed(&e))?;
            json!({"type": "oauth", "expiresAt": hfkit::time::iso8601(expires.unwrap_or(4_102_444_800))})
        }
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
