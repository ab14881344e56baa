//! `hf auth git-credential` driven by the real `git`: `git credential fill` gets the active
//! token for the endpoint's host and nothing for another; `--install`/`--uninstall` leave
//! git's configuration exactly as it was.

mod common;

use common::{READ, WRITE, context, hub};
use hfkit_test::{Run, TestContext};

/// `git args…` in the test's scrubbed environment (its own HOME, no system config, no prompt).
fn git(t: &TestContext, args: &[&str], stdin: Option<&str>) -> Run {
    let mut cmd = t.command("git");
    cmd.env("GIT_TERMINAL_PROMPT", "0").args(args);
    t.run(&mut cmd, stdin)
}

/// `protocol=…` and `host=…` of an endpoint URL, as git sends them.
fn request_for(url: &str) -> String {
    let (protocol, rest) = url.split_once("://").unwrap();
    format!("protocol={protocol}\nhost={}\n\n", rest.trim_end_matches('/'))
}

fn helper(t: &TestContext) -> String {
    format!("credential.helper={}", hfkit::auth::helper_value(&t.hf_bin()))
}

#[test]
fn git_credential_fill_gets_the_token_for_the_endpoint_only() {
    let hub = hub();
    let mut t = context(&hub);
    t.hf(&["auth", "login", "--token", READ]).expect_code(0);
    let helper = helper(&t);
    let fill = |t: &TestContext, input: &str| {
        git(t, &["-c", "credential.helper=", "-c", &helper, "credential", "fill"], Some(input))
    };

    let run = fill(&t, &request_for(hub.url()));
    run.expect_code(0);
    assert!(run.stdout.contains("username=hf_user\n"), "{}", run.stdout);
    assert!(run.stdout.contains(&format!("password={READ}\n")), "{}", run.stdout);

    // The chain is read at each request: HF_TOKEN now wins, as everywhere else.
    t.set_env("HF_TOKEN", WRITE);
    let run = fill(&t, &request_for(hub.url()));
    assert!(run.stdout.contains(&format!("password={WRITE}\n")), "{}", run.stdout);

    // Another host, the same host on another port, another protocol: no answer, so git
    // (with prompts off) gives up without a password.
    let port = hub.url().rsplit(':').next().unwrap();
    for other in [
        "protocol=https\nhost=example.com\n\n".to_owned(),
        "protocol=http\nhost=127.0.0.1:1\n\n".to_owned(),
        format!("protocol=https\nhost=127.0.0.1:{port}\n\n"),
        format!("protocol=http\nhost=localhost:{port}\n\n"),
    ] {
        let run = fill(&t, &other);
        assert_ne!(run.code, 0, "{other}");
        assert!(!run.stdout.contains("password="), "answered for {other:?}: {}", run.stdout);
    }

    // A username git already has is kept; only the password is given.
    let run = fill(&t, &format!("{}\nusername=bob\n\n", request_for(hub.url()).trim_end()));
    assert!(
        run.stdout.contains("username=bob\n") && run.stdout.contains(&format!("password={WRITE}")),
        "{}",
        run.stdout
    );

    // store and erase are accepted and change nothing.
    for action in ["store", "erase"] {
        let input = format!("{}\nusername=hf_user\npassword=hf_other\n\n", request_for(hub.url()).trim_end());
        let run = t.hf_with_stdin(&["auth", "git-credential", action], &input);
        run.expect_code(0);
        assert_eq!(run.all_output(), "");
    }
    assert_eq!(std::fs::read_to_string(t.hf_home().join("token")).unwrap(), READ);

    // Without a token, no answer at all.
    t.remove_env("HF_TOKEN");
    std::fs::remove_file(t.hf_home().join("token")).unwrap();
    let run = t.hf_with_stdin(&["auth", "git-credential", "get"], &request_for(hub.url()));
    run.expect_code(0);
    assert_eq!(run.stdout, "");
}

#[test]
fn a_request_that_never_ends_is_refused() {
    let hub = hub();
    let t = context(&hub);
    // Just over the limit: the whole input fits in the pipe once the limit is read, so the
    // writer never sees the helper close its end.
    let limit = usize::try_from(hfkit::auth::MAX_REQUEST_BYTES).unwrap();
    let huge = format!("protocol=http\nhost={}\n", "x".repeat(limit + 64));
    let run = t.hf_with_stdin(&["auth", "git-credential", "get"], &huge);
    run.expect_code(1);
    assert!(run.stderr.contains("larger than"), "{}", run.stderr);
    assert!(!run.stdout.contains("password"));
}

fn config_list(t: &TestContext, scope: &str, dir: Option<&std::path::Path>) -> String {
    let mut cmd = t.command("git");
    if let Some(dir) = dir {
        cmd.current_dir(dir);
    }
    let run = t.run(cmd.args(["config", scope, "--list"]), None);
    run.expect_code(0);
    run.stdout
}

#[test]
fn install_and_uninstall_leave_git_config_as_it_was() {
    let hub = hub();
    let t = context(&hub);
    t.hf(&["auth", "login", "--token", READ]).expect_code(0);
    std::fs::write(
        t.home().join(".gitconfig"),
        "[user]\n\tname = Alice\n[credential]\n\thelper = cache\n[credential \"https://example.com\"]\n\tusername = al\n",
    )
    .unwrap();
    let before = config_list(&t, "--global", None);

    let run = t.hf(&["auth", "git-credential", "--install"]);
    run.expect_code(0);
    assert!(run.stderr.contains("git now asks hf"), "{}", run.stderr);
    let installed = config_list(&t, "--global", None);
    let key = format!("credential.{}.helper=", hub.url());
    // Our helper, after an empty entry that resets the inherited `cache` helper for this URL.
    assert_eq!(installed.matches(&format!("{key}\n")).count(), 1, "{installed}");
    assert_eq!(installed.matches(&format!("{key}!")).count(), 1, "{installed}");
    // Installing twice adds nothing.
    t.hf(&["auth", "git-credential", "--install"]).expect_code(0);
    assert_eq!(config_list(&t, "--global", None), installed);

    // git now finds the token through the installed helper alone (the cache helper has none).
    let run = git(&t, &["credential", "fill"], Some(&request_for(hub.url())));
    run.expect_code(0);
    assert!(run.stdout.contains(&format!("password={READ}\n")), "{}", run.stdout);

    t.hf(&["auth", "git-credential", "--uninstall"]).expect_code(0);
    assert_eq!(config_list(&t, "--global", None), before);
    let again = t.hf(&["auth", "git-credential", "--uninstall"]);
    again.expect_code(0);
    assert!(again.stderr.contains("nothing changed"), "{}", again.stderr);
    assert_eq!(config_list(&t, "--global", None), before);

    // Per repository: only .git/config changes, and is restored.
    let repo = t.work_dir().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    git(&t, &["init", "-q", "repo"], None).expect_code(0);
    let local_before = config_list(&t, "--local", Some(&repo));
    let mut install = t.command(t.hf_bin());
    install.current_dir(&repo).args(["auth", "git-credential", "--install", "--local"]);
    t.run(&mut install, None).expect_code(0);
    assert!(config_list(&t, "--local", Some(&repo)).contains(&key));
    assert_eq!(config_list(&t, "--global", None), before);
    let mut uninstall = t.command(t.hf_bin());
    uninstall.current_dir(&repo).args(["auth", "git-credential", "--uninstall", "--local"]);
    t.run(&mut uninstall, None).expect_code(0);
    assert_eq!(config_list(&t, "--local", Some(&repo)), local_before);
}
