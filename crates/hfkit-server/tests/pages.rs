//! The web pages over a real socket, as a browser without JavaScript uses them: forms
//! posted with their CSRF tokens, cookies kept by hand (so every flag can be checked), and
//! redirects followed one at a time.

use hfkit_test::web_client::WebClient;
use hfkit_test::{HubFixture, RepoFixture, RunningHub};

const ALICE: &str = "hf_pagesAlice0000000000000000000000001";
const BOB: &str = "hf_pagesBob000000000000000000000000001";

fn readme_repo() -> RepoFixture {
    RepoFixture::model("acme/open")
        .file(
            "README.md",
            "---\nlicense: mit\n---\n# Open model\n\nHello **world**.\n\n\
             <script>alert('readme')</script>\n\n\
             <img src=\"x.png\" onerror=\"alert('img')\">\n\n\
             A [click](javascript:alert('link')) and <a href=\"JaVaScRiPt:alert('a')\">a</a>.\n\n\
             <iframe src=\"https://evil.example\"></iframe><svg onload=\"alert('svg')\"></svg>\n\n\
             <a href=\"docs/usage.md\" onclick=\"alert('click')\">usage</a>\n",
        )
        .file("config.json", "{}")
        .lfs("model.safetensors", hfkit_test::pseudo_random(7, 4096))
}

fn fixture() -> RunningHub {
    HubFixture::new()
        .user("alice")
        .user("bob")
        .user("olga")
        .org("acme", &["alice"])
        .password("alice", "alice password")
        .password("bob", "bob password")
        .password("olga", "olga password")
        .admin("olga")
        .token("alice", "desk", "write", ALICE)
        .token("bob", "laptop", "read", BOB)
        .repo(readme_repo())
        .repo(RepoFixture::model("acme/secret").file("README.md", "# secret plans").private())
        .repo(RepoFixture::model("acme/gated").file("config.json", "{\"gated\": true}").lfs("w.bin", vec![3; 2048]))
        .request_form("acme/gated", &["Intended use"], Some("Be nice to the model."), false)
        .repo(RepoFixture::model("acme/auto").file("config.json", "{}"))
        .repo(RepoFixture::dataset("acme/data").file("train.csv", "a,b\n1,2\n"))
        .repo(RepoFixture::model("gpt-tiny").file("README.md", "# one-part id"))
        .request_form("acme/auto", &[], None, true)
        .start()
}

#[test]
fn the_session_cookie_is_httponly_samesite_lax_secure_on_loopback_and_renewed_at_sign_in() {
    let hub = fixture();
    let mut browser = WebClient::new(hub.url());
    // A session id planted before sign-in is not the one the browser gets after.
    browser.cookies.insert("hfkit_session".into(), "a".repeat(64));
    let signed = browser.sign_in("alice", "alice password");
    assert_eq!((signed.status, signed.location()), (303, "/"), "{}", signed.body);
    let cookie = signed.set_cookies().into_iter().find(|c| c.starts_with("hfkit_session=")).expect("a session cookie");
    for flag in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/", "Max-Age=604800"] {
        assert!(cookie.split("; ").any(|part| part == flag), "{flag} in {cookie}");
    }
    let id = &browser.cookies["hfkit_session"];
    assert_eq!(id.len(), 64);
    assert_ne!(id, &"a".repeat(64), "a new id at sign-in");
    assert!(browser.get("/settings/tokens").status == 200, "the session works");

    // A LAN address over plain http: a browser would drop a Secure cookie, so none is set;
    // behind a TLS proxy it is Secure again.
    let client = reqwest::blocking::Client::new();
    for (host, proto, secure) in [("10.1.2.3:8080", None, false), ("hub.example.org", Some("https"), true)] {
        let mut request = client.get(format!("{}/login", hub.url())).header("host", host);
        if let Some(proto) = proto {
            request = request.header("x-forwarded-proto", proto);
        }
        let answer = request.send().unwrap();
        let cookie = answer.headers()["set-cookie"].to_str().unwrap().to_owned();
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
        assert_eq!(cookie.contains("Secure"), secure, "{host}: {cookie}");
    }

    // Signing out ends the session in the store: the old cookie no longer signs in.
    let kept = browser.cookies.clone();
    let page = browser.get("/settings/tokens");
    let out = browser.post("/logout", &[("csrf", &page.csrf())]);
    assert_eq!((out.status, out.location()), (303, "/"));
    assert!(out.set_cookies().iter().any(|c| c.starts_with("hfkit_session=;") && c.contains("Max-Age=0")));
    browser.cookies = kept;
    let after = browser.get("/settings/tokens");
    assert_eq!((after.status, after.location()), (303, "/login?next=/settings/tokens"));
}

