//! Reports (the report engine with a period picker, time zone, group-bys, filters and the
//! previous period beside, all in the URL; CSV export) and the raw click log.

use askama::Template;
use axum::extract::State;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::IntoResponse;
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use clicktrail_domain::geo::TimeZone;
use clicktrail_domain::offer::ConversionStatus;
use clicktrail_domain::report::{Dimension, Key, Row, Totals};
use clicktrail_domain::user::Role;
use rust_decimal::Decimal;

use super::chart::{Chart, Series};
use super::dashboard::day_start;
use super::view::{Frame, count, money, percent};
use super::{Page, PanelUser, html};
use crate::app::AppState;
use crate::engine::access::Caller;
use crate::engine::reports::{Filters, Request};
use crate::engine::track::ClickQuery;
use crate::error::Error;
use crate::surfaces::report_table::{header, row_json, write_csv};
use crate::transport::extract::Params;

/// Period presets: (value, label).
const PERIODS: &[(&str, &str)] = &[
    ("today", "Today"),
    ("yesterday", "Yesterday"),
    ("7d", "Last 7 days"),
    ("30d", "Last 30 days"),
    ("this_month", "This month"),
    ("last_month", "Last month"),
    ("custom", "Custom"),
];

/// The fields a report groups by, for each role: (value, label).
fn groupings(role: Role) -> Vec<(&'static str, &'static str)> {
    let mut list = vec![("date", "Date"), ("hour", "Hour"), ("offer", "Offer")];
    if role != Role::Affiliate {
        list.push(("affiliate", "Affiliate"));
    }
    list.extend([
        ("country", "Country"),
        ("source", "Source"),
        ("sub1", "Sub 1"),
        ("sub2", "Sub 2"),
        ("sub3", "Sub 3"),
        ("sub4", "Sub 4"),
        ("sub5", "Sub 5"),
        ("device", "Device"),
        ("os", "OS"),
    ]);
    list
}

/// The most rows a page shows (the CSV has them all).
const SHOWN_ROWS: usize = 500;

/// A metric column.
pub struct Column {
    /// Its key in `sort=`.
    pub key: &'static str,
    /// Its label.
    pub label: &'static str,
}

fn columns(role: Role) -> Vec<Column> {
    let c = |key, label| Column { key, label };
    let mut out = vec![c("clicks", "Clicks"), c("unique", "Unique"), c("conversions", "Conversions"), c("cr", "CR")];
    match role {
        Role::Admin => {
            out.extend([c("epc", "EPC"), c("payout", "Payout"), c("revenue", "Revenue"), c("profit", "Profit")])
        }
        Role::Affiliate => out.extend([c("epc", "EPC"), c("payout", "Earnings")]),
        Role::Advertiser => out.push(c("revenue", "Cost")),
    }
    out
}

fn metric(key: &str, t: &Totals, caller: &Caller) -> Decimal {
    match key {
        "clicks" => Decimal::from(t.clicks),
        "unique" => Decimal::from(t.unique_clicks),
        "conversions" => Decimal::from(t.conversions + t.leads),
        "cr" => t.cr(),
        "epc" => caller.money_view().epc(t),
        "payout" => t.payout,
        "revenue" => t.revenue,
        "profit" => t.profit(),
        _ => Decimal::ZERO,
    }
}

fn cells(t: &Totals, caller: &Caller) -> Vec<String> {
    columns(caller.role())
        .iter()
        .map(|c| match c.key {
            "clicks" => count(t.clicks),
            "unique" => count(t.unique_clicks),
            "conversions" => count(t.conversions + t.leads),
            "cr" => percent(t.cr()),
            other => money(metric(other, t, caller)),
        })
        .collect()
}

/// A row of the report table.
pub struct TableRow {
    /// Its key, as shown.
    pub key: Vec<String>,
    /// Its metrics, as shown.
    pub cells: Vec<String>,
}

