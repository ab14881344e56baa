//! The server's log on standard error: one access line per request, and one line per
//! broken cache entry. A line never holds a token or a query string (which could carry a
//! signature): the user is named, the path is shown without its query.

use std::io::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// One answered request.
#[derive(Debug)]
pub(crate) struct Access<'a> {
    /// `hub` or `cdn`.
    pub(crate) listener: &'static str,
    /// The user of a valid token, if any.
    pub(crate) user: Option<&'a str>,
    /// HTTP method.
    pub(crate) method: &'a str,
    /// Path, without the query.
    pub(crate) path: &'a str,
    /// Response status.
    pub(crate) status: u16,
    /// Body bytes of the answer (its `Content-Length`), when known.
    pub(crate) bytes: Option<u64>,
    /// Time to the response headers.
    pub(crate) duration: Duration,
}

/// Writes the access line of a request: `time listener user method path status bytes ms`.
pub(crate) fn access(a: &Access<'_>) {
    let bytes = a.bytes.map_or_else(|| "-".to_owned(), |b| b.to_string());
    line(&format!(
        "access {} user={} {} {} {} bytes={bytes} ms={:.1}",
        a.listener,
        a.user.unwrap_or("-"),
        a.method,
        escape(a.path),
        a.status,
        a.duration.as_secs_f64() * 1000.0
    ));
}

/// Writes one line, prefixed by the unix time with milliseconds.
pub(crate) fn line(text: &str) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let _ = writeln!(std::io::stderr().lock(), "{}.{:03} {text}", now.as_secs(), now.subsec_millis());
}

/// A path as one token: control characters and spaces escaped, so a request cannot forge
/// log lines.
fn escape(path: &str) -> String {
    path.chars()
        .flat_map(|c| if c.is_control() || c == ' ' { c.escape_default().collect::<Vec<_>>() } else { vec![c] })
        .collect()
}
