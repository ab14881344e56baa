//! `hf` against a Hub that lies (`hfkit_test::HostileHub`): traversal in a commit hash, in
//! `X-Repo-Commit` and in tree paths; pagination links to another origin and in a loop;
//! endless and oversized bodies; stalls at each phase; a `Retry-After` of a day; wrong bytes;
//! escape sequences in messages. For each: the client fails cleanly, within its time limit,
//! having read a bounded amount, written nothing outside the cache and placed nothing
//! unverified.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hfkit_test::{Body, HostileHub, Reply, RunningHostileHub, TestContext};

const REPO: &str = "evil/repo";
const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";
/// `hello\n` and its git blob id.
const HELLO: &str = "hello\n";
const HELLO_SHA1: &str = "ce013625030ba8dba906f756967f9e9ca394464a";
const TOKEN: &str = "hf_hostileTestTokenAAAAAAAAAAAAAAAAAAAA";

fn context(hub: &RunningHostileHub) -> TestContext {
    let mut t = TestContext::with_endpoint(env!("CARGO_MANIFEST_DIR"), hub.url());
    t.set_env("HF_HUB_DOWNLOAD_RETRY_BASE_MS", "20").set_env("HF_HUB_DOWNLOAD_RETRIES", "1");
    // A file in the home folder that a traversal would reach.
    std::fs::write(t.home().join(".bashrc"), "canary").unwrap();
    t
}

