//! The dashboard of each role: today, yesterday and the last 30 days as cards, a chart of the
//! 30 days, the top offers (and affiliates), and what waits for the network's attention.

use askama::Template;
use axum::extract::State;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use clicktrail_domain::offer::{AccessStatus, ConversionStatus};
use clicktrail_domain::report::{Dimension, Key, Totals};
use clicktrail_domain::user::Role;

use super::chart::{Chart, Series};
use super::view::{Frame, count, money, percent};
use super::{Page, PanelUser, html};
use crate::app::AppState;
use crate::engine::access::Caller;
use crate::engine::convert::Search;
use crate::engine::reports::{Filters, Request};
use crate::transport::extract::Params;

/// One figure of a card row.
pub struct Card {
    /// What it is.
    pub label: &'static str,
    /// Its value, formatted.
    pub value: String,
}

/// A period's cards.
pub struct Period {
    /// Its name.
    pub name: &'static str,
    /// Its figures.
    pub cards: Vec<Card>,
}

/// A row of a top list.
pub struct Top {
    /// Name.
    pub name: String,
    /// Link to it.
    pub href: String,
    /// Clicks.
    pub clicks: String,
    /// Conversions.
    pub conversions: String,
    /// The money the caller sees (revenue, earnings or cost).
    pub money: String,
}

#[derive(Template)]
#[template(path = "panel/dashboard.html")]
struct DashboardPage {
    frame: Frame,
    periods: Vec<Period>,
    chart: Chart,
    money_label: &'static str,
    top_offers: Vec<Top>,
    top_affiliates: Vec<Top>,
    pending_conversions: Option<u64>,
    access_requests: Vec<(i64, String, i64, String)>,
}

/// Midnight of a local date, as an instant.
pub fn day_start(date: NaiveDate, tz: Tz) -> DateTime<Utc> {
    date.and_hms_opt(0, 0, 0)
        .and_then(|t| t.and_local_timezone(tz).earliest())
        .map_or_else(|| date.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc(), |t| t.with_timezone(&Utc))
}

/// What the caller's money figure is called.
pub fn money_label(caller: &Caller) -> &'static str {
    match caller.role() {
        Role::Admin => "Revenue",
        Role::Affiliate => "Earnings",
        Role::Advertiser => "Cost",
    }
}

/// The caller's money figure of some totals.
pub fn money_of(caller: &Caller, t: &Totals) -> rust_decimal::Decimal {
    match caller.role() {
        Role::Affiliate => t.payout,
        Role::Admin | Role::Advertiser => t.revenue,
    }
}

fn cards(caller: &Caller, t: &Totals) -> Vec<Card> {
    let view = caller.money_view();
    let mut out = vec![
        Card { label: "Clicks", value: count(t.clicks) },
        Card { label: "Conversions", value: count(t.conversions + t.leads) },
        Card { label: money_label(caller), value: money(money_of(caller, t)) },
    ];
    if caller.role() == Role::Admin {
        out.push(Card { label: "Payout", value: money(t.payout) });
        out.push(Card { label: "Profit", value: money(t.profit()) });
    }
    if caller.role() != Role::Advertiser {
        out.push(Card { label: "EPC", value: money(view.epc(t)) });
    }
    out.push(Card { label: "CR", value: percent(t.cr()) });
    out
}

fn request(caller: &Caller, from: DateTime<Utc>, to: DateTime<Utc>, tz: Tz, group_by: Vec<Dimension>) -> Request {
    Request {
        from,
        to,
        tz,
        group_by,
        filters: Filters::default(),
        statuses: vec![ConversionStatus::Approved],
        audience: caller.audience(),
    }
}

/// `GET /panel/live`: today's cards as JSON (`{"cards":[{"label","value"}]}`), which the
/// dashboard's script fetches to keep its first row current without a reload.
pub async fn live(
    State(state): State<AppState>,
    user: PanelUser,
) -> Result<axum::response::Response, super::PanelError> {
    use axum::response::IntoResponse;
    let caller = &user.caller;
    let tz = caller.zone(state.tracker.snapshots().snapshot().network.timezone);
    let today = Utc::now().with_timezone(&tz).date_naive();
    let (from, to) = (day_start(today, tz), day_start(today + Duration::days(1), tz));
    let report =
        state.reporter.run(&request(caller, from, to, tz, Vec::new())).await.map_err(|e| user.fail(&state, e))?;
    let cards: Vec<serde_json::Value> = cards(caller, &report.total)
        .into_iter()
        .map(|c| serde_json::json!({ "label": c.label, "value": c.value }))
        .collect();
    let headers = [(axum::http::header::CACHE_CONTROL, "no-store")];
    Ok((headers, axum::Json(serde_json::json!({ "cards": cards }))).into_response())
}

