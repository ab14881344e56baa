//! `hf serve`: the real binary serving an accounts file, used by our client and Python's.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use common::{context, hub};

struct Served(std::process::Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn serve_answers_our_client_and_python() {
    let fixture_hub = hub(); // only for the scrubbed context; the server under test is `hf serve`
    let mut t = context(&fixture_hub);
    let accounts = t.root().join("accounts.json");
    let json = serde_json::json!({
        "users": [{"name": "carol", "orgs": ["lab"]}],
        "orgs": [{"name": "lab"}],
        "tokens": [{"token": "hf_carolToken0000000000000000000000001", "user": "carol", "name": "desk", "role": "write"}]
    });
    std::fs::write(&accounts, json.to_string()).unwrap();
    let mut child = t
        .command(t.hf_bin())
        .args(["serve", "--accounts", accounts.to_str().unwrap(), "--port", "0", "--format", "agent"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let _served = Served(child);
    let url = line.trim().strip_prefix("url=").unwrap_or_else(|| panic!("{line:?}")).to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    t.set_env("HF_ENDPOINT", &url);
    t.hf(&["auth", "login", "--token", "hf_carolToken0000000000000000000000001"]).expect_code(0);
    assert_eq!(t.hf(&["auth", "whoami", "-q"]).stdout, "carol\n");
    let run = t.python("from huggingface_hub import whoami; print(whoami()['name'])");
    assert_eq!(run.expect_code(0).stdout, "carol\n");
}

#[test]
fn serve_refuses_a_bad_accounts_file() {
    let hub = hub();
    let t = context(&hub);
    let accounts = t.root().join("accounts.json");
    std::fs::write(&accounts, r#"{"tokens": [{"token": "x", "user": "ghost"}]}"#).unwrap();
    let run = t.hf(&["serve", "--accounts", accounts.to_str().unwrap(), "--port", "0"]);
    run.expect_code(1);
    assert!(run.stderr.contains("`ghost`, who is not in `users`"), "{}", run.stderr);
}
