//! `hf auth scan` on a git repository built by the test with the real `git`: tokens in the
//! working tree, in a commit that only another branch remembers, in a tracked `.env`, in a
//! notebook output; an ignored `.env`, a binary file and look-alikes that must not be
//! reported; JSON and SARIF read back; `--check` against the project's Hub.

use std::path::Path;

use hfkit_test::{HubFixture, Run, TestContext};
use serde_json::Value;

/// Tokens in the real format (`hf_` + 34 random letters), one per place.
const IN_TREE: &str = "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";
const IN_HISTORY: &str = "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";
const IN_ENV: &str = "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";
const IN_IGNORED_ENV: &str = "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";
const IN_NOTEBOOK: &str = "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";
const IN_BINARY: &str = "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";
const ORG: &str = "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";
const ALL: [&str; 7] = [IN_TREE, IN_HISTORY, IN_ENV, IN_IGNORED_ENV, IN_NOTEBOOK, IN_BINARY, ORG];

fn context() -> TestContext {
    TestContext::with_endpoint(env!("CARGO_MANIFEST_DIR"), "http://127.0.0.1:9")
}

/// Runs the real `git` in `dir` with the test's scrubbed environment.
fn git(t: &TestContext, dir: &Path, args: &[&str]) {
    let mut cmd = t.command("git");
    cmd.current_dir(dir).args([
        "-c",
        "user.name=Test",
        "-c",
        "user.email=test@example.com",
        "-c",
        "init.defaultBranch=main",
    ]);
    t.run(cmd.args(args), None).expect_code(0);
}

