//! Tracking endpoints: `GET /c/{offer}/{affiliate}` (click), `GET /i/{offer}/{affiliate}`
//! (impression pixel), `GET /h` (the signed middle hop of a double meta refresh) and the
//! browser tag `GET /js/clicktrail.js` ([`tag`]); conversions in are [`conversions`].

pub mod conversions;
pub mod tag;

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{ConnectInfo, Path, RawQuery, State};
use axum::http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_ORIGIN, CACHE_CONTROL, CONTENT_TYPE, LOCATION, SET_COOKIE,
    VARY,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::Utc;
use clicktrail_domain::offer::RedirectMode;
use serde_json::json;

use crate::app::AppState;
use crate::engine::track::pipeline::Visit;
use crate::engine::track::{Outcome, Tracked};

/// A transparent 1×1 GIF.
pub const PIXEL_GIF: &[u8] = &[
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff,
    0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x02,
    0x02, 0x44, 0x01, 0x00, 0x3b,
];

/// The routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/c/{offer}/{affiliate}", get(click))
        .route("/i/{offer}/{affiliate}", get(impression))
        .route("/h", get(hop))
        .route("/js/clicktrail.js", get(tag::script))
}

fn header(headers: &HeaderMap, name: &str) -> String {
    headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned()
}

fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()).into_owned().collect()
}

fn visit(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    offer: String,
    affiliate: String,
    query: Vec<(String, String)>,
) -> Visit {
    let forwarded = headers.get("x-forwarded-for").and_then(|v| v.to_str().ok());
    Visit {
        offer,
        affiliate,
        query,
        ip: state.tracker.client_ip(peer.ip(), forwarded),
        user_agent: header(headers, "user-agent"),
        referer: header(headers, "referer"),
        accept_language: header(headers, "accept-language"),
        at: Utc::now(),
    }
}

/// Escapes text for an HTML attribute or body.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn refresh_page(url: &str) -> Response {
    let url = escape_html(url);
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><meta name=\"referrer\" content=\"no-referrer\">\
         <meta http-equiv=\"refresh\" content=\"0;url={url}\"><title>Redirecting</title></head>\
         <body><a href=\"{url}\">Continue</a></body></html>"
    );
    ([(CONTENT_TYPE, "text/html; charset=utf-8"), (CACHE_CONTROL, "no-store")], body).into_response()
}

fn not_found_page() -> Response {
    let body = "<!doctype html><html><head><meta charset=\"utf-8\"><title>Link not active</title></head>\
                <body><p>This link is not active.</p></body></html>";
    (StatusCode::NOT_FOUND, [(CONTENT_TYPE, "text/html; charset=utf-8"), (CACHE_CONTROL, "no-store")], body)
        .into_response()
}

fn unavailable(e: &impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "cannot track");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(CACHE_CONTROL, "no-store"), (axum::http::header::RETRY_AFTER, "1")],
        "Try again shortly.",
    )
        .into_response()
}

fn redirect(url: &str) -> Response {
    match HeaderValue::from_str(url) {
        Ok(location) => {
            (StatusCode::FOUND, [(LOCATION, location), (CACHE_CONTROL, HeaderValue::from_static("no-store"))])
                .into_response()
        }
        Err(_) => not_found_page(),
    }
}

/// Whether browsers see the tracking domain as a secure context: its base URL is HTTPS (or on
/// loopback, which browsers treat as secure: `http://127.0.0.1`, `http://localhost`), or a
/// trusted proxy in front says the click came over HTTPS.
fn secure_context(state: &AppState, peer: SocketAddr, headers: &HeaderMap) -> bool {
    let snapshot = state.tracker.snapshots().snapshot();
    let by_base = snapshot.network.tracking_base_url.as_ref().is_some_and(|u| {
        let url = u.url();
        url.scheme() == "https"
            || match url.host() {
                Some(url::Host::Domain(d)) => d == "localhost" || d.ends_with(".localhost"),
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                None => false,
            }
    });
    by_base || crate::transport::session::forwarded_https(state, headers, Some(peer.ip()))
}

