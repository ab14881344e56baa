//! The browser login (OAuth device flow, RFC 8628) end to end: our server, our `hf`, and
//! huggingface_hub 2.4's own client, in turn on one `HF_HOME`. A person's approval is the
//! server's own decision function (the approval page and `hf serve device` call it).

mod common;

use std::time::Duration;

use common::{OAUTH, READ, Session, context, hub};
use hfkit_server::oauth::{Decision, DeviceFlowSettings, decide};
use hfkit_test::{RunningHub, TestContext};

/// The shared hub with a device flow that polls every second and tokens that live an hour
/// (less than a day: every new process refreshes them, as with Python).
fn login_hub(code_lifetime: Duration) -> RunningHub {
    let hub = hub();
    hub.state().set_device_flow(DeviceFlowSettings {
        code_lifetime,
        interval: Duration::from_secs(1),
        access_lifetime: Duration::from_secs(3600),
        refresh_lifetime: Duration::from_secs(86_400),
        ..DeviceFlowSettings::default()
    });
    hub
}

fn approve(hub: &RunningHub, code: &str) {
    decide(hub.state().store(), code, &Decision::Approve { user: "alice".into() }).expect("the code is pending");
}

/// Python's own `hf auth login` (no terminal: it starts the browser login at once).
fn python_login(t: &TestContext) -> Session {
    let mut cmd = t.command(t.python_bin().with_file_name("hf"));
    cmd.args(["auth", "login"]).env("PYTHONUNBUFFERED", "1");
    Session::start(cmd)
}

/// Our `hf auth login --format agent`, started and waiting for the user code it printed.
fn our_agent_login(t: &TestContext) -> (Session, String) {
    let mut login = Session::start({
        let mut c = t.command(t.hf_bin());
        c.args(["auth", "login", "--format", "agent"]);
        c
    });
    login.close_stdin();
    let code = login.login_code("enter the code ");
    (login, code)
}

/// The `[oauth-alice]` section's fields.
fn oauth_entry(t: &TestContext) -> (String, String, i64) {
    let stored = hfkit::auth::stored_tokens::StoredTokens::load(&t.hf_home().join("stored_tokens")).unwrap();
    let entry = stored.get("oauth-alice").expect("an oauth-alice section");
    (
        entry.field("hf_token").unwrap().to_owned(),
        entry.field("refresh_token").expect("a refresh token").to_owned(),
        entry.expires_at().expect("an expiry"),
    )
}

fn token_file(t: &TestContext) -> String {
    std::fs::read_to_string(t.hf_home().join("token")).unwrap()
}

