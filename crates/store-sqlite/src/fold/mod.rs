//! Folding the 15-minute rollups and raw events into the coarse rollups of `events_0002.sql`.
//!
//! Each fold has a mark in `rollup_marks`: its tables hold every event before the mark. The
//! events writer moves the marks forward a small step at a time once a quarter hour is over
//! (so a step never holds up click writes for long), and adds any event that arrives for a time
//! before a mark to that fold's tables in the same transaction as the event itself. A report
//! reads a fold's tables up to its mark and finer data after it, so every event counts once.

mod pairs;

pub(crate) use pairs::pair_code;

use chrono::Utc;
use clicktrail_domain::report::Dimension;
use clicktrail_store::StoreError;
use clicktrail_store::events::BUCKET_SECONDS;
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::backend;
use crate::events::id_bound_ms;
use crate::tally::{FIELDS, RAW_CLICK_SUMS, RAW_IMPRESSION_SUMS, RAW_IMPRESSIONS_COUNTED, raw_clicks_counted};

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
    /// `rollup_net_hours` and `rollup_net_days`, from the 15-minute rollups.
    Network,
    /// `rollup_key_days`, from raw clicks and impressions.
    Keys,
    /// `rollup_field_days` of the click fields no report groups by (browser, carrier, …), from
    /// raw clicks: which values each day saw, for raw-click queries to skip days without them.
    Facets,
    /// `rollup_net_full_days`, from the 15-minute rollups.
    NetFull,
    /// `rollup_net_field_days`, from raw clicks and impressions.
    NetSubs,
    /// `rollup_net_pair_days`, from raw clicks and impressions ([`pairs`]).
    NetPairs,
}

/// Each fold's mark (unix milliseconds), in the order of [`Fold::ALL`]; `None` for a fold not
/// yet started.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Marks([Option<i64>; Fold::ALL.len()]);

impl Marks {
    /// The mark of one fold.
    pub(crate) fn of(&self, fold: Fold) -> Option<i64> {
        self.0[fold as usize]
    }
}

impl Fold {
    pub(crate) const ALL: [Fold; 10] = [
        Fold::Offer,
        Fold::Full,
        Fold::Fields,
        Fold::Subs,
        Fold::Network,
        Fold::Keys,
        Fold::Facets,
        Fold::NetFull,
        Fold::NetSubs,
        Fold::NetPairs,
    ];

    fn name(self) -> &'static str {
        match self {
            Self::Offer => "offer",
            Self::Full => "full",
            Self::Fields => "fields",
            Self::Subs => "subs",
            Self::Network => "network",
            Self::Keys => "keys",
            Self::Facets => "facets",
            Self::NetFull => "net_full",
            Self::NetSubs => "net_subs",
            Self::NetPairs => "net_pairs",
        }
    }

    /// Whether it folds raw events (else the 15-minute rollups).
    fn reads_raw(self) -> bool {
        matches!(self, Self::Subs | Self::Keys | Self::Facets | Self::NetSubs | Self::NetPairs)
    }

    fn targets(self) -> Vec<Target> {
        const FULL: &[&str] = &["offer_id", "affiliate_id", "source_id", "country", "device_type", "os"];
        const KEYS: &[&str] = &[
            "affiliate_id",
            "offer_id",
            "source_id",
            "country",
            "device_type",
            "os",
            "sub1",
            "sub2",
            "sub3",
            "sub4",
            "sub5",
        ];
        match self {
            // Folded in Rust from one read of the raw rows (`fold_raw`).
            Self::NetPairs => Vec::new(),
            Self::Network => vec![
                Target { table: "rollup_net_hours", grain: 3_600, keys: &["offer_id"], field: None },
                Target { table: "rollup_net_days", grain: 86_400, keys: &["offer_id"], field: None },
            ],
            Self::Keys => vec![Target { table: "rollup_key_days", grain: 86_400, keys: KEYS, field: None }],
            Self::Facets => field_days(
                "rollup_field_days",
                OFFER,
                (crate::tally::FACETS_FROM..).zip(crate::tally::FACETS.map(|(_, column)| column)),
            ),
            Self::Offer => vec![
                Target { table: "rollup_offer_hours", grain: 3_600, keys: OFFER, field: None },
                Target { table: "rollup_offer_days", grain: 86_400, keys: OFFER, field: None },
            ],
            Self::Full => vec![Target { table: "rollup_days", grain: 86_400, keys: FULL, field: None }],
            Self::NetFull => {
                vec![Target { table: "rollup_net_full_days", grain: 86_400, keys: &FULL[2..], field: None }]
            }
            Self::Fields | Self::Subs | Self::NetSubs => {
                let subs = self != Self::Fields;
                let fields = (1..)
                    .zip(FIELDS)
                    .filter(|(_, (d, _))| matches!(d, Dimension::Sub(_)) == subs)
                    .map(|(code, (_, column))| (code, column));
                if self == Self::NetSubs {
                    field_days("rollup_net_field_days", &[], fields)
                } else {
                    field_days("rollup_field_days", OFFER, fields)
                }
            }
        }
    }

    /// Folds the raw clicks and impressions that match their conditions (placeholders `?1`,
    /// `?2`) into this fold's tables.
    fn fold_raw(self, tx: &Transaction<'_>, clicks: Raw<'_>, impressions: Raw<'_>) -> Result<(), StoreError> {
        if self == Self::NetPairs {
            return pairs::fold(tx, clicks, impressions);
        }
        for target in self.targets() {
            for (i, sql) in target.raw_sql(clicks.0, impressions.0).iter().enumerate() {
                let args = if i == 0 { &clicks.1 } else { &impressions.1 };
                tx.prepare_cached(sql).map_err(backend)?.execute(rusqlite::params_from_iter(args)).map_err(backend)?;
            }
        }
        Ok(())
    }

    /// Folds the 15-minute rollups of buckets `[a, b)` (unix seconds) into this fold's tables.
    fn fold_quarters(self, tx: &Transaction<'_>, a: i64, b: i64) -> Result<(), StoreError> {
        for target in self.targets() {
            tx.prepare_cached(&target.quarters_sql()).map_err(backend)?.execute(params![a, b]).map_err(backend)?;
        }
        Ok(())
    }
}

