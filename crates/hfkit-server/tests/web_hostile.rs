//! The web pages against a hostile visitor, over a real socket: a `next=` that a browser
//! would turn into another site, and requests that a README image or another site makes a
//! signed-in browser send to `/device`; a browser login deleted on the Access Tokens page
//! whose refresh token would bring it back; sign-in failures of one client behind a proxy;
//! markup in a client id, a typed code and a token name.

use hfkit_server::oauth::{DEVICE_CODE_GRANT, Decision, DeviceFlowSettings, decide, start};
use hfkit_test::web_client::WebClient;
use hfkit_test::{HubFixture, RunningHub};

fn fixture() -> RunningHub {
    HubFixture::new()
        .user("alice")
        .user("bob")
        .password("alice", "alice password")
        .password("bob", "bob password")
        .start()
}

#[test]
fn a_next_with_a_tab_or_a_line_break_does_not_leave_the_server() {
    let hub = fixture();
    let mut browser = WebClient::new(hub.url());
    // Browsers drop tabs and line breaks from a `Location`: `/\t/evil` would go to `//evil`.
    for next in ["/\t/evil.example/", "/\n/evil.example/", "/\r\nSet-Cookie: planted=1"] {
        let query = format!("/login?next={}", next.replace('\t', "%09").replace('\n', "%0A").replace('\r', "%0D"));
        let form = browser.get(&query);
        assert_eq!(form.status, 200);
        assert!(!form.body.contains("evil.example"), "the form does not carry it on: {}", form.body);
        let signed = browser.post(
            "/login",
            &[("csrf", &form.csrf()), ("next", next), ("username", "alice"), ("password", "alice password")],
        );
        assert_eq!((signed.status, signed.location()), (303, "/"), "{next:?}");
        assert!(!signed.set_cookies().iter().any(|c| c.starts_with("planted")));
    }
}

