//! Dialect B (seed 001): `GET /api/traffic-source` — impressions, clicks, orders, revenue, CVR
//! and CTR per traffic source, in display order, zero rows included, plus `Other` for traffic
//! whose `source_id` names no source (only when non-zero). Auth: `rest_key`; the seed's error
//! bodies word for word.

use axum::extract::State;
use axum::http::{Extensions, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Duration, Utc};
use clicktrail_domain::catalog::TrafficSource;
use clicktrail_domain::offer::ConversionStatus;
use clicktrail_domain::report::{Dimension, Key, Totals, money_out};
use clicktrail_domain::user::Role;
use clicktrail_store::{Order, Page, Query};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde_json::{Value, json};

use super::extract::Params;
use crate::access::MoneyView;
use crate::app::AppState;
use crate::error::ErrorKind;
use crate::reports::{Audience, Filters, Request};

/// Longest interval.
const MAX_DAYS: i64 = 30;

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"status": "error", "message": message}))).into_response()
}

fn validation(field: &str, message: &str) -> Response {
    (StatusCode::UNPROCESSABLE_ENTITY, Json(json!({"status": "fail", "data": {"validator": {field: [message]}}})))
        .into_response()
}

/// The routes.
pub fn routes() -> Router<AppState> {
    Router::new().route("/api/traffic-source", get(traffic_source))
}

fn percent(top: u64, bottom: u64) -> String {
    let value =
        if bottom == 0 { Decimal::ZERO } else { Decimal::from(top) * Decimal::from(100) / Decimal::from(bottom) };
    format!("{:.2}", money_out(value))
}

fn row(name: &str, t: &Totals, view: MoneyView) -> Value {
    let orders = t.conversions + t.leads;
    json!({
        "impressions": t.impressions,
        "click": t.clicks,
        "order": orders,
        "revenue": money_out(view.headline(t.payout, t.revenue)).to_f64().unwrap_or(0.0),
        "source_name": name,
        "cvr": percent(orders, t.clicks),
        "ctr": percent(t.clicks, t.impressions),
    })
}

/// A unix-timestamp parameter; the error is the parameter's name.
fn unix<'n>(params: &Params, name: &'n str) -> Result<Option<DateTime<Utc>>, &'n str> {
    match params.0.get(name).map(|v| v.trim()).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v.parse::<i64>().ok().and_then(|n| DateTime::from_timestamp(n, 0)).map(Some).ok_or(name),
    }
}

async fn traffic_source(State(state): State<AppState>, extensions: Extensions, params: Params) -> Response {
    let key = params.0.get("rest_key").map(|k| k.trim()).unwrap_or("");
    let caller = match super::extract::authenticate(&extensions, &state, key).await {
        Ok(c) => c,
        Err(e) if e.kind == ErrorKind::Forbidden => return error(StatusCode::FORBIDDEN, "Your account is not active!"),
        Err(e) if e.kind == ErrorKind::Unauthenticated => {
            return error(StatusCode::UNAUTHORIZED, "Incorrect rest key!");
        }
        Err(e) => {
            tracing::error!(error = %e.message, "traffic-source report failed");
            return error(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong");
        }
    };
    let (from, to) = match (unix(&params, "date_from"), unix(&params, "date_to")) {
        (Err(name), _) | (_, Err(name)) => {
            return validation(name, &format!("The {} must be an integer.", name.replace('_', " ")));
        }
        (Ok(None), Ok(Some(_))) => {
            return validation("date_from", "The date from field is required when date to is present.");
        }
        (Ok(from), Ok(to)) => {
            let now = Utc::now();
            (from.unwrap_or(now - Duration::days(MAX_DAYS)), to.unwrap_or(now))
        }
    };
    if to <= from {
        return validation("date_to", "The date to must be a date after date from.");
    }
    if to - from > Duration::days(MAX_DAYS) {
        return error(StatusCode::BAD_REQUEST, "Interval is greater than 30 days");
    }
    let audience = match caller.role() {
        Role::Admin => Audience::Network,
        Role::Affiliate => Audience::Affiliate(caller.user.id),
        Role::Advertiser => Audience::Advertiser(caller.user.id),
    };
    let view = MoneyView::of_audience(audience);
    let request = Request {
        from,
        to,
        tz: chrono_tz::Tz::UTC,
        group_by: vec![Dimension::Source],
        filters: Filters::default(),
        statuses: vec![ConversionStatus::Approved],
        audience,
    };
    let (report, sources) = match (
        state.reporter.run(&request).await,
        state.config.list::<TrafficSource>(&Query { order: Order::Position, ..Query::default() }).await,
    ) {
        (Ok(r), Ok(s)) => (r, s),
        (Err(e), _) => {
            tracing::error!(error = %e.message, "traffic-source report failed");
            return error(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong");
        }
        (_, Err(e)) => {
            tracing::error!(error = %e, "traffic-source report failed");
            return error(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong");
        }
    };
    let Page { items: sources, .. } = sources;
    let mut per_source: Vec<Totals> = vec![Totals::default(); sources.len()];
    let mut other = Totals::default();
    for r in &report.rows {
        let Some(Key::Text(source_id)) = r.key.first() else { continue };
        let slot = sources
            .iter()
            .position(|s| !source_id.is_empty() && s.matches(source_id))
            .map_or(&mut other, |i| &mut per_source[i]);
        slot.impressions += r.totals.impressions;
        slot.clicks += r.totals.clicks;
        slot.unique_clicks += r.totals.unique_clicks;
        slot.leads += r.totals.leads;
        slot.conversions += r.totals.conversions;
        slot.payout += r.totals.payout;
        slot.revenue += r.totals.revenue;
    }
    let mut data: Vec<Value> =
        sources.iter().zip(&per_source).map(|(s, t)| row(s.spec.name.as_str(), t, view)).collect();
    if !other.is_empty() {
        data.push(row("Other", &other, view));
    }
    Json(json!({"status": "success", "data": data})).into_response()
}
