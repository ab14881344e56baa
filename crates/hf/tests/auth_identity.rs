//! `hf auth whoami`, `hf auth status`, `hf env`, `hf version`, completions, `.env` files,
//! OIDC, and every order of the token chain, seen through the real binary.

mod common;

use common::{FINE, ID_TOKEN, OIDC, READ, UNKNOWN, WRITE, context, hub};

#[test]
fn whoami_in_every_format() {
    let hub = hub();
    let t = context(&hub);
    t.hf(&["auth", "login", "--token", READ]).expect_code(0);
    insta::assert_snapshot!("whoami_human", t.snapshot(&t.hf(&["auth", "whoami"]), &hub));
    insta::assert_snapshot!("whoami_json", t.snapshot(&t.hf(&["auth", "whoami", "--format", "json"]), &hub));
    insta::assert_snapshot!("whoami_agent", t.snapshot(&t.hf(&["auth", "whoami", "--format", "agent"]), &hub));
    assert_eq!(t.hf(&["auth", "whoami", "-q"]).stdout, "alice\n");
    assert_eq!(t.hf(&["auth", "whoami", "--json"]).expect_code(0).stdout.chars().next(), Some('{'));
    let run = t.hf(&["auth", "whoami", "--json", "-q"]);
    run.expect_code(2);
    assert!(run.stderr.contains("mutually exclusive"), "{}", run.stderr);
}

#[test]
fn whoami_errors_name_the_source() {
    let hub = hub();
    let mut t = context(&hub);
    insta::assert_snapshot!("whoami_not_logged_in", t.snapshot(&t.hf(&["auth", "whoami"]), &hub));
    t.set_env("HF_TOKEN", UNKNOWN);
    insta::assert_snapshot!("whoami_bad_env_token", t.snapshot(&t.hf(&["auth", "whoami"]), &hub));
    t.remove_env("HF_TOKEN");
    std::fs::write(t.hf_home().join("token"), UNKNOWN).unwrap();
    let run = t.hf(&["auth", "whoami"]);
    run.expect_code(1);
    assert!(run.stderr.contains("The token from the token file"), "{}", run.stderr);
    assert!(run.stderr.contains("hf auth login --force"), "{}", run.stderr);
}

#[test]
fn unreachable_endpoint_names_url_and_offline_mode() {
    let hub = hub();
    let mut t = context(&hub);
    t.set_env("HF_TOKEN", READ).set_env("HF_ENDPOINT", "http://127.0.0.1:9");
    let run = t.hf(&["auth", "whoami"]);
    run.expect_code(1);
    assert!(run.stderr.contains("Cannot reach http://127.0.0.1:9/api/whoami-v2"), "{}", run.stderr);
    assert!(run.stderr.contains("HF_HUB_OFFLINE"), "{}", run.stderr);
    t.set_env("HF_HUB_OFFLINE", "1");
    let run = t.hf(&["auth", "whoami"]);
    run.expect_code(1);
    assert!(run.stderr.contains("offline mode is enabled"), "{}", run.stderr);
}

#[test]
fn server_error_message_is_shown() {
    let hub = hub();
    let mut t = context(&hub);
    t.set_env("HF_TOKEN", READ);
    // The server knows no /api/whoami-v2 under this prefix: its 404 message must come through.
    t.set_env("HF_ENDPOINT", &format!("{}/mirror", hub.url()));
    let run = t.hf(&["auth", "whoami"]);
    run.expect_code(1);
    assert!(run.stderr.contains(&format!("404 Not Found for {}/mirror/api/whoami-v2", hub.url())), "{}", run.stderr);
    assert!(run.stderr.contains("Not Found"), "{}", run.stderr);
    assert!(hub.requests().iter().any(|r| r.path == "/mirror/api/whoami-v2"), "the path prefix is kept");
}

