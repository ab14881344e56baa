//! The server's answers, status codes and headers, over a real socket.

use hfkit_test::HubFixture;

const TOKEN: &str = "hf_routesToken00000000000000000000001";

fn fixture() -> hfkit_test::RunningHub {
    HubFixture::new()
        .user("alice")
        .org("acme", &["alice"])
        .token("alice", "desk", "write", TOKEN)
        .trusted_publisher("id-token", "acme/m", TOKEN)
        .start()
}

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::new()
}

#[test]
fn whoami_answers_like_the_hub() {
    let hub = fixture();
    let url = format!("{}/api/whoami-v2", hub.url());
    let ok = client().get(&url).bearer_auth(TOKEN).send().unwrap();
    assert_eq!(ok.status(), 200);
    let body: serde_json::Value = ok.json().unwrap();
    assert_eq!(body["name"], "alice");
    assert_eq!(body["type"], "user");
    assert_eq!(body["orgs"][0]["name"], "acme");
    assert_eq!(body["auth"]["accessToken"]["displayName"], "desk");
    assert_eq!(body["auth"]["accessToken"]["role"], "write");
    for request in [client().get(&url), client().get(&url).bearer_auth("hf_nope")] {
        let refused = request.send().unwrap();
        assert_eq!(refused.status(), 401);
        assert_eq!(refused.headers()["x-error-message"], "Invalid credentials in Authorization header");
        let body: serde_json::Value = refused.json().unwrap();
        assert_eq!(body["error"], "Invalid credentials in Authorization header");
    }
    let log = hub.requests();
    assert_eq!(log.len(), 3);
    assert_eq!(log[0].authorization.as_deref(), Some("Bearer hf_****0001"), "the record keeps no token");
    assert_eq!(log[1].authorization, None);
    assert!(!format!("{log:?}").contains(TOKEN));
}

#[test]
fn revoking_a_token_takes_effect_at_once() {
    let hub = fixture();
    hub.state().store().revoke_tokens("alice", None).unwrap();
    let refused = client().get(format!("{}/api/whoami-v2", hub.url())).bearer_auth(TOKEN).send().unwrap();
    assert_eq!(refused.status(), 401);
}

#[test]
fn token_exchange() {
    let hub = fixture();
    let url = format!("{}/oauth/token", hub.url());
    let exchange = |id: &str, resource: &str| {
        client()
            .post(&url)
            .json(&serde_json::json!({
                "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
                "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
                "subject_token": id,
                "resource": resource,
            }))
            .send()
            .unwrap()
    };
    let ok = exchange("id-token", "acme/m");
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.headers()["cache-control"], "no-store", "a token is kept by no cache (RFC 6749 §5.1)");
    let body: serde_json::Value = ok.json().unwrap();
    assert_eq!(body["access_token"], TOKEN);
    assert_eq!(body["expires_in"], 3600);
    for (id, resource) in [("forged", "acme/m"), ("id-token", "acme/other")] {
        let refused = exchange(id, resource);
        assert_eq!(refused.status(), 401);
        let body: serde_json::Value = refused.json().unwrap();
        assert_eq!(body["error"], "invalid_grant");
    }
    let form = client().post(&url).form(&[("grant_type", "password")]).send().unwrap();
    assert_eq!(form.status(), 400);
    let body: serde_json::Value = form.json().unwrap();
    assert_eq!(body["error"], "unsupported_grant_type");
    let form = client().post(&url).form(&[("grant_type", "refresh_token")]).send().unwrap();
    assert_eq!(form.status(), 400);
    let body: serde_json::Value = form.json().unwrap();
    assert_eq!(body["error"], "invalid_request", "the refresh grant needs its token");
    let garbage = client().post(&url).header("content-type", "application/json").body("{").send().unwrap();
    assert_eq!(garbage.status(), 400);
    let missing = client().post(&url).json(&serde_json::json!({"grant_type": "urn:ietf:params:oauth:grant-type:token-exchange", "subject_token_type": "urn:ietf:params:oauth:token-type:id_token"})).send().unwrap();
    assert_eq!(missing.status(), 400);
}

