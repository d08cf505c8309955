//! The 15-minute rollups written with each batch, and traffic tallies read from the coarsest
//! rollups that hold a query's fields (raw events for the rest).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use clicktrail_domain::click::{Device, Geo, Rejection, TrackingParams};
use clicktrail_domain::offer::{DeviceType, OsFamily};
use clicktrail_domain::report::{Dimension, Totals};
use clicktrail_store::StoreError;
use clicktrail_store::events::{BUCKET_SECONDS, EventBatch, bucket_start};
use clicktrail_store::tally::{Grain, Piece, Tallies, TallyQuery};
use rusqlite::{Connection, Row, Transaction, params};

use super::codec::id_bound_ms;
use crate::fold::{self, Fold, Marks};
use crate::tally::{self, Select, Table, raw_column, rollup_column};
use crate::{backend, count, decimal_units, to_units};

#[derive(Hash, PartialEq, Eq)]
struct RollupKey {
    bucket: i64,
    offer_id: i64,
    affiliate_id: i64,
    source_id: String,
    country: String,
    device_type: &'static str,
    os: &'static str,
}

#[derive(Default)]
struct RollupSums {
    impressions: i64,
    clicks: i64,
    unique_clicks: i64,
    accepted: i64,
    rejected: i64,
    filtered: i64,
    payout: i64,
    revenue: i64,
}

fn rollup_key(
    at: DateTime<Utc>,
    offer_id: i64,
    affiliate_id: i64,
    params: &TrackingParams,
    geo: &Geo,
    device: &Device,
) -> RollupKey {
    RollupKey {
        bucket: bucket_start(at).timestamp(),
        offer_id,
        affiliate_id,
        source_id: params.source_id.clone(),
        country: geo.country.map(|c| c.as_str().to_owned()).unwrap_or_default(),
        device_type: device.device_type.map_or("", DeviceType::as_str),
        os: device.os.map_or("", OsFamily::as_str),
    }
}

/// Traffic on ids that name nothing is kept raw but never counted.
fn counted(rejection: Option<Rejection>) -> bool {
    !matches!(rejection, Some(Rejection::UnknownOffer | Rejection::UnknownAffiliate))
}

fn rollups_of(batch: &EventBatch) -> HashMap<RollupKey, RollupSums> {
    let mut sums: HashMap<RollupKey, RollupSums> = HashMap::new();
    for c in batch.clicks.iter().filter(|c| counted(c.rejection)) {
        let s = sums.entry(rollup_key(c.at, c.offer_id, c.affiliate_id, &c.params, &c.geo, &c.device)).or_default();
        if !c.is_filter {
            s.clicks += 1;
            s.unique_clicks += i64::from(c.is_unique);
        }
        s.accepted += i64::from(c.rejection.is_none());
        s.rejected += i64::from(c.rejection.is_some());
        s.filtered += i64::from(c.is_filter);
        // Saturating, as the cells they are added to (`saturating_add!`): one batch may hold
        // several clicks at the largest amount.
        s.payout = s.payout.saturating_add(to_units(c.payout));
        s.revenue = s.revenue.saturating_add(to_units(c.revenue));
    }
    for i in batch.impressions.iter().filter(|i| i.rejection.is_none()) {
        let s = sums.entry(rollup_key(i.at, i.offer_id, i.affiliate_id, &i.params, &i.geo, &i.device)).or_default();
        s.impressions += 1;
        s.payout = s.payout.saturating_add(decimal_units(i.payout));
        s.revenue = s.revenue.saturating_add(decimal_units(i.revenue));
    }
    sums
}

/// Adds a batch to the 15-minute rollups in the caller's transaction.
pub(crate) fn add(tx: &Transaction<'_>, batch: &EventBatch) -> Result<(), StoreError> {
    let mut stmt = tx
        .prepare_cached(concat!(
            "INSERT INTO rollup_clicks (bucket, offer_id, affiliate_id, source_id, country, device_type, os,
                impressions, clicks, unique_clicks, accepted, rejected, filtered, payout, revenue)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
             ON CONFLICT (bucket, offer_id, affiliate_id, source_id, country, device_type, os) DO UPDATE SET
                impressions = impressions + excluded.impressions, clicks = clicks + excluded.clicks,
                unique_clicks = unique_clicks + excluded.unique_clicks, accepted = accepted + excluded.accepted,
                rejected = rejected + excluded.rejected, filtered = filtered + excluded.filtered,
                ",
            crate::saturating_add!("payout"),
            ", ",
            crate::saturating_add!("revenue")
        ))
        .map_err(backend)?;
    for (k, s) in rollups_of(batch) {
        stmt.execute(params![
            k.bucket,
            k.offer_id,
            k.affiliate_id,
            k.source_id,
            k.country,
            k.device_type,
            k.os,
            s.impressions,
            s.clicks,
            s.unique_clicks,
            s.accepted,
            s.rejected,
            s.filtered,
            s.payout,
            s.revenue
        ])
        .map_err(backend)?;
    }
    Ok(())
}

