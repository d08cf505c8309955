//! The panel (SPEC §9): server-rendered HTML pages under `/panel/` for admins, affiliates and
//! advertisers, on the same engine and access model as the APIs. A login opens a session (a
//! [`Grant::Session`](crate::engine::access::Grant)); its cookie is `clicktrail_session`
//! (`__Host-clicktrail_session` on HTTPS), `HttpOnly`, `SameSite=Lax`, `Path=/`.
//!
//! Every form that changes something carries the session's synchronizer token (`_csrf`) and
//! is refused when a browser says it comes from another site (`Sec-Fetch-Site`, else
//! `Origin`). Pages are askama templates compiled into the binary; the stylesheet, the little
//! script and the charts (SVG drawn here) ship inside it too.

mod assets;
mod chart;
mod conversions;
mod dashboard;
mod form;
mod login;
mod offers;
mod postbacks;
mod reports;
mod settings;
mod users;
mod view;

use askama::Template;
use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, HOST, LOCATION, ORIGIN};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use clicktrail_domain::user::Role;

pub use self::form::PanelForm;
use self::view::Frame;
use crate::app::AppState;
use crate::engine::access::Caller;
use crate::error::{Error, ErrorKind};
use crate::transport::error::public_message;

pub use crate::transport::session::{COOKIE, HOST_COOKIE, cookie, is_https, presented_session, session_cookie};

/// The panel's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/panel", get(|| async { redirect("/panel/") }))
        .route("/panel/login", get(login::form).post(login::submit))
        .route("/panel/logout", post(login::logout))
        .route("/panel/account", get(login::account).post(login::change_password))
        .route("/panel/", get(dashboard::page))
        .route("/panel/live", get(dashboard::live))
        .route("/panel/offers", get(offers::list))
        .route("/panel/offers/new", get(offers::new).post(offers::create))
        .route("/panel/offers/{id}", get(offers::show).post(offers::update))
        .route("/panel/offers/{id}/request", post(offers::request_access))
        .route("/panel/affiliates", get(users::affiliates).post(users::create_affiliate))
        .route("/panel/advertisers", get(users::advertisers).post(users::create_advertiser))
        .route("/panel/users/{id}", get(users::show).post(users::update))
        .route("/panel/conversions", get(conversions::list))
        .route("/panel/conversions/{id}", get(conversions::show).post(conversions::review))
        .route("/panel/reports", get(reports::page))
        .route("/panel/clicks", get(reports::clicks))
        .route("/panel/settings", get(settings::settings).post(settings::save_settings))
        .route("/panel/traffic-sources", get(settings::sources).post(settings::create_source))
        .route("/panel/coupons", get(settings::coupons).post(settings::create_coupon))
        .route("/panel/keys", get(settings::list_keys).post(settings::create_key))
        .route("/panel/keys/{id}/revoke", post(settings::revoke_key))
        .route("/panel/postbacks", get(postbacks::list).post(postbacks::create))
        .route("/panel/postbacks/{id}", get(postbacks::show).post(postbacks::act))
        .route("/panel/static/{file}", get(assets::serve))
        .route(
            "/panel/{*rest}",
            axum::routing::any(|| async {
                error_page(None, Error::new(ErrorKind::NotFound, "There is no such page."))
            }),
        )
}

/// What a panel handler answers: a page, a redirect, or an error page.
pub type Page = Result<Response, PanelError>;

/// An error shown as a page of the panel (with its navigation when the caller is known).
pub struct PanelError {
    frame: Option<Box<Frame>>,
    error: Error,
}

impl PanelError {
    /// An error page for this caller.
    pub fn new(frame: Option<Frame>, error: Error) -> Self {
        Self { frame: frame.map(Box::new), error }
    }
}

impl<E: Into<Error>> From<E> for PanelError {
    fn from(e: E) -> Self {
        Self { frame: None, error: e.into() }
    }
}

/// The error page's template.
#[derive(Template)]
#[template(path = "panel/error.html")]
struct ErrorPage {
    frame: Option<Frame>,
    status: u16,
    title: &'static str,
    message: String,
}

impl IntoResponse for PanelError {
    fn into_response(self) -> Response {
        let (status, _) = crate::transport::error::status_and_code(self.error.kind);
        let title = match self.error.kind {
            ErrorKind::NotFound => "Not found",
            ErrorKind::Forbidden | ErrorKind::MissingScope => "Not allowed",
            ErrorKind::Unauthenticated => "Please log in",
            ErrorKind::Invalid => "Not valid",
            ErrorKind::RateLimited => "Too many attempts",
            ErrorKind::Internal => "Something went wrong",
            ErrorKind::Unavailable => "Temporarily unavailable",
            _ => "Cannot do that",
        };
        let page = ErrorPage {
            frame: self.frame.map(|f| *f),
            status: status.as_u16(),
            title,
            message: public_message(&self.error),
        };
        (status, html(page.render())).into_response()
    }
}

