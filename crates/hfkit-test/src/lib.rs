//! Test support for hfkit: a real Hub server with accounts built in code, and a scrubbed
//! environment in which the real `hf` binary (and the real Python client) run.
//!
//! ```no_run
//! use hfkit_test::{HubFixture, TestContext};
//! let hub = HubFixture::new().user("alice").token("alice", "laptop", "read", "hf_alice_laptop_0000000000000000001").start();
//! let t = TestContext::new(env!("CARGO_MANIFEST_DIR"), &hub);
//! let run = t.hf(&["auth", "whoami"]);
//! assert_eq!(run.code, 1); // not logged in yet
//! ```
//!
//! Nothing here touches the developer's real token, home or network: every run gets a fresh
//! temporary `HOME` and `HF_HOME`, and the environment is cleared except for `PATH`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::thread::JoinHandle;

use std::collections::BTreeMap;

mod browser;
mod git_http;
mod hostile;
mod keyring;
pub mod web_client;

pub use browser::{BROWSER_WAIT, Browser, Element};

pub use git_http::{GitHttpServer, GitRequest};
pub use hostile::{Body, HostileHub, MAX_CONNECTION_LIFE, Reply, RunningHostileHub, Seen};
pub use keyring::SecretService;

use hfkit_server::{
    AccessToken, Accounts, FileEntry, HubState, Org, RecordedRequest, Role, StoredRepo, TrustedPublisher, User,
    Visibility,
};

/// Accounts and repositories built in code, then served on 127.0.0.1 (with a CDN on a
/// second port for LFS files).
#[derive(Debug)]
pub struct HubFixture {
    accounts: Accounts,
    repos: Vec<StoredRepo>,
    cdn: bool,
}

impl Default for HubFixture {
    fn default() -> Self {
        Self { accounts: Accounts::default(), repos: Vec::new(), cdn: true }
    }
}

/// A repository built in code: files with real content and real hashes, commits, refs and
/// visibility.
///
/// ```
/// use hfkit_test::RepoFixture;
/// let repo = RepoFixture::model("acme/tiny")
///     .file("config.json", "{}")
///     .lfs("model.safetensors", hfkit_test::pseudo_random(1, 1 << 20))
///     .commit()
///     .tag("v1")
///     .gated();
/// ```
#[derive(Debug)]
pub struct RepoFixture {
    repo: StoredRepo,
    files: BTreeMap<String, FileEntry>,
    pending: bool,
}

impl RepoFixture {
    /// A model repository.
    pub fn model(id: &str) -> Self {
        Self::new("model", id)
    }

    /// A dataset repository.
    pub fn dataset(id: &str) -> Self {
        Self::new("dataset", id)
    }

    /// A Space.
    pub fn space(id: &str) -> Self {
        Self::new("space", id)
    }

    fn new(kind: &str, id: &str) -> Self {
        Self { repo: StoredRepo::new(kind, id), files: BTreeMap::new(), pending: false }
    }

    /// Adds (or replaces) a regular file.
    #[must_use]
    pub fn file(mut self, path: &str, content: impl Into<Vec<u8>>) -> Self {
        self.files.insert(path.to_owned(), FileEntry::regular(content.into()));
        self.pending = true;
        self
    }

    /// Adds (or replaces) an LFS file.
    #[must_use]
    pub fn lfs(mut self, path: &str, content: impl Into<Vec<u8>>) -> Self {
        self.files.insert(path.to_owned(), FileEntry::lfs(content.into()));
        self.pending = true;
        self
    }

    /// Adds (or replaces) a Xet-backed LFS file: the Hub names its Xet hash (`X-Xet-Hash`,
    /// `xetHash`), the sha256 of `xet:` and the content.
    #[must_use]
    pub fn xet(mut self, path: &str, content: impl Into<Vec<u8>>) -> Self {
        self.files.insert(path.to_owned(), FileEntry::xet(content.into()));
        self.pending = true;
        self
    }

    /// Removes a file from the next commit.
    #[must_use]
    pub fn remove(mut self, path: &str) -> Self {
        self.files.remove(path);
        self.pending = true;
        self
    }

    /// Commits the files so far; `main` moves to the new commit.
    #[must_use]
    pub fn commit(mut self) -> Self {
        self.repo.commit(self.files.clone());
        self.pending = false;
        self
    }

    fn flush(&mut self) {
        if self.pending {
            self.repo.commit(self.files.clone());
            self.pending = false;
        }
    }

