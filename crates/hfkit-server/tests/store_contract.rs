//! The `Store` contract, each test a function over `&dyn Store` run on every backend (today
//! SQLite), each on a fresh database file.

use hfkit_server::auth::token::{TokenHash, last_four};
use hfkit_server::store::import::seed;
use hfkit_server::store::{GateSettings, NewSession, NewToken, RepoSettings, RequestStatus};
use hfkit_server::{Accounts, Org, Role, SqliteStore, Store, User, Visibility};

/// Runs `test` on each backend, on a new database file in a temp folder.
fn each_backend(test: impl Fn(&dyn Store, &std::path::Path)) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_dir(&dir.path().join("data")).unwrap();
    test(&store, &dir.path().join("data"));
}

fn user(name: &str, orgs: &[&str]) -> User {
    User { orgs: orgs.iter().map(|o| (*o).to_owned()).collect(), ..User::named(name) }
}

fn token(user: &str, name: &str, value: &str) -> NewToken {
    NewToken {
        hash: TokenHash::of(value),
        last_four: last_four(value),
        user: user.into(),
        name: Some(name.into()),
        role: Role::Read,
    }
}

#[test]
fn users_orgs_and_memberships() {
    each_backend(|store, _| {
        assert!(store.add_org(&Org { name: "lab".into(), fullname: Some("The Lab".into()) }).unwrap());
        assert!(!store.add_org(&Org { name: "lab".into(), fullname: None }).unwrap(), "names are unique");
        assert!(store.add_user(&user("alice", &["lab"])).unwrap());
        assert!(!store.add_user(&user("alice", &[])).unwrap());
        assert!(store.add_user(&user("bob", &[])).unwrap());
        assert!(store.add_member("lab", "bob").unwrap());
        assert!(!store.add_member("lab", "bob").unwrap());
        assert!(store.add_member("lab", "nobody").is_err(), "a member must exist");
        assert_eq!(store.user("alice").unwrap().unwrap().orgs, ["lab"]);
        assert_eq!(store.org("lab").unwrap().unwrap().fullname.as_deref(), Some("The Lab"));
        assert_eq!(store.users().unwrap().iter().map(|u| u.name.as_str()).collect::<Vec<_>>(), ["alice", "bob"]);
        assert!(store.user("carol").unwrap().is_none());
    });
}

#[test]
fn tokens_are_found_by_hash_and_revoked_for_good() {
    each_backend(|store, _| {
        store.add_user(&user("alice", &[])).unwrap();
        let value = "hf_contractAAAAAAAAAAAAAAAAAAAAAAAwxyz";
        let record = store.insert_token(&token("alice", "laptop", value)).unwrap().unwrap();
        assert_eq!(record.masked(), "hf_****wxyz");
        assert!(store.insert_token(&token("alice", "again", value)).unwrap().is_none(), "a hash is stored once");
        assert!(store.insert_token(&token("ghost", "x", "hf_other")).is_err(), "the owner must exist");
        let found = store.token_by_hash(&TokenHash::of(value)).unwrap().unwrap();
        assert_eq!((found.id, found.user.as_str(), found.role), (record.id, "alice", Role::Read));
        assert!(store.token_by_hash(&TokenHash::of("hf_wrong")).unwrap().is_none());
        assert_eq!(store.revoke_tokens("alice", Some("desk")).unwrap(), 0, "only the named token");
        assert_eq!(store.revoke_tokens("alice", Some("laptop")).unwrap(), 1);
        assert!(store.token_by_hash(&TokenHash::of(value)).unwrap().is_none(), "revoked at once");
        assert!(store.tokens(Some("alice")).unwrap().is_empty());
        assert!(store.insert_token(&token("alice", "laptop", value)).unwrap().is_none(), "never comes back");
    });
}

