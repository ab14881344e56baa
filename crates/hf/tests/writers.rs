//! Several writers on one cache: hfkit and huggingface_hub 2.4 downloading the same files at
//! once (with working locks and with lying ones) while a server sends wrong bytes; `hf cache
//! prune` while downloads run; and `--local-dir` against a repo that names `.git/config`.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::context;
use hfkit::download::{DownloadOptions, HashKind, NoProgress, hash_reader};
use hfkit_server::{Fault, FaultKind};
use hfkit_test::{HubFixture, RepoFixture, RunningHub, TestContext, pseudo_random};

const CHUNK: u64 = 262_144;
const WEIGHTS_LEN: usize = (3 << 20) + 5;
const SMALL: &str = "a small regular file\n";

/// `acme/shared`: a regular file of one chunk and two LFS files of many. Built the same way
/// twice, two servers serve the same commit and etags.
fn shared_hub() -> RunningHub {
    HubFixture::new()
        .repo(
            RepoFixture::model("acme/shared")
                .file("small.txt", SMALL)
                .lfs("weights.bin", pseudo_random(11, WEIGHTS_LEN))
                .lfs("other.bin", pseudo_random(12, WEIGHTS_LEN))
                .file(".git/config", "[core]\n\thooksPath = /tmp/evil\n")
                .file(".cache/huggingface/download/small.txt.metadata", "forged\n")
                .file(".gitattributes", "*.bin filter=lfs\n"),
        )
        .start()
}

fn expected(path: &str) -> Vec<u8> {
    match path {
        "small.txt" => SMALL.as_bytes().to_vec(),
        "weights.bin" => pseudo_random(11, WEIGHTS_LEN),
        "other.bin" => pseudo_random(12, WEIGHTS_LEN),
        other => panic!("unexpected {other}"),
    }
}

/// What Python fetches, and what hfkit fetches (one more file, that only hfkit processes race for).
const PYTHON_FILES: [&str; 2] = ["small.txt", "weights.bin"];
const HFKIT_FILES: [&str; 3] = ["small.txt", "weights.bin", "other.bin"];

/// huggingface_hub 2.4 downloading two files into the cache; `nolock` makes its blob lock
/// a no-op, as on a file system where `flock` succeeds for everyone.
const PYTHON_DOWNLOAD: &str = r#"
import contextlib, sys
if sys.argv[1] == "nolock":
    import huggingface_hub.file_download as fd
    fd.WeakFileLock = lambda *a, **k: contextlib.nullcontext()
from huggingface_hub import snapshot_download
print(snapshot_download("acme/shared", allow_patterns=["small.txt", "weights.bin"]))
"#;

fn spawn_python(t: &TestContext, endpoint: &str, mode: &str) -> Child {
    t.command(t.python_bin())
        .args(["-c", PYTHON_DOWNLOAD, mode])
        .env("HF_ENDPOINT", endpoint)
        .env("HF_HUB_DISABLE_XET", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn spawn_hf(t: &TestContext, args: &[&str]) -> Child {
    t.command(t.hf_bin()).args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
}

fn spawn_hf_download(t: &TestContext) -> Child {
    let mut args = vec!["download", "acme/shared"];
    args.extend(HFKIT_FILES);
    args.push("-q");
    spawn_hf(t, &args)
}

/// Waits for a child; a success must have produced the right `files` in the snapshot
/// folder it printed, a failure may only be a refused (wrong-bytes) download.
fn check_child(who: &str, child: Child, files: &[&str], may_fail: bool) {
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if out.status.success() {
        let dir = PathBuf::from(stdout.lines().last().unwrap_or_default().trim());
        for path in files {
            assert_eq!(std::fs::read(dir.join(path)).unwrap(), expected(path), "{who}: {path} in {}", dir.display());
        }
    } else {
        assert!(may_fail && stderr.contains("failed verification"), "{who} failed:\n{stdout}\n{stderr}");
    }
}

/// Every blob's bytes hash to its name, and no partial file is left behind.
fn assert_blobs_are_their_names(t: &TestContext) {
    let blobs = t.hf_home().join("hub/models--acme--shared/blobs");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&blobs).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        assert!(!name.ends_with(".incomplete"), "a partial file is left: {name}");
        let kind = HashKind::of_etag(&name).unwrap_or_else(|| panic!("not a blob name: {name}"));
        let len = entry.metadata().unwrap().len();
        let actual = hash_reader(kind, len, std::fs::File::open(entry.path()).unwrap()).unwrap();
        assert_eq!(actual, name, "blobs/{name} holds other bytes");
        names.push(name);
    }
    assert_eq!(names.len(), 3, "one blob per file: {names:?}");
}

