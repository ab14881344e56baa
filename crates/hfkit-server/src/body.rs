//! File bodies: byte ranges (`206`, `Content-Range`, `416`) streamed from memory or disk in
//! bounded pieces, with injected faults applied on the way.

use std::io::SeekFrom;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::stream;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::faults::FaultKind;
use crate::hub_error::HubError;
use crate::repos::Content;

/// Size of each piece of a streamed body.
const PIECE: usize = 1024 * 1024;

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

/// Reads a `Range: bytes=…` header against the file size.
fn parse_range(value: &str, size: u64) -> Wanted {
    let Some(spec) = value.trim().strip_prefix("bytes=") else { return Wanted::Whole };
    if spec.contains(',') {
        return Wanted::Whole;
    }
    let Some((start, end)) = spec.split_once('-') else { return Wanted::Whole };
    let (start, end) = (start.trim(), end.trim());
    if start.is_empty() {
        // The last `n` bytes.
        let Ok(n) = end.parse::<u64>() else { return Wanted::Whole };
        if n == 0 || size == 0 {
            return Wanted::Unsatisfiable;
        }
        return Wanted::Part(size.saturating_sub(n), size - 1);
    }
    let Ok(start) = start.parse::<u64>() else { return Wanted::Whole };
    let end = if end.is_empty() {
        u64::MAX
    } else {
        match end.parse::<u64>() {
            Ok(e) if e >= start => e,
            _ => return Wanted::Whole,
        }
    };
    if start >= size { Wanted::Unsatisfiable } else { Wanted::Part(start, end.min(size - 1)) }
}

/// The response for a GET (or HEAD) of `content`, honouring `Range`, with `extra` headers.
pub(crate) fn file_response(
    content: &Content,
    size: u64,
    request: &HeaderMap,
    mut extra: HeaderMap,
    head_only: bool,
    fault: Option<FaultKind>,
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
        Content::Blob(blob) => match blob.cache.open_blob(&blob.etag).and_then(|f| Ok((f.metadata()?.len(), f))) {
            Ok((len, file)) if len == size => Some(file),
            _ => {
                return HubError::not_found("Entry not found").code("EntryNotFound").into_response();
            }
        },
        Content::Bytes(_) => None,
    };
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
    } else {
        stream_body(content.clone(), opened.map(tokio::fs::File::from_std), start, length, fault)
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    *response.headers_mut() = extra;
    response
}

struct Cursor {
    content: Content,
    file: Option<tokio::fs::File>,
    seeked: bool,
    pos: u64,
    left: u64,
    sent: u64,
    fault: Option<FaultKind>,
}

fn stream_body(
    content: Content,
    file: Option<tokio::fs::File>,
    start: u64,
    length: u64,
    fault: Option<FaultKind>,
) -> Body {
    let cursor = Cursor { content, file, seeked: false, pos: start, left: length, sent: 0, fault };
    Body::from_stream(stream::unfold(cursor, |mut c| async move {
        if c.left == 0 {
            return None;
        }
        let mut want = (PIECE as u64).min(c.left);
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
        Content::Blob(_) => {
            let file = c.file.as_mut().ok_or_else(|| std::io::Error::other("the blob was not opened"))?;
            if !c.seeked {
                file.seek(SeekFrom::Start(c.pos)).await?;
                c.seeked = true;
            }
            let mut buf = vec![0; want_usize];
            file.read_exact(&mut buf).await?;
            Ok(bytes::Bytes::from(buf))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn ranges() {
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
}
