//! Conversion tallies in SQL: whole UTC days and hours from the rollups when the query needs
//! no more than offer and affiliate, the rest from the conversions themselves (an index on the
//! time keeps a range cheap), each summed by `GROUP BY`.

use clicktrail_domain::report::{Dimension, Key, Tally, Totals};
use clicktrail_store::StoreError;
use clicktrail_store::tally::{Grain, Level, Served, Tallies, TallyQuery, plan, row_start};
use deadpool_postgres::GenericClient;

use crate::config::{Args, bind, refs};
use crate::{backend, count, units_sum};

fn column(d: Dimension) -> Result<&'static str, StoreError> {
    clicktrail_store::tally::column(d)
        .ok_or_else(|| StoreError::Backend(format!("postgres: conversions have no column for {}", d.name())))
}

fn is_id(d: Dimension) -> bool {
    matches!(d, Dimension::Offer | Dimension::Affiliate)
}

/// The tallies of the conversions of `query`'s statuses.
pub(crate) async fn conversion_tally(client: &impl GenericClient, query: &TallyQuery) -> Result<Tallies, StoreError> {
    let mut out = Tallies::default();
    if query.to <= query.from || query.matches_nothing() || query.statuses.is_empty() {
        return Ok(out);
    }
    let columns: Vec<&str> = query.group.iter().map(|d| column(*d)).collect::<Result<_, _>>()?;
    let statuses: Vec<String> = query.statuses.iter().map(|s| s.as_str().to_owned()).collect();
    // Rollup grains, coarsest first.
    let grains: Vec<Grain> = if query.beyond_offer_and_affiliate().is_empty() {
        [86_400, 3_600].into_iter().map(|seconds| Grain { seconds, filled_to_ms: None }).collect()
    } else {
        Vec::new()
    };
    for piece in plan(query.from, query.to, &query.cuts, &grains) {
        let mut args: Args = Vec::new();
        let rollup = match piece.level {
            Level::Rollup(i) => grains.get(i).map(|g| g.seconds),
            Level::Raw => None,
        };
        let (from, time, leads, conversions) = match rollup {
            Some(_) => (
                "conversion_rollups",
                "bucket",
                "sum(CASE WHEN is_lead THEN conversions ELSE 0 END)::BIGINT",
                "sum(CASE WHEN is_lead THEN 0 ELSE conversions END)::BIGINT",
            ),
            None => (
                "conversions",
                "created_at / 900000 * 900",
                "sum(CASE WHEN is_lead THEN 1 ELSE 0 END)::BIGINT",
                "sum(CASE WHEN is_lead THEN 0 ELSE 1 END)::BIGINT",
            ),
        };
        let mut conditions = match rollup {
            Some(grain) => vec![
                format!("grain = {}", bind(&mut args, i32::try_from(grain).unwrap_or(i32::MAX))),
                format!("bucket >= {}", bind(&mut args, piece.from_ms / 1000)),
                format!("bucket < {}", bind(&mut args, piece.to_ms / 1000)),
            ],
            None => vec![
                format!("created_at >= {}", bind(&mut args, piece.from_ms)),
                format!("created_at < {}", bind(&mut args, piece.to_ms)),
            ],
        };
        conditions.push(format!("status = ANY({})", bind(&mut args, statuses.clone())));
        for (dimension, values) in &query.filters {
            let col = column(*dimension)?;
            if is_id(*dimension) {
                let ids: Vec<i64> =
                    values.iter().filter_map(|v| if let Key::Id(i) = v { Some(*i) } else { None }).collect();
                conditions.push(format!("{col} = ANY({})", bind(&mut args, ids)));
            } else {
                // Text values match regardless of case, as in the embedded store.
                let texts: Vec<String> = values
                    .iter()
                    .map(|v| match v {
                        Key::Text(t) => t.to_lowercase(),
                        Key::Id(i) => i.to_string(),
                    })
                    .filter(|t| crate::storable(t))
                    .collect();
                conditions.push(format!("lower({col}) = ANY({})", bind(&mut args, texts)));
            }
        }
        let mut select: Vec<String> = Vec::new();
        let mut group: Vec<String> = Vec::new();
        if query.by_time {
            select.push(time.into());
            group.push("1".into());
        }
        for (i, col) in columns.iter().enumerate() {
            select.push((*col).to_owned());
            group.push((i + 1 + usize::from(query.by_time)).to_string());
        }
        select.push(leads.into());
        select.push(conversions.into());
        select.push("sum(payout)::TEXT".into());
        select.push("sum(revenue)::TEXT".into());
        let sql = format!(
            "SELECT {} FROM {from} WHERE {} {} HAVING count(*) > 0",
            select.join(", "),
            conditions.join(" AND "),
            if group.is_empty() { String::new() } else { format!("GROUP BY {}", group.join(", ")) },
        );
        let rows = client.query(&sql, &refs(&args)).await.map_err(backend)?;
        let offset = usize::from(query.by_time);
        for row in rows {
            let at = row_start(query, &piece, if query.by_time { row.get(0) } else { 0 });
            let key = query
                .group
                .iter()
                .enumerate()
                .map(|(i, d)| if is_id(*d) { Key::Id(row.get(offset + i)) } else { Key::Text(row.get(offset + i)) })
                .collect();
            let sums = offset + columns.len();
            let totals = Totals {
                leads: count(row.get(sums)),
                conversions: count(row.get(sums + 1)),
                payout: units_sum(row.get(sums + 2)),
                revenue: units_sum(row.get(sums + 3)),
                ..Totals::default()
            };
            out.rows.push(Tally { at, key, totals });
        }
        out.served = out.served.and(Served { rollups: rollup.is_some(), raw: rollup.is_none() });
    }
    Ok(out)
}