/// The faulty server (hfkit's): wrong bytes a few times, and slow enough that the hfkit
/// writers overlap.
fn make_faulty(hub: &RunningHub) {
    hub.state().inject(Fault::new(FaultKind::WrongBytes, 1).on("small.txt"));
    hub.state().inject(Fault::new(FaultKind::WrongBytes, 2).on("/lfs/"));
    hub.state().inject(Fault::new(FaultKind::Stall { after: 0, pause: Duration::from_millis(40) }, 1000).on("/lfs/"));
}

/// The honest server (Python's) pauses a second inside the weights, so that hfkit starts
/// while Python is writing them.
fn make_slow(hub: &RunningHub) {
    hub.state()
        .inject(Fault::new(FaultKind::Stall { after: 1 << 20, pause: Duration::from_millis(1000) }, 1000).on("/lfs/"));
}

/// The sha256 of an LFS file of `acme/shared`.
fn lfs_sha(hub: &RunningHub, path: &str) -> String {
    let repos = hub.state().repos();
    let repo = repos.values().find(|r| r.id == "acme/shared").unwrap();
    repo.head_files()[path].lfs_sha256.clone().unwrap()
}

/// Successful content GETs of `hub` whose path contains `fragment`.
fn fetches_of(hub: &RunningHub, fragment: &str) -> usize {
    hub.requests().iter().filter(|r| r.method == "GET" && r.path.contains(fragment) && r.status < 300).count()
}

/// Waits until a Python process is writing the weights (its partial file exists).
fn wait_for_python_weights(t: &TestContext, hub: &RunningHub) {
    let blobs = t.hf_home().join("hub/models--acme--shared/blobs");
    let sha = lfs_sha(hub, "weights.bin");
    wait_for("Python writing the weights", || {
        partials(&blobs).iter().any(|p| p.file_name().unwrap().to_string_lossy().starts_with(&sha))
    });
}

#[test]
fn hfkit_and_python_at_once_with_locks_never_place_a_wrong_blob() {
    let (faulty, honest) = (shared_hub(), shared_hub());
    make_faulty(&faulty);
    make_slow(&honest);
    let mut t = context(&faulty);
    t.set_env("HF_HUB_DOWNLOAD_CHUNK_SIZE", &CHUNK.to_string());
    let pythons = [spawn_python(&t, honest.url(), "lock"), spawn_python(&t, honest.url(), "lock")];
    wait_for_python_weights(&t, &honest);
    let hfs = [spawn_hf_download(&t), spawn_hf_download(&t), spawn_hf_download(&t)];
    for (i, child) in pythons.into_iter().enumerate() {
        check_child(&format!("python {i}"), child, &PYTHON_FILES, false);
    }
    for (i, child) in hfs.into_iter().enumerate() {
        check_child(&format!("hf {i}"), child, &HFKIT_FILES, true);
    }
    assert_blobs_are_their_names(&t);
    // The blob lock kept everyone else out while one Python process fetched the weights:
    // no second Python fetch, and no hfkit fetch at all.
    let sha = lfs_sha(&honest, "weights.bin");
    assert_eq!(fetches_of(&honest, &sha), 1, "{:#?}", honest.requests());
    assert_eq!(fetches_of(&faulty, &sha), 0, "{:#?}", faulty.requests());
    // The hfkit processes did race for `other.bin`, through wrong bytes.
    assert!(fetches_of(&faulty, &lfs_sha(&faulty, "other.bin")) > 0);
}

