//! What a person at a terminal sees: the login question, the hidden token prompt and the token picker, run in a
//! real pseudo-terminal (util-linux `script`), with input typed after the prompt appears.

mod common;

use std::time::Duration;

use common::{FINE, READ, Session, UNKNOWN, context, hub};
use hfkit_test::{Run, TestContext};

/// Runs `hf args` inside a pty; once the output contains `wait_for`, types `input`.
fn in_terminal(t: &TestContext, args: &str, wait_for: &str, input: &str) -> Run {
    let mut session = Session::in_terminal(t, args);
    session.wait_for(wait_for);
    std::thread::sleep(Duration::from_millis(100)); // the prompt is printed just before the read
    session.send(input);
    std::thread::sleep(Duration::from_millis(300));
    session.close_stdin();
    session.finish()
}

/// `hf auth login` on a terminal, answering "Paste an access token" with `choice`, then
/// typing `input`.
fn paste_login_choosing(t: &TestContext, choice: &str, input: &str) -> Run {
    let mut session = Session::in_terminal(t, "auth login");
    session.wait_for("Choice [1]: ");
    session.send(choice);
    session.wait_for("Enter your token");
    std::thread::sleep(Duration::from_millis(100));
    session.send(input);
    session.finish()
}

/// `hf auth login` on a terminal, answering "Paste an access token", then typing `input`.
fn paste_login(t: &TestContext, input: &str) -> Run {
    paste_login_choosing(t, "2\n", input)
}

#[test]
fn the_login_menu_takes_the_down_arrow_as_pythons_does() {
    let hub = hub();
    let t = context(&hub);
    let run = paste_login_choosing(&t, "\u{1b}[B\n", &format!("{READ}\n"));
    run.expect_code(0);
    assert!(run.stdout.contains("Login successful."), "{}", run.stdout);
    assert!(!run.stdout.contains("Invalid choice"), "{}", run.stdout);
}

#[test]
fn login_prompts_without_echoing_the_token() {
    let hub = hub();
    let t = context(&hub);
    let run = paste_login(&t, &format!("{READ}\n"));
    run.expect_code(0);
    assert!(run.stdout.contains("How would you like to log in?"), "{}", run.stdout);
    assert!(run.stdout.contains("Enter your token (input will not be visible):"), "{}", run.stdout);
    assert!(run.stdout.contains("Login successful."), "{}", run.stdout);
    assert!(!run.stdout.contains(READ), "the typed token is not echoed:\n{}", run.stdout);
    assert_eq!(std::fs::read_to_string(t.hf_home().join("token")).unwrap(), READ);
    // Logged in now: a second login on the terminal is a no-op without --force.
    let run = in_terminal(&t, "auth login", "already logged in", "");
    assert!(run.stdout.contains("User is already logged in."), "{}", run.stdout);
}

#[test]
fn switch_offers_a_numbered_picker() {
    let hub = hub();
    let t = context(&hub);
    t.hf(&["auth", "login", "--token", READ]).expect_code(0);
    t.hf(&["auth", "login", "--token", FINE]).expect_code(0);
    let run = in_terminal(&t, "auth switch", "Enter a number", "x\n2\n");
    run.expect_code(0);
    for line in
        ["Select a token to switch to:", "  1) fine one", "  2) my-read", "Please enter one of the numbers shown."]
    {
        assert!(run.stdout.contains(line), "{line:?} missing:\n{}", run.stdout);
    }
    assert_eq!(std::fs::read_to_string(t.hf_home().join("token")).unwrap(), READ);
}

#[test]
fn the_prompt_is_named_in_login_errors_and_an_empty_answer_says_so() {
    let hub = hub();
    let t = context(&hub);
    let run = paste_login(&t, "\n");
    run.expect_code(1);
    assert!(run.stdout.contains("no token was entered at the prompt"), "{}", run.stdout);
    let run = paste_login(&t, &format!("{UNKNOWN}\n"));
    run.expect_code(1);
    assert!(run.stdout.contains("The token from the login prompt is invalid or expired"), "{}", run.stdout);
    assert!(run.stdout.contains("run `hf auth login` again and paste the new token"), "{}", run.stdout);
    assert!(!t.hf_home().join("token").exists());
}

#[test]
fn a_retry_wait_counts_down_on_a_terminal() {
    let hub = hub();
    let mut t = context(&hub);
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    t.set_env("HF_ENDPOINT", &format!("http://127.0.0.1:{port}"))
        .set_env("HF_HUB_DOWNLOAD_RETRIES", "1")
        .set_env("HF_HUB_DOWNLOAD_RETRY_BASE_MS", "2000")
        .set_env("TERM", "xterm"); // without TERM, progress is not drawn (a dumb terminal)
    let run = in_terminal(&t, "download acme/tiny", "Error:", "");
    run.expect_code(1);
    assert!(run.stdout.contains("Retrying file listing in "), "{}", run.stdout);
    assert!(run.stdout.contains("s before retrying file listing"), "a countdown while waiting:\n{}", run.stdout);
}