/// The smallest set of rollups holding every field a query needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cube {
    /// Offer and affiliate: `rollup_offer_days`, `rollup_offer_hours`, `rollup_clicks`.
    Offer,
    /// The key of `rollup_clicks`: `rollup_days`, `rollup_clicks`.
    Full,
    /// Offer, affiliate and one more field: `rollup_field_days`.
    Field(Dimension, u8),
    /// Anything else: raw events only.
    Raw,
    /// Offer only (no affiliate grouped or filtered): `rollup_net_days`, `rollup_net_hours`,
    /// `rollup_clicks`.
    Network,
    /// Anything, for some affiliates: `rollup_key_days`, then raw events.
    Keys,
    /// Source, country, device and OS without offer or affiliate: `rollup_net_full_days`,
    /// `rollup_clicks`.
    NetFull,
    /// One sub-id without offer or affiliate: `rollup_net_field_days`.
    NetField(u8),
    /// A sub-id and one more field (source, country, device, OS or a later sub-id) without
    /// offer or affiliate: `rollup_net_pair_days` of the pair, the first field in `value`.
    NetPair(u8, Dimension, Dimension),
}

impl Cube {
    fn for_query(query: &TallyQuery) -> Self {
        use Dimension as D;
        let others = query.beyond_offer_and_affiliate();
        let fields = query.fields();
        let low = |d: &Dimension| matches!(d, D::Source | D::Country | D::Device | D::Os);
        if fields.iter().all(|d| *d == D::Offer) {
            Cube::Network
        } else if fields.len() == others.len() && others.iter().all(low) {
            Cube::NetFull
        } else if let [only @ D::Sub(_)] = fields.as_slice()
            && let Some(code) = tally::field_code(*only)
        {
            Cube::NetField(code)
        } else if let [a, b] = fields.as_slice()
            && let (Some(code_a), Some(code_b)) = (tally::field_code(*a), tally::field_code(*b))
            && let Some(pair) = fold::pair_code(code_a, code_b)
        {
            let (first, second) = if code_a < code_b { (*a, *b) } else { (*b, *a) };
            Cube::NetPair(pair, first, second)
        } else if others.is_empty() {
            Cube::Offer
        } else if let [only] = others.as_slice()
            && let Some(code) = tally::field_code(*only)
        {
            Cube::Field(*only, code)
        } else if others.iter().all(low) {
            Cube::Full
        } else if query.filters.iter().any(|(d, _)| *d == D::Affiliate) {
            Cube::Keys
        } else {
            Cube::Raw
        }
    }

    /// Its tables, coarsest first, given the fold marks.
    fn tables(self, marks: Marks) -> Vec<Table> {
        // A fold not yet started holds nothing: its rows cover nothing.
        let filled = |fold: Fold| Some(marks.of(fold).unwrap_or(i64::MIN));
        let quarters = Table {
            grain: Grain { seconds: BUCKET_SECONDS, filled_to_ms: None },
            from: "rollup_clicks",
            condition: String::new(),
        };
        match self {
            Cube::Offer => {
                days_hours_quarters(filled(Fold::Offer), "rollup_offer_days", "rollup_offer_hours", quarters)
            }
            Cube::Full => vec![
                Table {
                    grain: Grain { seconds: 86_400, filled_to_ms: filled(Fold::Full) },
                    from: "rollup_days",
                    condition: String::new(),
                },
                quarters,
            ],
            Cube::Field(field, code) => {
                let (fold, finer) = match field {
                    Dimension::Sub(_) => (Fold::Subs, None),
                    _ => (Fold::Fields, Some(quarters)),
                };
                let days = Table {
                    grain: Grain { seconds: 86_400, filled_to_ms: filled(fold) },
                    from: "rollup_field_days",
                    condition: format!("field = {code}"),
                };
                std::iter::once(days).chain(finer).collect()
            }
            Cube::Network => {
                days_hours_quarters(filled(Fold::Network), "rollup_net_days", "rollup_net_hours", quarters)
            }
            Cube::NetFull => vec![
                Table {
                    grain: Grain { seconds: 86_400, filled_to_ms: filled(Fold::NetFull) },
                    from: "rollup_net_full_days",
                    condition: String::new(),
                },
                quarters,
            ],
            Cube::NetField(code) => vec![Table {
                grain: Grain { seconds: 86_400, filled_to_ms: filled(Fold::NetSubs) },
                from: "rollup_net_field_days",
                condition: format!("field = {code}"),
            }],
            Cube::NetPair(pair, ..) => vec![Table {
                grain: Grain { seconds: 86_400, filled_to_ms: filled(Fold::NetPairs) },
                from: "rollup_net_pair_days",
                condition: format!("pair = {pair}"),
            }],
            Cube::Keys => vec![Table {
                grain: Grain { seconds: 86_400, filled_to_ms: filled(Fold::Keys) },
                from: "rollup_key_days",
                condition: String::new(),
            }],
            Cube::Raw => Vec::new(),
        }
    }
}