#[test]
fn hfkit_and_python_at_once_with_lying_locks_never_place_a_wrong_blob() {
    let (faulty, honest) = (shared_hub(), shared_hub());
    make_faulty(&faulty);
    make_slow(&honest);
    let t = context(&faulty);
    let pythons = [spawn_python(&t, honest.url(), "nolock"), spawn_python(&t, honest.url(), "nolock")];
    wait_for_python_weights(&t, &honest);
    // Two hfkit downloads in this process with locks off (a lying `flock`), and one `hf`.
    let hf = spawn_hf_download(&t);
    let mut config = hfkit::Config::isolated(t.hf_home(), faulty.url());
    config.transfer.chunk_size = CHUNK;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let options = DownloadOptions { use_locks: false, ..Default::default() };
    let repo = hfkit::repo::Repo::model("acme/shared").unwrap();
    let (one, two) = (hfkit::Hub::new(config.clone(), None), hfkit::Hub::new(config, None));
    let results = rt.block_on(async {
        let (a, b) = (one.repo(repo.clone()), two.repo(repo));
        let all = |h: hfkit::download::RepoHandle| {
            let options = options.clone();
            async move {
                let mut out = Vec::new();
                for path in HFKIT_FILES {
                    out.push((path, h.download_file(path, &options, &NoProgress).await));
                }
                out
            }
        };
        tokio::join!(all(a), all(b))
    });
    for (path, result) in results.0.into_iter().chain(results.1) {
        match result {
            Ok(done) => assert_eq!(std::fs::read(&done.path).unwrap(), expected(path), "{path}"),
            Err(e) => assert!(e.to_string().contains("failed verification"), "{path}: {e}"),
        }
    }
    for (i, child) in pythons.into_iter().enumerate() {
        check_child(&format!("python {i}"), child, &PYTHON_FILES, false);
    }
    check_child("hf", hf, &HFKIT_FILES, true);
    assert_blobs_are_their_names(&t);
    // The locks held no one back: Python and hfkit fetched the weights at the same time.
    let sha = lfs_sha(&honest, "weights.bin");
    assert!(fetches_of(&honest, &sha) >= 1 && fetches_of(&faulty, &sha) >= 1);
}

/// Waits until `ready` holds, for at most 30 s.
fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn partials(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries.flatten().map(|e| e.path()).filter(|p| p.to_string_lossy().ends_with(".incomplete")).collect()
        })
        .unwrap_or_default()
}

/// `hf download` of the weights, one connection, every chunk held back for `pause`, once a
/// chunk is on disk: the hub, the context, the repo's `blobs/` and the running process.
fn slow_download_under_way(pause: Duration) -> (RunningHub, TestContext, PathBuf, Child) {
    let hub = shared_hub();
    hub.state().inject(Fault::new(FaultKind::Stall { after: 0, pause }, 1000).on("/lfs/"));
    let mut t = context(&hub);
    t.set_env("HF_HUB_DOWNLOAD_CHUNK_SIZE", &CHUNK.to_string()).set_env("HF_HUB_DOWNLOAD_CONNECTIONS", "1");
    let blobs = t.hf_home().join("hub/models--acme--shared/blobs");
    let child = spawn_hf(&t, &["download", "acme/shared", "weights.bin", "-q"]);
    wait_for("a chunk on disk", || {
        !partials(&blobs).is_empty() && hub.requests().iter().any(|r| r.listener == "cdn" && r.status == 206)
    });
    (hub, t, blobs, child)
}

#[test]
fn prune_during_our_download_keeps_its_partial_and_the_download_completes() {
    let (_hub, t, blobs, child) = slow_download_under_way(Duration::from_millis(150));
    let live = partials(&blobs);
    let run = t.hf(&["cache", "prune", "-y"]);
    run.expect_code(0);
    assert!(run.stderr.contains("Kept 1 incomplete download(s) that a running process is writing"), "{}", run.stderr);
    assert_eq!(partials(&blobs), live, "prune kept the partial file being written");
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let path = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert_eq!(std::fs::read(path).unwrap(), expected("weights.bin"));
}

#[test]
fn prune_during_pythons_download_keeps_its_partial_and_the_download_completes() {
    let hub = shared_hub();
    hub.state()
        .inject(Fault::new(FaultKind::Stall { after: 1 << 20, pause: Duration::from_millis(1500) }, 1).on("/lfs/"));
    let t = context(&hub);
    let blobs = t.hf_home().join("hub/models--acme--shared/blobs");
    let large = |dir: &Path| -> Vec<PathBuf> {
        partials(dir).into_iter().filter(|p| p.file_name().unwrap().to_string_lossy().find('.') == Some(64)).collect()
    };
    // The weights' partial file (sha256-named): Python holds the blob lock until it is placed.
    let mut child = spawn_python(&t, hub.url(), "lock");
    wait_for("Python's partial file", || {
        if let Ok(Some(status)) = child.try_wait() {
            let mut err = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
            panic!("Python ended first ({status}): {err}");
        }
        // huggingface_hub writes in 10 MB pieces: the file may still be empty.
        !large(&blobs).is_empty()
    });
    let live = large(&blobs);
    let run = t.hf(&["cache", "prune", "-y"]);
    run.expect_code(0);
    assert_eq!(large(&blobs), live, "prune kept the partial file Python is writing");
    check_child("python", child, &PYTHON_FILES, false);
}

