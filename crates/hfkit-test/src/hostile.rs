//! A Hub that lies: raw HTTP on 127.0.0.1, answering each route with exactly what a test
//! scripts — a traversal in a commit hash, a body that never ends, a stall before the headers,
//! a `Retry-After` of a day, wrong bytes, escape sequences in a message.
//!
//! It is deliberately not the project's server (which is correct by construction): every
//! byte on the wire is the test's choice. Each connection answers one request and closes.
//! The server counts the body bytes it managed to send, so a test can prove the client stopped
//! reading (bounded memory), and records each request line. It stops when dropped, and no
//! connection lives longer than [`MAX_CONNECTION_LIFE`] whatever the script says.
//!
//! ```no_run
//! use hfkit_test::{HostileHub, Reply};
//! let hub = HostileHub::new()
//!     .route("GET", "/api/models/evil/repo/revision/main", Reply::json(200, r#"{"id":"evil/repo","sha":"../../x"}"#))
//!     .start();
//! ```

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Longest a scripted connection is kept open (a stall or an endless body ends here).
pub const MAX_CONNECTION_LIFE: Duration = Duration::from_secs(90);

/// What the body of a reply is.
#[derive(Debug, Clone)]
pub enum Body {
    /// These bytes, with a `Content-Length`.
    Bytes(Vec<u8>),
    /// These bytes first, then the same byte forever, without a length (until the client
    /// closes the connection).
    Endless(Vec<u8>, u8),
    /// These bytes, with a `Content-Length` that promises more, then silence.
    StallAfter(Vec<u8>, u64),
}

/// One scripted answer.
#[derive(Debug, Clone)]
pub struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Body,
    stall_before_headers: bool,
}

impl Reply {
    /// A status with a body.
    pub fn new(status: u16, body: Body) -> Self {
        Self { status, headers: Vec::new(), body, stall_before_headers: false }
    }

    /// A JSON answer.
    pub fn json(status: u16, json: &str) -> Self {
        Self::new(status, Body::Bytes(json.as_bytes().to_vec())).header("Content-Type", "application/json")
    }

    /// An answer that never comes: the connection is accepted, the request read, and nothing sent.
    pub fn stall() -> Self {
        Self { stall_before_headers: true, ..Self::new(200, Body::Bytes(Vec::new())) }
    }

    /// Adds a header (sent exactly as given).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
}

/// A request the hostile hub received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// `GET`, `HEAD`…
    pub method: String,
    /// The path with its query.
    pub target: String,
    /// Whether it carried an `Authorization` header.
    pub authorized: bool,
}

/// Routes and replies, before the hub runs.
#[derive(Debug, Default)]
pub struct HostileHub {
    routes: Vec<Route>,
}

/// Replies for one method and path prefix, served in order (the last one repeats).
#[derive(Debug)]
struct Route {
    method: String,
    prefix: String,
    replies: Vec<Reply>,
    served: AtomicU64,
}

struct Shared {
    routes: Vec<Route>,
    stop: AtomicBool,
    body_bytes_sent: AtomicU64,
    seen: Mutex<Vec<Seen>>,
}

impl HostileHub {
    /// A hub with no routes (everything answers 404).
    pub fn new() -> Self {
        Self::default()
    }

    /// Answers `method` on paths starting with `path_prefix` (query included) with `reply`.
    /// The first matching route wins.
    pub fn route(self, method: &str, path_prefix: &str, reply: Reply) -> Self {
        self.route_seq(method, path_prefix, vec![reply])
    }

    /// Answers with `replies` in turn, the last one from then on (a 429, then a 200…).
    pub fn route_seq(mut self, method: &str, path_prefix: &str, replies: Vec<Reply>) -> Self {
        assert!(!replies.is_empty(), "a route needs a reply");
        let (method, prefix) = (method.to_owned(), path_prefix.to_owned());
        self.routes.push(Route { method, prefix, replies, served: AtomicU64::new(0) });
        self
    }

