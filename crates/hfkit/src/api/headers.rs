//! The response headers a client acts on, parsed once and strictly: `Link` (pagination),
//! `Retry-After` and `RateLimit` (how long to wait), and `Content-Range` (which bytes came).
//!
//! Each is outside input. A `Link` may point anywhere, so the caller gets a URL already
//! resolved against the page it came from and decides whether its origin is acceptable; a
//! wait may be absurd, so the caller gets a plain [`Duration`] to compare with its cap; a
//! `Content-Range` may lie, so it is returned as numbers for the caller to check against what
//! it asked for.

use std::time::Duration;

use reqwest::Url;
use reqwest::header::{self, HeaderMap};

/// The target of `Link: <…>; rel="next"`, resolved against `current`. `Err` carries the raw
/// target when it is not a URL.
pub fn next_link(headers: &HeaderMap, current: &Url) -> Result<Option<Url>, String> {
    let Some(value) = headers.get(header::LINK) else { return Ok(None) };
    let Ok(text) = value.to_str() else { return Err(String::from_utf8_lossy(value.as_bytes()).into_owned()) };
    for part in split_links(text) {
        let Some((target, params)) = part.split_once(';') else { continue };
        let is_next = params.split(';').any(|p| {
            let p = p.trim();
            p.strip_prefix("rel=").is_some_and(|rel| {
                rel.trim_matches('"').split_ascii_whitespace().any(|r| r.eq_ignore_ascii_case("next"))
            })
        });
        if !is_next {
            continue;
        }
        let target = target.trim();
        let Some(inner) = target.strip_prefix('<').and_then(|t| t.strip_suffix('>')) else {
            return Err(target.to_owned());
        };
        return current.join(inner).map(Some).map_err(|_| inner.to_owned());
    }
    Ok(None)
}

/// Splits a `Link` header at the commas that separate links (not those inside `<…>`).
fn split_links(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut inside_target, mut start) = (false, 0);
    for (i, c) in text.char_indices() {
        match c {
            '<' => inside_target = true,
            '>' => inside_target = false,
            ',' if !inside_target => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// How long the server asks us to wait before trying again, as huggingface_hub reads it: on
/// a 429 with `RateLimit: "…";r=0;t=<seconds>`, the reset time; else `Retry-After:
/// <seconds>` (an HTTP date is not supported, as in huggingface_hub).
pub fn server_wait(status: u16, headers: &HeaderMap) -> Option<Duration> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if status == 429
        && let Some((remaining, reset)) = text("ratelimit").and_then(parse_ratelimit)
        && remaining == 0
    {
        return Some(Duration::from_secs(reset));
    }
    text("retry-after").and_then(|v| v.trim().parse::<u64>().ok()).map(Duration::from_secs)
}

/// `(remaining, reset seconds)` of a `RateLimit` header (`"name";r=<n>;t=<n>`).
fn parse_ratelimit(value: &str) -> Option<(u64, u64)> {
    let mut remaining = None;
    let mut reset = None;
    for param in value.split(';').skip(1) {
        let (key, val) = param.trim().split_once('=')?;
        let val: u64 = val.trim().parse().ok()?;
        match key.trim() {
            "r" => remaining = Some(val),
            "t" => reset = Some(val),
            _ => {}
        }
    }
    Some((remaining?, reset?))
}

/// A `Content-Range: bytes <first>-<last>/<total|*>` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentRange {
    /// The first byte sent.
    pub first: u64,
    /// The last byte sent (inclusive).
    pub last: u64,
    /// The size of the whole file, when the server says.
    pub total: Option<u64>,
}

