//! Folding the 15-minute rollups and raw events into the coarse rollups of `events_0002.sql`.
//!
//! Each fold has a mark in `rollup_marks`: its tables hold every event before the mark. The
//! events writer moves the marks forward a small step at a time once a quarter hour is over
//! (so a step never holds up click writes for long), and adds any event that arrives for a time
//! before a mark to that fold's tables in the same transaction as the event itself. A report
//! reads a fold's tables up to its mark and finer data after it, so every event counts once.

use chrono::Utc;
use clicktrail_domain::click::Rejection;
use clicktrail_domain::report::Dimension;
use clicktrail_store::StoreError;
use clicktrail_store::events::BUCKET_SECONDS;
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::backend;
use crate::events::id_bound_ms;
use crate::tally::FIELDS;

/// How long after a quarter hour ends it is folded: events buffered at its end have landed.
const SETTLE_MS: i64 = 10_000;

/// Raw clicks folded per step at most.
const STEP_CLICKS: i64 = 5_000;

const QUARTER_MS: i64 = BUCKET_SECONDS * 1000;

/// Folds, by mark name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fold {
    /// `rollup_offer_hours` and `rollup_offer_days`, from the 15-minute rollups.
    Offer,
    /// `rollup_days`, from the 15-minute rollups.
    Full,
    /// `rollup_field_days` of source, country, device and OS, from the 15-minute rollups.
    Fields,
    /// `rollup_field_days` of the sub-ids, from raw clicks and impressions (the 15-minute
    /// rollups have no sub-ids).
    Subs,
}

impl Fold {
    pub(crate) const ALL: [Fold; 4] = [Fold::Offer, Fold::Full, Fold::Fields, Fold::Subs];

    fn name(self) -> &'static str {
        match self {
            Self::Offer => "offer",
            Self::Full => "full",
            Self::Fields => "fields",
            Self::Subs => "subs",
        }
    }

    fn targets(self) -> Vec<Target> {
        const OFFER: &[&str] = &["offer_id", "affiliate_id"];
        const FULL: &[&str] = &["offer_id", "affiliate_id", "source_id", "country", "device_type", "os"];
        match self {
            Self::Offer => vec![
                Target { table: "rollup_offer_hours", grain: 3_600, keys: OFFER, field: None },
                Target { table: "rollup_offer_days", grain: 86_400, keys: OFFER, field: None },
            ],
            Self::Full => vec![Target { table: "rollup_days", grain: 86_400, keys: FULL, field: None }],
            Self::Fields | Self::Subs => (1..)
                .zip(FIELDS)
                .filter(|(_, (d, _))| matches!(d, Dimension::Sub(_)) == (self == Self::Subs))
                .map(|(code, (_, column))| Target {
                    table: "rollup_field_days",
                    grain: 86_400,
                    keys: OFFER,
                    field: Some((code, column)),
                })
                .collect(),
        }
    }
}

/// One coarse table a fold fills.
struct Target {
    table: &'static str,
    /// Seconds a row spans.
    grain: i64,
    /// Key columns, named alike in the source and the target.
    keys: &'static [&'static str],
    /// For `rollup_field_days`: the field's code and the raw column of its value.
    field: Option<(u8, &'static str)>,
}

/// Where a fold reads.
enum Source {
    /// `rollup_clicks` rows with `bucket` in `[?1, ?2)` (unix seconds).
    Quarters,
    /// Raw clicks and impressions matching a condition with parameters `?1` and `?2`.
    Raw { clicks: &'static str, impressions: &'static str },
}

const UPSERT: &str = "ON CONFLICT DO UPDATE SET impressions = impressions + excluded.impressions,
    clicks = clicks + excluded.clicks, unique_clicks = unique_clicks + excluded.unique_clicks,
    payout = payout + excluded.payout, revenue = revenue + excluded.revenue";

/// The error codes of traffic that is kept raw but never counted (ids that name nothing).
fn uncounted() -> String {
    format!("{}, {}", Rejection::UnknownOffer.code(), Rejection::UnknownAffiliate.code())
}