    /// Starts serving on 127.0.0.1.
    pub fn start(self) -> RunningHostileHub {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        listener.set_nonblocking(true).expect("nonblocking");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let shared = Arc::new(Shared {
            routes: self.routes,
            stop: AtomicBool::new(false),
            body_bytes_sent: AtomicU64::new(0),
            seen: Mutex::new(Vec::new()),
        });
        let accept = {
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || {
                while !shared.stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            let shared = Arc::clone(&shared);
                            std::thread::spawn(move || serve(&shared, stream));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
            })
        };
        RunningHostileHub { url, shared, accept: Some(accept) }
    }
}

/// A hostile hub serving in the background; stops when dropped.
pub struct RunningHostileHub {
    url: String,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for RunningHostileHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningHostileHub").field("url", &self.url).finish_non_exhaustive()
    }
}

impl RunningHostileHub {
    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Body bytes written to clients so far (what an endless body managed to push).
    pub fn body_bytes_sent(&self) -> u64 {
        self.shared.body_bytes_sent.load(Ordering::SeqCst)
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Seen> {
        self.shared.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }
}

impl Drop for RunningHostileHub {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

fn serve(shared: &Shared, mut stream: TcpStream) {
    let born = Instant::now();
    let alive = || !shared.stop.load(Ordering::SeqCst) && born.elapsed() < MAX_CONNECTION_LIFE;
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = stream.set_nodelay(true);
    let Some(head) = read_head(&mut stream) else { return };
    let mut lines = head.lines();
    let mut first = lines.next().unwrap_or_default().split(' ');
    let (method, target) = (first.next().unwrap_or_default().to_owned(), first.next().unwrap_or_default().to_owned());
    let authorized = lines.any(|l| l.to_ascii_lowercase().starts_with("authorization:"));
    shared.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(Seen {
        method: method.clone(),
        target: target.clone(),
        authorized,
    });
    let reply = shared
        .routes
        .iter()
        .find(|r| r.method == method && target.starts_with(r.prefix.as_str()))
        .map(|r| {
            let n = usize::try_from(r.served.fetch_add(1, Ordering::SeqCst)).unwrap_or(usize::MAX);
            r.replies[n.min(r.replies.len() - 1)].clone()
        })
        .unwrap_or_else(|| Reply::json(404, r#"{"error":"not scripted"}"#).header("X-Error-Code", "RepoNotFound"));
    if reply.stall_before_headers {
        while alive() {
            std::thread::sleep(Duration::from_millis(20));
        }
        return;
    }
    let mut head = format!("HTTP/1.1 {} Scripted\r\nConnection: close\r\n", reply.status);
    for (name, value) in &reply.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    match &reply.body {
        Body::Bytes(b) => head.push_str(&format!("Content-Length: {}\r\n", b.len())),
        Body::StallAfter(b, promised) => {
            head.push_str(&format!("Content-Length: {}\r\n", promised.max(&(b.len() as u64))));
        }
        Body::Endless(..) => {}
    }
    head.push_str("\r\n");
    if stream.write_all(head.as_bytes()).is_err() {
        return;
    }
    let send = |stream: &mut TcpStream, bytes: &[u8]| {
        let ok = stream.write_all(bytes).is_ok();
        if ok {
            shared.body_bytes_sent.fetch_add(bytes.len() as u64, Ordering::SeqCst);
        }
        ok
    };
    if method == "HEAD" {
        if let Body::StallAfter(..) = reply.body {
            while alive() {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        return;
    }
    match &reply.body {
        Body::Bytes(b) => {
            send(&mut stream, b);
        }
        Body::StallAfter(b, _) => {
            send(&mut stream, b);
            while alive() {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        Body::Endless(prefix, fill) => {
            if !send(&mut stream, prefix) {
                return;
            }
            let block = vec![*fill; 64 << 10];
            while alive() && send(&mut stream, &block) {}
        }
    }
}

/// The request head, up to the blank line (at most 64 KiB).
fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 64 << 10 || stream.read(&mut byte).ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    Some(String::from_utf8_lossy(&head).into_owned())
}
