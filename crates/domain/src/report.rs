//! The reporting engine: the metrics of SPEC §3 over rollup rows, raw clicks and conversions,
//! grouped and filtered, in any time zone. Every API surface asks this engine; none computes a
//! metric of its own.
//!
//! Inputs are UTC 15-minute rollup rows (or raw events turned into such rows) and conversions.
//! Every time-zone offset in use is a multiple of 15 minutes, so each bucket falls wholly inside
//! one local hour and day, and grouping by local hour or date is exact, across DST changes too.

use std::collections::BTreeMap;

use chrono::{DateTime, Timelike, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use serde::Serialize;

/// A grouping dimension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Dimension {
    /// Local hour (`YYYY-MM-DD HH:00:00`).
    Hour,
    /// Local date (`YYYY-MM-DD`).
    Date,
    /// Offer id.
    Offer,
    /// Affiliate id.
    Affiliate,
    /// Country code.
    Country,
    /// Traffic source (`source_id` as sent).
    Source,
    /// Sub-id 1 to 5 (index 0 to 4).
    Sub(u8),
    /// Device class.
    Device,
    /// OS family.
    Os,
}

impl Dimension {
    /// Parses a wire name (`date`, `offer`, `geo`/`country`, `sub1`…`sub5`, …).
    pub fn parse(raw: &str) -> Option<Self> {
        Some(match raw.trim() {
            "hour" => Self::Hour,
            "date" | "day" => Self::Date,
            "offer" | "offer_id" => Self::Offer,
            "affiliate" | "affiliate_id" => Self::Affiliate,
            "country" | "geo" => Self::Country,
            "source" | "source_id" => Self::Source,
            "sub1" => Self::Sub(0),
            "sub2" => Self::Sub(1),
            "sub3" => Self::Sub(2),
            "sub4" => Self::Sub(3),
            "sub5" => Self::Sub(4),
            "device" => Self::Device,
            "os" => Self::Os,
            _ => return None,
        })
    }

    /// The wire name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Hour => "hour",
            Self::Date => "date",
            Self::Offer => "offer_id",
            Self::Affiliate => "affiliate_id",
            Self::Country => "country",
            Self::Source => "source_id",
            Self::Sub(0) => "sub1",
            Self::Sub(1) => "sub2",
            Self::Sub(2) => "sub3",
            Self::Sub(3) => "sub4",
            Self::Sub(_) => "sub5",
            Self::Device => "device",
            Self::Os => "os",
        }
    }

    /// Whether it is a time grouping (hour or date) rather than a field of the traffic.
    pub fn is_time(self) -> bool {
        matches!(self, Self::Hour | Self::Date)
    }
}

/// One value of a grouping key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(untagged)]
pub enum Key {
    /// A number (offer, affiliate).
    Id(i64),
    /// Text (dates, countries, sub-ids, …).
    Text(String),
}

/// The sums of one group in one stretch of time, as a store returns them: traffic and
/// conversions already filtered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// Start of the stretch (UTC). A stretch never crosses a local hour (or date) boundary of
    /// the report's zone, so its start tells which hour and date it belongs to.
    pub at: DateTime<Utc>,
    /// Values of the report's dimensions other than hour and date, in order.
    pub key: Vec<Key>,
    /// Sums.
    pub totals: Totals,
}

/// The sums of a row.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    /// Impressions.
    pub impressions: u64,
    /// Clicks (not filtered).
    pub clicks: u64,
    /// Unique clicks.
    pub unique_clicks: u64,
    /// Counted conversions of lead events.
    pub leads: u64,
    /// Counted conversions of other events.
    pub conversions: u64,
    /// Payout (conversions, CPC, CPM).
    pub payout: Decimal,
    /// Revenue (conversions, CPC, CPM).
    pub revenue: Decimal,
}

fn ratio(top: Decimal, bottom: Decimal) -> Decimal {
    if bottom.is_zero() { Decimal::ZERO } else { top / bottom }
}

impl Totals {
    /// Revenue − payout.
    pub fn profit(&self) -> Decimal {
        self.revenue - self.payout
    }

    /// Conversions ÷ clicks × 100.
    pub fn cr(&self) -> Decimal {
        ratio(Decimal::from(self.conversions) * Decimal::from(100), Decimal::from(self.clicks))
    }

    /// Orders (conversions and leads) ÷ clicks × 100.
    pub fn order_rate(&self) -> Decimal {
        ratio(Decimal::from(self.conversions + self.leads) * Decimal::from(100), Decimal::from(self.clicks))
    }

