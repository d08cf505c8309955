#!/usr/bin/env python3
"""Generates the cases of the strtotime differential test (corpus.tsv).

Expressions come from the formats of PHP's "Supported Date and Time Formats" (relative words,
times, dates, compound formats, zones) and their combinations; each is evaluated in six zones
(UTC, America/New_York, Asia/Kolkata, Asia/Kathmandu, Australia/Lord_Howe and Asia/Tokyo,
which has no DST) at a "now" taken in turn from instants around DST changes, month ends and
year ends. Cases about DST nights are added for the zones whose nights they are.

    python3 gen_corpus.py | php oracle.php > corpus.tsv

writes the corpus with PHP's own answers; the test compares them with Clicktrail's, and in CI
runs the oracle again to check the stored answers against the PHP installed there.
"""
import calendar
import itertools
from datetime import datetime, timezone

ZONES = ["UTC", "America/New_York", "Asia/Kolkata", "Asia/Kathmandu", "Australia/Lord_Howe", "Asia/Tokyo"]


def ts(text):
    return calendar.timegm(datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc).timetuple())


NOWS = [ts(t) for t in [
    "2026-05-28 14:35:10",  # a Thursday afternoon
    "2026-03-08 06:40:00",  # New York: 01:40 EST, twenty minutes before spring forward
    "2026-03-08 07:30:00",  # New York: 03:30 EDT, just after
    "2026-11-01 05:30:00",  # New York: 01:30 EDT, the first of the repeated hour
    "2026-11-01 06:30:00",  # New York: 01:30 EST, the second
    "2026-04-04 14:45:00",  # Lord Howe: 01:45 +11, before DST ends at 02:00 (back to 01:30)
    "2026-10-03 15:15:00",  # Lord Howe: 01:45 +10:30, before DST starts at 02:00 (to 02:30)
    "2026-01-31 23:59:59",  # a month end
    "2026-02-28 12:00:00",  # the end of a short February
    "2024-02-29 18:30:00",  # a leap day
    "2026-12-31 23:30:00",  # a year end
    "2027-01-01 00:15:00",  # a year start
    "2026-06-30 21:00:00",  # a Tuesday evening, a half-year end
    "2026-08-15 03:05:07",  # a Saturday
    "2026-09-06 10:00:00",  # a Sunday
]]

DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
ABBR = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september",
          "october", "november", "december"]
UNITS = ["sec", "second", "seconds", "min", "minute", "minutes", "hour", "hours", "day", "days",
         "week", "weeks", "fortnight", "month", "months", "year", "years", "weekday", "weekdays"]