/// A totals change against the previous period.
pub struct Delta {
    /// Label.
    pub label: &'static str,
    /// This period.
    pub now: String,
    /// The previous one.
    pub before: String,
    /// The change, with its sign (`+12.5 %`), and whether it went up.
    pub change: String,
    /// Up, down or flat.
    pub direction: &'static str,
}

#[derive(Template)]
#[template(path = "panel/reports.html")]
struct ReportPage {
    frame: Frame,
    periods: &'static [(&'static str, &'static str)],
    period: String,
    from: String,
    to: String,
    timezone: String,
    groupings: Vec<(&'static str, &'static str)>,
    group: Vec<String>,
    filters: Vec<(&'static str, &'static str, String)>,
    compare: bool,
    columns: Vec<Column>,
    key_labels: Vec<&'static str>,
    rows: Vec<TableRow>,
    total: Vec<String>,
    more: usize,
    deltas: Vec<Delta>,
    chart: Option<Chart>,
    sort: String,
    dir: String,
    query: String,
    csv: String,
    range: String,
}

impl ReportPage {
    /// Whether the group-by select `g` (`g1`…`g3`) shows `value`.
    fn grouped(&self, g: &str, value: &str) -> bool {
        let i = match g {
            "g1" => 0,
            "g2" => 1,
            _ => 2,
        };
        self.group.get(i).is_some_and(|v| v == value)
    }
}

/// The instants a period covers in zone `tz`, and the dates shown for it.
fn period(params: &Params, tz: Tz, now: DateTime<Utc>) -> Result<(String, NaiveDate, NaiveDate), Error> {
    let today = now.with_timezone(&tz).date_naive();
    let preset = params.get("period").unwrap_or("7d");
    let first_of_month = today.with_day(1).unwrap_or(today);
    let (from, to) = match preset {
        "today" => (today, today),
        "yesterday" => (today - Duration::days(1), today - Duration::days(1)),
        "7d" => (today - Duration::days(6), today),
        "30d" => (today - Duration::days(29), today),
        "this_month" => (first_of_month, today),
        "last_month" => {
            let last = first_of_month - Duration::days(1);
            (last.with_day(1).unwrap_or(last), last)
        }
        "custom" => {
            let date = |name: &str| {
                let raw = params.get(name).unwrap_or("");
                NaiveDate::parse_from_str(raw, "%Y-%m-%d")
                    .map_err(|_| Error::invalid(name, format!("'{raw}' is not a date (YYYY-MM-DD)")))
            };
            let (from, to) = (date("from")?, date("to")?);
            if to < from {
                return Err(Error::invalid("to", "is before the start"));
            }
            if (to - from).num_days() > 366 {
                return Err(Error::invalid("to", "a report spans at most 366 days"));
            }
            (from, to)
        }
        other => return Err(Error::invalid("period", format!("'{other}' is not a period"))),
    };
    Ok((preset.to_owned(), from, to))
}

fn list(params: &Params, name: &str) -> Option<Vec<String>> {
    params
        .get(name)
        .map(|raw| raw.split(',').map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()).collect::<Vec<_>>())
        .filter(|v| !v.is_empty())
}

fn ids(params: &Params, name: &str) -> Result<Option<Vec<i64>>, Error> {
    list(params, name)
        .map(|l| {
            l.iter()
                .map(|v| v.parse::<i64>().map_err(|_| Error::invalid(name, format!("'{v}' is not a numeric id"))))
                .collect()
        })
        .transpose()
}

/// The filters the page offers: (parameter, label).
const FILTERS: &[(&str, &str)] = &[
    ("offer_id", "Offer IDs"),
    ("affiliate_id", "Affiliate IDs"),
    ("country", "Countries"),
    ("source_id", "Sources"),
    ("sub1", "Sub 1"),
];

