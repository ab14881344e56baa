//! The library's public API against a real server: token detection, whoami, login, errors.

use hfkit::api::ApiError;
use hfkit::auth::TokenSource;
use hfkit::{Config, Error, Hub, Token};
use hfkit_test::HubFixture;

const TOKEN: &str = "hf_libraryToken0000000000000000000001";

fn fixture() -> hfkit_test::RunningHub {
    HubFixture::new().user("alice").token("alice", "lib", "read", TOKEN).start()
}

fn config(hub: &hfkit_test::RunningHub, home: &std::path::Path, vars: &[(&str, &str)]) -> Config {
    let mut all: Vec<(String, String)> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    all.push(("HF_HOME".into(), home.display().to_string()));
    all.push(("HF_ENDPOINT".into(), hub.url().to_owned()));
    Config::from_lookup(|k| all.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())).unwrap()
}

#[tokio::test]
async fn token_from_environment_carries_its_source() {
    let hub = fixture();
    let home = tempfile::tempdir().unwrap();
    let lib = Hub::new(config(&hub, home.path(), &[("HF_TOKEN", TOKEN)]), None);
    let found = lib.token().await.unwrap().unwrap();
    assert_eq!(found.source, TokenSource::Env("HF_TOKEN"));
    assert_eq!(lib.whoami().await.unwrap().name, "alice");
    // Implicit tokens are not sent when disabled, but get_token() still finds them.
    let lib = Hub::new(config(&hub, home.path(), &[("HF_TOKEN", TOKEN), ("HF_HUB_DISABLE_IMPLICIT_TOKEN", "1")]), None);
    assert!(lib.request_token().await.unwrap().is_none());
    assert!(lib.token().await.unwrap().is_some());
}

#[tokio::test]
async fn builder_reads_no_token_from_the_environment() {
    let hub = fixture();
    let home = tempfile::tempdir().unwrap();
    let lib = Hub::builder().endpoint(hub.url()).hf_home(home.path()).build().unwrap();
    assert!(lib.token().await.unwrap().is_none());
    assert!(matches!(lib.whoami().await, Err(Error::NotLoggedIn)));
    let lib = Hub::builder().endpoint(hub.url()).hf_home(home.path()).token(TOKEN).build().unwrap();
    assert_eq!(lib.token().await.unwrap().unwrap().source, TokenSource::Explicit);
    assert!(Hub::builder().token(" spaced ").build().is_err());
}

#[tokio::test]
async fn login_saves_only_valid_tokens() {
    let hub = fixture();
    let home = tempfile::tempdir().unwrap();
    let lib = Hub::new(config(&hub, home.path(), &[]), None);
    let err = lib.login(Token::new("hf_unknown_token_000000000000000000")).await.unwrap_err();
    match &err {
        Error::Api(api)
            if matches!(**api, ApiError::Unauthorized { token_source: Some(TokenSource::Explicit), .. }) => {}
        other => panic!("{other:?}"),
    }
    assert!(!home.path().join("token").exists());
    let login = lib.login(Token::new(TOKEN)).await.unwrap();
    assert_eq!(login.token_name, "lib");
    assert_eq!(std::fs::read_to_string(home.path().join("token")).unwrap(), TOKEN);
    let found = lib.token().await.unwrap().unwrap();
    assert_eq!(found.source, TokenSource::File(home.path().join("token")));
}

#[test]
fn blocking_wrapper_runs_the_same_code() {
    let hub = fixture();
    let home = tempfile::tempdir().unwrap();
    let lib = hfkit::blocking::Hub::new(Hub::new(config(&hub, home.path(), &[("HF_TOKEN", TOKEN)]), None));
    assert_eq!(lib.whoami().unwrap().name, "alice");
    let debug = format!("{:?}", lib.token().unwrap());
    assert!(!debug.contains(TOKEN), "Debug masks the token: {debug}");
}

#[tokio::test]
async fn errors_never_contain_the_token() {
    let hub = fixture();
    let home = tempfile::tempdir().unwrap();
    hub.state().store().revoke_tokens("alice", None).unwrap();
    let lib = Hub::new(config(&hub, home.path(), &[("HF_TOKEN", TOKEN)]), None);
    let err = lib.whoami().await.unwrap_err();
    assert!(!format!("{err}{err:?}").contains(TOKEN));
    assert!(err.to_string().contains("HF_TOKEN"), "{err}");
}
