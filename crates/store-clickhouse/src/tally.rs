//! Traffic tallies: the query's range cut into whole rows of the coarsest rollups that hold
//! every field it needs — offer × affiliate hours; the network's days by traffic field; a day
//! facet (one field by offer and affiliate, or a sub-id and another field network-wide); the
//! 15-minute traffic rollups; the days of every field — and the ragged edges from the raw
//! events, each one `GROUP BY` on the server.

use clicktrail_domain::click::Rejection;
use clicktrail_domain::report::{Dimension, Key, Tally, Totals};
use clicktrail_store::StoreError;
use clicktrail_store::events::BUCKET_SECONDS;
use clicktrail_store::tally::{Grain, Level, Served, Tallies, TallyQuery, column, plan, row_start};
use serde_json::Value;

use crate::http::{Server, quote};
use crate::schema;
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
    column: Columns,
}

/// How a source names the query's fields.
#[derive(Clone, Copy)]
enum Columns {
    /// Under their own names (raw events, and rollups keyed by them).
    Own,
    /// As `rollup_facet_days` holds them: offer and affiliate as `off` and `aff`, the facet's
    /// first field as `a`, its second (of a pair) as `b`.
    Facet { first: &'static str, second: Option<&'static str> },
}

impl Columns {
    fn of(self, d: Dimension) -> Option<&'static str> {
        let own = column(d)?;
        match self {
            Self::Own => Some(own),
            Self::Facet { first, second } => match own {
                "offer_id" => Some("off"),
                "affiliate_id" => Some("aff"),
                c if c == first => Some("a"),
                c if Some(c) == second => Some("b"),
                _ => None,
            },
        }
    }
}

/// A rollup table a query can be read from: its name, its rows' length, the condition that
/// picks the rows it needs and how it names the fields.
#[derive(Clone, Copy)]
struct Rollup {
    table: &'static str,
    seconds: i64,
    code: Option<u8>,
    column: Columns,
}

const ROLLUP_SUMS: &str = "sum(impressions), sum(clicks), sum(unique_clicks), sum(payout), sum(revenue)";

impl Rollup {
    const fn keyed(table: &'static str, seconds: i64) -> Self {
        Self { table, seconds, code: None, column: Columns::Own }
    }

    const fn facet(code: u8, first: &'static str, second: Option<&'static str>) -> Self {
        Self { table: "rollup_facet_days", seconds: 86_400, code: Some(code), column: Columns::Facet { first, second } }
    }
}

/// Where a piece is read: a rollup table, or the raw events.
fn sources(rollup: Option<Rollup>) -> Vec<Source> {
    if let Some(r) = rollup {
        return vec![Source {
            table: r.table,
            time: "bucket",
            sums: ROLLUP_SUMS,
            range: |from, to| format!("bucket >= {} AND bucket < {}", from / 1000, to / 1000),
            counted: r.code.map_or_else(|| "1".to_owned(), |code| format!("code = {code}")),
            column: r.column,
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
            column: Columns::Own,
        },
        Source {
            table: "impressions",
            time: "intDiv(ts_ms, 900000) * 900",
            sums: "count(), toUInt64(0), toUInt64(0), sum(toDecimal128(payout, 0)), sum(toDecimal128(revenue, 0))",
            range: |from, to| format!("ts_ms >= {from} AND ts_ms < {to}"),
            counted: "error_code = 0".into(),
            column: Columns::Own,
        },
    ]
}

/// The rollups that hold every field of a query, coarsest first (the raw events take what
/// none of them fits).
fn rollups_for(fields: &[Dimension]) -> Vec<Rollup> {
    let traffic = Rollup::keyed("rollup_traffic", BUCKET_SECONDS);
    let ids = fields.iter().any(|d| is_id(*d));
    if fields.iter().all(|d| is_id(*d)) {
        return vec![Rollup::keyed("rollup_offer_hours", 3_600), traffic];
    }
    let mut distinct: Vec<&'static str> = fields.iter().filter(|d| !is_id(**d)).filter_map(|d| column(*d)).collect();
    distinct.sort_unstable();
    distinct.dedup();
    let traffic_only = fields.iter().all(|d| rollup_column(*d).is_some());
    let mut out = Vec::new();
    match distinct.as_slice() {
        // Traffic fields alone, network-wide: the network's days.
        _ if traffic_only && !ids => out.push(Rollup::keyed("rollup_net_days", 86_400)),
        // One field beside offers and affiliates: its facet.
        [one] => {
            if let Some(code) = schema::field_code(one) {
                out.push(Rollup::facet(code, one, None));
            }
        }
        // A sub-id and another field, network-wide: their pair.
        [x, y] if !ids => {
            let (cx, cy) = (schema::field_code(x), schema::field_code(y));
            if let (Some(cx), Some(cy)) = (cx, cy)
                && let Some(code) = schema::pair_code(cx, cy)
            {
                let (first, second) = if cx < cy { (*x, *y) } else { (*y, *x) };
                out.push(Rollup::facet(code, first, Some(second)));
            }
        }
        _ => {}
    }
    if traffic_only {
        out.push(traffic);
    } else if out.is_empty() {
        out.push(Rollup::keyed("rollup_days", 86_400));
    }
    out
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
    let tables = rollups_for(&query.fields());
    let grains: Vec<Grain> = tables.iter().map(|r| Grain { seconds: r.seconds, filled_to_ms: None }).collect();
    // Every piece's statements first, then all of them side by side (each is a short read; in
    // turn, their round trips would add up), their rows taken in order.
    let mut statements = Vec::new();
    for piece in plan(query.from, query.to, &query.cuts, &grains) {
        let table = match piece.level {
            Level::Rollup(i) => tables.get(i).copied(),
            Level::Raw => None,
        };
        let from_rollups = table.is_some();
        for source in sources(table) {
            let mut conditions = vec![(source.range)(piece.from_ms, piece.to_ms), source.counted.clone()];
            for (dimension, values) in &query.filters {
                let col = source
                    .column
                    .of(*dimension)
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
                let col = source
                    .column
                    .of(*d)
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
            statements.push((piece, sql));
        }
        out.served = out.served.and(Served { rollups: from_rollups, raw: !from_rollups });
    }
    // At most four at once per tally: a report by local day has a piece per day.
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(4));
    let mut reads = tokio::task::JoinSet::new();
    for (n, (_, sql)) in statements.iter().enumerate() {
        let (server, sql, slots) = (server.clone(), sql.clone(), slots.clone());
        reads.spawn(async move {
            let _slot = slots.acquire_owned().await;
            (n, server.rows::<serde_json::Map<String, Value>>(&sql).await)
        });
    }
    let mut answers = Vec::with_capacity(statements.len());
    while let Some(done) = reads.join_next().await {
        let (n, rows) = done.map_err(|e| StoreError::Backend(format!("clickhouse: a tally read failed: {e}")))?;
        answers.push((n, rows?));
    }
    answers.sort_by_key(|(n, _)| *n);
    for ((piece, _), (_, rows)) in statements.iter().zip(answers) {
        for row in rows {
            let at = row_start(query, piece, row.get("t").map_or(0, number));
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
