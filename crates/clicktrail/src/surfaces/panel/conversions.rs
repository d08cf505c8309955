//! Conversions: the review queue (filter, approve or reject with a reason), and each
//! conversion's page with its history and the delivery log of its postbacks.

use askama::Template;
use axum::extract::{Path, State};
use clicktrail_domain::conversion::Conversion;
use clicktrail_domain::offer::ConversionStatus;
use clicktrail_domain::user::Role;

use super::view::{Frame, money, notice};
use super::{Page, PanelError, PanelForm, PanelUser, html, redirect};
use crate::app::AppState;
use crate::engine::access::Caller;
use crate::engine::convert::{Search, parse_status};
use crate::engine::snapshot::Snapshot;
use crate::error::Error;
use crate::transport::extract::Params;

const PER_PAGE: u64 = 50;

/// A conversion as a row.
pub struct Row {
    id: i64,
    at: String,
    offer_id: i64,
    offer: String,
    affiliate: String,
    event: String,
    status: &'static str,
    payout: String,
    revenue: Option<String>,
    txid: String,
    reason: String,
}

fn row(c: &Conversion, caller: &Caller, snapshot: &Snapshot) -> Row {
    let tz = caller.zone(snapshot.network.timezone);
    Row {
        id: c.id,
        at: c.created_at.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S").to_string(),
        offer_id: c.offer_id,
        offer: snapshot
            .offers
            .get(&c.offer_id)
            .map_or_else(|| format!("Offer {}", c.offer_id), |o| o.spec.name.to_string()),
        affiliate: snapshot
            .affiliates
            .get(&c.affiliate_id)
            .map_or_else(|| format!("Affiliate {}", c.affiliate_id), |a| a.spec.name.to_string()),
        event: c.event.clone().unwrap_or_default(),
        status: c.status.as_str(),
        payout: money(c.payout.amount()),
        revenue: caller.money_view().shows_revenue().then(|| money(c.revenue.amount())),
        txid: c.txid.clone().unwrap_or_default(),
        reason: c.reason.clone(),
    }
}

#[derive(Template)]
#[template(path = "panel/conversions.html")]
struct ListPage {
    frame: Frame,
    rows: Vec<Row>,
    status: String,
    offer_id: String,
    affiliate_id: String,
    reviewer: bool,
    show_affiliate: bool,
    page: u64,
    pages: u64,
    total: u64,
    query: String,
}

fn id_param(params: &Params, name: &str) -> Result<Option<i64>, Error> {
    match params.get(name).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| Error::invalid(name, format!("'{v}' is not a numeric id"))),
    }
}

/// `GET /panel/conversions`: `status`, `offer_id`, `affiliate_id`, `page`.
pub async fn list(State(state): State<AppState>, user: PanelUser, params: Params) -> Page {
    let fail = |e| user.fail(&state, e);
    let status = params.get("status").unwrap_or("").to_owned();
    let search = Search {
        status: if status.is_empty() { None } else { Some(parse_status(&status).map_err(fail)?) },
        offer_id: id_param(&params, "offer_id").map_err(fail)?,
        affiliate_id: id_param(&params, "affiliate_id").map_err(fail)?,
        page: params.get("page").and_then(|p| p.parse().ok()).unwrap_or(1u64).max(1),
        per_page: PER_PAGE,
        ..Search::default()
    };
    let page = search.page;
    let found = state.conversions.search(&user.caller, search).await.map_err(fail)?;
    let snapshot = state.tracker.snapshots().snapshot();
    let rows = found.items.iter().map(|c| row(c, &user.caller, &snapshot)).collect();
    let offer_id = params.get("offer_id").unwrap_or("").to_owned();
    let affiliate_id = params.get("affiliate_id").unwrap_or("").to_owned();
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.append_pair("status", &status).append_pair("offer_id", &offer_id).append_pair("affiliate_id", &affiliate_id);
    let page = ListPage {
        frame: user.frame(&state, "Conversions", "conversions").notice(notice(params.get("done"))),
        rows,
        status,
        offer_id,
        affiliate_id,
        reviewer: user.caller.require_reviewer().is_ok(),
        show_affiliate: user.caller.role() != Role::Affiliate,
        page,
        pages: found.total.div_ceil(PER_PAGE).max(1),
        total: found.total,
        query: query.finish(),
    };
    Ok(html(page.render()))
}