#[test]
fn repo_settings_and_grants() {
    each_backend(|store, _| {
        store.add_user(&user("alice", &[])).unwrap();
        let gated =
            RepoSettings { kind: "model".into(), id: "lab/m".into(), visibility: Visibility::Gated, owner: None };
        assert!(store.seed_repo(&gated).unwrap());
        let private = RepoSettings { visibility: Visibility::Private, owner: Some("lab".into()), ..gated.clone() };
        assert!(!store.seed_repo(&private).unwrap(), "seeding keeps what is set");
        assert_eq!(store.repo("model", "lab/m").unwrap(), Some(gated));
        store.set_repo(&private).unwrap();
        assert_eq!(store.repo("model", "lab/m").unwrap(), Some(private));
        assert!(store.repo("dataset", "lab/m").unwrap().is_none(), "a dataset is another repo");
        assert!(store.grant("model", "lab/m", "alice").unwrap());
        assert!(!store.grant("model", "lab/m", "alice").unwrap());
        assert!(store.grant("model", "lab/m", "ghost").is_err());
        assert_eq!(store.grants("model", "lab/m").unwrap(), ["alice"]);
        assert!(store.revoke_grant("model", "lab/m", "alice").unwrap());
        assert!(!store.revoke_grant("model", "lab/m", "alice").unwrap());
        assert!(!store.seed_grant("model", "lab/m", "alice").unwrap(), "seeding does not undo a revocation");
        assert!(store.grants("model", "lab/m").unwrap().is_empty());
        assert!(store.grant("model", "lab/m", "alice").unwrap(), "the operator can grant again");
    });
}

#[test]
fn a_second_connection_sees_each_change_at_once() {
    each_backend(|store, dir| {
        let other = SqliteStore::open_dir(dir).unwrap();
        other.add_user(&user("alice", &[])).unwrap();
        assert!(store.user("alice").unwrap().is_some());
        let value = "hf_sharedAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        store.insert_token(&token("alice", "t", value)).unwrap().unwrap();
        assert!(other.token_by_hash(&TokenHash::of(value)).unwrap().is_some());
        other.revoke_tokens("alice", None).unwrap();
        assert!(store.token_by_hash(&TokenHash::of(value)).unwrap().is_none());
    });
}