/// A fold's day and hour tables (complete up to `filled`), then the 15-minute rollups.
fn days_hours_quarters(filled: Option<i64>, days: &'static str, hours: &'static str, quarters: Table) -> Vec<Table> {
    let table =
        |seconds, from| Table { grain: Grain { seconds, filled_to_ms: filled }, from, condition: String::new() };
    vec![table(86_400, days), table(3_600, hours), quarters]
}

fn traffic_totals(r: &Row<'_>, at: usize) -> rusqlite::Result<Totals> {
    Ok(Totals {
        impressions: count(r.get(at)?),
        clicks: count(r.get(at + 1)?),
        unique_clicks: count(r.get(at + 2)?),
        payout: crate::split_sum(r, at + 3)?,
        revenue: crate::split_sum(r, at + 5)?,
        ..Totals::default()
    })
}

const ROLLUP_SUMS: &str =
    concat!("sum(impressions), sum(clicks), sum(unique_clicks), ", crate::money_columns!(money_sum));

pub(crate) fn traffic_tally(conn: &Connection, query: &TallyQuery) -> Result<Tallies, StoreError> {
    let cube = Cube::for_query(query);
    let tables = cube.tables(fold::marks(conn)?);
    let time = |expr: &str| query.by_time.then(|| expr.to_owned());
    tally::over(
        query,
        &tables,
        |table, piece, out| {
            // In `rollup_field_days` and `rollup_net_field_days` the one extra field is in `value`;
            // in `rollup_net_pair_days` the pair's in `value` and `value2`.
            let rollup_column = |d: Dimension| match cube {
                Cube::Field(field, _) if d == field && table.from == "rollup_field_days" => Some("value".to_owned()),
                Cube::NetField(_) if matches!(d, Dimension::Sub(_)) => Some("value".to_owned()),
                Cube::NetPair(_, first, _) if d == first => Some("value".to_owned()),
                Cube::NetPair(_, _, second) if d == second => Some("value2".to_owned()),
                // Every field has its raw column's name there.
                Cube::Keys => raw_column(d),
                _ => rollup_column(d),
            };
            let mut conditions = vec!["bucket >= ?".to_owned(), "bucket < ?".to_owned()];
            if !table.condition.is_empty() {
                conditions.push(table.condition.clone());
            }
            let mut select = Select {
                from: table.from,
                conditions,
                args: vec![(piece.from_ms / 1000).into(), (piece.to_ms / 1000).into()],
                time: time("bucket"),
                columns: tally::columns(query, rollup_column)?,
                sums: ROLLUP_SUMS,
            };
            tally::filter(&mut select, query, rollup_column)?;
            tally::read(conn, &select, query, piece.from_ms, traffic_totals, out)
        },
        |piece: &Piece, out| {
            let mut clicks = Select {
                from: "clicks",
                conditions: vec!["id >= ?".into(), "id < ?".into(), tally::raw_clicks_counted()],
                args: vec![id_bound_ms(piece.from_ms).into(), id_bound_ms(piece.to_ms).into()],
                time: time("ts / 900000 * 900"),
                columns: tally::columns(query, raw_column)?,
                sums: tally::RAW_CLICK_READ_SUMS,
            };
            tally::filter(&mut clicks, query, raw_column)?;
            tally::read(conn, &clicks, query, piece.from_ms, traffic_totals, out)?;
            let mut impressions = Select {
                from: "impressions",
                conditions: vec!["ts >= ?".into(), "ts < ?".into(), tally::RAW_IMPRESSIONS_COUNTED.into()],
                args: vec![piece.from_ms.into(), piece.to_ms.into()],
                time: time("ts / 900000 * 900"),
                columns: tally::columns(query, raw_column)?,
                sums: tally::RAW_IMPRESSION_READ_SUMS,
            };
            tally::filter(&mut impressions, query, raw_column)?;
            tally::read(conn, &impressions, query, piece.from_ms, traffic_totals, out)
        },
    )
}