def expressions():
    out = []
    # Relative words and their combinations with times.
    words = ["now", "today", "tomorrow", "yesterday", "midnight", "noon", "Today", "NOW", "TOMORROW"]
    out += words
    for a, b in itertools.permutations(["today", "tomorrow", "yesterday", "noon", "midnight"], 2):
        out.append(f"{a} {b}")
    for w in ["today", "tomorrow", "yesterday"]:
        for t in ["9am", "10:00", "23:59:59", "noon", "midnight", "12pm", "00:00"]:
            out += [f"{w} {t}", f"{t} {w}"]
    # Weekdays.
    for d in DAYS + ABBR[:3]:
        out += [d, f"next {d}", f"last {d}", f"this {d}", f"previous {d}", f"{d} next week",
                f"{d} last week", f"{d} this week", f"{d} 10:00", f"{d} noon", f"+1 {d}", f"-1 {d}",
                f"2 {d}", f"{d} 2 weeks ago"]
    out += ["Monday", "MONDAY", "mondays", "weekday", "weekdays"]
    for rel in ["first", "second", "third", "fourth", "fifth", "last", "next", "this"]:
        for d in ["monday", "friday", "sunday", "sat"]:
            out.append(f"{rel} {d} of next month")
        out += [f"{rel} tuesday of this month", f"{rel} wednesday of last month", f"{rel} thursday of",
                f"{rel} monday of january 2027", f"{rel} friday of february"]
    # Relative amounts.
    for n in ["1", "+1", "-1", "2", "+10", "-10", "0", "+0", "36", "-100", "13", "+ 3", "--2", "+-1"]:
        for u in UNITS:
            out.append(f"{n} {u}")
    for u in ["day", "days", "week", "hours", "months", "years", "minutes", "fortnight", "weekdays", "monday"]:
        out += [f"3 {u} ago", f"1 {u} ago", f"-2 {u} ago"]
    out += ["a day ago", "an hour ago", "1 day ago 2 hours ago", "+1 day +2 hours", "+1 week 2 days",
            "+1 year -1 month", "-1 month +1 day", "+2 weeks 3 days ago", "next week", "last week", "this week",
            "next month", "last month", "this month", "next year", "last year", "this year", "next day",
            "last day", "previous month", "+1 fortnight", "-1 forthnight", "+1 week", "1week", "+1day",
            "-10minutes", "+5 min", "+30 secs", "+90 minutes", "+36 hours", "+1 hour", "+2 hours", "-1 hour",
            "+1 hour 30 minutes", "+150 ms", "+1500 msec", "-1 µs", "+3 usec", "next sec", "last minute",
            "this hour", "first day", "third month", "twelfth year", "+1 weekday", "-1 weekday",
            "+5 weekdays", "-5 weekdays", "+6 weekdays", "+7 weekdays", "-8 weekdays", "0 weekdays",
            "saturday +1 weekday", "sunday -1 weekday", "ago", "now ago", "+1 day ago"]
    # first/last day of.
    for w in ["first day of", "last day of"]:
        for what in ["this month", "next month", "last month", "previous month", "january", "february",
                     "february 2024", "march 2026", "next year", "this year", "", "jan 2027", "2026-02",
                     "+1 month", "-3 months", "next month midnight", "last month noon", "this month 10:00",
                     "last month 00:00:00", "december 2026 23:59:59"]:
            out.append(f"{w} {what}".strip())
    out += ["First Day Of Next Month", "LAST DAY OF FEBRUARY", "last day of feb 2028"]
    # Times.
    times = ["9am", "9 am", "9AM", "9a.m.", "9 a.m.", "9pm", "12am", "12pm", "12:00am", "12:30 pm",
             "1:05:09pm", "11:59:59 PM", "10:00", "10:00:30", "23:59:59", "00:00", "0:00", "24:00",
             "7:5", "10.30", "10.30.45", "t10", "t1030", "T10:30", "t103045", "1030", "103045",
             "10:00:00.5", "10:00:00.123456", "2026", "1999", "2099", "back of 7", "back of 7pm",
             "front of 7", "front of 19", "10:00 pm", "9:30:00.25 am"]
    out += times
    # Dates.
    dates = ["2026-05-21", "2026-5-21", "2026-05-1", "26-05-21", "99-12-31", "2026/05/21", "2026/5/21",
             "2026/05/21/", "05/21/2026", "5/21/2026", "05/21/26", "5/21", "12/31", "21.05.2026",
             "21.5.2026", "21-05-2026", "21.05.26", "21-5-2026", "20260521", "2026-05", "2026-5",
             "May 21 2026", "May 21, 2026", "may 21st, 2026", "May-21-2026", "21 May 2026", "21st May 2026",
             "21-May-2026", "21.May.2026", "21 May", "May 21", "21st may", "May 2026", "2026 May",
             "May", "may", "sept", "Sep 2026", "2026-May-21", "May-21-26", "V 2026", "21 V 2026",
             "XII 21", "2026-W21", "2026W21", "2026-W21-3", "2026W213", "2026-W01", "2026-W53",
             "2026-141", "2026.141", "2026141", "2026-001", "2024-366", "+2026-05-21", "-0044-03-15",
             "2026-02-29", "2026-02-30", "2026-04-31", "2026-00-10", "2026-12-00", "2024-02-29",
             "2026-01-31", "2026-12-31", "1970-01-01", "1969-12-31", "2038-01-19", "1900-01-01",
             "0000-01-01", "9999-12-31", "jan 1", "dec 31", "feb 29", "february 30", "30 feb 2026",
             "1 jan", "31 december 2026", "july 4th", "4th july 2026"]
    out += dates
    # Compound formats.
    out += ["2026-05-21 10:00", "2026-05-21 10:00:00", "2026-05-21T10:00", "2026-05-21T10:00:00",
            "2026-05-21T10:00:00Z", "2026-05-21T10:00:00+02:00", "2026-05-21T10:00:00-0500",
            "2026-05-21T10:00:00.123456+05:30", "2026-05-21 10:00:00 UTC", "2026-05-21 10:00 EST",
            "2026-05-21 10:00 edt", "2026-05-21 10:00 CEST", "2026-05-21 10:00 PST", "2026-05-21 10:00 IST",
            "2026-05-21 10:00 Europe/Paris", "2026-05-21 10:00 America/New_York", "2026-05-21 Asia/Kolkata",
            "2026-05-21 10:00 GMT+2", "2026-05-21 10:00 GMT-0330", "2026-05-21 10:00 +0545",
            "2026-05-21 10:00 -3", "2026-05-21 10:00 +01:30", "2026-05-21 10:00 (UTC)",
            "2026-05-21 UTC", "2026-05-21 Z", "2026-05-21 z", "2026-05-21 a", "today UTC", "today +05:30",
            "now UTC", "now EST", "tomorrow Europe/Paris", "monday America/New_York",
            "Thu, 21 May 2026 10:00:00 +0200", "Thu, 21 May 2026 10:00:00 GMT", "Thursday, 21-May-26 10:00:00 UTC",
            "21 May 2026 10:00:00 -0700", "Thu May 21 10:00:00 2026", "Thu May 21 10:00:00 UTC 2026",
            "20260521T10:00:00", "20260521T100000", "20260521t100000", "2026:05:21 10:00:00",
            "21/May/2026:10:00:00 -0700", "2026-05-21 10:00:00.5", "May 21 10:00", "May 21 10:00:30",
            "May 21 10am", "May 21 10:30pm", "May 21 2026 10:00", "21 May 2026 10am", "May 21, 2026 9:05 pm",
            "2026-05-21 noon", "2026-05-21 midnight", "2026-05-21 +1 day", "2026-05-21 -1 week",
            "2026-05-21 next monday", "2026-05-21 last day of", "2026-01-31 +1 month", "2026-03-31 -1 month",
            "2024-02-29 +1 year", "2024-02-29 -1 year", "2026-01-30 +1 month", "2026-12-31 +2 months",
            "2026-10-31 -1 month", "2026-05-21 23:00 +2 hours", "2026-05-21 00:30 -1 hour",
            "2026-05-21 10:00 ago", "+1 month 2026-01-31", "next month 2026-01-31", "july 2026 +1 week",
            "+1 week july 2026", "10:00 2026-05-21", "noon 2026-05-21", "@1779000000", "@0", "@-1",
            "@1779000000.5", "@-1.5", "@1779000000 +1 day", "@1779000000 UTC", "@1779000000 EST",
            "1779000000", "2026-05-21 10:00:00 +0200 +0300", "first monday of 2027-01",
            "last sunday of march 2026 02:30", "first sunday of november 2026 01:30"]
    # Refused by PHP.
    out += ["", " ", "foo", "soon", "yesterday at noon", "-ten minutes", "12345", "10:00 11:00",
            "2026-05-21 2026-05-22", "+", "next", "@", "@abc", "a b c", "2026-13-01", "32 may",
            "tomorrow tomorrow noon noon", "25:00", "10:60", "1 parsec", "+1 dayz", "now now",
            "2026-05-21 10:00 Mars/Olympus", "2026-05-21 XYZ", "May 21 2026 2027", "11:00 am pm",
            "monday monday", "noon 10:00", "10am 11am", "+1 1 day", "2026-05-21 10:00 UTC EST PST",
            "\\tmonday", "monday\\n", "über", "12:00:00:00"]
    return out


