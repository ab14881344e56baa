//! Pull-through: a mirror (`hfkit-server` over a cache folder, with a [`Mirror`]) in front of
//! an upstream test Hub, both over 127.0.0.1. What crossed the upstream's wire is read from
//! its request record.

use std::io::Read as _;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hfkit::config::TransferSettings;
use hfkit::repo::Repo;
use hfkit_server::repos::cache::CacheRepos;
use hfkit_server::{Fault, FaultKind, HubState, Mirror, MirrorConfig};
use hfkit_test::{HubFixture, RepoFixture, RunningHub, pseudo_random};

const CLIENT_TOKEN: &str = "hf_mirrorClient000000000000000000000001";
const SERVER_TOKEN: &str = "hf_mirrorServer000000000000000000000002";

/// A mirror served on a free port until dropped.
struct RunningMirror {
    url: String,
    mirror: Arc<Mirror>,
    state: Arc<HubState>,
    stop: Option<tokio::sync::watch::Sender<bool>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for RunningMirror {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(true);
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn start_mirror(cache: &Path, upstream: &str, configure: impl FnOnce(&mut MirrorConfig)) -> RunningMirror {
    let mut config = MirrorConfig {
        upstream: upstream.to_owned(),
        token: None,
        offline: false,
        ref_ttl: Duration::from_secs(60),
        transfer: TransferSettings::default(),
    };
    configure(&mut config);
    let accounts = HubFixture::new().user("carol").token("carol", "desk", "read", CLIENT_TOKEN).accounts().clone();
    let source = Arc::new(CacheRepos::new(cache).unwrap());
    let mirror = Arc::new(Mirror::new(&config, source.root()).unwrap());
    let state = HubState::with_source(accounts, source).expect("an in-memory store");
    state.set_mirror(Some(Arc::clone(&mirror)));
    let served = Arc::clone(&state);
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            addr_tx.send(listener.local_addr().unwrap()).unwrap();
            let stopped = async move {
                let _ = stop_rx.wait_for(|s| *s).await;
            };
            hfkit_server::serve(listener, state, stopped).await.unwrap();
        });
    });
    let addr = addr_rx.recv().unwrap();
    RunningMirror {
        url: hfkit_server::local_url(addr),
        mirror,
        state: served,
        stop: Some(stop_tx),
        thread: Some(thread),
    }
}

fn upstream(repo: RepoFixture) -> RunningHub {
    HubFixture::new().user("ops").token("ops", "mirror", "read", SERVER_TOKEN).repo(repo).start()
}

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder().timeout(Duration::from_secs(60)).build().unwrap()
}

/// How many times the upstream sent the content of a file of `size` bytes whose path
/// contains `fragment`: the bytes its GETs asked for (ranges, or the whole file), over `size`.
fn upstream_transfers(hub: &RunningHub, fragment: &str, size: usize) -> f64 {
    let bytes: u64 = hub
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.status < 300 && r.path.contains(fragment))
        .filter(|r| r.listener == "cdn" || r.path.contains("/resolve/"))
        .map(|r| {
            let range = r.range.as_deref().and_then(|v| v.strip_prefix("bytes="));
            let span = range.and_then(|v| v.split_once('-')).and_then(|(a, b)| {
                let (a, b): (u64, u64) = (a.parse().ok()?, b.parse().ok()?);
                Some(b.min(size as u64 - 1) - a + 1)
            });
            span.unwrap_or(size as u64)
        })
        .sum();
    bytes as f64 / size as f64
}