fn revision(sha: &str) -> Reply {
    Reply::json(200, &format!(r#"{{"id":"{REPO}","sha":"{sha}"}}"#))
}

fn tree_path() -> String {
    format!("/api/models/{REPO}/tree/{COMMIT}")
}

/// Every path below `root`, relative (symlinks not followed).
fn tree_of(root: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            out.push(path.strip_prefix(base).unwrap().display().to_string());
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                walk(base, &path, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

/// Nothing outside the cache changed, and the cache holds no snapshot, ref or blob.
#[track_caller]
fn nothing_written(t: &TestContext) {
    assert_eq!(std::fs::read_to_string(t.home().join(".bashrc")).unwrap(), "canary");
    assert_eq!(tree_of(&t.home()), vec![".bashrc".to_owned()], "the home folder is untouched");
    assert_eq!(tree_of(&t.work_dir()), Vec::<String>::new(), "the working folder is untouched");
    let repo = t.hf_home().join("hub/models--evil--repo");
    for sub in ["snapshots", "refs", "blobs", "trees", ".no_exist"] {
        let found = tree_of(&repo.join(sub));
        assert!(found.is_empty(), "{sub}/ holds {found:?}");
    }
}

#[track_caller]
fn no_raw_escapes(run: &hfkit_test::Run) {
    assert!(!run.all_output().contains('\x1b'), "a raw ESC reached the terminal:\n{}", run.all_output());
}

#[test]
fn a_commit_that_climbs_out_of_the_cache_is_refused() {
    let hub = HostileHub::new()
        .route("GET", &format!("/api/models/{REPO}/revision/main"), revision("../../../../home"))
        .start();
    let t = context(&hub);
    let run = t.hf(&["download", REPO]);
    run.expect_code(1);
    assert!(run.stderr.contains("its sha \"../../../../home\" is not a commit hash"), "{}", run.stderr);
    assert!(run.stderr.contains("Nothing was written"), "{}", run.stderr);
    nothing_written(&t);
}

#[test]
fn a_repo_commit_header_that_climbs_out_is_refused() {
    let hub = HostileHub::new()
        .route(
            "HEAD",
            &format!("/{REPO}/resolve/main/config.json"),
            Reply::new(200, Body::Bytes(HELLO.into()))
                .header("X-Repo-Commit", "../../../.ssh")
                .header("ETag", &format!("\"{HELLO_SHA1}\"")),
        )
        .start();
    let t = context(&hub);
    let run = t.hf(&["download", REPO, "config.json"]);
    run.expect_code(1);
    assert!(run.stderr.contains("its X-Repo-Commit header \"../../../.ssh\" is not a commit hash"), "{}", run.stderr);
    nothing_written(&t);
}

#[test]
fn an_etag_that_is_not_a_content_hash_is_refused() {
    let hub = HostileHub::new()
        .route(
            "HEAD",
            &format!("/{REPO}/resolve/main/config.json"),
            Reply::new(200, Body::Bytes(HELLO.into()))
                .header("X-Repo-Commit", COMMIT)
                .header("ETag", "\"../../../../home/x\""),
        )
        .start();
    let t = context(&hub);
    let run = t.hf(&["download", REPO, "config.json"]);
    run.expect_code(1);
    assert!(
        run.stderr.contains("its ETag header \"../../../../home/x\" is not a sha256 or git sha1"),
        "{}",
        run.stderr
    );
    nothing_written(&t);
}

#[test]
fn tree_paths_with_control_characters_are_refused_and_printed_inert() {
    let listing = format!(r#"[{{"type":"file","path":"a\u001b[2J\u001b[31mb.txt","oid":"{HELLO_SHA1}","size":6}}]"#);
    let hub = HostileHub::new()
        .route("GET", &format!("/api/models/{REPO}/revision/main"), revision(COMMIT))
        .route("GET", &tree_path(), Reply::json(200, &listing))
        .start();
    let t = context(&hub);
    let run = t.hf(&["download", REPO]);
    run.expect_code(1);
    assert!(run.stderr.contains("Invalid file path \"a\\x1b[2J\\x1b[31mb.txt\""), "{}", run.stderr);
    no_raw_escapes(&run);
    nothing_written(&t);
}

#[test]
fn a_next_page_on_another_origin_is_refused_and_gets_no_token() {
    let elsewhere = HostileHub::new().start();
    let link = format!("<{}/steal?cursor=2>; rel=\"next\"", elsewhere.url());
    let hub = HostileHub::new()
        .route("GET", &format!("/api/models/{REPO}/revision/main"), revision(COMMIT))
        .route("GET", &tree_path(), Reply::json(200, "[]").header("Link", &link))
        .start();
    let mut t = context(&hub);
    t.set_env("HF_TOKEN", TOKEN);
    let run = t.hf(&["download", REPO]);
    run.expect_code(1);
    assert!(run.stderr.contains("its Link header points to another origin"), "{}", run.stderr);
    assert!(elsewhere.requests().is_empty(), "the other origin was asked: {:?}", elsewhere.requests());
    assert!(!run.all_output().contains(TOKEN));
    nothing_written(&t);
}

#[test]
fn a_pagination_loop_is_detected() {
    let hub = HostileHub::new()
        .route("GET", &format!("/api/models/{REPO}/revision/main"), revision(COMMIT))
        .route(
            "GET",
            &tree_path(),
            Reply::json(200, "[]").header("Link", &format!("<{}?cursor=again>; rel=\"next\"", tree_path())),
        )
        .start();
    let t = context(&hub);
    let run = t.hf(&["download", REPO]);
    run.expect_code(1);
    assert!(run.stderr.contains("points back to a page already read (a loop)"), "{}", run.stderr);
    let pages = hub.requests().iter().filter(|r| r.target.starts_with(&tree_path())).count();
    assert_eq!(pages, 2, "the first page and the one it loops to");
    nothing_written(&t);
}

#[test]
fn an_endless_json_body_stops_at_the_cap() {
    let hub = HostileHub::new()
        .route(
            "GET",
            &format!("/api/models/{REPO}/revision/main"),
            Reply::new(200, Body::Endless(br#"{"id":"evil/repo","sha":""#.to_vec(), b'a')),
        )
        .start();
    let t = context(&hub);
    let run = t.hf(&["download", REPO]);
    run.expect_code(1);
    assert!(run.stderr.contains("its body is larger than 32 MiB"), "{}", run.stderr);
    // What the client took before closing: the cap, plus what socket buffers held.
    let sent = hub.body_bytes_sent();
    assert!(sent < 48 << 20, "{sent} bytes were pushed before the client stopped reading");
    nothing_written(&t);
}

#[test]
fn an_endless_error_body_is_read_only_for_its_message() {
    let hub = HostileHub::new()
        .route(
            "GET",
            "/api/whoami-v2",
            Reply::new(404, Body::Endless(br#"{"error":"nope"#.to_vec(), b'!')).header("X-Error-Code", "Nope"),
        )
        .start();
    let mut t = context(&hub);
    t.set_env("HF_TOKEN", TOKEN);
    let began = Instant::now();
    let run = t.hf(&["auth", "whoami"]);
    assert_ne!(run.code, 0);
    assert!(began.elapsed() < Duration::from_secs(20), "took {:?}", began.elapsed());
    let sent = hub.body_bytes_sent();
    assert!(sent < 16 << 20, "{sent} bytes were pushed before the client stopped reading");
    assert!(!run.all_output().contains(TOKEN));
}

#[test]
fn a_metadata_request_that_never_answers_fails_within_the_etag_timeout() {
    let hub = HostileHub::new().route("HEAD", &format!("/{REPO}/resolve/main/config.json"), Reply::stall()).start();
    let mut t = context(&hub);
    t.set_env("HF_HUB_ETAG_TIMEOUT", "1");
    let began = Instant::now();
    let run = t.hf(&["download", REPO, "config.json"]);
    run.expect_code(1);
    let took = began.elapsed();
    // Two tries of one second each, and a short backoff between them.
    assert!(took < Duration::from_secs(8), "took {took:?}");
    assert!(run.stderr.contains("HF_HUB_ETAG_TIMEOUT"), "{}", run.stderr);
    nothing_written(&t);
}

#[test]
fn a_metadata_body_that_stalls_fails_within_the_etag_timeout() {
    let hub = HostileHub::new()
        .route(
            "GET",
            &format!("/api/models/{REPO}/revision/main"),
            Reply::new(200, Body::StallAfter(br#"{"id":"evil/re"#.to_vec(), 1000)),
        )
        .start();
    let mut t = context(&hub);
    t.set_env("HF_HUB_ETAG_TIMEOUT", "1");
    let began = Instant::now();
    let run = t.hf(&["download", REPO]);
    run.expect_code(1);
    assert!(began.elapsed() < Duration::from_secs(8), "took {:?}", began.elapsed());
    assert!(run.stderr.contains("stalled"), "{}", run.stderr);
    nothing_written(&t);
}

fn file_head() -> Reply {
    Reply::new(200, Body::Bytes(HELLO.into()))
        .header("X-Repo-Commit", COMMIT)
        .header("ETag", &format!("\"{HELLO_SHA1}\""))
}

/// `hf download` of a file whose `GET` is answered with `get`: it fails within the
/// download timeout, saying `why`, and places nothing.
fn fails_within_the_download_timeout(get: Reply, why: &str) {
    let hub = HostileHub::new()
        .route("HEAD", &format!("/{REPO}/resolve/main/config.json"), file_head())
        .route("GET", &format!("/{REPO}/resolve/main/config.json"), get)
        .start();
    let mut t = context(&hub);
    t.set_env("HF_HUB_DOWNLOAD_TIMEOUT", "1");
    let began = Instant::now();
    let run = t.hf(&["download", REPO, "config.json"]);
    run.expect_code(1);
    assert!(began.elapsed() < Duration::from_secs(10), "took {:?}", began.elapsed());
    assert!(run.stderr.contains(why), "{}", run.stderr);
    assert!(blobs(&t).is_empty(), "{:?}", blobs(&t));
}

#[test]
fn a_file_whose_bytes_stall_fails_within_the_download_timeout() {
    fails_within_the_download_timeout(Reply::new(200, Body::StallAfter(b"hel".to_vec(), 6)), "stalled");
}

#[test]
fn a_file_whose_answer_never_comes_fails_within_the_download_timeout() {
    fails_within_the_download_timeout(Reply::stall(), "HF_HUB_DOWNLOAD_TIMEOUT");
}

#[test]
fn a_retry_after_of_a_day_fails_at_once_and_says_why() {
    let hub = HostileHub::new()
        .route(
            "HEAD",
            &format!("/{REPO}/resolve/main/config.json"),
            Reply::json(503, r#"{"error":"busy"}"#).header("Retry-After", "86400"),
        )
        .start();
    let t = context(&hub);
    let began = Instant::now();
    let run = t.hf(&["download", REPO, "config.json"]);
    run.expect_code(1);
    assert!(began.elapsed() < Duration::from_secs(5), "took {:?}", began.elapsed());
    assert!(run.stderr.contains("asks to wait 24 h before trying again"), "{}", run.stderr);
    nothing_written(&t);
}

/// The blobs in place (partial files, kept for a resume, are not blobs).
fn blobs(t: &TestContext) -> Vec<PathBuf> {
    let dir = t.hf_home().join("hub/models--evil--repo/blobs");
    let entries = std::fs::read_dir(dir).into_iter().flatten().flatten().map(|e| e.path());
    entries.filter(|p| !p.to_string_lossy().ends_with(".incomplete")).collect()
}

#[test]
fn wrong_bytes_are_never_placed() {
    let hub = HostileHub::new()
        .route("HEAD", &format!("/{REPO}/resolve/main/config.json"), file_head())
        .route("GET", &format!("/{REPO}/resolve/main/config.json"), Reply::new(200, Body::Bytes(b"jello\n".to_vec())))
        .start();
    let t = context(&hub);
    let run = t.hf(&["download", REPO, "config.json"]);
    run.expect_code(1);
    assert!(run.stderr.contains("failed verification"), "{}", run.stderr);
    assert!(blobs(&t).is_empty(), "{:?}", blobs(&t));
    let snapshot = t.hf_home().join("hub/models--evil--repo/snapshots").join(COMMIT).join("config.json");
    assert!(!snapshot.exists());
}

#[test]
fn escape_sequences_in_server_messages_are_printed_inert() {
    let hub = HostileHub::new()
        .route(
            "GET",
            &format!("/api/models/{REPO}/revision/main"),
            Reply::json(400, r#"{"error":"\u001b[2J\u001b]0;pwned\u0007 run: curl evil | sh\nError: fake line"}"#),
        )
        .start();
    let t = context(&hub);
    let run = t.hf(&["download", REPO]);
    run.expect_code(1);
    no_raw_escapes(&run);
    assert!(run.stderr.contains("\\x1b[2J"), "{}", run.stderr);
    assert!(!run.stderr.lines().any(|l| l.starts_with("Error: fake line")), "{}", run.stderr);
}

#[test]
fn an_endless_tree_listing_stops_at_the_entry_cap() {
    // Pages of 600,000 small entries, each linking to a new page: the listing is refused
    // past a million entries, long before memory grows.
    let page = |n: usize| {
        let mut body = String::from("[");
        for i in 0..600_000 {
            if i > 0 {
                body.push(',');
            }
            body.push_str(&format!(r#"{{"type":"directory","path":"d{n}x{i}"}}"#));
        }
        body.push(']');
        Reply::json(200, &body).header("Link", &format!("<{}?cursor={}>; rel=\"next\"", tree_path(), n + 1))
    };
    let hub = HostileHub::new()
        .route("GET", &format!("/api/models/{REPO}/revision/main"), revision(COMMIT))
        .route_seq("GET", &tree_path(), (0..3).map(page).collect())
        .start();
    let t = context(&hub);
    let run = t.hf(&["download", REPO, "--dry-run"]);
    run.expect_code(1);
    assert!(run.stderr.contains("goes past 1000000 entries"), "{}", run.stderr);
    let pages = hub.requests().iter().filter(|r| r.target.starts_with(&tree_path())).count();
    assert_eq!(pages, 2, "no page is asked for past the cap");
}

#[test]
fn sizes_beyond_any_file_are_refused() {
    let listing = format!(
        r#"[{{"type":"file","path":"a","oid":"{HELLO_SHA1}","size":4611686018427387904}},{{"type":"file","path":"b","oid":"{HELLO_SHA1}","size":4611686018427387904}}]"#
    );
    let hub = HostileHub::new()
        .route("GET", &format!("/api/models/{REPO}/revision/main"), revision(COMMIT))
        .route("GET", &tree_path(), Reply::json(200, &listing))
        .start();
    let t = context(&hub);
    for args in [&["download", REPO, "--dry-run"][..], &["download", REPO]] {
        let run = t.hf(args);
        run.expect_code(1);
        assert!(run.stderr.contains("is beyond any file"), "{}", run.stderr);
    }
    nothing_written(&t);
}

#[test]
fn a_request_that_cannot_be_made_is_not_retried_as_a_network_failure() {
    // The metadata names a location no HTTP client can fetch (another scheme): a local error,
    // said at once, never retried as if the network had failed.
    let hub = HostileHub::new()
        .route(
            "HEAD",
            &format!("/{REPO}/resolve/main/config.json"),
            Reply::new(302, Body::Bytes(Vec::new()))
                .header("Location", "ftp://127.0.0.1/config.json")
                .header("X-Repo-Commit", COMMIT)
                .header("X-Linked-Etag", &format!("\"{HELLO_SHA1}\""))
                .header("X-Linked-Size", "6"),
        )
        .start();
    let mut t = context(&hub);
    t.set_env("HF_HUB_DOWNLOAD_RETRIES", "5");
    let run = t.hf(&["download", REPO, "config.json"]);
    run.expect_code(1);
    assert!(!run.stderr.contains("Retrying"), "{}", run.stderr);
    assert!(blobs(&t).is_empty());
}

/// An expired OAuth login on disk, its refresh answered by `reply`: the files after `hf auth
/// whoami`, and its stderr.
fn refresh_against(reply: Reply) -> (String, String, String) {
    let hub = HostileHub::new()
        .route("POST", "/oauth/token", reply)
        .route("GET", "/api/whoami-v2", Reply::json(200, r#"{"type":"user","name":"alice"}"#))
        .start();
    let t = context(&hub);
    let stored = format!("[oauth-alice]\nhf_token = {TOKEN}\nrefresh_token = hfr_old\nexpires_at = 1000\n\n");
    std::fs::write(t.hf_home().join("stored_tokens"), &stored).unwrap();
    std::fs::write(t.hf_home().join("token"), TOKEN).unwrap();
    let run = t.hf(&["auth", "whoami"]);
    assert_eq!(hub.requests().iter().filter(|r| r.target == "/oauth/token").count(), 1, "one refresh");
    let read = |name| std::fs::read_to_string(t.hf_home().join(name)).unwrap();
    (read("token"), read("stored_tokens"), run.stderr)
}

#[test]
fn a_refresh_answer_with_a_token_that_is_no_token_is_not_saved() {
    for (access, refresh) in [
        (r"hf_evil token", "hfr_new"),
        (r"hf_evil\u001b]0;pwned\u0007\u001b[2J", "hfr_new"),
        (r"hf_evil\nhf_token = hf_planted", "hfr_new"),
        ("hf_goodTokenAAAAAAAAAAAAAAAAAAAAAAAAA", r"hfr_new\n[planted]\nhf_token = hf_planted"),
    ] {
        let body = format!(r#"{{"access_token":"{access}","refresh_token":"{refresh}","expires_in":3600}}"#);
        let (token, stored, stderr) = refresh_against(Reply::json(200, &body));
        assert_eq!(token, TOKEN, "the token file keeps the working token ({access})");
        assert!(!stored.contains("evil") && !stored.contains("planted"), "{stored}");
        assert!(stderr.contains("Could not refresh your Hugging Face access token"), "{stderr}");
        assert!(!stderr.contains('\u{1b}') && !stderr.contains("hfr_old"), "{stderr:?}");
    }
    // An `expires_in` past any date is kept within range, not wrapped into the past.
    let body = r#"{"access_token":"hf_longTokenAAAAAAAAAAAAAAAAAAAAAAAAAA","refresh_token":"hfr_2","expires_in":18446744073709551615}"#;
    let (token, stored, _) = refresh_against(Reply::json(200, body));
    assert_eq!(token, "hf_longTokenAAAAAAAAAAAAAAAAAAAAAAAAAA");
    assert!(stored.contains(&format!("expires_at = {}", i64::MAX)), "{stored}");
}

#[test]
fn a_refresh_redirected_to_another_origin_is_not_followed() {
    let elsewhere = HostileHub::new()
        .route("POST", "/", Reply::json(200, r#"{"access_token":"hf_stolenAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}"#))
        .start();
    let to = format!("{}/oauth/token", elsewhere.url());
    for status in [307, 308] {
        let (token, stored, stderr) = refresh_against(Reply::json(status, "{}").header("location", &to));
        assert!(elsewhere.requests().is_empty(), "the refresh token went to {to}");
        assert_eq!(token, TOKEN);
        assert!(stored.contains("refresh_token = hfr_old"), "{stored}");
        assert!(stderr.contains("Could not refresh your Hugging Face access token"), "{stderr}");
    }
}

#[test]
fn an_endless_refresh_answer_is_cut_short_and_the_token_kept() {
    let started = Instant::now();
    let reply = Reply::new(200, Body::Endless(br#"{"access_token":"hf_"#.to_vec(), b'A'))
        .header("Content-Type", "application/json");
    let (token, stored, stderr) = refresh_against(reply);
    assert_eq!(token, TOKEN);
    assert!(stored.contains("refresh_token = hfr_old"), "{stored}");
    assert!(stderr.contains("Could not refresh your Hugging Face access token"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(20), "{:?}", started.elapsed());
}
