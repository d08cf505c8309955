//! Aggregation pushed into the stores: a report's range, grouping and filters in, sums per group
//! out, so no report ever reads events one by one.
//!
//! A backend keeps rollups at several grains (days, hours, quarter hours) and answers a range
//! with the coarsest rows that fit inside it, taking the uneven edges from finer rollups and,
//! below a quarter hour, from raw events. [`plan`] makes that split; every backend shares it.

use chrono::{DateTime, Utc};
use clicktrail_domain::offer::ConversionStatus;
use clicktrail_domain::report::{Dimension, Key, Tally};

/// What a report asks of a store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TallyQuery {
    /// Start (inclusive).
    pub from: DateTime<Utc>,
    /// End (exclusive).
    pub to: DateTime<Utc>,
    /// Instants inside the range that no tally may straddle (local hour or date starts, on
    /// quarter hours).
    pub cuts: Vec<DateTime<Utc>>,
    /// Whether tallies are kept apart by time; if not, every tally is at `from`.
    pub by_time: bool,
    /// Fields to group by (not hour or date).
    pub group: Vec<Dimension>,
    /// Every filter must match; a filter's values are alternatives. Text compares without
    /// regard to ASCII case.
    pub filters: Vec<(Dimension, Vec<Key>)>,
    /// Conversion statuses counted.
    pub statuses: Vec<ConversionStatus>,
}

impl TallyQuery {
    /// Every field the query groups or filters by.
    pub fn fields(&self) -> Vec<Dimension> {
        let mut all: Vec<Dimension> = self.group.iter().chain(self.filters.iter().map(|(d, _)| d)).copied().collect();
        all.sort();
        all.dedup();
        all
    }

    /// The fields it groups or filters by other than offer and affiliate (the key of the
    /// smallest rollups).
    pub fn beyond_offer_and_affiliate(&self) -> Vec<Dimension> {
        self.fields().into_iter().filter(|d| !matches!(d, Dimension::Offer | Dimension::Affiliate)).collect()
    }

    /// Whether a filter leaves nothing to match (an empty list of alternatives).
    pub fn matches_nothing(&self) -> bool {
        self.filters.iter().any(|(_, values)| values.is_empty())
    }
}

/// The column a backend keeps a dimension in, the same name in every backend's tables (hour
/// and date come from the time, not a column).
pub fn column(d: Dimension) -> Option<&'static str> {
    Some(match d {
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
        Dimension::Sub(_) | Dimension::Hour | Dimension::Date => return None,
    })
}

/// When a row read for `piece` starts: its bucket (`bucket_seconds`, unix seconds), never
/// before the piece, when the query is by time; the query's start otherwise.
pub fn row_start(query: &TallyQuery, piece: &Piece, bucket_seconds: i64) -> DateTime<Utc> {
    if !query.by_time {
        return query.from;
    }
    DateTime::from_timestamp_millis(bucket_seconds.saturating_mul(1000).max(piece.from_ms)).unwrap_or(query.from)
}

/// What served a tally: rollups, raw events or both.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Served {
    /// Some rows came from rollups.
    pub rollups: bool,
    /// Some rows came from raw events.
    pub raw: bool,
}

impl Served {
    /// Both together.
    pub fn and(self, other: Served) -> Served {
        Served { rollups: self.rollups || other.rollups, raw: self.raw || other.raw }
    }
}

/// Sums a store returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tallies {
    /// One per group and stretch of time.
    pub rows: Vec<Tally>,
    /// Where they came from.
    pub served: Served,
}

/// One grain of rollups a backend can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grain {
    /// Seconds a row spans (rows start at multiples of it, UTC).
    pub seconds: i64,
    /// Rows hold only events before this instant (unix milliseconds): a row starting before
    /// it and ending after it holds the part before. `None`: rows are complete.
    pub filled_to_ms: Option<i64>,
}

/// Where a stretch of the range is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// The grain at this index of the list given to [`plan`].
    Rollup(usize),
    /// Raw events.
    Raw,
}

/// A stretch of time `[from, to)` (unix milliseconds) and where to read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Piece {
    /// Source.
    pub level: Level,
    /// Start, unix milliseconds.
    pub from_ms: i64,
    /// End, unix milliseconds.
    pub to_ms: i64,
}

/// Splits `[from, to)` into pieces, coarsest grain first, cut at `cuts`: each segment between
/// cuts takes the longest run of whole rows of the first grain that fits in it, its edges go to
/// the next grain, and what no grain fits is read raw. Adjacent pieces of one level are merged.
/// `grains` run from coarsest to finest.
pub fn plan(from: DateTime<Utc>, to: DateTime<Utc>, cuts: &[DateTime<Utc>], grains: &[Grain]) -> Vec<Piece> {
    let mut bounds = vec![from.timestamp_millis()];
    bounds.extend(cuts.iter().map(DateTime::timestamp_millis).filter(|c| *c > from.timestamp_millis()));
    bounds.push(to.timestamp_millis());
    let mut pieces = Vec::new();
    for w in bounds.windows(2) {
        if w[0] < w[1] {
            cover(w[0], w[1], grains, 0, &mut pieces);
        }
    }
    pieces.sort_by_key(|p| (p.level != Level::Raw, p.level_index(), p.from_ms));
    let mut merged: Vec<Piece> = Vec::with_capacity(pieces.len());
    for p in pieces {
        match merged.last_mut() {
            Some(last) if last.level == p.level && last.to_ms == p.from_ms => last.to_ms = p.to_ms,
            _ => merged.push(p),
        }
    }
    merged
}