fn blobs(cache: &Path) -> Vec<String> {
    let dir = cache.join("models--acme--big/blobs");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

/// The operator's setting that makes the model `id` private to the org `acme`.
fn private_to_acme(id: &str) -> hfkit_server::store::RepoSettings {
    hfkit_server::store::RepoSettings {
        kind: "model".into(),
        id: id.into(),
        visibility: hfkit_server::Visibility::Private,
        owner: Some("acme".into()),
    }
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn a_cold_miss_is_fetched_kept_and_then_served_from_the_cache() {
    let weights = pseudo_random(1, 300_000);
    let hub = upstream(RepoFixture::model("acme/big").file("config.json", "{}\n").lfs("model.bin", weights.clone()));
    let cache = tempfile::tempdir().unwrap();
    let mirror = start_mirror(cache.path(), hub.url(), |_| {});
    let url = format!("{}/acme/big/resolve/main/model.bin", mirror.url);
    let got = client().get(&url).send().unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(got.headers()["x-linked-etag"], format!("\"{}\"", sha256(&weights)).as_str());
    assert_eq!(got.bytes().unwrap().as_ref(), weights.as_slice());
    assert_eq!(upstream_transfers(&hub, "/lfs/", weights.len()), 1.0);
    // Kept in the standard layout: the scan `hf cache ls` uses lists it, with its ref.
    let (repos, _) = hfkit::cache::list_repos(cache.path());
    assert!(repos.contains(&Repo::model("acme/big").unwrap()), "{repos:?}");
    assert_eq!(blobs(cache.path()), vec![sha256(&weights)]);
    let main = std::fs::read_to_string(cache.path().join("models--acme--big/refs/main")).unwrap();
    assert_eq!(main.len(), 40);
    // Warm: the cache answers; upstream sees no new transfer, and (within the ref TTL) no call.
    let calls = hub.requests().len();
    for _ in 0..2 {
        assert_eq!(client().get(&url).send().unwrap().bytes().unwrap().as_ref(), weights.as_slice());
    }
    let range = client().get(&url).header("range", "bytes=10-19").send().unwrap();
    assert_eq!(range.status(), 206);
    assert_eq!(range.bytes().unwrap().as_ref(), &weights[10..20]);
    assert_eq!(hub.requests().len(), calls, "{:#?}", &hub.requests()[calls..]);
    assert_eq!(mirror.mirror.fetches_started(), 1);
    // A regular file, by commit, and a HEAD that fetches nothing.
    let head = client().head(format!("{}/acme/big/resolve/{main}/config.json", mirror.url)).send().unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["content-length"], "3");
    assert_eq!(head.headers()["x-repo-commit"], main.as_str());
    assert_eq!(mirror.mirror.fetches_started(), 1);
    let config = client().get(format!("{}/acme/big/resolve/{main}/config.json", mirror.url)).send().unwrap();
    assert_eq!(config.text().unwrap(), "{}\n");
    // The repo API passes through, its pages linked to the mirror.
    hub.state().set_tree_page_size(1);
    let page = client().get(format!("{}/api/models/acme/big/tree/main", mirror.url)).send().unwrap();
    let link = page.headers()["link"].to_str().unwrap().to_owned();
    assert!(link.starts_with(&format!("<{}/api/models/acme/big/tree/", mirror.url)), "{link}");
    let info: serde_json::Value =
        client().get(format!("{}/api/models/acme/big", mirror.url)).send().unwrap().json().unwrap();
    assert_eq!(info["sha"], main.as_str());
    // Missing upstream: the Hub's answer passes through.
    let missing = client().get(format!("{}/acme/big/resolve/main/nope.bin", mirror.url)).send().unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(missing.headers()["x-error-code"], "EntryNotFound");
    let no_repo = client().get(format!("{}/acme/none/resolve/main/x", mirror.url)).send().unwrap();
    assert_eq!(no_repo.headers()["x-error-code"], "RepoNotFound");
}

#[test]
fn ten_concurrent_cold_misses_share_one_transfer_and_stream_as_it_arrives() {
    ten_concurrent_cold_misses(TransferSettings::default());
}

/// The same with the upstream fetch in parallel chunks of 1 MiB over 4 connections.
#[test]
fn ten_concurrent_cold_misses_stream_from_parallel_chunks() {
    ten_concurrent_cold_misses(TransferSettings { chunk_size: 1 << 20, connections: 4, ..TransferSettings::default() });
}

fn ten_concurrent_cold_misses(transfer: TransferSettings) {
    let weights = pseudo_random(2, 6_000_000);
    let hub = upstream(RepoFixture::model("acme/big").lfs("model.bin", weights.clone()));
    // The upstream pauses after 1 MB: clients must see bytes during the pause.
    let pause = Duration::from_millis(1500);
    hub.state().inject(Fault::new(FaultKind::Stall { after: 1_000_000, pause }, 1).on("/lfs/"));
    let cache = tempfile::tempdir().unwrap();
    let mirror = start_mirror(cache.path(), hub.url(), |c| c.transfer = transfer);
    let url = format!("{}/acme/big/resolve/main/model.bin", mirror.url);
    let clients: Vec<_> = (0..10)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                let began = Instant::now();
                let mut response = client().get(&url).send().unwrap();
                assert_eq!(response.status(), 200);
                let mut body = Vec::new();
                let mut first = None;
                let mut buf = vec![0; 64 * 1024];
                loop {
                    let n = response.read(&mut buf).unwrap();
                    if n == 0 {
                        break;
                    }
                    first.get_or_insert_with(|| began.elapsed());
                    body.extend_from_slice(&buf[..n]);
                }
                (first.unwrap(), began.elapsed(), body)
            })
        })
        .collect();
    for handle in clients {
        let (first, done, body) = handle.join().unwrap();
        assert!(body == weights, "a client got {} bytes that differ", body.len());
        // The first bytes came before the upstream's pause ended, the last ones after it.
        assert!(done - first >= pause * 2 / 3, "first byte at {first:?}, done at {done:?}");
    }
    assert_eq!(upstream_transfers(&hub, "/lfs/", weights.len()), 1.0, "{:#?}", hub.requests());
    assert_eq!(mirror.mirror.fetches_started(), 1);
    assert_eq!(blobs(cache.path()), vec![sha256(&weights)]);
}