fn filters(params: &Params, role: Role) -> Result<Filters, Error> {
    let mut subs: [Option<Vec<String>>; 5] = Default::default();
    subs[0] = list(params, "sub1");
    Ok(Filters {
        offers: ids(params, "offer_id")?,
        affiliates: if role == Role::Affiliate { None } else { ids(params, "affiliate_id")? },
        advertisers: if role == Role::Admin { ids(params, "advertiser_id")? } else { None },
        countries: list(params, "country").map(|l| l.into_iter().map(|c| c.to_ascii_uppercase()).collect()),
        sources: list(params, "source_id"),
        subs,
        ..Filters::default()
    })
}

fn key_text(d: Dimension, k: &Key, state: &AppState) -> String {
    let snapshot = state.tracker.snapshots().snapshot();
    match (d, k) {
        (Dimension::Offer, Key::Id(id)) => {
            snapshot.offers.get(id).map_or_else(|| format!("Offer {id}"), |o| format!("{} ({id})", o.spec.name))
        }
        (Dimension::Affiliate, Key::Id(id)) => {
            snapshot.affiliates.get(id).map_or_else(|| format!("Affiliate {id}"), |a| format!("{} ({id})", a.spec.name))
        }
        (_, Key::Id(id)) => id.to_string(),
        (_, Key::Text(t)) if t.is_empty() => "(none)".to_owned(),
        (_, Key::Text(t)) => t.clone(),
    }
}