/// One arrangement of token sources and what must win.
struct ChainCase {
    env: Vec<(&'static str, String)>,
    explicit: Option<&'static str>,
    token_file: bool,
    token: Option<&'static str>,
    winner: &'static str,
}

fn case(
    env: &[(&'static str, &str)],
    explicit: Option<&'static str>,
    token_file: bool,
    token: Option<&'static str>,
    winner: &'static str,
) -> ChainCase {
    let env = env.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
    ChainCase { env, explicit, token_file, token, winner }
}

/// Every order of the chain, through `hf auth token` and `hf auth status --format json`.
#[test]
fn every_chain_order() {
    let hub = hub();
    let padded = format!("\n{READ}\r\n");
    let cases = [
        case(&[], None, false, None, "none"),
        case(&[], None, true, Some(FINE), "token file"),
        case(&[("HF_TOKEN", READ)], None, true, Some(READ), "HF_TOKEN"),
        case(&[("HUGGING_FACE_HUB_TOKEN", WRITE)], None, true, Some(WRITE), "HUGGING_FACE_HUB_TOKEN"),
        case(&[("HF_TOKEN", READ), ("HUGGING_FACE_HUB_TOKEN", WRITE)], None, true, Some(READ), "HF_TOKEN"),
        case(&[("HF_TOKEN", ""), ("HUGGING_FACE_HUB_TOKEN", WRITE)], None, true, Some(WRITE), "HUGGING_FACE_HUB_TOKEN"),
        case(&[("HF_TOKEN", "  "), ("HUGGING_FACE_HUB_TOKEN", WRITE)], None, true, Some(FINE), "token file"),
        case(&[("HF_TOKEN", &padded)], None, false, Some(READ), "HF_TOKEN"),
        case(&[("HUGGINGFACE_TOKEN", WRITE)], None, false, None, "none"),
        case(&[("HUGGINGFACE_TOKEN", WRITE)], None, true, Some(FINE), "token file"),
        case(&[("HF_TOKEN", READ)], Some(WRITE), true, Some(WRITE), "--token"),
        case(&[("HF_HUB_DISABLE_IMPLICIT_TOKEN", "1")], None, true, Some(FINE), "token file"),
    ];
    for c in cases {
        let mut t = context(&hub);
        for (k, v) in &c.env {
            t.set_env(k, v);
        }
        if c.token_file {
            std::fs::write(t.hf_home().join("token"), format!("{FINE}\n")).unwrap();
        }
        if c.explicit.is_none() {
            let run = t.hf(&["auth", "token"]);
            match c.token {
                Some(tok) => {
                    assert_eq!(run.expect_code(0).stdout, format!("{tok}\n"), "{:?}", c.env);
                }
                None => {
                    run.expect_code(1);
                }
            }
        }
        let mut args = vec!["auth", "status", "--format", "json"];
        if let Some(tok) = c.explicit {
            args.extend(["--token", tok]);
        }
        let run = t.hf(&args);
        let json: serde_json::Value =
            serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout));
        let got = json["winner"].as_str().unwrap_or("none");
        assert_eq!(got, c.winner, "{:?} explicit={:?} file={}", c.env, c.explicit, c.token_file);
    }
}

#[test]
fn status_explains_sources_and_warns() {
    let hub = hub();
    let mut t = context(&hub);
    t.hf(&["auth", "login", "--token", FINE]).expect_code(0);
    t.set_env("HF_TOKEN", READ).set_env("HUGGING_FACE_HUB_TOKEN", WRITE).set_env("HUGGINGFACE_TOKEN", WRITE);
    let run = t.hf(&["auth", "status"]);
    insta::assert_snapshot!("status_env_wins", t.snapshot(&run, &hub));
    assert!(hub.requests().iter().filter(|r| r.path == "/api/whoami-v2").count() == 1, "status alone makes no request");
    let run = t.hf(&["auth", "status", "--check"]);
    insta::assert_snapshot!("status_check", t.snapshot(&run, &hub));
}

#[test]
fn status_warns_about_readable_files_and_dotenv_in_git() {
    let hub = hub();
    let t = context(&hub);
    let token = t.hf_home().join("token");
    std::fs::write(&token, READ).unwrap();
    let git = |args: &[&str]| t.run(t.command("git").args(args), None);
    git(&["init", "-q"]).expect_code(0);
    std::fs::write(t.work_dir().join(".env"), format!("HF_TOKEN={READ}\n")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&t.hf(&["auth", "status", "--json"]).stdout).unwrap();
    let warnings = json["warnings"].to_string();
    assert!(warnings.contains("mode 644"), "{warnings}");
    assert!(warnings.contains(".env holds a Hub token and is not ignored by git"), "{warnings}");
    std::fs::write(t.work_dir().join(".gitignore"), ".env\n").unwrap();
    let json: serde_json::Value = serde_json::from_str(&t.hf(&["auth", "status", "--json"]).stdout).unwrap();
    assert!(!json["warnings"].to_string().contains(".env"), "{}", json["warnings"]);
}

#[test]
fn status_check_fails_for_a_revoked_token() {
    let hub = hub();
    let mut t = context(&hub);
    t.set_env("HF_TOKEN", UNKNOWN);
    let run = t.hf(&["auth", "status", "--check"]);
    run.expect_code(1);
    assert!(run.stdout.contains("check: failed"), "{}", run.stdout);
    assert!(run.stderr.contains("Error: Invalid user token."), "{}", run.stderr);
}

#[test]
fn env_file_supplies_variables_without_overriding_the_environment() {
    let hub = hub();
    let mut t = context(&hub);
    let env_file = t.work_dir().join("project.env");
    std::fs::write(&env_file, format!("# tokens\nexport HF_TOKEN=\"{READ}\"\n")).unwrap();
    let path = env_file.to_str().unwrap();
    assert_eq!(t.hf(&["--env-file", path, "auth", "token"]).expect_code(0).stdout, format!("{READ}\n"));
    assert_eq!(t.hf(&["auth", "token", "--env-file", path]).expect_code(0).stdout, format!("{READ}\n"));
    t.set_env("HF_TOKEN", WRITE);
    assert_eq!(t.hf(&["--env-file", path, "auth", "token"]).stdout, format!("{WRITE}\n"), "the real environment wins");
    std::fs::write(&env_file, "A=1\nnot a valid line\n").unwrap();
    let run = t.hf(&["--env-file", path, "auth", "token"]);
    run.expect_code(1);
    assert!(run.stderr.contains("project.env:2:"), "{}", run.stderr);
    let run = t.hf(&["--env-file", "/nonexistent/.env", "version"]);
    run.expect_code(1);
    assert!(run.stderr.contains("/nonexistent/.env"), "{}", run.stderr);
}

#[test]
fn oidc_exchange_wins_and_failure_is_fatal() {
    let hub = hub();
    let mut t = context(&hub);
    t.set_env("HF_TOKEN", READ).set_env("HF_OIDC_RESOURCE", "bob/model").set_env("HF_OIDC_ID_TOKEN", ID_TOKEN);
    assert_eq!(t.hf(&["auth", "token"]).expect_code(0).stdout, format!("{OIDC}\n"));
    let run = t.hf(&["auth", "whoami", "--format", "agent"]);
    assert_eq!(
        run.expect_code(0).stdout.trim(),
        format!("user=bob orgs=acme endpoint={} token_name=ci-publish role=write token_source=oidc", hub.url())
    );
    t.set_env("HF_OIDC_ID_TOKEN", "forged");
    let run = t.hf(&["auth", "token"]);
    run.expect_code(1);
    assert!(run.stderr.contains("OIDC Exchange failed."), "{}", run.stderr);
    assert!(!run.stdout.contains(READ), "no fallback to HF_TOKEN");
    t.remove_env("HF_OIDC_ID_TOKEN");
    let run = t.hf(&["auth", "token"]);
    run.expect_code(1);
    assert!(run.stderr.contains("no OIDC id token is available"), "{}", run.stderr);
}

#[test]
fn bad_variables_are_reported() {
    let hub = hub();
    let mut t = context(&hub);
    t.set_env("HF_HUB_ETAG_TIMEOUT", "1.5");
    let run = t.hf(&["auth", "status"]);
    run.expect_code(1);
    assert!(run.stderr.contains("HF_HUB_ETAG_TIMEOUT=\"1.5\""), "{}", run.stderr);
}

#[test]
fn env_version_and_completions() {
    let hub = hub();
    let mut t = context(&hub);
    t.hf(&["auth", "login", "--token", READ]).expect_code(0);
    t.set_env("HF_HUB_DISABLE_PROGRESS_BARS", "1");
    let run = t.hf(&["env"]);
    run.expect_code(0);
    for line in [
        "- Token source ?: the token file [TMP]/hf/token (hf_****AAA1)",
        "- Has saved token ?: True",
        "- Who am I ?: alice",
        "- ENDPOINT: [HUB]",
        "- HF_HUB_CACHE: [TMP]/hf/hub",
        "- HF_STORED_TOKENS_PATH: [TMP]/hf/stored_tokens",
        "- HF_HUB_DISABLE_PROGRESS_BARS: True",
        "- HF_HUB_ETAG_TIMEOUT: 10",
    ] {
        assert!(t.snapshot(&run, &hub).contains(line), "{line} missing from\n{}", run.stdout);
    }
    insta::assert_snapshot!("version", t.snapshot(&t.hf(&["version"]), &hub));
    assert_eq!(t.hf(&["version", "-q"]).stdout, format!("{}\n", env!("CARGO_PKG_VERSION")));
    for shell in ["bash", "zsh", "fish"] {
        let run = t.hf(&["completion", shell]);
        run.expect_code(0);
        assert!(run.stdout.contains("whoami"), "{shell}");
    }
    let run = t.hf(&["auth"]);
    assert_eq!(run.code, 2, "a group without a subcommand is a usage error");
}

/// Every command, every way a token can arrive: the full token appears in no output except
/// `hf auth token`'s stdout.
#[test]
fn tokens_never_leak() {
    let hub = hub();
    let mut t = context(&hub);
    let mut runs = Vec::new();
    runs.push(t.hf(&["auth", "login", "--token", READ, "--add-to-git-credential"]));
    runs.push(t.hf(&["auth", "login", "--token", FINE]));
    runs.push(t.hf(&["auth", "login", "--token", UNKNOWN]));
    runs.push(t.hf(&["auth", "login", "--token", &format!(" {WRITE}")]));
    runs.push(t.hf_with_stdin(&["auth", "login"], WRITE));
    t.set_env("HF_TOKEN", UNKNOWN);
    t.set_env("HUGGINGFACE_TOKEN", common::OAUTH);
    t.set_env("HUGGING_FACE_HUB_TOKEN", WRITE);
    std::fs::write(t.work_dir().join(".env"), format!("HF_TOKEN={READ}\n")).unwrap();
    for format in ["human", "agent", "json", "quiet"] {
        for args in [
            vec!["auth", "list"],
            vec!["auth", "whoami"],
            vec!["auth", "status"],
            vec!["auth", "status", "--check"],
            vec!["auth", "status", "--token", FINE],
            vec!["auth", "switch", "--token-name", "my-read"],
            vec!["auth", "switch", "--token-name", "nope"],
            vec!["env"],
            vec!["version"],
        ] {
            let mut args = args.clone();
            args.extend(["--format", format]);
            runs.push(t.hf(&args));
        }
    }
    t.set_env("HF_DEBUG", "1");
    runs.push(t.hf(&["auth", "whoami"]));
    runs.push(t.hf(&["auth", "status", "--check"]));
    runs.push(t.hf(&["auth", "logout", "--token-name", "fine one"]));
    runs.push(t.hf(&["auth", "logout"]));
    for run in &runs {
        let out = run.all_output();
        for secret in common::ALL {
            assert!(!out.contains(secret), "a token leaked:\n{out}");
        }
        assert!(!out.contains("panicked"), "{out}");
    }
    let token_run = t.hf(&["auth", "token"]);
    assert_eq!(token_run.stdout, format!("{UNKNOWN}\n"), "hf auth token prints it, on stdout only");
    assert!(!token_run.stderr.contains(UNKNOWN));
}
