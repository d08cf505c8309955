//! Raw-click queries: every filter and exclusion of a [`ClickQuery`] becomes SQL, so SQLite
//! reads only the clicks asked for, in id (time) order, and stops at the limit.
//!
//! Two things keep it from reading what cannot match:
//! - a query narrowed to offers or affiliates reads the `clicks_offer` / `clicks_affiliate`
//!   indexes, so only their clicks;
//! - a filter on a field kept per day in `rollup_field_days` (sub-ids, source, country,
//!   device) skips the days, already folded, on which no click had any of its values; clicks on
//!   ids that name nothing are in no rollup, so they are read apart (`clicks_uncounted`).

use clicktrail_domain::click::{Click, Rejection};
use clicktrail_domain::report::Dimension;
use clicktrail_store::StoreError;
use clicktrail_store::events::{ClickCondition, ClickField, ClickQuery};
use rusqlite::Connection;
use rusqlite::types::Value;

use super::codec::{CLICK_COLUMNS, id_bound_ms, read_click};
use crate::fold::{self, Fold};
use crate::{backend, ms, tally};

fn column(field: ClickField) -> &'static str {
    field.column()
}

/// A condition as SQL that is true or false, never NULL (so `NOT` of it is exact too).
fn condition(c: &ClickCondition, args: &mut Vec<Value>) -> String {
    let column = column(c.field);
    let Some(value) = &c.value else { return "0".to_owned() };
    if c.field.is_numeric() {
        match value.parse::<i64>() {
            Ok(n) => {
                args.push(n.into());
                format!("{column} IS ?")
            }
            Err(_) => "0".to_owned(),
        }
    } else {
        args.push(value.clone().into());
        format!("{column} = ? COLLATE NOCASE")
    }
}

/// `column IN (?, …)`, or false for an empty list.
fn one_of(column: &str, ids: &[i64], args: &mut Vec<Value>) -> String {
    if ids.is_empty() {
        return "0".to_owned();
    }
    args.extend(ids.iter().map(|&id| Value::from(id)));
    format!("{column} IN ({})", vec!["?"; ids.len()].join(", "))
}

const DAY_MS: i64 = 86_400_000;

/// The code of a field in `rollup_field_days`, and the fold that fills it.
fn day_field(field: ClickField) -> Option<(u8, Fold)> {
    let dimension = match field {
        ClickField::Sub(i) => Dimension::Sub(i),
        ClickField::Source => Dimension::Source,
        ClickField::Country => Dimension::Country,
        ClickField::DeviceType => Dimension::Device,
        other => {
            let code = (tally::FACETS_FROM..).zip(tally::FACETS).find(|(_, (f, _))| *f == other)?.0;
            return Some((code, Fold::Facets));
        }
    };
    let fold = if matches!(field, ClickField::Sub(_)) { Fold::Subs } else { Fold::Fields };
    tally::field_code(dimension).map(|code| (code, fold))
}