impl Piece {
    fn level_index(&self) -> usize {
        match self.level {
            Level::Rollup(i) => i,
            Level::Raw => 0,
        }
    }
}

fn cover(a: i64, b: i64, grains: &[Grain], index: usize, out: &mut Vec<Piece>) {
    if a >= b {
        return;
    }
    let Some(grain) = grains.get(index) else {
        out.push(Piece { level: Level::Raw, from_ms: a, to_ms: b });
        return;
    };
    let size = grain.seconds * 1000;
    let limit = grain.filled_to_ms.unwrap_or(i64::MAX);
    let first = a.div_euclid(size) * size + if a.rem_euclid(size) == 0 { 0 } else { size };
    // The whole rows from `first` that end by `b` and by `limit`, then the row that `limit`
    // cuts short, when it ends by `b` (arithmetic, not a walk: a range may span centuries).
    let cap = b.min(limit);
    let mut end = if cap > first { first + (cap - first) / size * size } else { first };
    if end < limit && limit <= b && end.saturating_add(size) > limit {
        end = limit;
    }
    if end == first {
        cover(a, b, grains, index + 1, out);
        return;
    }
    cover(a, first, grains, index + 1, out);
    out.push(Piece { level: Level::Rollup(index), from_ms: first, to_ms: end });
    cover(end, b, grains, index + 1, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn ms(s: &str) -> i64 {
        at(s).timestamp_millis()
    }

    const DAY: Grain = Grain { seconds: 86_400, filled_to_ms: None };
    const HOUR: Grain = Grain { seconds: 3_600, filled_to_ms: None };
    const QUARTER: Grain = Grain { seconds: 900, filled_to_ms: None };

    fn piece(level: Level, from: &str, to: &str) -> Piece {
        Piece { level, from_ms: ms(from), to_ms: ms(to) }
    }

    #[test]
    fn days_then_hours_then_quarters_then_raw() {
        let pieces = plan(at("2026-05-01T05:20:00Z"), at("2026-05-04T10:45:30Z"), &[], &[DAY, HOUR, QUARTER]);
        assert_eq!(
            pieces,
            [
                piece(Level::Raw, "2026-05-01T05:20:00Z", "2026-05-01T05:30:00Z"),
                piece(Level::Raw, "2026-05-04T10:45:00Z", "2026-05-04T10:45:30Z"),
                piece(Level::Rollup(0), "2026-05-02T00:00:00Z", "2026-05-04T00:00:00Z"),
                piece(Level::Rollup(1), "2026-05-01T06:00:00Z", "2026-05-02T00:00:00Z"),
                piece(Level::Rollup(1), "2026-05-04T00:00:00Z", "2026-05-04T10:00:00Z"),
                piece(Level::Rollup(2), "2026-05-01T05:30:00Z", "2026-05-01T06:00:00Z"),
                piece(Level::Rollup(2), "2026-05-04T10:00:00Z", "2026-05-04T10:45:00Z"),
            ]
        );
    }

    #[test]
    fn cuts_split_rows_and_partly_filled_rows_cover_what_they_hold() {
        // Kolkata dates: a cut at 18:30 UTC; days filled up to 2026-05-03 12:00.
        let day = Grain { seconds: 86_400, filled_to_ms: Some(ms("2026-05-03T12:00:00Z")) };
        let pieces = plan(
            at("2026-05-01T18:30:00Z"),
            at("2026-05-03T18:30:00Z"),
            &[at("2026-05-02T18:30:00Z")],
            &[day, QUARTER],
        );
        assert_eq!(
            pieces,
            [
                piece(Level::Rollup(0), "2026-05-03T00:00:00Z", "2026-05-03T12:00:00Z"),
                piece(Level::Rollup(1), "2026-05-01T18:30:00Z", "2026-05-03T00:00:00Z"),
                piece(Level::Rollup(1), "2026-05-03T12:00:00Z", "2026-05-03T18:30:00Z"),
            ],
            "the first local date holds no whole UTC day; the last day row holds up to noon"
        );
        let sum: i64 = pieces.iter().map(|p| p.to_ms - p.from_ms).sum();
        assert_eq!(sum, ms("2026-05-03T18:30:00Z") - ms("2026-05-01T18:30:00Z"), "every instant once");
    }

    #[test]
    fn nothing_but_raw_without_grains() {
        assert_eq!(
            plan(at("2026-05-01T00:00:00Z"), at("2026-05-02T00:00:00Z"), &[at("2026-05-01T12:00:00Z")], &[]),
            [piece(Level::Raw, "2026-05-01T00:00:00Z", "2026-05-02T00:00:00Z")]
        );
    }
}
