//! Dialect B (seed 001, traffic sources): `GET /api/traffic-source` — impressions, clicks, orders, revenue, CVR
//! and CTR per traffic source, in display order, zero rows included, plus `Other` for traffic
//! whose `source_id` names no source (only when non-zero). Auth: `rest_key`; the seed's error
//! bodies word for word.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Duration, Utc};
use clicktrail_domain::offer::ConversionStatus;
use clicktrail_domain::report::{Totals, money_out};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::engine::access::MoneyView;
use crate::engine::reports::{Filters, Request};
use crate::error::{Error, ErrorKind};
use crate::transport::error::{public_message, status_and_code};
use crate::transport::extract::Params;
use crate::transport::surface::{Authenticated, Carrier, Surface};

/// Longest interval.
const MAX_DAYS: i64 = 30;

/// Dialect B as the transport sees it: the key in `rest_key`, the seed's error bodies.
pub struct TrafficSource;

impl Surface for TrafficSource {
    const CARRIERS: &'static [Carrier] = &[Carrier::Query("rest_key")];
    const MISSING_KEY: &'static str = "Incorrect rest key!";
    const PREFIXES: &'static [&'static str] = &["/api/traffic-source/{*rest}"];

    /// The seed's bodies: `{"status":"error","message"}`, and for a bad parameter Laravel's
    /// `{"status":"fail","data":{"validator":{field:[message]}}}` with `422`.
    fn render(error: Error) -> Response {
        let body = |status: StatusCode, message: &str| {
            (status, Json(json!({"status": "error", "message": message}))).into_response()
        };
        match (error.kind, &error.field) {
            (ErrorKind::Unauthenticated, _) => body(StatusCode::UNAUTHORIZED, "Incorrect rest key!"),
            (ErrorKind::Forbidden | ErrorKind::MissingScope, _) => {
                body(StatusCode::FORBIDDEN, "Your account is not active!")
            }
            (ErrorKind::Invalid, Some(field)) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(json!({"status": "fail", "data": {"validator": {field.as_str(): [error.message.as_str()]}}})),
            )
                .into_response(),
            (ErrorKind::Internal, _) => {
                tracing::error!(error = %error.message, "traffic-source report failed");
                body(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong")
            }
            (kind, _) => body(status_and_code(kind).0, &public_message(&error)),
        }
    }
}

/// A Laravel validator message for `field`, word for word.
fn validation(field: &str, sentence: String) -> Error {
    Error { kind: ErrorKind::Invalid, message: sentence, field: Some(field.to_owned()) }
}

/// An error in dialect B's body.
pub struct BError(pub Error);

impl<E: Into<Error>> From<E> for BError {
    fn from(e: E) -> Self {
        Self(e.into())
    }
}

impl IntoResponse for BError {
    fn into_response(self) -> Response {
        TrafficSource::render(self.0)
    }
}

/// The routes.
pub fn routes() -> Router<AppState> {
    Router::new().route("/api/traffic-source", get(traffic_source))
}

fn percent(rate: Decimal) -> String {
    format!("{:.2}", money_out(rate))
}

fn row(name: &str, t: &Totals, view: MoneyView) -> Value {
    json!({
        "impressions": t.impressions,
        "click": t.clicks,
        "order": t.conversions + t.leads,
        "revenue": money_out(view.headline(t.payout, t.revenue)).to_f64().unwrap_or(0.0),
        "source_name": name,
        "cvr": percent(t.order_rate()),
        "ctr": percent(t.ctr()),
    })
}

/// A unix-timestamp parameter.
fn unix(params: &Params, name: &str) -> Result<Option<DateTime<Utc>>, Error> {
    match params.get(name) {
        None => Ok(None),
        Some(v) => v
            .parse::<i64>()
            .ok()
            .and_then(|n| DateTime::from_timestamp(n, 0))
            .map(Some)
            .ok_or_else(|| validation(name, format!("The {} must be an integer.", name.replace('_', " ")))),
    }
}

async fn traffic_source(
    State(state): State<AppState>,
    caller: Authenticated<TrafficSource>,
    params: Params,
) -> Result<Json<Value>, BError> {
    let (from, to) = match (unix(&params, "date_from")?, unix(&params, "date_to")?) {
        (None, Some(_)) => {
            let sentence = "The date from field is required when date to is present.".to_owned();
            return Err(validation("date_from", sentence).into());
        }
        (from, to) => {
            let now = Utc::now();
            (from.unwrap_or(now - Duration::days(MAX_DAYS)), to.unwrap_or(now))
        }
    };
    if to <= from {
        return Err(validation("date_to", "The date to must be a date after date from.".to_owned()).into());
    }
    if to - from > Duration::days(MAX_DAYS) {
        return Err(Error::new(ErrorKind::Invalid, "Interval is greater than 30 days").into());
    }
    let request = Request {
        from,
        to,
        tz: chrono_tz::Tz::UTC,
        group_by: Vec::new(),
        filters: Filters::default(),
        statuses: vec![ConversionStatus::Approved],
        audience: caller.audience(),
    };
    let report = state.reporter.by_traffic_source(&request).await?;
    let view = caller.money_view();
    let mut data: Vec<Value> = report.sources.iter().map(|(name, t)| row(name, t, view)).collect();
    if !report.other.is_empty() {
        data.push(row("Other", &report.other, view));
    }
    Ok(Json(json!({"status": "success", "data": data})))
}