def dst_cases():
    """Local times on DST nights, in the zones whose nights they are."""
    ny = ["2026-03-08 02:00", "2026-03-08 02:30", "2026-03-08 02:59:59", "2026-03-08 03:00", "2026-03-08 01:59:59",
          "2026-11-01 01:00", "2026-11-01 01:30", "2026-11-01 01:59:59", "2026-11-01 02:00", "2026-11-01 00:59:59",
          "2026-03-08", "2026-11-01", "2026-03-07 02:30 +1 day", "2026-03-09 02:30 -1 day",
          "2026-03-08 01:30 +1 hour", "2026-03-08 01:30 +30 minutes", "2026-03-08 01:30 +3600 seconds",
          "2026-11-01 00:30 +1 hour", "2026-11-01 01:30 +1 hour", "2026-11-01 01:30 EDT", "2026-11-01 01:30 EST",
          "2026-03-08 02:30 America/New_York", "2026-11-01 01:30 America/New_York", "+1 hour", "+2 hours",
          "-1 hour", "+1 day", "-1 day", "+24 hours", "today 02:30", "tomorrow 02:30", "today 01:30",
          "tomorrow 01:30", "noon", "midnight", "+30 minutes"]
    lh = ["2026-04-05 01:30", "2026-04-05 01:45", "2026-04-05 01:59:59", "2026-04-05 02:00", "2026-04-05 01:29:59",
          "2026-10-04 02:00", "2026-10-04 02:15", "2026-10-04 02:29:59", "2026-10-04 02:30", "2026-10-04 01:59:59",
          "2026-04-05", "2026-10-04", "2026-10-03 02:15 +1 day", "2026-10-04 01:45 +30 minutes",
          "2026-10-04 01:45 +1 hour", "2026-04-05 01:45 +15 minutes", "2026-04-05 01:15 +1 hour",
          "2026-10-04 02:15 Australia/Lord_Howe", "2026-04-05 01:45 Australia/Lord_Howe", "+1 hour", "+15 minutes",
          "+30 minutes", "-1 hour", "+1 day", "today 02:15", "tomorrow 02:15", "today 01:45", "tomorrow 01:45"]
    cases = []
    ny_nows = [ts("2026-03-08 06:40:00"), ts("2026-03-08 07:30:00"), ts("2026-11-01 05:30:00"),
               ts("2026-11-01 06:30:00"), ts("2026-03-07 07:30:00"), ts("2026-10-31 05:30:00")]
    lh_nows = [ts("2026-04-04 14:45:00"), ts("2026-04-04 15:15:00"), ts("2026-10-03 15:15:00"),
               ts("2026-10-03 15:45:00"), ts("2026-04-03 14:45:00"), ts("2026-10-02 15:15:00")]
    for e in ny:
        for now in ny_nows:
            cases.append((e, "America/New_York", now))
    for e in lh:
        for now in lh_nows:
            cases.append((e, "Australia/Lord_Howe", now))
    return cases


