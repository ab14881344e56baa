//! The server's answers, status codes and headers, over a real socket.

use hfkit_test::HubFixture;

const TOKEN: &str = "hf_routesToken00000000000000000000001";

fn fixture() -> hfkit_test::RunningHub {
    HubFixture::new()
        .user("alice")
        .org("acme", &["alice"])
        .token("alice", "desk", "write", TOKEN)
        .trusted_publisher("id-token", "acme/m", TOKEN)
        .start()
}

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::new()
}

#[test]
fn whoami_answers_like_the_hub() {
    let hub = fixture();
    let url = format!("{}/api/whoami-v2", hub.url());
    let ok = client().get(&url).bearer_auth(TOKEN).send().unwrap();
    assert_eq!(ok.status(), 200);
    let body: serde_json::Value = ok.json().unwrap();
    assert_eq!(body["name"], "alice");
    assert_eq!(body["type"], "user");
    assert_eq!(body["orgs"][0]["name"], "acme");
    assert_eq!(body["auth"]["accessToken"]["displayName"], "desk");
    assert_eq!(body["auth"]["accessToken"]["role"], "write");
    for request in [client().get(&url), client().get(&url).bearer_auth("hf_nope")] {
        let refused = request.send().unwrap();
        assert_eq!(refused.status(), 401);
        assert_eq!(refused.headers()["x-error-message"], "Invalid credentials in Authorization header");
        let body: serde_json::Value = refused.json().unwrap();
        assert_eq!(body["error"], "Invalid credentials in Authorization header");
    }
    let log = hub.requests();
    assert_eq!(log.len(), 3);
    assert_eq!(log[0].authorization.as_deref(), Some("Bearer hf_****0001"), "the record keeps no token");
    assert_eq!(log[1].authorization, None);
    assert!(!format!("{log:?}").contains(TOKEN));
}

#[test]
fn revoking_a_token_takes_effect_at_once() {
    let hub = fixture();
    hub.state().update_accounts(|a| a.tokens.clear());
    let refused = client().get(format!("{}/api/whoami-v2", hub.url())).bearer_auth(TOKEN).send().unwrap();
    assert_eq!(refused.status(), 401);
}

#[test]
fn token_exchange() {
    let hub = fixture();
    let url = format!("{}/oauth/token", hub.url());
    let exchange = |id: &str, resource: &str| {
        client()
            .post(&url)
            .json(&serde_json::json!({
                "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
                "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
                "subject_token": id,
                "resource": resource,
            }))
            .send()
            .unwrap()
    };
    let ok = exchange("id-token", "acme/m");
    assert_eq!(ok.status(), 200);
    let body: serde_json::Value = ok.json().unwrap();
    assert_eq!(body["access_token"], TOKEN);
    assert_eq!(body["expires_in"], 3600);
    for (id, resource) in [("forged", "acme/m"), ("id-token", "acme/other")] {
        let refused = exchange(id, resource);
        assert_eq!(refused.status(), 401);
        let body: serde_json::Value = refused.json().unwrap();
        assert_eq!(body["error"], "invalid_grant");
    }
    let form = client().post(&url).form(&[("grant_type", "refresh_token")]).send().unwrap();
    assert_eq!(form.status(), 400);
    let body: serde_json::Value = form.json().unwrap();
    assert_eq!(body["error"], "unsupported_grant_type");
    let garbage = client().post(&url).header("content-type", "application/json").body("{").send().unwrap();
    assert_eq!(garbage.status(), 400);
    let missing = client().post(&url).json(&serde_json::json!({"grant_type": "urn:ietf:params:oauth:grant-type:token-exchange", "subject_token_type": "urn:ietf:params:oauth:token-type:id_token"})).send().unwrap();
    assert_eq!(missing.status(), 400);
}

#[test]
fn unknown_routes_are_404_with_a_message() {
    let hub = fixture();
    let r = client().get(format!("{}/api/agent-harnesses", hub.url())).send().unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.headers()["x-error-message"], "Not Found");
}