/// `GET /panel/`.
pub async fn page(State(state): State<AppState>, user: PanelUser, params: Params) -> Page {
    let caller = &user.caller;
    let snapshot = state.tracker.snapshots().snapshot();
    let tz = caller.zone(snapshot.network.timezone);
    let now = Utc::now();
    let today = now.with_timezone(&tz).date_naive();
    let start = |days: i64| day_start(today - Duration::days(days), tz);
    let fail = |e| user.fail(&state, e);
    let admin = caller.role() == Role::Admin;
    let last_30 = |group_by: Vec<Dimension>| {
        let req = request(caller, start(29), start(-1), tz, group_by);
        let state = state.clone();
        async move { state.reporter.run(&req).await }
    };
    // Four reads at once (the backends answer them side by side): the 30 days by date, which
    // also give today's, yesterday's and the period's cards, the top offers, and for admins the
    // top affiliates and the review queue.
    let pending = Search { status: Some(ConversionStatus::Pending), page: 1, per_page: 1, ..Search::default() };
    let (by_date, offers, affiliates, pending) = tokio::try_join!(
        last_30(vec![Dimension::Date]),
        last_30(vec![Dimension::Offer]),
        async { if admin { last_30(vec![Dimension::Affiliate]).await.map(Some) } else { Ok(None) } },
        async { if admin { state.conversions.search(caller, pending).await.map(Some) } else { Ok(None) } },
    )
    .map_err(fail)?;
    let day_key = |d: NaiveDate| d.format("%Y-%m-%d").to_string();
    let day_totals = |d: NaiveDate| {
        let key = day_key(d);
        by_date
            .rows
            .iter()
            .find(|r| matches!(r.key.first(), Some(Key::Text(k)) if *k == key))
            .map(|r| r.totals.clone())
            .unwrap_or_default()
    };
    let periods = vec![
        Period { name: "Today", cards: cards(caller, &day_totals(today)) },
        Period { name: "Yesterday", cards: cards(caller, &day_totals(today - Duration::days(1))) },
        Period { name: "Last 30 days", cards: cards(caller, &by_date.total) },
    ];
    let days: Vec<NaiveDate> = (0..30).rev().map(|d| today - Duration::days(d)).collect();
    let mut clicks = vec![0.0; days.len()];
    let mut conversions = vec![0.0; days.len()];
    for row in &by_date.rows {
        let Some(Key::Text(day)) = row.key.first() else { continue };
        if let Some(i) = days.iter().position(|d| day_key(*d) == *day) {
            clicks[i] = row.totals.clicks as f64;
            conversions[i] = (row.totals.conversions + row.totals.leads) as f64;
        }
    }
    let labels: Vec<String> = days.iter().map(|d| d.format("%b %-d").to_string()).collect();
    let chart = Chart::new(
        &labels,
        Series { name: "Clicks".into(), values: clicks },
        Some(Series { name: "Conversions".into(), values: conversions }),
    );
    let mut offers = offers.rows;
    offers.sort_by(|a, b| {
        money_of(caller, &b.totals).cmp(&money_of(caller, &a.totals)).then(b.totals.clicks.cmp(&a.totals.clicks))
    });
    let top_offers = offers
        .iter()
        .take(5)
        .filter_map(|row| match row.key.first() {
            Some(Key::Id(id)) => Some(Top {
                name: snapshot.offers.get(id).map_or_else(|| format!("Offer {id}"), |o| o.spec.name.to_string()),
                href: format!("/panel/offers/{id}"),
                clicks: count(row.totals.clicks),
                conversions: count(row.totals.conversions + row.totals.leads),
                money: money(money_of(caller, &row.totals)),
            }),
            _ => None,
        })
        .collect();
    let mut top_affiliates = Vec::new();
    let pending_conversions = pending.map(|found| found.total);
    let mut access_requests = Vec::new();
    if let Some(affiliates) = affiliates {
        let mut affiliates = affiliates.rows;
        affiliates.sort_by(|a, b| b.totals.revenue.cmp(&a.totals.revenue).then(b.totals.clicks.cmp(&a.totals.clicks)));
        top_affiliates = affiliates
            .iter()
            .take(5)
            .filter_map(|row| match row.key.first() {
                Some(Key::Id(id)) => Some(Top {
                    name: snapshot
                        .affiliates
                        .get(id)
                        .map_or_else(|| format!("Affiliate {id}"), |a| a.spec.name.to_string()),
                    href: format!("/panel/users/{id}"),
                    clicks: count(row.totals.clicks),
                    conversions: count(row.totals.conversions + row.totals.leads),
                    money: money(row.totals.revenue),
                }),
                _ => None,
            })
            .collect();
        let mut offers: Vec<_> = snapshot.offers.values().collect();
        offers.sort_by_key(|o| o.id);
        for offer in offers {
            for access in offer.spec.access.iter().filter(|a| a.status == AccessStatus::Pending) {
                let name = snapshot
                    .affiliates
                    .get(&access.affiliate_id)
                    .map_or_else(|| format!("Affiliate {}", access.affiliate_id), |a| a.spec.name.to_string());
                access_requests.push((offer.id, offer.spec.name.to_string(), access.affiliate_id, name));
            }
        }
    }
    let frame = user.frame(&state, "Dashboard", "dashboard").notice(super::view::notice(params.get("done")));
    let page = DashboardPage {
        frame,
        periods,
        chart,
        money_label: money_label(caller),
        top_offers,
        top_affiliates,
        pending_conversions,
        access_requests,
    };
    Ok(html(page.render()))
}