    /// Clicks ÷ impressions × 100.
    pub fn ctr(&self) -> Decimal {
        ratio(Decimal::from(self.clicks) * Decimal::from(100), Decimal::from(self.impressions))
    }

    /// Revenue ÷ clicks (payout ÷ clicks on affiliate-facing surfaces).
    pub fn epc(&self, affiliate_facing: bool) -> Decimal {
        let money = if affiliate_facing { self.payout } else { self.revenue };
        ratio(money, Decimal::from(self.clicks))
    }

    /// (Revenue − payout) ÷ payout × 100.
    pub fn roi(&self) -> Decimal {
        ratio(self.profit() * Decimal::from(100), self.payout)
    }

    /// Whether nothing was counted (such rows are left out of reports).
    pub fn is_empty(&self) -> bool {
        *self == Totals::default()
    }

    /// Adds another row's sums.
    pub fn add(&mut self, other: &Totals) {
        self.impressions += other.impressions;
        self.clicks += other.clicks;
        self.unique_clicks += other.unique_clicks;
        self.leads += other.leads;
        self.conversions += other.conversions;
        self.payout += other.payout;
        self.revenue += other.revenue;
    }
}

/// A report's grouping and time zone.
#[derive(Debug, Clone)]
pub struct Shape {
    /// Group-by dimensions, in order.
    pub group_by: Vec<Dimension>,
    /// Report time zone.
    pub tz: Tz,
}

impl Shape {
    /// The dimensions a store groups by: all but hour and date.
    pub fn fields(&self) -> Vec<Dimension> {
        self.group_by.iter().copied().filter(|d| !d.is_time()).collect()
    }

    /// The finest time grouping asked for, if any.
    fn time(&self) -> Option<Dimension> {
        if self.group_by.contains(&Dimension::Hour) {
            Some(Dimension::Hour)
        } else if self.group_by.contains(&Dimension::Date) {
            Some(Dimension::Date)
        } else {
            None
        }
    }

    /// The instants strictly inside `(from, to)` where a local hour (grouping by hour) or a
    /// local date (grouping by date) of the zone begins: a store keeps its tallies apart there.
    /// Empty when the report has no time grouping.
    pub fn cuts(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DateTime<Utc>> {
        let Some(time) = self.time() else { return Vec::new() };
        // Every offset in use is a multiple of 15 minutes: local hours begin on UTC quarter hours.
        let quarter = 900;
        let mut at = (from.timestamp().div_euclid(quarter) + 1) * quarter;
        let mut cuts = Vec::new();
        while at < to.timestamp() {
            if let Some(t) = DateTime::from_timestamp(at, 0) {
                let local = t.with_timezone(&self.tz);
                if local.minute() == 0 && (time == Dimension::Hour || local.hour() == 0) {
                    cuts.push(t);
                }
            }
            at += quarter;
        }
        cuts
    }

    /// Whether tallies must be kept apart by time.
    pub fn by_time(&self) -> bool {
        self.time().is_some()
    }
}

/// One output row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// Key values, one per dimension.
    pub key: Vec<Key>,
    /// Sums.
    pub totals: Totals,
}

fn key_of(shape: &Shape, tally: Tally) -> Vec<Key> {
    let local = tally.at.with_timezone(&shape.tz);
    let mut fields = tally.key.into_iter();
    shape
        .group_by
        .iter()
        .map(|d| match d {
            Dimension::Hour => Key::Text(format!("{} {:02}:00:00", local.format("%Y-%m-%d"), local.hour())),
            Dimension::Date => Key::Text(local.format("%Y-%m-%d").to_string()),
            _ => fields.next().unwrap_or(Key::Text(String::new())),
        })
        .collect()
}

/// Sums tallies into rows ordered by key (buckets first, then ids), plus the grand total; rows
/// where nothing counted (only filtered bots, say) are left out.
pub fn run(shape: &Shape, tallies: impl IntoIterator<Item = Tally>) -> (Vec<Row>, Totals) {
    let mut rows: BTreeMap<Vec<Key>, Totals> = BTreeMap::new();
    for tally in tallies {
        let totals = tally.totals.clone();
        rows.entry(key_of(shape, tally)).or_default().add(&totals);
    }
    let mut total = Totals::default();
    let rows: Vec<Row> = rows
        .into_iter()
        .filter(|(_, totals)| !totals.is_empty())
        .map(|(key, totals)| {
            total.add(&totals);
            Row { key, totals }
        })
        .collect();
    (rows, total)
}

