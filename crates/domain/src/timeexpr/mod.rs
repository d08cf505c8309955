//! Time expressions (SPEC §3): what `startTime`/`endTime` of the offer report, `from`/`to` of
//! the native reports and every other free-form report time accept — exactly what PHP's
//! `strtotime` reads, at the instant PHP gives, evaluated in the report's time zone.
//!
//! The grammar is PHP's "Supported Date and Time Formats" ([`scan`]): relative words and
//! amounts (`now`, `today`, `noon`, `tomorrow`, `-10 minutes`, `+1 fortnight`, `3 days ago`,
//! `next week`, `last month`, `monday`, `last friday`, `+2 weekdays`), `first/last day of`,
//! `first monday of next month`, 12- and 24-hour clocks (`9am`, `10:00`, `t1030`), dates in the
//! ISO, American, European, textual and compact forms (`2026-05-21`, `2026/05/21`,
//! `05/21/2026`, `21.05.2026`, `21-05-2026`, `May 21 2026`, `21st May`, `20260521`,
//! `2026-W21-3`, `2026.141`), RFC 2822 and other compound formats, and zone suffixes (`UTC`,
//! `EST`, `+02:00`, `Europe/Paris`). How the pieces combine with "now" is [`eval`]: PHP's
//! order of fields, relatives and normalisation (`2026-01-31 +1 month` is 3 March; `first day
//! of last month` keeps the time of day; a local time skipped by DST moves forward by the gap).
//!
//! Two deliberate differences from PHP, both for reports:
//! - a bare number of nine or more digits (`1711126978`) is a unix timestamp (PHP refuses it;
//!   `@1711126978` means the same in both);
//! - as the **end** of a range, an expression that names a whole day (`2026-05-28`, `today`,
//!   `yesterday`, `monday`, `first day of last month midnight`) means the end of that day, the
//!   next midnight, so that date ranges include their last day. Expressions with a time of day,
//!   or with hours, minutes or seconds added, are instants either way.

mod eval;
mod pattern;
mod scan;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::error::{Valid, ValidationError};

/// Which end of a range an expression gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edge {
    /// The start: the instant itself.
    Start,
    /// The end: a whole-day expression means the end of that day (the next midnight, exclusive).
    End,
}

/// Evaluates `text` at `now` in `tz` as the `edge` of a range.
pub fn parse(text: &str, now: DateTime<Utc>, tz: Tz, edge: Edge) -> Valid<DateTime<Utc>> {
    let bad = || {
        ValidationError::value(format!(
            "'{text}' is not a time this API can read (a unix timestamp or any expression PHP's strtotime reads, \
             such as 2026-05-21, 'today', 'yesterday noon', '-10 minutes', 'first day of last month')"
        ))
    };
    let trimmed = text.trim();
    if trimmed.len() >= 9 && trimmed.bytes().all(|b| b.is_ascii_digit()) {
        let seconds: i64 = trimmed.parse().map_err(|_| bad())?;
        return DateTime::from_timestamp(seconds, 0).ok_or_else(bad);
    }
    let parsed = scan::parse(text).map_err(|_| bad())?;
    let want = match edge {
        Edge::Start => eval::Want::Instant,
        Edge::End => eval::Want::EndOfDay,
    };
    let micros = i64::from(now.timestamp_subsec_micros());
    let (seconds, micros) = eval::instant(parsed, (now.timestamp(), micros), tz, want).ok_or_else(bad)?;
    let nanos = u32::try_from(micros.clamp(0, 999_999) * 1000).unwrap_or(0);
    DateTime::from_timestamp(seconds, nanos).ok_or_else(bad)
}