#[test]
fn an_accounts_file_seeds_once_and_the_store_wins_after() {
    each_backend(|store, _| {
        let accounts: Accounts = serde_json::from_value(serde_json::json!({
            "users": [{"name": "alice", "orgs": ["lab"]}, {"name": "bob"}],
            "orgs": [{"name": "lab"}],
            "tokens": [{"token": "hf_seedAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "user": "bob", "name": "desk"}],
            "repos": [{"id": "lab/m", "visibility": "gated", "grants": ["bob"],
                       "request_fields": ["Intended use"], "license": "Be kind."}]
        }))
        .unwrap();
        accounts.check().unwrap();
        let first = seed(store, &accounts).unwrap();
        assert_eq!((first.users, first.tokens, first.repos), (2, 1, 1));
        assert_eq!(store.grants("model", "lab/m").unwrap(), ["bob"]);
        assert_eq!(store.gate("model", "lab/m").unwrap().unwrap().fields, ["Intended use"]);
        store.set_gate(&GateSettings { kind: "model".into(), id: "lab/m".into(), ..GateSettings::default() }).unwrap();
        store.revoke_tokens("bob", None).unwrap();
        store.revoke_grant("model", "lab/m", "bob").unwrap();
        store
            .set_repo(&RepoSettings {
                kind: "model".into(),
                id: "lab/m".into(),
                visibility: Visibility::Public,
                owner: None,
            })
            .unwrap();
        let again = seed(store, &accounts).unwrap();
        assert_eq!((again.users, again.tokens, again.repos), (0, 0, 0));
        assert!(store.tokens(None).unwrap().is_empty());
        assert!(store.grants("model", "lab/m").unwrap().is_empty());
        assert_eq!(store.repo("model", "lab/m").unwrap().unwrap().visibility, Visibility::Public);
        assert!(store.gate("model", "lab/m").unwrap().unwrap().fields.is_empty(), "the operator's gate stays");
    });
}

#[test]
fn a_database_file_from_a_newer_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite3");
    drop(SqliteStore::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("PRAGMA user_version = 99").unwrap();
    drop(conn);
    let err = SqliteStore::open(&path).unwrap_err().to_string();
    assert!(err.contains("schema version 99") && err.contains("newer hf"), "{err}");
}

#[test]
fn passwords_and_sessions() {
    each_backend(|store, _| {
        store.add_user(&user("alice", &[])).unwrap();
        assert_eq!(store.password_hash("alice").unwrap(), None);
        assert!(store.set_password("ghost", "$argon2id$x").is_err(), "the user must exist");
        assert!(store.seed_password("alice", "$argon2id$first").unwrap());
        assert!(!store.seed_password("alice", "$argon2id$second").unwrap(), "a seed does not replace");
        let far = i64::MAX / 2;
        let session = |id: &str, expires_at| NewSession {
            hash: TokenHash::of(id),
            user: "alice".into(),
            csrf: format!("csrf-{id}"),
            expires_at,
        };
        store.insert_session(&session("live", far)).unwrap();
        store.insert_session(&session("old", 1)).unwrap();
        let live = store.session(&TokenHash::of("live")).unwrap().unwrap();
        assert_eq!((live.user.as_str(), live.csrf.as_str()), ("alice", "csrf-live"));
        assert!(store.session(&TokenHash::of("old")).unwrap().is_none(), "an expired session is not live");
        assert!(store.session(&TokenHash::of("other")).unwrap().is_none());
        assert!(store.delete_session(&TokenHash::of("live")).unwrap());
        assert!(!store.delete_session(&TokenHash::of("live")).unwrap());
        store.insert_session(&session("again", far)).unwrap();
        store.set_password("alice", "$argon2id$new").unwrap();
        assert_eq!(store.password_hash("alice").unwrap().as_deref(), Some("$argon2id$new"));
        assert!(store.session(&TokenHash::of("again")).unwrap().is_none(), "a new password ends the sessions");
    });
}

#[test]
fn token_use_and_revoking_one_token_by_id() {
    each_backend(|store, _| {
        store.add_user(&user("alice", &[])).unwrap();
        store.add_user(&user("bob", &[])).unwrap();
        let a = store.insert_token(&token("alice", "a", "hf_useAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")).unwrap().unwrap();
        let b = store.insert_token(&token("alice", "b", "hf_useBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB")).unwrap().unwrap();
        assert!(store.tokens_last_used("alice").unwrap().is_empty());
        store.touch_token(a.id).unwrap();
        let used = store.tokens_last_used("alice").unwrap();
        assert_eq!(used.len(), 1);
        assert_eq!(used[0].0, a.id);
        assert!(!store.revoke_token("bob", a.id).unwrap(), "only the owner's token");
        assert!(store.revoke_token("alice", a.id).unwrap());
        assert!(!store.revoke_token("alice", a.id).unwrap());
        assert_eq!(store.tokens(Some("alice")).unwrap().iter().map(|t| t.id).collect::<Vec<_>>(), [b.id]);
    });
}

#[test]
fn gates_and_access_requests() {
    each_backend(|store, _| {
        store.add_user(&user("bob", &[])).unwrap();
        store.add_user(&user("carol", &[])).unwrap();
        let gate = GateSettings {
            kind: "model".into(),
            id: "lab/m".into(),
            fields: vec!["Intended use".into()],
            license: Some("Be kind.".into()),
            auto_approve: false,
        };
        assert!(store.gate("model", "lab/m").unwrap().is_none());
        assert!(store.seed_gate(&gate).unwrap());
        assert!(!store.seed_gate(&GateSettings { auto_approve: true, ..gate.clone() }).unwrap());
        assert_eq!(store.gate("model", "lab/m").unwrap().unwrap(), gate);
        store.set_gate(&GateSettings { auto_approve: true, ..gate.clone() }).unwrap();
        assert!(store.gate("model", "lab/m").unwrap().unwrap().auto_approve);

        let answers = vec![("Intended use".to_owned(), "research".to_owned())];
        let made = store.request_access("model", "lab/m", "bob", &answers).unwrap();
        assert_eq!((made.status, made.answers.clone()), (RequestStatus::Pending, answers.clone()));
        assert!(store.request_access("model", "lab/m", "ghost", &answers).is_err(), "the user must exist");
        let again = store.request_access("model", "lab/m", "bob", &[]).unwrap();
        assert_eq!(again.answers, answers, "a pending request is kept as it was");
        store.request_access("dataset", "lab/d", "carol", &[]).unwrap();
        let pending = store.access_requests(None, Some(RequestStatus::Pending)).unwrap();
        assert_eq!(pending.len(), 2);
        assert_eq!(store.access_requests(Some(("model", "lab/m")), None).unwrap().len(), 1);

        assert!(store.decide_request("model", "lab/m", "bob", true, "alice").unwrap());
        assert_eq!(store.grants("model", "lab/m").unwrap(), ["bob"], "approval grants, in the same transaction");
        let decided = store.access_request("model", "lab/m", "bob").unwrap().unwrap();
        assert_eq!((decided.status, decided.decided_by.as_deref()), (RequestStatus::Accepted, Some("alice")));
        assert!(store.decide_request("model", "lab/m", "bob", false, "alice").unwrap());
        assert!(store.grants("model", "lab/m").unwrap().is_empty(), "denial takes the grant back");
        assert!(!store.decide_request("model", "lab/m", "carol", true, "alice").unwrap(), "no request, no decision");
        assert!(store.grants("model", "lab/m").unwrap().is_empty());
        // A decided request can be made again, and is pending again.
        let renewed =
            store.request_access("model", "lab/m", "bob", &[("Intended use".into(), "teaching".into())]).unwrap();
        assert_eq!((renewed.status, renewed.decided_by), (RequestStatus::Pending, None));
    });
}

#[test]
fn a_database_file_of_the_first_schema_is_upgraded_and_keeps_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite3");
    {
        let store = SqliteStore::open(&path).unwrap();
        store.add_user(&user("alice", &[])).unwrap();
        store.insert_token(&token("alice", "t", "hf_oldAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")).unwrap().unwrap();
    }
    // Back to the first schema, as an hf of the mirror issue left it.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "DROP TABLE device_codes; DROP TABLE oauth_tokens; DROP TABLE refresh_tokens;
         DROP TABLE sessions; DROP TABLE gates; DROP TABLE access_requests;
         ALTER TABLE users DROP COLUMN password_hash; ALTER TABLE users DROP COLUMN admin;
         ALTER TABLE tokens DROP COLUMN last_used_at;
         PRAGMA user_version = 1;",
    )
    .unwrap();
    drop(conn);
    let store = SqliteStore::open(&path).unwrap();
    assert!(store.token_by_hash(&TokenHash::of("hf_oldAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")).unwrap().is_some());
    store.set_password("alice", "$argon2id$x").unwrap();
    assert_eq!(store.password_hash("alice").unwrap().as_deref(), Some("$argon2id$x"));
}