    /// Points a branch (or `refs/pr/N`) at the newest commit.
    #[must_use]
    pub fn branch(mut self, name: &str) -> Self {
        let head = self.head();
        self.repo.refs.insert(name.to_owned(), head);
        self
    }

    /// Points a tag at the newest commit (the Hub resolves tags like branches, and lists
    /// them as tags).
    #[must_use]
    pub fn tag(mut self, name: &str) -> Self {
        self.repo.tags.insert(name.to_owned());
        self.branch(name)
    }

    /// Only the owner, members of the owning org and granted users can see it.
    #[must_use]
    pub fn private(mut self) -> Self {
        self.repo.visibility = Visibility::Private;
        self
    }

    /// Files need an accepted license (owner, members and granted users).
    #[must_use]
    pub fn gated(mut self) -> Self {
        self.repo.visibility = Visibility::Gated;
        self
    }

    /// Grants `user` access (an accepted license, or an invitation to a private repo).
    #[must_use]
    pub fn grant(mut self, user: &str) -> Self {
        self.repo.granted.push(user.to_owned());
        self
    }

    /// The newest commit hash (after committing pending files).
    pub fn head(&mut self) -> String {
        self.flush();
        self.repo.history.last().cloned().expect("a repo has a commit")
    }

    /// The finished repository.
    pub fn build(mut self) -> StoredRepo {
        self.flush();
        self.repo
    }
}