/// The unix time PHP's `strtotime(text, now)` gives with `zone` as the default time zone, or
/// `None` where PHP answers `false` (for the differential tests against PHP itself).
pub fn strtotime(text: &str, now: i64, zone: Tz) -> Option<i64> {
    let parsed = scan::parse(text).ok()?;
    eval::instant(parsed, (now, 0), zone, eval::Want::Instant).map(|(seconds, _)| seconds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::{America, Asia, Australia};

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    /// Inputs and the instants PHP gives (checked with `php -r`), at a "now" of
    /// 2026-05-28 14:35:10 UTC (a Thursday); ends of whole days are the next midnight.
    #[test]
    fn table() {
        let now = utc("2026-05-28T14:35:10Z");
        let cases: &[(&str, Tz, Edge, &str)] = &[
            ("1700000000", Tz::UTC, Edge::Start, "2023-11-14T22:13:20Z"),
            ("@1700000000", Tz::UTC, Edge::End, "2023-11-14T22:13:20Z"),
            ("now", Tz::UTC, Edge::Start, "2026-05-28T14:35:10Z"),
            ("today", Tz::UTC, Edge::Start, "2026-05-28T00:00:00Z"),
            ("today", Tz::UTC, Edge::End, "2026-05-29T00:00:00Z"),
            ("midnight", Tz::UTC, Edge::Start, "2026-05-28T00:00:00Z"),
            ("noon", Tz::UTC, Edge::End, "2026-05-28T12:00:00Z"),
            ("tomorrow noon", Tz::UTC, Edge::Start, "2026-05-29T12:00:00Z"),
            ("noon tomorrow", Tz::UTC, Edge::Start, "2026-05-29T00:00:00Z"),
            ("yesterday", Tz::UTC, Edge::Start, "2026-05-27T00:00:00Z"),
            ("yesterday", Tz::UTC, Edge::End, "2026-05-28T00:00:00Z"),
            ("monday", Tz::UTC, Edge::Start, "2026-06-01T00:00:00Z"),
            ("last monday", Tz::UTC, Edge::Start, "2026-05-25T00:00:00Z"),
            ("last monday", Tz::UTC, Edge::End, "2026-05-26T00:00:00Z"),
            ("9am", Tz::UTC, Edge::Start, "2026-05-28T09:00:00Z"),
            ("10:00", Tz::UTC, Edge::End, "2026-05-28T10:00:00Z"),
            ("next week", Tz::UTC, Edge::Start, "2026-06-01T14:35:10Z"),
            ("last month", Tz::UTC, Edge::Start, "2026-04-28T14:35:10Z"),
            ("first monday of next month", Tz::UTC, Edge::Start, "2026-06-01T00:00:00Z"),
            ("last day of february", Tz::UTC, Edge::Start, "2026-02-28T00:00:00Z"),
            ("last day of february", Tz::UTC, Edge::End, "2026-03-01T00:00:00Z"),
            ("first day of last month", Tz::UTC, Edge::Start, "2026-04-01T14:35:10Z"),
            ("first day of last month midnight", Tz::UTC, Edge::Start, "2026-04-01T00:00:00Z"),
            ("first day of last month midnight", Tz::UTC, Edge::End, "2026-04-02T00:00:00Z"),
            ("last day of last month", Tz::UTC, Edge::End, "2026-04-30T14:35:10Z"),
            ("May 21 2026", Tz::UTC, Edge::Start, "2026-05-21T00:00:00Z"),
            ("2026/05/21", Tz::UTC, Edge::Start, "2026-05-21T00:00:00Z"),
            ("05/21/2026", Tz::UTC, Edge::Start, "2026-05-21T00:00:00Z"),
            ("21.05.2026", Tz::UTC, Edge::End, "2026-05-22T00:00:00Z"),
            ("20260521", Tz::UTC, Edge::Start, "2026-05-21T00:00:00Z"),
            ("2026-W21", Tz::UTC, Edge::Start, "2026-05-18T00:00:00Z"),
            ("26-05-21", Tz::UTC, Edge::Start, "2026-05-21T00:00:00Z"),
            ("Thu, 21 May 2026 10:00:00 +0200", Tz::UTC, Edge::Start, "2026-05-21T08:00:00Z"),
            ("2026-05-21 10:00 UTC", America::New_York, Edge::Start, "2026-05-21T10:00:00Z"),
            ("2026-05-21T10:00:00+02:00", Tz::UTC, Edge::Start, "2026-05-21T08:00:00Z"),
            ("+1 fortnight", Tz::UTC, Edge::Start, "2026-06-11T14:35:10Z"),
            // PHP reads the `a` of `a day ago` as the military zone Alpha (UTC+1).
            ("a day ago", Tz::UTC, Edge::Start, "2026-05-28T13:35:10Z"),
            ("1 day ago 2 hours ago", Tz::UTC, Edge::Start, "2026-05-29T12:35:10Z"),
            ("2026-01-31 +1 month", Tz::UTC, Edge::Start, "2026-03-03T00:00:00Z"),
            ("2026-05-21", Tz::UTC, Edge::Start, "2026-05-21T00:00:00Z"),
            ("2026-05-28", Tz::UTC, Edge::End, "2026-05-29T00:00:00Z"),
            ("2023-01-01 23:59:59", Tz::UTC, Edge::End, "2023-01-01T23:59:59Z"),
            ("today 23:59:59", Tz::UTC, Edge::End, "2026-05-28T23:59:59Z"),
            ("-10 minutes", Tz::UTC, Edge::Start, "2026-05-28T14:25:10Z"),
            ("3 days ago", Tz::UTC, Edge::End, "2026-05-25T14:35:10Z"),
            ("today -1 day", Tz::UTC, Edge::End, "2026-05-28T00:00:00Z"),
            ("today", Asia::Kolkata, Edge::Start, "2026-05-27T18:30:00Z"),
            ("today", Asia::Kathmandu, Edge::End, "2026-05-28T18:15:00Z"),
            ("2026-03-08", America::New_York, Edge::Start, "2026-03-08T05:00:00Z"),
            ("2026-03-08", America::New_York, Edge::End, "2026-03-09T04:00:00Z"),
            ("2026-03-08 02:30", America::New_York, Edge::Start, "2026-03-08T07:30:00Z"),
            ("2026-11-01 01:30", America::New_York, Edge::Start, "2026-11-01T05:30:00Z"),
            // Lord Howe Island moves its clocks by 30 minutes: 02:15 on the spring night is 02:45.
            ("2026-10-04 02:15", Australia::Lord_Howe, Edge::Start, "2026-10-03T15:45:00Z"),
        ];
        for (input, tz, edge, expected) in cases {
            let got = parse(input, now, *tz, *edge).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(got, utc(expected), "{input} ({tz}, {edge:?})");
        }
    }

    /// An instant whose clock comes from now keeps now's fraction of a second (PHP's rule for
    /// microseconds), so `to=now` counts what happened in the current second.
    #[test]
    fn instants_from_now_keep_its_fraction_of_a_second() {
        let now = utc("2026-05-28T14:35:10.750Z");
        assert_eq!(parse("now", now, Tz::UTC, Edge::End).unwrap(), now);
        assert_eq!(parse("-1 hour", now, Tz::UTC, Edge::Start).unwrap(), utc("2026-05-28T13:35:10.750Z"));
        assert_eq!(parse("today", now, Tz::UTC, Edge::Start).unwrap(), utc("2026-05-28T00:00:00Z"));
        assert_eq!(parse("10:00", now, Tz::UTC, Edge::Start).unwrap(), utc("2026-05-28T10:00:00Z"));
        assert_eq!(strtotime("now", now.timestamp(), Tz::UTC), Some(now.timestamp()), "PHP's whole seconds");
    }

    /// `+1 hour` is added to the local clock, as PHP adds it: 01:40 on the night New York skips
    /// 02:00–03:00 plus an hour is 02:40, which does not exist and reads as 03:40 EDT.
    #[test]
    fn hours_are_added_to_the_local_clock() {
        let now = utc("2026-03-08T06:40:00Z");
        let got = parse("+1 hour", now, America::New_York, Edge::Start).unwrap();
        assert_eq!(got, utc("2026-03-08T07:40:00Z"));
        assert_eq!(strtotime("+2 hours", now.timestamp(), America::New_York), Some(got.timestamp()));
    }

    #[test]
    fn the_two_deliberate_differences_from_php() {
        let now = utc("2026-05-28T14:35:10Z");
        assert_eq!(strtotime("1711126978", now.timestamp(), Tz::UTC), None, "PHP refuses a bare number");
        assert_eq!(parse("1711126978", now, Tz::UTC, Edge::Start).unwrap(), utc("2024-03-22T17:02:58Z"));
        let php = strtotime("2026-05-28", now.timestamp(), Tz::UTC).unwrap();
        assert_eq!(parse("2026-05-28", now, Tz::UTC, Edge::Start).unwrap().timestamp(), php);
        assert_eq!(parse("2026-05-28", now, Tz::UTC, Edge::End).unwrap().timestamp(), php + 86_400);
    }

    /// Random strings made of the grammar's pieces, huge numbers included, never panic.
    #[test]
    fn no_input_panics() {
        let pieces = [
            "9999999999999",
            "-9999999999999",
            "+9999999999999-01-01",
            "@-9999999999999999999",
            "@-9223372036854775808",
            "-9223372036854775808 seconds",
            "days",
            "weeks",
            "ago",
            "years",
            "months",
            "weekdays",
            "monday",
            "first",
            "last day of",
            "first monday of",
            "next",
            "2026-02-30",
            "24:00",
            "12am",
            "back of 24pm",
            "+99:99",
            "GMT+9999",
            "Europe/Paris",
            "2026W53",
            "0000-00-00",
            "@1.999999",
            "    ",
            "\u{a0}",
            "é",
            ".",
            ",",
            "-",
            "+",
            "t",
            "W",
            "of",
            "noon",
            "µs",
        ];
        let mut seed: u64 = 2026;
        let now = Utc::now();
        for _ in 0..4_000 {
            let mut text = String::new();
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            for k in 0..(seed >> 60) + 1 {
                let pick = (seed >> (k * 5 % 50)) as usize % pieces.len();
                text.push_str(pieces[pick]);
                if (seed >> (k + 7)) & 1 == 1 {
                    text.push(' ');
                }
            }
            for zone in [Tz::UTC, chrono_tz::Australia::Lord_Howe] {
                let _ = parse(&text, now, zone, Edge::End);
                let _ = strtotime(&text, now.timestamp(), zone);
            }
        }
    }

    #[test]
    fn nonsense_is_an_error_naming_the_value() {
        let now = Utc::now();
        for bad in ["", "soon", "2026-13-01", "yesterday at noon", "-ten minutes", "10:00 11:00", "12345", "32 may"] {
            let e = parse(bad, now, Tz::UTC, Edge::Start).unwrap_err();
            assert!(e.message.contains(&format!("'{bad}'")), "{bad}: {e}");
        }
    }
}