#[test]
fn browser_login_state_is_shared_by_the_server_and_the_operator() {
    use hfkit_server::oauth::{self, Decision, DeviceFlowSettings};
    each_backend(|store, dir| {
        store.add_user(&user("alice", &[])).unwrap();
        // The operator's command opens the same folder while the server runs.
        let operator = SqliteStore::open_dir(dir).unwrap();
        let settings = DeviceFlowSettings { interval: std::time::Duration::ZERO, ..DeviceFlowSettings::default() };
        let auth = oauth::start(store, &settings, "cli").unwrap();
        let pending = oauth::poll(store, &settings, auth.device_code.expose(), Some("cli")).unwrap_err();
        assert!(pending.to_string().starts_with("authorization_pending"), "{pending}");
        let nobody = oauth::decide(&operator, &auth.user_code, &Decision::Approve { user: "nobody".into() });
        assert!(nobody.is_err(), "only an existing user can approve");
        oauth::decide(&operator, &auth.user_code, &Decision::Approve { user: "alice".into() }).unwrap();
        let issued = oauth::poll(store, &settings, auth.device_code.expose(), Some("cli")).unwrap();
        let record = hfkit_server::auth::find_token(&operator, issued.access_token.expose()).unwrap().unwrap();
        assert_eq!((record.user.as_str(), record.name.as_deref()), ("alice", None));
        let expires = operator.oauth_token_expiry(record.id).unwrap().unwrap();
        assert_eq!(expires - record.created_at, 7 * 86_400);
        // A refresh token is spent once; an expired one never works; the code is not stored.
        let now = hfkit::time::now_unix();
        let hash = TokenHash::of(issued.refresh_token.expose());
        assert_eq!(operator.use_refresh_token(&hash, now).unwrap().as_deref(), Some("alice"));
        assert_eq!(store.use_refresh_token(&hash, now).unwrap(), None);
        let old = TokenHash::of("hfr_old");
        store.insert_refresh_token(&old, "alice", None, now - 1).unwrap();
        assert_eq!(store.use_refresh_token(&old, now).unwrap(), None);
        assert!(store.insert_refresh_token(&TokenHash::of("x"), "nobody", None, now + 60).is_err());
        assert!(store.device_code_by_user_code(&TokenHash::of(&auth.user_code)).unwrap().is_none(), "kept normalized");
        let normalized = oauth::normalize_user_code(&auth.user_code).unwrap();
        assert!(store.device_code_by_user_code(&TokenHash::of(&normalized)).unwrap().is_some());
        assert!(store.tokens(Some("alice")).unwrap().iter().any(|t| t.id == record.id));
        // Revoking every token of the user ends the browser login: no refresh either.
        let live = TokenHash::of("hfr_live");
        store.insert_refresh_token(&live, "alice", None, now + 60).unwrap();
        assert!(operator.revoke_tokens("alice", None).unwrap() >= 1);
        assert!(hfkit_server::auth::find_token(store, issued.access_token.expose()).unwrap().is_none());
        assert_eq!(store.use_refresh_token(&live, now).unwrap(), None);
    });
}
