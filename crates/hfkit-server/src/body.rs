//! File bodies: byte ranges (`206`, `Content-Range`, `416`) streamed from memory or disk in
//! bounded pieces, with injected faults applied on the way, and `304 Not Modified` for a
//! client whose `If-None-Match` names the file's etag. A blob larger than [`INLINE_BODY`]
//! is sent by its connection with `sendfile` when it can be ([`crate::sendfile`]), else read
//! piece by piece.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::stream;

use crate::faults::FaultKind;
use crate::hub_error::HubError;
use crate::repos::Content;
use crate::sendfile::Sends;

/// Size of each piece of a streamed body: large enough that the hand-off to a blocking
/// thread per piece costs little, small enough that 64 connections streaming at once stay
/// within about 64 MiB (one piece being read and about one being sent per connection;
/// `bench/serve.py` measures the peak).
const PIECE: usize = 512 * 1024;

/// What a `Range` header asks of a file, as the Hub (its CDN) answers it.
#[derive(Debug, PartialEq, Eq)]
enum Wanted {
    /// No range, a malformed one, or several (answered with the whole file, 200).
    Whole,
    /// One satisfiable range, inclusive (206).
    Part(u64, u64),
    /// One range that starts past the end (416).
    Unsatisfiable,
}

/// Reads a `Range: bytes=…` header against the file size: one range of digits only (RFC
/// 9110 §14.1.2; a position past `u64` is "very large", not an error).
fn parse_range(value: &str, size: u64) -> Wanted {
    let Some(spec) = value.trim().strip_prefix("bytes=") else { return Wanted::Whole };
    if spec.contains(',') {
        return Wanted::Whole;
    }
    let Some((start, end)) = spec.split_once('-') else { return Wanted::Whole };
    if start.is_empty() {
        // The last `n` bytes.
        let Some(n) = position(end) else { return Wanted::Whole };
        if n == 0 || size == 0 {
            return Wanted::Unsatisfiable;
        }
        return Wanted::Part(size.saturating_sub(n), size - 1);
    }
    let Some(start) = position(start) else { return Wanted::Whole };
    let end = if end.is_empty() {
        u64::MAX
    } else {
        match position(end) {
            Some(e) if e >= start => e,
            _ => return Wanted::Whole,
        }
    };
    if start >= size { Wanted::Unsatisfiable } else { Wanted::Part(start, end.min(size - 1)) }
}

/// Whether an `If-None-Match` value names `etag`: `*`, or a list of entity tags compared
/// weakly (RFC 9110 §8.8.3.2: `W/"x"` matches `"x"`); a tag sent without quotes is taken as
/// meant.
fn matches_etag(if_none_match: &HeaderValue, etag: &HeaderValue) -> bool {
    let (Ok(wanted), Ok(etag)) = (if_none_match.to_str(), etag.to_str()) else { return false };
    let opaque = |tag: &str| tag.trim().trim_start_matches("W/").trim_matches('"').to_owned();
    let etag = opaque(etag);
    wanted.trim() == "*" || wanted.split(',').any(|tag| !tag.trim().is_empty() && opaque(tag) == etag)
}

/// A byte position: ASCII digits only (no sign, no space), saturating at `u64::MAX`.
fn position(digits: &str) -> Option<u64> {
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())).then(|| digits.parse().unwrap_or(u64::MAX))
}

/// The response for a GET (or HEAD) of `content`, honouring `Range`, with `extra` headers.
pub(crate) fn file_response(
    content: &Content,
    size: u64,
    request: &HeaderMap,
    mut extra: HeaderMap,
    head_only: bool,
    fault: Option<FaultKind>,
    sends: Option<Arc<Sends>>,
) -> Response {
    if let Some(FaultKind::Status { status, retry_after }) = &fault {
        let mut response =
            (StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), "injected fault")
                .into_response();
        if let Some(secs) = retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(*secs));
        }
        return response;
    }
    let range = request.get(header::RANGE).and_then(|v| v.to_str().ok());
    let range = if fault == Some(FaultKind::IgnoreRange) { None } else { range };
    let opened = match content {
        Content::Blob(blob) => match blob.open().and_then(|f| Ok((f.metadata()?.len(), f))) {
            Ok((len, file)) if len == size => Some(file),
            _ => {
                return HubError::not_found("Entry not found").code("EntryNotFound").into_response();
            }
        },
        Content::Bytes(_) | Content::Growing(_) => None,
    };
    if let Some(etag) = extra.get(header::ETAG)
        && request.get(header::IF_NONE_MATCH).is_some_and(|wanted| matches_etag(wanted, etag))
    {
        // RFC 9110 §13.2.2: If-None-Match is answered before Range.
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        *response.headers_mut() = extra;
        return response;
    }
    let (status, start, end) = match range.map_or(Wanted::Whole, |value| parse_range(value, size)) {
        Wanted::Whole => (StatusCode::OK, 0, size.saturating_sub(1)),
        Wanted::Part(start, end) => {
            let cr = format!("bytes {start}-{end}/{size}");
            extra.insert(header::CONTENT_RANGE, HeaderValue::from_str(&cr).expect("ascii"));
            (StatusCode::PARTIAL_CONTENT, start, end)
        }
        Wanted::Unsatisfiable => {
            let mut r = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
            let cr = format!("bytes */{size}");
            r.headers_mut().insert(header::CONTENT_RANGE, HeaderValue::from_str(&cr).expect("ascii"));
            return r;
        }
    };
    let length = if size == 0 { 0 } else { end - start + 1 };
    extra.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    extra.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    extra.entry(header::CONTENT_TYPE).or_insert(HeaderValue::from_static("application/octet-stream"));
    let body = if head_only || length == 0 {
        Body::empty()
    } else if let (Some(file), true, None) = (&opened, length <= INLINE_BODY, &fault) {
        match read_inline(file, start, length) {
            Ok(bytes) => Body::from(bytes),
            Err(e) => {
                crate::log::line(&format!("a blob could not be read: {e}"));
                return HubError::new(StatusCode::INTERNAL_SERVER_ERROR, "The file could not be read; try again.")
                    .into_response();
            }
        }
    } else {
        // A fault changes the bytes on their way: those bodies are read, not sent from the file.
        let sends = sends.filter(|_| fault.is_none());
        stream_body(content.clone(), opened, start, length, fault, sends)
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    *response.headers_mut() = extra;
    response
}

