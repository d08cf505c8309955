//! Dialect D (seed 003): raw clicks — `POST /v1/affiliates/reporting/clicks/stream` and
//! `GET /v1/affiliates/reporting/clicks/{transactionId}`. Auth: `X-Eflow-API-Key` with
//! `read:stats`; errors: `{"error": "<message>"}`. Periods over 14 days are refused; at most
//! 5,000 clicks come back, oldest first; each click has exactly the fields of the seed.

use std::sync::OnceLock;

use axum::extract::{Path, State};
use axum::http::Extensions;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{Duration, NaiveDate, NaiveDateTime, TimeZone};
use clicktrail_domain::click::{Click, ClickId, Rejection};
use clicktrail_domain::geo::CountryCode;
use clicktrail_domain::key::Scope;
use clicktrail_domain::offer::DeviceType;
use clicktrail_domain::user::Role;
use md5::Md5;
use serde_json::{Value, json};
use sha1::{Digest, Sha1};

use super::error::ApiError;
use super::error::public_message;
use super::extract::JsonBody;
use crate::access::MoneyView;
use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{Error, ErrorKind};
use crate::track::catalog::Snapshot;

/// Longest period of a stream request.
const MAX_DAYS: i64 = 14;
/// Most clicks returned.
const MAX_CLICKS: usize = 5_000;
/// Clicks read from the store at a time while filtering.
const CHUNK: usize = 5_000;

/// An error in dialect D's body.
pub struct DError(pub Error);

impl<E: Into<Error>> From<E> for DError {
    fn from(e: E) -> Self {
        Self(e.into())
    }
}

impl IntoResponse for DError {
    fn into_response(self) -> Response {
        let (status, _) = super::error::status_and_code(self.0.kind);
        (status, Json(json!({"error": public_message(&self.0)}))).into_response()
    }
}

/// The routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/affiliates/reporting/clicks/stream", post(stream))
        .route("/v1/affiliates/reporting/clicks/{id}", get(by_id))
}

async fn caller(state: &AppState, headers: &axum::http::HeaderMap, extensions: &Extensions) -> Result<Caller, Error> {
    let key = headers.get("x-eflow-api-key").and_then(|v| v.to_str().ok()).map(str::trim).unwrap_or("");
    if key.is_empty() {
        return Err(Error::new(ErrorKind::Unauthenticated, "Missing X-Eflow-API-Key header."));
    }
    let caller = super::extract::authenticate(extensions, state, key).await?;
    caller.require(Scope::ReadStats)?;
    Ok(caller)
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

const RESOURCE_TYPES: &[&str] = &[
    "offer",
    "creative",
    "country",
    "carrier",
    "device_platform",
    "device_type",
    "device_make",
    "browser",
    "language",
    "connection_type",
    "campaign",
    "source_id",
    "offer_url",
    "device_model",
    "s1",
    "s2",
    "s3",
    "s4",
    "s5",
    "coupon_code",
];

fn device_type_name(c: &Click) -> &'static str {
    match c.device.device_type {
        Some(DeviceType::Desktop) => "PC",
        Some(DeviceType::Mobile) => "Mobile",
        Some(DeviceType::Tablet) => "Tablet",
        None => "",
    }
}

/// Whether a click has `value` on a resource type.
fn matches(c: &Click, resource: &str, value: &str) -> bool {
    let eq = |have: &str| have.eq_ignore_ascii_case(value.trim());
    let num = |have: Option<u32>| have.is_some_and(|h| value.trim().parse::<u32>().ok() == Some(h));
    match resource {
        "offer" => value.trim().parse::<i64>().ok() == Some(c.offer_id),
        "creative" => num(c.params.creative_id),
        "country" => c.geo.country.is_some_and(|have| CountryCode::from_code_or_name(value) == Some(have)),
        "carrier" => eq(&c.geo.carrier),
        "device_platform" => eq(&c.device.os_name),
        "device_type" => eq(device_type_name(c)),
        "device_make" => eq(&c.device.brand),
        "browser" => eq(&c.device.browser),
        "language" => eq(&c.language),
        "connection_type" => eq(&c.geo.connection_type),
        "campaign" => eq(&c.params.campaign),
        "source_id" => eq(&c.params.source_id),
        "offer_url" => num(c.params.url_id),
        "device_model" => eq(&c.device.model),
        "coupon_code" => eq(&c.params.coupon_code),
        s if s.len() == 2 && s.starts_with('s') => {
            s[1..].parse::<usize>().ok().and_then(|i| c.params.subs.get(i.wrapping_sub(1))).is_some_and(|v| eq(v))
        }
        _ => false,
    }
}

