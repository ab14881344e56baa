//! The server's log on standard error: one access line per request, and one line per
//! broken cache entry. A line never holds a token or a query string (which could carry a
//! signature): the user is named, the path is shown without its query.

use std::io::Write as _;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use http_body::{Body as _, Frame};

/// One request, written to the log when its answer's body has been sent (or dropped).
#[derive(Debug)]
pub(crate) struct Access {
    /// `hub` or `cdn`.
    pub(crate) listener: &'static str,
    /// The user of a valid token, if any.
    pub(crate) user: Option<String>,
    /// HTTP method.
    pub(crate) method: String,
    /// Path, without the query.
    pub(crate) path: String,
    /// Response status.
    pub(crate) status: u16,
    /// When the request arrived.
    pub(crate) started: Instant,
    /// The body length the answer announced (`Content-Length`; none for `HEAD`).
    pub(crate) expected: Option<u64>,
}

impl Access {
    /// `body`, which writes this line once it is sent: `bytes=` counts what was sent,
    /// `ms=` runs to the last byte, and `incomplete` marks a body cut short.
    pub(crate) fn around(self, body: Body) -> Body {
        Body::new(Logged { body, sent: 0, done: false, access: Some(self) })
    }
}

struct Logged {
    body: Body,
    sent: u64,
    done: bool,
    access: Option<Access>,
}

impl http_body::Body for Logged {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    self.sent += data.len() as u64;
                }
            }
            Poll::Ready(None) => self.done = true,
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

impl Drop for Logged {
    fn drop(&mut self) {
        let Some(a) = self.access.take() else { return };
        let complete = match a.expected {
            _ if a.method == "HEAD" => true,
            Some(n) => self.sent >= n,
            None => self.done || self.body.is_end_stream(),
        };
        let cut = if complete { "" } else { " incomplete" };
        line(&format!(
            "access {} user={} {} {} {} bytes={} ms={:.1}{cut}",
            a.listener,
            a.user.as_deref().unwrap_or("-"),
            a.method,
            escape(&a.path),
            a.status,
            self.sent,
            a.started.elapsed().as_secs_f64() * 1000.0
        ));
    }
}

/// Writes one line, prefixed by the unix time with milliseconds, in one write (standard
/// error is unbuffered: formatting into it writes each piece separately).
pub(crate) fn line(text: &str) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let whole = format!("{}.{:03} {text}\n", now.as_secs(), now.subsec_millis());
    let _ = std::io::stderr().lock().write_all(whole.as_bytes());
}

/// A path as one token: control characters and spaces escaped, so a request cannot forge
/// log lines.
fn escape(path: &str) -> String {
    path.chars()
        .flat_map(|c| if c.is_control() || c == ' ' { c.escape_default().collect::<Vec<_>>() } else { vec![c] })
        .collect()
}