def combinations():
    """Random sequences of two or three pieces of the grammar (a fixed seed: the same corpus
    every time), for the interactions no list above thought of."""
    import random
    rng = random.Random(2026)
    pieces = ["today", "tomorrow", "yesterday", "noon", "midnight", "now", "monday", "fri", "next sunday",
              "last tuesday", "this saturday", "next week", "last month", "next year", "+1 day", "-2 days",
              "+3 hours", "-90 minutes", "+1 month", "-1 year", "2 weeks ago", "+2 weekdays", "ago",
              "first day of", "last day of", "first monday of", "last friday of", "9am", "12pm", "10:30",
              "23:59:59", "t0815", "1030", "2026-05-21", "2026/02/28", "02/29/2024", "31.12.2026", "26-01-31",
              "May 21", "21 May", "May 2026", "february", "jan", "2026-W21", "2026-141", "20260131",
              "UTC", "EST", "CEST", "+02:00", "-0530", "Europe/Paris", "America/New_York", "@1779000000",
              "2026", "1999", "sept", "back of 9", "front of 10pm", "+1 fortnight", "+36 hours", "-1 week"]
    out = []
    for _ in range(2600):
        count = rng.choice([2, 2, 3])
        out.append(" ".join(rng.choice(pieces) for _ in range(count)))
    return out


def main():
    print("# expression\tzone\tnow\tphp (written by: python3 gen_corpus.py | php oracle.php > corpus.tsv)")
    seen = set()
    k = 0
    for expr in expressions():
        for zi, zone in enumerate(ZONES):
            now = NOWS[(k * 7 + zi * 3) % len(NOWS)]
            key = (expr, zone, now)
            if key not in seen:
                seen.add(key)
                print(f"{expr}\t{zone}\t{now}")
        k += 1
    for i, expr in enumerate(combinations()):
        zone = ZONES[i % len(ZONES)]
        now = NOWS[(i * 5) % len(NOWS)]
        key = (expr, zone, now)
        if key not in seen:
            seen.add(key)
            print(f"{expr}\t{zone}\t{now}")
    for key in dst_cases():
        if key not in seen:
            seen.add(key)
            print("\t".join(map(str, key)))


if __name__ == "__main__":
    main()
