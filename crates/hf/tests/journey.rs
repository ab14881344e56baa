//! What a new user meets on the way: which token source a login error names, OS errors
//! with the variable that moves the folder, folder modes, `--check` failures, `hf env` in
//! JSON, retry waits, Ctrl-C, `hf` alone, and every flag Python's `hf` accepts.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{READ, UNKNOWN, context, hub, mode, repo_hub};

#[test]
fn login_errors_name_where_the_token_came_from() {
    let hub = hub();
    let t = context(&hub);
    let run = t.hf_with_stdin(&["auth", "login"], &format!("{UNKNOWN}\n"));
    run.expect_code(1);
    assert!(run.stderr.contains("The token from standard input is invalid or expired"), "{}", run.stderr);
    assert!(run.stderr.contains("pipe the new token to `hf auth login`"), "{}", run.stderr);
    let run = t.hf(&["auth", "login", "--token", UNKNOWN]);
    run.expect_code(1);
    assert!(run.stderr.contains("The token from the --token option is invalid"), "{}", run.stderr);
    let run = t.hf_with_stdin(&["auth", "login"], "hf_t\u{f6}k\u{e9}n\n");
    run.expect_code(1);
    assert!(run.stderr.contains("the token from standard input contains characters"), "{}", run.stderr);
    // Two tokens, or a file that is not one, are refused before any request.
    let asked = || hub.requests().iter().filter(|r| r.path.contains("whoami")).count();
    let before = asked();
    let run = t.hf_with_stdin(&["auth", "login"], &format!("{READ}\n{UNKNOWN}\n"));
    run.expect_code(1);
    assert!(run.stderr.contains("standard input holds 2 lines, and a token is one line"), "{}", run.stderr);
    let run = t.hf_with_stdin(&["auth", "login"], &format!("{READ}\r{UNKNOWN}"));
    assert!(run.stderr.contains("standard input holds 2 lines"), "{}", run.stderr);
    let run = t.hf_with_stdin(&["auth", "login"], &"x".repeat(100_000));
    run.expect_code(1);
    assert!(run.stderr.contains("standard input holds more than a token (over 64 KiB)"), "{}", run.stderr);
    assert_eq!(asked(), before, "nothing was sent");
    for empty in ["", "\n", "  \r\n"] {
        let run = t.hf_with_stdin(&["auth", "login"], empty);
        run.expect_code(1);
        assert!(run.stderr.contains("standard input was empty"), "{empty:?}: {}", run.stderr);
    }
    assert!(!t.hf_home().join("token").exists(), "nothing was saved");
}

#[test]
fn login_keeps_the_mode_of_a_folder_the_user_made() {
    use std::os::unix::fs::PermissionsExt;
    let hub = hub();
    let mut t = context(&hub);
    std::fs::set_permissions(t.hf_home(), std::fs::Permissions::from_mode(0o750)).unwrap();
    t.hf(&["auth", "login", "--token", READ]).expect_code(0);
    assert_eq!(mode(&t.hf_home()), 0o750, "the user's HF_HOME keeps its mode");
    assert_eq!(mode(&t.hf_home().join("token")), 0o600);
    assert_eq!(mode(&t.hf_home().join("stored_tokens")), 0o600);
    // What hf creates, it creates private, parents included.
    let fresh = t.root().join("new/hf");
    t.set_env("HF_HOME", fresh.to_str().unwrap());
    t.hf(&["auth", "login", "--token", READ]).expect_code(0);
    assert_eq!(mode(&fresh), 0o700);
    assert_eq!(mode(&t.root().join("new")), 0o700);
    assert_eq!(mode(&fresh.join("token")), 0o600);
}

#[test]
fn an_os_error_is_printed_once_with_the_variable_that_moves_the_folder() {
    let hub = repo_hub();
    let mut t = context(&hub);
    // A folder that cannot be made: its parent is a file (root ignores permission bits).
    let file = t.root().join("a-file");
    std::fs::write(&file, "").unwrap();
    t.set_env("HF_HOME", file.join("hf").to_str().unwrap());
    let run = t.hf(&["auth", "login", "--token", READ]);
    run.expect_code(1);
    assert_eq!(run.stderr.matches("Not a directory").count(), 1, "{}", run.stderr);
    assert!(run.stderr.contains(&file.join("hf").display().to_string()), "{}", run.stderr);
    assert!(run.stderr.contains("set HF_HOME to a folder you can write"), "{}", run.stderr);

    t.set_env("HF_HOME", t.hf_home().to_str().unwrap()).set_env("HF_HUB_CACHE", file.join("hub").to_str().unwrap());
    let run = t.hf(&["download", "acme/tiny", "config.json"]);
    run.expect_code(1);
    assert_eq!(run.stderr.matches("Not a directory").count(), 1, "{}", run.stderr);
    assert!(run.stderr.contains("set HF_HUB_CACHE (the cache only) or HF_HOME"), "{}", run.stderr);
}