/// Money for output: rounded to two decimals, half away from zero.
pub fn money_out(d: Decimal) -> Decimal {
    d.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn traffic(when: &str, offer: i64, clicks: u64) -> Tally {
        Tally {
            at: at(when),
            key: vec![Key::Id(offer)],
            totals: Totals { clicks, unique_clicks: clicks, ..Totals::default() },
        }
    }

    fn shape(group_by: Vec<Dimension>, tz: Tz) -> Shape {
        Shape { group_by, tz }
    }

    #[test]
    fn dates_follow_the_zone_at_quarter_hours() {
        let t = [
            traffic("2026-05-27T18:15:00Z", 1, 1),
            traffic("2026-05-27T18:30:00Z", 1, 2),
            traffic("2026-05-27T18:45:00Z", 1, 4),
        ];
        let (rows, total) = run(&shape(vec![Dimension::Date], chrono_tz::Asia::Kolkata), t.clone());
        let dates: Vec<_> = rows.iter().map(|r| (r.key[0].clone(), r.totals.clicks)).collect();
        assert_eq!(
            dates,
            [(Key::Text("2026-05-27".into()), 1), (Key::Text("2026-05-28".into()), 6)],
            "+5:30: 18:30 UTC is local midnight"
        );
        assert_eq!(total.clicks, 7);
        let k = [traffic("2026-05-27T18:00:00Z", 1, 1), traffic("2026-05-27T18:15:00Z", 1, 2)];
        let (rows, _) = run(&shape(vec![Dimension::Date], chrono_tz::Asia::Kathmandu), k);
        assert_eq!(
            rows.iter().map(|r| r.totals.clicks).collect::<Vec<_>>(),
            [1, 2],
            "+5:45: 18:15 UTC is local midnight"
        );
    }

    #[test]
    fn hours_across_a_dst_change() {
        // New York, 2026-03-08: 01:59 EST is followed by 03:00 EDT.
        let t = [traffic("2026-03-08T06:45:00Z", 1, 1), traffic("2026-03-08T07:00:00Z", 1, 2)];
        let (rows, _) = run(&shape(vec![Dimension::Hour], chrono_tz::America::New_York), t.clone());
        let hours: Vec<_> = rows.iter().map(|r| r.key[0].clone()).collect();
        assert_eq!(hours, [Key::Text("2026-03-08 01:00:00".into()), Key::Text("2026-03-08 03:00:00".into())]);
    }

    #[test]
    fn cuts_fall_on_local_hours_and_dates() {
        let day = shape(vec![Dimension::Date], chrono_tz::Asia::Kolkata);
        assert_eq!(
            day.cuts(at("2026-05-27T00:00:00Z"), at("2026-05-29T00:00:00Z")),
            [at("2026-05-27T18:30:00Z"), at("2026-05-28T18:30:00Z")]
        );
        let hours = shape(vec![Dimension::Offer, Dimension::Hour], chrono_tz::America::New_York);
        let cuts = hours.cuts(at("2026-03-08T05:30:00Z"), at("2026-03-08T08:00:00Z"));
        assert_eq!(cuts, [at("2026-03-08T06:00:00Z"), at("2026-03-08T07:00:00Z")], "02:00 local never happens");
        assert!(
            shape(vec![Dimension::Offer], chrono_tz::UTC)
                .cuts(at("2026-03-08T00:00:00Z"), at("2026-03-10T00:00:00Z"))
                .is_empty()
        );
        assert_eq!(hours.fields(), [Dimension::Offer]);
    }

    #[test]
    fn metrics_and_zero_denominators() {
        let t = Totals {
            clicks: 200,
            conversions: 3,
            payout: Decimal::from(10),
            revenue: Decimal::from_str("12.5").unwrap(),
            ..Totals::default()
        };
        assert_eq!(t.cr(), Decimal::from_str("1.5").unwrap());
        assert_eq!(t.epc(false), Decimal::from_str("0.0625").unwrap());
        assert_eq!(t.epc(true), Decimal::from_str("0.05").unwrap());
        assert_eq!(t.roi(), Decimal::from(25));
        assert_eq!(t.profit(), Decimal::from_str("2.5").unwrap());
        let zero = Totals::default();
        assert_eq!((zero.cr(), zero.epc(false), zero.roi()), (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO));
        assert_eq!(money_out(Decimal::from_str("0.125").unwrap()).to_string(), "0.13");
    }
}