#[test]
fn a_form_without_its_csrf_token_is_refused() {
    let hub = fixture();
    let mut browser = WebClient::new(hub.url());
    assert_eq!(browser.sign_in("alice", "alice password").status, 303);
    let csrf = browser.get("/settings/tokens").csrf();
    let count = || hub.state().store().tokens(Some("alice")).unwrap().len();
    let before = count();
    for fields in [
        vec![("name", "x"), ("role", "read")],
        vec![("csrf", "0".repeat(64).as_str()), ("name", "x"), ("role", "read")],
    ] {
        let refused = browser.post("/settings/tokens", &fields);
        assert_eq!(refused.status, 403, "{}", refused.body);
        assert!(refused.body.contains("security token"), "{}", refused.body);
    }
    // The right token, sent by another site: refused by its Origin.
    let request = browser
        .client()
        .post(format!("{}/settings/tokens", hub.url()))
        .header("origin", "https://evil.example")
        .form(&[("csrf", csrf.as_str()), ("name", "x"), ("role", "read")]);
    assert_eq!(browser.send(request).status, 403);
    assert_eq!(count(), before, "no token was made");
    // Deleting and signing out need it too.
    assert_eq!(browser.post("/settings/tokens/delete", &[("id", "1")]).status, 403);
    assert_eq!(browser.post("/logout", &[]).status, 403);
    // The sign-in form: without its double-submit cookie, refused even with the password.
    let mut stranger = WebClient::new(hub.url());
    let refused = stranger.post("/login", &[("csrf", &csrf), ("username", "alice"), ("password", "alice password")]);
    assert_eq!(refused.status, 403);
    assert!(!refused.set_cookies().iter().any(|c| c.starts_with("hfkit_session=")));
    // With it, the form works.
    let made = browser.post("/settings/tokens", &[("csrf", &csrf), ("name", "x"), ("role", "read")]);
    assert_eq!(made.status, 200, "{}", made.body);
    assert_eq!(count(), before + 1);
}

#[test]
fn a_private_repo_page_is_the_same_404_as_a_repo_that_does_not_exist() {
    let hub = fixture();
    for who in [None, Some(("bob", "bob password"))] {
        let mut browser = WebClient::new(hub.url());
        if let Some((user, password)) = who {
            assert_eq!(browser.sign_in(user, password).status, 303);
        }
        let private = browser.get("/acme/secret");
        let missing = browser.get("/acme/nothing-here");
        assert_eq!((private.status, missing.status), (404, 404));
        assert_eq!(private.body, missing.body, "the same page: nothing tells the private repo exists");
        assert!(!private.body.contains("secret"));
        let home = browser.get("/");
        assert!(home.body.contains("acme/open") && !home.body.contains("acme/secret"), "{}", home.body);
        assert!(!browser.get("/?search=secret").body.contains("acme/secret"));
    }
    let mut alice = WebClient::new(hub.url());
    assert_eq!(alice.sign_in("alice", "alice password").status, 303);
    let page = alice.get("/acme/secret");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("secret plans"));
    assert!(alice.get("/").body.contains("acme/secret"), "the owner's org member sees it listed");
}

