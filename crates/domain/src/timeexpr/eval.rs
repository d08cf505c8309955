//! Evaluation: a parsed expression meets "now" and a zone and becomes an instant, combined the
//! way PHP combines them.
//!
//! 1. Fields the expression left unset come from "now" on the local clock (a date without a time
//!    is midnight).
//! 2. `first/last day of`, `Nth weekday of` and weekdays move the day; relative amounts are
//!    added field by field on the local calendar *and clock* (`+1 hour` at 01:30 on a night
//!    that skips 02:00 is 02:30, which does not exist); the fields are normalised after each
//!    step (month 13 is January of the next year, 31 April is 1 May, day 0 is the last day of
//!    the month before); business days skip weekends.
//! 3. The local date and time become an instant in the zone: an offset or abbreviation is
//!    fixed; in a zone with DST a time skipped by a change moves forward by the change (30
//!    minutes on Lord Howe Island), and a repeated time takes the offset PHP's rule picks.

use chrono::{DateTime, Offset, TimeZone};
use chrono_tz::{OffsetComponents, Tz};

use super::scan::{
    FIRST_DAY_OF, LAST_DAY_OF, Parsed, SPECIAL_LAST_WEEKDAY_OF, SPECIAL_NTH_WEEKDAY_OF, SPECIAL_WEEKDAY, UNSET,
    ZoneKind,
};

