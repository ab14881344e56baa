//! Accepting connections the way a server on a shared network must: a slow or hostile
//! client cannot starve the others.
//!
//! axum 0.8's `serve` has no connection cap and no header read timeout, so connections are
//! accepted here and driven by hyper directly, with every limit named once in [`Limits`]:
//! - past `max_connections`, a new connection takes the slot of the oldest connection that
//!   has no request in progress (a slow-loris client still sending its head, an idle
//!   keep-alive); when every connection is busy with a request, it gets `503` with a
//!   sentence and is closed. So a thousand slow clients cannot lock others out, even with
//!   the descriptor limit at 1,024;
//! - request headers must arrive within `header_timeout` (slow-loris), and are at most
//!   `max_header_bytes` (larger ones get `431`);
//! - a connection that moves no byte either way for `idle_timeout` is closed: a client that
//!   stops reading a multi-GB body, or keeps an idle connection, gives its slot back. This
//!   is an idle timeout, not a deadline: a slow but steady download is never cut.
//!
//! On shutdown the listener closes, open connections finish their current request, and
//! whatever is still open after `drain_timeout` is cut.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use axum::Router;
use axum::body::Body;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::time::{Instant, Sleep};

use crate::sendfile::{self, Sends};

/// The limits of one listener.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Connections served at once; more are answered `503` and closed.
    pub max_connections: usize,
    /// Time a client has to send a request's headers.
    pub header_timeout: Duration,
    /// Time a connection may move no byte, either way, before it is closed.
    pub idle_timeout: Duration,
    /// Largest request head (request line and headers), in bytes; at least 8192.
    pub max_header_bytes: usize,
    /// Time open connections get to finish after shutdown begins.
    pub drain_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 512,
            header_timeout: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(60),
            max_header_bytes: 64 * 1024,
            drain_timeout: Duration::from_secs(10),
        }
    }
}

/// How long a refused connection may take to receive its `503`.
const REFUSAL_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a new connection waits for the slot of a connection it evicted.
const EVICTION_WAIT: Duration = Duration::from_secs(1);

/// The open connections, oldest first, with what is needed to close an idle one.
#[derive(Default)]
struct Open {
    next: AtomicU64,
    by_age: Mutex<BTreeMap<u64, Conn>>,
}

/// One open connection: its requests in progress, and the signal that closes it.
#[derive(Clone, Default)]
struct Conn {
    busy: Arc<AtomicUsize>,
    evict: Arc<Notify>,
}

