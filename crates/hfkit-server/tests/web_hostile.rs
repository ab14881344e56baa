//! The web pages against a hostile visitor, over a real socket: a `next=` that a browser
//! would turn into another site, and requests that a README image or another site makes a
//! signed-in browser send to `/device`.

use hfkit_server::oauth::{DeviceFlowSettings, start};
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