impl Target {
    fn statements(&self, source: &Source) -> Vec<String> {
        let keys = self.keys.join(", ");
        let (pos_col, pos_val, value_col, value_val) = match self.field {
            Some((code, column)) => ("field, ", format!("{code}, "), ", value", format!(", {column}")),
            None => ("", String::new(), "", String::new()),
        };
        let insert = format!(
            "INSERT INTO {table} ({pos_col}bucket, {keys}{value_col}, impressions, clicks, unique_clicks, payout, revenue)",
            table = self.table
        );
        let g = self.grain;
        match source {
            Source::Quarters => vec![format!(
                "{insert} SELECT {pos_val}bucket / {g} * {g}, {keys}{value_val}, sum(impressions), sum(clicks),
                 sum(unique_clicks), sum(payout), sum(revenue) FROM rollup_clicks WHERE bucket >= ?1 AND bucket < ?2
                 GROUP BY bucket / {g}, {keys}{value_val} {UPSERT}"
            )],
            Source::Raw { clicks, impressions } => vec![
                format!(
                    "{insert} SELECT {pos_val}ts / {gm} * {g}, {keys}{value_val}, 0, sum(is_filter = 0),
                     sum(is_unique = 1 AND is_filter = 0), sum(payout), sum(revenue) FROM clicks
                     WHERE {clicks} AND error_code NOT IN ({uncounted}) GROUP BY ts / {gm}, {keys}{value_val} {UPSERT}",
                    gm = g * 1000,
                    uncounted = uncounted()
                ),
                format!(
                    "{insert} SELECT {pos_val}ts / {gm} * {g}, {keys}{value_val}, count(*), 0, 0, sum(payout),
                     sum(revenue) FROM impressions WHERE {impressions} AND error_code = 0
                     GROUP BY ts / {gm}, {keys}{value_val} {UPSERT}",
                    gm = g * 1000
                ),
            ],
        }
    }
}

/// Folds the 15-minute rollups of buckets `[a, b)` (unix seconds).
fn from_quarters(tx: &Transaction<'_>, fold: Fold, a: i64, b: i64) -> Result<(), StoreError> {
    for target in fold.targets() {
        for sql in target.statements(&Source::Quarters) {
            tx.prepare_cached(&sql).map_err(backend)?.execute(params![a, b]).map_err(backend)?;
        }
    }
    Ok(())
}

/// The marks (unix milliseconds), `None` for a fold not yet started.
pub(crate) fn marks(conn: &Connection) -> Result<[Option<i64>; 4], StoreError> {
    let mut out = [None; 4];
    for (i, fold) in Fold::ALL.iter().enumerate() {
        out[i] = conn
            .prepare_cached("SELECT through FROM rollup_marks WHERE name = ?1")
            .map_err(backend)?
            .query_row(params![fold.name()], |r| r.get(0))
            .optional()
            .map_err(backend)?;
    }
    Ok(out)
}

fn set_mark(tx: &Transaction<'_>, fold: Fold, through: i64) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO rollup_marks (name, through) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET through = excluded.through",
    )
    .map_err(backend)?
    .execute(params![fold.name(), through])
    .map_err(backend)?;
    Ok(())
}

/// Rowids of the newest raw click and impression, taken before a batch is written.
pub(crate) fn high_water(tx: &Transaction<'_>) -> Result<(i64, i64), StoreError> {
    let max = |table: &str| -> Result<i64, StoreError> {
        tx.prepare_cached(&format!("SELECT coalesce(max(rowid), 0) FROM {table}"))
            .map_err(backend)?
            .query_row([], |r| r.get(0))
            .map_err(backend)
    };
    Ok((max("clicks")?, max("impressions")?))
}

/// Adds the events of the batch just written (rowids above `high_water`) that fall before a
/// fold's mark to that fold's tables. `oldest_ms` is the batch's oldest event.
pub(crate) fn add_late(tx: &Transaction<'_>, high_water: (i64, i64), oldest_ms: i64) -> Result<(), StoreError> {
    for (fold, mark) in Fold::ALL.into_iter().zip(marks(tx)?) {
        let Some(mark) = mark.filter(|m| oldest_ms < *m) else { continue };
        let source = Source::Raw { clicks: "rowid > ?1 AND ts < ?2", impressions: "rowid > ?1 AND ts < ?2" };
        for target in fold.targets() {
            let [clicks, impressions] = <[String; 2]>::try_from(target.statements(&source))
                .map_err(|_| StoreError::Backend("a raw fold has two statements".into()))?;
            tx.prepare_cached(&clicks).map_err(backend)?.execute(params![high_water.0, mark]).map_err(backend)?;
            tx.prepare_cached(&impressions).map_err(backend)?.execute(params![high_water.1, mark]).map_err(backend)?;
        }
    }
    Ok(())
}

