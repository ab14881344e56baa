//! `hf auth login`, `logout`, `switch`, `list`, `token`: files, modes, messages, exit codes.

mod common;

use common::{FINE, OAUTH, READ, UNKNOWN, WRITE, context, hub, mode};

#[test]
fn login_with_token_writes_python_compatible_files() {
    let hub = hub();
    let t = context(&hub);
    let run = t.hf(&["auth", "login", "--token", READ]);
    insta::assert_snapshot!(t.snapshot(&run, &hub));
    t.hf(&["auth", "login", "--token", FINE]).expect_code(0);
    let stored = std::fs::read_to_string(t.hf_home().join("stored_tokens")).unwrap();
    assert_eq!(stored, format!("[fine one]\nhf_token = {FINE}\n\n[my-read]\nhf_token = {READ}\n\n"));
    assert_eq!(std::fs::read_to_string(t.hf_home().join("token")).unwrap(), FINE, "no trailing newline");
    assert_eq!(mode(&t.hf_home().join("token")), 0o600);
    assert_eq!(mode(&t.hf_home().join("stored_tokens")), 0o600);
    // HF_HOME existed before the login: its mode is the user's (journey.rs checks both cases).
}

#[test]
fn login_from_stdin_pipe() {
    let hub = hub();
    let t = context(&hub);
    t.hf_with_stdin(&["auth", "login"], &format!("{WRITE}\n")).expect_code(0);
    assert_eq!(std::fs::read_to_string(t.hf_home().join("token")).unwrap(), WRITE);
    let stored = std::fs::read_to_string(t.hf_home().join("stored_tokens")).unwrap();
    assert!(stored.contains("[bob-write]"), "{stored}");
}

#[test]
fn oauth_token_is_stored_as_oauth_user() {
    let hub = hub();
    let t = context(&hub);
    let run = t.hf(&["auth", "login", "--token", OAUTH]);
    run.expect_code(0);
    assert!(run.stderr.contains("Token is valid.\n"), "{}", run.stderr);
    assert!(std::fs::read_to_string(t.hf_home().join("stored_tokens")).unwrap().starts_with("[oauth-alice]\n"));
}

#[test]
fn invalid_token_is_refused_and_nothing_is_saved() {
    let hub = hub();
    let t = context(&hub);
    let run = t.hf(&["auth", "login", "--token", UNKNOWN]);
    insta::assert_snapshot!(t.snapshot(&run, &hub));
    assert!(!t.hf_home().join("token").exists());
    assert!(!t.hf_home().join("stored_tokens").exists());
}

#[test]
fn org_and_malformed_tokens_are_refused_before_any_request() {
    let hub = hub();
    let t = context(&hub);
    let run = t.hf(&["auth", "login", "--token", "api_org_0123456789abcdef"]);
    run.expect_code(1);
    assert!(run.stderr.contains("personal account token, not an organization token"), "{}", run.stderr);
    for bad in [&format!(" {READ}"), &format!("{READ}\n"), &format!("{READ} "), ""] {
        let run = t.hf(&["auth", "login", "--token", bad]);
        run.expect_code(1);
        assert!(run.stderr.contains("the token given with --token"), "{bad:?}: {}", run.stderr);
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    }
    assert!(hub.requests().iter().all(|r| r.path != "/api/whoami-v2"), "no request for refused tokens");
}

#[test]
fn login_without_token_when_already_logged_in_is_a_no_op() {
    let hub = hub();
    let mut t = context(&hub);
    t.set_env("HF_TOKEN", READ);
    let run = t.hf(&["auth", "login"]);
    insta::assert_snapshot!(t.snapshot(&run, &hub));
    let run = t.hf(&["auth", "login", "--format", "json"]);
    run.expect_code(1);
    assert!(run.stderr.contains("does not support --format json/quiet"), "{}", run.stderr);
}

#[test]
fn login_without_token_and_without_terminal_says_how() {
    let hub = hub();
    let t = context(&hub);
    let run = t.hf(&["auth", "login"]);
    run.expect_code(1);
    assert!(run.stderr.contains("standard input was empty"), "{}", run.stderr);
    assert!(run.stderr.contains("or pass --token"), "{}", run.stderr);
}

#[test]
fn login_notes_that_hf_token_wins() {
    let hub = hub();
    let mut t = context(&hub);
    t.set_env("HF_TOKEN", WRITE);
    let run = t.hf(&["auth", "login", "--token", READ]);
    insta::assert_snapshot!(t.snapshot(&run, &hub));
}

