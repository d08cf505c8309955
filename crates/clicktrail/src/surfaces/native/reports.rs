//! `GET /api/reports`: the reporting engine over the native API, as JSON or CSV.

use axum::Json;
use axum::extract::State;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use clicktrail_domain::geo::TimeZone;
use clicktrail_domain::key::Scope;
use clicktrail_domain::offer::ConversionStatus;
use clicktrail_domain::report::{Dimension, Row};
use clicktrail_domain::timeexpr::{self, Edge};
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::engine::reports::{Filters, Request};
use crate::error::Error;
use crate::surfaces::native::NativeCaller;
use crate::surfaces::report_table::{header, row_json, write_csv};
use crate::transport::error::ApiError;
use crate::transport::extract::Params;

fn ids(params: &Params, name: &str) -> Result<Option<Vec<i64>>, Error> {
    params
        .get(name)
        .map(|raw| {
            raw.split(',')
                .map(|v| {
                    v.trim().parse::<i64>().map_err(|_| Error::invalid(name, format!("'{v}' is not a numeric id")))
                })
                .collect()
        })
        .transpose()
}

fn texts(params: &Params, name: &str) -> Option<Vec<String>> {
    params.get(name).map(|raw| raw.split(',').map(|v| v.trim().to_owned()).collect())
}

/// Parses the request a report URL describes.
pub fn request(state: &AppState, caller: &NativeCaller, params: &Params) -> Result<Request, Error> {
    let snapshot = state.tracker.snapshots().snapshot();
    let tz = match params.get("timezone") {
        Some(raw) => TimeZone::parse(raw).map_err(|e| Error::invalid("timezone", e.message))?.tz(),
        None => caller.zone(snapshot.network.timezone),
    };
    let now = Utc::now();
    let from = timeexpr::parse(params.get("from").unwrap_or("today"), now, tz, Edge::Start)
        .map_err(|e| Error::invalid("from", e.message))?;
    let to = timeexpr::parse(params.get("to").unwrap_or("today"), now, tz, Edge::End)
        .map_err(|e| Error::invalid("to", e.message))?;
    let group_by = params
        .get("group_by")
        .map(|raw| {
            raw.split(',')
                .map(|d| Dimension::parse(d).ok_or_else(|| Error::invalid("group_by", format!("'{d}' is not one of hour, date, offer, affiliate, country, source, sub1…sub5, device, os"))))
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?
        .unwrap_or_default();
    let statuses = match texts(params, "status") {
        None => vec![ConversionStatus::Approved],
        Some(list) => list.iter().map(|s| crate::engine::convert::parse_status(s)).collect::<Result<_, _>>()?,
    };
    let mut subs: [Option<Vec<String>>; 5] = Default::default();
    for (i, slot) in subs.iter_mut().enumerate() {
        *slot = texts(params, &format!("sub{}", i + 1));
    }
    let filters = Filters {
        offers: ids(params, "offer_id")?,
        affiliates: ids(params, "affiliate_id")?,
        affiliate_groups: ids(params, "affiliate_group_id")?,
        advertisers: ids(params, "advertiser_id")?,
        categories: ids(params, "category_id")?,
        countries: texts(params, "country").map(|l| l.into_iter().map(|c| c.to_ascii_uppercase()).collect()),
        sources: texts(params, "source_id"),
        subs,
        devices: texts(params, "device"),
        oses: texts(params, "os"),
    };
    Ok(Request { from, to, tz, group_by, filters, statuses, audience: caller.audience() })
}

/// A report: rows by the `group_by` dimensions with every metric of SPEC §3.
#[utoipa::path(get, path = "/api/reports", tag = "reports",
    params(
        ("from" = Option<String>, Query, description = "Start: unix time or a time expression (default today)"),
        ("to" = Option<String>, Query, description = "End: a bare date means the end of that day (default today)"),
        ("timezone" = Option<String>, Query, description = "IANA zone; the caller's, else the network's"),
        ("group_by" = Option<String>, Query, description = "Comma-separated: hour, date, offer, affiliate, country, source, sub1…sub5, device, os"),
        ("status" = Option<String>, Query, description = "Conversion statuses counted (default approved)"),
        ("format" = Option<String>, Query, description = "json (default) or csv")),
    responses((status = 200, description = "Rows and totals")))]
pub async fn report(State(state): State<AppState>, caller: NativeCaller, params: Params) -> Result<Response, ApiError> {
    caller.require(Scope::ReadStats)?;
    let req = request(&state, &caller, &params)?;
    let view = caller.money_view();
    let result = state.reporter.run(&req).await?;
    let rows: Vec<Value> =
        result.rows.iter().map(|Row { key, totals }| row_json(&req.group_by, key, totals, view)).collect();
    let format = params.get("format").unwrap_or("json");
    match format {
        "json" => Ok(Json(json!({
            "data": rows,
            "totals": row_json(&[], &[], &result.total, view),
            "meta": {"from": req.from.to_rfc3339(), "to": req.to.to_rfc3339(), "timezone": req.tz.name(), "source": match (result.served.rollups, result.served.raw) {
                (true, true) => "rollups+raw",
                (false, true) => "raw",
                _ => "rollups",
            }},
        }))
        .into_response()),
        "csv" => {
            let header = header(&req.group_by, view);
            let out = write_csv(&header, &rows).map_err(|e| Error::internal(format!("cannot write the CSV: {e}")))?;
            Ok(([(CONTENT_TYPE, "text/csv; charset=utf-8"), (CONTENT_DISPOSITION, "attachment; filename=\"report.csv\"")], out).into_response())
        }
        other => Err(Error::invalid("format", format!("'{other}' is not json or csv")).into()),
    }
}

/// The route.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(report))
}