#[test]
fn requests_by_commit_join_the_fetch_in_flight_without_asking_upstream_again() {
    let weights = pseudo_random(4, 3_000_000);
    let hub = upstream(RepoFixture::model("acme/big").lfs("model.bin", weights.clone()));
    let pause = Duration::from_millis(1500);
    hub.state().inject(Fault::new(FaultKind::Stall { after: 1_000_000, pause }, 1).on("/lfs/"));
    let cache = tempfile::tempdir().unwrap();
    let mirror = start_mirror(cache.path(), hub.url(), |_| {});
    let first = client().get(format!("{}/acme/big/resolve/main/model.bin", mirror.url)).send().unwrap();
    assert_eq!(first.status(), 200);
    let commit = first.headers()["x-repo-commit"].to_str().unwrap().to_owned();
    let whole = std::thread::spawn(move || first.bytes().unwrap());
    let heads = || hub.requests().iter().filter(|r| r.method == "HEAD").count();
    // The fetch's own metadata request comes before its first transfer from the CDN.
    let waited = Instant::now();
    while !hub.requests().iter().any(|r| r.method == "GET" && r.path.contains("/lfs/")) {
        assert!(waited.elapsed() < Duration::from_secs(10), "the fetch never started: {:#?}", hub.requests());
        std::thread::sleep(Duration::from_millis(10));
    }
    let before = heads();
    // What a parallel client does while the fetch runs: HEAD and ranges, by commit.
    let by_commit = format!("{}/acme/big/resolve/{commit}/model.bin", mirror.url);
    let head = client().head(&by_commit).send().unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["content-length"], weights.len().to_string().as_str());
    for (start, end) in [(0, 999_999), (1_500_000, 2_999_999)] {
        let range = client().get(&by_commit).header("range", format!("bytes={start}-{end}")).send().unwrap();
        assert_eq!(range.status(), 206);
        assert!(range.bytes().unwrap()[..] == weights[start..=end], "bytes {start}-{end}");
    }
    assert_eq!(heads(), before, "no upstream HEAD while the fetch is in flight: {:#?}", &hub.requests());
    assert!(whole.join().unwrap()[..] == weights[..]);
    assert_eq!(upstream_transfers(&hub, "/lfs/", weights.len()), 1.0, "{:#?}", hub.requests());
}

#[test]
fn a_get_after_a_head_asks_upstream_for_the_files_metadata_no_second_time() {
    let weights = pseudo_random(5, 300_000);
    let hub = upstream(RepoFixture::model("acme/big").lfs("model.bin", weights.clone()));
    let cache = tempfile::tempdir().unwrap();
    let mirror = start_mirror(cache.path(), hub.url(), |_| {});
    let url = format!("{}/acme/big/resolve/main/model.bin", mirror.url);
    let heads = || hub.requests().iter().filter(|r| r.method == "HEAD" && r.path.contains("/resolve/")).count();
    assert_eq!(client().head(&url).send().unwrap().status(), 200);
    let after_head = heads();
    assert_eq!(after_head, 1, "{:#?}", hub.requests());
    let body = client().get(&url).send().unwrap().bytes().unwrap();
    assert!(body[..] == weights[..]);
    // The mirror remembers what the HEAD said of the file at that commit and hands it to the
    // fetch: neither asks again.
    assert_eq!(heads(), after_head, "{:#?}", hub.requests());
}