fn write(dir: &Path, path: &str, content: impl AsRef<[u8]>) {
    let path = dir.join(path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

/// The repository of the module notes, in the test's working folder.
fn leaky_repo(t: &TestContext) -> std::path::PathBuf {
    let repo = t.work_dir().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    git(t, &repo, &["init", "-q"]);
    write(&repo, "README.md", "# demo\n");
    write(&repo, ".gitignore", "secrets/\n");
    git(t, &repo, &["add", "."]);
    git(t, &repo, &["commit", "-qm", "init"]);
    // A token committed on a side branch, then deleted there: only history remembers it.
    git(t, &repo, &["checkout", "-qb", "experiment"]);
    write(&repo, "old/settings.py", format!("import os\n\nTOKEN = \"{IN_HISTORY}\"\n"));
    git(t, &repo, &["add", "."]);
    git(t, &repo, &["commit", "-qm", "try a token"]);
    git(t, &repo, &["rm", "-q", "old/settings.py"]);
    git(t, &repo, &["commit", "-qm", "oops, remove it"]);
    git(t, &repo, &["checkout", "-q", "main"]);
    // A tracked .env, and one under an ignored folder.
    write(&repo, ".env", format!("HF_TOKEN={IN_ENV}\n"));
    git(t, &repo, &["add", ".env"]);
    git(t, &repo, &["commit", "-qm", "env"]);
    write(&repo, "secrets/.env", format!("HF_TOKEN={IN_IGNORED_ENV}\n"));
    // Working tree: a script, a notebook with the token in an output, a binary file.
    write(&repo, "src/app.py", format!("# config\nclient = Client(\n    token='{IN_TREE}',\n)\norg = \"{ORG}\"\n"));
    let notebook = serde_json::json!({
        "cells": [
            {"cell_type": "markdown", "source": ["# Demo"], "metadata": {}},
            {"cell_type": "code", "source": ["import os\n", "print(os.environ['HF_TOKEN'])"], "metadata": {},
             "execution_count": 1,
             "outputs": [{"output_type": "stream", "name": "stdout", "text": [format!("{IN_NOTEBOOK}\n")]}]}
        ],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5
    });
    write(&repo, "nb/demo.ipynb", serde_json::to_string_pretty(&notebook).unwrap());
    let mut binary = vec![0u8, 1, 2, 3];
    binary.extend_from_slice(IN_BINARY.as_bytes());
    write(&repo, "model.bin", binary);
    // Look-alikes: names, placeholders, wrong lengths.
    write(
        &repo,
        "docs/usage.md",
        "Call hf_hub_download(). Set HF_TOKEN=hf_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx or\n\
         hf_YourTokenHereYourTokenHereYourTok, not hf_QmVxTrLpZaWcNbYdKeJfHgUiOsRtAqPlM (33) nor\n\
         hf_QmVxTrLpZaWcNbYdKeJfHgUiOsRtAqPlMnX (35) nor my_hf_QmVxTrLpZaWcNbYdKeJfHgUiOsRtAqPlMn.\n",
    );
    repo
}

fn assert_no_raw_token(run: &Run) {
    let all = run.all_output();
    for token in ALL {
        assert!(!all.contains(token), "a token leaked unmasked into the output:\n{all}");
    }
}

fn json(run: &Run) -> Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", run.stdout))
}

/// `(source, path, line, masked token)` of each finding.
fn findings(report: &Value) -> Vec<(String, String, u64, String)> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["source"].as_str().unwrap().to_owned(),
                f["path"].as_str().unwrap().to_owned(),
                f["line"].as_u64().unwrap(),
                f["token"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn masked(token: &str) -> String {
    hfkit::Token::new(token).masked()
}

#[test]
fn finds_tokens_in_tree_history_env_and_notebook_and_nothing_else() {
    let t = context();
    let repo = leaky_repo(&t);
    let run = t.hf(&["auth", "scan", "repo", "--format", "json"]);
    run.expect_code(1);
    assert_no_raw_token(&run);
    let report = json(&run);
    let found = findings(&report);
    let expected = vec![
        ("env".to_owned(), "repo/.env".to_owned(), 1, masked(IN_ENV)),
        ("notebook".to_owned(), "repo/nb/demo.ipynb".to_owned(), 23, masked(IN_NOTEBOOK)),
        ("file".to_owned(), "repo/src/app.py".to_owned(), 3, masked(IN_TREE)),
        ("file".to_owned(), "repo/src/app.py".to_owned(), 5, masked(ORG)),
        // The tracked .env is in the history too, where it was committed.
        ("history".to_owned(), ".env".to_owned(), 1, masked(IN_ENV)),
        ("history".to_owned(), "old/settings.py".to_owned(), 3, masked(IN_HISTORY)),
    ];
    let mut found_sorted = found.clone();
    found_sorted.sort_by(|a, b| (a.0 == "history", &a.1, a.2).cmp(&(b.0 == "history", &b.1, b.2)));
    assert_eq!(found_sorted, expected, "{}", run.stdout);
    let notebook = report["findings"].as_array().unwrap().iter().find(|f| f["source"] == "notebook").unwrap();
    assert_eq!((notebook["cell"].as_u64(), notebook["in_output"].as_bool()), (Some(2), Some(true)));
    let history = report["findings"].as_array().unwrap().iter().find(|f| f["path"] == "old/settings.py").unwrap();
    assert_eq!(history["commit"].as_str().unwrap().len(), 40);
    assert_eq!(report["binary_skipped"], 1);
    assert!(report["commits_scanned"].as_u64().unwrap() >= 4);
    // Different fingerprints for different tokens, the same for the same token.
    let fp = |path: &str| {
        report["findings"].as_array().unwrap().iter().find(|f| f["path"] == path).unwrap()["fingerprint"].clone()
    };
    assert_eq!(fp("repo/.env"), fp(".env"));
    assert_ne!(fp("repo/.env"), fp("old/settings.py"));

    // People see file:line:column, the commit, and the masked token.
    let human = t.hf(&["auth", "scan", "repo"]);
    human.expect_code(1);
    assert_no_raw_token(&human);
    assert!(
        human.stdout.contains(&format!("repo/src/app.py:3:12: {} (access token, file)", masked(IN_TREE))),
        "{}",
        human.stdout
    );
    assert!(human.stdout.contains("(access token, notebook cell 2 output)"), "{}", human.stdout);
    assert!(human.stdout.contains(".env:1:10:"), "{}", human.stdout);
    assert!(human.stdout.contains("(organization API token, file)"), "{}", human.stdout);
    let line = human.stdout.lines().find(|l| l.contains("old/settings.py")).unwrap();
    assert!(line.starts_with("commit ") && line.contains("old/settings.py:3:10"), "{line}");
    assert!(human.stderr.contains("Found 5 Hugging Face tokens in 6 places"), "{}", human.stderr);

    // --no-ignore reads the ignored .env too; the binary file stays skipped.
    let all = json(t.hf(&["auth", "scan", "repo", "--no-ignore", "--no-history", "--json"]).expect_code(1));
    let paths: Vec<String> = findings(&all).into_iter().map(|f| f.1).collect();
    assert!(paths.contains(&"repo/secrets/.env".to_owned()), "{paths:?}");
    assert!(!paths.iter().any(|p| p.contains("model.bin")), "{paths:?}");
    assert!(!paths.iter().any(|p| p.contains("old/settings.py")), "--no-history reads no commit: {paths:?}");
    drop(repo);
}

#[test]
fn sarif_has_what_code_scanning_needs() {
    let t = context();
    leaky_repo(&t);
    let run = t.hf(&["auth", "scan", "repo", "--sarif"]);
    run.expect_code(1);
    assert_no_raw_token(&run);
    let sarif = json(&run);
    assert_eq!(sarif["version"], "2.1.0");
    assert!(sarif["$schema"].as_str().unwrap().contains("sarif-2.1.0"));
    let runs = sarif["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    let driver = &runs[0]["tool"]["driver"];
    assert!(driver["name"].is_string());
    let rules = driver["rules"].as_array().unwrap();
    let results = runs[0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 6);
    for r in results {
        let rule = &rules[usize::try_from(r["ruleIndex"].as_u64().unwrap()).unwrap()];
        assert_eq!(r["ruleId"], rule["id"]);
        assert_eq!(r["level"], "error");
        assert!(
            r["message"]["text"].as_str().unwrap().contains("hf_****")
                || r["message"]["text"].as_str().unwrap().contains("api****")
        );
        let location = &r["locations"][0]["physicalLocation"];
        let uri = location["artifactLocation"]["uri"].as_str().unwrap();
        assert!(!uri.is_empty() && !uri.starts_with('/'), "{uri}");
        assert!(location["region"]["startLine"].as_u64().unwrap() >= 1);
        assert!(location["region"]["startColumn"].as_u64().unwrap() >= 1);
        assert!(r["partialFingerprints"]["hfTokenSha256/v1"].as_str().unwrap().len() == 16);
    }
}

#[test]
fn a_clean_tree_exits_zero_and_a_missing_path_two() {
    let t = context();
    let repo = t.work_dir().join("clean");
    std::fs::create_dir_all(&repo).unwrap();
    git(&t, &repo, &["init", "-q"]);
    write(&repo, "a.py", "from huggingface_hub import hf_hub_download\n");
    git(&t, &repo, &["add", "."]);
    git(&t, &repo, &["commit", "-qm", "clean"]);
    let run = t.hf(&["auth", "scan", "clean"]);
    run.expect_code(0);
    assert_eq!(run.stdout, "");
    assert!(run.stderr.contains("No Hugging Face token found (1 file, 1 commit read"), "{}", run.stderr);
    let json = json(t.hf(&["auth", "scan", "clean", "--json"]).expect_code(0));
    assert_eq!(json["findings"], serde_json::json!([]));
    let missing = t.hf(&["auth", "scan", "nowhere"]);
    missing.expect_code(2);
    assert!(missing.stderr.contains("nowhere does not exist"), "{}", missing.stderr);
}

#[test]
fn check_asks_the_hub_which_tokens_are_live() {
    let hub = HubFixture::new()
        .user("alice")
        .token("alice", "laptop", "write", IN_TREE)
        .token("alice", "old", "read", IN_ENV)
        .start();
    // Revoke the second token: the Hub now answers 401 for it.
    hub.state().store().revoke_tokens("alice", Some("old")).unwrap();
    let t = TestContext::new(env!("CARGO_MANIFEST_DIR"), &hub);
    let dir = t.work_dir().join("plain");
    write(&dir, "a.txt", format!("{IN_TREE}\n{IN_ENV}\n{IN_TREE}\n"));
    let run = t.hf(&["auth", "scan", "plain", "--check", "--json"]);
    run.expect_code(1);
    assert_no_raw_token(&run);
    let report = json(&run);
    let checks: Vec<(u64, Value)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["line"].as_u64().unwrap(), f["check"].clone()))
        .collect();
    let live = serde_json::json!({"live": true, "owner": "alice", "token_name": "laptop", "role": "write"});
    assert_eq!(checks, vec![(1, live.clone()), (2, serde_json::json!({"live": false})), (3, live)]);
    // One request per distinct token, each to the endpoint's whoami only.
    let asked: Vec<String> = hub.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(asked, ["/api/whoami-v2", "/api/whoami-v2"]);
    let human = t.hf(&["auth", "scan", "plain", "--check"]);
    human.expect_code(1);
    assert_no_raw_token(&human);
    assert!(human.stdout.contains("LIVE, belongs to alice, token \"laptop\", role write"), "{}", human.stdout);
    assert!(human.stdout.contains("revoked or invalid"), "{}", human.stdout);
}
