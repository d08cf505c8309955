//! Panel sessions as the transport sees them: the cookie a logged-in browser carries, and the
//! caller it names. The panel logs in and out with it; Dialect A takes it in place of its
//! headers (seed 000: "if you are logged in to the panel, the current user is used").

use axum::http::header::{self, HeaderValue};
use axum::http::{Extensions, HeaderMap};
use chrono::Utc;

use crate::app::AppState;
use crate::engine::access::session::Live;
use crate::error::Error;

/// The session cookie on plain HTTP.
pub const COOKIE: &str = "clicktrail_session";
/// The session cookie on HTTPS (`__Host-`: Secure, no Domain, Path=/).
pub const HOST_COOKIE: &str = "__Host-clicktrail_session";

/// A request's cookie by name.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// Whether the request reached us over HTTPS: a trusted proxy says so (`X-Forwarded-Proto`).
pub fn is_https(state: &AppState, headers: &HeaderMap, extensions: &Extensions) -> bool {
    let peer = extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip());
    forwarded_https(state, headers, peer)
}

/// Whether a request from `peer` came over HTTPS: the peer is a trusted proxy and says so.
pub fn forwarded_https(state: &AppState, headers: &HeaderMap, peer: Option<std::net::IpAddr>) -> bool {
    let proto = headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()).unwrap_or("");
    proto.eq_ignore_ascii_case("https")
        && peer.is_some_and(|ip| state.settings.trusted_proxies.iter().any(|net| net.contains(&ip)))
}

/// The name of the session cookie for this request's scheme.
pub fn cookie_name(https: bool) -> &'static str {
    if https { HOST_COOKIE } else { COOKIE }
}

/// A `Set-Cookie` value with the panel's flags; `None` clears the cookie.
pub fn session_cookie(https: bool, value: Option<&str>) -> HeaderValue {
    let name = cookie_name(https);
    let secure = if https { "; Secure" } else { "" };
    let text = match value {
        Some(v) => format!("{name}={v}; Path=/; HttpOnly; SameSite=Lax{secure}"),
        None => format!("{name}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}"),
    };
    HeaderValue::from_str(&text).unwrap_or(HeaderValue::from_static("clicktrail_session=; Path=/; Max-Age=0"))
}

/// The session secret a request carries (the cookie of its scheme).
pub fn presented_session(state: &AppState, headers: &HeaderMap, extensions: &Extensions) -> Option<String> {
    cookie(headers, cookie_name(is_https(state, headers, extensions))).map(str::to_owned)
}

/// The live session a request's cookie names, if any.
pub async fn live(state: &AppState, headers: &HeaderMap, extensions: &Extensions) -> Result<Option<Live>, Error> {
    match presented_session(state, headers, extensions) {
        Some(secret) => state.sessions.resolve(&secret, Utc::now()).await,
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_by_name() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("a=1; clicktrail_session=abc ; b=2"));
        assert_eq!(cookie(&h, COOKIE), Some("abc"));
        assert_eq!(cookie(&h, "b"), Some("2"));
        assert_eq!(cookie(&h, "c"), None);
        let set = session_cookie(true, Some("x"));
        assert_eq!(set.to_str().ok(), Some("__Host-clicktrail_session=x; Path=/; HttpOnly; SameSite=Lax; Secure"));
    }
}
