//! `hf auth login --keyring` against a real Secret Service (gnome-keyring-daemon on a
//! private D-Bus session bus, started by each test): the token is saved there and read
//! back by the chain, right after the token file; `hf auth logout` deletes it; and a
//! machine without a keyring gets an error, never a token file or an anonymous request.

mod common;

use common::{READ, WRITE, context, hub};
use hfkit_test::{RunningHub, SecretService, TestContext};

/// A context whose runs see `keyring`'s bus.
fn keyring_context(hub: &RunningHub, keyring: &SecretService) -> TestContext {
    let mut t = context(hub);
    t.set_env("DBUS_SESSION_BUS_ADDRESS", keyring.address());
    t
}

fn token_path(t: &TestContext) -> String {
    t.hf_home().join("token").display().to_string()
}

fn marker(t: &TestContext) -> std::path::PathBuf {
    t.hf_home().join("token.keyring")
}

#[test]
fn keyring_login_read_and_logout() {
    let hub = hub();
    let keyring = SecretService::start();
    let t = keyring_context(&hub, &keyring);

    // A plain login first: --keyring replaces its token file.
    t.hf(&["auth", "login", "--token", WRITE]).expect_code(0);
    let run = t.hf(&["auth", "login", "--keyring", "--token", READ]);
    run.expect_code(0);
    assert!(!run.all_output().contains(READ), "the token was printed: {}", run.all_output());
    assert!(run.stderr.contains("saved to the system keyring (service `hf`"), "{}", run.stderr);
    assert!(run.stderr.contains("does not read the system keyring"), "{}", run.stderr);

    // The Secret Service holds it, as another client (libsecret's secret-tool) reads it…
    assert_eq!(keyring.lookup(&token_path(&t)).as_deref(), Some(READ));
    // …and no file does: the token file is gone, the marker and stored_tokens never hold it.
    assert!(!t.hf_home().join("token").exists());
    let marker_text = std::fs::read_to_string(marker(&t)).unwrap();
    assert!(marker_text.contains("service = hf") && !marker_text.contains(READ), "{marker_text}");
    assert!(!std::fs::read_to_string(t.hf_home().join("stored_tokens")).unwrap().contains(READ));

    // The chain reads it: the token is sent, and its source is named.
    let run = t.hf(&["auth", "whoami", "--format", "json"]);
    run.expect_code(0);
    let who: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!((who["user"].as_str(), who["token_source"].as_str()), (Some("alice"), Some("keyring")));
    assert_eq!(t.hf(&["auth", "token"]).expect_code(0).stdout.trim(), READ);

    // Status says where the active token lives, and that Python will not see it.
    let run = t.hf(&["auth", "status"]);
    run.expect_code(0);
    assert!(run.stdout.contains("Active token: hf_****AAA1 from keyring"), "{}", run.stdout);
    assert!(run.stdout.contains("kept in the system keyring (service `hf`"), "{}", run.stdout);
    assert!(run.stderr.contains("only hf reads: Python's huggingface_hub"), "{}", run.stderr);
    let run = t.hf(&["auth", "status", "--format", "json"]);
    let status: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(status["winner"], "keyring");
    assert!(status["active_token_location"].as_str().unwrap().contains(&token_path(&t)));
    // Python's client indeed finds no token.
    let run = t.python("from huggingface_hub import get_token; print(get_token())");
    assert_eq!(run.expect_code(0).stdout.trim(), "None");

    // Logout deletes the keyring's entry and the marker.
    let run = t.hf(&["auth", "logout"]);
    run.expect_code(0);
    assert!(run.stderr.contains("has been deleted"), "{}", run.stderr);
    assert_eq!(keyring.lookup(&token_path(&t)), None);
    assert!(!marker(&t).exists());
    t.hf(&["auth", "whoami"]).expect_code(1);
}

#[test]
fn logout_by_name_removes_the_keyring_token_of_that_name() {
    let hub = hub();
    let keyring = SecretService::start();
    let t = keyring_context(&hub, &keyring);
    t.hf(&["auth", "login", "--keyring", "--token", READ]).expect_code(0);
    let run = t.hf(&["auth", "logout", "--token-name", "bob-write"]);
    run.expect_code(0);
    assert_eq!(keyring.lookup(&token_path(&t)).as_deref(), Some(READ), "another name leaves it");
    let run = t.hf(&["auth", "logout", "--token-name", "my-read"]);
    run.expect_code(0);
    assert!(run.stderr.contains("Active token 'my-read' has been deleted"), "{}", run.stderr);
    assert_eq!(keyring.lookup(&token_path(&t)), None);
    assert!(!marker(&t).exists());
}