#[test]
fn what_upstream_said_of_a_file_is_asked_again_once_the_ttl_has_passed_however_often_it_is_used() {
    let weights = pseudo_random(6, 1000);
    let hub = upstream(RepoFixture::model("acme/big").lfs("model.bin", weights));
    let cache = tempfile::tempdir().unwrap();
    let ttl = Duration::from_millis(300);
    let mirror = start_mirror(cache.path(), hub.url(), |c| c.ref_ttl = ttl);
    let main = client().head(format!("{}/acme/big/resolve/main/model.bin", mirror.url)).send().unwrap();
    let commit = main.headers()["x-repo-commit"].to_str().unwrap().to_owned();
    let by_commit = format!("{}/acme/big/resolve/{commit}/model.bin", mirror.url);
    let asked = || hub.requests().iter().filter(|r| r.method == "HEAD" && r.path.contains(&commit)).count();
    // Used every 50 ms, for longer than the TTL: a use does not make the answer younger.
    let began = Instant::now();
    while began.elapsed() < ttl * 2 {
        assert_eq!(client().head(&by_commit).send().unwrap().status(), 200);
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(asked() >= 1, "asked again after the TTL: {:#?}", hub.requests());
    assert!(asked() <= 3, "remembered within the TTL: {:#?}", hub.requests());
}

#[test]
fn wrong_bytes_from_upstream_are_not_kept_and_clients_get_an_error() {
    let weights = pseudo_random(3, 500_000);
    let hub = upstream(RepoFixture::model("acme/big").lfs("model.bin", weights.clone()));
    // Every try of the library's download (it retries a failed verification once).
    hub.state().inject(Fault::new(FaultKind::WrongBytes, 2).on("/lfs/"));
    let cache = tempfile::tempdir().unwrap();
    let mirror = start_mirror(cache.path(), hub.url(), |_| {});
    let url = format!("{}/acme/big/resolve/main/model.bin", mirror.url);
    let response = client().get(&url).send().unwrap();
    assert_eq!(response.status(), 200);
    let got = response.bytes();
    assert!(got.is_err(), "the body must be cut, not completed: {:?}", got.map(|b| b.len()));
    assert!(blobs(cache.path()).iter().all(|b| b.ends_with(".incomplete") || b != &sha256(&weights)));
    assert!(!blobs(cache.path()).contains(&sha256(&weights)));
    assert!(
        !cache.path().join("models--acme--big/snapshots").exists()
            || std::fs::read_dir(cache.path().join("models--acme--big/snapshots"))
                .unwrap()
                .flatten()
                .all(|d| { std::fs::read_dir(d.path()).unwrap().next().is_none() })
    );
    // A client may be cut as soon as the first try fails; the fetch ends after the second.
    let deadline = Instant::now() + Duration::from_secs(30);
    while mirror.mirror.fetches_running() > 0 {
        assert!(Instant::now() < deadline, "the failed fetch never ended");
        std::thread::sleep(Duration::from_millis(10));
    }
    // The failure is not remembered: the next request fetches again, and succeeds.
    let again = client().get(&url).send().unwrap();
    assert_eq!(again.bytes().unwrap().as_ref(), weights.as_slice());
    assert_eq!(mirror.mirror.fetches_started(), 2);
    assert!(blobs(cache.path()).contains(&sha256(&weights)));
}

#[test]
fn an_upstream_that_is_down_leaves_the_cache_served_and_explains_the_rest() {
    let weights = pseudo_random(4, 100_000);
    let hub = upstream(RepoFixture::model("acme/big").file("a.txt", "a\n").lfs("model.bin", weights.clone()));
    let cache = tempfile::tempdir().unwrap();
    {
        let warm = start_mirror(cache.path(), hub.url(), |_| {});
        let got = client().get(format!("{}/acme/big/resolve/main/model.bin", warm.url)).send().unwrap();
        assert_eq!(got.bytes().unwrap().len(), weights.len());
    }
    let upstream_url = hub.url().to_owned();
    drop(hub);
    // Branches are asked upstream every time (TTL 0), so the branch needs the fallback.
    let mirror = start_mirror(cache.path(), &upstream_url, |c| c.ref_ttl = Duration::ZERO);
    let cached = client().get(format!("{}/acme/big/resolve/main/model.bin", mirror.url)).send().unwrap();
    assert_eq!(cached.status(), 200);
    assert_eq!(cached.bytes().unwrap().as_ref(), weights.as_slice());
    let missing = client().get(format!("{}/acme/big/resolve/main/a.txt", mirror.url)).send().unwrap();
    assert_eq!(missing.status(), 502);
    let message = missing.headers()["x-error-message"].to_str().unwrap().to_owned();
    assert!(message.contains(&upstream_url) && message.contains("cannot be reached"), "{message}");
    assert!(message.contains("`a.txt`"), "{message}");
    // A repo the cache does not hold: nobody can say who may see it, so nothing is answered.
    let unknown = client().get(format!("{}/api/models/acme/other", mirror.url)).send().unwrap();
    assert_eq!(unknown.status(), 502);
    let message = unknown.headers()["x-error-message"].to_str().unwrap().to_owned();
    assert!(message.contains("did not say who may see acme/other"), "{message}");
}

#[test]
fn dot_segments_never_reach_upstream() {
    let hub = upstream(RepoFixture::model("acme/tiny").file("a.txt", "a\n"));
    let cache = tempfile::tempdir().unwrap();
    let mirror = start_mirror(cache.path(), hub.url(), |c| c.token = Some(hfkit::Token::new(SERVER_TOKEN)));
    let before = hub.requests().len();
    // Sent as written (a client library would remove the dots itself).
    let raw = |request: String| {
        let mut stream = std::net::TcpStream::connect(mirror.url.trim_start_matches("http://")).unwrap();
        std::io::Write::write_all(&mut stream, request.as_bytes()).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
    };
    for path in [
        "/api/models/../whoami-v2",
        "/api/models/acme/tiny/tree/main/%2e%2e/%2e%2e/%2e%2e/%2E%2E/whoami-v2",
        "/api/models/x/y/revision/main/..%5c..%5cwhoami-v2",
        "/acme/tiny/resolve/main/../../../api/whoami-v2",
    ] {
        let answer = raw(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
        assert!(answer.starts_with("HTTP/1.1 404"), "{path}: {answer}");
    }
    let path = "/api/models/nope/nope/paths-info/main/%2e%2e/%2e%2e/%2e%2e/%2e%2e/acme/tiny/paths-info/main";
    let answer = raw(format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 11\r\nConnection: close\r\n\r\npaths=a.txt"
    ));
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
    assert_eq!(hub.requests().len(), before, "nothing went upstream: {:?}", &hub.requests()[before..]);
}

#[test]
fn auth_check_is_the_mirrors_answer_and_writing_is_never_granted_by_upstream() {
    let hub = upstream(RepoFixture::model("acme/tiny").file("a.txt", "a\n"));
    let cache = tempfile::tempdir().unwrap();
    let mirror = start_mirror(cache.path(), hub.url(), |c| c.token = Some(hfkit::Token::new(SERVER_TOKEN)));
    // Cached, so the mirror knows it.
    let got = client().get(format!("{}/acme/tiny/resolve/main/a.txt", mirror.url)).send().unwrap();
    assert_eq!(got.status(), 200);
    let check =
        |suffix: &str| client().get(format!("{}/api/models/acme/tiny/auth-check{suffix}", mirror.url)).send().unwrap();
    assert_eq!(check("").status(), 200, "a public repo is readable");
    assert_eq!(check("/write").status(), 403, "nobody may write through a mirror");
    let carol = client()
        .get(format!("{}/api/models/acme/tiny/auth-check/write", mirror.url))
        .bearer_auth(CLIENT_TOKEN)
        .send()
        .unwrap();
    assert_eq!(carol.status(), 403, "nor a user of the mirror who does not own it");
    assert_eq!(check("/anything/else").status(), 404);
    let before = hub.requests().len();
    check("/write");
    assert_eq!(hub.requests().len(), before, "auth-check/write is never asked upstream");
}

#[test]
fn offline_mode_makes_no_upstream_call() {
    let weights = pseudo_random(5, 50_000);
    let hub = upstream(RepoFixture::model("acme/big").file("a.txt", "a\n").lfs("model.bin", weights.clone()));
    let cache = tempfile::tempdir().unwrap();
    {
        let warm = start_mirror(cache.path(), hub.url(), |_| {});
        client().get(format!("{}/acme/big/resolve/main/model.bin", warm.url)).send().unwrap().bytes().unwrap();
    }
    let calls = hub.requests().len();
    let mirror = start_mirror(cache.path(), hub.url(), |c| c.offline = true);
    let cached = client().get(format!("{}/acme/big/resolve/main/model.bin", mirror.url)).send().unwrap();
    assert_eq!(cached.bytes().unwrap().as_ref(), weights.as_slice());
    let missing = client().get(format!("{}/acme/big/resolve/main/a.txt", mirror.url)).send().unwrap();
    assert_eq!(missing.status(), 404);
    let message = missing.headers()["x-error-message"].to_str().unwrap().to_owned();
    assert!(message.contains("offline"), "{message}");
    let other = client().get(format!("{}/acme/other/resolve/main/a.txt", mirror.url)).send().unwrap();
    assert_eq!(other.status(), 404);
    assert_eq!(hub.requests().len(), calls, "{:#?}", &hub.requests()[calls..]);
}

#[test]
fn a_xet_backed_upstream_file_is_served_as_plain_bytes_without_xet_headers() {
    let weights = pseudo_random(6, 200_000);
    let hub = upstream(RepoFixture::model("acme/big").xet("model.bin", weights.clone()));
    let direct = reqwest::blocking::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let upstream_head = direct.head(format!("{}/acme/big/resolve/main/model.bin", hub.url())).send().unwrap();
    assert_eq!(upstream_head.status(), 302, "the upstream redirects the file's bytes elsewhere");
    assert!(upstream_head.headers().contains_key("x-xet-hash"), "the upstream answers the Xet way");
    let cache = tempfile::tempdir().unwrap();
    let mirror = start_mirror(cache.path(), hub.url(), |_| {});
    let url = format!("{}/acme/big/resolve/main/model.bin", mirror.url);
    for (head, response) in [(true, client().head(&url).send().unwrap()), (false, client().get(&url).send().unwrap())] {
        assert_eq!(response.status(), 200);
        assert!(!response.headers().contains_key("x-xet-hash"), "{:?}", response.headers());
        assert!(!response.headers().contains_key("link"), "{:?}", response.headers());
        assert_eq!(response.headers()["content-length"], weights.len().to_string().as_str());
        if !head {
            assert_eq!(response.bytes().unwrap().as_ref(), weights.as_slice());
        }
    }
    // Listings pass through without Xet hashes either.
    let tree = "/api/models/acme/big/tree/main";
    let upstream_tree = client().get(format!("{}{tree}", hub.url())).send().unwrap().text().unwrap();
    assert!(upstream_tree.contains("xetHash"), "{upstream_tree}");
    let listed: serde_json::Value = client().get(format!("{}{tree}", mirror.url)).send().unwrap().json().unwrap();
    assert_eq!(listed[0]["path"], "model.bin");
    assert!(!listed.to_string().contains("xetHash"), "{listed}");
    let again = client().get(&url).send().unwrap();
    assert!(!again.headers().contains_key("x-xet-hash"));
    assert_eq!(again.bytes().unwrap().as_ref(), weights.as_slice());
}

#[test]
fn the_clients_token_never_reaches_upstream_and_the_servers_token_only_goes_there() {
    let weights = pseudo_random(7, 100_000);
    let hub = upstream(RepoFixture::model("acme/big").lfs("model.bin", weights.clone()).file("a.txt", "a\n"));
    let cache = tempfile::tempdir().unwrap();
    let mirror = start_mirror(cache.path(), hub.url(), |c| c.token = Some(hfkit::Token::new(SERVER_TOKEN)));
    for path in ["model.bin", "a.txt"] {
        let url = format!("{}/acme/big/resolve/main/{path}", mirror.url);
        let got = client().get(&url).bearer_auth(CLIENT_TOKEN).send().unwrap();
        assert_eq!(got.status(), 200);
        got.bytes().unwrap();
    }
    let requests = hub.requests();
    assert!(!requests.is_empty());
    let server = format!("Bearer {}", hfkit::secret::mask(SERVER_TOKEN));
    let client_masked = hfkit::secret::mask(CLIENT_TOKEN);
    for r in &requests {
        let auth = r.authorization.as_deref().unwrap_or_default();
        assert!(!auth.contains(&client_masked), "{r:?}");
        // The CDN gets no token at all; the Hub gets the server's.
        match r.listener {
            "cdn" => assert_eq!(r.authorization, None, "{r:?}"),
            _ => assert_eq!(auth, server, "{r:?}"),
        }
    }
}

#[test]
fn a_client_that_hangs_up_cancels_nothing() {
    let weights = pseudo_random(8, 2_000_000);
    let hub = upstream(RepoFixture::model("acme/big").lfs("model.bin", weights.clone()));
    hub.state()
        .inject(Fault::new(FaultKind::Stall { after: 500_000, pause: Duration::from_millis(500) }, 1).on("/lfs/"));
    let cache = tempfile::tempdir().unwrap();
    let mirror = start_mirror(cache.path(), hub.url(), |_| {});
    let mut response = client().get(format!("{}/acme/big/resolve/main/model.bin", mirror.url)).send().unwrap();
    let mut first = [0; 1000];
    response.read_exact(&mut first).unwrap();
    assert_eq!(&first[..], &weights[..1000]);
    drop(response); // hangs up during the upstream's pause
    let placed = cache.path().join("models--acme--big/blobs").join(sha256(&weights));
    let deadline = Instant::now() + Duration::from_secs(30);
    while !placed.exists() {
        assert!(Instant::now() < deadline, "the fetch did not finish after the client left");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(std::fs::read(&placed).unwrap(), weights);
    assert_eq!(upstream_transfers(&hub, "/lfs/", weights.len()), 1.0);
}

#[test]
fn a_gated_upstream_repo_stays_gated_on_the_mirror_until_the_operator_grants() {
    let weights = pseudo_random(9, 50_000);
    // The server's own token is granted upstream: the mirror could read the files for anyone.
    let hub = upstream(RepoFixture::model("acme/gated").lfs("w.bin", weights.clone()).gated().grant("ops"));
    let cache = tempfile::tempdir().unwrap();
    let mirror = start_mirror(cache.path(), hub.url(), |c| c.token = Some(hfkit::Token::new(SERVER_TOKEN)));
    let url = format!("{}/acme/gated/resolve/main/w.bin", mirror.url);
    let anonymous = client().get(&url).send().unwrap();
    assert_eq!(anonymous.status(), 401);
    assert_eq!(anonymous.headers()["x-error-code"], "GatedRepo");
    let carol = client().get(&url).bearer_auth(CLIENT_TOKEN).send().unwrap();
    assert_eq!(carol.status(), 403);
    assert_eq!(carol.headers()["x-error-code"], "GatedRepo");
    assert_eq!(mirror.mirror.fetches_started(), 0, "nothing was fetched for a refused caller");
    // The repo's metadata stays public, as on the Hub.
    let info = client().get(format!("{}/api/models/acme/gated", mirror.url)).send().unwrap();
    assert_eq!(info.status(), 200);
    // May carol read it? The mirror's rule answers, not upstream's answer to the mirror's token.
    let auth_check = format!("{}/api/models/acme/gated/auth-check", mirror.url);
    let check = client().get(&auth_check).bearer_auth(CLIENT_TOKEN).send().unwrap();
    assert_eq!(check.status(), 403);
    assert_eq!(check.headers()["x-error-code"], "GatedRepo");
    mirror.state.store().grant("model", "acme/gated", "carol").unwrap();
    assert_eq!(client().get(&auth_check).bearer_auth(CLIENT_TOKEN).send().unwrap().status(), 200);
    let granted = client().get(&url).bearer_auth(CLIENT_TOKEN).send().unwrap();
    assert_eq!(granted.status(), 200);
    assert_eq!(granted.bytes().unwrap().to_vec(), weights);
    // Cached now: the rule still holds for others.
    assert_eq!(client().get(&url).send().unwrap().status(), 401);
}

#[test]
fn paths_info_of_a_repo_the_cache_lacks_is_answered_by_upstream() {
    let weights = pseudo_random(4, 70_000);
    let hub = upstream(
        RepoFixture::model("acme/tiny").file("config.json", "{}").lfs("w.bin", weights.clone()).file("sub/a.txt", "a"),
    );
    let cache = tempfile::tempdir().unwrap();
    let mirror = start_mirror(cache.path(), hub.url(), |_| {});
    let ask = |base: &str| -> serde_json::Value {
        let response = client()
            .post(format!("{base}/api/models/acme/tiny/paths-info/main"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("paths=w.bin&paths=sub&paths=missing.txt&expand=false&other=ignored")
            .send()
            .unwrap();
        assert_eq!(response.status(), 200);
        response.json().unwrap()
    };
    let answer = ask(&mirror.url);
    assert_eq!(answer, ask(hub.url()), "upstream's answer, passed on");
    let paths: Vec<&str> = answer.as_array().unwrap().iter().map(|e| e["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["sub", "w.bin"]);
    let weights_entry = answer.as_array().unwrap().iter().find(|e| e["path"] == "w.bin").unwrap();
    assert_eq!(weights_entry["lfs"]["oid"], sha256(&weights));
    assert!(blobs(cache.path()).is_empty(), "nothing was fetched to answer");
    let asked: Vec<_> = hub.requests().into_iter().filter(|r| r.path.contains("paths-info")).collect();
    assert_eq!(asked.len(), 2, "the mirror's request and the direct one: {asked:?}");
    assert!(asked.iter().all(|r| r.method == "POST"), "{asked:?}");
}

#[test]
fn a_mirror_lists_upstreams_repos_that_its_rules_let_the_caller_see() {
    // The mirror's token sees its own private repo upstream: the list must not show it.
    let hub = HubFixture::new()
        .user("ops")
        .token("ops", "mirror", "read", SERVER_TOKEN)
        .repo(RepoFixture::model("acme/open").file("a.txt", "a"))
        .repo(RepoFixture::model("acme/gated").file("a.txt", "a").gated())
        // Spelled upstream in another case than the operator's setting below.
        .repo(RepoFixture::model("Acme/Hidden").file("a.txt", "a"))
        .repo(RepoFixture::model("acme/licensed").file("a.txt", "a"))
        .repo(RepoFixture::model("ops/secret").file("a.txt", "a").private())
        .repo(RepoFixture::dataset("acme/data").file("a.csv", "a"))
        .start();
    let cache = tempfile::tempdir().unwrap();
    let mirror = start_mirror(cache.path(), hub.url(), |c| c.token = Some(hfkit::Token::new(SERVER_TOKEN)));
    // The operator keeps one public upstream repo to acme's members.
    let hidden = private_to_acme("acme/hidden");
    mirror.state.store().set_repo(&hidden).unwrap();
    // And gates another.
    let licensed = hfkit_server::store::RepoSettings {
        id: "acme/licensed".into(),
        visibility: hfkit_server::Visibility::Gated,
        ..hidden.clone()
    };
    mirror.state.store().set_repo(&licensed).unwrap();
    let list = |query: &str, token: Option<&str>| -> Vec<(String, serde_json::Value, serde_json::Value)> {
        let mut request = client().get(format!("{}/api/models{query}", mirror.url));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let answer = request.send().unwrap();
        assert_eq!(answer.status(), 200);
        let items: Vec<serde_json::Value> = answer.json().unwrap();
        items.iter().map(|m| (m["id"].as_str().unwrap().to_owned(), m["private"].clone(), m["gated"].clone())).collect()
    };
    let expected = vec![
        // Upstream's kind of gate is kept.
        ("acme/gated".to_owned(), serde_json::json!(false), serde_json::json!("auto")),
        ("acme/licensed".to_owned(), serde_json::json!(false), serde_json::json!("manual")),
        ("acme/open".to_owned(), serde_json::json!(false), serde_json::json!(false)),
    ];
    let sorted = |mut items: Vec<(String, serde_json::Value, serde_json::Value)>| {
        items.sort_by(|a, b| a.0.cmp(&b.0));
        items
    };
    assert_eq!(sorted(list("", None)), expected);
    assert_eq!(sorted(list("", Some(CLIENT_TOKEN))), expected);
    // Asked upstream without the server's token: its private repos are never in the list.
    let lists: Vec<_> = hub.requests().into_iter().filter(|r| r.path.starts_with("/api/models")).collect();
    assert!(!lists.is_empty() && lists.iter().all(|r| r.authorization.is_none()), "{lists:?}");
    // Upstream's filters apply (search, limit), and datasets are listed apart.
    assert_eq!(list("?search=open&limit=5", None).len(), 1);
    let datasets: Vec<serde_json::Value> =
        client().get(format!("{}/api/datasets", mirror.url)).send().unwrap().json().unwrap();
    assert_eq!(datasets.iter().map(|d| d["id"].as_str().unwrap()).collect::<Vec<_>>(), ["acme/data"]);
    // Upstream refusing lists without a token, or gone: the cache's list answers (empty
    // here), not an error.
    hub.state().set_anonymous_access(false);
    assert_eq!(list("", None), Vec::new());
    drop(hub);
    assert_eq!(list("", None), Vec::new());
    // Upstream gone in the middle of its pages: not the cache's first page again.
    let page = client().get(format!("{}/api/models?cursor=eyJpZCI6MX0", mirror.url)).send().unwrap();
    assert_eq!(page.status(), 502);
}

#[test]
fn the_operators_settings_hold_whatever_the_case_of_the_repo_id() {
    let hub = upstream(RepoFixture::model("acme/tiny").file("a.txt", "a\n"));
    let cache = tempfile::tempdir().unwrap();
    let mirror = start_mirror(cache.path(), hub.url(), |_| {});
    let settings = private_to_acme("acme/tiny");
    mirror.state.store().set_repo(&settings).unwrap();
    let no_redirects =
        reqwest::blocking::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    for path in ["/ACME/Tiny/resolve/main/a.txt", "/api/models/Acme/TINY"] {
        let answer = no_redirects.get(format!("{}{path}", mirror.url)).send().unwrap();
        assert_eq!(answer.status(), 307, "{path}");
        assert!(answer.headers()["location"].to_str().unwrap().contains("acme/tiny"), "{path}");
        // Followed, the private repo's rule answers.
        assert_eq!(client().get(format!("{}{path}", mirror.url)).send().unwrap().status(), 401, "{path}");
    }
}
