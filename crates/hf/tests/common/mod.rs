//! Fixtures shared by the CLI tests: one Hub with two users and their tokens.

#![allow(dead_code, unreachable_pub)]

use hfkit_test::{HubFixture, RunningHub, TestContext};

pub const READ: &str = "hf_aliceReadAAAAAAAAAAAAAAAAAAAAAAAAA1";
pub const FINE: &str = "hf_aliceFineBBBBBBBBBBBBBBBBBBBBBBBBB2";
pub const WRITE: &str = "hf_bobWriteCCCCCCCCCCCCCCCCCCCCCCCCCC3";
pub const OAUTH: &str = "hf_oauthDDDDDDDDDDDDDDDDDDDDDDDDDDDDD4";
pub const OIDC: &str = "hf_oidcEEEEEEEEEEEEEEEEEEEEEEEEEEEEEE5";
pub const UNKNOWN: &str = "hf_unknownFFFFFFFFFFFFFFFFFFFFFFFFFFF6";
pub const ALL: [&str; 6] = [READ, FINE, WRITE, OAUTH, OIDC, UNKNOWN];
pub const ID_TOKEN: &str = "eyJ.ci-id-token.sig";

pub fn hub() -> RunningHub {
    HubFixture::new()
        .user("alice")
        .user("bob")
        .org("acme", &["alice", "bob"])
        .org("umbrella", &["alice"])
        .token("alice", "my-read", "read", READ)
        .token("alice", "fine one", "fineGrained", FINE)
        .token("bob", "bob-write", "write", WRITE)
        .oauth_token("alice", OAUTH)
        .token("bob", "ci-publish", "write", OIDC)
        .trusted_publisher(ID_TOKEN, "bob/model", OIDC)
        .start()
}

pub fn context(hub: &RunningHub) -> TestContext {
    TestContext::new(env!("CARGO_MANIFEST_DIR"), hub)
}

/// The mode bits of a path.
pub fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}