#[test]
fn auth_status_check_prints_a_failure_once() {
    let hub = hub();
    let mut t = context(&hub);
    t.set_env("HF_TOKEN", UNKNOWN);
    let run = t.hf(&["auth", "status", "--check"]);
    run.expect_code(1);
    assert_eq!(run.all_output().matches("is invalid or expired").count(), 1, "{}", run.all_output());
    assert!(run.stdout.contains("check: failed"), "{}", run.stdout);
}

#[test]
fn env_in_json_is_json() {
    let hub = hub();
    let t = context(&hub);
    let run = t.hf(&["env", "--format", "json"]);
    run.expect_code(0);
    let env: serde_json::Value = serde_json::from_str(&run.stdout).expect("one JSON document");
    assert_eq!(env["HF_TOKEN_PATH"], t.hf_home().join("token").display().to_string());
    assert_eq!(env["HF_HUB_OFFLINE"], false);
    assert_eq!(env["token_source"], serde_json::Value::Null);
    let text = t.hf(&["env"]);
    assert!(text.stdout.contains("- HF_HUB_OFFLINE: False"), "{}", text.stdout);
}

#[test]
fn retry_waits_are_one_line_each() {
    let hub = repo_hub();
    let mut t = context(&hub);
    // A port nobody listens on: every try is refused at once.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    t.set_env("HF_ENDPOINT", &format!("http://127.0.0.1:{port}"))
        .set_env("HF_HUB_DOWNLOAD_RETRIES", "3")
        .set_env("HF_HUB_DOWNLOAD_RETRY_BASE_MS", "10");
    let run = t.hf(&["download", "acme/tiny"]);
    run.expect_code(1);
    let waits: Vec<&str> = run.stderr.lines().filter(|l| l.starts_with("Retrying ")).collect();
    assert_eq!(waits.len(), 3, "one line per wait:\n{}", run.stderr);
    for (i, line) in waits.iter().enumerate() {
        assert!(line.contains(&format!("(attempt {}): Cannot reach", i + 1)), "{line}");
        assert!(line.contains("s (attempt"), "says how long: {line}");
    }
    assert_eq!(run.stderr.matches("hint:").count(), 1, "the hint once, with the error:\n{}", run.stderr);
}

