//! Downloads that survive what happens to real machines: a killed process, two processes
//! on one file, and a corporate proxy.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{WEIGHTS_LEN, context, repo_hub};
use hfkit_server::{Fault, FaultKind};
use hfkit_test::pseudo_random;

const CHUNK: u64 = 262_144;

fn weights_sha(hub: &hfkit_test::RunningHub) -> String {
    let repos = hub.state().repos();
    let tiny = repos.values().find(|r| r.id == "acme/tiny").unwrap();
    tiny.head_files()["model.safetensors"].lfs_sha256.clone().unwrap()
}

#[test]
fn killed_download_resumes_without_refetching() {
    let hub = repo_hub();
    let mut t = context(&hub);
    t.set_env("HF_HUB_DOWNLOAD_CHUNK_SIZE", &CHUNK.to_string()).set_env("HF_HUB_DOWNLOAD_CONNECTIONS", "1");
    let chunks = (WEIGHTS_LEN as u64).div_ceil(CHUNK) as usize;
    hub.state().inject(Fault::new(FaultKind::Stall { after: 0, pause: Duration::from_millis(300) }, 1000).on("/lfs/"));
    let mut child = t
        .command(t.hf_bin())
        .args(["download", "acme/tiny", "model.safetensors"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill once a few chunks have been served (however slow the machine is).
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while hub.requests().iter().filter(|r| r.listener == "cdn" && r.status == 206).count() < 3 {
        assert!(std::time::Instant::now() < deadline, "the download never got going");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(100)); // let the progress record catch up
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    hub.state().clear_faults();
    let sha = weights_sha(&hub);
    let blobs = t.hf_home().join("hub/models--acme--tiny/blobs");
    let partials = || -> Vec<std::path::PathBuf> {
        std::fs::read_dir(&blobs)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().ends_with(".incomplete"))
            .collect()
    };
    let killed = partials();
    assert_eq!(killed.len(), 1, "the partial file survives the kill: {killed:?}");
    let name = killed[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with(&format!("{sha}.")) && name.ends_with(".hfkit.incomplete"), "{name}");
    let record = t.hf_home().join(format!("hub/.locks/models--acme--tiny/{name}.progress"));
    assert!(record.exists(), "the resume record belongs to the partial file");
    let first_run = hub.requests().iter().filter(|r| r.listener == "cdn").count();
    assert!(first_run > 1 && first_run < chunks, "killed mid-way: {first_run} of {chunks} chunks requested");
    let run = t.hf(&["download", "acme/tiny", "model.safetensors"]);
    let path = run.expect_code(0).stdout.lines().find_map(|l| l.strip_prefix("  path: ")).unwrap().to_owned();
    assert_eq!(std::fs::read(path).unwrap(), pseudo_random(7, WEIGHTS_LEN));
    let rerun: Vec<_> = hub.requests().into_iter().filter(|r| r.listener == "cdn").skip(first_run).collect();
    assert!(rerun.len() < chunks, "the rerun fetched only missing chunks: {} of {chunks}", rerun.len());
    assert!(
        !rerun.iter().any(|r| r.range.as_deref() == Some(&format!("bytes=0-{}", CHUNK - 1))),
        "chunk 0 was not refetched"
    );
    assert_eq!(partials(), Vec::<std::path::PathBuf>::new(), "the rerun adopted the partial file and placed it");
    let locks: Vec<_> = std::fs::read_dir(t.hf_home().join("hub/.locks/models--acme--tiny"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(locks, vec![format!("{sha}.lock")], "no resume record is left");
}

#[test]
fn two_processes_on_one_file_both_succeed() {
    let hub = repo_hub();
    let mut t = context(&hub);
    t.set_env("HF_HUB_DOWNLOAD_CHUNK_SIZE", &CHUNK.to_string());
    hub.state().inject(Fault::new(FaultKind::Stall { after: 0, pause: Duration::from_millis(100) }, 1000).on("/lfs/"));
    let spawn = || {
        t.command(t.hf_bin())
            .args(["download", "acme/tiny", "model.safetensors", "-q"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    for child in [a, b] {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(std::fs::read(String::from_utf8_lossy(&out.stdout).trim()).unwrap(), pseudo_random(7, WEIGHTS_LEN));
    }
    let blobs: Vec<_> = std::fs::read_dir(t.hf_home().join("hub/models--acme--tiny/blobs"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(blobs.len(), 1, "one blob, no leftovers: {blobs:?}");
}

/// Two downloads of one blob with locks off (as on file systems where locks do nothing):
/// both succeed and leave one correct blob, because correctness rests on verification.
#[test]
fn without_locks_verification_keeps_the_blob_correct() {
    let hub = repo_hub();
    hub.state().inject(Fault::new(FaultKind::Stall { after: 0, pause: Duration::from_millis(50) }, 1000).on("/lfs/"));
    let home = tempfile::tempdir().unwrap();
    let mut config = hfkit::Config::isolated(home.path(), hub.url());
    config.transfer.chunk_size = CHUNK;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let options = hfkit::download::DownloadOptions { use_locks: false, ..Default::default() };
    let results = rt.block_on(async {
        let one = hfkit::Hub::new(config.clone(), None);
        let two = hfkit::Hub::new(config.clone(), None);
        let repo = hfkit::repo::Repo::model("acme/tiny").unwrap();
        let (a, b) = (one.repo(repo.clone()), two.repo(repo));
        tokio::join!(
            a.download_file("model.safetensors", &options, &hfkit::download::NoProgress),
            b.download_file("model.safetensors", &options, &hfkit::download::NoProgress)
        )
    });
    for result in [results.0, results.1] {
        let done = result.unwrap();
        assert_eq!(std::fs::read(&done.path).unwrap(), pseudo_random(7, WEIGHTS_LEN));
    }
    let blob = home.path().join(format!("hub/models--acme--tiny/blobs/{}", weights_sha(&hub)));
    assert_eq!(std::fs::read(blob).unwrap(), pseudo_random(7, WEIGHTS_LEN));
    let left: Vec<_> = std::fs::read_dir(home.path().join("hub/models--acme--tiny/blobs")).unwrap().collect();
    assert_eq!(left.len(), 1, "no partial file is left");
}

/// A minimal HTTP forward proxy on 127.0.0.1 that counts the requests it carries.
fn start_proxy() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&count);
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            seen.fetch_add(1, Ordering::SeqCst);
            std::thread::spawn(move || forward(client));
        }
    });
    (url, count)
}

fn forward(client: TcpStream) {
    let mut reader = BufReader::new(client.try_clone().unwrap());
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        head.push(line);
    }
    let Some(first) = head.first() else { return };
    let mut parts = first.split_whitespace();
    let (method, target) = (parts.next().unwrap_or_default().to_owned(), parts.next().unwrap_or_default().to_owned());
    let Some(rest) = target.strip_prefix("http://") else { return };
    let (authority, path) = rest.split_once('/').map_or((rest, "/".to_owned()), |(a, p)| (a, format!("/{p}")));
    let Ok(mut upstream) = TcpStream::connect(authority) else { return };
    let mut request = format!("{method} {path} HTTP/1.1\r\n");
    for line in &head[1..] {
        let lower = line.to_ascii_lowercase();
        if !lower.starts_with("connection:") && !lower.starts_with("proxy-connection:") {
            request.push_str(line);
        }
    }
    request.push_str("Connection: close\r\n\r\n");
    upstream.write_all(request.as_bytes()).unwrap();
    let mut response = Vec::new();
    let _ = upstream.read_to_end(&mut response);
    let mut client = client;
    let _ = client.write_all(&response);
}

#[test]
fn proxies_carry_the_traffic_unless_no_proxy_says_otherwise() {
    let hub = repo_hub();
    let (proxy, count) = start_proxy();
    let mut t = context(&hub);
    t.set_env("HTTP_PROXY", &proxy);
    t.hf(&["download", "acme/tiny", "config.json"]).expect_code(0);
    let through = count.load(Ordering::SeqCst);
    assert!(through >= 1, "the proxy saw the traffic");
    t.remove_env("HTTP_PROXY").set_env("http_proxy", &proxy).set_env("NO_PROXY", "127.0.0.1");
    t.hf(&["download", "acme/tiny", "README.md"]).expect_code(0);
    assert_eq!(count.load(Ordering::SeqCst), through, "NO_PROXY covers the host: the proxy saw nothing");
    t.remove_env("NO_PROXY");
    t.hf(&["download", "acme/tiny", "model.safetensors"]).expect_code(0);
    assert!(count.load(Ordering::SeqCst) > through, "lower-case http_proxy is honoured too");
}

#[test]
fn a_wait_for_another_process_holding_the_blob_lock_is_reported() {
    let hub = repo_hub();
    let t = context(&hub);
    let etag = {
        let repos = hub.state().repos();
        let tiny = repos.values().find(|r| r.id == "acme/tiny").unwrap();
        tiny.head_files()["config.json"].etag().to_owned()
    };
    let locks = t.hf_home().join("hub/.locks/models--acme--tiny");
    std::fs::create_dir_all(&locks).unwrap();
    let held = std::fs::File::create(locks.join(format!("{etag}.lock"))).unwrap();
    held.lock().unwrap();
    let child = t
        .command(t.hf_bin())
        .args(["download", "acme/tiny", "config.json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(3));
    drop(held);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("Waiting for `config.json`: another process is downloading it (it holds "), "{stderr}");
    assert_eq!(stderr.matches("Waiting for").count(), 1, "once per wait: {stderr}");
}
