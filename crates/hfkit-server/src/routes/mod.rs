//! The Hub's routes, one module per area, in one table ([`routes`]). Repository routes are
//! parsed by hand ([`dispatch`]) because the Hub's URLs have an optional type prefix, ids of
//! one or two segments, and revisions that may contain encoded `/`.

pub(crate) mod access;
mod cache_policy;
mod oauth;
mod repo_api;
mod resolve;
mod whoami;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::HubState;
use crate::hub_error::HubError;

pub(crate) use resolve::cdn_routes;

pub(crate) fn routes() -> Router<Arc<HubState>> {
    Router::new()
        .route("/api/whoami-v2", get(whoami::whoami).layer(axum::middleware::map_response(private)))
        .route("/oauth/device", post(oauth::device).layer(axum::middleware::map_response(no_store)))
        .route("/oauth/token", post(oauth::token).layer(axum::middleware::map_response(no_store)))
        .route("/health", get(health))
        // Before the pages' `/{owner}/{name}`, which would match `/api/models` otherwise.
        .route("/api/{*rest}", axum::routing::any(dispatch))
        .merge(crate::web::router())
        .fallback(dispatch)
}

/// An answer about the caller (`whoami`): kept by no cache.
async fn private(response: Response) -> Response {
    cache_policy::CachePolicy::Private.apply(response)
}

/// An answer holding a token: kept by nothing.
async fn no_store(response: Response) -> Response {
    cache_policy::CachePolicy::NoStore.apply(response)
}

/// Largest request body read by a repository route (a `paths-info` form).
const MAX_FORM_BYTES: usize = 1024 * 1024;

/// `GET /health`: the server answers (now: never kept by a cache).
async fn health() -> Response {
    cache_policy::CachePolicy::NoStore.apply(axum::Json(serde_json::json!({"status": "ok"})).into_response())
}

/// Repository routes: `/api/{types}/{id}[/…]` and `[/{types}]/{id}/resolve/{rev}/{path}`.
async fn dispatch(State(state): State<Arc<HubState>>, request: Request) -> Response {
    let method = request.method().clone();
    if method != Method::GET && method != Method::HEAD && method != Method::POST {
        return HubError::not_found("Not Found").into_response();
    }
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or_default().to_owned();
    let headers = request.headers().clone();
    // The connection's zero-copy sends, for file bodies (see `crate::sendfile`).
    let sends = request.extensions().get::<std::sync::Arc<crate::sendfile::Sends>>().cloned();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    if segments.iter().any(|s| is_dot_segment(s)) {
        // No Hub path has them, and a URL built from them would point elsewhere: a mirror
        // passing `…/../../secret/…` upstream would ask for another repo with its own token.
        return HubError::not_found("Not Found").into_response();
    }
    let result = if segments.first() == Some(&"api") {
        let body = if method == Method::POST {
            match axum::body::to_bytes(request.into_body(), MAX_FORM_BYTES).await {
                Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                Err(_) => {
                    return HubError::new(axum::http::StatusCode::PAYLOAD_TOO_LARGE, "Request body too large")
                        .into_response();
                }
            }
        } else {
            String::new()
        };
        repo_api::handle(&state, &headers, &method, &segments[1..], &query, &body).await
    } else if method == Method::POST {
        Err(HubError::not_found("Not Found"))
    } else {
        resolve::handle(&state, &headers, &segments, method == Method::HEAD, sends).await
    };
    result.unwrap_or_else(IntoResponse::into_response)
}

/// The bearer token of a request, if any.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token)
}

/// Whether a URL segment is `.` or `..` once decoded (`%2e`, `%2E`…), or holds a backslash
/// (which URL parsers read as a `/`).
fn is_dot_segment(segment: &str) -> bool {
    let decoded = decode(segment);
    decoded == "." || decoded == ".." || decoded.contains('\\') || segment.contains('\\')
}

