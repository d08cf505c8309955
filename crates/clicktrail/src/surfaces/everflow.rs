//! Dialect D (seed 003, Everflow): raw clicks — `POST /v1/affiliates/reporting/clicks/stream` and
//! `GET /v1/affiliates/reporting/clicks/{transactionId}`. Auth: `X-Eflow-API-Key` with
//! `read:stats`; errors: `{"error": "<message>"}`. Periods over 14 days are refused; at most
//! 5,000 clicks come back, oldest first; each click has exactly the fields of the seed.

use std::sync::OnceLock;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{Duration, NaiveDate, NaiveDateTime, TimeZone};
use clicktrail_domain::click::{Click, ClickId, Rejection};
use clicktrail_domain::geo::CountryCode;
use clicktrail_domain::key::Scope;
use clicktrail_domain::offer::DeviceType;
use md5::Md5;
use serde_json::{Value, json};
use sha1::{Digest, Sha1};

use crate::app::AppState;
use crate::engine::access::MoneyView;
use crate::engine::snapshot::Snapshot;
use crate::engine::track::{ClickCondition, ClickField, ClickQuery};
use crate::error::Error;
use crate::transport::error::ApiError;
use crate::transport::error::public_message;
use crate::transport::extract::JsonBody;
use crate::transport::surface::{Authenticated, Carrier, Surface};

/// Longest period of a stream request.
const MAX_DAYS: i64 = 14;
/// Most clicks returned.
const MAX_CLICKS: usize = 5_000;

/// An error in dialect D's body.
pub struct DError(pub Error);

impl<E: Into<Error>> From<E> for DError {
    fn from(e: E) -> Self {
        Self(e.into())
    }
}

impl IntoResponse for DError {
    fn into_response(self) -> Response {
        let (status, _) = crate::transport::error::status_and_code(self.0.kind);
        (status, Json(json!({"error": public_message(&self.0)}))).into_response()
    }
}

/// Dialect D as the transport sees it.
pub struct Everflow;

impl Surface for Everflow {
    const CARRIERS: &'static [Carrier] = &[Carrier::Header("x-eflow-api-key")];
    const MISSING_KEY: &'static str = "Missing X-Eflow-API-Key header.";
    const PREFIXES: &'static [&'static str] = &["/v1/affiliates/reporting/{*rest}"];

    fn render(error: Error) -> Response {
        DError(error).into_response()
    }
}

/// The routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/affiliates/reporting/clicks/stream", post(stream))
        .route("/v1/affiliates/reporting/clicks/{id}", get(by_id))
}

/// Everflow's numeric time zone ids (`data/everflow_timezone_ids.tsv`).
pub fn timezone(id: i64) -> Option<chrono_tz::Tz> {
    static TABLE: OnceLock<Vec<(i64, chrono_tz::Tz)>> = OnceLock::new();
    TABLE
        .get_or_init(|| {
            include_str!("../../data/everflow_timezone_ids.tsv")
                .lines()
                .skip(1)
                .filter_map(|line| {
                    let (id, name) = line.split_once('\t')?;
                    Some((id.trim().parse().ok()?, name.trim().parse().ok()?))
                })
                .collect()
        })
        .iter()
        .find(|(i, _)| *i == id)
        .map(|(_, tz)| *tz)
}

/// The seed's resource types, in its order, and the click field each names.
const RESOURCE_TYPES: &[(&str, ClickField)] = &[
    ("offer", ClickField::Offer),
    ("creative", ClickField::Creative),
    ("country", ClickField::Country),
    ("carrier", ClickField::Carrier),
    ("device_platform", ClickField::OsName),
    ("device_type", ClickField::DeviceType),
    ("device_make", ClickField::Brand),
    ("browser", ClickField::Browser),
    ("language", ClickField::Language),
    ("connection_type", ClickField::ConnectionType),
    ("campaign", ClickField::Campaign),
    ("source_id", ClickField::Source),
    ("offer_url", ClickField::OfferUrl),
    ("device_model", ClickField::Model),
    ("s1", ClickField::Sub(0)),
    ("s2", ClickField::Sub(1)),
    ("s3", ClickField::Sub(2)),
    ("s4", ClickField::Sub(3)),
    ("s5", ClickField::Sub(4)),
    ("coupon_code", ClickField::CouponCode),
];

fn device_type_name(c: &Click) -> &'static str {
    match c.device.device_type {
        Some(DeviceType::Desktop) => "PC",
        Some(DeviceType::Mobile) => "Mobile",
        Some(DeviceType::Tablet) => "Tablet",
        None => "",
    }
}

