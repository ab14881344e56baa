//! The guide's journey as a person sees it: `hf serve`'s pages in a real headless Chromium,
//! and the real `hf` binary using what the pages gave.
//!
//! Each test also saves screenshots of the pages the guide sends people to. They go to a
//! temporary folder; with `HFKIT_UPDATE_SCREENSHOTS=1` they replace the ones in
//! `docs/screenshots/` that the README shows, so those always come from the current code.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::Session;
use hfkit_server::oauth::DeviceFlowSettings;
use hfkit_test::{Browser, HubFixture, RepoFixture, RunningHub, TestContext};

const ALICE_PASSWORD: &str = "correct horse alice";
const BOB_PASSWORD: &str = "correct horse bob";
const BOB_TOKEN: &str = "hf_browserBob0000000000000000000000001";

fn hub() -> RunningHub {
    HubFixture::new()
        .user("alice")
        .user("bob")
        .org("meta-llama", &["alice"])
        .password("alice", ALICE_PASSWORD)
        .password("bob", BOB_PASSWORD)
        .token("bob", "laptop", "read", BOB_TOKEN)
        .repo(
            RepoFixture::model("meta-llama/Llama-3.2-1B")
                .file("README.md", "# Llama 3.2 1B\n\nA small model for the guide's journey.\n")
                .file("config.json", "{\"model_type\": \"llama\"}")
                .lfs("model.safetensors", hfkit_test::pseudo_random(32, 64 * 1024)),
        )
        .request_form(
            "meta-llama/Llama-3.2-1B",
            &["Intended use"],
            Some("You agree to use this model responsibly."),
            false,
        )
        .start()
}

/// Where screenshots go: `docs/screenshots/` when asked to update them, else a temporary folder.
struct Screenshots {
    dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
}

impl Screenshots {
    fn new() -> Self {
        if std::env::var_os("HFKIT_UPDATE_SCREENSHOTS").is_some_and(|v| v == "1") {
            let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots");
            return Self { dir, _temp: None };
        }
        let temp = tempfile::tempdir().expect("temp dir");
        Self { dir: temp.path().to_owned(), _temp: Some(temp) }
    }

    fn take(&self, browser: &Browser, name: &str) {
        let path = self.dir.join(format!("{name}.png"));
        browser.screenshot(&path);
        assert!(std::fs::metadata(&path).expect("a screenshot").len() > 1000, "{name}.png is empty");
    }
}

fn sign_in(browser: &Browser, hub: &RunningHub, user: &str, password: &str) {
    browser.goto(&format!("{}/login", hub.url()));
    browser.fill("#username", user);
    browser.fill("#password", password);
    browser.find("#sign-in-submit").click();
    browser.wait_for_element_text("#signed-in-user", user);
}