/// Bodies up to this size are read in the handler, as the file's metadata just was: one read
/// from the page cache costs less than a hand-off to a blocking thread and back, and many
/// small files (configs, tokenizers, shards' indexes) are most of a repo's requests.
const INLINE_BODY: u64 = 64 * 1024;

/// `length` bytes of `file` from `start`, in one `pread` (a body of at most [`INLINE_BODY`],
/// or a piece of a larger one).
fn read_inline(file: &std::fs::File, start: u64, length: u64) -> std::io::Result<bytes::Bytes> {
    use std::os::unix::fs::FileExt as _;
    let mut bytes = vec![0; usize::try_from(length).unwrap_or(0)];
    file.read_exact_at(&mut bytes, start)?;
    Ok(bytes::Bytes::from(bytes))
}

struct Cursor {
    content: Content,
    file: Option<Arc<std::fs::File>>,
    sends: Option<Arc<Sends>>,
    pos: u64,
    left: u64,
    sent: u64,
    fault: Option<FaultKind>,
}

fn stream_body(
    content: Content,
    file: Option<std::fs::File>,
    start: u64,
    length: u64,
    fault: Option<FaultKind>,
    sends: Option<Arc<Sends>>,
) -> Body {
    if let Content::Growing(download) = &content {
        return Body::from_stream(download.stream(start, length, sends));
    }
    let file = file.map(Arc::new);
    let cursor = Cursor { content, file, sends, pos: start, left: length, sent: 0, fault };
    Body::from_stream(stream::unfold(cursor, |mut c| async move {
        if c.left == 0 {
            return None;
        }
        // A piece sent from the file costs no memory: it may be larger than one read.
        let piece = if c.sends.is_some() { crate::sendfile::MAX_PIECE } else { PIECE };
        let mut want = (piece as u64).min(c.left);
        match &c.fault {
            Some(FaultKind::CutAfter(n)) if c.sent >= *n => {
                return Some((Err(std::io::Error::other("injected: connection cut")), Cursor { left: 0, ..c }));
            }
            Some(FaultKind::CutAfter(n)) => want = want.min(n - c.sent),
            Some(FaultKind::Stall { after, pause }) if c.sent >= *after => {
                tokio::time::sleep(*pause).await;
                c.fault = None;
            }
            Some(FaultKind::Stall { after, .. }) => want = want.min(after - c.sent),
            _ => {}
        }
        let piece = match read_piece(&mut c, want).await {
            Ok(p) => p,
            Err(e) => return Some((Err(e), Cursor { left: 0, ..c })),
        };
        let piece = if c.fault == Some(FaultKind::WrongBytes) {
            bytes::Bytes::from(piece.iter().map(|b| b ^ 0x5a).collect::<Vec<u8>>())
        } else {
            piece
        };
        c.pos += want;
        c.left -= want;
        c.sent += want;
        Some((Ok::<_, std::io::Error>(piece), c))
    }))
}