#[test]
fn our_login_on_a_terminal_defaults_to_the_browser_and_saves_refresh_data() {
    let hub = login_hub(Duration::from_secs(60));
    let mut t = context(&hub);
    // A desktop's browser: `$BROWSER` gets the page with the code filled in.
    let browser = t.root().join("browser");
    std::fs::write(&browser, "#!/bin/sh\nprintf %s \"$1\" > \"$HOME/opened\"\n").unwrap();
    std::fs::set_permissions(&browser, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    t.set_env("BROWSER", browser.to_str().unwrap());
    let mut s = Session::in_terminal(&t, "auth login");
    s.wait_for("Choice [1]: ");
    s.send("\n");
    let code = s.login_code("And enter the code: ");
    let out = s.wait_for("Waiting for authorization");
    assert!(out.contains("How would you like to log in?"), "{out}");
    assert!(out.contains("1. Log in with your browser") && out.contains("2. Paste an access token"), "{out}");
    assert!(out.contains(&format!("{}/device?user_code={code}", hub.url())), "{out}");
    s.wait_for("Waiting for authorization."); // one pending poll at least
    assert!(out.contains("The page was opened in your browser."), "{out}");
    approve(&hub, &code);
    let run = s.finish();
    run.expect_code(0);
    let opened = std::fs::read_to_string(t.home().join("opened")).unwrap();
    assert_eq!(opened, format!("{}/device?user_code={code}", hub.url()));
    for line in [
        "Token is valid.",
        "The current active token is: `oauth-alice`",
        "Note: This token will be refreshed automatically when it expires.",
    ] {
        assert!(run.stdout.contains(line), "{line:?} missing:\n{}", run.stdout);
    }
    let (token, refresh, expires_at) = oauth_entry(&t);
    assert!(token.starts_with("hf_") && token.len() == 37, "{token}");
    assert!(!run.stdout.contains(&token) && !run.stdout.contains(&refresh), "no token in the output");
    assert_eq!(token_file(&t), token);
    let now = hfkit::time::now_unix();
    assert!((now + 3590..=now + 3610).contains(&expires_at), "expires_at = now + expires_in: {expires_at}");
    // Python uses it as is: its stored_tokens parser reads our section.
    let read = t.python(
        "from huggingface_hub.utils._auth import _read_stored_tokens_full as r; print(sorted(r()['oauth-alice']))",
    );
    assert_eq!(read.expect_code(0).stdout, "['expires_at', 'hf_token', 'issued_by', 'refresh_token']\n");
    let stored = hfkit::auth::stored_tokens::StoredTokens::load(&t.hf_home().join("stored_tokens")).unwrap();
    assert_eq!(stored.get("oauth-alice").unwrap().field("issued_by"), Some(hub.url().trim_end_matches('/')));
    // `hf auth status` says when it expires and that it renews itself, without the network.
    let status = t.hf(&["auth", "status"]);
    assert!(status.stdout.contains("expires: "), "{}", status.stdout);
    assert!(["(in 59 min)", "(in 60 min)", "(in 1 h)"].iter().any(|w| status.stdout.contains(w)), "{}", status.stdout);
    assert!(status.stdout.contains("it is refreshed automatically"), "{}", status.stdout);
    let json: serde_json::Value = serde_json::from_str(&t.hf(&["auth", "status", "--json"]).stdout).unwrap();
    assert_eq!((json["expires_at"].as_i64(), json["can_refresh"].as_bool()), (Some(expires_at), Some(true)));
}

#[test]
fn a_flood_of_device_codes_is_refused_and_the_login_waiting_still_succeeds() {
    let hub = login_hub(Duration::from_secs(60));
    hub.state().set_device_flow(DeviceFlowSettings { max_waiting: 1, ..hub.state().device_flow() });
    let t = context(&hub);
    let (waiting, code) = our_agent_login(&t);
    // The server's limit of codes waiting at once is reached: the next login is told why.
    let run = t.hf(&["auth", "login", "--format", "agent"]);
    run.expect_code(1);
    assert!(run.stderr.contains("too many logins are waiting for approval on this server"), "{}", run.stderr);
    let last = hub.requests().into_iter().rev().find(|r| r.path == "/oauth/device").unwrap();
    assert_eq!(last.status, 429);
    // The login that was waiting goes through.
    approve(&hub, &code);
    waiting.finish().expect_code(0);
    assert!(t.hf_home().join("token").exists());
}

#[test]
fn our_login_denied_or_expired_fails_with_pythons_messages() {
    let hub = login_hub(Duration::from_secs(60));
    let t = context(&hub);
    let (s, code) = our_agent_login(&t);
    decide(hub.state().store(), &code, &Decision::Deny).unwrap();
    let run = s.finish();
    run.expect_code(1);
    assert!(run.stdout.contains("Ask the user to open http://"), "{}", run.stdout);
    assert!(run.stderr.contains("Login failed: Authorization was denied. Please try again."), "{}", run.stderr);
    assert!(!t.hf_home().join("token").exists());

    let hub = login_hub(Duration::from_secs(1));
    let t = context(&hub);
    let run = t.hf(&["auth", "login", "--format", "agent"]);
    run.expect_code(1);
    assert!(run.stdout.contains("The code expires in 1 seconds."), "{}", run.stdout);
    assert!(run.stderr.contains("Login failed: Device code expired"), "{}", run.stderr);
    // A server without the browser login (here: the CDN listener) says so, and the way out.
    let mut cdn = context(&hub);
    cdn.set_env("HF_ENDPOINT", hub.cdn_url());
    let run = cdn.hf(&["auth", "login", "--format", "agent"]);
    run.expect_code(1);
    let expected = format!("Login failed: Failed to request device code from {}/oauth/device: ", hub.cdn_url());
    assert!(run.stderr.contains(&expected), "{}", run.stderr);
    assert!(run.stderr.contains("log in with a token: `hf auth login --token …`"), "{}", run.stderr);
    // Without a terminal and without an agent, today's clear error: no hidden wait.
    let run = t.hf(&["auth", "login"]);
    run.expect_code(1);
    assert!(run.stderr.contains("standard input was empty"), "{}", run.stderr);
}

#[test]
fn python_logs_in_against_our_server_and_each_client_refreshes_the_others_token() {
    let hub = login_hub(Duration::from_secs(60));
    let t = context(&hub);
    let mut python = python_login(&t);
    let code = python.login_code("And enter the code: ");
    python.wait_for("Waiting for authorization");
    approve(&hub, &code);
    let run = python.finish();
    run.expect_code(0);
    let (token, refresh, _) = oauth_entry(&t);
    assert_eq!(token_file(&t), token);

    // Ours: the token expires within a day, so the next command refreshes it under the lock.
    let run = t.hf(&["auth", "whoami"]);
    assert!(run.expect_code(0).stdout.contains("user: alice"), "{}", run.stdout);
    assert!(run.stderr.contains("Access token `oauth-alice` has been refreshed."), "{}", run.stderr);
    let (ours, our_refresh, _) = oauth_entry(&t);
    assert_ne!(ours, token);
    assert_ne!(our_refresh, refresh, "the refresh token rotates");
    assert_eq!(token_file(&t), ours);
    // The spent refresh token is refused, as Python sees it.
    let old = t.python(&format!(
        "from huggingface_hub.utils._oauth_device import refresh_access_token as r\n\
         try: r('{refresh}')\nexcept Exception as e: print(e.error_code, e)"
    ));
    assert!(
        old.expect_code(0).stdout.starts_with("invalid_grant Failed to refresh access token: invalid_grant"),
        "{}",
        old.stdout
    );

    // Python: refreshes what we wrote, and we use its result.
    let run = t.python("from huggingface_hub import get_token; print(get_token())");
    let pythons = run.expect_code(0).stdout.trim().to_owned();
    assert_ne!(pythons, ours);
    assert_eq!((oauth_entry(&t).0, token_file(&t)), (pythons.clone(), pythons));
    assert_eq!(t.hf(&["auth", "whoami", "-q"]).expect_code(0).stdout, "alice\n");
}

#[test]
fn python_login_is_denied_and_expires_and_is_told_to_slow_down() {
    let hub = login_hub(Duration::from_secs(60));
    let t = context(&hub);
    let mut python = python_login(&t);
    let code = python.login_code("And enter the code: ");
    decide(hub.state().store(), &code, &Decision::Deny).unwrap();
    let run = python.finish();
    run.expect_code(1);
    assert!(run.stderr.contains("Login failed: Authorization was denied. Please try again."), "{}", run.stderr);

    // A client that polls faster than asked hears `slow_down`; Python adds 5 s each time.
    let slow = t.python(
        "import time\n\
         from huggingface_hub.utils import _oauth_device as d\n\
         info = d.request_device_code()\n\
         asked = []\n\
         def sleep(s):\n    asked.append(s)\n    if len(asked) == 3: raise SystemExit(print(asked))\n\
         time.sleep = sleep\n\
         d.poll_device_token(info)",
    );
    assert_eq!(slow.expect_code(0).stdout, "[1, 6, 11]\n");
    assert!(
        hub.requests().iter().filter(|r| r.path == "/oauth/token" && r.status == 400).count() >= 3,
        "pending, then slow_down twice"
    );

    let hub = login_hub(Duration::from_secs(1));
    let t = context(&hub);
    let run = t.python(
        "import time\n\
         from huggingface_hub.utils._oauth_device import request_device_code, poll_device_token\n\
         from huggingface_hub.errors import DeviceCodeError\n\
         info = request_device_code()\n\
         time.sleep(1.2)\n\
         try: poll_device_token(info)\n\
         except DeviceCodeError as e: print(e.error_code == 'expired_token', e)",
    );
    assert_eq!(run.expect_code(0).stdout, "True Device code expired. Please try again.\n");
}

#[test]
fn a_refused_refresh_token_says_to_log_in_again_and_the_token_is_still_used() {
    let hub = login_hub(Duration::from_secs(60));
    let t = context(&hub);
    // An OAuth login whose token is past its stored expiry, with a refresh token the server
    // does not know (revoked); the server itself still takes the token.
    std::fs::create_dir_all(t.hf_home()).unwrap();
    let stored = format!("[oauth-alice]\nhf_token = {OAUTH}\nrefresh_token = hfr_revoked\nexpires_at = 1000\n\n");
    std::fs::write(t.hf_home().join("stored_tokens"), stored).unwrap();
    std::fs::write(t.hf_home().join("token"), OAUTH).unwrap();
    let run = t.hf(&["auth", "whoami", "-q"]);
    assert_eq!(run.expect_code(0).stdout, "alice\n");
    let expected = "Your Hugging Face access token has expired and could not be refreshed (session expired or revoked). Run `hf auth login` to re-authenticate.";
    assert!(run.stderr.contains(expected), "{}", run.stderr);
    assert!(!run.stderr.contains("hfr_revoked"), "{}", run.stderr);
    // Python says the same about the same files.
    let py = t.python("from huggingface_hub import get_token; get_token()");
    assert!(py.expect_code(0).stderr.contains(expected), "{}", py.stderr);
    assert_eq!(token_file(&t), OAUTH, "nothing was rewritten");
    let status = t.hf(&["auth", "status"]);
    assert!(status.stdout.contains("(expired); it is refreshed automatically"), "{}", status.stdout);
    // A plain access token is never refreshed.
    t.hf(&["auth", "login", "--token", READ]).expect_code(0);
    let run = t.hf(&["auth", "whoami"]);
    assert!(!run.stderr.contains("refresh"), "{}", run.stderr);
}

#[test]
fn a_refresh_token_is_sent_only_to_the_hub_that_issued_it() {
    let hub = login_hub(Duration::from_secs(60));
    let t = context(&hub);
    std::fs::create_dir_all(t.hf_home()).unwrap();
    let here = hub.url().trim_end_matches('/');
    let login_at = |issuer: &str, token: &str, refresh: &str| {
        let stored = format!(
            "[oauth-alice]\nhf_token = {token}\nrefresh_token = {refresh}\nexpires_at = 1000\nissued_by = {issuer}\n\n"
        );
        std::fs::write(t.hf_home().join("stored_tokens"), stored).unwrap();
        std::fs::write(t.hf_home().join("token"), token).unwrap();
    };
    let refreshes = || hub.requests().iter().filter(|r| r.path == "/oauth/token").count();
    // An expired login at another Hub: used as it is here; its refresh token stays home.
    login_at("http://127.0.0.1:9", OAUTH, "hfr_from_elsewhere");
    let run = t.hf(&["auth", "whoami", "-q"]);
    assert_eq!(run.expect_code(0).stdout, "alice\n");
    let expected = format!(
        "Your Hugging Face access token `oauth-alice` has expired and was not refreshed: it was issued by http://127.0.0.1:9, and the Hub in use is {here} (HF_ENDPOINT)."
    );
    assert!(run.stderr.contains(&expected), "{}", run.stderr);
    assert!(run.stderr.contains("`hf auth login` to log in to"), "{}", run.stderr);
    assert!(!run.stderr.contains("hfr_from_elsewhere"), "{}", run.stderr);
    assert_eq!(refreshes(), 0, "no refresh request");
    let status = t.hf(&["auth", "status"]);
    assert!(
        status.stdout.contains("(expired); it is refreshed only with http://127.0.0.1:9, which issued it"),
        "{}",
        status.stdout
    );
    // The login this Hub issued is refreshed, and keeps its issuer.
    let settings = hub.state().device_flow();
    let store = hub.state().store();
    let auth = hfkit_server::oauth::start(store, &settings, "test").unwrap();
    approve(&hub, &auth.user_code);
    let issued = hfkit_server::oauth::poll(store, &settings, auth.device_code.expose(), None).unwrap();
    login_at(here, issued.access_token.expose(), issued.refresh_token.expose());
    let run = t.hf(&["auth", "whoami", "-q"]);
    assert_eq!(run.expect_code(0).stdout, "alice\n");
    assert_eq!(refreshes(), 1, "{}", run.stderr);
    let (token, _, expires_at) = oauth_entry(&t);
    assert_ne!(token, issued.access_token.expose());
    assert!(expires_at > hfkit::time::now_unix());
    let stored = hfkit::auth::stored_tokens::StoredTokens::load(&t.hf_home().join("stored_tokens")).unwrap();
    assert_eq!(stored.get("oauth-alice").unwrap().field("issued_by"), Some(here));
}

#[test]
fn refreshes_by_ours_and_python_started_at_once_make_one_request() {
    let hub = login_hub(Duration::from_secs(60));
    let t = context(&hub);
    let mut login = Session::start({
        let mut c = t.command(t.hf_bin());
        c.args(["auth", "login", "--format", "agent"]);
        c
    });
    login.close_stdin();
    let code = login.login_code("enter the code ");
    approve(&hub, &code);
    login.finish().expect_code(0);
    // Expired on disk; new tokens from the server live two days, so one refresh is enough.
    let (token, refresh, _) = oauth_entry(&t);
    let stored = format!("[oauth-alice]\nhf_token = {token}\nrefresh_token = {refresh}\nexpires_at = 1000\n\n");
    std::fs::write(t.hf_home().join("stored_tokens"), stored).unwrap();
    hub.state().set_device_flow(DeviceFlowSettings {
        access_lifetime: Duration::from_secs(2 * 86_400),
        ..hub.state().device_flow()
    });
    let tokens_before = hub.requests().iter().filter(|r| r.path == "/oauth/token").count();
    // Hold stored_tokens.lock (util-linux flock(1), the flock(2) both clients use) while the
    // five start, so that they all find the token expired and overlap at the lock.
    let lock = hfkit::auth::stored_tokens::lock_path(&t.hf_home().join("stored_tokens"));
    let held = t.root().join("lock-held");
    let release = t.root().join("lock-release");
    let mut holder = std::process::Command::new("flock")
        .arg(&lock)
        .args(["sh", "-c", "touch \"$1\"; while [ ! -e \"$2\" ]; do sleep 0.05; done", "sh"])
        .args([&held, &release])
        .spawn()
        .unwrap();
    while !held.exists() {
        std::thread::sleep(Duration::from_millis(20));
    }
    let spawn = |mut c: std::process::Command| c.stdout(std::process::Stdio::piped()).spawn().unwrap();
    let mut children: Vec<_> = (0..4)
        .map(|_| {
            spawn({
                let mut c = t.command(t.hf_bin());
                c.args(["auth", "whoami", "-q"]);
                c
            })
        })
        .collect();
    children.push(spawn({
        let mut c = t.command(t.python_bin());
        c.args(["-c", "from huggingface_hub import whoami; print(whoami()['name'])"]);
        c
    }));
    // Every client has read the expired token and waits for the lock (or soon will).
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        hub.requests().iter().filter(|r| r.path == "/oauth/token").count(),
        tokens_before,
        "no refresh while another process holds the lock"
    );
    std::fs::write(&release, "").unwrap();
    assert!(holder.wait().unwrap().success());
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        assert_eq!(String::from_utf8_lossy(&out.stdout), "alice\n");
    }
    let refreshes = hub.requests().iter().filter(|r| r.path == "/oauth/token").count() - tokens_before;
    // The five overlapped at stored_tokens.lock: one refreshed, the others re-read the file
    // under the lock and adopted its token; without the lock each would spend the same
    // refresh token (all but the first refused).
    assert_eq!(refreshes, 1, "one refresh for all five clients");
    let (new_token, _, expires_at) = oauth_entry(&t);
    assert_ne!(new_token, token);
    assert_eq!(token_file(&t), new_token);
    assert!(expires_at > hfkit::time::now_unix() + 86_400);
}