/// CORS for the browser tag (`/js/clicktrail.js`): a page's origin is echoed with credentials,
/// so its `fetch` may carry the click cookie where the browser allows it. What these answers
/// hold (a click's own id, a conversion's id and status) is nothing another site may not see.
pub fn allow_origin(request: &HeaderMap, response: &mut Response) {
    let headers = response.headers_mut();
    match request.get(axum::http::header::ORIGIN).filter(|o| o.as_bytes() != b"null") {
        Some(origin) => {
            headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
            headers.insert(ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
        }
        None => {
            headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        }
    }
    headers.append(VARY, HeaderValue::from_static("Origin"));
}

/// The cookie that carries the click id to the conversion pixel.
fn click_cookie(state: &AppState, peer: SocketAddr, headers: &HeaderMap, tracked: &Tracked) -> Option<HeaderValue> {
    if tracked.rejection.is_some() {
        return None;
    }
    let secure = secure_context(state, peer, headers);
    // In a secure context the cookie is `SameSite=None; Secure`: the conversion pixel is an
    // image on the advertiser's site, and a browser sends a `Lax` cookie with no cross-site
    // image. Plain HTTP cannot carry `SameSite=None` (browsers drop it without `Secure`), so
    // it stays `Lax` there.
    let cookie = format!(
        "ct_{}={}; Max-Age={}; Path=/; HttpOnly; {}",
        tracked.offer_id,
        tracked.click_id,
        u32::from(tracked.cookie_days) * 86_400,
        if secure { "SameSite=None; Secure" } else { "SameSite=Lax" }
    );
    HeaderValue::from_str(&cookie).ok()
}

async fn click(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path((offer, affiliate)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let started = std::time::Instant::now();
    let query = query_pairs(raw.as_deref());
    let wants_json = query.iter().any(|(k, v)| k == "async" && v == "json");
    let tracked = match state.tracker.click(visit(&state, peer, &headers, offer, affiliate, query)).await {
        Ok(t) => t,
        Err(e) => return unavailable(&e),
    };
    let cookie = click_cookie(&state, peer, &headers, &tracked);
    let mut response = if wants_json {
        let mut body =
            json!({"transaction_id": tracked.click_id.to_hex(), "oid": tracked.offer_id, "aid": tracked.affiliate_id});
        if let (Some(r), Some(map)) = (tracked.rejection, body.as_object_mut()) {
            map.insert("error_code".into(), r.code().into());
            map.insert("error_message".into(), r.message().into());
        }
        let mut r = axum::Json(body).into_response();
        allow_origin(&headers, &mut r);
        r.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        r
    } else {
        match &tracked.outcome {
            Outcome::Offer { url, mode: RedirectMode::Redirect } => redirect(url),
            Outcome::Offer { url, mode: RedirectMode::MetaRefresh } => refresh_page(url),
            Outcome::Offer { url, mode: RedirectMode::DoubleMetaRefresh } => {
                let hop: String = url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("u", url)
                    .append_pair("s", &state.tracker.sign_hop(url))
                    .finish();
                refresh_page(&format!("/h?{hop}"))
            }
            Outcome::Fallback(url) => redirect(url),
            Outcome::NotFound => not_found_page(),
        }
    };
    if let Some(cookie) = cookie {
        response.headers_mut().append(SET_COOKIE, cookie);
    }
    metrics::histogram!("clicktrail_click_duration_seconds").record(started.elapsed().as_secs_f64());
    response
}

async fn impression(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path((offer, affiliate)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let visit = visit(&state, peer, &headers, offer, affiliate, query_pairs(raw.as_deref()));
    if let Err(e) = state.tracker.impression(visit).await {
        return unavailable(&e);
    }
    ([(CONTENT_TYPE, "image/gif"), (CACHE_CONTROL, "no-store, no-cache, must-revalidate")], PIXEL_GIF).into_response()
}

async fn hop(State(state): State<AppState>, RawQuery(raw): RawQuery) -> Response {
    let pairs = query_pairs(raw.as_deref());
    let get = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    match (get("u"), get("s")) {
        (Some(url), Some(sig)) if state.tracker.verify_hop(url, sig) => refresh_page(url),
        _ => not_found_page(),
    }
}
