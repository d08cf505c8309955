//! Dialect A (seed 000, TrafficManager): `GET /api/v1.2/admin/offerStats/{startTime}/{endTime}/`
//! — the admin offer revenue report. Auth: `x-api-key` and `x-user-id` (the key must be that user's, and an
//! admin's); errors: `{"status": <code>, "error": "<message>"}`; rows of 14 values.

use axum::extract::{FromRequestParts, Path, State};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{Duration, Utc};
use clicktrail_domain::geo::{CountryCode, TimeZone};
use clicktrail_domain::offer::ConversionStatus;
use clicktrail_domain::report::{Dimension, Key, Totals, money_out};
use clicktrail_domain::timeexpr::{self, Edge};
use clicktrail_domain::user::Role;
use rust_decimal::prelude::ToPrimitive;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::engine::access::Caller;
use crate::engine::reports::{Filters, Request};
use crate::error::{Error, ErrorKind};
use crate::transport::error::public_message;
use crate::transport::extract::Params;
use crate::transport::session;
use crate::transport::surface::{Authenticated, Carrier, Surface, presented};

/// An error in dialect A's body.
pub struct AError(pub Error);

impl<E: Into<Error>> From<E> for AError {
    fn from(e: E) -> Self {
        Self(e.into())
    }
}

impl IntoResponse for AError {
    fn into_response(self) -> Response {
        let (status, _) = crate::transport::error::status_and_code(self.0.kind);
        (status, Json(json!({"status": status.as_u16(), "error": public_message(&self.0)}))).into_response()
    }
}

/// Dialect A as the transport sees it.
pub struct TrafficManager;

impl Surface for TrafficManager {
    const CARRIERS: &'static [Carrier] = &[Carrier::Header("x-api-key")];
    const MISSING_KEY: &'static str = "Send the x-api-key and x-user-id headers, or log in to the panel.";
    const TAKES_SESSIONS: bool = true;
    const PREFIXES: &'static [&'static str] = &["/api/v1.2/admin/{*rest}"];

    fn render(error: Error) -> Response {
        AError(error).into_response()
    }
}

/// The routes (the trailing slash is optional).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1.2/admin/offerStats/{start}/{end}", get(offer_stats))
        .route("/api/v1.2/admin/offerStats/{start}/{end}/", get(offer_stats))
}

/// The key's caller, who must be the user `x-user-id` names, and an admin.
fn admin(caller: &Caller, headers: &HeaderMap) -> Result<(), Error> {
    let user = headers.get("x-user-id").and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty());
    let Some(user) = user else {
        return Err(Error::new(ErrorKind::Unauthenticated, TrafficManager::MISSING_KEY));
    };
    if user.parse::<i64>().ok() != Some(caller.user.id) {
        return Err(Error::new(ErrorKind::Unauthenticated, "The API key does not belong to this user id."));
    }
    if caller.role() != Role::Admin {
        return Err(Error::forbidden("Only network admins may read the offer report."));
    }
    Ok(())
}

fn ids(params: &Params, name: &str) -> Result<Option<Vec<i64>>, Error> {
    params
        .get(name)
        .map(|v| {
            v.parse::<i64>().map(|n| vec![n]).map_err(|_| Error::invalid(name, format!("'{v}' is not a numeric id")))
        })
        .transpose()
}

/// The caller of the report: the key of `x-api-key` (with `x-user-id`), else — when no key
/// is sent — the panel session of a logged-in browser. Either must be an admin's.
pub struct ReportCaller(Caller);

impl FromRequestParts<AppState> for ReportCaller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let sent = presented(&parts.headers, &parts.uri, TrafficManager::CARRIERS).map_err(TrafficManager::render)?;
        if sent.is_some() || parts.headers.contains_key("x-user-id") {
            let caller = Authenticated::<TrafficManager>::from_request_parts(parts, state).await?.into_caller();
            admin(&caller, &parts.headers).map_err(TrafficManager::render)?;
            return Ok(Self(caller));
        }
        match session::live(state, &parts.headers, &parts.extensions).await.map_err(TrafficManager::render)? {
            Some(live) if live.caller.role() == Role::Admin => Ok(Self(live.caller)),
            Some(_) => Err(TrafficManager::render(Error::forbidden("Only network admins may read the offer report."))),
            None => Err(TrafficManager::render(Error::new(ErrorKind::Unauthenticated, TrafficManager::MISSING_KEY))),
        }
    }
}

async fn offer_stats(
    State(state): State<AppState>,
    Path((start, end)): Path<(String, String)>,
    ReportCaller(caller): ReportCaller,
    params: Params,
) -> Result<Json<Value>, AError> {
    let snapshot = state.tracker.snapshots().snapshot();
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
    // A category named by id or name; one that names nothing matches nothing.
    let category = params.get("category").map(|raw| vec![snapshot.category_id(raw).unwrap_or(-1)]);
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
        audience: caller.audience(),
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
