//! Tallies in SQL: the pieces of [`plan`] read from the coarsest table that has every field the
//! query needs, summed by `GROUP BY`.

use clicktrail_domain::click::Rejection;
use clicktrail_domain::report::{Dimension, Key, Tally, Totals};
use clicktrail_store::StoreError;
use clicktrail_store::events::ClickField;
use clicktrail_store::tally::{Grain, Level, Piece, Served, Tallies, TallyQuery, plan};
use rusqlite::types::Value;
use rusqlite::{Connection, Row};

use crate::{backend, from_ms};

/// A table a piece is read from.
pub(crate) struct Table {
    /// Rows per grain.
    pub grain: Grain,
    /// The `FROM` clause.
    pub from: &'static str,
    /// Extra condition (`field = 1`, say), or empty.
    pub condition: String,
}

/// A SELECT's parts for one source of rows.
pub(crate) struct Select<'a> {
    /// The `FROM` clause.
    pub from: &'a str,
    /// Conditions (`AND`-joined, placeholders `?` in order of `args`).
    pub conditions: Vec<String>,
    /// Their values.
    pub args: Vec<Value>,
    /// Expression of a row's time (unix seconds), or `None` when tallies are not kept apart.
    pub time: Option<String>,
    /// Grouped columns, in the query's group order.
    pub columns: Vec<String>,
    /// Sums, in [`Totals`] order of the kind being read.
    pub sums: &'a str,
}

/// Column of a field in the rollup tables.
pub(crate) fn rollup_column(d: Dimension) -> Option<String> {
    clicktrail_store::tally::column(d).filter(|_| !matches!(d, Dimension::Sub(_))).map(str::to_owned)
}

/// Fields kept one at a time beside offer and affiliate in `rollup_field_days`, with their raw
/// columns; a field's code is its place in this list, from 1.
pub(crate) const FIELDS: [(Dimension, &str); 9] = [
    (Dimension::Sub(0), "sub1"),
    (Dimension::Sub(1), "sub2"),
    (Dimension::Sub(2), "sub3"),
    (Dimension::Sub(3), "sub4"),
    (Dimension::Sub(4), "sub5"),
    (Dimension::Source, "source_id"),
    (Dimension::Country, "country"),
    (Dimension::Device, "device_type"),
    (Dimension::Os, "os"),
];

/// The first code of the click fields `rollup_field_days` keeps for raw-click queries alone
/// (after [`FIELDS`]).
pub(crate) const FACETS_FROM: u8 = 10;

/// Those fields, in code order from [`FACETS_FROM`], with the raw expression of their value
/// (ids as text, a missing one empty).
pub(crate) const FACETS: [(ClickField, &str); 11] = [
    (ClickField::Creative, "coalesce(creative_id, '')"),
    (ClickField::OfferUrl, "coalesce(url_id, '')"),
    (ClickField::Carrier, "carrier"),
    (ClickField::OsName, "os_name"),
    (ClickField::Brand, "brand"),
    (ClickField::Model, "model"),
    (ClickField::Browser, "browser"),
    (ClickField::Language, "language"),
    (ClickField::ConnectionType, "connection_type"),
    (ClickField::Campaign, "campaign"),
    (ClickField::CouponCode, "coupon_code"),
];

/// The code of a field in `rollup_field_days`.
pub(crate) fn field_code(d: Dimension) -> Option<u8> {
    (1..).zip(FIELDS).find(|(_, (f, _))| *f == d).map(|(code, _)| code)
}

/// Column of a field in the raw tables (clicks, impressions, conversions).
pub(crate) fn raw_column(d: Dimension) -> Option<String> {
    FIELDS.iter().find(|(f, _)| *f == d).map(|(_, column)| (*column).to_owned()).or_else(|| rollup_column(d))
}

/// The raw clicks that count (traffic on ids that name nothing is kept but never counted).
pub(crate) fn raw_clicks_counted() -> String {
    format!("error_code NOT IN ({}, {})", Rejection::UnknownOffer.code(), Rejection::UnknownAffiliate.code())
}

/// What a raw click counts, as the sums of a traffic tally: impressions, clicks, unique
/// clicks, payout, revenue.
pub(crate) const RAW_CLICK_SUMS: &str = concat!(
    "0, sum(is_filter = 0), sum(is_unique = 1 AND is_filter = 0), ",
    crate::money_columns!(saturating_money_sum)
);

/// The same sums read for a report: money exact however large (split by `money_sum!`).
pub(crate) const RAW_CLICK_READ_SUMS: &str =
    concat!("0, sum(is_filter = 0), sum(is_unique = 1 AND is_filter = 0), ", crate::money_columns!(money_sum));

/// What a raw impression counts (refused ones never), as the sums of a traffic tally.
pub(crate) const RAW_IMPRESSIONS_COUNTED: &str = "error_code = 0";
pub(crate) const RAW_IMPRESSION_SUMS: &str = concat!("count(*), 0, 0, ", crate::money_columns!(saturating_money_sum));