#[test]
fn the_chain_reads_the_keyring_right_after_the_token_file() {
    let hub = hub();
    let keyring = SecretService::start();
    let mut t = keyring_context(&hub, &keyring);
    t.hf(&["auth", "login", "--keyring", "--token", READ]).expect_code(0);
    let active = |t: &TestContext| t.hf(&["auth", "token"]).expect_code(0).stdout.trim().to_owned();
    assert_eq!(active(&t), READ);

    // A token file comes first (a plain login writes one, and says the keyring is shadowed).
    let run = t.hf(&["auth", "login", "--token", WRITE]);
    run.expect_code(0);
    assert!(run.stderr.contains("the token file now comes first"), "{}", run.stderr);
    assert_eq!(active(&t), WRITE);
    let run = t.hf(&["auth", "status", "--format", "json"]);
    let status: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let keyring_state = status["sources"].as_array().unwrap().iter().find(|s| s["name"] == "keyring").unwrap();
    assert_eq!((status["winner"].as_str(), keyring_state["state"].as_str()), (Some("token file"), Some("shadowed")));

    // The environment comes before both.
    std::fs::remove_file(t.hf_home().join("token")).unwrap();
    assert_eq!(active(&t), READ);
    t.set_env("HF_TOKEN", WRITE);
    assert_eq!(active(&t), WRITE);
    t.remove_env("HF_TOKEN");

    // git's credential helper answers with the keyring's token too.
    let helper = format!("credential.helper={}", hfkit::auth::helper_value(&t.hf_bin()));
    let (protocol, host) = hub.url().split_once("://").unwrap();
    let mut git = t.command("git");
    git.env("GIT_TERMINAL_PROMPT", "0").args(["-c", "credential.helper=", "-c", &helper, "credential", "fill"]);
    let run = t.run(&mut git, Some(&format!("protocol={protocol}\nhost={host}\n\n")));
    assert!(run.expect_code(0).stdout.contains(&format!("password={READ}\n")), "{}", run.stdout);
}

#[test]
fn no_keyring_is_an_error_never_a_fallback() {
    let hub = hub();
    let no_service = SecretService::bus_only();
    let without_bus = context(&hub);
    let with_bus_only = keyring_context(&hub, &no_service);
    for t in [&without_bus, &with_bus_only] {
        let run = t.hf(&["auth", "login", "--keyring", "--token", READ]);
        run.expect_code(1);
        assert!(run.stderr.contains("cannot reach the system keyring"), "{}", run.stderr);
        assert!(run.stderr.contains("hint:"), "{}", run.stderr);
        assert!(!run.all_output().contains(READ));
        for file in ["token", "token.keyring", "stored_tokens"] {
            assert!(!t.hf_home().join(file).exists(), "{file} was written");
        }
    }

    // A marker whose keyring is gone: every use of the chain fails and says why, rather than
    // going on without a token.
    let keyring = SecretService::start();
    let t = keyring_context(&hub, &keyring);
    t.hf(&["auth", "login", "--keyring", "--token", READ]).expect_code(0);
    std::fs::copy(marker(&t), marker(&without_bus)).unwrap();
    for args in [&["auth", "whoami"][..], &["auth", "token"], &["download", "acme/tiny", "config.json"]] {
        let run = without_bus.hf(args);
        assert_eq!(run.code, 1, "{args:?}: {}", run.all_output());
        assert!(run.stderr.contains("cannot reach the system keyring"), "{args:?}: {}", run.stderr);
    }
    let run = without_bus.hf(&["auth", "status"]);
    run.expect_code(1);
    assert!(run.stdout.contains("keyring                  broken"), "{}", run.stdout);
    // Logout cannot delete what it cannot reach: it keeps the marker and says what to do.
    let run = without_bus.hf(&["auth", "logout"]);
    run.expect_code(1);
    assert!(run.stderr.contains("could not be deleted") && run.stderr.contains("token.keyring"), "{}", run.stderr);
    assert!(marker(&without_bus).exists());

    // An entry deleted outside hf: the keyring answers, without the token.
    assert!(keyring.lookup(&token_path(&t)).is_some());
    keyring.clear(&token_path(&t));
    let run = t.hf(&["auth", "whoami"]);
    run.expect_code(1);
    assert!(run.stderr.contains("has no token for"), "{}", run.stderr);
}