/// `GET /panel/reports`.
pub async fn page(State(state): State<AppState>, user: PanelUser, params: Params) -> Page {
    let caller = &user.caller;
    let fail = |e| user.fail(&state, e);
    let snapshot = state.tracker.snapshots().snapshot();
    let tz = match params.get("timezone").filter(|t| !t.is_empty()) {
        Some(raw) => TimeZone::parse(raw).map_err(|e| fail(Error::invalid("timezone", e.message)))?.tz(),
        None => caller.zone(snapshot.network.timezone),
    };
    let now = Utc::now();
    let (preset, from_date, to_date) = period(&params, tz, now).map_err(fail)?;
    let (from, to) = (day_start(from_date, tz), day_start(to_date + Duration::days(1), tz));
    let allowed = groupings(caller.role());
    // `group_by=a,b` (as the API takes it), else the form's three fields `g1`…`g3`.
    let group_names: Vec<String> = match params.0.get("group_by") {
        Some(raw) => raw.split(',').map(|g| g.trim().to_owned()).filter(|g| !g.is_empty()).collect(),
        None if ["g1", "g2", "g3"].iter().any(|g| params.0.contains_key(*g)) => ["g1", "g2", "g3"]
            .iter()
            .filter_map(|g| params.get(g))
            .filter(|g| !g.is_empty())
            .map(str::to_owned)
            .collect(),
        None => vec!["date".to_owned()],
    };
    if group_names.len() > 3 {
        return Err(fail(Error::invalid("group_by", "at most three fields")));
    }
    let mut group_by = Vec::new();
    for name in &group_names {
        if !allowed.iter().any(|(v, _)| v == name) {
            return Err(fail(Error::invalid("group_by", format!("'{name}' is not a field you can group by"))));
        }
        group_by.extend(Dimension::parse(name));
    }
    let request = Request {
        from,
        to,
        tz,
        group_by: group_by.clone(),
        filters: filters(&params, caller.role()).map_err(fail)?,
        statuses: vec![ConversionStatus::Approved],
        audience: caller.audience(),
    };
    let report = state.reporter.run(&request).await.map_err(fail)?;
    if params.get("format") == Some("csv") {
        let view = caller.money_view();
        let rows: Vec<_> =
            report.rows.iter().map(|Row { key, totals }| row_json(&group_by, key, totals, view)).collect();
        let out = write_csv(&header(&group_by, view), &rows)
            .map_err(|e| fail(Error::internal(format!("cannot write the CSV: {e}"))))?;
        let name = format!("attachment; filename=\"report-{from_date}-{to_date}.csv\"");
        return Ok(
            ([(CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()), (CONTENT_DISPOSITION, name)], out).into_response()
        );
    }
    let cols = columns(caller.role());
    let sort = params.get("sort").filter(|s| cols.iter().any(|c| c.key == *s)).unwrap_or("").to_owned();
    let dir = if params.get("dir") == Some("asc") { "asc" } else { "desc" }.to_owned();
    let mut rows = report.rows.clone();
    if !sort.is_empty() {
        rows.sort_by(|a, b| {
            let order = metric(&sort, &a.totals, caller).cmp(&metric(&sort, &b.totals, caller));
            if dir == "asc" { order } else { order.reverse() }
        });
    }
    let more = rows.len().saturating_sub(SHOWN_ROWS);
    let table: Vec<TableRow> = rows
        .iter()
        .take(SHOWN_ROWS)
        .map(|r| TableRow {
            key: group_by.iter().zip(&r.key).map(|(d, k)| key_text(*d, k, &state)).collect(),
            cells: cells(&r.totals, caller),
        })
        .collect();
    let compare = params.get("compare").is_some();
    let mut deltas = Vec::new();
    if compare {
        let length = to - from;
        let before = Request { from: from - length, to: from, group_by: Vec::new(), ..request.clone() };
        let previous = state.reporter.run(&before).await.map_err(fail)?.total;
        for column in &cols {
            let (a, b) = (metric(column.key, &report.total, caller), metric(column.key, &previous, caller));
            let (change, direction) = if b.is_zero() {
                (if a.is_zero() { "0 %".to_owned() } else { "new".to_owned() }, if a.is_zero() { "flat" } else { "up" })
            } else {
                let pct = ((a - b) / b * Decimal::from(100)).round_dp(1);
                (
                    format!("{}{pct} %", if pct.is_sign_positive() { "+" } else { "" }),
                    if pct > Decimal::ZERO {
                        "up"
                    } else if pct < Decimal::ZERO {
                        "down"
                    } else {
                        "flat"
                    },
                )
            };
            let show =
                |t: &Totals| cells(t, caller)[cols.iter().position(|c| c.key == column.key).unwrap_or(0)].clone();
            deltas.push(Delta {
                label: column.label,
                now: show(&report.total),
                before: show(&previous),
                change,
                direction,
            });
        }
    }
    let chart = (group_by == [Dimension::Date] && report.rows.len() > 1).then(|| {
        let labels: Vec<String> = report.rows.iter().map(|r| key_text(Dimension::Date, &r.key[0], &state)).collect();
        let clicks = report.rows.iter().map(|r| r.totals.clicks as f64).collect();
        let conversions = report.rows.iter().map(|r| (r.totals.conversions + r.totals.leads) as f64).collect();
        Chart::new(
            &labels,
            Series { name: "Clicks".into(), values: clicks },
            Some(Series { name: "Conversions".into(), values: conversions }),
        )
    });
    // The URL of this report without its sort, for the column links and the CSV link.
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in params.0.iter().filter(|(k, _)| !["sort", "dir", "format"].contains(&k.as_str())) {
        query.append_pair(k, v);
    }
    let query = query.finish();
    let filters_shown = FILTERS
        .iter()
        .filter(|(name, _)| !(*name == "affiliate_id" && caller.role() == Role::Affiliate))
        .map(|(name, label)| (*name, *label, params.get(name).unwrap_or("").to_owned()))
        .collect();
    let page = ReportPage {
        frame: user.frame(&state, "Reports", "reports"),
        periods: PERIODS,
        period: preset,
        from: from_date.to_string(),
        to: to_date.to_string(),
        timezone: tz.name().to_owned(),
        groupings: allowed,
        group: group_names,
        filters: filters_shown,
        compare,
        key_labels: group_by
            .iter()
            .map(|d| groupings(caller.role()).into_iter().find(|(v, _)| *v == d.name()).map_or("", |(_, l)| l))
            .collect(),
        columns: cols,
        rows: table,
        total: cells(&report.total, caller),
        more,
        deltas,
        chart,
        sort,
        dir,
        csv: format!("/panel/reports?{query}&format=csv"),
        query,
        range: format!("{from_date} – {to_date} ({})", tz.name()),
    };
    Ok(html(page.render()))
}

