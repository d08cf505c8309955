//! Time expressions (SPEC §3): what `startTime`/`endTime` of the offer report and any free-form
//! report time accept — a unix timestamp, or an expression in the spirit of PHP's `strtotime`,
//! evaluated in the report's time zone.
//!
//! Accepted: `1700000000`, `@1700000000`, `now`, `today`, `yesterday`, `tomorrow`, `midnight`,
//! `YYYY-MM-DD`, `YYYY-MM-DD HH:MM[:SS]` (also with `T`), `today HH:MM[:SS]` (and the other day
//! words), `first day of this|last|next month`, `last day of this|last|next month`, followed by
//! any number of relative offsets (`-10 minutes`, `+1 day`, `2 weeks ago`, `+3 months`).
//! Expressions that name a day without a time are *day expressions*: as the end of a range they
//! mean the end of that day, so date ranges are inclusive. Unlike PHP, `first day of …` means
//! that day's midnight (reports want whole days).

use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::error::{Valid, ValidationError};

/// Which end of a range an expression gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edge {
    /// The start: the instant itself.
    Start,
    /// The end: a day expression means the end of that day (the next midnight, exclusive).
    End,
}

#[derive(Debug, Clone, Copy)]
enum Unit {
    Second,
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Year,
}

fn unit(word: &str) -> Option<Unit> {
    let w = word.trim_end_matches('s');
    Some(match w {
        "sec" | "second" => Unit::Second,
        "min" | "minute" => Unit::Minute,
        "hour" => Unit::Hour,
        "day" => Unit::Day,
        "week" => Unit::Week,
        "month" => Unit::Month,
        "year" => Unit::Year,
        _ => return None,
    })
}

/// The local midnight of a date (the earliest, on days when midnight repeats or is skipped).
fn midnight(date: NaiveDate, tz: Tz) -> DateTime<Utc> {
    local(date.and_time(NaiveTime::MIN), tz)
}

/// A local time as an instant: ambiguous times take the earlier; a time skipped by a DST change
/// moves forward by the gap (as PHP does: 02:30 on a spring-forward night is 03:30).
fn local(naive: NaiveDateTime, tz: Tz) -> DateTime<Utc> {
    if let Some(t) = tz.from_local_datetime(&naive).earliest() {
        return t.with_timezone(&Utc);
    }
    for gap in [60, 30, 90, 120] {
        if let Some(t) = tz.from_local_datetime(&(naive + Duration::minutes(gap))).earliest() {
            return t.with_timezone(&Utc);
        }
    }
    Utc.from_utc_datetime(&naive)
}

fn parse_time(text: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(text, "%H:%M:%S").or_else(|_| NaiveTime::parse_from_str(text, "%H:%M")).ok()
}

