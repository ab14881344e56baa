//! What a person at a terminal sees: the hidden token prompt and the token picker, run in a
//! real pseudo-terminal (util-linux `script`), with input typed after the prompt appears.

mod common;

use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

use common::{FINE, READ, UNKNOWN, context, hub};
use hfkit_test::{Run, TestContext};

/// Runs `hf args` inside a pty; once the output contains `wait_for`, types `input`.
fn in_terminal(t: &TestContext, args: &str, wait_for: &str, input: &str) -> Run {
    // A terminal of a real size: without one, progress display stays hidden.
    let command = format!("stty cols 120 rows 40 2>/dev/null; {} {args}", t.hf_bin().display());
    let mut child = t
        .command("script")
        .args(["-qec", &command, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("util-linux `script` runs");
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = std::io::Read::read(&mut stdout, &mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !String::from_utf8_lossy(&seen).contains(wait_for) && std::time::Instant::now() < deadline {
        if let Ok(bytes) = rx.recv_timeout(Duration::from_millis(50)) {
            seen.extend(bytes);
        }
    }
    std::thread::sleep(Duration::from_millis(100)); // the prompt is printed just before the read
    stdin.write_all(input.as_bytes()).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    drop(stdin);
    let status = child.wait().unwrap();
    reader.join().unwrap();
    seen.extend(rx.try_iter().flatten());
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut stderr);
    }
    Run { code: status.code().unwrap_or(-1), stdout: String::from_utf8_lossy(&seen).into_owned(), stderr }
}

#[test]
fn login_prompts_without_echoing_the_token() {
    let hub = hub();
    let t = context(&hub);
    let run = in_terminal(&t, "auth login", "Enter your token", &format!("{READ}\n"));
    run.expect_code(0);
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
    let run = in_terminal(&t, "auth login", "Enter your token", "\n");
    run.expect_code(1);
    assert!(run.stdout.contains("no token was entered at the prompt"), "{}", run.stdout);
    let run = in_terminal(&t, "auth login", "Enter your token", &format!("{UNKNOWN}\n"));
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
