//! Traffic tallies: the query's range cut into whole 15-minute buckets, summed from
//! `rollup_traffic` when every field the query needs is one of its keys, and the ragged edges
//! (or everything, for sub-ids) from the raw events — each one `GROUP BY` on the server.

use clicktrail_domain::click::Rejection;
use clicktrail_domain::report::{Dimension, Key, Tally, Totals};
use clicktrail_store::StoreError;
use clicktrail_store::events::BUCKET_SECONDS;
use clicktrail_store::tally::{Grain, Level, Served, Tallies, TallyQuery, column, plan, row_start};
use serde_json::Value;

use crate::http::{Server, quote};
use rust_decimal::Decimal;

use crate::rows::units_text;

/// Fields the 15-minute rollups are keyed by.
fn rollup_column(d: Dimension) -> Option<&'static str> {
    column(d).filter(|_| !matches!(d, Dimension::Sub(_)))
}

fn is_id(d: Dimension) -> bool {
    matches!(d, Dimension::Offer | Dimension::Affiliate)
}

/// One `SELECT` of a piece: where from, the time expression, the sums (impressions, clicks,
/// unique clicks, payout, revenue, in that order) and what rows count.
struct Source {
    table: &'static str,
    time: &'static str,
    sums: &'static str,
    range: fn(i64, i64) -> String,
    counted: String,
    column: fn(Dimension) -> Option<&'static str>,
}

/// Where a piece is read: a rollup table (by name), or the raw events.
fn sources(rollup: Option<&'static str>) -> Vec<Source> {
    const ROLLUP_SUMS: &str = "sum(impressions), sum(clicks), sum(unique_clicks), sum(payout), sum(revenue)";
    if let Some(table) = rollup {
        return vec![Source {
            table,
            time: "bucket",
            sums: ROLLUP_SUMS,
            range: |from, to| format!("bucket >= {} AND bucket < {}", from / 1000, to / 1000),
            counted: "1".into(),
            column,
        }];
    }
    let uncounted = format!("({}, {})", Rejection::UnknownOffer.code(), Rejection::UnknownAffiliate.code());
    vec![
        Source {
            table: "clicks",
            time: "intDiv(ts_ms, 900000) * 900",
            sums: "toUInt64(0), sum(is_filter = 0), sum(is_unique = 1 AND is_filter = 0), \
                   sum(toDecimal128(payout, 0)), sum(toDecimal128(revenue, 0))",
            range: |from, to| format!("ts_ms >= {from} AND ts_ms < {to}"),
            counted: format!("error_code NOT IN {uncounted}"),
            column,
        },
        Source {
            table: "impressions",
            time: "intDiv(ts_ms, 900000) * 900",
            sums: "count(), toUInt64(0), toUInt64(0), sum(toDecimal128(payout, 0)), sum(toDecimal128(revenue, 0))",
            range: |from, to| format!("ts_ms >= {from} AND ts_ms < {to}"),
            counted: "error_code = 0".into(),
            column,
        },
    ]
}

fn number(v: &Value) -> i64 {
    v.as_i64().or_else(|| v.as_str().and_then(|s| s.parse().ok())).unwrap_or(0)
}

