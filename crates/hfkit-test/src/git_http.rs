//! A git smart-HTTP server for tests: git's own CGI program, `git http-backend`, behind a
//! small HTTP/1.1 front on 127.0.0.1 that demands HTTP Basic auth with one token, as the
//! Hub does for git over HTTPS. It stands in for the Hub's git endpoint so that a real
//! `git clone` can go through `hf auth git-credential`.
//!
//! Every request is recorded with the credentials it carried, so a test can show that a
//! server was never sent the token.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use base64::Engine as _;

/// Request heads larger than this are refused.
const MAX_HEAD: usize = 64 * 1024;
/// Request bodies larger than this are refused (test repositories are tiny).
const MAX_BODY: usize = 16 << 20;

/// One request the server received.
#[derive(Debug, Clone)]
pub struct GitRequest {
    /// Method and path, as sent (`GET /alice/model.git/info/refs?service=git-upload-pack`).
    pub line: String,
    /// The Basic credentials, decoded (`user:password`), if any were sent.
    pub credentials: Option<String>,
}

/// A running git smart-HTTP server; stopped on drop.
#[derive(Debug)]
pub struct GitHttpServer {
    url: String,
    root: tempfile::TempDir,
    seen: Arc<Mutex<Vec<GitRequest>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl GitHttpServer {
    /// Serves repositories under a fresh folder; only requests whose Basic password is
    /// `token` (any user name) reach git, the others get 401 with a Basic challenge.
    pub fn start(token: &str) -> Self {
        let root = tempfile::Builder::new().prefix("hfkit-git").tempdir().expect("temp dir");
        std::fs::create_dir_all(root.path().join("repos")).expect("create folder");
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let url = format!("http://{}", listener.local_addr().expect("local address"));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (seen, stop, token) = (seen.clone(), stop.clone(), token.to_owned());
            let repos = root.path().join("repos");
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let (seen, token, repos) = (seen.clone(), token.clone(), repos.clone());
                    std::thread::spawn(move || {
                        let _ = serve(stream, &repos, &token, &seen);
                    });
                }
            })
        };
        Self { url, root, seen, stop, thread: Some(thread) }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Creates the repository `<name>.git` with one commit holding `files` on `main`.
    pub fn create_repo(&self, name: &str, files: &[(&str, &str)]) {
        let work = self.root.path().join("work").join(name);
        std::fs::create_dir_all(&work).expect("create folder");
        git(self.root.path(), &work, &["init", "-q", "-b", "main"]);
        for (path, content) in files {
            let path = work.join(path);
            std::fs::create_dir_all(path.parent().expect("a file in the repo")).expect("create folder");
            std::fs::write(path, content).expect("write a file");
        }
        git(self.root.path(), &work, &["add", "-A"]);
        git(
            self.root.path(),
            &work,
            &["-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "init"],
        );
        let bare = self.root.path().join("repos").join(format!("{name}.git"));
        git(
            self.root.path(),
            self.root.path(),
            &["clone", "-q", "--bare", &work.display().to_string(), &bare.display().to_string()],
        );
    }

    /// Where `<name>.git` lives on disk.
    pub fn repo_path(&self, name: &str) -> PathBuf {
        self.root.path().join("repos").join(format!("{name}.git"))
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<GitRequest> {
        self.seen.lock().expect("requests lock").clone()
    }
}

impl Drop for GitHttpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees the flag.
        let _ = TcpStream::connect(self.url.trim_start_matches("http://"));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Runs git with a scrubbed environment whose HOME is `home`.
fn git(home: &Path, dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("run git");
    assert!(out.status.success(), "git {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
}

/// A parsed request.
struct Request {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

fn serve(stream: TcpStream, repos: &Path, token: &str, seen: &Mutex<Vec<GitRequest>>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut out = stream;
    let request = read_request(&mut reader)?;
    let credentials = request
        .header("authorization")
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b.trim()).ok())
        .map(|b| String::from_utf8_lossy(&b).into_owned());
    let query = if request.query.is_empty() { String::new() } else { format!("?{}", request.query) };
    seen.lock().expect("requests lock").push(GitRequest {
        line: format!("{} {}{query}", request.method, request.path),
        credentials: credentials.clone(),
    });
    let user = credentials.as_deref().and_then(|c| c.split_once(':')).filter(|(_, password)| *password == token);
    let Some((user, _)) = user else {
        return out.write_all(
            b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"hfkit-test git\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
    };
    let (status, headers, body) = http_backend(repos, &request, user)?;
    let mut head = format!("HTTP/1.1 {status}\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\nConnection: close\r\n\r\n", body.len()));
    out.write_all(head.as_bytes())?;
    out.write_all(&body)
}

fn invalid(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned())
}

