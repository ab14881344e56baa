//! `hf download` against our Hub: cache placement, revisions, errors, offline mode, and the
//! faults real networks produce.

mod common;

use std::path::Path;

use common::{FINE, READ, WEIGHTS_LEN, WRITE, commit_of, context, repo_hub};
use hfkit_server::{Fault, FaultKind};
use hfkit_test::{TestContext, pseudo_random};

fn path_of(run: &hfkit_test::Run) -> String {
    run.stdout
        .lines()
        .find_map(|l| l.strip_prefix("  path: "))
        .unwrap_or_else(|| panic!("no path in {}", run.stdout))
        .to_owned()
}

fn fast(t: &mut TestContext) {
    t.set_env("HF_HUB_DOWNLOAD_RETRY_BASE_MS", "20").set_env("HF_HUB_DOWNLOAD_CHUNK_SIZE", "262144");
}

fn cache(t: &TestContext) -> std::path::PathBuf {
    t.hf_home().join("hub").join("models--acme--tiny")
}

#[test]
fn single_file_lands_where_python_puts_it() {
    let hub = repo_hub();
    let mut t = context(&hub);
    fast(&mut t);
    let main = commit_of(&hub, "acme/tiny", "main");
    let run = t.hf(&["download", "acme/tiny", "model.safetensors"]);
    run.expect_code(0);
    let path = path_of(&run);
    assert_eq!(path, cache(&t).join("snapshots").join(&main).join("model.safetensors").display().to_string());
    assert_eq!(std::fs::read(&path).unwrap(), pseudo_random(7, WEIGHTS_LEN));
    let link = std::fs::read_link(&path).unwrap();
    let etag = link.file_name().unwrap().to_string_lossy().into_owned();
    assert_eq!(link, Path::new("../../blobs").join(&etag), "relative symlink into blobs/");
    assert_eq!(etag.len(), 64, "LFS blobs are named by sha256");
    assert_eq!(std::fs::read_to_string(cache(&t).join("refs/main")).unwrap(), main, "no trailing newline");
    assert!(t.hf_home().join("hub/CACHEDIR.TAG").exists());
    assert!(t.hf_home().join(format!("hub/.locks/models--acme--tiny/{etag}.lock")).exists());
    assert_eq!(run.stdout.lines().count(), 2);
    // -q prints only the path, for scripts.
    let quiet = t.hf(&["download", "acme/tiny", "config.json", "-q"]);
    assert_eq!(
        quiet.expect_code(0).stdout.trim(),
        cache(&t).join("snapshots").join(&main).join("config.json").display().to_string()
    );
    let json = t.hf(&["download", "acme/tiny", "config.json", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert!(v["path"].as_str().unwrap().ends_with("/config.json"));
}

#[test]
fn snapshot_then_cached_rerun_fetches_nothing() {
    let hub = repo_hub();
    let mut t = context(&hub);
    fast(&mut t);
    let run = t.hf(&["download", "acme/tiny"]);
    run.expect_code(0);
    let dir = Path::new(&path_of(&run)).to_owned();
    for (file, content) in
        [("config.json", &b"{\"hidden_size\": 16}"[..]), ("sub/dir/data.txt", b"nested\n"), ("README.md", b"# tiny\n")]
    {
        assert_eq!(std::fs::read(dir.join(file)).unwrap(), content, "{file}");
    }
    assert_eq!(std::fs::read_link(dir.join("sub/dir/data.txt")).unwrap().to_string_lossy().matches("../").count(), 4);
    let before = hub.requests().len();
    t.hf(&["download", "acme/tiny"]).expect_code(0);
    let after: Vec<_> = hub.requests().into_iter().skip(before).collect();
    assert!(after.iter().all(|r| r.path.starts_with("/api/")), "a cached snapshot costs only API calls: {after:?}");
}

#[test]
fn revisions_branch_tag_pr_and_commits() {
    let hub = repo_hub();
    let t = context(&hub);
    let v1 = commit_of(&hub, "acme/tiny", "v1");
    for rev in ["v1", &v1[..7], v1.as_str()] {
        let run = t.hf(&["download", "acme/tiny", "config.json", "--revision", rev]);
        assert_eq!(std::fs::read_to_string(path_of(run.expect_code(0))).unwrap(), r#"{"hidden_size": 8}"#, "{rev}");
    }
    assert_eq!(std::fs::read_to_string(cache(&t).join("refs/v1")).unwrap(), v1);
    let run = t.hf(&["download", "acme/tiny", "sub/dir/data.txt", "--revision", "refs/pr/1"]);
    run.expect_code(0);
    assert!(cache(&t).join("refs/refs/pr/1").is_file(), "refs/pr/1 nests folders");
    t.hf(&["download", "acme/tiny", "--revision", "dev", "--include", "*.json"]).expect_code(0);
    // A full commit that is cached answers with no request at all.
    let before = hub.requests().len();
    t.hf(&["download", "acme/tiny", "config.json", "--revision", &v1]).expect_code(0);
    assert_eq!(hub.requests().len(), before);
}

#[test]
fn include_exclude_and_dry_run() {
    let hub = repo_hub();
    let t = context(&hub);
    let run =
        t.hf(&["download", "acme/tiny", "--include", "*.json", "--include", "sub/*", "--exclude", "*.md", "--dry-run"]);
    insta::assert_snapshot!(t.snapshot(&run, &hub));
    let run = t.hf(&["download", "acme/tiny", "--include", "*.json", "--include", "sub/*"]);
    let dir = Path::new(&path_of(run.expect_code(0))).to_owned();
    assert!(dir.join("config.json").exists() && dir.join("sub/dir/data.txt").exists());
    assert!(!dir.join("model.safetensors").exists() && !dir.join("README.md").exists());
    let run = t.hf(&["download", "acme/tiny", "--dry-run", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let will: Vec<_> =
        v.as_array().unwrap().iter().filter(|f| f["will_download"] == true).map(|f| f["file"].clone()).collect();
    assert_eq!(will, vec![serde_json::json!("README.md"), serde_json::json!("model.safetensors")]);
}

#[test]
fn repo_types_and_prefixes() {
    let hub = repo_hub();
    let t = context(&hub);
    let a = t.hf(&["download", "acme/ds", "data/train.csv", "--repo-type", "dataset"]);
    let b = t.hf(&["download", "datasets/acme/ds", "data/train.csv"]);
    let c = t.hf(&["download", "hf://datasets/acme/ds/data/train.csv"]);
    assert_eq!(path_of(a.expect_code(0)), path_of(b.expect_code(0)));
    assert_eq!(path_of(&b), path_of(c.expect_code(0)));
    assert!(path_of(&a).contains("/datasets--acme--ds/snapshots/"));
    let run = t.hf(&["download", "datasets/acme/ds", "--repo-type", "model"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
}

#[test]
fn gated_private_and_missing_things_say_what_to_do() {
    let hub = repo_hub();
    let mut t = context(&hub);
    insta::assert_snapshot!("gated_anonymous", t.snapshot(&t.hf(&["download", "acme/gated", "config.json"]), &hub));
    t.set_env("HF_TOKEN", FINE);
    insta::assert_snapshot!("gated_not_granted", t.snapshot(&t.hf(&["download", "acme/gated", "w.bin"]), &hub));
    let whole = t.hf(&["download", "acme/gated"]);
    whole.expect_code(1);
    assert!(
        whole.stderr.contains("Access denied. Model 'acme/gated' requires approval"),
        "a snapshot says it too: {}",
        whole.stderr
    );
    t.set_env("HF_TOKEN", WRITE);
    t.hf(&["download", "acme/gated"]).expect_code(0);
    t.set_env("HF_TOKEN", FINE);
    insta::assert_snapshot!(
        "private_other_user",
        t.snapshot(&t.hf(&["download", "acme/secret", "config.json", "--revision", "v9"]), &hub)
    );
    t.set_env("HF_TOKEN", READ);
    t.hf(&["download", "acme/secret", "config.json"]).expect_code(0);
    insta::assert_snapshot!(
        "missing_revision",
        t.snapshot(&t.hf(&["download", "acme/tiny", "config.json", "--revision", "v9"]), &hub)
    );
    insta::assert_snapshot!("missing_file", t.snapshot(&t.hf(&["download", "acme/tiny", "nope.bin"]), &hub));
    let main = commit_of(&hub, "acme/tiny", "main");
    assert!(cache(&t).join(".no_exist").join(&main).join("nope.bin").is_file());
    insta::assert_snapshot!("bad_repo_id", t.snapshot(&t.hf(&["download", "bad--id"]), &hub));
    t.set_env("HF_TOKEN", common::UNKNOWN);
    let run = t.hf(&["download", "acme/tiny", "README.md"]);
    run.expect_code(1);
    assert!(run.stderr.contains("The token from the HF_TOKEN environment variable is invalid"), "{}", run.stderr);
}

#[test]
fn offline_hits_and_misses() {
    let hub = repo_hub();
    let mut t = context(&hub);
    let online = t.hf(&["download", "acme/tiny", "config.json"]);
    let expected = path_of(online.expect_code(0));
    t.set_env("HF_HUB_OFFLINE", "1");
    let before = hub.requests().len();
    assert_eq!(
        path_of(t.hf(&["download", "acme/tiny", "config.json"]).expect_code(0)),
        expected,
        "main resolves through refs/"
    );
    assert!(t.hf(&["download", "acme/tiny"]).expect_code(0).stdout.contains("/snapshots/"));
    insta::assert_snapshot!("offline_miss", t.snapshot(&t.hf(&["download", "acme/tiny", "README.md"]), &hub));
    t.remove_env("HF_HUB_OFFLINE");
    t.hf(&["download", "acme/tiny", "README.md", "--offline"]).expect_code(1);
    assert_eq!(hub.requests().len(), before, "offline mode sends nothing");
    // With the Hub unreachable, a cached file is still returned.
    t.set_env("HF_ENDPOINT", "http://127.0.0.1:9");
    assert_eq!(path_of(t.hf(&["download", "acme/tiny", "config.json"]).expect_code(0)), expected);
}

#[test]
fn local_dir_writes_real_files_and_skips_current_ones() {
    let hub = repo_hub();
    let t = context(&hub);
    let dir = t.root().join("out");
    let d = dir.to_str().unwrap();
    let run = t.hf(&["download", "acme/tiny", "--local-dir", d]);
    assert_eq!(path_of(run.expect_code(0)), d);
    assert!(std::fs::symlink_metadata(dir.join("model.safetensors")).unwrap().file_type().is_file());
    assert_eq!(std::fs::read(dir.join("model.safetensors")).unwrap(), pseudo_random(7, WEIGHTS_LEN));
    let meta = std::fs::read_to_string(dir.join(".cache/huggingface/download/sub/dir/data.txt.metadata")).unwrap();
    let lines: Vec<&str> = meta.lines().collect();
    assert_eq!(lines[0], commit_of(&hub, "acme/tiny", "main"));
    assert_eq!(lines.len(), 3);
    assert_eq!(std::fs::read_to_string(dir.join(".cache/huggingface/.gitignore")).unwrap(), "*");
    let before = hub.requests().len();
    t.hf(&["download", "acme/tiny", "--local-dir", d]).expect_code(0);
    let after: Vec<_> = hub.requests().into_iter().skip(before).collect();
    assert!(after.iter().all(|r| r.path.starts_with("/api/")), "up-to-date files are skipped: {after:?}");
    let run = t.hf(&["download", "acme/tiny", "--local-dir", d, "--cache-dir", d]);
    run.expect_code(1);
}

#[test]
fn a_relative_local_dir_is_answered_absolute_as_python_answers_it() {
    let hub = repo_hub();
    let t = context(&hub);
    let ours = path_of(t.hf(&["download", "acme/tiny", "--local-dir", "./ours"]).expect_code(0));
    assert_eq!(ours, t.work_dir().join("ours").canonicalize().unwrap().to_str().unwrap());
    let file = path_of(t.hf(&["download", "acme/tiny", "config.json", "--local-dir", "ours"]).expect_code(0));
    assert_eq!(file, format!("{ours}/config.json"));
    // Python's `snapshot_download` answers the same folder.
    let py = t.python(
        "from huggingface_hub import snapshot_download; print(snapshot_download('acme/tiny', local_dir='./ours'))",
    );
    assert_eq!(py.expect_code(0).stdout.trim(), ours);
}

#[test]
fn a_local_dir_copies_what_the_cache_holds_and_only_what_hashes_right() {
    let hub = repo_hub();
    let t = context(&hub);
    t.hf(&["download", "acme/tiny"]).expect_code(0);
    // One cached blob goes bad (same size, one byte changed).
    let main = commit_of(&hub, "acme/tiny", "main");
    let weights = cache(&t).join("snapshots").join(&main).join("model.safetensors");
    let blob = std::fs::canonicalize(&weights).unwrap();
    let mut bytes = std::fs::read(&blob).unwrap();
    bytes[1000] ^= 0xff;
    std::fs::write(&blob, &bytes).unwrap();
    let before = hub.requests().len();
    t.hf(&["download", "acme/tiny", "--local-dir", "ld"]).expect_code(0);
    let after: Vec<_> = hub.requests().into_iter().skip(before).collect();
    let resolved: Vec<&str> = after.iter().filter(|r| r.path.contains("/resolve/")).map(|r| r.path.as_str()).collect();
    assert!(
        !resolved.is_empty() && resolved.iter().all(|p| p.ends_with("/model.safetensors")),
        "only the bad blob is fetched; the rest is copied: {resolved:?}"
    );
    assert_eq!(after.iter().filter(|r| r.listener == "cdn").count(), 1, "{after:?}");
    let ld = t.work_dir().join("ld");
    assert_eq!(std::fs::read(ld.join("model.safetensors")).unwrap(), pseudo_random(7, WEIGHTS_LEN));
    for path in ["config.json", "README.md", "sub/dir/data.txt"] {
        let cached = std::fs::read(cache(&t).join("snapshots").join(&main).join(path)).unwrap();
        assert_eq!(std::fs::read(ld.join(path)).unwrap(), cached, "{path}");
        assert!(!std::fs::symlink_metadata(ld.join(path)).unwrap().file_type().is_symlink(), "{path}: a real file");
    }
    // Python finds the local dir up to date.
    let before = hub.requests().len();
    t.python("from huggingface_hub import snapshot_download; snapshot_download('acme/tiny', local_dir='./ld')")
        .expect_code(0);
    assert!(hub.requests().into_iter().skip(before).all(|r| r.listener != "cdn"), "nothing fetched again");
}

/// Every file and symlink under `dir` (relative path, and whether it is a symlink), temp
/// and lock files left out.
fn layout(dir: &std::path::Path) -> Vec<(String, bool)> {
    fn walk(base: &std::path::Path, dir: &std::path::Path, out: &mut Vec<(String, bool)>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let kind = entry.file_type().unwrap();
            let rel = entry.path().strip_prefix(base).unwrap().to_string_lossy().into_owned();
            if kind.is_dir() {
                walk(base, &entry.path(), out);
            } else if !rel.starts_with(".locks") && !rel.ends_with(".incomplete") {
                out.push((rel, kind.is_symlink()));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[test]
fn with_symlinks_disabled_snapshots_hold_the_files_as_pythons_do() {
    let hub = repo_hub();
    let mut t = context(&hub);
    t.set_env("HF_HUB_DISABLE_SYMLINKS", "1");
    t.hf(&["download", "acme/tiny"]).expect_code(0);
    let theirs = t.root().join("theirs");
    t.python(&format!(
        "from huggingface_hub import snapshot_download; snapshot_download('acme/tiny', cache_dir='{}')",
        theirs.display()
    ))
    .expect_code(0);
    let ours = layout(&cache(&t));
    assert_eq!(ours, layout(&theirs.join("models--acme--tiny")));
    assert!(ours.iter().all(|(path, link)| !link && !path.starts_with("blobs/")), "{ours:?}");
    let main = commit_of(&hub, "acme/tiny", "main");
    let weights = cache(&t).join("snapshots").join(&main).join("model.safetensors");
    assert_eq!(std::fs::read(weights).unwrap(), pseudo_random(7, WEIGHTS_LEN));
    // Each finds the other's files cached: no file is fetched again.
    let before = hub.requests().len();
    t.python("from huggingface_hub import snapshot_download; snapshot_download('acme/tiny')").expect_code(0);
    t.hf(&["download", "acme/tiny", "--cache-dir", theirs.to_str().unwrap()]).expect_code(0);
    let after: Vec<_> = hub.requests().into_iter().skip(before).collect();
    assert!(after.iter().all(|r| !r.path.contains("/resolve/")), "{after:?}");
    // `hf cache ls` reads such a cache as Python does.
    for args in [&["cache", "ls", "--format", "json"][..], &["cache", "ls", "--revisions"]] {
        let (ours, theirs) = (t.hf(args), t.python_hf(args));
        assert_eq!((ours.code, ours.stdout, ours.stderr), (theirs.code, theirs.stdout, theirs.stderr), "{args:?}");
    }
    // A file another revision already holds as a blob is copied from it, not fetched.
    t.remove_env("HF_HUB_DISABLE_SYMLINKS");
    let fresh = t.root().join("fresh");
    t.hf(&["download", "acme/tiny", "config.json", "--cache-dir", fresh.to_str().unwrap()]).expect_code(0);
    t.set_env("HF_HUB_DISABLE_SYMLINKS", "1");
    let snapshot = fresh.join("models--acme--tiny/snapshots").join(&main).join("config.json");
    std::fs::remove_file(&snapshot).unwrap();
    let before = hub.requests().len();
    t.hf(&["download", "acme/tiny", "config.json", "--cache-dir", fresh.to_str().unwrap()]).expect_code(0);
    assert!(std::fs::symlink_metadata(&snapshot).unwrap().file_type().is_file());
    let fetched: Vec<_> = hub.requests().into_iter().skip(before).filter(|r| r.method == "GET").collect();
    assert!(fetched.is_empty(), "{fetched:?}");
}

#[test]
fn a_local_dir_gets_the_side_files_pythons_offline_mode_reads() {
    let hub = repo_hub();
    let mut t = context(&hub);
    let ours = t.work_dir().join("ours");
    t.hf(&["download", "acme/tiny", "--local-dir", "ours"]).expect_code(0);
    let main = commit_of(&hub, "acme/tiny", "main");
    // The listing in the local dir, byte for byte what Python writes into its own.
    t.python("from huggingface_hub import snapshot_download; snapshot_download('acme/tiny', local_dir='./theirs')")
        .expect_code(0);
    let listing = format!(".cache/huggingface/trees/{main}.json");
    let theirs = std::fs::read(t.work_dir().join("theirs").join(&listing)).unwrap();
    assert_eq!(std::fs::read(ours.join(&listing)).unwrap(), theirs);
    assert_eq!(std::fs::read_to_string(cache(&t).join("refs/main")).unwrap(), main);
    // Python, offline, checks our local dir against it: complete, then one file missing.
    t.set_env("HF_HUB_OFFLINE", "1");
    let offline = "from huggingface_hub import snapshot_download\ntry:\n    print(snapshot_download('acme/tiny', local_dir='./ours'))\nexcept Exception as e:\n    print(type(e).__name__)";
    assert_eq!(t.python(offline).expect_code(0).stdout.trim(), ours.canonicalize().unwrap().to_str().unwrap());
    std::fs::remove_file(ours.join("config.json")).unwrap();
    assert_eq!(t.python(offline).expect_code(0).stdout.trim(), "IncompleteSnapshotError");
}

#[test]
fn token_never_reaches_the_cdn() {
    let hub = repo_hub();
    let mut t = context(&hub);
    t.set_env("HF_TOKEN", WRITE);
    t.hf(&["download", "acme/gated"]).expect_code(0);
    let requests = hub.requests();
    assert!(requests.iter().any(|r| r.listener == "cdn"), "LFS content came from the CDN");
    assert!(requests.iter().filter(|r| r.listener == "cdn").all(|r| r.authorization.is_none()));
    assert!(requests.iter().filter(|r| r.listener == "hub").all(|r| r.authorization.is_some()), "{requests:#?}");
    assert!(requests.iter().all(|r| r.user_agent.as_deref().is_some_and(|ua| ua.starts_with("hfkit/"))));
}

#[test]
fn renamed_repo_redirect_is_followed_and_cached_under_the_old_name() {
    let hub = repo_hub();
    hub.state().rename("model", "acme/old-name", "acme/tiny");
    let mut t = context(&hub);
    t.set_env("HF_TOKEN", READ);
    let run = t.hf(&["download", "acme/old-name", "config.json"]);
    assert!(path_of(run.expect_code(0)).contains("models--acme--old-name"));
    let followed = hub.requests().into_iter().find(|r| r.path.starts_with("/acme/tiny/resolve/")).unwrap();
    assert!(followed.authorization.is_some(), "same-host redirects keep the token");
}

#[test]
fn server_errors_are_retried_and_reported() {
    let hub = repo_hub();
    let mut t = context(&hub);
    fast(&mut t);
    hub.state().inject(Fault::new(FaultKind::Status { status: 503, retry_after: None }, 2).on("model.safetensors"));
    hub.state().inject(Fault::new(FaultKind::Status { status: 429, retry_after: Some(0) }, 1).on("README"));
    t.hf(&["download", "acme/tiny"]).expect_code(0);
    let hub = repo_hub();
    let mut t = context(&hub);
    fast(&mut t);
    t.set_env("HF_HUB_DOWNLOAD_RETRIES", "2");
    let sha = {
        let repos = hub.state().repos();
        let tiny = repos.values().find(|r| r.id == "acme/tiny").unwrap();
        tiny.head_files()["model.safetensors"].lfs_sha256.clone().unwrap()
    };
    hub.state().inject(Fault::new(FaultKind::Status { status: 500, retry_after: None }, 1000).on(&sha));
    let run = t.hf(&["download", "acme/tiny", "model.safetensors"]);
    run.expect_code(1);
    assert!(run.stderr.contains("after 3 tries over"), "{}", run.stderr);
    assert!(run.stderr.contains("500 Internal Server Error"), "{}", run.stderr);
    let blobs = std::fs::read_dir(cache(&t).join("blobs")).unwrap().count();
    assert_eq!(blobs, 1, "only the partial file is left, for a later resume");
    assert!(!cache(&t).join(format!("blobs/{sha}")).exists());
}

#[test]
fn cut_and_stalled_streams_resume_from_the_bytes_on_disk() {
    let hub = repo_hub();
    let mut t = context(&hub);
    fast(&mut t);
    t.set_env("HF_HUB_DOWNLOAD_CHUNK_SIZE", "100000000").set_env("HF_HUB_DOWNLOAD_STALL_TIMEOUT", "1");
    hub.state().inject(Fault::new(FaultKind::CutAfter(1_000_000), 1).on("/lfs/"));
    hub.state().inject(
        Fault::new(FaultKind::Stall { after: 500_000, pause: std::time::Duration::from_secs(5) }, 1).on("/lfs/"),
    );
    let run = t.hf(&["download", "acme/tiny", "model.safetensors"]);
    assert_eq!(std::fs::read(path_of(run.expect_code(0))).unwrap(), pseudo_random(7, WEIGHTS_LEN));
    let ranges: Vec<_> = hub.requests().into_iter().filter(|r| r.listener == "cdn").collect();
    assert_eq!(ranges.len(), 3, "first try, resume after the cut, resume after the stall: {ranges:?}");
}

#[test]
fn wrong_bytes_are_never_placed() {
    let hub = repo_hub();
    let mut t = context(&hub);
    fast(&mut t);
    hub.state().inject(Fault::new(FaultKind::WrongBytes, 1).on("README.md"));
    let run = t.hf(&["download", "acme/tiny", "README.md"]);
    run.expect_code(0); // the second try gets good bytes
    hub.state().inject(Fault::new(FaultKind::WrongBytes, 1000).on("/lfs/"));
    let run = t.hf(&["download", "acme/tiny", "model.safetensors"]);
    run.expect_code(1);
    assert!(run.stderr.contains("`model.safetensors` failed verification: expected sha256"), "{}", run.stderr);
    assert!(run.stderr.contains(", got "), "{}", run.stderr);
    let blobs: Vec<_> = std::fs::read_dir(cache(&t).join("blobs")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(blobs.len(), 1, "only README.md's blob: {blobs:?}");
    assert!(!cache(&t).join("snapshots").join(commit_of(&hub, "acme/tiny", "main")).join("model.safetensors").exists());
}

#[test]
fn path_traversal_from_the_server_is_refused() {
    let hub = hfkit_test::HubFixture::new()
        .repo(hfkit_test::RepoFixture::model("evil/repo").file("ok.txt", "fine").file("../../escape.txt", "pwned"))
        .start();
    let t = context(&hub);
    let run = t.hf(&["download", "evil/repo"]);
    run.expect_code(1);
    assert!(
        run.stderr.contains("its tree listing has an entry that cannot be used: Invalid file path"),
        "{}",
        run.stderr
    );
    assert!(!t.hf_home().join("escape.txt").exists() && !t.hf_home().join("hub/escape.txt").exists());
}

#[test]
fn disk_space_is_checked_before_downloading() {
    let mut huge = hfkit_server::FileEntry::lfs(pseudo_random(3, 1000));
    huge.size = 1 << 49; // the server claims 512 TiB (sizes past 1 PiB are refused outright)
    let mut repo = hfkit_server::StoredRepo::new("model", "acme/huge");
    repo.commit(std::collections::BTreeMap::from([("big.bin".to_owned(), huge)]));
    let hub = hfkit_test::HubFixture::new().start();
    hub.state().update_repos(|r| {
        r.insert(("model".into(), "acme/huge".into()), repo);
    });
    let t = context(&hub);
    let run = t.hf(&["download", "acme/huge", "big.bin"]);
    run.expect_code(1);
    assert!(run.stderr.contains("Not enough disk space in"), "{}", run.stderr);
    assert!(run.stderr.contains(&format!("{} bytes are needed", 1u64 << 49)), "{}", run.stderr);
    assert!(hub.requests().iter().all(|r| r.listener != "cdn"), "nothing was fetched");
}

#[test]
fn offline_partial_snapshot_is_reported_when_the_listing_proves_it() {
    let hub = repo_hub();
    let mut t = context(&hub);
    t.hf(&["download", "acme/tiny", "--include", "*.json"]).expect_code(0);
    t.set_env("HF_HUB_OFFLINE", "1");
    t.hf(&["download", "acme/tiny", "--include", "*.json"]).expect_code(0);
    let run = t.hf(&["download", "acme/tiny"]);
    run.expect_code(1);
    assert!(
        run.stderr.contains("is incomplete: 3 file(s) are missing (README.md, model.safetensors, sub/dir/data.txt)"),
        "{}",
        run.stderr
    );
    // Python agrees.
    let py = t.python("from huggingface_hub import snapshot_download\ntry:\n    snapshot_download('acme/tiny')\nexcept Exception as e:\n    print(type(e).__name__)");
    assert_eq!(py.expect_code(0).stdout, "IncompleteSnapshotError\n");
}

#[test]
fn a_gated_refusal_leaves_nothing_that_cache_ls_lists() {
    let hub = repo_hub();
    let t = context(&hub);
    t.hf(&["download", "acme/gated"]).expect_code(1);
    t.hf(&["download", "acme/gated", "config.json"]).expect_code(1);
    t.hf(&["download", "acme/gated", "config.json", "--dry-run"]).expect_code(1);
    let ls = t.hf(&["cache", "ls", "--format", "json"]);
    ls.expect_code(0);
    assert_eq!(ls.stdout.trim(), "[]", "Python lists nothing either");
    let folder = t.hf_home().join("hub/models--acme--gated");
    assert!(
        !folder.exists(),
        "{:?}",
        std::fs::read_dir(&folder).map(|d| d.flatten().map(|e| e.path()).collect::<Vec<_>>())
    );
}