/// The key of the offer rollups and of `rollup_field_days`.
const OFFER: &[&str] = &["offer_id", "affiliate_id"];

/// The targets, in a table keyed by field and value (beside `keys`), of fields by code and raw
/// column.
fn field_days(
    table: &'static str,
    keys: &'static [&'static str],
    fields: impl Iterator<Item = (u8, &'static str)>,
) -> Vec<Target> {
    fields.map(|(code, column)| Target { table, grain: 86_400, keys, field: Some((code, column)) }).collect()
}

/// Raw rows to fold: a condition with placeholders `?1` and `?2`, and their values.
pub(super) type Raw<'a> = (&'a str, [Value; 2]);

/// One coarse table a fold fills.
struct Target {
    table: &'static str,
    /// Seconds a row spans.
    grain: i64,
    /// Key columns, named alike in the source and the target.
    keys: &'static [&'static str],
    /// For a table keyed by field and value: the field's code and the raw column of its value.
    field: Option<(u8, &'static str)>,
}

pub(super) const UPSERT: &str = concat!(
    "ON CONFLICT DO UPDATE SET impressions = impressions + excluded.impressions,
    clicks = clicks + excluded.clicks, unique_clicks = unique_clicks + excluded.unique_clicks, ",
    crate::saturating_add!("payout"),
    ", ",
    crate::saturating_add!("revenue")
);

impl Target {
    /// The target's `INSERT INTO … SELECT` up to the sums (a row starts at `bucket`, an
    /// expression in unix seconds), and its `GROUP BY` (the row, named by `group`, and the key).
    fn insert_select(&self, bucket: &str, group: &str) -> (String, String) {
        // Every key column and the value, each after a comma.
        let mut keys: String = self.keys.iter().map(|k| format!(", {k}")).collect();
        let mut columns = keys.clone();
        let field_val = match self.field {
            Some((code, column)) => {
                columns.push_str(", value");
                keys.push_str(&format!(", {column}"));
                format!("{code}, ")
            }
            None => String::new(),
        };
        let field_col = if self.field.is_some() { "field, " } else { "" };
        let insert = format!(
            "INSERT INTO {table} ({field_col}bucket{columns}, impressions, clicks, unique_clicks, payout, revenue) \
             SELECT {field_val}{bucket}{keys}",
            table = self.table
        );
        (insert, format!("GROUP BY {group}{keys}"))
    }

    /// Folds `rollup_clicks` rows with `bucket` in `[?1, ?2)` (unix seconds).
    fn quarters_sql(&self) -> String {
        let g = self.grain;
        let (insert, group) = self.insert_select(&format!("bucket / {g} * {g}"), &format!("bucket / {g}"));
        format!(
            "{insert}, sum(impressions), sum(clicks), sum(unique_clicks), {money} FROM rollup_clicks
             WHERE bucket >= ?1 AND bucket < ?2 {group} {UPSERT}",
            money = crate::money_columns!(saturating_money_sum)
        )
    }

