//! huggingface_hub 2.4's shared blob store: caches built with 2.4's own store functions
//! (`publish_blob_to_shared_store`), then `hf cache ls/rm/prune/verify` of both tools run on
//! copies of one cache: same output, exit code, remaining tree, manifests and bytes freed.
//! Hostile store contents never lead either of our commands outside the cache.

mod common;

use std::path::Path;

use common::{context, copy_cache, tree};
use hfkit_test::{HubFixture, RepoFixture, RunningHub, TestContext, pseudo_random};

/// The fake Xet hash our fixtures and these caches give a content (64 lowercase hex).
const XET_OF: &str = "def xet(data): return hashlib.sha256(b'xet:' + data).hexdigest()\n";

/// `acme/a` (two revisions, the newest sharing its weights with `acme/b`), `acme/b`,
/// `acme/solo` (alone) and `acme/gone` (deleted by hand after publishing).
fn shared_hub() -> RunningHub {
    let a = RepoFixture::model("acme/a")
        .file("config.json", "{}")
        .lfs("w.bin", pseudo_random(13, 2000))
        .commit()
        .tag("v1")
        .lfs("w.bin", pseudo_random(11, 5000))
        .file("README.md", "# a\n");
    HubFixture::new()
        .repo(a)
        .repo(RepoFixture::model("acme/b").file("config.json", "{\"b\": 1}").lfs("w.bin", pseudo_random(11, 5000)))
        .repo(RepoFixture::model("acme/solo").lfs("big.bin", pseudo_random(12, 3000)))
        .repo(RepoFixture::model("acme/gone").lfs("x.bin", pseudo_random(14, 1500)))
        .start()
}

/// Downloads every repo with our `hf`, then moves the LFS blobs into the store with 2.4's
/// function, deletes `acme/gone` by hand (its entry is left unreferenced), adds an entry
/// whose manifest is unreadable, hostile lines to solo's manifest, and detaches `v1`.
fn build_shared_cache(t: &TestContext) {
    for args in [
        &["download", "acme/a"][..],
        &["download", "acme/a", "--revision", "v1"],
        &["download", "acme/b"],
        &["download", "acme/solo"],
        &["download", "acme/gone"],
    ] {
        t.hf(args).expect_code(0);
    }
    t.python(&format!("{XET_OF}{BUILD}")).expect_code(0);
}

/// The Python half of [`build_shared_cache`].
const BUILD: &str = r#"
import hashlib, os, pathlib, shutil
from huggingface_hub.utils._shared_blobs import publish_blob_to_shared_store
cache = pathlib.Path(os.environ['HF_HOME']) / 'hub'
for repo in sorted(cache.glob('models--*')):
    for blob in sorted((repo / 'blobs').iterdir()):
        if len(blob.name) == 64:
            data = blob.read_bytes()
            assert publish_blob_to_shared_store(blob_path=str(blob), xet_hash=xet(data), cache_dir=cache, expected_size=len(data))
shutil.rmtree(cache / 'models--acme--gone')
bad = 'cd' * 32
(cache / 'blobs' / 'cd').mkdir(exist_ok=True)
(cache / 'blobs' / 'cd' / bad).write_bytes(b'x' * 700)
(cache / 'blobs' / 'cd' / (bad + '.refs')).write_bytes(b'\xff\xfe\n')
solo = xet(next((cache / 'models--acme--solo' / 'snapshots').glob('*/big.bin')).read_bytes())
with open(cache / 'blobs' / solo[:2] / (solo + '.refs'), 'a') as f:
    f.write('../../../canary\n/etc/passwd\nmodels--acme--solo/blobs/../../../x\n\nmodels--acme--b/blobs/nope\nmodels--acme--b\n')
shutil.rmtree(cache / '.locks', ignore_errors=True)
os.remove(cache / 'models--acme--a' / 'refs' / 'v1')
"#;

