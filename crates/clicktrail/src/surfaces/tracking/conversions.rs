//! Conversions in: `GET`/`POST /postback` (server to server), the `/p` pixel (an image or an
//! iframe) and the browser tag's `POST /p`.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_MAX_AGE, CACHE_CONTROL, CONTENT_TYPE,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use super::PIXEL_GIF;
use crate::app::AppState;
use crate::engine::convert::{Inbound, Received};
use crate::error::Error;
use crate::transport::error::ApiError;
use crate::transport::extract::RawBody;

/// The routes (not part of the native API document).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/postback", get(postback_get).post(postback_post))
        .route("/p", get(pixel).post(tag_conversion).options(preflight))
        .route("/p/iframe", get(iframe_pixel))
}

fn pairs(raw: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw).into_owned().collect()
}

fn source_ip(state: &AppState, peer: SocketAddr, headers: &HeaderMap) -> std::net::IpAddr {
    state.tracker.client_ip(peer.ip(), headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()))
}

async fn receive(state: &AppState, input: Inbound, ip: std::net::IpAddr) -> Result<Json<serde_json::Value>, ApiError> {
    let received = state.conversions.receive(input, ip).await?;
    let c = &received.conversion;
    Ok(Json(json!({
        "conversion_id": c.id,
        "status": c.status.as_str(),
        "duplicate": received.duplicate,
        "payout": c.payout.to_f64(),
        "revenue": c.revenue.to_f64(),
    })))
}

async fn postback_get(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Json<serde_json::Value>, ApiError> {
    let input = Inbound::from_pairs(&pairs(raw.unwrap_or_default().as_bytes()));
    receive(&state, input, source_ip(&state, peer, &headers)).await
}

async fn postback_post(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    RawBody(body): RawBody,
) -> Result<Json<serde_json::Value>, ApiError> {
    let mut all = pairs(raw.unwrap_or_default().as_bytes());
    let json_body =
        headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|t| t.starts_with("application/json"));
    if json_body {
        let value: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| Error::invalid("body", format!("is not valid JSON ({e})")))?;
        let map = value.as_object().ok_or_else(|| Error::invalid("body", "must be a JSON object"))?;
        for (k, v) in map {
            let text = match v {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Null => continue,
                other => other.to_string(),
            };
            all.push((k.clone(), text));
        }
    } else {
        all.extend(pairs(&body));
    }
    receive(&state, Inbound::from_pairs(&all), source_ip(&state, peer, &headers)).await
}

/// The conversion pixel, an image: the click id is the one the page passes (`click_id` or
/// `transaction_id`, from a first-party cookie or the landing page's URL), else the one in the
/// click cookie of the offer (`ct_{offer_id}`, set at click time — sent with a cross-site
/// image only where the browser still allows third-party cookies). Always a GIF: a page's
/// image never shows an error.
async fn pixel(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    record_pixel(&state, peer, &headers, raw).await;
    ([(CONTENT_TYPE, "image/gif"), (CACHE_CONTROL, "no-store, no-cache, must-revalidate")], PIXEL_GIF).into_response()
}

/// The same pixel as an empty HTML page, for networks whose advertisers place an `<iframe>`.
async fn iframe_pixel(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    record_pixel(&state, peer, &headers, raw).await;
    (
        [(CONTENT_TYPE, "text/html; charset=utf-8"), (CACHE_CONTROL, "no-store, no-cache, must-revalidate")],
        "<!doctype html><title>Clicktrail</title>",
    )
        .into_response()
}

/// `POST /p`: the browser tag's conversion (form fields in the body or the query, from
/// `fetch` or `sendBeacon`). Answers the conversion's id and status — never its money, which
/// the page's visitors must not read — or the error, in the native format; with CORS for the
/// page's origin.
async fn tag_conversion(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    RawBody(body): RawBody,
) -> Response {
    let mut params = pairs(raw.unwrap_or_default().as_bytes());
    params.extend(pairs(&body));
    let mut response = match record(&state, peer, &headers, params).await {
        Ok(received) => Json(json!({
            "conversion_id": received.conversion.id,
            "status": received.conversion.status.as_str(),
            "duplicate": received.duplicate,
        }))
        .into_response(),
        Err(e) => ApiError::from(e).into_response(),
    };
    response.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    super::allow_origin(&headers, &mut response);
    response
}

/// `OPTIONS /p`: the preflight of a tag call that is not a simple request.
async fn preflight(headers: HeaderMap) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    super::allow_origin(&headers, &mut response);
    let h = response.headers_mut();
    h.insert(ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, POST"));
    h.insert(ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("content-type"));
    h.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("86400"));
    response
}

/// Records the conversion a pixel reports, if it names a click; logs why not otherwise.
async fn record_pixel(state: &AppState, peer: SocketAddr, headers: &HeaderMap, raw: Option<String>) {
    let params = pairs(raw.unwrap_or_default().as_bytes());
    let offer = params.iter().find(|(k, _)| k == "offer_id").map(|(_, v)| v.clone()).unwrap_or_default();
    if let Err(e) = record(state, peer, headers, params).await {
        tracing::info!(error = %e.message, offer = %offer, "conversion pixel not recorded");
    }
}

/// Records a conversion from a browser: the click id the page names, else the offer's click
/// cookie. The offer's guards hold as for a server's postback (a payout or revenue sent here
/// counts only where the offer allows overrides; a token, where it asks for one).
async fn record(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    mut params: Vec<(String, String)>,
) -> Result<Received, Error> {
    let offer = params.iter().find(|(k, _)| k == "offer_id").map(|(_, v)| v.clone()).unwrap_or_default();
    let named = params.iter().any(|(k, v)| (k == "click_id" || k == "transaction_id") && !v.trim().is_empty());
    if !named {
        match crate::transport::session::cookie(headers, &format!("ct_{offer}")).map(str::to_owned) {
            Some(id) => {
                params.retain(|(k, _)| k != "click_id" && k != "transaction_id");
                params.push(("click_id".into(), id));
            }
            // A coupon alone still attributes; otherwise there is nothing to go on.
            None if !params.iter().any(|(k, v)| (k == "coupon_code" || k == "coupon") && !v.trim().is_empty()) => {
                return Err(Error::invalid("click_id", "is required: no click id was given and no click cookie came"));
            }
            None => {}
        }
    }
    state.conversions.receive(Inbound::from_pairs(&params), source_ip(state, peer, headers)).await
}