/// The stretches of `[from, to)` (unix milliseconds) that can hold a match: days the rollups
/// have folded are kept only if every filter on a day field has one of its values there.
fn stretches(conn: &Connection, query: &ClickQuery, from: i64, to: i64) -> Result<Vec<(i64, i64)>, StoreError> {
    let marks = fold::marks(conn)?;
    let first_day = from.div_euclid(DAY_MS) * DAY_MS;
    let mut keep: Option<Vec<i64>> = None;
    let mut folded_to = to;
    for (field, alternatives) in query.filter_groups() {
        let Some((code, fold)) = day_field(field) else { continue };
        // Whole days before the fold's mark are complete.
        let Some(mark) = marks.of(fold) else { continue };
        let complete_to = mark.div_euclid(DAY_MS).saturating_mul(DAY_MS);
        if complete_to <= first_day {
            continue;
        }
        folded_to = folded_to.min(complete_to);
        let mut args: Vec<Value> = vec![i64::from(code).into(), (first_day / 1000).into(), (complete_to / 1000).into()];
        // Ids are kept as the text of the number (`07` asks for 7).
        let values: Vec<String> = alternatives
            .iter()
            .filter_map(|c| match &c.value {
                Some(v) if field.is_numeric() => v.parse::<i64>().ok().map(|n| n.to_string()),
                v => v.clone(),
            })
            .map(|v| {
                args.push(v.into());
                "value = ? COLLATE NOCASE".to_owned()
            })
            .collect();
        let mut sql = String::from(
            "SELECT DISTINCT bucket FROM rollup_field_days WHERE field = ? AND bucket >= ? AND bucket < ?",
        );
        sql.push_str(&format!(" AND ({})", if values.is_empty() { "0".to_owned() } else { values.join(" OR ") }));
        if let Some(offers) = &query.offers {
            sql.push_str(&format!(" AND {}", one_of("offer_id", offers, &mut args)));
        }
        if let Some(affiliates) = &query.affiliates {
            sql.push_str(&format!(" AND {}", one_of("affiliate_id", affiliates, &mut args)));
        }
        let mut stmt = conn.prepare_cached(&sql).map_err(backend)?;
        let days: Vec<i64> = stmt
            .query_map(rusqlite::params_from_iter(args), |r| r.get::<_, i64>(0).map(|d| d * 1000))
            .map_err(backend)?
            .collect::<Result<_, _>>()
            .map_err(backend)?;
        keep = Some(match keep {
            None => days,
            Some(before) => before.into_iter().filter(|d| days.contains(d)).collect(),
        });
    }
    let Some(mut days) = keep else { return Ok(vec![(from, to)]) };
    days.sort_unstable();
    // Folded days that can match, then everything after the folds.
    let mut out: Vec<(i64, i64)> = Vec::new();
    for day in days.into_iter().filter(|d| *d < folded_to) {
        let (a, b) = (day.max(from), (day + DAY_MS).min(folded_to).min(to));
        match out.last_mut() {
            Some(last) if last.1 == a => last.1 = b,
            _ if a < b => out.push((a, b)),
            _ => {}
        }
    }
    if folded_to < to {
        match out.last_mut() {
            Some(last) if last.1 == folded_to.max(from) => last.1 = to,
            _ => out.push((folded_to.max(from), to)),
        }
    }
    Ok(out)
}

/// The clicks a query asks for, oldest first.
pub(crate) fn select(conn: &Connection, query: &ClickQuery) -> Result<Vec<Click>, StoreError> {
    let (from, to) = (ms(query.from), ms(query.to));
    if to <= from || query.limit == 0 {
        return Ok(Vec::new());
    }
    let stretches = stretches(conn, query, from, to)?;
    let whole = stretches == [(from, to)];
    let mut out: Vec<Click> = Vec::new();
    for (a, b) in stretches {
        let left = query.limit - out.len();
        if left == 0 {
            break;
        }
        out.extend(select_in(conn, query, a, b, left, false)?);
    }
    if !whole {
        // Uncounted clicks are in no rollup: read them over the whole period and merge.
        out.extend(select_in(conn, query, from, to, query.limit, true)?);
        out.sort_by_key(|c| c.id);
        out.dedup_by_key(|c| c.id);
        out.truncate(query.limit);
    }
    Ok(out)
}

/// The query's clicks in `[from, to)` (unix milliseconds), at most `limit`; only those on ids
/// that name nothing when `uncounted`.
fn select_in(
    conn: &Connection,
    query: &ClickQuery,
    from: i64,
    to: i64,
    limit: usize,
    uncounted: bool,
) -> Result<Vec<Click>, StoreError> {
    let mut args: Vec<Value> = vec![id_bound_ms(from).into(), id_bound_ms(to).into()];
    let mut conditions = vec!["id >= ?".to_owned(), "id < ?".to_owned()];
    if uncounted {
        conditions.push(format!(
            "error_code IN ({}, {})",
            Rejection::UnknownOffer.code(),
            Rejection::UnknownAffiliate.code()
        ));
    }
    if let Some(offers) = &query.offers {
        conditions.push(one_of("offer_id", offers, &mut args));
    }
    if let Some(affiliates) = &query.affiliates {
        conditions.push(one_of("affiliate_id", affiliates, &mut args));
    }
    for (_, alternatives) in query.filter_groups() {
        let any: Vec<String> = alternatives.iter().map(|c| condition(c, &mut args)).collect();
        conditions.push(format!("({})", any.join(" OR ")));
    }
    for x in &query.exclusions {
        conditions.push(format!("NOT ({})", condition(x, &mut args)));
    }
    args.push(i64::try_from(limit).unwrap_or(i64::MAX).into());
    let sql = format!("SELECT {CLICK_COLUMNS} FROM clicks WHERE {} ORDER BY id LIMIT ?", conditions.join(" AND "));
    let mut stmt = conn.prepare_cached(&sql).map_err(backend)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(args), read_click).map_err(backend)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(backend)
}