/// Evaluates `text` at `now` in `tz` as the `edge` of a range.
pub fn parse(text: &str, now: DateTime<Utc>, tz: Tz, edge: Edge) -> Valid<DateTime<Utc>> {
    let raw = text.trim();
    let bad = || {
        ValidationError::value(format!(
            "'{text}' is not a time this API can read (try a unix timestamp, YYYY-MM-DD, 'today', '-10 minutes')"
        ))
    };
    if raw.is_empty() {
        return Err(bad());
    }
    let digits = raw.strip_prefix('@').unwrap_or(raw);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) && (raw.starts_with('@') || digits.len() >= 9) {
        let secs: i64 = digits.parse().map_err(|_| bad())?;
        return DateTime::from_timestamp(secs, 0).ok_or_else(bad);
    }
    let mut lower = raw.to_ascii_lowercase();
    // ISO 8601's `T` between date and time.
    if lower.len() > 10 && lower.as_bytes()[10] == b't' && NaiveDate::parse_from_str(&lower[..10], "%Y-%m-%d").is_ok() {
        lower.replace_range(10..11, " ");
    }
    let today = now.with_timezone(&tz).date_naive();
    let mut words: Vec<&str> = lower.split_whitespace().collect();
    let mut day: Option<NaiveDate> = None;
    let mut at: Option<DateTime<Utc>> = None;
    let mut day_precision = false;

    // The base: an absolute date or day word, optionally with a time.
    if words.len() >= 4 && (words[0] == "first" || words[0] == "last") && words[1] == "day" && words[2] == "of" {
        let shift = match words.get(3).copied() {
            Some("this") => 0i32,
            Some("last") | Some("previous") => -1,
            Some("next") => 1,
            _ => return Err(bad()),
        };
        if words.get(4) != Some(&"month") {
            return Err(bad());
        }
        let first_this = NaiveDate::from_ymd_opt(today.year(), today.month(), 1).ok_or_else(bad)?;
        let first = if shift < 0 {
            first_this.checked_sub_months(Months::new(1))
        } else {
            first_this.checked_add_months(Months::new(u32::try_from(shift).unwrap_or(0)))
        }
        .ok_or_else(bad)?;
        let chosen = if words[0] == "first" {
            first
        } else {
            first.checked_add_months(Months::new(1)).ok_or_else(bad)?.pred_opt().ok_or_else(bad)?
        };
        day = Some(chosen);
        day_precision = true;
        words.drain(..5);
    } else if let Some(first) = words.first().copied() {
        let named = match first {
            "today" | "midnight" => Some(today),
            "yesterday" => today.pred_opt(),
            "tomorrow" => today.succ_opt(),
            "now" => {
                at = Some(now);
                None
            }
            _ => NaiveDate::parse_from_str(first, "%Y-%m-%d").ok(),
        };
        if let Some(d) = named {
            day = Some(d);
            day_precision = true;
        }
        if named.is_some() || first == "now" {
            words.remove(0);
        }
        if let (Some(d), Some(t)) = (day, words.first().and_then(|w| parse_time(w))) {
            at = Some(local(d.and_time(t), tz));
            day_precision = false;
            words.remove(0);
        }
    }
    let mut instant = match (at, day) {
        (Some(t), _) => t,
        (None, Some(d)) => midnight(d, tz),
        (None, None) => now,
    };
    if at.is_none() && day.is_none() {
        day_precision = false;
    }

    // Relative offsets: `[+|-]N unit[s] [ago]`, also `+N` glued to the unit word.
    let mut i = 0;
    let mut offsets = 0;
    while i < words.len() {
        let (number, mut next) = match words[i].parse::<i64>() {
            Ok(n) => (n, i + 1),
            Err(_) => {
                let split = words[i].find(|c: char| c.is_ascii_alphabetic()).ok_or_else(bad)?;
                let n: i64 = words[i][..split].parse().map_err(|_| bad())?;
                let u = unit(&words[i][split..]).ok_or_else(bad)?;
                let ago = words.get(i + 1) == Some(&"ago");
                instant = shift(instant, if ago { -n } else { n }, u, tz).ok_or_else(bad)?;
                day_precision &= matches!(u, Unit::Day | Unit::Week | Unit::Month | Unit::Year);
                i += if ago { 2 } else { 1 };
                offsets += 1;
                continue;
            }
        };
        let u = words.get(next).and_then(|w| unit(w)).ok_or_else(bad)?;
        next += 1;
        let ago = words.get(next) == Some(&"ago");
        if ago {
            next += 1;
        }
        instant = shift(instant, if ago { -number } else { number }, u, tz).ok_or_else(bad)?;
        day_precision &= matches!(u, Unit::Day | Unit::Week | Unit::Month | Unit::Year);
        i = next;
        offsets += 1;
    }
    if at.is_none() && day.is_none() && offsets == 0 && !raw.eq_ignore_ascii_case("now") {
        return Err(bad());
    }
    if edge == Edge::End && day_precision {
        let local_day = instant.with_timezone(&tz).date_naive();
        instant = midnight(local_day.succ_opt().ok_or_else(bad)?, tz);
    }
    Ok(instant)
}

