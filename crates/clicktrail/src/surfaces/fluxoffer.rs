//! Dialect E (seed 004, FluxOffer): the affiliate API — `/v1/offers`, `/v1/offers/{offer_id}`,
//! `/v1/stats`, `/v1/conversions`, and the postback configuration routes (`POST`,
//! `GET /v1/postbacks`, `DELETE /v1/postbacks/{id}`) — over the same operations as the native
//! API. Auth: `Authorization: Bearer`; errors:
//! `{"error":{"code","message","status"}}`.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use chrono::SecondsFormat;
use chrono::Utc;
use clicktrail_domain::geo::CountryCode;
use clicktrail_domain::key::Scope;
use clicktrail_domain::money::PayoutType;
use clicktrail_domain::offer::{ConversionStatus, Offer, OfferStatus};
use clicktrail_domain::postback::Postback;
use clicktrail_domain::report::{Dimension, Key, money_out};
use clicktrail_domain::timeexpr::{self, Edge};
use clicktrail_domain::tracking;
use clicktrail_domain::user::Role;
use rust_decimal::prelude::ToPrimitive;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::engine::access::{Caller, Reach};
use crate::engine::convert::Search;
use crate::engine::manage::{self, ListRequest};
use crate::engine::reports;
use crate::engine::snapshot::Snapshot;
use crate::error::Error;
use crate::transport::error::ApiError;
use crate::transport::extract::{JsonBody, Params};
use crate::transport::surface::{Authenticated, Carrier, Surface};

/// Dialect E as the transport sees it: `Authorization: Bearer <key>` only, the native error
/// body.
pub struct FluxOffer;

impl Surface for FluxOffer {
    const CARRIERS: &'static [Carrier] = &[Carrier::Bearer];
    const MISSING_KEY: &'static str = "Missing API key: send 'Authorization: Bearer <API key>'.";
    const PREFIXES: &'static [&'static str] = &["/v1/{*rest}"];

    fn render(error: Error) -> Response {
        ApiError(error).into_response()
    }
}

/// The caller of a dialect-E route.
type BearerCaller = Authenticated<FluxOffer>;

/// The routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/postbacks", get(list).post(create))
        .route("/v1/postbacks/{id}", delete(remove))
        .route("/v1/offers", get(offers))
        .route("/v1/offers/{id}", get(offer))
        .route("/v1/stats", get(stats))
        .route("/v1/conversions", get(conversions))
}

/// `offer_8821` or `8821`.
fn offer_ref(value: &Value) -> Result<Option<i64>, Error> {
    let bad = || Error::invalid("offer_id", format!("{value} is not an offer id (offer_<id>)"));
    match value {
        Value::Null => Ok(None),
        Value::Number(n) => n.as_i64().map(Some).ok_or_else(bad),
        Value::String(s) => s.strip_prefix("offer_").unwrap_or(s).parse::<i64>().map(Some).map_err(|_| bad()),
        _ => Err(bad()),
    }
}

fn view(p: &Postback) -> Value {
    json!({
        "postback_id": format!("pb_{}", p.id),
        "url": p.spec.url.template().as_str(),
        "offer_id": p.spec.offer_id.map(|o| format!("offer_{o}")),
        "event": p.spec.event.as_str(),
        "status": p.spec.status.as_str(),
        "created_at": p.created_at.to_rfc3339_opts(SecondsFormat::Secs, true),
    })
}

