//! Conversions in (`GET`/`POST /postback`, the `/p` pixel) and the native conversion API
//! (`/api/conversions`, with status changes and postback delivery attempts).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, COOKIE};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{NaiveDate, TimeZone, Utc};
use clicktrail_domain::conversion::Conversion;
use clicktrail_domain::key::Scope;
use clicktrail_domain::user::Role;
use clicktrail_store::{Attempt, ConversionQuery};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::ApiError;
use super::extract::{JsonBody, NativeCaller, Params, RawBody, path_id};
use super::track::PIXEL_GIF;
use crate::access::MoneyView;
use crate::app::AppState;
use crate::convert::{Inbound, parse_status};
use crate::error::Error;
use crate::manage::ListMeta;

/// The inbound routes (not part of the native API document).
pub fn inbound() -> Router<AppState> {
    Router::new().route("/postback", get(postback_get).post(postback_post)).route("/p", get(pixel))
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

/// The conversion pixel: the click id comes from the cookie set at click time.
async fn pixel(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let mut params = pairs(raw.unwrap_or_default().as_bytes());
    let offer = params.iter().find(|(k, _)| k == "offer_id").map(|(_, v)| v.clone()).unwrap_or_default();
    let cookie_name = format!("ct_{offer}");
    let click = headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == cookie_name)
        .map(|(_, v)| v.to_owned());
    match click {
        Some(id) => {
            params.retain(|(k, _)| k != "click_id" && k != "transaction_id");
            params.push(("click_id".into(), id));
            if let Err(e) =
                state.conversions.receive(Inbound::from_pairs(&params), source_ip(&state, peer, &headers)).await
            {
                tracing::info!(error = %e.message, offer = %offer, "conversion pixel not recorded");
            }
        }
        None => tracing::info!(offer = %offer, "conversion pixel without a click cookie"),
    }
    ([(CONTENT_TYPE, "image/gif"), (CACHE_CONTROL, "no-store, no-cache, must-revalidate")], PIXEL_GIF).into_response()
}

/// A status change.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusPatch {
    /// `approved`, `pending` or `rejected`.
    #[schema(pattern = "^(approved|pending|rejected)$")]
    pub status: String,
    /// Why (kept in the history).
    #[serde(default)]
    pub reason: Option<String>,
}

/// A page of conversions.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ConversionList {
    /// The conversions, newest first.
    pub data: Vec<Conversion>,
    /// Pagination.
    pub meta: ListMeta,
}

/// Delivery attempts of a conversion's postbacks.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Deliveries {
    /// Attempts, oldest first.
    #[schema(value_type = Vec<Object>)]
    pub data: Vec<Attempt>,
}

fn date(params: &Params, name: &str) -> Result<Option<NaiveDate>, Error> {
    params
        .present(name)
        .map(|v| {
            NaiveDate::parse_from_str(v, "%Y-%m-%d")
                .map_err(|_| Error::invalid(name, format!("'{v}' is not a date (YYYY-MM-DD)")))
        })
        .transpose()
}

/// The statuses of conversions (the list's `status` filter).
pub const STATUSES: &[&str] = &["approved", "pending", "rejected"];

/// Conversions the caller may see: admins all, affiliates their own, advertisers their offers'.
#[utoipa::path(get, path = "/api/conversions", tag = "conversions",
    params(super::native::ListParams,
        ("offer_id" = Option<i64>, Query, description = "Offer"),
        ("affiliate_id" = Option<i64>, Query, description = "Affiliate"),
        ("date_from" = Option<String>, Query, description = "First day (UTC), YYYY-MM-DD"),
        ("date_to" = Option<String>, Query, description = "Last day (UTC), inclusive")),
    responses((status = 200, description = "A page", body = ConversionList)))]