/// Moves an instant; days, weeks, months and years move on the local calendar (so `+1 day`
/// across a DST change keeps the wall-clock time), smaller units move the clock.
fn shift(t: DateTime<Utc>, n: i64, u: Unit, tz: Tz) -> Option<DateTime<Utc>> {
    let local_naive = t.with_timezone(&tz).naive_local();
    let calendar = |naive: NaiveDateTime| Some(local(naive, tz));
    match u {
        Unit::Second => t.checked_add_signed(Duration::seconds(n)),
        Unit::Minute => t.checked_add_signed(Duration::minutes(n)),
        Unit::Hour => t.checked_add_signed(Duration::hours(n)),
        Unit::Day => calendar(local_naive.checked_add_signed(Duration::days(n))?),
        Unit::Week => calendar(local_naive.checked_add_signed(Duration::weeks(n))?),
        Unit::Month | Unit::Year => {
            let months = if matches!(u, Unit::Year) { n.checked_mul(12)? } else { n };
            let m = Months::new(u32::try_from(months.unsigned_abs()).ok()?);
            let moved =
                if months >= 0 { local_naive.checked_add_months(m)? } else { local_naive.checked_sub_months(m)? };
            calendar(moved)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::{America, Asia};

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    /// A table of inputs and expected instants; "now" is 2026-05-28 14:35:10 UTC.
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
            ("yesterday", Tz::UTC, Edge::Start, "2026-05-27T00:00:00Z"),
            ("yesterday", Tz::UTC, Edge::End, "2026-05-28T00:00:00Z"),
            ("tomorrow", Tz::UTC, Edge::Start, "2026-05-29T00:00:00Z"),
            ("2026-05-21", Tz::UTC, Edge::Start, "2026-05-21T00:00:00Z"),
            ("2026-05-28", Tz::UTC, Edge::End, "2026-05-29T00:00:00Z"),
            ("2023-01-01 23:59:59", Tz::UTC, Edge::End, "2023-01-01T23:59:59Z"),
            ("2023-01-01T10:00", Tz::UTC, Edge::Start, "2023-01-01T10:00:00Z"),
            ("today 23:59:59", Tz::UTC, Edge::End, "2026-05-28T23:59:59Z"),
            ("yesterday 06:30", Tz::UTC, Edge::Start, "2026-05-27T06:30:00Z"),
            ("-10 minutes", Tz::UTC, Edge::Start, "2026-05-28T14:25:10Z"),
            ("-5 minutes", Tz::UTC, Edge::End, "2026-05-28T14:30:10Z"),
            ("+1 day", Tz::UTC, Edge::Start, "2026-05-29T14:35:10Z"),
            ("-2 weeks", Tz::UTC, Edge::Start, "2026-05-14T14:35:10Z"),
            ("3 days ago", Tz::UTC, Edge::Start, "2026-05-25T14:35:10Z"),
            ("today -1 day", Tz::UTC, Edge::Start, "2026-05-27T00:00:00Z"),
            ("today -1 day", Tz::UTC, Edge::End, "2026-05-28T00:00:00Z"),
            ("first day of this month", Tz::UTC, Edge::Start, "2026-05-01T00:00:00Z"),
            ("first day of last month", Tz::UTC, Edge::Start, "2026-04-01T00:00:00Z"),
            ("last day of last month", Tz::UTC, Edge::End, "2026-05-01T00:00:00Z"),
            ("first day of next month", Tz::UTC, Edge::Start, "2026-06-01T00:00:00Z"),
            ("+1 month", Tz::UTC, Edge::Start, "2026-06-28T14:35:10Z"),
            ("today", Asia::Kolkata, Edge::Start, "2026-05-27T18:30:00Z"),
            ("today", Asia::Kathmandu, Edge::End, "2026-05-28T18:15:00Z"),
            ("2026-03-08", America::New_York, Edge::Start, "2026-03-08T05:00:00Z"),
            ("2026-03-08", America::New_York, Edge::End, "2026-03-09T04:00:00Z"),
            ("2026-03-08 02:30", America::New_York, Edge::Start, "2026-03-08T07:30:00Z"),
        ];
        for (input, tz, edge, expected) in cases {
            let got = parse(input, now, *tz, *edge).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(got, utc(expected), "{input} ({tz}, {edge:?})");
        }
    }

    #[test]
    fn nonsense_is_an_error_naming_the_value() {
        let now = Utc::now();
        for bad in ["", "soon", "2026-13-01", "yesterday at noon", "-ten minutes", "5 fortnights", "12345"] {
            let e = parse(bad, now, Tz::UTC, Edge::Start).unwrap_err();
            assert!(e.message.contains(&format!("'{bad}'")), "{bad}: {e}");
        }
    }
}