#[test]
fn a_read_token_made_on_the_tokens_page_logs_in_and_stops_working_once_deleted() {
    let hub = hub();
    let shots = Screenshots::new();
    let browser = Browser::start();
    sign_in(&browser, &hub, "alice", ALICE_PASSWORD);

    // The session cookie as the browser keeps it.
    let cookies = browser.cookies();
    let session = cookies.iter().find(|c| c["name"] == "hfkit_session").expect("a session cookie in the browser");
    assert_eq!(session["httpOnly"], true, "{session}");
    assert_eq!(session["sameSite"], "Lax", "{session}");

    // Settings → Access Tokens → New token, Read, a name; the value shown once.
    browser.find("#tokens-link").click();
    browser.fill("#token-name", "laptop");
    browser.find("#role-read").click();
    browser.find("#create-token").click();
    let token = browser.find("#token-value").text();
    assert!(token.starts_with("hf_") && token.len() > 30, "a token is shown: {token:?}");
    shots.take(&browser, "access-tokens");

    // Shown exactly once: the list afterwards has the name and role, never the value.
    browser.goto(&format!("{}/settings/tokens", hub.url()));
    let row = browser.find(r#"tr[data-token-name="laptop"]"#).text();
    assert!(row.contains("read"), "{row}");
    assert!(!browser.source().contains(&token), "the token value is never shown again");

    // The token works for our `hf`.
    let t = TestContext::new(env!("CARGO_MANIFEST_DIR"), &hub);
    t.hf(&["auth", "login", "--token", &token]).expect_code(0);
    let whoami = t.hf(&["auth", "whoami"]);
    whoami.expect_code(0);
    assert!(whoami.stdout.contains("alice"), "{}", whoami.all_output());
    assert!(!whoami.all_output().contains(&token), "no token in output");

    // The guide's "regenerate a compromised token": delete it, and it is refused at once.
    browser.find(r#"tr[data-token-name="laptop"] form.delete-token button"#).click();
    browser.find("#no-tokens");
    let refused = t.hf(&["auth", "whoami"]);
    assert_ne!(refused.code, 0, "a deleted token is refused: {}", refused.all_output());
    assert!(refused.all_output().to_lowercase().contains("invalid"), "{}", refused.all_output());
}

#[test]
fn a_gated_model_is_requested_in_the_browser_approved_by_its_owner_then_downloaded() {
    let hub = hub();
    let shots = Screenshots::new();
    let t = TestContext::new(env!("CARGO_MANIFEST_DIR"), &hub);
    t.hf(&["auth", "login", "--token", BOB_TOKEN]).expect_code(0);

    // Before: the download is refused with the address to ask for access.
    let refused = t.hf(&["download", "meta-llama/Llama-3.2-1B"]);
    assert_ne!(refused.code, 0, "{}", refused.all_output());
    assert!(refused.all_output().contains("meta-llama/Llama-3.2-1B"), "{}", refused.all_output());

    // Bob asks on the model's page: the form, the license, then "pending".
    let bob = Browser::start();
    sign_in(&bob, &hub, "bob", BOB_PASSWORD);
    let page = format!("{}/meta-llama/Llama-3.2-1B", hub.url());
    bob.goto(&page);
    assert!(bob.find("#gate-heading").text().contains("requires approval"));
    assert!(bob.find("#license-text").text().contains("responsibly"));
    shots.take(&bob, "gated-request");
    bob.fill("#field-0", "Trying the guide's journey");
    bob.find("#agree").click();
    bob.find("#request-access-submit").click();
    bob.wait_for_element_text("#access-status", "pending");

    // Alice, a member of the owning org, approves on the requests page.
    let alice = Browser::start();
    sign_in(&alice, &hub, "alice", ALICE_PASSWORD);
    alice.goto(&page);
    alice.find("#access-requests-link").click();
    let pending = alice.find(r#"#pending-requests li[data-user="bob"]"#).text();
    assert!(pending.contains("Trying the guide's journey"), "the owner sees the answers: {pending}");
    alice.find("#approve-bob").click();
    alice.find("#no-pending");

    // Bob sees the granted mark, and his token downloads at once.
    bob.goto(&page);
    let status = bob.find("#access-status").text();
    assert_eq!(status, "✓ You have been granted access to this model");
    shots.take(&bob, "gated-granted");
    let download = t.hf(&["download", "meta-llama/Llama-3.2-1B", "--quiet"]);
    download.expect_code(0);
    let snapshot = PathBuf::from(download.stdout.lines().last().expect("the snapshot path").trim());
    assert!(snapshot.is_dir(), "{}", download.all_output());
    assert_eq!(std::fs::read(snapshot.join("model.safetensors")).unwrap(), hfkit_test::pseudo_random(32, 64 * 1024));
}

/// `hf auth login` on a terminal, the browser chosen (the default): the page's address with
/// the code filled in, as the terminal prints it, and the running login.
fn start_browser_login(hub: &RunningHub, t: &TestContext) -> (Session, String, String) {
    hub.state().set_device_flow(DeviceFlowSettings {
        code_lifetime: Duration::from_secs(120),
        interval: Duration::from_secs(1),
        access_lifetime: Duration::from_secs(3600),
        refresh_lifetime: Duration::from_secs(86_400),
        ..DeviceFlowSettings::default()
    });
    let mut login = Session::in_terminal(t, "auth login --no-browser");
    login.wait_for("Choice [1]: ");
    login.send("\n");
    let code = login.login_code("And enter the code: ");
    let out = login.wait_for("Waiting for authorization");
    let page = format!("{}/device?user_code={code}", hub.url());
    assert!(out.contains(&page), "the terminal shows the page with the code: {out}");
    (login, page, code)
}

#[test]
fn a_browser_login_approved_on_the_device_page_finishes_hf_auth_login() {
    let hub = hub();
    let shots = Screenshots::new();
    let t = TestContext::new(env!("CARGO_MANIFEST_DIR"), &hub);
    let (login, page, code) = start_browser_login(&hub, &t);

    // The address from the terminal: sign in first, then back to the code to confirm.
    let browser = Browser::start();
    browser.goto(&page);
    browser.fill("#username", "alice");
    browser.fill("#password", ALICE_PASSWORD);
    browser.find("#sign-in-submit").click();
    assert_eq!(browser.find("#device-user-code").text(), code, "the page shows the terminal's code");
    shots.take(&browser, "device-approval");
    browser.find("#device-approve").click();
    browser.wait_for_element_text("#device-result", "approved");

    let run = login.finish();
    run.expect_code(0);
    assert!(run.stdout.contains("The current active token is: `oauth-alice`"), "{}", run.stdout);
    let whoami = t.hf(&["auth", "whoami"]);
    whoami.expect_code(0);
    assert!(whoami.stdout.contains("alice"), "{}", whoami.all_output());
    // The same code cannot be used twice.
    browser.goto(&page);
    browser.wait_for_element_text("#device-error", "already approved");
}

#[test]
fn a_browser_login_denied_on_the_device_page_fails_with_its_reason() {
    let hub = hub();
    let t = TestContext::new(env!("CARGO_MANIFEST_DIR"), &hub);
    let (login, _page, code) = start_browser_login(&hub, &t);

    // Typed by hand this time, in lower case and without its dash; a wrong code first.
    let browser = Browser::start();
    sign_in(&browser, &hub, "bob", BOB_PASSWORD);
    browser.goto(&format!("{}/device", hub.url()));
    browser.fill("#user-code", "BBBB-BBBB");
    browser.find("#device-code-submit").click();
    browser.wait_for_element_text("#device-error", "no device is waiting");
    browser.fill("#user-code", &code.replace('-', "").to_lowercase());
    browser.find("#device-code-submit").click();
    assert_eq!(browser.find("#device-user-code").text(), code);
    browser.find("#device-deny").click();
    browser.wait_for_element_text("#device-result", "denied");

    let run = login.finish();
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.stdout.contains("Authorization was denied. Please try again."), "{}", run.stdout);
    assert!(!t.hf_home().join("token").exists(), "nothing saved");
}