/// A resource type and its value as the engine's click condition.
/// A field and its value as the engine's click condition: a country name becomes its code,
/// `PC` the `desktop` class; a value that names nothing matches no click.
fn condition(field: ClickField, value: &str) -> ClickCondition {
    let value = value.trim();
    let value = match field {
        ClickField::Country => CountryCode::from_code_or_name(value).map(|c| c.as_str().to_owned()),
        ClickField::DeviceType => match value.to_ascii_lowercase().as_str() {
            "pc" => Some(DeviceType::Desktop.as_str().to_owned()),
            "mobile" => Some(DeviceType::Mobile.as_str().to_owned()),
            "tablet" => Some(DeviceType::Tablet.as_str().to_owned()),
            "" => Some(String::new()),
            _ => None,
        },
        _ => Some(value.to_owned()),
    };
    ClickCondition { field, value }
}

fn conditions(body: &Value, list: &str) -> Result<Vec<ClickCondition>, Error> {
    let Some(items) = body.get("query").and_then(|q| q.get(list)) else { return Ok(Vec::new()) };
    let items = items.as_array().ok_or_else(|| Error::invalid(format!("query.{list}"), "must be an array"))?;
    items
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let field = |name: &str| format!("query.{list}[{i}].{name}");
            let resource = f
                .get("resource_type")
                .and_then(Value::as_str)
                .ok_or_else(|| Error::invalid(field("resource_type"), "is required"))?;
            let Some((_, click_field)) = RESOURCE_TYPES.iter().find(|(name, _)| *name == resource) else {
                let names: Vec<&str> = RESOURCE_TYPES.iter().map(|(name, _)| *name).collect();
                return Err(Error::invalid(
                    field("resource_type"),
                    format!("'{resource}' is not one of {}", names.join(", ")),
                ));
            };
            let value = match f.get("filter_id_value") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                _ => return Err(Error::invalid(field("filter_id_value"), "is required")),
            };
            Ok(condition(*click_field, &value))
        })
        .collect()
}

fn parse_time(field: &str, raw: &str, tz: chrono_tz::Tz, end: bool) -> Result<chrono::DateTime<chrono::Utc>, Error> {
    let bad = || Error::invalid(field, format!("'{raw}' is not YYYY-MM-DD HH:MM:SS or YYYY-MM-DD"));
    let naive = match NaiveDateTime::parse_from_str(raw.trim(), "%Y-%m-%d %H:%M:%S") {
        Ok(t) => t,
        Err(_) => {
            let day = NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d").map_err(|_| bad())?;
            let day = if end { day.succ_opt().ok_or_else(bad)? } else { day };
            day.and_hms_opt(0, 0, 0).ok_or_else(bad)?
        }
    };
    tz.from_local_datetime(&naive).earliest().map(|t| t.with_timezone(&chrono::Utc)).ok_or_else(bad)
}

async fn stream(
    State(state): State<AppState>,
    caller: Authenticated<Everflow>,
    body: Result<JsonBody, ApiError>,
) -> Result<Json<Value>, DError> {
    caller.require(Scope::ReadStats)?;
    // A body that is not JSON is answered in this dialect's shape too.
    let JsonBody(body) = body.map_err(|e| DError(e.0))?;
    let tz_id = body
        .get("timezone_id")
        .and_then(Value::as_i64)
        .ok_or_else(|| Error::invalid("timezone_id", "is required (a numeric Everflow time zone id)"))?;
    let tz =
        timezone(tz_id).ok_or_else(|| Error::invalid("timezone_id", format!("{tz_id} is not a known time zone id")))?;
    let text = |name: &str| body.get(name).and_then(Value::as_str).ok_or_else(|| Error::invalid(name, "is required"));
    let from = parse_time("from", text("from")?, tz, false)?;
    let to = parse_time("to", text("to")?, tz, true)?;
    if to <= from {
        return Err(Error::invalid("to", "must be after from").into());
    }
    if to - from > Duration::days(MAX_DAYS) {
        return Err(Error::invalid("to", format!("the period may be at most {MAX_DAYS} days")).into());
    }
    let snapshot = state.tracker.snapshots().snapshot();
    let mut query = ClickQuery {
        filters: conditions(&body, "filters")?,
        exclusions: conditions(&body, "exclusions")?,
        ..ClickQuery::between(from, to, MAX_CLICKS)
    };
    caller.narrow_clicks(&mut query, &snapshot);
    let view = caller.money_view();
    let clicks = state.tracker.clicks(&query).await?;
    let out: Vec<Value> = clicks.iter().map(|c| click_json(&state, &snapshot, c, view)).collect();
    Ok(Json(json!({ "clicks": out })))
}

