//! What a person at a terminal sees: the hidden token prompt and the token picker, run in a
//! real pseudo-terminal (util-linux `script`), with input typed after the prompt appears.

mod common;

use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

use common::{FINE, READ, context, hub};
use hfkit_test::{Run, TestContext};

/// Runs `hf args` inside a pty, typing `input` once the program is waiting.
fn in_terminal(t: &TestContext, args: &str, input: &str) -> Run {
    let command = format!("{} {args}", t.hf_bin().display());
    let mut child = t
        .command("script")
        .args(["-qec", &command, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("util-linux `script` runs");
    let mut stdin = child.stdin.take().unwrap();
    std::thread::sleep(Duration::from_millis(400));
    stdin.write_all(input.as_bytes()).unwrap();
    std::thread::sleep(Duration::from_millis(600));
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn login_prompts_without_echoing_the_token() {
    let hub = hub();
    let t = context(&hub);
    let run = in_terminal(&t, "auth login", &format!("{READ}\n"));
    run.expect_code(0);
    assert!(run.stdout.contains("Enter your token (input will not be visible):"), "{}", run.stdout);
    assert!(run.stdout.contains("Login successful."), "{}", run.stdout);
    assert!(!run.stdout.contains(READ), "the typed token is not echoed:\n{}", run.stdout);
    assert_eq!(std::fs::read_to_string(t.hf_home().join("token")).unwrap(), READ);
    // Logged in now: a second login on the terminal is a no-op without --force.
    let run = in_terminal(&t, "auth login", "");
    assert!(run.stdout.contains("User is already logged in."), "{}", run.stdout);
}

#[test]
fn switch_offers_a_numbered_picker() {
    let hub = hub();
    let t = context(&hub);
    t.hf(&["auth", "login", "--token", READ]).expect_code(0);
    t.hf(&["auth", "login", "--token", FINE]).expect_code(0);
    let run = in_terminal(&t, "auth switch", "x\n2\n");
    run.expect_code(0);
    for line in
        ["Select a token to switch to:", "  1) fine one", "  2) my-read", "Please enter one of the numbers shown."]
    {
        assert!(run.stdout.contains(line), "{line:?} missing:\n{}", run.stdout);
    }
    assert_eq!(std::fs::read_to_string(t.hf_home().join("token")).unwrap(), READ);
}