fn read_request(reader: &mut impl BufRead) -> std::io::Result<Request> {
    let mut head = Vec::new();
    loop {
        let mut line = Vec::new();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Err(invalid("connection closed in the request head"));
        }
        if line == b"\r\n" || line == b"\n" {
            break;
        }
        head.push(String::from_utf8(line).map_err(|_| invalid("request head is not UTF-8"))?);
        if head.iter().map(String::len).sum::<usize>() > MAX_HEAD {
            return Err(invalid("request head too large"));
        }
    }
    let first = head.first().ok_or_else(|| invalid("empty request"))?;
    let mut parts = first.split_whitespace();
    let method = parts.next().ok_or_else(|| invalid("no method"))?.to_owned();
    let target = parts.next().ok_or_else(|| invalid("no target"))?;
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let headers: Vec<(String, String)> = head[1..]
        .iter()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut request = Request { method, path: path.to_owned(), query: query.to_owned(), headers, body: Vec::new() };
    if request.header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size)?;
            let size = usize::from_str_radix(size.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|_| invalid("bad chunk size"))?;
            if request.body.len() + size > MAX_BODY {
                return Err(invalid("body too large"));
            }
            let start = request.body.len();
            request.body.resize(start + size, 0);
            reader.read_exact(&mut request.body[start..])?;
            let mut crlf = String::new();
            reader.read_line(&mut crlf)?;
            if size == 0 {
                break;
            }
        }
    } else if let Some(len) = request.header("content-length") {
        let len: usize = len.parse().map_err(|_| invalid("bad content-length"))?;
        if len > MAX_BODY {
            return Err(invalid("body too large"));
        }
        request.body.resize(len, 0);
        reader.read_exact(&mut request.body)?;
    }
    Ok(request)
}

/// A CGI answer: status line, headers, body.
type CgiResponse = (String, Vec<(String, String)>, Vec<u8>);

/// Runs `git http-backend` for one request.
fn http_backend(repos: &Path, request: &Request, user: &str) -> std::io::Result<CgiResponse> {
    let mut cmd = Command::new("git");
    cmd.arg("http-backend")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", repos)
        .env("GIT_PROJECT_ROOT", repos)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("REQUEST_METHOD", &request.method)
        .env("PATH_INFO", &request.path)
        .env("QUERY_STRING", &request.query)
        .env("REMOTE_USER", user)
        .env("REMOTE_ADDR", "127.0.0.1")
        .env("CONTENT_LENGTH", request.body.len().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (header, var) in [
        ("content-type", "CONTENT_TYPE"),
        ("content-encoding", "HTTP_CONTENT_ENCODING"),
        ("git-protocol", "GIT_PROTOCOL"),
    ] {
        if let Some(value) = request.header(header) {
            cmd.env(var, value);
        }
    }
    let mut child = cmd.spawn()?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    let body = request.body.clone();
    let writer = std::thread::spawn(move || stdin.write_all(&body));
    let mut output = Vec::new();
    child.stdout.take().expect("piped stdout").read_to_end(&mut output)?;
    let _ = writer.join();
    child.wait()?;
    let split = output
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4))
        .or_else(|| output.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2)));
    let (end, sep) = split.ok_or_else(|| invalid("http-backend printed no header block"))?;
    let mut status = "200 OK".to_owned();
    let mut headers = Vec::new();
    for line in String::from_utf8_lossy(&output[..end]).lines() {
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("status") {
                value.trim().clone_into(&mut status);
            } else {
                headers.push((name.trim().to_owned(), value.trim().to_owned()));
            }
        }
    }
    Ok((status, headers, output[end + sep..].to_vec()))
}