impl ContentRange {
    /// Parses the header; `None` for anything else (including `last < first`, or a range
    /// past the total).
    pub fn parse(value: &str) -> Option<Self> {
        let rest = value.trim().strip_prefix("bytes ")?;
        let (range, total) = rest.split_once('/')?;
        let (first, last) = range.split_once('-')?;
        let digits =
            |s: &str| (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse::<u64>().ok())?;
        let (first, last) = (digits(first)?, digits(last)?);
        let total = if total == "*" { None } else { Some(digits(total)?) };
        if last < first || total.is_some_and(|t| last >= t) {
            return None;
        }
        Some(Self { first, last, total })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(name: &'static str, value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, value.parse().unwrap());
        h
    }

    #[test]
    fn next_links_resolve_against_the_page() {
        let here = Url::parse("http://hub/api/models/a/b/tree/main").unwrap();
        let h = headers("link", "<http://x/a?cursor=2>; rel=\"next\"");
        assert_eq!(next_link(&h, &here).unwrap().unwrap().as_str(), "http://x/a?cursor=2");
        let h = headers("link", "</api/p?c=1,2>; rel=\"prev\", </api/n?c=3>; rel=next");
        assert_eq!(next_link(&h, &here).unwrap().unwrap().as_str(), "http://hub/api/n?c=3");
        assert_eq!(next_link(&HeaderMap::new(), &here).unwrap(), None);
        assert!(next_link(&headers("link", "http://x; rel=\"next\""), &here).is_err());
    }

    #[test]
    fn waits_follow_python() {
        assert_eq!(server_wait(503, &headers("retry-after", "7")), Some(Duration::from_secs(7)));
        assert_eq!(server_wait(503, &headers("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT")), None);
        let h = headers("ratelimit", "\"api\";r=0;t=12");
        assert_eq!(server_wait(429, &h), Some(Duration::from_secs(12)));
        assert_eq!(server_wait(503, &h), None, "RateLimit counts only on a 429");
        assert_eq!(server_wait(429, &headers("ratelimit", "\"api\";r=3;t=12")), None);
    }

    #[test]
    fn content_ranges_are_strict() {
        assert_eq!(ContentRange::parse("bytes 0-9/10"), Some(ContentRange { first: 0, last: 9, total: Some(10) }));
        assert_eq!(ContentRange::parse("bytes 5-9/*"), Some(ContentRange { first: 5, last: 9, total: None }));
        for bad in ["bytes 9-5/10", "bytes 0-10/10", "bytes -1-5/10", "bytes 0-5", "items 0-5/6", "bytes +1-5/10"] {
            assert_eq!(ContentRange::parse(bad), None, "{bad}");
        }
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        proptest! {
            #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

            /// What parses lies within the file; a well-formed range parses back to its parts.
            #[test]
            fn prop_content_range_is_consistent(text in "(bytes )?[0-9*/ -]{0,24}", first in 0u64.., len in 0u64..1 << 40, extra in 0u64..1 << 40) {
                if let Some(r) = ContentRange::parse(&text) {
                    prop_assert!(r.first <= r.last);
                    prop_assert!(r.total.is_none_or(|t| r.last < t));
                }
                let last = first.saturating_add(len);
                let total = last.checked_add(1).and_then(|t| t.checked_add(extra));
                let shown = total.map_or_else(|| "*".to_owned(), |t| t.to_string());
                let parsed = ContentRange::parse(&format!("bytes {first}-{last}/{shown}"));
                prop_assert_eq!(parsed, Some(ContentRange { first, last, total }));
            }

            /// Any `Link` header is parsed or refused, never panics; a relative next link
            /// resolves against the page it came from.
            #[test]
            fn prop_next_link_resolves(raw in "[ -~]{0,80}", path in "[a-z0-9][a-z0-9/]{0,19}", cursor in "[a-zA-Z0-9]{0,12}") {
                let here = Url::parse("http://hub.example/api/models/a/b/tree/main").unwrap();
                let mut headers = HeaderMap::new();
                if let Ok(value) = raw.parse() {
                    headers.insert(header::LINK, value);
                    let _ = next_link(&headers, &here);
                }
                let target = format!("/{path}?cursor={cursor}");
                headers.insert(header::LINK, format!("<{target}>; rel=\"next\"").parse().unwrap());
                prop_assert_eq!(next_link(&headers, &here).unwrap(), Some(here.join(&target).unwrap()));
            }

            /// A wait is exactly what the server said, in whole seconds, and nothing else.
            #[test]
            fn prop_server_wait_reads_seconds(secs in 0u64.., noise in "[ -~]{0,20}", status in 400u16..600) {
                prop_assert_eq!(server_wait(status, &headers("retry-after", &secs.to_string())), Some(Duration::from_secs(secs)));
                if let Ok(value) = noise.parse::<reqwest::header::HeaderValue>() {
                    let mut h = HeaderMap::new();
                    h.insert("retry-after", value);
                    let expected = noise.trim().parse::<u64>().ok().map(Duration::from_secs);
                    prop_assert_eq!(server_wait(status, &h), expected);
                }
                let limit = headers("ratelimit", &format!("\"api\";r=0;t={secs}"));
                prop_assert_eq!(server_wait(429, &limit), Some(Duration::from_secs(secs)));
            }
        }
    }
}