async fn create(
    State(state): State<AppState>,
    caller: BearerCaller,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let mut body = manage::postbacks::expand_preset(body)?;
    if let Some(map) = body.as_object_mut()
        && let Some(offer) = map.get("offer_id").cloned()
    {
        map.insert("offer_id".into(), offer_ref(&offer)?.map_or(Value::Null, Value::from));
    }
    let created: Postback = manage::create(&state.config, &caller, body).await?;
    state.configuration_changed().await;
    let answer = json!({
        "postback_id": format!("pb_{}", created.id),
        "status": created.spec.status.as_str(),
        "created_at": created.created_at.to_rfc3339_opts(SecondsFormat::Secs, true),
    });
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

async fn list(State(state): State<AppState>, caller: BearerCaller, params: Params) -> Result<Json<Value>, ApiError> {
    let page = params.positive("page")?.unwrap_or(1);
    let per_page = params.positive("per_page")?.unwrap_or(25).min(100);
    let request = ListRequest { page, per_page, ..ListRequest::default() };
    let (items, meta) = manage::list::<Postback>(&state.config, &caller, request).await?;
    Ok(Json(
        json!({"data": items.iter().map(view).collect::<Vec<_>>(), "meta": {"total": meta.total, "page": meta.page, "per_page": meta.per_page}}),
    ))
}

async fn remove(
    State(state): State<AppState>,
    caller: BearerCaller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let numeric =
        id.strip_prefix("pb_").unwrap_or(&id).parse::<i64>().map_err(|_| Error::not_found("postback", &id))?;
    manage::delete::<Postback>(&state.config, &caller, numeric).await?;
    state.configuration_changed().await;
    Ok(StatusCode::NO_CONTENT)
}

fn offer_id(raw: &str) -> Option<i64> {
    raw.trim().strip_prefix("offer_").unwrap_or(raw.trim()).parse().ok()
}

fn page_of(params: &Params) -> Result<(u64, u64), Error> {
    let page = params.positive("page")?.unwrap_or(1);
    let per_page = params.positive("per_page")?.unwrap_or(25).min(100);
    Ok((page, per_page))
}

/// Network-wide affiliate EPC of the last 30 days, per offer, as the wire's numbers.
async fn epc_by_offer(
    state: &AppState,
    offers: Option<Vec<i64>>,
) -> Result<std::collections::HashMap<i64, f64>, Error> {
    let epc = state.reporter.affiliate_epc(offers).await?;
    Ok(epc.into_iter().map(|(id, d)| (id, money_out(d).to_f64().unwrap_or(0.0))).collect())
}

fn offer_summary(snapshot: &Snapshot, caller: &Caller, o: &Offer, epc: f64) -> Value {
    let vertical = o.spec.category_id.and_then(|c| snapshot.categories.get(&c).cloned());
    json!({
        "id": format!("offer_{}", o.id),
        "name": o.spec.name.as_str(),
        "vertical": vertical,
        "payout": caller.payout(o).to_f64(),
        "payout_type": o.spec.payout_type.as_str(),
        "geo": o.spec.geo.iter().map(|g| g.as_str().to_owned()).collect::<Vec<_>>(),
        "status": o.spec.status.as_str(),
        "preview_url": o.spec.preview_url.as_ref().map(|u| u.as_str().to_owned()),
        "creatives_count": o.spec.creatives.len(),
        "epc_avg": epc,
    })
}

async fn offers(State(state): State<AppState>, caller: BearerCaller, params: Params) -> Result<Json<Value>, ApiError> {
    caller.require(Scope::ReadOffers)?;
    let geo =
        params.get("geo").map(|g| CountryCode::parse(g).map_err(|e| Error::invalid("geo", e.message))).transpose()?;
    let payout_type = params
        .get("payout_type")
        .map(|p| {
            serde_json::from_value::<PayoutType>(json!(p)).map_err(|_| {
                Error::invalid("payout_type", format!("'{p}' is not one of cpa, cpl, cps, revshare, cpc, cpm"))
            })
        })
        .transpose()?;
    let status = match params.get("status").unwrap_or("active") {
        "active" => Some(OfferStatus::Active),
        "paused" => Some(OfferStatus::Paused),
        "all" => None,
        other => return Err(Error::invalid("status", format!("'{other}' is not one of active, paused, all")).into()),
    };
    let (page, per_page) = page_of(&params)?;
    let snapshot = state.tracker.snapshots().snapshot();
    let epc = epc_by_offer(&state, None).await?;
    let mut list: Vec<&Offer> = caller
        .offers(&snapshot, Reach::See)
        .into_iter()
        .filter(|o| status.is_none_or(|s| o.spec.status == s) && o.spec.status != OfferStatus::Archived)
        .filter(|o| geo.is_none_or(|g| o.spec.geo.is_empty() || o.spec.geo.contains(&g)))
        .filter(|o| payout_type.is_none_or(|t| o.spec.payout_type == t))
        .collect();
    let payout = |o: &Offer| caller.payout(o);
    let sort = params.get("sort").unwrap_or("id");
    let (field, descending) = sort.strip_prefix('-').map_or((sort, false), |f| (f, true));
    match field {
        "id" => list.sort_by_key(|o| o.id),
        "name" => list.sort_by(|a, b| a.spec.name.as_str().cmp(b.spec.name.as_str()).then(a.id.cmp(&b.id))),
        "payout" => list.sort_by(|a, b| payout(a).cmp(&payout(b)).then(a.id.cmp(&b.id))),
        "epc" | "epc_avg" => list.sort_by(|a, b| {
            let (x, y) = (epc.get(&a.id).copied().unwrap_or(0.0), epc.get(&b.id).copied().unwrap_or(0.0));
            x.total_cmp(&y).then(a.id.cmp(&b.id))
        }),
        other => {
            return Err(Error::invalid(
                "sort",
                format!("'{other}' is not one of id, name, payout, epc (prefix - to reverse)"),
            )
            .into());
        }
    }
    if descending {
        list.reverse();
    }
    let total = list.len() as u64;
    let start = usize::try_from((page - 1).saturating_mul(per_page)).unwrap_or(usize::MAX);
    let data: Vec<Value> = list
        .iter()
        .skip(start)
        .take(per_page as usize)
        .map(|o| offer_summary(&snapshot, &caller, o, epc.get(&o.id).copied().unwrap_or(0.0)))
        .collect();
    Ok(Json(json!({"data": data, "meta": {"total": total, "page": page, "per_page": per_page}})))
}

async fn offer(
    State(state): State<AppState>,
    caller: BearerCaller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Scope::ReadOffers)?;
    let snapshot = state.tracker.snapshots().snapshot();
    let o = offer_id(&id)
        .and_then(|n| snapshot.offers.get(&n))
        .filter(|o| caller.reaches(o, Reach::See))
        .ok_or_else(|| Error::not_found("offer", &id))?;
    let epc = epc_by_offer(&state, Some(vec![o.id])).await?.get(&o.id).copied().unwrap_or(0.0);
    let mut detail = offer_summary(&snapshot, &caller, o, epc);
    let me = caller.affiliate_id();
    if let Some(map) = detail.as_object_mut() {
        map.insert("description".into(), json!(o.spec.description));
        map.insert(
            "creatives".into(),
            json!(o.spec.creatives.iter().map(|c| json!({"id": c.id, "name": c.name.as_str(), "type": c.kind, "url": c.url.as_ref().map(|u| u.as_str().to_owned()), "width": c.width, "height": c.height})).collect::<Vec<_>>()),
        );
        map.insert("tracking_link".into(), json!(me.map(|m| state.tracking_link(o.id, m))));
        map.insert(
            "tracking_parameters".into(),
            json!(tracking::TRACKING_PARAMETERS.iter().copied().chain(["async"]).collect::<Vec<_>>()),
        );
        map.insert(
            "payout_tiers".into(),
            json!(
                o.spec
                    .tiers
                    .iter()
                    .map(|t| json!({"min_conversions": t.min_conversions, "payout": t.payout.to_f64()}))
                    .collect::<Vec<_>>()
            ),
        );
        map.insert("caps".into(), serde_json::to_value(o.spec.caps).unwrap_or(Value::Null));
        map.insert(
            "targeting".into(),
            json!({"geo": o.spec.geo, "device_types": o.spec.targeting.device_types, "os": o.spec.targeting.os}),
        );
    }
    Ok(Json(detail))
}

