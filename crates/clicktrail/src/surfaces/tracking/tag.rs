//! `GET /js/clicktrail.js`: the first-party tracking tag (SPEC §6, docs/BROWSER-TRACKING.md),
//! compiled into the binary. It carries the build's version; browsers and CDNs may keep it for
//! a day and revalidate it by its `ETag`.

use std::sync::LazyLock;

use axum::http::header::{
    ACCESS_CONTROL_ALLOW_ORIGIN, CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH, X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// The tag's source, with the version filled in, and its entity tag.
static TAG: LazyLock<(String, HeaderValue)> = LazyLock::new(|| {
    let body = include_str!("../../../assets/clicktrail.js").replace("@VERSION@", env!("CARGO_PKG_VERSION"));
    let digest = Sha256::digest(body.as_bytes());
    let etag = format!("\"{}\"", hex::encode(&digest[..8]));
    (body, HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"0\"")))
});

const CACHING: &str = "public, max-age=86400";

/// `GET /js/clicktrail.js` (also with `?v=…`, which only busts caches).
pub async fn script(headers: HeaderMap) -> Response {
    let (body, etag) = &*TAG;
    let fresh = headers
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|t| t.trim() == etag.to_str().unwrap_or_default() || t.trim() == "*"));
    let common = [
        (CACHE_CONTROL, HeaderValue::from_static(CACHING)),
        (ETAG, etag.clone()),
        (ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*")),
    ];
    if fresh {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    (
        common,
        [
            (CONTENT_TYPE, HeaderValue::from_static("text/javascript; charset=utf-8")),
            (X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        ],
        body.clone(),
    )
        .into_response()
}
