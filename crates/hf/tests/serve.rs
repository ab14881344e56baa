//! `hf serve`: the real binary serving an accounts file, used by our client and Python's.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use common::{context, hub};

struct Served(std::process::Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn serve_answers_our_client_and_python() {
    let fixture_hub = hub(); // only for the scrubbed context; the server under test is `hf serve`
    let mut t = context(&fixture_hub);
    let accounts = t.root().join("accounts.json");
    let json = serde_json::json!({
        "users": [{"name": "carol", "orgs": ["lab"]}],
        "orgs": [{"name": "lab"}],
        "tokens": [{"token": "hf_carolToken0000000000000000000000001", "user": "carol", "name": "desk", "role": "write"}]
    });
    std::fs::write(&accounts, json.to_string()).unwrap();
    let mut child = t
        .command(t.hf_bin())
        .args(["serve", "--accounts", accounts.to_str().unwrap(), "--port", "0", "--format", "agent"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let _served = Served(child);
    let url = line.trim().strip_prefix("url=").unwrap_or_else(|| panic!("{line:?}")).to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    t.set_env("HF_ENDPOINT", &url);
    t.hf(&["auth", "login", "--token", "hf_carolToken0000000000000000000000001"]).expect_code(0);
    assert_eq!(t.hf(&["auth", "whoami", "-q"]).stdout, "carol\n");
    let run = t.python("from huggingface_hub import whoami; print(whoami()['name'])");
    assert_eq!(run.expect_code(0).stdout, "carol\n");
}

#[test]
fn serve_refuses_a_bad_accounts_file() {
    let hub = hub();
    let t = context(&hub);
    let accounts = t.root().join("accounts.json");
    std::fs::write(&accounts, r#"{"tokens": [{"token": "x", "user": "ghost"}]}"#).unwrap();
    let run = t.hf(&["serve", "--accounts", accounts.to_str().unwrap(), "--port", "0"]);
    run.expect_code(1);
    assert!(run.stderr.contains("`ghost`, who is not in `users`"), "{}", run.stderr);
}

/// `hf serve args…` started in `t`'s environment, its standard error in `serve.log`.
fn start_serve(t: &hfkit_test::TestContext, args: &[&str]) -> (Served, String, std::path::PathBuf) {
    let mut command = t.command(t.hf_bin());
    command.args(["serve", "--port", "0", "--format", "agent"]).args(args);
    spawn_serve(t, command)
}

/// Starts a prepared `hf serve` command and reads the URL it prints.
fn spawn_serve(
    t: &hfkit_test::TestContext,
    mut command: std::process::Command,
) -> (Served, String, std::path::PathBuf) {
    let log = t.root().join("serve.log");
    let mut child = command.stdout(Stdio::piped()).stderr(std::fs::File::create(&log).unwrap()).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.trim().strip_prefix("url=").unwrap_or_else(|| panic!("{line:?}")).to_owned();
    (Served(child), url, log)
}

/// A context whose `HF_ENDPOINT` is a served cache, with its own empty cache.
fn client_of(url: &str) -> hfkit_test::TestContext {
    hfkit_test::TestContext::with_endpoint(env!("CARGO_MANIFEST_DIR"), url)
}

const PYTHON_CALLS: &str = r#"
import hashlib, json, os
from huggingface_hub import (HfApi, HfFileSystem, get_hf_file_metadata, hf_hub_download, hf_hub_url,
                             snapshot_download)
from huggingface_hub.errors import EntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError
api = HfApi()
out = {}
info = api.model_info("acme/tiny", files_metadata=True)
out["sha"] = info.sha
out["siblings"] = sorted([s.rfilename, s.size, s.blob_id, s.lfs.sha256 if s.lfs else None] for s in info.siblings)
out["v1_files"] = sorted(s.rfilename for s in api.model_info("acme/tiny", revision="v1").siblings)
out["dataset"] = [api.dataset_info("acme/ds").id, api.list_repo_files("acme/ds", repo_type="dataset")]
out["files"] = api.list_repo_files("acme/tiny")
out["tree"] = sorted([e.path, type(e).__name__] for e in api.list_repo_tree("acme/tiny", recursive=True))
out["tree_sub"] = sorted(e.path for e in api.list_repo_tree("acme/tiny", path_in_repo="sub"))
out["tree_expand"] = sorted([e.path, e.last_commit.oid] for e in api.list_repo_tree("acme/tiny", expand=True))
out["paths_info"] = sorted([e.path, type(e).__name__] for e in api.get_paths_info("acme/tiny", ["config.json", "sub", "missing"]))
out["file_exists"] = [api.file_exists("acme/tiny", "config.json"), api.file_exists("acme/tiny", "missing")]
out["repo_exists"] = [api.repo_exists("acme/tiny"), api.repo_exists("acme/none"), api.repo_exists("acme/ds", repo_type="dataset")]
out["revision_exists"] = [api.revision_exists("acme/tiny", "v1"), api.revision_exists("acme/tiny", "nope")]
refs = api.list_repo_refs("acme/tiny")
out["refs"] = sorted([b.name, b.ref, b.target_commit] for b in refs.branches)
out["commits"] = [c.commit_id for c in api.list_repo_commits("acme/tiny")]
out["models"] = [m.id for m in api.list_models(search="TIN")]
out["models_author"] = [m.id for m in api.list_models(author="acme", limit=5)]
out["models_none"] = [m.id for m in api.list_models(author="nobody")]
out["datasets"] = [d.id for d in api.list_datasets(search="ds")]
out["whoami"] = api.whoami(token=os.environ["TOKEN"])["name"]
def sha(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()
out["lfs"] = sha(hf_hub_download("acme/tiny", "model.safetensors"))
out["by_short"] = open(hf_hub_download("acme/tiny", "config.json", revision=info.sha[:7])).read()
out["by_full"] = open(hf_hub_download("acme/tiny", "config.json", revision=info.sha)).read()
out["by_tag"] = open(hf_hub_download("acme/tiny", "config.json", revision="v1")).read()
out["by_branch"] = open(hf_hub_download("acme/tiny", "sub/dir/data.txt", revision="main")).read()
meta = get_hf_file_metadata(hf_hub_url("acme/tiny", "model.safetensors"))
out["meta"] = [meta.commit_hash, meta.etag, meta.size]
snap = snapshot_download("acme/tiny")
out["snapshot"] = sorted(os.path.relpath(os.path.join(d, f), snap) for d, _, fs in os.walk(snap) for f in fs)
fs = HfFileSystem()
out["fs_ls"] = sorted(fs.ls("acme/tiny", detail=False))
out["fs_read"] = fs.read_text("acme/tiny/config.json")
with fs.open("acme/tiny/model.safetensors", "rb") as f:
    f.seek(10)
    out["fs_range"] = f.read(5).hex()
out["fs_info"] = fs.info("acme/tiny/sub")["type"]
errors = []
for call in [lambda: api.model_info("acme/none"), lambda: hf_hub_download("acme/tiny", "missing.bin"),
             lambda: api.model_info("acme/tiny", revision="nope")]:
    try:
        call()
        errors.append(None)
    except (RepositoryNotFoundError, RevisionNotFoundError, EntryNotFoundError) as e:
        errors.append(type(e).__name__)
out["errors"] = errors
print(json.dumps(out))
"#;

#[test]
fn a_cache_python_wrote_without_symlinks_is_served_and_a_changed_file_is_not() {
    let fixture = common::repo_hub();
    let t = context(&fixture);
    // Python's snapshot_download with symlinks off: the snapshot holds the files themselves,
    // and only the commit's cached listing (`trees/<commit>.json`) names their etags.
    let served_cache = t.root().join("served");
    let mut writer = client_of(fixture.url());
    writer.set_env("HF_HUB_DISABLE_SYMLINKS", "1");
    writer
        .python(&format!(
            "from huggingface_hub import snapshot_download; snapshot_download('acme/tiny', cache_dir='{}')",
            served_cache.display()
        ))
        .expect_code(0);
    let main = common::commit_of(&fixture, "acme/tiny", "main");
    let snapshot = served_cache.join("models--acme--tiny/snapshots").join(&main);
    assert!(std::fs::symlink_metadata(snapshot.join("model.safetensors")).unwrap().file_type().is_file());
    let (_served, url, log) = start_serve(&t, &["--cache", served_cache.to_str().unwrap()]);
    let client = client_of(&url);
    let got = client.hf(&["download", "acme/tiny", "--format", "quiet"]);
    let dir = std::path::PathBuf::from(got.expect_code(0).stdout.trim());
    assert_eq!(
        std::fs::read(dir.join("model.safetensors")).unwrap(),
        hfkit_test::pseudo_random(7, common::WEIGHTS_LEN)
    );
    assert_eq!(std::fs::read_to_string(dir.join("sub/dir/data.txt")).unwrap(), "nested\n");
    let run = client.python(
        "from huggingface_hub import hf_hub_download, HfApi\n\
         print(open(hf_hub_download('acme/tiny', 'config.json')).read())\n\
         print(sorted((s.rfilename, s.size) for s in HfApi().model_info('acme/tiny', files_metadata=True).siblings))",
    );
    assert_eq!(
        run.expect_code(0).stdout,
        format!(
            "{{\"hidden_size\": 16}}\n[('README.md', 7), ('config.json', 19), ('model.safetensors', {}), ('sub/dir/data.txt', 7)]\n",
            common::WEIGHTS_LEN
        )
    );
    // The repo's page shows its README, read from the snapshot.
    let page = get(&url, "/acme/tiny", "");
    assert!(String::from_utf8_lossy(&page.2).contains("<h1>tiny</h1>"), "{}", String::from_utf8_lossy(&page.2));
    // A file changed in place (same size) is no longer its etag's: refused, and named.
    std::fs::write(snapshot.join("README.md"), "# TINY\n").unwrap();
    let changed = get(&url, "/acme/tiny/resolve/main/README.md", "");
    assert_eq!(changed.0, 404, "{}", changed.1);
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains("README.md is not what the commit's listing says"), "{logged}");
    let (status, _, body) = get(&url, "/acme/tiny/resolve/main/config.json", "");
    assert_eq!((status, body.as_slice()), (200, &b"{\"hidden_size\": 16}"[..]), "the rest is served");
}

#[test]
fn python_reads_a_live_cache_through_hf_serve() {
    let fixture = common::repo_hub();
    let t = context(&fixture);
    common::download_sample(&t);
    let served_cache = t.hf_home().join("hub");
    let accounts = t.root().join("accounts.json");
    let json = serde_json::json!({
        "users": [{"name": "alice"}],
        "tokens": [{"token": common::READ, "user": "alice", "name": "desk", "role": "read"}]
    });
    std::fs::write(&accounts, json.to_string()).unwrap();
    let (_served, url, log) =
        start_serve(&t, &["--cache", served_cache.to_str().unwrap(), "--accounts", accounts.to_str().unwrap()]);
    let mut client = client_of(&url);
    client.set_env("TOKEN", common::READ);
    let run = client.python(PYTHON_CALLS);
    run.expect_code(0);
    let out: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
    let main = common::commit_of(&fixture, "acme/tiny", "main");
    let v1 = common::commit_of(&fixture, "acme/tiny", "v1");
    let weights = hfkit_test::pseudo_random(7, common::WEIGHTS_LEN);
    let fixture_files = fixture.state().repos()[&("model".to_owned(), "acme/tiny".to_owned())].head_files();
    let weights_sha = fixture_files["model.safetensors"].lfs_sha256.clone().unwrap();
    assert_eq!(out["sha"], main.as_str());
    let expected: Vec<serde_json::Value> =
        fixture_files.iter().map(|(path, f)| serde_json::json!([path, f.size, f.oid, f.lfs_sha256])).collect();
    assert_eq!(out["siblings"], serde_json::Value::Array(expected), "sizes, blob ids and LFS hashes as the Hub's");
    assert_eq!(out["v1_files"], serde_json::json!(["config.json"]), "only what the cache holds at v1");
    assert_eq!(out["dataset"], serde_json::json!(["acme/ds", ["data/train.csv"]]));
    assert_eq!(out["files"], serde_json::json!(["README.md", "config.json", "model.safetensors", "sub/dir/data.txt"]));
    assert_eq!(
        out["tree"],
        serde_json::json!([
            ["README.md", "RepoFile"],
            ["config.json", "RepoFile"],
            ["model.safetensors", "RepoFile"],
            ["sub", "RepoFolder"],
            ["sub/dir", "RepoFolder"],
            ["sub/dir/data.txt", "RepoFile"]
        ])
    );
    assert_eq!(out["tree_sub"], serde_json::json!(["sub/dir"]));
    assert_eq!(out["tree_expand"][0], serde_json::json!(["README.md", main]));
    assert_eq!(out["paths_info"], serde_json::json!([["config.json", "RepoFile"], ["sub", "RepoFolder"]]));
    assert_eq!(out["file_exists"], serde_json::json!([true, false]));
    assert_eq!(out["repo_exists"], serde_json::json!([true, false, true]));
    assert_eq!(out["revision_exists"], serde_json::json!([true, false]));
    assert_eq!(
        out["refs"],
        serde_json::json!([["main", "refs/heads/main", main], ["v1", "refs/heads/v1", v1]]),
        "a cache cannot tell a tag from a branch"
    );
    assert_eq!(out["commits"], serde_json::json!([main]));
    assert_eq!(out["models"], serde_json::json!(["acme/tiny"]));
    assert_eq!(out["models_author"], serde_json::json!(["acme/tiny"]));
    assert_eq!(out["models_none"], serde_json::json!([]));
    assert_eq!(out["datasets"], serde_json::json!(["acme/ds"]));
    assert_eq!(out["whoami"], "alice");
    assert_eq!(out["lfs"], weights_sha.as_str());
    assert_eq!(out["by_short"], r#"{"hidden_size": 16}"#);
    assert_eq!(out["by_full"], r#"{"hidden_size": 16}"#);
    assert_eq!(out["by_tag"], r#"{"hidden_size": 8}"#);
    assert_eq!(out["by_branch"], "nested\n");
    assert_eq!(out["meta"], serde_json::json!([main, weights_sha, common::WEIGHTS_LEN]));
    assert_eq!(
        out["snapshot"],
        serde_json::json!(["README.md", "config.json", "model.safetensors", "sub/dir/data.txt"])
    );
    assert_eq!(
        out["fs_ls"],
        serde_json::json!([
            "acme/tiny/README.md",
            "acme/tiny/config.json",
            "acme/tiny/model.safetensors",
            "acme/tiny/sub"
        ])
    );
    assert_eq!(out["fs_read"], r#"{"hidden_size": 16}"#);
    let hex: String = weights[10..15].iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(out["fs_range"], hex.as_str());
    assert_eq!(out["fs_info"], "directory");
    assert_eq!(
        out["errors"],
        serde_json::json!(["RepositoryNotFoundError", "RemoteEntryNotFoundError", "RevisionNotFoundError"])
    );
    let log = std::fs::read_to_string(log).unwrap();
    assert!(log.contains("access hub user=alice GET /api/whoami-v2 200"), "{log}");
    assert!(log.contains("user=- HEAD /acme/tiny/resolve/main/model.safetensors 200 bytes=0 "), "{log}");
    let transfer = format!("user=- GET /acme/tiny/resolve/main/model.safetensors 200 bytes={} ", common::WEIGHTS_LEN);
    assert!(log.contains(&transfer), "bytes sent are counted: {log}");
    assert!(!log.contains("incomplete"), "{log}");
    assert!(!log.contains(common::READ), "no token in the log");
}

/// One raw HTTP/1.1 exchange on a new connection: `(status, head, body)`; status 0 when the
/// server closed the connection without an answer.
fn raw(url: &str, request: &[u8]) -> (u16, String, Vec<u8>) {
    use std::io::{Read, Write};
    let addr = url.strip_prefix("http://").unwrap();
    let mut tcp = std::net::TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(std::time::Duration::from_secs(20))).unwrap();
    let _ = tcp.write_all(request);
    let mut answer = Vec::new();
    let _ = tcp.read_to_end(&mut answer);
    let split = answer.windows(4).position(|w| w == b"\r\n\r\n").map_or(answer.len(), |i| i + 4);
    let head = String::from_utf8_lossy(&answer[..split]).into_owned();
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, head, answer[split..].to_vec())
}

/// `GET path` (with extra header lines), on a connection closed after the answer.
fn get(url: &str, path: &str, extra: &str) -> (u16, String, Vec<u8>) {
    raw(url, format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{extra}\r\n").as_bytes())
}

/// The server still answers a normal request (retried for a few seconds while slots free up).
#[track_caller]
fn still_serves(url: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (status, _, body) = get(url, "/acme/tiny/resolve/main/README.md", "");
        if status == 200 {
            assert_eq!(body, b"# tiny\n");
            return;
        }
        assert!(std::time::Instant::now() < deadline, "the server stopped answering (last status {status})");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn a_download_into_the_served_cache_is_served_without_a_restart() {
    let fixture = common::repo_hub();
    let t = context(&fixture);
    t.hf(&["download", "acme/tiny", "config.json", "--revision", "v1"]).expect_code(0);
    let cache = t.hf_home().join("hub");
    let (_served, url, _log) = start_serve(&t, &["--cache", cache.to_str().unwrap()]);
    let client = client_of(&url);
    client.hf(&["download", "acme/tiny", "README.md"]).expect_code(1);
    t.hf(&["download", "acme/tiny"]).expect_code(0); // into the served cache, while it is served
    let got = client.hf(&["download", "acme/tiny", "README.md", "--format", "quiet"]);
    got.expect_code(0);
    assert_eq!(std::fs::read_to_string(got.stdout.trim()).unwrap_or_else(|e| panic!("{got:?}: {e}")), "# tiny\n");
    // A ref that moves is followed at once.
    let v1 = common::commit_of(&fixture, "acme/tiny", "v1");
    std::fs::write(cache.join("models--acme--tiny/refs/main"), &v1).unwrap();
    let (status, head, _) = get(&url, "/acme/tiny/resolve/main/config.json", "");
    assert_eq!(status, 200, "{head}");
    assert!(head.to_lowercase().contains(&format!("x-repo-commit: {v1}")), "{head}");
}

#[test]
fn a_cache_with_broken_and_hostile_entries_serves_the_rest_and_names_them() {
    let fixture = common::repo_hub();
    let t = context(&fixture);
    common::download_sample(&t);
    let cache = t.hf_home().join("hub");
    let repo = cache.join("models--acme--tiny");
    let main = common::commit_of(&fixture, "acme/tiny", "main");
    let snapshot = repo.join("snapshots").join(&main);
    let link = |name: &str, target: &str| std::os::unix::fs::symlink(target, snapshot.join(name)).unwrap();
    link("passwd", "/etc/passwd");
    link("escape", "../../../../../../../../etc/passwd");
    link("dangling.bin", &format!("../../blobs/{}", "f".repeat(64)));
    link("loop", "loop");
    std::os::unix::fs::symlink("/dev/zero", repo.join("blobs").join("d".repeat(40))).unwrap();
    link("zero", &format!("../../blobs/{}", "d".repeat(40)));
    let fifo = repo.join("blobs").join("c".repeat(40));
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    link("fifo", &format!("../../blobs/{}", "c".repeat(40)));
    std::fs::write(repo.join("refs/gone"), "b".repeat(40)).unwrap();
    std::fs::create_dir_all(repo.join("snapshots/abc1234")).unwrap();
    std::fs::create_dir_all(cache.join("models--acme--empty/snapshots")).unwrap();
    let (_served, url, log) = start_serve(&t, &["--cache", cache.to_str().unwrap()]);
    for name in ["passwd", "escape", "dangling.bin", "loop", "zero", "fifo"] {
        let (status, head, body) = get(&url, &format!("/acme/tiny/resolve/main/{name}"), "");
        assert_eq!(status, 404, "{name}: {head}");
        assert!(head.to_lowercase().contains("x-error-code: entrynotfound"), "{name}: {head}");
        assert!(body.len() < 100, "{name}: nothing from outside the cache");
        still_serves(&url);
    }
    for path in ["/acme/tiny/resolve/main/..%2F..%2F..%2F..%2Fetc%2Fpasswd", "/acme/tiny/resolve/main/../../x"] {
        assert_eq!(get(&url, path, "").0, 404, "{path}");
    }
    let (status, _, body) = get(&url, "/api/models/acme/tiny/tree/main", "");
    assert_eq!(status, 200);
    let names: Vec<String> = serde_json::from_slice::<Vec<serde_json::Value>>(&body)
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["README.md", "config.json", "model.safetensors", "sub"], "the broken entries are left out");
    assert_eq!(get(&url, "/acme/tiny/resolve/gone/config.json", "").0, 404, "a ref to a missing commit");
    assert_eq!(get(&url, "/api/models/acme/empty", "").0, 401, "a repo without snapshots is not served");
    assert_eq!(get(&url, "/api/models/acme/tiny", "").0, 200);
    let log = std::fs::read_to_string(log).unwrap();
    for entry in ["passwd", "escape", "dangling.bin", "/loop", "/zero", "/fifo", "`gone`", "abc1234"] {
        assert!(log.contains(entry), "the log names {entry}: {log}");
    }
    assert!(!log.contains("panicked"), "{log}");
}

#[test]
fn hostile_clients_are_refused_and_the_server_keeps_answering() {
    let fixture = common::repo_hub();
    let t = context(&fixture);
    common::download_sample(&t);
    let cache = t.hf_home().join("hub");
    let args = ["--cache", cache.to_str().unwrap(), "--max-connections", "4", "--header-timeout", "1"];
    let (served, url, _log) = start_serve(&t, &args);
    still_serves(&url);

    // Ranges as the Hub answers them; HEAD carries the real length.
    let (status, head, body) = get(&url, "/acme/tiny/resolve/main/README.md", "Range: bytes=2-4\r\n");
    assert_eq!((status, body.as_slice()), (206, &b"tin"[..]), "{head}");
    assert!(head.to_lowercase().contains("content-range: bytes 2-4/7"), "{head}");
    let (status, head, _) = get(&url, "/acme/tiny/resolve/main/README.md", "Range: bytes=7-\r\n");
    assert_eq!(status, 416, "{head}");
    assert!(head.to_lowercase().contains("content-range: bytes */7"), "{head}");
    let (status, _, body) = get(&url, "/acme/tiny/resolve/main/README.md", "Range: bytes=0-1,3-4\r\n");
    assert_eq!((status, body.as_slice()), (200, &b"# tiny\n"[..]), "several ranges: the whole file");
    let (status, head, _) =
        raw(&url, b"HEAD /acme/tiny/resolve/main/README.md HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_eq!(status, 200);
    assert!(head.to_lowercase().contains("content-length: 7"), "{head}");
    still_serves(&url);

    // Huge and malformed heads.
    let huge = format!("X-Big: {}\r\n", "a".repeat(200 * 1024));
    assert_eq!(get(&url, "/api/models/acme/tiny", &huge).0, 431);
    still_serves(&url);
    let many: String = (0..200).map(|i| format!("X-H{i}: v\r\n")).collect();
    assert_eq!(get(&url, "/api/models/acme/tiny", &many).0, 431);
    still_serves(&url);
    assert_eq!(raw(&url, b"GARBAGE\r\n\r\n").0, 400);
    still_serves(&url);
    assert_eq!(raw(&url, b"GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n").0, 400);
    let (status, _, body) = get(&url, "/health", "");
    assert_eq!((status, body.as_slice()), (200, &br#"{"status":"ok"}"#[..]));

    // A slow-loris client is cut after the header timeout.
    use std::io::{Read, Write};
    let started = std::time::Instant::now();
    let mut slow = std::net::TcpStream::connect(url.strip_prefix("http://").unwrap()).unwrap();
    slow.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n").unwrap();
    slow.set_read_timeout(Some(std::time::Duration::from_secs(20))).unwrap();
    let mut rest = Vec::new();
    let _ = slow.read_to_end(&mut rest);
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "cut after {:?}", started.elapsed());
    still_serves(&url);

    // Past the connection limit: a clear 503, and service resumes when slots free up.
    drop(served);
    let args = ["--cache", cache.to_str().unwrap(), "--max-connections", "4"];
    let (_served, url, _log) = start_serve(&t, &args);
    // An idle connection gives its slot to a newcomer…
    let idle: Vec<std::net::TcpStream> =
        (0..4).map(|_| std::net::TcpStream::connect(url.strip_prefix("http://").unwrap()).unwrap()).collect();
    still_serves(&url);
    drop(idle);
    // …a connection with a request in progress (a body still to come) does not.
    let busy: Vec<std::net::TcpStream> = (0..4)
        .map(|_| {
            let mut tcp = std::net::TcpStream::connect(url.strip_prefix("http://").unwrap()).unwrap();
            let head = "POST /api/models/acme/tiny/paths-info/main HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n";
            tcp.write_all(head.as_bytes()).unwrap();
            tcp
        })
        .collect();
    // Let the server read their heads (no answer to observe: they wait for their bodies).
    std::thread::sleep(std::time::Duration::from_millis(300));
    let (status, head, body) = get(&url, "/health", "");
    assert_eq!(status, 503, "{head}");
    assert!(String::from_utf8_lossy(&body).contains("too many open connections"));
    drop(busy);
    still_serves(&url);
}

const SLOW_CLIENTS: &str = r#"
import resource, socket, sys
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(soft, 4096), hard), hard))
host, port = sys.argv[1].split(":")
held = []
for _ in range(int(sys.argv[2])):
    s = socket.create_connection((host, int(port)))
    s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
    held.append(s)
print("ready", flush=True)
sys.stdin.read()
"#;

#[test]
fn a_thousand_slow_clients_do_not_lock_others_out() {
    let fixture = common::repo_hub();
    let t = context(&fixture);
    t.hf(&["download", "acme/tiny", "README.md"]).expect_code(0);
    let cache = t.hf_home().join("hub");
    // The server runs with 1,024 descriptors; its header timeout (20 s) is far longer than
    // the test, so only taking the slots of slow clients can keep it answering.
    let mut command = t.command("sh");
    command.args(["-c", r#"ulimit -n 1024 && exec "$0" "$@""#]).arg(t.hf_bin()).args([
        "serve",
        "--port",
        "0",
        "--format",
        "agent",
        "--cache",
        cache.to_str().unwrap(),
    ]);
    let (_served, url, log) = spawn_serve(&t, command);
    let mut slow = t
        .command(t.python_bin())
        .args(["-c", SLOW_CLIENTS, url.strip_prefix("http://").unwrap(), "1100"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut ready = String::new();
    BufReader::new(slow.stdout.take().unwrap()).read_line(&mut ready).unwrap();
    assert_eq!(ready, "ready\n", "the slow clients connected");
    let started = std::time::Instant::now();
    still_serves(&url);
    still_serves(&url);
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "answered after {:?}", started.elapsed());
    drop(slow.stdin.take());
    let _ = slow.wait();
    let log = std::fs::read_to_string(log).unwrap();
    assert!(!log.contains("accept failed"), "the server never ran out of descriptors: {log}");
}

#[test]
fn a_client_that_stops_reading_is_cut_after_the_idle_timeout() {
    let hub = hub();
    let t = context(&hub);
    // A hand-made cache with one 64 MiB file: more than loopback buffers hold.
    let repo = t.root().join("cache/models--acme--big");
    let (commit, etag) = ("c".repeat(40), "a".repeat(64));
    std::fs::create_dir_all(repo.join("blobs")).unwrap();
    std::fs::create_dir_all(repo.join("refs")).unwrap();
    std::fs::create_dir_all(repo.join("snapshots").join(&commit)).unwrap();
    std::fs::write(repo.join("blobs").join(&etag), vec![1u8; 64 << 20]).unwrap();
    std::fs::write(repo.join("refs/main"), &commit).unwrap();
    std::os::unix::fs::symlink(format!("../../blobs/{etag}"), repo.join("snapshots").join(&commit).join("big.bin"))
        .unwrap();
    let cache = t.root().join("cache");
    let (_served, url, log) = start_serve(&t, &["--cache", cache.to_str().unwrap(), "--idle-timeout", "1"]);
    use std::io::{Read, Write};
    let mut tcp = std::net::TcpStream::connect(url.strip_prefix("http://").unwrap()).unwrap();
    tcp.write_all(b"GET /acme/big/resolve/main/big.bin HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    // Read nothing until the server says it cut the transfer.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !std::fs::read_to_string(&log).unwrap().contains(" incomplete") {
        assert!(std::time::Instant::now() < deadline, "never cut");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    tcp.set_read_timeout(Some(std::time::Duration::from_secs(20))).unwrap();
    let mut got = Vec::new();
    let _ = tcp.read_to_end(&mut got);
    assert!(got.starts_with(b"HTTP/1.1 200"), "the answer began");
    assert!(got.len() < 64 << 20, "the connection was closed before the whole body");
    let (status, _, body) = get(&url, "/acme/big/resolve/main/big.bin", "Range: bytes=0-3\r\n");
    assert_eq!((status, body.as_slice()), (206, &[1u8; 4][..]), "the server still answers");
    let log = std::fs::read_to_string(log).unwrap();
    assert!(log.contains("GET /acme/big/resolve/main/big.bin 200 bytes=") && log.contains(" incomplete"), "{log}");
}

/// For each caller (a name and a token, or none), what Python's client gets from a public,
/// a gated and a private repo: `ok`, or the exception's class and status.
const PYTHON_ACCESS: &str = r#"
import json, os, tempfile
from huggingface_hub import HfApi, hf_hub_download
from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, RepositoryNotFoundError
api = HfApi()
def attempt(call):
    try:
        call()
        return "ok"
    except GatedRepoError as e:
        return f"GatedRepoError {e.response.status_code}"
    except RepositoryNotFoundError as e:
        return f"RepositoryNotFoundError {e.response.status_code}"
    except HfHubHTTPError as e:
        return f"HfHubHTTPError {e.response.status_code}"
out = {}
for who, token in json.loads(os.environ["CALLERS"]).items():
    token = token or False
    for repo in ["acme/tiny", "lab/gated", "lab/private"]:
        out[f"{who} {repo}"] = [
            attempt(lambda: api.model_info(repo, token=token)),
            attempt(lambda: api.list_repo_files(repo, token=token)),
            api.repo_exists(repo, token=token),
            attempt(lambda: hf_hub_download(repo, "config.json", token=token, cache_dir=tempfile.mkdtemp())),
        ]
    try:
        hf_hub_download("lab/gated", "config.json", token=token, cache_dir=tempfile.mkdtemp())
    except GatedRepoError as e:
        out[f"{who} gated message"] = e.server_message
print(json.dumps(out))
"#;

const ALICE: &str = "hf_servedAliceAAAAAAAAAAAAAAAAAAAAAAAA1";
const BOB: &str = "hf_servedBobBBBBBBBBBBBBBBBBBBBBBBBBBB2";
const CAROL: &str = "hf_servedCarolCCCCCCCCCCCCCCCCCCCCCCCC3";

/// A served cache holding `acme/tiny` (public), `lab/gated` and `lab/private` (copies of
/// it), and an accounts file: alice is a member of `lab`, carol is granted `lab/gated`, bob
/// has no access. Returns `(cache, accounts, data folder)`.
fn access_sample(t: &hfkit_test::TestContext) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    t.hf(&["download", "acme/tiny", "config.json"]).expect_code(0);
    let cache = t.hf_home().join("hub");
    for copy in ["models--lab--gated", "models--lab--private"] {
        let status = std::process::Command::new("cp")
            .arg("-a")
            .arg(cache.join("models--acme--tiny"))
            .arg(cache.join(copy))
            .status()
            .unwrap();
        assert!(status.success());
    }
    let accounts = t.root().join("accounts.json");
    // One key per line, so the line of a problem is easy to check.
    let json = serde_json::json!({
        "users": [{"name": "alice", "orgs": ["lab"]}, {"name": "bob"}, {"name": "carol"}],
        "orgs": [{"name": "lab"}],
        "tokens": [
            {"token": ALICE, "user": "alice", "name": "desk", "role": "read"},
            {"token": BOB, "user": "bob", "name": "desk", "role": "read"},
            {"token": CAROL, "user": "carol", "name": "desk", "role": "read"}
        ],
        "repos": [
            {"id": "lab/gated", "visibility": "gated", "owner": "lab", "grants": ["carol"]},
            {"id": "lab/private", "type": "model", "visibility": "private"}
        ]
    });
    std::fs::write(&accounts, serde_json::to_string_pretty(&json).unwrap()).unwrap();
    (cache, accounts, t.root().join("data"))
}

fn run_access(client: &mut hfkit_test::TestContext, callers: serde_json::Value) -> serde_json::Value {
    client.set_env("CALLERS", &callers.to_string());
    let run = client.python(PYTHON_ACCESS);
    run.expect_code(0);
    serde_json::from_str(run.stdout.trim()).unwrap()
}

#[test]
fn python_gets_the_hubs_answers_for_public_private_and_gated_repos_and_the_operator_changes_them_at_once() {
    let fixture = common::repo_hub();
    let t = context(&fixture);
    let (cache, accounts, data) = access_sample(&t);
    let data_arg = data.to_str().unwrap();
    let (served, url, log) = start_serve(
        &t,
        &["--cache", cache.to_str().unwrap(), "--accounts", accounts.to_str().unwrap(), "--data", data_arg],
    );
    let mut client = client_of(&url);
    let out =
        run_access(&mut client, serde_json::json!({"anonymous": null, "bob": BOB, "alice": ALICE, "carol": CAROL}));
    let ok = serde_json::json!(["ok", "ok", true, "ok"]);
    let expected = serde_json::json!({
        "anonymous acme/tiny": ok,
        "anonymous lab/gated": ["ok", "ok", true, "GatedRepoError 401"],
        "anonymous lab/private": ["RepositoryNotFoundError 401", "RepositoryNotFoundError 401", false, "RepositoryNotFoundError 401"],
        "bob acme/tiny": ok,
        "bob lab/gated": ["ok", "ok", true, "GatedRepoError 403"],
        "bob lab/private": ["RepositoryNotFoundError 404", "RepositoryNotFoundError 404", false, "RepositoryNotFoundError 404"],
        "alice acme/tiny": ok,
        "alice lab/gated": ok,
        "alice lab/private": ok,
        "carol acme/tiny": ok,
        "carol lab/gated": ok,
        "carol lab/private": ["RepositoryNotFoundError 404", "RepositoryNotFoundError 404", false, "RepositoryNotFoundError 404"],
        "anonymous gated message": "Access to model lab/gated is restricted. You must have access to it and be authenticated to access it. Please log in.",
        "bob gated message": format!("Access to model lab/gated is restricted and you are not in the authorized list. Visit {url}/lab/gated to ask for access."),
    });
    assert_eq!(out, expected);

    // The operator grants bob access while the server runs: the next request is served.
    let admin = |args: &[&str]| {
        let mut all = vec!["serve"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--data", data_arg, "--format", "agent"]);
        t.hf(&all)
    };
    let granted = admin(&["access", "grant", "lab/gated", "bob"]);
    assert!(!granted.expect_code(0).stderr.contains("warning"), "{}", granted.stderr);
    // A repo the data folder knows nothing of (mistyped?): granted, with a warning that says so.
    let unknown = admin(&["access", "grant", "lab/gatd", "bob"]);
    assert!(
        unknown.expect_code(0).stderr.contains("`lab/gatd` has no settings in this data folder"),
        "{}",
        unknown.stderr
    );
    admin(&["access", "revoke", "lab/gatd", "bob"]).expect_code(0);
    let out = run_access(&mut client, serde_json::json!({"bob": BOB}));
    assert_eq!(out["bob lab/gated"], ok, "a grant takes effect at once");
    let bearer = |token: &str| format!("Authorization: Bearer {token}\r\n");
    admin(&["access", "revoke", "lab/gated", "bob"]).expect_code(0);
    let (status, head, _) = get(&url, "/lab/gated/resolve/main/config.json", &bearer(BOB));
    assert_eq!(status, 403, "a revoked grant is refused at once: {head}");
    assert!(head.to_lowercase().contains("x-error-code: gatedrepo"), "{head}");
    // Visibility set by the operator: the public repo becomes private.
    admin(&["repo", "set", "acme/tiny", "--visibility", "private", "--owner", "lab"]).expect_code(0);
    assert_eq!(get(&url, "/api/models/acme/tiny", &bearer(BOB)).0, 404);
    assert_eq!(get(&url, "/api/models/acme/tiny", &bearer(ALICE)).0, 200, "lab owns it, alice is a member");

    // Tokens: revoked at once; a new one is shown once and works at once.
    assert_eq!(get(&url, "/api/whoami-v2", &bearer(BOB)).0, 200);
    admin(&["token", "revoke", "bob", "--name", "desk"]).expect_code(0);
    let (status, head, _) = get(&url, "/api/whoami-v2", &bearer(BOB));
    assert_eq!(status, 401, "a revoked token is refused at once: {head}");
    let issued = admin(&["token", "issue", "bob", "--name", "laptop", "--role", "write"]);
    issued.expect_code(0);
    let new_token = issued.stdout.split_whitespace().find_map(|kv| kv.strip_prefix("token=")).unwrap().to_owned();
    assert!(new_token.starts_with("hf_") && new_token.len() == 37, "{}", issued.stdout);
    let (status, _, body) = get(&url, "/api/whoami-v2", &bearer(&new_token));
    assert_eq!(status, 200);
    let me: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!((me["name"].as_str(), me["auth"]["accessToken"]["role"].as_str()), (Some("bob"), Some("write")));
    let listed = admin(&["token", "list", "bob"]);
    assert!(listed.expect_code(0).stdout.contains(&format!("hf_****{}", &new_token[33..])), "{}", listed.stdout);
    assert!(!listed.stdout.contains(&new_token), "a token is shown once");
    let db = std::fs::read(data.join("hfkit-server.sqlite3")).unwrap();
    assert!(!db.windows(new_token.len()).any(|w| w == new_token.as_bytes()), "only hashes are stored");
    drop(served);
    let no_token_in = |log: &std::path::Path| {
        let log = std::fs::read_to_string(log).unwrap();
        for secret in [ALICE, BOB, CAROL, new_token.as_str()] {
            assert!(!log.contains(secret), "no token in the log: {log}");
        }
    };
    no_token_in(&log);

    // A restart seeds from the same file: what the operator changed stays changed, and
    // anonymous access can be refused as a whole.
    let (_served, url, log) = start_serve(
        &t,
        &[
            "--cache",
            cache.to_str().unwrap(),
            "--accounts",
            accounts.to_str().unwrap(),
            "--data",
            data_arg,
            "--no-anonymous",
        ],
    );
    assert_eq!(get(&url, "/api/whoami-v2", &bearer(BOB)).0, 401, "the file does not bring a revoked token back");
    assert_eq!(get(&url, "/api/models/acme/tiny", &bearer(CAROL)).0, 404, "the operator's visibility stays");
    let (status, head, _) = get(&url, "/api/models/lab/gated", "");
    assert_eq!(status, 401, "{head}");
    assert!(head.contains("only authenticated requests"), "{head}");
    assert_eq!(get(&url, "/lab/gated/resolve/main/config.json", &bearer(CAROL)).0, 200);
    assert_eq!(get(&url, "/health", "").0, 200);
    no_token_in(&log);
}

#[test]
fn a_bad_accounts_file_is_refused_with_its_line() {
    let hub = hub();
    let t = context(&hub);
    let accounts = t.root().join("accounts.json");
    let cases = [
        (
            "{\n  \"users\": [{\"name\": \"alice\"}],\n  \"repos\": [\n    {\"id\": \"a/b\", \"visibility\": \"secret\"}\n  ]\n}",
            "line 4: unknown variant `secret`, expected one of `public`, `private`, `gated`",
        ),
        (
            "{\n  \"users\": [{\"name\": \"alice\"}],\n  \"repos\": [\n    {\"id\": \"a/b\",\n     \"grants\": [\"mallory\"]}\n  ]\n}",
            "line 5: repo `a/b` is granted to `mallory`, who is not in `users`",
        ),
        (
            "{\"users\": [],\n \"repos\": [{\"id\": \"a/b\", \"visibilty\": \"gated\"}]}",
            "line 2: unknown field `visibilty`",
        ),
        ("{\"repos\": [\n{\"id\": \"a/b\", \"type\": \"modle\"}]}", "line 2: repo `a/b` has type `modle`"),
        ("{\"repos\": [{\"id\": \"../etc\"}]}", "line 1: repo id `../etc` is not valid"),
        (
            "{\"users\": [\n {\"name\": \"alice\",\n  \"password_hash\": \"hunter2\"}]}",
            "line 2: the password_hash of `alice` is not usable",
        ),
    ];
    for (text, expected) in cases {
        std::fs::write(&accounts, text).unwrap();
        let run = t.hf(&["serve", "--accounts", accounts.to_str().unwrap(), "--port", "0"]);
        run.expect_code(1);
        assert!(run.stderr.contains(accounts.to_str().unwrap()), "names the file: {}", run.stderr);
        assert!(run.stderr.contains(expected), "{expected}: {}", run.stderr);
    }
}

#[test]
fn hf_serve_upstream_is_a_pull_through_mirror_for_hf_and_python() {
    let fixture = common::repo_hub();
    let t = context(&fixture);
    let cache = t.root().join("mirror-cache");
    std::fs::create_dir_all(&cache).unwrap();
    let mut command = t.command(t.hf_bin());
    command
        .args(["serve", "--port", "0", "--format", "agent", "--cache", cache.to_str().unwrap()])
        .args(["--upstream", fixture.url()])
        .env("HF_SERVE_UPSTREAM_TOKEN", common::READ);
    let (_served, url, log) = spawn_serve(&t, command);
    let client = client_of(&url);
    let got = client.hf(&["download", "acme/tiny", "model.safetensors", "--format", "quiet"]);
    got.expect_code(0);
    let weights = std::fs::read(got.stdout.trim()).unwrap();
    assert_eq!(weights, hfkit_test::pseudo_random(7, common::WEIGHTS_LEN));
    let run = client.python(
        "from huggingface_hub import hf_hub_download; print(open(hf_hub_download('acme/tiny', 'sub/dir/data.txt')).read(), end='')",
    );
    assert_eq!(run.expect_code(0).stdout, "nested\n");
    // `get_paths_info` of files the mirror has not fetched: upstream knows them.
    let run = client.python(
        "from huggingface_hub import HfApi; print(sorted((e.path, type(e).__name__, getattr(e, 'size', None)) for e in HfApi().get_paths_info('acme/tiny', ['README.md', 'sub', 'missing'])))",
    );
    assert_eq!(run.expect_code(0).stdout, "[('README.md', 'RepoFile', 7), ('sub', 'RepoFolder', None)]\n");
    // Lists are upstream's, without the private repo the mirror's token sees upstream.
    let run = client.python(&format!(
        "from huggingface_hub import HfApi\n\
         mirror = sorted(m.id for m in HfApi().list_models(author='acme'))\n\
         direct = sorted(m.id for m in HfApi(endpoint='{}', token=False).list_models(author='acme'))\n\
         print(mirror == direct, mirror)",
        fixture.url()
    ));
    assert_eq!(run.expect_code(0).stdout, "True ['acme/gated', 'acme/tiny']\n");
    // Whole snapshots: the repo API passes through (tree pages and their `Link` included).
    fixture.state().set_tree_page_size(2);
    let snapshot = client.hf(&["download", "acme/tiny", "--format", "quiet"]);
    let dir = std::path::PathBuf::from(snapshot.expect_code(0).stdout.trim());
    assert_eq!(std::fs::read_to_string(dir.join("README.md")).unwrap(), "# tiny\n");
    let run = client.python(
        "import os; from huggingface_hub import snapshot_download; d = snapshot_download('acme/tiny', revision='v1'); print(sorted(os.listdir(d)))",
    );
    assert_eq!(run.expect_code(0).stdout, "['README.md', 'config.json']\n");
    // On the server, the cache holds both, in the standard layout.
    let mut server = client_of(&url);
    server.set_env("HF_HUB_CACHE", cache.to_str().unwrap());
    let listed = server.hf(&["cache", "ls", "--revisions"]);
    assert!(listed.expect_code(0).stdout.contains("acme/tiny"), "{}", listed.stdout);
    assert!(listed.stdout.contains("main"), "{}", listed.stdout);
    // The server's token went upstream (only there), and was never logged.
    let masked = format!("Bearer {}", hfkit::secret::mask(common::READ));
    assert!(fixture.requests().iter().any(|r| r.authorization.as_deref() == Some(masked.as_str())));
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(!logged.contains(common::READ), "{logged}");
    assert!(logged.contains("mirror: fetched acme/tiny model.safetensors"), "{logged}");
}

#[test]
fn hf_serve_takes_no_upstream_token_on_the_command_line() {
    let hub = hub();
    let t = context(&hub);
    let run = t.hf(&["serve", "--cache", ".", "--upstream", hub.url(), "--upstream-token", common::READ]);
    run.expect_code(2);
    let bad = t.root().join("token");
    std::fs::write(&bad, "two\nlines\n").unwrap();
    let run = t.hf(&["serve", "--cache", ".", "--upstream", hub.url(), "--upstream-token-file", bad.to_str().unwrap()]);
    run.expect_code(1);
    assert!(run.stderr.contains("upstream token from the file"), "{}", run.stderr);
}

#[test]
fn sigterm_stops_the_server_cleanly() {
    let hub = hub();
    let t = context(&hub);
    let (mut served, url, log) = start_serve(&t, &[]);
    assert_eq!(get(&url, "/health", "").0, 200);
    let pid = served.0.id().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let status = served.0.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{}", std::fs::read_to_string(&log).unwrap());
    assert!(std::fs::read_to_string(&log).unwrap().contains("Stopped"), "says it stopped");
}

/// The browser journey of a gated repo on a real `hf serve --data`: the operator sets the
/// request form and a password from the command line (the owner's password seeded as a
/// hash by the accounts file); bob signs in, asks, waits; `hf download` with his token is
/// refused until the owner approves on the web page, works at once after, and is refused
/// again when the operator denies from the command line.
#[test]
fn a_gated_access_request_made_on_the_web_and_approved_lets_hf_download_with_the_users_token() {
    use hfkit_test::web_client::WebClient;
    let fixture = common::repo_hub();
    let t = context(&fixture);
    t.hf(&["download", "acme/tiny", "config.json"]).expect_code(0);
    let cache = t.hf_home().join("hub");
    let copied = std::process::Command::new("cp")
        .arg("-a")
        .arg(cache.join("models--acme--tiny"))
        .arg(cache.join("models--lab--gated"))
        .status()
        .unwrap();
    assert!(copied.success());
    let alice_hash = hfkit_server::auth::password::hash("alice web password").unwrap();
    let accounts = t.root().join("accounts.json");
    let json = serde_json::json!({
        "users": [{"name": "alice", "orgs": ["lab"], "password_hash": alice_hash}, {"name": "bob"}],
        "orgs": [{"name": "lab"}],
        "tokens": [{"token": BOB, "user": "bob", "name": "desk", "role": "read"}],
        "repos": [{"id": "lab/gated", "visibility": "gated", "owner": "lab"}]
    });
    std::fs::write(&accounts, json.to_string()).unwrap();
    let data = t.root().join("data");
    let data_arg = data.to_str().unwrap();
    let (_served, url, log) = start_serve(
        &t,
        &["--cache", cache.to_str().unwrap(), "--accounts", accounts.to_str().unwrap(), "--data", data_arg],
    );
    let admin = |args: &[&str], stdin: Option<&str>| {
        let mut all = vec!["serve"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--data", data_arg, "--format", "agent"]);
        match stdin {
            Some(input) => t.hf_with_stdin(&all, input),
            None => t.hf(&all),
        }
    };
    // The operator: bob's password from stdin, the repo's form and license.
    let refused = admin(&["user", "passwd", "bob"], Some(""));
    refused.expect_code(1);
    assert!(refused.stderr.contains("never on the command line"), "{}", refused.stderr);
    let set = admin(&["user", "passwd", "bob"], Some("bob web password\n"));
    set.expect_code(0);
    assert!(!set.all_output().contains("bob web password"));
    let license = t.root().join("LICENSE");
    std::fs::write(&license, "Use it kindly.").unwrap();
    let gate = ["repo", "gate", "lab/gated", "--field", "Intended use", "--license-file", license.to_str().unwrap()];
    admin(&gate, None).expect_code(0);

    let mut client = client_of(&url);
    client.set_env("HF_TOKEN", BOB);
    let download = |client: &hfkit_test::TestContext| client.hf(&["download", "lab/gated", "config.json", "--quiet"]);
    let before = download(&client);
    assert_ne!(before.code, 0, "not granted yet");
    assert!(before.stderr.contains(&format!("{url}/lab/gated")), "says where to ask: {}", before.stderr);

    let mut bob = WebClient::new(&url);
    assert_eq!(bob.sign_in("bob", "bob web password").status, 303);
    let page = bob.get("/lab/gated");
    assert_eq!(page.text_of("license-text").as_deref(), Some("Use it kindly."));
    let asked =
        bob.post("/lab/gated/ask-access", &[("csrf", &page.csrf()), ("field-0", "evaluation"), ("agree", "yes")]);
    assert_eq!(asked.status, 303);
    assert!(bob.get("/lab/gated").text_of("access-status").unwrap().contains("pending"));
    let listed = admin(&["access", "requests"], None);
    assert!(listed.expect_code(0).stdout.contains("bob") && listed.stdout.contains("evaluation"), "{}", listed.stdout);
    assert_ne!(download(&client).code, 0, "pending is not granted");
    // The operator's web rights, given and taken back from the command line.
    let sees_request = |b: &mut WebClient| b.get("/settings/access-requests").body.contains(r#"data-user="bob""#);
    assert!(!sees_request(&mut bob));
    admin(&["user", "admin", "bob"], None).expect_code(0);
    assert!(sees_request(&mut bob), "the operator sees every repo's requests");
    admin(&["user", "admin", "bob", "--remove"], None).expect_code(0);
    assert!(!sees_request(&mut bob));

    // The owner (a member of lab, password from the accounts file) approves on the page.
    let mut alice = WebClient::new(&url);
    assert_eq!(alice.sign_in("alice", "alice web password").status, 303);
    let requests = alice.get("/lab/gated/access-requests");
    assert!(requests.body.contains(r#"id="approve-bob""#), "{}", requests.body);
    let approved = alice
        .post("/lab/gated/access-requests", &[("csrf", &requests.csrf()), ("user", "bob"), ("decision", "approve")]);
    assert_eq!(approved.status, 303);
    assert_eq!(
        bob.get("/lab/gated").text_of("access-status").as_deref(),
        Some("✓ You have been granted access to this model")
    );
    let after = download(&client);
    after.expect_code(0);
    assert_eq!(std::fs::read_to_string(after.stdout.trim()).unwrap(), r#"{"hidden_size": 16}"#);

    // The operator denies from the command line: refused again at once.
    admin(&["access", "deny", "lab/gated", "bob"], None).expect_code(0);
    let mut fresh = client_of(&url);
    fresh.set_env("HF_TOKEN", BOB);
    assert_ne!(download(&fresh).code, 0);
    assert!(admin(&["access", "approve", "lab/gated", "alice"], None).stderr.contains("has not requested access"));
    let db = std::fs::read(data.join("hfkit-server.sqlite3")).unwrap();
    assert!(!db.windows(16).any(|w| w == b"bob web password"), "only the hash is stored");
    assert!(!std::fs::read_to_string(log).unwrap().contains(BOB));
}

#[test]
fn the_operator_approves_and_denies_browser_logins_of_a_running_server() {
    let fixture_hub = hub(); // only for the scrubbed context; the server under test is `hf serve`
    let mut t = context(&fixture_hub);
    let data = t.root().join("data");
    let data_arg = data.to_str().unwrap().to_owned();
    t.hf(&["serve", "user", "add", "alice", "--data", &data_arg]).expect_code(0);
    let (_served, url, _log) = start_serve(&t, &["--data", &data_arg, "--device-poll-interval", "1"]);
    t.set_env("HF_ENDPOINT", &url);
    let mut login = common::Session::start({
        let mut c = t.command(t.hf_bin());
        c.args(["auth", "login", "--format", "agent"]);
        c
    });
    login.close_stdin();
    let code = login.login_code("enter the code ");
    let approve = t.hf(&["serve", "device", "approve", &code.to_lowercase(), "--user", "alice", "--data", &data_arg]);
    assert!(approve.expect_code(0).stdout.contains("Device approved"), "{}", approve.stdout);
    let run = login.finish();
    assert!(run.expect_code(0).stdout.contains("Login successful: logged in as alice (token saved as 'oauth-alice')."));
    assert_eq!(t.hf(&["auth", "whoami", "-q"]).stdout, "alice\n");
    let again = t.hf(&["serve", "device", "approve", &code, "--user", "alice", "--data", &data_arg]);
    assert!(again.stderr.contains(&format!("the code {code} was already approved")), "{}", again.stderr);
    let unknown = t.hf(&["serve", "device", "deny", "BCDF-GHJK", "--data", &data_arg]);
    assert!(unknown.stderr.contains("no device is waiting with the code BCDF-GHJK"), "{}", unknown.stderr);
    let malformed = t.hf(&["serve", "device", "deny", "12", "--data", &data_arg]);
    assert!(malformed.stderr.contains("`12` is not a device code"), "{}", malformed.stderr);

    // Python's login, denied by the operator.
    let mut python = common::Session::start({
        let mut c = t.command(t.python_bin().with_file_name("hf"));
        c.args(["auth", "login", "--force"]).env("PYTHONUNBUFFERED", "1");
        c
    });
    let code = python.login_code("And enter the code: ");
    t.hf(&["serve", "device", "deny", &code, "--data", &data_arg]).expect_code(0);
    let run = python.finish();
    run.expect_code(1);
    assert!(run.stderr.contains("Authorization was denied."), "{}", run.stderr);
}

/// The repository's `examples/` folder.
fn examples() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().nth(2).unwrap().join("examples")
}

#[test]
fn a_config_file_sets_every_option_and_the_command_line_wins() {
    let hub = hub();
    let mut t = context(&hub);
    // examples/serve.toml names `accounts.json` and `hub` relative to its own folder, and
    // port 8080; the command line's `--port 0` (added by start_serve) wins.
    let config = examples().join("serve.toml");
    let (_served, url, _log) = start_serve(&t, &["--config", config.to_str().unwrap()]);
    assert!(!url.ends_with(":8080"), "the command line's port wins: {url}");
    let (status, _, body) = get(&url, "/acme/model/resolve/v1/config.json", "");
    assert_eq!((status, String::from_utf8_lossy(&body).contains("\"hidden_size\": 8")), (200, true));
    let gated = "/meta-llama/Llama-3.2-1B/resolve/main/config.json";
    assert_eq!(get(&url, gated, "").0, 401, "the accounts file's gate holds");
    let alice = "Authorization: Bearer hf_demoAliceRead000000000000000000001\r\n";
    assert_eq!(get(&url, gated, alice).0, 200, "alice is granted");
    drop(_served);

    // A file that refuses anonymous callers and allows one connection; the command line adds
    // nothing that contradicts it.
    let file = t.root().join("serve.toml");
    let text = format!(
        "accounts = \"{}\"\ncache = \"{}\"\nno-anonymous = true\nheader-timeout = 5\nmax-connections = 4\nref-ttl = 1\n\
         max-waiting-logins = 1\n",
        examples().join("accounts.json").display(),
        examples().join("hub").display()
    );
    std::fs::write(&file, text).unwrap();
    let (_served, url, _log) = start_serve(&t, &["--config", file.to_str().unwrap()]);
    assert_eq!(get(&url, "/acme/model/resolve/main/config.json", "").0, 401, "no-anonymous from the file");
    assert_eq!(get(&url, "/acme/model/resolve/main/config.json", alice).0, 200);
    // One browser login may wait: the second is told to slow down.
    let device = |url: &str| {
        let body = "client_id=hf&scope=openid";
        let request = format!(
            "POST /oauth/device HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        raw(url, request.as_bytes())
    };
    assert_eq!(device(&url).0, 200);
    let (status, _, body) = device(&url);
    assert_eq!((status, String::from_utf8_lossy(&body).contains("too many logins are waiting")), (429, true));
    drop(_served);

    // The command line's `--cache` wins over the file's: an empty cache serves nothing.
    let empty = t.root().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let (_served, url, _log) =
        start_serve(&t, &["--config", file.to_str().unwrap(), "--cache", empty.to_str().unwrap()]);
    assert_eq!(get(&url, "/acme/model/resolve/main/config.json", alice).0, 404);
    t.set_env("HF_ENDPOINT", &url);
}

#[test]
fn a_bad_config_file_is_refused_with_its_file_line_and_problem() {
    let hub = hub();
    let t = context(&hub);
    let config = t.root().join("serve.toml");
    let cases = [
        ("port = 8080\n\nmax-conections = 10\n", "line 3: unknown field `max-conections`, expected one of"),
        ("cache = \"/srv\"\nport = \"8080\"\n", "line 2: invalid type: string \"8080\", expected u16"),
        ("port = 70000\n", "line 1: invalid value: integer `70000`, expected u16"),
        ("host = \"0.0.0.0\"\n\nidle-timeout = 0\n", "line 3: `idle-timeout` must be at least 1"),
        ("cache = \"/srv\"\nupstream = \"huggingface.co\"\n", "line 2: `upstream` must be an http:// or https:// URL"),
        ("offline = \"yes\"\n", "line 1: invalid type: string \"yes\", expected a boolean"),
        ("port = \n", "line 1: "),
        (
            "upstream = \"https://huggingface.co\"\nupstream-token = \"hf_secretSecretSecretSecretSecret0001\"\n",
            "line 2: `upstream-token` is not read from a config file",
        ),
    ];
    for (text, expected) in cases {
        std::fs::write(&config, text).unwrap();
        let run = t.hf(&["serve", "--config", config.to_str().unwrap(), "--port", "0"]);
        run.expect_code(1);
        let shown = format!("the config file `{}` is not valid, {expected}", config.display());
        assert!(run.stderr.contains(&shown), "{shown}\n{}", run.stderr);
        assert!(!run.all_output().contains("hf_secret"), "a token in the file is never printed: {}", run.stderr);
    }
    let run = t.hf(&["serve", "--config", t.root().join("missing.toml").to_str().unwrap()]);
    run.expect_code(1);
    assert!(run.stderr.contains("cannot read the config file"), "{}", run.stderr);
    let run = t.hf(&["serve", "--max-connections", "0"]);
    run.expect_code(2);
    let run = t.hf(&["serve", "--upstream", "http://127.0.0.1:9", "--port", "0"]);
    run.expect_code(1);
    assert!(run.stderr.contains("--upstream needs --cache"), "{}", run.stderr);
}

#[test]
fn dates_come_from_the_cache_and_files_revalidate_with_their_etag() {
    use std::time::{Duration, UNIX_EPOCH};
    let hub = hub();
    let t = context(&hub);
    let cache = t.root().join("hub");
    assert!(t.command("cp").args(["-a"]).arg(examples().join("hub")).arg(&cache).status().unwrap().success());
    let repo = cache.join("models--acme--model/snapshots");
    let set = |commit: &str, unix: u64| {
        let dir = std::fs::File::open(repo.join(commit)).unwrap();
        dir.set_modified(UNIX_EPOCH + Duration::from_secs(unix)).unwrap();
    };
    set("9f8e7d6c5b4a39281706f5e4d3c2b1a098765432", 1_714_979_289); // main: 2024-05-06T07:08:09Z
    set("1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e", 1_672_628_645); // v1: 2023-01-02T03:04:05Z
    let (_served, url, _log) = start_serve(&t, &["--cache", cache.to_str().unwrap()]);
    let client = client_of(&url);
    let run = client.python(
        r#"
import json
from huggingface_hub import HfApi
api = HfApi()
info = api.model_info("acme/model")
print(json.dumps({
    "last_modified": info.last_modified.isoformat(),
    "created_at": info.created_at.isoformat(),
    "v1": api.model_info("acme/model", revision="v1").last_modified.isoformat(),
    "commit": [c.created_at.isoformat() for c in api.list_repo_commits("acme/model")],
    "tree": sorted({e.last_commit.date.isoformat() for e in api.list_repo_tree("acme/model", expand=True)}),
}))
"#,
    );
    let out: serde_json::Value = serde_json::from_str(&run.expect_code(0).stdout).unwrap();
    assert_eq!(
        out,
        serde_json::json!({
            "last_modified": "2024-05-06T07:08:09+00:00",
            "created_at": "2023-01-02T03:04:05+00:00",
            "v1": "2023-01-02T03:04:05+00:00",
            "commit": ["2024-05-06T07:08:09+00:00"],
            "tree": ["2024-05-06T07:08:09+00:00"],
        })
    );
    // A file by branch carries its etag and a revalidation policy; the etag gets 304.
    let (status, head, _) = get(&url, "/acme/model/resolve/main/config.json", "");
    assert_eq!(status, 200, "{head}");
    assert!(head.contains("cache-control: no-cache\r\n"), "{head}");
    let etag = head.lines().find_map(|l| l.strip_prefix("etag: ")).unwrap().to_owned();
    let (status, head, body) = get(&url, "/acme/model/resolve/main/config.json", &format!("If-None-Match: {etag}\r\n"));
    assert_eq!((status, body.len()), (304, 0), "{head}");
}

#[test]
fn large_blobs_are_sent_whole_and_by_range_byte_for_byte() {
    use sha2::Digest as _;
    let hub = hub();
    let t = context(&hub);
    // A cache with one blob larger than a piece (sent by the connection with sendfile).
    let content = hfkit_test::pseudo_random(11, (2 << 20) + 3);
    let sha = hex(&sha2::Sha256::digest(&content));
    let repo = t.root().join("hub/models--acme--big");
    let commit = "c".repeat(40);
    std::fs::create_dir_all(repo.join("blobs")).unwrap();
    std::fs::create_dir_all(repo.join("refs")).unwrap();
    std::fs::create_dir_all(repo.join("snapshots").join(&commit)).unwrap();
    std::fs::write(repo.join("blobs").join(&sha), &content).unwrap();
    std::os::unix::fs::symlink(format!("../../blobs/{sha}"), repo.join("snapshots").join(&commit).join("w.bin"))
        .unwrap();
    std::fs::write(repo.join("refs/main"), &commit).unwrap();
    let (_served, url, _log) = start_serve(&t, &["--cache", t.root().join("hub").to_str().unwrap()]);
    let path = "/acme/big/resolve/main/w.bin";
    let (status, _, body) = get(&url, path, "");
    assert_eq!((status, body.len()), (200, content.len()));
    assert!(body == content, "the whole blob, byte for byte");
    for (range, from, to) in
        [("bytes=100001-1500000", 100_001, 1_500_001), ("bytes=-70000", content.len() - 70_000, content.len())]
    {
        let (status, head, body) = get(&url, path, &format!("Range: {range}\r\n"));
        assert_eq!(status, 206, "{head}");
        assert!(body == content[from..to], "{range}");
    }
    // Two requests on one connection: the second answer follows the first exactly.
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: x\r\n\r\nGET {path} HTTP/1.1\r\nHost: x\r\nRange: bytes=5-9\r\nConnection: close\r\n\r\n"
    );
    let (status, _, rest) = raw(&url, request.as_bytes());
    assert_eq!(status, 200);
    assert!(rest[..content.len()] == content[..]);
    assert!(String::from_utf8_lossy(&rest[content.len()..]).starts_with("HTTP/1.1 206"));
    assert!(rest.ends_with(&content[5..10]));
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