#[test]
fn unknown_routes_are_404_with_a_message() {
    let hub = fixture();
    let r = client().get(format!("{}/api/agent-harnesses", hub.url())).send().unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.headers()["x-error-message"], "Not Found");
}

#[test]
fn the_request_record_is_bounded() {
    let hub = fixture();
    hub.state().set_record_limit(3);
    for n in 0..5 {
        client().get(format!("{}/health?n={n}", hub.url())).send().unwrap();
    }
    let paths: Vec<String> = hub.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/health?n=2", "/health?n=3", "/health?n=4"]);
}

/// A Hub with a repo of three commits, a tag, a branch and a pull request, plus a private
/// repo.
fn repo_fixture() -> (hfkit_test::RunningHub, Vec<String>) {
    use hfkit_test::RepoFixture;
    let mut tiny = RepoFixture::model("acme/tiny").file("a.txt", "1").commit().tag("v1");
    let first = tiny.head();
    tiny = tiny.file("b/c.txt", "2").lfs("w.bin", vec![7u8; 100]).commit().branch("dev").branch("refs/pr/1");
    let second = tiny.head();
    tiny = tiny.file("a.txt", "3").commit();
    let third = tiny.head();
    let hub = HubFixture::new()
        .user("alice")
        .org("acme", &["alice"])
        .token("alice", "desk", "read", TOKEN)
        .repo(tiny)
        .repo(RepoFixture::model("acme/hidden").file("x", "y").private())
        .repo(RepoFixture::dataset("acme/tinyset").file("d.csv", "a"))
        .start();
    (hub, vec![first, second, third])
}

