//! `hf cache ls` gives what huggingface_hub 2.4's `hf cache ls` gives, on the same cache:
//! same rows, sizes, times, refs, footer, warnings and hints, in every format.

mod common;

use common::{context, repo_hub};

/// A cache with two repos (one with two revisions), a detached dataset, an inconsistent
/// folder, a folder that is not a repo, and a partial download.
fn populated(t: &hfkit_test::TestContext) {
    common::download_sample(t);
    let hub = t.hf_home().join("hub");
    std::fs::create_dir_all(hub.join("models--broken--nosnap/blobs")).unwrap();
    std::fs::create_dir_all(hub.join("not-a-repo")).unwrap();
    std::fs::write(hub.join("models--acme--tiny/blobs/abc.1234abcd.incomplete"), vec![0u8; 1234]).unwrap();
    // Both tools leave a blob lock per download; ours counts them with --show-warnings,
    // Python does not (compared in cache_rm.rs).
    let _ = std::fs::remove_dir_all(hub.join(".locks"));
    // Two hours ago, for every file: relative times then read the same for both tools however
    // long each takes to start on a busy machine ("2 hours ago", not "a few seconds" vs "20").
    let then = std::time::SystemTime::now() - std::time::Duration::from_secs(2 * 3600);
    age(&hub, std::fs::FileTimes::new().set_accessed(then).set_modified(then));
}

fn age(dir: &std::path::Path, times: std::fs::FileTimes) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            age(&entry.path(), times);
        } else if kind.is_file() {
            std::fs::File::options().write(true).open(entry.path()).unwrap().set_times(times).unwrap();
        }
    }
}

#[test]
fn same_output_as_python() {
    let hub = repo_hub();
    let t = context(&hub);
    populated(&t);
    let cases: &[&[&str]] = &[
        &["cache", "ls"],
        &["cache", "ls", "--format", "json"],
        &["cache", "ls", "--format", "agent"],
        &["cache", "ls", "--format", "quiet"],
        &["cache", "ls", "--revisions"],
        &["cache", "ls", "--revisions", "--format", "json"],
        &["cache", "ls", "--revisions", "-q"],
        &["cache", "ls", "--show-warnings"],
        &["cache", "ls", "--filter", "size>1KB", "--sort", "name:desc"],
        &["cache", "ls", "--filter", "type=dataset"],
        &["cache", "ls", "--filter", "refs=v1", "--revisions"],
        &["cache", "ls", "-f", "accessed<3h", "-f", "modified<=7d", "--sort", "size"],
        &["cache", "ls", "--sort", "size:asc", "--limit", "1"],
        &["cache", "ls", "--filter", "size>1TB"],
    ];
    for args in cases {
        let ours = t.hf(args);
        let theirs = t.python_hf(args);
        assert_eq!(ours.stdout, theirs.stdout, "stdout of {args:?}");
        assert_eq!(ours.stderr, theirs.stderr, "stderr of {args:?}");
        assert_eq!(ours.code, theirs.code, "exit code of {args:?}");
    }
}

#[test]
fn usage_errors_exit_2_like_python() {
    let hub = repo_hub();
    let t = context(&hub);
    populated(&t);
    for args in [
        &["cache", "ls", "--filter", "foo=bar"][..],
        &["cache", "ls", "--filter", "type>model"],
        &["cache", "ls", "--filter", "size>12xb"],
        &["cache", "ls", "--sort", "bogus"],
        &["cache", "ls", "--limit", "-1"],
    ] {
        let ours = t.hf(args);
        let theirs = t.python_hf(args);
        assert_eq!((ours.code, theirs.code), (2, 2), "{args:?}: {}", ours.stderr);
    }
    let missing = t.hf(&["cache", "ls", "--cache-dir", "/nonexistent/cache"]);
    missing.expect_code(1);
    assert!(missing.stderr.contains("Cache directory not found: /nonexistent/cache"), "{}", missing.stderr);
}

