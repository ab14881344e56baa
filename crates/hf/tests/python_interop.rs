//! Interop with the real Python client, huggingface_hub 2.4.0: same files, same server.
//!
//! Each test runs Python and our `hf` in turn on one `HF_HOME`, against our server.

mod common;

use common::{FINE, ID_TOKEN, OIDC, READ, WRITE, context, hub};

const GET_TOKEN: &str = "from huggingface_hub import get_token; print(get_token())";

#[test]
fn python_reads_the_token_we_saved() {
    let hub = hub();
    let t = context(&hub);
    t.hf(&["auth", "login", "--token", READ]).expect_code(0);
    t.hf(&["auth", "login", "--token", FINE]).expect_code(0);
    t.hf(&["auth", "switch", "--token-name", "my-read"]).expect_code(0);
    assert_eq!(t.python(GET_TOKEN).expect_code(0).stdout, format!("{READ}\n"));
    let stored = t.python("from huggingface_hub.utils import get_stored_tokens as g; print(sorted(g().items()))");
    assert_eq!(stored.expect_code(0).stdout, format!("[('fine one', '{FINE}'), ('my-read', '{READ}')]\n"));
    // Python's own CLI lists what we wrote, with the active one marked.
    let list = t.python_hf(&["auth", "list"]);
    assert!(list.expect_code(0).stdout.contains("* my-read"), "{}", list.stdout);
}

#[test]
fn we_read_and_switch_tokens_python_saved() {
    let hub = hub();
    let t = context(&hub);
    let login = "from huggingface_hub import login; login(token='{T}')";
    t.python(&login.replace("{T}", READ)).expect_code(0);
    t.python(&login.replace("{T}", WRITE)).expect_code(0);
    let list = t.hf(&["auth", "list"]);
    assert!(list.expect_code(0).stdout.contains("* bob-write"), "{}", list.stdout);
    assert!(list.stdout.contains("  my-read"), "{}", list.stdout);
    t.hf(&["auth", "switch", "--token-name", "my-read"]).expect_code(0);
    assert_eq!(t.python(GET_TOKEN).stdout, format!("{READ}\n"), "Python sees our switch");
    // And the reverse: Python switches, we follow.
    t.python_hf(&["auth", "switch", "--token-name", "bob-write"]).expect_code(0);
    assert_eq!(t.hf(&["auth", "token"]).expect_code(0).stdout, format!("{WRITE}\n"));
    // Logging out with Python leaves nothing for us, and the other way round.
    t.python_hf(&["auth", "logout", "--token-name", "bob-write"]).expect_code(0);
    let list = t.hf(&["auth", "list", "--json"]);
    let json: serde_json::Value = serde_json::from_str(&list.stdout).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 1);
    t.hf(&["auth", "logout"]).expect_code(0);
    assert_eq!(t.python(GET_TOKEN).stdout, "None\n");
}

#[test]
fn python_reads_oauth_entries_we_wrote() {
    let hub = hub();
    let t = context(&hub);
    // An OAuth entry as our library stores it, read back by Python's parser.
    std::fs::create_dir_all(t.hf_home()).unwrap();
    let mut stored = hfkit::auth::stored_tokens::StoredTokens::default();
    let entry = hfkit::auth::stored_tokens::StoredToken::new(&hfkit::Token::new(common::OAUTH))
        .with_oauth(Some("rt_1"), Some(4_102_444_800));
    stored.insert("oauth-alice", entry).unwrap();
    std::fs::write(t.hf_home().join("stored_tokens"), stored.render()).unwrap();
    let run = t.python("from huggingface_hub.utils._auth import _read_stored_tokens_full as r; print(r())");
    assert_eq!(
        run.expect_code(0).stdout,
        format!(
            "{{'oauth-alice': {{'hf_token': '{}', 'refresh_token': 'rt_1', 'expires_at': '4102444800'}}}}\n",
            common::OAUTH
        )
    );
}

#[test]
fn python_whoami_works_against_our_server() {
    let hub = hub();
    let mut t = context(&hub);
    t.set_env("HF_TOKEN", FINE);
    let run = t.python(
        "from huggingface_hub import whoami; w = whoami(); \
         print(w['name'], [o['name'] for o in w['orgs']], w['auth']['accessToken']['displayName'], w['auth']['accessToken']['role'])",
    );
    assert_eq!(run.expect_code(0).stdout, "alice ['acme', 'umbrella'] fine one fineGrained\n");
    let run = t.python_hf(&["auth", "whoami", "--format", "json"]);
    assert_eq!(
        run.expect_code(0).stdout.trim(),
        format!(r#"{{"user": "alice", "orgs": "acme,umbrella", "endpoint": "{}"}}"#, hub.url())
    );
    // Python's invalid-token path against our 401.
    t.set_env("HF_TOKEN", common::UNKNOWN);
    let run = t.python_hf(&["auth", "whoami"]);
    run.expect_code(1);
    assert!(run.stderr.contains("Invalid user token."), "{}", run.stderr);
}

#[test]
fn python_oidc_exchange_against_our_server() {
    let hub = hub();
    let mut t = context(&hub);
    t.set_env("HF_OIDC_RESOURCE", "bob/model").set_env("HF_OIDC_ID_TOKEN", ID_TOKEN);
    assert_eq!(t.python(GET_TOKEN).expect_code(0).stdout, format!("{OIDC}\n"));
    assert_eq!(t.hf(&["auth", "token"]).expect_code(0).stdout, format!("{OIDC}\n"), "we agree");
}

#[test]
fn our_outputs_match_pythons_where_they_overlap() {
    let hub = hub();
    let t = context(&hub);
    t.hf(&["auth", "login", "--token", READ]).expect_code(0);
    for args in [["auth", "whoami", "--format", "quiet"], ["auth", "token", "--format", "quiet"]] {
        let ours = t.hf(&args);
        let theirs = t.python_hf(&args);
        assert_eq!(ours.stdout, theirs.stdout, "{args:?}");
        assert_eq!(ours.code, theirs.code, "{args:?}");
    }
    let ours = t.hf(&["auth", "whoami", "--format", "json"]);
    let theirs = t.python_hf(&["auth", "whoami", "--format", "json"]);
    let ours: serde_json::Value = serde_json::from_str(&ours.stdout).unwrap();
    let theirs: serde_json::Value = serde_json::from_str(&theirs.stdout).unwrap();
    for (key, value) in theirs.as_object().unwrap() {
        assert_eq!(&ours[key], value, "{key}: our JSON keeps every field Python prints");
    }
}