struct Condition {
    resource: String,
    value: String,
}

fn conditions(body: &Value, list: &str) -> Result<Vec<Condition>, Error> {
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
            if !RESOURCE_TYPES.contains(&resource) {
                return Err(Error::invalid(
                    field("resource_type"),
                    format!("'{resource}' is not one of {}", RESOURCE_TYPES.join(", ")),
                ));
            }
            let value = match f.get("filter_id_value") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                _ => return Err(Error::invalid(field("filter_id_value"), "is required")),
            };
            Ok(Condition { resource: resource.to_owned(), value })
        })
        .collect()
}

/// Filters of one resource type are alternatives; different types must all hold; any
/// exclusion drops the click.
fn selected(c: &Click, filters: &[Condition], exclusions: &[Condition]) -> bool {
    let mut types: Vec<&str> = filters.iter().map(|f| f.resource.as_str()).collect();
    types.dedup();
    let included = types.iter().all(|t| filters.iter().filter(|f| f.resource == *t).any(|f| matches(c, t, &f.value)));
    included && !exclusions.iter().any(|x| matches(c, &x.resource, &x.value))
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

fn visible(caller: &Caller, snapshot: &Snapshot, c: &Click) -> bool {
    match caller.role() {
        Role::Admin => true,
        Role::Affiliate => c.affiliate_id == caller.user.id,
        Role::Advertiser => {
            snapshot.offers.get(&c.offer_id).is_some_and(|o| o.spec.advertiser_id == Some(caller.user.id))
        }
    }
}

async fn stream(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    extensions: Extensions,
    body: Result<JsonBody, ApiError>,
) -> Result<Json<Value>, DError> {
    let caller = caller(&state, &headers, &extensions).await?;
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
    let filters = conditions(&body, "filters")?;
    let exclusions = conditions(&body, "exclusions")?;
    let snapshot = state.tracker.catalog().snapshot();
    let mut out = Vec::new();
    let mut cursor = from;
    let mut seen_last: Option<ClickId> = None;
    'scan: loop {
        let chunk = state.tracker.events().clicks(cursor, to, CHUNK).await?;
        let full = chunk.len() == CHUNK;
        for c in &chunk {
            if seen_last.is_some_and(|last| c.id <= last) {
                continue;
            }
            if visible(&caller, &snapshot, c) && selected(c, &filters, &exclusions) {
                out.push(click_json(&state, &snapshot, c, MoneyView::of(caller.role())));
                if out.len() == MAX_CLICKS {
                    break 'scan;
                }
            }
        }
        match chunk.last() {
            Some(last) if full => {
                cursor = last.at;
                seen_last = Some(last.id);
            }
            _ => break,
        }
    }
    Ok(Json(json!({ "clicks": out })))
}

async fn by_id(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    extensions: Extensions,
    Path(id): Path<String>,
) -> Result<Json<Value>, DError> {
    let caller = caller(&state, &headers, &extensions).await?;
    let not_found = || Error::not_found("click", &id);
    let click_id = ClickId::parse(&id).map_err(|_| not_found())?;
    let click = state.tracker.events().click(click_id).await?.ok_or_else(not_found)?;
    let snapshot = state.tracker.catalog().snapshot();
    if !visible(&caller, &snapshot, &click) {
        return Err(not_found().into());
    }
    Ok(Json(click_json(&state, &snapshot, &click, MoneyView::of(caller.role()))))
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
    let tracking = super::dialect_c::tracking_link(state, c.offer_id, c.affiliate_id);
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
