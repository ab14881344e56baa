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

/// Bytes of the LFS weights in [`repo_hub`] (3 MiB + 5: several chunks and a ragged end).
pub const WEIGHTS_LEN: usize = (3 << 20) + 5;

/// A Hub with repositories: public `acme/tiny` (regular and LFS files, nested folders,
/// branch, tag and PR), gated `acme/gated` (bob is granted), private `acme/secret`
/// (alice is a member of acme), and dataset `acme/ds`.
pub fn repo_hub() -> RunningHub {
    use hfkit_test::{RepoFixture, pseudo_random};
    let tiny = RepoFixture::model("acme/tiny")
        .file("config.json", r#"{"hidden_size": 8}"#)
        .file("README.md", "# tiny\n")
        .commit()
        .tag("v1")
        .file("config.json", r#"{"hidden_size": 16}"#)
        .file("sub/dir/data.txt", "nested\n")
        .lfs("model.safetensors", pseudo_random(7, WEIGHTS_LEN))
        .branch("dev")
        .branch("refs/pr/1");
    HubFixture::new()
        .user("alice")
        .user("bob")
        .user("carol")
        .org("acme", &["alice"])
        .token("alice", "my-read", "read", READ)
        .token("bob", "bob-write", "write", WRITE)
        .token("carol", "carol", "read", FINE)
        .repo(tiny)
        .repo(
            RepoFixture::model("acme/gated")
                .file("config.json", "{}")
                .lfs("w.bin", pseudo_random(2, 1000))
                .gated()
                .grant("bob"),
        )
        .repo(RepoFixture::model("acme/secret").file("config.json", "{\"secret\": true}").private())
        .repo(RepoFixture::dataset("acme/ds").file("data/train.csv", "a,b\n1,2\n"))
        .start()
}

/// The commit a branch or tag of a fixture repo points to.
pub fn commit_of(hub: &RunningHub, id: &str, revision: &str) -> String {
    let repos = hub.state().repos();
    let repo = repos.values().find(|r| r.id == id).expect("repo exists");
    repo.resolve(revision).expect("revision exists").to_owned()
}

/// Fills the test's cache: all of `acme/tiny` at main, its `config.json` at v1, and the
/// dataset `acme/ds`.
pub fn download_sample(t: &TestContext) {
    for args in [
        &["download", "acme/tiny"][..],
        &["download", "acme/tiny", "config.json", "--revision", "v1"],
        &["download", "datasets/acme/ds"],
    ] {
        t.hf(args).expect_code(0);
    }
}

/// Every path below `dir` (with symlink targets), sorted.
pub fn tree(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(base: &std::path::Path, dir: &std::path::Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            let rel = p.strip_prefix(base).unwrap().display().to_string();
            match std::fs::read_link(&p) {
                Ok(t) => out.push(format!("{rel} -> {}", t.display())),
                Err(_) if p.is_dir() => {
                    out.push(format!("{rel}/"));
                    walk(base, &p, out);
                }
                Err(_) => out.push(rel),
            }
        }
    }
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// A copy of the test's cache (`cp -a`) at `<root>/<name>`; returns its path.
pub fn copy_cache(t: &hfkit_test::TestContext, name: &str) -> String {
    let dest = t.root().join(name);
    let status = std::process::Command::new("cp").arg("-a").arg(t.hf_home().join("hub")).arg(&dest).status().unwrap();
    assert!(status.success());
    dest.display().to_string()
}

/// A process that is still running: its output is read as it comes, so a test can wait for
/// a line (a prompt, a login code) and answer it.
pub struct Session {
    child: std::process::Child,
    stdin: Option<std::process::ChildStdin>,
    rx: std::sync::mpsc::Receiver<Vec<u8>>,
    seen: Vec<u8>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Session {
    /// Starts `command` with piped standard input and output (standard error joins the
    /// output in a pty; otherwise it is read at the end).
    pub fn start(mut command: std::process::Command) -> Self {
        use std::process::Stdio;
        let mut child =
            command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
        let stdin = child.stdin.take();
        let mut stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = std::io::Read::read(&mut stdout, &mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        Self { child, stdin, rx, seen: Vec::new(), reader: Some(reader) }
    }

    /// Starts `hf args` in `t`'s environment inside a pseudo-terminal (util-linux `script`).
    pub fn in_terminal(t: &TestContext, args: &str) -> Self {
        let command = format!("stty cols 120 rows 40 2>/dev/null; {} {args}", t.hf_bin().display());
        let mut cmd = t.command("script");
        cmd.args(["-qec", &command, "/dev/null"]);
        Self::start(cmd)
    }

    /// Waits (at most 30 s) until the output contains `needle`; returns the output so far.
    #[track_caller]
    pub fn wait_for(&mut self, needle: &str) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !String::from_utf8_lossy(&self.seen).contains(needle) {
            assert!(std::time::Instant::now() < deadline, "no {needle:?} in:\n{}", String::from_utf8_lossy(&self.seen));
            if let Ok(bytes) = self.rx.recv_timeout(std::time::Duration::from_millis(50)) {
                self.seen.extend(bytes);
            }
        }
        String::from_utf8_lossy(&self.seen).into_owned()
    }

    /// Waits for `prefix` and returns the login code printed after it (`BCDF-GHJK`).
    #[track_caller]
    pub fn login_code(&mut self, prefix: &str) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let out = self.wait_for(prefix);
            let code: String = out[out.find(prefix).expect("waited for") + prefix.len()..].chars().take(9).collect();
            if code.len() == 9 {
                return code;
            }
            assert!(std::time::Instant::now() < deadline, "no code after {prefix:?} in:\n{out}");
            if let Ok(bytes) = self.rx.recv_timeout(std::time::Duration::from_millis(50)) {
                self.seen.extend(bytes);
            }
        }
    }

    /// Closes standard input (a program that reads it to the end goes on).
    pub fn close_stdin(&mut self) {
        drop(self.stdin.take());
    }

    /// Types `text`.
    pub fn send(&mut self, text: &str) {
        use std::io::Write;
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(text.as_bytes()).unwrap();
        stdin.flush().unwrap();
    }

    /// Waits for the process to end: its status, everything it printed on standard output
    /// (and standard error).
    pub fn finish(mut self) -> hfkit_test::Run {
        let status = self.child.wait().unwrap();
        drop(self.stdin.take());
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
        self.seen.extend(self.rx.try_iter().flatten());
        let mut stderr = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut e, &mut stderr);
        }
        hfkit_test::Run {
            code: status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&self.seen).into_owned(),
            stderr,
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