/// The same sums read for a report.
pub(crate) const RAW_IMPRESSION_READ_SUMS: &str = concat!("count(*), 0, 0, ", crate::money_columns!(money_sum));

/// Adds `column IN (…)` for every filter (text without regard to ASCII case).
pub(crate) fn filter(
    select: &mut Select<'_>,
    query: &TallyQuery,
    column: impl Fn(Dimension) -> Option<String>,
) -> Result<(), StoreError> {
    for (dimension, values) in &query.filters {
        let col = column(*dimension)
            .ok_or_else(|| StoreError::Backend(format!("no column for {} in {}", dimension.name(), select.from)))?;
        let marks = vec!["?"; values.len()].join(", ");
        let text = values.iter().any(|v| matches!(v, Key::Text(_)));
        select.conditions.push(if text {
            format!("{col} COLLATE NOCASE IN ({marks})")
        } else {
            format!("{col} IN ({marks})")
        });
        select.args.extend(values.iter().map(|v| match v {
            Key::Id(i) => Value::Integer(*i),
            Key::Text(t) => Value::Text(t.clone()),
        }));
    }
    Ok(())
}

/// Columns of the query's group fields.
pub(crate) fn columns(
    query: &TallyQuery,
    column: impl Fn(Dimension) -> Option<String>,
) -> Result<Vec<String>, StoreError> {
    query
        .group
        .iter()
        .map(|d| column(*d).ok_or_else(|| StoreError::Backend(format!("no column for {}", d.name()))))
        .collect()
}

/// Runs a select; `totals` reads the sums that follow the time and key columns at the offset
/// it is given. A row's time is raised to `floor_ms` (a raw piece starting inside a quarter).
pub(crate) fn read(
    conn: &Connection,
    select: &Select<'_>,
    query: &TallyQuery,
    floor_ms: i64,
    totals: impl Fn(&Row<'_>, usize) -> rusqlite::Result<Totals>,
    out: &mut Vec<Tally>,
) -> Result<(), StoreError> {
    let time = select.time.clone().unwrap_or_else(|| "0".into());
    let mut group: Vec<String> = select.columns.clone();
    if let Some(t) = &select.time {
        group.insert(0, t.clone());
    }
    let keys = if select.columns.is_empty() { String::new() } else { format!(", {}", select.columns.join(", ")) };
    let sql = format!(
        "SELECT {time}{keys}, {sums} FROM {from} WHERE {conditions} {group} HAVING count(*) > 0",
        sums = select.sums,
        from = select.from,
        conditions = select.conditions.join(" AND "),
        group = if group.is_empty() { String::new() } else { format!("GROUP BY {}", group.join(", ")) },
    );
    let mut stmt = conn.prepare_cached(&sql).map_err(backend)?;
    let n = select.columns.len();
    let mut rows = stmt.query(rusqlite::params_from_iter(&select.args)).map_err(backend)?;
    while let Some(row) = rows.next().map_err(backend)? {
        let at = if select.time.is_some() {
            let secs: i64 = row.get(0).map_err(backend)?;
            from_ms((secs * 1000).max(floor_ms))
        } else {
            query.from
        };
        let mut key = Vec::with_capacity(n);
        for (i, d) in query.group.iter().enumerate() {
            key.push(match d {
                Dimension::Offer | Dimension::Affiliate => Key::Id(row.get(i + 1).map_err(backend)?),
                _ => Key::Text(row.get(i + 1).map_err(backend)?),
            });
        }
        out.push(Tally { at, key, totals: totals(row, n + 1).map_err(backend)? });
    }
    Ok(())
}

/// Plans a query over `tables` (coarsest first) and reads each piece: rollup pieces with
/// `rollup`, raw pieces with `raw`.
pub(crate) fn over(
    query: &TallyQuery,
    tables: &[Table],
    mut rollup: impl FnMut(&Table, &Piece, &mut Vec<Tally>) -> Result<(), StoreError>,
    mut raw: impl FnMut(&Piece, &mut Vec<Tally>) -> Result<(), StoreError>,
) -> Result<Tallies, StoreError> {
    let mut out = Tallies::default();
    if query.to <= query.from || query.matches_nothing() {
        return Ok(out);
    }
    let grains: Vec<Grain> = tables.iter().map(|t| t.grain).collect();
    for piece in plan(query.from, query.to, &query.cuts, &grains) {
        match piece.level {
            Level::Rollup(i) => {
                let table = tables.get(i).ok_or_else(|| StoreError::Backend("a plan named no table".into()))?;
                rollup(table, &piece, &mut out.rows)?;
                out.served = out.served.and(Served { rollups: true, raw: false });
            }
            Level::Raw => {
                raw(&piece, &mut out.rows)?;
                out.served = out.served.and(Served { rollups: false, raw: true });
            }
        }
    }
    Ok(out)
}