async fn by_id(
    State(state): State<AppState>,
    caller: Authenticated<Everflow>,
    Path(id): Path<String>,
) -> Result<Json<Value>, DError> {
    caller.require(Scope::ReadStats)?;
    let not_found = || Error::not_found("click", &id);
    let click_id = ClickId::parse(&id).map_err(|_| not_found())?;
    let click = state.tracker.raw_click(click_id).await?.ok_or_else(not_found)?;
    let snapshot = state.tracker.snapshots().snapshot();
    if !caller.sees_click(click.offer_id, click.affiliate_id, &snapshot) {
        return Err(not_found().into());
    }
    Ok(Json(click_json(&state, &snapshot, &click, caller.money_view())))
}

fn hashes(value: &str) -> (String, String) {
    if value.is_empty() {
        return (String::new(), String::new());
    }
    (hex::encode(Md5::digest(value.as_bytes())), hex::encode(Sha1::digest(value.as_bytes())))
}

/// A click with exactly the seed's fields.
pub fn click_json(state: &AppState, snapshot: &Snapshot, c: &Click, view: MoneyView) -> Value {
    let offer = snapshot.offers.get(&c.offer_id);
    let (idfa_md5, idfa_sha1) = hashes(&c.params.idfa);
    let (gaid_md5, gaid_sha1) = hashes(&c.params.google_ad_id);
    let (aid_md5, aid_sha1) = hashes(&c.params.android_id);
    let query: serde_json::Map<String, Value> =
        c.params.extra.iter().map(|(k, v)| (k.clone(), Value::from(v.clone()))).collect();
    let tracking = state.tracking_link(c.offer_id, c.affiliate_id);
    json!({
        "transaction_id": c.id.to_hex(),
        "is_unique": u8::from(c.is_unique),
        "unix_timestamp": c.at.timestamp(),
        "tracking_url": tracking.split_once("://").map_or(tracking.as_str(), |(_, rest)| rest),
        "source_id": c.params.source_id,
        "sub1": c.params.subs[0],
        "sub2": c.params.subs[1],
        "sub3": c.params.subs[2],
        "sub4": c.params.subs[3],
        "sub5": c.params.subs[4],
        "revenue_type": offer.map_or(String::new(), |o| o.spec.revenue_type().as_str().to_uppercase()),
        "revenue": view.headline_money(c.payout, c.revenue).to_f64(),
        "referer": c.referer,
        "error_code": c.rejection.map_or(0, Rejection::code),
        "user_ip": c.ip.to_string(),
        "error_message": c.rejection.map_or("N/A", Rejection::message),
        "idfa": c.params.idfa,
        "idfa_md5": idfa_md5,
        "idfa_sha1": idfa_sha1,
        "google_ad_id": c.params.google_ad_id,
        "google_ad_id_md5": gaid_md5,
        "google_ad_id_sha1": gaid_sha1,
        "android_id": c.params.android_id,
        "android_id_md5": aid_md5,
        "android_id_sha1": aid_sha1,
        "relationship": {
            "offer": {
                "network_offer_id": c.offer_id,
                "network_id": 1,
                "name": offer.map_or(String::new(), |o| o.spec.name.to_string()),
                "offer_status": offer.map_or("", |o| o.spec.status.as_str()),
                "network_tracking_domain_id": 1
            },
            "geolocation": {
                "country_code": c.geo.country.map_or(String::new(), |x| x.as_str().to_owned()),
                "country_name": c.geo.country.map_or("", |x| x.common_name()),
                "region_code": "",
                "region_name": c.geo.region,
                "city_name": c.geo.city,
                "dma": 0,
                "dma_name": "",
                "timezone": "",
                "carrier_name": c.geo.carrier,
                "carrier_code": 0,
                "organization": c.geo.organization,
                "isp_name": c.geo.isp,
                "is_mobile": c.geo.connection_type.eq_ignore_ascii_case("cellular"),
                "is_proxy": false,
                "postal_code": ""
            },
            "device_information": {
                "is_mobile": c.device.is_mobile,
                "platform_name": c.device.os_name,
                "os_version": c.device.os_version,
                "brand": c.device.brand,
                "model": c.device.model,
                "is_tablet": c.device.is_tablet,
                "browser_name": c.device.browser,
                "browser_version": c.device.browser_version,
                "device_type": device_type_name(c),
                "language": c.language,
                "http_accept_language": c.accept_language,
                "is_robot": c.is_robot,
                "is_filter": c.is_filter
            },
            "query_parameters": if query.is_empty() { Value::Null } else { Value::Object(query) }
        },
        "currency_id": offer.map_or("USD", |o| o.spec.currency.as_str()),
        "coupon_code": c.params.coupon_code
    })
}
