//! Dialect A (seed 000): `GET /api/v1.2/admin/offerStats/{startTime}/{endTime}/` — the admin
//! offer revenue report. Auth: `x-api-key` and `x-user-id` (the key must be that user's, and an
//! admin's); errors: `{"status": <code>, "error": "<message>"}`; rows of 14 values.

use axum::extract::{Path, State};
use axum::http::{Extensions, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{Duration, Utc};
use clicktrail_domain::catalog::Category;
use clicktrail_domain::geo::{CountryCode, TimeZone};
use clicktrail_domain::offer::ConversionStatus;
use clicktrail_domain::report::{Dimension, Key, Totals, money_out};
use clicktrail_domain::timeexpr::{self, Edge};
use clicktrail_domain::user::Role;
use rust_decimal::prelude::ToPrimitive;
use serde_json::{Value, json};

use super::error::public_message;
use super::extract::Params;
use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{Error, ErrorKind};
use crate::reports::{Audience, Filters, Request};

/// An error in dialect A's body.
pub struct AError(pub Error);

impl<E: Into<Error>> From<E> for AError {
    fn from(e: E) -> Self {
        Self(e.into())
    }
}

impl IntoResponse for AError {
    fn into_response(self) -> Response {
        let (status, _) = super::error::status_and_code(self.0.kind);
        (status, Json(json!({"status": status.as_u16(), "error": public_message(&self.0)}))).into_response()
    }
}

/// The routes (the trailing slash is optional).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1.2/admin/offerStats/{start}/{end}", get(offer_stats))
        .route("/api/v1.2/admin/offerStats/{start}/{end}/", get(offer_stats))
}

async fn caller(state: &AppState, headers: &HeaderMap, extensions: &Extensions) -> Result<Caller, Error> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty());
    let (Some(key), Some(user)) = (header("x-api-key"), header("x-user-id")) else {
        // A logged-in panel session would be used here; the panel does not exist yet.
        return Err(Error::new(ErrorKind::Unauthenticated, "Send the x-api-key and x-user-id headers."));
    };
    let caller = super::extract::authenticate(extensions, state, key).await?;
    if user.parse::<i64>().ok() != Some(caller.user.id) {
        return Err(Error::new(ErrorKind::Unauthenticated, "The API key does not belong to this user id."));
    }
    if caller.role() != Role::Admin {
        return Err(Error::forbidden("Only network admins may read the offer report."));
    }
    Ok(caller)
}

fn ids(params: &Params, name: &str) -> Result<Option<Vec<i64>>, Error> {
    params
        .get(name)
        .map(|v| {
            v.parse::<i64>().map(|n| vec![n]).map_err(|_| Error::invalid(name, format!("'{v}' is not a numeric id")))
        })
        .transpose()
}

async fn offer_stats(
    State(state): State<AppState>,
    Path((start, end)): Path<(String, String)>,
    headers: HeaderMap,
    extensions: Extensions,
    params: Params,
) -> Result<Json<Value>, AError> {
    let _caller = caller(&state, &headers, &extensions).await?;
    let snapshot = state.tracker.catalog().snapshot();
    let tz = match params.get("timezone") {
        Some(raw) => TimeZone::parse(raw).map_err(|e| Error::invalid("timezone", e.message))?,
        None => snapshot.network.timezone,
    }
    .tz();
    let group = match params.get("groupBy").unwrap_or("") {
        "" => None,
        "date" => Some(Dimension::Date),
        "hour" if !snapshot.network.features.time_stats => {
            return Err(Error::forbidden("groupBy=hour requires the timeStats feature.").into());
        }
        "hour" => Some(Dimension::Hour),
        other => return Err(Error::invalid("groupBy", format!("'{other}' is not one of (empty), date, hour")).into()),
    };
    let now = Utc::now();
    let from = timeexpr::parse(&start, now, tz, Edge::Start).map_err(|e| Error::invalid("startTime", e.message))?;
    let to = timeexpr::parse(&end, now, tz, Edge::End).map_err(|e| Error::invalid("endTime", e.message))?;
    if to <= from {
        return Err(Error::invalid("endTime", "must be after startTime").into());
    }
    let country = params
        .get("country")
        .map(|c| {
            CountryCode::parse(c).map(|c| vec![c.as_str().to_owned()]).map_err(|e| Error::invalid("country", e.message))
        })
        .transpose()?;
    let category = match params.get("category") {
        None => None,
        Some(raw) => {
            let found = match raw.parse::<i64>() {
                Ok(id) => state.config.get::<Category>(id).await?.map(|c| c.id),
                Err(_) => state.config.find::<Category>(&raw.to_lowercase()).await?.map(|c| c.id),
            };
            Some(vec![found.unwrap_or(-1)])
        }
    };
    let filters = Filters {
        offers: ids(&params, "offer_id")?,
        affiliates: ids(&params, "user_id")?,
        affiliate_groups: ids(&params, "affiliate_group_id")?,
        categories: category,
        countries: country,
        ..Filters::default()
    };
    let mut group_by: Vec<Dimension> = group.into_iter().collect();
    group_by.push(Dimension::Offer);
    let request = Request {
        from,
        to,
        tz,
        group_by,
        filters,
        statuses: vec![ConversionStatus::Approved],
        audience: Audience::Network,
    };
    let report = state.reporter.run(&request).await?;
    let range_label = format!(
        "{} - {}",
        from.with_timezone(&tz).format("%Y-%m-%d"),
        (to - Duration::seconds(1)).with_timezone(&tz).format("%Y-%m-%d")
    );
    let rows: Vec<Value> = report
        .rows
        .iter()
        .map(|r| {
            let (label, offer_id) = match (group, r.key.as_slice()) {
                (Some(_), [Key::Text(bucket), Key::Id(offer)]) => (bucket.clone(), *offer),
                (None, [Key::Id(offer)]) => (range_label.clone(), *offer),
                _ => (range_label.clone(), 0),
            };
            let name = snapshot.offers.get(&offer_id).map_or(String::new(), |o| o.spec.name.to_string());
            stats_row(&label, offer_id, &name, &r.totals)
        })
        .collect();
    Ok(Json(json!({"data": rows, "status": 200})))
}

fn number(d: rust_decimal::Decimal) -> Value {
    Value::from(money_out(d).to_f64().unwrap_or(0.0))
}

/// The 14 values of a row: label, offer id, offer name, impressions, clicks, unique clicks,
/// leads, conversions, CR, EPC (strings, 2 decimals), ROI (1 decimal and `%`), payout, revenue,
/// profit.
fn stats_row(label: &str, offer_id: i64, name: &str, t: &Totals) -> Value {
    json!([
        label,
        offer_id,
        name,
        t.impressions,
        t.clicks,
        t.unique_clicks,
        t.leads,
        t.conversions,
        format!("{:.2}", money_out(t.cr())),
        format!("{:.2}", money_out(t.epc(false))),
        format!("{:.1}%", t.roi().round_dp_with_strategy(1, rust_decimal::RoundingStrategy::MidpointAwayFromZero)),
        number(t.payout),
        number(t.revenue),
        number(t.profit()),
    ])
}