#[test]
fn refs_commits_paths_info_and_lists_answer_like_the_hub() {
    let (hub, commits) = repo_fixture();
    let url = hub.url();
    let json =
        |path: &str| -> serde_json::Value { client().get(format!("{url}{path}")).send().unwrap().json().unwrap() };
    let refs = json("/api/models/acme/tiny/refs?include_prs=1");
    assert_eq!(refs["tags"], serde_json::json!([{"name": "v1", "ref": "refs/tags/v1", "targetCommit": commits[0]}]));
    let branches: Vec<&str> =
        refs["branches"].as_array().unwrap().iter().map(|b| b["name"].as_str().unwrap()).collect();
    assert_eq!(branches, ["dev", "main"]);
    assert_eq!(
        refs["pullRequests"],
        serde_json::json!([{"name": "1", "ref": "refs/pr/1", "targetCommit": commits[1]}])
    );
    assert!(json("/api/models/acme/tiny/refs").get("pullRequests").is_none());

    let log: Vec<String> = json("/api/models/acme/tiny/commits/main")
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(log[..3], [commits[2].clone(), commits[1].clone(), commits[0].clone()], "newest first");
    assert_eq!(log.len(), 4, "and the repo's initial commit");
    let from_dev = json("/api/models/acme/tiny/commits/dev");
    assert_eq!(from_dev.as_array().unwrap().len(), 3);

    let info = client()
        .post(format!("{url}/api/models/acme/tiny/paths-info/{}", &commits[1][..7]))
        .form(&[("paths", "w.bin"), ("paths", "b"), ("paths", "nope"), ("expand", "True")])
        .send()
        .unwrap();
    assert_eq!(info.status(), 200);
    let info: serde_json::Value = info.json().unwrap();
    assert_eq!(info[0]["path"], "b");
    assert_eq!(info[0]["type"], "directory");
    assert_eq!(info[1]["path"], "w.bin");
    assert_eq!(info[1]["size"], 100);
    assert_eq!(info[1]["lfs"]["size"], 100);
    assert_eq!(info[1]["lastCommit"]["id"], commits[1].as_str());

    let full = json("/api/models/acme/tiny?blobs=true");
    assert_eq!(full["siblings"][2]["rfilename"], "w.bin");
    assert_eq!(full["siblings"][2]["size"], 100);
    assert_eq!(full["siblings"][2]["lfs"]["pointerSize"], 128);
    assert!(json("/api/models/acme/tiny")["siblings"][0].get("size").is_none());

    let ids = |v: serde_json::Value| -> Vec<String> {
        v.as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(ids(json("/api/models")), ["acme/tiny"], "a private repo is not listed to strangers");
    let mine = client().get(format!("{url}/api/models?author=acme")).bearer_auth(TOKEN).send().unwrap();
    assert_eq!(ids(mine.json().unwrap()), ["acme/hidden", "acme/tiny"]);
    assert_eq!(ids(json("/api/datasets?search=TINY")), ["acme/tinyset"]);
    assert_eq!(ids(json("/api/models?search=zzz")), Vec::<String>::new());
    assert!(json("/api/models")[0].get("siblings").is_none());

    hub.state().set_tree_page_size(2);
    let page = client().get(format!("{url}/api/models/acme/tiny/tree/main?recursive=true")).send().unwrap();
    let link = page.headers()["link"].to_str().unwrap().to_owned();
    assert!(link.contains("cursor=2") && link.ends_with("rel=\"next\""), "{link}");
}

#[test]
fn the_cdn_serves_a_gated_object_only_through_the_link_its_hub_signed() {
    let weights = hfkit_test::pseudo_random(5, 4096);
    let sha256 = {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(&weights);
        digest.iter().map(|b| format!("{b:02x}")).collect::<String>()
    };
    let hub = HubFixture::new()
        .user("alice")
        .user("bob")
        .token("alice", "desk", "read", TOKEN)
        .token("bob", "desk", "read", "hf_routesBobToken000000000000000000002")
        .repo(hfkit_test::RepoFixture::model("acme/gated").lfs("w.bin", weights.clone()).gated().grant("alice"))
        .start();
    let resolve = format!("{}/acme/gated/resolve/main/w.bin", hub.url());
    let no_redirects =
        reqwest::blocking::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    // Knowing the sha256 is not enough: the CDN wants the signed link.
    let bare = format!("{}/lfs/{sha256}", hub.cdn_url());
    let refused = client().get(&bare).send().unwrap();
    assert_eq!(refused.status(), 403);
    assert_eq!(refused.headers()["x-error-code"], "AccessDenied");
    // A user without a grant gets no link at all.
    let bob = no_redirects.head(&resolve).bearer_auth("hf_routesBobToken000000000000000000002").send().unwrap();
    assert_eq!(bob.status(), 403);
    assert!(bob.headers().get("location").is_none());
    // The granted user's link opens the object, for this object only, untampered.
    let alice = no_redirects.head(&resolve).bearer_auth(TOKEN).send().unwrap();
    assert_eq!(alice.status(), 302);
    let link = alice.headers()["location"].to_str().unwrap().to_owned();
    assert!(link.starts_with(&bare) && link.contains("signature="), "{link}");
    let served = client().get(&link).send().unwrap();
    assert_eq!(served.status(), 200);
    assert_eq!(served.bytes().unwrap().to_vec(), weights);
    let other = link.replace(&sha256, &"0".repeat(64));
    assert_eq!(client().get(&other).send().unwrap().status(), 403);
    let last = if link.ends_with('0') { '1' } else { '0' };
    let tampered = format!("{}{last}", &link[..link.len() - 1]);
    assert_eq!(client().get(&tampered).send().unwrap().status(), 403);
}

#[test]
fn files_carry_their_etag_answer_304_and_every_answer_has_a_cache_policy() {
    use hfkit_test::RepoFixture;
    let mut public = RepoFixture::model("acme/open").file("config.json", "{}").lfs("w.bin", vec![3u8; 64]);
    let commit = public.head();
    let hub = HubFixture::new()
        .user("alice")
        .user("bob")
        .org("acme", &["alice"])
        .token("alice", "desk", "read", TOKEN)
        .repo(public)
        .repo(RepoFixture::model("acme/gate").file("config.json", "{}").gated().grant("alice"))
        .without_cdn()
        .start();
    let get = |path: &str, headers: &[(&str, &str)]| {
        let mut request = client().get(format!("{}{path}", hub.url()));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().unwrap()
    };
    let policy =
        |r: &reqwest::blocking::Response| r.headers().get("cache-control").map(|v| v.to_str().unwrap().to_owned());
    let oid = hfkit_server::repos::git_blob_sha1(b"{}");
    let quoted = format!("\"{oid}\"");

    // By branch: kept, revalidated; the etag it names gets 304 (before any Range), others 200.
    let first = get("/acme/open/resolve/main/config.json", &[]);
    assert_eq!((first.status().as_u16(), first.headers()["etag"].to_str().unwrap()), (200, quoted.as_str()));
    assert_eq!(policy(&first).as_deref(), Some("no-cache"));
    for tag in [quoted.clone(), format!("W/{quoted}"), format!("\"nope\", {quoted}"), "*".to_owned()] {
        let again = get("/acme/open/resolve/main/config.json", &[("if-none-match", &tag), ("range", "bytes=0-0")]);
        assert_eq!(again.status(), 304, "{tag}");
        assert_eq!(again.headers()["etag"].to_str().unwrap(), quoted);
        assert_eq!(again.headers()["x-repo-commit"].to_str().unwrap(), commit);
        assert_eq!(policy(&again).as_deref(), Some("no-cache"));
        assert!(again.bytes().unwrap().is_empty());
    }
    let changed = get("/acme/open/resolve/main/config.json", &[("if-none-match", "\"0000\"")]);
    assert_eq!((changed.status().as_u16(), changed.text().unwrap()), (200, "{}".to_owned()));
    // An LFS file's etag is its sha256, by HEAD as well.
    let lfs = client().head(format!("{}/acme/open/resolve/main/w.bin", hub.url())).send().unwrap();
    let sha = lfs.headers()["etag"].to_str().unwrap().to_owned();
    let lfs = client()
        .head(format!("{}/acme/open/resolve/main/w.bin", hub.url()))
        .header("if-none-match", &sha)
        .send()
        .unwrap();
    assert_eq!(lfs.status(), 304);

    // By full commit hash: never changes.
    let pinned = get(&format!("/acme/open/resolve/{commit}/config.json"), &[]);
    assert_eq!(policy(&pinned).as_deref(), Some("public, max-age=31536000, immutable"));
    let short = get(&format!("/acme/open/resolve/{}/config.json", &commit[..7]), &[]);
    assert_eq!(policy(&short).as_deref(), Some("no-cache"), "a short hash may become ambiguous");

    // A gated repo's file, and whatever depends on the caller: no cache keeps it.
    let gated = get("/acme/gate/resolve/main/config.json", &[("authorization", &format!("Bearer {TOKEN}"))]);
    assert_eq!((gated.status().as_u16(), policy(&gated).as_deref()), (200, Some("private, no-store")));
    let who = get("/api/whoami-v2", &[("authorization", &format!("Bearer {TOKEN}"))]);
    assert_eq!(policy(&who).as_deref(), Some("private, no-store"));
    let info = get("/api/models/acme/gate", &[]);
    assert_eq!((info.status().as_u16(), policy(&info).as_deref()), (200, Some("private, no-store")));

    // The API of a public repo: kept, revalidated; a list by a caller with a token is theirs.
    for path in
        ["/api/models/acme/open", "/api/models/acme/open/tree/main", "/api/models/acme/open/refs", "/api/models"]
    {
        let answer = get(path, &[]);
        assert_eq!((answer.status().as_u16(), policy(&answer).as_deref()), (200, Some("no-cache")), "{path}");
    }
    let mine = get("/api/models", &[("authorization", &format!("Bearer {TOKEN}"))]);
    assert_eq!(policy(&mine).as_deref(), Some("private, no-store"));
    assert_eq!(policy(&get("/health", &[])).as_deref(), Some("no-store"));

    // Errors are answered as the Hub answers them, with no policy.
    let missing = get("/acme/open/resolve/main/missing", &[]);
    assert_eq!((missing.status().as_u16(), policy(&missing)), (404, None));

    // A server refusing anonymous callers shares nothing.
    hub.state().set_anonymous_access(false);
    let pinned =
        get(&format!("/acme/open/resolve/{commit}/config.json"), &[("authorization", &format!("Bearer {TOKEN}"))]);
    assert_eq!(policy(&pinned).as_deref(), Some("private, no-store"));
}
