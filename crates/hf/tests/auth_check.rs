//! `hf auth check REPO`: every access case against our Hub, with the exit code a script reads.

mod common;

use common::{FINE, READ, UNKNOWN, WRITE, context, repo_hub};

/// A token (or none), a repo, extra arguments, the exit code, the access key, a phrase of
/// the verdict.
type Case<'a> = (Option<&'a str>, &'a str, &'a [&'a str], i32, &'a str, &'a str);

#[test]
fn each_access_case_has_its_answer_and_exit_code() {
    let hub = repo_hub();
    let mut t = context(&hub);
    let cases: &[Case] = &[
        (None, "acme/tiny", &[], 0, "public", "it is public"),
        (None, "acme/gated", &[], 3, "gated-not-granted", "/acme/gated"),
        (Some(FINE), "acme/gated", &[], 3, "gated-not-granted", "Request it at"),
        (Some(READ), "acme/gated", &[], 0, "gated-granted", "has been granted access"),
        (Some(WRITE), "acme/gated", &[], 0, "gated-granted", "has been granted access"),
        (Some(READ), "acme/secret", &[], 0, "private-visible", "it is private"),
        (Some(WRITE), "acme/secret", &[], 4, "not-found", "cannot see it"),
        (None, "acme/secret", &[], 4, "not-found", "cannot see it"),
        (None, "acme/nothere", &[], 4, "not-found", "does not exist"),
        (Some(UNKNOWN), "acme/tiny", &[], 5, "token-refused", "refused the token"),
        (Some(READ), "acme/tiny", &["--write"], 6, "public", "it is public"),
    ];
    for (token, repo, extra, code, access, phrase) in cases {
        match token {
            Some(token) => t.set_env("HF_TOKEN", token),
            None => t.remove_env("HF_TOKEN"),
        };
        let mut args = vec!["auth", "check", repo];
        args.extend_from_slice(extra);
        let run = t.hf(&args);
        assert_eq!(run.code, *code, "{token:?} {repo}: {}", run.all_output());
        assert!(run.stdout.contains(phrase), "{token:?} {repo}: {}", run.stdout);
        args.extend(["--format", "json"]);
        let json: serde_json::Value = serde_json::from_str(&t.hf(&args).stdout).unwrap();
        assert_eq!(json["access"], *access, "{token:?} {repo}: {json}");
        assert_eq!(json["readable"], *code == 0 || *code == 6);
        for secret in [READ, WRITE, FINE, UNKNOWN] {
            assert!(!run.all_output().contains(secret));
        }
    }
    // The dataset is found with its type.
    t.remove_env("HF_TOKEN");
    t.hf(&["auth", "check", "acme/ds", "--repo-type", "dataset"]).expect_code(0);
    // A member's write token may write to its organization's repo.
    t.set_env("HF_TOKEN", WRITE);
    let run = t.hf(&["auth", "check", "acme/gated", "--write", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["writable"], false, "bob is granted, not a member of acme: {json}");
}

#[test]
fn pythons_auth_check_gets_the_hubs_answers_from_our_server() {
    let hub = repo_hub();
    let t = context(&hub);
    let script = format!(
        r#"
from huggingface_hub import auth_check
from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError
def attempt(repo, token):
    try:
        auth_check(repo, token=token)
        return "ok"
    except GatedRepoError as e:
        return f"gated {{e.response.status_code}}"
    except RepositoryNotFoundError as e:
        return f"missing {{e.response.status_code}}"
print(attempt("acme/tiny", False), attempt("acme/gated", False), attempt("acme/gated", "{FINE}"),
      attempt("acme/gated", "{WRITE}"), attempt("acme/secret", "{WRITE}"), attempt("acme/secret", "{READ}"))
"#
    );
    let run = t.python(&script);
    run.expect_code(0);
    assert_eq!(run.stdout.trim(), "ok gated 401 gated 403 ok missing 404 ok");
}