const DAYS_PER_ERA: i64 = 146_097;
const YEARS_PER_ERA: i64 = 400;
/// Days from 0000-03-01 to 1970-01-01.
const EPOCH_SHIFT: i64 = 719_468;
/// Days per month, indexed 1–12; index 0 is December (the month before January).
const MONTH_DAYS: [i64; 13] = [31, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const MONTH_DAYS_LEAP: [i64; 13] = [31, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/// How the result is wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Want {
    /// The instant PHP gives.
    Instant,
    /// For an expression that names a whole day: the instant that day ends (the next midnight).
    EndOfDay,
}

/// The unix time of `parsed` at `now` (unix seconds and microseconds) in `zone`, as seconds
/// and microseconds; `None` when it falls outside the range of dates this API handles.
pub(super) fn instant(mut t: Parsed, now: (i64, i64), zone: Tz, want: Want) -> Option<(i64, i64)> {
    if !within_range(&t) {
        return None;
    }
    let whole_day = names_whole_day(&t);
    fill_from_now(&mut t, now, zone)?;
    adjust_special_early(&mut t);
    adjust_relative(&mut t);
    adjust_special(&mut t);
    let mut at = local_seconds(&t).and_then(|local| resolve(&t, local))?;
    if want == Want::EndOfDay && whole_day {
        t.d = t.d.checked_add(1)?;
        normalize(&mut t);
        at = local_seconds(&t).and_then(|local| resolve(&t, local))?;
    }
    Some((at, t.us))
}

/// Whether every amount is small enough for the arithmetic below (thirteen digits, the most a
/// relative number may have); larger ones lie far outside the dates this API handles anyway.
fn within_range(t: &Parsed) -> bool {
    const LIMIT: u64 = 10_000_000_000_000;
    let r = &t.rel;
    [t.y, t.m, t.d, t.h, t.i, t.s, t.us, r.y, r.m, r.d, r.h, r.i, r.s, r.us, r.weekday, r.special_amount]
        .iter()
        .all(|v| v.unsigned_abs() <= LIMIT)
}

/// Whether an expression names a day without a time of day: a date or a day word whose time
/// is midnight by the expression itself (`2026-05-21`, `today`, `monday`, `last day of
/// february`), not taken from "now", with no hours, minutes or seconds added.
fn names_whole_day(t: &Parsed) -> bool {
    let time_fixed = t.h != UNSET || t.have_date;
    let clock_moved = t.rel.h != 0 || t.rel.i != 0 || t.rel.s != 0 || t.rel.us != 0;
    t.have_time == 0 && time_fixed && !clock_moved && !t.timestamp
}

/// Fills what the expression left unset from "now"; the microseconds come from now only when
/// the expression set no field at all (`now`, `-1 hour`, `first day of last month`), as PHP
/// fills them.
fn fill_from_now(t: &mut Parsed, (now, now_micros): (i64, i64), zone: Tz) -> Option<()> {
    let (offset, is_dst) = offset_at(now, zone)?;
    let local = now.checked_add(offset)?;
    let (y, m, d) = civil_from_days(local.div_euclid(86_400));
    let second_of_day = local.rem_euclid(86_400);
    if t.have_date && t.have_time == 0 {
        (t.h, t.i, t.s, t.us) = (0, 0, 0, 0);
    }
    if t.us == UNSET {
        let none_set = [t.y, t.m, t.d, t.h, t.i, t.s].iter().all(|&f| f == UNSET);
        t.us = if none_set { now_micros } else { 0 };
    }
    let fill = |field: &mut i64, value: i64| {
        if *field == UNSET {
            *field = value;
        }
    };
    fill(&mut t.y, y);
    fill(&mut t.m, m);
    fill(&mut t.d, d);
    fill(&mut t.h, second_of_day / 3600);
    fill(&mut t.i, second_of_day / 60 % 60);
    fill(&mut t.s, second_of_day % 60);
    if t.tz.is_none() {
        t.tz = Some(zone);
        fill(&mut t.z, offset);
        fill(&mut t.dst, i64::from(is_dst));
    }
    if t.zone == ZoneKind::None {
        t.zone = ZoneKind::Id;
    }
    Some(())
}

/// `first/last day of` and `Nth/last weekday of` fix the day before anything else moves it.
fn adjust_special_early(t: &mut Parsed) {
    if t.rel.have_special {
        match t.rel.special_type {
            SPECIAL_NTH_WEEKDAY_OF => {
                t.d = 1;
                t.m += t.rel.m;
                t.rel.m = 0;
            }
            SPECIAL_LAST_WEEKDAY_OF => {
                t.d = 1;
                t.m += t.rel.m + 1;
                t.rel.m = 0;
            }
            _ => {}
        }
    }
    first_or_last_day(t);
    normalize(t);
}

fn first_or_last_day(t: &mut Parsed) {
    match t.rel.first_last_day_of {
        FIRST_DAY_OF => t.d = 1,
        LAST_DAY_OF => {
            t.d = 0;
            t.m += 1;
        }
        _ => {}
    }
}

fn adjust_relative(t: &mut Parsed) {
    if t.rel.have_weekday {
        adjust_for_weekday(t);
    }
    normalize(t);
    if t.have_relative {
        t.us += t.rel.us;
        t.s += t.rel.s;
        t.i += t.rel.i;
        t.h += t.rel.h;
        t.d += t.rel.d;
        t.m += t.rel.m;
        t.y += t.rel.y;
    }
    first_or_last_day(t);
    normalize(t);
}

/// Moves to the weekday named: `monday` is today if today is Monday, else the next one;
/// `next`/`last monday` are strictly after/before; with `this/next/last week` (behaviour 2) the
/// weekday is taken within the week, Monday to Sunday.
fn adjust_for_weekday(t: &mut Parsed) {
    let dow = day_of_week(t.y, t.m, t.d);
    let rel = &mut t.rel;
    if rel.weekday_behavior == 2 {
        if dow == 0 && rel.weekday != 0 {
            rel.weekday -= 7;
        }
        if rel.weekday == 0 && dow != 0 {
            rel.weekday = 7;
        }
        t.d += rel.weekday - dow;
        return;
    }
    let mut difference = rel.weekday - dow;
    if (rel.d < 0 && difference < 0) || (rel.d >= 0 && difference <= -rel.weekday_behavior) {
        difference += 7;
    }
    if rel.weekday >= 0 {
        t.d += difference;
    } else {
        t.d -= 7 - (rel.weekday.abs() - dow);
    }
    rel.have_weekday = false;
}

/// Business days (`+3 weekdays`): whole weeks of five, then the rest, stepping over weekends.
fn adjust_special(t: &mut Parsed) {
    if t.rel.have_special && t.rel.special_type == SPECIAL_WEEKDAY {
        let count = t.rel.special_amount;
        let dow = day_of_week(t.y, t.m, t.d);
        t.d += count / 5 * 7;
        let rest = count % 5;
        if count > 0 {
            if rest == 0 {
                t.d -= match dow {
                    0 => 2,
                    6 => 1,
                    _ => 0,
                };
            } else if dow == 6 {
                t.d += 1;
            } else if dow + rest > 5 {
                t.d += 2;
            }
        } else if rest == 0 {
            t.d += match dow {
                6 => 2,
                0 => 1,
                _ => 0,
            };
        } else if dow == 0 {
            t.d -= 1;
        } else if dow + rest < 1 {
            t.d -= 2;
        }
        t.d += rest;
    }
    normalize(t);
}

/// Carries `a` into `b` so that `start <= a < end`.
fn carry(start: i64, end: i64, step: i64, a: &mut i64, b: &mut i64) {
    if *a < start {
        let below = start - (*a + 1);
        *b -= below / step + 1;
        *a += step * (below / step) + step;
    }
    if *a >= end {
        *b += *a / step;
        *a -= step * (*a / step);
    }
}

fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

fn month_days(y: i64) -> &'static [i64; 13] {
    if is_leap(y) { &MONTH_DAYS_LEAP } else { &MONTH_DAYS }
}