#[test]
fn codes_fetched_by_images_or_sent_by_other_sites_do_not_lock_the_visitor_out_of_device() {
    let hub = fixture();
    let settings = DeviceFlowSettings::default();
    let waiting = start(hub.state().store(), &settings, "cli").unwrap();
    let mut alice = WebClient::new(hub.url());
    alice.sign_in("alice", "alice password");
    // A README's `<img src="/device?user_code=…">` ten times, and another site's links.
    for (dest, site) in [("image", "same-origin"), ("document", "cross-site")] {
        for _ in 0..10 {
            let request = alice
                .client()
                .get(format!("{}/device?user_code=BCDF-GHJK", hub.url()))
                .header("sec-fetch-dest", dest)
                .header("sec-fetch-site", site);
            let answer = alice.send(request);
            assert_eq!(answer.status, 200, "{}", answer.body);
            assert!(answer.body.contains(r#"id="user-code""#), "the code field, nothing looked up");
        }
    }
    // Alice opens the page from her terminal: the waiting device is there to approve.
    let request = alice
        .client()
        .get(format!("{}/device?user_code={}", hub.url(), waiting.user_code))
        .header("sec-fetch-dest", "document")
        .header("sec-fetch-site", "none");
    let page = alice.send(request);
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.text_of("device-user-code").as_deref(), Some(waiting.user_code.as_str()));
    // Guessing stays slowed down: wrong codes typed on the page are counted.
    let mut bob = WebClient::new(hub.url());
    bob.sign_in("bob", "bob password");
    let statuses: Vec<u16> = (0..7).map(|_| bob.get("/device?user_code=BCDF-GHJK").status).collect();
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
}

/// `POST /oauth/token` with `fields`: the status and the JSON answer.
fn token_endpoint(hub: &RunningHub, fields: &[(&str, &str)]) -> (u16, serde_json::Value) {
    let response =
        reqwest::blocking::Client::new().post(format!("{}/oauth/token", hub.url())).form(fields).send().unwrap();
    (response.status().as_u16(), response.json().unwrap())
}

#[test]
fn deleting_a_browser_login_on_the_tokens_page_also_ends_its_refresh_token() {
    let hub = fixture();
    let settings = DeviceFlowSettings { interval: std::time::Duration::ZERO, ..DeviceFlowSettings::default() };
    hub.state().set_device_flow(settings);
    let login = |user: &str| {
        let waiting = start(hub.state().store(), &settings, "cli").unwrap();
        decide(hub.state().store(), &waiting.user_code, &Decision::Approve { user: user.into() }).unwrap();
        let (status, answer) = token_endpoint(
            &hub,
            &[("grant_type", DEVICE_CODE_GRANT), ("device_code", waiting.device_code.expose()), ("client_id", "cli")],
        );
        assert_eq!(status, 200, "{answer}");
        answer["refresh_token"].as_str().unwrap().to_owned()
    };
    let (alice_refresh, bob_refresh) = (login("alice"), login("bob"));
    // Alice deletes her browser login on the Access Tokens page, as the device page tells her.
    let mut browser = WebClient::new(hub.url());
    browser.sign_in("alice", "alice password");
    let page = browser.get("/settings/tokens");
    let row = &page.body[page.body.find(r#"data-token-name="(browser login)""#).expect("the browser login's row")..];
    let id_at = row.find(r#"name="id" value=""#).unwrap() + r#"name="id" value=""#.len();
    let id = &row[id_at..id_at + row[id_at..].find('"').unwrap()];
    let deleted = browser.post("/settings/tokens/delete", &[("csrf", &page.csrf()), ("id", id)]);
    assert_eq!(deleted.status, 303, "{}", deleted.body);
    // The device cannot get itself a new token with the refresh token it kept.
    let (status, answer) = token_endpoint(&hub, &[("grant_type", "refresh_token"), ("refresh_token", &alice_refresh)]);
    assert_eq!((status, answer["error"].as_str()), (400, Some("invalid_grant")), "{answer}");
    // Bob's login is his own: it still refreshes.
    let (status, answer) = token_endpoint(&hub, &[("grant_type", "refresh_token"), ("refresh_token", &bob_refresh)]);
    assert_eq!(status, 200, "{answer}");
    // A refresh token is not an access token, nor one user's refresh token another's.
    let refreshed = answer["refresh_token"].as_str().unwrap();
    let whoami = reqwest::blocking::Client::new()
        .get(format!("{}/api/whoami-v2", hub.url()))
        .bearer_auth(refreshed)
        .send()
        .unwrap();
    assert_eq!(whoami.status().as_u16(), 401);
}

/// Signs in as a browser behind a TLS proxy on the server's machine does: the proxy connects
/// from loopback and appends the browser's address to `X-Forwarded-For`.
fn sign_in_via_proxy(hub: &RunningHub, user: &str, password: &str, client: &str) -> u16 {
    let mut browser = WebClient::new(hub.url());
    let form = browser.get("/login");
    let request = browser
        .client()
        .post(format!("{}/login", hub.url()))
        .header("origin", hub.url())
        .header("x-forwarded-for", format!("10.9.9.9, {client}"))
        .form(&[("csrf", form.csrf().as_str()), ("next", "/"), ("username", user), ("password", password)]);
    browser.send(request).status
}

#[test]
fn behind_a_proxy_one_client_failing_sign_ins_does_not_lock_out_everyone() {
    let hub = fixture();
    // Mallory guesses names from her address: she is slowed down...
    let statuses: Vec<u16> = ["a", "b", "c", "d", "e", "f", "g"]
        .iter()
        .map(|name| sign_in_via_proxy(&hub, &format!("guess-{name}"), "x", "203.0.113.9"))
        .collect();
    assert_eq!(statuses, [401, 401, 401, 401, 401, 401, 429]);
    // ...and Alice, from her own address through the same proxy, is not.
    assert_eq!(sign_in_via_proxy(&hub, "alice", "alice password", "198.51.100.7"), 303);
}

#[test]
fn a_client_id_a_token_name_and_a_typed_code_are_shown_as_text() {
    let hub = fixture();
    let script = r#"<script>alert(1)</script>"#;
    let waiting = start(hub.state().store(), &DeviceFlowSettings::default(), &format!("\"'>{script}")).unwrap();
    let mut alice = WebClient::new(hub.url());
    alice.sign_in("alice", "alice password");
    let page = alice.get(&format!("/device?user_code={}", waiting.user_code));
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(!page.body.contains(script) && page.body.contains("&#60;script&#62;"), "{}", page.body);
    let typed = alice.get("/device?user_code=%3Cscript%3Ealert(1)%3C/script%3E");
    assert!(!typed.body.contains(script) && typed.body.contains("&#60;script&#62;"), "{}", typed.body);
    let tokens = alice.get("/settings/tokens");
    let name = r#""><img src=x onerror=alert(1)>"#;
    let made = alice.post("/settings/tokens", &[("csrf", &tokens.csrf()), ("name", name), ("role", "read")]);
    assert_eq!(made.status, 200, "{}", made.body);
    let listed = alice.get("/settings/tokens");
    assert!(!listed.body.contains("<img src=x") && listed.body.contains("&#60;img src=x"), "{}", listed.body);
}

#[test]
fn huge_forms_and_token_requests_are_refused_without_reading_them_all() {
    let hub = fixture();
    let mut browser = WebClient::new(hub.url());
    let form = browser.get("/login");
    let huge = "x".repeat(1 << 20);
    let answer = browser.post("/login", &[("csrf", &form.csrf()), ("username", "alice"), ("password", &huge)]);
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert!(answer.body.contains("The form is too large."));
    let client = reqwest::blocking::Client::new();
    let long_field = format!("grant_type=refresh_token&refresh_token={}", "r".repeat(8192));
    let refused = client
        .post(format!("{}/oauth/token", hub.url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(long_field)
        .send()
        .unwrap();
    assert_eq!(refused.status().as_u16(), 400);
    let endless = client
        .post(format!("{}/oauth/device", hub.url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("client_id={}", "c".repeat(8 << 20)))
        .send();
    assert!(endless.is_err() || endless.unwrap().status().as_u16() == 413, "an 8 MiB body is not taken");
    // The server still answers.
    assert_eq!(browser.get("/login").status, 200);
}

#[test]
fn one_address_starting_login_after_login_is_slowed_down_and_others_are_not() {
    let hub = fixture();
    let client = reqwest::blocking::Client::new();
    let start = |forwarded: Option<&str>| {
        let mut request = client
            .post(format!("{}/oauth/device", hub.url()))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("client_id=cli");
        if let Some(address) = forwarded {
            // A proxy on this machine names the client (see `client_address`).
            request = request.header("x-forwarded-for", address);
        }
        request.send().unwrap()
    };
    for _ in 0..=hfkit_server::web::session::FREE_FAILURES {
        assert_eq!(start(Some("203.0.113.7")).status().as_u16(), 200);
    }
    let slowed = start(Some("203.0.113.7"));
    assert_eq!(slowed.status().as_u16(), 429);
    assert!(slowed.headers().contains_key("retry-after"));
    let body: serde_json::Value = slowed.json().unwrap();
    assert_eq!(body["error"], "slow_down");
    // Another client still starts its login.
    assert_eq!(start(Some("203.0.113.8")).status().as_u16(), 200);
}
