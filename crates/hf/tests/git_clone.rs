//! A real `git clone` over HTTP through `hf auth git-credential`: git's own smart-HTTP
//! server (`git http-backend` behind hfkit-test's Basic-auth front) stands in for the Hub's
//! git endpoint. The helper gives the active token to that host only, and git's plain-text
//! store (`credential.helper store`, which Python's login suggests) never receives it.

mod common;

use common::READ;
use hfkit_test::{GitHttpServer, Run, TestContext};

fn git(t: &TestContext, args: &[&str]) -> Run {
    let mut cmd = t.command("git");
    cmd.env("GIT_TERMINAL_PROMPT", "0").env("GIT_ASKPASS", "").env("SSH_ASKPASS", "").args(args);
    t.run(&mut cmd, None)
}

fn saw_token(server: &GitHttpServer) -> bool {
    server.requests().iter().any(|r| r.credentials.as_deref().is_some_and(|c| c.contains(READ)))
}

#[test]
fn git_clone_over_http_goes_through_the_helper_and_nowhere_else() {
    let server = GitHttpServer::start(READ);
    server.create_repo("alice/model", &[("README.md", "# model\n"), ("config.json", "{\"hidden_size\": 8}\n")]);
    // hf's endpoint is the git server; the token is the active one (the token file).
    let t = TestContext::with_endpoint(env!("CARGO_MANIFEST_DIR"), server.url());
    std::fs::write(t.hf_home().join("token"), READ).unwrap();
    // git's plain-text store is configured, as after Python's `git config --global credential.helper store`.
    git(&t, &["config", "--global", "credential.helper", "store"]).expect_code(0);
    let url = format!("{}/alice/model.git", server.url());

    // Without our helper: the server refuses, git has nothing to answer with.
    let run = git(&t, &["clone", "-q", &url, "without"]);
    assert_ne!(run.code, 0, "{}", run.all_output());
    assert!(!saw_token(&server));

    t.hf(&["auth", "git-credential", "--install"]).expect_code(0);
    let run = git(&t, &["clone", "-q", &url, "with"]);
    run.expect_code(0);
    assert_eq!(std::fs::read_to_string(t.work_dir().join("with/README.md")).unwrap(), "# model\n");
    assert!(saw_token(&server), "the clone did not authenticate: {:?}", server.requests());
    // git approved the credential to every configured helper: the plain-text store got nothing.
    let stored = t.home().join(".git-credentials");
    assert!(
        !stored.exists() || !std::fs::read_to_string(&stored).unwrap().contains(READ),
        "the token landed in {}",
        stored.display()
    );
    assert!(!std::fs::read_to_string(t.home().join(".gitconfig")).unwrap().contains(READ));
    // Python's --add-to-git-credential would copy the token into `store`; with hf's helper
    // installed there is nothing to copy, and hf says so rather than claiming it saved it.
    std::fs::write(t.hf_home().join("stored_tokens"), format!("[laptop]\nhf_token = {READ}\n")).unwrap();
    let run = t.hf(&["auth", "switch", "--token-name", "laptop", "--add-to-git-credential"]);
    run.expect_code(0);
    assert!(run.stderr.contains("was not copied into git's credential helpers"), "{}", run.stderr);
    assert!(!stored.exists() || !std::fs::read_to_string(&stored).unwrap().contains(READ));

    // Another host gets nothing: the same server named `localhost`, and a second server
    // that would accept the same token.
    let other = GitHttpServer::start(READ);
    other.create_repo("alice/model", &[("README.md", "# other\n")]);
    let localhost = url.replace("127.0.0.1", "localhost");
    for (target, dir) in [(localhost.as_str(), "by-name"), (&format!("{}/alice/model.git", other.url()), "other")] {
        let before = server.requests().len();
        let run = git(&t, &["clone", "-q", target, dir]);
        assert_ne!(run.code, 0, "{target}: {}", run.all_output());
        assert!(!run.all_output().contains(READ));
        let after: Vec<_> = server.requests().into_iter().skip(before).collect();
        assert!(after.iter().all(|r| r.credentials.is_none()), "{target}: {after:?}");
    }
    assert!(!saw_token(&other), "{:?}", other.requests());

    // Uninstalled, the helper no longer answers.
    t.hf(&["auth", "git-credential", "--uninstall"]).expect_code(0);
    assert_ne!(git(&t, &["clone", "-q", &url, "after"]).code, 0);
}
