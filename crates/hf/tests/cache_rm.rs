//! `hf cache rm` and `hf cache prune` do what huggingface_hub 2.4's do: the same cache is
//! copied twice, Python's command runs on one copy and ours on the other, and the outputs
//! and the remaining trees must be equal. Then each tool reads what the other left.

mod common;

use std::path::Path;

use common::{context, copy_cache, repo_hub, tree};
use hfkit_test::TestContext;

fn populated(t: &TestContext) {
    common::download_sample(t);
    let hub = t.hf_home().join("hub");
    // A detached revision: its ref is gone.
    std::fs::remove_file(hub.join("models--acme--tiny/refs/v1")).unwrap();
    std::fs::write(hub.join("models--acme--tiny/blobs/abc.1234abcd.incomplete"), vec![0u8; 1234]).unwrap();
    let _ = std::fs::remove_dir_all(hub.join(".locks")); // Python never prunes locks; compared separately
}

#[test]
fn same_effect_and_output_as_python() {
    let hub = repo_hub();
    let t = context(&hub);
    populated(&t);
    let main = common::commit_of(&hub, "acme/tiny", "main");
    let v1 = common::commit_of(&hub, "acme/tiny", "v1");
    let cases: Vec<Vec<String>> = vec![
        vec!["cache".into(), "rm".into(), "model/acme/tiny".into(), "--dry-run".into()],
        vec!["cache".into(), "rm".into(), v1.clone(), "-y".into()],
        vec!["cache".into(), "rm".into(), main.to_uppercase(), "-y".into()],
        vec!["cache".into(), "rm".into(), "hf://datasets/acme/ds".into(), "model/nope/nope".into(), "-y".into()],
        vec!["cache".into(), "rm".into(), "hf://models/acme/tiny/config.json".into(), "-y".into()],
        vec![
            "cache".into(),
            "rm".into(),
            "hf://models/acme/tiny/config.json".into(),
            "--dry-run".into(),
            "--format".into(),
            "json".into(),
        ],
        vec!["cache".into(), "rm".into(), "datasets/acme/ds".into()],
        vec!["cache".into(), "rm".into(), v1.clone(), "--format".into(), "json".into()],
        vec!["cache".into(), "prune".into(), "--dry-run".into()],
        vec!["cache".into(), "prune".into(), "-y".into()],
        vec!["cache".into(), "prune".into(), "-y".into(), "--format".into(), "agent".into()],
    ];
    for (n, case) in cases.iter().enumerate() {
        let ours_dir = copy_cache(&t, &format!("ours{n}"));
        let theirs_dir = copy_cache(&t, &format!("theirs{n}"));
        let mut ours_args: Vec<&str> = case.iter().map(String::as_str).collect();
        ours_args.extend(["--cache-dir", &ours_dir]);
        let mut theirs_args: Vec<&str> = case.iter().map(String::as_str).collect();
        theirs_args.extend(["--cache-dir", &theirs_dir]);
        let ours = t.hf(&ours_args);
        let theirs = t.python_hf(&theirs_args);
        let clean = |s: &str, dir: &str| {
            s.replace(dir, "[CACHE]").replace("Hint: set HF_DEBUG=1 as environment variable for full traceback.\n", "")
        };
        assert_eq!(clean(&ours.stdout, &ours_dir), clean(&theirs.stdout, &theirs_dir), "stdout of {case:?}");
        assert_eq!(clean(&ours.stderr, &ours_dir), clean(&theirs.stderr, &theirs_dir), "stderr of {case:?}");
        assert_eq!(ours.code, theirs.code, "exit code of {case:?}");
        assert_eq!(tree(Path::new(&ours_dir)), tree(Path::new(&theirs_dir)), "tree after {case:?}");
    }
}

#[test]
fn each_tool_reads_what_the_other_left() {
    let hub = repo_hub();
    let t = context(&hub);
    populated(&t);
    let main = common::commit_of(&hub, "acme/tiny", "main");
    t.hf(&["cache", "rm", "hf://models/acme/tiny/README.md", "-y"]).expect_code(0);
    let run = t.python(&format!(
        "import os\nos.environ['HF_HUB_OFFLINE']='1'\nfrom huggingface_hub import scan_cache_dir, hf_hub_download\n\
info = scan_cache_dir()\nprint(len(info.warnings), sorted((r.repo_id, r.nb_files) for r in info.repos))\n\
print(os.path.getsize(hf_hub_download('acme/tiny', 'model.safetensors', revision='{main}')))\n"
    ));
    assert_eq!(run.expect_code(0).stdout, format!("0 [('acme/ds', 1), ('acme/tiny', 4)]\n{}\n", common::WEIGHTS_LEN));
    t.python_hf(&["cache", "rm", "dataset/acme/ds", "-y"]).expect_code(0);
    let ours = t.hf(&["cache", "ls", "-q"]);
    assert_eq!(ours.expect_code(0).stdout, "model/acme/tiny\n");
}

