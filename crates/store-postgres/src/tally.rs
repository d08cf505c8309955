//! Conversion tallies in SQL: the conversions of each stretch between the query's cuts,
//! summed by `GROUP BY` over their own columns (an index on the time keeps a range cheap).

use clicktrail_domain::report::{Dimension, Key, Tally, Totals};
use clicktrail_store::StoreError;
use clicktrail_store::tally::{Served, Tallies, TallyQuery, plan};
use deadpool_postgres::GenericClient;

use crate::config::{Args, bind, refs};
use crate::{backend, count, from_ms, units_sum};

fn column(d: Dimension) -> Result<&'static str, StoreError> {
    Ok(match d {
        Dimension::Offer => "offer_id",
        Dimension::Affiliate => "affiliate_id",
        Dimension::Source => "source_id",
        Dimension::Country => "country",
        Dimension::Device => "device_type",
        Dimension::Os => "os",
        Dimension::Sub(0) => "sub1",
        Dimension::Sub(1) => "sub2",
        Dimension::Sub(2) => "sub3",
        Dimension::Sub(3) => "sub4",
        Dimension::Sub(4) => "sub5",
        Dimension::Sub(_) | Dimension::Hour | Dimension::Date => {
            return Err(StoreError::Backend(format!("postgres: conversions have no column for {}", d.name())));
        }
    })
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
    for piece in plan(query.from, query.to, &query.cuts, &[]) {
        let mut args: Args = Vec::new();
        let mut conditions = vec![
            format!("created_at >= {}", bind(&mut args, piece.from_ms)),
            format!("created_at < {}", bind(&mut args, piece.to_ms)),
            format!("status = ANY({})", bind(&mut args, statuses.clone())),
        ];
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
                    .collect();
                conditions.push(format!("lower({col}) = ANY({})", bind(&mut args, texts)));
            }
        }
        let mut select: Vec<String> = Vec::new();
        let mut group: Vec<String> = Vec::new();
        if query.by_time {
            select.push("created_at / 900000 * 900".into());
            group.push("1".into());
        }
        for (i, col) in columns.iter().enumerate() {
            select.push((*col).to_owned());
            group.push((i + 1 + usize::from(query.by_time)).to_string());
        }
        select.push("sum(CASE WHEN is_lead THEN 1 ELSE 0 END)::BIGINT".into());
        select.push("sum(CASE WHEN is_lead THEN 0 ELSE 1 END)::BIGINT".into());
        select.push("sum(payout)::TEXT".into());
        select.push("sum(revenue)::TEXT".into());
        let sql = format!(
            "SELECT {} FROM conversions WHERE {} {} HAVING count(*) > 0",
            select.join(", "),
            conditions.join(" AND "),
            if group.is_empty() { String::new() } else { format!("GROUP BY {}", group.join(", ")) },
        );
        let rows = client.query(&sql, &refs(&args)).await.map_err(backend)?;
        let offset = usize::from(query.by_time);
        for row in rows {
            let at = if query.by_time {
                let secs: i64 = row.get(0);
                from_ms((secs * 1000).max(piece.from_ms))
            } else {
                query.from
            };
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
        out.served = out.served.and(Served { rollups: false, raw: true });
    }
    Ok(out)
}