/// One round of moving days that overflow the month into the months around it.
fn carry_days(y: &mut i64, m: &mut i64, d: &mut i64) -> bool {
    if *d >= DAYS_PER_ERA || *d <= -DAYS_PER_ERA {
        *y += YEARS_PER_ERA * (*d / DAYS_PER_ERA);
        *d -= DAYS_PER_ERA * (*d / DAYS_PER_ERA);
    }
    carry(1, 13, 12, m, y);
    let this_year = month_days(*y);
    let mut moved = false;
    while *d <= 0 && *m > 0 {
        let (previous_year, previous_month) = if *m - 1 < 1 { (*y - 1, *m - 1 + 12) } else { (*y, *m - 1) };
        *d += month_days(previous_year)[usize::try_from(previous_month).unwrap_or(0)];
        *m -= 1;
        moved = true;
    }
    while *d > 0 && *m <= 12 && *d > this_year[usize::try_from(*m).unwrap_or(0)] {
        *d -= this_year[usize::try_from(*m).unwrap_or(0)];
        *m += 1;
        moved = true;
    }
    moved
}

fn normalize(t: &mut Parsed) {
    if t.us != UNSET {
        carry(0, 1_000_000, 1_000_000, &mut t.us, &mut t.s);
    }
    if t.s != UNSET {
        carry(0, 60, 60, &mut t.s, &mut t.i);
        carry(0, 60, 60, &mut t.i, &mut t.h);
        carry(0, 24, 24, &mut t.h, &mut t.d);
    }
    carry(1, 13, 12, &mut t.m, &mut t.y);
    if t.y == 1970 && t.m == 1 && t.d != 1 && t.d >= -719_498 {
        (t.y, t.m, t.d) = civil_from_days(t.d - 1);
    }
    while carry_days(&mut t.y, &mut t.m, &mut t.d) {}
    carry(1, 13, 12, &mut t.m, &mut t.y);
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / YEARS_PER_ERA;
    let year_of_era = y - era * YEARS_PER_ERA;
    let day_of_year = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * DAYS_PER_ERA + day_of_era - EPOCH_SHIFT
}

/// The proleptic Gregorian date `days` after 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + EPOCH_SHIFT;
    let era = if z >= 0 { z } else { z - (DAYS_PER_ERA - 1) } / DAYS_PER_ERA;
    let day_of_era = z - era * DAYS_PER_ERA;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let d = day_of_year - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = year_of_era + era * YEARS_PER_ERA + i64::from(m <= 2);
    (y, m, d)
}

