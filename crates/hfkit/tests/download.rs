//! The library's download API: blocking and async, progress events, typed errors.

use std::sync::Mutex;

use hfkit::download::{DownloadError, DownloadOptions, NoProgress, Progress};
use hfkit::repo::Repo;
use hfkit::{Config, Error, Hub};
use hfkit_test::{HubFixture, RepoFixture, pseudo_random};

#[derive(Default)]
struct Recorder(Mutex<Vec<String>>);

impl Progress for Recorder {
    fn planned(&self, files: usize, bytes: u64) {
        self.0.lock().unwrap().push(format!("planned {files} {bytes}"));
    }
    fn file_finished(&self, path: &str) {
        self.0.lock().unwrap().push(format!("finished {path}"));
    }
    fn advanced(&self, _path: &str, _bytes: u64) {}
}

fn fixture() -> hfkit_test::RunningHub {
    HubFixture::new()
        .repo(
            RepoFixture::model("acme/lib")
                .file("a.txt", "alpha")
                .lfs("w.bin", pseudo_random(5, 100_000))
                .gated()
                .grant("alice"),
        )
        .user("alice")
        .token("alice", "t", "read", "hf_aliceLibraryToken000000000000000001")
        .start()
}

/// The library on `hub`, with alice's token and its own HF_HOME.
fn as_alice(hub: &hfkit_test::RunningHub, home: &std::path::Path) -> Hub {
    Hub::builder().endpoint(hub.url()).hf_home(home).token("hf_aliceLibraryToken000000000000000001").build().unwrap()
}

#[test]
fn blocking_snapshot_with_progress() {
    let hub = fixture();
    let home = tempfile::tempdir().unwrap();
    let lib = as_alice(&hub, home.path());
    let lib = hfkit::blocking::Hub::new(lib);
    let recorder = Recorder::default();
    let done = lib.snapshot(Repo::model("acme/lib").unwrap(), &DownloadOptions::default(), &recorder).unwrap();
    assert_eq!(std::fs::read(done.path.join("w.bin")).unwrap(), pseudo_random(5, 100_000));
    let events = recorder.0.lock().unwrap().clone();
    assert_eq!(events[0], "planned 2 100005");
    assert!(
        events.contains(&"finished w.bin".to_owned()) && events.contains(&"finished a.txt".to_owned()),
        "{events:?}"
    );
}

#[tokio::test]
async fn typed_errors() {
    let hub = fixture();
    let home = tempfile::tempdir().unwrap();
    let lib = Hub::new(Config::isolated(home.path(), hub.url()), None);
    let err = lib.repo(Repo::model("acme/lib").unwrap()).download("a.txt").await.unwrap_err();
    match err {
        Error::Download(e) => assert!(matches!(*e, DownloadError::Gated { token_source: None, .. }), "{e}"),
        other => panic!("{other:?}"),
    }
    let options = DownloadOptions { offline: Some(true), ..Default::default() };
    let err =
        lib.repo(Repo::model("acme/lib").unwrap()).download_file("a.txt", &options, &NoProgress).await.unwrap_err();
    assert!(err.to_string().contains("`a.txt` of `acme/lib` at `main` is not in the cache"), "{err}");
    assert!(Repo::model("../etc").is_err());
}

#[tokio::test]
async fn metadata_given_by_the_caller_is_not_asked_again_and_is_still_verified() {
    let hub = fixture();
    let home = tempfile::tempdir().unwrap();
    let lib = as_alice(&hub, home.path());
    let repo = Repo::model("acme/lib").unwrap();
    let token = lib.request_token().await.unwrap();
    let meta = lib.client().unwrap().file_metadata(&repo, "main", "w.bin", token.as_ref()).await.unwrap();
    let heads = || hub.requests().iter().filter(|r| r.method == "HEAD").count();
    let before = heads();
    let options = DownloadOptions { metadata: Some(meta.clone()), ..Default::default() };
    let done = lib.repo(repo.clone()).download_file("w.bin", &options, &NoProgress).await.unwrap();
    assert_eq!(std::fs::read(&done.path).unwrap(), pseudo_random(5, 100_000));
    assert_eq!(heads(), before, "{:#?}", hub.requests());
    // A caller's metadata is a claim like any other: a wrong etag fails verification.
    let other = tempfile::tempdir().unwrap();
    let lib = as_alice(&hub, other.path());
    let mut wrong = meta;
    wrong.etag = hfkit::hashes::Etag::parse(&"ab".repeat(32)).unwrap();
    let options = DownloadOptions { metadata: Some(wrong), ..Default::default() };
    let err = lib.repo(repo).download_file("w.bin", &options, &NoProgress).await.unwrap_err();
    match &err {
        Error::Download(e) => assert!(
            matches!(&**e, DownloadError::Verification { algorithm: "sha256", expected, .. } if *expected == "ab".repeat(32)),
            "{e}"
        ),
        other => panic!("{other:?}"),
    }
    let blobs = other.path().join("hub/models--acme--lib/blobs");
    let kept: Vec<_> = std::fs::read_dir(&blobs).expect("the blobs folder").flatten().map(|e| e.file_name()).collect();
    assert!(kept.is_empty(), "nothing kept after a failed verification: {kept:?}");
}