fn dates(params: &Params, tz: chrono_tz::Tz) -> Result<(chrono::DateTime<Utc>, chrono::DateTime<Utc>), Error> {
    let day = |name: &str| -> Result<chrono::NaiveDate, Error> {
        let raw = params.get(name).ok_or_else(|| Error::invalid(name, "is required (YYYY-MM-DD)"))?;
        chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d")
            .map_err(|_| Error::invalid(name, format!("'{raw}' is not a date (YYYY-MM-DD)")))
    };
    let (from, to) = (day("date_from")?, day("date_to")?);
    if to < from {
        return Err(Error::invalid("date_to", "must not be before date_from"));
    }
    let start = timeexpr::parse(&from.to_string(), Utc::now(), tz, Edge::Start)
        .map_err(|e| Error::invalid("date_from", e.message))?;
    let end = timeexpr::parse(&to.to_string(), Utc::now(), tz, Edge::End)
        .map_err(|e| Error::invalid("date_to", e.message))?;
    Ok((start, end))
}

fn caller_tz(state: &AppState, caller: &Caller) -> chrono_tz::Tz {
    caller.zone(state.tracker.snapshots().snapshot().network.timezone)
}

async fn stats(State(state): State<AppState>, caller: BearerCaller, params: Params) -> Result<Json<Value>, ApiError> {
    caller.require(Scope::ReadStats)?;
    let tz = caller_tz(&state, &caller);
    let (from, to) = dates(&params, tz)?;
    let group_by = match params.get("group_by") {
        None => Vec::new(),
        Some(raw) => raw
            .split(',')
            .map(|d| {
                match d.trim() {
                    "date" | "offer" | "geo" | "sub1" | "sub2" | "sub3" | "sub4" | "sub5" | "device" | "os" => {
                        Dimension::parse(d.trim()).ok_or(())
                    }
                    _ => Err(()),
                }
                .map_err(|()| {
                    Error::invalid("group_by", format!("'{d}' is not one of date, offer, geo, sub1…sub5, device, os"))
                })
            })
            .collect::<Result<Vec<_>, _>>()?,
    };
    let offers = params
        .get("offer_id")
        .map(|o| {
            offer_id(o).map(|n| vec![n]).ok_or_else(|| Error::invalid("offer_id", format!("'{o}' is not an offer id")))
        })
        .transpose()?;
    let request = reports::Request {
        from,
        to,
        tz,
        group_by: group_by.clone(),
        filters: reports::Filters { offers, ..reports::Filters::default() },
        statuses: vec![ConversionStatus::Approved],
        audience: caller.audience(),
    };
    let report = state.reporter.run(&request).await?;
    let view = caller.money_view();
    let data: Vec<Value> = report
        .rows
        .iter()
        .map(|r| {
            let mut map = serde_json::Map::new();
            for (d, k) in group_by.iter().zip(&r.key) {
                let (name, value) = match (d, k) {
                    (Dimension::Offer, Key::Id(id)) => ("offer_id", json!(format!("offer_{id}"))),
                    (Dimension::Country, k) => ("geo", json!(k)),
                    (d, k) => (d.name(), json!(k)),
                };
                map.insert(name.into(), value);
            }
            let t = &r.totals;
            let money = |d: rust_decimal::Decimal| json!(money_out(d).to_f64().unwrap_or(0.0));
            map.insert("clicks".into(), json!(t.clicks));
            map.insert("conversions".into(), json!(t.conversions));
            map.insert("leads".into(), json!(t.leads));
            map.insert("cvr".into(), money(t.cr()));
            map.insert("revenue".into(), money(view.headline(t.payout, t.revenue)));
            map.insert("epc".into(), money(view.epc(t)));
            Value::Object(map)
        })
        .collect();
    Ok(Json(json!({ "data": data })))
}