/// Decodes `%XX` escapes of one URL segment.
pub(crate) fn decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(hi), Some(lo)) = (hex_value(bytes[i + 1]), hex_value(bytes[i + 2]))
        {
            out.push(hi * 16 + lo);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_value(b: u8) -> Option<u8> {
    (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

/// Splits `[type prefix/]ns/name/rest…` where the repo id ends before `marker`.
pub(crate) fn split_repo<'a>(segments: &'a [&'a str], marker: &str) -> Option<(&'static str, String, &'a [&'a str])> {
    let (kind, rest) = match segments.first() {
        Some(&"datasets") => ("dataset", &segments[1..]),
        Some(&"spaces") => ("space", &segments[1..]),
        Some(&"kernels") => ("kernel", &segments[1..]),
        _ => ("model", segments),
    };
    let at = rest.iter().position(|s| *s == marker)?;
    if at == 0 || at > 2 {
        return None;
    }
    Some((kind, rest[..at].join("/"), &rest[at + 1..]))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::{decode, split_repo};

    /// `quote(s, safe="")`: every byte but the unreserved ones as `%XX`, as clients send.
    fn encode(s: &str, lower: bool) -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
                _ if lower => format!("%{b:02x}"),
                _ => format!("%{b:02X}"),
            })
            .collect()
    }

    /// Percent-decoding as a reference: `%` and two hex digits is a byte, anything else is
    /// itself; invalid UTF-8 becomes U+FFFD, as Python's `unquote` does.
    fn reference_decode(s: &str) -> String {
        let mut out = Vec::new();
        let mut rest = s.as_bytes();
        while let Some((&b, tail)) = rest.split_first() {
            let hex = tail
                .get(..2)
                .and_then(|h| std::str::from_utf8(h).ok())
                .filter(|h| h.bytes().all(|c| c.is_ascii_hexdigit()));
            match (b, hex) {
                (b'%', Some(h)) => {
                    out.push(u8::from_str_radix(h, 16).expect("hex"));
                    rest = &tail[2..];
                }
                _ => {
                    out.push(b);
                    rest = tail;
                }
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    fn id_part() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9_][a-zA-Z0-9._-]{0,6}".prop_filter("not a route word", |p| {
            !["resolve", "models", "datasets", "spaces", "kernels"].contains(&p.as_str())
        })
    }

    proptest! {
        // Generators filter out a few invalid values; long runs must not stop at proptest's
        // fixed budget of rejections.
        #![proptest_config(ProptestConfig {
            failure_persistence: None,
            max_local_rejects: u32::MAX,
            ..ProptestConfig::default()
        })]

        /// A segment encoded by a client decodes to the text it was made from.
        #[test]
        fn prop_route_decode_round_trip(s in any::<String>(), lower in any::<bool>()) {
            prop_assert_eq!(decode(&encode(&s, lower)), s);
        }

        /// Any segment decodes as the reference decodes it; never a panic.
        #[test]
        fn prop_route_decode_agrees(s in "[%0-9a-fA-FgG/]{0,12}|\\PC{0,12}") {
            prop_assert_eq!(decode(&s), reference_decode(&s));
        }

        /// `[type/]ns/name/resolve/rev/path…` splits back into its type, id and the rest.
        #[test]
        fn prop_route_split_round_trip(
            kind in prop::sample::select(vec![("model", ""), ("dataset", "datasets"), ("space", "spaces"), ("kernel", "kernels")]),
            ns in prop::option::of(id_part()),
            name in id_part(),
            rest in prop::collection::vec("[a-z.%0-9]{0,4}", 0..4),
        ) {
            let id = ns.map_or(name.clone(), |ns| format!("{ns}/{name}"));
            let mut path = String::new();
            if !kind.1.is_empty() {
                path.push_str(kind.1);
                path.push('/');
            }
            path.push_str(&id);
            path.push_str("/resolve");
            for r in &rest {
                path.push('/');
                path.push_str(r);
            }
            let segments: Vec<&str> = path.split('/').collect();
            let (k, got_id, got_rest) = split_repo(&segments, "resolve").expect("a repo route");
            prop_assert_eq!((k, got_id.as_str()), (kind.0, id.as_str()));
            prop_assert_eq!(got_rest.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>(), rest);
        }
    }
}
