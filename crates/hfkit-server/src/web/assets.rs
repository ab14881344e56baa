//! The pages' only static files, compiled in: one small stylesheet and the few lines of
//! script behind the copy buttons (an extra: every page works without it).

use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::PageError;

const STYLE: &str = include_str!("../../static/style.css");
const COPY: &str = include_str!("../../static/copy.js");

/// `GET /-/static/{file}`.
pub(super) async fn asset(Path(file): Path<String>) -> Result<Response, PageError> {
    let (body, kind) = match file.as_str() {
        "style.css" => (STYLE, "text/css; charset=utf-8"),
        "copy.js" => (COPY, "text/javascript; charset=utf-8"),
        _ => return Err(PageError::NotFound),
    };
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    Ok(response)
}
