//! Downloads shared with the real Python client (huggingface_hub 2.4.0) on one cache.

mod common;

use common::{WEIGHTS_LEN, commit_of, context, repo_hub};
use hfkit_test::pseudo_random;

#[test]
fn python_loads_what_we_downloaded_offline() {
    let hub = repo_hub();
    let t = context(&hub);
    t.hf(&["download", "acme/tiny"]).expect_code(0);
    t.hf(&["download", "acme/tiny", "config.json", "--revision", "v1"]).expect_code(0);
    let run = t.python(
        "import os\n\
         os.environ['HF_HUB_OFFLINE'] = '1'\n\
         from huggingface_hub import hf_hub_download, snapshot_download, scan_cache_dir\n\
         p = hf_hub_download('acme/tiny', 'model.safetensors', local_files_only=True)\n\
         print(os.path.getsize(p))\n\
         print(open(hf_hub_download('acme/tiny', 'config.json', revision='v1'), 'rb').read().decode())\n\
         print(sorted(os.listdir(snapshot_download('acme/tiny', local_files_only=True))))\n\
         info = scan_cache_dir()\n\
         print(len(info.warnings), [(r.repo_id, r.repo_type, r.nb_files, sorted(sorted(x.refs) for x in r.revisions)) for r in info.repos])\n",
    );
    let lines: Vec<&str> = run.expect_code(0).stdout.lines().collect();
    assert_eq!(lines[0], WEIGHTS_LEN.to_string());
    assert_eq!(lines[1], r#"{"hidden_size": 8}"#);
    assert_eq!(lines[2], "['README.md', 'config.json', 'model.safetensors', 'sub']");
    assert_eq!(lines[3], "0 [('acme/tiny', 'model', 5, [['main'], ['v1']])]", "{}", run.stdout);
}

#[test]
fn we_find_offline_what_python_downloaded_from_our_server() {
    let hub = repo_hub();
    let mut t = context(&hub);
    let run = t.python(
        "from huggingface_hub import snapshot_download, hf_hub_download\n\
         print(snapshot_download('acme/tiny'))\n\
         print(hf_hub_download('acme/ds', 'data/train.csv', repo_type='dataset'))\n",
    );
    let lines: Vec<String> = run.expect_code(0).stdout.lines().map(str::to_owned).collect();
    let main = commit_of(&hub, "acme/tiny", "main");
    assert!(lines[0].ends_with(&main), "{}", lines[0]);
    t.set_env("HF_HUB_OFFLINE", "1");
    let ours = t.hf(&["download", "acme/tiny", "model.safetensors", "-q"]);
    assert_eq!(std::fs::read(ours.expect_code(0).stdout.trim()).unwrap(), pseudo_random(7, WEIGHTS_LEN));
    assert_eq!(t.hf(&["download", "acme/tiny", "-q"]).expect_code(0).stdout.trim(), lines[0]);
    assert_eq!(t.hf(&["download", "datasets/acme/ds", "data/train.csv", "-q"]).expect_code(0).stdout.trim(), lines[1]);
    // Python's own CLI downloads from our server, gated repo included, with a granted token.
    t.remove_env("HF_HUB_OFFLINE");
    t.set_env("HF_TOKEN", common::WRITE);
    let run = t.python_hf(&["download", "acme/gated", "-q"]);
    assert!(run.expect_code(0).stdout.contains("models--acme--gated/snapshots/"), "{}", run.stdout);
    assert!(hub.requests().iter().filter(|r| r.listener == "cdn").all(|r| r.authorization.is_none()));
}

#[test]
fn python_reports_our_errors_like_the_hub() {
    let hub = repo_hub();
    let t = context(&hub);
    let run = t.python(
        r#"
from huggingface_hub import hf_hub_download
from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError, RevisionNotFoundError, EntryNotFoundError
cases = [(('acme/gated', 'config.json'), {}, GatedRepoError), (('acme/secret', 'config.json'), {}, RepositoryNotFoundError),
         (('acme/tiny', 'config.json'), {'revision': 'v9'}, RevisionNotFoundError), (('acme/tiny', 'nope'), {}, EntryNotFoundError)]
for args, kw, exc in cases:
    try:
        hf_hub_download(*args, **kw)
        print('no error')
    except exc as e:
        print(type(e).__name__)
"#,
    );
    assert_eq!(
        run.expect_code(0).stdout,
        "GatedRepoError\nRepositoryNotFoundError\nRevisionNotFoundError\nRemoteEntryNotFoundError\n"
    );
}

#[test]
fn python_and_we_share_a_local_dir() {
    let hub = repo_hub();
    let t = context(&hub);
    let dir = t.root().join("ld");
    let d = dir.to_str().unwrap();
    t.python(&format!(
        "from huggingface_hub import snapshot_download; snapshot_download('acme/tiny', local_dir='{d}')"
    ))
    .expect_code(0);
    let before = hub.requests().len();
    t.hf(&["download", "acme/tiny", "--local-dir", d]).expect_code(0);
    let fetched: Vec<_> = hub.requests().into_iter().skip(before).filter(|r| !r.path.starts_with("/api/")).collect();
    assert!(fetched.is_empty(), "files Python wrote are recognised as current: {fetched:?}");
}

#[test]
fn tree_listing_cache_is_byte_identical_to_pythons() {
    let hub = repo_hub();
    let t = context(&hub);
    t.python("from huggingface_hub import snapshot_download; snapshot_download('acme/tiny')").expect_code(0);
    let ours = t.root().join("ours");
    t.hf(&["download", "acme/tiny", "--cache-dir", ours.to_str().unwrap()]).expect_code(0);
    let main = commit_of(&hub, "acme/tiny", "main");
    let rel = format!("models--acme--tiny/trees/{main}.json");
    let theirs = std::fs::read_to_string(t.hf_home().join("hub").join(&rel)).unwrap();
    assert_eq!(std::fs::read_to_string(ours.join(&rel)).unwrap(), theirs);
    assert_eq!(common::mode(&ours.join(&rel)), 0o600);
}