    /// Folds raw clicks, then raw impressions (those that have the target's field), matching
    /// their conditions.
    fn raw_sql(&self, clicks: &str, impressions: &str) -> Vec<String> {
        let (g, gm) = (self.grain, self.grain * 1000);
        let (insert, group) = self.insert_select(&format!("ts / {gm} * {g}"), &format!("ts / {gm}"));
        let on_clicks = format!(
            "{insert}, {RAW_CLICK_SUMS} FROM clicks WHERE {clicks} AND {counted} {group} {UPSERT}",
            counted = raw_clicks_counted()
        );
        let facet = self.field.is_some_and(|(code, _)| code >= crate::tally::FACETS_FROM);
        let on_impressions = format!(
            "{insert}, {RAW_IMPRESSION_SUMS} FROM impressions WHERE {impressions} AND {RAW_IMPRESSIONS_COUNTED} \
             {group} {UPSERT}"
        );
        if facet { vec![on_clicks] } else { vec![on_clicks, on_impressions] }
    }
}

/// The marks, in one read.
pub(crate) fn marks(conn: &Connection) -> Result<Marks, StoreError> {
    let mut out = [None; Fold::ALL.len()];
    let mut stmt = conn.prepare_cached("SELECT name, through FROM rollup_marks").map_err(backend)?;
    let mut rows = stmt.query([]).map_err(backend)?;
    while let Some(row) = rows.next().map_err(backend)? {
        let name: String = row.get(0).map_err(backend)?;
        if let Some(i) = Fold::ALL.iter().position(|f| f.name() == name) {
            out[i] = Some(row.get(1).map_err(backend)?);
        }
    }
    Ok(Marks(out))
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

/// A batch with events before some fold's mark: the marks, and the rowids of the newest raw
/// click and impression before the batch was written.
pub(crate) struct Late {
    oldest_ms: i64,
    marks: Marks,
    clicks_after: i64,
    impressions_after: i64,
}

/// Before a batch whose oldest event is at `oldest_ms` is written: whether it is late for a
/// fold, and if so what [`add_late`] needs. Costs one read when it is not.
pub(crate) fn late(tx: &Transaction<'_>, oldest_ms: i64) -> Result<Option<Late>, StoreError> {
    let marks = marks(tx)?;
    if !marks.0.iter().flatten().any(|m| oldest_ms < *m) {
        return Ok(None);
    }
    let newest = |table: &str| -> Result<i64, StoreError> {
        tx.prepare_cached(&format!("SELECT coalesce(max(rowid), 0) FROM {table}"))
            .map_err(backend)?
            .query_row([], |r| r.get(0))
            .map_err(backend)
    };
    Ok(Some(Late { oldest_ms, marks, clicks_after: newest("clicks")?, impressions_after: newest("impressions")? }))
}

/// Adds the events of the batch just written that fall before a fold's mark to that fold's
/// tables.
pub(crate) fn add_late(tx: &Transaction<'_>, late: &Late) -> Result<(), StoreError> {
    for (fold, mark) in Fold::ALL.into_iter().zip(late.marks.0) {
        let Some(mark) = mark.filter(|m| late.oldest_ms < *m) else { continue };
        let condition = "rowid > ?1 AND ts < ?2";
        fold.fold_raw(
            tx,
            (condition, [late.clicks_after.into(), mark.into()]),
            (condition, [late.impressions_after.into(), mark.into()]),
        )?;
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
    for (fold, mark) in Fold::ALL.into_iter().zip(marks(&tx)?.0) {
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
        let end = if !fold.reads_raw() {
            let end = (start + 4 * QUARTER_MS).min(due);
            fold.fold_quarters(&tx, start / 1000, end / 1000)?;
            end
        } else {
            let nth: Option<i64> = tx
                .prepare_cached("SELECT ts FROM clicks WHERE id >= ?1 ORDER BY id LIMIT 1 OFFSET ?2")
                .map_err(backend)?
                .query_row(params![id_bound_ms(start), STEP_CLICKS], |r| r.get(0))
                .optional()
                .map_err(backend)?;
            let end = nth.filter(|ts| *ts > start).map_or(start + QUARTER_MS, |ts| ts.min(start + QUARTER_MS)).min(due);
            fold.fold_raw(
                &tx,
                ("id >= ?1 AND id < ?2", [id_bound_ms(start).into(), id_bound_ms(end).into()]),
                ("ts >= ?1 AND ts < ?2", [start.into(), end.into()]),
            )?;
            end
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fold_is_listed_once_in_mark_order() {
        for (i, fold) in Fold::ALL.into_iter().enumerate() {
            assert_eq!(fold as usize, i, "{fold:?}: Marks::of reads position {i}");
        }
        let mut names: Vec<&str> = Fold::ALL.iter().map(|f| f.name()).collect();
        names.dedup();
        assert_eq!(names.len(), Fold::ALL.len());
    }
}