async fn conversions(
    State(state): State<AppState>,
    caller: BearerCaller,
    params: Params,
) -> Result<Json<Value>, ApiError> {
    caller.require(Scope::ReadConversions)?;
    let tz = caller_tz(&state, &caller);
    let (from, to) = dates(&params, tz)?;
    let status = match params.get("status").unwrap_or("all") {
        "all" => None,
        other => Some(crate::engine::convert::parse_status(other)?),
    };
    let offer = params
        .get("offer_id")
        .map(|o| offer_id(o).ok_or_else(|| Error::invalid("offer_id", format!("'{o}' is not an offer id"))))
        .transpose()?;
    let (page, per_page) = page_of(&params)?;
    let search =
        Search { offer_id: offer, status, from: Some(from), to: Some(to), page, per_page, ..Search::default() };
    let found = state.conversions.search(&caller, search).await?;
    let affiliate = caller.role() == Role::Affiliate;
    let view = caller.money_view();
    let data: Vec<Value> = found
        .items
        .iter()
        .map(|c| {
            let mut v = json!({
                "conversion_id": format!("conv_{}", c.id),
                "offer_id": format!("offer_{}", c.offer_id),
                "click_id": c.click_id,
                "status": c.status.as_str(),
                "event": c.event,
                "payout": c.payout.to_f64(),
                "sale_amount": c.sale_amount.map(|s| s.to_f64()),
                "currency": c.currency.as_str(),
                "geo": c.country,
                "device": c.device,
                "os": c.os,
                "source_id": c.source_id,
                "sub1": c.subs[0], "sub2": c.subs[1], "sub3": c.subs[2], "sub4": c.subs[3], "sub5": c.subs[4],
                "coupon_code": c.coupon_code,
                "click_at": c.click_at.map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true)),
                "created_at": c.created_at.to_rfc3339_opts(SecondsFormat::Secs, true),
            });
            if let Some(map) = v.as_object_mut() {
                if view.shows_revenue() {
                    map.insert("revenue".into(), json!(c.revenue.to_f64()));
                }
                if !affiliate {
                    map.insert("affiliate_id".into(), json!(c.affiliate_id));
                    map.insert("txid".into(), json!(c.txid));
                }
            }
            v
        })
        .collect();
    Ok(Json(json!({"data": data, "meta": {"total": found.total, "page": page, "per_page": per_page}})))
}