#[test]
fn prune_removes_orphan_resume_records_and_keeps_lock_files() {
    let hub = repo_hub();
    let t = context(&hub);
    t.hf(&["download", "acme/tiny"]).expect_code(0);
    let locks = t.hf_home().join("hub/.locks/models--acme--tiny");
    let before: std::collections::BTreeSet<_> =
        std::fs::read_dir(&locks).unwrap().map(|e| e.unwrap().file_name()).collect();
    std::fs::write(locks.join("unheld.lock"), "").unwrap();
    std::fs::write(locks.join("deadbeef.progress"), "{}").unwrap();
    let held_path = locks.join("held.lock");
    let held = std::fs::File::create(&held_path).unwrap();
    held.lock().unwrap();
    let run = t.hf(&["cache", "prune", "-y"]);
    run.expect_code(0);
    assert!(run.stdout.contains("1 stale lock(s)"), "the orphan record: {}", run.stdout);
    let left: std::collections::BTreeSet<_> =
        std::fs::read_dir(&locks).unwrap().map(|e| e.unwrap().file_name()).collect();
    let mut expected = before;
    expected.extend(["unheld.lock".into(), "held.lock".into()]);
    assert_eq!(left, expected, "lock files stay, as huggingface_hub leaves them; the orphan record goes");
    drop(held);
}

#[test]
fn rm_asks_and_respects_no() {
    let hub = repo_hub();
    let t = context(&hub);
    t.hf(&["download", "datasets/acme/ds"]).expect_code(0);
    let run = t.hf_with_stdin(&["cache", "rm", "dataset/acme/ds"], "n\n");
    run.expect_code(1);
    assert!(run.stdout.contains("Proceed with deletion? [y/N]: "), "{}", run.stdout);
    assert!(t.hf_home().join("hub/datasets--acme--ds").exists());
    t.hf_with_stdin(&["cache", "rm", "dataset/acme/ds"], "y\n").expect_code(0);
    assert!(!t.hf_home().join("hub/datasets--acme--ds").exists());
    let run = t.hf(&["cache", "rm"]);
    assert_eq!(run.code, 2, "no target without a terminal is a usage error: {}", run.stderr);
}

#[test]
fn show_warnings_reports_orphan_blobs_and_stale_locks_and_prune_clears_interrupted_deletions() {
    let hub = repo_hub();
    let t = context(&hub);
    t.hf(&["download", "acme/tiny"]).expect_code(0);
    let cache = t.hf_home().join("hub");
    // Every download leaves its blob lock (as huggingface_hub's do), unheld once it is done.
    let blob_locks = std::fs::read_dir(cache.join(".locks/models--acme--tiny")).unwrap().count();
    assert_eq!(blob_locks, std::fs::read_dir(cache.join("models--acme--tiny/blobs")).unwrap().count());
    std::fs::write(cache.join("models--acme--tiny/blobs/0123456789abcdef0123456789abcdef01234567"), "orphan").unwrap();
    std::fs::create_dir_all(cache.join(".locks/models--acme--tiny")).unwrap();
    std::fs::write(cache.join(".locks/models--acme--tiny/x.lock"), "").unwrap();
    std::fs::create_dir_all(cache.join(".locks/.deleting-1-0-models--old--repo/snapshots")).unwrap();
    let plain = t.hf(&["cache", "ls"]);
    assert_eq!(plain.stderr, "", "the default output stays huggingface_hub's");
    let run = t.hf(&["cache", "ls", "--show-warnings"]);
    assert!(run.stderr.contains("Blob not used by any snapshot"), "{}", run.stderr);
    // Lock files are kept (a process may have one open); the interrupted deletion is stale.
    assert!(run.stderr.contains("Found 1 stale lock(s)"), "{}", run.stderr);
    t.hf(&["cache", "prune", "-y"]).expect_code(0);
    assert!(!cache.join(".locks/.deleting-1-0-models--old--repo").exists());
    t.hf(&["cache", "rm", "model/acme/tiny", "-y"]).expect_code(0);
    let leftovers: Vec<_> = std::fs::read_dir(cache.join(".locks")).unwrap().flatten().map(|e| e.file_name()).collect();
    assert!(leftovers.iter().all(|n| !n.to_string_lossy().starts_with(".deleting-")), "{leftovers:?}");
    assert!(!cache.join("models--acme--tiny").exists());
}