#[test]
fn symlinks_out_of_the_cache_are_not_followed() {
    let hub = repo_hub();
    let t = context(&hub);
    t.hf(&["download", "acme/tiny", "config.json"]).expect_code(0);
    let outside = t.root().join("outside.bin");
    std::fs::write(&outside, vec![1u8; 5000]).unwrap();
    let snap = t.hf_home().join("hub/models--evil--repo/snapshots/1111111111111111111111111111111111111111");
    std::fs::create_dir_all(&snap).unwrap();
    std::os::unix::fs::symlink(&outside, snap.join("weights.bin")).unwrap();
    let run = t.hf(&["cache", "ls", "--show-warnings", "--format", "json"]);
    run.expect_code(0);
    assert!(!run.stdout.contains("evil"), "{}", run.stdout);
    assert!(run.stderr.contains("points outside the cache"), "{}", run.stderr);
}

/// A hostile cache: a snapshot folder that is a symlink to a folder outside the cache, a
/// symlink loop, a file where a folder should be. It is listed with warnings, and neither
/// `rm` nor `prune` touches anything outside the cache.
#[test]
fn hostile_cache_is_listed_with_warnings_and_nothing_outside_is_touched() {
    let hub = repo_hub();
    let t = context(&hub);
    t.hf(&["download", "acme/tiny", "config.json"]).expect_code(0);
    let cache = t.hf_home().join("hub");
    let outside = t.root().join("precious");
    std::fs::create_dir_all(outside.join("sub")).unwrap();
    std::fs::write(outside.join("sub/keep.txt"), "do not delete").unwrap();
    let evil = cache.join("models--evil--dirlink/snapshots");
    std::fs::create_dir_all(&evil).unwrap();
    std::os::unix::fs::symlink(&outside, evil.join("2222222222222222222222222222222222222222")).unwrap();
    let looped = cache.join("models--evil--loop/snapshots/3333333333333333333333333333333333333333");
    std::fs::create_dir_all(&looped).unwrap();
    std::os::unix::fs::symlink("loop.bin", looped.join("loop.bin")).unwrap();
    std::fs::create_dir_all(cache.join("models--evil--file")).unwrap();
    std::fs::write(cache.join("models--evil--file/snapshots"), "a file").unwrap();
    let blob_out = cache.join("models--evil--blob/snapshots/4444444444444444444444444444444444444444");
    std::fs::create_dir_all(&blob_out).unwrap();
    std::os::unix::fs::symlink(outside.join("sub/keep.txt"), blob_out.join("w.bin")).unwrap();

    let run = t.hf(&["cache", "ls", "--show-warnings"]);
    run.expect_code(0);
    assert!(run.stdout.contains("model/acme/tiny"), "{}", run.stdout);
    assert!(!run.stdout.contains("evil"), "{}", run.stdout);
    assert_eq!(run.stderr.matches("Repo ignored.").count(), 4, "{}", run.stderr);
    for args in [&["cache", "rm", "model/evil/dirlink", "model/evil/blob", "-y"][..], &["cache", "prune", "-y"]] {
        t.hf(args);
    }
    t.python_hf(&["cache", "ls"]).expect_code(0);
    assert_eq!(std::fs::read_to_string(outside.join("sub/keep.txt")).unwrap(), "do not delete");
}

#[test]
fn snapshots_of_human_and_json_output() {
    let hub = repo_hub();
    let t = context(&hub);
    t.hf(&["download", "acme/tiny", "--include", "*.json"]).expect_code(0);
    t.hf(&["download", "datasets/acme/ds"]).expect_code(0);
    let normalize = |run: &hfkit_test::Run| {
        let main = common::commit_of(&hub, "acme/tiny", "main");
        t.snapshot(run, &hub)
            .replace(&main, "[COMMIT]")
            .replace(&common::commit_of(&hub, "acme/ds", "main"), "[DS-COMMIT]")
    };
    insta::assert_snapshot!("ls_human", normalize(&t.hf(&["cache", "ls"])));
    insta::assert_snapshot!("ls_revisions_json", normalize(&t.hf(&["cache", "ls", "--revisions", "--format", "json"])));
    insta::assert_snapshot!("rm_dry_run", normalize(&t.hf(&["cache", "rm", "model/acme/tiny", "--dry-run"])));
}
