//! Text chosen by someone else (a server's error message, a file name in the cache) reaches
//! the terminal escaped: it cannot clear or recolour the screen, or fake a line.

mod common;

use common::{context, repo_hub};
use hfkit_test::{HostileHub, Reply, Run};

/// What a hostile name or message carries: clear the screen, colour red, a newline that
/// fakes an error line, a carriage return, and a bidi override.
const HOSTILE: &str = "\u{1b}[2J\u{1b}[31mred\nError: fake line\r\u{202e}gnp.exe";

/// Fails when raw control or bidi characters reach the output, or a line is faked.
fn assert_safe(run: &Run) {
    for (name, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
        assert!(
            !text.chars().any(|c| c == '\u{1b}' || c == '\r' || c == '\u{202e}'),
            "raw control characters on {name}:\n{text:?}"
        );
        assert!(!text.lines().any(|l| l.starts_with("Error: fake line")), "a faked line on {name}:\n{text}");
    }
}

/// A server that answers every request with 400 and `message` as the Hub's JSON `error`.
fn lying_server(message: &str) -> hfkit_test::RunningHostileHub {
    let body = serde_json::json!({ "error": message }).to_string();
    HostileHub::new().route("GET", "/", Reply::json(400, &body)).route("HEAD", "/", Reply::json(400, &body)).start()
}

#[test]
fn a_server_message_is_shown_escaped() {
    let hub = repo_hub();
    let mut t = context(&hub);
    let liar = lying_server(HOSTILE);
    t.set_env("HF_ENDPOINT", liar.url()).set_env("HF_TOKEN", common::READ);
    // Requests with a body to read: the revision listing, and whoami.
    for args in [&["download", "acme/tiny"][..], &["download", "acme/tiny", "--format", "json"], &["auth", "whoami"]] {
        let run = t.hf(args);
        run.expect_code(1);
        assert_safe(&run);
        assert!(run.stderr.contains(r"\x1b[2J\x1b[31mred\nError: fake line\r\u{202e}gnp.exe"), "{}", run.stderr);
    }
}

#[test]
fn cache_names_are_shown_escaped() {
    let hub = repo_hub();
    let t = context(&hub);
    t.hf(&["download", "acme/tiny"]).expect_code(0);
    let cache = t.hf_home().join("hub");
    // A file planted in a snapshot, and a whole repo folder with a hostile name.
    let main = common::commit_of(&hub, "acme/tiny", "main");
    std::fs::write(cache.join("models--acme--tiny/snapshots").join(&main).join(HOSTILE.replace('/', "")), "x").unwrap();
    let evil = cache.join(format!("models--acme--{}", HOSTILE.replace('/', "")));
    std::fs::create_dir_all(evil.join("snapshots").join(&main)).unwrap();
    std::fs::create_dir_all(evil.join("refs")).unwrap();
    std::fs::write(evil.join("refs").join("ma\u{1b}[1min"), &main).unwrap();
    std::fs::write(evil.join("snapshots").join(&main).join("f"), "y").unwrap();

    let verify = t.hf(&["cache", "verify", "acme/tiny", "--fail-on-extra-files"]);
    verify.expect_code(1);
    assert_safe(&verify);
    assert!(verify.stdout.contains(r"  - \x1b[2J\x1b[31mred\nError: fake line"), "{}", verify.stdout);

    for format in ["human", "agent", "json", "quiet"] {
        for args in [&["cache", "ls", "--format", format][..], &["cache", "ls", "--revisions", "--format", format]] {
            let run = t.hf(args);
            run.expect_code(0);
            assert_safe(&run);
            if format == "json" {
                serde_json::from_str::<serde_json::Value>(&run.stdout).expect("valid JSON");
            }
        }
    }
    let id = format!("model/acme/{}", HOSTILE.replace('/', ""));
    let rm = t.hf(&["cache", "rm", &id, "--dry-run"]);
    rm.expect_code(0);
    assert_safe(&rm);
    assert!(rm.stdout.contains(r"model/acme/\x1b[2J"), "{}", rm.stdout);
}