#[derive(Template)]
#[template(path = "panel/conversion.html")]
struct ShowPage {
    frame: Frame,
    c: Row,
    reviewer: bool,
    show_affiliate: bool,
    history: Vec<(String, String, String, String)>,
    deliveries: Option<Vec<Delivery>>,
}

/// One delivery attempt of a postback.
pub struct Delivery {
    at: String,
    outcome: String,
    status: String,
    url: String,
    detail: String,
}

fn conversion_id(user: &PanelUser, state: &AppState, raw: &str) -> Result<i64, PanelError> {
    raw.parse::<i64>().map_err(|_| user.fail(state, Error::not_found("conversion", raw)))
}

/// `GET /panel/conversions/{id}`.
pub async fn show(State(state): State<AppState>, user: PanelUser, Path(id): Path<String>, params: Params) -> Page {
    let id = conversion_id(&user, &state, &id)?;
    let fail = |e| user.fail(&state, e);
    let c = state.conversions.get(&user.caller, id).await.map_err(fail)?;
    let snapshot = state.tracker.snapshots().snapshot();
    let tz = user.caller.zone(snapshot.network.timezone);
    let time = |t: chrono::DateTime<chrono::Utc>| t.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S").to_string();
    let history = c
        .history
        .iter()
        .map(|h| {
            (
                time(h.at),
                h.from.map(|s| s.as_str().to_owned()).unwrap_or_default(),
                h.to.as_str().to_owned(),
                h.reason.clone(),
            )
        })
        .collect();
    let deliveries = if user.caller.role() == Role::Advertiser {
        None
    } else {
        let attempts = state.conversions.deliveries(&user.caller, id).await.map_err(fail)?;
        Some(
            attempts
                .into_iter()
                .map(|a| {
                    let status = a.status.map(|s| s.to_string()).unwrap_or_else(|| "—".into());
                    Delivery { at: time(a.at), outcome: a.outcome, status, url: a.url, detail: a.detail }
                })
                .collect(),
        )
    };
    let page = ShowPage {
        frame: user.frame(&state, format!("Conversion {id}"), "conversions").notice(notice(params.get("done"))),
        c: row(&c, &user.caller, &snapshot),
        reviewer: user.caller.require_reviewer().is_ok(),
        show_affiliate: user.caller.role() != Role::Affiliate,
        history,
        deliveries,
    };
    Ok(html(page.render()))
}

/// `POST /panel/conversions/{id}`: `status` (approved, rejected, pending) and `reason`; back to
/// `back` (the queue) or the conversion.
pub async fn review(
    State(state): State<AppState>,
    Path(id): Path<String>,
    PanelForm { user, fields }: PanelForm,
) -> Page {
    let id = conversion_id(&user, &state, &id)?;
    let fail = |e| user.fail(&state, e);
    let to = parse_status(fields.get("status").unwrap_or("")).map_err(fail)?;
    let reason = fields.get("reason").unwrap_or("").chars().take(500).collect::<String>();
    if to == ConversionStatus::Rejected && reason.is_empty() {
        return Err(fail(Error::invalid("reason", "say why the conversion is rejected")));
    }
    state.conversions.change_status(&user.caller, id, to, reason).await.map_err(fail)?;
    let done = to.as_str();
    let back = match fields.get("back") {
        Some("queue") => format!("/panel/conversions?status=pending&done={done}"),
        _ => format!("/panel/conversions/{id}?done={done}"),
    };
    Ok(redirect(&back))
}
