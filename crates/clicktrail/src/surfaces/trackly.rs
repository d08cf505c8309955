//! Dialect C (seed 002, Trackly): `GET /api/v2/offers` — the offers list with pagination.
//! Auth: `X-Api-Key`; errors: `{"error":"<code>","message":"…"}`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::SecondsFormat;
use clicktrail_domain::key::Scope;
use clicktrail_domain::offer::{Offer, OfferStatus};
use serde_json::{Value, json};

use crate::app::AppState;
use crate::engine::access::{Caller, Reach};
use crate::error::{Error, ErrorKind};
use crate::transport::error::public_message;
use crate::transport::extract::Params;
use crate::transport::surface::{Authenticated, Carrier, Surface};

/// An error in dialect C's body.
pub struct CError(pub Error);

impl<E: Into<Error>> From<E> for CError {
    fn from(e: E) -> Self {
        Self(e.into())
    }
}

impl IntoResponse for CError {
    fn into_response(mut self) -> Response {
        // The seed has one message for a missing and a wrong key.
        if self.0.kind == ErrorKind::Unauthenticated {
            self.0.message = Trackly::MISSING_KEY.to_owned();
        }
        let (status, code) = match self.0.kind {
            ErrorKind::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ErrorKind::MissingScope | ErrorKind::Forbidden => (StatusCode::FORBIDDEN, "forbidden"),
            ErrorKind::Invalid => (StatusCode::BAD_REQUEST, "invalid_request"),
            ErrorKind::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            ErrorKind::Conflict => (StatusCode::CONFLICT, "conflict"),
            ErrorKind::RateLimited => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            ErrorKind::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            ErrorKind::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            ErrorKind::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "service_unavailable"),
            ErrorKind::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "server_error"),
        };
        (status, Json(json!({"error": code, "message": public_message(&self.0)}))).into_response()
    }
}

/// Dialect C as the transport sees it.
pub struct Trackly;

impl Surface for Trackly {
    const CARRIERS: &'static [Carrier] = &[Carrier::Header("x-api-key")];
    const MISSING_KEY: &'static str = "API key is missing or invalid.";
    const PREFIXES: &'static [&'static str] = &["/api/v2/{*rest}"];

    fn render(error: Error) -> Response {
        CError(error).into_response()
    }
}

/// The routes.
pub fn routes() -> Router<AppState> {
    Router::new().route("/api/v2/offers", get(offers))
}

/// Default and largest page sizes.
const DEFAULT_PER_PAGE: u64 = 50;
const MAX_PER_PAGE: u64 = 100;

fn whole(params: &Params, name: &str, default: u64) -> Result<u64, Error> {
    match params.0.get(name).map(|v| v.trim()) {
        None => Ok(default),
        Some(v) => match v.parse::<i64>() {
            Ok(n) if n > 0 => Ok(u64::try_from(n).unwrap_or(default)),
            _ => Err(Error::invalid(name, format!("must be a positive whole number (got '{v}')"))),
        },
    }
}

fn view(state: &AppState, caller: &Caller, o: &Offer) -> Value {
    let affiliate = caller.affiliate_id();
    let time = |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
    json!({
        "id": o.public_id.to_hex(),
        "name": o.spec.name.as_str(),
        "tracking_url": match affiliate {
            Some(me) => state.tracking_link(o.id, me),
            None => o.spec.destination_url.as_str().to_owned(),
        },
        "external_platform": o.spec.external_platform,
        "external_id": o.spec.external_id,
        "advertiser_id": o.spec.advertiser_id.map(|a| format!("adv_{a}")),
        "payout": caller.payout(o).to_f64(),
        "payout_type": o.spec.payout_type.as_str(),
        "filter_bots": o.spec.filter_bots,
        "status": o.spec.status.as_str(),
        "metadata": o.spec.metadata,
        "created_at": time(o.created_at),
        "updated_at": time(o.updated_at),
    })
}

async fn offers(
    State(state): State<AppState>,
    caller: Authenticated<Trackly>,
    params: Params,
) -> Result<Json<Value>, CError> {
    caller.require(Scope::ReadOffers)?;
    let status = match params.0.get("status").map(|s| s.trim()) {
        None | Some("") => None,
        Some("active") => Some(OfferStatus::Active),
        Some("paused") => Some(OfferStatus::Paused),
        Some("archived") => Some(OfferStatus::Archived),
        Some(other) => {
            return Err(Error::invalid("status", format!("'{other}' is not one of active, paused, archived")).into());
        }
    };
    let page = whole(&params, "page", 1)?;
    let per_page = whole(&params, "per_page", DEFAULT_PER_PAGE)?.min(MAX_PER_PAGE);
    let snapshot = state.tracker.snapshots().snapshot();
    let list: Vec<&Offer> = caller
        .offers(&snapshot, Reach::Run)
        .into_iter()
        .filter(|o| match status {
            Some(s) => o.spec.status == s,
            None => o.spec.status != OfferStatus::Archived,
        })
        .collect();
    let total = list.len() as u64;
    let start = usize::try_from((page - 1).saturating_mul(per_page)).unwrap_or(usize::MAX);
    let offers: Vec<Value> =
        list.iter().skip(start).take(per_page as usize).map(|o| view(&state, &caller, o)).collect();
    Ok(Json(json!({
        "offers": offers,
        "pagination": {"page": page, "per_page": per_page, "total": total, "total_pages": total.div_ceil(per_page)},
    })))
}