/// A click of the log.
pub struct ClickRow {
    at: String,
    id: String,
    offer: String,
    affiliate: String,
    country: String,
    device: String,
    ip: String,
    subs: String,
    unique: bool,
    error: String,
    code: u16,
}

#[derive(Template)]
#[template(path = "panel/clicks.html")]
struct ClicksPage {
    frame: Frame,
    rows: Vec<ClickRow>,
    offer_id: String,
    affiliate_id: String,
    show_affiliate: bool,
    window: String,
}

/// How far back the log looks, nearest first, until it has a page of clicks.
const WINDOWS: &[(i64, &str)] =
    &[(1, "minute"), (10, "10 minutes"), (60, "hour"), (1_440, "24 hours"), (10_080, "7 days"), (43_200, "30 days")];
const LOG_ROWS: usize = 100;

/// `GET /panel/clicks`: the newest clicks (`offer_id`, `affiliate_id`), with their error codes.
pub async fn clicks(State(state): State<AppState>, user: PanelUser, params: Params) -> Page {
    let caller = &user.caller;
    let fail = |e| user.fail(&state, e);
    if caller.role() == Role::Advertiser {
        return Err(fail(Error::forbidden("The click log is for the network and its affiliates.")));
    }
    let snapshot = state.tracker.snapshots().snapshot();
    let tz = caller.zone(snapshot.network.timezone);
    let offers = ids(&params, "offer_id").map_err(fail)?;
    let affiliates =
        if caller.role() == Role::Affiliate { None } else { ids(&params, "affiliate_id").map_err(fail)? };
    let now = Utc::now();
    let mut found = Vec::new();
    let mut window = WINDOWS[0].1;
    for (minutes, name) in WINDOWS {
        let mut query = ClickQuery::between(now - Duration::minutes(*minutes), now + Duration::seconds(1), 1_000);
        query.offers.clone_from(&offers);
        query.affiliates.clone_from(&affiliates);
        caller.narrow_clicks(&mut query, &snapshot);
        found = state.tracker.clicks(&query).await.map_err(|e| fail(e.into()))?;
        window = name;
        if found.len() >= LOG_ROWS {
            break;
        }
    }
    let rows = found
        .iter()
        .rev()
        .take(LOG_ROWS)
        .filter(|c| caller.sees_click(c.offer_id, c.affiliate_id, &snapshot))
        .map(|c| ClickRow {
            at: c.at.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S").to_string(),
            id: c.id.to_string(),
            offer: snapshot.offers.get(&c.offer_id).map_or_else(|| c.offer_id.to_string(), |o| o.spec.name.to_string()),
            affiliate: snapshot
                .affiliates
                .get(&c.affiliate_id)
                .map_or_else(|| c.affiliate_id.to_string(), |a| a.spec.name.to_string()),
            country: c.geo.country.map(|x| x.as_str().to_owned()).unwrap_or_default(),
            device: c.device.device_type.map(|d| d.as_str().to_owned()).unwrap_or_default(),
            ip: if caller.role() == Role::Admin { c.ip.to_string() } else { String::new() },
            subs: c.params.subs.iter().filter(|s| !s.is_empty()).cloned().collect::<Vec<_>>().join(" · "),
            unique: c.is_unique,
            error: c.rejection.map(|r| r.message().to_owned()).unwrap_or_default(),
            code: c.rejection.map_or(0, |r| r.code()),
        })
        .collect();
    let page = ClicksPage {
        frame: user.frame(&state, "Click log", "clicks"),
        rows,
        offer_id: params.get("offer_id").unwrap_or("").to_owned(),
        affiliate_id: params.get("affiliate_id").unwrap_or("").to_owned(),
        show_affiliate: caller.role() == Role::Admin,
        window: window.to_owned(),
    };
    Ok(html(page.render()))
}