impl Open {
    fn add(&self) -> (u64, Conn) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let conn = Conn::default();
        self.lock().insert(id, conn.clone());
        (id, conn)
    }

    fn remove(&self, id: u64) {
        self.lock().remove(&id);
    }

    /// Closes the oldest connection with no request in progress; `false` when all are busy.
    fn evict_oldest_idle(&self) -> bool {
        let mut open = self.lock();
        let Some(id) = open.iter().find(|(_, c)| c.busy.load(Ordering::Acquire) == 0).map(|(id, _)| *id) else {
            return false;
        };
        if let Some(conn) = open.remove(&id) {
            conn.evict.notify_one();
        }
        true
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Conn>> {
        self.by_age.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Counts a request in progress on its connection until its answer is sent (or dropped).
struct InProgress(Arc<AtomicUsize>);

impl InProgress {
    fn new(busy: &Arc<AtomicUsize>) -> Self {
        busy.fetch_add(1, Ordering::AcqRel);
        Self(Arc::clone(busy))
    }
}

impl Drop for InProgress {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A body that keeps its request counted as in progress until it is sent.
struct Counted {
    body: Body,
    _in_progress: InProgress,
}

impl http_body::Body for Counted {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<bytes::Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// The answer past the connection limit.
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: 62\r\n\r\nThe server has too many open connections; retry in a moment.\n";

/// Serves `router` on `listener` within `limits` until `shutdown` resolves.
pub async fn run(
    listener: TcpListener,
    router: Router,
    limits: &Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let (closing_tx, closing_rx) = watch::channel(false);
    let (running_tx, mut running_rx) = mpsc::channel::<()>(1);
    let open = Arc::new(Open::default());
    let mut http = hyper::server::conn::http1::Builder::new();
    // Vectored writes: hyper then queues body pieces as they are, which zero-copy file
    // bodies rely on (see `crate::sendfile`).
    http.writev(true)
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(limits.max_header_bytes.max(8192));
    let http = Arc::new(http);
    tokio::pin!(shutdown);
    loop {
        let tcp = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                Err(e) => {
                    // Out of descriptors, say: wait a moment rather than spin.
                    if !matches!(e.kind(), io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset) {
                        crate::log::line(&format!("accept failed: {e}; retrying in 100 ms"));
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    continue;
                }
            },
        };
        let _ = tcp.set_nodelay(true);
        let permits = Arc::clone(&permits);
        let open = Arc::clone(&open);
        let router = router.clone();
        let http = Arc::clone(&http);
        let mut closing = closing_rx.clone();
        let running = running_tx.clone();
        let idle = limits.idle_timeout;
        tokio::spawn(async move {
            let permit = match Arc::clone(&permits).try_acquire_owned() {
                Ok(permit) => permit,
                Err(_) if open.evict_oldest_idle() => {
                    match tokio::time::timeout(EVICTION_WAIT, permits.acquire_owned()).await {
                        Ok(Ok(permit)) => permit,
                        _ => return refuse(tcp).await,
                    }
                }
                Err(_) => return refuse(tcp).await,
            };
            let (id, conn) = open.add();
            let busy = Arc::clone(&conn.busy);
            let peer = tcp.peer_addr().ok();
            let sends = Arc::new(Sends::default());
            let announced = Arc::clone(&sends);
            let service = hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
                let in_progress = InProgress::new(&busy);
                request.extensions_mut().insert(Arc::clone(&announced));
                if let Some(peer) = peer {
                    // The client's address, for the pages' sign-in throttling.
                    request.extensions_mut().insert(axum::extract::ConnectInfo(peer));
                }
                let mut router = router.clone();
                async move {
                    let response = tower_service::Service::call(&mut router, request).await?;
                    Ok::<_, Infallible>(response.map(|body| Body::new(Counted { body, _in_progress: in_progress })))
                }
            });
            let connection = http.serve_connection(TokioIo::new(IdleTimeout::new(tcp, idle, sends)), service);
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                () = conn.evict.notified() => {}
                () = async { let _ = closing.wait_for(|c| *c).await; } => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
            open.remove(id);
            drop((permit, running));
        });
    }
    drop(listener);
    let _ = closing_tx.send(true);
    drop(running_tx);
    // Every connection task holds a sender: `recv` answers `None` once all are done.
    let _ = tokio::time::timeout(limits.drain_timeout, running_rx.recv()).await;
    Ok(())
}

/// Answers `503` to a connection past the limit, then closes it.
async fn refuse(mut tcp: TcpStream) {
    let _ = tokio::time::timeout(REFUSAL_TIMEOUT, async {
        tcp.write_all(BUSY).await?;
        tcp.shutdown().await?;
        // Read what the client sent, so closing does not reset the connection before the
        // answer is read.
        let mut sink = [0u8; 4096];
        while tcp.read(&mut sink).await? > 0 {}
        Ok::<_, io::Error>(())
    })
    .await;
}

/// A connection that fails with `TimedOut` when no byte has moved, either way, for `idle`,
/// and sends the file pieces its bodies announced with `sendfile` ([`crate::sendfile`]).
struct IdleTimeout {
    inner: TcpStream,
    idle: Duration,
    last: Instant,
    timer: Pin<Box<Sleep>>,
    sends: Arc<Sends>,
}

impl IdleTimeout {
    fn new(inner: TcpStream, idle: Duration, sends: Arc<Sends>) -> Self {
        let last = Instant::now();
        Self { inner, idle, last, timer: Box::pin(tokio::time::sleep_until(last + idle)), sends }
    }

    /// Sends up to `max` bytes of the oldest announced file piece.
    fn poll_send_file(&mut self, cx: &mut Context<'_>, max: usize) -> Poll<io::Result<usize>> {
        loop {
            match self.inner.poll_write_ready(cx) {
                Poll::Ready(Ok(())) => {}
                other => return other.map(|r| r.map(|()| 0)),
            }
            match self.inner.try_io(tokio::io::Interest::WRITABLE, || self.sends.send(&self.inner, max)) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                done => return Poll::Ready(done),
            }
        }
    }

    /// Writes `bufs`: the plain bytes before the first stand-in with one vectored write, or,
    /// when a stand-in comes first, its file piece with `sendfile`.
    fn poll_write_parts(&mut self, cx: &mut Context<'_>, bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>> {
        match bufs.iter().position(|b| sendfile::is_stand_in(b)) {
            Some(at) if bufs[..at].iter().all(|b| b.is_empty()) => self.poll_send_file(cx, bufs[at].len()),
            Some(at) => Pin::new(&mut self.inner).poll_write_vectored(cx, &bufs[..at]),
            None => Pin::new(&mut self.inner).poll_write_vectored(cx, bufs),
        }
    }

    /// Called when the inner stream is not ready: an error once the idle time has passed.
    fn check(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        let deadline = self.last + self.idle;
        if self.timer.deadline() != deadline {
            self.timer.as_mut().reset(deadline);
        }
        match self.timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(io::Error::new(io::ErrorKind::TimedOut, "connection idle too long")),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncRead for IdleTimeout {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Pending => this.check(cx).map(Err),
            ready => {
                this.last = Instant::now();
                ready
            }
        }
    }
}

impl AsyncWrite for IdleTimeout {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let written = if sendfile::is_stand_in(buf) {
            this.poll_send_file(cx, buf.len())
        } else {
            Pin::new(&mut this.inner).poll_write(cx, buf)
        };
        match written {
            Poll::Pending => this.check(cx).map(Err),
            ready => {
                this.last = Instant::now();
                ready
            }
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        match this.poll_write_parts(cx, bufs) {
            Poll::Pending => this.check(cx).map(Err),
            ready => {
                this.last = Instant::now();
                ready
            }
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_flush(cx) {
            Poll::Pending => this.check(cx).map(Err),
            ready => ready,
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