async fn read_piece(c: &mut Cursor, want: u64) -> std::io::Result<bytes::Bytes> {
    let want_usize = usize::try_from(want).unwrap_or(PIECE);
    match &c.content {
        Content::Bytes(b) => {
            let start = usize::try_from(c.pos).unwrap_or(usize::MAX);
            Ok(b.slice(start..start + want_usize))
        }
        Content::Growing(_) => Err(std::io::Error::other("a growing file is streamed by its download")),
        Content::Blob(_) => {
            let file = c.file.clone().ok_or_else(|| std::io::Error::other("the blob was not opened"))?;
            if let Some(sends) = &c.sends {
                // Sent from the page cache by the connection, with `sendfile`.
                return Ok(sends.announce(&file, c.pos, want_usize));
            }
            let pos = c.pos;
            // One `pread` per piece, on a blocking thread.
            let piece = tokio::task::spawn_blocking(move || read_inline(&file, pos, want))
                .await
                .map_err(std::io::Error::other)??;
            Ok(piece)
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::{Wanted, parse_range as wanted};

    /// The bytes served (a 206), or `None` (the whole file, or 416).
    fn parse_range(value: &str, size: u64) -> Option<(u64, u64)> {
        match wanted(value, size) {
            Wanted::Part(start, end) => Some((start, end)),
            Wanted::Whole | Wanted::Unsatisfiable => None,
        }
    }

    #[test]
    fn ranges() {
        let parse_range = wanted;
        use super::Wanted::{Part, Unsatisfiable, Whole};
        assert_eq!(parse_range("bytes=0-9", 100), Part(0, 9));
        assert_eq!(parse_range("bytes=90-", 100), Part(90, 99));
        assert_eq!(parse_range("bytes=-10", 100), Part(90, 99));
        assert_eq!(parse_range("bytes=-1000", 100), Part(0, 99));
        assert_eq!(parse_range("bytes=95-200", 100), Part(95, 99));
        assert_eq!(parse_range("bytes=100-", 100), Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 100), Unsatisfiable);
        assert_eq!(parse_range("bytes=0-1,3-4", 100), Whole);
        assert_eq!(parse_range("bytes=9-1", 100), Whole);
        assert_eq!(parse_range("items=0-1", 100), Whole);
        assert_eq!(parse_range("bytes=x-1", 100), Whole);
    }

    #[test]
    fn if_none_match() {
        use axum::http::HeaderValue;
        let etag = HeaderValue::from_static("\"abc\"");
        let matches = |v: &'static str| super::matches_etag(&HeaderValue::from_static(v), &etag);
        for yes in ["\"abc\"", "W/\"abc\"", "*", "\"x\", \"abc\"", "abc", " \"abc\" "] {
            assert!(matches(yes), "{yes}");
        }
        for no in ["\"abcd\"", "\"ab\"", "", ",", "\"\""] {
            assert!(!matches(no), "{no}");
        }
    }

    #[test]
    fn found_by_properties() {
        // prop_range_agrees_with_rfc: a sign was read as part of a position, and a position
        // past u64 made a satisfiable range unsatisfiable.
        assert_eq!(parse_range("bytes=+5-9", 100), None);
        assert_eq!(parse_range("bytes=5-+9", 100), None);
        assert_eq!(parse_range("bytes=5-99999999999999999999999", 100), Some((5, 99)));
        assert_eq!(parse_range("bytes=-99999999999999999999999", 100), Some((0, 99)));
    }

    /// The RFC's single `bytes=` range, written independently on big integers.
    fn rfc_range(value: &str, size: u64) -> Option<(u64, u64)> {
        let spec = value.trim().strip_prefix("bytes=")?;
        let (a, b) = spec.split_once('-')?;
        let num = |s: &str| -> Option<u128> {
            if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            Some(s.bytes().fold(0u128, |n, d| n.saturating_mul(10).saturating_add(u128::from(d - b'0'))))
        };
        let size = u128::from(size);
        let (first, last) = match (a.is_empty(), b.is_empty()) {
            (true, _) => {
                let n = num(b)?;
                (size.checked_sub(n.min(size))?, size.checked_sub(1)?)
            }
            (false, true) => (num(a)?, size.checked_sub(1)?),
            (false, false) => (num(a)?, num(b)?.min(size.checked_sub(1)?)),
        };
        (first <= last && last < size && !(a.is_empty() && num(b)? == 0))
            .then(|| (u64::try_from(first).expect("below size"), u64::try_from(last).expect("below size")))
    }

    fn range_header() -> impl Strategy<Value = String> {
        let pos = prop_oneof!["[0-9]{1,3}", "[0-9]{18,24}", "[+ -]?[0-9]{0,2}", Just(String::new())];
        prop_oneof![
            (pos.clone(), pos).prop_map(|(a, b)| format!("bytes={a}-{b}")),
            "(bytes=)?[0-9,+ -]{0,10}",
            "\\PC{0,12}",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

        /// A parsed range lies within the file, and the parser agrees with the RFC's rule.
        #[test]
        fn prop_range_agrees_with_rfc(value in range_header(), size in prop_oneof![0u64..200, Just(u64::MAX)]) {
            let got = parse_range(&value, size);
            if let Some((start, end)) = got {
                prop_assert!(start <= end && end < size);
            }
            prop_assert_eq!(got, rfc_range(&value, size), "{:?} of {}", value, size);
        }

        /// A well-formed range inside the file is served exactly.
        #[test]
        fn prop_range_exact(size in 1u64..10_000, a in 0u64..10_000, len in 0u64..10_000) {
            let (start, end) = (a % size, (a % size + len).min(size - 1));
            prop_assert_eq!(parse_range(&format!("bytes={start}-{end}"), size), Some((start, end)));
            prop_assert_eq!(parse_range(&format!("bytes={start}-"), size), Some((start, size - 1)));
            prop_assert_eq!(parse_range(&format!("bytes=-{}", size - start), size), Some((start, size - 1)));
        }
    }
}