/// The traffic of `query`, summed.
pub async fn traffic_tally(server: &Server, query: &TallyQuery) -> Result<Tallies, StoreError> {
    let mut out = Tallies::default();
    if query.to <= query.from || query.matches_nothing() {
        return Ok(out);
    }
    // The coarsest rollups that hold every field the query needs, finer ones for the rest:
    // offer × affiliate hours, then the 15-minute traffic rollups; the daily rollups (which
    // hold every field) for sub-ids; the ragged ends from the raw events.
    let fields = query.fields();
    let offer_only = fields.iter().all(|d| matches!(d, Dimension::Offer | Dimension::Affiliate));
    let tables: Vec<(&'static str, i64)> = if offer_only {
        vec![("rollup_offer_hours", 3_600), ("rollup_traffic", BUCKET_SECONDS)]
    } else if fields.iter().all(|d| rollup_column(*d).is_some()) {
        vec![("rollup_traffic", BUCKET_SECONDS)]
    } else {
        vec![("rollup_days", 86_400)]
    };
    let grains: Vec<Grain> =
        tables.iter().map(|(_, seconds)| Grain { seconds: *seconds, filled_to_ms: None }).collect();
    for piece in plan(query.from, query.to, &query.cuts, &grains) {
        let table = match piece.level {
            Level::Rollup(i) => tables.get(i).map(|(t, _)| *t),
            Level::Raw => None,
        };
        let from_rollups = table.is_some();
        for source in sources(table) {
            let mut conditions = vec![(source.range)(piece.from_ms, piece.to_ms), source.counted.clone()];
            for (dimension, values) in &query.filters {
                let col = (source.column)(*dimension)
                    .ok_or_else(|| StoreError::Backend(format!("clickhouse: no column for {}", dimension.name())))?;
                let list: Vec<String> = values
                    .iter()
                    .map(|v| match v {
                        Key::Id(i) => i.to_string(),
                        Key::Text(t) => quote(&t.to_lowercase()),
                    })
                    .collect();
                conditions.push(if is_id(*dimension) {
                    format!("{col} IN ({})", list.join(", "))
                } else {
                    format!("lowerUTF8({col}) IN ({})", list.join(", "))
                });
            }
            let mut select = Vec::new();
            if query.by_time {
                select.push(format!("{} AS t", source.time));
            }
            let mut group = Vec::new();
            for (i, d) in query.group.iter().enumerate() {
                let col = (source.column)(*d)
                    .ok_or_else(|| StoreError::Backend(format!("clickhouse: no column for {}", d.name())))?;
                select.push(format!("{col} AS k{i}"));
                group.push(format!("k{i}"));
            }
            if query.by_time {
                group.insert(0, "t".into());
            }
            select.push(format!("{} AS sums", wrap_sums(source.sums)));
            let sql = format!(
                "SELECT {} FROM {} WHERE {}{} HAVING count() > 0",
                select.join(", "),
                source.table,
                conditions.join(" AND "),
                if group.is_empty() { String::new() } else { format!(" GROUP BY {}", group.join(", ")) },
            );
            for row in server.rows::<serde_json::Map<String, Value>>(&sql).await? {
                let at = row_start(query, &piece, row.get("t").map_or(0, number));
                let key = query
                    .group
                    .iter()
                    .enumerate()
                    .map(|(i, d)| {
                        let v = row.get(&format!("k{i}")).cloned().unwrap_or(Value::Null);
                        if is_id(*d) { Key::Id(number(&v)) } else { Key::Text(v.as_str().unwrap_or("").to_owned()) }
                    })
                    .collect();
                let sums = row.get("sums").and_then(Value::as_array).cloned().unwrap_or_default();
                let at_n = |i: usize| sums.get(i).map_or(0, |v| u64::try_from(number(v)).unwrap_or(0));
                let money = |i: usize| sums.get(i).and_then(Value::as_str).map_or(Decimal::ZERO, units_text);
                let totals = Totals {
                    impressions: at_n(0),
                    clicks: at_n(1),
                    unique_clicks: at_n(2),
                    payout: money(3),
                    revenue: money(4),
                    ..Totals::default()
                };
                out.rows.push(Tally { at, key, totals });
            }
        }
        out.served = out.served.and(Served { rollups: from_rollups, raw: !from_rollups });
    }
    Ok(out)
}

/// The sums as one array column of their decimal texts (money sums pass 64 bits).
fn wrap_sums(sums: &str) -> String {
    let parts: Vec<String> = split_top(sums).into_iter().map(|s| format!("toString({})", s.trim())).collect();
    format!("[{}]", parts.join(", "))
}

/// Splits on the commas outside parentheses.
fn split_top(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&text[start..]);
    out
}