#[test]
fn local_dir_never_writes_under_git_or_its_records_and_says_so() {
    let hub = shared_hub();
    let t = context(&hub);
    let dir = t.root().join("out");
    let run = t.hf(&["download", "acme/shared", "--local-dir", dir.to_str().unwrap()]);
    run.expect_code(0);
    assert!(!dir.join(".git").exists(), "nothing under .git/");
    let record = std::fs::read_to_string(dir.join(".cache/huggingface/download/small.txt.metadata")).unwrap();
    assert!(!record.starts_with("forged"), "the record is ours, not the server's: {record}");
    assert!(
        run.stderr.contains("Skipped `.git/config`: it is under a `.git/` folder"),
        "the skip is reported: {}",
        run.stderr
    );
    assert!(run.stderr.contains("Skipped `.cache/huggingface/download/small.txt.metadata`"), "{}", run.stderr);
    assert_eq!(std::fs::read(dir.join("small.txt")).unwrap(), SMALL.as_bytes());
    assert!(dir.join(".gitattributes").is_file());
    // A single file there is refused outright.
    let one = t.hf(&["download", "acme/shared", ".git/config", "--local-dir", dir.to_str().unwrap()]);
    assert_ne!(one.code, 0);
    assert!(one.stderr.contains("`.git/config` was not written"), "{}", one.stderr);
    assert!(!dir.join(".git").exists());
    // huggingface_hub 2.4 writes it (the difference docs/compatibility.md lists).
    let theirs = t.root().join("theirs");
    t.python(&format!(
        "from huggingface_hub import snapshot_download; snapshot_download('acme/shared', local_dir={:?})",
        theirs.to_str().unwrap()
    ))
    .expect_code(0);
    assert!(theirs.join(".git/config").is_file());
}

#[test]
fn local_dir_rehashes_touched_files_instead_of_fetching_them() {
    let hub = shared_hub();
    let t = context(&hub);
    let dir = t.root().join("out");
    let local = dir.to_str().unwrap();
    let args = ["download", "acme/shared", "small.txt", "weights.bin", "--local-dir", local];
    t.hf(&args).expect_code(0);
    let fetches = || {
        hub.requests()
            .iter()
            .filter(|r| r.method == "GET" && (r.listener == "cdn" || r.path.contains("/resolve/")))
            .count()
    };
    let before = fetches();
    assert!(before >= 2);
    // Touch both files (a later mtime, same bytes): the records are out of date.
    let later = std::time::SystemTime::now() + Duration::from_secs(5);
    for path in ["small.txt", "weights.bin"] {
        std::fs::File::options().write(true).open(dir.join(path)).unwrap().set_modified(later).unwrap();
    }
    let mut dry = args.to_vec();
    dry.extend(["--dry-run", "--format", "json"]);
    let plan: serde_json::Value = serde_json::from_str(&t.hf(&dry).expect_code(0).stdout).unwrap();
    assert!(plan.as_array().unwrap().iter().all(|f| f["will_download"] == false), "{plan}");
    t.hf(&args).expect_code(0);
    assert_eq!(fetches(), before, "touched but unchanged files are re-hashed, not fetched");
    // A changed file is fetched again.
    let changed = std::fs::File::create(dir.join("small.txt")).unwrap();
    std::io::Write::write_all(&mut &changed, b"changed\n").unwrap();
    changed.set_modified(later + Duration::from_secs(5)).unwrap();
    t.hf(&args).expect_code(0);
    assert_eq!(std::fs::read(dir.join("small.txt")).unwrap(), SMALL.as_bytes());
    assert!(fetches() > before);
}

/// huggingface_hub's prune deletes every partial file, ours included: the download then
/// stops with a sentence and places nothing (documented in docs/compatibility.md).
#[test]
fn pythons_prune_during_our_download_stops_it_cleanly() {
    // Python starts slowly on a loaded machine: the download must outlast its prune.
    let (_hub, t, blobs, child) = slow_download_under_way(Duration::from_millis(400));
    t.python_hf(&["cache", "prune", "-y"]).expect_code(0);
    assert_eq!(partials(&blobs), Vec::<PathBuf>::new(), "huggingface_hub deleted the partial file");
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("disappeared before it could be placed"), "{stderr}");
    assert!(stderr.contains("run the download again"), "{stderr}");
    let left: Vec<_> = std::fs::read_dir(&blobs).unwrap().flatten().map(|e| e.file_name()).collect();
    assert_eq!(left, Vec::<std::ffi::OsString>::new(), "nothing was placed");
}