#[test]
fn list_switch_token_logout_journey() {
    let hub = hub();
    let t = context(&hub);
    t.hf(&["auth", "login", "--token", READ]).expect_code(0);
    t.hf(&["auth", "login", "--token", FINE]).expect_code(0);
    insta::assert_snapshot!("list_two_tokens", t.snapshot(&t.hf(&["auth", "list"]), &hub));
    insta::assert_snapshot!("switch_to_read", t.snapshot(&t.hf(&["auth", "switch", "--token-name", "my-read"]), &hub));
    let run = t.hf(&["auth", "token"]);
    run.expect_code(0);
    assert_eq!(run.stdout, format!("{READ}\n"));
    let run = t.hf(&["auth", "list", "--json"]);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json[1]["name"], "my-read");
    assert_eq!(json[1]["active"], true);
    assert_eq!(json[0]["active"], false);
    insta::assert_snapshot!("switch_unknown", t.snapshot(&t.hf(&["auth", "switch", "--token-name", "nope"]), &hub));
    insta::assert_snapshot!("switch_no_name", t.snapshot(&t.hf(&["auth", "switch"]), &hub));
    insta::assert_snapshot!("logout_active", t.snapshot(&t.hf(&["auth", "logout", "--token-name", "my-read"]), &hub));
    assert!(!t.hf_home().join("token").exists());
    insta::assert_snapshot!("list_no_active", t.snapshot(&t.hf(&["auth", "list"]), &hub));
    insta::assert_snapshot!("logout_unknown", t.snapshot(&t.hf(&["auth", "logout", "--token-name", "nope"]), &hub));
    insta::assert_snapshot!("token_not_logged_in", t.snapshot(&t.hf(&["auth", "token"]), &hub));
    insta::assert_snapshot!("logout_all", t.snapshot(&t.hf(&["auth", "logout"]), &hub));
    assert!(!t.hf_home().join("stored_tokens").exists());
    insta::assert_snapshot!("logout_not_logged_in", t.snapshot(&t.hf(&["auth", "logout"]), &hub));
    insta::assert_snapshot!("list_empty", t.snapshot(&t.hf(&["auth", "list"]), &hub));
}

#[test]
fn switch_without_stored_tokens_fails_clearly() {
    let hub = hub();
    let t = context(&hub);
    let run = t.hf(&["auth", "switch"]);
    run.expect_code(1);
    assert!(run.stderr.contains("No stored tokens found"), "{}", run.stderr);
}

#[test]
fn logout_with_hf_token_still_set_explains_and_fails() {
    let hub = hub();
    let mut t = context(&hub);
    t.hf(&["auth", "login", "--token", READ]).expect_code(0);
    t.set_env("HF_TOKEN", WRITE);
    let run = t.hf(&["auth", "logout"]);
    insta::assert_snapshot!(t.snapshot(&run, &hub));
    assert!(!t.hf_home().join("token").exists());
}

#[test]
fn corrupt_stored_tokens_is_reported_and_kept() {
    let hub = hub();
    let t = context(&hub);
    let path = t.hf_home().join("stored_tokens");
    let corrupt = format!("[keep]\nhf_token = {WRITE}\nthis line is broken\n");
    std::fs::write(&path, &corrupt).unwrap();
    let run = t.hf(&["auth", "login", "--token", READ]);
    insta::assert_snapshot!(t.snapshot(&run, &hub));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), corrupt, "the corrupt file is never overwritten");
    assert!(!t.hf_home().join("token").exists());
    let run = t.hf(&["auth", "list"]);
    run.expect_code(1);
    assert!(run.stderr.contains("line 3"), "{}", run.stderr);
}

#[test]
fn concurrent_logins_lose_nothing() {
    let hub = hub();
    let t = context(&hub);
    let tokens = [READ, FINE, WRITE, OAUTH];
    let children: Vec<_> = (0..3)
        .flat_map(|_| tokens)
        .map(|tok| {
            t.command(t.hf_bin())
                .args(["auth", "login", "--token", tok])
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let stored = std::fs::read_to_string(t.hf_home().join("stored_tokens")).unwrap();
    for name in ["[bob-write]", "[fine one]", "[my-read]", "[oauth-alice]"] {
        assert!(stored.contains(name), "{name} missing from\n{stored}");
    }
    let active = std::fs::read_to_string(t.hf_home().join("token")).unwrap();
    assert!(tokens.contains(&active.as_str()), "the token file holds one whole token: {active:?}");
    let leftovers: Vec<_> = std::fs::read_dir(t.hf_home())
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn git_credential_store_is_approved_on_login_and_rejected_on_logout() {
    let hub = hub();
    let t = context(&hub);
    let git = |args: &[&str]| t.run(t.command("git").args(args), None);
    git(&["config", "--global", "credential.helper", "store"]).expect_code(0);
    let run = t.hf(&["auth", "login", "--token", READ, "--add-to-git-credential"]);
    insta::assert_snapshot!(t.snapshot(&run, &hub));
    let stored = std::fs::read_to_string(t.home().join(".git-credentials")).unwrap();
    let port = hub.url().rsplit(':').next().unwrap();
    assert_eq!(stored.trim(), format!("http://hf_user:{READ}@127.0.0.1%3a{port}"));
    // git itself finds it, as a push would.
    let fill = t.run(t.command("git").args(["credential", "fill"]), Some(&format!("url={}\n\n", hub.url())));
    assert!(fill.stdout.contains(&format!("password={READ}")), "{}", fill.stdout);
    t.hf(&["auth", "logout"]).expect_code(0);
    assert_eq!(std::fs::read_to_string(t.home().join(".git-credentials")).unwrap().trim(), "");
}

#[test]
fn git_credential_without_helper_explains() {
    let hub = hub();
    let t = context(&hub);
    let run = t.hf(&["auth", "login", "--token", READ, "--add-to-git-credential"]);
    run.expect_code(0);
    assert!(run.stdout.contains("git config --global credential.helper store"), "{}", run.stdout);
    assert!(run.stderr.contains("Token has not been saved to git credential helper."), "{}", run.stderr);
}