/// Deterministic bytes that do not compress, for file contents.
pub fn pseudo_random(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

impl HubFixture {
    /// No users, no tokens.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a user.
    #[must_use]
    pub fn user(mut self, name: &str) -> Self {
        let fullname = Some(format!("{} Example", capitalize(name)));
        self.accounts.users.push(User { fullname, ..User::named(name) });
        self
    }

    /// Sets `user`'s web password (stored as an argon2 hash, as `hf serve user passwd` does).
    #[must_use]
    pub fn password(mut self, user: &str, password: &str) -> Self {
        let hash = hfkit_server::auth::password::hash(password).expect("hash a password");
        let user = self.accounts.users.iter_mut().find(|u| u.name == user).expect("add the user first");
        user.password_hash = Some(hash);
        self
    }

    /// Makes `user` the operator on the web pages (every repo, every access request).
    #[must_use]
    pub fn admin(mut self, user: &str) -> Self {
        self.accounts.users.iter_mut().find(|u| u.name == user).expect("add the user first").admin = true;
        self
    }

    /// Gates the model `id` with a request form: the `fields` to answer, a `license` to
    /// agree to, and whether requests are approved at once.
    #[must_use]
    pub fn request_form(mut self, id: &str, fields: &[&str], license: Option<&str>, auto_approve: bool) -> Self {
        self.accounts.repos.push(hfkit_server::RepoEntry {
            id: id.to_owned(),
            kind: "model".to_owned(),
            visibility: Visibility::Gated,
            owner: None,
            grants: Vec::new(),
            request_fields: fields.iter().map(|f| (*f).to_owned()).collect(),
            license: license.map(str::to_owned),
            auto_approve,
        });
        self
    }

    /// Adds an organization with `members`.
    #[must_use]
    pub fn org(mut self, name: &str, members: &[&str]) -> Self {
        self.accounts.orgs.push(Org { name: name.to_owned(), fullname: Some(name.to_uppercase()) });
        for member in members {
            let user = self.accounts.users.iter_mut().find(|u| u.name == *member).expect("add the user first");
            user.orgs.push(name.to_owned());
        }
        self
    }

    /// Adds an access token named `display_name` with `role` (`read`, `write`, `fineGrained`).
    #[must_use]
    pub fn token(mut self, user: &str, display_name: &str, role: &str, value: &str) -> Self {
        let role = match role {
            "read" => Role::Read,
            "write" => Role::Write,
            "fineGrained" => Role::FineGrained,
            other => panic!("unknown role {other}"),
        };
        self.accounts.tokens.push(AccessToken {
            token: value.to_owned(),
            user: user.to_owned(),
            name: Some(display_name.to_owned()),
            role,
        });
        self
    }

    /// Adds an OAuth token (no display name: clients store it as `oauth-<user>`).
    #[must_use]
    pub fn oauth_token(mut self, user: &str, value: &str) -> Self {
        self.accounts.tokens.push(AccessToken {
            token: value.to_owned(),
            user: user.to_owned(),
            name: None,
            role: Role::Read,
        });
        self
    }

    /// Lets a CI job holding `id_token` exchange it for `token` scoped to `resource`.
    #[must_use]
    pub fn trusted_publisher(mut self, id_token: &str, resource: &str, token: &str) -> Self {
        self.accounts.trusted_publishers.push(TrustedPublisher {
            id_token: id_token.to_owned(),
            resource: resource.to_owned(),
            token: token.to_owned(),
        });
        self
    }

    /// Adds a repository.
    #[must_use]
    pub fn repo(mut self, repo: RepoFixture) -> Self {
        self.repos.push(repo.build());
        self
    }

    /// Serves LFS files directly instead of redirecting to the CDN listener.
    #[must_use]
    pub fn without_cdn(mut self) -> Self {
        self.cdn = false;
        self
    }

    /// The accounts as built.
    pub fn accounts(&self) -> &Accounts {
        &self.accounts
    }

    /// Serves the accounts on a free port of 127.0.0.1 until the returned handle drops.
    pub fn start(self) -> RunningHub {
        let state = HubState::with_repos(self.accounts, self.repos).expect("the fixture's accounts seed a store");
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let served = Arc::clone(&state);
        let with_cdn = self.cdn;
        let thread = std::thread::spawn(move || {
            let rt =
                tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
            rt.block_on(async move {
                let hub = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1");
                let cdn = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1");
                let cdn_addr = cdn.local_addr().expect("local addr");
                if with_cdn {
                    served.set_cdn_url(Some(hfkit_server::local_url(cdn_addr)));
                }
                addr_tx.send((hub.local_addr().expect("local addr"), cdn_addr)).expect("report address");
                let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
                    let _ = rx.wait_for(|stop| *stop).await;
                };
                let cdn_task =
                    tokio::spawn(hfkit_server::serve_cdn(cdn, Arc::clone(&served), stopped(stop_rx.clone())));
                hfkit_server::serve(hub, served, stopped(stop_rx)).await.expect("serve");
                let _ = cdn_task.await;
            });
        });
        let (addr, cdn_addr) = addr_rx.recv().expect("the server starts");
        RunningHub {
            url: hfkit_server::local_url(addr),
            cdn_url: hfkit_server::local_url(cdn_addr),
            state,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// A server running in a background thread; stops when dropped.
#[derive(Debug)]
pub struct RunningHub {
    url: String,
    cdn_url: String,
    state: Arc<HubState>,
    stop: Option<tokio::sync::watch::Sender<bool>>,
    thread: Option<JoinHandle<()>>,
}

impl RunningHub {
    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The CDN listener's base URL.
    pub fn cdn_url(&self) -> &str {
        &self.cdn_url
    }

    /// Every request served so far (Hub and CDN).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state.requests()
    }

    /// The live state (to revoke tokens mid-test).
    pub fn state(&self) -> &HubState {
        &self.state
    }
}

impl Drop for RunningHub {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(true);
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The outcome of one process.
#[derive(Debug, Clone)]
pub struct Run {
    /// Exit status (-1 when killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    /// Everything the process printed, for "never contains" assertions.
    pub fn all_output(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    /// Panics with the full output unless the exit status is `code`.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "unexpected exit status\n--- stdout\n{}\n--- stderr\n{}", self.stdout, self.stderr);
        self
    }
}

/// A scrubbed environment: temporary `HOME`, `HF_HOME` and working folder, `HF_ENDPOINT`
/// set to a running hub, nothing inherited but `PATH`.
#[derive(Debug)]
pub struct TestContext {
    dir: tempfile::TempDir,
    workspace: PathBuf,
    env: Vec<(String, String)>,
}

impl TestContext {
    /// A context for a test of the crate at `manifest_dir` (pass `env!("CARGO_MANIFEST_DIR")`).
    pub fn new(manifest_dir: &str, hub: &RunningHub) -> Self {
        Self::with_endpoint(manifest_dir, hub.url())
    }

    /// A context whose `HF_ENDPOINT` is `endpoint` (a [`HostileHub`], say).
    pub fn with_endpoint(manifest_dir: &str, endpoint: &str) -> Self {
        let dir = tempfile::Builder::new().prefix("hfkit-test").tempdir().expect("temp dir");
        for sub in ["home", "hf", "work"] {
            std::fs::create_dir_all(dir.path().join(sub)).expect("create folder");
        }
        let workspace = Path::new(manifest_dir).ancestors().nth(2).expect("workspace root").to_owned();
        let mut t = Self { dir, workspace, env: Vec::new() };
        let home = t.home().display().to_string();
        let hf_home = t.hf_home().display().to_string();
        t.env = vec![
            ("PATH".into(), std::env::var("PATH").unwrap_or_default()),
            ("HOME".into(), home.clone()),
            ("XDG_CONFIG_HOME".into(), format!("{home}/.config")),
            ("HF_HOME".into(), hf_home),
            ("HF_ENDPOINT".into(), endpoint.to_owned()),
            ("HF_HUB_DISABLE_UPDATE_CHECK".into(), "1".into()),
            ("GIT_CONFIG_NOSYSTEM".into(), "1".into()),
            ("LANG".into(), "C.UTF-8".into()),
            ("NO_COLOR".into(), "1".into()),
            ("COLUMNS".into(), "200".into()),
        ];
        t
    }

    /// Sets a variable for every later run.
    pub fn set_env(&mut self, name: &str, value: &str) -> &mut Self {
        self.env.retain(|(k, _)| k != name);
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Removes a variable for every later run.
    pub fn remove_env(&mut self, name: &str) -> &mut Self {
        self.env.retain(|(k, _)| k != name);
        self
    }

    /// The temporary root.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// `$HOME`.
    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    /// `$HF_HOME`.
    pub fn hf_home(&self) -> PathBuf {
        self.dir.path().join("hf")
    }

    /// The working folder of every run.
    pub fn work_dir(&self) -> PathBuf {
        self.dir.path().join("work")
    }

    /// The `hf` binary built by cargo for this test run.
    pub fn hf_bin(&self) -> PathBuf {
        if let Ok(path) = std::env::var("CARGO_BIN_EXE_hf") {
            return PathBuf::from(path);
        }
        let target = std::env::var("CARGO_TARGET_DIR").map_or_else(|_| self.workspace.join("target"), PathBuf::from);
        target.join("debug").join("hf")
    }

    /// A command with the scrubbed environment, in the working folder.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.env_clear().envs(self.env.iter().map(|(k, v)| (k, v))).current_dir(self.work_dir());
        cmd
    }

    /// Runs `hf args…` with no standard input.
    pub fn hf(&self, args: &[&str]) -> Run {
        self.run(self.command(self.hf_bin()).args(args), None)
    }

    /// Runs `hf args…` with `stdin` piped in.
    pub fn hf_with_stdin(&self, args: &[&str], stdin: &str) -> Run {
        self.run(self.command(self.hf_bin()).args(args), Some(stdin))
    }

    /// The Python interpreter with huggingface_hub 2.4.0: `HFKIT_TEST_PYTHON`, else the
    /// workspace's `.venv` that `.ci/run` creates.
    pub fn python_bin(&self) -> PathBuf {
        let path =
            std::env::var("HFKIT_TEST_PYTHON").map_or_else(|_| self.workspace.join(".venv/bin/python"), PathBuf::from);
        assert!(
            path.exists(),
            "the Python interop tests need huggingface_hub 2.4.0 in {}; run `bash .ci/run` once, or set HFKIT_TEST_PYTHON",
            path.display()
        );
        path
    }

    /// Runs a Python snippet with the same environment.
    pub fn python(&self, code: &str) -> Run {
        self.run(self.command(self.python_bin()).arg("-c").arg(code), None)
    }

    /// Runs Python's own `hf` CLI (huggingface_hub 2.4.0) with the same environment.
    pub fn python_hf(&self, args: &[&str]) -> Run {
        let hf = self.python_bin().with_file_name("hf");
        self.run(self.command(hf).args(args), None)
    }

    /// Runs a prepared command.
    pub fn run(&self, cmd: &mut Command, stdin: Option<&str>) -> Run {
        cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn");
        if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
            pipe.write_all(input.as_bytes()).expect("write stdin");
        }
        let out = child.wait_with_output().expect("wait");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// A stable rendering of a run for snapshots: status, stdout, stderr, with the temporary
    /// root shown as `[TMP]` and the server's address as `[HUB]`.
    pub fn snapshot(&self, run: &Run, hub: &RunningHub) -> String {
        let clean = |s: &str| s.replace(&self.dir.path().display().to_string(), "[TMP]").replace(hub.url(), "[HUB]");
        format!("exit: {}\n--- stdout\n{}--- stderr\n{}", run.code, clean(&run.stdout), clean(&run.stderr))
    }
}
