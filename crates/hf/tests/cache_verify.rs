//! `hf cache verify` against Python's, on the same cache and local dirs.

mod common;

use common::{context, repo_hub};

#[test]
fn same_verdicts_as_python() {
    let hub = repo_hub();
    let t = context(&hub);
    t.hf(&["download", "acme/tiny"]).expect_code(0);
    t.hf(&["download", "acme/tiny", "config.json", "--revision", "v1"]).expect_code(0);
    let local = t.root().join("ld");
    t.hf(&["download", "acme/tiny", "--local-dir", local.to_str().unwrap()]).expect_code(0);
    let v1 = common::commit_of(&hub, "acme/tiny", "v1");
    let ld = local.to_str().unwrap().to_owned();
    let compare = |args: &[&str], label: &str| {
        let ours = t.hf(args);
        let theirs = t.python_hf(args);
        assert_eq!(ours.stdout, theirs.stdout, "stdout, {label}");
        // hf prints no "set HF_DEBUG" hint: there is no traceback to show (docs/compatibility.md).
        let theirs_stderr =
            theirs.stderr.replace("Hint: set HF_DEBUG=1 as environment variable for full traceback.\n", "");
        assert_eq!(ours.stderr, theirs_stderr, "stderr, {label}");
        assert_eq!(ours.code, theirs.code, "code, {label}");
        ours
    };
    compare(&["cache", "verify", "acme/tiny"], "clean cache").expect_code(0);
    compare(&["cache", "verify", "acme/tiny", "--revision", "v1"], "v1 lacks files remotely present");
    compare(&["cache", "verify", "acme/tiny", "--revision", &v1, "--fail-on-missing-files"], "missing as failure");
    compare(&["cache", "verify", "acme/tiny", "--local-dir", &ld, "--format", "json"], "local dir").expect_code(0);
    std::fs::write(local.join("extra.txt"), "not in the repo").unwrap();
    std::fs::write(local.join("README.md"), "tampered").unwrap();
    compare(&["cache", "verify", "acme/tiny", "--local-dir", &ld], "tampered local dir").expect_code(1);
    compare(&["cache", "verify", "acme/tiny", "--local-dir", &ld, "--fail-on-extra-files"], "extra as failure");
    // Corrupt a blob in the cache itself.
    let snapshot =
        t.hf_home().join("hub/models--acme--tiny/snapshots").join(common::commit_of(&hub, "acme/tiny", "main"));
    let blob = std::fs::canonicalize(snapshot.join("model.safetensors")).unwrap();
    let mut bytes = std::fs::read(&blob).unwrap();
    bytes[12345] ^= 0xff;
    std::fs::write(&blob, bytes).unwrap();
    let run = compare(&["cache", "verify", "acme/tiny"], "corrupt blob");
    run.expect_code(1);
    assert!(run.stdout.contains("model.safetensors: expected"), "{}", run.stdout);
    compare(&["cache", "verify", "acme/nothere"], "not cached").expect_code(1);
    let both = t.hf(&["cache", "verify", "acme/tiny", "--local-dir", &ld, "--cache-dir", &ld]);
    assert_eq!(both.code, 2);
}

#[test]
fn a_revision_that_climbs_out_of_the_cache_is_refused() {
    let hub = repo_hub();
    let t = context(&hub);
    t.hf(&["download", "acme/tiny", "config.json"]).expect_code(0);
    // A file outside the cache that holds a commit hash: before, `refs/../../…` read it.
    let outside = t.root().join("planted");
    std::fs::write(&outside, common::commit_of(&hub, "acme/tiny", "main")).unwrap();
    let climb = format!("../../../../{}", outside.strip_prefix(t.root()).unwrap().display());
    let run = t.hf(&["cache", "verify", "acme/tiny", "--revision", &climb]);
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("Invalid revision \"../../../../planted\""), "{}", run.stderr);
    // A ref that holds something other than a commit hash is not followed either.
    let refs = t.hf_home().join("hub/models--acme--tiny/refs");
    std::fs::write(refs.join("evil"), "../../../../planted").unwrap();
    let run = t.hf(&["cache", "verify", "acme/tiny", "--revision", "evil"]);
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("could not be resolved in cache"), "{}", run.stderr);
}