#[test]
fn ctrl_c_stops_a_download_that_a_rerun_resumes() {
    use hfkit_server::{Fault, FaultKind};
    let hub = repo_hub();
    let mut t = context(&hub);
    t.set_env("HF_HUB_DOWNLOAD_CHUNK_SIZE", "262144").set_env("HF_HUB_DOWNLOAD_CONNECTIONS", "1");
    hub.state().inject(Fault::new(FaultKind::Stall { after: 0, pause: Duration::from_millis(300) }, 1000).on("/lfs/"));
    let child = t
        .command(t.hf_bin())
        .args(["download", "acme/tiny", "model.safetensors"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while hub.requests().iter().filter(|r| r.listener == "cdn" && r.status == 206).count() < 2 {
        assert!(std::time::Instant::now() < deadline, "the download never got going");
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = child.id().to_string();
    assert!(t.command("kill").args(["-INT", &pid]).status().unwrap().success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("Download stopped"), "{stderr}");
    assert!(stderr.contains("Run the same command again to resume"), "{stderr}");
    hub.state().clear_faults();
    let run = t.hf(&["download", "acme/tiny", "model.safetensors"]);
    run.expect_code(0);
    let ranges: Vec<_> = hub.requests().into_iter().filter_map(|r| r.range).collect();
    assert!(ranges.iter().filter(|r| r.starts_with("bytes=0-")).count() == 1, "chunk 0 fetched once: {ranges:?}");
}

#[test]
fn no_arguments_prints_help_like_python() {
    let hub = hub();
    let t = context(&hub);
    let ours = t.hf(&[]);
    let theirs = t.python_hf(&[]);
    assert_eq!(ours.code, theirs.code, "the same exit code as huggingface_hub 2.4 (click's usage status)");
    assert!(ours.stdout.is_empty() && theirs.stdout.is_empty());
    assert!(ours.stderr.contains("Usage: hf"), "{}", ours.stderr);
    assert!(ours.stderr.contains("download"), "{}", ours.stderr);
}

/// The flags an `--help` page lists in its options column (clap lists aliases below a
/// flag as `[alias: --type]`).
fn flags(help: &str) -> BTreeSet<String> {
    help.lines()
        .map(str::trim_start)
        .filter_map(|l| {
            if l.starts_with('-') {
                l.split("  ").next()
            } else {
                l.strip_prefix("[alias: ").or_else(|| l.strip_prefix("[aliases: ")).map(|a| a.trim_end_matches(']'))
            }
        })
        .flat_map(|column| {
            column
                .split([' ', ','])
                .filter(|w| w.starts_with('-') && w.len() > 1)
                .map(|w| w.split(['=', '[', '<']).next().unwrap_or_default().to_owned())
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn every_flag_python_accepts_is_accepted() {
    let hub = hub();
    let t = context(&hub);
    // Python's top-level options belong to commands hf does not have (`skills`) or to its
    // shell-completion installer (`hf completion` here); docs/compatibility.md lists them.
    let not_ours = ["--skills", "--install-completion", "--show-completion"];
    let commands: [&[&str]; 16] = [
        &[],
        &["auth"],
        &["auth", "login"],
        &["auth", "logout"],
        &["auth", "switch"],
        &["auth", "list"],
        &["auth", "token"],
        &["auth", "whoami"],
        &["download"],
        &["cache"],
        &["cache", "ls"],
        &["cache", "rm"],
        &["cache", "prune"],
        &["cache", "verify"],
        &["env"],
        &["version"],
    ];
    for command in commands {
        let help = |run: hfkit_test::Run| flags(&run.expect_code(0).stdout);
        let args: Vec<&str> = command.iter().copied().chain(["--help"]).collect();
        let theirs = help(t.python_hf(&args));
        let ours = help(t.hf(&args));
        let missing: Vec<_> = theirs.iter().filter(|f| !ours.contains(*f) && !not_ours.contains(&f.as_str())).collect();
        assert!(missing.is_empty(), "`hf {}` lacks {missing:?} (ours: {ours:?})", command.join(" "));
        assert!(theirs.len() > 1, "Python's help was read: {theirs:?}");
    }
    // The negations are accepted, last one wins.
    std::fs::create_dir_all(t.hf_home().join("hub")).unwrap();
    let run = t.hf(&["cache", "ls", "--revisions", "--no-revisions", "--show-warnings", "--no-show-warnings"]);
    run.expect_code(0);
    t.hf(&["cache", "prune", "--dry-run", "--no-dry-run", "--yes"]).expect_code(0);
}

/// The shell lines of the README's journey section (its `sh` blocks), comments removed.
fn readme_journey() -> Vec<String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().nth(2).unwrap();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let start = readme.find("\n## The guide's journey").expect("the journey section");
    let section = &readme[start + 1..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
    let mut lines = Vec::new();
    let mut in_block = false;
    for line in section.lines() {
        if line.starts_with("```") {
            in_block = line == "```sh";
            continue;
        }
        let command = line.split("  #").next().unwrap_or_default().trim();
        if in_block && !command.is_empty() {
            lines.push(command.to_owned());
        }
    }
    lines
}

/// Every command of the README's journey, run as written by bash against `hf serve` started
/// as the README starts it (on a free port instead of 8080), from a folder holding the
/// repository's `examples/`.
#[test]
fn the_readme_journey_works_as_written_against_hf_serve() {
    use std::io::BufRead as _;
    let hub = hub(); // only for the scrubbed context; the server under test is `hf serve`
    let mut t = context(&hub);
    let lines = readme_journey();
    for expected in ["hf download meta-llama/Llama-3.2-1B", "hf auth check meta-llama/Llama-3.2-1B", "hf cache ls"] {
        assert!(lines.iter().any(|l| l == expected), "the journey has `{expected}`: {lines:#?}");
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().nth(2).unwrap();
    std::os::unix::fs::symlink(root.join("examples"), t.work_dir().join("examples")).unwrap();
    std::fs::create_dir_all(t.home().join(".local/share/bash-completion/completions")).unwrap();
    let path = format!("{}:{}", t.hf_bin().parent().unwrap().display(), std::env::var("PATH").unwrap_or_default());
    t.set_env("PATH", &path);
    let mut server = None;
    let mut ran = 0;
    for line in &lines {
        if let Some(command) = line.strip_prefix("hf serve ").and_then(|l| l.strip_suffix(" &")) {
            let mut child = t
                .command("bash")
                .args(["-c", &format!("exec hf serve {command} --port 0 --format agent")])
                .stdout(std::process::Stdio::piped())
                .stderr(std::fs::File::create(t.root().join("serve.log")).unwrap())
                .spawn()
                .unwrap();
            let mut first = String::new();
            std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
            let url = first.trim().strip_prefix("url=").unwrap_or_else(|| panic!("{line}: {first:?}")).to_owned();
            t.set_env("HF_ENDPOINT", &url);
            server = Some(Served(child));
            continue;
        }
        // `export NAME=value` or `NAME=value`: the shell's variables for the next lines.
        let assignment = line.strip_prefix("export ").unwrap_or(line);
        if let Some((name, value)) = assignment.split_once('=')
            && !name.contains(' ')
            && !value.contains(' ')
        {
            if name != "HF_ENDPOINT" || server.is_none() {
                t.set_env(name, value);
            }
            if name == "TOKEN" {
                // What the user keeps in the `.env` file that `hf --env-file .env` reads.
                std::fs::write(t.work_dir().join(".env"), format!("HF_TOKEN={value}\n")).unwrap();
            }
            continue;
        }
        // What the user types at a prompt: the token at `hf auth login`'s, `y` at `hf cache rm`'s.
        let typed = match line.as_str() {
            "hf auth login" => Some(format!("{READ_DEMO}\n")),
            l if l.starts_with("hf cache rm ") => Some("y\n".to_owned()),
            _ => None,
        };
        let run = t.run(t.command("bash").args(["-c", line]), typed.as_deref());
        if line.starts_with("hf auth scan") {
            // It finds the token the user keeps in `.env` (exit code 1: a token was found).
            assert_eq!(run.code, 1, "`{line}`\n--- stdout\n{}\n--- stderr\n{}", run.stdout, run.stderr);
            assert!(run.stdout.contains(".env:1:10: hf_****0001"), "{}", run.stdout);
            assert!(!run.all_output().contains(READ_DEMO), "`{line}` printed the token");
            ran += 1;
            continue;
        }
        assert_eq!(run.code, 0, "`{line}` failed\n--- stdout\n{}\n--- stderr\n{}", run.stdout, run.stderr);
        assert!(!run.all_output().contains(READ_DEMO) || line == "hf auth token", "`{line}` printed the token");
        ran += 1;
        match line.as_str() {
            "hf auth whoami" => assert!(run.stdout.contains("user: alice"), "{}", run.stdout),
            "hf auth token" => assert_eq!(run.stdout.trim(), READ_DEMO),
            "hf download meta-llama/Llama-3.2-1B" => {
                assert!(run.stdout.contains("models--meta-llama--Llama-3.2-1B/snapshots/"), "{}", run.stdout);
            }
            l if l.starts_with("hf download datasets/acme/data") => {
                assert!(t.work_dir().join("data/data/train.csv").is_file());
            }
            l if l.starts_with("hf cache rm model/acme/model") => {
                assert!(!t.hf_home().join("hub/models--acme--model").exists(), "{}", run.stdout);
            }
            _ => {}
        }
    }
    assert!(server.is_some(), "the journey starts `hf serve`");
    assert!(ran >= 25, "{ran} commands ran");
    let weights = t.hf_home().join("hub/models--meta-llama--Llama-3.2-1B/snapshots");
    assert!(std::fs::read_dir(weights).unwrap().count() == 1);
    assert!(std::fs::metadata(t.home().join(".local/share/bash-completion/completions/hf")).unwrap().len() > 0);
}

#[test]
fn an_auth_command_typed_without_auth_is_a_usage_error_that_says_where_it_lives() {
    let hub = hub();
    let t = context(&hub);
    for name in ["whoami", "login", "logout"] {
        let run = t.hf(&[name]);
        run.expect_code(2);
        assert!(run.stderr.contains(&format!("tip: the command is `hf auth {name}`")), "{}", run.stderr);
    }
    let run = t.hf(&["nonsense"]);
    run.expect_code(2);
    assert!(!run.stderr.contains("hf auth"), "{}", run.stderr);
}

#[test]
fn the_sample_tokens_are_shaped_like_the_hubs_so_the_scanner_finds_them() {
    let accounts = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/accounts.json");
    let accounts: serde_json::Value = serde_json::from_slice(&std::fs::read(accounts).unwrap()).unwrap();
    let tokens: Vec<&str> =
        accounts["tokens"].as_array().unwrap().iter().map(|t| t["token"].as_str().unwrap()).collect();
    assert!(tokens.contains(&READ_DEMO), "the README's token is a sample token");
    let hub = hub();
    let t = context(&hub);
    let project = t.root().join("project");
    std::fs::create_dir_all(&project).unwrap();
    let env: String = tokens.iter().enumerate().map(|(i, token)| format!("TOKEN_{i}={token}\n")).collect();
    std::fs::write(project.join(".env"), env).unwrap();
    let run = t.hf(&["auth", "scan", project.to_str().unwrap()]);
    run.expect_code(1);
    let found = format!("Found {} Hugging Face tokens in {} places", tokens.len(), tokens.len());
    assert!(run.stdout.contains(&found) || run.stderr.contains(&found), "{}{}", run.stdout, run.stderr);
}

/// alice's read token in `examples/accounts.json`.
const READ_DEMO: &str = "hf_demoAliceRead000000000000000000001";

/// `hf serve` started by a test, stopped when dropped.
struct Served(std::process::Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
