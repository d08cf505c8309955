//! Logging in and out, and the account page (password change).
//!
//! The login form needs no session token: a cross-site post is refused by the browser's own
//! `Sec-Fetch-Site` / `Origin` (login CSRF), and scripts may post `email` and `password`
//! directly (SPEC §6). Every login opens a new session with a new secret; a session the
//! request already carried is ended first.

use std::net::SocketAddr;

use askama::Template;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request, State};
use axum::http::header::{RETRY_AFTER, SET_COOKIE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;

use super::form::{self, PanelForm, token_matches};
use super::view::{Frame, notice};
use super::{Page, PanelUser, html, is_https, presented_session, redirect, safe_next, session_cookie};
use crate::app::AppState;
use crate::engine::access::session::{BAD_LOGIN, LoginError, MIN_PASSWORD_CHARS};
use crate::error::Error;
use crate::transport::extract::Params;

#[derive(Template)]
#[template(path = "panel/login.html")]
struct LoginPage {
    network: String,
    email: String,
    next: String,
    error: Option<String>,
}

/// `GET /panel/login`.
pub async fn form(State(state): State<AppState>, params: Params, req: Request) -> Response {
    let (mut parts, _) = req.into_parts();
    if PanelUser::from_request_parts(&mut parts, &state).await.is_ok() {
        return redirect(&safe_next(params.get("next")));
    }
    let page = LoginPage {
        network: state.tracker.snapshots().snapshot().network.name.to_string(),
        email: String::new(),
        next: safe_next(params.get("next")),
        error: None,
    };
    html(page.render())
}

/// `POST /panel/login`: `email`, `password` (and `next`) → `303` with the session cookie.
pub async fn submit(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let https = is_https(&state, &parts.headers, &parts.extensions);
    let old = presented_session(&state, &parts.headers, &parts.extensions);
    let forwarded = parts.headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let fields = match form::read(Request::from_parts(parts, body), &state).await {
        Ok(f) => f,
        Err(refused) => return refused,
    };
    let ip = state.tracker.client_ip(peer.ip(), forwarded.as_deref());
    let email = fields.get("email").unwrap_or("").to_owned();
    let next = safe_next(fields.get("next"));
    let again = |status: StatusCode, error: String| {
        let network = state.tracker.snapshots().snapshot().network.name.to_string();
        let page = LoginPage { network, email: email.clone(), next: next.clone(), error: Some(error) };
        (status, html(page.render())).into_response()
    };
    match state.sessions.login(&email, fields.raw("password").unwrap_or(""), ip, Utc::now()).await {
        Ok(opened) => {
            if let Some(old) = old
                && let Err(e) = state.sessions.logout(&old).await
            {
                tracing::warn!(error = %e, "cannot end the session a login replaced");
            }
            tracing::info!(user_id = opened.caller.user.id, "panel login");
            let mut response = redirect(&next);
            response.headers_mut().insert(SET_COOKIE, session_cookie(https, Some(&opened.secret)));
            response
        }
        Err(LoginError::Rejected) => again(StatusCode::UNAUTHORIZED, BAD_LOGIN.to_owned()),
        Err(LoginError::Refused(message)) => again(StatusCode::FORBIDDEN, message),
        Err(LoginError::Throttled(until)) => {
            let seconds = (until - Utc::now()).num_seconds().max(1);
            let minutes = (seconds + 59) / 60;
            let mut response = again(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "Too many failed logins. Logins are paused for this account or address; try again in {minutes} minute{}.",
                    if minutes == 1 { "" } else { "s" }
                ),
            );
            if let Ok(v) = HeaderValue::from_str(&seconds.to_string()) {
                response.headers_mut().insert(RETRY_AFTER, v);
            }
            response
        }
        Err(LoginError::Store(e)) => super::error_page(None, e),
    }
}

/// `POST /panel/logout`: ends the session (its form carries the CSRF token) → the login page.
pub async fn logout(State(state): State<AppState>, req: Request) -> Response {
    let (mut parts, body) = req.into_parts();
    let https = is_https(&state, &parts.headers, &parts.extensions);
    let user = PanelUser::from_request_parts(&mut parts, &state).await.ok();
    let secret = presented_session(&state, &parts.headers, &parts.extensions);
    if let Some(user) = user {
        let fields = match form::read(Request::from_parts(parts, body), &state).await {
            Ok(f) => f,
            Err(refused) => return refused,
        };
        if !token_matches(&fields, &user.csrf) {
            return super::error_page(
                Some(user.frame(&state, "Not allowed", "")),
                Error::forbidden(
                    "This form has expired or did not come from the panel; reload the page and try again.",
                ),
            );
        }
        if let Some(secret) = secret
            && let Err(e) = state.sessions.logout(&secret).await
        {
            return super::error_page(None, e);
        }
    }
    let mut response = redirect("/panel/login");
    response.headers_mut().insert(SET_COOKIE, session_cookie(https, None));
    response
}

#[derive(Template)]
#[template(path = "panel/account.html")]
struct AccountPage {
    frame: Frame,
    email: String,
    error: Option<String>,
    min: usize,
}

/// `GET /panel/account`.
pub async fn account(State(state): State<AppState>, user: PanelUser, params: Params) -> Page {
    let frame = user.frame(&state, "Account", "account").notice(notice(params.get("done")));
    let email = user.caller.user.spec.email.as_ref().map(ToString::to_string).unwrap_or_default();
    Ok(html(AccountPage { frame, email, error: None, min: MIN_PASSWORD_CHARS }.render()))
}

/// `POST /panel/account`: `current_password`, `new_password`, `confirm_password`. Every
/// session of the user ends; this browser gets a new one.
pub async fn change_password(State(state): State<AppState>, req: Request) -> Response {
    let https = is_https(&state, req.headers(), req.extensions());
    let PanelForm { user, fields } = match PanelForm::from_request(req, &state).await {
        Ok(f) => f,
        Err(refused) => return refused,
    };
    let again = |error: String| {
        let frame = user.frame(&state, "Account", "account");
        let email = user.caller.user.spec.email.as_ref().map(ToString::to_string).unwrap_or_default();
        (
            StatusCode::BAD_REQUEST,
            html(AccountPage { frame, email, error: Some(error), min: MIN_PASSWORD_CHARS }.render()),
        )
            .into_response()
    };
    let new = fields.raw("new_password").unwrap_or("");
    if new != fields.raw("confirm_password").unwrap_or("") {
        return again("The new password and its confirmation differ.".to_owned());
    }
    let id = user.caller.user.id;
    if let Err(e) = state.sessions.change_password(id, fields.raw("current_password").unwrap_or(""), new).await {
        let message = match e.field.as_deref() {
            Some("current_password") => "The current password is not right.".to_owned(),
            Some("password") => format!("The new password {}", e.message.trim_start_matches("password: ")),
            _ => return super::error_page(None, e),
        };
        return again(message);
    }
    match state.sessions.open(user.caller.user.clone(), Utc::now()).await {
        Ok(opened) => {
            let mut response = redirect("/panel/account?done=password");
            response.headers_mut().insert(SET_COOKIE, session_cookie(https, Some(&opened.secret)));
            response
        }
        Err(e) => super::error_page(None, e),
    }
}