/// The instant (unix milliseconds) folds may reach now.
pub(crate) fn due_now() -> i64 {
    (Utc::now().timestamp_millis() - SETTLE_MS).div_euclid(QUARTER_MS) * QUARTER_MS
}

/// The first 15-minute rollup at or after `from_ms` and before `to_ms`, in milliseconds.
fn next_quarter(conn: &Connection, from_ms: i64, to_ms: i64) -> Result<Option<i64>, StoreError> {
    let from = from_ms.div_euclid(QUARTER_MS) * BUCKET_SECONDS;
    let to = to_ms.div_euclid(1000);
    let next: Option<i64> = conn
        .prepare_cached("SELECT min(bucket) FROM rollup_clicks WHERE bucket >= ?1 AND bucket < ?2")
        .map_err(backend)?
        .query_row(params![from, to], |r| r.get(0))
        .map_err(backend)?;
    Ok(next.map(|b| b * 1000))
}

/// One step of folding towards `due` (unix milliseconds, on a quarter hour). Returns whether
/// more is left to fold.
pub(crate) fn step(conn: &mut Connection, due: i64) -> Result<bool, StoreError> {
    let tx = conn.transaction().map_err(backend)?;
    let mut more = false;
    for (fold, mark) in Fold::ALL.into_iter().zip(marks(&tx)?) {
        let mark = match mark {
            Some(m) => m,
            None => {
                // First start: fold from the oldest rollup on (nothing before it was counted).
                let oldest = next_quarter(&tx, 0, i64::MAX)?.unwrap_or(due).min(due);
                set_mark(&tx, fold, oldest)?;
                oldest
            }
        };
        if mark >= due {
            continue;
        }
        let Some(start) = next_quarter(&tx, mark, due)?.map(|q| q.max(mark)) else {
            set_mark(&tx, fold, due)?;
            continue;
        };
        let end = match fold {
            Fold::Offer | Fold::Full | Fold::Fields => {
                let end = (start + 4 * QUARTER_MS).min(due);
                from_quarters(&tx, fold, start / 1000, end / 1000)?;
                end
            }
            Fold::Subs => {
                let mut end = (start + QUARTER_MS).min(due);
                let nth: Option<i64> = tx
                    .prepare_cached("SELECT ts FROM clicks WHERE id >= ?1 ORDER BY id LIMIT 1 OFFSET ?2")
                    .map_err(backend)?
                    .query_row(params![id_bound_ms(start), STEP_CLICKS], |r| r.get(0))
                    .optional()
                    .map_err(backend)?;
                if let Some(ts) = nth.filter(|ts| *ts > start) {
                    end = end.min(ts);
                }
                let source = Source::Raw { clicks: "id >= ?1 AND id < ?2", impressions: "ts >= ?1 AND ts < ?2" };
                for target in fold.targets() {
                    let [clicks, impressions] = <[String; 2]>::try_from(target.statements(&source))
                        .map_err(|_| StoreError::Backend("a raw fold has two statements".into()))?;
                    tx.prepare_cached(&clicks)
                        .map_err(backend)?
                        .execute(params![id_bound_ms(start), id_bound_ms(end)])
                        .map_err(backend)?;
                    tx.prepare_cached(&impressions).map_err(backend)?.execute(params![start, end]).map_err(backend)?;
                }
                end
            }
        };
        set_mark(&tx, fold, end)?;
        more |= end < due;
    }
    tx.commit().map_err(backend)?;
    Ok(more)
}

/// Folds everything before `due` (unix milliseconds, rounded down to a quarter hour).
pub(crate) fn through(conn: &mut Connection, due: i64) -> Result<(), StoreError> {
    let due = due.div_euclid(QUARTER_MS) * QUARTER_MS;
    while step(conn, due)? {}
    Ok(())
}