/// Every manifest of the store with its content, sorted.
fn manifests(cache: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = tree(cache)
        .into_iter()
        .filter(|p| p.ends_with(".refs"))
        .map(|p| {
            let content = std::fs::read(cache.join(&p)).unwrap();
            (p, content)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn ls_rm_prune_verify_same_as_python_on_a_shared_store() {
    let hub = shared_hub();
    let t = context(&hub);
    build_shared_cache(&t);
    let cache = t.hf_home().join("hub");
    assert!(cache.join("blobs/.huggingface-shared-blobs").is_file(), "2.4 made a store");
    let v1 = common::commit_of(&hub, "acme/a", "v1");
    let cases: &[&[&str]] = &[
        &["cache", "ls"],
        &["cache", "ls", "--format", "json"],
        &["cache", "ls", "--revisions"],
        &["cache", "ls", "--revisions", "--format", "json"],
        &["cache", "ls", "--filter", "size>4KB"],
        &["cache", "rm", "model/acme/a", "--dry-run"],
        &["cache", "rm", "model/acme/a", "-y"],
        &["cache", "rm", "model/acme/a", "model/acme/b", "-y"],
        &["cache", "rm", "model/acme/b", "model/acme/a", "--dry-run", "--format", "json"],
        &["cache", "rm", "model/acme/solo", "-y"],
        &["cache", "rm", "hf://models/acme/b/w.bin", "-y"],
        &["cache", "rm", &v1, "-y"],
        &["cache", "prune", "--dry-run"],
        &["cache", "prune", "--dry-run", "--format", "json"],
        &["cache", "prune", "-y"],
    ];
    for (n, case) in cases.iter().enumerate() {
        let ours_dir = copy_cache(&t, &format!("ours{n}"));
        let theirs_dir = copy_cache(&t, &format!("theirs{n}"));
        let ours = t.hf(&[case, &["--cache-dir", &ours_dir][..]].concat());
        let theirs = t.python_hf(&[case, &["--cache-dir", &theirs_dir][..]].concat());
        let clean = |s: &str, dir: &str| s.replace(dir, "[CACHE]");
        assert_eq!(clean(&ours.stdout, &ours_dir), clean(&theirs.stdout, &theirs_dir), "stdout of {case:?}");
        assert_eq!(clean(&ours.stderr, &ours_dir), clean(&theirs.stderr, &theirs_dir), "stderr of {case:?}");
        assert_eq!(ours.code, theirs.code, "exit code of {case:?}");
        assert_eq!(tree(Path::new(&ours_dir)), tree(Path::new(&theirs_dir)), "tree after {case:?}");
        assert_eq!(manifests(Path::new(&ours_dir)), manifests(Path::new(&theirs_dir)), "manifests after {case:?}");
        // The numbers both agree on, spelled out: a's own blobs are 2 + 4 + 2000 bytes, the
        // shared weights 5000 (freed only with both repos), b's config 8, solo 3000, the
        // unreferenced entry of gone 1500 and the entry with an unreadable manifest 700.
        let expected = match n {
            0 => "Found 3 repo(s) for a total of 4 revision(s) and 12.2K on disk.",
            6 => "freed 2.0K",
            7 => "freed 7.0K",
            14 => "Deleted 1 unreferenced revision(s) and 1 unreferenced shared blob(s); freed 3.5K.",
            _ => "",
        };
        assert!(ours.stdout.contains(expected), "{case:?}: {}", ours.stdout);
    }
    for args in [&["cache", "verify", "acme/a"][..], &["cache", "verify", "acme/b", "--format", "json"]] {
        let ours = t.hf(args);
        let theirs = t.python_hf(args);
        assert_eq!((ours.stdout.as_str(), ours.code), (theirs.stdout.as_str(), theirs.code), "{args:?}");
        ours.expect_code(0);
    }
}

/// Every file below `dir` with its content, sorted.
fn contents(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = tree(dir)
        .into_iter()
        .filter(|p| !p.ends_with('/') && !p.contains(" -> "))
        .map(|p| {
            let bytes = std::fs::read(dir.join(&p)).unwrap();
            (p, bytes)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn hostile_store_contents_never_lead_outside_the_cache() {
    let hub = shared_hub();
    let t = context(&hub);
    build_shared_cache(&t);
    let cache = t.hf_home().join("hub");
    let outside = t.root().join("outside");
    // A prefix folder that is a symlink out of the cache, holding an "entry" whose manifest
    // names nothing (2.4 would list it as unreferenced and delete it).
    let prefix = (0..=255u8).map(|b| format!("{b:02x}")).find(|p| !cache.join("blobs").join(p).exists()).unwrap();
    let fake = prefix.repeat(32);
    std::fs::create_dir_all(outside.join("store")).unwrap();
    std::fs::write(outside.join("store").join(&fake), "canary entry").unwrap();
    std::fs::write(outside.join("store").join(format!("{fake}.refs")), "").unwrap();
    std::os::unix::fs::symlink(outside.join("store"), cache.join("blobs").join(&prefix)).unwrap();
    // A repo blob linking through that prefix, and one linking straight out of the cache.
    let solo_blobs = cache.join("models--acme--solo/blobs");
    std::os::unix::fs::symlink(format!("../../blobs/{prefix}/{fake}"), solo_blobs.join("via-prefix")).unwrap();
    std::fs::write(outside.join("canary"), "canary").unwrap();
    std::os::unix::fs::symlink(outside.join("canary"), solo_blobs.join("out")).unwrap();
    let solo_snapshot = std::fs::read_dir(cache.join("models--acme--solo/snapshots")).unwrap().next().unwrap().unwrap();
    std::os::unix::fs::symlink("../../blobs/via-prefix", solo_snapshot.path().join("via-prefix.bin")).unwrap();
    std::os::unix::fs::symlink("../../blobs/out", solo_snapshot.path().join("out.bin")).unwrap();
    // The lock and the manifest of b's weights are symlinks out of the cache; its manifest
    // also names paths that climb out.
    let b_blob = std::fs::read_dir(cache.join("models--acme--b/blobs"))
        .unwrap()
        .flatten()
        .find(|e| e.file_name().len() == 64)
        .unwrap()
        .path();
    let link = std::fs::read_link(&b_blob).unwrap();
    let hash = link.file_name().unwrap().to_string_lossy().into_owned();
    let entry_dir = cache.join("blobs").join(&hash[..2]);
    let entry = entry_dir.join(&hash);
    std::fs::write(outside.join("lock"), "lock").unwrap();
    std::fs::remove_file(entry_dir.join(format!("{hash}.lock"))).unwrap();
    std::os::unix::fs::symlink(outside.join("lock"), entry_dir.join(format!("{hash}.lock"))).unwrap();
    let manifest = entry_dir.join(format!("{hash}.refs"));
    let mut lines = std::fs::read_to_string(&manifest).unwrap();
    lines.push_str("../outside/canary\nmodels--acme--b/blobs/../../../outside/canary\n/etc/passwd\n");
    std::fs::write(outside.join("refs"), lines).unwrap();
    std::fs::remove_file(&manifest).unwrap();
    std::os::unix::fs::symlink(outside.join("refs"), &manifest).unwrap();
    let before = contents(&outside);

    for args in [
        &["cache", "ls", "--revisions"][..],
        &["cache", "prune", "-y"],
        &["cache", "rm", "model/acme/solo", "-y"],
        &["cache", "rm", "model/acme/a", "model/acme/b", "-y"],
        &["cache", "prune", "-y"],
    ] {
        let run = t.hf(args);
        assert_eq!(run.code, 0, "{args:?}: {}", run.all_output());
        assert_eq!(contents(&outside), before, "nothing outside the cache changed after {args:?}");
    }
    assert!(entry.exists(), "an entry whose lock or manifest is a planted symlink is kept, not deleted");
    assert!(cache.join("blobs").join(&prefix).is_symlink(), "the symlinked prefix folder is left alone");
    assert!(!cache.join("models--acme--b").exists());
    // solo's snapshot reaches outside through the symlinked prefix folder: the scan leaves the
    // repo out as inconsistent (and says so), so no command deletes through it.
    assert!(cache.join("models--acme--solo").exists());
    let warned = t.hf(&["cache", "ls", "--show-warnings"]);
    assert!(warned.stderr.contains("points outside the cache"), "{}", warned.stderr);
}

/// Requests for file content (not metadata) among `requests`.
fn content_gets(requests: &[hfkit_server::RecordedRequest]) -> Vec<String> {
    requests
        .iter()
        .filter(|r| r.method == "GET" && (r.path.contains("/lfs/") || r.path.contains("/resolve/")))
        .map(|r| format!("{} {}", r.listener, r.path))
        .collect()
}

#[test]
fn downloads_link_from_the_store_when_the_hub_names_a_usable_entry() {
    let weights = pseudo_random(21, 4000);
    let mut fixture = HubFixture::new();
    for id in ["acme/y", "acme/x", "acme/z", "acme/off", "acme/noxet", "acme/short"] {
        fixture = fixture.repo(RepoFixture::model(id).file("config.json", "{}").xet("w.bin", weights.clone()));
    }
    let hub = fixture.start();
    let t = context(&hub);
    let cache = t.hf_home().join("hub");
    // 2.4 publishes y's weights into the store.
    t.hf(&["download", "acme/y", "w.bin"]).expect_code(0);
    t.python(&format!(
        "import hashlib, os, pathlib\n{XET_OF}from huggingface_hub.utils._shared_blobs import publish_blob_to_shared_store\n\
         cache = pathlib.Path(os.environ['HF_HOME']) / 'hub'\n\
         blob = next(p for p in (cache / 'models--acme--y' / 'blobs').iterdir())\n\
         data = blob.read_bytes()\n\
         assert publish_blob_to_shared_store(blob_path=str(blob), xet_hash=xet(data), cache_dir=cache, expected_size=len(data))\n"
    ))
    .expect_code(0);
    let y_blob = std::fs::read_dir(cache.join("models--acme--y/blobs")).unwrap().next().unwrap().unwrap().path();
    let link = std::fs::read_link(&y_blob).expect("2.4 made y's blob a link into the store");
    let etag = y_blob.file_name().unwrap().to_string_lossy().into_owned();
    let hash = link.file_name().unwrap().to_string_lossy().into_owned();
    let entry = cache.join("blobs").join(&hash[..2]).join(&hash);

    // One file (the HEAD names the hash) and a snapshot (the listing names it): no GET of the
    // bytes, the repo blob is a link into the store, and the manifest names it.
    for args in [&["download", "acme/x", "w.bin"][..], &["download", "acme/z"]] {
        let before = hub.requests().len();
        t.hf(args).expect_code(0);
        let gets = content_gets(&hub.requests()[before..]);
        assert!(gets.iter().all(|g| !g.contains("w.bin") && !g.contains("/lfs/")), "{args:?} fetched bytes: {gets:?}");
    }
    for repo in ["x", "z"] {
        let blob = cache.join(format!("models--acme--{repo}/blobs/{etag}"));
        assert_eq!(std::fs::read_link(&blob).unwrap(), link, "{repo}'s blob links where 2.4's does");
        let snapshot = std::fs::read_dir(cache.join(format!("models--acme--{repo}/snapshots"))).unwrap();
        let file = snapshot.flatten().next().unwrap().path().join("w.bin");
        assert_eq!(std::fs::read(file).unwrap(), weights);
    }
    let manifest = std::fs::read_to_string(entry.with_file_name(format!("{hash}.refs"))).unwrap();
    assert_eq!(
        manifest,
        format!("models--acme--y/blobs/{etag}\nmodels--acme--x/blobs/{etag}\nmodels--acme--z/blobs/{etag}\n")
    );

    // HF_HUB_DISABLE_SHARED_BLOBS and HF_HUB_DISABLE_XET turn the store off, as in 2.4.
    for (repo, var) in [("acme/off", "HF_HUB_DISABLE_SHARED_BLOBS"), ("acme/noxet", "HF_HUB_DISABLE_XET")] {
        let before = hub.requests().len();
        let mut cmd = t.command(t.hf_bin());
        cmd.args(["download", repo, "w.bin"]).env(var, "1");
        t.run(&mut cmd, None).expect_code(0);
        assert!(!content_gets(&hub.requests()[before..]).is_empty(), "{var} fetches the bytes");
        let blob = cache.join(format!("models--{}/blobs/{etag}", repo.replace('/', "--")));
        assert!(blob.is_file() && !blob.is_symlink(), "{var}: a plain blob");
    }

    // An entry of the wrong size is not used: the bytes are fetched and verified.
    std::fs::set_permissions(&entry, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    std::fs::write(&entry, &weights[..100]).unwrap();
    let before = hub.requests().len();
    t.hf(&["download", "acme/short", "w.bin"]).expect_code(0);
    assert!(!content_gets(&hub.requests()[before..]).is_empty(), "a short entry is not used");
    let blob = cache.join(format!("models--acme--short/blobs/{etag}"));
    assert!(!blob.is_symlink());
    assert_eq!(std::fs::read(&blob).unwrap(), weights);
    let manifest_after = std::fs::read_to_string(entry.with_file_name(format!("{hash}.refs"))).unwrap();
    assert_eq!(manifest_after, manifest, "no reference added for an unused entry");
}

#[test]
fn partial_files_count_the_bytes_they_hold() {
    let hub = shared_hub();
    let t = context(&hub);
    t.hf(&["download", "acme/solo"]).expect_code(0);
    // A preallocated partial file, as ours are: 10 MB long, 4096 bytes written.
    let partial = t.hf_home().join("hub/models--acme--solo/blobs/abc.hfkit.incomplete");
    let file = std::fs::File::create(&partial).unwrap();
    std::io::Write::write_all(&mut &file, &[7u8; 4096]).unwrap();
    file.set_len(10_000_000).unwrap();
    drop(file);
    let held = std::os::unix::fs::MetadataExt::blocks(&std::fs::metadata(&partial).unwrap()) * 512;
    if held >= 10_000_000 {
        return; // a file system without sparse files: the length is what it holds
    }
    let expected = if held == 4096 { "4.1K" } else { "" };
    let ls = t.hf(&["cache", "ls"]);
    assert!(ls.stderr.contains(&format!("Found 1 incomplete download(s) totalling {expected}")), "{}", ls.stderr);
    assert!(!ls.stderr.contains("10.0M"), "{}", ls.stderr);
    let prune = t.hf(&["cache", "prune", "--dry-run"]);
    assert!(prune.stdout.contains("About to delete 1 incomplete download(s) ("), "{}", prune.stdout);
    assert!(!prune.stdout.contains("10.0M"), "{}", prune.stdout);
}

/// Links neither tool writes, which the scan must key by their first hop as 2.4 does even
/// though it matches honest links by identity: a second name of a blob (a hard link), a
/// snapshot file linking straight to a store entry, an absolute link and one spelled with
/// `./`. Both tools list the cache the same way.
#[test]
fn unusual_links_are_keyed_by_their_first_hop_as_python_does() {
    let hub = shared_hub();
    let t = context(&hub);
    build_shared_cache(&t);
    let main = common::commit_of(&hub, "acme/a", "main");
    let dirs = [copy_cache(&t, "ours"), copy_cache(&t, "theirs")];
    for dir in &dirs {
        let repo = Path::new(dir).join("models--acme--a");
        let snapshot = repo.join("snapshots").join(&main);
        let config = std::fs::read_link(snapshot.join("config.json")).unwrap();
        let config_blob = repo.join("blobs").join(config.file_name().unwrap());
        let weights = std::fs::read_link(snapshot.join("w.bin")).unwrap();
        let entry = std::fs::read_link(repo.join("blobs").join(weights.file_name().unwrap())).unwrap();
        assert!(entry.starts_with("../../blobs"), "w.bin's blob links into the store: {entry:?}");
        std::fs::hard_link(&config_blob, repo.join("blobs/second-name")).unwrap();
        let link = |target: &Path, name: &str| std::os::unix::fs::symlink(target, snapshot.join(name)).unwrap();
        link(Path::new("../../blobs/second-name"), "hard.json");
        link(&Path::new("..").join(&entry), "straight.bin");
        link(&config_blob, "absolute.json");
        link(&Path::new("../../blobs/.").join(config.file_name().unwrap()), "dotted.json");
    }
    for case in [
        &["cache", "ls"][..],
        &["cache", "ls", "--revisions", "--format", "json"],
        &["cache", "ls", "--format", "json"],
    ] {
        let ours = t.hf(&[case, &["--cache-dir", &dirs[0]][..]].concat());
        let theirs = t.python_hf(&[case, &["--cache-dir", &dirs[1]][..]].concat());
        let clean = |s: &str, dir: &str| s.replace(dir, "[CACHE]");
        assert_eq!(clean(&ours.stdout, &dirs[0]), clean(&theirs.stdout, &dirs[1]), "stdout of {case:?}");
        assert_eq!(clean(&ours.stderr, &dirs[0]), clean(&theirs.stderr, &dirs[1]), "stderr of {case:?}");
        ours.expect_code(0);
    }
    // The hard link and the entry reached straight count as blobs of their own.
    let info = hfkit::cache::scan(Path::new(&dirs[0])).unwrap();
    let a = info.repos.iter().find(|r| r.id == "acme/a").unwrap();
    let files = &a.revisions.iter().find(|r| r.commit == main).unwrap().files;
    let blob_of = |name: &str| files.iter().find(|f| f.name == name).unwrap().blob_path.clone();
    assert!(blob_of("hard.json").ends_with("blobs/second-name"));
    assert!(blob_of("straight.bin").parent().unwrap().parent().unwrap().ends_with("blobs"));
    assert_eq!(blob_of("absolute.json"), blob_of("config.json"));
    assert_eq!(blob_of("dotted.json"), blob_of("config.json"));
}