#[test]
fn a_token_value_is_shown_once_and_never_in_a_page_afterwards() {
    let hub = fixture();
    let mut browser = WebClient::new(hub.url());
    assert_eq!(browser.sign_in("bob", "bob password").status, 303);
    let page = browser.get("/settings/tokens");
    assert!(page.body.contains(r#"id="new-token""#));
    assert!(page.body.contains("hf_****0001"), "the seeded token, masked");
    assert!(!page.body.contains(BOB), "never a value");
    let made = browser.post("/settings/tokens", &[("csrf", &page.csrf()), ("name", "ci job"), ("role", "write")]);
    assert_eq!(made.status, 200);
    assert_eq!(made.headers["cache-control"], "private, no-store");
    let value = made.text_of("token-value").expect("the new value is shown");
    assert!(value.starts_with("hf_") && value.len() == 37, "{value}");
    // It works at once, with the role chosen.
    let whoami = |token: &str| {
        reqwest::blocking::Client::new().get(format!("{}/api/whoami-v2", hub.url())).bearer_auth(token).send().unwrap()
    };
    let me: serde_json::Value = whoami(&value).json().unwrap();
    assert_eq!((me["name"].as_str(), me["auth"]["accessToken"]["role"].as_str()), (Some("bob"), Some("write")));
    // Never again in a page: the list shows it masked, with its last use.
    let list = browser.get("/settings/tokens");
    assert!(!list.body.contains(&value));
    assert!(!list.body.contains(&value[3..]), "not even the random part");
    assert!(list.body.contains(&format!("hf_****{}", &value[value.len() - 4..])));
    assert!(list.body.contains("ci job"));
    for path in ["/", "/acme/open", "/settings/tokens"] {
        assert!(!browser.get(path).body.contains(&value), "{path}");
    }
    assert_eq!(list.body.matches("<td>never</td>").count(), 1, "the used token has a date, the unused one none");
    // A duplicate name is refused with the way out; delete, then the token is refused.
    let dup = browser.post("/settings/tokens", &[("csrf", &list.csrf()), ("name", "ci job"), ("role", "read")]);
    assert_eq!(dup.status, 400);
    assert!(dup.text_of("token-error").unwrap().contains("already"));
    let id = hub
        .state()
        .store()
        .tokens(Some("bob"))
        .unwrap()
        .into_iter()
        .find(|t| t.name.as_deref() == Some("ci job"))
        .unwrap()
        .id;
    let deleted = browser.post("/settings/tokens/delete", &[("csrf", &list.csrf()), ("id", &id.to_string())]);
    assert_eq!((deleted.status, deleted.location()), (303, "/settings/tokens"));
    assert_eq!(whoami(&value).status(), 401);
    assert!(!browser.get("/settings/tokens").body.contains("ci job"));
    // Another user's token cannot be deleted through this form.
    let alices = hub.state().store().tokens(Some("alice")).unwrap()[0].id;
    assert_eq!(
        browser.post("/settings/tokens/delete", &[("csrf", &list.csrf()), ("id", &alices.to_string())]).status,
        400
    );
    assert_eq!(whoami(ALICE).status(), 200);
}

#[test]
fn markdown_with_scripts_handlers_and_javascript_links_is_rendered_inert() {
    let hub = fixture();
    let mut browser = WebClient::new(hub.url());
    let page = browser.get("/acme/open");
    assert_eq!(page.status, 200);
    let card = &page.body[page.body.find(r#"id="model-card""#).expect("the model card")..];
    assert!(card.contains("<h1>Open model</h1>") && card.contains("<strong>world</strong>"), "{card}");
    assert!(!card.contains("license: mit"), "front matter dropped");
    let lower = card.to_lowercase();
    for banned in ["<script", "onerror", "onload", "onclick", "javascript:", "<iframe", "alert("] {
        assert!(!lower.contains(banned), "{banned} survived: {card}");
    }
    assert_eq!(page.body.matches("<script").count(), 1, "only our copy script");
    assert!(
        card.contains("<a rel=\"nofollow noopener noreferrer\">click</a>"),
        "the link kept, its URL dropped: {card}"
    );
    let head =
        hub.state().repos().get(&("model".to_owned(), "acme/open".to_owned())).unwrap().history.last().unwrap().clone();
    assert!(card.contains(&format!(r#"src="/acme/open/resolve/{head}/x.png""#)), "{card}");
    assert!(card.contains(&format!(r#"href="/acme/open/resolve/{head}/docs/usage.md""#)), "{card}");
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("script-src 'self'"), "{csp}");
    // Files with sizes and LFS marks, revisions, the download command.
    assert!(page.body.contains("model.safetensors") && page.body.contains("4.1 kB"), "{}", page.body);
    assert_eq!(page.body.matches(r#"class="badge lfs""#).count(), 1);
    assert_eq!(page.text_of("download-command").as_deref(), Some("hf download acme/open"));
    assert!(page.body.contains(&format!("<code>main</code> → <code>{head}</code>")));
}

#[test]
fn failed_sign_ins_are_slowed_down() {
    let hub = fixture();
    let mut browser = WebClient::new(hub.url());
    for _ in 0..6 {
        let wrong = browser.sign_in("alice", "wrong");
        assert_eq!(wrong.status, 401);
        assert_eq!(wrong.text_of("sign-in-error").as_deref(), Some("Wrong user name or password."));
    }
    // Now even the right password waits, and says how long.
    let waiting = browser.sign_in("alice", "alice password");
    assert_eq!(waiting.status, 429, "{}", waiting.body);
    let retry: u64 = waiting.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry), "{retry}");
    assert!(!waiting.set_cookies().iter().any(|c| c.starts_with("hfkit_session=")));
    // The same client address is slowed down for other names too.
    assert_eq!(browser.sign_in("bob", "bob password").status, 429);
    // An unknown user fails like a wrong password (no hint that the name exists).
    let fresh = fixture();
    let mut other = WebClient::new(fresh.url());
    let unknown = other.sign_in("nobody", "x");
    assert_eq!(unknown.status, 401);
    assert_eq!(unknown.text_of("sign-in-error").as_deref(), Some("Wrong user name or password."));
}

#[test]
fn a_gated_repo_request_is_pending_until_the_owner_approves_then_the_token_downloads() {
    let hub = fixture();
    let file = format!("{}/acme/gated/resolve/main/config.json", hub.url());
    let download =
        |token: &str| reqwest::blocking::Client::new().get(&file).bearer_auth(token).send().unwrap().status().as_u16();
    assert_eq!(download(BOB), 403);

    let mut anonymous = WebClient::new(hub.url());
    let page = anonymous.get("/acme/gated");
    assert!(page.text_of("gate-heading").unwrap().contains("requires approval"));
    assert!(page.body.contains(r#"id="sign-in-to-request""#) && !page.body.contains(r#"id="request-access""#));

    let mut bob = WebClient::new(hub.url());
    assert_eq!(bob.sign_in("bob", "bob password").status, 303);
    let page = bob.get("/acme/gated");
    assert!(page.body.contains(r#"<form id="request-access""#), "{}", page.body);
    assert!(
        page.body.contains("Intended use") && page.text_of("license-text").as_deref() == Some("Be nice to the model.")
    );
    let csrf = page.csrf();
    // The agreement and every answer are required.
    let no_agree = bob.post("/acme/gated/ask-access", &[("csrf", &csrf), ("field-0", "research")]);
    assert_eq!(no_agree.status, 400);
    let no_answer = bob.post("/acme/gated/ask-access", &[("csrf", &csrf), ("field-0", " "), ("agree", "yes")]);
    assert_eq!(no_answer.status, 400);
    let asked = bob.post("/acme/gated/ask-access", &[("csrf", &csrf), ("field-0", "research"), ("agree", "yes")]);
    assert_eq!((asked.status, asked.location()), (303, "/acme/gated"));
    let pending = bob.get("/acme/gated");
    assert!(pending.text_of("access-status").unwrap().contains("pending"), "{}", pending.body);
    assert_eq!(download(BOB), 403, "pending is not granted");
    assert_eq!(bob.get("/acme/gated/access-requests").status, 404, "only the owner sees the requests");

    let mut alice = WebClient::new(hub.url());
    assert_eq!(alice.sign_in("alice", "alice password").status, 303);
    let gated = alice.get("/acme/gated");
    assert!(gated.text_of("access-requests-link").unwrap().contains("1 pending"), "{}", gated.body);
    let requests = alice.get("/acme/gated/access-requests");
    assert!(requests.body.contains(r#"data-user="bob""#) && requests.body.contains("research"), "{}", requests.body);
    // Bob cannot approve himself, even with a valid form of his own.
    assert_eq!(
        bob.post("/acme/gated/access-requests", &[("csrf", &csrf), ("user", "bob"), ("decision", "approve")]).status,
        404
    );
    let approved = alice
        .post("/acme/gated/access-requests", &[("csrf", &requests.csrf()), ("user", "bob"), ("decision", "approve")]);
    assert_eq!((approved.status, approved.location()), (303, "/acme/gated/access-requests"));

    let granted = bob.get("/acme/gated");
    assert_eq!(granted.text_of("access-status").as_deref(), Some("✓ You have been granted access to this model"));
    assert_eq!(download(BOB), 200, "the token downloads at once");
    // The browser's session downloads the file from the page too.
    assert_eq!(bob.get("/acme/gated/resolve/main/config.json").status, 200);

    // Denying takes it back.
    let denied =
        alice.post("/acme/gated/access-requests", &[("csrf", &requests.csrf()), ("user", "bob"), ("decision", "deny")]);
    assert_eq!(denied.status, 303);
    assert_eq!(download(BOB), 403);
    assert!(bob.get("/acme/gated").text_of("access-status").unwrap().contains("denied"));
}

#[test]
fn a_repo_set_to_approve_automatically_grants_on_request() {
    let hub = fixture();
    let mut bob = WebClient::new(hub.url());
    assert_eq!(bob.sign_in("bob", "bob password").status, 303);
    let page = bob.get("/acme/auto");
    let asked = bob.post("/acme/auto/ask-access", &[("csrf", &page.csrf()), ("agree", "yes")]);
    assert_eq!(asked.status, 303);
    assert_eq!(
        bob.get("/acme/auto").text_of("access-status").as_deref(),
        Some("✓ You have been granted access to this model")
    );
    let status = reqwest::blocking::Client::new()
        .get(format!("{}/acme/auto/resolve/main/config.json", hub.url()))
        .bearer_auth(BOB)
        .send()
        .unwrap()
        .status();
    assert_eq!(status, 200);
}

#[test]
fn signed_in_pages_send_a_visitor_to_sign_in_and_back() {
    let hub = fixture();
    let mut browser = WebClient::new(hub.url());
    let away = browser.get("/settings/tokens");
    assert_eq!((away.status, away.location()), (303, "/login?next=/settings/tokens"));
    let form = browser.get(away.location());
    let back = browser.post(
        "/login",
        &[("csrf", &form.csrf()), ("next", "/settings/tokens"), ("username", "bob"), ("password", "bob password")],
    );
    assert_eq!((back.status, back.location()), (303, "/settings/tokens"));
    // A `next` to another site is not followed.
    let form = browser.get("/login?next=//evil.example/");
    let stay = browser.post(
        "/login",
        &[("csrf", &form.csrf()), ("next", "//evil.example/"), ("username", "bob"), ("password", "bob password")],
    );
    assert_eq!(stay.location(), "/");
    // The pages are readable on a phone and carry their stylesheet.
    let home = browser.get("/");
    assert!(home.body.contains(r#"<meta name="viewport" content="width=device-width, initial-scale=1">"#));
    let css = browser.get("/-/static/style.css");
    assert_eq!((css.status, css.headers["content-type"].to_str().unwrap()), (200, "text/css; charset=utf-8"));
    assert!(css.body.contains(":focus-visible"));
}

#[test]
fn the_operator_sees_every_repo_and_decides_every_request_and_owners_see_their_own() {
    let hub = fixture();
    let mut bob = WebClient::new(hub.url());
    assert_eq!(bob.sign_in("bob", "bob password").status, 303);
    let csrf = bob.get("/acme/gated").csrf();
    let answer = "teaching <script>alert('owner')</script>";
    let asked = bob.post("/acme/gated/ask-access", &[("csrf", &csrf), ("field-0", answer), ("agree", "yes")]);
    assert_eq!(asked.status, 303);
    let none = bob.get("/settings/access-requests");
    assert_eq!(none.status, 200);
    assert!(none.body.contains(r#"id="no-pending""#), "bob manages nothing: {}", none.body);

    let mut alice = WebClient::new(hub.url());
    assert_eq!(alice.sign_in("alice", "alice password").status, 303);
    let owner = alice.get("/settings/access-requests");
    assert!(owner.body.contains(r#"data-repo="acme/gated" data-user="bob""#), "{}", owner.body);

    let mut olga = WebClient::new(hub.url());
    assert_eq!(olga.sign_in("olga", "olga password").status, 303);
    assert_eq!(olga.get("/acme/secret").status, 200, "the operator sees private repos");
    assert!(olga.get("/").body.contains("acme/secret"));
    let overview = olga.get("/settings/access-requests");
    assert!(overview.body.contains("you are the operator"), "{}", overview.body);
    assert!(
        overview.body.contains("teaching &#60;script&#62;") || overview.body.contains("teaching &lt;script&gt;"),
        "{}",
        overview.body
    );
    assert_eq!(overview.body.matches("<script").count(), 1, "an answer is shown as text, never run");
    let approved = olga
        .post("/acme/gated/access-requests", &[("csrf", &overview.csrf()), ("user", "bob"), ("decision", "approve")]);
    assert_eq!(approved.status, 303);
    let request = hub.state().store().access_request("model", "acme/gated", "bob").unwrap().unwrap();
    assert_eq!(request.decided_by.as_deref(), Some("olga"));
    assert_eq!(hub.state().store().grants("model", "acme/gated").unwrap(), ["bob"]);
}

#[test]
fn dataset_pages_and_one_part_ids_have_their_own_addresses_and_commands() {
    let hub = fixture();
    let mut browser = WebClient::new(hub.url());
    let data = browser.get("/datasets/acme/data");
    assert_eq!(data.status, 200);
    assert_eq!(data.text_of("download-command").as_deref(), Some("hf download acme/data --repo-type dataset"));
    assert!(data.body.contains(r#"href="/datasets/acme/data/resolve/"#), "{}", data.body);
    assert_eq!(browser.get("/acme/data").status, 404, "not a model");
    let one = browser.get("/gpt-tiny");
    assert_eq!(one.status, 200);
    assert!(one.body.contains("one-part id"));
    let home = browser.get("/?search=DATA");
    assert!(home.body.contains(r#"href="/datasets/acme/data""#) && !home.body.contains("gpt-tiny"), "{}", home.body);
    // The Hub's API keeps its routes under the pages' addresses.
    let api = browser.get("/api/models/acme/open");
    assert_eq!((api.status, api.headers["content-type"].to_str().unwrap()), (200, "application/json"));
    assert_eq!(browser.get("/acme/open/resolve/main/config.json").body, "{}");
}