/// 0 for Sunday … 6 for Saturday.
pub(super) fn day_of_week(y: i64, m: i64, d: i64) -> i64 {
    (days_from_civil(y, m, d) + 4).rem_euclid(7)
}

/// The local date and time as seconds since the epoch, as if the zone were UTC.
fn local_seconds(t: &Parsed) -> Option<i64> {
    let clock = t.h.checked_mul(3600)?.checked_add(t.i.checked_mul(60)?)?.checked_add(t.s)?;
    days_from_civil(t.y, t.m, t.d).checked_mul(86_400)?.checked_add(clock)
}

/// The offset (seconds east of UTC) and DST flag of `zone` at unix time `at`.
fn offset_at(at: i64, zone: Tz) -> Option<(i64, bool)> {
    let utc = DateTime::from_timestamp(at, 0)?.naive_utc();
    let offset = zone.offset_from_utc_datetime(&utc);
    Some((i64::from(offset.fix().local_minus_utc()), !offset.dst_offset().is_zero()))
}

/// When the offset in force at `at` began: the latest change at or before `at`, looked for
/// within two days (as far as the resolution below ever looks; an older change reads as "long
/// ago").
fn change_before(at: i64, zone: Tz) -> Option<i64> {
    const STEP: i64 = 900;
    let (offset, _) = offset_at(at, zone)?;
    let mut later = at;
    for _ in 0..192 {
        let earlier = later - STEP;
        if offset_at(earlier, zone)?.0 != offset {
            let (mut before, mut after) = (earlier, later);
            while after - before > 1 {
                let mid = before + (after - before) / 2;
                if offset_at(mid, zone)?.0 == offset {
                    after = mid;
                } else {
                    before = mid;
                }
            }
            return Some(after);
        }
        later = earlier;
    }
    Some(i64::MIN)
}

/// The instant of local time `local` (seconds as if UTC) in the parsed zone. With a zone that
/// has DST, PHP reads the offset at `local` taken as UTC ("current") and at that instant moved
/// by it ("after"); where they differ the local time is near a change, and which applies
/// depends on whether it falls inside the change.
fn resolve(t: &Parsed, local: i64) -> Option<i64> {
    match t.zone {
        ZoneKind::Offset => local.checked_sub(t.z),
        ZoneKind::Abbr => local.checked_sub(t.z)?.checked_sub(t.dst.checked_mul(3600)?),
        ZoneKind::Id | ZoneKind::None => {
            let zone = t.tz?;
            let (current, current_dst) = offset_at(local, zone)?;
            let after_at = local - current;
            let (after, _) = offset_at(after_at, zone)?;
            let (mut actual, mut actual_at) = (after, after_at);
            if current == after && t.have_zone != 0 {
                if current >= 0 && t.dst != 0 && !current_dst {
                    let earlier_at = local - current - 7200;
                    let (earlier, _) = offset_at(earlier_at, zone)?;
                    if earlier != after && local - earlier < change_before(after_at, zone)? {
                        (actual, actual_at) = (earlier, earlier_at);
                    }
                } else if current <= 0 && current_dst && t.dst == 0 {
                    let later_at = local - current + 7200;
                    let (later, _) = offset_at(later_at, zone)?;
                    if later != after && local - later >= change_before(later_at, zone)? {
                        (actual, actual_at) = (later, later_at);
                    }
                }
            }
            let offset = if current == actual {
                current
            } else {
                let change = change_before(actual_at, zone)?;
                let in_change =
                    change != i64::MIN && local - actual >= change + (current - actual) && local - actual < change;
                if in_change { current } else { actual }
            };
            local.checked_sub(offset)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_round_trip() {
        for days in [-800_000, -719_468, -1, 0, 1, 59, 60, 365, 11_016, 20_605, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{days}");
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(day_of_week(2026, 5, 28), 4);
    }
}