pub async fn list(
    State(state): State<AppState>,
    caller: NativeCaller,
    params: Params,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.require(Scope::ReadConversions)?;
    let request = params.list_request(STATUSES)?;
    let mut q = ConversionQuery {
        offer_id: params.id("offer_id")?,
        affiliate_id: params.id("affiliate_id")?,
        status: request.query.statuses.first().map(|s| parse_status(s)).transpose()?,
        from: date(&params, "date_from")?.map(|d| Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default())),
        to: date(&params, "date_to")?
            .map(|d| Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default()) + chrono::Duration::days(1)),
        offset: (request.page - 1).saturating_mul(request.per_page),
        limit: Some(request.per_page),
        ..ConversionQuery::default()
    };
    match caller.role() {
        Role::Admin => {}
        Role::Affiliate => {
            if q.affiliate_id.is_some_and(|a| a != caller.user.id) {
                q.offer_ids = Some(Vec::new());
            }
            q.affiliate_id = Some(caller.user.id);
        }
        Role::Advertiser => q.offer_ids = Some(state.conversions.advertiser_offers(caller.user.id)),
    }
    let page = state.conversions.store().conversions(&q).await?;
    let view = MoneyView::of(caller.role());
    Ok(Json(json!({
        "data": page.items.iter().map(|c| shown(c, view)).collect::<Vec<_>>(),
        "meta": ListMeta { total: page.total, page: request.page, per_page: request.per_page },
    })))
}

/// A conversion as `view` may see it.
fn shown(c: &Conversion, view: MoneyView) -> serde_json::Value {
    let mut value = serde_json::to_value(c).unwrap_or_default();
    view.redact_conversion(&mut value);
    value
}

/// One conversion.
#[utoipa::path(get, path = "/api/conversions/{id}", tag = "conversions", params(("id" = i64, Path, description = "Conversion id")),
    responses((status = 200, description = "The conversion", body = Conversion)))]
pub async fn get_one(
    State(state): State<AppState>,
    caller: NativeCaller,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let c = state.conversions.get(&caller, path_id(&id, "conversion")?).await?;
    Ok(Json(shown(&c, MoneyView::of(caller.role()))))
}

/// Approve, reject, or move back to pending (admins and the offer's advertiser).
#[utoipa::path(patch, path = "/api/conversions/{id}", tag = "conversions", params(("id" = i64, Path, description = "Conversion id")),
    request_body = StatusPatch, responses((status = 200, description = "The conversion", body = Conversion)))]
pub async fn update(
    State(state): State<AppState>,
    caller: NativeCaller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<serde_json::Value>, ApiError> {
    let id = path_id(&id, "conversion")?;
    let patch: StatusPatch = crate::manage::parse_spec(body)?;
    let to = parse_status(&patch.status)?;
    let reason = patch.reason.unwrap_or_default();
    if reason.len() > 1000 {
        return Err(Error::invalid("reason", "must be at most 1000 characters").into());
    }
    let c = state.conversions.change_status(&caller, id, to, reason).await?;
    Ok(Json(shown(&c, MoneyView::of(caller.role()))))
}

/// Every delivery attempt of the conversion's affiliate postbacks.
#[utoipa::path(get, path = "/api/conversions/{id}/deliveries", tag = "conversions", params(("id" = i64, Path, description = "Conversion id")),
    responses((status = 200, description = "Attempts", body = Deliveries)))]
pub async fn deliveries(
    State(state): State<AppState>,
    caller: NativeCaller,
    Path(id): Path<String>,
) -> Result<Json<Deliveries>, ApiError> {
    let c = state.conversions.get(&caller, path_id(&id, "conversion")?).await?;
    if caller.role() == Role::Advertiser {
        return Err(Error::forbidden("Postback deliveries go to affiliates; advertisers cannot read them.").into());
    }
    Ok(Json(Deliveries { data: state.jobs.attempts(&format!("conversion:{}", c.id)).await? }))
}

/// The native routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list)).routes(routes!(get_one, update)).routes(routes!(deliveries))
}