/// An error page.
pub fn error_page(frame: Option<Frame>, error: Error) -> Response {
    PanelError::new(frame, error).into_response()
}

/// A rendered template as an HTML response (never cached: pages hold the caller's data).
pub fn html(rendered: askama::Result<String>) -> Response {
    match rendered {
        Ok(body) => (
            [
                (CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8")),
                (CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
            body,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "cannot render a panel page");
            (StatusCode::INTERNAL_SERVER_ERROR, "The page could not be drawn.").into_response()
        }
    }
}

/// `303 See Other` to a path of the panel.
pub fn redirect(to: &str) -> Response {
    let location = HeaderValue::from_str(to).unwrap_or(HeaderValue::from_static("/panel/"));
    (StatusCode::SEE_OTHER, [(LOCATION, location)]).into_response()
}

/// Whether a browser says the request comes from another site: `Sec-Fetch-Site` when it sends
/// one, else an `Origin` whose host is not ours. A request with neither (not a browser's form
/// post) is judged by its CSRF token alone.
pub fn cross_site(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return !matches!(site, "same-origin" | "none");
    }
    match (headers.get(ORIGIN).and_then(|v| v.to_str().ok()), headers.get(HOST).and_then(|v| v.to_str().ok())) {
        (Some("null"), _) => true,
        (Some(origin), Some(host)) => {
            let origin_host = origin.split_once("://").map_or(origin, |(_, rest)| rest);
            !origin_host.eq_ignore_ascii_case(host)
        }
        (Some(_), None) => true,
        (None, _) => false,
    }
}

/// A logged-in user of the panel: its caller and the session's CSRF token. A request without
/// a live session is sent to the login page (which brings it back afterwards).
pub struct PanelUser {
    /// The caller (a session grant).
    pub caller: Caller,
    /// The session's CSRF token.
    pub csrf: String,
}

impl PanelUser {
    /// The frame of a page for this user.
    pub fn frame(&self, state: &AppState, title: impl Into<String>, section: &'static str) -> Frame {
        Frame::new(state, &self.caller, &self.csrf, title.into(), section)
    }

    /// Fails with an error page unless the user has one of `roles`.
    pub fn require(&self, state: &AppState, roles: &[Role]) -> Result<(), PanelError> {
        if roles.contains(&self.caller.role()) {
            return Ok(());
        }
        Err(PanelError::new(
            Some(self.frame(state, "Not allowed", "")),
            Error::forbidden("This page is not for your account."),
        ))
    }

    /// An error page with this user's navigation.
    pub fn fail(&self, state: &AppState, error: impl Into<Error>) -> PanelError {
        PanelError::new(Some(self.frame(state, "Error", "")), error.into())
    }
}

impl FromRequestParts<AppState> for PanelUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let live = crate::transport::session::live(state, &parts.headers, &parts.extensions)
            .await
            .map_err(|e| error_page(None, e))?;
        match live {
            Some(live) => Ok(Self { caller: live.caller, csrf: live.csrf }),
            None if parts.method == axum::http::Method::GET => {
                let next = parts.uri.path_and_query().map_or("/panel/", |p| p.as_str());
                let target = format!(
                    "/panel/login?next={}",
                    url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
                );
                Err(redirect(&target))
            }
            None => {
                Err(error_page(None, Error::new(ErrorKind::Unauthenticated, "Your session has ended; log in again.")))
            }
        }
    }
}

/// A path to come back to after login: only a path of the panel (never another site).
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with("/panel/") && !n.starts_with("//") && !n.contains('\\') && !n.contains("://") => {
            n.to_owned()
        }
        _ => "/panel/".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_in_the_panel() {
        assert_eq!(safe_next(Some("/panel/offers?x=1")), "/panel/offers?x=1");
        for bad in ["https://evil.example/", "//evil.example", "/panel/\\evil", "/api/me", "/panel/x?u=https://e"] {
            assert_eq!(safe_next(Some(bad)), "/panel/", "{bad}");
        }
        assert_eq!(safe_next(None), "/panel/");
    }

    #[test]
    fn cross_site_requests_are_told_apart() {
        let mut h = HeaderMap::new();
        assert!(!cross_site(&h), "no browser headers: the token decides");
        h.insert(HOST, HeaderValue::from_static("127.0.0.1:8080"));
        h.insert(ORIGIN, HeaderValue::from_static("http://127.0.0.1:8080"));
        assert!(!cross_site(&h));
        h.insert(ORIGIN, HeaderValue::from_static("http://evil.example"));
        assert!(cross_site(&h));
        h.insert("sec-fetch-site", HeaderValue::from_static("same-origin"));
        assert!(!cross_site(&h), "Sec-Fetch-Site decides when sent");
        h.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(cross_site(&h));
        h.insert("sec-fetch-site", HeaderValue::from_static("same-site"));
        assert!(cross_site(&h), "a sibling subdomain is another origin");
    }
}
